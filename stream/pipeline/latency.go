package pipeline

import (
	"context"
	"sync"
	"time"

	"github.com/rekindle/rekindle/stream"
)

// ProcessorLatency is the inputs' time in the processor, since the start
// and over the last minute.
type ProcessorLatency struct {
	LatencyQuantiles
	LastMinute RecentLatency `json:"last_minute"`
}

// RecentLatency covers the inputs processed in the last Seconds (a minute
// to a minute and 10 s; less in a process's first minute).
type RecentLatency struct {
	Seconds float64 `json:"seconds"`
	LatencyQuantiles
}

// LatencyQuantiles: quantiles, in milliseconds (at most about 6% high), of
// the time from the arrival of an input's fetch response to the worker
// starting on it (started), to its batch's outputs handed to the producer
// (written, over samples inputs) and acknowledged by Kafka (acked, over
// acked inputs).
type LatencyQuantiles struct {
	// Started: until the worker started on the input's response (the
	// rest of written is processing and the wait for the outputs of the
	// batch before).
	StartedP50  float64 `json:"started_p50"`
	StartedP99  float64 `json:"started_p99"`
	Samples     int64   `json:"samples"`
	WrittenP50  float64 `json:"written_p50"`
	WrittenP99  float64 `json:"written_p99"`
	WrittenP999 float64 `json:"written_p999"`
	Acked       int64   `json:"acked"`
	AckedP50    float64 `json:"acked_p50"`
	AckedP99    float64 `json:"acked_p99"`
	AckedP999   float64 `json:"acked_p999"`
}

// latencySample is the runner's latency histograms at a moment.
type latencySample struct {
	at                      time.Time
	started, written, acked stream.LatencySnapshot
}

func sampleLatency(st *stream.Stats, now time.Time) latencySample {
	return latencySample{at: now, started: st.Latency.Started.Snapshot(), written: st.Latency.Written.Snapshot(), acked: st.Latency.Acked.Snapshot()}
}

// quantiles summarizes what was counted between base and s.
func (s *latencySample) quantiles(base *latencySample) LatencyQuantiles {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b, w, a := s.started.Sub(base.started), s.written.Sub(base.written), s.acked.Sub(base.acked)
	return LatencyQuantiles{
		StartedP50: ms(b.Quantile(0.5)), StartedP99: ms(b.Quantile(0.99)),
		Samples: w.Count(), WrittenP50: ms(w.Quantile(0.5)), WrittenP99: ms(w.Quantile(0.99)), WrittenP999: ms(w.Quantile(0.999)),
		Acked: a.Count(), AckedP50: ms(a.Quantile(0.5)), AckedP99: ms(a.Quantile(0.99)), AckedP999: ms(a.Quantile(0.999)),
	}
}

// latencyTick is how often the last minute's window moves.
const latencyTick = 10 * time.Second

// latencyWindow keeps the samples of the last minute, one every
// latencyTick: the oldest is the base of the last minute's quantiles.
type latencyWindow struct {
	mu    sync.Mutex
	start latencySample // zero counts, at the start
	ring  [7]latencySample
	n     int // samples in ring, at most len(ring)
	next  int // where the next goes
}

func newLatencyWindow(now time.Time) *latencyWindow {
	return &latencyWindow{start: latencySample{at: now}}
}

func (w *latencyWindow) add(s latencySample) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ring[w.next] = s
	w.next = (w.next + 1) % len(w.ring)
	w.n = min(w.n+1, len(w.ring))
}

// base returns the oldest sample of the last minute (the start while the
// process is younger than that).
func (w *latencyWindow) base() latencySample {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n < len(w.ring) {
		return w.start
	}
	return w.ring[w.next] // the oldest, next to be replaced
}

// sampleLatencies feeds the window until ctx ends.
func (p *Pipeline) sampleLatencies(ctx context.Context) {
	tick := time.NewTicker(latencyTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			p.latency.add(sampleLatency(p.Runner.Stats(), now))
		}
	}
}

// processorLatency summarizes the runner's histograms since the start and
// over the last minute.
func (p *Pipeline) processorLatency() ProcessorLatency {
	return p.latency.report(sampleLatency(p.Runner.Stats(), time.Now()))
}

// report summarizes now against the start and the last minute's base.
func (w *latencyWindow) report(now latencySample) ProcessorLatency {
	base := w.base()
	return ProcessorLatency{
		LatencyQuantiles: now.quantiles(&w.start),
		LastMinute:       RecentLatency{Seconds: now.at.Sub(base.at).Seconds(), LatencyQuantiles: now.quantiles(&base)},
	}
}
