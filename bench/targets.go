package bench

import "fmt"

// Issue 4's targets, for a 2-core machine.
const (
	TargetE2ERatio        = 0.8     // e2e ≥ 0.8 × ceiling
	TargetPipelinePerCore = 500_000 // pipeline events/s per core
	TargetPipelineAllocs  = 2       // allocations per event, at most
	TargetLatencyP99Ms    = 10      // p99 event→decision at half the maximum
	TargetMemoryUsers     = 10_000_000
	TargetMemoryRSSBytes  = 3_000_000_000
	TargetRestoreUsers    = 1_000_000
	TargetRestoreSeconds  = 5
	targetHalfRateMargin  = 0.05 // a latency phase within 5% of half the throughput counts
)

// Target is one of issue 4's targets and what a run says of it: Met is
// nil when the run did not measure it as the target is stated (e.g.
// memory with fewer than 10M users, or any with Quick sizes), Measured
// says what it did measure.
type Target struct {
	Name     string `json:"name"`
	Target   string `json:"target"`
	Met      *bool  `json:"met,omitempty"`
	Measured string `json:"measured"`
}

// CheckTargets checks the run's results against issue 4's targets.
func (r *Results) CheckTargets() []Target {
	verdict := func(ok bool) *bool { return &ok }
	var ts []Target

	t := Target{Name: "e2e", Target: fmt.Sprintf("e2e ≥ %.1f × ceiling", TargetE2ERatio), Measured: "not run (e2e and ceiling)"}
	if c := r.Ceiling; c != nil && r.E2E != nil && c.Ratio > 0 {
		t.Met = verdict(c.Ratio >= TargetE2ERatio)
		t.Measured = fmt.Sprintf("%.2f (%.0f of %.0f events/s; the CPU allows %.2f)", c.Ratio, r.E2E.EventsPerSecond, c.EventsPerSecond, c.RatioCPUBound)
	}
	ts = append(ts, t)

	t = Target{Name: "pipeline", Target: fmt.Sprintf("pipeline ≥ %d events/s per core, ≤ %d allocations/event", TargetPipelinePerCore, TargetPipelineAllocs), Measured: "not run"}
	if p := r.Pipeline; p != nil {
		t.Met = verdict(p.EventsPerCPUSecond >= TargetPipelinePerCore && p.AllocsPerEvent <= TargetPipelineAllocs)
		t.Measured = fmt.Sprintf("%.0f events/s per core, %.1f allocations/event", p.EventsPerCPUSecond, p.AllocsPerEvent)
	}
	ts = append(ts, t)

	t = Target{Name: "latency", Target: fmt.Sprintf("p99 event→decision ≤ %d ms at half the maximum throughput", TargetLatencyP99Ms), Measured: "not run (e2e)"}
	if e := r.E2E; e != nil && e.LatencyMatched > 0 {
		half := e.EventsPerSecond / 2
		t.Measured = fmt.Sprintf("p99 %.1f ms at %.0f events/s offered (half the maximum: %.0f)", e.P99Ms, e.OfferedPerSec, half)
		if e.OfferedPerSec >= (1-targetHalfRateMargin)*half {
			// At half the maximum or more: a p99 within the target there
			// meets it; one above it misses it only at half the maximum.
			switch {
			case e.P99Ms <= TargetLatencyP99Ms:
				t.Met = verdict(true)
			case e.OfferedPerSec <= (1+targetHalfRateMargin)*half:
				t.Met = verdict(false)
			}
		}
	}
	ts = append(ts, t)

	t = Target{Name: "memory", Target: fmt.Sprintf("%dM users in ≤ %.0f GB RSS", TargetMemoryUsers/1_000_000, TargetMemoryRSSBytes/1e9), Measured: "not run"}
	if m := r.Memory; m != nil {
		t.Measured = fmt.Sprintf("%.0f MB RSS with %d users", float64(m.RSSBytes)/1e6, m.Users)
		rss, users := m.RSSBytes, m.Users
		for _, c := range m.Checkpoints {
			if c.Users == TargetMemoryUsers {
				rss, users = c.RSSBytes, c.Users
				t.Measured += fmt.Sprintf(", %.0f MB at %d", float64(rss)/1e6, users)
			}
		}
		switch {
		case users == TargetMemoryUsers || (users > TargetMemoryUsers && rss <= TargetMemoryRSSBytes):
			// More users in the bound meet it too.
			t.Met = verdict(rss <= TargetMemoryRSSBytes)
		case users > TargetMemoryUsers:
			t.Measured += fmt.Sprintf(" (the target is for %d users; this run did not stop at them)", TargetMemoryUsers)
		default:
			t.Measured += fmt.Sprintf(" (the target is for %d: --users %d memory)", TargetMemoryUsers, TargetMemoryUsers)
		}
	}
	ts = append(ts, t)

	t = Target{Name: "restore", Target: fmt.Sprintf("restore of %dM users ≤ %d s", TargetRestoreUsers/1_000_000, TargetRestoreSeconds), Measured: "not run"}
	if x := r.Restore; x != nil {
		slower := max(x.SnapshotSeconds, x.RebuildSeconds)
		t.Measured = fmt.Sprintf("%.3f s rebuilt from the records, %.3f s from the snapshot, %d users", x.RebuildSeconds, x.SnapshotSeconds, x.Users)
		switch {
		case x.Users == TargetRestoreUsers || (x.Users > TargetRestoreUsers && slower <= TargetRestoreSeconds):
			// More users restored in the time meet it too.
			t.Met = verdict(slower <= TargetRestoreSeconds)
		default:
			t.Measured += fmt.Sprintf(" (the target is for %d: --restore-users %d restore)", TargetRestoreUsers, TargetRestoreUsers)
		}
	}
	ts = append(ts, t)
	if r.Quick {
		// Quick sizes measure start-up more than the steady state.
		for i := range ts {
			if ts[i].Met != nil {
				ts[i].Met = nil
				ts[i].Measured += " (quick sizes: no verdict)"
			}
		}
	}
	return ts
}
