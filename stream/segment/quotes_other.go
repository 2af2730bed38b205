//go:build !amd64

package segment

// canIndexQuotes is false: only amd64 has an assembly quoteMasks, and the
// scanner without an index is faster than quoteMasksGo with one.
const canIndexQuotes = false

func quoteMasks(data *byte, blocks int, q *uint64, carry uint64) (flags, carryOut uint64) {
	panic("segment: quoteMasks without assembly")
}
