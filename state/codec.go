package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// RecordVersion is the format version AppendRecord writes as the first byte
// of every encoded UserRecord. DecodeRecord reads every version up to it; the
// layout and the migration path are described in codec.go.
const RecordVersion = 2

// Bounds on UserRecord.Tracked. DecodeRecord rejects an encoding beyond
// them, so that corrupt input cannot make it allocate much, and AppendRecord
// never writes one: it keeps the first MaxTrackedEvents entries and the last
// (newest) MaxTrackedTimes times of each. Code that fills Tracked keeps
// within them itself; the clamp only guarantees that every encoding decodes.
const (
	MaxTrackedEvents = 64
	MaxTrackedTimes  = 1024
)

// ErrCorruptRecord is wrapped by every DecodeRecord error caused by bytes that
// are not a valid encoding (truncated, overflowing, trailing bytes, ...).
var ErrCorruptRecord = errors.New("state: corrupt record")

// Format version 2, field by field (varint = zig-zag signed varint, uvarint =
// unsigned varint, fixed64 = 8 bytes little-endian); the lines marked v2 are
// absent from version 1, which is otherwise identical:
//
//	version      byte 2 (1)
//	lengths      uvarint × 6: UserID, AnonymousID, Email, Phone, Timezone, Country
//	tracked      v2: uvarint n = len(Tracked) ≤ MaxTrackedEvents, then per
//	             entry uvarint name length and uvarint len(Times) ≤ MaxTrackedTimes
//	strings      the six strings' bytes, then (v2) the n Tracked names,
//	             concatenated in that order
//	DenseID      uvarint
//	FirstSeen    array of varint
//	LastSeen     array of varint
//	LastPurchase varint
//	Purchases    uvarint
//	CartItems    uvarint
//	CartUpdated  varint
//	floats       byte: bit 0 = LifetimeValue present, bit 1 = CartValue present;
//	             each present value follows as fixed64 of its IEEE-754 bits
//	LastDelivered, LastEngaged           array of varint
//	DeliveredSinceEngaged                array of uvarint
//	PushStatus byte, PushChanged varint
//	EmailStatus byte, EmailChanged varint
//	SMSStatus byte, SMSChanged varint
//	Uninstalled byte 0|1, UninstalledAt varint
//	Premium byte, PremiumAt varint
//	SentDay array of varint, SentDayCount array of uvarint
//	SentWeek array of varint, SentWeekCount array of uvarint
//	LastDecisionAt varint
//	Events uvarint
//	RecentMessageIDs array of fixed64
//	RecentNext byte
//	Segments     v2: array of uvarint
//	TimerDue     v2: varint
//	times        v2: each entry's Times in entry order, each time as the varint
//	             difference from the previous time of the entry (the first
//	             from 0), wrapping on overflow so that every int64 round-trips
//
// An array (all have at most 8 elements) is one mask byte whose bit i says
// that element i is non-zero, followed by the non-zero elements only, so an
// all-zero array costs one byte. Strings, Tracked names included, come first
// and share one block so that decoding allocates once for all of them; the
// Tracked counts come first too, so that the decoder checks them and sizes
// the Tracked slices before it reads any time. A version 1 record costs 3
// more bytes as version 2 (empty Tracked, Segments and TimerDue).
//
// Migration path: DecodeRecord dispatches on the version byte; decodeRecord
// reads the fields a version has and leaves the others zero (or, for a
// future version, derives them). AppendRecord writes only the current
// version, so a record is rewritten as the current version the next time
// its user is written, and stores migrate lazily without a rewrite pass. The
// golden bytes in testdata/record_v<N>.hex pin each version and must keep
// decoding forever; a layout change needs a new version, never a change to
// an old one. Anything else in the first byte is reported as
// "state: record version N unsupported".

// String lengths in the header before the Tracked names, in encoding order.
const numRecordStrings = 6

// The array mask is one byte.
var _ [8 - SegmentWords]struct{} // SegmentWords must be ≤ 8

// AppendRecord appends the encoding of r to dst and returns the extended
// slice. It does not allocate when dst has enough spare capacity.
func AppendRecord(dst []byte, r *UserRecord) []byte {
	dst = append(dst, RecordVersion)
	strs := [numRecordStrings]*string{&r.UserID, &r.AnonymousID, &r.Email, &r.Phone, &r.Timezone, &r.Country}
	for _, s := range strs {
		dst = binary.AppendUvarint(dst, uint64(len(*s)))
	}
	tracked := r.Tracked[:min(len(r.Tracked), MaxTrackedEvents)]
	dst = binary.AppendUvarint(dst, uint64(len(tracked)))
	for i := range tracked {
		dst = binary.AppendUvarint(dst, uint64(len(tracked[i].Name)))
		dst = binary.AppendUvarint(dst, uint64(min(len(tracked[i].Times), MaxTrackedTimes)))
	}
	for _, s := range strs {
		dst = append(dst, *s...)
	}
	for i := range tracked {
		dst = append(dst, tracked[i].Name...)
	}

	dst = binary.AppendUvarint(dst, uint64(r.DenseID))
	dst = appendVarints(dst, r.FirstSeen[:])
	dst = appendVarints(dst, r.LastSeen[:])
	dst = binary.AppendVarint(dst, r.LastPurchase)
	dst = binary.AppendUvarint(dst, uint64(r.Purchases))
	dst = binary.AppendUvarint(dst, uint64(r.CartItems))
	dst = binary.AppendVarint(dst, r.CartUpdated)

	ltv, cart := math.Float64bits(r.LifetimeValue), math.Float64bits(r.CartValue)
	var floats byte
	if ltv != 0 {
		floats |= 1
	}
	if cart != 0 {
		floats |= 2
	}
	dst = append(dst, floats)
	if ltv != 0 {
		dst = binary.LittleEndian.AppendUint64(dst, ltv)
	}
	if cart != 0 {
		dst = binary.LittleEndian.AppendUint64(dst, cart)
	}

	dst = appendVarints(dst, r.LastDelivered[:])
	dst = appendVarints(dst, r.LastEngaged[:])
	dst = appendUvarints32(dst, r.DeliveredSinceEngaged[:])

	dst = append(dst, byte(r.PushStatus))
	dst = binary.AppendVarint(dst, r.PushChanged)
	dst = append(dst, byte(r.EmailStatus))
	dst = binary.AppendVarint(dst, r.EmailChanged)
	dst = append(dst, byte(r.SMSStatus))
	dst = binary.AppendVarint(dst, r.SMSChanged)
	var uninstalled byte
	if r.Uninstalled {
		uninstalled = 1
	}
	dst = append(dst, uninstalled)
	dst = binary.AppendVarint(dst, r.UninstalledAt)
	dst = append(dst, byte(r.Premium))
	dst = binary.AppendVarint(dst, r.PremiumAt)

	dst = appendVarints32(dst, r.SentDay[:])
	dst = appendUvarints16(dst, r.SentDayCount[:])
	dst = appendVarints32(dst, r.SentWeek[:])
	dst = appendUvarints16(dst, r.SentWeekCount[:])
	dst = binary.AppendVarint(dst, r.LastDecisionAt)
	dst = binary.AppendUvarint(dst, r.Events)
	dst = appendFixed64s(dst, r.RecentMessageIDs[:])
	dst = append(dst, r.RecentNext)

	dst = appendUvarints(dst, r.Segments[:])
	dst = binary.AppendVarint(dst, r.TimerDue)
	for i := range tracked {
		times := tracked[i].Times
		times = times[len(times)-min(len(times), MaxTrackedTimes):]
		var prev int64
		for _, t := range times {
			dst = binary.AppendVarint(dst, t-prev)
			prev = t
		}
	}
	return dst
}

// The array helpers below are one per element type on purpose: a generic
// version taking the element codec as a function made DecodeRecord allocate
// (the decoder escaped) and about 30% slower (measured 2026-11-25).

func appendVarints(dst []byte, a []int64) []byte {
	var mask byte
	for i, v := range a {
		if v != 0 {
			mask |= 1 << i
		}
	}
	dst = append(dst, mask)
	for _, v := range a {
		if v != 0 {
			dst = binary.AppendVarint(dst, v)
		}
	}
	return dst
}

func appendUvarints(dst []byte, a []uint64) []byte {
	var mask byte
	for i, v := range a {
		if v != 0 {
			mask |= 1 << i
		}
	}
	dst = append(dst, mask)
	for _, v := range a {
		if v != 0 {
			dst = binary.AppendUvarint(dst, v)
		}
	}
	return dst
}

func appendVarints32(dst []byte, a []int32) []byte {
	var mask byte
	for i, v := range a {
		if v != 0 {
			mask |= 1 << i
		}
	}
	dst = append(dst, mask)
	for _, v := range a {
		if v != 0 {
			dst = binary.AppendVarint(dst, int64(v))
		}
	}
	return dst
}

func appendUvarints32(dst []byte, a []uint32) []byte {
	var mask byte
	for i, v := range a {
		if v != 0 {
			mask |= 1 << i
		}
	}
	dst = append(dst, mask)
	for _, v := range a {
		if v != 0 {
			dst = binary.AppendUvarint(dst, uint64(v))
		}
	}
	return dst
}

func appendUvarints16(dst []byte, a []uint16) []byte {
	var mask byte
	for i, v := range a {
		if v != 0 {
			mask |= 1 << i
		}
	}
	dst = append(dst, mask)
	for _, v := range a {
		if v != 0 {
			dst = binary.AppendUvarint(dst, uint64(v))
		}
	}
	return dst
}

func appendFixed64s(dst []byte, a []uint64) []byte {
	var mask byte
	for i, v := range a {
		if v != 0 {
			mask |= 1 << i
		}
	}
	dst = append(dst, mask)
	for _, v := range a {
		if v != 0 {
			dst = binary.LittleEndian.AppendUint64(dst, v)
		}
	}
	return dst
}

// DecodeRecord resets r and decodes src, as written by AppendRecord in this or
// an earlier format version, into it; fields the version lacks stay zero. It
// never retains src. It allocates the record's strings (one block for all of
// them) and the Tracked slices, except that it reuses the backing arrays of
// r.Tracked and of each r.Tracked[i].Times where they are large enough, so
// decoding again and again into one record allocates only the strings once
// its Tracked has grown. The reused arrays are overwritten: a caller that
// keeps a record it decodes into again keeps a Clone, not a copy of the
// struct, and the Times of different entries must not share an array (as
// they do not when made by DecodeRecord or Clone). On error r holds
// unspecified values.
func DecodeRecord(src []byte, r *UserRecord) error {
	reuse := r.Tracked
	*r = UserRecord{}
	if len(src) == 0 {
		return fmt.Errorf("%w: empty", ErrCorruptRecord)
	}
	switch v := src[0]; v {
	case 1, 2:
		d := decoder{src: src, off: 1}
		decodeRecord(&d, v, r, reuse)
		return d.err
	default:
		return fmt.Errorf("state: record version %d unsupported", v)
	}
}

// decodeRecord decodes format version v (1 or 2) from d.src[1:] into the
// zeroed r, reusing the arrays of reuse for r.Tracked. Errors are left in d.
func decodeRecord(d *decoder, v byte, r *UserRecord, reuse []TrackedEvent) {
	src := d.src
	var lens [numRecordStrings]int
	total := 0
	for i := range lens {
		lens[i] = d.length("string length")
		total += lens[i] // each ≤ len(src), so no overflow
	}
	var (
		numTracked int
		nameLens   [MaxTrackedEvents]int
		timesLens  [MaxTrackedEvents]int
		numTimes   int
	)
	if v >= 2 {
		n := d.uvarint("Tracked count")
		if n > MaxTrackedEvents {
			d.fail(fmt.Sprintf("Tracked count %d exceeds %d", n, MaxTrackedEvents))
			return
		}
		numTracked = int(n)
		for i := range numTracked {
			nameLens[i] = d.length("Tracked name length")
			total += nameLens[i]
			k := d.uvarint("Tracked times count")
			if k > MaxTrackedTimes {
				d.fail(fmt.Sprintf("Tracked times count %d exceeds %d", k, MaxTrackedTimes))
				return
			}
			timesLens[i] = int(k)
			numTimes += int(k)
		}
	}
	if d.err == nil && total > len(src)-d.off {
		d.fail("strings truncated")
	}
	if d.err != nil {
		return
	}
	// Every time takes at least a byte: refuse counts the input cannot hold
	// before allocating for them.
	if numTimes > len(src)-d.off-total {
		d.fail("Tracked times truncated")
		return
	}
	r.Tracked = trackedSlice(reuse, numTracked)
	if total > 0 {
		block := string(src[d.off : d.off+total])
		d.off += total
		strs := [numRecordStrings]*string{&r.UserID, &r.AnonymousID, &r.Email, &r.Phone, &r.Timezone, &r.Country}
		at := 0
		for i, s := range strs {
			*s = block[at : at+lens[i]]
			at += lens[i]
		}
		for i := range r.Tracked {
			r.Tracked[i].Name = block[at : at+nameLens[i]]
			at += nameLens[i]
		}
	}

	r.DenseID = d.uint32("DenseID")
	d.varints("FirstSeen", r.FirstSeen[:])
	d.varints("LastSeen", r.LastSeen[:])
	r.LastPurchase = d.varint("LastPurchase")
	r.Purchases = d.uint32("Purchases")
	r.CartItems = d.uint32("CartItems")
	r.CartUpdated = d.varint("CartUpdated")

	floats := d.byte("float mask")
	if floats&^3 != 0 {
		d.fail("float mask invalid")
	}
	if floats&1 != 0 {
		r.LifetimeValue = math.Float64frombits(d.fixed64("LifetimeValue"))
	}
	if floats&2 != 0 {
		r.CartValue = math.Float64frombits(d.fixed64("CartValue"))
	}

	d.varints("LastDelivered", r.LastDelivered[:])
	d.varints("LastEngaged", r.LastEngaged[:])
	d.uvarints32("DeliveredSinceEngaged", r.DeliveredSinceEngaged[:])

	r.PushStatus = PushConsent(d.byte("PushStatus"))
	r.PushChanged = d.varint("PushChanged")
	r.EmailStatus = EmailConsent(d.byte("EmailStatus"))
	r.EmailChanged = d.varint("EmailChanged")
	r.SMSStatus = SMSConsent(d.byte("SMSStatus"))
	r.SMSChanged = d.varint("SMSChanged")
	switch d.byte("Uninstalled") {
	case 0:
	case 1:
		r.Uninstalled = true
	default:
		d.fail("Uninstalled not a bool")
	}
	r.UninstalledAt = d.varint("UninstalledAt")
	r.Premium = Premium(d.byte("Premium"))
	r.PremiumAt = d.varint("PremiumAt")

	d.varints32("SentDay", r.SentDay[:])
	d.uvarints16("SentDayCount", r.SentDayCount[:])
	d.varints32("SentWeek", r.SentWeek[:])
	d.uvarints16("SentWeekCount", r.SentWeekCount[:])
	r.LastDecisionAt = d.varint("LastDecisionAt")
	r.Events = d.uvarint("Events")
	d.fixed64s("RecentMessageIDs", r.RecentMessageIDs[:])
	r.RecentNext = d.byte("RecentNext")

	if v >= 2 {
		d.uvarints("Segments", r.Segments[:])
		r.TimerDue = d.varint("TimerDue")
		d.times(r.Tracked, timesLens[:numTracked])
	}

	if d.err == nil && d.off != len(src) {
		d.fail("trailing bytes")
	}
}

// trackedSlice returns a slice of n entries for UserRecord.Tracked, reusing
// reuse's array (and, through the entries it keeps, their Times arrays) when
// it is large enough. Entries beyond n drop their names so that they do not
// keep an old string block alive.
func trackedSlice(reuse []TrackedEvent, n int) []TrackedEvent {
	buf := reuse[:cap(reuse)]
	if len(buf) < n {
		grown := make([]TrackedEvent, n)
		copy(grown, buf) // keeps the old Times arrays for reuse
		buf = grown
	}
	for i := n; i < len(buf); i++ {
		buf[i].Name = ""
	}
	return buf[:n]
}

// times decodes the Times of each entry of tracked, lens[i] of them for
// entry i, into the entry's own array if it is large enough and otherwise
// into one block allocated for all the entries that need it.
func (d *decoder) times(tracked []TrackedEvent, lens []int) {
	if d.err != nil {
		return
	}
	need := 0
	for i, t := range tracked {
		if cap(t.Times) < lens[i] {
			need += lens[i]
		}
	}
	var block []int64
	if need > 0 {
		block = make([]int64, need) // need ≤ remaining input, checked in the header
	}
	for i := range tracked {
		t := &tracked[i]
		k := lens[i]
		if cap(t.Times) >= k {
			t.Times = t.Times[:k]
		} else {
			t.Times, block = block[:k:k], block[k:]
		}
		var prev int64
		for j := range t.Times {
			prev += d.varint("Tracked times")
			t.Times[j] = prev
		}
	}
}

// decoder reads fields from src at off. The first failure is kept in err and
// makes every later read return zero, so callers check err once at the end.
type decoder struct {
	src []byte
	off int
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d of %d", ErrCorruptRecord, what, d.off, len(d.src))
	}
}

func (d *decoder) byte(field string) byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.src) {
		d.fail(field + " truncated")
		return 0
	}
	b := d.src[d.off]
	d.off++
	return b
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.src[d.off:])
	if n <= 0 {
		if n == 0 {
			d.fail(field + " truncated")
		} else {
			d.fail(field + " overflows")
		}
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint(field string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.src[d.off:])
	if n <= 0 {
		if n == 0 {
			d.fail(field + " truncated")
		} else {
			d.fail(field + " overflows")
		}
		return 0
	}
	d.off += n
	return v
}

// length reads a string length, which cannot exceed the input's length.
func (d *decoder) length(field string) int {
	n := d.uvarint(field)
	if n > uint64(len(d.src)) {
		d.fail(field + " out of range")
		return 0
	}
	return int(n)
}

func (d *decoder) uint32(field string) uint32 {
	v := d.uvarint(field)
	if v > math.MaxUint32 {
		d.fail(field + " out of range")
		return 0
	}
	return uint32(v)
}

func (d *decoder) fixed64(field string) uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.src)-d.off < 8 {
		d.fail(field + " truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.src[d.off:])
	d.off += 8
	return v
}

// mask reads an array's presence mask and rejects bits beyond its length.
func (d *decoder) mask(field string, n int) byte {
	m := d.byte(field)
	if n < 8 && m>>n != 0 {
		d.fail(field + " mask invalid")
		return 0
	}
	return m
}

func (d *decoder) varints(field string, a []int64) {
	m := d.mask(field, len(a))
	for i := range a {
		if m&(1<<i) != 0 {
			a[i] = d.varint(field)
		}
	}
}

func (d *decoder) uvarints(field string, a []uint64) {
	m := d.mask(field, len(a))
	for i := range a {
		if m&(1<<i) != 0 {
			a[i] = d.uvarint(field)
		}
	}
}

func (d *decoder) varints32(field string, a []int32) {
	m := d.mask(field, len(a))
	for i := range a {
		if m&(1<<i) != 0 {
			v := d.varint(field)
			if v < math.MinInt32 || v > math.MaxInt32 {
				d.fail(field + " out of range")
				return
			}
			a[i] = int32(v)
		}
	}
}

func (d *decoder) uvarints32(field string, a []uint32) {
	m := d.mask(field, len(a))
	for i := range a {
		if m&(1<<i) != 0 {
			a[i] = d.uint32(field)
		}
	}
}

func (d *decoder) uvarints16(field string, a []uint16) {
	m := d.mask(field, len(a))
	for i := range a {
		if m&(1<<i) != 0 {
			v := d.uvarint(field)
			if v > math.MaxUint16 {
				d.fail(field + " out of range")
				return
			}
			a[i] = uint16(v)
		}
	}
}

func (d *decoder) fixed64s(field string, a []uint64) {
	m := d.mask(field, len(a))
	for i := range a {
		if m&(1<<i) != 0 {
			a[i] = d.fixed64(field)
		}
	}
}
