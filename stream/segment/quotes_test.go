package segment

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

// needQuoteIndex skips a test of the quote index where there is none (other
// architectures, or amd64 without AVX2), except in CI on amd64, where the
// index is expected and the test fails instead.
func needQuoteIndex(t *testing.T) {
	t.Helper()
	switch {
	case canIndexQuotes:
	case os.Getenv("CI") != "" && runtime.GOARCH == "amd64":
		t.Fatal("no AVX2 on this CI machine: the quote index would go untested")
	default:
		t.Skip("no quote index on this machine; the scan without it is tested everywhere")
	}
}

// quoteMasksGo is what quoteMasks computes, a byte at a time: the masks up
// to the block where it stops.
func quoteMasksGo(data []byte, carry uint64) (q []uint64, flags, carryOut uint64) {
	inside := carry != 0
	for b := 0; b < len(data)/64; b++ {
		var w uint64
		for k, c := range data[b*64 : b*64+64] {
			switch {
			case c == '"':
				w |= 1 << k
				inside = !inside
			case c == '\\':
				flags |= sawBackslash
			case c >= 0x80:
				flags |= sawHighByte
			case c < 0x20 && inside:
				flags |= sawCtlInsideStr
			}
		}
		q = append(q, w)
		if flags&(sawBackslash|sawCtlInsideStr) != 0 {
			break // quoteMasks stops here
		}
	}
	if inside {
		carryOut = ^uint64(0)
	}
	return q, flags, carryOut
}

// TestQuoteMasksMatchesReference runs quoteMasks and quoteMasksGo over random
// blocks made of the bytes that matter (quotes, backslashes, control
// characters, high bytes, spaces, letters), starting inside and outside a
// string.
func TestQuoteMasksMatchesReference(t *testing.T) {
	needQuoteIndex(t)
	alphabet := []byte{'"', '"', '"', '\\', 0x01, '\n', '\t', 0x1f, 0x20, 0x7f, 0x80, 0xc3, 0xff, 'a', '{', ':'}
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 20000 {
		blocks := 1 + r.IntN(4)
		data := make([]byte, blocks*64)
		for i := range data {
			if r.IntN(4) == 0 {
				data[i] = alphabet[r.IntN(len(alphabet))]
			} else {
				data[i] = 'a' + byte(r.IntN(26))
			}
		}
		if n%3 == 0 { // mostly plain
			for i := range data {
				if data[i] == '\\' || data[i] >= 0x80 || data[i] < 0x20 {
					data[i] = 'x'
				}
			}
		}
		carry := uint64(0)
		if n%2 == 1 {
			carry = ^uint64(0)
		}
		wantQ, wantFlags, wantCarry := quoteMasksGo(data, carry)
		q := make([]uint64, blocks)
		flags, carryOut := quoteMasks(&data[0], blocks, &q[0], carry)
		for b := range wantQ {
			if q[b] != wantQ[b] {
				t.Fatalf("%q carry %x: block %d quotes %064b, want %064b", data, carry, b, q[b], wantQ[b])
			}
		}
		if flags != wantFlags || carryOut != wantCarry {
			t.Fatalf("%q carry %x: flags %03b carry %x, want %03b %x", data, carry, flags, carryOut, wantFlags, wantCarry)
		}
	}
}

// TestQuoteIndexWhenItApplies checks which documents get an index: those with
// no backslash, no control character inside a string, valid UTF-8 and at
// most maxIndexedBytes; whitespace between tokens does not matter.
func TestQuoteIndexWhenItApplies(t *testing.T) {
	needQuoteIndex(t)
	long := `{"type":"track","x":"` + strings.Repeat("a", maxIndexedBytes) + `"}`
	for _, c := range []struct {
		doc   string
		index bool
	}{
		{`{"type":"track","event":"E","userId":"u1"}`, true},
		{"{\n\t\"type\": \"track\",\r\n \"userId\": \"u1\"\n}\n", true},
		{`{"type":"track","userId":"Zoë 🙂"}`, true},
		{`{"type":"` + strings.Repeat("a", maxIndexedBytes-len(`{"type":""}`)) + `"}`, true},
		{long[:maxIndexedBytes+1], false},
		{long, false},
		{`{"type":"track","userId":"u\"1"}`, false},
		{`{"type":"track","userId":"u\u00e91"}`, false},
		{"{\"type\":\"track\",\"userId\":\"u\t1\"}", false},
		{"{\"type\":\"track\",\"userId\":\"u\xff1\"}", false},
		{"{\"type\":\"track\",\"userId\":\"u\xc3\"}", false},
		{``, false},
	} {
		s := scanner{data: []byte(c.doc)}
		s.indexQuotes()
		if got := s.nq != 0; got != c.index {
			t.Errorf("%.60q (%d bytes): index %v, want %v", c.doc, len(c.doc), got, c.index)
		}
		if s.nq == 0 {
			for b, w := range s.q {
				if w != 0 {
					t.Fatalf("%.60q: no index but word %d is %x: str needs zeros", c.doc, b, w)
				}
			}
		}
		var ev, ev2 Event
		d := NewDecoder(DecoderOptions{MaxBytes: 1 << 20})
		err := d.decode([]byte(c.doc), 0, &ev, true)
		err2 := d.decode([]byte(c.doc), 0, &ev2, false)
		if fmt.Sprint(err) != fmt.Sprint(err2) || view(ev) != view(ev2) {
			t.Errorf("%.60q: with the index %v %s, without %v %s", c.doc, err, view(ev), err2, view(ev2))
		}
	}
}

// TestValidUTF8MatchesStdlib compares validUTF8 with utf8.Valid on random
// mixes of ASCII, well-formed characters of every length and stray bytes.
func TestValidUTF8MatchesStdlib(t *testing.T) {
	pieces := []string{"a", "abcdefgh", "é", "抹", "茶ラ", "🙂", "\xed\xa0\x80", "\xe0\x80\xaf",
		"\xf4\x90\x80\x80", "\xc3", "\x80", "\xff", "\xe6\x8a", "\xf0\x9f\x99"}
	r := rand.New(rand.NewPCG(3, 4))
	valid := 0
	for range 50000 {
		var b []byte
		for range r.IntN(12) {
			b = append(b, pieces[r.IntN(len(pieces))]...)
		}
		want := utf8.Valid(b)
		if got := validUTF8(b); got != want {
			t.Fatalf("validUTF8(%q) = %v, want %v", b, got, want)
		}
		if want {
			valid++
		}
	}
	if valid < 1000 {
		t.Fatalf("only %d valid strings generated", valid)
	}
}
