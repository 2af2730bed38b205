package stream

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rekindle/rekindle/state"
)

// Flush publishes a batch's segment changes without committing; CommitDue
// asks for a commit when the interval passes, when dirty records reach half
// the cache, and when a timer re-armed since the last commit is due.
func TestFlushPublishesAndCommitDueSaysWhen(t *testing.T) {
	p := mustProcessor(t, "state:\n  commit_interval: 1h\n  cache_users: 4\n")
	store := openTestStore(t)
	ps := openTestPartition(t, p, store, 0)
	active, _ := p.segs.catalog.ID("active")
	now := time.Now().UTC()
	process := func(offset int64, user string, ts time.Time) {
		t.Helper()
		in := Input{Topic: "events", Offset: offset, Value: []byte(ev(user, user+"-m", ts.Format(time.RFC3339), "Application Opened", ""))}
		if err := ps.Process(&in); err != nil {
			t.Fatal(err)
		}
	}

	process(0, "u1", now.Add(-time.Minute))
	if len(ps.Outputs()) == 0 {
		t.Fatal("no outputs for a new user (want at least the segment facts)")
	}
	if ps.CommitDue(now.UnixMilli()) {
		t.Fatal("commit due after one event with a 1h interval, 1 of 4 cached users dirty and no timer due")
	}
	ps.Flush()
	if len(ps.Outputs()) != 0 || ps.Counters().Events != 0 {
		t.Fatalf("after Flush: %d outputs, %d events counted; want both dropped", len(ps.Outputs()), ps.Counters().Events)
	}
	var rec state.UserRecord
	cu, _ := ps.user("u1") // cached, uncommitted
	if found, _ := store.Partition(0).GetUser("u1", &rec); found {
		t.Fatal("Flush committed the user record")
	}
	if _, ok, _ := store.Partition(0).Offset(); ok {
		t.Fatal("Flush committed an offset")
	}
	if !ps.reg.Contains(active, cu.rec.DenseID) {
		t.Fatal("after Flush the bitmaps do not show the new user as active")
	}

	// Half the cache dirty.
	process(1, "u2", now.Add(-time.Minute))
	if !ps.CommitDue(now.UnixMilli()) {
		t.Fatal("2 of cache_users 4 dirty: want a commit")
	}
	if err := ps.Commit(2, false, false); err != nil {
		t.Fatal(err)
	}
	if next, _, _ := store.Partition(0).Offset(); next != 2 {
		t.Fatalf("committed offset %d, want 2", next)
	}
	if found, _ := store.Partition(0).GetUser("u2", &rec); !found {
		t.Fatal("Commit did not write the user record")
	}
	if ps.CommitDue(now.UnixMilli()) {
		t.Fatal("commit due right after a commit")
	}

	// An event 40 days old re-arms u3's timer at a deadline already past
	// (active ends 30 days after the last event): the index only learns of
	// it at commit, so a commit is due.
	process(2, "u3", now.Add(-40*24*time.Hour))
	if !ps.CommitDue(now.UnixMilli()) {
		t.Fatal("a re-armed timer is due and not in the index: want a commit")
	}
	if err := ps.Commit(3, false, false); err != nil {
		t.Fatal(err)
	}
	if !ps.TimersDue(now.UnixMilli()) {
		t.Fatal("u3's timer is due after the commit, TimersDue says no")
	}
	if n, err := ps.FireTimers(now.UnixMilli(), 100); err != nil || n != 1 {
		t.Fatalf("FireTimers: %d fired, %v; want u3's timer", n, err)
	}

	// The interval.
	ps.nextCommit = time.Now().Add(-time.Millisecond)
	if !ps.CommitDue(now.UnixMilli()) {
		t.Fatal("the commit slot has passed: want a commit")
	}
}

// Partitions commit in slots of their own on the wall clock: any set of
// them is spread over the interval, and a partition keeps its slot whatever
// the moment it opened or last committed.
func TestCommitSlotsAreSpreadAndFixed(t *testing.T) {
	const interval = 80 * time.Minute
	p := mustProcessor(t, "state:\n  commit_interval: 80m\n")
	store := openTestStore(t)
	before := time.Now()
	var offsets []time.Duration
	for part := int32(0); part < 8; part++ {
		ps := openTestPartition(t, p, store, part)
		next := ps.nextCommit
		if !next.After(before) || next.Sub(before) > interval {
			t.Fatalf("partition %d opened at %v: first commit slot %v, want within one interval after", part, before, next)
		}
		offset := time.Duration(next.UnixNano() % int64(interval))
		offsets = append(offsets, offset)
		// The slot is fixed on the wall clock: from any moment, the next
		// one is the same offset into the interval, less than an
		// interval ahead.
		for _, later := range []time.Duration{time.Nanosecond, 17 * time.Minute, interval, 3*interval + time.Second} {
			now := next.Add(later)
			s := commitSlot(now, part, interval)
			if !s.After(now) || s.Sub(now) > interval || time.Duration(s.UnixNano()%int64(interval)) != offset {
				t.Errorf("partition %d at slot+%v: next slot %v (offset %v), want the offset %v within an interval", part, later, s, time.Duration(s.UnixNano()%int64(interval)), offset)
			}
		}
		if ps.CommitDue(0) {
			t.Errorf("partition %d: commit due right after opening with nothing dirty", part)
		}
		ps.nextCommit = time.Now()
		if !ps.CommitDue(0) {
			t.Errorf("partition %d: its slot has come, no commit due", part)
		}
	}
	// Spread: no two of the 8 partitions' slots are less than 1/16 of
	// the interval apart (the golden ratio's multiples mod 1 keep
	// 0.09-0.15 apart); two partitions are about 0.62 apart.
	slices.Sort(offsets)
	for i := range offsets {
		gap := (offsets[(i+1)%len(offsets)] - offsets[i] + interval) % interval
		if gap < interval/16 {
			t.Errorf("commit slots %v and %v are %v apart, want at least %v", offsets[i], offsets[(i+1)%len(offsets)], gap, interval/16)
		}
	}
	s0, s1 := commitSlot(before, 0, interval), commitSlot(before, 1, interval)
	if gap := (s1.Sub(s0)%interval + interval) % interval; gap < interval*6/10 || gap > interval*64/100 {
		t.Errorf("partitions 0 and 1: slots %v apart, want about 0.62 of %v", gap, interval)
	}
	if got := commitSlot(before, 5, 0); !got.Equal(before) {
		t.Errorf("a zero interval: slot %v, want now %v (a commit after every batch)", got, before)
	}
}

// Commits reuse one Pebble batch: the commit's goroutine hands it back empty,
// and each commit writes its own records only.
func TestCommitsReuseTheirBatch(t *testing.T) {
	p := mustProcessor(t, "")
	store := openTestStore(t)
	ps := openTestPartition(t, p, store, 0)
	now := time.Now().UTC()
	var batches []*state.Batch
	for i, user := range []string{"u1", "u2", "u3"} {
		in := Input{Topic: "events", Offset: int64(i), Value: []byte(ev(user, user+"-m", now.Format(time.RFC3339), "Application Opened", ""))}
		if err := ps.Process(&in); err != nil {
			t.Fatal(err)
		}
		if err := ps.Commit(int64(i+1), false, false); err != nil {
			t.Fatal(err)
		}
		if ps.commitBatch == nil || ps.commitBatch.Len() != 0 {
			t.Fatalf("commit %d: batch %v handed back, want an empty one", i, ps.commitBatch)
		}
		batches = append(batches, ps.commitBatch)
		var rec state.UserRecord
		if found, _ := store.Partition(0).GetUser(user, &rec); !found || rec.Events != 1 {
			t.Fatalf("commit %d: %s found %v with %d events", i, user, found, rec.Events)
		}
	}
	if batches[0] != batches[1] || batches[1] != batches[2] {
		t.Fatalf("commits used batches %p, %p, %p; want one", batches[0], batches[1], batches[2])
	}
}

// A dead letter's key and value are copies: the worker hands the fetch
// response its input came in back to the fetcher, to be fetched into
// again, while the batch's outputs are still being written.
func TestDeadLettersOwnTheirBytes(t *testing.T) {
	p := mustProcessor(t, "")
	ps := openTestPartition(t, p, openTestStore(t), 0)
	big := `{"type":"track","userId":"u","event":"x","properties":{"blob":"` + strings.Repeat("z", MaxDeadLetterBytes) + `"}}`
	ins := []Input{
		{Topic: "events", Offset: 0, Key: []byte("k1"), Value: []byte(`{"type":"track","userId":`)},
		{Topic: "events", Offset: 1, Key: []byte("k2"), Value: []byte(big)},
		{Topic: "events", Offset: 2, Value: []byte(`not json`)}, // no key
	}
	var want [][2][]byte
	for i := range ins {
		want = append(want, [2][]byte{bytes.Clone(ins[i].Key), bytes.Clone(ins[i].Value)})
		if err := ps.Process(&ins[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range ins { // the fetch response is reused
		for j := range ins[i].Key {
			ins[i].Key[j] = '#'
		}
		for j := range ins[i].Value {
			ins[i].Value[j] = '#'
		}
	}
	var dlq []Output
	for _, o := range ps.Outputs() {
		if o.Topic == p.cfg.Topics.DLQ {
			dlq = append(dlq, o)
		}
	}
	if len(dlq) != len(ins) {
		t.Fatalf("%d dead letters, want %d", len(dlq), len(ins))
	}
	for i, o := range dlq {
		wantValue := want[i][1][:min(len(want[i][1]), MaxDeadLetterBytes)]
		if !bytes.Equal(o.Key, want[i][0]) || (o.Key == nil) != (want[i][0] == nil) || !bytes.Equal(o.Value, wantValue) {
			t.Errorf("dead letter %d: key %q, value %.40q... (%d bytes); want key %q, value %.40q... (%d bytes)", i, o.Key, o.Value, len(o.Value), want[i][0], wantValue, len(wantValue))
		}
	}
}
