package stream

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rekindle/rekindle/state"
)

// The filter of stored users holds every user added to it, and rules out
// nearly all of the others, whether sized at open or grown layer by layer.
func TestStoredUsersFilter(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name         string
		sized, users int
		maxFalse     float64 // share of users never added that it may hold
	}{
		{"grown from empty", 0, 300_000, 0.02},
		{"sized at open", 150_000, 150_000, 0.005},
		{"sized at open, then grown", 100_000, 400_000, 0.02},
	} {
		s := newStoredUsers(c.sized)
		added := make([]uint64, c.users)
		for i := range added {
			added[i] = r.Uint64() | 1 // cache hashes are never 0
			s.add(added[i])
		}
		for i, h := range added {
			if !s.mayHold(h) {
				t.Fatalf("%s: user %d of %d added is not held (%d layers)", c.name, i, c.users, len(s.layers))
			}
		}
		const others = 200_000
		held := 0
		for range others {
			if s.mayHold(r.Uint64() | 1) {
				held++
			}
		}
		if rate := float64(held) / others; rate > c.maxFalse {
			t.Errorf("%s: holds %.2f%% of users never added, want at most %.1f%%", c.name, 100*rate, 100*c.maxFalse)
		}
		if s.users != c.users {
			t.Errorf("%s: counts %d users, want %d", c.name, s.users, c.users)
		}
		if per := float64(s.bytes()) / float64(c.users); per > 4 {
			t.Errorf("%s: %.1f bytes per user (%d layers), want at most 4", c.name, per, len(s.layers))
		}
	}
}

// A partition state opened on a store holding users, whose scan of them
// goes on in chunks while events are processed, never takes a stored user
// for a new one (which would replace the record): before the scan ends
// every cache miss reads the store, after it the filter rules out only
// users never stored. A 16-record cache makes nearly every event a miss.
func TestNoStoredUserIsTakenForANewOne(t *testing.T) {
	defer func(n int) { storedScanFirst = n }(storedScanFirst)
	storedScanFirst = 10
	p := mustProcessor(t, "state:\n  commit_interval: 1h\n  cache_users: 16\n")
	store := openTestStore(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var offset int64
	purchases := map[string]uint32{}
	process := func(ps *PartitionState, user string) {
		t.Helper()
		purchases[user]++
		ts := start.Add(time.Duration(offset) * time.Second).Format(time.RFC3339)
		in := Input{Topic: "events", Offset: offset, Key: []byte(user),
			Value: []byte(ev(user, fmt.Sprint("m", offset), ts, "Order Completed", `{"revenue":1}`))}
		if err := ps.Process(&in); err != nil {
			t.Fatal(err)
		}
		offset++
		if offset%8 == 0 {
			if err := ps.Commit(offset, false, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	const users = 1000
	old := func(i int) string { return fmt.Sprintf("old-%04d", (i*7919)%users) } // not in key order
	young := func(i int) string { return fmt.Sprintf("new-%04d", i) }

	ps := openTestPartition(t, p, store, 0)
	for i := range users {
		process(ps, old(i))
	}
	if err := ps.Commit(offset, false, false); err != nil {
		t.Fatal(err)
	}
	if ready, n, _ := ps.StoredUsersFilter(); !ready || n != users {
		t.Fatalf("first state: filter ready %v with %d users, want ready with %d", ready, n, users)
	}
	dense := map[string]uint32{}
	var rec state.UserRecord
	for i := range users {
		if found, err := store.Partition(0).GetUser(old(i), &rec); err != nil || !found {
			t.Fatalf("user %s not stored (%v)", old(i), err)
		}
		dense[old(i)] = rec.DenseID
	}
	// Reopened without a snapshot of the bitmaps: rebuilding them reads
	// every user, and fills the filter.
	ps = openTestPartition(t, p, store, 0)
	if ready, n, _ := ps.StoredUsersFilter(); !ready || n != users {
		t.Fatalf("reopened, bitmaps rebuilt: filter ready %v with %d users, want ready with %d", ready, n, users)
	}
	for i := range users / 10 {
		process(ps, old(i))
	}
	if err := ps.Commit(offset, false, true); err != nil { // with the snapshot
		t.Fatal(err)
	}

	// Reopened with the snapshot: 10 users scanned at open, 37 more
	// every 50 events.
	ps = openTestPartition(t, p, store, 0)
	var loads UserLoads
	ps.loads = &loads
	if ready, n, _ := ps.StoredUsersFilter(); ready || n != storedScanFirst {
		t.Fatalf("reopened: filter ready %v with %d users, want not ready with %d", ready, n, storedScanFirst)
	}
	readyAt := -1
	for i := range users {
		process(ps, old(i))
		process(ps, young(i))
		if i%25 == 24 && readyAt < 0 {
			if done, err := ps.ScanStoredUsers(37); err != nil {
				t.Fatal(err)
			} else if done {
				readyAt = i
			}
		}
	}
	if readyAt < 0 || readyAt > users/2+users/4 {
		t.Fatalf("scan done after user %d of %d; the test wants it done in the middle", readyAt, users)
	}
	readsBefore, missesBefore := loads.StoreReads.Load(), loads.CacheMisses.Load()
	for i := range users { // every user again, evicted since: loaded with the filter
		process(ps, young(i))
		process(ps, old(i))
	}
	if err := ps.Commit(offset, false, false); err != nil {
		t.Fatal(err)
	}

	for i := range users {
		for _, u := range []string{old(i), young(i)} {
			found, err := store.Partition(0).GetUser(u, &rec)
			if err != nil || !found {
				t.Fatalf("user %s not stored (%v)", u, err)
			}
			if d, ok := dense[u]; ok && rec.DenseID != d {
				t.Fatalf("user %s: dense id %d, was %d: the stored record was replaced by a new one", u, rec.DenseID, d)
			}
			if rec.Purchases != purchases[u] {
				t.Fatalf("user %s: %d purchases, want %d: a stored record was replaced by a new one", u, rec.Purchases, purchases[u])
			}
		}
	}
	// After the scan each user was read once more (all were stored by
	// then); the new users after readyAt were created without a read.
	if r, m := loads.StoreReads.Load()-readsBefore, loads.CacheMisses.Load()-missesBefore; r != m || m < 2*users-32 {
		t.Errorf("second pass: %d reads for %d cache misses, want a read for each of about %d", r, m, 2*users)
	}
	skipped := loads.CacheMisses.Load() - loads.StoreReads.Load()
	if want := int64(users - readyAt - 1); skipped < want*95/100 || skipped > want {
		t.Errorf("%d reads skipped, want about %d (the new users after the scan, less the filter's false positives)", skipped, want)
	}
}
