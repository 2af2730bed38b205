package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/rekindle/rekindle/sinks"
	"github.com/rekindle/rekindle/stream"
	"github.com/rekindle/rekindle/stream/pipeline"
)

// Demo defaults.
const (
	DefaultDemoDuration   = 30 * time.Second
	DefaultDemoUsers      = 5000
	DefaultDemoRate       = 5000
	DefaultDemoClickHouse = "127.0.0.1:9000"
	DefaultDemoOutDir     = "demo-out"
	// DefaultDemoSimulatedDays is the event time a demo's traffic spans.
	DefaultDemoSimulatedDays = 120
)

// DemoCampaigns is the campaign configuration the demo runs with.
const DemoCampaigns = `
campaigns:
  - id: order_thanks
    trigger: {event: Order Completed}
    channels: [push, email]
    template: order-thanks
  - id: cart_nudge
    trigger: {event: Checkout Started}
    channels: [push, inapp, email]
    template: finish-your-order
  - id: welcome
    trigger: {event: Application Installed}
    channels: [push, email, sms]
    template: welcome-series-1
  - id: location_offer
    trigger: {event: Location Entered}
    channels: [push, sms]
    template: nearby-store-offer
`

// DemoConfig configures RunDemo. The zero value is valid.
type DemoConfig struct {
	Duration   time.Duration // how long traffic is produced (default DefaultDemoDuration)
	Users      int           // simulated users (default DefaultDemoUsers)
	Rate       int           // events per second offered (default DefaultDemoRate)
	Seed       int64         // generator seed (default 1)
	ClickHouse string        // native address; unreachable → JSONEachRow files (default DefaultDemoClickHouse; "off" skips it)
	OutDir     string        // state and JSONEachRow files (default DefaultDemoOutDir)
	Partitions int           // of the demo topics (default stream.DefaultPartitions)
	// SimulatedDays of event time the traffic spans (default
	// DefaultDemoSimulatedDays), so that absence segments ("lapsed", "no
	// purchase for 60 days") are entered during a short run.
	SimulatedDays float64
	Progress      io.Writer // one line per second (nil: none)
	Logger        *slog.Logger
}

// Validate reports the first invalid field.
func (c *DemoConfig) Validate() error {
	switch {
	case c.Duration < 0:
		return fmt.Errorf("bench: demo duration %s: must be positive", c.Duration)
	case c.Users < 0:
		return fmt.Errorf("bench: demo users %d: must be positive", c.Users)
	case c.Rate < 0:
		return fmt.Errorf("bench: demo rate %d: must be positive", c.Rate)
	case c.SimulatedDays < 0 || c.SimulatedDays > 3650:
		return fmt.Errorf("bench: demo simulated days %g: want 0 to 3650", c.SimulatedDays)
	case c.Partitions < 0 || c.Partitions > 256:
		return fmt.Errorf("bench: demo partitions %d: want 1 to 256", c.Partitions)
	}
	return nil
}

func (c DemoConfig) withDefaults() DemoConfig {
	if c.Duration == 0 {
		c.Duration = DefaultDemoDuration
	}
	if c.Users == 0 {
		c.Users = DefaultDemoUsers
	}
	if c.Rate == 0 {
		c.Rate = DefaultDemoRate
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.ClickHouse == "" {
		c.ClickHouse = DefaultDemoClickHouse
	}
	if c.OutDir == "" {
		c.OutDir = DefaultDemoOutDir
	}
	if c.Partitions == 0 {
		c.Partitions = stream.DefaultPartitions
	}
	if c.SimulatedDays == 0 {
		c.SimulatedDays = DefaultDemoSimulatedDays
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

// DemoSummary is what a demo did; it is also the --summary-json document.
type DemoSummary struct {
	DurationSeconds float64           `json:"duration_seconds"`
	Users           int               `json:"users"`
	Produced        int64             `json:"events_produced"`
	MalformedSent   int64             `json:"malformed_produced"`
	Processed       int64             `json:"events_processed"`
	Duplicates      int64             `json:"duplicates"`
	DLQ             int64             `json:"dlq"`
	Decisions       map[string]int64  `json:"decisions"`
	DecisionsTotal  int64             `json:"decisions_total"`
	Suppressions    int64             `json:"suppressions"`
	Facts           int64             `json:"facts"`
	EventsPerSecond float64           `json:"events_per_second"`
	Segments        map[string]uint64 `json:"segments"`  // sizes at the end
	Analytics       string            `json:"analytics"` // "clickhouse://addr/db" or the JSONEachRow directory
	LoadedRows      map[string]int64  `json:"loaded_rows"`
}

// RunDemo starts the embedded broker and the whole pipeline, offers
// synthetic traffic at cfg.Rate for cfg.Duration, waits until everything
// produced is processed and loaded, and returns the summary.
func RunDemo(ctx context.Context, cfg DemoConfig) (DemoSummary, error) {
	var sum DemoSummary
	if err := cfg.Validate(); err != nil {
		return sum, err
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return sum, fmt.Errorf("bench: demo output directory: %w", err)
	}
	stateDir := filepath.Join(cfg.OutDir, "state")
	if err := os.RemoveAll(stateDir); err != nil { // each demo starts from an empty broker, so from empty state
		return sum, err
	}
	// Event time starts now and runs SimulatedDays ahead of the wall clock,
	// so future timestamps are accepted that far (the malformed ones are
	// dated 2099).
	y := DemoCampaigns + fmt.Sprintf("kafka:\n  partitions: %d\nstate:\n  dir: %q\nhttp:\n  listen: 127.0.0.1:0\n"+
		"processing:\n  max_future_skew: %dd\nsegments:\n  sizes_interval: 5s\n", cfg.Partitions, stateDir, int(cfg.SimulatedDays)+30)
	scfg, err := stream.ParseConfig("demo", []byte(y))
	if err != nil {
		return sum, err
	}
	opts := pipeline.Options{Config: scfg, Logger: log}
	if cfg.ClickHouse != "off" && sinks.Reachable(cfg.ClickHouse, time.Second) {
		opts.Config.ClickHouse.Addr = cfg.ClickHouse
		opts.Config.ClickHouse.Database = "rekindle_demo"
		sum.Analytics = "clickhouse://" + cfg.ClickHouse + "/rekindle_demo"
	} else {
		rows := filepath.Join(cfg.OutDir, "clickhouse")
		if err := os.RemoveAll(rows); err != nil {
			return sum, err
		}
		opts.FileSinkDir = rows
		sum.Analytics = rows
		why := "ClickHouse is not reachable at " + cfg.ClickHouse
		if cfg.ClickHouse == "off" {
			why = "ClickHouse is off"
		}
		fmt.Fprintf(cfg.Progress, "%s: writing its rows as JSONEachRow files to %s/\n"+
			"  (load them later: rekindle schema | clickhouse-client --multiquery, then for each table\n"+
			"   clickhouse-client --query 'INSERT INTO rekindle.events FORMAT JSONEachRow' < %s/events.jsonl)\n",
			why, rows, rows)
	}
	p, err := pipeline.Start(ctx, opts)
	if err != nil {
		return sum, err
	}
	defer p.Close(context.Background())
	fmt.Fprintf(cfg.Progress, "embedded broker at %s, HTTP API at http://%s (try /v1/users/u000001), analytics → %s\n",
		p.Brokers[0], p.HTTPAddr, sum.Analytics)

	events := float64(cfg.Rate) * cfg.Duration.Seconds()
	step := time.Duration(cfg.SimulatedDays * float64(24*time.Hour) / max(events, 1))
	gen, err := NewGenerator(GeneratorConfig{Seed: cfg.Seed, Users: cfg.Users, Start: time.Now().UTC().Truncate(time.Second), TimeStep: step})
	if err != nil {
		return sum, err
	}
	w := sinks.NewWriter(p.Brokers, sinks.WriterOptions{})
	defer w.Close()

	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	lastReport := start
	var buf []byte
	msgs := make([]kafka.Message, 0, 1024)
	for time.Since(start) < cfg.Duration {
		select {
		case <-ctx.Done():
			return sum, ctx.Err()
		case <-tick.C:
		}
		due := int64(time.Since(start).Seconds() * float64(cfg.Rate))
		n := min(due-sum.Produced, int64(cfg.Rate)) // at most one second behind
		msgs = msgs[:0]
		buf = buf[:0]
		for i := int64(0); i < n; i++ {
			r := gen.Next(nil)
			if r.Malformed != "" {
				sum.MalformedSent++
			}
			msgs = append(msgs, kafka.Message{Topic: scfg.Topics.Events, Key: r.Key, Value: r.Value})
		}
		if len(msgs) > 0 {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return sum, fmt.Errorf("bench: demo produce: %w", err)
			}
			sum.Produced += int64(len(msgs))
		}
		if time.Since(lastReport) >= time.Second {
			lastReport = time.Now()
			printProgress(cfg.Progress, time.Since(start), sum.Produced, p)
		}
	}

	// Drain: everything produced processed, then the loader settled.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s := p.Stats()
		if s.Events+s.Duplicates+s.DLQ >= sum.Produced {
			break
		}
		if time.Now().After(deadline) {
			return sum, fmt.Errorf("bench: demo: only %d of %d events processed after 2 minutes", s.Events+s.Duplicates+s.DLQ, sum.Produced)
		}
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	if p.Loader != nil {
		waitLoaderIdle(ctx, p, 3*time.Second, time.Minute)
	}
	printProgress(cfg.Progress, time.Since(start), sum.Produced, p)

	s := p.Stats()
	sum.DurationSeconds = elapsed.Seconds()
	sum.Users = cfg.Users
	sum.Processed, sum.Duplicates, sum.DLQ = s.Events, s.Duplicates, s.DLQ
	sum.Decisions = s.Decisions
	for _, n := range s.Decisions {
		sum.DecisionsTotal += n
	}
	sum.Suppressions, sum.Facts = s.Suppressions, s.Facts
	sum.EventsPerSecond = float64(sum.Produced) / elapsed.Seconds()
	if p.Loader != nil {
		sum.LoadedRows = p.Loader.Stats().Rows
	}
	sum.Segments = map[string]uint64{}
	cat := p.Processor.Catalog()
	for _, reg := range p.Runner.Registries() {
		for id, n := range reg.Sizes() {
			sum.Segments[cat.Name(id)] += n
		}
	}
	return sum, errors.Join(p.Err(), p.Close(context.Background()))
}

// waitLoaderIdle waits until the loader's row counts stop changing for quiet.
func waitLoaderIdle(ctx context.Context, p *pipeline.Pipeline, quiet, limit time.Duration) {
	deadline := time.Now().Add(limit)
	last, lastChange := "", time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		st := p.Loader.Stats()
		cur := fmt.Sprint(st.Messages, st.Rows, st.Commits)
		if cur != last {
			last, lastChange = cur, time.Now()
		} else if time.Since(lastChange) >= quiet {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func printProgress(w io.Writer, elapsed time.Duration, produced int64, p *pipeline.Pipeline) {
	s := p.Stats()
	var b strings.Builder
	fmt.Fprintf(&b, "%5.1fs  produced %8d  processed %8d (%7.0f/s)  decisions", elapsed.Seconds(), produced,
		s.Events, float64(s.Events+s.DLQ+s.Duplicates)/elapsed.Seconds())
	chs := make([]string, 0, len(s.Decisions))
	for ch := range s.Decisions {
		chs = append(chs, ch)
	}
	sort.Strings(chs)
	for _, ch := range chs {
		fmt.Fprintf(&b, " %s=%d", ch, s.Decisions[ch])
	}
	fmt.Fprintf(&b, "  suppressed %d  dlq %d  facts %d", s.Suppressions, s.DLQ, s.Facts)
	if p.Loader != nil {
		var rows int64
		for _, n := range p.Loader.Stats().Rows {
			rows += n
		}
		fmt.Fprintf(&b, "  loaded rows %d", rows)
	}
	fmt.Fprintln(w, b.String())
}

// WriteJSON writes the summary to path.
func (s DemoSummary) WriteJSON(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
