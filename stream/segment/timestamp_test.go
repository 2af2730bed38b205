package segment

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestParseTimestampMatchesTime checks parseTimestamp, and its fast path on
// its own, against time.Parse on valid timestamps and on damaged ones.
func TestParseTimestampMatchesTime(t *testing.T) {
	check := func(s string) {
		want, err := time.Parse(time.RFC3339Nano, s)
		got, ok := parseTimestamp(s)
		if ok != (err == nil) || ok && got != want.UnixMilli() {
			t.Fatalf("parseTimestamp(%q) = %d, %v; time.Parse: %d, %v", s, got, ok, want.UnixMilli(), err)
		}
		if fast, ok := parseRFC3339(s); ok && (err != nil || fast != want.UnixMilli()) {
			t.Fatalf("parseRFC3339(%q) = %d; time.Parse: %d, %v", s, fast, want.UnixMilli(), err)
		}
	}
	r := rand.New(rand.NewPCG(3, 5))
	zones := []string{"Z", "+00:00", "-00:00", "+02:00", "-09:30", "+23:59", "-23:59", "+24:00", "+05:60", "z", "+0200", "+02", ""}
	fracs := []string{"", ".", ".1", ".12", ".123", ".1234", ".123456789", ".1234567891234", ",5", ".5a"}
	const alphabet = "0123456789-:T.Z+ tz,/\x00\xff"
	for range 200000 {
		ts := time.Date(r.IntN(10000), time.Month(1+r.IntN(12)), 1+r.IntN(31), r.IntN(24), r.IntN(60), r.IntN(60), 0, time.UTC)
		s := ts.Format("2006-01-02T15:04:05") + fracs[r.IntN(len(fracs))] + zones[r.IntN(len(zones))]
		check(s)
		b := []byte(s)
		for range r.IntN(3) {
			i := r.IntN(len(b))
			switch r.IntN(3) {
			case 0:
				b[i] = alphabet[r.IntN(len(alphabet))]
			case 1:
				b = append(b[:i], b[i+1:]...)
			default:
				b = append(b[:i], append([]byte{alphabet[r.IntN(len(alphabet))]}, b[i:]...)...)
			}
			if len(b) == 0 {
				break
			}
		}
		check(string(b))
	}
	for _, s := range []string{"2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
		"2000-02-29T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999+23:59", "2024-05-01T24:00:00Z",
		"2024-05-01T23:59:60Z", "2024-04-31T00:00:00Z", "2024-00-01T00:00:00Z", "2024-13-01T00:00:00Z"} {
		check(s)
	}
}
