package stream

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestLatencyHistogramBuckets: every duration lies in its bucket, within
// about 6% above, and the buckets are in order.
func TestLatencyHistogramBuckets(t *testing.T) {
	prev := time.Duration(-1)
	for b := range histBuckets {
		up := histUpper(b)
		if up <= prev {
			t.Fatalf("bucket %d ends at %s, not after bucket %d's %s", b, up, b-1, prev)
		}
		prev = up
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		d := time.Duration(r.Int64N(int64(10*time.Hour))) >> r.IntN(40)
		b := histBucket(d)
		us := d.Truncate(time.Microsecond)
		if up := histUpper(b); us > up || (b > 0 && us <= histUpper(b-1)) {
			t.Fatalf("%s in bucket %d (%s, %s]", d, b, histUpper(max(b-1, 0)), up)
		}
		if us >= 16*time.Microsecond && float64(histUpper(b)) > float64(us)*1.0625+float64(time.Microsecond) {
			t.Fatalf("%s: bucket %d ends at %s, more than 6.25%% above", d, b, histUpper(b))
		}
	}
}

// TestLatencyHistogramQuantiles: quantiles of weighted samples, against the
// sorted samples, and of a difference of snapshots.
func TestLatencyHistogramQuantiles(t *testing.T) {
	var h LatencyHistogram
	var all []time.Duration
	r := rand.New(rand.NewPCG(3, 4))
	for range 5_000 {
		d := time.Duration(r.ExpFloat64() * float64(3*time.Millisecond))
		n := 1 + r.Int64N(5)
		h.Add(d, n)
		for range n {
			all = append(all, d)
		}
	}
	slices.Sort(all)
	s := h.Snapshot()
	if s.Count() != int64(len(all)) {
		t.Fatalf("%d samples counted, %d added", s.Count(), len(all))
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		want := all[min(int(q*float64(len(all))), len(all)-1)].Truncate(time.Microsecond)
		got := s.Quantile(q)
		if got < want || float64(got) > float64(want)*1.07+float64(time.Microsecond) {
			t.Errorf("quantile %g: %s, want %s (within 6%% above)", q, got, want)
		}
	}
	before := h.Snapshot()
	h.Add(42*time.Second, 10)
	d := h.Snapshot().Sub(before)
	if d.Count() != 10 || d.Quantile(0.5) < 42*time.Second || d.Quantile(0.5) > 45*time.Second {
		t.Errorf("difference: %d samples, p50 %s; want 10 of 42 s", d.Count(), d.Quantile(0.5))
	}
	var empty LatencySnapshot
	if empty.Quantile(0.99) != 0 {
		t.Error("an empty snapshot has a quantile")
	}
}
