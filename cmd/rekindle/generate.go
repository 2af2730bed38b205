package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/rekindle/rekindle/bench"
)

func cmdGenerate(args []string) error {
	fs := newFlags("generate")
	count := fs.Int("count", 10000, "records to write")
	users := fs.Int("users", bench.DefaultUsers, "simulated users")
	seed := fs.Int64("seed", 1, "generator seed (same seed, same records)")
	malformed := fs.Float64("malformed", bench.DefaultMalformedShare, "share of malformed records (0 for none)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *count < 0 {
		return fmt.Errorf("--count %d: must not be negative", *count)
	}
	cfg := bench.GeneratorConfig{Seed: *seed, Users: *users}
	if *malformed == 0 {
		cfg.NoMalformed = true
	} else {
		cfg.MalformedShare = *malformed
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
