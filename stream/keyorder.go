package stream

import (
	"encoding/binary"
	"slices"
	"strings"
)

// keyOrder is an index into a commit's users with the 8 bytes of its id
// that follow the ids' common prefix, big-endian (zero-padded when the id
// is shorter), so that comparing two of them as integers orders the ids
// (equal ones are compared whole).
type keyOrder struct {
	key uint64
	i   uint32
}

// userKeyOrder returns the indexes of users in ascending order of their
// ids, in order (reused). A commit writes its records in key order (see
// CommitAsync), and sorting 30,000 pendingUsers by id with strings.Compare
// took 16 ms of each commit's 40 ms at 200,000 events/s; a radix sort of
// the integers is several times faster.
func userKeyOrder(users []pendingUser, order []keyOrder) []keyOrder {
	if len(users) == 0 {
		return order[:0]
	}
	common := users[0].userID
	for i := 1; i < len(users) && len(common) > 0; i++ {
		common = common[:commonPrefix(common, users[i].userID)]
	}
	skip := len(common)
	// The second half is the radix sort's scratch space.
	order = slices.Grow(order[:0], 2*len(users))[:2*len(users)]
	keys, scratch := order[:len(users)], order[len(users):]
	for i := range users {
		keys[i] = keyOrder{key: key8(users[i].userID[skip:]), i: uint32(i)}
	}
	if sorted := radixSort(keys, scratch); &sorted[0] != &keys[0] {
		copy(keys, sorted)
	}
	order = keys
	// Ids whose 8 bytes after the common prefix are the same, or one of
	// which is a prefix of the other padded with zeros: order them whole.
	for i := 0; i < len(order); {
		j := i + 1
		for j < len(order) && order[j].key == order[i].key {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(order[i:j], func(a, b keyOrder) int {
				return strings.Compare(users[a.i].userID, users[b.i].userID)
			})
		}
		i = j
	}
	return order
}

// radixSort sorts a by key, a byte at a time from the lowest (a stable
// pass per byte, skipped when every key has the same byte there), and
// returns the sorted entries: a, or tmp (as long as a) when an odd number
// of passes ran.
func radixSort(a, tmp []keyOrder) []keyOrder {
	for shift := 0; shift < 64; shift += 8 {
		var at [256]int
		for _, x := range a {
			at[byte(x.key>>shift)]++
		}
		if at[byte(a[0].key>>shift)] == len(a) {
			continue
		}
		sum := 0
		for d, n := range at {
			at[d] = sum
			sum += n
		}
		for _, x := range a {
			d := byte(x.key >> shift)
			tmp[at[d]] = x
			at[d]++
		}
		a, tmp = tmp, a
	}
	return a
}

// commonPrefix is the length of the longest common prefix of a and b.
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// key8 is the first 8 bytes of s, big-endian, zero-padded.
func key8(s string) uint64 {
	if len(s) >= 8 {
		return binary.BigEndian.Uint64([]byte(s[:8]))
	}
	var b [8]byte
	copy(b[:], s)
	return binary.BigEndian.Uint64(b[:])
}
