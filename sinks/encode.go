package sinks

import (
	"math/bits"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendDecision appends d's JSON to dst: the same bytes as json.Marshal(d),
// without reflection or allocation.
func AppendDecision(dst []byte, d *Decision) []byte {
	dst = append(dst, `{"decision_id":`...)
	dst = AppendJSONString(dst, d.DecisionID)
	dst = appendField(dst, "campaign_id", d.CampaignID)
	dst = appendField(dst, "user_id", d.UserID)
	dst = appendField(dst, "channel", d.Channel)
	dst = appendField(dst, "template", d.Template)
	dst = appendField(dst, "decided_at", d.DecidedAt)
	dst = appendField(dst, "send_at", d.SendAt)
	t := &d.Trigger
	dst = append(dst, `,"trigger":{`...)
	mark := len(dst)
	dst = appendOptional(dst, mark, "event", t.Event)
	dst = appendOptional(dst, mark, "message_id", t.MessageID)
	dst = appendOptional(dst, mark, "timer", t.Timer)
	dst = appendOptional(dst, mark, "segment", t.Segment)
	dst = appendOptional(dst, mark, "topic", t.Topic)
	if len(dst) > mark {
		dst = append(dst, ',')
	}
	dst = append(dst, `"partition":`...)
	dst = strconv.AppendInt(dst, int64(t.Partition), 10)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, t.Offset, 10)
	a := &d.Attributes
	dst = append(dst, `},"attributes":{`...)
	mark = len(dst)
	dst = appendOptional(dst, mark, "email", a.Email)
	dst = appendOptional(dst, mark, "phone", a.Phone)
	dst = appendOptional(dst, mark, "timezone", a.Timezone)
	if len(a.Properties) > 0 {
		if len(dst) > mark {
			dst = append(dst, ',')
		}
		dst = append(dst, `"properties":`...)
		dst = appendCompactJSON(dst, a.Properties)
	}
	return append(dst, "}}"...)
}

// AppendFact appends f's JSON to dst: the same bytes as json.Marshal(f).
func AppendFact(dst []byte, f *Fact) []byte {
	dst = append(dst, `{"fact_id":`...)
	dst = AppendJSONString(dst, f.FactID)
	dst = appendField(dst, "kind", f.Kind)
	dst = appendField(dst, "user_id", f.UserID)
	dst = appendField(dst, "at", f.At)
	dst = appendOptional(dst, 0, "campaign_id", f.CampaignID)
	dst = appendOptional(dst, 0, "reason", f.Reason)
	dst = appendOptional(dst, 0, "channel", f.Channel)
	dst = appendOptional(dst, 0, "from", f.From)
	dst = appendOptional(dst, 0, "to", f.To)
	dst = appendOptional(dst, 0, "segment", f.Segment)
	if f.Entered != nil {
		dst = append(dst, `,"entered":`...)
		dst = strconv.AppendBool(dst, *f.Entered)
	}
	if f.Partition != nil {
		dst = append(dst, `,"partition":`...)
		dst = strconv.AppendInt(dst, int64(*f.Partition), 10)
	}
	if f.Size != nil {
		dst = append(dst, `,"size":`...)
		dst = strconv.AppendUint(dst, *f.Size, 10)
	}
	dst = appendOptional(dst, 0, "cause", f.Cause)
	dst = appendOptional(dst, 0, "message_id", f.MessageID)
	return append(dst, '}')
}

// appendField appends ,"name":"value".
func appendField(dst []byte, name, value string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return AppendJSONString(dst, value)
}

// appendOptional appends "name":"value" for a non-empty value (omitempty),
// with a comma unless it is the first member after position mark (mark 0:
// always a comma).
func appendOptional(dst []byte, mark int, name, value string) []byte {
	if value == "" {
		return dst
	}
	if mark == 0 || len(dst) > mark {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return AppendJSONString(dst, value)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string exactly as encoding/json
// writes it: HTML-sensitive characters, U+2028 and U+2029 escaped, invalid
// UTF-8 replaced by U+FFFD.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				if len(s) >= 8 {
					i = copiedRun(s, i)
				}
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// copiedRun returns the offset of the first byte of s at or after i that
// AppendJSONString does not copy as it is, or len(s), looking at eight
// bytes at a time; len(s) must be at least 8.
func copiedRun(s string, i int) int {
	for ; i <= len(s)-8; i += 8 {
		if m := jsonSpecial(load64(s, i)); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	if i < len(s) {
		// The last eight bytes, less those before i. A byte before i that
		// was escaped can flag the one above it falsely; the caller then
		// copies that byte and comes back.
		last := len(s) - 8
		if m := jsonSpecial(load64(s, last)) >> (8 * (i - last)); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		return len(s)
	}
	return i
}

const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// jsonSpecial returns the high bit of every byte of x (little-endian) that
// AppendJSONString does not copy as it is: control characters, '"', '\\',
// '<', '>', '&' and bytes from 0x80 up. Bits above the lowest one may be
// false positives.
//
// A byte b below 0x80 minus k sets its high bit exactly when b < k, except
// for a borrow from the byte below, which comes only from a byte flagged
// itself; bytes from 0x80 up are flagged by x itself. XOR with '<' and
// clearing bit 1 makes '<' and '>' the only bytes that become 0 (below 1),
// XOR with '"' and clearing bit 2 does the same for '"' and '&'.
func jsonSpecial(x uint64) uint64 {
	ctl := x - ones*0x20
	angle := ((x ^ ones*'<') &^ (ones * 0x02)) - ones
	quoteAmp := ((x ^ ones*'"') &^ (ones * 0x04)) - ones
	backslash := (x ^ ones*'\\') - ones
	return (ctl | angle | quoteAmp | backslash | x) & high
}

// load64 returns the eight bytes of s at i as a little-endian word (the
// compiler makes this one load).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// appendCompactJSON appends valid JSON src without insignificant white
// space, escaping <, >, &, U+2028 and U+2029 as encoding/json does for a
// json.RawMessage.
func appendCompactJSON(dst, src []byte) []byte {
	inString, escaped := false, false
	for i := 0; i < len(src); i++ {
		c := src[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			case c == '<' || c == '>' || c == '&':
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
				continue
			case c == 0xE2 && i+2 < len(src) && src[i+1] == 0x80 && src[i+2]&^1 == 0xA8:
				dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[src[i+2]&0xf])
				i += 2
				continue
			}
			dst = append(dst, c)
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			inString = true
		}
		dst = append(dst, c)
	}
	return dst
}

// AppendTime appends the UTC time ms (Unix milliseconds) in TimeFormat, as
// time.UnixMilli(ms).UTC().AppendFormat(dst, TimeFormat) does, without its
// layout interpretation: every output carries a time. Years outside
// 0000-9999 go the time package's way.
func AppendTime(dst []byte, ms int64) []byte {
	const msPerDay = 86_400_000
	// -62167219200000 is 0000-01-01T00:00:00Z, 253402300799999 the last
	// millisecond of 9999.
	if ms < -62_167_219_200_000 || ms > 253_402_300_799_999 {
		return time.UnixMilli(ms).UTC().AppendFormat(dst, TimeFormat)
	}
	days, rem := ms/msPerDay, ms%msPerDay
	if rem < 0 {
		days, rem = days-1, rem+msPerDay
	}
	y, m, d := civil(days)
	secs, milli := rem/1000, rem%1000
	var b [24]byte
	put4(b[0:], int(y))
	b[4] = '-'
	put2(b[5:], m)
	b[7] = '-'
	put2(b[8:], d)
	b[10] = 'T'
	put2(b[11:], int(secs/3600))
	b[13] = ':'
	put2(b[14:], int(secs/60%60))
	b[16] = ':'
	put2(b[17:], int(secs%60))
	b[19] = '.'
	b[20] = byte('0' + milli/100)
	b[21] = byte('0' + milli/10%10)
	b[22] = byte('0' + milli%10)
	b[23] = 'Z'
	return append(dst, b[:]...)
}

// civil returns the proleptic Gregorian date of the day days after
// 1970-01-01 (Howard Hinnant's days-to-civil algorithm).
func civil(days int64) (year int64, month, day int) {
	z := days + 719_468
	era := z / 146_097
	if z < 0 && z%146_097 != 0 {
		era--
	}
	doe := z - era*146_097                                   // [0, 146096]
	yoe := (doe - doe/1460 + doe/36_524 - doe/146_096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)                 // [0, 365]
	mp := (5*doy + 2) / 153                                  // [0, 11], from March
	day = int(doy - (153*mp+2)/5 + 1)
	month = int(mp + 3)
	if month > 12 {
		month -= 12
	}
	year = yoe + era*400
	if month <= 2 {
		year++
	}
	return year, month, day
}

func put2(b []byte, v int) {
	b[0], b[1] = byte('0'+v/10), byte('0'+v%10)
}

func put4(b []byte, v int) {
	b[0], b[1], b[2], b[3] = byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10)
}
