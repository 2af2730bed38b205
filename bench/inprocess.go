package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rekindle/rekindle/state"
	"github.com/rekindle/rekindle/stream"
)

// PipelineResult: the per-event path in process (decode, user record in the
// cache and Pebble on disk, apply, segments, triggers; outputs dropped every
// processing.batch_size events and state committed without fsync when the
// live runner would), P partitions on P goroutines; no Kafka. The same
// events are processed in Config.PipelineRuns passes, each on a fresh store:
// the result is the median pass (by events per CPU second; the slower of the
// two middle ones for an even number), all passes are in Runs. Pass 1 runs
// in a process that has not yet touched the memory it needs; later passes
// reuse what the earlier ones faulted in, as a processor that has been
// running a while does.
type PipelineResult struct {
	Events          int     `json:"events"`
	Partitions      int     `json:"partitions"`
	Seconds         float64 `json:"seconds"`
	EventsPerSecond float64 `json:"events_per_second"`
	// CPUSeconds is user+sys time of the whole process while timed (GC and
	// Pebble's background work included).
	CPUSeconds float64 `json:"cpu_seconds"`
	// MinorFaults: the process's minor page faults while timed: memory
	// touched for the first time (the user cache's records, commit
	// buffers, Pebble's memtables), most of it in the first seconds of a
	// process; HostSpeed.FreshPage* says what one cost on the host.
	MinorFaults int64 `json:"minor_faults"`
	// EventsPerCPUSecond is events per second of CPU time: the throughput one
	// fully busy core gives.
	EventsPerCPUSecond float64 `json:"events_per_cpu_second"`
	// Commits: state commits, as the live runner would make them (every
	// state.commit_interval, when the dirty records fill half the cache,
	// and when an armed timer falls due in event time, which runs faster
	// than the wall clock here), plus the last.
	Commits        int64   `json:"commits,omitempty"`
	AllocsPerEvent float64 `json:"allocs_per_event"`
	BytesPerEvent  float64 `json:"alloc_bytes_per_event"`
	Processed      int64   `json:"processed"` // applied + duplicates + dead-lettered
	DLQ            int64   `json:"dlq"`
	// Runs: every pass, in order; the fields above are those of the median
	// pass (Pass says which, from 1).
	Runs []PipelineRun `json:"runs,omitempty"`
	Pass int           `json:"pass,omitempty"`
}

// PipelineRun is one pass of the pipeline scenario.
type PipelineRun struct {
	Seconds            float64 `json:"seconds"`
	CPUSeconds         float64 `json:"cpu_seconds"`
	EventsPerSecond    float64 `json:"events_per_second"`
	EventsPerCPUSecond float64 `json:"events_per_cpu_second"`
	MinorFaults        int64   `json:"minor_faults"`
	Commits            int64   `json:"commits"`
	AllocsPerEvent     float64 `json:"allocs_per_event"`
	BytesPerEvent      float64 `json:"alloc_bytes_per_event"`
}

// benchConfig is the processor's configuration for a scenario: the file
// given (cfg.ConfigFile) or the demo's campaigns, with the state in dir, the
// bench's partitions, the embedded broker unless the scenario sets brokers,
// and no HTTP server.
func benchConfig(cfg Config, dir string) (stream.Config, error) {
	var sc stream.Config
	var err error
	if cfg.ConfigFile != "" {
		sc, err = stream.LoadConfigBrokers(cfg.ConfigFile, cfg.Brokers)
	} else {
		sc, err = stream.ParseConfig("bench", []byte(DemoCampaigns))
	}
	if err != nil {
		return sc, err
	}
	// --brokers (none: the embedded broker, which e2e starts later), so
	// that kafka.tls and kafka.sasl are checked against them.
	sc.Kafka.Brokers, sc.Kafka.Partitions, sc.State.Dir, sc.HTTP.Listen = cfg.Brokers, cfg.Partitions, dir, "off"
	return sc, sc.Validate()
}

// openStore opens the state in dir as the live pipeline would with scfg
// (block cache, background duty), without Pebble's log.
func openStore(scfg stream.Config, dir string) (*state.Store, error) {
	return state.Open(state.Options{Dir: dir, CacheBytes: int64(scfg.State.BlockCacheMB) << 20,
		BackgroundDuty: scfg.State.BackgroundDuty, Logf: quietPebble})
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	ru := selfUsage()
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func runPipeline(ctx context.Context, cfg Config, dir string) (PipelineResult, error) {
	res := PipelineResult{Events: cfg.Events, Partitions: cfg.Partitions}
	scfg, err := benchConfig(cfg, dir)
	if err != nil {
		return res, err
	}
	proc, err := stream.NewProcessor(scfg)
	if err != nil {
		return res, err
	}
	scfg = proc.Config()
	fmt.Fprintf(cfg.Progress, "pipeline: generating %d events (not timed)\n", cfg.Events)
	gen, err := NewGenerator(cfg.generatorConfig(cfg.Seed, time.Time{}, 0))
	if err != nil {
		return res, err
	}
	// Route records as the murmur2 partitioner would; keyless ones round-robin.
	inputs := make([][]stream.Input, cfg.Partitions)
	for i := 0; i < cfg.Events; i++ {
		r := gen.Next(nil)
		p := int32(i % cfg.Partitions)
		if r.Key != nil {
			p = stream.PartitionOf(string(r.Key), cfg.Partitions)
		}
		inputs[p] = append(inputs[p], stream.Input{
			Topic: scfg.Topics.Events, Partition: p, Offset: int64(len(inputs[p])),
			Key: r.Key, Value: r.Value, Time: r.Time.UnixMilli(),
		})
	}

	stopProfile, err := cfg.profile("pipeline")
	if err != nil {
		return res, err
	}
	defer stopProfile()
	var c stream.Counters
	for pass := 1; pass <= cfg.PipelineRuns; pass++ {
		passDir := filepath.Join(dir, strconv.Itoa(pass))
		run, pc, err := pipelinePass(ctx, cfg, proc, inputs, passDir, pass)
		if err != nil {
			return res, err
		}
		// Each pass on a fresh store; the last one's files go with dir.
		if pass < cfg.PipelineRuns {
			if err := os.RemoveAll(passDir); err != nil {
				return res, err
			}
		}
		res.Runs = append(res.Runs, run)
		c = pc
	}
	median := medianPass(res.Runs)
	m := res.Runs[median]
	res.Pass = median + 1
	res.Seconds, res.CPUSeconds = m.Seconds, m.CPUSeconds
	res.EventsPerSecond, res.EventsPerCPUSecond = m.EventsPerSecond, m.EventsPerCPUSecond
	res.MinorFaults, res.Commits = m.MinorFaults, m.Commits
	res.AllocsPerEvent, res.BytesPerEvent = m.AllocsPerEvent, m.BytesPerEvent
	res.Processed = c.Events + c.Duplicates + c.DLQ
	res.DLQ = c.DLQ
	return res, nil
}

// medianPass returns the index of the median of runs by events per CPU
// second: the slower of the two middle ones when there is an even number.
func medianPass(runs []PipelineRun) int {
	order := make([]int, len(runs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(runs[a].EventsPerCPUSecond, runs[b].EventsPerCPUSecond)
	})
	return order[(len(order)-1)/2]
}

// pipelinePass processes inputs once on a fresh store in dir and returns
// the pass's measurements and the partitions' counters.
func pipelinePass(ctx context.Context, cfg Config, proc *stream.Processor, inputs [][]stream.Input, dir string, pass int) (PipelineRun, stream.Counters, error) {
	var run PipelineRun
	var c stream.Counters
	store, err := openStore(proc.Config(), dir)
	if err != nil {
		return run, c, err
	}
	defer store.Close()
	states := make([]*stream.PartitionState, len(inputs))
	for p := range states {
		if states[p], err = proc.NewPartitionState(store.Partition(int32(p)), int32(p)); err != nil {
			return run, c, err
		}
	}

	var done, commits atomic.Int64
	stop := progress(cfg.Progress, func() string {
		return fmt.Sprintf("pipeline: pass %d of %d: processed %d of %d", pass, cfg.PipelineRuns, done.Load(), cfg.Events)
	})
	batch := proc.Config().Processing.BatchSize
	var counters []stream.Counters = make([]stream.Counters, len(inputs))
	errs := make([]error, len(inputs))
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0, t0, flt0 := cpuTime(), time.Now(), minorFaults()
	var wg sync.WaitGroup
	for p := range states {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps, in := states[p], inputs[p]
			for i := range in {
				ps.Prefetch(in, i)
				if err := ps.Process(&in[i]); err != nil {
					errs[p] = err
					return
				}
				if (i+1)%batch == 0 || i == len(in)-1 {
					// A batch ends: outputs dropped (written, live), state
					// committed when the live runner would commit it.
					counters[p].Add(ps.Counters())
					var err error
					if i == len(in)-1 || ps.CommitDue(ps.Watermark()) {
						commits.Add(1)
						err = ps.Commit(int64(i+1), false, false)
					} else {
						ps.Flush()
					}
					if err != nil {
						errs[p] = err
						return
					}
					done.Add(int64(batch))
					if ctx.Err() != nil {
						errs[p] = ctx.Err()
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed, cpu, faults := time.Since(t0), cpuTime()-cpu0, minorFaults()-flt0
	runtime.ReadMemStats(&m1)
	done.Store(int64(cfg.Events))
	stop()
	if err := errors.Join(errs...); err != nil {
		return run, c, err
	}
	for i := range counters {
		c.Add(&counters[i])
	}
	n := float64(cfg.Events)
	run.Seconds = elapsed.Seconds()
	run.EventsPerSecond = n / elapsed.Seconds()
	run.CPUSeconds = cpu.Seconds()
	if cpu > 0 {
		run.EventsPerCPUSecond = n / cpu.Seconds()
	}
	run.MinorFaults = faults
	run.AllocsPerEvent = float64(m1.Mallocs-m0.Mallocs) / n
	run.BytesPerEvent = float64(m1.TotalAlloc-m0.TotalAlloc) / n
	run.Commits = commits.Load()
	return run, c, store.Close()
}

// MemoryResult: Users users loaded through PartitionState.Process (an
// identify and three track events each, committed every batch_size events),
// then the process's resident memory and Pebble's size on disk.
type MemoryResult struct {
	Users           int     `json:"users"`
	Events          int64   `json:"events"`
	LoadSeconds     float64 `json:"load_seconds"`
	EventsPerSecond float64 `json:"events_per_second"` // JSON building included
	// RSSBeforeBytes is VmRSS after a GC and returning freed memory to the
	// OS, before the load; RSSBytes is VmRSS after the load with every
	// partition's state (user cache, bitmaps) and the store still open.
	RSSBeforeBytes int64   `json:"rss_before_bytes"`
	RSSBytes       int64   `json:"rss_bytes"`
	BytesPerUser   float64 `json:"rss_bytes_per_user"` // (RSS − RSS before) / users
	// HeapBytesPerUser is the Go heap in use after a GC, per user (Pebble's
	// block cache and memtables are mostly outside the Go heap).
	HeapBytesPerUser float64 `json:"heap_bytes_per_user"`
	CacheUsers       int     `json:"cache_users"` // state.cache_users: cached records per partition at most
	// GCSeconds is the shortest of three forced garbage collections with
	// the loaded state live: the marking every GC cycle of a running
	// processor does for its state (on GOMAXPROCS cores), and HeapObjects
	// the Go heap's live objects then.
	GCSeconds       float64 `json:"gc_seconds"`
	HeapObjects     uint64  `json:"heap_objects"`
	PebbleBytes     int64   `json:"pebble_bytes"`
	PebbleBytesUser float64 `json:"pebble_bytes_per_user"`
	// Checkpoints: the memory on the way, at Config.MemoryCheckpoints.
	Checkpoints []MemoryCheckpoint `json:"checkpoints,omitempty"`
}

// MemoryCheckpoint is the memory when Users of the load's users are in:
// the load pauses (each partition commits what it has pending) and a
// garbage collection runs before RSS and heap are read, as at its end.
type MemoryCheckpoint struct {
	Users            int     `json:"users"`
	Events           int64   `json:"events"`
	LoadSeconds      float64 `json:"load_seconds"`
	RSSBytes         int64   `json:"rss_bytes"`
	BytesPerUser     float64 `json:"rss_bytes_per_user"` // (RSS − RSS before the load) / users
	HeapBytesPerUser float64 `json:"heap_bytes_per_user"`
}

// RestoreResult: the time to reopen every partition's state
// (NewPartitionState on all partitions in parallel, as a restarted process
// does) with the bitmap snapshot, and with the snapshot deleted so that the
// bitmaps are rebuilt from the user records. The OS page cache is warm.
type RestoreResult struct {
	Users           int     `json:"users"`
	Partitions      int     `json:"partitions"`
	SnapshotSeconds float64 `json:"snapshot_seconds"`
	RebuildSeconds  float64 `json:"rebuild_seconds"`
	OpenSeconds     float64 `json:"open_seconds"` // state.Open (Pebble) before the first restore
	// Memberships is the total of all segment sizes after each restore; the
	// two must agree.
	SnapshotMemberships uint64 `json:"snapshot_memberships"`
	RebuildMemberships  uint64 `json:"rebuild_memberships"`
	// ScanSeconds: after the restore from the snapshot, the scan of every
	// stored user into the partitions' filters of stored users (which a
	// running worker does in chunks while it processes; the rebuild from
	// the records fills them as it goes); FilterBytes: their size.
	ScanSeconds float64 `json:"scan_seconds"`
	FilterBytes int64   `json:"filter_bytes"`
}

// appendUserEvents appends the load events of user i: identify, Application
// Opened, Push Permission Changed, Product Viewed.
func appendUserEvents(dst [][]byte, id string, i int, ts time.Time) [][]byte {
	t := func(k int) string { return ts.Add(time.Duration(k) * time.Second).Format("2006-01-02T15:04:05.000Z") }
	zones := [...]string{"Europe/Istanbul", "America/New_York", "Europe/Berlin", "Asia/Tokyo"}
	countries := [...]string{"TR", "US", "DE", "JP"}
	return append(dst,
		fmt.Appendf(nil, `{"type":"identify","userId":%q,"messageId":"%s-i","timestamp":%q,"traits":{"email":"%s@example.com","phone":"+1555%07d","timezone":%q,"country":%q}}`,
			id, id, t(0), id, i%10_000_000, zones[i%4], countries[i%4]),
		fmt.Appendf(nil, `{"type":"track","userId":%q,"messageId":"%s-a","timestamp":%q,"event":"Application Opened","properties":{"from_background":false}}`,
			id, id, t(1)),
		fmt.Appendf(nil, `{"type":"track","userId":%q,"messageId":"%s-p","timestamp":%q,"event":"Push Permission Changed","properties":{"granted":%t}}`,
			id, id, t(2), i%3 != 0),
		fmt.Appendf(nil, `{"type":"track","userId":%q,"messageId":"%s-v","timestamp":%q,"event":"Product Viewed","properties":{"product_id":"p-%d","price":19.9}}`,
			id, id, t(3), i%500),
	)
}

// loadUsers loads users users into the store in dir, P partitions on P
// goroutines, and leaves the partition states open for the caller (who
// closes the store). The last commit of each partition saves the bitmaps.
// loadUsers loads users users into a state in dir, each partition on a
// goroutine of its own. At each of checkpoints (ascending, below users) the
// goroutines commit what they have pending and wait while check runs with
// the users and events loaded so far; an error of check ends the load.
func loadUsers(ctx context.Context, cfg Config, dir string, users int, checkpoints []int, check func(users int, events int64) error) (*state.Store, []*stream.PartitionState, stream.Config, int64, error) {
	scfg, err := benchConfig(cfg, dir)
	if err != nil {
		return nil, nil, scfg, 0, err
	}
	proc, err := stream.NewProcessor(scfg)
	if err != nil {
		return nil, nil, scfg, 0, err
	}
	scfg = proc.Config()
	store, err := openStore(scfg, dir)
	if err != nil {
		return nil, nil, scfg, 0, err
	}
	states := make([]*stream.PartitionState, cfg.Partitions)
	for p := range states {
		if states[p], err = proc.NewPartitionState(store.Partition(int32(p)), int32(p)); err != nil {
			store.Close()
			return nil, nil, scfg, 0, err
		}
	}
	var loaded, events atomic.Int64
	stop := progress(cfg.Progress, func() string {
		return fmt.Sprintf("memory: loaded %d of %d users (%d events)", loaded.Load(), users, events.Load())
	})
	// Event time: recent, so that no absence timer is due.
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	width := len(strconv.Itoa(users))
	errs := make([]error, cfg.Partitions)
	var wg sync.WaitGroup
	// arrived[k] counts the partitions at checkpoint k (or done: a failed
	// one arrives at all the rest); release[k] lets them go on.
	arrived := make([]sync.WaitGroup, len(checkpoints))
	release := make([]chan struct{}, len(checkpoints))
	for k := range checkpoints {
		arrived[k].Add(cfg.Partitions)
		release[k] = make(chan struct{})
	}
	var abort atomic.Bool
	for p := range states {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := 0
			defer func() {
				for ; k < len(checkpoints); k++ {
					arrived[k].Done()
				}
			}()
			ps := states[p]
			var offset int64
			var vals [][]byte
			pending := 0
			for i := 0; i < users; i++ {
				if k < len(checkpoints) && i == checkpoints[k] {
					if err := ps.Commit(offset, false, false); err != nil {
						errs[p] = err
						return
					}
					pending = 0
					arrived[k].Done()
					k++
					<-release[k-1]
					if abort.Load() {
						return
					}
				}
				id := fmt.Sprintf("m%0*d", width, i)
				if int(stream.PartitionOf(id, cfg.Partitions)) != p {
					continue
				}
				vals = appendUserEvents(vals[:0], id, i, base)
				for _, v := range vals {
					in := stream.Input{Topic: scfg.Topics.Events, Partition: int32(p), Offset: offset, Key: []byte(id), Value: v}
					offset++
					if err := ps.Process(&in); err != nil {
						errs[p] = err
						return
					}
					pending++
				}
				loaded.Add(1)
				events.Add(int64(len(vals)))
				if pending >= scfg.Processing.BatchSize {
					if err := ps.Commit(offset, false, false); err != nil {
						errs[p] = err
						return
					}
					pending = 0
					if ctx.Err() != nil {
						errs[p] = ctx.Err()
						return
					}
					if abort.Load() {
						return
					}
				}
			}
			// The last batch saves the bitmap snapshot, as a shutdown does.
			errs[p] = ps.Commit(offset, true, true)
		}()
	}
	var checkErr error
	for k, n := range checkpoints {
		arrived[k].Wait()
		// A failed partition's error is in errs before it arrived.
		if errors.Join(errs...) == nil && checkErr == nil {
			checkErr = check(n, events.Load())
		}
		if errors.Join(errs...) != nil || checkErr != nil {
			abort.Store(true)
		}
		close(release[k])
	}
	wg.Wait()
	stop()
	if err := errors.Join(append(errs, checkErr)...); err != nil {
		store.Close()
		return nil, nil, scfg, 0, err
	}
	return store, states, scfg, events.Load(), nil
}

func runMemory(ctx context.Context, cfg Config, dir string) (MemoryResult, error) {
	res := MemoryResult{Users: cfg.Users}
	runtime.GC()
	debug.FreeOSMemory()
	res.RSSBeforeBytes = rssBytes()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	t0 := time.Now()
	check := func(users int, events int64) error {
		c := MemoryCheckpoint{Users: users, Events: events, LoadSeconds: time.Since(t0).Seconds()}
		runtime.GC()
		c.RSSBytes = rssBytes()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		c.BytesPerUser = float64(c.RSSBytes-res.RSSBeforeBytes) / float64(users)
		c.HeapBytesPerUser = (float64(m.HeapInuse) - float64(m0.HeapInuse)) / float64(users)
		res.Checkpoints = append(res.Checkpoints, c)
		fmt.Fprintf(cfg.Progress, "memory: %d users loaded in %.1fs: RSS %.1f MB\n", users, c.LoadSeconds, float64(c.RSSBytes)/1e6)
		return nil
	}
	store, states, scfg, events, err := loadUsers(ctx, cfg, dir, cfg.Users, cfg.MemoryCheckpoints, check)
	if err != nil {
		return res, err
	}
	res.LoadSeconds = time.Since(t0).Seconds()
	res.Events = events
	res.EventsPerSecond = float64(events) / res.LoadSeconds
	res.CacheUsers = scfg.State.CacheUsers
	runtime.GC()
	res.RSSBytes = rssBytes()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	res.BytesPerUser = float64(res.RSSBytes-res.RSSBeforeBytes) / float64(cfg.Users)
	res.HeapBytesPerUser = (float64(m1.HeapInuse) - float64(m0.HeapInuse)) / float64(cfg.Users)
	res.GCSeconds, res.HeapObjects = timeGC()
	runtime.KeepAlive(states)
	if err := store.Close(); err != nil {
		return res, err
	}
	if res.PebbleBytes, err = dirSize(dir); err != nil {
		return res, err
	}
	res.PebbleBytesUser = float64(res.PebbleBytes) / float64(cfg.Users)
	return res, nil
}

// timeGC returns the shortest of three forced collections and the number of
// live heap objects after them.
func timeGC() (float64, uint64) {
	best := time.Duration(math.MaxInt64)
	for range 3 {
		t0 := time.Now()
		runtime.GC()
		best = min(best, time.Since(t0))
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return best.Seconds(), m.HeapObjects
}

// runRestore reopens the state loaded into dir (loading it first unless
// loaded) and times NewPartitionState on every partition, with the snapshot
// and then without.
func runRestore(ctx context.Context, cfg Config, dir string, loaded bool) (RestoreResult, error) {
	res := RestoreResult{Users: cfg.RestoreUsers, Partitions: cfg.Partitions}
	if !loaded {
		store, _, _, _, err := loadUsers(ctx, cfg, dir, cfg.RestoreUsers, nil, nil)
		if err != nil {
			return res, err
		}
		if err := store.Close(); err != nil {
			return res, err
		}
	}
	scfg, err := benchConfig(cfg, dir)
	if err != nil {
		return res, err
	}
	proc, err := stream.NewProcessor(scfg)
	if err != nil {
		return res, err
	}
	scfg = proc.Config()
	restore := func(drop bool) (time.Duration, uint64, error) {
		runtime.GC()
		t0 := time.Now()
		store, err := openStore(scfg, dir)
		if err != nil {
			return 0, 0, err
		}
		defer store.Close()
		if drop {
			for p := 0; p < cfg.Partitions; p++ {
				if err := stream.DropSegmentSnapshot(store.Partition(int32(p))); err != nil {
					return 0, 0, err
				}
			}
			t0 = time.Now()
		} else {
			res.OpenSeconds = time.Since(t0).Seconds()
			t0 = time.Now()
		}
		states := make([]*stream.PartitionState, cfg.Partitions)
		errs := make([]error, cfg.Partitions)
		var wg sync.WaitGroup
		for p := range states {
			wg.Add(1)
			go func() {
				defer wg.Done()
				states[p], errs[p] = proc.NewPartitionState(store.Partition(int32(p)), int32(p))
			}()
		}
		wg.Wait()
		elapsed := time.Since(t0)
		if err := errors.Join(errs...); err != nil {
			return 0, 0, err
		}
		if !drop {
			t1 := time.Now()
			for p, ps := range states {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[p] = ps.ScanStoredUsers(0)
				}()
			}
			wg.Wait()
			res.ScanSeconds = time.Since(t1).Seconds()
			if err := errors.Join(errs...); err != nil {
				return 0, 0, err
			}
		}
		filtered, filterBytes := 0, 0
		for p, ps := range states {
			ready, users, bytes := ps.StoredUsersFilter()
			if !ready {
				return 0, 0, fmt.Errorf("bench: restore: partition %d's filter of stored users is not complete", p)
			}
			filtered += users
			filterBytes += bytes
		}
		if filtered != cfg.RestoreUsers {
			return 0, 0, fmt.Errorf("bench: restore: the filters of stored users hold %d users, %d were loaded", filtered, cfg.RestoreUsers)
		}
		res.FilterBytes = int64(filterBytes)
		var members uint64
		for _, ps := range states {
			for _, n := range ps.Registry().Sizes() {
				members += n
			}
		}
		return elapsed, members, store.Close()
	}
	fmt.Fprintf(cfg.Progress, "restore: %d users, %d partitions, with the snapshot\n", cfg.RestoreUsers, cfg.Partitions)
	d, n, err := restore(false)
	if err != nil {
		return res, err
	}
	res.SnapshotSeconds, res.SnapshotMemberships = d.Seconds(), n
	fmt.Fprintf(cfg.Progress, "restore: snapshot deleted, rebuilding from the user records\n")
	d, n, err = restore(true)
	if err != nil {
		return res, err
	}
	res.RebuildSeconds, res.RebuildMemberships = d.Seconds(), n
	return res, nil
}

// quietPebble drops Pebble's informational log lines.
func quietPebble(string, ...any) {}
