package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rekindle/rekindle/sinks"
	"github.com/rekindle/rekindle/stream"
)

// Scenario names, in the order Run runs them.
const (
	ScenarioPipeline = "pipeline"
	ScenarioE2E      = "e2e"
	ScenarioCeiling  = "ceiling"
	ScenarioMemory   = "memory"
	ScenarioRestore  = "restore"
)

// Scenarios returns every scenario name in the order Run runs them.
func Scenarios() []string {
	return []string{ScenarioPipeline, ScenarioE2E, ScenarioCeiling, ScenarioMemory, ScenarioRestore}
}

// Benchmark defaults; Quick ones apply with Config.Quick.
const (
	DefaultEvents          = 1_000_000
	DefaultQuickEvents     = 50_000
	DefaultPipelineRuns    = 3
	DefaultBenchUsers      = 10_000_000 // memory scenario (measured at 1M on the way)
	DefaultRestoreUsers    = 1_000_000  // restore scenario
	DefaultQuickBenchUsers = 100_000    // memory and restore, quick
	DefaultGeneratorUsers  = 100_000    // population of the generated traffic (pipeline, e2e)
	// DefaultRate (0): the e2e latency phase offers half the throughput the
	// e2e phase just measured, as issue 4's latency target is stated.
	DefaultRate             = 0
	DefaultLatencyDuration  = 20 * time.Second
	DefaultQuickLatencyTime = 3 * time.Second
	DefaultResultsFile      = "bench/results/results.jsonl"
	DefaultSeed             = 1
)

// Where the embedded broker keeps its log (Config.BrokerLog).
const (
	// BrokerLogDisk: segment files in the run's temporary directory, as a
	// Kafka broker keeps them (in the page cache, outside the process's
	// heap).
	BrokerLogDisk = "disk"
	// BrokerLogMemory: the broker's whole log in the Go heap of the
	// process being measured. It is cheaper to read (the ceiling is about
	// twice as fast), but the benchmark then measures a processor whose
	// heap grows by every byte produced: the garbage collector runs
	// rarely, fresh memory is faulted in for everything (nine times the
	// page faults) and the latency tail is three to five times longer.
	BrokerLogMemory = "memory"
)

// Config configures Run. The zero value is valid: it runs every scenario
// with the defaults stated on each field.
type Config struct {
	// Scenarios to run (default: all, see Scenarios). "ceiling" needs the
	// records "e2e" produced and runs it too; "restore" reuses the state
	// "memory" loaded when both run, else loads its own.
	Scenarios []string
	// Quick uses small sizes (DefaultQuickEvents, DefaultQuickBenchUsers,
	// DefaultQuickLatencyTime) where a field is zero.
	Quick bool
	// Events generated for the pipeline and e2e scenarios (default
	// DefaultEvents, or DefaultQuickEvents).
	Events int
	// PipelineRuns: passes of the pipeline scenario over the same events,
	// each on a fresh store; the median one is the result (default
	// DefaultPipelineRuns: one pass measures the host as much as rekindle
	// where its speed changes from one minute to the next).
	PipelineRuns int
	// Users loaded by the memory scenario (default DefaultBenchUsers, or
	// DefaultQuickBenchUsers), which also measures the memory when
	// MemoryCheckpoints of them are loaded.
	Users int
	// MemoryCheckpoints: numbers of users, below Users, at which the memory
	// scenario pauses its load and measures (default: 1M, 10M, ... below
	// Users; issue 4 asks for 1M and 10M).
	MemoryCheckpoints []int
	// RestoreUsers: the users the restore scenario loads and reopens
	// (default DefaultRestoreUsers, or DefaultQuickBenchUsers); it reuses
	// the state memory loaded when both ran with the same number.
	RestoreUsers int
	// Population: the users the generated traffic of pipeline and e2e
	// comes from (default DefaultGeneratorUsers). With more users than
	// the user cache holds, records are read back from Pebble all the time.
	Population int
	// Partitions: pipeline partitions, each on its own goroutine, and the
	// partitions of the e2e topics (default runtime.GOMAXPROCS(0)).
	Partitions int
	// Rate: events/s offered in the e2e latency phase (default DefaultRate:
	// half the measured e2e throughput).
	Rate int
	// MoreRates: events/s of further latency phases, one after the other
	// after the one at Rate, each with its own events (a sweep of loads in
	// one run).
	MoreRates []int
	// LatencyDuration: how long a latency phase offers its rate (default
	// DefaultLatencyDuration, or DefaultQuickLatencyTime).
	LatencyDuration time.Duration
	// ConfigFile: a rekindle.yaml whose campaigns, segments, state and
	// processing settings the scenarios run with (the bench sets
	// kafka.brokers, kafka.partitions, state.dir and http itself); empty:
	// the demo's campaigns and the defaults.
	ConfigFile string
	// Brokers of a Kafka cluster for e2e and ceiling; empty starts the
	// embedded broker. Topics get unique names per run and are deleted
	// with the run's consumer group at its end, unless KeepTopics.
	Brokers []string
	// ReplicationFactor of the topics a run with Brokers makes (default
	// 1; a cluster whose min.insync.replicas is 2 needs at least 2 for
	// acks=all writes to succeed).
	ReplicationFactor int
	// KeepTopics leaves the topics and the consumer group a run with
	// Brokers made on the cluster (to look at them afterwards).
	KeepTopics bool
	// InputCompression: the codec the generated events are written with
	// (sinks.Compressions names; default "none"), as the producers feeding
	// a real events topic may compress them.
	InputCompression string
	// OutputCompression: the codec the processor writes its decisions,
	// facts and dead letters with in e2e (default: the configuration's
	// kafka.compression, stream.DefaultCompression unless ConfigFile says).
	OutputCompression string
	// BrokerLog is where the embedded broker keeps its log: BrokerLogDisk
	// (the default) or BrokerLogMemory. Ignored with Brokers.
	BrokerLog string
	// Dir holds the Pebble state of the runs, in a fresh temporary
	// directory under it that is removed at the end (default os.TempDir()).
	Dir string
	// Seed of the generator (default DefaultSeed).
	Seed int64
	// Mix weighs the kinds of the generated events of pipeline and e2e
	// (zero: DefaultMix; ParseMix reads it).
	Mix Mix
	// MalformedShare: the share of generated events that are malformed,
	// in [0, 1] (0: DefaultMalformedShare); NoMalformed: none.
	MalformedShare float64
	NoMalformed    bool
	// Skew: the Zipf exponent of the users' activity, in (0, 4] (0:
	// DefaultSkew).
	Skew float64
	// Progress receives a progress line once per second (\r updates) and
	// phase notes (nil: none).
	Progress io.Writer
	// Logger receives the pipeline's log in the e2e scenario (nil: none).
	Logger *slog.Logger
	// ResultsFile gets one JSON line per run appended (default
	// DefaultResultsFile; "off" disables it).
	ResultsFile string
	// CPUProfile, when set, gets a CPU profile of each timed phase in a
	// file of its own, CPUProfile + "." + phase (pipeline, e2e, latency,
	// ceiling-reader, ceiling-fetch, ceiling-batch): generating and producing the input
	// is left out.
	CPUProfile string

	// auth: how e2e and ceiling's own clients connect (set by runE2E).
	auth *sinks.Auth
}

// profile starts the CPU profile of a timed phase (see Config.CPUProfile)
// and returns what stops it; without CPUProfile both do nothing.
func (cfg *Config) profile(phase string) (stop func(), err error) {
	if cfg.CPUProfile == "" {
		return func() {}, nil
	}
	name := cfg.CPUProfile + "." + phase
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("bench: CPU profile of %s: %w", phase, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: CPU profile of %s into %s: %w", phase, name, err)
	}
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "%s: CPU profile in %s\n", phase, name)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	for _, s := range c.Scenarios {
		if !slices.Contains(Scenarios(), s) {
			return fmt.Errorf("bench: unknown scenario %q (want one of %s)", s, strings.Join(Scenarios(), ", "))
		}
	}
	switch {
	case c.Events < 0:
		return fmt.Errorf("bench: Config.Events %d: must not be negative", c.Events)
	case c.PipelineRuns < 0 || c.PipelineRuns > 100:
		return fmt.Errorf("bench: Config.PipelineRuns %d: want 1 to 100 (0: the default, %d)", c.PipelineRuns, DefaultPipelineRuns)
	case c.Population < 0 || c.Population > MaxUsers:
		return fmt.Errorf("bench: Config.Population %d: want 1 to %d users", c.Population, MaxUsers)
	case c.Users < 0:
		return fmt.Errorf("bench: Config.Users %d: must not be negative", c.Users)
	case c.Users > MaxUsers:
		return fmt.Errorf("bench: Config.Users %d: at most %d", c.Users, MaxUsers)
	case c.ConfigFile != "" && !fileReadable(c.ConfigFile):
		return fmt.Errorf("bench: Config.ConfigFile %q: not a readable file", c.ConfigFile)
	case c.ReplicationFactor < 0:
		return fmt.Errorf("bench: Config.ReplicationFactor %d: must not be negative", c.ReplicationFactor)
	case c.RestoreUsers < 0 || c.RestoreUsers > MaxUsers:
		return fmt.Errorf("bench: Config.RestoreUsers %d: want 1 to %d", c.RestoreUsers, MaxUsers)
	case slices.ContainsFunc(c.MemoryCheckpoints, func(n int) bool { return n <= 0 }) || !slices.IsSorted(c.MemoryCheckpoints):
		return fmt.Errorf("bench: Config.MemoryCheckpoints %v: want positive numbers of users, ascending", c.MemoryCheckpoints)
	case c.Partitions < 0 || c.Partitions > 1024:
		return fmt.Errorf("bench: Config.Partitions %d: want 1..1024 (0 for GOMAXPROCS)", c.Partitions)
	case c.Rate < 0:
		return fmt.Errorf("bench: Config.Rate %d: must not be negative", c.Rate)
	case slices.ContainsFunc(c.MoreRates, func(r int) bool { return r <= 0 }):
		return fmt.Errorf("bench: Config.MoreRates %v: must be positive", c.MoreRates)
	case c.LatencyDuration < 0:
		return fmt.Errorf("bench: Config.LatencyDuration %s: must not be negative", c.LatencyDuration)
	case c.InputCompression != "" && !mapHas(sinks.Compressions, c.InputCompression):
		return fmt.Errorf("bench: Config.InputCompression %q: want none, gzip, snappy, lz4 or zstd", c.InputCompression)
	case c.OutputCompression != "" && !mapHas(sinks.Compressions, c.OutputCompression):
		return fmt.Errorf("bench: Config.OutputCompression %q: want none, gzip, snappy, lz4 or zstd", c.OutputCompression)
	case c.BrokerLog != "" && c.BrokerLog != BrokerLogDisk && c.BrokerLog != BrokerLogMemory:
		return fmt.Errorf("bench: Config.BrokerLog %q: want %q or %q", c.BrokerLog, BrokerLogDisk, BrokerLogMemory)
	case math.IsNaN(c.MalformedShare) || c.MalformedShare < 0 || c.MalformedShare > 1:
		return fmt.Errorf("bench: Config.MalformedShare %v: want a share in [0, 1]", c.MalformedShare)
	case math.IsNaN(c.Skew) || c.Skew < 0 || c.Skew > 4:
		return fmt.Errorf("bench: Config.Skew %v: want a Zipf exponent in (0, 4] (0 for the default %v)", c.Skew, DefaultSkew)
	}
	if err := c.Mix.validate(); err != nil {
		return fmt.Errorf("bench: Config.%w", err)
	}
	return nil
}

// generatorConfig configures a generator of the scenarios' traffic: the
// seed, start and time step given, the users and the shape of the traffic
// from c.
func (c *Config) generatorConfig(seed int64, start time.Time, step time.Duration) GeneratorConfig {
	return GeneratorConfig{Seed: seed, Users: c.Population, Start: start, TimeStep: step,
		Mix: c.Mix, MalformedShare: c.MalformedShare, NoMalformed: c.NoMalformed, Skew: c.Skew}
}

func (c Config) withDefaults() Config {
	if len(c.Scenarios) == 0 {
		c.Scenarios = Scenarios()
	}
	if c.Events == 0 {
		c.Events = pick(c.Quick, DefaultQuickEvents, DefaultEvents)
	}
	if c.PipelineRuns == 0 {
		c.PipelineRuns = DefaultPipelineRuns
	}
	if c.Users == 0 {
		c.Users = pick(c.Quick, DefaultQuickBenchUsers, DefaultBenchUsers)
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = 1
	}
	if c.RestoreUsers == 0 {
		c.RestoreUsers = pick(c.Quick, DefaultQuickBenchUsers, DefaultRestoreUsers)
	}
	if c.MemoryCheckpoints == nil {
		for n := 1_000_000; n < c.Users; n *= 10 {
			c.MemoryCheckpoints = append(c.MemoryCheckpoints, n)
		}
	}
	// Only those below Users: the load ends at Users.
	c.MemoryCheckpoints = slices.DeleteFunc(slices.Clone(c.MemoryCheckpoints), func(n int) bool { return n >= c.Users })
	if c.Population == 0 {
		c.Population = DefaultGeneratorUsers
	}
	if c.Partitions == 0 {
		c.Partitions = runtime.GOMAXPROCS(0)
	}
	if c.LatencyDuration == 0 {
		c.LatencyDuration = pick(c.Quick, DefaultQuickLatencyTime, DefaultLatencyDuration)
	}
	if c.Seed == 0 {
		c.Seed = DefaultSeed
	}
	if c.BrokerLog == "" {
		c.BrokerLog = BrokerLogDisk
	}
	if c.InputCompression == "" {
		c.InputCompression = "none"
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.ResultsFile == "" {
		c.ResultsFile = DefaultResultsFile
	}
	return c
}

func mapHas[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}

func fileReadable(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	st, err := f.Stat()
	f.Close()
	return err == nil && st.Mode().IsRegular()
}

func pick[T any](cond bool, a, b T) T {
	if cond {
		return a
	}
	return b
}

// Environment says where numbers were measured, so that results of
// different machines are never mixed up.
type Environment struct {
	Time        string `json:"time"` // UTC, RFC 3339
	GitDescribe string `json:"git_describe,omitempty"`
	GoVersion   string `json:"go_version"`
	GOMAXPROCS  int    `json:"gomaxprocs"`
	NumCPU      int    `json:"num_cpu"`
	CPUModel    string `json:"cpu_model"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	// Host: how fast this host ran a fixed reference work before and
	// after the scenarios, and the CPU time stolen meanwhile (absent in
	// results from before it was measured).
	Host *HostSpeed `json:"host,omitempty"`
}

// Results are the outcome of Run: the environment, the effective
// configuration and one entry per scenario run (nil: not run).
type Results struct {
	Env    Environment `json:"env"`
	Quick  bool        `json:"quick"`
	Events int         `json:"events"`
	Users  int         `json:"users"` // loaded by memory (and restore, before restore_users)
	// RestoreUsers: the users restore reopened (0 in results from before
	// it was a choice: Users).
	RestoreUsers int `json:"restore_users,omitempty"`
	// Population: the users of the generated traffic (0 in results from
	// before it was a choice: DefaultGeneratorUsers).
	Population int `json:"population,omitempty"`
	// Mix, MalformedShare, Skew: the shape of the generated traffic (see
	// Config; the mix in percent, as ParseMix reads it). Absent in results
	// from before they were choices: the defaults.
	Mix            string  `json:"mix,omitempty"`
	MalformedShare float64 `json:"malformed_share,omitempty"`
	Skew           float64 `json:"skew,omitempty"`
	Partitions     int     `json:"partitions"`
	Rate           int     `json:"rate"`
	Brokers        string  `json:"brokers"` // "embedded" or the list
	// BrokerLog: where the embedded broker kept its log (BrokerLogDisk or
	// BrokerLogMemory; empty in results before it was a choice: memory).
	BrokerLog string `json:"broker_log,omitempty"`
	// InputCompression: the codec of the generated events (empty in
	// results before it was a choice: none).
	InputCompression string `json:"input_compression,omitempty"`
	// ConfigFile: the processor's configuration file the run used (empty:
	// the demo's campaigns and the defaults).
	ConfigFile string `json:"config_file,omitempty"`
	// OutputCompression: the codec of the processor's outputs (empty in
	// results before it was a choice: lz4).
	OutputCompression string          `json:"output_compression,omitempty"`
	Pipeline          *PipelineResult `json:"pipeline,omitempty"`
	E2E               *E2EResult      `json:"e2e,omitempty"`
	Ceiling           *CeilingResult  `json:"ceiling,omitempty"`
	Memory            *MemoryResult   `json:"memory,omitempty"`
	Restore           *RestoreResult  `json:"restore,omitempty"`
	// Targets: issue 4's targets and what this run says of each (see
	// CheckTargets).
	Targets []Target `json:"targets,omitempty"`
}

// WriteJSON writes the results, indented, to path.
func (r *Results) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: write results: %w", err)
	}
	return nil
}

// AppendJSONL appends the results as one JSON line to path, creating its
// directory.
func (r *Results) AppendJSONL(path string) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("bench: results directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("bench: results file: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	return errors.Join(err, f.Close())
}

// Run runs the configured scenarios one after the other and returns their
// results; with a ResultsFile it appends them as one JSON line. A scenario
// that fails stops the run; the results so far are returned with the error.
func Run(ctx context.Context, cfg Config) (Results, error) {
	if err := cfg.Validate(); err != nil {
		return Results{}, err
	}
	cfg = cfg.withDefaults()
	// The configuration file's errors (file, line and key) before any
	// scenario starts; its kafka.compression is the outputs' default.
	scfg, err := benchConfig(cfg, os.TempDir())
	if err != nil {
		return Results{}, fmt.Errorf("bench: %w", err)
	}
	if cfg.OutputCompression == "" {
		cfg.OutputCompression = scfg.Kafka.Compression
	}
	clock := startHostClock(pick(cfg.Quick, 1, 3))
	malformed := pick(cfg.NoMalformed, 0, pick(cfg.MalformedShare == 0, DefaultMalformedShare, cfg.MalformedShare))
	res := Results{
		Env: environment(), Quick: cfg.Quick, Events: cfg.Events, Users: cfg.Users, RestoreUsers: cfg.RestoreUsers, Population: cfg.Population,
		Partitions: cfg.Partitions, Rate: cfg.Rate, Brokers: "embedded", BrokerLog: cfg.BrokerLog,
		InputCompression: cfg.InputCompression, OutputCompression: cfg.OutputCompression, ConfigFile: cfg.ConfigFile,
		Mix: cfg.Mix.String(), MalformedShare: malformed, Skew: pick(cfg.Skew == 0, DefaultSkew, cfg.Skew),
	}
	if len(cfg.Brokers) > 0 {
		res.Brokers, res.BrokerLog = strings.Join(cfg.Brokers, ","), ""
	}
	base := cfg.Dir
	if base == "" {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "rekindle-bench-")
	if err != nil {
		return res, fmt.Errorf("bench: state directory: %w", err)
	}
	defer os.RemoveAll(dir)

	want := func(s string) bool { return slices.Contains(cfg.Scenarios, s) }
	err = func() error {
		if want(ScenarioPipeline) {
			r, err := runPipeline(ctx, cfg, filepath.Join(dir, "pipeline"))
			if err != nil {
				return err
			}
			res.Pipeline = &r
		}
		if want(ScenarioE2E) || want(ScenarioCeiling) {
			e, c, err := runE2E(ctx, cfg, filepath.Join(dir, "e2e"), want(ScenarioCeiling))
			if err != nil {
				return err
			}
			res.E2E = &e
			res.Ceiling = c
		}
		memDir := filepath.Join(dir, "memory")
		if want(ScenarioMemory) {
			r, err := runMemory(ctx, cfg, memDir)
			if err != nil {
				return err
			}
			res.Memory = &r
		}
		if want(ScenarioRestore) {
			reuse := want(ScenarioMemory) && cfg.RestoreUsers == cfg.Users
			restoreDir := memDir
			if !reuse {
				// The memory scenario's state is no longer needed.
				if err := os.RemoveAll(memDir); err != nil {
					return fmt.Errorf("bench: remove the memory scenario's state: %w", err)
				}
				restoreDir = filepath.Join(dir, "restore")
			}
			r, err := runRestore(ctx, cfg, restoreDir, reuse)
			if err != nil {
				return err
			}
			res.Restore = &r
		}
		return nil
	}()
	host := clock.end()
	res.Env.Host = &host
	if err != nil {
		return res, err
	}
	res.Targets = res.CheckTargets()
	if cfg.ResultsFile != "off" {
		if err := res.AppendJSONL(cfg.ResultsFile); err != nil {
			return res, err
		}
	}
	return res, nil
}

func environment() Environment {
	e := Environment{
		Time:       time.Now().UTC().Format(time.RFC3339),
		GoVersion:  runtime.Version(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		NumCPU:     runtime.NumCPU(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				e.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty", "--tags").Output(); err == nil {
		e.GitDescribe = strings.TrimSpace(string(out))
	}
	return e
}

// progress writes line() to w every second, overwriting the previous line,
// until stop is called; stop ends the line.
func progress(w io.Writer, line func() string) (stop func()) {
	if w == io.Discard {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(w, "\r%6.1fs  %s\033[K", time.Since(start).Seconds(), line())
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		fmt.Fprintf(w, "\r%6.1fs  %s\033[K\n", time.Since(start).Seconds(), line())
	}
}

// rssBytes reads VmRSS from /proc/self/status (0 where there is none).
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(v))
			if len(f) >= 1 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n << 10 // kB
			}
		}
	}
	return 0
}

// dirSize sums the sizes of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}

// percentile returns the q-quantile (0..1) of sorted by the nearest-rank
// method.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// faultsText describes a phase's minor page faults: how many, the memory
// they brought in, per 1,000 events, and what they cost at the host's
// measured price of a fresh page (an estimate: a fault's price varies).
func faultsText(faults, events int64, cpuSeconds float64, h *HostSpeed) string {
	t := fmt.Sprintf("%d minor (%.0f MB touched for the first time", faults, float64(faults)*float64(os.Getpagesize())/1e6)
	if events > 0 {
		t += fmt.Sprintf(", %.1f per 1,000 events", 1000*float64(faults)/float64(events))
	}
	t += ")"
	if h != nil && h.FreshPageStartUs > 0 && h.FreshPageEndUs > 0 && faults > 0 {
		lo, hi := min(h.FreshPageStartUs, h.FreshPageEndUs), max(h.FreshPageStartUs, h.FreshPageEndUs)
		t += fmt.Sprintf("; at this host's %.1f-%.1f µs a page, %.2f-%.2f of the %.2f CPU-s", lo, hi, float64(faults)*lo/1e6, float64(faults)*hi/1e6, cpuSeconds)
	}
	return t
}

// WriteTable prints one small table per scenario run.
func (r *Results) WriteTable(w io.Writer) {
	e := r.Env
	fmt.Fprintf(w, "rekindle bench  %s  %s  GOMAXPROCS=%d  %d CPUs (%s)  %s/%s", e.Time, e.GoVersion, e.GOMAXPROCS, e.NumCPU, e.CPUModel, e.OS, e.Arch)
	if e.GitDescribe != "" {
		fmt.Fprintf(w, "  %s", e.GitDescribe)
	}
	if h := e.Host; h != nil {
		fmt.Fprintf(w, "\n  host: reference work %.0f ms before the scenarios, %.0f ms after (lower is faster; compare runs only on hosts that are close)", h.StartMs, h.EndMs)
		if h.MHz > 0 {
			fmt.Fprintf(w, ", %.0f MHz", h.MHz)
		}
		if h.StealPercent >= 0 {
			fmt.Fprintf(w, ", %.1f%% of the CPU time stolen by the hypervisor", h.StealPercent)
		}
		if h.FreshPageStartUs > 0 && h.FreshPageEndUs > 0 {
			fmt.Fprintf(w, ", %.1f and %.1f µs per page of memory touched for the first time", h.FreshPageStartUs, h.FreshPageEndUs)
		}
	}
	broker := r.Brokers
	if r.BrokerLog != "" {
		broker += " (log " + pick(r.BrokerLog == BrokerLogDisk, "on disk", "in memory") + ")"
	}
	input := ""
	if r.InputCompression != "" && r.InputCompression != "none" {
		input = ", events written " + r.InputCompression + "-compressed"
	}
	if r.ConfigFile != "" {
		input += ", config " + r.ConfigFile
	}
	if r.OutputCompression != "" && r.OutputCompression != stream.DefaultCompression {
		input += ", outputs written " + r.OutputCompression + pick(r.OutputCompression == "none", " (uncompressed)", "-compressed")
	}
	restoreUsers := r.RestoreUsers
	if restoreUsers == 0 {
		restoreUsers = r.Users
	}
	fmt.Fprintf(w, "\n  events %d from %d users, users %d (memory) and %d (restore), partitions %d, broker %s%s%s\n", r.Events, r.Population, r.Users, restoreUsers, r.Partitions, broker, input, pick(r.Quick, " (quick)", ""))
	if r.Mix != "" && (r.Mix != DefaultMix().String() || r.MalformedShare != DefaultMalformedShare || r.Skew != DefaultSkew) {
		fmt.Fprintf(w, "  traffic: %.2f%% malformed, Zipf skew %g, mix in %% of the rest: %s\n", 100*r.MalformedShare, r.Skew, r.Mix)
	}
	row := func(name, format string, args ...any) {
		fmt.Fprintf(w, "  %-30s %s\n", name, fmt.Sprintf(format, args...))
	}
	if p := r.Pipeline; p != nil {
		fmt.Fprintf(w, "\npipeline (in process: decode, state, Pebble on disk, commits as live; no Kafka)\n")
		row("events", "%d on %d partitions/goroutines (%d processed, %d DLQ), %d state commits", p.Events, p.Partitions, p.Processed, p.DLQ, p.Commits)
		row("events/s", "%.0f  (%.2fs)", p.EventsPerSecond, p.Seconds)
		row("events/s per core (CPU time)", "%.0f  (%.2f CPU-s, user+sys)%s", p.EventsPerCPUSecond, p.CPUSeconds, passesText(p))
		row("allocations per event", "%.1f  (%.0f bytes)", p.AllocsPerEvent, p.BytesPerEvent)
		row("page faults", "%s", faultsText(p.MinorFaults, int64(p.Events), p.CPUSeconds, e.Host))
	}
	if x := r.E2E; x != nil {
		fmt.Fprintf(w, "\ne2e (pipeline.Start against the broker, outputs produced with acks=all, no loader)\n")
		row("events", "%d produced, %d processed (%d DLQ), %d decisions, %d facts", x.Produced, x.Processed, x.DLQ, x.Decisions, x.Facts)
		if len(x.LeftOnCluster) > 0 {
			row("left on the cluster", "%s", strings.Join(x.LeftOnCluster, ", "))
		}
		row("events/s", "%.0f  (%.2fs after %.2fs group join)", x.EventsPerSecond, x.Seconds, x.GroupJoinSeconds)
		row("CPU", "%.2f CPU-s (process, broker included if embedded): %.2f of %d cores busy", x.CPUSeconds, x.CPUSeconds/max(x.Seconds, 1e-9), r.Env.NumCPU)
		row("page faults", "%s", faultsText(x.MinorFaults, x.Processed, x.CPUSeconds, e.Host))
		row("workers' time", "%s", x.Workers)
		row("users not cached", "%d, of which %d read from the state store (%d ruled out by the filter of stored users)", x.CacheMisses, x.StoreReads, x.CacheMisses-x.StoreReads)
		row("latency offered", "%.0f events/s for %.1fs (%d records)", x.OfferedPerSec, x.LatencySeconds, x.LatencyProduced)
		row("event→decision latency", "p50 %.1f ms  p99 %.1f ms  p99.9 %.1f ms  max %.1f ms  (%d samples)", x.P50Ms, x.P99Ms, x.P999Ms, x.MaxMs, x.LatencyMatched)
		row("event→fact latency", "p50 %.1f ms  p99 %.1f ms  p99.9 %.1f ms  (%d samples: first segment fact of an event)", x.FactP50Ms, x.FactP99Ms, x.FactP999Ms, x.FactSamples)
		row("  split where it was written", "offered → written by the processor p50 %.1f ms p99 %.1f ms; written → read p50 %.1f ms p99 %.1f ms", x.FactToWriteP50Ms, x.FactToWriteP99Ms, x.FactAfterWriteP50Ms, x.FactAfterWriteP99Ms)
		row("  in the processor", "fetched → outputs written p50 %.1f ms p99 %.1f ms p99.9 %.1f ms; → acknowledged p50 %.1f ms p99 %.1f ms",
			x.ProcessorWrittenP50Ms, x.ProcessorWrittenP99Ms, x.ProcessorWrittenP999Ms, x.ProcessorAckedP50Ms, x.ProcessorAckedP99Ms)
		row("  of which queued", "fetched → the worker started on it p50 %.1f ms p99 %.1f ms (it was busy with the response before)",
			x.ProcessorStartedP50Ms, x.ProcessorStartedP99Ms)
		row("workers' time", "%s", x.LatencyWorkers)
		row("state meanwhile", "%s", x.LatencyState)
		row("CPU meanwhile", "%.2f of %d cores busy (the processor, the broker if embedded, and the bench's producer and readers)", x.LatencyCPUCores, r.Env.NumCPU)
		for _, l := range x.MoreLatency {
			row(fmt.Sprintf("latency at %d/s", l.Rate), "decision p50 %.1f ms  p99 %.1f ms (%d)   fact p50 %.1f ms  p99 %.1f ms (%d; until written p99 %.1f ms, in the processor p99 %.1f ms)%s",
				l.P50Ms, l.P99Ms, l.LatencyMatched, l.FactP50Ms, l.FactP99Ms, l.FactSamples, l.FactToWriteP99Ms, l.ProcessorWrittenP99Ms,
				pick(l.OfferedPerSec < 0.95*float64(l.Rate), fmt.Sprintf("  offered only %.0f/s", l.OfferedPerSec), ""))
		}
	}
	if c := r.Ceiling; c != nil {
		fmt.Fprintf(w, "\nceiling (kafka-go alone, one consumer per partition, same topic, no processing; the fastest of three ways)\n")
		row("records", "%d (%.1f MB)", c.Records, float64(c.Bytes)/1e6)
		row("events/s", "%.0f  (%.2fs)", c.EventsPerSecond, c.Seconds)
		row("by way", "Reader.ReadMessage %.0f/s, Client.Fetch %.0f/s, Conn.ReadBatch %.0f/s", c.ReaderPerSecond, c.FetchPerSecond, c.BatchPerSecond)
		row("CPU", "%.2f µs per record (%.2f CPU-s, process, broker included if embedded)", c.CPUMicrosPerRecord, c.CPUSeconds)
		row("page faults", "%s", faultsText(c.MinorFaults, c.Records, c.CPUSeconds, e.Host))
		row("e2e / ceiling", "%.2f", c.Ratio)
		if c.RatioCPUBound > 0 {
			row("what the CPU allows", "%.2f: e2e costs %.2f µs of CPU per event; %d cores busy at that cost reach %.2f of the ceiling, 0.8 needs %.2f µs",
				c.RatioCPUBound, c.E2EMicrosPerEvent, c.Cores, c.RatioCPUBound, c.MicrosPerEventFor08)
		}
	}
	if m := r.Memory; m != nil {
		fmt.Fprintf(w, "\nmemory (users loaded through the processor: identify + 3 events each)\n")
		row("users", "%d (%d events, %.1fs, %.0f events/s)", m.Users, m.Events, m.LoadSeconds, m.EventsPerSecond)
		for _, c := range m.Checkpoints {
			row(fmt.Sprintf("at %d users", c.Users), "RSS %.1f MB, %.0f bytes per user (Go heap %.0f), loaded in %.1fs",
				float64(c.RSSBytes)/1e6, c.BytesPerUser, c.HeapBytesPerUser, c.LoadSeconds)
		}
		row("RSS", "%.1f MB (%.1f MB before the load)", float64(m.RSSBytes)/1e6, float64(m.RSSBeforeBytes)/1e6)
		row("RSS bytes per user", "%.0f  (Go heap %.0f; cache bound %d users/partition)", m.BytesPerUser, m.HeapBytesPerUser, m.CacheUsers)
		row("GC with the state live", "%.0f ms a collection (%d heap objects)", 1000*m.GCSeconds, m.HeapObjects)
		row("Pebble on disk", "%.1f MB (%.0f bytes per user)", float64(m.PebbleBytes)/1e6, m.PebbleBytesUser)
	}
	if x := r.Restore; x != nil {
		fmt.Fprintf(w, "\nrestore (NewPartitionState on every partition in parallel; page cache warm)\n")
		row("users / partitions", "%d / %d (Pebble open %.2fs)", x.Users, x.Partitions, x.OpenSeconds)
		row("with snapshot", "%.3fs  (%d memberships)", x.SnapshotSeconds, x.SnapshotMemberships)
		row("rebuilt from records", "%.3fs  (%d memberships)", x.RebuildSeconds, x.RebuildMemberships)
		row("stored users scanned", "%.3fs after the snapshot's restore (filters of stored users: %.1f MB)", x.ScanSeconds, float64(x.FilterBytes)/1e6)
	}
	if len(r.Targets) > 0 {
		fmt.Fprintf(w, "\ntargets (issue 4, stated for a 2-core machine)\n")
		for _, t := range r.Targets {
			verdict := "n/a"
			if t.Met != nil {
				verdict = pick(*t.Met, "met", "MISSED")
			}
			fmt.Fprintf(w, "  %-62s %-8s %s\n", t.Target, verdict, t.Measured)
		}
	}
}

// passesText lists the pipeline's passes after its median one: which pass
// it is and what each gave, per core, in order.
func passesText(p *PipelineResult) string {
	if len(p.Runs) < 2 {
		return ""
	}
	each := make([]string, len(p.Runs))
	for i, r := range p.Runs {
		each[i] = fmt.Sprintf("%.0f", r.EventsPerCPUSecond)
	}
	return fmt.Sprintf("; pass %d, the median of %d: %s (pass 1 in a process whose memory is not yet touched)",
		p.Pass, len(p.Runs), strings.Join(each, ", "))
}
