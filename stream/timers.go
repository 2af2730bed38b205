package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/rekindle/rekindle/bitmap"
	"github.com/rekindle/rekindle/sinks"
	"github.com/rekindle/rekindle/state"
)

// Blob names in the state store.
const (
	blobSegments = "segments" // next offset (8 bytes) + the registry
	blobCatalog  = "catalog"  // segment names in id order, "\n"-separated
	// blobStateAhead marks a state whose offset lay past the end of its
	// partition's log (see StateAheadError): offset and end, 8 bytes each.
	blobStateAhead = "state-ahead-of-log"
)

// Registry returns the partition's segment bitmaps. Readers may query it
// concurrently with the owner's writes.
func (ps *PartitionState) Registry() *bitmap.Registry { return ps.reg }

// loadSegments restores the segment bitmaps from the snapshot saved with
// the state, or rebuilds them from the user records when the snapshot is
// missing, stale (saved at another offset) or corrupt. It also finds the
// earliest pending timer.
func (ps *PartitionState) loadSegments() error {
	cat := ps.proc.segs.catalog
	ps.reg = bitmap.NewRegistry(cat)
	names := strings.Join(cat.Names(), "\n")
	stored, found, err := ps.store.Blob(blobCatalog)
	if err != nil {
		return err
	}
	if found && string(stored) != names {
		// The definitions changed: the masks in the records use old ids.
		if err := ps.recomputeSegments(); err != nil {
			return err
		}
	}
	ps.catalogStored = found
	if err := ps.restoreSnapshot(); err != nil {
		// Missing, stale or corrupt: the user records are the truth.
		ps.reg.Reset()
		if err := ps.RebuildSegments(); err != nil {
			return err
		}
	}
	due, ok, err := ps.store.NextTimer()
	if err != nil {
		return err
	}
	if ok {
		ps.minDue = due
	}
	return nil
}

var errNoSnapshot = errors.New("no snapshot")

func (ps *PartitionState) restoreSnapshot() error {
	blob, found, err := ps.store.Blob(blobSegments)
	if err != nil {
		return err
	}
	if !found || len(blob) < 8 {
		return errNoSnapshot
	}
	next, ok, err := ps.store.Offset()
	if err != nil {
		return err
	}
	if !ok || int64(binary.BigEndian.Uint64(blob)) != next {
		return fmt.Errorf("snapshot of offset %d, state at %d", binary.BigEndian.Uint64(blob), next)
	}
	return ps.reg.UnmarshalBinary(blob[8:])
}

// recomputeSegments recomputes every user's segments and timer after the
// segment definitions changed, each at the user's own latest known time
// (timers then bring them up to the clock, with facts at the deadlines).
// The recomputation itself emits no facts: a changed definition is not
// something the user did. The bitmap snapshot is invalidated.
func (ps *PartitionState) recomputeSegments() error {
	b := ps.store.NewBatch()
	defer b.Close()
	n := 0
	err := ps.store.ForEachUser(func(r *state.UserRecord) error {
		m, next := ps.proc.segs.compute(r, latestTime(r))
		if m == r.Segments && next == r.TimerDue {
			return nil
		}
		b.SetTimer(r.UserID, r.TimerDue, next)
		r.Segments, r.TimerDue = m, next
		b.PutUser(r)
		if n++; n%10_000 == 0 {
			return b.Commit(false)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("stream: partition %d: recompute segments after a definition change: %w", ps.partition, err)
	}
	b.DeleteBlob(blobSegments)
	b.PutBlob(blobCatalog, []byte(strings.Join(ps.proc.segs.catalog.Names(), "\n")))
	return b.Commit(true)
}

// latestTime is the newest time the record knows of.
func latestTime(r *state.UserRecord) int64 {
	t := max(r.LastPurchase, r.CartUpdated, r.PushChanged, r.EmailChanged, r.SMSChanged, r.UninstalledAt, r.PremiumAt, r.LastDecisionAt)
	for _, v := range r.LastSeen {
		t = max(t, v)
	}
	for ch := range r.LastDelivered {
		t = max(t, r.LastDelivered[ch], r.LastEngaged[ch])
	}
	for _, te := range r.Tracked {
		if len(te.Times) > 0 {
			t = max(t, te.Times[len(te.Times)-1])
		}
	}
	return t
}

// RebuildSegments sets the bitmaps from the segment membership stored in
// every user record of the partition. Before the scan of the stored users
// has begun, it also fills the filter of stored users (see storedUsers):
// it reads every one of them anyway.
func (ps *PartitionState) RebuildSegments() error {
	n := ps.proc.segs.catalog.Len()
	fill := !ps.stored.ready && ps.stored.after == nil && ps.stored.users == 0
	err := ps.store.ForEachUser(func(r *state.UserRecord) error {
		ps.reg.AddUser(r.DenseID)
		for id := 0; id < n; id++ {
			if maskHas(&r.Segments, id) {
				ps.reg.Set(id, r.DenseID, true)
			}
		}
		if fill {
			ps.stored.add(ps.cache.hash(r.UserID))
		}
		return nil
	})
	if err == nil && fill {
		ps.stored.ready = true
	}
	return err
}

func (ps *PartitionState) putSnapshot(b *state.Batch, next int64) error {
	data, err := ps.reg.MarshalBinary()
	if err != nil {
		return fmt.Errorf("stream: snapshot segments of partition %d: %w", ps.partition, err)
	}
	blob := make([]byte, 8, 8+len(data))
	binary.BigEndian.PutUint64(blob, uint64(next))
	b.PutBlob(blobSegments, append(blob, data...))
	b.PutBlob(blobCatalog, []byte(strings.Join(ps.proc.segs.catalog.Names(), "\n")))
	ps.catalogStored = true
	return nil
}

// updateSegments recomputes cu's segments at the cause's time and emits a
// fact, a bitmap change and the segment campaigns for every change; it
// re-arms the user's timer at the next deadline.
func (ps *PartitionState) updateSegments(cu *cachedUser, c *cause) {
	rec := &cu.rec
	m, next := ps.proc.segs.compute(rec, c.at)
	if next != rec.TimerDue {
		rec.TimerDue = next
		if next != 0 && (ps.minDue == 0 || next < ps.minDue) {
			ps.minDue = next
		}
		if next != 0 && next != cu.due && (ps.minArmed == 0 || next < ps.minArmed) {
			ps.minArmed = next
		}
	}
	if m == rec.Segments {
		return
	}
	old := rec.Segments
	rec.Segments = m
	// Exits first, then entries: a user moving from one segment to another
	// leaves before arriving.
	for _, entering := range [2]bool{false, true} {
		for w := range m {
			diff := old[w] &^ m[w]
			if entering {
				diff = m[w] &^ old[w]
			}
			for diff != 0 {
				bit := bits.TrailingZeros64(diff)
				diff &= diff - 1
				ps.segmentChanged(rec, w*64+bit, entering, c)
			}
		}
	}
}

func (ps *PartitionState) segmentChanged(rec *state.UserRecord, id int, entered bool, c *cause) {
	ps.changes = append(ps.changes, bitmap.Change{ID: rec.DenseID, Segment: id, Entered: entered})
	dir := "exit"
	if entered {
		dir = "enter"
	}
	name := ps.proc.segs.catalog.Name(id)
	ps.emitFact(&sinks.Fact{
		FactID:    ps.scratchID("segment:", name, ":", dir, ":", c.ref(ps)),
		Kind:      sinks.FactSegmentChange,
		UserID:    rec.UserID,
		At:        ps.formatTime(c.at),
		Segment:   name,
		Entered:   &entered,
		Cause:     causeName(c),
		MessageID: c.messageID,
	})
	cps := ps.proc.byExit[id]
	if entered {
		cps = ps.proc.byEnter[id]
	}
	for _, cp := range cps {
		ps.decide(cp, rec, c, dir+":"+name)
	}
}

// TimersDue reports whether a timer may be due at now.
func (ps *PartitionState) TimersDue(now int64) bool { return ps.minDue != 0 && now >= ps.minDue }

// FireTimers fires up to limit timers due at or before now, in due order,
// each at its own due time, and returns how many fired. It sees the timers
// of committed state; a user re-armed since is skipped (the new due time
// is in the record and reaches the index at commit, which CommitDue then
// asks for).
func (ps *PartitionState) FireTimers(now int64, limit int) (int, error) {
	type due struct {
		at   int64
		user string
	}
	if err := ps.WaitCommit(); err != nil { // the index as last committed
		return 0, err
	}
	dues := make([]due, 0, 16)
	err := ps.store.DueTimersFrom(ps.timerFloor, now, limit, func(at int64, user string) error {
		dues = append(dues, due{at, strings.Clone(user)})
		return nil
	})
	if err != nil {
		return 0, err
	}
	fired := 0
	for _, d := range dues {
		cu, err := ps.user(d.user)
		if err != nil {
			return fired, err
		}
		if cu.rec.TimerDue != d.at {
			// Re-armed since the last commit: the entry moves at the next
			// commit, which should come soon so it is not read again.
			ps.indexStale = true
			continue
		}
		c := timerCause(d.user, d.at)
		ps.updateSegments(cu, &c)
		ps.markDirty(cu)
		fired++
	}
	// Every entry before the last one read was seen here, and moves (fired
	// and re-armed, or stale) at the next commit, which lowers the floor
	// again for any timer it sets earlier.
	if len(dues) == limit {
		ps.nextFloor = dues[len(dues)-1].at
	} else if now < math.MaxInt64 {
		ps.nextFloor = now + 1
	}
	if len(dues) < limit {
		// Every committed timer up to now was seen: the next is later.
		// Users re-armed since the last commit are not in the index yet.
		ps.minDue = ps.minArmed
		// The entries read here are still in the index until the commit
		// moves them: look past them.
		if n, ok, err := ps.store.NextTimerFrom(max(ps.timerFloor, ps.nextFloor)); err != nil {
			return fired, err
		} else if ok && (ps.minDue == 0 || n < ps.minDue) {
			ps.minDue = n
		}
	}
	return fired, nil
}

// Watermark returns the largest event time the partition has seen.
func (ps *PartitionState) Watermark() int64 { return ps.watermark }

// EmitSizes emits one segment_size fact per segment with this partition's
// current size, at time now.
func (ps *PartitionState) EmitSizes(now int64) {
	cat := ps.proc.segs.catalog
	sizes := ps.reg.Sizes()
	at := formatTime(now)
	part := ps.partition
	for id, size := range sizes {
		name := cat.Name(id)
		ps.emitFact(&sinks.Fact{
			FactID:    "size:" + name + ":" + strconv.Itoa(int(part)) + ":" + at,
			Kind:      sinks.FactSegmentSize,
			At:        at,
			Segment:   name,
			Partition: &part,
			Size:      &size,
		})
	}
}

// DropSegmentSnapshot deletes the segment bitmaps saved with a partition's
// state, so that the next NewPartitionState rebuilds them from the user
// records (as after a missing or corrupt snapshot). Benchmarks use it to
// time the rebuild.
func DropSegmentSnapshot(store *state.Partition) error {
	b := store.NewBatch()
	defer b.Close()
	b.DeleteBlob(blobSegments)
	return b.Commit(true)
}
