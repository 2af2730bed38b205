package pipeline

import (
	"testing"
	"time"

	"github.com/rekindle/rekindle/stream"
)

// The last minute's quantiles count what was added since the oldest sample
// the window keeps, and everything while the process is younger than that.
func TestLatencyWindowCoversTheLastMinute(t *testing.T) {
	var st stream.Stats
	t0 := time.Unix(1_000_000, 0)
	w := newLatencyWindow(t0)
	report := func(now time.Time) ProcessorLatency { return w.report(sampleLatency(&st, now)) }
	// The first minute: 100 slow inputs (50 ms), sampled every 10 s.
	st.Latency.Written.Add(50*time.Millisecond, 100)
	st.Latency.Acked.Add(60*time.Millisecond, 100)
	for i := 1; i <= 7; i++ {
		w.add(sampleLatency(&st, t0.Add(time.Duration(i)*latencyTick)))
	}
	// Then 1000 fast ones (1 ms) over the next 70 s.
	for i := 8; i <= 14; i++ {
		st.Latency.Written.Add(time.Millisecond, 1000/7)
		st.Latency.Acked.Add(2*time.Millisecond, 1000/7)
		w.add(sampleLatency(&st, t0.Add(time.Duration(i)*latencyTick)))
	}
	l := report(t0.Add(145 * time.Second))
	if l.Samples != 100+7*(1000/7) || l.WrittenP999 < 45 {
		t.Errorf("since the start: %d samples, written p99.9 %.2f ms; want all %d and the slow ones in the tail", l.Samples, l.WrittenP999, 100+7*(1000/7))
	}
	// The oldest sample kept is from 80 s (after the 8th tick's fast
	// inputs were added): the last minute holds 6 × 142 fast inputs only.
	if m := l.LastMinute; m.Samples != 6*(1000/7) || m.WrittenP999 > 1.1 || m.AckedP99 > 2.2 || m.Seconds != 65 {
		t.Errorf("last minute: %+v; want %d fast samples over 65 s", m, 6*(1000/7))
	}

	young := newLatencyWindow(t0)
	w = young
	w.add(sampleLatency(&st, t0.Add(latencyTick)))
	if m := report(t0.Add(15 * time.Second)).LastMinute; m.Samples != 100+7*(1000/7) || m.Seconds != 15 {
		t.Errorf("a process 15 s old: last minute %+v, want everything since its start", m)
	}
}
