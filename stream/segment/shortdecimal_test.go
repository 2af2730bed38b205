package segment

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestShortDecimal checks the fast path of float against strconv.ParseFloat.
func TestShortDecimal(t *testing.T) {
	check := func(s string) {
		if numberLen(s) != len(s) || s == "" {
			return // not a JSON number: float never asks
		}
		want, err := strconv.ParseFloat(s, 64)
		got, ok := shortDecimal(s)
		if !ok {
			return
		}
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("shortDecimal(%q) = %v; strconv: %v, %v", s, got, want, err)
		}
	}
	for _, s := range []string{"0", "-0", "0.0", "-0.0", "42.5", "480", "19.99", "0.1", "0.3", "-7.5", "1e3",
		"999999999999999", "999999999999999.9", "9007199254740993", "0.000000000000001", "123456789012345",
		"12345678901234.5", "1234567890123456", "0.30000000000000004", "2.5E-3"} {
		check(s)
	}
	r := rand.New(rand.NewPCG(9, 9))
	fast := 0
	for range 1000000 {
		digits := make([]byte, 1+r.IntN(17))
		for i := range digits {
			digits[i] = byte('0' + r.IntN(10))
		}
		if digits[0] == '0' {
			digits = digits[:1] // no leading zeros: "0" or "0.ddd"
		}
		s := string(digits)
		if r.IntN(4) != 0 {
			frac := make([]byte, 1+r.IntN(16))
			for i := range frac {
				frac[i] = byte('0' + r.IntN(10))
			}
			s += "." + string(frac)
		}
		if r.IntN(4) == 0 {
			s = "-" + s
		}
		if _, ok := shortDecimal(s); ok {
			fast++
		}
		check(s)
	}
	if fast < 100000 {
		t.Errorf("only %d numbers took the fast path", fast)
	}
}
