package segment_test

import (
	"testing"

	"github.com/rekindle/rekindle/bench"
	"github.com/rekindle/rekindle/stream/segment"
)

// BenchmarkDecodeGenerated decodes the bench generator's default mix (the
// traffic rekindle bench's pipeline and e2e scenarios process, 1% of it
// malformed), so that the decoder's speed is measured on the shapes and
// sizes the pipeline sees rather than on a few fixtures.
func BenchmarkDecodeGenerated(b *testing.B) {
	gen, err := bench.NewGenerator(bench.GeneratorConfig{Seed: 7, Users: 100_000})
	if err != nil {
		b.Fatal(err)
	}
	const n = 1 << 14
	inputs := make([][]byte, n)
	var size int64
	for i := range inputs {
		inputs[i] = gen.Next(nil).Value
		size += int64(len(inputs[i]))
	}
	d := segment.NewDecoder(segment.DecoderOptions{})
	var ev segment.Event
	b.SetBytes(size / n)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = d.Decode(inputs[i%n], 0, &ev)
		i++
	}
}
