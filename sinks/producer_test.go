package sinks_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

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
	p := sinks.NewProducer(brokers, nil)
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
	p := sinks.NewProducer(brokers, nil)
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
	p := sinks.NewProducer(b.Addrs(), nil)
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

// The messages of one Produce call go to the broker in one request holding
// every partition (the embedded broker is one broker). When that request is
// refused, each partition is written on its own, retried: every message
// arrives once, in order.
func TestProducerSendsOneRequestPerBrokerAndFallsBackPerPartition(t *testing.T) {
	b, err := broker.Start(broker.Options{Partitions: 3, Topics: allTopics})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	brokers := b.Addrs()
	var mu sync.Mutex
	var requests []int // partitions per produce request the broker saw
	refuse := false    // refuse the next request with more than one partition
	b.Cluster().ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.ProduceRequest)
		n := 0
		for _, t := range req.Topics {
			n += len(t.Partitions)
		}
		mu.Lock()
		defer mu.Unlock()
		requests = append(requests, n)
		if !refuse || n < 2 {
			return nil, nil, false // the broker handles it
		}
		refuse = false
		b.Cluster().KeepControl()
		res := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, t := range req.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = kerr.NotLeaderForPartition.Code // nothing was written
				rt.Partitions = append(rt.Partitions, rp)
			}
			res.Topics = append(res.Topics, rt)
		}
		return res, nil, true
	})
	p := sinks.NewProducer(brokers, nil)
	batch := func(round int) []kafka.Message {
		var msgs []kafka.Message
		for i := range 60 {
			topic := sinks.DefaultFactsTopic
			if i%3 == 0 {
				topic = sendTopics[0]
			}
			msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(fmt.Sprintf("user-%d", i%17)), Value: []byte(fmt.Sprintf("r%d-%02d", round, i))})
		}
		return msgs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first := batch(0)
	if err := p.Produce(ctx, first); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(requests) != 1 || requests[0] != 6 {
		t.Fatalf("one batch to 2 topics × 3 partitions: produce requests with %v partitions, want one with 6", requests)
	}
	requests, refuse = nil, true
	mu.Unlock()
	// Refused: each partition's messages are sent again on their own,
	// once, in order.
	second := batch(1)
	if err := p.Produce(ctx, second); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if fmt.Sprint(requests) != "[6 1 1 1 1 1 1]" {
		t.Fatalf("a batch refused: produce requests with %v partitions, want 6 then 1 for each partition", requests)
	}
	mu.Unlock()

	bal := kafka.Murmur2Balancer{Consistent: true}
	for _, topic := range []string{sinks.DefaultFactsTopic, sendTopics[0]} {
		for part := range 3 {
			var want []string
			for _, m := range append(first, second...) {
				if m.Topic == topic && bal.Balance(m, 0, 1, 2) == part {
					want = append(want, string(m.Value))
				}
			}
			var got []string
			for _, m := range readAll(t, brokers, topic, part) {
				got = append(got, string(m.Value))
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s/%d: %v, want %v", topic, part, got, want)
			}
		}
	}
}

// The producer writes its record batches with the codec asked for, both
// in the combined request and on the per-partition way (a partition whose
// messages exceed MaxRequestBytes), and they read back as written.
func TestProducerCompresses(t *testing.T) {
	for name, codec := range sinks.Compressions {
		t.Run(name, func(t *testing.T) {
			b, err := broker.Start(broker.Options{Partitions: 2, Topics: []string{sinks.DefaultFactsTopic}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(b.Close)
			var mu sync.Mutex
			codecs := map[int]int{} // codec in the batch attributes -> batches
			b.Cluster().ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
				for _, rt := range kreq.(*kmsg.ProduceRequest).Topics {
					for _, rp := range rt.Partitions {
						var rb kmsg.RecordBatch
						if err := rb.ReadFrom(rp.Records); err != nil {
							t.Errorf("a produce request's records: %v", err)
							continue
						}
						mu.Lock()
						codecs[int(rb.Attributes&7)]++
						mu.Unlock()
					}
				}
				return nil, nil, false
			})
			p := sinks.NewProducer(b.Addrs(), nil)
			p.Compression = codec
			var msgs []kafka.Message
			for i := range 300 {
				m := kafka.Message{Topic: sinks.DefaultFactsTopic, Key: []byte(fmt.Sprintf("user-%d", i%5)),
					Value: []byte(fmt.Sprintf(`{"fact_id":"f%03d","kind":"segment_change"}`, i))}
				if i%5 == 0 { // one user's facts, over MaxRequestBytes together
					m.Value = append(m.Value, bytes.Repeat([]byte(" "), 20_000)...)
				}
				msgs = append(msgs, m)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := p.Produce(ctx, msgs); err != nil {
				t.Fatal(err)
			}
			bal := kafka.Murmur2Balancer{Consistent: true}
			for part := range 2 {
				var want []string
				for _, m := range msgs {
					if bal.Balance(m, 0, 1) == part {
						want = append(want, string(m.Value))
					}
				}
				var got []string
				for _, m := range readAll(t, b.Addrs(), sinks.DefaultFactsTopic, part) {
					got = append(got, string(m.Value))
				}
				if !slices.Equal(got, want) {
					t.Errorf("partition %d: %d records read back, want the %d written, in order", part, len(got), len(want))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(codecs) != 1 || codecs[int(codec)] < 2 {
				t.Errorf("batches by codec: %v, want all of them %d (%s)", codecs, codec, name)
			}
		})
	}
}
