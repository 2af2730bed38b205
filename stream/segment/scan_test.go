package segment

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestStrMatchesUTF8 checks the string scan on strings of mostly non-ASCII
// text against unicode/utf8: a string is accepted if and only if it is
// valid UTF-8, and otherwise refused at its first invalid character.
func TestStrMatchesUTF8(t *testing.T) {
	pieces := []string{"a", " ", "é", "ß", "抹", "茶", "ラ", "テ", "（", "\u0800", "\uFFFD", "\uE000", "\uD7FF",
		"😀", "\U00010000", "\U0010FFFF", "\xe0\xa0\x80", "\xed\x9f\xbf",
		"\xe0\x80\x80", "\xed\xa0\x80", "\xc0\xaf", "\xc1\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
		"\x80", "\xbf", "\xe6\x8a", "\xe6", "\xf0\x9f\x98", "\xff", "\xe6\x8a\xe6", "\xe6\xca\xb9"}
	r := rand.New(rand.NewPCG(1, 1))
	for range 300000 {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		text := b.String()
		// The first invalid byte, as unicode/utf8 sees it.
		bad := -1
		for i := 0; i < len(text); {
			r, n := utf8.DecodeRuneInString(text[i:])
			if r == utf8.RuneError && n <= 1 {
				bad = i
				break
			}
			i += n
		}
		for _, tail := range []string{`"`, `"}`, `"          }`} {
			data := []byte(`"` + text + tail)
			s := scanner{data: data}
			end, _ := s.str(1)
			switch {
			case bad < 0 && end != 1+len(text):
				t.Fatalf("%q: end %d (%s at %d), want %d", data, end, s.errMsg, s.errOff, 1+len(text))
			case bad >= 0 && (end >= 0 || s.errOff != 1+bad || s.errMsg != "invalid UTF-8 in string"):
				t.Fatalf("%q: end %d (%s at %d), want invalid UTF-8 at %d", data, end, s.errMsg, s.errOff, 1+bad)
			}
		}
	}
}
