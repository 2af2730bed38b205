package state

import (
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Pebble's Open waits for every compaction under way before it returns, and
// a flush during Open (of what it replays from the WAL) starts one when L0
// is over its threshold: after a run whose compactions were paced, a
// reopen waited 1-1.4 s for 1M users' state. gatedScheduler is Pebble's
// compaction scheduler (Options.Experimental.CompactionScheduler) with a
// gate: closed during Open, so that the compactions Pebble picks wait, and
// opened when Open has returned, when they run in the background. Apart
// from the gate it does what Pebble's default ConcurrencyLimitScheduler
// does: at most what the DB allows without permission run at once, and
// waiting compactions are granted when one ends, when the DB says it
// allows more, and every 100 ms.
type gatedScheduler struct {
	db pebble.DBForCompaction

	mu         sync.Mutex
	held       bool // the gate is closed
	running    int
	granting   bool // one goroutine grants at a time
	grantDone  *sync.Cond
	registered bool
	started    bool // the granter runs
	stop, done chan struct{}
	stopOnce   sync.Once
	poke       chan struct{}
}

var (
	_ pebble.CompactionScheduler   = (*gatedScheduler)(nil)
	_ pebble.CompactionGrantHandle = (*gatedScheduler)(nil)
)

// schedulerTick is how often waiting compactions are looked at.
const schedulerTick = 100 * time.Millisecond

func newGatedScheduler() *gatedScheduler {
	s := &gatedScheduler{held: true, stop: make(chan struct{}), done: make(chan struct{}), poke: make(chan struct{}, 1)}
	s.grantDone = sync.NewCond(&s.mu)
	return s
}

// Register implements pebble.CompactionScheduler.
func (s *gatedScheduler) Register(_ int, db pebble.DBForCompaction) {
	s.mu.Lock()
	s.db, s.registered, s.started = db, true, true
	s.mu.Unlock()
	go s.granter()
}

// Unregister implements pebble.CompactionScheduler: no call to the DB
// after it returns.
func (s *gatedScheduler) Unregister() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started {
		<-s.done
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.registered = false
	for s.granting {
		s.grantDone.Wait()
	}
}

// open opens the gate: the compactions waiting start.
func (s *gatedScheduler) open() {
	s.mu.Lock()
	s.held = false
	s.grantAndUnlock()
}

// TrySchedule implements pebble.CompactionScheduler.
func (s *gatedScheduler) TrySchedule() (bool, pebble.CompactionGrantHandle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held || !s.registered || s.db.GetAllowedWithoutPermission() <= s.running {
		return false, nil
	}
	s.running++
	return true, s
}

// UpdateGetAllowedWithoutPermission implements pebble.CompactionScheduler.
func (s *gatedScheduler) UpdateGetAllowedWithoutPermission() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// Started, MeasureCPU and CumulativeStats implement
// pebble.CompactionGrantHandle: nothing to measure or pace here (the
// pacing is pacedFS's).
func (s *gatedScheduler) Started()                                          {}
func (s *gatedScheduler) MeasureCPU(pebble.CompactionGoroutineKind)         {}
func (s *gatedScheduler) CumulativeStats(pebble.CompactionGrantHandleStats) {}

// Done implements pebble.CompactionGrantHandle: a compaction ended.
func (s *gatedScheduler) Done() {
	s.mu.Lock()
	s.running--
	s.grantAndUnlock()
}

func (s *gatedScheduler) granter() {
	defer close(s.done)
	tick := time.NewTicker(schedulerTick)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		case <-s.poke:
		}
		s.mu.Lock()
		s.grantAndUnlock()
	}
}

// grantAndUnlock starts waiting compactions while the DB allows more than
// run, then unlocks s.mu (held on entry). The DB is called without s.mu:
// Schedule runs the compaction's start, which may call TrySchedule.
func (s *gatedScheduler) grantAndUnlock() {
	defer s.mu.Unlock()
	for s.granting {
		s.grantDone.Wait()
	}
	if s.held || !s.registered {
		return
	}
	toGrant := s.db.GetAllowedWithoutPermission() - s.running
	if toGrant <= 0 {
		return
	}
	s.granting = true
	s.mu.Unlock()
	for ; toGrant > 0; toGrant-- {
		if waiting, _ := s.db.GetWaitingCompaction(); !waiting {
			break
		}
		s.mu.Lock()
		s.running++ // before the compaction can end and call Done
		s.mu.Unlock()
		if !s.db.Schedule(s) {
			s.mu.Lock()
			s.running--
			s.mu.Unlock()
			break
		}
	}
	s.mu.Lock()
	s.granting = false
	s.grantDone.Broadcast()
}
