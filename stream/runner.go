package stream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/rekindle/rekindle/bitmap"
	"github.com/rekindle/rekindle/sinks"
	"github.com/rekindle/rekindle/state"
)

// Hooks let tests stop the processor at precise points, as a crash would.
// Each is called from a partition worker; nil hooks are skipped.
type Hooks struct {
	// InBatch is called after each input is processed, before the batch's
	// outputs are written; n counts inputs of the batch so far.
	InBatch func(partition int32, n int)
	// OutputsAcked is called after Kafka acknowledged a batch's outputs and
	// before its state commit, on the goroutine that wrote them (with 0
	// outputs, on the worker's).
	OutputsAcked func(partition int32, outputs int)
}

// RunnerOptions configure a Runner.
type RunnerOptions struct {
	Brokers []string
	Store   *state.Store
	Logger  *slog.Logger // default: discard
	Hooks   Hooks
	// Auth: how to connect to the brokers (nil: plaintext; see
	// KafkaConfig.Auth).
	Auth *sinks.Auth
}

// Runner consumes the events topic as a member of the processor's consumer
// group and runs one PartitionWorker goroutine per assigned partition.
type Runner struct {
	proc        *Processor
	opts        RunnerOptions
	log         *slog.Logger
	writer      *sinks.Producer
	fetchClient *kafka.Client
	stats       Stats
	regs        struct {
		sync.Mutex
		m map[int32]*bitmap.Registry
	}
}

// Stats are the running totals of a Runner; safe for concurrent use.
type Stats struct {
	mu struct {
		sync.Mutex
		c         Counters
		lag       map[int32]int64 // records behind the end, by owned partition
		lastFetch FetchError      // the latest failed fetch (zero: none)
	}
	Batches    atomic.Int64
	Commits    atomic.Int64 // state commits (see StateConfig.CommitInterval)
	Partitions atomic.Int64 // partitions currently owned
	// Where the partition workers' time went, summed over workers, in
	// nanoseconds: working (processing, timers, encoding commits), waiting
	// for the acknowledgement of outputs, waiting for input. A processor
	// that waits for input most of the time is not the bottleneck.
	WorkNanos, AckWaitNanos, InputWaitNanos atomic.Int64
	// CommitTimes: how long the state commits took (encoding on the
	// workers, applying on their own goroutines).
	CommitTimes CommitTimes
	// UserLoads: the users not in a cache, and those read from the store.
	UserLoads UserLoads
	// InputsLost: input records deleted by the topic's retention before
	// they were processed (each loss is logged at error level too).
	InputsLost atomic.Int64
	// InputsAborted: records of aborted transactions skipped
	// (kafka.isolation_level read_committed): never events.
	InputsAborted atomic.Int64
	// FetchErrors counts the fetches that failed (each retried with
	// back-off; the latest is LastFetchError).
	FetchErrors atomic.Int64
	// Latency: how long the inputs spent in the processor, from the
	// arrival of their fetch response to the worker starting on it
	// (Started: the response waited for the worker to finish the one
	// before), to their batch's outputs being handed to the producer
	// (Written) and acknowledged by Kafka (Acked); one sample per input.
	Latency struct{ Started, Written, Acked LatencyHistogram }
}

// Snapshot returns the counters so far.
func (s *Stats) Snapshot() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.c
}

// FetchError is a failed fetch of a partition.
type FetchError struct {
	Partition int32
	Err       string
	At        time.Time
}

// LastFetchError returns the latest failed fetch, if any fetch failed.
func (s *Stats) LastFetchError() (FetchError, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.lastFetch, !s.mu.lastFetch.At.IsZero()
}

func (s *Stats) fetchFailed(p int32, err error) {
	s.FetchErrors.Add(1)
	s.mu.Lock()
	s.mu.lastFetch = FetchError{Partition: p, Err: err.Error(), At: time.Now()}
	s.mu.Unlock()
}

// PartitionLags returns each owned partition's lag (see Lag).
func (s *Stats) PartitionLags() map[int32]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.mu.lag)
}

// Lag returns how many input records the owned partitions are behind, as of
// their last fetch.
func (s *Stats) Lag() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, l := range s.mu.lag {
		n += l
	}
	return n
}

func (s *Stats) setLag(p int32, lag int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.lag == nil {
		s.mu.lag = map[int32]int64{}
	}
	s.mu.lag[p] = lag
}

func (s *Stats) dropLag(p int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.lag, p)
}

func (s *Stats) add(c *Counters) {
	s.mu.Lock()
	s.mu.c.Add(c)
	s.mu.Unlock()
}

// NewRunner returns a Runner for a processor.
func NewRunner(proc *Processor, opts RunnerOptions) (*Runner, error) {
	if len(opts.Brokers) == 0 {
		return nil, errors.New("stream: runner needs at least one broker address")
	}
	if opts.Store == nil {
		return nil, errors.New("stream: runner needs a state store")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	writer := sinks.NewProducer(opts.Brokers, opts.Auth)
	writer.Compression = sinks.Compressions[proc.cfg.Kafka.Compression]
	return &Runner{
		proc:   proc,
		opts:   opts,
		log:    log,
		writer: writer,
		fetchClient: &kafka.Client{Addr: kafka.TCP(opts.Brokers...), Timeout: time.Minute,
			Transport: opts.Auth.Transport()},
	}, nil
}

// Stats returns the runner's live statistics.
func (r *Runner) Stats() *Stats { return &r.stats }

// Run consumes until ctx is done, then finishes the batches in flight and
// returns. Partition workers start on assignment and stop on revocation.
func (r *Runner) Run(ctx context.Context) error {
	cfg := r.proc.cfg
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                cfg.Kafka.GroupID,
		Brokers:           r.opts.Brokers,
		Topics:            []string{cfg.Topics.Events},
		SessionTimeout:    time.Duration(cfg.Kafka.SessionTimeout),
		RebalanceTimeout:  time.Duration(cfg.Kafka.SessionTimeout),
		HeartbeatInterval: time.Duration(cfg.Kafka.SessionTimeout) / 5,
		JoinGroupBackoff:  500 * time.Millisecond,
		StartOffset:       kafka.FirstOffset,
		Dialer:            r.opts.Auth.Dialer(),
	})
	if err != nil {
		return fmt.Errorf("stream: join group %q: %w", cfg.Kafka.GroupID, err)
	}
	defer group.Close()
	syncDone := make(chan struct{})
	defer func() { <-syncDone }()
	go func() {
		defer close(syncDone)
		r.syncLoop(ctx)
	}()
	for {
		gen, err := group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			r.log.Warn("consumer group error, rejoining", "group", cfg.Kafka.GroupID, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		for _, pa := range gen.Assignments[cfg.Topics.Events] {
			part := int32(pa.ID)
			gen.Start(func(gctx context.Context) {
				r.stats.Partitions.Add(1)
				defer r.stats.Partitions.Add(-1)
				defer r.stats.dropLag(part)
				r.ownPartition(gctx, gen, part)
			})
		}
		r.log.Info("partitions assigned", "generation", gen.ID, "partitions", len(gen.Assignments[cfg.Topics.Events]))
	}
}

// syncLoop makes committed state durable every SyncInterval, so that no
// commit on the hot path waits for an fsync.
func (r *Runner) syncLoop(ctx context.Context) {
	t := time.NewTicker(time.Duration(r.proc.cfg.State.SyncInterval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.opts.Store.Sync(); err != nil {
				r.log.Error("state sync failed", "err", err)
			}
		}
	}
}

// Close releases the producer.
func (r *Runner) Close() error {
	r.fetchClient.Transport.(*kafka.Transport).CloseIdleConnections()
	return r.writer.Close()
}

// markStateAhead records e with the partition's state.
func markStateAhead(store *state.Partition, e *StateAheadError) error {
	b := store.NewBatch()
	defer b.Close()
	b.PutBlob(blobStateAhead, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(e.Offset)), uint64(e.End)))
	return b.Commit(true)
}

// stateAhead returns the StateAheadError recorded with the partition's
// state, if any.
func stateAhead(store *state.Partition, topic string, partition int32) (*StateAheadError, error) {
	b, found, err := store.Blob(blobStateAhead)
	if err != nil || !found {
		return nil, err
	}
	if len(b) != 16 {
		return nil, fmt.Errorf("stream: partition %d: blob %q holds %d bytes, want 16", partition, blobStateAhead, len(b))
	}
	return &StateAheadError{Topic: topic, Partition: partition,
		Offset: int64(binary.BigEndian.Uint64(b)), End: int64(binary.BigEndian.Uint64(b[8:]))}, nil
}

// ownPartition runs a PartitionWorker until the partition is revoked,
// restarting it from the committed state after errors.
func (r *Runner) ownPartition(ctx context.Context, gen *kafka.Generation, part int32) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		w := &PartitionWorker{runner: r, gen: gen, partition: part}
		err := w.run(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		if errors.As(err, new(*StateAheadError)) {
			r.log.Error("partition not processed: its state is ahead of its log",
				"topic", r.proc.cfg.Topics.Events, "partition", part, "err", err, "retry_in", backoff)
		} else {
			r.log.Error("partition worker failed; restarting from committed state",
				"topic", r.proc.cfg.Topics.Events, "partition", part, "err", err, "backoff", backoff)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// PartitionWorker consumes one partition: take what one fetch returned (in
// batches of at most processing.batch_size), process it, have its outputs
// acknowledged, then, when due, commit state and next offset in one batch.
type PartitionWorker struct {
	runner    *Runner
	gen       *kafka.Generation
	partition int32

	ps        *PartitionState
	fetcher   *fetcher
	next      int64 // offset after the last processed input (kafka.FirstOffset: none yet)
	committed int64 // the offset stored with the state

	// The outputs of a batch are written while the next batch is processed
	// (see send and awaitSent); msgs[cur] is the next batch's.
	msgs [2][]kafka.Message
	cur  int
	// sending is the write in flight (nil: none).
	sending *outputWrite
	// fetchedAt: when the response of the inputs being processed arrived.
	fetchedAt time.Time
	ackWait   time.Duration // waited in awaitSent so far

	lastGroupCommit, lastSizes, lastSnapshot time.Time
	scanStart                                time.Time // when the scan of the stored users began
	groupOffset                              int64     // the last offset committed to the group
	// groupCommit is closed when the group offset commit in flight is
	// done (nil: none yet).
	groupCommit chan struct{}
	groupFailed bool
}

func (w *PartitionWorker) run(ctx context.Context) error {
	r := w.runner
	cfg := r.proc.cfg
	topic := cfg.Topics.Events
	store := r.opts.Store.Partition(w.partition)
	ps, err := r.proc.NewPartitionState(store, w.partition)
	if err != nil {
		return err
	}
	w.ps = ps
	ps.times = &r.stats.CommitTimes
	ps.loads = &r.stats.UserLoads
	w.scanStart = time.Now()
	if w.scanning() {
		r.stats.UserLoads.Scanning.Add(1)
		defer func() {
			if w.scanning() { // stopped before the scan was done
				r.stats.UserLoads.Scanning.Add(-1)
			}
		}()
	}
	w.sending = nil
	// Whatever the exit, the commit in flight lands first: a worker
	// restarted from the store must not read it half-way (it would apply
	// its inputs twice on top of a commit that lands later). The write in
	// flight ends first too, so that a restarted worker's writes follow it.
	defer ps.WaitCommit()
	defer w.waitGroupCommit()
	defer w.awaitSent()
	next, ok, err := store.Offset()
	if err != nil {
		return err
	}
	if ahead, err := stateAhead(store, topic, w.partition); err != nil {
		return err
	} else if ahead != nil {
		return ahead
	}
	if !ok {
		// No state for this partition: build it from the first record. The
		// group's committed offset is not used, it may be ahead of lost
		// state (only the offset stored with the state is the truth).
		next = kafka.FirstOffset
	}
	w.next, w.committed = next, next
	w.lastSizes, w.lastSnapshot = time.Now(), time.Now()
	r.log.Debug("partition worker started", "topic", topic, "partition", w.partition, "offset", next)

	r.addRegistry(w.partition, ps.Registry())
	defer r.removeRegistry(w.partition)

	// The fetcher waits at most a timer tick for input: timers and sizes
	// are due on the clock, not only when events arrive.
	fctx, stopFetch := context.WithCancel(ctx)
	f := newFetcher(r.fetchClient, topic, w.partition, FetchMaxBytes, timerTick, r.log)
	f.readCommitted = r.proc.cfg.Kafka.IsolationLevel == ReadCommitted
	w.fetcher = f
	fetchDone := make(chan struct{})
	go func() {
		defer close(fetchDone)
		f.run(fctx, next)
	}()
	defer func() {
		stopFetch()
		<-fetchDone
	}()
	for {
		waitStart := time.Now()
		buf, ahead, err := w.awaitInput(ctx)
		if err != nil {
			return err
		}
		workStart := time.Now()
		r.stats.InputWaitNanos.Add(int64(workStart.Sub(waitStart) - ahead))
		r.stats.WorkNanos.Add(int64(ahead))
		ackWaited := w.ackWait
		if buf == nil {
			// Shutdown or revocation: save the bitmaps with the state.
			return w.final()
		}
		if buf.err != nil {
			var ahead *StateAheadError
			if errors.As(buf.err, &ahead) {
				// Recorded with the state, so that no restart goes on
				// once the log has grown past the stored offset.
				return errors.Join(ahead, markStateAhead(store, ahead))
			}
			r.log.Warn("fetch failed; retrying", "topic", topic, "partition", w.partition, "err", buf.err)
			r.stats.fetchFailed(w.partition, buf.err)
		} else if len(buf.inputs) == 0 && buf.next >= 0 {
			w.next = buf.next // past records deleted by retention
		}
		r.stats.InputsLost.Add(buf.lost)
		r.stats.InputsAborted.Add(buf.aborted)
		r.stats.setLag(w.partition, buf.lag)
		// Process. From here on a batch is finished even if ctx is
		// cancelled (revocation, shutdown): outputs flushed, then commit.
		ins := buf.inputs
		w.fetchedAt = buf.at
		if len(ins) > 0 {
			r.stats.Latency.Started.Add(time.Since(buf.at), int64(len(ins)))
		}
		for {
			n := min(len(ins), cfg.Processing.BatchSize)
			if err := w.batch(ctx, ins[:n]); err != nil {
				return err
			}
			ins = ins[n:]
			if len(ins) == 0 {
				break
			}
		}
		w.release(buf)
		r.stats.WorkNanos.Add(int64(time.Since(workStart) - (w.ackWait - ackWaited)))
		if ctx.Err() != nil {
			return w.final()
		}
	}
}

// awaitInput returns the next fetch response, or nil when ctx ends. While
// none is there it works ahead, a chunk at a time: it scans the stored
// users into the partition's filter until that is done (see
// PartitionState.ScanStoredUsers), and encodes dirty records ahead of a
// commit that is near (see PartitionState.PreEncode). It returns how long
// that work took.
func (w *PartitionWorker) awaitInput(ctx context.Context) (*fetched, time.Duration, error) {
	f, ps := w.fetcher, w.ps
	var ahead time.Duration
	for {
		scan := storedScanIdle > 0 && w.scanning()
		if !scan && !ps.PreEncodeDue() {
			break
		}
		select {
		case buf := <-f.out:
			return buf, ahead, nil
		case <-ctx.Done():
			return nil, ahead, nil
		default:
		}
		t := time.Now()
		more, err := true, error(nil)
		if scan {
			err = w.scanStored(storedScanIdle)
		} else {
			more, err = ps.PreEncode(preEncodeChunk)
		}
		ahead += time.Since(t)
		if err != nil {
			return nil, ahead, err
		}
		if !more {
			break
		}
	}
	select {
	case buf := <-f.out:
		return buf, ahead, nil
	case <-ctx.Done():
		return nil, ahead, nil
	}
}

// Chunks of the scan of a partition's stored users (see
// PartitionState.ScanStoredUsers): while the worker waits for input, and
// before each batch until it is done (a few hundred microseconds each).
// Variables for the tests (see ScanStoredForTests); 0 turns a kind off.
var (
	storedScanIdle  = 4096
	storedScanBatch = 1024
)

// ScanStoredForTests sets how many stored users a partition state scans
// into its filter when it opens, in each chunk while its worker waits for
// input, and before each batch (0: none while idle, or before batches), so
// that tests of the whole pipeline restarting on its state process events
// before, while and after the filter is complete. It returns a function
// that restores the defaults.
func ScanStoredForTests(first, idle, batch int) (restore func()) {
	f, i, b := storedScanFirst, storedScanIdle, storedScanBatch
	storedScanFirst, storedScanIdle, storedScanBatch = first, idle, batch
	return func() { storedScanFirst, storedScanIdle, storedScanBatch = f, i, b }
}

// scanning reports whether the scan of the partition's stored users goes on.
func (w *PartitionWorker) scanning() bool { return !w.ps.stored.ready }

// scanStored adds up to n stored users to the partition's filter, and logs
// when it is done.
func (w *PartitionWorker) scanStored(n int) error {
	done, err := w.ps.ScanStoredUsers(n)
	if err != nil || !done {
		return err
	}
	w.runner.stats.UserLoads.Scanning.Add(-1)
	w.runner.stats.UserLoads.Scanned.Add(1)
	_, users, bytes := w.ps.StoredUsersFilter()
	w.runner.log.Info("stored users scanned: reads of new users skipped from now on",
		"partition", w.partition, "users", users, "filter_bytes", bytes, "took", time.Since(w.scanStart).Round(time.Millisecond))
	return nil
}

// final commits the state, with the bitmaps, once the outputs in flight
// are acknowledged: the last thing a worker does when it stops on purpose.
func (w *PartitionWorker) final() error {
	if err := w.awaitSent(); err != nil {
		return err
	}
	if w.next < 0 {
		return nil
	}
	return w.ps.Commit(w.next, false, true)
}

// release hands a processed fetch response back to the fetcher: no output
// points into it (dead letters carry copies of their inputs).
func (w *PartitionWorker) release(buf *fetched) {
	w.fetcher.free <- buf
}

// FetchMaxBytes bounds one fetch response of a partition worker (the Java
// consumer's max.partition.fetch.bytes default). Responses of 16 MB made
// the embedded broker grow and copy its response buffer well beyond the
// CPU caches, and the worker's copy of the records with it: 1 MB gave
// e2e 2-20% more events/s for 8-10% less CPU (four A/B pairs). A record
// larger than this still comes whole (Kafka returns at least one batch).
const FetchMaxBytes = 1 << 20

// batch processes ins (possibly none: the clock still runs timers and
// sizes), writes the outputs and flushes or commits.
func (w *PartitionWorker) batch(ctx context.Context, ins []Input) error {
	r, ps := w.runner, w.ps
	cfg := r.proc.cfg
	if storedScanBatch > 0 && w.scanning() {
		if err := w.scanStored(storedScanBatch); err != nil {
			return err
		}
	}
	for i := range ins {
		ps.Prefetch(ins, i)
		if err := ps.Process(&ins[i]); err != nil {
			return err
		}
		if h := r.opts.Hooks.InBatch; h != nil {
			h(w.partition, i+1)
		}
	}
	if len(ins) > 0 {
		w.next = ins[len(ins)-1].Offset + 1
	}
	// The clock: event time, or the wall clock when it is ahead (an idle
	// partition advances with the wall clock).
	now := max(time.Now().UnixMilli(), ps.Watermark())
	fired := 0
	if w.next >= 0 && ps.TimersDue(now) {
		var err error
		if fired, err = ps.FireTimers(now, cfg.Processing.BatchSize); err != nil {
			return err
		}
	}
	sizes := w.next >= 0 && time.Since(w.lastSizes) >= time.Duration(cfg.Segments.SizesInterval)
	if sizes {
		w.lastSizes = time.Now()
		ps.EmitSizes(now)
	}
	if len(ins) == 0 && fired == 0 && !sizes {
		// Idle: nothing to do while the last outputs are in flight; then
		// commit what the last batches left uncommitted once due.
		if err := w.awaitSent(); err != nil {
			return err
		}
		if w.next != w.committed && ps.CommitDue(now) {
			if err := ps.CommitAsync(w.next, false, false); err != nil {
				return err
			}
			w.committed = w.next
			r.stats.Commits.Add(1)
		}
		w.commitGroupOffset(ctx)
		return nil
	}
	// The last batch's outputs are acknowledged before this batch's go
	// out (a partition's outputs stay in order) and before its buffers are
	// reused for the next batch.
	if err := w.awaitSent(); err != nil {
		return err
	}
	w.send(ctx, ps.TakeOutputs(), len(ins))
	counters := *ps.Counters()
	snapshot := time.Since(w.lastSnapshot) >= time.Duration(cfg.Segments.SnapshotInterval)
	if snapshot || ctx.Err() != nil || ps.CommitDue(now) {
		if snapshot {
			w.lastSnapshot = time.Now()
		}
		// No state is committed before the outputs of its inputs are
		// acknowledged: the commit's goroutine waits for them, the worker
		// goes on (it waits for them before the next batch's go out).
		var acked func() error
		if ow := w.sending; ow != nil {
			acked = ow.wait
		}
		if err := ps.CommitAsyncAfter(w.next, false, snapshot, acked); err != nil {
			return err
		}
		w.committed = w.next
		r.stats.Commits.Add(1)
	} else {
		ps.Flush()
	}
	r.stats.add(&counters)
	r.stats.Batches.Add(1)

	w.commitGroupOffset(ctx)
	return nil
}

// send starts writing a batch's outputs on another goroutine; awaitSent
// waits for the acknowledgement. One write is in flight at a time, so a
// partition's outputs reach each output partition in the order they were
// made; the worker processes the next batch meanwhile.
func (w *PartitionWorker) send(ctx context.Context, outs []Output, inputs int) {
	r := w.runner
	fetched, lat := w.fetchedAt, &r.stats.Latency
	if inputs > 0 {
		lat.Written.Add(time.Since(fetched), int64(inputs))
	}
	if len(outs) == 0 {
		if inputs > 0 {
			lat.Acked.Add(time.Since(fetched), int64(inputs))
		}
		if h := r.opts.Hooks.OutputsAcked; h != nil {
			h(w.partition, 0)
		}
		return
	}
	msgs := w.msgs[w.cur][:0]
	for i := range outs {
		o := &outs[i]
		km := kafka.Message{Topic: o.Topic, Key: o.Key, Value: o.Value}
		for _, h := range o.Headers {
			km.Headers = append(km.Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
		msgs = append(msgs, km)
	}
	w.msgs[w.cur] = msgs
	w.cur ^= 1
	ow := &outputWrite{n: len(msgs), done: make(chan struct{})}
	w.sending = ow
	part := w.partition
	go func() {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		ow.err = r.writer.Produce(wctx, msgs)
		if inputs > 0 && ow.err == nil {
			lat.Acked.Add(time.Since(fetched), int64(inputs))
		}
		if h := r.opts.Hooks.OutputsAcked; h != nil && ow.err == nil {
			h(part, ow.n)
		}
		close(ow.done)
	}()
}

// outputWrite is a batch's outputs being written: done is closed once Kafka
// acknowledged them (err nil) or the write failed. The worker waits for it
// before the next batch's outputs go out (awaitSent); a state commit that
// covers the batch waits for it on the commit's goroutine.
type outputWrite struct {
	n    int
	done chan struct{}
	err  error
}

// wait waits for the write and returns its error.
func (o *outputWrite) wait() error {
	<-o.done
	return o.err
}

// awaitSent waits for the outputs in flight, if any, to be acknowledged.
func (w *PartitionWorker) awaitSent() error {
	ow := w.sending
	if ow == nil {
		return nil
	}
	t := time.Now()
	err := ow.wait()
	d := time.Since(t)
	w.ackWait += d
	w.runner.stats.AckWaitNanos.Add(int64(d))
	w.sending = nil
	clear(w.msgs[w.cur^1])
	if err != nil {
		return fmt.Errorf("stream: write %d outputs of %s/%d: %w", ow.n, w.runner.proc.cfg.Topics.Events, w.partition, err)
	}
	return nil
}

// commitGroupOffset commits the offset stored with the state as the group's
// offset of the partition, on another goroutine: it is a round trip to the
// group coordinator, and the next batch need not wait for it. The group
// offset is informational (lag monitoring); the truth is the offset
// committed with the state. One commit is in flight at a time, at most one
// a second, and only when the offset stored with the state has moved (an
// idle partition's group offset catches up with its state too); a failed
// one is tried again.
func (w *PartitionWorker) commitGroupOffset(ctx context.Context) {
	offset := w.committed
	if offset < 0 || time.Since(w.lastGroupCommit) < time.Second {
		return
	}
	if w.groupCommit != nil {
		select {
		case <-w.groupCommit:
		default:
			return
		}
		if w.groupFailed {
			w.groupFailed = false
			w.groupOffset = -1 // try again
		}
	}
	if offset == w.groupOffset {
		return
	}
	w.lastGroupCommit, w.groupOffset = time.Now(), offset
	done := make(chan struct{})
	w.groupCommit = done
	r, topic := w.runner, w.runner.proc.cfg.Topics.Events
	go func() {
		defer close(done)
		if err := w.gen.CommitOffsets(map[string]map[int]int64{topic: {int(w.partition): offset}}); err != nil {
			w.groupFailed = true // read by the worker after done is closed
			if ctx.Err() == nil {
				r.log.Debug("group offset commit failed", "partition", w.partition, "err", err)
			}
		}
	}()
}

// waitGroupCommit waits for the group offset commit in flight, if any.
func (w *PartitionWorker) waitGroupCommit() {
	if w.groupCommit != nil {
		<-w.groupCommit
	}
}

// timerTick is how long a partition worker waits for input before it looks
// at its timers: a user enters an absence segment within about this long
// of the deadline.
const timerTick = 250 * time.Millisecond

func (r *Runner) addRegistry(p int32, reg *bitmap.Registry) {
	r.regs.Lock()
	defer r.regs.Unlock()
	if r.regs.m == nil {
		r.regs.m = map[int32]*bitmap.Registry{}
	}
	r.regs.m[p] = reg
}

func (r *Runner) removeRegistry(p int32) {
	r.regs.Lock()
	defer r.regs.Unlock()
	delete(r.regs.m, p)
}

// Registries returns the segment bitmaps of the partitions this runner owns
// now, by partition.
func (r *Runner) Registries() map[int32]*bitmap.Registry {
	r.regs.Lock()
	defer r.regs.Unlock()
	out := make(map[int32]*bitmap.Registry, len(r.regs.m))
	for p, reg := range r.regs.m {
		out[p] = reg
	}
	return out
}
