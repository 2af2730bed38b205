package stream

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/rekindle/rekindle/sinks"
	"github.com/rekindle/rekindle/sinks/broker"
)

// The fetcher hands over every record from its start offset on, in order,
// once: records before the offset in the first batch are skipped, a null
// key stays nil, timestamps come along, and reusing a buffer never changes
// what an earlier response held while the worker had it.
func TestFetcherReadsEveryRecordOnceInOrder(t *testing.T) {
	b, err := broker.Start(broker.Options{Partitions: 1, Topics: []string{"in", "empty"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p := sinks.NewProducer(b.Addrs(), nil)
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 5000
	for chunk := 0; chunk < n; chunk += 500 { // several record batches
		var msgs []kafka.Message
		for i := chunk; i < chunk+500; i++ {
			m := kafka.Message{Topic: "in", Value: []byte(fmt.Sprintf("value-%05d", i))}
			if i%3 != 0 {
				m.Key = []byte("k") // one key, one partition; every third keyless
			}
			msgs = append(msgs, m)
		}
		if err := p.Produce(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}

	client := &kafka.Client{Addr: kafka.TCP(b.Addrs()...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	// An empty partition read from its first offset: nothing, and no lag.
	{
		f := newFetcher(client, "empty", 0, 64<<10, 10*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
		fctx, stop := context.WithCancel(ctx)
		go f.run(fctx, kafka.FirstOffset)
		buf := <-f.out
		if buf.err != nil || len(buf.inputs) != 0 || buf.lag != 0 || buf.next != kafka.FirstOffset {
			t.Fatalf("empty partition: err %v, %d inputs, lag %d, next %d; want nothing, lag 0, next still FirstOffset",
				buf.err, len(buf.inputs), buf.lag, buf.next)
		}
		stop()
		for range f.out {
		}
	}
	for _, start := range []int64{kafka.FirstOffset, 1234} {
		f := newFetcher(client, "in", 0, 64<<10, 100*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
		fctx, stop := context.WithCancel(ctx)
		go f.run(fctx, start)
		want := max(start, 0)
		for want < n {
			buf := <-f.out
			if buf.err != nil {
				t.Fatal(buf.err)
			}
			// Held while the fetcher fills the other buffer.
			time.Sleep(time.Millisecond)
			for _, in := range buf.inputs {
				if in.Offset != want || string(in.Value) != fmt.Sprintf("value-%05d", want) {
					t.Fatalf("from %d: got offset %d value %q, want offset %d", start, in.Offset, in.Value, want)
				}
				if (want%3 == 0) != (in.Key == nil) || (in.Key != nil && string(in.Key) != "k") {
					t.Fatalf("offset %d: key %q", want, in.Key)
				}
				if in.Time == 0 || time.Since(time.UnixMilli(in.Time)) > time.Minute {
					t.Fatalf("offset %d: time %d, want the produce time", want, in.Time)
				}
				want++
			}
			if len(buf.inputs) > 0 && buf.next != want {
				t.Fatalf("next %d after offset %d", buf.next, want-1)
			}
			if buf.lag != n-want {
				t.Fatalf("lag %d after offset %d of %d, want %d", buf.lag, want-1, n, n-want)
			}
			f.free <- buf
		}
		stop()
		for range f.out { // drained and closed when run returns
		}
	}
}
