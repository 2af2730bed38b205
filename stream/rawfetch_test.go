package stream

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/rekindle/rekindle/sinks/broker"
	"github.com/rekindle/rekindle/sinks/kwire"
)

// readInputs runs a fetcher on topic/0 from offset 0 until it has handed
// over n inputs (copied: the fetcher reuses its buffers), and returns them.
func readInputs(t *testing.T, addrs []string, topic string, n int) []Input {
	t.Helper()
	got, _ := readInputsAs(t, addrs, topic, n, false)
	return got
}

// readInputsAs reads as readInputs does, read_committed if readCommitted,
// and also returns how many records of aborted transactions it skipped.
func readInputsAs(t *testing.T, addrs []string, topic string, n int, readCommitted bool) (_ []Input, aborted int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(addrs...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	f := newFetcher(client, topic, 0, 16<<10, 20*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.readCommitted = readCommitted
	fctx, stop := context.WithCancel(ctx)
	defer func() {
		stop()
		for range f.out {
		}
	}()
	go f.run(fctx, 0)
	var got []Input
	for len(got) < n {
		var buf *fetched
		select {
		case buf = <-f.out:
		case <-ctx.Done():
			t.Fatalf("%s: %d of %d inputs after 30 s", topic, len(got), n)
		}
		if buf.err != nil {
			t.Fatalf("%s: %v", topic, buf.err)
		}
		for _, in := range buf.inputs {
			in.Key, in.Value = bytes.Clone(in.Key), bytes.Clone(in.Value)
			got = append(got, in)
		}
		aborted += buf.aborted
		f.free <- buf
	}
	return got, aborted
}

// TestRawFetchReadsEveryCodec: records produced by kafka-go with each
// compression codec, keyed and not, with headers and timestamps, come back
// whole and in order, read a 16 KB response at a time (batches cut short at
// the end of a response are fetched again whole).
func TestRawFetchReadsEveryCodec(t *testing.T) {
	codecs := []kafka.Compression{0, kafka.Gzip, kafka.Snappy, kafka.Lz4, kafka.Zstd}
	var topics []string
	for _, c := range codecs {
		topics = append(topics, fmt.Sprintf("in-%d", c))
	}
	b, err := broker.Start(broker.Options{Partitions: 1, Topics: topics})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const n = 3000
	base := time.UnixMilli(1_700_000_000_000)
	for i, c := range codecs {
		w := &kafka.Writer{Addr: kafka.TCP(b.Addrs()...), Topic: topics[i], Compression: c,
			RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond, BatchSize: 250, Balancer: &kafka.LeastBytes{}}
		var msgs []kafka.Message
		for j := range n {
			m := kafka.Message{Value: []byte(fmt.Sprintf(`{"i":%d,"pad":%q}`, j, strings.Repeat("x", j%300))),
				Time: base.Add(time.Duration(j) * time.Millisecond)}
			if j%4 != 0 {
				m.Key = []byte(fmt.Sprintf("user-%d", j%97))
			}
			if j%5 == 0 {
				m.Headers = []kafka.Header{{Key: "h", Value: []byte("v")}, {Key: "empty"}}
			}
			msgs = append(msgs, m)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := w.WriteMessages(ctx, msgs...)
		cancel()
		w.Close()
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		got := readInputs(t, b.Addrs(), topics[i], n)
		if len(got) != n {
			t.Fatalf("%s: %d inputs, want %d", c, len(got), n)
		}
		for j, in := range got {
			m := msgs[j]
			if in.Offset != int64(j) || in.Topic != topics[i] || in.Partition != 0 ||
				!bytes.Equal(in.Key, m.Key) || (in.Key == nil) != (m.Key == nil) || !bytes.Equal(in.Value, m.Value) ||
				in.Time != m.Time.UnixMilli() {
				t.Fatalf("%s: input %d is %s/%d@%d key %q value %q time %d, want @%d key %q value %q time %d",
					c, j, in.Topic, in.Partition, in.Offset, in.Key, in.Value, in.Time, j, m.Key, m.Value, m.Time.UnixMilli())
			}
		}
	}
}

// TestRawFetchSkipsTransactionMarkers: records of committed and aborted
// transactions (franz-go's transactional producer) are read, as kafka-go's
// default isolation level reads them, and the markers that end the
// transactions, which are not records, are not.
func TestRawFetchSkipsTransactionMarkers(t *testing.T) {
	b, err := broker.Start(broker.Options{Partitions: 1, Topics: []string{"tx"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.TransactionalID("rekindle-test"),
		kgo.DefaultProduceTopic("tx"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var want []string
	for txn, commit := range []bool{true, false, true} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			v := fmt.Sprintf("txn %d record %d", txn, i)
			want = append(want, v)
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v), Partition: 0}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	// The log ends with a marker (offset 11): a fetch there hands over
	// nothing and moves past it, instead of fetching it again and again.
	{
		client := &kafka.Client{Addr: kafka.TCP(b.Addrs()...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
		f := newFetcher(client, "tx", 0, 64<<10, 20*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
		buf := &fetched{}
		next, err := f.fetch(ctx, 11, buf)
		if err != nil || len(buf.inputs) != 0 || next != 12 || buf.next != 12 {
			t.Fatalf("fetch at the last marker: %d inputs, next %d/%d (%v); want none and 12", len(buf.inputs), next, buf.next, err)
		}
	}
	// One more record outside any transaction, after the last marker: the
	// fetcher must get past every marker to reach it.
	cl2, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.DefaultProduceTopic("tx"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	want = append(want, "after")
	if err := cl2.ProduceSync(ctx, &kgo.Record{Value: []byte("after"), Partition: 0}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got := readInputs(t, b.Addrs(), "tx", len(want))
	if len(got) != len(want) {
		t.Fatalf("%d inputs, want %d", len(got), len(want))
	}
	for i, in := range got {
		if string(in.Value) != want[i] {
			t.Fatalf("input %d at offset %d: %q, want %q", i, in.Offset, in.Value, want[i])
		}
	}
	// 3 markers between: 9 records, 3 markers, then the last.
	if last := got[len(got)-1].Offset; last != 12 {
		t.Errorf("the record after the transactions is at offset %d, want 12 (9 records and 3 markers before it)", last)
	}

	// read_committed: the aborted transaction's records are not inputs.
	committed := slices.Concat(want[:3], want[6:])
	got, aborted := readInputsAs(t, b.Addrs(), "tx", len(committed), true)
	if len(got) != len(committed) || aborted != 3 {
		t.Fatalf("read_committed: %d inputs and %d skipped, want %d and 3", len(got), aborted, len(committed))
	}
	for i, in := range got {
		if string(in.Value) != committed[i] {
			t.Fatalf("read_committed: input %d at offset %d: %q, want %q", i, in.Offset, in.Value, committed[i])
		}
	}
}

// TestRawFetchAbortedTransactions checks read_committed's filter on
// batches written by hand, against the aborted transactions a response
// lists: two producers interleaved, a producer whose aborted transaction
// lies between two committed ones (only its ABORT marker ends it; a
// COMMIT marker before it does not start it), a transaction aborted
// before the offset asked for, and compressed batches.
func TestRawFetchAbortedTransactions(t *testing.T) {
	const p1, p2 = 7, 9
	marker := func(typ int16) []byte { return []byte{0, 0, 0, byte(typ)} }
	var log []byte
	log = appendTestBatchOf(log, 0, 0x10, p1, nil, "a1", "a2")           // p1: committed
	log = appendTestBatchOf(log, 2, 0x30, p1, marker(controlCommit), "") // p1 COMMIT
	log = appendTestBatchOf(log, 3, 0x10, p1, nil, "b1", "b2")           // p1: aborted
	log = appendTestBatchOf(log, 5, 0x30, p1, marker(controlAbort), "")  // p1 ABORT
	log = append(log, compressTestBatch(t, appendTestBatchOf(nil, 6, 0x10, p1, nil, "c1"), compress.Lz4)...)
	log = appendTestBatchOf(log, 7, 0x30, p1, marker(controlCommit), "") // p1 COMMIT
	log = appendTestBatch(log, 8, 0, "plain")                            // no transaction
	log = append(log, compressTestBatch(t, appendTestBatchOf(nil, 9, 0x10, p2, nil, "d1"), compress.Zstd)...)
	log = appendTestBatchOf(log, 10, 0x10, p1, nil, "e1")                // p1: committed
	log = appendTestBatchOf(log, 11, 0x30, p2, marker(controlAbort), "") // p2 ABORT
	log = appendTestBatchOf(log, 12, 0x30, p1, marker(controlCommit), "")
	log = appendTestBatchOf(log, 13, 0x10, p2, nil, "f1") // p2: committed
	log = appendTestBatchOf(log, 14, 0x30, p2, marker(controlCommit), "")
	aborted := []abortedTxn{{producerID: p2, firstOffset: 9}, {producerID: p1, firstOffset: 3}} // not sorted
	read := func(offset int64, readCommitted bool) string {
		r := &rawFetch{topic: "t", offset: offset, readCommitted: readCommitted, buf: &fetched{}, aborted: slices.Clone(aborted)}
		if err := r.parseRecords(log); err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, in := range r.buf.inputs {
			s = append(s, fmt.Sprintf("%d:%s", in.Offset, in.Value))
		}
		return fmt.Sprintf("%s; skipped %d; next %d", strings.Join(s, " "), r.skipped, r.next)
	}
	for _, c := range []struct {
		offset        int64
		readCommitted bool
		want          string
	}{
		{0, true, "0:a1 1:a2 6:c1 8:plain 10:e1 13:f1; skipped 3; next 15"},
		{4, true, "6:c1 8:plain 10:e1 13:f1; skipped 2; next 15"}, // b2 and d1: b1 was the earlier fetch's
		{0, false, "0:a1 1:a2 3:b1 4:b2 6:c1 8:plain 9:d1 10:e1 13:f1; skipped 0; next 15"},
	} {
		if got := read(c.offset, c.readCommitted); got != c.want {
			t.Errorf("from %d, read_committed %v:\n got %s\nwant %s", c.offset, c.readCommitted, got, c.want)
		}
	}
}

// appendTestBatch appends a record batch (message format v2, uncompressed)
// of values at offsets base, base+1, ... written the way the Kafka protocol
// describes, independently of rawFetch's parser.
func appendTestBatch(b []byte, base int64, attrs uint16, values ...string) []byte {
	return appendTestBatchOf(b, base, attrs, -1, nil, values...)
}

// appendTestBatchOf is appendTestBatch with a producer id (-1: none) and
// one key for every record (nil: no key).
func appendTestBatchOf(b []byte, base int64, attrs uint16, producer int64, key []byte, values ...string) []byte {
	var recs []byte
	for i, v := range values {
		var r []byte
		r = append(r, 0)                        // attributes
		r = binary.AppendVarint(r, int64(i)*10) // timestamp delta
		r = binary.AppendVarint(r, int64(i))    // offset delta
		if key == nil {
			r = binary.AppendVarint(r, -1) // no key
		} else {
			r = binary.AppendVarint(r, int64(len(key)))
			r = append(r, key...)
		}
		r = binary.AppendVarint(r, int64(len(v))) // value
		r = append(r, v...)
		r = binary.AppendVarint(r, 0) // no headers
		recs = binary.AppendVarint(recs, int64(len(r)))
		recs = append(recs, r...)
	}
	var h []byte
	h = binary.BigEndian.AppendUint64(h, uint64(base))
	h = binary.BigEndian.AppendUint32(h, uint32(49+len(recs))) // from partition leader epoch on
	h = binary.BigEndian.AppendUint32(h, 0)                    // partition leader epoch
	h = append(h, 2)                                           // magic
	h = binary.BigEndian.AppendUint32(h, 0)                    // crc, below
	crcFrom := len(h)
	h = binary.BigEndian.AppendUint16(h, attrs)
	h = binary.BigEndian.AppendUint32(h, uint32(max(len(values)-1, 0)))
	h = binary.BigEndian.AppendUint64(h, 1000) // first timestamp
	h = binary.BigEndian.AppendUint64(h, 5000) // max timestamp
	h = binary.BigEndian.AppendUint64(h, uint64(producer))
	h = binary.BigEndian.AppendUint16(h, ^uint16(0))
	h = binary.BigEndian.AppendUint32(h, ^uint32(0))
	h = binary.BigEndian.AppendUint32(h, uint32(len(values)))
	h = append(h, recs...)
	binary.BigEndian.PutUint32(h[17:], crc32.Checksum(h[crcFrom:], crc32.MakeTable(crc32.Castagnoli)))
	return append(b, h...)
}

// compressTestBatch returns batch (one from appendTestBatch) with its
// records compressed with codec, its attributes, length and CRC to match.
func compressTestBatch(t testing.TB, batch []byte, codec compress.Compression) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := codec.Codec().NewWriter(&z)
	if _, err := zw.Write(batch[61:]); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	b := append(bytes.Clone(batch[:61]), z.Bytes()...)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint16(b[21:], binary.BigEndian.Uint16(b[21:])|uint16(codec))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// TestRawFetchBoundsDecompression: a compressed batch that decompresses
// to more than the bound (inflateFactor times the response, at least
// inflateFloor; lowered to 1 MiB here) is an error naming its offset, and
// the memory taken for it stays near the bound; one just below it reads.
func TestRawFetchBoundsDecompression(t *testing.T) {
	defer func(floor int) { inflateFloor = floor }(inflateFloor)
	inflateFloor = 1 << 20
	big := strings.Repeat("a", 300<<10)
	for _, codec := range []compress.Compression{compress.Gzip, compress.Zstd, compress.Lz4} {
		bomb := compressTestBatch(t, appendTestBatch(nil, 40, 0, big, big, big, big), codec) // 1.2 MiB of records
		r := &rawFetch{topic: "t", offset: 40, buf: &fetched{}}
		err := r.parseRecords(bomb)
		want := fmt.Sprintf("record batch at offset 40: %s: decompresses to more than 1048576 bytes", codec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %d bytes compressed: error %v, want %q", codec, len(bomb), err, want)
		}
		if c := cap(r.buf.arena); c > 1<<20+1 {
			t.Errorf("%s: the arena grew to %d bytes, past the bound", codec, c)
		}
		ok := compressTestBatch(t, appendTestBatch(nil, 40, 0, big, big, big), codec) // 0.9 MiB
		r = &rawFetch{topic: "t", offset: 40, buf: &fetched{}}
		if err := r.parseRecords(ok); err != nil || len(r.buf.inputs) != 3 || string(r.buf.inputs[2].Value) != big {
			t.Errorf("%s: below the bound: %d inputs, error %v", codec, len(r.buf.inputs), err)
		}
	}
}

// TestRawFetchBatches checks the record batch rules on batches written by
// hand: offsets, timestamps (create time and log-append time), records
// before the offset asked for, a batch cut short at the end, a control
// batch, and the errors for a bad CRC and an older message format.
func TestRawFetchBatches(t *testing.T) {
	values := func(buf *fetched) string {
		var s []string
		for _, in := range buf.inputs {
			s = append(s, fmt.Sprintf("%d:%s@%d", in.Offset, in.Value, in.Time))
		}
		return strings.Join(s, " ")
	}
	parse := func(offset int64, b []byte) (string, error) {
		r := &rawFetch{topic: "t", offset: offset, buf: &fetched{}}
		err := r.parseRecords(b)
		return fmt.Sprintf("%s next %d", values(r.buf), r.next), err
	}
	two := appendTestBatch(appendTestBatch(nil, 10, 0, "a", "b", "c"), 13, 0x08, "d", "e")
	for _, c := range []struct {
		name   string
		offset int64
		b      []byte
		want   string
		err    string
	}{
		{"two batches", 10, two, "10:a@1000 11:b@1010 12:c@1020 13:d@5000 14:e@5000 next 15", ""},
		{"from inside the first", 12, two, "12:c@1020 13:d@5000 14:e@5000 next 15", ""},
		{"the second cut short", 10, two[:len(two)-3], "10:a@1000 11:b@1010 12:c@1020 next 13", ""},
		{"only a batch's start", 10, two[:40], " next 0", ""},
		{"compressed", 10, append(compressTestBatch(t, appendTestBatch(nil, 10, 0, "a", "b", "c"), compress.Lz4),
			compressTestBatch(t, appendTestBatch(nil, 13, 0, "d"), compress.Zstd)...), "10:a@1000 11:b@1010 12:c@1020 13:d@1000 next 14", ""},
		{"a control batch", 10, appendTestBatch(appendTestBatch(nil, 10, 0x20, "marker"), 11, 0, "x"), "11:x@1000 next 12", ""},
		{"only a control batch", 10, appendTestBatch(nil, 10, 0x20, "marker"), " next 11", ""},
		{"bad CRC", 10, func() []byte { b := bytes.Clone(two); b[70] ^= 1; return b }(), "", "record batch at offset 10: CRC mismatch"},
		{"message format v1", 10, func() []byte { b := bytes.Clone(two); b[16] = 1; return b }(), "", "message format v1"},
		{"a record longer than its batch", 10, func() []byte {
			b := appendTestBatch(nil, 10, 0, "abc")
			b[61] = 0x7e // the first record's length: 63
			binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
			return b
		}(), "", "record batch at offset 10: record 0 of 1: length 63"},
	} {
		got, err := parse(c.offset, c.b)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.err)
			continue
		}
		if c.err == "" && got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// FuzzRawFetchResponse: no response, however malformed, panics the parser
// or makes it hand over an input outside the response.
func FuzzRawFetchResponse(f *testing.F) {
	resp := func(records []byte, aborted ...abortedTxn) []byte {
		var b []byte
		b = binary.BigEndian.AppendUint32(b, 0) // throttle
		b = binary.BigEndian.AppendUint32(b, 1)
		b = kwire.AppendString(b, "t")
		b = binary.BigEndian.AppendUint32(b, 1)
		b = binary.BigEndian.AppendUint32(b, 0)  // partition
		b = binary.BigEndian.AppendUint16(b, 0)  // error
		b = binary.BigEndian.AppendUint64(b, 20) // high watermark
		b = binary.BigEndian.AppendUint64(b, 20)
		b = binary.BigEndian.AppendUint64(b, 0)
		b = binary.BigEndian.AppendUint32(b, uint32(len(aborted)))
		for _, a := range aborted {
			b = binary.BigEndian.AppendUint64(b, uint64(a.producerID))
			b = binary.BigEndian.AppendUint64(b, uint64(a.firstOffset))
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(records)))
		return append(b, records...)
	}
	f.Add(resp(appendTestBatch(appendTestBatch(nil, 10, 0, "a", "b"), 12, 0x08, "c")), false)
	for _, codec := range []compress.Compression{compress.Gzip, compress.Snappy, compress.Lz4, compress.Zstd} {
		f.Add(resp(compressTestBatch(f, appendTestBatch(nil, 0, 0, "a", "bb", "ccc"), codec)), false)
	}
	f.Add(resp(appendTestBatch(nil, 0, 0x20, "m")), false)
	f.Add(resp(nil), false)
	txns := appendTestBatchOf(nil, 0, 0x10, 7, nil, "a", "b")
	txns = appendTestBatchOf(txns, 2, 0x30, 7, []byte{0, 0, 0, controlAbort}, "")
	txns = appendTestBatchOf(txns, 3, 0x10, 7, nil, "c")
	f.Add(resp(txns, abortedTxn{producerID: 7, firstOffset: 0}), true)
	f.Fuzz(func(t *testing.T, b []byte, readCommitted bool) {
		r := &rawFetch{topic: "t", readCommitted: readCommitted, buf: &fetched{}}
		if err := r.parseResponse(b); err != nil {
			return
		}
		if len(r.buf.arena) > 0 {
			return // decompressed: the inputs may point into earlier arenas
		}
		for _, in := range r.buf.inputs {
			for _, x := range [][]byte{in.Key, in.Value} {
				if len(x) > 0 && !within(x, b) {
					t.Fatalf("input at offset %d points outside the response", in.Offset)
				}
			}
		}
	})
}

// within reports whether x lies inside b's memory.
func within(x, b []byte) bool {
	if len(b) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(x)))
	return p >= lo && p+uintptr(len(x)) <= lo+uintptr(len(b))
}

// TestOutOfRangeWithoutTheLogsBounds: Kafka answers a fetch out of the log's
// range with OFFSET_OUT_OF_RANGE and -1 for the log's start and end (kfake
// gives them; the test blanks them as Kafka does): the fetcher asks for the
// bounds, and resumes at the log's start when retention deleted what it
// asked for, or reports the state ahead of the log when it asked past its
// end.
func TestOutOfRangeWithoutTheLogsBounds(t *testing.T) {
	b, err := broker.Start(broker.Options{Partitions: 1, Topics: []string{"in"}, RetentionBytes: 4 << 10, RetentionCheck: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	w := &kafka.Writer{Addr: kafka.TCP(b.Addrs()...), Topic: "in", RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond, BatchSize: 10, Balancer: &kafka.LeastBytes{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 200; i += 10 { // batches of 10, retention deletes whole ones
		var msgs []kafka.Message
		for j := i; j < i+10; j++ {
			msgs = append(msgs, kafka.Message{Value: []byte(fmt.Sprintf("record %03d %s", j, strings.Repeat("x", 100)))})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	b.Cluster().ApplyRetention()
	client := &kafka.Client{Addr: kafka.TCP(b.Addrs()...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	f := newFetcher(client, "in", 0, 64<<10, 20*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	logStart, end, err := f.bounds(ctx)
	if err != nil || logStart <= 0 || end != 200 {
		t.Fatalf("log %d to %d (%v); want retention to have deleted its start, and 200 records", logStart, end, err)
	}
	blanked := 0
	b.Cluster().ControlKey(int16(kmsg.Fetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		b.Cluster().KeepControl()
		req := kreq.(*kmsg.FetchRequest)
		off := req.Topics[0].Partitions[0].FetchOffset
		if off >= logStart && off <= end {
			return nil, nil, false
		}
		blanked++
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.Version = req.Version
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic = "in"
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.ErrorCode = kerr.OffsetOutOfRange.Code
		rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = -1, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		resp.Topics = append(resp.Topics, rt)
		return resp, nil, true
	})

	buf := &fetched{}
	next, err := f.fetch(ctx, 3, buf)
	if err != nil || next != logStart || buf.lost != logStart-3 || buf.next != logStart {
		t.Errorf("fetch from 3: next %d, lost %d (%v); want to resume at %d with %d lost", next, buf.lost, err, logStart, logStart-3)
	}
	_, err = f.fetch(ctx, 500, buf)
	var ahead *StateAheadError
	if !errors.As(err, &ahead) || ahead.Offset != 500 || ahead.End != 200 {
		t.Errorf("fetch from 500: %v; want the state ahead of the log's end, 200", err)
	}
	if blanked != 2 {
		t.Errorf("%d fetches answered without the bounds, want 2", blanked)
	}
}
