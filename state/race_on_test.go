//go:build race

package state

// raceEnabled is true under the race detector, which makes sync.Pool drop
// items at random, so allocation counts that rely on pooling do not hold.
const raceEnabled = true
