package sinks_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/rekindle/rekindle/sinks"
	"github.com/rekindle/rekindle/sinks/broker"
)

// readAll reads partition p of topic from the start up to its end.
func readAll(t *testing.T, brokers []string, topic string, p int) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, p)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	last, err := conn.ReadLastOffset()
	if err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	var out []kafka.Message
	for int64(len(out)) < last {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %s/%d after %d of %d: %v", topic, p, len(out), last, err)
		}
		out = append(out, m)
	}
	return out
}

// The producer partitions as kafka-go's Writer with the murmur2 balancer
// (the Java client's partitioner), keeps each partition's order, carries
// headers, and splits a batch larger than a broker accepts.
func TestProducerPartitionsLikeTheWriterAndKeepsOrder(t *testing.T) {
	brokers := startBroker(t)
	p := sinks.NewProducer(brokers)
	big := bytes.Repeat([]byte("x"), 20_000) // 150 of them: 3 MB, over the 1 MB request limit
	var msgs []kafka.Message
	for i := range 3000 {
		topic := sinks.DefaultFactsTopic
		if i%2 == 1 {
			topic = sendTopics[0]
		}
		m := kafka.Message{Topic: topic, Key: []byte(fmt.Sprintf("user-%d", i%97)), Value: []byte(fmt.Sprintf("v%05d", i))}
		if i%20 == 0 {
			m.Value = append([]byte(fmt.Sprintf("v%05d", i)), big...)
		}
		if i%7 == 0 {
			m.Headers = []kafka.Header{{Key: "h", Value: []byte(fmt.Sprint(i))}}
		}
		msgs = append(msgs, m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Produce(ctx, msgs); err != nil {
		t.Fatal(err)
	}

	bal := kafka.Murmur2Balancer{Consistent: true}
	for _, topic := range []string{sinks.DefaultFactsTopic, sendTopics[0]} {
		var want [3][]kafka.Message
		for _, m := range msgs {
			if m.Topic == topic {
				part := bal.Balance(m, 0, 1, 2)
				want[part] = append(want[part], m)
			}
		}
		for part := range 3 {
			got := readAll(t, brokers, topic, part)
			if len(got) != len(want[part]) {
				t.Fatalf("%s/%d: %d messages, want %d", topic, part, len(got), len(want[part]))
			}
			for i := range got {
				g, w := got[i], want[part][i]
				if string(g.Key) != string(w.Key) || !bytes.Equal(g.Value, w.Value) || fmt.Sprint(g.Headers) != fmt.Sprint(w.Headers) {
					t.Fatalf("%s/%d message %d: key %q value %.10q headers %v, want %q %.10q %v", topic, part, i, g.Key, g.Value, g.Headers, w.Key, w.Value, w.Headers)
				}
				if g.Time.IsZero() || time.Since(g.Time) > time.Minute {
					t.Fatalf("%s/%d message %d: timestamp %v, want the produce time", topic, part, i, g.Time)
				}
			}
		}
	}
}

func TestProducerNamesAMissingTopic(t *testing.T) {
	brokers := startBroker(t)
	p := sinks.NewProducer(brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := p.Produce(ctx, []kafka.Message{{Topic: "no.such.topic", Value: []byte("x")}})
	if err == nil || !strings.Contains(err.Error(), `"no.such.topic"`) {
		t.Fatalf("produce to a missing topic: error %v, want it to name the topic", err)
	}
}

// While the broker is down the producer retries; once it is back the batch
// is written whole, every record intact (a retry once re-sent the readers
// the failed attempt had consumed: empty records), in order.
func TestProducerRidesOutABrokerRestart(t *testing.T) {
	dir := t.TempDir()
	addr, err := broker.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	start := func() *broker.Broker {
		t.Helper()
		b, err := broker.StartRetrying(broker.Options{Listen: addr, Partitions: 3, Topics: allTopics, DataDir: dir}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := start()
	p := sinks.NewProducer(b.Addrs())
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	batch := func(from int) []kafka.Message {
		var msgs []kafka.Message
		for i := from; i < from+300; i++ {
			msgs = append(msgs, kafka.Message{Topic: sinks.DefaultFactsTopic, Key: []byte(fmt.Sprintf("u%d", i%11)), Value: []byte(fmt.Sprintf("v%05d", i))})
		}
		return msgs
	}
	if err := p.Produce(ctx, batch(0)); err != nil {
		t.Fatal(err)
	}
	b.Close()
	done := make(chan error, 1)
	go func() { done <- p.Produce(ctx, batch(300)) }()
	time.Sleep(time.Second)
	select {
	case err := <-done:
		t.Fatalf("produce returned while the broker was down: %v", err)
	default:
	}
	b = start()
	defer b.Close()
	if err := <-done; err != nil {
		t.Fatalf("produce after the broker came back: %v", err)
	}
	var values []string
	for part := range 3 {
		prev := ""
		for _, m := range readAll(t, b.Addrs(), sinks.DefaultFactsTopic, part) {
			if string(m.Value) <= prev {
				t.Fatalf("partition %d: %s after %s", part, m.Value, prev)
			}
			prev = string(m.Value)
			values = append(values, prev)
		}
	}
	seen := map[string]bool{}
	for _, v := range values {
		seen[v] = true
	}
	for i := range 600 {
		if !seen[fmt.Sprintf("v%05d", i)] {
			t.Fatalf("v%05d missing after the restart (%d records read)", i, len(values))
		}
	}
}
