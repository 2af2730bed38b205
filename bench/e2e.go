package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/rekindle/rekindle/sinks"
	"github.com/rekindle/rekindle/sinks/broker"
	"github.com/rekindle/rekindle/state"
	"github.com/rekindle/rekindle/stream"
	"github.com/rekindle/rekindle/stream/pipeline"
)

// E2EResult: the whole pipeline (stream/pipeline.Start: consumer group,
// partition workers, Pebble on disk, decisions and facts produced with
// acks=all before each commit; no loader, no HTTP) against a broker.
//
// Throughput: Events generated records are produced into the events topic
// first (not timed), then the pipeline starts; EventsPerSecond counts from
// the first processed batch to the last record processed (GroupJoinSeconds,
// from Start to the first processed batch, is reported apart).
//
// Latency: then, with the pipeline idle and running, records are offered at
// Rate events/s for LatencySeconds; for every decision read back from the
// sends.* topics whose trigger message_id is one of them, latency = the
// wall time the decision was read − the wall time the record was handed to
// the (synchronous, acks=all) producer. It includes the produce and its
// ack, the broker, the processor's fetch, processing, the output produce
// with acks=all and our reader's fetch (the state commit is not on this
// path: outputs go out before it).
type E2EResult struct {
	Produced         int64   `json:"produced"`
	Processed        int64   `json:"processed"` // applied + duplicates + dead-lettered
	DLQ              int64   `json:"dlq"`
	Decisions        int64   `json:"decisions"`
	Facts            int64   `json:"facts"` // facts written to the facts topic (suppressions included)
	GroupJoinSeconds float64 `json:"group_join_seconds"`
	Seconds          float64 `json:"seconds"`
	EventsPerSecond  float64 `json:"events_per_second"`
	CPUSeconds       float64 `json:"cpu_seconds"` // user+sys of the process (broker included when embedded)
	// MinorFaults: the process's minor page faults meanwhile (memory
	// touched for the first time; HostSpeed.FreshPage* says what one cost).
	MinorFaults int64 `json:"minor_faults"`
	// Workers: where the partition workers' time went in the throughput
	// phase (shares of their wall time).
	Workers WorkerShares `json:"workers"`
	// CacheMisses: users the throughput phase found in no partition's
	// cache; StoreReads: those read from the state store (the others were
	// ruled out by the filter of stored users and created without a read).
	CacheMisses int64 `json:"cache_misses"`
	StoreReads  int64 `json:"store_reads"`
	// LeftOnCluster: the topics and consumer group a run against a
	// cluster (Config.Brokers) left there: all of them with KeepTopics,
	// else those it failed to delete (Progress says why).
	LeftOnCluster []string `json:"left_on_cluster,omitempty"`
	// The latency phase at Config.Rate.
	LatencyResult
	// MoreLatency: the phases at Config.MoreRates, in order.
	MoreLatency []LatencyResult `json:"more_latency,omitempty"`
}

// WorkerShares split the partition workers' wall time: working
// (processing, timers, encoding commits), waiting for the acknowledgement
// of outputs, waiting for input. Workers that mostly wait for input are not
// what limits the throughput.
type WorkerShares struct {
	Working         float64 `json:"working"`
	WaitingForAcks  float64 `json:"waiting_for_acks"`
	WaitingForInput float64 `json:"waiting_for_input"`
}

func (w WorkerShares) String() string {
	return fmt.Sprintf("working %.0f%%, waiting for acks %.0f%%, waiting for input %.0f%%",
		100*w.Working, 100*w.WaitingForAcks, 100*w.WaitingForInput)
}

// workerShares returns the shares of the workers' time between two
// readings of the pipeline's statistics, for partitions workers over wall.
func workerShares(before, after pipeline.WorkerSeconds, wall time.Duration, partitions int) WorkerShares {
	total := wall.Seconds() * float64(partitions)
	if total <= 0 {
		return WorkerShares{}
	}
	return WorkerShares{
		Working:         (after.Working - before.Working) / total,
		WaitingForAcks:  (after.WaitingForAcks - before.WaitingForAcks) / total,
		WaitingForInput: (after.WaitingForInput - before.WaitingForInput) / total,
	}
}

// LatencyResult is one latency phase: events offered at a fixed rate while
// the processor runs, and how long their decisions and first facts took
// to come out of the broker.
type LatencyResult struct {
	Rate            int     `json:"rate"`
	LatencySeconds  float64 `json:"latency_seconds"`
	OfferedPerSec   float64 `json:"offered_per_second"` // achieved
	LatencyProduced int64   `json:"latency_produced"`
	// LatencyDuplicates: offered events the processor dropped as seen
	// before (the generator makes none).
	LatencyDuplicates int64   `json:"latency_duplicates"`
	LatencyMatched    int     `json:"latency_samples"` // decisions matched to a produced record
	P50Ms             float64 `json:"p50_ms"`
	P99Ms             float64 `json:"p99_ms"`
	P999Ms            float64 `json:"p999_ms"`
	MaxMs             float64 `json:"max_ms"`
	// The same for the first segment-change fact of each event (facts are
	// produced with the decisions of their batch, and there are many more:
	// a larger sample of the same path).
	FactSamples int     `json:"fact_latency_samples"`
	FactP50Ms   float64 `json:"fact_p50_ms"`
	FactP99Ms   float64 `json:"fact_p99_ms"`
	FactP999Ms  float64 `json:"fact_p999_ms"`
	// The fact latency split at the moment the processor wrote the fact
	// (its record's timestamp, which the processor's producer sets to the
	// wall clock when it sends a batch's outputs; Kafka keeps
	// milliseconds): offered → written covers the event's produce, the
	// broker, the processor's fetch, the wait for its turn and the
	// processing; written → read the outputs' way to the broker and
	// their acknowledgement, and the bench's fetch.
	FactToWriteP50Ms    float64 `json:"fact_to_write_p50_ms"`
	FactToWriteP99Ms    float64 `json:"fact_to_write_p99_ms"`
	FactAfterWriteP50Ms float64 `json:"fact_after_write_p50_ms"`
	FactAfterWriteP99Ms float64 `json:"fact_after_write_p99_ms"`
	// The time the events spent in the processor (stream.Stats.Latency),
	// per event: from the arrival of their fetch response to their
	// batch's outputs handed to the producer, and acknowledged by Kafka.
	// The rest of an event's latency is the broker's and the bench's.
	ProcessorWrittenP50Ms  float64 `json:"processor_written_p50_ms"`
	ProcessorWrittenP99Ms  float64 `json:"processor_written_p99_ms"`
	ProcessorWrittenP999Ms float64 `json:"processor_written_p999_ms"`
	ProcessorAckedP50Ms    float64 `json:"processor_acked_p50_ms"`
	ProcessorAckedP99Ms    float64 `json:"processor_acked_p99_ms"`
	ProcessorSamples       int64   `json:"processor_samples"` // inputs processed in the phase
	// Until the worker started on the events' fetch response (it was
	// busy with the one before).
	ProcessorStartedP50Ms float64 `json:"processor_started_p50_ms"`
	ProcessorStartedP99Ms float64 `json:"processor_started_p99_ms"`
	// LatencyWorkers: where the workers' time went while the rate was
	// offered.
	LatencyWorkers WorkerShares `json:"latency_workers"`
	// LatencyState: what the state store did meanwhile: a latency tail
	// that comes after the commits or with Pebble's flushes and
	// compactions (which take a core each while they run) is the state's.
	LatencyState StateWork `json:"latency_state"`
	// LatencyCPUCores: the cores the process kept busy meanwhile (CPU
	// seconds per second): the processor, the embedded broker, and this
	// bench's producer and readers. Near the machine's core count, the
	// phase measures a saturated machine, not the processor's latency.
	LatencyCPUCores float64 `json:"latency_cpu_cores"`
}

// StateWork is the state store's work during a phase: the commits (the
// workers' pause to encode each, its Pebble apply on a goroutine of its
// own) and Pebble's background work.
type StateWork struct {
	Commits           int64   `json:"commits"`
	EncodeMsPerCommit float64 `json:"encode_ms_per_commit"`
	ApplyMsPerCommit  float64 `json:"apply_ms_per_commit"`
	Flushes           int64   `json:"pebble_flushes"`
	FlushSeconds      float64 `json:"pebble_flush_seconds"`
	Compactions       int64   `json:"pebble_compactions"`
	CompactionSeconds float64 `json:"pebble_compaction_seconds"`
	WriteStalls       int64   `json:"pebble_write_stalls"`
	WriteStallSeconds float64 `json:"pebble_write_stall_seconds"`
	// PacedSeconds: of the flushes' and compactions' seconds, those they
	// slept to keep to state.background_duty.
	PacedSeconds float64 `json:"pebble_paced_seconds"`
}

func (s StateWork) String() string {
	out := fmt.Sprintf("%d commits", s.Commits)
	if s.Commits > 0 {
		out += fmt.Sprintf(" (workers paused %.1f ms each to encode, applied in %.1f ms)", s.EncodeMsPerCommit, s.ApplyMsPerCommit)
	}
	out += fmt.Sprintf("; Pebble: %d flushes %.2fs, %d compactions %.2fs", s.Flushes, s.FlushSeconds, s.Compactions, s.CompactionSeconds)
	if s.PacedSeconds > 0 {
		out += fmt.Sprintf(" (%.2fs of it paced sleep)", s.PacedSeconds)
	}
	if s.WriteStalls > 0 {
		out += fmt.Sprintf(", %d write stalls %.2fs", s.WriteStalls, s.WriteStallSeconds)
	}
	return out
}

// stateWork is the state's work between two readings of the pipeline's
// statistics.
func stateWork(before, after pipeline.StatsView) StateWork {
	bg := after.Pebble.Sub(before.Pebble)
	w := StateWork{
		Commits: after.Commits - before.Commits,
		Flushes: bg.Flushes, FlushSeconds: bg.FlushSeconds,
		Compactions: bg.Compactions, CompactionSeconds: bg.CompactionSeconds,
		WriteStalls: bg.WriteStalls, WriteStallSeconds: bg.WriteStallSeconds,
		PacedSeconds: bg.PacedSeconds,
	}
	if w.Commits > 0 {
		n := float64(w.Commits)
		w.EncodeMsPerCommit = 1000 * (after.CommitSeconds.Encoding - before.CommitSeconds.Encoding) / n
		w.ApplyMsPerCommit = 1000 * (after.CommitSeconds.Applying - before.CommitSeconds.Applying) / n
	}
	return w
}

// CeilingResult: kafka-go alone reading the same events topic, a
// goroutine per partition (no group), every record copied out and counted
// and nothing else done, in each of three ways of kafka-go's in turn; the
// fastest is the ceiling.
type CeilingResult struct {
	Records         int64   `json:"records"`
	Bytes           int64   `json:"bytes"`
	Seconds         float64 `json:"seconds"`
	EventsPerSecond float64 `json:"events_per_second"` // the fastest of the three ways below
	// ReaderPerSecond: kafka-go's Reader, one per partition, ReadMessage
	// per record. FetchPerSecond: kafka-go's Client.Fetch, whole responses,
	// as rekindle's partition workers read.
	ReaderPerSecond float64 `json:"reader_events_per_second"`
	FetchPerSecond  float64 `json:"fetch_events_per_second"`
	// BatchPerSecond: kafka-go's Conn.ReadBatch on a connection to each
	// partition's leader, a fetch response at a time (0 in results
	// before it was measured).
	BatchPerSecond float64 `json:"batch_events_per_second,omitempty"`
	// Ratio is E2E.EventsPerSecond / EventsPerSecond: the share of the
	// consumption ceiling the pipeline reaches.
	Ratio float64 `json:"ratio"`
	// CPUSeconds: the process's CPU time while the fastest way read (the
	// embedded broker's included), CPUMicrosPerRecord per record read.
	CPUSeconds         float64 `json:"cpu_seconds"`
	CPUMicrosPerRecord float64 `json:"cpu_us_per_record"`
	MinorFaults        int64   `json:"minor_faults"` // as E2EResult's
	// CPU bounds of the ratio on this machine's Cores: E2EMicrosPerEvent
	// is what an event cost the e2e process (E2E.CPUSeconds per event);
	// RatioCPUBound the ratio a processor that kept every core busy at that
	// cost would reach (Cores / E2EMicrosPerEvent, over the ceiling), and
	// MicrosPerEventFor08 the cost per event at which it would reach 0.8.
	// A Ratio near RatioCPUBound says the processor's CPU per event is
	// what limits it, not waiting.
	Cores               int     `json:"cores"`
	E2EMicrosPerEvent   float64 `json:"e2e_cpu_us_per_event"`
	RatioCPUBound       float64 `json:"ratio_cpu_bound"`
	MicrosPerEventFor08 float64 `json:"cpu_us_per_event_for_0_8"`
}

// cpuBounds fills c's CPU bounds from the e2e run's cost per event.
func (c *CeilingResult) cpuBounds(e2e E2EResult, cores int) {
	c.Cores = cores
	if e2e.Processed <= 0 || c.EventsPerSecond <= 0 || e2e.CPUSeconds <= 0 {
		return
	}
	c.E2EMicrosPerEvent = 1e6 * e2e.CPUSeconds / float64(e2e.Processed)
	c.RatioCPUBound = float64(cores) / (c.E2EMicrosPerEvent / 1e6) / c.EventsPerSecond
	c.MicrosPerEventFor08 = 1e6 * float64(cores) / (0.8 * c.EventsPerSecond)
}

// dropRunTopics deletes the topics and the consumer group of a run against
// a cluster, unless cfg.KeepTopics, and returns what it left there.
func dropRunTopics(cfg Config, scfg stream.Config) []string {
	topics, group := scfg.AllTopics(), scfg.Kafka.GroupID
	if cfg.KeepTopics {
		fmt.Fprintf(cfg.Progress, "e2e: kept on %s: topics %s and consumer group %s\n", strings.Join(cfg.Brokers, ","), strings.Join(topics, ", "), group)
		return append(topics, "group "+group)
	}
	// Its own deadline: a run stopped by its context still cleans up.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var left []string
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 30 * time.Second, Transport: cfg.auth.Transport()}
	defer client.Transport.(*kafka.Transport).CloseIdleConnections()
	resp, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics})
	for _, t := range topics {
		terr := err
		if terr == nil {
			terr = resp.Errors[t]
		}
		if terr != nil && !errors.Is(terr, kafka.UnknownTopicOrPartition) {
			fmt.Fprintf(cfg.Progress, "e2e: could not delete topic %s from %s: %v\n", t, strings.Join(cfg.Brokers, ","), terr)
			left = append(left, t)
		}
	}
	gresp, err := client.DeleteGroups(ctx, &kafka.DeleteGroupsRequest{GroupIDs: []string{group}})
	if err == nil {
		err = gresp.Errors[group]
	}
	if err != nil && !errors.Is(err, kafka.GroupIdNotFound) {
		fmt.Fprintf(cfg.Progress, "e2e: could not delete consumer group %s from %s: %v\n", group, strings.Join(cfg.Brokers, ","), err)
		left = append(left, "group "+group)
	}
	if len(left) == 0 {
		fmt.Fprintf(cfg.Progress, "e2e: deleted the run's %d topics and its consumer group from %s\n", len(topics), strings.Join(cfg.Brokers, ","))
	}
	return left
}

// runE2E runs the e2e scenario and, with ceiling, the ceiling one after it
// against the same broker and topic.
func runE2E(ctx context.Context, cfg Config, dir string, ceiling bool) (res E2EResult, _ *CeilingResult, err error) {
	suffix := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	scfg, err := benchConfig(cfg, dir)
	if err != nil {
		return res, nil, err
	}
	scfg.Kafka.GroupID = "rekindle-" + suffix
	if cfg.OutputCompression != "" {
		scfg.Kafka.Compression = cfg.OutputCompression
	}
	if len(cfg.Brokers) > 0 {
		// A shared cluster: topics of our own, so runs never mix.
		scfg.Topics.Events = "events." + suffix
		scfg.Topics.DLQ = "events.dlq." + suffix
		scfg.Topics.Facts = "rekindle.facts." + suffix
		scfg.Topics.SendsPrefix = "sends." + suffix + "."
	}
	proc, err := stream.NewProcessor(scfg) // applies the defaults
	if err != nil {
		return res, nil, err
	}
	scfg = proc.Config()
	// The bench's own clients connect as the processor does (kafka.tls and
	// kafka.sasl of --config, validated with it): read once.
	if cfg.auth, err = scfg.Kafka.Auth(); err != nil {
		return res, nil, err
	}

	brokers := cfg.Brokers
	if len(brokers) == 0 {
		opts := broker.Options{Partitions: cfg.Partitions, Topics: scfg.AllTopics()}
		if cfg.BrokerLog == BrokerLogDisk {
			opts.DataDir = filepath.Join(dir, "broker")
		}
		b, err := broker.Start(opts)
		if err != nil {
			return res, nil, err
		}
		defer b.Close()
		brokers = b.Addrs()
		fmt.Fprintf(cfg.Progress, "e2e: embedded broker at %s, log in %s\n", brokers[0], cfg.BrokerLog)
	} else {
		if err := sinks.EnsureTopics(ctx, brokers, cfg.auth, scfg.AllTopics(), cfg.Partitions, cfg.ReplicationFactor); err != nil {
			return res, nil, err
		}
		// Deferred before the pipeline's Close, so it runs after it: the
		// group has no members left.
		defer func() { res.LeftOnCluster = dropRunTopics(cfg, scfg) }()
	}
	scfg.Kafka.Brokers = brokers

	// Event time ends about now: no absence timer is due on the wall clock.
	step := DefaultTimeStep
	gen, err := NewGenerator(cfg.generatorConfig(cfg.Seed, time.Now().UTC().Add(-time.Duration(cfg.Events)*step).Truncate(time.Second), step))
	if err != nil {
		return res, nil, err
	}
	w := sinks.NewProducer(brokers, cfg.auth)
	w.Compression = sinks.Compressions[cfg.InputCompression]
	defer w.Close()
	var produced atomic.Int64
	stop := progress(cfg.Progress, func() string {
		return fmt.Sprintf("e2e: produced %d of %d into %s (not timed)", produced.Load(), cfg.Events, scfg.Topics.Events)
	})
	// Small produce requests: the embedded broker refuses record batches over
	// 1 MB, and some malformed records are 64 KiB on purpose.
	msgs := make([]kafka.Message, 0, 1000)
	for produced.Load() < int64(cfg.Events) {
		msgs = msgs[:0]
		for len(msgs) < cap(msgs) && produced.Load()+int64(len(msgs)) < int64(cfg.Events) {
			r := gen.Next(nil)
			msgs = append(msgs, kafka.Message{Topic: scfg.Topics.Events, Key: r.Key, Value: r.Value})
		}
		if err := w.Produce(ctx, msgs); err != nil {
			stop()
			return res, nil, fmt.Errorf("bench: e2e produce: %w", err)
		}
		produced.Add(int64(len(msgs)))
	}
	stop()
	res.Produced = produced.Load()

	p, err := pipeline.Start(ctx, pipeline.Options{Config: scfg, NoLoader: true, NoHTTP: true, Logger: cfg.Logger})
	if err != nil {
		return res, nil, err
	}
	defer p.Close(context.Background())
	processed := func() int64 { s := p.Stats(); return s.Events + s.Duplicates + s.DLQ }

	// Throughput.
	stopProfile, err := cfg.profile("e2e")
	if err != nil {
		return res, nil, err
	}
	defer func() { stopProfile() }() // the error returns below
	tStart, cpu0, ws0, flt0 := time.Now(), cpuTime(), p.Stats().WorkerSeconds, minorFaults()
	var tFirst time.Time
	var atFirst int64
	stop = progress(cfg.Progress, func() string {
		return fmt.Sprintf("e2e: processed %d of %d", processed(), res.Produced)
	})
	deadline := time.Now().Add(10*time.Minute + time.Duration(res.Produced)*time.Millisecond)
	for {
		n := processed()
		if n > 0 && tFirst.IsZero() {
			tFirst, atFirst = time.Now(), n
		}
		if n >= res.Produced {
			break
		}
		if err := errors.Join(p.Err(), ctx.Err()); err != nil {
			stop()
			return res, nil, err
		}
		if time.Now().After(deadline) {
			stop()
			return res, nil, fmt.Errorf("bench: e2e: only %d of %d events processed", n, res.Produced)
		}
		time.Sleep(5 * time.Millisecond)
	}
	tEnd := time.Now()
	stopProfile()
	stopProfile = func() {}
	stop()
	res.CPUSeconds = (cpuTime() - cpu0).Seconds()
	res.MinorFaults = minorFaults() - flt0
	s := p.Stats()
	res.Workers = workerShares(ws0, s.WorkerSeconds, tEnd.Sub(tStart), p.Partitions)
	res.CacheMisses, res.StoreReads = s.UserLoads.CacheMisses, s.UserLoads.StoreReads
	res.Processed = s.Events + s.Duplicates + s.DLQ
	res.DLQ = s.DLQ
	res.Facts = s.Facts
	for _, n := range s.Decisions {
		res.Decisions += n
	}
	res.GroupJoinSeconds = tFirst.Sub(tStart).Seconds()
	res.Seconds = tEnd.Sub(tFirst).Seconds()
	if res.Seconds > 0 {
		res.EventsPerSecond = float64(res.Produced-atFirst) / res.Seconds
	}

	rate := cfg.Rate
	if rate == 0 {
		// Half the maximum: the load the latency target is stated at.
		rate = max(1, int(res.EventsPerSecond/2))
	}
	if res.LatencyResult, err = measureLatency(ctx, cfg, scfg, brokers, w, p, rate, 0); err != nil {
		return res, nil, err
	}
	for i, rate := range cfg.MoreRates {
		l, err := measureLatency(ctx, cfg, scfg, brokers, w, p, rate, i+1)
		if err != nil {
			return res, nil, err
		}
		res.MoreLatency = append(res.MoreLatency, l)
	}
	if !ceiling {
		return res, nil, p.Close(context.Background())
	}
	// The pipeline must not compete with the ceiling reader for the CPU.
	if err := p.Close(context.Background()); err != nil {
		return res, nil, err
	}
	c, err := measureCeiling(ctx, cfg, scfg, brokers)
	if err != nil {
		return res, nil, err
	}
	if c.EventsPerSecond > 0 {
		c.Ratio = res.EventsPerSecond / c.EventsPerSecond
	}
	c.cpuBounds(res, min(runtime.GOMAXPROCS(0), runtime.NumCPU()))
	return res, &c, nil
}

// arenaRoom is kept free in an arena before a record is generated into it:
// more than the largest record the generator makes (an oversized one,
// 64 KiB of properties).
const arenaRoom = 80 << 10

// The latency instrument reads every fact and decision as it appears, so it
// must cost little beside the processor it measures: it finds the message
// id in the bytes the sinks encoders write (AppendFact, AppendDecision)
// instead of decoding JSON (which took 5% of the CPU at 100,000 events/s).
var (
	messageIDKey  = []byte(`"message_id":"`)
	triggerKey    = []byte(`,"trigger":{`)
	attributesKey = []byte(`},"attributes":{`)
)

// factMessageID returns the message_id of a fact: its last field. No string
// value holds a key's bytes (its quotes are escaped).
func factMessageID(v []byte) []byte {
	i := bytes.LastIndex(v, messageIDKey)
	if i < 0 {
		return nil
	}
	return stringAt(v[i+len(messageIDKey):])
}

// decisionMessageID returns the message_id of a decision's trigger (the
// attributes after it may hold any properties).
func decisionMessageID(v []byte) []byte {
	t := bytes.Index(v, triggerKey)
	if t < 0 {
		return nil
	}
	v = v[t+len(triggerKey):]
	if end := bytes.Index(v, attributesKey); end >= 0 {
		v = v[:end]
	}
	i := bytes.Index(v, messageIDKey)
	if i < 0 {
		return nil
	}
	return stringAt(v[i+len(messageIDKey):])
}

// stringAt returns the JSON string content v starts with, up to its closing
// quote; nil when it has escapes or does not end (generated ids have
// neither).
func stringAt(v []byte) []byte {
	j := bytes.IndexByte(v, '"')
	if j <= 0 || bytes.IndexByte(v[:j], '\\') >= 0 {
		return nil
	}
	return v[:j]
}

// measureLatency offers rate events/s for cfg.LatencyDuration to the running
// pipeline p and times their way through it. Phase n (from 0) draws its own
// events (messageIds a phase before would make duplicates); the first one
// is profiled.
func measureLatency(ctx context.Context, cfg Config, scfg stream.Config, brokers []string, w *sinks.Producer, p *pipeline.Pipeline, rate, phase int) (LatencyResult, error) {
	res := LatencyResult{Rate: rate}
	gen, err := NewGenerator(cfg.generatorConfig(cfg.Seed+1+int64(phase), time.Now().UTC(), time.Second/time.Duration(max(rate, 1))))
	if err != nil {
		return res, err
	}
	// The phase offers at most limit events; sent[seq] is when the write
	// of the event the generator made seq-th was sent (nanoseconds since
	// epoch, plus one: 0 is not sent yet). An output's messageId gives its
	// seq (Generator.SeqOf): no map of ids, whose random inserts (a cache
	// miss each) cost 5% of the machine at 200,000 events/s, under the
	// readers' lock.
	limit := int64(float64(rate)*cfg.LatencyDuration.Seconds()) + int64(rate/10) + 1
	sent := make([]atomic.Int64, limit)
	var mu struct {
		sync.Mutex
		latencies []time.Duration
		facts     []time.Duration
		// toWrite and afterWrite split each fact's latency (see
		// FactToWriteP50Ms).
		toWrite, afterWrite []time.Duration
		factSeen            []uint64 // bit seq: a fact of event seq was read
	}
	epoch := time.Now()
	mu.factSeen = make([]uint64, (limit+63)/64)
	// sentAt returns the seq of the event whose messageId is id, and the
	// time since epoch when its write was sent, if it was in this phase.
	sentAt := func(id []byte) (uint64, time.Duration, bool) {
		seq, ok := gen.SeqOf(id)
		if !ok || seq >= uint64(limit) {
			return 0, 0, false
		}
		t := sent[seq].Load()
		return seq, time.Duration(t - 1), t != 0
	}

	// Readers of every send topic partition, from the end.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	var matched atomic.Int64
	// The readers long-poll: a broker answers a waiting fetch as soon as a
	// record arrives (Kafka's purgatory; the embedded broker too: at
	// 5,000/s the p50 is the same 0.9 ms with a 5 ms or a 200 ms wait).
	// Polling every 5 ms, as they first did, made 1,600 of the broker's
	// 2,500 requests a second, and the latency tail longer (p99 at
	// 100,000/s 92-95 ms vs 52-53 ms).
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: cfg.auth.Transport()}
	defer client.Transport.(*kafka.Transport).CloseIdleConnections()
	tail := func(topic string, part int, fn func(value []byte, at, stamped time.Time)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tailPartition(rctx, client, topic, part, fn)
		}()
	}
	for ch := state.Channel(0); ch < state.NumChannels; ch++ {
		for part := 0; part < cfg.Partitions; part++ {
			tail(scfg.SendTopic(ch), part, func(value []byte, at, _ time.Time) {
				_, t, ok := sentAt(decisionMessageID(value))
				if !ok {
					return
				}
				mu.Lock()
				mu.latencies = append(mu.latencies, at.Sub(epoch)-t)
				mu.Unlock()
				matched.Add(1)
			})
		}
	}
	for part := 0; part < cfg.Partitions; part++ {
		tail(scfg.Topics.Facts, part, func(value []byte, at, stamped time.Time) {
			seq, t, ok := sentAt(factMessageID(value))
			if !ok {
				return
			}
			mu.Lock()
			if w, bit := &mu.factSeen[seq/64], uint64(1)<<(seq%64); *w&bit == 0 {
				*w |= bit
				// The record's timestamp is wall-clock time, the send and
				// read times are monotonic: the part after the write is
				// read − timestamp (two wall-clock times milliseconds
				// apart), the part before it the rest, so that a step of
				// the wall clock during the phase (NTP, the hypervisor)
				// does not move it.
				total, after := at.Sub(epoch)-t, at.Sub(stamped)
				mu.facts = append(mu.facts, total)
				mu.toWrite = append(mu.toWrite, total-after)
				mu.afterWrite = append(mu.afterWrite, after)
			}
			mu.Unlock()
		})
	}
	// Let the readers resolve the end offsets before anything new arrives.
	time.Sleep(time.Second)

	before := p.Stats()
	base := before.Events + before.Duplicates + before.DLQ
	var produced atomic.Int64
	stop := progress(cfg.Progress, func() string {
		s := p.Stats()
		return fmt.Sprintf("e2e latency: offered %d at %d/s, processed %d, decisions matched %d",
			produced.Load(), rate, s.Events+s.Duplicates+s.DLQ-base, matched.Load())
	})
	stopProfile := func() {}
	if phase == 0 {
		if stopProfile, err = cfg.profile("latency"); err != nil {
			stop()
			return res, err
		}
	}
	defer stopProfile()
	// One write is in flight while the next batch is generated, so the
	// offered rate is not capped by the time the broker takes to
	// acknowledge. An event's clock starts when its write is sent.
	type job struct {
		first int64 // the seq of msgs[0]
		msgs  []kafka.Message
	}
	jobs := make(chan job)
	written := make(chan error, 1)
	var writeFailed atomic.Bool
	go func() {
		var err error
		for j := range jobs {
			if err != nil {
				continue
			}
			now := int64(time.Since(epoch)) + 1
			for i := range j.msgs {
				sent[j.first+int64(i)].Store(now)
			}
			if err = w.Produce(ctx, j.msgs); err != nil {
				writeFailed.Store(true)
				continue
			}
			produced.Add(int64(len(j.msgs)))
		}
		written <- err
	}()
	inProc := &p.Runner.Stats().Latency
	inWritten0, inAcked0, inStarted0 := inProc.Written.Snapshot(), inProc.Acked.Snapshot(), inProc.Started.Snapshot()
	start, st0, cpu0 := time.Now(), p.Stats(), cpuTime()
	ws0 := st0.WorkerSeconds
	err = func() error {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var generated int64
		// The batches take turns with two sets of buffers: a batch is
		// generated while the one before is written, so the set before
		// that is free. The measured process's garbage collector is not
		// made to chase a new key and value per event.
		var sets [2]struct {
			msgs  []kafka.Message
			arena []byte
		}
		turn := 0
		for time.Since(start) < cfg.LatencyDuration && !writeFailed.Load() {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
			due := int64(time.Since(start).Seconds() * float64(rate))
			n := offerNow(due, generated, limit, rate)
			if n <= 0 {
				continue
			}
			set := &sets[turn]
			msgs, arena := set.msgs[:0], set.arena[:0]
			for range n {
				if cap(arena)-len(arena) < arenaRoom {
					// Records already made keep the array they are in.
					arena = make([]byte, 0, max(2*cap(arena), 4*arenaRoom))
				}
				r := gen.Next(arena)
				if len(r.Value) > 0 && &arena[:len(arena)+1][len(arena)] == &r.Value[0] {
					arena = arena[:len(arena)+len(r.Value)]
				} else {
					arena = arena[len(arena):] // r got an array of its own
				}
				msgs = append(msgs, kafka.Message{Topic: scfg.Topics.Events, Key: r.Key, Value: r.Value})
			}
			set.msgs, set.arena = msgs, arena
			generated += n
			select {
			case <-ctx.Done():
				return ctx.Err()
			case jobs <- job{first: generated - n, msgs: msgs}:
			}
			turn ^= 1
		}
		return nil
	}()
	close(jobs)
	if werr := <-written; werr != nil {
		err = fmt.Errorf("bench: e2e latency produce: %w", werr)
	}
	if err != nil {
		stop()
		return res, err
	}
	res.LatencySeconds = time.Since(start).Seconds()
	res.LatencyCPUCores = (cpuTime() - cpu0).Seconds() / res.LatencySeconds
	st1 := p.Stats()
	res.LatencyWorkers = workerShares(ws0, st1.WorkerSeconds, time.Since(start), p.Partitions)
	res.LatencyState = stateWork(st0, st1)
	res.LatencyProduced = produced.Load()
	res.OfferedPerSec = float64(res.LatencyProduced) / res.LatencySeconds

	// Drain: everything processed, then the matches settle.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s := p.Stats()
		if s.Events+s.Duplicates+s.DLQ-base >= res.LatencyProduced {
			break
		}
		if err := p.Err(); err != nil {
			stop()
			return res, err
		}
		if time.Now().After(deadline) {
			stop()
			return res, fmt.Errorf("bench: e2e latency: only %d of %d processed", s.Events+s.Duplicates+s.DLQ-base, res.LatencyProduced)
		}
		time.Sleep(10 * time.Millisecond)
	}
	last, lastChange := matched.Load(), time.Now()
	for time.Since(lastChange) < time.Second && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		if n := matched.Load(); n != last {
			last, lastChange = n, time.Now()
		}
	}
	stop()
	cancel()
	wg.Wait()
	res.LatencyDuplicates = p.Stats().Duplicates - before.Duplicates
	inWritten, inAcked := inProc.Written.Snapshot().Sub(inWritten0), inProc.Acked.Snapshot().Sub(inAcked0)
	msOf := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	res.ProcessorWrittenP50Ms, res.ProcessorWrittenP99Ms = msOf(inWritten.Quantile(0.50)), msOf(inWritten.Quantile(0.99))
	res.ProcessorWrittenP999Ms = msOf(inWritten.Quantile(0.999))
	res.ProcessorAckedP50Ms, res.ProcessorAckedP99Ms = msOf(inAcked.Quantile(0.50)), msOf(inAcked.Quantile(0.99))
	res.ProcessorSamples = inWritten.Count()
	inStarted := inProc.Started.Snapshot().Sub(inStarted0)
	res.ProcessorStartedP50Ms, res.ProcessorStartedP99Ms = msOf(inStarted.Quantile(0.50)), msOf(inStarted.Quantile(0.99))

	lat := mu.latencies
	slices.Sort(lat)
	res.LatencyMatched = len(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	res.P50Ms, res.P99Ms, res.P999Ms = ms(percentile(lat, 0.50)), ms(percentile(lat, 0.99)), ms(percentile(lat, 0.999))
	if len(lat) > 0 {
		res.MaxMs = ms(lat[len(lat)-1])
	}
	fl := mu.facts
	slices.Sort(fl)
	res.FactSamples = len(fl)
	res.FactP50Ms, res.FactP99Ms, res.FactP999Ms = ms(percentile(fl, 0.50)), ms(percentile(fl, 0.99)), ms(percentile(fl, 0.999))
	slices.Sort(mu.toWrite)
	slices.Sort(mu.afterWrite)
	res.FactToWriteP50Ms, res.FactToWriteP99Ms = ms(percentile(mu.toWrite, 0.50)), ms(percentile(mu.toWrite, 0.99))
	res.FactAfterWriteP50Ms, res.FactAfterWriteP99Ms = ms(percentile(mu.afterWrite, 0.50)), ms(percentile(mu.afterWrite, 0.99))
	return res, nil
}

func measureCeiling(ctx context.Context, cfg Config, scfg stream.Config, brokers []string) (CeilingResult, error) {
	var res CeilingResult
	topic := scfg.Topics.Events
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: cfg.auth.Transport()}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for part := 0; part < cfg.Partitions; part++ {
		req.Topics[topic] = append(req.Topics[topic], kafka.FirstOffsetOf(part), kafka.LastOffsetOf(part))
	}
	offs, err := client.ListOffsets(ctx, req)
	if err != nil {
		return res, fmt.Errorf("bench: ceiling: list offsets of %s: %w", topic, err)
	}
	var want int64
	ends := map[int][2]int64{}
	for _, po := range offs.Topics[topic] {
		if po.Error != nil {
			return res, fmt.Errorf("bench: ceiling: offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		ends[po.Partition] = [2]int64{po.FirstOffset, po.LastOffset}
		want += po.LastOffset - po.FirstOffset
	}
	var rates [numCeilingWays]float64
	for way := range numCeilingWays {
		r, err := readCeiling(ctx, cfg, scfg, brokers, ends, want, way)
		if err != nil {
			return res, err
		}
		if rates[way] = r.EventsPerSecond; way == 0 || r.EventsPerSecond > res.EventsPerSecond {
			res = r
		}
	}
	res.ReaderPerSecond, res.FetchPerSecond, res.BatchPerSecond = rates[ceilingReader], rates[ceilingFetch], rates[ceilingBatch]
	return res, nil
}

// The ways the ceiling reads with: kafka-go's Reader, its Client.Fetch
// (as rekindle's partition workers read) and its Conn.ReadBatch.
const (
	ceilingReader = iota
	ceilingFetch
	ceilingBatch
	numCeilingWays
)

// ceilingWays: each way's name and the suffix of its CPU profile.
var ceilingWays = [numCeilingWays]struct{ name, phase string }{
	{"Reader", "ceiling-reader"},
	{"Client.Fetch", "ceiling-fetch"},
	{"Conn.ReadBatch", "ceiling-batch"},
}

// readCeiling reads every partition from first to last offset, one
// goroutine each, the way way says.
func readCeiling(ctx context.Context, cfg Config, scfg stream.Config, brokers []string, ends map[int][2]int64, want int64, way int) (CeilingResult, error) {
	var res CeilingResult
	topic := scfg.Topics.Events
	how, phase := ceilingWays[way].name, ceilingWays[way].phase
	stopProfile, err := cfg.profile(phase)
	if err != nil {
		return res, err
	}
	defer stopProfile()
	var records, nbytes atomic.Int64
	stop := progress(cfg.Progress, func() string {
		return fmt.Sprintf("ceiling (%s): read %d of %d", how, records.Load(), want)
	})
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: time.Minute, Transport: cfg.auth.Transport()}
	defer client.Transport.(*kafka.Transport).CloseIdleConnections()
	errs := make([]error, cfg.Partitions)
	var wg sync.WaitGroup
	t0, cpu0, flt0 := time.Now(), cpuTime(), minorFaults()
	for part := 0; part < cfg.Partitions; part++ {
		first, last := ends[part][0], ends[part][1]
		if last <= first {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch way {
			case ceilingFetch:
				errs[part] = fetchAll(ctx, client, topic, part, first, last, &records, &nbytes)
				return
			case ceilingBatch:
				errs[part] = batchAll(ctx, cfg.auth.Dialer(), brokers, topic, part, first, last, &records, &nbytes)
				return
			}
			// kafka-go's Reader, as rekindle's workers read before.
			r := kafka.NewReader(kafka.ReaderConfig{
				Brokers: brokers, Topic: topic, Partition: part,
				MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 250 * time.Millisecond,
				QueueCapacity: scfg.Processing.BatchSize,
				Dialer:        cfg.auth.Dialer(),
				StartOffset:   kafka.FirstOffset,
			})
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					errs[part] = fmt.Errorf("bench: ceiling: read %s/%d: %w", topic, part, err)
					return
				}
				records.Add(1)
				nbytes.Add(int64(len(m.Key) + len(m.Value)))
				if m.Offset+1 >= last {
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed, cpu, faults := time.Since(t0), cpuTime()-cpu0, minorFaults()-flt0
	stop()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	res.Records, res.Bytes = records.Load(), nbytes.Load()
	res.MinorFaults = faults
	res.Seconds = elapsed.Seconds()
	res.EventsPerSecond = float64(res.Records) / res.Seconds
	res.CPUSeconds = cpu.Seconds()
	if res.Records > 0 {
		res.CPUMicrosPerRecord = 1e6 * res.CPUSeconds / float64(res.Records)
	}
	return res, nil
}

// offerNow returns how many events the latency phase writes next: those
// due by now (due, of generated so far) up to limit, at most a fiftieth of
// a second's worth at rate. A producer that fell behind (the host busy for
// a moment) catches up at its full speed in writes of that size, as the
// producers of a real topic would, instead of sending a whole second's
// events in one write that the processor then takes a second to work
// through: such a burst is the bench's own, and it put seconds into the
// p99 (offered in steps of the rate every 2-3 s while 140,000/s were asked
// on the eleventh session's host). Events it could not offer in time are
// offered late, and the phase says so (its offered rate).
func offerNow(due, generated, limit int64, rate int) int64 {
	return min(due-generated, max(int64(rate)/50, 1), limit-generated)
}

// tailPartition calls fn with every record of the partition from its end
// on, with the time it was read and its timestamp, until ctx ends. The
// value passed to fn is valid until fn returns.
func tailPartition(ctx context.Context, client *kafka.Client, topic string, part int, fn func(value []byte, at, stamped time.Time)) {
	off := kafka.LastOffset
	var buf []byte // fn's value, reused
	for ctx.Err() == nil {
		res, err := client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: part, Offset: off,
			MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 100 * time.Millisecond})
		if err == nil {
			err = res.Error
		}
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		at := time.Now()
		if off < 0 {
			off = res.HighWatermark // resolved: from the end
		}
		for {
			r, err := res.Records.ReadRecord()
			if err != nil {
				break
			}
			if r.Offset >= off && r.Value != nil {
				n := r.Value.Len()
				if cap(buf) < n {
					buf = make([]byte, n)
				}
				if _, err := io.ReadFull(r.Value, buf[:n]); err == nil {
					fn(buf[:n], at, r.Time)
				}
				off = r.Offset + 1
			}
			if r.Key != nil {
				r.Key.Close()
			}
			if r.Value != nil {
				r.Value.Close()
			}
		}
	}
}

// batchAll reads partition part from first to last with a connection to
// its leader and Conn.ReadBatch, a fetch response at a time, the key and
// value of each record copied out of kafka-go's (it allocates them).
func batchAll(ctx context.Context, dialer *kafka.Dialer, brokers []string, topic string, part int, first, last int64, records, nbytes *atomic.Int64) error {
	conn, err := dialer.DialLeader(ctx, "tcp", brokers[0], topic, part)
	if err != nil {
		return fmt.Errorf("bench: ceiling: connect to the leader of %s/%d: %w", topic, part, err)
	}
	defer conn.Close()
	var buf []byte
	empty := 0
	for off := first; off < last; {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := conn.Seek(off, kafka.SeekAbsolute); err != nil {
			return fmt.Errorf("bench: ceiling: seek %s/%d to %d: %w", topic, part, off, err)
		}
		if err := conn.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
			return err
		}
		batch := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: stream.FetchMaxBytes, MaxWait: 250 * time.Millisecond})
		var n, b int64
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			buf = append(append(buf[:0], m.Key...), m.Value...)
			n++
			b += int64(len(buf))
			off = m.Offset + 1
		}
		if err := batch.Close(); err != nil {
			return fmt.Errorf("bench: ceiling: read %s/%d at %d: %w", topic, part, off, err)
		}
		if empty = pick(n == 0, empty+1, 0); empty == 3 {
			return fmt.Errorf("bench: ceiling: %s/%d: three fetches at offset %d returned no records (the partition ends at %d)", topic, part, off, last)
		}
		records.Add(n)
		nbytes.Add(b)
	}
	return nil
}

// fetchAll reads partition part from first to last with Client.Fetch, a
// response at a time, copying each key and value as the workers do.
func fetchAll(ctx context.Context, client *kafka.Client, topic string, part int, first, last int64, records, nbytes *atomic.Int64) error {
	var buf []byte
	for off := first; off < last; {
		res, err := client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: part, Offset: off,
			MinBytes: 1, MaxBytes: stream.FetchMaxBytes, MaxWait: 250 * time.Millisecond})
		if err == nil {
			err = res.Error
		}
		if err != nil {
			return fmt.Errorf("bench: ceiling: fetch %s/%d at %d: %w", topic, part, off, err)
		}
		var n, b int64
		for {
			r, err := res.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("bench: ceiling: read %s/%d at %d: %w", topic, part, off, err)
			}
			if r.Offset >= off {
				buf = buf[:0]
				for _, v := range []kafka.Bytes{r.Key, r.Value} {
					if v != nil {
						k := len(buf)
						buf = append(buf, make([]byte, v.Len())...)
						io.ReadFull(v, buf[k:])
					}
				}
				n++
				b += int64(len(buf))
				off = r.Offset + 1
			}
			if r.Key != nil {
				r.Key.Close()
			}
			if r.Value != nil {
				r.Value.Close()
			}
		}
		records.Add(n)
		nbytes.Add(b)
	}
	return nil
}
