package bitmap

import (
	"slices"
	"strings"
	"testing"
)

func TestParseExpr(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"lapsed", "lapsed"},
		{"  lapsed\t", "lapsed"},
		{"a and b or c", "a and b or c"},
		{"a or b and c", "a or b and c"},
		{"(a or b) and c", "(a or b) and c"},
		{"a and (b or c)", "a and (b or c)"},
		{"not a and b", "not a and b"},
		{"not (a and b)", "not (a and b)"},
		{"not (a or b) or c", "not (a or b) or c"},
		{"not not a", "not not a"},
		{"NOT a AnD b Or c", "not a and b or c"},
		{"((a))", "a"},
		{"(a and b) and (c and d)", "a and b and c and d"},
		{"a or (b or (c or d))", "a or b or c or d"},
		{"(a and b) or (c and d)", "a and b or c and d"},
		{"a and not (b or c) and d", "a and not (b or c) and d"},
		{"lapsed and not uninstalled and (email_subscribed or sms_subscribed)",
			"lapsed and not uninstalled and (email_subscribed or sms_subscribed)"},
		{"x_1\nand\r\n(y2 or\tz)", "x_1 and (y2 or z)"},
		{"andy or nothing and order", "andy or nothing and order"}, // keywords are whole words
	} {
		e, err := ParseExpr(tc.src)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", tc.src, err)
			continue
		}
		if got := e.String(); got != tc.want {
			t.Errorf("ParseExpr(%q).String() = %q, want %q", tc.src, got, tc.want)
		}
	}
}

// TestParsePrecedence checks the tree, not only the rendering.
func TestParsePrecedence(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"a or b and c", "or(a and(b c))"},
		{"a and b or c", "or(and(a b) c)"},
		{"not a and b", "and(not(a) b)"},
		{"not a or not b and c", "or(not(a) and(not(b) c))"},
		{"a and (b or c) and not d", "and(a or(b c) not(d))"},
		{"(a and b) and c", "and(a b c)"},
	} {
		e, err := ParseExpr(tc.src)
		if err != nil {
			t.Fatal(err)
		}
		if got := dumpTree(e.root); got != tc.want {
			t.Errorf("%q: tree %s, want %s", tc.src, got, tc.want)
		}
	}
}

func dumpTree(n *node) string {
	if n.op == opName {
		return n.name
	}
	parts := make([]string, len(n.kids))
	for i, k := range n.kids {
		parts[i] = dumpTree(k)
	}
	return [...]string{opNot: "not", opAnd: "and", opOr: "or"}[n.op] + "(" + strings.Join(parts, " ") + ")"
}

func equalTree(a, b *node) bool {
	if a.op != b.op || a.name != b.name || len(a.kids) != len(b.kids) {
		return false
	}
	for i := range a.kids {
		if !equalTree(a.kids[i], b.kids[i]) {
			return false
		}
	}
	return true
}

func TestParseExprErrors(t *testing.T) {
	for _, tc := range []struct {
		src string
		pos int
		msg string
	}{
		{"", 0, "expected a segment name, found end of input"},
		{"   ", 3, "expected a segment name, found end of input"},
		{"lapsed and", 10, "expected a segment name, found end of input"},
		{"a or (b", 7, `expected ")" to close "(" at position 5, found end of input`},
		{"a b", 2, `expected "and", "or" or end of input, found "b"`},
		{"(a b)", 3, `expected "and", "or" or ")", found "b"`},
		{"lapsed and (a or )", 17, `expected a segment name, found ")"`},
		{"a and and b", 6, `expected a segment name, found "and"`},
		{"a or OR b", 5, `expected a segment name, found "OR"`},
		{"not", 3, "expected a segment name, found end of input"},
		{"()", 1, `expected a segment name, found ")"`},
		{"a)", 1, `unmatched ")"`},
		{"a and b) or c", 7, `unmatched ")"`},
		{"a && b", 2, `unexpected character "&"`},
		{"a and !b", 6, `unexpected character "!"`},
		{"a and café", 9, `unexpected character "é"`},
		{"a or Lapsed", 5, `invalid segment name "Lapsed" (names are a-z, 0-9 and _)`},
		{"a or push-revoked", 9, `unexpected character "-"`},
		{strings.Repeat("(", 65) + "a" + strings.Repeat(")", 65), 64, "nested deeper than 64 levels"},
		{strings.Repeat("not ", 65) + "a", 256, "nested deeper than 64 levels"},
	} {
		_, err := ParseExpr(tc.src)
		ee, ok := err.(*ExprError)
		if !ok {
			t.Errorf("ParseExpr(%q) = %v, want an *ExprError", tc.src, err)
			continue
		}
		if ee.Pos != tc.pos || ee.Msg != tc.msg {
			t.Errorf("ParseExpr(%q):\n got position %d: %s\nwant position %d: %s", tc.src, ee.Pos, ee.Msg, tc.pos, tc.msg)
		}
	}
	_, err := ParseExpr("lapsed and (a or )")
	if want := `expr: position 17: expected a segment name, found ")"`; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	// 64 levels are fine.
	if _, err := ParseExpr(strings.Repeat("(not ", 32) + "a" + strings.Repeat(")", 32)); err != nil {
		t.Error(err)
	}
}

func TestBindAndNames(t *testing.T) {
	c := mustCatalog(t, "active", "lapsed", "push_revoked")
	e, err := ParseExpr("lapsed and not (active or lapsed) or push_revkoed")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Names(); !slices.Equal(got, []string{"lapsed", "active", "push_revkoed"}) {
		t.Errorf("Names = %v", got)
	}
	err = e.Bind(c)
	if want := `expr: position 37: unknown segment "push_revkoed"`; err == nil || err.Error() != want {
		t.Errorf("Bind: %v, want %s", err, want)
	}
	if e.catalog != nil || e.root.kids[0].kids[0].id != -1 {
		t.Error("a failed Bind changed the expression")
	}

	e, _ = ParseExpr("lapsed and not (active or push_revoked)")
	if err := e.Bind(c); err != nil {
		t.Fatal(err)
	}
	if e.catalog != c || e.root.kids[0].id != 1 {
		t.Error("Bind did not resolve the names")
	}
	for _, tc := range []struct {
		mask []uint64
		want bool
	}{
		{nil, false},
		{[]uint64{0b010}, true},  // lapsed
		{[]uint64{0b110}, false}, // lapsed, push_revoked
		{[]uint64{0b011}, false}, // lapsed, active
		{[]uint64{0b101, 1}, false},
	} {
		if got := e.EvalMask(tc.mask); got != tc.want {
			t.Errorf("EvalMask(%b) = %v, want %v", tc.mask, got, tc.want)
		}
	}
}

func TestEvalMask(t *testing.T) {
	names := make([]string, MaxSegments)
	for i := range names {
		names[i] = "s" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	c := mustCatalog(t, names...)
	e, err := ParseExpr(names[1] + " and not " + names[70] + " or " + names[127])
	if err != nil {
		t.Fatal(err)
	}
	if e.EvalMask([]uint64{1 << 1}) {
		t.Error("an unbound expression matched")
	}
	if err := e.Bind(c); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mask []uint64
		want bool
	}{
		{nil, false},
		{[]uint64{1 << 1}, true},               // bit 70 is beyond the mask: not a member
		{[]uint64{1 << 1, 1 << 6}, false},      // s1 and s70
		{[]uint64{0, 1 << 63}, true},           // s127
		{[]uint64{1 << 1, 1<<6 | 1<<63}, true}, // s127
		{[]uint64{^uint64(0) &^ 2, 0}, false},
	} {
		if got := e.EvalMask(tc.mask); got != tc.want {
			t.Errorf("EvalMask(%x) = %v, want %v", tc.mask, got, tc.want)
		}
	}
	mask := []uint64{1 << 1, 0}
	if allocs := testing.AllocsPerRun(1000, func() { e.EvalMask(mask) }); allocs != 0 {
		t.Errorf("EvalMask allocated %.1f times", allocs)
	}
}

func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{
		"lapsed", "a and b or not c", "(a or b) and not (c and d)", "a or (b", "a b", "not not x",
		"A AND (b OR NOT c)", "a and and", "((((a))))", "a && b", ")", "lapsed and not uninstalled and (email_subscribed or sms_subscribed)",
	} {
		f.Add(s)
	}
	c := mustCatalog(f, "a", "b", "c", "lapsed", "x")
	f.Fuzz(func(t *testing.T, src string) {
		e, err := ParseExpr(src)
		if err != nil {
			ee, ok := err.(*ExprError)
			if !ok {
				t.Fatalf("error %v is a %T", err, err)
			}
			if ee.Pos < 0 || ee.Pos > len(src) {
				t.Fatalf("position %d outside [0, %d]", ee.Pos, len(src))
			}
			return
		}
		s := e.String()
		e2, err := ParseExpr(s)
		if err != nil {
			t.Fatalf("%q parsed, its String %q does not: %v", src, s, err)
		}
		if !equalTree(e.root, e2.root) {
			t.Fatalf("%q: String %q parses to %s, want %s", src, s, dumpTree(e2.root), dumpTree(e.root))
		}
		if s2 := e2.String(); s2 != s {
			t.Fatalf("String not stable: %q then %q", s, s2)
		}
		if !slices.Equal(e.Names(), e2.Names()) {
			t.Fatalf("Names %v then %v", e.Names(), e2.Names())
		}
		if e.Bind(c) == nil {
			e.EvalMask([]uint64{0b10101})
		}
	})
}
