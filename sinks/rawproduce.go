package sinks

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/rekindle/rekindle/sinks/kwire"
)

// rawProduce is one Produce request (version 3) for the partitions of one
// leader that writes its record batches itself (message format v2, the
// Producer's compression) and reads its response itself, over kafka-go's
// connection to the leader (protocol.RawExchanger; kafka-go keeps the
// connections, metadata, SASL and TLS). kafka-go's own request encoding
// reads every key and value through an io.Reader and writes a batch twice
// (once to size it): with lz4 compression, about half of producing the
// outputs cost the processor beyond the compression itself.
//
// Version 3 (Kafka 0.11 and later) is the first that carries message format
// v2. acks=all.
type rawProduce struct {
	parts       []*partitionMsgs // all led by one broker
	msgs        []kafka.Message
	now         time.Time
	compression kafka.Compression
	timeoutMs   int32

	// version is the Produce version the connection negotiated.
	version int16
	// codes[i] is the error code the broker gave parts[i] (-1: no answer
	// for it in the response).
	codes []int16
	// parseErr: the response was read whole but is not what it should be.
	parseErr error
}

const (
	rawProduceVersion       = 3
	rawProduceCorrelationID = 0x7265_6b70 // "rekp"; the connection runs one request at a time
	noAnswer                = -1
)

// requestBuffers recycles the requests' bytes (up to MaxRequestBytes of
// records each).
var requestBuffers = sync.Pool{New: func() any { return new([]byte) }}

func (r *rawProduce) ApiKey() protocol.ApiKey { return protocol.Produce }

// Broker routes the request to the leader of its first partition (the
// Producer groups partitions by leader).
func (r *rawProduce) Broker(cluster protocol.Cluster) (protocol.Broker, error) {
	return kwire.Leader(cluster, r.parts[0].topic, int32(r.parts[0].partition))
}

// Required notes the negotiated Produce version: the exchange is always raw.
func (r *rawProduce) Required(versions map[protocol.ApiKey]int16) bool {
	r.version = versions[protocol.Produce]
	return true
}

// RawExchange writes the request and reads the whole response. Only an I/O
// error (after which kafka-go drops the connection) is returned as an error.
func (r *rawProduce) RawExchange(rw io.ReadWriter) (protocol.Message, error) {
	if r.version < rawProduceVersion {
		return nil, fmt.Errorf("the broker serves Produce up to version %d; rekindle needs version %d (Kafka 0.11 or later)", r.version, rawProduceVersion)
	}
	bp := requestBuffers.Get().(*[]byte)
	defer requestBuffers.Put(bp)
	req, err := r.appendRequest((*bp)[:0])
	*bp = req
	if err != nil {
		return nil, err
	}
	res, err := kwire.Exchange(rw, req, nil, rawProduceCorrelationID, 16<<20)
	if err != nil {
		return nil, err
	}
	r.parseErr = r.parseResponse(res)
	return r, nil
}

func (r *rawProduce) appendRequest(b []byte) ([]byte, error) {
	b = kwire.AppendHeader(b, protocol.Produce, rawProduceVersion, rawProduceCorrelationID)
	b = binary.BigEndian.AppendUint16(b, 0xFFFF) // no transactional id
	b = binary.BigEndian.AppendUint16(b, 0xFFFF) // acks=all (-1)
	b = binary.BigEndian.AppendUint32(b, uint32(r.timeoutMs))
	// Topics, each with its partitions, in the order they first come.
	var topics []string
	for _, g := range r.parts {
		if !slices.Contains(topics, g.topic) {
			topics = append(topics, g.topic)
		}
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(topics)))
	for _, t := range topics {
		b = kwire.AppendString(b, t)
		n := 0
		for _, g := range r.parts {
			if g.topic == t {
				n++
			}
		}
		b = binary.BigEndian.AppendUint32(b, uint32(n))
		for _, g := range r.parts {
			if g.topic != t {
				continue
			}
			b = binary.BigEndian.AppendUint32(b, uint32(g.partition))
			at := len(b)
			b = append(b, 0, 0, 0, 0) // the batch's size
			var err error
			if b, err = appendBatch(b, r.msgs, g.idx, r.now, r.compression); err != nil {
				return b, fmt.Errorf("sinks: encode records for %s/%d: %w", g.topic, g.partition, err)
			}
			binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
		}
	}
	return kwire.Finish(b), nil
}

// appendBatch appends one record batch (message format v2) of the messages
// at idx, compressed with codec, timestamped with each message's Time (now
// when zero), offsets from 0 (the broker assigns them).
func appendBatch(b []byte, msgs []kafka.Message, idx []int, now time.Time, codec kafka.Compression) ([]byte, error) {
	times := func(i int) int64 {
		if t := msgs[i].Time; !t.IsZero() {
			return t.UnixMilli()
		}
		return now.UnixMilli()
	}
	first, maxTime := times(idx[0]), times(idx[0])
	for _, i := range idx[1:] {
		maxTime = max(maxTime, times(i))
	}
	start := len(b)
	b = binary.BigEndian.AppendUint64(b, 0)                  // base offset
	b = binary.BigEndian.AppendUint32(b, 0)                  // batch length, below
	b = binary.BigEndian.AppendUint32(b, 0xFFFF_FFFF)        // partition leader epoch: none
	b = append(b, 2)                                         // magic
	b = binary.BigEndian.AppendUint32(b, 0)                  // CRC, below
	b = binary.BigEndian.AppendUint16(b, uint16(codec)&7)    // attributes: the codec, create time
	b = binary.BigEndian.AppendUint32(b, uint32(len(idx)-1)) // last offset delta
	b = binary.BigEndian.AppendUint64(b, uint64(first))
	b = binary.BigEndian.AppendUint64(b, uint64(maxTime))
	b = binary.BigEndian.AppendUint64(b, 0xFFFF_FFFF_FFFF_FFFF) // producer id: none
	b = binary.BigEndian.AppendUint16(b, 0xFFFF)                // producer epoch: none
	b = binary.BigEndian.AppendUint32(b, 0xFFFF_FFFF)           // base sequence: none
	b = binary.BigEndian.AppendUint32(b, uint32(len(idx)))
	recs := len(b)
	for k, i := range idx {
		b = appendRecord(b, &msgs[i], times(i)-first, int64(k))
	}
	if codec != 0 {
		c := codec.Codec()
		if c == nil {
			return b, fmt.Errorf("unknown compression codec %d", codec)
		}
		plain := bufferOf(b[recs:])
		defer plain.release()
		b = b[:recs]
		w := &appender{b: b}
		zw := c.NewWriter(w)
		if _, err := zw.Write(plain.b); err != nil {
			return b, err
		}
		if err := zw.Close(); err != nil {
			return b, err
		}
		b = w.b
	}
	binary.BigEndian.PutUint32(b[start+8:], uint32(len(b)-start-12))
	binary.BigEndian.PutUint32(b[start+17:], crc32.Checksum(b[start+21:], kwire.CRC32C))
	return b, nil
}

// appendRecord appends one record of a batch.
func appendRecord(b []byte, m *kafka.Message, timeDelta, offsetDelta int64) []byte {
	var head [3 * binary.MaxVarintLen64]byte
	h := head[:0]
	h = append(h, 0) // attributes
	h = binary.AppendVarint(h, timeDelta)
	h = binary.AppendVarint(h, offsetDelta)
	n := len(h) + varBytesLen(m.Key) + varBytesLen(m.Value) + varintLen(int64(len(m.Headers)))
	for i := range m.Headers {
		n += varintLen(int64(len(m.Headers[i].Key))) + len(m.Headers[i].Key) + varBytesLen(m.Headers[i].Value)
	}
	b = binary.AppendVarint(b, int64(n))
	b = append(b, h...)
	b = appendVarBytes(b, m.Key)
	b = appendVarBytes(b, m.Value)
	b = binary.AppendVarint(b, int64(len(m.Headers)))
	for i := range m.Headers {
		b = binary.AppendVarint(b, int64(len(m.Headers[i].Key)))
		b = append(b, m.Headers[i].Key...)
		b = appendVarBytes(b, m.Headers[i].Value)
	}
	return b
}

// appendVarBytes appends a varint length and the bytes; nil is length -1.
func appendVarBytes(b, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(b, -1)
	}
	b = binary.AppendVarint(b, int64(len(v)))
	return append(b, v...)
}

func varBytesLen(v []byte) int {
	if v == nil {
		return varintLen(-1)
	}
	return varintLen(int64(len(v))) + len(v)
}

func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63) // zigzag
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// appender is an io.Writer appending to b.
type appender struct{ b []byte }

func (w *appender) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// pooled is a copy of bytes in a recycled buffer.
type pooled struct {
	p *[]byte
	b []byte
}

func bufferOf(src []byte) pooled {
	p := requestBuffers.Get().(*[]byte)
	*p = append((*p)[:0], src...)
	return pooled{p: p, b: *p}
}

func (x pooled) release() { requestBuffers.Put(x.p) }

var errShortProduceResponse = errors.New("produce response ends early")

// parseResponse reads a Produce v3 response (after its size and
// correlation id) into r.codes.
func (r *rawProduce) parseResponse(b []byte) error {
	r.codes = make([]int16, len(r.parts))
	for i := range r.codes {
		r.codes[i] = noAnswer
	}
	i := 0
	need := func(n int) bool { return len(b)-i >= n }
	if !need(4) {
		return errShortProduceResponse
	}
	topics := int(int32(binary.BigEndian.Uint32(b)))
	i += 4
	for range max(topics, 0) {
		if !need(2) {
			return errShortProduceResponse
		}
		tl := int(int16(binary.BigEndian.Uint16(b[i:])))
		i += 2
		if tl < 0 || !need(tl+4) {
			return errShortProduceResponse
		}
		topic := string(b[i : i+tl])
		partitions := int(int32(binary.BigEndian.Uint32(b[i+tl:])))
		i += tl + 4
		for range max(partitions, 0) {
			if !need(4 + 2 + 8 + 8) {
				return errShortProduceResponse
			}
			p := int(int32(binary.BigEndian.Uint32(b[i:])))
			code := int16(binary.BigEndian.Uint16(b[i+4:]))
			i += 4 + 2 + 8 + 8 // base offset, log append time
			for k, g := range r.parts {
				if g.topic == topic && g.partition == p {
					r.codes[k] = code
				}
			}
		}
	}
	return nil
}
