package main

import (
	"bufio"
	"fmt"
	"os"
	"time"

	"github.com/rekindle/rekindle/bench"
)

func cmdGenerate(args []string) error {
	fs := newFlags("generate")
	count := fs.Int("count", 10000, "records to write")
	users := fs.Int("users", bench.DefaultUsers, "simulated users")
	seed := fs.Int64("seed", 1, "generator seed (same seed, same records)")
	cfg := bench.GeneratorConfig{}
	trafficFlags(fs, &cfg.Mix, &cfg.MalformedShare, &cfg.NoMalformed, &cfg.Skew)
	step := fs.Duration("time-step", bench.DefaultTimeStep, "how far event time advances per record on average (large steps let simulated days pass: 1m, 1h)")
	start := fs.String("start", "", "event time of the first record, RFC 3339 (default "+bench.DefaultStart.Format(time.RFC3339)+")")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *count < 0 {
		return fmt.Errorf("--count %d: must not be negative", *count)
	}
	if *step <= 0 {
		return fmt.Errorf("--time-step %s: must be above 0", *step)
	}
	cfg.Seed, cfg.Users, cfg.TimeStep = *seed, *users, *step
	if *start != "" {
		t, err := time.Parse(time.RFC3339, *start)
		if err != nil {
			return fmt.Errorf("--start %q: want an RFC 3339 time, e.g. 2026-01-01T00:00:00Z", *start)
		}
		cfg.Start = t
	}
	gen, err := bench.NewGenerator(cfg)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	var buf []byte
	for i := 0; i < *count; i++ {
		r := gen.Next(buf[:0])
		buf = r.Value
		w.Write(r.Value)
		w.WriteByte('\n')
	}
	return w.Flush()
}
