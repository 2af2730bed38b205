package bitmap

import (
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// A Change is one user entering or leaving one segment.
type Change struct {
	ID      uint32 // dense user id
	Segment int    // catalog id
	Entered bool   // true: the user entered the segment; false: left it
}

// A Registry holds one partition's segment bitmaps, one per catalog id, and
// the bitmap of all the partition's users, which is the universe of "not".
// Every segment is a subset of all: entering a segment adds the user to it.
//
// A Registry is safe for one writer (the partition's worker) and any number
// of concurrent readers. Writers hold the lock for a whole batch, readers
// for one query; ForEachMember holds it only to copy the bitmap.
type Registry struct {
	catalog *Catalog

	mu struct {
		sync.RWMutex
		all  *roaring.Bitmap
		segs []*roaring.Bitmap // by catalog id
		// missing and dropped: segment names the last UnmarshalBinary found
		// no bitmap for, and the snapshot's names the catalog lacks.
		missing, dropped []string
	}
}

// NewRegistry returns an empty registry for the segments of c.
func NewRegistry(c *Catalog) *Registry {
	r := &Registry{catalog: c}
	r.mu.all = roaring.New()
	r.mu.segs = make([]*roaring.Bitmap, c.Len())
	for i := range r.mu.segs {
		r.mu.segs[i] = roaring.New()
	}
	return r
}

// Catalog returns the catalog the registry was made for.
func (r *Registry) Catalog() *Catalog { return r.catalog }

// Apply applies changes in order under one lock: a user entering a segment
// is added to it and to all, a user leaving is removed from it (and stays in
// all). Every Segment must be a catalog id; Apply panics otherwise. Apply
// does not allocate in steady state: adding or removing ids in containers
// that exist (and have room, as after an earlier removal) allocates nothing.
func (r *Registry) Apply(changes []Change) {
	if len(changes) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	all, segs := r.mu.all, r.mu.segs
	for _, c := range changes {
		if c.Entered {
			all.Add(c.ID)
			segs[c.Segment].Add(c.ID)
		} else {
			segs[c.Segment].Remove(c.ID)
		}
	}
}

// AddUser adds id to all: the user belongs to the partition.
func (r *Registry) AddUser(id uint32) {
	r.mu.Lock()
	r.mu.all.Add(id)
	r.mu.Unlock()
}

// Set makes id a member of segment or not; a member is also added to all.
// It is for rebuilding segments from user records; the event path uses Apply.
// Set panics if segment is not a catalog id.
func (r *Registry) Set(segment int, id uint32, member bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if member {
		r.mu.all.Add(id)
		r.mu.segs[segment].Add(id)
	} else {
		r.mu.segs[segment].Remove(id)
	}
}

// Contains reports whether id is a member of segment. It is false for a
// segment that is not a catalog id.
func (r *Registry) Contains(segment int, id uint32) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if segment < 0 || segment >= len(r.mu.segs) {
		return false
	}
	return r.mu.segs[segment].Contains(id)
}

// Cardinality returns the number of members of segment (0 for a segment
// that is not a catalog id).
func (r *Registry) Cardinality(segment int) uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if segment < 0 || segment >= len(r.mu.segs) {
		return 0
	}
	return r.mu.segs[segment].GetCardinality()
}

// UserCount returns the number of users in all.
func (r *Registry) UserCount() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.mu.all.GetCardinality()
}

// Sizes returns the number of members of every segment, by catalog id.
func (r *Registry) Sizes() []uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	sizes := make([]uint64, len(r.mu.segs))
	for i, b := range r.mu.segs {
		sizes[i] = b.GetCardinality()
	}
	return sizes
}

// SizeInBytes estimates the memory the bitmaps use (roaring's
// GetSizeInBytes, summed over all and the segments).
func (r *Registry) SizeInBytes() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := r.mu.all.GetSizeInBytes()
	for _, b := range r.mu.segs {
		n += b.GetSizeInBytes()
	}
	return n
}

// exportChunk is how many ids ForEachMember hands to fn per iterator call.
const exportChunk = 1024

// ForEachMember calls fn for every member of segment in increasing id order
// until fn returns false. It iterates over a copy of the bitmap taken under
// the read lock, so the export sees the segment as it was when it started
// and writers wait only for the copy: at most 2 MiB for one partition's ids
// (2^24 of them, one bit each), typically much less. fn may call the
// registry's methods, writers included. A segment that is not a catalog id
// has no members.
func (r *Registry) ForEachMember(segment int, fn func(id uint32) bool) {
	r.mu.RLock()
	if segment < 0 || segment >= len(r.mu.segs) {
		r.mu.RUnlock()
		return
	}
	snap := r.mu.segs[segment].Clone()
	r.mu.RUnlock()

	var buf [exportChunk]uint32
	it := snap.ManyIterator()
	for {
		n := it.NextMany(buf[:])
		if n == 0 {
			return
		}
		for _, id := range buf[:n] {
			if !fn(id) {
				return
			}
		}
	}
}

// Reset empties all and every segment, and forgets what the last
// UnmarshalBinary reported missing or dropped.
func (r *Registry) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.all.Clear()
	for _, b := range r.mu.segs {
		b.Clear()
	}
	r.mu.missing, r.mu.dropped = nil, nil
}

// Missing returns the names of the catalog's segments that the last
// successful UnmarshalBinary found no bitmap for. They are empty: the caller
// rebuilds them from the user records (with Set).
func (r *Registry) Missing() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]string(nil), r.mu.missing...)
}

// Dropped returns the names of the segments in the last successfully
// unmarshalled snapshot that the catalog does not have; their bitmaps were
// discarded.
func (r *Registry) Dropped() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]string(nil), r.mu.dropped...)
}
