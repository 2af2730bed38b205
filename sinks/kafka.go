package sinks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/segmentio/kafka-go"
)

// WriterOptions tune NewWriter. The zero value is valid.
type WriterOptions struct {
	// BatchTimeout: how long a partial batch waits (default 2ms; kafka-go's
	// own default of 1s is a trap for synchronous writes).
	BatchTimeout time.Duration
	// BatchSize: messages per produce batch (default 1000; kafka-go allocates
	// a batch of this capacity for every partition it writes to).
	BatchSize int
	// Auth: how to connect (nil: plaintext).
	Auth *Auth
}

// NewWriter returns a synchronous kafka-go Writer that waits for acks from
// all in-sync replicas and partitions by key with the Java-compatible murmur2
// hash, so that rekindle and other producers agree on partitions. Messages
// name their own topic.
func NewWriter(brokers []string, opts WriterOptions) *kafka.Writer {
	if opts.BatchTimeout <= 0 {
		opts.BatchTimeout = 2 * time.Millisecond
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	return &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Balancer:     &kafka.Murmur2Balancer{Consistent: true},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: opts.BatchTimeout,
		BatchSize:    opts.BatchSize,
		// At most Kafka's default message.max.bytes (1 MB, also the embedded
		// broker's limit): a larger batch, e.g. the outputs of a
		// processing.batch_size batch under backlog, is refused whole with
		// "Message Size Too Large" and the partition never progresses.
		BatchBytes:  1_000_000,
		MaxAttempts: 10,
		Compression: 0,
		Transport:   opts.Auth.Transport(),
	}
}

// EnsureTopics creates the topics that do not exist yet, with the given
// partitions and replication factor; existing topics are left alone. It
// connects as auth says (nil: plaintext).
func EnsureTopics(ctx context.Context, brokers []string, auth *Auth, topics []string, partitions, replication int) error {
	if replication <= 0 {
		replication = 1
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: auth.Transport()}
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: replication})
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("sinks: create topics on %v: %w", brokers, err)
	}
	for topic, terr := range resp.Errors {
		if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			return fmt.Errorf("sinks: create topic %q: %w", topic, terr)
		}
	}
	return nil
}

// PartitionCount returns how many partitions topic has, connecting as auth
// says (nil: plaintext).
func PartitionCount(ctx context.Context, brokers []string, auth *Auth, topic string) (int, error) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: auth.Transport()}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("sinks: metadata of %q from %v: %w", topic, brokers, err)
	}
	for _, t := range md.Topics {
		if t.Name == topic {
			if t.Error != nil {
				return 0, fmt.Errorf("sinks: topic %q: %w", topic, t.Error)
			}
			return len(t.Partitions), nil
		}
	}
	return 0, fmt.Errorf("sinks: topic %q not found on %v", topic, brokers)
}

// Reachable reports whether a TCP connection to addr opens within timeout.
func Reachable(addr string, timeout time.Duration) bool {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
