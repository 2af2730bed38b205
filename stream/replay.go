package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/rekindle/rekindle/state"
	"github.com/rekindle/rekindle/stream/segment"
)

// ReplayOptions configure Replay.
type ReplayOptions struct {
	// Events holds one Segment Spec JSON event per line, in the order they
	// would have been produced.
	Events io.Reader
	// Decisions receives each decision (the send topics' values), one per line.
	Decisions io.Writer
	// Facts, if set, receives each fact, one per line.
	Facts io.Writer
	// DeadLetters, if set, receives one JSON line per rejected input.
	DeadLetters io.Writer
	// Until, in Unix ms, advances the clock past the last event so that
	// pending timers due by then fire (0: stop at the last event).
	Until int64
	// Now, in Unix ms, is the wall clock the events are replayed against:
	// as live (where the reference is the record's timestamp), an event
	// more than processing.max_future_skew after it goes to the DLQ and
	// does not move the clock. 0: no such check (event time only).
	Now int64
	// Progress, if set, is called every 100,000 lines.
	Progress func(lines int64)
}

// ReplayStats summarise a replay.
type ReplayStats struct {
	Lines int64
	Counters
}

// Replay runs the same processing code as the live pipeline over a file of
// events in event time, with no Kafka, on a real Pebble store in memory.
// Each line is assigned the partition the murmur2 partitioner would give its
// user and the next offset of that partition, so decision ids are those a
// fresh topic would have produced. Same input, byte-identical output.
func Replay(ctx context.Context, proc *Processor, opts ReplayOptions) (ReplayStats, error) {
	var stats ReplayStats
	cfg := proc.cfg
	// Offline and in memory: the background work goes flat out.
	store, err := state.Open(state.Options{Dir: "replay", FS: vfs.NewMem(), BackgroundDuty: 1, Logf: func(string, ...any) {}})
	if err != nil {
		return stats, err
	}
	defer store.Close()

	n := cfg.Kafka.Partitions
	parts := make([]*PartitionState, n)
	offsets := make([]int64, n)
	for i := range parts {
		parts[i], err = proc.NewPartitionState(store.Partition(int32(i)), int32(i))
		if err != nil {
			return stats, err
		}
	}
	var peek segment.Event
	skew := time.Duration(cfg.Processing.MaxFutureSkew).Milliseconds()
	var watermark int64

	commit := func(p int) error {
		stats.Counters.Add(parts[p].Counters())
		return parts[p].Commit(offsets[p], false, false)
	}
	// fire runs every partition's timers due by now, each partition in due
	// order, partitions in order; outputs are written as they come.
	fire := func(now int64) error {
		for p, ps := range parts {
			for ps.TimersDue(now) {
				if err := commit(p); err != nil { // the timer index reflects committed state
					return err
				}
				n, err := ps.FireTimers(now, cfg.Processing.BatchSize)
				if err != nil {
					return err
				}
				if err := writeOutputs(ps.Outputs(), &cfg, opts); err != nil {
					return err
				}
				ps.clearOutputs()
				if n == 0 && !ps.TimersDue(now) {
					break
				}
			}
		}
		return nil
	}

	// Lines of any length are read whole: an oversized one is bad input for
	// the DLQ (too_large), not a reason to stop.
	rd := bufio.NewReaderSize(opts.Events, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return stats, err
		}
		value, rerr := rd.ReadBytes('\n')
		if rerr != nil && rerr != io.EOF {
			return stats, fmt.Errorf("replay: read events at line %d: %w", stats.Lines+1, rerr)
		}
		if len(value) == 0 && rerr == io.EOF {
			break
		}
		stats.Lines++
		value = bytes.TrimRight(value, "\r\n")
		if len(value) == 0 {
			continue
		}
		var key []byte
		p := 0
		if proc.decoder.Decode(value, 0, &peek) == nil {
			key = []byte(peek.User())
			p = int(PartitionOf(peek.User(), n))
			// The clock follows event time, but not to an event from
			// beyond Now (a mistyped year would fire every timer at once):
			// that one is refused by the decoder against the clock so far.
			if ts := peek.Timestamp; ts > watermark && (opts.Now == 0 || ts-opts.Now <= skew) {
				watermark = ts
			}
		}
		// Timers due before this event fire first, as time passes.
		if err := fire(watermark); err != nil {
			return stats, err
		}
		in := Input{Topic: cfg.Topics.Events, Partition: int32(p), Offset: offsets[p], Key: key, Value: value, Time: watermark}
		offsets[p]++
		if err := parts[p].Process(&in); err != nil {
			return stats, err
		}
		// Outputs are written in input order; state is committed in
		// batches, as live.
		if err := writeOutputs(parts[p].Outputs(), &cfg, opts); err != nil {
			return stats, err
		}
		parts[p].clearOutputs()
		if offsets[p]%int64(cfg.Processing.BatchSize) == 0 {
			if err := commit(p); err != nil {
				return stats, err
			}
		}
		if opts.Progress != nil && stats.Lines%100_000 == 0 {
			opts.Progress(stats.Lines)
		}
	}
	if opts.Until > watermark {
		if err := fire(opts.Until); err != nil {
			return stats, err
		}
	}
	for p := range parts {
		if err := commit(p); err != nil {
			return stats, err
		}
	}
	return stats, nil
}

func writeOutputs(outs []Output, cfg *Config, opts ReplayOptions) error {
	for i := range outs {
		o := &outs[i]
		var w io.Writer
		var line []byte
		switch o.Topic {
		case cfg.Topics.Facts:
			w, line = opts.Facts, o.Value
		case cfg.Topics.DLQ:
			w, line = opts.DeadLetters, deadLetterJSON(o)
		default:
			w, line = opts.Decisions, o.Value
		}
		if w == nil {
			continue
		}
		if _, err := w.Write(line); err != nil {
			return fmt.Errorf("replay: write output: %w", err)
		}
		if _, err := w.Write(newline); err != nil {
			return fmt.Errorf("replay: write output: %w", err)
		}
	}
	return nil
}

var newline = []byte{'\n'}

// deadLetterJSON renders a DLQ output as one JSON object: its headers and
// the rejected value as a string.
func deadLetterJSON(o *Output) []byte {
	m := make(map[string]string, len(o.Headers)+1)
	for _, h := range o.Headers {
		m[h.Key] = string(h.Value)
	}
	m["value"] = string(o.Value)
	b, _ := json.Marshal(m) // a map of strings always marshals
	return b
}
