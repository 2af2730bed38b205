package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/rekindle/rekindle/bench"
)

func cmdDemo(ctx context.Context, log *slog.Logger, args []string) error {
	fs := newFlags("demo")
	var cfg bench.DemoConfig
	fs.DurationVar(&cfg.Duration, "duration", bench.DefaultDemoDuration, "how long synthetic traffic is produced")
	fs.IntVar(&cfg.Users, "users", bench.DefaultDemoUsers, "simulated users")
	fs.IntVar(&cfg.Rate, "rate", bench.DefaultDemoRate, "events per second offered")
	fs.Int64Var(&cfg.Seed, "seed", 1, "generator seed (same seed, same traffic)")
	fs.StringVar(&cfg.ClickHouse, "clickhouse", bench.DefaultDemoClickHouse, "ClickHouse native address; if unreachable, rows go to JSONEachRow files (\"off\" skips the check)")
	fs.StringVar(&cfg.OutDir, "out", bench.DefaultDemoOutDir, "directory for state and JSONEachRow files")
	fs.IntVar(&cfg.Partitions, "partitions", 8, "partitions of the demo topics")
	fs.Float64Var(&cfg.SimulatedDays, "days", bench.DefaultDemoSimulatedDays, "days of event time the traffic spans (absence segments need time to pass)")
	summaryJSON := fs.String("summary-json", "", "also write the summary as JSON to this file")
	verbose := fs.Bool("v", false, "log what the components do")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.Progress = os.Stderr
	if *verbose {
		cfg.Logger = log
	}
	fmt.Fprintf(os.Stderr, "rekindle demo: %d users, %d events/s for %s\n", cfg.Users, cfg.Rate, cfg.Duration)
	sum, err := bench.RunDemo(ctx, cfg)
	if err != nil {
		return err
	}
	printSummary(sum)
	if *summaryJSON != "" {
		if err := sum.WriteJSON(*summaryJSON); err != nil {
			return err
		}
		fmt.Printf("summary written to %s\n", *summaryJSON)
	}
	return nil
}

func printSummary(s bench.DemoSummary) {
	fmt.Printf("\nrekindle demo summary (%s)\n", time.Duration(s.DurationSeconds*float64(time.Second)).Round(time.Millisecond))
	fmt.Printf("  events produced     %d (%d malformed on purpose)\n", s.Produced, s.MalformedSent)
	fmt.Printf("  events processed    %d (%.0f events/s offered)\n", s.Processed, s.EventsPerSecond)
	fmt.Printf("  duplicates dropped  %d\n", s.Duplicates)
	fmt.Printf("  dead-lettered       %d (topic events.dlq, reason in header rekindle-reason)\n", s.DLQ)
	fmt.Printf("  decisions           %d:", s.DecisionsTotal)
	for _, ch := range sortedKeys(s.Decisions) {
		fmt.Printf(" %s=%d", ch, s.Decisions[ch])
	}
	fmt.Printf("\n  suppressed          %d (no consent on any campaign channel)\n", s.Suppressions)
	fmt.Printf("  facts               %d\n", s.Facts)
	fmt.Printf("  segments (size at the end):\n")
	for _, name := range sortedKeys(s.Segments) {
		if s.Segments[name] > 0 {
			fmt.Printf("    %-18s %d\n", name, s.Segments[name])
		}
	}
	fmt.Printf("  analytics           %s\n", s.Analytics)
	for _, t := range sortedKeys(s.LoadedRows) {
		fmt.Printf("    %-18s %d rows\n", t, s.LoadedRows[t])
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
