// Command rekindle is the real-time customer engagement stream processor.
//
//	rekindle demo     embedded broker + synthetic traffic + processor + loader, with a summary
//	rekindle run      the processor (and loader) against Kafka, per rekindle.yaml
//	rekindle broker   the embedded Kafka-protocol broker alone
//	rekindle replay   the processing code over a file of events, no Kafka
//	rekindle user     print one user's record from the state directory
//	rekindle generate synthetic Segment Spec events, one per line
//	rekindle bench    benchmarks: pipeline, e2e, ceiling, memory, restore
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `rekindle: real-time customer engagement stream processor

Usage:
  rekindle demo   [--duration 30s] [--users 5000] [--rate 5000] [--clickhouse 127.0.0.1:9000] [--summary-json FILE]
  rekindle run    --config rekindle.yaml
  rekindle broker [--listen 127.0.0.1:9092] [--partitions 8] [--data-dir DIR]
  rekindle replay --config rekindle.yaml --events events.jsonl --out decisions.jsonl [--facts facts.jsonl] [--dlq dlq.jsonl] [--until RFC3339]
  rekindle user   --config rekindle.yaml --id USER_ID
  rekindle drop-partition --config rekindle.yaml --partition N --yes
  rekindle schema [--database rekindle] | clickhouse-client --multiquery
  rekindle generate [--count 10000] [--users 5000] [--seed 1] [--malformed 0.01] > events.jsonl
  rekindle bench  [--quick] [--events N] [--users N] [--partitions P] [--rate 5000] [--brokers LIST] [--json FILE] [--results FILE|off] [pipeline|e2e|ceiling|memory|restore ...]

Run 'rekindle COMMAND -h' for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "demo":
		err = cmdDemo(ctx, log, args)
	case "run":
		err = cmdRun(ctx, log, args)
	case "broker":
		err = cmdBroker(ctx, log, args)
	case "replay":
		err = cmdReplay(ctx, args)
	case "user":
		err = cmdUser(args, os.Stdout)
	case "drop-partition":
		err = cmdDropPartition(args, os.Stdout)
	case "generate":
		err = cmdGenerate(args)
	case "schema":
		err = cmdSchema(args, os.Stdout)
	case "bench":
		err = cmdBench(ctx, log, args)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "rekindle: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "rekindle %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("rekindle "+name, flag.ContinueOnError)
	return fs
}

// noArgs rejects positional arguments, which are always a mistake here.
// parseFlags parses a command's flags, which take no arguments after them.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	return noArgs(fs)
}

func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags go before nothing else; see -h)", fs.Arg(0))
	}
	return nil
}
