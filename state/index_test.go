package state

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// withStores runs fn on a store in memory and on one on disk; reopen
// closes and reopens that store.
func withStores(t *testing.T, fn func(t *testing.T, s *Store, reopen func() *Store)) {
	for _, where := range []string{"mem", "disk"} {
		t.Run(where, func(t *testing.T) {
			opts := Options{Dir: t.TempDir(), Logf: quiet}
			if where == "mem" {
				opts = Options{Dir: "db", FS: vfs.NewMem(), Logf: quiet}
			}
			s, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			reopen := func() *Store {
				t.Helper()
				closeStore(t, s)
				if s, err = Open(opts); err != nil {
					t.Fatal(err)
				}
				return s
			}
			defer func() { closeStore(t, s) }()
			fn(t, s, reopen)
		})
	}
}

type timer struct {
	due  int64
	user string
}

// dueTimers returns what DueTimers passes to fn, with the user ids copied.
func dueTimers(t testing.TB, p *Partition, upTo int64, limit int) []timer {
	t.Helper()
	var got []timer
	if err := p.DueTimers(upTo, limit, func(due int64, userID string) error {
		got = append(got, timer{due, strings.Clone(userID)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func nextTimer(t testing.TB, p *Partition) (int64, bool) {
	t.Helper()
	due, ok, err := p.NextTimer()
	if err != nil {
		t.Fatal(err)
	}
	return due, ok
}

func TestTimersDueOrder(t *testing.T) {
	withStores(t, func(t *testing.T, s *Store, reopen func() *Store) {
		p := s.Partition(4)
		if got := dueTimers(t, p, math.MaxInt64, 0); got != nil {
			t.Fatalf("empty index: %v", got)
		}
		if due, ok := nextTimer(t, p); ok {
			t.Fatalf("empty index: next timer %d", due)
		}
		// Stored in an order unrelated to due time; ties in due time are
		// ordered by user id.
		timers := []timer{
			{500, "b"}, {100, "z"}, {500, "a"}, {1 << 40, "later"}, {math.MaxInt64, "max"},
			{-5, "negative"}, {math.MinInt64, "min"}, {1, "one"}, {499, ""}, {500, "a\x00"},
		}
		b := p.NewBatch()
		for _, tm := range timers {
			b.SetTimer(tm.user, 0, tm.due)
		}
		mustCommit(t, b, false)
		b.Close()

		sorted := slices.Clone(timers)
		slices.SortFunc(sorted, func(x, y timer) int {
			if x.due != y.due {
				return cmpInt(x.due, y.due)
			}
			return strings.Compare(x.user, y.user)
		})
		for pass := range 2 {
			if pass == 1 {
				s = reopen() // the same, read back after a restart
			}
			p := s.Partition(4)
			if got := dueTimers(t, p, math.MaxInt64, 0); !slices.Equal(got, sorted) {
				t.Fatalf("all timers:\n got %v\nwant %v", got, sorted)
			}
			for _, upTo := range []int64{math.MinInt64, -6, 0, 499, 500, 501, 1 << 40, math.MaxInt64 - 1} {
				var want []timer
				for _, tm := range sorted {
					if tm.due <= upTo {
						want = append(want, tm)
					}
				}
				if got := dueTimers(t, p, upTo, 0); !slices.Equal(got, want) {
					t.Errorf("due up to %d:\n got %v\nwant %v", upTo, got, want)
				}
			}
			if due, ok := nextTimer(t, p); !ok || due != math.MinInt64 {
				t.Errorf("next timer %d, %v", due, ok)
			}
			// From a lower bound: only the timers due at or after it.
			for _, from := range []int64{math.MinInt64 + 1, -5, 0, 500, 501, math.MaxInt64} {
				var want []timer
				for _, tm := range sorted {
					if tm.due >= from && tm.due <= 1<<40 {
						want = append(want, tm)
					}
				}
				var got []timer
				if err := p.DueTimersFrom(from, 1<<40, 0, func(due int64, userID string) error {
					got = append(got, timer{due, strings.Clone(userID)})
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("due from %d up to 2^40:\n got %v\nwant %v", from, got, want)
				}
				due, ok, err := p.NextTimerFrom(from)
				var wantDue int64
				for _, tm := range sorted {
					if tm.due >= from {
						wantDue = tm.due
						break
					}
				}
				if err != nil || !ok || due != wantDue {
					t.Errorf("next timer from %d: %d, %v, %v; want %d", from, due, ok, err, wantDue)
				}
			}
		}
	})
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestTimerRearm(t *testing.T) {
	withStores(t, func(t *testing.T, s *Store, _ func() *Store) {
		p := s.Partition(0)
		b := p.NewBatch()
		defer b.Close()
		b.SetTimer("u", 0, 100)
		b.SetTimer("v", 0, 150)
		mustCommit(t, b, false)

		b.SetTimer("u", 100, 200) // re-arm: the key moves
		mustCommit(t, b, false)
		if got, want := dueTimers(t, p, math.MaxInt64, 0), []timer{{150, "v"}, {200, "u"}}; !slices.Equal(got, want) {
			t.Fatalf("after re-arm: %v, want %v", got, want)
		}
		if got := dueTimers(t, p, 199, 0); !slices.Equal(got, []timer{{150, "v"}}) {
			t.Fatalf("due up to 199 after re-arm: %v", got)
		}

		b.SetTimer("u", 200, 200)
		if b.Len() != 0 {
			t.Fatalf("SetTimer with equal due times wrote %d keys", b.Len())
		}
		b.SetTimer("v", 150, 0) // cleared
		b.SetTimer("u", 200, 50)
		mustCommit(t, b, false)
		if got, want := dueTimers(t, p, math.MaxInt64, 0), []timer{{50, "u"}}; !slices.Equal(got, want) {
			t.Fatalf("after clear and re-arm earlier: %v, want %v", got, want)
		}
		if due, ok := nextTimer(t, p); !ok || due != 50 {
			t.Fatalf("next timer %d, %v; want 50", due, ok)
		}
		b.SetTimer("u", 50, 0)
		mustCommit(t, b, false)
		if _, ok := nextTimer(t, p); ok {
			t.Fatal("cleared timer still there")
		}
	})
}

func TestDueTimersLimitAndStop(t *testing.T) {
	s, _ := openMem(t)
	defer closeStore(t, s)
	p := s.Partition(1)
	b := p.NewBatch()
	var all []timer
	for i := range 10 {
		tm := timer{int64(1000 + i), fmt.Sprintf("u%d", i)}
		b.SetTimer(tm.user, 0, tm.due)
		all = append(all, tm)
	}
	mustCommit(t, b, false)
	b.Close()

	for _, c := range []struct {
		upTo  int64
		limit int
		want  []timer
	}{
		{math.MaxInt64, 3, all[:3]},
		{math.MaxInt64, 10, all},
		{math.MaxInt64, 11, all},
		{math.MaxInt64, 0, all},
		{math.MaxInt64, -1, all},
		{1004, 3, all[:3]},
		{1001, 3, all[:2]},
		{999, 3, nil},
	} {
		if got := dueTimers(t, p, c.upTo, c.limit); !slices.Equal(got, c.want) {
			t.Errorf("up to %d limit %d: %v, want %v", c.upTo, c.limit, got, c.want)
		}
	}

	// Firing in chunks: each chunk's timers are cleared and committed
	// before the next chunk is asked for.
	var fired []timer
	for range len(all) + 1 {
		chunk := dueTimers(t, p, math.MaxInt64, 4)
		if len(chunk) == 0 {
			break
		}
		b := p.NewBatch()
		for _, tm := range chunk {
			b.SetTimer(tm.user, tm.due, 0)
		}
		mustCommit(t, b, false)
		b.Close()
		fired = append(fired, chunk...)
	}
	if !slices.Equal(fired, all) {
		t.Fatalf("fired in chunks: %v", fired)
	}

	b = p.NewBatch()
	for _, tm := range all {
		b.SetTimer(tm.user, 0, tm.due)
	}
	mustCommit(t, b, false)
	b.Close()
	stop := errors.New("stop")
	n := 0
	err := p.DueTimers(math.MaxInt64, 0, func(int64, string) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Fatalf("err %v after %d timers, want stop after 2", err, n)
	}
}

func TestDenseIDIndex(t *testing.T) {
	withStores(t, func(t *testing.T, s *Store, reopen func() *Store) {
		p := s.Partition(3)
		ids := map[uint32]string{
			3<<24 | 1:      "user-1",
			3<<24 | 2:      "user-2",
			3<<24 | 1<<20:  "user-\x00-binary-\xff",
			0:              "id-zero",
			math.MaxUint32: strings.Repeat("long", 100),
		}
		b := p.NewBatch()
		for id, u := range ids {
			b.PutDenseID(id, u)
		}
		mustCommit(t, b, false)
		b.Close()

		for pass := range 2 {
			if pass == 1 {
				s = reopen() // the same, read back after a restart
			}
			p := s.Partition(3)
			for id, want := range ids {
				got, found, err := p.UserByDenseID(id)
				if err != nil || !found || got != want {
					t.Errorf("UserByDenseID(%d) = %q, %v, %v; want %q", id, got, found, err, want)
				}
				buf := []byte("prefix:")
				buf, found, err = p.AppendUserByDenseID(buf, id)
				if err != nil || !found || string(buf) != "prefix:"+want {
					t.Errorf("AppendUserByDenseID(%d) = %q, %v, %v", id, buf, found, err)
				}
			}
			if u, found, err := p.UserByDenseID(3<<24 | 3); found || err != nil || u != "" {
				t.Errorf("unknown id: %q, %v, %v", u, found, err)
			}
			if buf, found, err := p.AppendUserByDenseID([]byte("x"), 3<<24|3); found || err != nil || string(buf) != "x" {
				t.Errorf("unknown id appended: %q, %v, %v", buf, found, err)
			}
			// Another partition does not see them.
			if _, found, _ := s.Partition(4).UserByDenseID(3<<24 | 1); found {
				t.Error("dense id visible in another partition")
			}
		}

		p = s.Partition(3)
		b = p.NewBatch()
		b.DeleteDenseID(3<<24 | 1)
		b.PutDenseID(3<<24|2, "renamed")
		mustCommit(t, b, false)
		b.Close()
		if _, found, _ := p.UserByDenseID(3<<24 | 1); found {
			t.Error("deleted dense id still found")
		}
		if u, _, _ := p.UserByDenseID(3<<24 | 2); u != "renamed" {
			t.Errorf("overwritten dense id: %q", u)
		}
	})
}

func TestBlobs(t *testing.T) {
	withStores(t, func(t *testing.T, s *Store, reopen func() *Store) {
		p := s.Partition(2)
		big := bytes.Repeat([]byte("bitmap\x00\xff"), 1<<17) // 1 MiB
		input := []byte("snapshot")
		b := p.NewBatch()
		b.PutBlob("seg/lapsed", input)
		b.PutBlob("seg/empty", nil)
		b.PutBlob("big", big)
		b.PutBlob("", []byte{1})
		input[0] = 'X' // the batch copied it
		mustCommit(t, b, false)
		b.Close()

		want := map[string][]byte{"seg/lapsed": []byte("snapshot"), "seg/empty": {}, "big": big, "": {1}}
		for pass := range 2 {
			if pass == 1 {
				s = reopen() // the same, read back after a restart
			}
			p := s.Partition(2)
			for name, w := range want {
				got, found, err := p.Blob(name)
				if err != nil || !found || !bytes.Equal(got, w) {
					t.Errorf("Blob(%q): %d bytes, %v, %v; want %d bytes", name, len(got), found, err, len(w))
				}
			}
			if got, found, err := p.Blob("seg/lapse"); found || err != nil || got != nil {
				t.Errorf("missing blob: %q, %v, %v", got, found, err)
			}
			if _, found, _ := s.Partition(3).Blob("seg/lapsed"); found {
				t.Error("blob visible in another partition")
			}
		}
		// The returned bytes are a copy.
		p = s.Partition(2)
		got, _, _ := p.Blob("seg/lapsed")
		got[0] = 'Y'
		if again, _, _ := p.Blob("seg/lapsed"); string(again) != "snapshot" {
			t.Errorf("changing a returned blob changed the store: %q", again)
		}
		b = p.NewBatch()
		b.PutBlob("seg/lapsed", []byte("v2"))
		b.DeleteBlob("big")
		mustCommit(t, b, false)
		b.Close()
		if got, _, _ := p.Blob("seg/lapsed"); string(got) != "v2" {
			t.Errorf("overwritten blob: %q", got)
		}
		if _, found, _ := p.Blob("big"); found {
			t.Error("deleted blob still found")
		}
	})
}

// TestBatchAtomicIndexes checks that timers, dense ids and blobs commit with
// the records and the offset, and that an uncommitted batch leaves none.
func TestBatchAtomicIndexes(t *testing.T) {
	withStores(t, func(t *testing.T, s *Store, reopen func() *Store) {
		p := s.Partition(6)
		b := p.NewBatch()
		r := UserRecord{UserID: "kept", DenseID: 6<<24 | 1, TimerDue: 100}
		b.PutUser(&r)
		b.SetTimer("kept", 0, 100)
		b.PutDenseID(r.DenseID, "kept")
		b.PutBlob("seg", []byte("one"))
		b.SetOffset(10)
		mustCommit(t, b, false)

		// Written, never committed.
		r.TimerDue = 300
		b.PutUser(&r)
		b.SetTimer("kept", 100, 300)
		b.SetTimer("ghost", 0, 50)
		b.PutDenseID(6<<24|2, "ghost")
		b.PutBlob("seg", []byte("two"))
		b.PutBlob("ghost", []byte("x"))
		b.SetOffset(20)
		b.Close()

		for pass := range 2 {
			if pass == 1 {
				s = reopen() // the same, read back after a restart
			}
			p := s.Partition(6)
			if got := dueTimers(t, p, math.MaxInt64, 0); !slices.Equal(got, []timer{{100, "kept"}}) {
				t.Errorf("timers %v, want only the committed one", got)
			}
			if _, found, _ := p.UserByDenseID(6<<24 | 2); found {
				t.Error("uncommitted dense id visible")
			}
			if u, _, _ := p.UserByDenseID(6<<24 | 1); u != "kept" {
				t.Errorf("committed dense id: %q", u)
			}
			if got, _, _ := p.Blob("seg"); string(got) != "one" {
				t.Errorf("blob %q, want the committed one", got)
			}
			if _, found, _ := p.Blob("ghost"); found {
				t.Error("uncommitted blob visible")
			}
			var rec UserRecord
			if _, err := p.GetUser("kept", &rec); err != nil || rec.TimerDue != 100 {
				t.Errorf("record timer %d, err %v", rec.TimerDue, err)
			}
			if off, _, _ := p.Offset(); off != 10 {
				t.Errorf("offset %d, want 10", off)
			}
		}
	})
}

// TestDropRemovesIndexes checks that Drop removes a partition's timers,
// dense ids and blobs along with its records, and nothing of its
// neighbours.
func TestDropRemovesIndexes(t *testing.T) {
	withStores(t, func(t *testing.T, s *Store, reopen func() *Store) {
		parts := []int32{0, 1, 2, 255, 256, 1 << 30, math.MaxInt32}
		for _, id := range parts {
			b := s.Partition(id).NewBatch()
			b.PutUser(&UserRecord{UserID: "u"})
			b.SetTimer("u", 0, int64(id)+1)
			b.SetTimer("v", 0, math.MaxInt64)
			b.PutDenseID(7, fmt.Sprint("u", id))
			b.PutBlob("seg", []byte(fmt.Sprint(id)))
			b.PutBlob("\xff\xff", []byte("high name"))
			mustCommit(t, b, false)
			b.Close()
		}
		for _, dropped := range []int32{1, math.MaxInt32} {
			if err := s.Partition(dropped).Drop(); err != nil {
				t.Fatal(err)
			}
		}
		for pass := range 2 {
			if pass == 1 {
				s = reopen() // the same, read back after a restart
			}
			for _, id := range parts {
				p := s.Partition(id)
				gone := id == 1 || id == math.MaxInt32
				timers := dueTimers(t, p, math.MaxInt64, 0)
				_, hasNext := nextTimer(t, p)
				u, hasDense, err := p.UserByDenseID(7)
				if err != nil {
					t.Fatal(err)
				}
				blob, hasBlob, err := p.Blob("seg")
				if err != nil {
					t.Fatal(err)
				}
				_, hasHigh, _ := p.Blob("\xff\xff")
				if gone {
					if len(timers) != 0 || hasNext || hasDense || hasBlob || hasHigh {
						t.Errorf("dropped partition %d kept timers %v (next %v), dense %v, blobs %v %v", id, timers, hasNext, hasDense, hasBlob, hasHigh)
					}
					continue
				}
				wantTimers := []timer{{int64(id) + 1, "u"}, {math.MaxInt64, "v"}}
				if !slices.Equal(timers, wantTimers) || !hasNext || u != fmt.Sprint("u", id) ||
					string(blob) != fmt.Sprint(id) || !hasHigh {
					t.Errorf("partition %d after dropping others: timers %v, dense %q, blob %q, high %v", id, timers, u, blob, hasHigh)
				}
			}
		}
	})
}

// TestLazyMigrationInStore stores a version 1 record, reads it, and writes
// it back: it is then stored as the current version and reads the same.
func TestLazyMigrationInStore(t *testing.T) {
	s, _ := openMem(t)
	defer closeStore(t, s)
	p := s.Partition(5)
	v1 := readGolden(t, 1)
	want := sampleRecord()
	if err := s.db.Set(appendUserKey(nil, 5, want.UserID), v1, nil); err != nil {
		t.Fatal(err)
	}
	var r UserRecord
	if found, err := p.GetUser(want.UserID, &r); !found || err != nil || !recordsEqual(&r, &want) {
		t.Fatalf("v1 record: %v, %v\n%+v", found, err, r)
	}
	r.TimerDue = 42
	b := p.NewBatch()
	b.PutUser(&r)
	mustCommit(t, b, false)
	b.Close()
	raw, closer, err := s.db.Get(appendUserKey(nil, 5, want.UserID))
	if err != nil {
		t.Fatal(err)
	}
	version := raw[0]
	closer.Close()
	if version != RecordVersion {
		t.Fatalf("rewritten record has version %d", version)
	}
	want.TimerDue = 42
	if _, err := p.GetUser(want.UserID, &r); err != nil || !recordsEqual(&r, &want) {
		t.Fatalf("rewritten record: %v\n%+v", err, r)
	}
}

// TestGetUserReusesTracked checks that GetUser into a reused record does
// not allocate beyond the strings, and still resets r when there is no
// record.
func TestGetUserReusesTracked(t *testing.T) {
	s, _ := openMem(t)
	defer closeStore(t, s)
	p := s.Partition(0)
	want := sampleRecordV2()
	b := p.NewBatch()
	b.PutUser(&want)
	mustCommit(t, b, false)
	b.Close()
	var r UserRecord
	if n := testing.AllocsPerRun(100, func() {
		if found, err := p.GetUser(want.UserID, &r); !found || err != nil {
			t.Fatal(found, err)
		}
	}); n > 1 && !raceEnabled { // Pebble pools what Get returns
		t.Errorf("GetUser into a reused record: %v allocs, want ≤ 1", n)
	}
	if !recordsEqual(&r, &want) {
		t.Fatalf("GetUser: %+v", r)
	}
	if found, err := p.GetUser("nobody", &r); found || err != nil || !reflect.DeepEqual(r, UserRecord{}) {
		t.Fatalf("GetUser of a missing user: %v, %v, %+v", found, err, r)
	}
}

func TestIndexWritesAllocs(t *testing.T) {
	s, _ := openMem(t)
	defer closeStore(t, s)
	p := s.Partition(0)
	b := p.NewBatch()
	defer b.Close()
	blob := make([]byte, 4096)
	for range 100 {
		b.SetTimer("user-000001", 1, 2)
		b.PutDenseID(1, "user-000001")
		b.PutBlob("seg/lapsed", blob)
	}
	mustCommit(t, b, false)
	due := int64(1)
	if n := testing.AllocsPerRun(50, func() {
		b.SetTimer("user-000001", due, due+1)
		b.PutDenseID(uint32(due), "user-000001")
		due++
	}); n != 0 {
		t.Errorf("SetTimer + PutDenseID: %v allocs, want 0", n)
	}
	mustCommit(t, b, false)
	if n := testing.AllocsPerRun(20, func() { b.PutBlob("seg/lapsed", blob) }); n != 0 {
		t.Errorf("PutBlob: %v allocs, want 0", n)
	}
	mustCommit(t, b, false)

	// A scan allocates per call (iterator and bounds), not per timer.
	for i := range 1000 {
		b.SetTimer(fmt.Sprintf("user-%06d", i), 0, int64(i)+1)
	}
	mustCommit(t, b, false)
	count := 0
	fn := func(int64, string) error { count++; return nil }
	if n := testing.AllocsPerRun(10, func() {
		if err := p.DueTimers(math.MaxInt64, 0, fn); err != nil {
			t.Fatal(err)
		}
	}); n > 10 && !raceEnabled { // Pebble pools its iterators
		t.Errorf("DueTimers over 1000 timers: %v allocs, want ≤ 10", n)
	}
	if count == 0 {
		t.Fatal("no timer seen")
	}
	var buf []byte
	if n := testing.AllocsPerRun(100, func() {
		var err error
		if buf, _, err = p.AppendUserByDenseID(buf[:0], 1); err != nil {
			t.Fatal(err)
		}
	}); n != 0 && !raceEnabled {
		t.Errorf("AppendUserByDenseID: %v allocs, want 0", n)
	}
}

// BenchmarkDueTimers scans 10k due timers of a partition that also holds
// 10k timers not yet due and a neighbour's timers, from the memtable and
// from flushed sstables.
func BenchmarkDueTimers(b *testing.B) {
	for _, flushed := range []bool{false, true} {
		name := "memtable"
		if flushed {
			name = "sstable"
		}
		b.Run(name, func(b *testing.B) {
			s, _ := openMem(b)
			defer closeStore(b, s)
			const n = 10000
			const now = sampleT0
			for _, part := range []int32{0, 1, 2} {
				batch := s.Partition(part).NewBatch()
				for i := range 2 * n {
					// Half due (≤ now), half later, interleaved by user.
					due := now - int64(n-i/2)*1000
					if i%2 == 1 {
						due = now + int64(i)*1000
					}
					batch.SetTimer(fmt.Sprintf("user-%07d", i), 0, due)
				}
				mustCommit(b, batch, false)
				batch.Close()
			}
			if flushed {
				if err := s.db.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			p := s.Partition(1)
			seen := 0
			fn := func(due int64, userID string) error {
				seen += len(userID)
				return nil
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := p.DueTimers(now, n, fn); err != nil {
					b.Fatal(err)
				}
			}
			if got := dueTimers(b, p, now, 0); len(got) != n {
				b.Fatalf("%d due timers, want %d", len(got), n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/timer")
		})
	}
}
