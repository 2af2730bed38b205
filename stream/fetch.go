package stream

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/segmentio/kafka-go"
)

// StateAheadError says that the offset stored with a partition's state lies
// past the end of the partition's log: the topic was recreated, or the
// broker lost records the state has seen. No retry mends it, and going on
// would be wrong either way: from the stored offset (once the log grows
// that far) the records before it would be skipped; from the log's start,
// applied to a state built from another log. The worker records it with
// the state and refuses the partition until the state is moved away.
type StateAheadError struct {
	Topic     string
	Partition int32
	Offset    int64 // stored with the state
	End       int64 // the partition's end (high watermark) when it was seen
}

func (e *StateAheadError) Error() string {
	return fmt.Sprintf("stream: %s/%d: the offset stored with the state, %d, is past the end of the partition's log, %d: "+
		"the topic was recreated or the broker lost records, and the state was built from another log; "+
		"the partition is not processed (it would skip or misapply records): stop rekindle and drop this partition's state "+
		"(rekindle drop-partition --partition %d --yes), or move state.dir away, to rebuild the state from this log",
		e.Topic, e.Partition, e.Offset, e.End, e.Partition)
}

// fetched is the content of one fetch response: inputs whose keys and
// values live in arena. It is reused once the worker hands it back.
type fetched struct {
	inputs []Input
	// raw is the fetch response as read (rawFetch), arena what its
	// compressed batches decompress to: the inputs' keys and values point
	// into one or the other.
	raw    []byte
	arena  []byte
	reader *bytes.Reader
	// next is the offset after the last input (or the offset fetched from
	// when there is none).
	next int64
	// lag is the partition's high watermark (read_committed: its last
	// stable offset, what can be read) minus next.
	lag int64
	// at: when the response arrived.
	at time.Time
	// lost: input records deleted by retention before they were fetched
	// (the partition's log start had passed the offset fetched from).
	lost int64
	// aborted: records of aborted transactions skipped (read_committed).
	aborted int64
	err     error
}

// fetcher reads one partition a whole fetch response at a time (rawFetch,
// over kafka-go's connections): no per-record channel hop (kafka-go's Reader
// has one),
// and a batch is whatever arrived, so a lone event is processed at once
// instead of waiting for a batch to fill. One fetch is in flight while the
// worker processes the previous one.
type fetcher struct {
	client    *kafka.Client
	topic     string
	partition int32
	maxBytes  int
	maxWait   time.Duration
	log       *slog.Logger
	// readCommitted: read with isolation level read_committed (see
	// rawFetch).
	readCommitted bool

	out  chan *fetched // filled responses, in offset order
	free chan *fetched // responses the worker is done with
}

// fetchBuffers: one response being processed, one fetched and waiting for
// the worker, one being fetched. No output points into a response (dead
// letters carry copies), so the worker hands each back as soon as it has
// processed it: when it held responses until their batch's outputs were
// acknowledged, the fetcher had no buffer to fetch into 2-7% of the time
// at 200,000 events/s (waits p99 15-22 ms).
const fetchBuffers = 3

func newFetcher(client *kafka.Client, topic string, partition int32, maxBytes int, maxWait time.Duration, log *slog.Logger) *fetcher {
	f := &fetcher{
		client: client, topic: topic, partition: partition, maxBytes: maxBytes, maxWait: maxWait, log: log,
		out:  make(chan *fetched, fetchBuffers),
		free: make(chan *fetched, fetchBuffers),
	}
	for range fetchBuffers {
		f.free <- &fetched{}
	}
	return f
}

// run fetches from offset (or kafka.FirstOffset) until ctx ends. Every
// response, empty ones included (after maxWait with no data), goes to out; a
// failed fetch goes there with err set and is retried with back-off.
func (f *fetcher) run(ctx context.Context, offset int64) {
	defer close(f.out)
	backoff := 50 * time.Millisecond
	for {
		var buf *fetched
		select {
		case <-ctx.Done():
			return
		case buf = <-f.free:
		}
		next, err := f.fetch(ctx, offset, buf)
		if ctx.Err() != nil {
			return
		}
		buf.err, buf.at = err, time.Now()
		if err == nil {
			offset = next
			backoff = 50 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case f.out <- buf:
		}
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
		}
	}
}

// fetch reads one response from offset into buf and returns the next offset.
func (f *fetcher) fetch(ctx context.Context, offset int64, buf *fetched) (int64, error) {
	clear(buf.inputs)
	buf.inputs, buf.arena, buf.err, buf.lost, buf.aborted = buf.inputs[:0], buf.arena[:0], nil, 0, 0
	from := offset
	if offset < 0 {
		// kafka.FirstOffset: ask where the log starts.
		first, _, err := f.bounds(ctx)
		if err != nil {
			return offset, fmt.Errorf("stream: fetch %s/%d: the log's first offset: %w", f.topic, f.partition, err)
		}
		from = first
	}
	maxWait := f.maxWait
	if t := f.client.Timeout; t > 0 && t/2 < maxWait {
		maxWait = t / 2 // as kafka-go's Client.Fetch: the rest is for the network
	}
	req := &rawFetch{topic: f.topic, partition: f.partition, offset: from,
		maxBytes: int32(min(f.maxBytes, math.MaxInt32)), maxWaitMs: int32(max(maxWait.Milliseconds(), 1)),
		readCommitted: f.readCommitted, buf: buf}
	rctx := ctx
	if f.client.Timeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, f.client.Timeout)
		defer cancel()
	}
	transport := f.client.Transport
	if transport == nil {
		transport = kafka.DefaultTransport
	}
	if _, err := transport.RoundTrip(rctx, f.client.Addr, req); err != nil {
		return offset, fmt.Errorf("stream: fetch %s/%d at offset %d: %w", f.topic, f.partition, from, err)
	}
	if req.parseErr != nil {
		clear(buf.inputs)
		buf.inputs = buf.inputs[:0]
		return offset, fmt.Errorf("stream: fetch %s/%d at offset %d: %w", f.topic, f.partition, from, req.parseErr)
	}
	if req.errorCode != 0 {
		ferr := kafka.Error(req.errorCode)
		if ferr != kafka.OffsetOutOfRange || from < 0 {
			return offset, fmt.Errorf("stream: fetch %s/%d at offset %d: %w", f.topic, f.partition, from, ferr)
		}
		// Kafka leaves the log's bounds out of this answer (-1); a broker
		// that gives them saves asking.
		logStart, end := req.logStartOffset, req.highWatermark
		if logStart < 0 || end < 0 {
			var err error
			if logStart, end, err = f.bounds(ctx); err != nil {
				return offset, fmt.Errorf("stream: fetch %s/%d at offset %d: %w (and the log's bounds: %w)", f.topic, f.partition, from, ferr, err)
			}
		}
		switch {
		case from < logStart:
			// The records between are gone (retention): nothing can bring
			// them back. Say so and go on from the oldest that exists.
			f.log.Error("input records deleted by retention before they were processed; resuming at the oldest",
				"topic", f.topic, "partition", f.partition, "offset", from, "log_start", logStart,
				"lost", logStart-from)
			buf.next, buf.lost = logStart, logStart-from
			return logStart, nil
		case from > end:
			return offset, &StateAheadError{Topic: f.topic, Partition: f.partition, Offset: from, End: end}
		}
		// In the log after all (it moved meanwhile): the next fetch retries.
		return offset, fmt.Errorf("stream: fetch %s/%d at offset %d: %w (the log holds %d to %d now)", f.topic, f.partition, from, ferr, logStart, end)
	}
	// Past the last whole batch, transaction markers included: a partition
	// whose log ends with a marker is not fetched at the marker forever.
	next := max(from, req.next)
	buf.next = next
	if offset < 0 && next == from {
		// Nothing read yet from kafka.FirstOffset: the partition is empty
		// or everything in it lies ahead.
		buf.next = offset
	}
	buf.aborted = req.skipped
	end := req.highWatermark
	if f.readCommitted && req.lastStable >= 0 {
		end = req.lastStable // what can be read: an open transaction is not
	}
	buf.lag = max(0, end-next)
	return next, nil
}

// bounds returns the offset of the first record in the partition's log and
// the offset after its last (its end, the high watermark).
func (f *fetcher) bounds(ctx context.Context) (first, end int64, err error) {
	res, err := f.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{f.topic: {kafka.FirstOffsetOf(int(f.partition)), kafka.LastOffsetOf(int(f.partition))}},
	})
	if err != nil {
		return 0, 0, err
	}
	for _, p := range res.Topics[f.topic] {
		if p.Partition == int(f.partition) {
			if p.Error != nil {
				return 0, 0, p.Error
			}
			return p.FirstOffset, p.LastOffset, nil
		}
	}
	return 0, 0, fmt.Errorf("no offsets for partition %d in the response", f.partition)
}
