package sinks

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// The records of a request cost two allocations whatever their number (the
// records with their keys' and values' readers, and the list), and read
// back as the messages.
func TestRecordsOfAllocatesPerRequest(t *testing.T) {
	msgs := make([]kafka.Message, 100)
	idx := make([]int, 0, 50)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprintf("user-%d", i)), Value: []byte(fmt.Sprintf(`{"n":%d}`, i))}
		if i%2 == 1 {
			idx = append(idx, i)
		}
	}
	msgs[1].Key = nil // no key
	now := time.Unix(1_700_000_000, 0)
	if n := testing.AllocsPerRun(100, func() { recordsOf(msgs, idx, now) }); n > 2 {
		t.Errorf("recordsOf: %.0f allocations for %d records, want at most 2", n, len(idx))
	}
	rr := recordsOf(msgs, idx, now)
	for k, i := range idx {
		r, err := rr.ReadRecord()
		if err != nil {
			t.Fatalf("record %d: %v", k, err)
		}
		var key []byte
		if r.Key != nil {
			key, _ = io.ReadAll(r.Key)
		}
		val, _ := io.ReadAll(r.Value)
		if !bytes.Equal(key, msgs[i].Key) || (r.Key == nil) != (msgs[i].Key == nil) || !bytes.Equal(val, msgs[i].Value) || !r.Time.Equal(now) {
			t.Errorf("record %d: key %q value %q time %v, want %q %q %v", k, key, val, r.Time, msgs[i].Key, msgs[i].Value, now)
		}
	}
	if _, err := rr.ReadRecord(); err != io.EOF {
		t.Errorf("after the last record: %v, want io.EOF", err)
	}
}
