package stream

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// LatencyHistogram counts durations in buckets of about 6% width (16 linear
// sub-buckets per power of two of microseconds), from 1 µs to days, with
// atomic counters: adding costs a few nanoseconds and no lock.
type LatencyHistogram struct {
	counts [histBuckets]atomic.Int64
}

const (
	histSub     = 16 // sub-buckets per power of two
	histPowers  = 36 // the last bucket holds everything from 2^38 µs (3 days)
	histBuckets = histPowers * histSub
)

// histBucket is the bucket of d.
func histBucket(d time.Duration) int {
	us := uint64(max(d.Microseconds(), 0))
	if us < histSub {
		return int(us)
	}
	// The highest bit's position p ≥ 4: the 4 bits below it pick the
	// sub-bucket.
	p := bits.Len64(us) - 1
	b := (p-3)*histSub + int(us>>(p-4))&(histSub-1)
	return min(b, histBuckets-1)
}

// histUpper is the largest duration bucket b holds.
func histUpper(b int) time.Duration {
	if b < histSub {
		return time.Duration(b) * time.Microsecond
	}
	p := b/histSub + 3
	sub := uint64(b % histSub)
	lo := uint64(1)<<p | sub<<(p-4)
	return time.Duration(lo+uint64(1)<<(p-4)-1) * time.Microsecond
}

// Add counts n samples of d.
func (h *LatencyHistogram) Add(d time.Duration, n int64) {
	h.counts[histBucket(d)].Add(n)
}

// Snapshot copies the counts.
func (h *LatencyHistogram) Snapshot() LatencySnapshot {
	var s LatencySnapshot
	for i := range h.counts {
		s[i] = h.counts[i].Load()
	}
	return s
}

// LatencySnapshot is a LatencyHistogram's counts at a moment; the
// difference of two is what was counted between them.
type LatencySnapshot [histBuckets]int64

// Sub returns the counts added since before.
func (s LatencySnapshot) Sub(before LatencySnapshot) LatencySnapshot {
	for i := range s {
		s[i] -= before[i]
	}
	return s
}

// Count returns the number of samples.
func (s *LatencySnapshot) Count() int64 {
	var n int64
	for _, c := range s {
		n += c
	}
	return n
}

// Quantile returns the upper bound of the bucket holding quantile q (0 to
// 1) of the samples: at most about 6% above the true value. Zero when there
// are no samples.
func (s *LatencySnapshot) Quantile(q float64) time.Duration {
	n := s.Count()
	if n == 0 {
		return 0
	}
	rank := int64(q * float64(n))
	if rank >= n {
		rank = n - 1
	}
	var seen int64
	for b, c := range s {
		seen += c
		if seen > rank {
			return histUpper(b)
		}
	}
	return histUpper(histBuckets - 1)
}
