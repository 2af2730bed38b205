package segment

import "math/bits"

// The quote index. Most strings in an event are short (keys, ids, versions),
// and scanning each for its closing quote a few bytes at a time costs a
// mispredicted loop exit per string. For a document of at most
// maxIndexedBytes with no backslash, no control character inside a string
// and valid UTF-8, every '"' delimits a string and nothing else in a string
// needs checking, so quoteMasks marks all the quotes in one pass (64 bytes a
// step, AVX2) and str finds a closing quote with one shift and a count of
// trailing zeros. Any other document is scanned as before, and the index
// never changes a result: the same grammar code runs either way, and what
// the index rules out (escapes, control characters, invalid UTF-8) is what
// the scan without it would check, or refuse with the same error.

// maxIndexedBytes bounds the documents that get an index (64 bits of it per
// 64 bytes, on the stack); longer ones are scanned without. Shorter than
// 64 words' worth, so that any offset in an indexed document, its length
// included, has its word in the index.
const maxIndexedBytes = indexWords*64 - 1

// indexWords is the size of the index, a power of two (str masks offsets
// with it).
const indexWords = 64

// The flags quoteMasks returns.
const (
	sawBackslash    = 1 << iota // a '\\' anywhere
	sawHighByte                 // a byte from 0x80 up anywhere
	sawCtlInsideStr             // a control character inside a string, counted without escapes
)

// spaces pads the last, partial block: a space is not a quote, a backslash,
// a high byte or a control character.
var spaces = [64]byte{
	' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ',
	' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ',
	' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ',
	' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ',
}

// indexQuotes builds the quote index of s.data if the document qualifies
// (see above) and is at most maxIndexedBytes long.
func (s *scanner) indexQuotes() {
	data := s.data
	n := (len(data) + 63) / 64
	if n == 0 || len(data) > maxIndexedBytes {
		return
	}
	full := len(data) / 64
	var flags, carry uint64
	if full > 0 {
		flags, carry = quoteMasks(&data[0], full, &s.q[0], 0)
	}
	if full < n {
		tail := spaces
		copy(tail[:], data[full*64:])
		f, _ := quoteMasks(&tail[0], 1, &s.q[full], carry)
		flags |= f
	}
	// A string of valid UTF-8 between ASCII quotes, and everything outside
	// strings ASCII (the grammar refuses anything else): the document is
	// valid UTF-8 exactly when every string is.
	if flags&(sawBackslash|sawCtlInsideStr) != 0 || flags&sawHighByte != 0 && !validUTF8(data) {
		clear(s.q[:n]) // no index: str relies on q being all zeros
		return
	}
	s.nq = n
}

// closingQuote returns the offset of the first quote at or after data[i]
// from the index, or fails as strSlow would at the end of the input.
func (s *scanner) closingQuote(i int) int {
	q := s.q[:s.nq]
	b := i >> 6
	if b < len(q) {
		if w := q[b] >> (uint(i) & 63); w != 0 {
			return i + bits.TrailingZeros64(w)
		}
	}
	for b++; b < len(q); b++ {
		if w := q[b]; w != 0 {
			return b<<6 + bits.TrailingZeros64(w)
		}
	}
	return s.fail(len(s.data), "unexpected end of input in string")
}
