package stream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/rekindle/rekindle/state"
)

// The cache table against a map, with hashes chosen to collide and to
// cluster across the end of the table, where removal must move entries
// back around the wrap.
func TestUserCacheAgainstMap(t *testing.T) {
	for _, hashes := range []struct {
		name string
		of   func(i int) uint64
	}{
		{"distinct", func(i int) uint64 { return uint64(i)*0x9E3779B97F4A7C15 | 1 }},
		{"colliding", func(i int) uint64 { return uint64(i%5) + 1 }},                            // five chains of equal hashes
		{"clustered at the end", func(i int) uint64 { return uint64(minCacheSlots - 3 + i%4) }}, // wraps round
	} {
		t.Run(hashes.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(len(hashes.name))))
			c := newUserCache()
			want := map[string]*cachedUser{}
			hashOf := map[string]uint64{}
			dirty := map[string]bool{} // a removed record is zeroed: its own flag is gone
			check := func(step string) {
				t.Helper()
				if c.len() != len(want) {
					t.Fatalf("%s: len %d, want %d", step, c.len(), len(want))
				}
				for id, cu := range want {
					if got := c.get(id, hashOf[id]); got != cu {
						t.Fatalf("%s: get(%q) = %p, want %p", step, id, got, cu)
					}
				}
				for i := range 20 {
					id := fmt.Sprintf("absent-%d", i)
					if got := c.get(id, hashes.of(i)); got != nil {
						t.Fatalf("%s: get(%q) found %q", step, id, got.rec.UserID)
					}
				}
			}
			next := 0
			for step := range 4000 {
				switch op := r.IntN(10); {
				case step%500 == 499: // evict down to three quarters (below)
				case op < 7: // add a user
					id := fmt.Sprintf("u%d", next)
					cu := c.alloc()
					cu.rec.UserID = id
					cu.dirty = r.IntN(3) == 0
					dirty[id] = cu.dirty
					h := hashes.of(next)
					next++
					c.put(cu, h)
					want[id], hashOf[id] = cu, h
				default: // remove a user, by its slot
					for id := range want {
						i := c.slotOf(id, hashOf[id])
						c.remove(i)
						delete(want, id)
						break
					}
				}
				if step%500 == 499 {
					target := len(want) * 3 / 4
					c.evict(target, 0)
					clean := 0
					for id, cu := range want {
						if c.get(id, hashOf[id]) == nil {
							if dirty[id] {
								t.Fatalf("step %d: evicted dirty %q", step, id)
							}
							delete(want, id)
						} else if !cu.dirty {
							clean++
						}
					}
					if len(want) > target && clean > 0 {
						t.Fatalf("step %d: %d left, target %d, yet %d clean ones kept", step, len(want), target, clean)
					}
				}
				if step%25 == 0 {
					check(fmt.Sprintf("step %d", step))
				}
			}
			check("end")
			if len(c.slots) <= minCacheSlots {
				t.Fatalf("%d users never grew the table", c.len())
			}
			if len(c.slots) < 2*c.len() {
				t.Fatalf("%d slots for %d users: more than half full", len(c.slots), c.len())
			}
		})
	}
}

// slotOf returns the slot holding id (a test helper).
func (c *userCache) slotOf(id string, h uint64) uint64 {
	for i := h & c.mask; ; i = (i + 1) & c.mask {
		if s := c.slots[i]; s.hash == h && s.cu.rec.UserID == id {
			return i
		}
	}
}

// A cached user's id lives in the record itself when it is short, and is
// copied either way: it must not alias the input it came from.
func TestCachedUserIDIsACopy(t *testing.T) {
	p := mustProcessor(t, "")
	ps := openTestPartition(t, p, openTestStore(t), 0)
	for _, id := range []string{"u1", strings.Repeat("x", inlineID), strings.Repeat("y", inlineID+1)} {
		buf := []byte(id)
		cu, err := ps.user(bytesString(buf))
		if err != nil {
			t.Fatal(err)
		}
		buf[0] = '!'
		if cu.rec.UserID != id {
			t.Fatalf("user id %q changed with its input to %q", id, cu.rec.UserID)
		}
		if again, _ := ps.user(id); again != cu {
			t.Fatalf("second lookup of %q returned another record", id)
		}
		inline := unsafe.StringData(cu.rec.UserID) == &cu.id[0]
		if inline != (len(id) <= inlineID) {
			t.Fatalf("user id of %d bytes: inline %v", len(id), inline)
		}
	}
}

// Prefetch is a hint: with it, without it, with keys that are not the
// users' ids or no keys at all, processing produces the same bytes. The
// cache is small, so records are evicted and read back from the store.
func TestPrefetchChangesNothing(t *testing.T) {
	var ins []Input
	for i, line := range strings.Split(strings.TrimSpace(replayFixture(t)), "\n") {
		var ids struct{ UserID, AnonymousID string }
		json.Unmarshal([]byte(line), &ids) // a malformed line keeps no key
		key := ids.UserID
		if key == "" {
			key = ids.AnonymousID
		}
		switch {
		case i%7 == 3:
			key = "someone-else"
		case i%5 == 4:
			key = ""
		}
		ins = append(ins, Input{Topic: "events", Offset: int64(i), Key: []byte(key), Value: []byte(line)})
	}
	run := func(prefetch bool) (out []byte, c Counters) {
		p := mustProcessor(t, "state:\n  cache_users: 8\n")
		ps := openTestPartition(t, p, openTestStore(t), 0)
		for start := 0; start < len(ins); start += 16 {
			batch := ins[start:min(start+16, len(ins))]
			for i := range batch {
				if prefetch {
					ps.Prefetch(batch, i)
				}
				if err := ps.Process(&batch[i]); err != nil {
					t.Fatal(err)
				}
			}
			for _, o := range ps.Outputs() {
				out = fmt.Appendf(out, "%s %s %s %v\n", o.Topic, o.Key, o.Value, o.Headers)
			}
			c.Add(ps.Counters())
			if err := ps.Commit(batch[len(batch)-1].Offset+1, false, false); err != nil {
				t.Fatal(err)
			}
		}
		return out, c
	}
	with, cw := run(true)
	without, cwo := run(false)
	if cw.Events == 0 || cw.Events < int64(len(ins))/2 {
		t.Fatalf("%d of %d inputs applied: the fixture should be mostly good events", cw.Events, len(ins))
	}
	if cw != cwo {
		t.Fatalf("counters with prefetch %+v, without %+v", cw, cwo)
	}
	if !bytes.Equal(with, without) {
		t.Fatal("outputs with prefetch differ from outputs without")
	}
}

// prefetchLines never faults, whatever the address or length.
func TestPrefetchLinesNeverFaults(t *testing.T) {
	b := make([]byte, 300)
	prefetchLines(nil, 0)
	prefetchLines(nil, 1<<20)
	prefetchLines(unsafe.Pointer(&b[3]), 0)
	prefetchLines(unsafe.Pointer(&b[61]), 200)
}

// Records come from slabs, a few hundred per allocation, and a removed
// record is zeroed (its strings dropped) and handed out again before the
// slab grows.
func TestUserCacheSlabs(t *testing.T) {
	var c userCache
	ids := make([]string, 4*slabUsers)
	for i := range ids {
		ids[i] = fmt.Sprint("u", i)
	}
	var first *cachedUser
	allocs := testing.AllocsPerRun(1, func() {
		c = newUserCache()
		for i, id := range ids {
			cu := c.alloc()
			if i == 0 {
				first = cu
			}
			cu.rec.UserID = id
			c.put(cu, uint64(i)*0x9E3779B97F4A7C15|1)
		}
	})
	// Four slabs, the table and its growth from 1,024 to 2,048 slots.
	if allocs > 4+2 {
		t.Fatalf("%v allocations for %d records", allocs, 4*slabUsers)
	}
	seen := map[*cachedUser]bool{}
	for _, s := range c.slots {
		if s.hash != 0 {
			if seen[s.cu] {
				t.Fatalf("record %p handed out twice", s.cu)
			}
			seen[s.cu] = true
		}
	}
	first.rec.Email, first.dirty = "a@example.com", false
	c.remove(c.slotOf("u0", 1))
	if first.rec.UserID != "" || first.rec.Email != "" || first.dirty {
		t.Fatalf("removed record not zeroed: %+v", first.rec)
	}
	if got := c.alloc(); got != first {
		t.Fatalf("alloc after a removal returned %p, want the removed %p", got, first)
	}
	if got := c.alloc(); seen[got] {
		t.Fatalf("alloc returned %p, still in the cache", got)
	}
}

// A cached record's strings are copies of the input, held in the record
// itself while they fit together; changing one, to a longer or shorter
// value, keeps the others; one that does not fit goes to the heap and the
// rest stay correct.
func TestCachedUserStrings(t *testing.T) {
	cu := &cachedUser{}
	r := &cu.rec
	inStrs := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		lo := uintptr(unsafe.Pointer(&cu.strs[0]))
		return p >= lo && p < lo+uintptr(len(cu.strs))
	}
	set := func(dst *string, v string) {
		t.Helper()
		buf := []byte(v)
		cu.setString(dst, bytesString(buf))
		for i := range buf {
			buf[i] = '!' // the input buffer is reused
		}
	}
	want := func(anon, email, phone, tz, country string) {
		t.Helper()
		got := [...]string{r.AnonymousID, r.Email, r.Phone, r.Timezone, r.Country}
		if got != [...]string{anon, email, phone, tz, country} {
			t.Fatalf("strings %q, want %q", got, []string{anon, email, phone, tz, country})
		}
	}
	anon := "2e72d927-2da8-42a4-807c-9440f6d6d351"
	set(&r.AnonymousID, anon)
	set(&r.Email, "sophia.brown38@example.net")
	set(&r.Phone, "+13124712825")
	set(&r.Timezone, "America/Chicago")
	set(&r.Country, "US")
	want(anon, "sophia.brown38@example.net", "+13124712825", "America/Chicago", "US")
	for _, s := range []string{r.AnonymousID, r.Email, r.Phone, r.Timezone, r.Country} {
		if !inStrs(s) {
			t.Fatalf("%q not held in the record", s)
		}
	}
	set(&r.Email, "s@x.io") // shorter: the ones after it move
	want(anon, "s@x.io", "+13124712825", "America/Chicago", "US")
	set(&r.Email, "a.much.longer.address.than.before@example.com")
	want(anon, "a.much.longer.address.than.before@example.com", "+13124712825", "America/Chicago", "US")
	set(&r.Timezone, "America/Chicago") // unchanged
	set(&r.Phone, "")                   // empty: kept
	want(anon, "a.much.longer.address.than.before@example.com", "+13124712825", "America/Chicago", "US")

	long := strings.Repeat("z", inlineStrs) + "@example.com"
	set(&r.Email, long)
	want(anon, long, "+13124712825", "America/Chicago", "US")
	if inStrs(r.Email) {
		t.Fatal("an email longer than the room is held in the record")
	}
	set(&r.Email, "back@example.com") // fits again: all back in the record
	want(anon, "back@example.com", "+13124712825", "America/Chicago", "US")
	if !inStrs(r.Email) || !inStrs(r.AnonymousID) {
		t.Fatal("strings not back in the record")
	}
}

// Eviction gives records looked up since the sweep last passed them
// another turn: the users who come back stay, those seen once go first.
func TestEvictionKeepsTheUsersWhoComeBack(t *testing.T) {
	p := mustProcessor(t, "state:\n  cache_users: 1000\n  commit_interval: 1h\n")
	ps := openTestPartition(t, p, openTestStore(t), 0)
	c := &ps.cache
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%04d", i)
		if _, err := ps.user(ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	back := func(i int) bool { return i%3 == 0 }
	for i, id := range ids {
		if back(i) {
			if _, err := ps.user(id); err != nil { // found in the cache
				t.Fatal(err)
			}
		}
	}
	c.evict(334, 0)
	// Nearly exact: a removal shifts the entries of its cluster back by a
	// slot, and one whose mark the sweep cleared at the start of its lap
	// can be shifted back in front of the hand at the lap's end and taken
	// then, in place of one not met yet (3 runs in 200 failed an exact
	// check; the slots' order follows the hash seed, random per run).
	stayed := 0
	for i, id := range ids {
		if cached := c.get(id, c.hash(id)) != nil; cached && !back(i) {
			stayed++
		}
	}
	if stayed > 3 {
		t.Fatalf("after evicting down to 334, %d of the 666 users who did not come back are still cached, want at most 3", stayed)
	}
	// Nobody came back since: the next sweep takes whoever it meets.
	c.evict(100, 0)
	if c.len() != 100 {
		t.Fatalf("%d cached after evicting down to 100", c.len())
	}
}

// Users come and go through a full cache while a commit is being applied:
// no record that commit writes is evicted and reused before it lands (its
// keys are the records' own id bytes), and every user is stored under its
// own id with its own events.
func TestNoRecordOfACommitInFlightIsReused(t *testing.T) {
	hold := make(chan struct{})
	holdCommits = hold
	defer func() { holdCommits = nil }()
	p := mustProcessor(t, "state:\n  cache_users: 8\n  commit_interval: 1h\n")
	store := openTestStore(t)
	ps := openTestPartition(t, p, store, 0)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	events := map[string]uint64{}
	var offset int64
	for round := range 20 {
		for range 8 {
			user := fmt.Sprintf("user-%02d-%03d", round%3, offset) // ids of the same length
			ts := start.Add(time.Duration(offset) * time.Second).Format(time.RFC3339)
			in := Input{Topic: "events", Offset: offset, Key: []byte(user), Value: []byte(ev(user, fmt.Sprint("m", offset), ts, "Product Viewed", ""))}
			if err := ps.Process(&in); err != nil {
				t.Fatal(err)
			}
			events[user]++
			offset++
		}
		// The commit's goroutine waits while the next round's users come.
		if err := ps.CommitAsync(offset, false, false); err != nil {
			t.Fatal(err)
		}
		go func() { time.Sleep(time.Millisecond); hold <- struct{}{} }()
	}
	if err := ps.WaitCommit(); err != nil {
		t.Fatal(err)
	}
	var rec state.UserRecord
	for user, n := range events {
		found, err := store.Partition(0).GetUser(user, &rec)
		if err != nil || !found || rec.Events != n {
			t.Fatalf("user %s: found %v, %d events, err %v; want %d events", user, found, rec.Events, err, n)
		}
	}
}
