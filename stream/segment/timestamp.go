package segment

import "time"

// parseTimestamp parses an RFC 3339 time into Unix milliseconds (sub-
// millisecond digits are truncated). It accepts exactly what
// time.Parse(time.RFC3339Nano, s) accepts and agrees with it; the common
// shape is parsed without time.Parse.
func parseTimestamp(s string) (int64, bool) {
	if ms, ok := parseRFC3339(s); ok {
		return ms, true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

// parseRFC3339 parses YYYY-MM-DDTHH:MM:SS[.digits](Z|±HH:MM) with every
// field in range. Anything else is left to time.Parse: ok is false.
//
// Every message has a timestamp, so the fixed part is read as two words and
// checked against the patterns "0000-00-" and "00T00:00", where 0 stands for
// a digit, eight bytes at a time.
func parseRFC3339(s string) (int64, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") {
		return 0, false
	}
	date, ok1 := datePattern.match(le64(s[0:8]))
	clock, ok2 := clockPattern.match(le64(s[8:16]))
	if !ok1 || !ok2 || s[16] != ':' {
		return 0, false
	}
	sec := pair(s[17], s[18])
	year := int(date&0xFF)*100 + int(date>>16&0xFF)
	month, day := int(date>>40&0xFF), int(clock&0xFF)
	hour, minute := int(clock>>24&0xFF), int(clock>>48&0xFF)
	if sec < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	s = s[19:]
	var ms int64
	if s[0] == '.' {
		// Milliseconds are the first three digits; the digits after them
		// are checked and dropped.
		n := 1
		for ; n <= 3 && n < len(s) && isDigit(s[n]); n++ {
			ms = ms*10 + int64(s[n]-'0')
		}
		if n == 1 {
			return 0, false
		}
		for k := n; k <= 3; k++ {
			ms *= 10
		}
		for n < len(s) && isDigit(s[n]) {
			n++
		}
		s = s[n:]
	}
	var offset int64 // seconds east of UTC
	switch {
	case len(s) == 1 && s[0] == 'Z':
	case len(s) == len("+07:00") && (s[0] == '+' || s[0] == '-') && s[3] == ':':
		oh, om := pair(s[1], s[2]), pair(s[4], s[5])
		if oh < 0 || om < 0 || oh > 23 || om > 59 {
			return 0, false
		}
		offset = int64(oh*3600 + om*60)
		if s[0] == '-' {
			offset = -offset
		}
	default:
		return 0, false
	}
	secs := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+sec) - offset
	return secs*1000 + ms, true
}

// A pattern is eight characters, some of which are digits, as a little-
// endian word: text has '0' for each digit, and digits has 0xFF in the
// bytes of the digits.
type pattern struct{ text, digits uint64 }

var (
	datePattern  = newPattern("0000-00-")
	clockPattern = newPattern("00T00:00")
)

func newPattern(t string) pattern {
	p := pattern{text: le64(t)}
	for i := range 8 {
		if t[i] == '0' {
			p.digits |= 0xFF << (8 * i)
		}
	}
	return p
}

// match reports whether the eight bytes w match p, and returns the values of
// the two-digit numbers in w: byte k of pairs is 10*digit(k) + digit(k+1).
func (p pattern) match(w uint64) (pairs uint64, ok bool) {
	// Where w matches, d has the value of each digit and 0 elsewhere. A
	// byte of w below '0' borrows, and then is itself above 9 in d.
	d := w - p.text
	ok = (w^p.text)&^p.digits == 0 && (d|(d+ones*(0x80-10)))&high == 0
	return d*10 + d>>8, ok
}

// le64 returns the first eight bytes of s as a little-endian word.
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// pair returns the value of the two decimal digits hi and lo, or a negative
// number if either is not a digit.
func pair(hi, lo byte) int {
	h, l := int(hi)-'0', int(lo)-'0'
	if uint(h) > 9 || uint(l) > 9 {
		return -1
	}
	return h*10 + l
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a date of the years 0
// to 9999 of the proleptic Gregorian calendar (Howard Hinnant's algorithm,
// with years counted from 400 years earlier so that every division is of a
// non-negative number).
func daysFromCivil(year, month, day int) int64 {
	y, m := uint(year)+400, uint(month)
	if m > 2 {
		m -= 3 // years start on March 1
	} else {
		m += 9
		y--
	}
	era := y / 400
	yoe := y - era*400
	doy := (153*m+2)/5 + uint(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097+doe) - 719468 - 146097
}
