package stream

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"

	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/rekindle/rekindle/sinks/kwire"
)

// rawFetch is one Fetch request (version 5) for one partition that reads
// its response itself, straight into a fetched buffer: the keys and values
// of uncompressed record batches are handed to the worker where they lie in
// the response, those of compressed ones where they were decompressed.
// kafka-go sends it like any request (the connection to the partition's
// leader, its pool, metadata, SASL and TLS are kafka-go's) and gives it the
// connection to write its request and read its response on
// (protocol.RawExchanger). kafka-go's own decoding of a fetch response reads
// every record field through io.Reader calls and its varints a byte at a
// time: about 0.8 µs a record on the development machine, 13% of the
// processor's CPU per event in e2e.
//
// Version 5 (Kafka 1.0 and later) is the first with the log's start offset,
// which retention handling needs, and has no tagged fields. Only record
// batches of message format v2 (magic 2, Kafka 0.11 and later) are read; a
// batch in an older format is an error naming its offset. Control batches
// (transaction markers) are skipped. With readCommitted (isolation level
// read_committed) the broker answers up to the log's last stable offset and
// lists the aborted transactions in the range; their records are skipped
// as Kafka's Java consumer skips them (kafka-go's own readers pass the
// isolation level on but hand those records over). Without it every
// record is read, those of aborted transactions included.
type rawFetch struct {
	topic         string
	partition     int32
	offset        int64 // resolved: not kafka.FirstOffset
	maxBytes      int32
	maxWaitMs     int32
	readCommitted bool
	buf           *fetched

	// version is the Fetch version the connection negotiated.
	version int16
	// The response's partition-level fields.
	errorCode      int16
	highWatermark  int64
	lastStable     int64
	logStartOffset int64
	// next is the offset after the last whole batch of the response, data
	// or control (0 when none): a fetch that found only transaction
	// markers, or records before the offset asked for, still moves on.
	next int64
	// parseErr: the response was read whole (the connection is still in
	// step) but its content is not what it should be.
	parseErr error
	// aborted: the aborted transactions the response lists for the
	// partition (read_committed), sorted by first offset.
	aborted []abortedTxn
	// skipped counts the records of aborted transactions not handed over.
	skipped int64
	// inflated: the bytes the response's compressed batches decompressed
	// to so far (see inflateFactor).
	inflated int
}

// abortedTxn is an aborted transaction of a fetch response: the producer
// and the offset of its first record.
type abortedTxn struct {
	producerID  int64
	firstOffset int64
}

const (
	rawFetchVersion       = 5
	rawFetchCorrelationID = 0x7265_6b69 // "reki"; the connection runs one request at a time
	// batchHeaderLen: a record batch's fixed fields, baseOffset to
	// recordsCount.
	batchHeaderLen = 61
)

func (r *rawFetch) ApiKey() protocol.ApiKey { return protocol.Fetch }

// Broker routes the request to the partition's leader, as kafka-go's own
// fetch request does.
func (r *rawFetch) Broker(cluster protocol.Cluster) (protocol.Broker, error) {
	return kwire.Leader(cluster, r.topic, r.partition)
}

// Required notes the negotiated Fetch version: the exchange is always raw.
func (r *rawFetch) Required(versions map[protocol.ApiKey]int16) bool {
	r.version = versions[protocol.Fetch]
	return true
}

// RawExchange writes the request and reads the whole response. Only an I/O
// error (after which kafka-go drops the connection) is returned as an
// error; what is wrong inside a response read whole is in parseErr.
func (r *rawFetch) RawExchange(rw io.ReadWriter) (protocol.Message, error) {
	if r.version < rawFetchVersion {
		return nil, fmt.Errorf("the broker serves Fetch up to version %d; rekindle needs version %d (Kafka 1.0 or later)", r.version, rawFetchVersion)
	}
	buf := r.buf
	var err error
	buf.raw, err = kwire.Exchange(rw, r.appendRequest(buf.raw[:0]), buf.raw, rawFetchCorrelationID, 1<<30)
	if err != nil {
		return nil, err
	}
	r.parseErr = r.parseResponse(buf.raw)
	return r, nil
}

func (r *rawFetch) appendRequest(b []byte) []byte {
	b = kwire.AppendHeader(b, protocol.Fetch, rawFetchVersion, rawFetchCorrelationID)
	b = binary.BigEndian.AppendUint32(b, 0xFFFF_FFFF) // replica id -1: a consumer
	b = binary.BigEndian.AppendUint32(b, uint32(r.maxWaitMs))
	b = binary.BigEndian.AppendUint32(b, 1) // min bytes
	b = binary.BigEndian.AppendUint32(b, uint32(r.maxBytes))
	var isolation byte // read uncommitted
	if r.readCommitted {
		isolation = 1
	}
	b = append(b, isolation)
	b = binary.BigEndian.AppendUint32(b, 1) // one topic
	b = kwire.AppendString(b, r.topic)
	b = binary.BigEndian.AppendUint32(b, 1) // one partition
	b = binary.BigEndian.AppendUint32(b, uint32(r.partition))
	b = binary.BigEndian.AppendUint64(b, uint64(r.offset))
	b = binary.BigEndian.AppendUint64(b, 0xFFFF_FFFF_FFFF_FFFF) // log start offset -1: a consumer
	b = binary.BigEndian.AppendUint32(b, uint32(r.maxBytes))
	return kwire.Finish(b)
}

// wire reads the fields of a response; the first read past the end sets
// short, and every read after it returns zeros.
type wire struct {
	b     []byte
	i     int
	short bool
}

func (w *wire) take(n int) []byte {
	if n < 0 || len(w.b)-w.i < n {
		w.short = true
		w.i = len(w.b)
		return nil
	}
	s := w.b[w.i : w.i+n : w.i+n]
	w.i += n
	return s
}

func (w *wire) int16() int16 {
	if b := w.take(2); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (w *wire) int32() int32 {
	if b := w.take(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (w *wire) int64() int64 {
	if b := w.take(8); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

func (w *wire) string() string {
	n := int(w.int16())
	if n < 0 {
		return ""
	}
	return string(w.take(n))
}

// varint reads a zigzag-encoded varint (a record's fields).
func (w *wire) varint() int64 {
	v, n := binary.Varint(w.b[w.i:])
	if n <= 0 {
		w.short = true
		w.i = len(w.b)
		return 0
	}
	w.i += n
	return v
}

// bytes reads a varint length and that many bytes; -1 is nil.
func (w *wire) bytes() []byte {
	n := w.varint()
	if n < 0 {
		return nil
	}
	if n > int64(len(w.b)-w.i) {
		w.short = true
		w.i = len(w.b)
		return nil
	}
	return w.take(int(n))
}

var errShortResponse = errors.New("fetch response ends early")

// parseResponse reads a Fetch v5 response (after its size and correlation
// id) for r's one partition and appends its records to r.buf.
func (r *rawFetch) parseResponse(b []byte) error {
	w := &wire{b: b}
	w.int32() // throttle time
	topics := w.int32()
	var records []byte
	found := false
	for range max(topics, 0) {
		topic := w.string()
		partitions := w.int32()
		if w.short {
			return errShortResponse
		}
		for range max(partitions, 0) {
			p := w.int32()
			errorCode := w.int16()
			hw := w.int64()
			lso := w.int64()
			logStart := w.int64()
			ours := topic == r.topic && p == r.partition
			if ours {
				r.aborted = r.aborted[:0]
			}
			txns := int(w.int32())
			if txns > (len(w.b)-w.i)/16 {
				return errShortResponse // not a count to loop over
			}
			for range max(txns, 0) {
				txn := abortedTxn{producerID: w.int64(), firstOffset: w.int64()}
				if ours {
					r.aborted = append(r.aborted, txn)
				}
			}
			n := w.int32()
			var recs []byte
			if n > 0 {
				recs = w.take(int(n))
			}
			if w.short {
				return errShortResponse
			}
			if ours {
				found = true
				r.errorCode, r.highWatermark, r.lastStable, r.logStartOffset, records = errorCode, hw, lso, logStart, recs
			}
		}
	}
	switch {
	case w.short:
		return errShortResponse
	case !found:
		return fmt.Errorf("fetch response without partition %s/%d", r.topic, r.partition)
	case r.errorCode != 0:
		return nil
	}
	return r.parseRecords(records)
}

// parseRecords appends the records of a partition's record batches at or
// after r.offset to r.buf. A batch cut short at the end (the response's
// size limit) is left for the next fetch, which starts at its first offset.
func (r *rawFetch) parseRecords(b []byte) error {
	buf := r.buf
	var txns abortFilter
	if r.readCommitted && len(r.aborted) > 0 {
		slices.SortFunc(r.aborted, func(a, b abortedTxn) int { return cmp.Compare(a.firstOffset, b.firstOffset) })
		txns.pending = r.aborted
	}
	for len(b) >= batchHeaderLen {
		base := int64(binary.BigEndian.Uint64(b[0:8]))
		length := int(int32(binary.BigEndian.Uint32(b[8:12])))
		if length < batchHeaderLen-12 {
			return fmt.Errorf("record batch at offset %d: length %d", base, length)
		}
		if len(b) < 12+length {
			break // cut short
		}
		batch := b[:12+length]
		b = b[12+length:]
		if magic := batch[16]; magic != 2 {
			return fmt.Errorf("record batch at offset %d is in message format v%d; rekindle reads only v2 (Kafka 0.11 and later)", base, magic)
		}
		if crc := binary.BigEndian.Uint32(batch[17:21]); crc32.Checksum(batch[21:], kwire.CRC32C) != crc {
			return fmt.Errorf("record batch at offset %d: CRC mismatch", base)
		}
		attrs := binary.BigEndian.Uint16(batch[21:23])
		last := base + int64(int32(binary.BigEndian.Uint32(batch[23:27])))
		r.next = max(r.next, last+1)
		count := int(int32(binary.BigEndian.Uint32(batch[57:61])))
		if attrs&0x10 != 0 && txns.pending != nil {
			if txns.skip(batch, last, attrs&0x20 != 0) {
				// Those before the offset asked for were counted by the
				// fetch that asked for them.
				r.skipped += max(0, min(int64(count), last+1-max(base, r.offset)))
				continue
			}
		}
		if attrs&0x20 != 0 {
			continue // a control batch: transaction markers, not records
		}
		firstTime := int64(binary.BigEndian.Uint64(batch[27:35]))
		maxTime := int64(binary.BigEndian.Uint64(batch[35:43]))
		data := batch[batchHeaderLen:]
		if codec := compress.Compression(attrs & 7); codec != compress.None {
			var err error
			if data, err = r.decompress(codec, data); err != nil {
				return fmt.Errorf("record batch at offset %d: %s: %w", base, codec, err)
			}
		}
		logAppendTime := attrs&0x08 != 0
		w := &wire{b: data}
		for i := range max(count, 0) {
			n := w.varint()
			if w.short || n < 0 || n > int64(len(data)-w.i) {
				return fmt.Errorf("record batch at offset %d: record %d of %d: length %d, %d bytes left", base, i, count, n, len(data)-w.i)
			}
			end := w.i + int(n)
			w.take(1) // attributes
			ts := w.varint()
			offset := base + w.varint()
			key := w.bytes()
			value := w.bytes()
			if w.short || w.i > end {
				return fmt.Errorf("record batch at offset %d: record at offset %d ends early", base, offset)
			}
			w.i = end // headers are not read
			if offset < r.offset {
				continue // a response starts at a batch boundary
			}
			in := Input{Topic: r.topic, Partition: r.partition, Offset: offset, Key: key, Value: value, Time: firstTime + ts}
			if logAppendTime {
				in.Time = maxTime
			}
			buf.inputs = append(buf.inputs, in)
		}
	}
	return nil
}

// abortFilter finds the batches of aborted transactions in a fetch
// response, as Kafka's Java consumer does: a producer's transaction is
// aborted from the first offset the response lists for it until that
// producer's ABORT marker. A COMMIT marker, or any other control batch,
// ends nothing: the same producer's later transaction may be the aborted
// one. Offsets only grow, so the listed transactions are taken in order.
type abortFilter struct {
	pending []abortedTxn // sorted by first offset; nil: nothing aborted
	active  []int64      // producers whose aborted transaction is open
}

// skip reports whether the transactional batch (last: its last offset;
// control: a transaction marker) belongs to an aborted transaction.
func (f *abortFilter) skip(batch []byte, last int64, control bool) bool {
	for len(f.pending) > 0 && f.pending[0].firstOffset <= last {
		if !slices.Contains(f.active, f.pending[0].producerID) {
			f.active = append(f.active, f.pending[0].producerID)
		}
		f.pending = f.pending[1:]
	}
	producer := int64(binary.BigEndian.Uint64(batch[43:51]))
	i := slices.Index(f.active, producer)
	if i < 0 {
		return false
	}
	if control {
		if controlType(batch) == controlAbort {
			f.active = slices.Delete(f.active, i, i+1)
		}
		return false // a marker is never handed over anyway
	}
	return true
}

// Control record types (the key's second int16).
const (
	controlAbort  = 0
	controlCommit = 1
)

// controlType returns the type of a control batch's marker: its one
// record's key is a version (int16) and the type (int16). -1 when the
// record cannot be read (Kafka never compresses control batches).
func controlType(batch []byte) int {
	if binary.BigEndian.Uint16(batch[21:23])&7 != 0 {
		return -1
	}
	w := &wire{b: batch[batchHeaderLen:]}
	w.varint() // length
	w.take(1)  // attributes
	w.varint() // timestamp delta
	w.varint() // offset delta
	key := w.bytes()
	if w.short || len(key) < 4 {
		return -1
	}
	return int(int16(binary.BigEndian.Uint16(key[2:4])))
}

// inflateFactor and inflateFloor bound what the compressed batches of one
// fetch response may decompress to: inflateFactor times the response's
// size, at least inflateFloor. Event batches compress 3-15 times; the
// bound keeps a batch that decompresses to gigabytes (corrupt, or made to)
// from taking the process's memory: it is an error naming its offset, as
// a batch that does not decompress is.
const inflateFactor = 64

var inflateFloor = 64 << 20 // a variable: tests lower it

// decompress decompresses a batch's records into the buffer's arena: a
// new arena when the current one is full, so that what earlier batches
// put there stays where the inputs point.
func (r *rawFetch) decompress(codec compress.Compression, data []byte) ([]byte, error) {
	buf := r.buf
	if buf.reader == nil {
		buf.reader = new(bytes.Reader)
	}
	buf.reader.Reset(data)
	zr := codec.Codec().NewReader(buf.reader)
	defer zr.Close()
	limit := max(inflateFloor, inflateFactor*len(buf.raw))
	start := len(buf.arena)
	for {
		if len(buf.arena) == cap(buf.arena) {
			// Grow into a new array; the old one stays as it is, under
			// the inputs that point into it. One byte past the limit is
			// room enough to see that it is passed.
			have := len(buf.arena) - start
			grown := make([]byte, have, min(max(2*cap(buf.arena), 64<<10), have+limit-r.inflated+1))
			copy(grown, buf.arena[start:])
			buf.arena, start = grown, 0
		}
		n, err := zr.Read(buf.arena[len(buf.arena):cap(buf.arena)])
		buf.arena = buf.arena[:len(buf.arena)+n]
		if r.inflated += n; r.inflated > limit {
			return nil, fmt.Errorf("decompresses to more than %d bytes, the most a fetch response of %d bytes may (%d times its size, at least %d MiB)", limit, len(buf.raw), inflateFactor, inflateFloor>>20)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return buf.arena[start:len(buf.arena):len(buf.arena)], nil
}
