package sinks

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
)

// appendBatch writes record batches that kafka-go's decoder (which checks
// the CRC) reads back as the messages: keys, nil keys, values, headers,
// timestamps (now for a message without one), with every codec.
func TestAppendBatchReadsBack(t *testing.T) {
	msgs := make([]kafka.Message, 100)
	idx := make([]int, 0, 50)
	base := time.UnixMilli(1_700_000_000_000)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprintf("user-%d", i)), Value: []byte(fmt.Sprintf(`{"n":%d}`, i)),
			Time: base.Add(time.Duration(50-i) * time.Second)} // deltas below the first too
		if i%7 == 0 {
			msgs[i].Headers = []kafka.Header{{Key: "rekindle-reason", Value: []byte("invalid_json")}, {Key: "nil"}}
		}
		if i%2 == 1 {
			idx = append(idx, i)
		}
	}
	msgs[1].Key = nil
	msgs[3].Time = time.Time{}
	msgs[5].Value = nil
	now := time.UnixMilli(1_800_000_000_000)
	for name, codec := range Compressions {
		b, err := appendBatch([]byte("prefix"), msgs, idx, now, codec)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(b[:6]) != "prefix" {
			t.Fatalf("%s: what was in the buffer changed", name)
		}
		var rs protocol.RecordSet // read as in a fetch response: after its size
		sized := binary.BigEndian.AppendUint32(nil, uint32(len(b)-6))
		if _, err := rs.ReadFrom(bytes.NewReader(append(sized, b[6:]...))); err != nil {
			t.Fatalf("%s: kafka-go reads the batch: %v", name, err)
		}
		if got := rs.Attributes.Compression(); int(got) != int(codec) {
			t.Errorf("%s: batch compressed with %v", name, got)
		}
		for k, i := range idx {
			r, err := rs.Records.ReadRecord()
			if err != nil {
				t.Fatalf("%s: record %d: %v", name, k, err)
			}
			m := msgs[i]
			var key, val []byte
			if r.Key != nil {
				key, _ = io.ReadAll(r.Key)
			}
			if r.Value != nil {
				val, _ = io.ReadAll(r.Value)
			}
			wantTime := m.Time
			if wantTime.IsZero() {
				wantTime = now
			}
			if r.Offset != int64(k) || !bytes.Equal(key, m.Key) || (r.Key == nil) != (m.Key == nil) ||
				!bytes.Equal(val, m.Value) || (r.Value == nil) != (m.Value == nil) || !r.Time.Equal(wantTime) || len(r.Headers) != len(m.Headers) {
				t.Fatalf("%s: record %d: offset %d key %q value %q time %v, %d headers; want %d %q %q %v, %d",
					name, k, r.Offset, key, val, r.Time, len(r.Headers), k, m.Key, m.Value, wantTime, len(m.Headers))
			}
			for h := range r.Headers {
				if r.Headers[h].Key != m.Headers[h].Key || !bytes.Equal(r.Headers[h].Value, m.Headers[h].Value) {
					t.Fatalf("%s: record %d header %d: %+v, want %+v", name, k, h, r.Headers[h], m.Headers[h])
				}
			}
		}
		if _, err := rs.Records.ReadRecord(); err != io.EOF {
			t.Errorf("%s: after the last record: %v, want io.EOF", name, err)
		}
	}
	// Uncompressed into a buffer with room: no allocation at all.
	buf := make([]byte, 0, 64<<10)
	if n := testing.AllocsPerRun(100, func() { appendBatch(buf[:0], msgs, idx, now, 0) }); n > 0 {
		t.Errorf("appendBatch: %.0f allocations, want none", n)
	}
}
