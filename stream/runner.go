package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	// before its state commit.
	OutputsAcked func(partition int32, outputs int)
}

// RunnerOptions configure a Runner.
type RunnerOptions struct {
	Brokers []string
	Store   *state.Store
	Logger  *slog.Logger // default: discard
	Hooks   Hooks
}

// Runner consumes the events topic as a member of the processor's consumer
// group and runs one PartitionWorker goroutine per assigned partition.
type Runner struct {
	proc   *Processor
	opts   RunnerOptions
	log    *slog.Logger
	writer *kafka.Writer
	stats  Stats
	regs   struct {
		sync.Mutex
		m map[int32]*bitmap.Registry
	}
}

// Stats are the running totals of a Runner; safe for concurrent use.
type Stats struct {
	mu struct {
		sync.Mutex
		c Counters
	}
	Batches    atomic.Int64
	Commits    atomic.Int64 // state commits (see StateConfig.CommitInterval)
	Partitions atomic.Int64 // partitions currently owned
}

// Snapshot returns the counters so far.
func (s *Stats) Snapshot() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.c
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
	return &Runner{
		proc:   proc,
		opts:   opts,
		log:    log,
		writer: sinks.NewWriter(opts.Brokers, sinks.WriterOptions{}),
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
func (r *Runner) Close() error { return r.writer.Close() }

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
		r.log.Error("partition worker failed; restarting from committed state",
			"topic", r.proc.cfg.Topics.Events, "partition", part, "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// PartitionWorker consumes one partition: read a batch, process it, have
// its outputs acknowledged, then, when due, commit state and next offset in
// one batch.
type PartitionWorker struct {
	runner    *Runner
	gen       *kafka.Generation
	partition int32
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
	next, ok, err := store.Offset()
	if err != nil {
		return err
	}
	if !ok {
		// No state for this partition: build it from the first record. The
		// group's committed offset is not used, it may be ahead of lost
		// state (only the offset stored with the state is the truth).
		next = kafka.FirstOffset
	}
	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        r.opts.Brokers,
		Topic:          topic,
		Partition:      int(w.partition),
		MinBytes:       1,
		MaxBytes:       16 << 20,
		MaxWait:        250 * time.Millisecond,
		QueueCapacity:  cfg.Processing.BatchSize,
		ReadBackoffMin: 50 * time.Millisecond,
		ReadBackoffMax: time.Second,
	})
	defer reader.Close()
	if err := reader.SetOffset(next); err != nil {
		return fmt.Errorf("stream: seek %s/%d to %d: %w", topic, w.partition, next, err)
	}
	r.log.Debug("partition worker started", "topic", topic, "partition", w.partition, "offset", next)

	r.addRegistry(w.partition, ps.Registry())
	defer r.removeRegistry(w.partition)

	batch := make([]kafka.Message, 0, cfg.Processing.BatchSize)
	msgs := make([]kafka.Message, 0, cfg.Processing.BatchSize)
	var lastGroupCommit time.Time
	committed := next // the offset stored with the state
	lastSizes, lastSnapshot := time.Now(), time.Now()
	sizesEvery, snapshotEvery := time.Duration(cfg.Segments.SizesInterval), time.Duration(cfg.Segments.SnapshotInterval)
	for {
		batch = batch[:0]
		// Wait for input at most a timer tick: timers and sizes are due on
		// the clock, not only when events arrive.
		first, cancel := context.WithTimeout(ctx, timerTick)
		m, err := reader.FetchMessage(first)
		cancel()
		switch {
		case err == nil:
			batch = append(batch, m)
		case ctx.Err() != nil:
			// Shutdown or revocation: save the bitmaps with the state.
			if next >= 0 {
				return ps.Commit(next, false, true)
			}
			return nil
		case !errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("stream: fetch %s/%d: %w", topic, w.partition, err)
		}
		if len(batch) > 0 && len(batch) < cfg.Processing.BatchSize {
			fill, cancel := context.WithTimeout(ctx, time.Duration(cfg.Processing.BatchWait))
			for len(batch) < cfg.Processing.BatchSize {
				m, err := reader.FetchMessage(fill)
				if err != nil {
					break
				}
				batch = append(batch, m)
			}
			cancel()
		}

		// Process. From here on the batch is finished even if ctx is
		// cancelled (revocation, shutdown): outputs flushed, then commit.
		for i := range batch {
			m := &batch[i]
			in := Input{Topic: m.Topic, Partition: int32(m.Partition), Offset: m.Offset, Key: m.Key, Value: m.Value}
			if !m.Time.IsZero() {
				in.Time = m.Time.UnixMilli()
			}
			if err := ps.Process(&in); err != nil {
				return err
			}
			if h := r.opts.Hooks.InBatch; h != nil {
				h(w.partition, i+1)
			}
		}
		if len(batch) > 0 {
			next = batch[len(batch)-1].Offset + 1
		}
		// The clock: event time, or the wall clock when it is ahead (an idle
		// partition advances with the wall clock).
		now := max(time.Now().UnixMilli(), ps.Watermark())
		fired := 0
		if next >= 0 && ps.TimersDue(now) {
			if fired, err = ps.FireTimers(now, cfg.Processing.BatchSize); err != nil {
				return err
			}
		}
		sizes := next >= 0 && time.Since(lastSizes) >= sizesEvery
		if sizes {
			lastSizes = time.Now()
			ps.EmitSizes(now)
		}
		if len(batch) == 0 && fired == 0 && !sizes {
			// Idle: commit what the last batches left uncommitted once due.
			if next != committed && ps.CommitDue(now) {
				if err := ps.Commit(next, false, false); err != nil {
					return err
				}
				committed = next
			}
			continue
		}
		outs := ps.Outputs()
		if len(outs) > 0 {
			msgs = msgs[:0]
			for i := range outs {
				o := &outs[i]
				km := kafka.Message{Topic: o.Topic, Key: o.Key, Value: o.Value}
				for _, h := range o.Headers {
					km.Headers = append(km.Headers, kafka.Header{Key: h.Key, Value: h.Value})
				}
				msgs = append(msgs, km)
			}
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			err := r.writer.WriteMessages(wctx, msgs...)
			cancel()
			if err != nil {
				return fmt.Errorf("stream: write %d outputs of %s/%d: %w", len(msgs), topic, w.partition, err)
			}
			clear(msgs)
		}
		if h := r.opts.Hooks.OutputsAcked; h != nil {
			h(w.partition, len(outs))
		}
		counters := *ps.Counters()
		snapshot := time.Since(lastSnapshot) >= snapshotEvery
		if snapshot || ctx.Err() != nil || ps.CommitDue(now) {
			if snapshot {
				lastSnapshot = time.Now()
			}
			if err := ps.Commit(next, false, snapshot); err != nil {
				return err
			}
			committed = next
			r.stats.Commits.Add(1)
		} else {
			ps.Flush()
		}
		r.stats.add(&counters)
		r.stats.Batches.Add(1)
		clear(batch)

		// The group offset is informational (lag monitoring); the truth is
		// the offset committed with the state.
		if committed >= 0 && time.Since(lastGroupCommit) > time.Second {
			lastGroupCommit = time.Now()
			if err := w.gen.CommitOffsets(map[string]map[int]int64{topic: {int(w.partition): committed}}); err != nil && ctx.Err() == nil {
				r.log.Debug("group offset commit failed", "partition", w.partition, "err", err)
			}
		}
		if ctx.Err() != nil {
			return ps.Commit(next, false, true)
		}
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
