package bitmap

import (
	"fmt"
	"slices"
	"testing"
)

func TestCatalog(t *testing.T) {
	names := []string{"active", "lapsed", "push_revoked", "inactive_30d"}
	c, err := NewCatalog(names)
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 4 {
		t.Errorf("Len = %d, want 4", c.Len())
	}
	for i, n := range names {
		if id, ok := c.ID(n); !ok || id != i {
			t.Errorf("ID(%q) = %d, %v; want %d, true", n, id, ok, i)
		}
		if got := c.Name(i); got != n {
			t.Errorf("Name(%d) = %q, want %q", i, got, n)
		}
	}
	if _, ok := c.ID("nope"); ok {
		t.Error(`ID("nope") found`)
	}
	if c.Name(-1) != "" || c.Name(4) != "" {
		t.Error("Name out of range is not empty")
	}
	got := c.Names()
	if !slices.Equal(got, names) {
		t.Errorf("Names = %v", got)
	}
	got[0] = "changed"
	if c.Name(0) != "active" {
		t.Error("Names shares the catalog's slice")
	}
	names[1] = "changed"
	if c.Name(1) != "lapsed" {
		t.Error("catalog shares the caller's slice")
	}

	full := make([]string, MaxSegments)
	for i := range full {
		full[i] = fmt.Sprintf("s%d", i)
	}
	if _, err := NewCatalog(full); err != nil {
		t.Errorf("%d segments: %v", MaxSegments, err)
	}
}

func TestCatalogErrors(t *testing.T) {
	tooMany := make([]string, MaxSegments+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("s%d", i)
	}
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{[]string{"a", ""}, `bitmap: segment 1: empty name`},
		{[]string{"lapsed", "active", "lapsed"}, `bitmap: segment "lapsed": duplicate (ids 0 and 2)`},
		{[]string{"Lapsed"}, `bitmap: segment "Lapsed": invalid character "L" at byte 0 (names are a-z, 0-9 and _)`},
		{[]string{"push-revoked"}, `bitmap: segment "push-revoked": invalid character "-" at byte 4 (names are a-z, 0-9 and _)`},
		{[]string{"a b"}, `bitmap: segment "a b": invalid character " " at byte 1 (names are a-z, 0-9 and _)`},
		{[]string{"café"}, `bitmap: segment "café": invalid character "é" at byte 3 (names are a-z, 0-9 and _)`},
		{[]string{"x", "not"}, `bitmap: segment "not": reserved word (an expression keyword)`},
		{tooMany, `bitmap: segment "s128": too many segments (129, at most 128)`},
	} {
		_, err := NewCatalog(tc.names)
		if err == nil || err.Error() != tc.want {
			t.Errorf("NewCatalog(%q):\n got %v\nwant %s", tc.names, err, tc.want)
		}
	}
}
