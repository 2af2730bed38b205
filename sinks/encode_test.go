package sinks

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"
)

var tricky = []string{"", "plain", "eight ok", "sixteen bytes ok", "0123456<", "01234567>", "longer than eight & more",
	"0123456789abcdef\x7f\x80", "abcdefgh\u00e9abcdefgh\"tail", "0123456789<=ab", "x&=yyyyyyyy\"=z", "é<=abcdefg\x1f!", `quo"te`, `back\slash`, "tab\tnl\ncr\rbs\bff\f", "\x00\x01\x1f", "<a href='x'>&amp;</a>",
	"héllo wörld ✓ 日本", "bad\xffutf8\xc3", "line\u2028sep\u2029", "emoji 🎉"}

func TestAppendEncodersMatchEncodingJSON(t *testing.T) {
	tr := true
	var part int32 = 7
	var size uint64 = 12345
	for _, s := range tricky {
		for _, props := range []string{"", `{}`, `{ "a" : [1, 2.5e3, "x y", "<&>", "\u2028", {"b": null}] , "c":true }`, "{\"s\":\"a\u2028b\"}"} {
			d := Decision{DecisionID: s, CampaignID: "c" + s, UserID: s, Channel: "push", Template: s, DecidedAt: "2026-01-01T00:00:00.000Z", SendAt: s,
				Trigger:    Trigger{Event: s, MessageID: s, Partition: -3, Offset: 1 << 40},
				Attributes: Attributes{Email: s, Timezone: s, Properties: json.RawMessage(props)}}
			checkSame(t, AppendDecision(nil, &d), &d)
			d.Trigger = Trigger{Timer: s, Segment: "enter:" + s}
			d.Attributes = Attributes{}
			checkSame(t, AppendDecision(nil, &d), &d)
		}
		for _, f := range []Fact{
			{FactID: s, Kind: FactSuppression, UserID: s, At: s, CampaignID: s, Reason: s, Channel: s, Cause: s, MessageID: s},
			{FactID: s, Kind: FactConsentChange, From: s, To: s},
			{FactID: s, Kind: FactSegmentChange, Segment: s, Entered: &tr},
			{FactID: s, Kind: FactSegmentSize, Segment: s, Partition: &part, Size: &size},
			{},
		} {
			checkSame(t, AppendFact(nil, &f), &f)
		}
	}
}

func checkSame(t *testing.T, got []byte, v any) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("append encoder differs from encoding/json:\n got %s\nwant %s", got, want)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range tricky {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSONString(%q) = %s, encoding/json says %s", s, got, want)
		}
	})
}

// TestJSONSpecial checks the eight-bytes-at-a-time scan of AppendJSONString
// byte by byte: the lowest flagged byte is the first one not copied as it is.
func TestJSONSpecial(t *testing.T) {
	copied := func(c byte) bool {
		return c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	check := func(b [8]byte) {
		want := 8
		for i, c := range b {
			if !copied(c) {
				want = i
				break
			}
		}
		got := 8
		if m := jsonSpecial(load64(string(b[:]), 0)); m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if got != want {
			t.Fatalf("%q: first special byte at %d, want %d", b, got, want)
		}
	}
	for c := range 256 {
		for pos := range 8 {
			b := [8]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}
			b[pos] = byte(c)
			check(b)
			for k := pos + 1; k < 8; k++ {
				b[k] = byte(255 - c) // whatever follows must not matter
			}
			check(b)
			for k := pos + 1; k < 8; k++ {
				b[k] = byte(k * 37)
			}
			check(b)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1 << 20 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], r.Uint64())
		check(b)
		binary.LittleEndian.PutUint64(b[:], r.Uint64()&^0x8080808080808080)
		check(b)
	}
}

func BenchmarkAppendJSONString(b *testing.B) {
	for _, s := range []string{"u-1042", "2024-05-01T12:00:00.250Z", "1f9e7d2a-4b3c-4d5e-8f6a-7b8c9d0e1f2a",
		"events/1/123456:order_thanks:0", "Ann <ann@example.com> & co", "抹茶ラテ（ホット）"} {
		b.Run(strconv.Itoa(len(s)), func(b *testing.B) {
			var buf []byte
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				buf = AppendJSONString(buf[:0], s)
			}
		})
	}
}

// AppendTime writes what the time package writes, for every day from year
// 0 to 9999 (at a varying time of day), at the edges of that range and
// beyond it.
func TestAppendTimeMatchesTheTimePackage(t *testing.T) {
	check := func(ms int64) {
		t.Helper()
		want := time.UnixMilli(ms).UTC().Format(TimeFormat)
		if got := string(AppendTime([]byte("x"), ms)); got != "x"+want {
			t.Fatalf("AppendTime(%d) = %q, want %q", ms, got[1:], want)
		}
	}
	const day = 86_400_000
	first, last := int64(-62_167_219_200_000), int64(253_402_300_799_999)
	for d := first / day; d <= last/day; d++ {
		check(d*day + d*7919%day)
	}
	for _, ms := range []int64{0, -1, 1, 999, 1000, -999, -1000, -1001, day - 1, -day, -day - 1,
		first, first - 1, first + 1, last, last + 1, last - 1, 951_782_400_000, 1_709_164_800_000,
		-2_203_891_200_000, 1 << 62, -(1 << 62)} {
		check(ms)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 200_000 {
		check(first + r.Int64N(last-first+1))
	}
}

func BenchmarkAppendTime(b *testing.B) {
	var buf []byte
	ms := int64(1_764_518_400_123)
	b.Run("AppendTime", func(b *testing.B) {
		for b.Loop() {
			buf = AppendTime(buf[:0], ms)
		}
	})
	b.Run("time.AppendFormat", func(b *testing.B) {
		for b.Loop() {
			buf = time.UnixMilli(ms).UTC().AppendFormat(buf[:0], TimeFormat)
		}
	})
}
