package stream

import (
	"math/bits"
	"unsafe"
)

// storedUsers is a filter of the users a partition's store holds, so that
// a cache miss on a user the store has never seen creates the record
// without a Pebble read. Such reads are most of a large population's: with
// traffic from 2M users, 1.0M of 1.3M point reads found nothing, each
// costing a walk through the memtables and every level's bloom filter
// (12.5 µs of wall time on 2 busy cores, against 17.7 µs for one that finds
// a record).
//
// It is a blocked Bloom filter of the users' cache hashes: it may say a
// user is stored who is not (0.5-2% of the users it has not seen when its
// layers are full, far fewer before: 16 of 96,883 in the benchmark; then
// the read happens and finds nothing, as without a filter), never the
// reverse, which would overwrite a stored record with a new one. That
// holds because every user gets in before the filter is used: the ones
// stored when the partition state opened through a scan of the store's
// keys (in chunks, see PartitionState.ScanStoredUsers; the filter is not
// used until it has finished) or through the rebuild of the bitmaps from
// the records, and every user created since when it is created
// (PartitionState.user), long before the commit that stores it. Nothing
// deletes a user record while a partition is processed.
//
// Its size follows the users: layers are added as users are, each twice
// the size of all before it, about 3 bytes per user in all.
type storedUsers struct {
	layers []bloomLayer
	// after is the last user id the scan of the store added (nil: none
	// yet); ready is set once the scan has reached the end.
	after []byte
	ready bool
	// users counts the users added (the scan's and the created ones).
	users int
}

// A bloomLayer sets bloomProbes bits of one 64-byte block per user: a
// lookup costs one cache line per layer.
type bloomLayer struct {
	blocks   []bloomBlock
	n, limit int // users added; users it is sized for
}

type bloomBlock [8]uint64

const (
	// bloomBitsPerUser and bloomProbes give a layer filled to its limit
	// about 0.5% false positives (blocked filters lose a little to plain
	// ones of the same size; see TestStoredUsersFilter).
	bloomBitsPerUser = 12
	bloomProbes      = 7
	// minBloomUsers is the smallest layer's size (about 100 KB).
	minBloomUsers = 1 << 16
)

func newBloomLayer(users int) bloomLayer {
	users = max(users, minBloomUsers)
	return bloomLayer{
		blocks: make([]bloomBlock, (users*bloomBitsPerUser+511)/512),
		limit:  users,
	}
}

// block returns the block of hash h: its top 32 bits scaled to the layer
// (the low 32 choose the bits within it).
func (l *bloomLayer) block(h uint64) *bloomBlock {
	hi, _ := bits.Mul64(h>>32<<32, uint64(len(l.blocks)))
	return &l.blocks[hi]
}

func (l *bloomLayer) add(h uint64) {
	b := l.block(h)
	x := uint32(h)
	for range bloomProbes {
		x *= 0x9e3779b9 // the golden ratio: each probe's 9 top bits
		bit := x >> 23
		b[bit>>6] |= 1 << (bit & 63)
	}
	l.n++
}

func (l *bloomLayer) has(h uint64) bool {
	b := l.block(h)
	x := uint32(h)
	for range bloomProbes {
		x *= 0x9e3779b9
		bit := x >> 23
		if b[bit>>6]&(1<<(bit&63)) == 0 {
			return false
		}
	}
	return true
}

// newStoredUsers returns an empty filter sized for users (the partition's
// users so far, as its dense-id sequence counts them) and twice as many.
func newStoredUsers(users int) storedUsers {
	return storedUsers{layers: []bloomLayer{newBloomLayer(2 * users)}}
}

// add records that the user of cache hash h is stored, or will be.
func (s *storedUsers) add(h uint64) {
	l := &s.layers[len(s.layers)-1]
	if l.n >= l.limit {
		total := 0
		for i := range s.layers {
			total += s.layers[i].limit
		}
		s.layers = append(s.layers, newBloomLayer(2*total))
		l = &s.layers[len(s.layers)-1]
	}
	l.add(h)
	s.users++
}

// mayHold is false only if the user of cache hash h was never added.
func (s *storedUsers) mayHold(h uint64) bool {
	for i := len(s.layers) - 1; i >= 0; i-- {
		if s.layers[i].has(h) {
			return true
		}
	}
	return false
}

// bytes is the filter's size.
func (s *storedUsers) bytes() int {
	n := 0
	for i := range s.layers {
		n += len(s.layers[i].blocks) * int(unsafe.Sizeof(bloomBlock{}))
	}
	return n
}

// storedScanFirst is how many stored users NewPartitionState adds to the
// filter itself: a new or small partition's scan is done at once, a large
// one's goes on in chunks (ScanStoredUsers) while the partition is
// processed. A variable for the tests.
var storedScanFirst = 4096

// ScanStoredUsers adds up to n more of the users stored before the
// partition state opened to the filter of stored users (all if n ≤ 0),
// and reports whether all are in. Until they are, every cache miss reads
// the store; from then on only those of users the filter may hold.
func (ps *PartitionState) ScanStoredUsers(n int) (done bool, err error) {
	s := &ps.stored
	if s.ready {
		return true, nil
	}
	last, done, err := ps.store.UserIDsAfter(s.after, n, func(id []byte) {
		s.add(ps.cache.hash(unsafe.String(unsafe.SliceData(id), len(id))))
	})
	if err != nil {
		return false, err
	}
	s.after, s.ready = last, done
	return done, nil
}

// StoredUsersFilter reports the filter of stored users: whether the scan
// of the store has finished (the filter is in use), how many users it
// holds and its size in bytes.
func (ps *PartitionState) StoredUsersFilter() (ready bool, users, bytes int) {
	return ps.stored.ready, ps.stored.users, ps.stored.bytes()
}
