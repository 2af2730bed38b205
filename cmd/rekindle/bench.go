package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/rekindle/rekindle/bench"
)

func cmdBench(ctx context.Context, log *slog.Logger, args []string) error {
	fs := newFlags("bench")
	var cfg bench.Config
	fs.BoolVar(&cfg.Quick, "quick", false, "small sizes, a few seconds per scenario")
	fs.IntVar(&cfg.Events, "events", 0, fmt.Sprintf("generated events for pipeline and e2e (default %d, quick %d)", bench.DefaultEvents, bench.DefaultQuickEvents))
	fs.IntVar(&cfg.Users, "users", 0, fmt.Sprintf("users loaded by memory and restore (default %d, quick %d)", bench.DefaultBenchUsers, bench.DefaultQuickBenchUsers))
	fs.IntVar(&cfg.Partitions, "partitions", 0, "partitions, one goroutine each (default GOMAXPROCS)")
	fs.IntVar(&cfg.Rate, "rate", bench.DefaultRate, "events/s offered in the e2e latency phase (0: half the e2e throughput just measured)")
	fs.DurationVar(&cfg.LatencyDuration, "latency-duration", 0, fmt.Sprintf("how long the latency phase offers --rate (default %s, quick %s)", bench.DefaultLatencyDuration, bench.DefaultQuickLatencyTime))
	brokers := fs.String("brokers", "", "comma-separated Kafka brokers for e2e and ceiling (default: the embedded broker)")
	fs.StringVar(&cfg.Dir, "dir", "", "where the temporary state directory goes (default the system temp dir)")
	fs.Int64Var(&cfg.Seed, "seed", bench.DefaultSeed, "generator seed")
	fs.StringVar(&cfg.ResultsFile, "results", bench.DefaultResultsFile, "append one JSON line per run here (\"off\" disables it)")
	verbose := fs.Bool("v", false, "log what the pipeline does in e2e")
	jsonFile := fs.String("json", "", "also write the results as JSON to this file")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of each timed phase to `FILE`.<phase> (pipeline, e2e, latency, ceiling-reader, ceiling-fetch; go tool pprof)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: rekindle bench [flags] [%s ...] (default: all)\n", strings.Join(bench.Scenarios(), " | "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Scenarios = fs.Args()
	if *brokers != "" {
		cfg.Brokers = strings.Split(*brokers, ",")
	}
	cfg.Progress = os.Stderr
	if *verbose {
		cfg.Logger = log
	}
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	res.WriteTable(os.Stdout)
	if *jsonFile != "" {
		if err := res.WriteJSON(*jsonFile); err != nil {
			return err
		}
		fmt.Printf("results written to %s\n", *jsonFile)
	}
	return nil
}
