package state

import (
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// fakeClock is a pacer's clock: sleeping advances it.
type fakeClock struct {
	t      time.Time
	sleeps []time.Duration
}

func (c *fakeClock) pacer(duty float64) *pacer {
	p := newPacer(duty)
	p.now = func() time.Time { return c.t }
	p.sleep = func(d time.Duration) { c.sleeps = append(c.sleeps, d); c.t = c.t.Add(d) }
	return p
}

// TestPacedWriterSleepsInProportion: a flush's or compaction's file sleeps,
// at its next write after a slice of work, as long as the work times
// (1 − duty) / duty; not while the pacer is off; other files never.
func TestPacedWriterSleepsInProportion(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	p := clock.pacer(0.25) // sleeps 3 times the work
	fs := pacedFS{FS: vfs.NewMem(), p: p}
	f, err := fs.Create("000001.sst", categoryCompaction)
	if err != nil {
		t.Fatal(err)
	}
	write := func(work time.Duration) {
		t.Helper()
		clock.t = clock.t.Add(work)
		if _, err := f.Write([]byte("block")); err != nil {
			t.Fatal(err)
		}
	}
	write(time.Millisecond) // within the slice: no sleep
	write(1500 * time.Microsecond)
	if want := []time.Duration{7500 * time.Microsecond}; fmt.Sprint(clock.sleeps) != fmt.Sprint(want) {
		t.Fatalf("sleeps %v after 2.5 ms of work, want %v", clock.sleeps, want)
	}
	write(time.Millisecond) // a new slice began after the sleep
	if len(clock.sleeps) != 1 {
		t.Fatalf("sleeps %v: slept within a slice", clock.sleeps)
	}
	p.off.Store(true)
	write(10 * time.Millisecond)
	write(10 * time.Millisecond)
	if len(clock.sleeps) != 1 {
		t.Fatalf("sleeps %v: slept while the pacer is off", clock.sleeps)
	}
	p.off.Store(false)
	write(4 * time.Millisecond)
	if want := 12 * time.Millisecond; len(clock.sleeps) != 2 || clock.sleeps[1] != want {
		t.Fatalf("sleeps %v, want a second one of %s", clock.sleeps, want)
	}
	for _, c := range []vfs.DiskWriteCategory{"pebble-wal", vfs.WriteCategoryUnspecified, "pebble-manifest"} {
		f, err := fs.Create("other-"+string(c), c)
		if err != nil {
			t.Fatal(err)
		}
		if _, paced := f.(*pacedFile); paced {
			t.Errorf("a %s file is paced", c)
		}
	}
	if p.files.Load() != 1 {
		t.Errorf("%d paced files, want the compaction's", p.files.Load())
	}
	if got := time.Duration(p.slept.Load()); got != 7500*time.Microsecond+12*time.Millisecond {
		t.Errorf("slept %s in all, want the two sleeps' 19.5ms", got)
	}
}

// TestInDebt: pacing stops when L0 reaches twice the compaction threshold,
// when memtables queue for flushing, and during a write stall.
func TestInDebt(t *testing.T) {
	var m pebble.Metrics
	m.MemTable.Count = 1
	m.Levels[0].Sublevels = 2*l0CompactionThreshold - 1
	if inDebt(&m, false) {
		t.Errorf("in debt with L0 at %d sublevels and one memtable", m.Levels[0].Sublevels)
	}
	if !inDebt(&m, true) {
		t.Error("not in debt during a write stall")
	}
	m.Levels[0].Sublevels = 2 * l0CompactionThreshold
	if !inDebt(&m, false) {
		t.Errorf("not in debt with L0 at %d sublevels", m.Levels[0].Sublevels)
	}
	m.Levels[0].Sublevels, m.MemTable.Count = 0, 3
	if !inDebt(&m, false) {
		t.Error("not in debt with two memtables queued for flushing")
	}
}

// TestStorePacesItsFlushes: Pebble's flushes write through the pacer (the
// category names it gives their files are what pacing keys on), and a
// duty of 1 paces nothing.
func TestStorePacesItsFlushes(t *testing.T) {
	for _, duty := range []float64{0, 0.5, 1} {
		fs := vfs.NewMem()
		s, err := Open(Options{Dir: "x", FS: fs, BackgroundDuty: duty, Logf: func(string, ...any) {}})
		if err != nil {
			t.Fatal(err)
		}
		part := s.Partition(0)
		b := part.NewBatch()
		for i := range 1000 {
			b.PutUser(&UserRecord{UserID: fmt.Sprintf("u%04d", i), DenseID: uint32(i)})
		}
		if err := b.Commit(false); err != nil {
			t.Fatal(err)
		}
		b.Close()
		pace := s.pace
		if err := s.db.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if paced := pace != nil && pace.files.Load() > 0; paced != (duty < 1) {
			t.Errorf("duty %g: pacer %v, flush paced %v", duty, pace != nil, paced)
		}
	}
	if _, err := Open(Options{Dir: "x", FS: vfs.NewMem(), BackgroundDuty: 1.5}); err == nil {
		t.Error("a duty of 1.5 was accepted")
	}
}

// Open flushes what it replays from the WAL, and waits for the compactions
// it starts, before it returns: nothing is waiting for the cores then, so
// that work is not paced (paced, reopening 1M users' state took 3.4-4.0 s
// instead of 1.7-1.9). Neither is the work Close waits for.
func TestOpenAndCloseWorkFlatOut(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open(Options{Dir: "x", FS: fs, BackgroundDuty: 1, Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	b := s.Partition(0).NewBatch()
	for i := range 200_000 {
		b.PutUser(&UserRecord{UserID: fmt.Sprintf("u%07d", i), DenseID: uint32(i), Email: "someone@example.com"})
		if i%1000 == 999 {
			if err := b.Commit(false); err != nil {
				t.Fatal(err)
			}
		}
	}
	b.Close()
	if err := s.Close(); err != nil { // the records stay in the WAL
		t.Fatal(err)
	}

	// Small memtables: the replay flushes several during Open.
	s, err = Open(Options{Dir: "x", FS: fs, BackgroundDuty: 0.5, Logf: func(string, ...any) {}, memTableBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	pace := s.pace
	if pace.files.Load() == 0 {
		t.Fatal("Open wrote no table: the test needs a flush during Open")
	}
	if slept := pace.slept.Load(); slept != 0 {
		t.Errorf("Open's flush slept %v: paced", time.Duration(slept))
	}
	if pace.off.Load() {
		t.Error("pacing still off after Open, with the store not behind")
	}
	// Close waits for a flush under way: flat out too.
	b = s.Partition(0).NewBatch()
	for i := range 200_000 {
		b.PutUser(&UserRecord{UserID: fmt.Sprintf("v%07d", i), DenseID: uint32(i), Email: "someone@example.com"})
	}
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !pace.off.Load() {
		t.Error("pacing on after Close")
	}
}

// Compactions Pebble picks while it opens wait until Open has returned, so
// that Open does not wait for them: a store left with compaction debt (L0
// over its threshold) reopens without a compaction, and is compacted
// afterwards.
func TestOpenLeavesCompactionsForLater(t *testing.T) {
	fs := vfs.NewMem()
	quiet := func(string, ...any) {}
	s, err := Open(Options{Dir: "x", FS: fs, BackgroundDuty: 1, Logf: quiet, memTableBytes: 1 << 20, holdCompactions: true})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 12 {
		b := s.Partition(0).NewBatch()
		for i := range 10_000 {
			// The same users each round: the tables overlap, one L0
			// sublevel each.
			b.PutUser(&UserRecord{UserID: fmt.Sprintf("u%06d", i), DenseID: uint32(round), Email: "someone@example.com"})
		}
		if err := b.Commit(false); err != nil {
			t.Fatal(err)
		}
		b.Close()
		if err := s.db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	m := s.db.Metrics()
	if m.Levels[0].Sublevels <= l0CompactionThreshold || m.Compact.Count != 0 {
		t.Fatalf("the first store: %d L0 sublevels, %d compactions; the test needs L0 over its threshold and none", m.Levels[0].Sublevels, m.Compact.Count)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(Options{Dir: "x", FS: fs, BackgroundDuty: 1, Logf: quiet, memTableBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if m := s.db.Metrics(); m.Compact.Count != 0 {
		t.Errorf("%d compactions ran while Open waited", m.Compact.Count)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.db.Metrics().Compact.Count == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no compaction within 10 s of Open: %d L0 tables", s.db.Metrics().Levels[0].TablesCount)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
