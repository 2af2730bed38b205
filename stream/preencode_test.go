package stream

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/rekindle/rekindle/state"
	"github.com/rekindle/rekindle/stream/segment"
)

func init() {
	// Every commit in this package's tests checks that the records encoded
	// ahead of it are still as they were encoded.
	verifyEncoded = true
}

// processAll runs events through one partition as the live worker does:
// timers due first, a commit every batch, and between events whatever
// between says (records encoded ahead of the commit, in chunks of its
// answer; 0: none). It returns every output, in order, and the store.
func processAll(t *testing.T, yaml, events string, between func(i int) int) ([]byte, *state.Store) {
	t.Helper()
	p := mustProcessor(t, yaml)
	store := openTestStore(t)
	ps := openTestPartition(t, p, store, 0)
	var out bytes.Buffer
	take := func() {
		for _, o := range ps.TakeOutputs() {
			fmt.Fprintf(&out, "%s %s %s\n", o.Topic, o.Key, o.Value)
		}
		ps.Flush()
	}
	var peek segment.Event
	var watermark, offset int64
	for i, line := range strings.Split(strings.TrimSpace(events), "\n") {
		if p.decoder.Decode([]byte(line), 0, &peek) == nil && peek.Timestamp > watermark {
			watermark = peek.Timestamp
		}
		for ps.TimersDue(watermark) {
			if err := ps.Commit(offset, false, false); err != nil {
				t.Fatal(err)
			}
			n, err := ps.FireTimers(watermark, 50)
			if err != nil {
				t.Fatal(err)
			}
			take()
			if n == 0 && !ps.TimersDue(watermark) {
				break
			}
		}
		in := Input{Topic: "events", Offset: offset, Value: []byte(line), Time: watermark}
		offset++
		if err := ps.Process(&in); err != nil {
			t.Fatal(err)
		}
		take()
		if n := between(i); n > 0 {
			if _, err := ps.PreEncode(n); err != nil {
				t.Fatal(err)
			}
		}
		if offset%37 == 0 {
			// Not waited for: the next PreEncode finds it in flight or
			// landed.
			if err := ps.CommitAsync(offset, false, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := ps.Commit(offset, false, false); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), store
}

// Records encoded ahead of a commit, then changed again before it, are
// committed as they are at the commit: with a 3-record cache (every
// commit evicts, and the next event reads the record back from the
// store), encoding ahead at random moments gives the same outputs and the
// same stored records as never encoding ahead.
func TestEncodingAheadCommitsTheLatestRecords(t *testing.T) {
	const yaml = replayCampaigns + "state: {cache_users: 6, commit_interval: 1h}\n"
	events := replayFixture(t)
	want, wantStore := processAll(t, yaml, events, func(int) int { return 0 })
	rng := rand.New(rand.NewPCG(7, 7))
	encodedAhead := 0
	got, gotStore := processAll(t, yaml, events, func(i int) int {
		if rng.IntN(3) == 0 {
			return 0
		}
		n := 1 + rng.IntN(4)
		encodedAhead += n
		return n
	})
	if encodedAhead == 0 || len(want) == 0 {
		t.Fatalf("nothing encoded ahead (%d) or no outputs (%d bytes)", encodedAhead, len(want))
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("outputs differ when records are encoded ahead of the commits (%d vs %d bytes)", len(got), len(want))
	}
	// Every user's stored record is the same.
	users := map[string]bool{}
	var peek segment.Event
	p := mustProcessor(t, yaml)
	for _, line := range strings.Split(strings.TrimSpace(events), "\n") {
		if p.decoder.Decode([]byte(line), 0, &peek) == nil {
			users[peek.User()] = true
		}
	}
	for u := range users {
		var a, b state.UserRecord
		fa, err := wantStore.Partition(0).GetUser(u, &a)
		if err != nil {
			t.Fatal(err)
		}
		fb, err := gotStore.Partition(0).GetUser(u, &b)
		if err != nil {
			t.Fatal(err)
		}
		if fa != fb || !bytes.Equal(state.AppendRecord(nil, &a), state.AppendRecord(nil, &b)) {
			t.Errorf("user %s: stored record differs when encoded ahead", u)
		}
	}
}

// A record changed after it was encoded ahead, without markDirty, would be
// committed as it was: the check every test commit makes catches it.
func TestACommitCatchesARecordChangedBehindItsEncoding(t *testing.T) {
	p := mustProcessor(t, "")
	ps := openTestPartition(t, p, openTestStore(t), 0)
	now := time.Now().UTC().Format(time.RFC3339)
	in := Input{Topic: "events", Offset: 0, Value: []byte(ev("u1", "m1", now, "Application Opened", ""))}
	if err := ps.Process(&in); err != nil {
		t.Fatal(err)
	}
	if more, err := ps.PreEncode(10); err != nil || more {
		t.Fatalf("PreEncode: more %v, %v", more, err)
	}
	cu := ps.dirty[0]
	if cu.enc != encFresh || len(ps.commitUsers) != 1 {
		t.Fatalf("u1 not encoded ahead: %v, %d", cu.enc, len(ps.commitUsers))
	}
	cu.rec.Events += 5 // behind markDirty's back
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), `"u1" changed after it was encoded ahead`) {
			t.Fatalf("the commit went on: %v", r)
		}
	}()
	ps.Commit(1, false, false)
}

// Records are encoded ahead only near the commit: in the last quarter of
// the interval, at most 250 ms before it, and only when some wait.
func TestEncodingAheadOnlyNearTheCommit(t *testing.T) {
	for _, c := range []struct {
		interval       string
		until          time.Duration // to the commit slot
		dirty, wantDue bool
	}{
		{"1h", time.Second, true, false},
		{"1h", 200 * time.Millisecond, true, true},
		{"1h", 200 * time.Millisecond, false, false},
		{"400ms", 150 * time.Millisecond, true, false},
		{"400ms", 50 * time.Millisecond, true, true},
	} {
		p := mustProcessor(t, "state:\n  commit_interval: "+c.interval+"\n")
		ps := openTestPartition(t, p, openTestStore(t), 0)
		if c.dirty {
			in := Input{Topic: "events", Value: []byte(ev("u1", "m1", time.Now().UTC().Format(time.RFC3339), "Application Opened", ""))}
			if err := ps.Process(&in); err != nil {
				t.Fatal(err)
			}
		}
		ps.nextCommit = time.Now().Add(c.until)
		if got := ps.PreEncodeDue(); got != c.wantDue {
			t.Errorf("interval %s, %v before the commit, dirty %v: PreEncodeDue %v, want %v", c.interval, c.until, c.dirty, got, c.wantDue)
		}
	}
}
