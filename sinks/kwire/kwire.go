// Package kwire has what rekindle's own Kafka requests share (the fetch
// parser of stream, the produce encoder of sinks): they are written and read
// over kafka-go's connections through protocol.RawExchanger, and kafka-go
// keeps the connections, metadata, SASL and TLS.
package kwire

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/segmentio/kafka-go/protocol"
)

// CRC32C is the table of the checksum of record batches (message format v2).
var CRC32C = crc32.MakeTable(crc32.Castagnoli)

// ClientID is the client id rekindle's own requests carry.
const ClientID = "rekindle"

// Leader returns the broker leading topic/partition in cluster, for a
// request's protocol.BrokerMessage routing, as kafka-go's own requests do.
func Leader(cluster protocol.Cluster, topic string, partition int32) (protocol.Broker, error) {
	t, ok := cluster.Topics[topic]
	if !ok {
		return protocol.Broker{ID: -1}, protocol.NewErrNoTopic(topic)
	}
	p, ok := t.Partitions[partition]
	if !ok {
		return protocol.Broker{ID: -1}, protocol.NewErrNoPartition(topic, partition)
	}
	b, ok := cluster.Brokers[p.Leader]
	if !ok {
		return protocol.Broker{ID: -1}, protocol.NewErrNoLeader(topic, partition)
	}
	return b, nil
}

// AppendHeader appends a request's size (0, set by Finish), the request
// header (version 1: API key, version, correlation id, client id).
func AppendHeader(b []byte, key protocol.ApiKey, version int16, correlationID int32) []byte {
	b = append(b, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(correlationID))
	return AppendString(b, ClientID)
}

// Finish sets the size of the request req, which starts with AppendHeader.
func Finish(req []byte) []byte {
	binary.BigEndian.PutUint32(req, uint32(len(req)-4))
	return req
}

// AppendString appends a protocol string (int16 length, bytes).
func AppendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// Exchange writes req and reads the response, after its size, into resp
// (grown when short), checking that it answers correlationID. A response of
// more than limit bytes is an error, as is any I/O error; either leaves the
// connection out of step, and kafka-go drops it.
func Exchange(rw io.ReadWriter, req, resp []byte, correlationID int32, limit int) ([]byte, error) {
	if _, err := rw.Write(req); err != nil {
		return resp, err
	}
	var head [8]byte
	if _, err := io.ReadFull(rw, head[:]); err != nil {
		return resp, err
	}
	n := int(binary.BigEndian.Uint32(head[:4])) - 4
	if n < 0 || n > limit {
		return resp, fmt.Errorf("response of %d bytes (limit %d)", n+4, limit)
	}
	if id := int32(binary.BigEndian.Uint32(head[4:])); id != correlationID {
		return resp, fmt.Errorf("response for correlation id %#x, want %#x", id, correlationID)
	}
	if cap(resp) < n {
		resp = make([]byte, n, n+n/4)
	}
	resp = resp[:n]
	_, err := io.ReadFull(rw, resp)
	return resp, err
}
