package stream_test

import (
	"testing"

	"github.com/rekindle/rekindle/bench"
	"github.com/rekindle/rekindle/state"
	"github.com/rekindle/rekindle/stream"
)

// BenchmarkProcess measures the per-event path the live pipeline and replay
// share: decode → user record (cache, Pebble on disk) → apply → trigger; a
// batch ends every BatchSize events (outputs dropped) and the state is
// committed (Pebble batch, no fsync) when CommitDue says so, as a partition
// worker does. Kafka I/O is not included.
func BenchmarkProcess(b *testing.B) {
	cfg, err := stream.ParseConfig("bench", []byte(bench.DemoCampaigns))
	if err != nil {
		b.Fatal(err)
	}
	proc, err := stream.NewProcessor(cfg)
	if err != nil {
		b.Fatal(err)
	}
	store, err := state.Open(state.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	ps, err := proc.NewPartitionState(store.Partition(0), 0)
	if err != nil {
		b.Fatal(err)
	}
	gen, err := bench.NewGenerator(bench.GeneratorConfig{Seed: 7, Users: 100_000})
	if err != nil {
		b.Fatal(err)
	}
	// Pre-generate so that the generator's cost is not measured.
	const n = 1 << 16
	inputs := make([]stream.Input, n)
	var bytes int64
	for i := range inputs {
		r := gen.Next(nil)
		inputs[i] = stream.Input{Topic: "events", Partition: 0, Key: r.Key, Value: r.Value, Time: r.Time.UnixMilli()}
		bytes += int64(len(r.Value))
	}
	b.SetBytes(bytes / n)
	b.ReportAllocs()
	b.ResetTimer()
	batch := cfg.Processing.BatchSize
	for i := 0; i < b.N; i++ {
		in := &inputs[i%n]
		in.Offset = int64(i)
		if err := ps.Process(in); err != nil {
			b.Fatal(err)
		}
		if (i+1)%batch == 0 {
			if !ps.CommitDue(ps.Watermark()) {
				ps.Flush()
			} else if err := ps.Commit(int64(i+1), false, false); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
