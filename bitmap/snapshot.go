package bitmap

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// Snapshot format, version 1. Integers are little-endian; uvarint is
// encoding/binary's.
//
//	magic    "RKSG"
//	version  1 byte (1)
//	length   uint32: bytes of the whole snapshot, checksum included
//	count    uvarint: number of segments that follow
//	all      uvarint length + roaring portable serialization
//	count ×  uvarint name length + name, uvarint length + roaring bytes
//	crc      uint32: CRC-32C (Castagnoli) of every byte before it
//
// Segments are keyed by name, so a snapshot survives a catalog that gained,
// lost or reordered segments.
const (
	snapshotMagic   = "RKSG"
	snapshotVersion = 1
	snapshotHeader  = len(snapshotMagic) + 1 + 4
	snapshotMinSize = snapshotHeader + 4 // the decoder checks the rest
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	_ encoding.BinaryMarshaler   = (*Registry)(nil)
	_ encoding.BinaryAppender    = (*Registry)(nil)
	_ encoding.BinaryUnmarshaler = (*Registry)(nil)
)

// MarshalBinary returns a snapshot of all and every segment, keyed by name.
func (r *Registry) MarshalBinary() ([]byte, error) { return r.AppendBinary(nil) }

// AppendBinary appends a snapshot of all and every segment to b (see
// MarshalBinary). It holds the read lock while it copies the bitmaps.
func (r *Registry) AppendBinary(b []byte) ([]byte, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()

	size := snapshotHeader + binary.MaxVarintLen64 + 4
	size += binary.MaxVarintLen64 + int(r.mu.all.GetSerializedSizeInBytes())
	for i, seg := range r.mu.segs {
		size += 2*binary.MaxVarintLen64 + len(r.catalog.Name(i)) + int(seg.GetSerializedSizeInBytes())
	}
	start := len(b)
	b = slices.Grow(b, size)

	b = append(b, snapshotMagic...)
	b = append(b, snapshotVersion)
	b = binary.LittleEndian.AppendUint32(b, 0) // length, patched below
	b = binary.AppendUvarint(b, uint64(len(r.mu.segs)))
	var err error
	if b, err = appendRoaring(b, r.mu.all); err != nil {
		return b[:start], fmt.Errorf("bitmap: snapshot: all: %w", err)
	}
	for i, seg := range r.mu.segs {
		name := r.catalog.Name(i)
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		if b, err = appendRoaring(b, seg); err != nil {
			return b[:start], fmt.Errorf("bitmap: snapshot: segment %q: %w", name, err)
		}
	}
	total := len(b) - start + 4
	if uint64(total) > 1<<32-1 {
		return b[:start], fmt.Errorf("bitmap: snapshot: %d bytes, more than the format's 4 GiB", total)
	}
	binary.LittleEndian.PutUint32(b[start+len(snapshotMagic)+1:], uint32(total))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli)), nil
}

// appendRoaring appends bm's serialized size as a uvarint, then bm.
func appendRoaring(b []byte, bm *roaring.Bitmap) ([]byte, error) {
	n := bm.GetSerializedSizeInBytes()
	b = binary.AppendUvarint(b, n)
	w := appendWriter{b: b}
	if _, err := bm.WriteTo(&w); err != nil {
		return b, err
	}
	if got := uint64(len(w.b) - len(b)); got != n {
		return b, fmt.Errorf("serialized %d bytes, expected %d", got, n)
	}
	return w.b, nil
}

type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// A SnapshotError says why bytes are not a valid snapshot.
type SnapshotError struct {
	Offset int    // byte offset of the problem in the input
	Msg    string // what is wrong
	Err    error  // the underlying error, if any (roaring's, or ErrSnapshotChecksum)
}

func (e *SnapshotError) Error() string {
	return fmt.Sprintf("bitmap: snapshot: offset %d: %s", e.Offset, e.Msg)
}

func (e *SnapshotError) Unwrap() error { return e.Err }

// ErrSnapshotChecksum is (wrapped by) the error for a snapshot whose bytes
// do not match its checksum.
var ErrSnapshotChecksum = errors.New("checksum mismatch")

// UnmarshalBinary replaces the registry's contents with the snapshot in
// data, which it does not retain. Segments are matched by name: those the
// catalog lacks are dropped (see Dropped), catalog segments the snapshot
// lacks are left empty (see Missing). Truncated, corrupt or unknown-version
// input gives an error (a *SnapshotError, checksum failures wrapping
// ErrSnapshotChecksum) and leaves the registry unchanged.
func (r *Registry) UnmarshalBinary(data []byte) error {
	all, segs, missing, dropped, err := decodeSnapshot(r.catalog, data)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.all, r.mu.segs, r.mu.missing, r.mu.dropped = all, segs, missing, dropped
	return nil
}

func decodeSnapshot(c *Catalog, data []byte) (all *roaring.Bitmap, segs []*roaring.Bitmap, missing, dropped []string, err error) {
	fail := func(off int, format string, args ...any) error {
		return &SnapshotError{Offset: off, Msg: fmt.Sprintf(format, args...)}
	}
	if len(data) < len(snapshotMagic) || string(data[:len(snapshotMagic)]) != snapshotMagic {
		if len(data) < len(snapshotMagic) && string(data) == snapshotMagic[:len(data)] {
			return nil, nil, nil, nil, fail(len(data), "truncated: %d bytes", len(data))
		}
		return nil, nil, nil, nil, fail(0, "not a segment snapshot (no %q magic)", snapshotMagic)
	}
	if len(data) < snapshotHeader {
		return nil, nil, nil, nil, fail(len(data), "truncated: %d bytes, the header alone is %d", len(data), snapshotHeader)
	}
	if v := data[len(snapshotMagic)]; v != snapshotVersion {
		return nil, nil, nil, nil, fail(len(snapshotMagic), "version %d not supported (want %d)", v, snapshotVersion)
	}
	total := binary.LittleEndian.Uint32(data[len(snapshotMagic)+1:])
	switch {
	case uint64(len(data)) < uint64(total):
		return nil, nil, nil, nil, fail(len(data), "truncated: %d of %d bytes", len(data), total)
	case uint64(len(data)) > uint64(total):
		return nil, nil, nil, nil, fail(int(total), "%d bytes after the end of the snapshot", uint64(len(data))-uint64(total))
	case uint64(total) < uint64(snapshotMinSize):
		return nil, nil, nil, nil, fail(len(snapshotMagic)+1, "length %d is too small", total)
	}
	body := data[:len(data)-4]
	if want, got := binary.LittleEndian.Uint32(data[len(body):]), crc32.Checksum(body, castagnoli); want != got {
		return nil, nil, nil, nil, &SnapshotError{Offset: len(body), Msg: fmt.Sprintf("checksum mismatch: stored %#08x, computed %#08x", want, got), Err: ErrSnapshotChecksum}
	}

	d := decoder{data: body, off: snapshotHeader}
	count, err := d.uvarint("segment count")
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if count > MaxSegments {
		return nil, nil, nil, nil, fail(snapshotHeader, "%d segments, at most %d", count, MaxSegments)
	}
	if all, err = d.bitmap("all"); err != nil {
		return nil, nil, nil, nil, err
	}
	segs = make([]*roaring.Bitmap, c.Len())
	seen := make(map[string]bool, count)
	for range count {
		off := d.off
		name, err := d.name()
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if seen[name] {
			return nil, nil, nil, nil, fail(off, "segment %q appears twice", name)
		}
		seen[name] = true
		off = d.off
		bm, err := d.bitmap(fmt.Sprintf("segment %q", name))
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if n := bm.GetCardinality() - bm.AndCardinality(all); n != 0 {
			return nil, nil, nil, nil, fail(off, "segment %q has %d members that are not in all", name, n)
		}
		id, ok := c.ID(name)
		if !ok {
			dropped = append(dropped, name)
			continue
		}
		segs[id] = bm
	}
	if d.off != len(body) {
		return nil, nil, nil, nil, fail(d.off, "%d unexpected bytes after the last segment", len(body)-d.off)
	}
	for id, bm := range segs {
		if bm == nil {
			segs[id] = roaring.New()
			missing = append(missing, c.Name(id))
		}
	}
	return all, segs, missing, dropped, nil
}

type decoder struct {
	data []byte
	off  int
}

func (d *decoder) uvarint(what string) (uint64, error) {
	v, n := binary.Uvarint(d.data[d.off:])
	if n <= 0 {
		return 0, &SnapshotError{Offset: d.off, Msg: "bad or truncated " + what}
	}
	d.off += n
	return v, nil
}

// bytes reads a uvarint length and that many bytes.
func (d *decoder) bytes(what string) ([]byte, error) {
	off := d.off
	n, err := d.uvarint(what + " length")
	if err != nil {
		return nil, err
	}
	if n > uint64(len(d.data)-d.off) {
		return nil, &SnapshotError{Offset: off, Msg: fmt.Sprintf("%s: length %d runs past the end (%d bytes left)", what, n, len(d.data)-d.off)}
	}
	b := d.data[d.off : d.off+int(n)]
	d.off += int(n)
	return b, nil
}

func (d *decoder) name() (string, error) {
	off := d.off
	b, err := d.bytes("segment name")
	if err != nil {
		return "", err
	}
	name := string(b)
	if name == "" {
		return "", &SnapshotError{Offset: off, Msg: "empty segment name"}
	}
	if err := checkName(name); err != nil {
		return "", &SnapshotError{Offset: off, Msg: err.Error()}
	}
	return name, nil
}

// bitmap reads a length-prefixed roaring bitmap through roaring's copying,
// validated path: the result shares no memory with the input.
func (d *decoder) bitmap(what string) (*roaring.Bitmap, error) {
	off := d.off
	b, err := d.bytes(what)
	if err != nil {
		return nil, err
	}
	bm := roaring.New()
	n, err := bm.ReadFrom(bytes.NewReader(b))
	if err != nil {
		return nil, &SnapshotError{Offset: off, Msg: fmt.Sprintf("%s: %v", what, err), Err: err}
	}
	if n != int64(len(b)) {
		return nil, &SnapshotError{Offset: off, Msg: fmt.Sprintf("%s: roaring data is %d bytes, length says %d", what, n, len(b))}
	}
	if err := bm.Validate(); err != nil {
		return nil, &SnapshotError{Offset: off, Msg: fmt.Sprintf("%s: invalid roaring data: %v", what, err), Err: err}
	}
	return bm, nil
}
