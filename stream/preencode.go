package stream

import (
	"bytes"
	"fmt"
	"slices"
	"time"
	"unsafe"

	"github.com/rekindle/rekindle/state"
)

// encState says whether a dirty record is encoded ahead of the next commit.
type encState uint8

const (
	encNone  encState = iota
	encFresh          // encoded as commitUsers[pos], unchanged since
	encStale          // changed since it was encoded: listed in ps.stale
)

// A commit encodes every dirty record on the worker (the records change
// once it goes on), which pauses the partition: 10-16 ms for the 30,000
// records a second of 100,000 events/s dirties. PreEncode does that work
// ahead, while the worker would otherwise wait for input, in the last
// quarter of the interval before the commit is due (at most 250 ms): the dirty
// records not encoded yet, then those changed since they were (ps.stale),
// again. The commit encodes only what is left: the records changed or
// dirtied after the last idle moment.

// preEncodeShare: the part of state.commit_interval before a commit in
// which idle workers encode ahead, at most maxPreEncodeWindow: a record
// encoded again leaves its earlier bytes in the commit's buffer, so the
// window bounds them by what arrives in it (at 100,000 events/s about 6 MB
// at most), whatever the interval.
const (
	preEncodeShare     = 4 // the last quarter
	maxPreEncodeWindow = 250 * time.Millisecond
)

// preEncodeChunk is how many records the worker encodes ahead at a time
// before it looks for input again (about 30 µs of work).
const preEncodeChunk = 100

// preEncodeAlways makes PreEncodeDue say yes whenever records wait
// (tests: every idle moment exercises the path).
var preEncodeAlways = false

// PreEncodeDue reports whether there are dirty records to encode ahead and
// the next commit is near enough for it.
func (ps *PartitionState) PreEncodeDue() bool {
	if len(ps.commitUsers) >= len(ps.dirty) && len(ps.stale) == 0 {
		return false
	}
	if preEncodeAlways {
		return true
	}
	window := min(time.Duration(ps.proc.cfg.State.CommitInterval)/preEncodeShare, maxPreEncodeWindow)
	return time.Until(ps.nextCommit) < window
}

// PreEncode encodes up to n dirty records ahead of the next commit and
// reports whether more remain. It does nothing while a commit is being
// applied (its buffers are in use) and returns false then.
func (ps *PartitionState) PreEncode(n int) (bool, error) {
	if ps.inflight != nil {
		select {
		case d := <-ps.inflight:
			if err := ps.landed(d); err != nil {
				return false, err
			}
		default:
			return false, nil
		}
	}
	for ; n > 0 && len(ps.commitUsers) < len(ps.dirty); n-- {
		ps.encodeNext()
	}
	// Then those changed since: again, as they are now.
	for ; n > 0 && len(ps.stale) > 0; n-- {
		ps.encodeStale()
	}
	return len(ps.commitUsers) < len(ps.dirty) || len(ps.stale) > 0, nil
}

// encodeStale encodes the last record of ps.stale again and takes it off.
func (ps *PartitionState) encodeStale() {
	k := len(ps.stale) - 1
	if k >= 2 {
		prefetchLines(unsafe.Pointer(ps.dirty[ps.stale[k-2]]), unsafe.Sizeof(cachedUser{}))
	}
	ps.encodeAt(int(ps.stale[k]))
	ps.stale = ps.stale[:k]
}

// encodeNext encodes the first dirty record not encoded yet.
func (ps *PartitionState) encodeNext() {
	i := len(ps.commitUsers)
	// The records have mostly gone cold since they were changed: loading
	// them ahead cuts the encoding's time by a third.
	if i+2 < len(ps.dirty) {
		prefetchLines(unsafe.Pointer(ps.dirty[i+2]), unsafe.Sizeof(cachedUser{}))
	}
	if len(ps.commitUsers) == cap(ps.commitUsers) {
		ps.commitUsers = slices.Grow(ps.commitUsers, max(cap(ps.commitUsers), 1024))
	}
	ps.commitUsers = append(ps.commitUsers, pendingUser{})
	ps.encodeAt(i)
}

// maxRecordGrowth: the room encodeAt leaves append for one record before it
// doubles commitVals itself (a larger record still fits, by append).
const maxRecordGrowth = 4 << 10

// encodeAt encodes dirty record i as commitUsers[i], appending its bytes to
// commitVals (a stale record's earlier bytes stay there unused).
func (ps *PartitionState) encodeAt(i int) {
	cu := ps.dirty[i]
	start := len(ps.commitVals)
	if cap(ps.commitVals)-start < maxRecordGrowth {
		// Double: append would grow a buffer this large by a quarter at
		// a time, copying it over and over (a commit's encodings take
		// megabytes; the buffer is kept for the next commits).
		ps.commitVals = slices.Grow(ps.commitVals, max(cap(ps.commitVals), 64<<10))
	}
	ps.commitVals = state.AppendRecord(ps.commitVals, &cu.rec)
	ps.commitUsers[i] = pendingUser{
		userID: cu.rec.UserID, denseID: cu.rec.DenseID, isNew: cu.isNew,
		start: start, end: len(ps.commitVals),
		oldDue: cu.due, newDue: cu.rec.TimerDue,
	}
	cu.enc = encFresh
}

// EncodeAheadForTests makes idle workers encode dirty records ahead of
// every commit whenever there are any (not only near the commit), and every
// commit check that none changed behind its encoding (see verifyEncoded):
// tests of the whole pipeline call it before they start one.
func EncodeAheadForTests() {
	preEncodeAlways, verifyEncoded = true, true
}

// verifyEncoded makes every commit check that each record encoded ahead
// and not listed as stale still encodes to the same bytes (tests: a change
// to a record that is not followed by markDirty would otherwise be lost).
var verifyEncoded = false

func (ps *PartitionState) verifyPreEncoded() {
	if !verifyEncoded {
		return
	}
	var buf []byte
	for i := range ps.commitUsers {
		cu, u := ps.dirty[i], &ps.commitUsers[i]
		if cu.enc != encFresh {
			continue
		}
		buf = state.AppendRecord(buf[:0], &cu.rec)
		if !bytes.Equal(buf, ps.commitVals[u.start:u.end]) || u.newDue != cu.rec.TimerDue || u.isNew != cu.isNew || u.userID != cu.rec.UserID {
			panic(fmt.Sprintf("stream: partition %d: user %q changed after it was encoded ahead of the commit, and was not marked dirty", ps.partition, cu.rec.UserID))
		}
	}
}
