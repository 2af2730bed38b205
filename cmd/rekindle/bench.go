package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/rekindle/rekindle/bench"
	"github.com/rekindle/rekindle/stream"
)

func cmdBench(ctx context.Context, log *slog.Logger, args []string) error {
	fs := newFlags("bench")
	var cfg bench.Config
	fs.BoolVar(&cfg.Quick, "quick", false, "small sizes, a few seconds per scenario")
	fs.IntVar(&cfg.ReplicationFactor, "replication-factor", 1, "with --brokers: replication factor of the topics the run makes (a cluster with min.insync.replicas 2 needs at least 2)")
	fs.StringVar(&cfg.ConfigFile, "config", "", "the processor's configuration (rekindle.yaml: campaigns, segments, state and processing settings) the scenarios run with; the bench sets kafka.brokers, kafka.partitions, state.dir and http (default: the demo's campaigns)")
	fs.BoolVar(&cfg.KeepTopics, "keep-topics", false, "with --brokers: keep the run's topics and consumer group on the cluster (by default they are deleted at the end)")
	fs.IntVar(&cfg.Events, "events", 0, fmt.Sprintf("generated events for pipeline and e2e (default %d, quick %d)", bench.DefaultEvents, bench.DefaultQuickEvents))
	fs.IntVar(&cfg.PipelineRuns, "pipeline-runs", 0, fmt.Sprintf("passes of the pipeline scenario over the same events, each on a fresh store; the median one is the result (default %d)", bench.DefaultPipelineRuns))
	fs.IntVar(&cfg.Users, "users", 0, fmt.Sprintf("users loaded by memory, measured on the way at 1M, 10M, ... (default %d, quick %d)", bench.DefaultBenchUsers, bench.DefaultQuickBenchUsers))
	fs.IntVar(&cfg.RestoreUsers, "restore-users", 0, fmt.Sprintf("users loaded and reopened by restore (default %d, quick %d)", bench.DefaultRestoreUsers, bench.DefaultQuickBenchUsers))
	fs.IntVar(&cfg.Population, "population", 0, fmt.Sprintf("users the generated traffic of pipeline and e2e comes from (default %d)", bench.DefaultGeneratorUsers))
	fs.IntVar(&cfg.Partitions, "partitions", 0, "partitions, one goroutine each (default GOMAXPROCS)")
	fs.Func("rate", "events/s offered in the e2e latency phase (default 0: half the e2e throughput just measured); `N[,N...]` runs a phase at each, in order", func(v string) error {
		rates, err := parseRates(v)
		if err != nil {
			return err
		}
		cfg.Rate, cfg.MoreRates = rates[0], rates[1:]
		return nil
	})
	fs.DurationVar(&cfg.LatencyDuration, "latency-duration", 0, fmt.Sprintf("how long the latency phase offers --rate (default %s, quick %s)", bench.DefaultLatencyDuration, bench.DefaultQuickLatencyTime))
	brokers := fs.String("brokers", "", "comma-separated Kafka brokers for e2e and ceiling (default: the embedded broker)")
	fs.StringVar(&cfg.InputCompression, "input-compression", "none", "codec the generated events are written with in e2e: none, gzip, snappy, lz4 or zstd (as the producers of a real events topic may)")
	fs.StringVar(&cfg.OutputCompression, "output-compression", "", "codec the processor writes its outputs with in e2e: none, gzip, snappy, lz4 or zstd (default: the configuration's kafka.compression, "+stream.DefaultCompression+")")
	fs.StringVar(&cfg.BrokerLog, "broker-log", bench.BrokerLogDisk, fmt.Sprintf("where the embedded broker keeps its log: %q (files under --dir, as Kafka does) or %q (in this process's heap)", bench.BrokerLogDisk, bench.BrokerLogMemory))
	fs.StringVar(&cfg.Dir, "dir", "", "where the temporary state directory goes (default the system temp dir)")
	fs.Int64Var(&cfg.Seed, "seed", bench.DefaultSeed, "generator seed")
	trafficFlags(fs, &cfg.Mix, &cfg.MalformedShare, &cfg.NoMalformed, &cfg.Skew)
	fs.StringVar(&cfg.ResultsFile, "results", bench.DefaultResultsFile, "append one JSON line per run here (\"off\" disables it)")
	verbose := fs.Bool("v", false, "log what the pipeline does in e2e")
	jsonFile := fs.String("json", "", "also write the results as JSON to this file")
	history := fs.Bool("history", false, "print the runs recorded in the --results file, a table per machine, and run nothing")
	last := fs.Int("last", 20, "with --history: the last N runs of each machine (0: all)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of each timed phase to `FILE`.<phase> (pipeline, e2e, latency, ceiling-reader, ceiling-fetch, ceiling-batch; go tool pprof)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: rekindle bench [flags] [%s ...] (default: all)\n", strings.Join(bench.Scenarios(), " | "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Scenarios = fs.Args()
	if *history {
		if len(cfg.Scenarios) > 0 {
			return fmt.Errorf("--history runs no scenario; drop %q", strings.Join(cfg.Scenarios, " "))
		}
		if *last < 0 {
			return fmt.Errorf("--last %d: must not be negative", *last)
		}
		runs, err := bench.ReadResults(cfg.ResultsFile)
		if err != nil {
			return err
		}
		bench.WriteHistory(os.Stdout, runs, *last)
		return nil
	}
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

// parseRates reads --rate: events/s, or a comma-separated list of them (0
// only first: half the e2e throughput).
func parseRates(v string) ([]int, error) {
	var rates []int
	for i, f := range strings.Split(v, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r < 0 || (r == 0 && i > 0) {
			return nil, fmt.Errorf("%q: want events/s (0 for half the e2e throughput), or a comma-separated list of them, e.g. 5000,10000,20000", f)
		}
		rates = append(rates, r)
	}
	return rates, nil
}

// trafficFlags defines the flags that shape generated traffic, for bench
// and generate: --mix, --malformed and --skew.
func trafficFlags(fs *flag.FlagSet, mix *bench.Mix, malformed *float64, noMalformed *bool, skew *float64) {
	fs.Func("mix", "weights of the kinds of generated events, `kind=weight[,...]`, the others as by default (relative; 0 turns a kind off); kinds: "+
		strings.Join(bench.MixKinds(), ", ")+"; default "+bench.DefaultMix().String(), func(v string) error {
		m, err := bench.ParseMix(v)
		*mix = m
		return err
	})
	fs.Func("malformed", fmt.Sprintf("`share` of generated records that are malformed, 0 to 1 (0: none; default %g)", bench.DefaultMalformedShare), func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
			return fmt.Errorf("want a share from 0 to 1, e.g. 0.05")
		}
		*malformed, *noMalformed = f, f == 0
		return nil
	})
	fs.Func("skew", fmt.Sprintf("Zipf `exponent` of the users' activity, above 0 and at most 4 (higher: fewer users make more of the traffic; default %g)", bench.DefaultSkew), func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || f <= 0 || f > 4 {
			return fmt.Errorf("want an exponent above 0 and at most 4, e.g. 1.1")
		}
		*skew = f
		return nil
	})
}
