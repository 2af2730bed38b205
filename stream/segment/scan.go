package segment

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
	"unsafe"
)

// The scanner validates the whole document in one pass and records where the
// values of the fields rekindle reads are (a span per field); everything else
// is validated and skipped. Interpretation happens afterwards (decode.go), so
// a syntax error anywhere wins over any semantic error, and for a key that
// appears twice the last occurrence wins, as in encoding/json.

// maxDepth bounds the nesting of objects and arrays (encoding/json allows
// 10000); deeper documents are refused as invalid_json.
const maxDepth = 1000

// jsonKind is the JSON type of a captured value.
type jsonKind uint8

const (
	jsAbsent jsonKind = iota
	jsNull
	jsString
	jsNumber
	jsTrue
	jsFalse
	jsObject
	jsArray
)

var jsonKindNames = [...]string{
	jsAbsent: "missing",
	jsNull:   "null",
	jsString: "a string",
	jsNumber: "a number",
	jsTrue:   "a boolean",
	jsFalse:  "a boolean",
	jsObject: "an object",
	jsArray:  "an array",
}

// present reports whether a value is there and not null.
func (k jsonKind) present() bool { return k > jsNull }

// span locates a captured value in the input: the raw JSON text, except that
// for strings it is the text between the quotes.
type span struct {
	start, end int32
	kind       jsonKind
	escaped    bool // a string containing backslash escapes
}

// field identifies a captured value. Children of a container field are
// contiguous so that a repeated container key can reset them.
type field uint8

const (
	fNone field = iota
	fType
	fUserID
	fAnonymousID
	fMessageID
	fPreviousID
	fEvent
	fName
	fTimestamp
	fOriginalTimestamp
	fReceivedAt
	fContext
	fTraits
	fProperties

	fCtxTimezone // first child of context
	fCtxChannel
	fCtxUserAgent
	fCtxApp
	fCtxPage
	fCtxDevice
	fCtxOS
	fCtxTraits
	fCtxTraitsTimezone // first child of context.traits
	fCtxTraitsEmail
	fCtxTraitsPhone
	fCtxTraitsCountry // last child of context and of context.traits

	fTraitsTimezone // first child of traits
	fTraitsEmail
	fTraitsPhone
	fTraitsCountry // last child of traits

	fPropGranted // first child of properties
	fPropStatus
	fPropPermission
	fPropFrom
	fPropBody
	fPropRevenue
	fPropTotal
	fPropValue
	fPropPrice
	fPropChannel
	fPropSurface // last child of properties

	numFields
)

// The traits fields of both traits objects are in the same order.
const (
	traitTimezone = iota
	traitEmail
	traitPhone
	traitCountry
)

var fieldNames = [numFields]string{
	fType:              "type",
	fUserID:            "userId",
	fAnonymousID:       "anonymousId",
	fMessageID:         "messageId",
	fPreviousID:        "previousId",
	fEvent:             "event",
	fName:              "name",
	fTimestamp:         "timestamp",
	fOriginalTimestamp: "originalTimestamp",
	fReceivedAt:        "receivedAt",
	fContext:           "context",
	fTraits:            "traits",
	fProperties:        "properties",
	fCtxTimezone:       "context.timezone",
	fCtxChannel:        "context.channel",
	fCtxUserAgent:      "context.userAgent",
	fCtxApp:            "context.app",
	fCtxPage:           "context.page",
	fCtxDevice:         "context.device",
	fCtxOS:             "context.os",
	fCtxTraits:         "context.traits",
	fCtxTraitsTimezone: "context.traits.timezone",
	fCtxTraitsEmail:    "context.traits.email",
	fCtxTraitsPhone:    "context.traits.phone",
	fCtxTraitsCountry:  "context.traits.country",
	fTraitsTimezone:    "traits.timezone",
	fTraitsEmail:       "traits.email",
	fTraitsPhone:       "traits.phone",
	fTraitsCountry:     "traits.country",
	fPropGranted:       "properties.granted",
	fPropStatus:        "properties.status",
	fPropPermission:    "properties.permission",
	fPropFrom:          "properties.from",
	fPropBody:          "properties.body",
	fPropRevenue:       "properties.revenue",
	fPropTotal:         "properties.total",
	fPropValue:         "properties.value",
	fPropPrice:         "properties.price",
	fPropChannel:       "properties.channel",
	fPropSurface:       "properties.surface",
}

// scope says which keys of an object are captured.
type scope uint8

const (
	scopeSkip scope = iota
	scopeTop
	scopeContext
	scopeTraits
	scopeCtxTraits
	scopeProperties
)

// container describes a field whose object value is scanned for more fields.
type container struct {
	scope  scope
	lo, hi field // children, inclusive
}

var containers = [numFields]container{
	fContext:    {scopeContext, fCtxTimezone, fCtxTraitsCountry},
	fCtxTraits:  {scopeCtxTraits, fCtxTraitsTimezone, fCtxTraitsCountry},
	fTraits:     {scopeTraits, fTraitsTimezone, fTraitsCountry},
	fProperties: {scopeProperties, fPropGranted, fPropSurface},
}

func lookupTop(k string) field {
	switch k {
	case "type":
		return fType
	case "userId":
		return fUserID
	case "anonymousId":
		return fAnonymousID
	case "messageId":
		return fMessageID
	case "previousId":
		return fPreviousID
	case "event":
		return fEvent
	case "name":
		return fName
	case "timestamp":
		return fTimestamp
	case "originalTimestamp":
		return fOriginalTimestamp
	case "receivedAt":
		return fReceivedAt
	case "context":
		return fContext
	case "traits":
		return fTraits
	case "properties":
		return fProperties
	}
	return fNone
}

func lookupContext(k string) field {
	switch k {
	case "timezone":
		return fCtxTimezone
	case "channel":
		return fCtxChannel
	case "userAgent":
		return fCtxUserAgent
	case "app":
		return fCtxApp
	case "page":
		return fCtxPage
	case "device":
		return fCtxDevice
	case "os":
		return fCtxOS
	case "traits":
		return fCtxTraits
	}
	return fNone
}

// lookupTraits returns the offset of a traits key from the first traits field.
func lookupTraits(k string) int {
	switch k {
	case "timezone":
		return traitTimezone
	case "email":
		return traitEmail
	case "phone":
		return traitPhone
	case "country":
		return traitCountry
	}
	return -1
}

func lookupProperties(k string) field {
	switch k {
	case "granted":
		return fPropGranted
	case "status":
		return fPropStatus
	case "permission":
		return fPropPermission
	case "from":
		return fPropFrom
	case "body":
		return fPropBody
	case "revenue":
		return fPropRevenue
	case "total":
		return fPropTotal
	case "value":
		return fPropValue
	case "price":
		return fPropPrice
	case "channel":
		return fPropChannel
	case "surface":
		return fPropSurface
	}
	return fNone
}

func lookup(sc scope, k string) field {
	switch sc {
	case scopeTop:
		return lookupTop(k)
	case scopeContext:
		return lookupContext(k)
	case scopeProperties:
		return lookupProperties(k)
	case scopeTraits:
		if t := lookupTraits(k); t >= 0 {
			return fTraitsTimezone + field(t)
		}
	case scopeCtxTraits:
		if t := lookupTraits(k); t >= 0 {
			return fCtxTraitsTimezone + field(t)
		}
	}
	return fNone
}

// scanner holds the state of one decode. It lives on the caller's stack.
type scanner struct {
	data []byte
	// nq is the number of words of the quote index (quotes.go) in q, or
	// 0 when there is none, and then q is all zeros. The index lives in
	// the scanner rather than in a slice of its own so that it stays on
	// the stack.
	nq     int
	q      [indexWords]uint64
	f      [numFields]span
	errOff int
	errMsg string
}

// fail records the first syntax error and returns -1.
func (s *scanner) fail(off int, msg string) int {
	if s.errMsg == "" {
		s.errOff, s.errMsg = off, msg
	}
	return -1
}

// document scans data as one JSON object with nothing but whitespace after
// it, and reports whether it is well-formed.
func (s *scanner) document() bool {
	data := s.data
	i := skipSpace(data, 0)
	if i >= len(data) {
		s.fail(i, "empty input, want an object")
		return false
	}
	if data[i] != '{' {
		s.fail(i, "top level is not an object")
		return false
	}
	if i = s.object(i, 1, scopeTop); i < 0 {
		return false
	}
	if i = skipSpace(data, i); i != len(data) {
		s.fail(i, "data after the top-level object")
		return false
	}
	return true
}

// skipSpace returns the offset of the first byte at or after data[i] that is
// not JSON whitespace. Tokens are mostly not preceded by whitespace: that
// case is checked inline, anything else in skipSpaceSlow.
func skipSpace(data []byte, i int) int {
	if uint(i) < uint(len(data)) && data[i] > ' ' {
		return i
	}
	return skipSpaceSlow(data, i)
}

func skipSpaceSlow(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// object scans the object starting at data[i] == '{' and returns the offset
// after it, or -1.
func (s *scanner) object(i, depth int, sc scope) int {
	data := s.data
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1
	}
	for {
		// Every offset here is in [0, len(data)]: comparing them as uint
		// spares the bounds checks.
		if uint(i) >= uint(len(data)) {
			return s.fail(i, "unexpected end of input in object")
		}
		if data[i] != '"' {
			return s.fail(i, "want a string key")
		}
		ks := i + 1
		ke, esc := s.nextQuote(ks), false
		if ke < 0 {
			ke, esc = s.str(ks)
		}
		if ke < 0 {
			return -1
		}
		f := fNone
		if sc != scopeSkip {
			if esc {
				f = lookup(sc, unescape(data[ks:ke]))
			} else {
				f = lookup(sc, bytesString(data[ks:ke]))
			}
		}
		if i = ke + 1; uint(i+1) < uint(len(data)) && data[i] == ':' && data[i+1] > ' ' {
			i++ // the usual `"key":value`
		} else {
			i = skipSpace(data, i)
			if i >= len(data) || data[i] != ':' {
				return s.fail(i, "want ':' after object key")
			}
			i = skipSpace(data, i+1)
		}
		if uint(i) < uint(len(data)) && data[i] == '"' {
			// Strings, the commonest values, are scanned here rather than
			// in value.
			end, esc := s.nextQuote(i+1), false
			if end < 0 {
				end, esc = s.str(i + 1)
			}
			if end < 0 {
				return -1
			}
			if f != fNone {
				s.set(f, span{start: int32(i + 1), end: int32(end), kind: jsString, escaped: esc})
			}
			i = end + 1
		} else if i = s.value(i, depth, f); i < 0 {
			return -1
		}
		if uint(i+1) < uint(len(data)) && data[i] == ',' && data[i+1] == '"' {
			i++ // the usual `,"key"`
			continue
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return s.fail(i, "unexpected end of input in object")
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return i + 1
		default:
			return s.fail(i, "want ',' or '}' after object value")
		}
	}
}

// array scans the array starting at data[i] == '[' and returns the offset
// after it, or -1.
func (s *scanner) array(i, depth int) int {
	data := s.data
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1
	}
	for {
		if i = s.value(i, depth, fNone); i < 0 {
			return -1
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return s.fail(i, "unexpected end of input in array")
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case ']':
			return i + 1
		default:
			return s.fail(i, "want ',' or ']' after array element")
		}
	}
}

// value scans the value starting at data[i], records it as f unless f is
// fNone, and returns the offset after it, or -1. depth is the nesting of
// the enclosing container.
func (s *scanner) value(i, depth int, f field) int {
	data := s.data
	if i >= len(data) {
		return s.fail(i, "unexpected end of input, want a value")
	}
	start, end := i, 0 // the span; for strings the text between the quotes
	var kind jsonKind
	esc := false
	switch c := data[i]; c {
	case '"':
		if end = s.nextQuote(i + 1); end < 0 {
			end, esc = s.str(i + 1)
		}
		if end < 0 {
			return -1
		}
		start, i, kind = i+1, end+1, jsString
	case '{':
		if depth >= maxDepth {
			return s.fail(i, "nesting too deep")
		}
		sub := scopeSkip
		if f != fNone {
			if c := containers[f]; c.scope != scopeSkip {
				// A repeated key replaces the earlier object entirely.
				clear(s.f[c.lo : c.hi+1])
				sub = c.scope
			}
		}
		i = s.object(i, depth+1, sub)
		kind = jsObject
	case '[':
		if depth >= maxDepth {
			return s.fail(i, "nesting too deep")
		}
		i = s.array(i, depth+1)
		kind = jsArray
	case 't':
		i = s.literal(i, "true")
		kind = jsTrue
	case 'f':
		i = s.literal(i, "false")
		kind = jsFalse
	case 'n':
		i = s.literal(i, "null")
		kind = jsNull
	default:
		if c != '-' && (c < '0' || c > '9') {
			return s.fail(i, "invalid character, want a value")
		}
		i = s.number(i)
		kind = jsNumber
	}
	if i < 0 {
		return -1
	}
	if f != fNone {
		if kind != jsString {
			end = i
		}
		s.set(f, span{start: int32(start), end: int32(end), kind: kind, escaped: esc})
	}
	return i
}

// set records the value of field f. A container field whose value is not an
// object forgets the children an earlier object value gave it (an object
// value has reset them before they were scanned).
func (s *scanner) set(f field, sp span) {
	if c := containers[f]; c.scope != scopeSkip && sp.kind != jsObject {
		clear(s.f[c.lo : c.hi+1])
	}
	s.f[f] = sp
}

func (s *scanner) literal(i int, lit string) int {
	if len(s.data)-i < len(lit) || string(s.data[i:i+len(lit)]) != lit {
		return s.fail(i, "invalid literal, want "+lit)
	}
	return i + len(lit)
}

// number scans a JSON number starting at data[i] and returns the offset after
// it, or -1.
func (s *scanner) number(i int) int {
	if n := numberLen(s.data[i:]); n > 0 {
		return i + n
	}
	return s.fail(i, "invalid number")
}

// numberLen returns the length of the JSON number at the start of b, or 0.
func numberLen[T string | []byte](b T) int {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return 0
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i++
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return 0
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return 0
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return 0
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// plain marks the bytes a string may contain without a closer look: printable
// ASCII except the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// special returns the high bit of every byte of x (little-endian) that is
// not plain. Bits above the lowest one may be false positives.
//
// Subtracting k from every byte sets the high bit of a byte b < 0x80 exactly
// when b < k, unless a borrow comes in from the byte below, which happens
// only above a byte that is flagged itself; bytes from 0x80 up are flagged
// by x itself. Flipping bit 1 maps the quote (0x22) to 0x20 and keeps
// control characters below 0x20, so one subtraction finds both; XOR with
// '\\' makes the backslash the only byte below 1.
func special(x uint64) uint64 {
	ctlOrQuote := (x ^ ones*0x02) - ones*0x21
	bslash := (x ^ ones*'\\') - ones
	return (ctlOrQuote | bslash | x) & high
}

// nextQuote returns the offset of the closing quote of the string whose
// contents start at data[i] if the quote index has it in the word of
// data[i], as it has for most strings, or -1. It is small enough to be
// inlined, and str is called when it returns -1. Without an index, q is all
// zeros; with one, i < len(q)*64, so the mask only spares a bounds check.
func (s *scanner) nextQuote(i int) int {
	if w := s.q[uint(i)>>6&(indexWords-1)] >> (uint(i) & 63); w != 0 {
		return i + bits.TrailingZeros64(w)
	}
	return -1
}

// str scans the string whose contents start at data[i] and returns the offset
// of its closing quote, or -1, and whether it contains escapes. With the
// quote index (quotes.go) the closing quote is looked up there.
func (s *scanner) str(i int) (int, bool) {
	if s.nq != 0 {
		return s.closingQuote(i), false
	}
	return s.strPlain(i)
}

// strPlain is str without the index. Most strings are short and plain, so
// it only looks for the closing quote eight bytes at a time and leaves
// anything else (escapes, non-ASCII, control characters, the last bytes of
// the input) to strSlow, from the first byte that is not plain on.
func (s *scanner) strPlain(i int) (int, bool) {
	data := s.data
	// Written this way, the loop compiles without bounds checks.
	for ; 0 <= i && i <= len(data)-8; i += 8 {
		w := binary.LittleEndian.Uint64(data[i : i+8 : i+8])
		if m := special(w); m != 0 {
			// t is the bit offset of the high bit of the first byte that
			// is not plain: the byte itself is w>>(t&^7), and t < 64.
			t := bits.TrailingZeros64(m)
			if byte(w>>(t&56)) == '"' {
				return i + t>>3, false
			}
			i += t >> 3
			break
		}
	}
	return s.strSlow(i)
}

// strSlow is str for the general case: data[i] is in the contents of a
// string, after plain bytes only.
func (s *scanner) strSlow(i int) (int, bool) {
	data := s.data
	esc := false
	for {
		// Eight bytes at a time: skip to the first byte that is not plain.
		for 0 <= i && i <= len(data)-8 {
			if m := special(binary.LittleEndian.Uint64(data[i : i+8 : i+8])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(data) && plain[data[i]] {
			i++
		}
		if i >= len(data) {
			return s.fail(i, "unexpected end of input in string"), false
		}
		switch c := data[i]; {
		case c == '"':
			return i, esc
		case c == '\\':
			esc = true
			if i+1 >= len(data) {
				return s.fail(i, "unexpected end of input in string escape"), false
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(data)-i < 6 || hex4(data[i+2:i+6]) < 0 {
					return s.fail(i, `invalid \u escape in string`), false
				}
				i += 6
			default:
				return s.fail(i, "invalid escape in string"), false
			}
		case c < 0x20:
			return s.fail(i, "control character in string"), false
		default:
			if i = s.utf8Run(i); i < 0 {
				return -1, false
			}
		}
	}
}

// utf8Run checks the run of multi-byte characters starting at data[i] and
// returns the offset after it, or -1.
func (s *scanner) utf8Run(i int) int {
	if i = utf8RunEnd(s.data, i); i < 0 {
		return s.fail(-i-1, "invalid UTF-8 in string")
	}
	return i
}

// utf8RunEnd returns the offset after the run of well-formed multi-byte
// characters starting at data[i], or -1-j for the offset j of the first
// byte that is not well-formed.
func utf8RunEnd(data []byte, i int) int {
	for i < len(data) && data[i] >= utf8.RuneSelf {
		// Most are three bytes long (1110xxxx 10xxxxxx 10xxxxxx) with a
		// first byte other than E0 and ED, whose second byte can then be
		// any continuation byte: those are checked two at a time.
		if 0 <= i && i <= len(data)-8 {
			w := binary.LittleEndian.Uint64(data[i : i+8 : i+8])
			if w&0xC0C0F0 == 0x8080E0 && common3(byte(w)) {
				if w&0xC0C0F0_000000 == 0x8080E0_000000 && common3(byte(w>>24)) {
					i += 6
				} else {
					i += 3
				}
				continue
			}
		}
		n := utf8Len(data[i:])
		if n == 0 {
			return -1 - i
		}
		i += n
	}
	return i
}

// validUTF8 reports whether data is well-formed UTF-8, as utf8.Valid does,
// faster on text that is mostly three-byte characters.
func validUTF8(data []byte) bool {
	for i := 0; i < len(data); {
		// Eight bytes at a time over ASCII.
		for 0 <= i && i <= len(data)-8 && binary.LittleEndian.Uint64(data[i:i+8:i+8])&high == 0 {
			i += 8
		}
		for i < len(data) && data[i] < utf8.RuneSelf {
			i++
		}
		if i = utf8RunEnd(data, i); i < 0 {
			return false
		}
	}
	return true
}

// utf8Len returns the length of the well-formed UTF-8 encoding of one
// character at the start of b, whose first byte is not ASCII, or 0.
func utf8Len(b []byte) int {
	c := b[0]
	lo, hi := byte(0x80), byte(0xBF) // the range of the second byte
	switch {
	case c >= 0xC2 && c <= 0xDF:
		if len(b) >= 2 && b[1] >= lo && b[1] <= hi {
			return 2
		}
	case c >= 0xE0 && c <= 0xEF:
		switch c {
		case 0xE0:
			lo = 0xA0 // no overlong encodings
		case 0xED:
			hi = 0x9F // no surrogates
		}
		if len(b) >= 3 && b[1] >= lo && b[1] <= hi && b[2]&0xC0 == 0x80 {
			return 3
		}
	case c >= 0xF0 && c <= 0xF4:
		switch c {
		case 0xF0:
			lo = 0x90 // no overlong encodings
		case 0xF4:
			hi = 0x8F // nothing above U+10FFFF
		}
		if len(b) >= 4 && b[1] >= lo && b[1] <= hi && b[2]&0xC0 == 0x80 && b[3]&0xC0 == 0x80 {
			return 4
		}
	}
	return 0
}

// common3 reports whether c starts a three-byte UTF-8 sequence whose second
// byte may be any continuation byte, given that it is in E0-EF.
func common3(c byte) bool { return c != 0xE0 && c != 0xED }

// hex4 decodes four hex digits, or returns -1.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unescape decodes the contents of a well-formed JSON string with escapes
// into a new string. Lone surrogates become U+FFFD, as in encoding/json.
func unescape(b []byte) string {
	out := make([]byte, 0, len(b)) // decoding never lengthens
	for i := 0; i < len(b); {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch b[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(b[i+2:])
			i += 6
			if r >= 0xD800 && r < 0xE000 {
				r2 := rune(-1)
				if i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' {
					r2 = hex4(b[i+2:])
				}
				if r < 0xDC00 && r2 >= 0xDC00 && r2 < 0xE000 {
					r = (r-0xD800)<<10 | (r2 - 0xDC00) + 0x10000
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\', '/'
			out = append(out, b[i+1])
		}
		i += 2
	}
	return bytesString(out)
}

// bytesString returns a string sharing b's memory; b must not change while
// the string is in use.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
