package bench

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// HostSpeed tells hosts apart that report the same CPU model and core
// count but do not run as fast (shared cloud hosts: another generation
// behind the same name, other clock rates, busy neighbours): a fixed piece
// of work (sorting and hashing on one goroutine, independent of rekindle's
// code) timed before the scenarios and after them, and the CPU time the
// hypervisor gave to others meanwhile. Compare results only between runs
// whose reference times are close.
type HostSpeed struct {
	// ReferenceMs: the fixed work's best of three, in milliseconds, before
	// the scenarios (Start) and after them (End); lower is faster. A
	// difference between the two means the host's speed changed during
	// the run.
	StartMs float64 `json:"reference_start_ms"`
	EndMs   float64 `json:"reference_end_ms"`
	// StealPercent: CPU time stolen by the hypervisor during the run, in
	// percent of the host's CPU time (/proc/stat; -1 where unknown).
	StealPercent float64 `json:"steal_percent"`
	// MHz: the first CPU's clock rate as /proc/cpuinfo reports it (0 where
	// unknown).
	MHz float64 `json:"cpu_mhz,omitempty"`
	// FreshPage: microseconds to touch one page of memory the process has
	// not touched before (a minor page fault: the kernel, and on a virtual
	// machine the hypervisor too, finds and zeroes a page), before (Start)
	// and after (End) the scenarios; 0 where unknown. Virtual hosts differ
	// here by more than tenfold, and from one minute to the next: a phase
	// that faults in a few hundred MB pays for it in CPU time (the
	// scenarios' "page faults" rows).
	FreshPageStartUs float64 `json:"fresh_page_start_us,omitempty"`
	FreshPageEndUs   float64 `json:"fresh_page_end_us,omitempty"`
}

// freshPageBytes is the memory one round of freshPageMicros maps and
// touches.
const freshPageBytes = 8 << 20

// freshPageMicros maps fresh anonymous memory, writes a byte to each of
// its pages and returns the median cost of a page over rounds, in
// microseconds (0 if the memory cannot be mapped).
func freshPageMicros(rounds int) float64 {
	page := os.Getpagesize()
	costs := make([]float64, 0, rounds)
	for range rounds {
		b, err := syscall.Mmap(-1, 0, freshPageBytes, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			return 0
		}
		start := time.Now()
		for i := 0; i < len(b); i += page {
			b[i] = 1
		}
		costs = append(costs, float64(time.Since(start).Nanoseconds())/1000/float64(len(b)/page))
		if err := syscall.Munmap(b); err != nil {
			return 0
		}
	}
	slices.Sort(costs)
	return costs[len(costs)/2]
}

// selfUsage is the process's resource usage so far (zero where unknown).
func selfUsage() syscall.Rusage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return syscall.Rusage{}
	}
	return ru
}

// minorFaults is the process's count of minor page faults so far.
func minorFaults() int64 { return int64(selfUsage().Minflt) }

// referenceWork is the fixed work: sort 2^19 pseudo-random numbers, then
// count 2^20 lookups of them in a map of 2^17 (cache misses, branches and
// arithmetic, as a stream processor's). Its result is returned so that the
// compiler keeps it.
func referenceWork() int {
	const n = 1 << 19
	xs := make([]uint64, n)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range xs {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		xs[i] = x
	}
	m := make(map[uint64]int32, n/4)
	for i, v := range xs[:n/4] {
		m[v>>3] = int32(i)
	}
	slices.Sort(xs)
	found := 0
	for i := range 2 * n {
		if _, ok := m[xs[(i*7919)%n]>>3]; ok {
			found++
		}
	}
	return found
}

// referenceMs times referenceWork, best of rounds, in milliseconds.
func referenceMs(rounds int) float64 {
	best := time.Duration(1<<63 - 1)
	for range rounds {
		start := time.Now()
		if referenceWork() < 0 {
			panic("unreachable")
		}
		best = min(best, time.Since(start))
	}
	return float64(best.Microseconds()) / 1000
}

// cpuJiffies reads the host's total and stolen CPU time from /proc/stat.
func cpuJiffies() (total, steal int64, ok bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0, false
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, 0, false
	}
	// user nice system idle iowait irq softirq steal [guest guest_nice,
	// counted in user and nice already]
	for i, f := range fields[1:9] {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += v
		if i == 7 {
			steal = v
		}
	}
	return total, steal, true
}

// freshPageRounds: rounds of freshPageMicros at each end of a run (about
// 10 ms each on a host at 5 µs a page).
const freshPageRounds = 5

// hostClock measures the host before a run; its end measures it after.
type hostClock struct {
	speed          HostSpeed
	total0, steal0 int64
	jiffiesOK      bool
	rounds         int
}

// startHostClock times the reference work (rounds times; the best counts)
// and notes the CPU counters.
func startHostClock(rounds int) *hostClock {
	h := &hostClock{rounds: rounds}
	h.speed.StartMs = referenceMs(rounds)
	h.speed.FreshPageStartUs = freshPageMicros(freshPageRounds)
	h.speed.MHz = cpuMHz()
	h.speed.StealPercent = -1
	if t, s, ok := cpuJiffies(); ok {
		h.total0, h.steal0, h.jiffiesOK = t, s, true
	}
	return h
}

// end times the reference work again and returns the host's speed.
func (h *hostClock) end() HostSpeed {
	if t, s, ok := cpuJiffies(); ok && h.jiffiesOK && t > h.total0 {
		h.speed.StealPercent = float64(int64(1000*(s-h.steal0))/(t-h.total0)) / 10
	}
	h.speed.EndMs = referenceMs(h.rounds)
	h.speed.FreshPageEndUs = freshPageMicros(freshPageRounds)
	return h.speed
}

// cpuMHz is the first "cpu MHz" of /proc/cpuinfo.
func cpuMHz() float64 {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "cpu MHz" {
			mhz, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return mhz
		}
	}
	return 0
}
