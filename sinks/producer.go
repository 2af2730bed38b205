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
// at once: no batch timer to wait out, one produce request per
// topic-partition (split at MaxRequestBytes), all partitions in parallel.
// Messages name their topic; they are partitioned by key with the
// Java-compatible murmur2 hash (as NewWriter's, and as other producers), and
// the messages of one partition keep their order. Safe for concurrent use.
type Producer struct {
	client      *kafka.Client
	balancer    kafka.Murmur2Balancer
	maxAttempts int

	mu    sync.Mutex
	parts map[string][]int // partition ids of each topic seen
}

// MaxRequestBytes bounds the records of one produce request: Kafka refuses
// a batch over message.max.bytes (1 MB by default, also the embedded
// broker's limit).
const MaxRequestBytes = 900_000

// recordOverhead is a generous bound on a record's framing in a batch.
const recordOverhead = 32

// NewProducer returns a Producer for the cluster at brokers.
func NewProducer(brokers []string) *Producer {
	return &Producer{
		client: &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second,
			Transport: &kafka.Transport{}},
		balancer:    kafka.Murmur2Balancer{Consistent: true},
		maxAttempts: 10,
		parts:       map[string][]int{},
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
	type key struct {
		topic     string
		partition int
	}
	groups := map[key][]int{}
	var order []key
	for i := range msgs {
		m := &msgs[i]
		parts, err := p.partitions(ctx, m.Topic)
		if err != nil {
			return err
		}
		k := key{m.Topic, p.balancer.Balance(*m, parts...)}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	now := time.Now()
	errs := make([]error, len(order))
	var wg sync.WaitGroup
	for gi, k := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[gi] = p.produceAll(ctx, k.topic, k.partition, msgs, groups[k], now)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// produceAll writes the messages at idx to one partition, in order, in
// requests of at most MaxRequestBytes.
func (p *Producer) produceAll(ctx context.Context, topic string, partition int, msgs []kafka.Message, idx []int, now time.Time) error {
	start, size := 0, 0
	for k, i := range idx {
		m := &msgs[i]
		n := len(m.Key) + len(m.Value) + recordOverhead
		for _, h := range m.Headers {
			n += len(h.Key) + len(h.Value) + recordOverhead
		}
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
	records := make([]kafka.Record, len(idx))
	backoff := 50 * time.Millisecond
	var err error
	for attempt := 1; attempt <= p.maxAttempts; attempt++ {
		// Fresh records every attempt: a request consumes their key and
		// value readers (a retry of the same ones sent empty records).
		for k, i := range idx {
			m := &msgs[i]
			t := m.Time
			if t.IsZero() {
				t = now
			}
			records[k] = kafka.Record{Time: t, Key: kafka.NewBytes(m.Key), Value: kafka.NewBytes(m.Value), Headers: m.Headers}
		}
		var res *kafka.ProduceResponse
		res, err = p.client.Produce(ctx, &kafka.ProduceRequest{
			Topic:        topic,
			Partition:    partition,
			RequiredAcks: kafka.RequireAll,
			Records:      kafka.NewRecordReader(records...),
		})
		if err == nil && res.Error != nil {
			err = res.Error
		}
		if err == nil {
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

// partitions returns the partition ids of topic, asking the cluster once
// per Producer: partitions added to a topic later are used after a
// restart (adding partitions moves keys anyway).
func (p *Producer) partitions(ctx context.Context, topic string) ([]int, error) {
	p.mu.Lock()
	parts, ok := p.parts[topic]
	p.mu.Unlock()
	if ok {
		return parts, nil
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
		parts = make([]int, len(t.Partitions))
		for i := range parts {
			parts[i] = i
		}
		p.mu.Lock()
		p.parts[topic] = parts
		p.mu.Unlock()
		return parts, nil
	}
	return nil, fmt.Errorf("sinks: topic %q not found", topic)
}
