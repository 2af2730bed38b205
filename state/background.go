package state

import (
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// BackgroundStats is what Pebble's background work has taken since the store
// was opened: memtable flushes and compactions run on goroutines of their
// own and take a core while they last (a flush of a 64 MB memtable 0.1-0.25
// s, a compaction up to 0.3 s on the development machine), and a write
// stall holds every commit until it ends. On a machine with few cores this
// is where a latency tail comes from that no profile of the processing
// shows.
type BackgroundStats struct {
	Flushes              int64   `json:"flushes"`
	FlushSeconds         float64 `json:"flush_seconds"`
	MaxFlushSeconds      float64 `json:"max_flush_seconds"`
	Compactions          int64   `json:"compactions"`
	CompactionSeconds    float64 `json:"compaction_seconds"`
	MaxCompactionSeconds float64 `json:"max_compaction_seconds"`
	WriteStalls          int64   `json:"write_stalls"`
	WriteStallSeconds    float64 `json:"write_stall_seconds"`
	BackgroundErrors     int64   `json:"background_errors"` // flushes and compactions that failed (Pebble logs them)
	// PacedSeconds: how long flushes and compactions slept to keep to
	// Options.BackgroundDuty; PacingOff: the checks that found the store
	// behind and let them work flat out (one every 100 ms while it is).
	PacedSeconds float64 `json:"paced_seconds"`
	PacingOff    int64   `json:"pacing_off"`
}

// Sub returns the work between an earlier reading and s (the maxima are s's).
func (s BackgroundStats) Sub(before BackgroundStats) BackgroundStats {
	return BackgroundStats{
		Flushes: s.Flushes - before.Flushes, FlushSeconds: s.FlushSeconds - before.FlushSeconds, MaxFlushSeconds: s.MaxFlushSeconds,
		Compactions: s.Compactions - before.Compactions, CompactionSeconds: s.CompactionSeconds - before.CompactionSeconds,
		MaxCompactionSeconds: s.MaxCompactionSeconds,
		WriteStalls:          s.WriteStalls - before.WriteStalls, WriteStallSeconds: s.WriteStallSeconds - before.WriteStallSeconds,
		BackgroundErrors: s.BackgroundErrors - before.BackgroundErrors,
		PacedSeconds:     s.PacedSeconds - before.PacedSeconds, PacingOff: s.PacingOff - before.PacingOff,
	}
}

// background counts Pebble's flushes, compactions and write stalls as its
// event listener reports them (from Pebble's goroutines).
type background struct {
	mu         sync.Mutex
	s          BackgroundStats
	stallStart time.Time
}

func (b *background) listener() *pebble.EventListener {
	return &pebble.EventListener{
		FlushEnd: func(i pebble.FlushInfo) {
			b.ended(i.Err, i.Duration, &b.s.Flushes, &b.s.FlushSeconds, &b.s.MaxFlushSeconds)
		},
		CompactionEnd: func(i pebble.CompactionInfo) {
			b.ended(i.Err, i.TotalDuration, &b.s.Compactions, &b.s.CompactionSeconds, &b.s.MaxCompactionSeconds)
		},
		WriteStallBegin: func(pebble.WriteStallBeginInfo) {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.s.WriteStalls++
			b.stallStart = time.Now()
		},
		WriteStallEnd: func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			if !b.stallStart.IsZero() {
				b.s.WriteStallSeconds += time.Since(b.stallStart).Seconds()
				b.stallStart = time.Time{}
			}
		},
	}
}

// ended counts a flush or compaction that ended after d, or failed.
func (b *background) ended(err error, d time.Duration, count *int64, sum, longest *float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.s.BackgroundErrors++
		return
	}
	*count++
	*sum += d.Seconds()
	*longest = max(*longest, d.Seconds())
}

// stalled reports whether a write stall is in progress.
func (b *background) stalled() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.stallStart.IsZero()
}

func (b *background) stats() BackgroundStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.s
}
