package stream

import (
	"hash/maphash"
	"unsafe"
)

// userCache holds a partition's cached user records: an open-addressing hash
// table of (hash, record) slots with linear probing, at most half full.
//
// It replaces a map[string]*cachedUser for one reason: a lookup's cache
// misses can be started early. With hundreds of thousands of users the
// table and the records are far larger than the CPU caches, so a lookup
// costs a miss on the table, one on the key's bytes and one on each line of
// the record it then reads; Go's map gives no way to issue those loads
// ahead. Here the slot of a user is known from the hash alone, so the
// worker prefetches the slot of the event after next and the record of the
// next event (see PartitionState.Prefetch) while it processes this one.
// A slot keeps the full 64-bit hash, so a lookup compares the user id
// (the record's own memory) only on a hash match.
//
// The records themselves are allocated in slabs of slabUsers (alloc) and
// reused once evicted, for the garbage collector: every cycle marks each
// live heap object, and hundreds of thousands of separate 700-byte records
// made the cache nearly all of a processor's marking (a collection with 1M
// users loaded took 135-230 ms on 2 cores; see the memory benchmark's GC
// row). A slab is one object to find and mark, and its pointers (the
// records' strings) are scanned in one sweep.
type userCache struct {
	slots []userSlot // len is a power of two
	mask  uint64
	n     int
	seed  maphash.Seed
	hand  uint64 // where the next eviction sweep starts

	slab []cachedUser  // the newest slab's records not handed out yet
	free []*cachedUser // evicted records, zeroed, handed out first
}

// slabUsers is the number of records per slab (about 180 KB).
const slabUsers = 256

// alloc returns a zeroed record for put. Records are reused: one removed
// from the cache must no longer be referenced.
func (c *userCache) alloc() *cachedUser {
	if n := len(c.free); n > 0 {
		cu := c.free[n-1]
		c.free[n-1] = nil
		c.free = c.free[:n-1]
		return cu
	}
	if len(c.slab) == 0 {
		c.slab = make([]cachedUser, slabUsers)
	}
	cu := &c.slab[0]
	c.slab = c.slab[1:]
	return cu
}

// release zeroes cu (dropping its strings) for alloc to hand out again.
func (c *userCache) release(cu *cachedUser) {
	*cu = cachedUser{}
	c.free = append(c.free, cu)
}

type userSlot struct {
	hash uint64 // 0: empty
	cu   *cachedUser
}

// minCacheSlots is the table's initial size.
const minCacheSlots = 1024

func newUserCache() userCache {
	return userCache{
		slots: make([]userSlot, minCacheSlots),
		mask:  minCacheSlots - 1,
		seed:  maphash.MakeSeed(),
	}
}

// hash returns the table hash of a user id; never 0, which marks an empty
// slot.
func (c *userCache) hash(id string) uint64 {
	if h := maphash.String(c.seed, id); h != 0 {
		return h
	}
	return 1
}

// len returns the number of cached records.
func (c *userCache) len() int { return c.n }

// get returns the record of id, whose hash is h, or nil.
func (c *userCache) get(id string, h uint64) *cachedUser {
	for i := h & c.mask; ; i = (i + 1) & c.mask {
		s := &c.slots[i]
		if s.hash == h && s.cu.rec.UserID == id {
			return s.cu
		}
		if s.hash == 0 {
			return nil
		}
	}
}

// put adds cu, whose user id hashes to h and is not in the cache.
func (c *userCache) put(cu *cachedUser, h uint64) {
	if 2*(c.n+1) > len(c.slots) {
		c.grow()
	}
	c.insert(userSlot{hash: h, cu: cu})
	c.n++
}

func (c *userCache) insert(s userSlot) {
	i := s.hash & c.mask
	for c.slots[i].hash != 0 {
		i = (i + 1) & c.mask
	}
	c.slots[i] = s
}

func (c *userCache) grow() {
	old := c.slots
	c.slots = make([]userSlot, 2*len(old))
	c.mask = uint64(len(c.slots) - 1)
	for _, s := range old {
		if s.hash != 0 {
			c.insert(s)
		}
	}
}

// remove empties slot i, releases its record, and moves back the entries
// after it that would no longer be found past the gap (deletion without
// tombstones, Knuth's algorithm R).
func (c *userCache) remove(i uint64) {
	c.n--
	c.release(c.slots[i].cu)
	for {
		c.slots[i] = userSlot{}
		j := i
		for {
			j = (j + 1) & c.mask
			s := c.slots[j]
			if s.hash == 0 {
				return
			}
			// s stays if its home slot k lies cyclically in (i, j].
			k := s.hash & c.mask
			if (i < j && i < k && k <= j) || (i > j && (k > i || k <= j)) {
				continue
			}
			c.slots[i] = s
			i = j
			break
		}
	}
}

// evict drops clean records until at most target remain, sweeping the
// table from where the previous sweep stopped (the CLOCK algorithm): a
// record used since the sweep last passed it (ref, set by a lookup that
// found it) is given another turn with ref cleared, any other clean one is
// dropped. So users who come back stay and those seen once go first: with
// traffic from 2M users into a 400,000-record cache, evicting at random
// (as it did) reloaded 311,000 records from the store over 3M events. It
// looks at most at maxSteps slots (0: gives up after three passes, all
// remaining records dirty).
func (c *userCache) evict(target, maxSteps int) {
	if maxSteps <= 0 {
		maxSteps = 3 * len(c.slots)
	}
	for steps := maxSteps; c.n > target && steps > 0; steps-- {
		i := c.hand & c.mask
		if s := c.slots[i]; s.hash != 0 && !s.cu.dirty {
			if !s.cu.ref {
				// The entry moved into slot i, if any, is looked at next.
				c.remove(i)
				continue
			}
			s.cu.ref = false
		}
		c.hand = i + 1
	}
}

// prefetchSlot starts loading the slot where a lookup of hash h starts.
func (c *userCache) prefetchSlot(h uint64) {
	prefetchLines(unsafe.Pointer(&c.slots[h&c.mask]), unsafe.Sizeof(userSlot{}))
}

// prefetchUser starts loading the record a lookup of hash h is likely to
// return: the first slot with that hash (before its user id is compared;
// a 64-bit match is all but certain). The slots were prefetched earlier.
func (c *userCache) prefetchUser(h uint64) {
	for i := h & c.mask; ; i = (i + 1) & c.mask {
		s := &c.slots[i]
		if s.hash == h {
			prefetchLines(unsafe.Pointer(s.cu), unsafe.Sizeof(cachedUser{}))
			return
		}
		if s.hash == 0 {
			return
		}
	}
}
