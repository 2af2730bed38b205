package sinks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
)

// Producer writes a batch of messages and returns once all of them are
// acknowledged by every in-sync replica. Unlike kafka-go's Writer it sends
// at once, with no batch timer to wait out, and, like the Java producer, in
// one produce request per leader broker holding all its partitions (split
// at MaxRequestBytes), the brokers in parallel. A partition whose messages
// alone exceed MaxRequestBytes, or that such a request did not get
// acknowledged, is written in requests of its own, retried with back-off.
// Messages name their topic; they are partitioned by key with the
// Java-compatible murmur2 hash (as NewWriter's, and as other producers), and
// the messages of one partition keep their order. Safe for concurrent use.
type Producer struct {
	// Compression of the record batches written (zero: none). Set it
	// before the first Produce.
	Compression kafka.Compression

	client      *kafka.Client
	balancer    kafka.Murmur2Balancer
	maxAttempts int

	mu     sync.Mutex
	topics map[string]*topicMeta // the topics seen
}

// topicMeta is what the Producer knows of a topic's partitions.
type topicMeta struct {
	parts   []int // partition ids
	leaders []int // leaders[id]: the partition's leader broker when last asked
}

// Compressions are the codecs a Producer writes with, by the names Kafka's
// compression.type gives them.
var Compressions = map[string]kafka.Compression{
	"none":   0,
	"gzip":   kafka.Gzip,
	"snappy": kafka.Snappy,
	"lz4":    kafka.Lz4,
	"zstd":   kafka.Zstd,
}

// MaxRequestBytes bounds the records of one produce request: Kafka refuses
// a batch over message.max.bytes (1 MB by default, also the embedded
// broker's limit).
const MaxRequestBytes = 900_000

// recordOverhead is a generous bound on a record's framing in a batch.
const recordOverhead = 32

// NewProducer returns a Producer for the cluster at brokers, connecting as
// auth says (nil: plaintext).
func NewProducer(brokers []string, auth *Auth) *Producer {
	return &Producer{
		client: &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second,
			Transport: auth.Transport()},
		balancer:    kafka.Murmur2Balancer{Consistent: true},
		maxAttempts: 10,
		topics:      map[string]*topicMeta{},
	}
}

// Close closes the producer's connections.
func (p *Producer) Close() error {
	p.client.Transport.(*kafka.Transport).CloseIdleConnections()
	return nil
}

// Produce writes msgs; see Producer. On error some messages may have been
// written (a retry writes them again: outputs carry deterministic ids).
func (p *Producer) Produce(ctx context.Context, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	groups := map[topicPartition]*partitionMsgs{}
	var order []*partitionMsgs
	for i := range msgs {
		m := &msgs[i]
		meta, err := p.partitions(ctx, m.Topic)
		if err != nil {
			return err
		}
		k := topicPartition{m.Topic, p.balancer.Balance(*m, meta.parts...)}
		g := groups[k]
		if g == nil {
			g = &partitionMsgs{topicPartition: k, leader: meta.leaders[k.partition]}
			groups[k] = g
			order = append(order, g)
		}
		g.idx = append(g.idx, i)
		g.size += messageSize(m)
	}
	// Requests: each partition's messages whole in one, packed per leader
	// up to MaxRequestBytes, in the order the partitions came.
	var reqs [][]*partitionMsgs
	var sizes []int
	open := map[int]int{} // leader -> the request of reqs being filled
	for _, g := range order {
		r, ok := open[g.leader]
		if g.alone() || !ok || sizes[r]+g.size > MaxRequestBytes {
			r = len(reqs)
			reqs, sizes = append(reqs, nil), append(sizes, 0)
			if !g.alone() {
				open[g.leader] = r
			}
		}
		reqs[r] = append(reqs[r], g)
		sizes[r] += g.size
	}
	now := time.Now()
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for ri, req := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rest := req
			if !req[0].alone() {
				rest = p.produceMany(ctx, req, msgs, now)
			}
			for _, g := range rest {
				if err := p.produceAll(ctx, g.topic, g.partition, msgs, g.idx, now); err != nil {
					errs[ri] = errors.Join(errs[ri], err)
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

type topicPartition struct {
	topic     string
	partition int
}

// partitionMsgs lists the messages of a Produce call that go to one
// partition.
type partitionMsgs struct {
	topicPartition
	leader int
	idx    []int // into the messages
	size   int   // their bytes, framing included (messageSize)
}

// alone reports whether the partition's messages are written in requests of
// their own: they exceed MaxRequestBytes, or the partition's leader is not
// known.
func (g *partitionMsgs) alone() bool { return g.size > MaxRequestBytes || g.leader < 0 }

func messageSize(m *kafka.Message) int {
	n := len(m.Key) + len(m.Value) + recordOverhead
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value) + recordOverhead
	}
	return n
}

// produceMany sends the messages of several partitions with one leader in
// one request, once, and returns the partitions it did not get
// acknowledged (the caller writes those on their own, with retries). When
// the request failed as a whole the leaders the Producer knows may be
// stale: they are asked again at the next Produce.
func (p *Producer) produceMany(ctx context.Context, parts []*partitionMsgs, msgs []kafka.Message, now time.Time) (failed []*partitionMsgs) {
	timeout := int32(30_000)
	if dl, ok := ctx.Deadline(); ok {
		timeout = int32(max(time.Until(dl).Milliseconds(), 1))
	}
	req := &rawProduce{parts: parts, msgs: msgs, now: now, compression: p.Compression, timeoutMs: timeout}
	if _, err := p.client.Transport.RoundTrip(ctx, p.client.Addr, req); err != nil || req.parseErr != nil {
		p.forget(parts)
		return parts
	}
	for k, g := range parts {
		if req.codes[k] != 0 {
			failed = append(failed, g)
		}
	}
	if len(failed) > 0 {
		p.forget(failed)
	}
	return failed
}

// forget drops what the Producer knows of the partitions' topics: their
// leaders may have moved.
func (p *Producer) forget(parts []*partitionMsgs) {
	p.mu.Lock()
	for _, g := range parts {
		delete(p.topics, g.topic)
	}
	p.mu.Unlock()
}

// produceAll writes the messages at idx to one partition, in order, in
// requests of at most MaxRequestBytes.
func (p *Producer) produceAll(ctx context.Context, topic string, partition int, msgs []kafka.Message, idx []int, now time.Time) error {
	start, size := 0, 0
	for k, i := range idx {
		n := messageSize(&msgs[i])
		if size > 0 && size+n > MaxRequestBytes {
			if err := p.produce(ctx, topic, partition, msgs, idx[start:k], now); err != nil {
				return err
			}
			start, size = k, 0
		}
		size += n
	}
	return p.produce(ctx, topic, partition, msgs, idx[start:], now)
}

// produce sends the messages at idx in one request, retrying transient
// failures with back-off.
func (p *Producer) produce(ctx context.Context, topic string, partition int, msgs []kafka.Message, idx []int, now time.Time) error {
	if len(idx) == 0 {
		return nil
	}
	backoff := 50 * time.Millisecond
	var err error
	for attempt := 1; attempt <= p.maxAttempts; attempt++ {
		if err = p.produceOnce(ctx, topic, partition, msgs, idx, now); err == nil {
			return nil
		}
		if !retriable(err) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
	return fmt.Errorf("sinks: produce %d records to %s/%d: %w", len(idx), topic, partition, err)
}

// produceOnce sends the messages at idx in one request, as kafka-go's
// Client.Produce would: within the client's timeout, of which the broker
// gets half to gather the acknowledgements.
func (p *Producer) produceOnce(ctx context.Context, topic string, partition int, msgs []kafka.Message, idx []int, now time.Time) error {
	if t := p.client.Timeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	timeout := int32(15_000)
	if dl, ok := ctx.Deadline(); ok {
		timeout = int32(max(time.Until(dl).Milliseconds()/2, 1))
	}
	req := &rawProduce{parts: []*partitionMsgs{{topicPartition: topicPartition{topic, partition}, idx: idx}},
		msgs: msgs, now: now, compression: p.Compression, timeoutMs: timeout}
	if _, err := p.client.Transport.RoundTrip(ctx, p.client.Addr, req); err != nil {
		return err
	}
	switch {
	case req.parseErr != nil:
		return req.parseErr
	case req.codes[0] == noAnswer:
		return fmt.Errorf("the produce response has no answer for %s/%d", topic, partition)
	case req.codes[0] != 0:
		return kafka.Error(req.codes[0])
	}
	return nil
}

// retriable: the broker said try again (leader moving, not enough
// replicas, ...) or the connection failed (a broker restarting).
func retriable(err error) bool {
	var ke kafka.Error
	if errors.As(err, &ke) {
		return ke.Temporary()
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || // the broker closed the connection
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

// partitions returns what the Producer knows of topic, asking the cluster
// the first time and after a request to its leaders failed: partitions
// added to a topic are used from then on (adding partitions moves keys
// anyway).
func (p *Producer) partitions(ctx context.Context, topic string) (*topicMeta, error) {
	p.mu.Lock()
	meta, ok := p.topics[topic]
	p.mu.Unlock()
	if ok {
		return meta, nil
	}
	md, err := p.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("sinks: metadata of topic %q: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("sinks: topic %q: %w", topic, t.Error)
		}
		if len(t.Partitions) == 0 {
			return nil, fmt.Errorf("sinks: topic %q has no partitions", topic)
		}
		meta = &topicMeta{parts: make([]int, len(t.Partitions)), leaders: make([]int, len(t.Partitions))}
		for i := range meta.parts {
			meta.parts[i] = i
			meta.leaders[i] = -1 // unknown: a request of its own
		}
		for _, tp := range t.Partitions {
			if tp.ID >= 0 && tp.ID < len(meta.leaders) {
				meta.leaders[tp.ID] = tp.Leader.ID
			}
		}
		p.mu.Lock()
		p.topics[topic] = meta
		p.mu.Unlock()
		return meta, nil
	}
	return nil, fmt.Errorf("sinks: topic %q not found", topic)
}
