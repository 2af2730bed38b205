package state

import (
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// The store's background writers, memtable flushes and compactions, work in
// bursts: a compaction runs flat out on a core for 0.1-0.5 s. On a machine
// whose cores the workers and the broker keep busy, a burst queues
// everything behind it; the event→decision latency tail at 210,000 events/s
// on 2 cores lined up with them. A paced writer works at most a duty cycle
// of its wall time: after each slice of work, measured from one write of
// its file to the next, it sleeps in proportion before the next write. The
// work is the same, spread out. While compaction debt builds (L0 at twice
// the compaction threshold, memtables queued for flushing, a write stall)
// pacing is off, so that the store never stalls writes for it.

// DefaultBackgroundDuty is the share of wall time a flush or compaction may
// work (Options.BackgroundDuty).
const DefaultBackgroundDuty = 0.5

// paceSlice is the work a paced writer does between sleeps: short against
// the latency it protects, long against a sleep's own cost.
const paceSlice = 2 * time.Millisecond

// paceCheck is how often the store looks at its compaction debt.
const paceCheck = 100 * time.Millisecond

// Pebble's categories of the files its flushes and compactions write.
const (
	categoryFlush      vfs.DiskWriteCategory = "pebble-memtable-flush"
	categoryCompaction vfs.DiskWriteCategory = "pebble-compaction"
)

// pacer holds what the paced files share.
type pacer struct {
	pause float64      // sleep per unit of work: (1 − duty) / duty
	off   atomic.Bool  // compaction debt: work flat out
	files atomic.Int64 // paced files created
	slept atomic.Int64 // nanoseconds
	offs  atomic.Int64 // debt checks that turned it off
	now   func() time.Time
	sleep func(time.Duration)
}

func newPacer(duty float64) *pacer {
	return &pacer{pause: (1 - duty) / duty, now: time.Now, sleep: time.Sleep}
}

// inDebt reports whether the store is behind with its background work: the
// pacer is then off.
func inDebt(m *pebble.Metrics, stalled bool) bool {
	return stalled || m.Levels[0].Sublevels >= 2*l0CompactionThreshold || m.MemTable.Count > 2
}

// pacedFS paces the files flushes and compactions create.
type pacedFS struct {
	vfs.FS
	p *pacer
}

func (fs pacedFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	if err != nil || (category != categoryFlush && category != categoryCompaction) {
		return f, err
	}
	fs.p.files.Add(1)
	return &pacedFile{File: f, p: fs.p, since: fs.p.now()}, nil
}

type pacedFile struct {
	vfs.File
	p     *pacer
	since time.Time // when the current slice of work began
}

func (f *pacedFile) Write(b []byte) (int, error) {
	now := f.p.now()
	if worked := now.Sub(f.since); worked >= paceSlice {
		if !f.p.off.Load() {
			d := time.Duration(float64(worked) * f.p.pause)
			f.p.sleep(d)
			f.p.slept.Add(int64(d))
			now = f.p.now()
		}
		f.since = now
	}
	return f.File.Write(b)
}
