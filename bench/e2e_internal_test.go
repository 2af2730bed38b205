package bench

import (
	"encoding/json"
	"os"
	"syscall"
	"testing"

	"github.com/rekindle/rekindle/sinks"
)

// The latency instrument finds the message id in facts and decisions as the
// sinks encoders write them, the same as decoding them would.
func TestOutputMessageIDs(t *testing.T) {
	entered := true
	facts := []sinks.Fact{
		{FactID: "f1", Kind: sinks.FactSegmentChange, UserID: "u", At: "2026-11-30T00:00:00.000Z", Segment: "lapsed", Entered: &entered, Cause: "event", MessageID: "9b1e-4c"},
		{FactID: "f2", Kind: sinks.FactSegmentChange, UserID: `"message_id":"fake"`, At: "x", Segment: "lapsed", Entered: &entered},
		{FactID: "f3", Kind: "suppression", UserID: "u", At: "x", Reason: `,"message_id":"no`, MessageID: "m-3"},
	}
	for _, f := range facts {
		v := sinks.AppendFact(nil, &f)
		if got := string(factMessageID(v)); got != f.MessageID {
			t.Errorf("factMessageID(%s) = %q, want %q", v, got, f.MessageID)
		}
	}
	decisions := []sinks.Decision{
		{DecisionID: "d1", UserID: "u", Channel: "push", Trigger: sinks.Trigger{Event: "Order Completed", MessageID: "m-1", Topic: "events", Offset: 7}},
		{DecisionID: "d2", UserID: `,"trigger":{"message_id":"fake"}`, Channel: "push", Trigger: sinks.Trigger{Timer: "lapsed", Topic: "events"},
			Attributes: sinks.Attributes{Properties: json.RawMessage(`{"message_id":"fake","nested":{"trigger":{"message_id":"x"}}}`)}},
		{DecisionID: "d4", Trigger: sinks.Trigger{Event: `Order} "Completed"`, MessageID: "m-4"}},
		{DecisionID: "d3", Trigger: sinks.Trigger{MessageID: "m-3"},
			Attributes: sinks.Attributes{Properties: json.RawMessage(`{"message_id":"fake"}`)}},
	}
	for _, d := range decisions {
		v := sinks.AppendDecision(nil, &d)
		var back sinks.Decision
		if err := json.Unmarshal(v, &back); err != nil {
			t.Fatal(err)
		}
		if got := string(decisionMessageID(v)); got != back.Trigger.MessageID {
			t.Errorf("decisionMessageID(%s) = %q, want %q", v, got, back.Trigger.MessageID)
		}
	}
}

// minorFaults counts the pages a phase touches for the first time, and
// freshPageMicros prices one.
func TestMinorFaultsCountFreshPages(t *testing.T) {
	const pages = 256
	page := os.Getpagesize()
	b, err := syscall.Mmap(-1, 0, pages*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(b)
	before := minorFaults()
	for i := 0; i < len(b); i += page {
		b[i] = 1
	}
	if got := minorFaults() - before; got < pages {
		t.Errorf("touching %d fresh pages counted %d minor faults, want at least %d", pages, got, pages)
	}
	if us := freshPageMicros(3); us <= 0 || us > 10_000 {
		t.Errorf("freshPageMicros = %g µs, want a positive price below 10 ms", us)
	}
}

// The latency phase writes what is due, never more than a fiftieth of a
// second's events at once, and stops at its limit.
func TestOfferNowSpreadsABacklog(t *testing.T) {
	for _, c := range []struct {
		due, generated, limit int64
		rate                  int
		want                  int64
	}{
		{due: 700, generated: 0, limit: 1 << 40, rate: 140_000, want: 700},             // on time: 5 ms of events
		{due: 140_000, generated: 0, limit: 1 << 40, rate: 140_000, want: 2_800},       // a second behind: 20 ms of it
		{due: 140_000, generated: 139_000, limit: 1 << 40, rate: 140_000, want: 1_000}, // catching up
		{due: 5_000, generated: 4_990, limit: 4_995, rate: 140_000, want: 5},           // the limit
		{due: 3, generated: 0, limit: 1 << 40, rate: 10, want: 1},                      // a low rate still offers
		{due: 100, generated: 100, limit: 1 << 40, rate: 140_000, want: 0},             // nothing due
	} {
		if got := offerNow(c.due, c.generated, c.limit, c.rate); got != c.want {
			t.Errorf("offerNow(due %d, generated %d, limit %d, rate %d) = %d, want %d", c.due, c.generated, c.limit, c.rate, got, c.want)
		}
	}
}

// TestMedianPass: the middle pass by events per CPU second, the slower of
// the two middle ones for an even number.
func TestMedianPass(t *testing.T) {
	runs := func(v ...float64) []PipelineRun {
		r := make([]PipelineRun, len(v))
		for i := range v {
			r[i].EventsPerCPUSecond = v[i]
		}
		return r
	}
	for _, c := range []struct {
		runs []PipelineRun
		want int
	}{
		{runs(5), 0},
		{runs(300, 600, 500), 2},
		{runs(600, 300, 500), 2},
		{runs(500, 600, 300), 0},
		{runs(400, 300), 1},
		{runs(1, 4, 3, 2), 3},
	} {
		if got := medianPass(c.runs); got != c.want {
			t.Errorf("medianPass(%+v) = %d, want %d", c.runs, got, c.want)
		}
	}
}
