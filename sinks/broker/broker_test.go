package broker_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/rekindle/rekindle/sinks"
	"github.com/rekindle/rekindle/sinks/broker"
)

// offsets returns the first and the end offset of partition 0 of each topic.
func offsets(t *testing.T, b *broker.Broker, topics ...string) map[string][2]int64 {
	t.Helper()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(b.Addrs()...), Timeout: 10 * time.Second, Transport: tr}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, tp := range topics {
		req.Topics[tp] = []kafka.OffsetRequest{kafka.FirstOffsetOf(0), kafka.LastOffsetOf(0)}
	}
	resp, err := client.ListOffsets(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]int64{}
	for tp, parts := range resp.Topics {
		for _, po := range parts {
			if po.Error != nil {
				t.Fatalf("offsets of %s: %v", tp, po.Error)
			}
			out[tp] = [2]int64{po.FirstOffset, po.LastOffset}
		}
	}
	return out
}

// produce writes n records of size bytes to partition 0 of topic, in
// batches of 50, with record time at.
func produce(t *testing.T, b *broker.Broker, topic string, n, size int, at time.Time) {
	t.Helper()
	w := sinks.NewProducer(b.Addrs(), nil)
	defer w.Close()
	value := bytes.Repeat([]byte("r"), size)
	for sent := 0; sent < n; {
		var msgs []kafka.Message
		for ; len(msgs) < 50 && sent < n; sent++ {
			msgs = append(msgs, kafka.Message{Topic: topic, Partition: 0, Value: value, Time: at})
		}
		if err := w.Produce(context.Background(), msgs); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRetentionBoundsThePartitions: a partition over RetentionBytes loses
// its oldest batches down to the bound, one whose records are older than
// Retention loses them all, and a small recent one keeps everything.
func TestRetentionBoundsThePartitions(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		b, err := broker.Start(broker.Options{Partitions: 1, Topics: []string{"big", "old", "kept"}, DataDir: dir,
			RetentionBytes: 64 << 10, Retention: time.Hour, RetentionCheck: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		produce(t, b, "big", 10_000, 100, now) // about 1.2 MB
		produce(t, b, "old", 100, 100, now.Add(-2*time.Hour))
		produce(t, b, "kept", 100, 100, now)
		var got map[string][2]int64
		deadline := time.Now().Add(10 * time.Second)
		for {
			got = offsets(t, b, "big", "old", "kept")
			big, old := got["big"], got["old"]
			// 64 KiB hold about 500 records of 100 bytes and their framing,
			// plus at most a batch under the bound.
			if big[1] == 10_000 && big[1]-big[0] <= 600 && old == [2]int64{100, 100} {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("log %q: offsets %v after 10 s; want big's first 500-600 records from its end and old's all gone", dir, got)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if big := got["big"]; big[1]-big[0] < 400 {
			t.Errorf("log %q: big keeps %d records, want the last 64 KiB of them (about 500)", dir, big[1]-big[0])
		}
		if kept := got["kept"]; kept != [2]int64{0, 100} {
			t.Errorf("log %q: kept's offsets %v, want all 100 records kept", dir, kept)
		}
		b.Close()
		b.Close() // a second Close is harmless
	}
}

// TestNoRetentionKeepsEverything: without bounds nothing is deleted, not
// even records older than kfake's own fallback of 7 days.
func TestNoRetentionKeepsEverything(t *testing.T) {
	b, err := broker.Start(broker.Options{Partitions: 1, Topics: []string{"events"}, RetentionCheck: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	produce(t, b, "events", 5_000, 200, time.Now().Add(-30*24*time.Hour))
	b.Cluster().ApplyRetention()
	time.Sleep(100 * time.Millisecond)
	if got := offsets(t, b, "events")["events"]; got != [2]int64{0, 5_000} {
		t.Fatalf("offsets %v, want all 5,000 records kept", got)
	}
	if _, err := broker.Start(broker.Options{RetentionBytes: -1}); err == nil {
		t.Error("a negative retention was accepted")
	}
}
