package state

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Defaults for Options and the Pebble tuning behind them.
const (
	// DefaultCacheBytes is the Pebble block cache size when
	// Options.CacheBytes is 0. It was 64 MiB: with 2M active users (records
	// read back into the user cache all the time) Pebble's reads took 40%
	// of the e2e CPU, mostly block reads and decompression; 256 MiB gave
	// 1.3-1.5x the throughput (153,000-170,000 vs 115,000-118,000
	// events/s), 512 MiB and 1 GiB little more (178,000-179,000).
	DefaultCacheBytes = 256 << 20

	// memTableBytes is large so that a burst of batch commits is absorbed in
	// memory and flushed as few, large L0 files.
	memTableBytes = 64 << 20
	// memTableStopWrites memtables may queue for flushing before writes stall.
	memTableStopWrites = 4
	// l0CompactionThreshold and l0StopWrites bound L0 read amplification:
	// compact early, stall only far later, so ingest bursts do not stall.
	l0CompactionThreshold = 4
	l0StopWrites          = 32
	// lBaseMaxBytes sized to a few memtables so that L0→Lbase compactions
	// stay proportionate.
	lBaseMaxBytes = 256 << 20
	// maxCompactions is the upper bound of concurrent compactions; one runs
	// normally, more when L0 or compaction debt builds up.
	maxCompactions = 4
)

// Options configures a Store. The zero value, apart from Dir, is valid.
type Options struct {
	// Dir is the directory holding the Pebble database. Required.
	Dir string
	// FS is the file system Dir lives in; nil means the disk (vfs.Default).
	// Tests use vfs.NewMem().
	FS vfs.FS
	// CacheBytes is the Pebble block cache size; 0 means DefaultCacheBytes.
	CacheBytes int64
	// BackgroundDuty: the share of wall time a memtable flush or a
	// compaction may work, in (0, 1]; it sleeps the rest, in slices of a
	// few milliseconds, unless the store falls behind (see pace.go). 1
	// works flat out; 0 means DefaultBackgroundDuty.
	BackgroundDuty float64
	// Logf receives Pebble's informational messages (WAL recovery,
	// flushes, ...); nil means the standard library logger. Pebble's errors
	// always go to the standard library logger.
	Logf func(format string, args ...any)

	// memTableBytes overrides memTableBytes (tests: a replay that needs
	// flushes without writing hundreds of MB).
	memTableBytes uint64
	// holdCompactions keeps every compaction waiting (tests: a store
	// left with compaction debt).
	holdCompactions bool
}

// Validate reports whether o can be used to open a Store.
func (o *Options) Validate() error {
	if o.Dir == "" {
		return errors.New("state: options: Dir is required")
	}
	if o.CacheBytes < 0 {
		return fmt.Errorf("state: options: CacheBytes %d is negative", o.CacheBytes)
	}
	if o.BackgroundDuty < 0 || o.BackgroundDuty > 1 {
		return fmt.Errorf("state: options: BackgroundDuty %g: want a share of the time in (0, 1]", o.BackgroundDuty)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	if o.BackgroundDuty == 0 {
		o.BackgroundDuty = DefaultBackgroundDuty
	}
	return o
}

// pebbleOptions is the write-heavy tuning. The WAL stays enabled: it is what
// makes a committed batch survive a crash (guarantee 1).
func (o Options) pebbleOptions(cache *pebble.Cache, bg *background, pace *pacer, sched *gatedScheduler) *pebble.Options {
	fs := o.FS
	if pace != nil {
		fs = pacedFS{FS: fs, p: pace}
	}
	po := &pebble.Options{
		FS:                          fs,
		Cache:                       cache,
		FormatMajorVersion:          pebble.FormatNewest,
		MemTableSize:                cmp.Or(o.memTableBytes, memTableBytes),
		MemTableStopWritesThreshold: memTableStopWrites,
		L0CompactionThreshold:       l0CompactionThreshold,
		L0StopWritesThreshold:       l0StopWrites,
		LBaseMaxBytes:               lBaseMaxBytes,
		CompactionConcurrencyRange:  func() (int, int) { return 1, maxCompactions },
		DisableWAL:                  false,
	}
	if o.Logf != nil {
		po.Logger = infoLogger(o.Logf)
	}
	if bg != nil {
		po.EventListener = bg.listener()
	}
	// Point reads of user records dominate reads: bloom filters on every level
	// (L1+ inherit L0's setting).
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	if sched != nil {
		po.Experimental.CompactionScheduler = sched
	}
	po.EnsureDefaults()
	return po
}

// infoLogger sends Pebble's informational messages to a function, and its
// errors to Pebble's default logger.
type infoLogger func(format string, args ...any)

var _ pebble.Logger = infoLogger(nil)

func (l infoLogger) Infof(format string, args ...any) { l(format, args...) }
func (l infoLogger) Errorf(format string, args ...any) {
	pebble.DefaultLogger.Errorf(format, args...)
}
func (l infoLogger) Fatalf(format string, args ...any) {
	pebble.DefaultLogger.Fatalf(format, args...)
}

// Store is the Pebble database holding every partition's state. It is safe
// for concurrent use; each Partition handle belongs to one goroutine.
type Store struct {
	db      *pebble.DB
	dir     string
	closed  atomic.Bool
	batches sync.Pool // *Batch with its reused key and value buffers
	bg      *background
	// cacheBytes is the size of Pebble's block cache.
	cacheBytes int64
	pace       *pacer        // nil: background work flat out
	stop, done chan struct{} // watchDebt's end
}

// CacheBytes returns the size of Pebble's block cache.
func (s *Store) CacheBytes() int64 { return s.cacheBytes }

// Open opens (creating if needed) the store in opts.Dir.
func Open(opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	cache := pebble.NewCache(opts.CacheBytes)
	defer cache.Unref() // the DB holds its own reference
	bg := &background{}
	var pace *pacer
	if opts.BackgroundDuty < 1 {
		pace = newPacer(opts.BackgroundDuty)
		// Flat out until the store is open: Open flushes the memtables it
		// replays from the WAL before it returns, and nothing waits for
		// a share of the cores meanwhile (paced, a reopen of 1M users
		// took 3.6-4.0 s instead of 0.5-0.6).
		pace.off.Store(true)
	}
	// Compactions wait until Open has returned (see gatedScheduler).
	sched := newGatedScheduler()
	db, err := pebble.Open(opts.Dir, opts.pebbleOptions(cache, bg, pace, sched))
	if err != nil {
		sched.Unregister() // a failed Open does not, if it got as far as Register
		return nil, fmt.Errorf("state: open %s: %w", opts.Dir, err)
	}
	if pace != nil {
		pace.off.Store(inDebt(db.Metrics(), bg.stalled()))
	}
	if !opts.holdCompactions {
		sched.open()
	}
	s := &Store{db: db, dir: opts.Dir, bg: bg, cacheBytes: opts.CacheBytes, pace: pace, stop: make(chan struct{}), done: make(chan struct{})}
	go s.watchDebt()
	return s, nil
}

// watchDebt turns the pacer off while the store is behind with its
// background work, and on again once it has caught up.
func (s *Store) watchDebt() {
	defer close(s.done)
	pace := s.pace
	if pace == nil {
		return
	}
	tick := time.NewTicker(paceCheck)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			debt := inDebt(s.db.Metrics(), s.bg.stalled())
			pace.off.Store(debt)
			if debt {
				pace.offs.Add(1)
			}
		}
	}
}

// Close closes the store; committed batches are durable across Close even
// if they were committed without sync. Close must not run concurrently with
// other calls, and the store cannot be used afterwards.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return fmt.Errorf("state: close %s: already closed", s.dir)
	}
	close(s.stop)
	<-s.done
	if s.pace != nil {
		// Close waits for the flushes and compactions under way: flat
		// out, nothing else is waiting for the cores.
		s.pace.off.Store(true)
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("state: close %s: %w", s.dir, err)
	}
	return nil
}

// Sync makes every batch committed so far durable, including those
// committed with Commit(false).
func (s *Store) Sync() error {
	if err := s.db.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("state: sync %s: %w", s.dir, err)
	}
	return nil
}

// Background returns what Pebble's background work has taken so far.
func (s *Store) Background() BackgroundStats {
	st := s.bg.stats()
	if s.pace != nil {
		st.PacedSeconds = time.Duration(s.pace.slept.Load()).Seconds()
		st.PacingOff = s.pace.offs.Load()
	}
	return st
}

// Metrics returns Pebble's metrics as a human-readable table.
func (s *Store) Metrics() string {
	return s.db.Metrics().String()
}

// Partition returns the handle to partition p's state. Handles are cheap;
// a handle must be used by one goroutine at a time (the partition's owner),
// other goroutines take their own.
func (s *Store) Partition(p int32) *Partition {
	return &Partition{s: s, p: p}
}

// Partition is one Kafka partition's slice of the store: user records, the
// next input offset, the dense-id sequence and the dense-id index, the
// timer index and snapshot blobs. Its reads see committed batches only.
type Partition struct {
	s   *Store
	p   int32
	key []byte // scratch for point reads
}

// ID returns the partition number.
func (p *Partition) ID() int32 { return p.p }

// get returns the value at key, or found false. The value is only valid
// until the returned closer is closed.
func (p *Partition) get(key []byte) (val []byte, closer io.Closer, found bool, err error) {
	v, c, err := p.s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	return v, c, true, nil
}

// Offset returns the next input offset to consume, stored by the last
// committed batch; ok is false if no batch stored one.
func (p *Partition) Offset() (next int64, ok bool, err error) {
	p.key = appendKey(p.key[:0], p.p, kindOffset)
	v, closer, found, err := p.get(p.key)
	if err != nil || !found {
		if err != nil {
			err = fmt.Errorf("state: get offset of partition %d: %w", p.p, err)
		}
		return 0, false, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, false, fmt.Errorf("state: get offset of partition %d: value is %d bytes, want 8", p.p, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), true, nil
}

// DenseSeq returns the next dense-id sequence to hand out (see DenseID),
// 0 if none was stored.
func (p *Partition) DenseSeq() (uint32, error) {
	p.key = appendKey(p.key[:0], p.p, kindDenseSeq)
	v, closer, found, err := p.get(p.key)
	if err != nil || !found {
		if err != nil {
			err = fmt.Errorf("state: get dense seq of partition %d: %w", p.p, err)
		}
		return 0, err
	}
	defer closer.Close()
	if len(v) != 4 {
		return 0, fmt.Errorf("state: get dense seq of partition %d: value is %d bytes, want 4", p.p, len(v))
	}
	return binary.BigEndian.Uint32(v), nil
}

// GetUser resets r and decodes the user's record into it, reusing r.Tracked's
// arrays as DecodeRecord does; found is false (and r zero) if the partition
// has no record for userID.
func (p *Partition) GetUser(userID string, r *UserRecord) (found bool, err error) {
	p.key = appendUserKey(p.key[:0], p.p, userID)
	v, closer, found, err := p.get(p.key)
	if err != nil || !found {
		*r = UserRecord{}
		if err != nil {
			err = fmt.Errorf("state: get user %q in partition %d: %w", userID, p.p, err)
		}
		return false, err
	}
	defer closer.Close()
	if err := DecodeRecord(v, r); err != nil {
		*r = UserRecord{}
		return false, fmt.Errorf("state: get user %q in partition %d: %w", userID, p.p, err)
	}
	if r.UserID != userID {
		return false, fmt.Errorf("state: get user %q in partition %d: record holds user %q", userID, p.p, r.UserID)
	}
	return true, nil
}

// ForEachUser calls fn with every user record of the partition in key
// (user id byte) order, stopping at the first error, which it returns. The
// record, Tracked's arrays included, is reused between calls: fn must Clone
// what it keeps.
func (p *Partition) ForEachUser(fn func(r *UserRecord) error) error {
	lower := appendKey(nil, p.p, kindUser)
	upper := appendKey(nil, p.p, kindUser+1)
	it, err := p.s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("state: iterate users of partition %d: %w", p.p, err)
	}
	var r UserRecord
	for valid := it.First(); valid; valid = it.Next() {
		key := it.Key()
		v, err := it.ValueAndErr()
		if err == nil {
			err = DecodeRecord(v, &r)
		}
		if err == nil && r.UserID != string(key[partitionPrefixLen:]) {
			err = fmt.Errorf("record holds user %q", r.UserID)
		}
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("state: iterate users of partition %d: user %q: %w", p.p, key[partitionPrefixLen:], err)
		}
		if err := fn(&r); err != nil {
			_ = it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("state: iterate users of partition %d: %w", p.p, err)
	}
	return nil
}

// UserIDsAfter calls fn with the ids of the partition's stored users in key
// (id byte) order, starting after the id after (nil: from the first), at
// most limit of them (all if limit ≤ 0). It returns the last id visited,
// which the next call passes as after, and done true once no id is left.
// The id given to fn is only valid during the call. Each call reads the
// store afresh, so a scan in chunks sees every user stored before it began
// and not deleted since, and some stored meanwhile. No record is decoded:
// a scan costs far less than ForEachUser.
func (p *Partition) UserIDsAfter(after []byte, limit int, fn func(userID []byte)) (last []byte, done bool, err error) {
	lower := appendUserKey(nil, p.p, string(after))
	if after != nil {
		lower = append(lower, 0) // the smallest key above after's
	}
	upper := appendKey(nil, p.p, kindUser+1)
	it, err := p.s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, false, fmt.Errorf("state: scan user ids of partition %d: %w", p.p, err)
	}
	n := 0
	valid := it.First()
	for ; valid && (limit <= 0 || n < limit); valid = it.Next() {
		id := it.Key()[partitionPrefixLen:]
		fn(id)
		last = append(last[:0], id...)
		n++
	}
	if err := it.Close(); err != nil {
		return nil, false, fmt.Errorf("state: scan user ids of partition %d: %w", p.p, err)
	}
	if last == nil {
		last = after
	}
	return last, !valid, nil
}

// Drop deletes everything stored for the partition (records, offset, dense
// sequence and index, timers, blobs) with one durable range deletion.
func (p *Partition) Drop() error {
	start := binary.BigEndian.AppendUint32(nil, uint32(p.p))
	end := appendKey(nil, p.p, kindEnd)
	if err := p.s.db.DeleteRange(start, end, pebble.Sync); err != nil {
		return fmt.Errorf("state: drop partition %d: %w", p.p, err)
	}
	return nil
}

// DueTimers calls fn with each timer of the partition due at or before upTo
// (Unix ms), in due-time order and, for equal due times, in user-id byte
// order; at most limit of them, or all if limit ≤ 0. It stops at the first
// error of fn and returns it. userID is only valid during the call (it
// points into the iterator's key): fn copies it to keep it, and may use it
// as is for lookups. Timers set or cleared in a batch not yet committed are
// not seen, so a caller firing timers in chunks commits each chunk's
// SetTimer calls before asking for the next.
func (p *Partition) DueTimers(upTo int64, limit int, fn func(due int64, userID string) error) error {
	return p.DueTimersFrom(math.MinInt64, upTo, limit, fn)
}

// DueTimersFrom is DueTimers for the timers due at or after from: a caller
// that knows no timer is due before from skips the deletion markers of
// the timers already fired, which an LSM keeps for a while and an iterator
// from the start would step over every time.
func (p *Partition) DueTimersFrom(from, upTo int64, limit int, fn func(due int64, userID string) error) error {
	bounds := make([]byte, 0, 2*(partitionPrefixLen+timerPrefixLen))
	lower := p.timerLower(bounds, from)
	upper := lower[len(lower):]
	if upTo == math.MaxInt64 {
		upper = appendKey(upper, p.p, kindTimer+1)
	} else {
		// Every key of a timer due at upTo+1 is ≥ this bare prefix.
		upper = appendTimerKey(upper, p.p, upTo+1, "")
	}
	it, err := p.s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("state: due timers of partition %d: %w", p.p, err)
	}
	n := 0
	for valid := it.First(); valid && (limit <= 0 || n < limit); valid = it.Next() {
		due, user, ok := parseTimerKey(it.Key())
		if !ok {
			_ = it.Close()
			return fmt.Errorf("state: due timers of partition %d: malformed timer key %x", p.p, it.Key())
		}
		n++
		if err := fn(due, unsafe.String(unsafe.SliceData(user), len(user))); err != nil {
			_ = it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("state: due timers of partition %d: %w", p.p, err)
	}
	return nil
}

// NextTimer returns the earliest due time in the partition's timer index;
// ok is false if it holds no timer.
func (p *Partition) NextTimer() (due int64, ok bool, err error) {
	return p.NextTimerFrom(math.MinInt64)
}

// NextTimerFrom is NextTimer among the timers due at or after from.
func (p *Partition) NextTimerFrom(from int64) (due int64, ok bool, err error) {
	bounds := make([]byte, 0, 2*(partitionPrefixLen+timerPrefixLen))
	lower := p.timerLower(bounds, from)
	upper := appendKey(lower[len(lower):], p.p, kindTimer+1)
	it, err := p.s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return 0, false, fmt.Errorf("state: next timer of partition %d: %w", p.p, err)
	}
	if it.First() {
		due, _, ok = parseTimerKey(it.Key())
		if !ok {
			err = fmt.Errorf("malformed timer key %x", it.Key())
		}
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, false, fmt.Errorf("state: next timer of partition %d: %w", p.p, err)
	}
	return due, ok, nil
}

// timerLower appends the first key of a timer due at or after from.
func (p *Partition) timerLower(dst []byte, from int64) []byte {
	if from == math.MinInt64 {
		return appendKey(dst, p.p, kindTimer)
	}
	return appendTimerKey(dst, p.p, from, "")
}

// UserByDenseID returns the user id stored for the dense id by
// Batch.PutDenseID; found is false if there is none.
func (p *Partition) UserByDenseID(id uint32) (userID string, found bool, err error) {
	p.key = appendDenseKey(p.key[:0], p.p, id)
	v, closer, found, err := p.get(p.key)
	if err != nil || !found {
		if err != nil {
			err = fmt.Errorf("state: user of dense id %d in partition %d: %w", id, p.p, err)
		}
		return "", false, err
	}
	userID = string(v)
	closer.Close()
	return userID, true, nil
}

// AppendUserByDenseID is UserByDenseID appending the user id to dst instead
// of allocating a string, for exports that resolve many ids; dst is returned
// unchanged if there is none.
func (p *Partition) AppendUserByDenseID(dst []byte, id uint32) ([]byte, bool, error) {
	p.key = appendDenseKey(p.key[:0], p.p, id)
	v, closer, found, err := p.get(p.key)
	if err != nil || !found {
		if err != nil {
			err = fmt.Errorf("state: user of dense id %d in partition %d: %w", id, p.p, err)
		}
		return dst, false, err
	}
	dst = append(dst, v...)
	closer.Close()
	return dst, true, nil
}

// Blob returns a copy of the blob stored under name by Batch.PutBlob; found
// is false if there is none.
func (p *Partition) Blob(name string) (data []byte, found bool, err error) {
	p.key = appendBlobKey(p.key[:0], p.p, name)
	v, closer, found, err := p.get(p.key)
	if err != nil || !found {
		if err != nil {
			err = fmt.Errorf("state: get blob %q of partition %d: %w", name, p.p, err)
		}
		return nil, false, err
	}
	data = append(make([]byte, 0, len(v)), v...)
	closer.Close()
	return data, true, nil
}

// NewBatch returns an empty batch of writes to the partition. Close it when
// done; it is recycled.
func (p *Partition) NewBatch() *Batch { return p.NewBatchSized(0) }

// NewBatchSized is NewBatch for a batch expected to take about bytes bytes
// of keys and values: its buffer is allocated once instead of grown by
// copying.
func (p *Partition) NewBatchSized(bytes int) *Batch {
	b, _ := p.s.batches.Get().(*Batch)
	if b == nil {
		b = &Batch{}
	}
	b.s = p.s
	b.p = p.p
	if bytes > 0 {
		b.pb = p.s.db.NewBatchWithSize(bytes)
	} else {
		b.pb = p.s.db.NewBatch()
	}
	return b
}

// NewReusableBatch is NewBatchSized for a batch that is committed again and
// again: each Commit empties it and keeps its buffer, up to retain bytes,
// for the next writes, where a new batch would allocate and zero its own.
// Close it when done with it.
func (p *Partition) NewReusableBatch(bytes, retain int) *Batch {
	return &Batch{s: p.s, p: p.p, pb: p.s.db.NewBatchWithSize(bytes, pebble.WithMaxRetainedSizeBytes(retain))}
}

// Batch collects writes to one partition and commits them atomically: the
// user records, timers, dense ids, blobs and the next offset written into
// one batch become durable together or not at all. A batch is used by one goroutine.
type Batch struct {
	s   *Store
	p   int32
	pb  *pebble.Batch
	key []byte // reused key buffer
	val []byte // reused encoding buffer
}

// PutUser stores r under r.UserID, replacing any previous record.
func (b *Batch) PutUser(r *UserRecord) {
	b.key = appendUserKey(b.key[:0], b.p, r.UserID)
	b.val = AppendRecord(b.val[:0], r)
	_ = b.pb.Set(b.key, b.val, nil) // cannot fail on a non-indexed batch
}

// PutUserValue stores a record AppendRecord encoded as the record of
// userID (which must be the record's UserID).
func (b *Batch) PutUserValue(userID string, val []byte) {
	b.key = appendUserKey(b.key[:0], b.p, userID)
	_ = b.pb.Set(b.key, val, nil) // cannot fail on a non-indexed batch
}

// DeleteUser removes the user's record.
func (b *Batch) DeleteUser(userID string) {
	b.key = appendUserKey(b.key[:0], b.p, userID)
	_ = b.pb.Delete(b.key, nil)
}

// SetOffset records next as the partition's next input offset.
func (b *Batch) SetOffset(next int64) {
	b.key = appendKey(b.key[:0], b.p, kindOffset)
	b.val = binary.BigEndian.AppendUint64(b.val[:0], uint64(next))
	_ = b.pb.Set(b.key, b.val, nil)
}

// SetDenseSeq records seq as the partition's next dense-id sequence.
func (b *Batch) SetDenseSeq(seq uint32) {
	b.key = appendKey(b.key[:0], b.p, kindDenseSeq)
	b.val = binary.BigEndian.AppendUint32(b.val[:0], seq)
	_ = b.pb.Set(b.key, b.val, nil)
}

// SetTimer moves the user's timer-index entry from oldDue to newDue (Unix
// ms): it deletes the entry due at oldDue unless oldDue is 0 and adds one
// due at newDue unless newDue is 0; it does nothing if they are equal.
// oldDue is the due time stored before (UserRecord.TimerDue), which the
// caller keeps in step with the index in the same batch.
func (b *Batch) SetTimer(userID string, oldDue, newDue int64) {
	if oldDue == newDue {
		return
	}
	if oldDue != 0 {
		b.key = appendTimerKey(b.key[:0], b.p, oldDue, userID)
		_ = b.pb.Delete(b.key, nil)
	}
	if newDue != 0 {
		b.key = appendTimerKey(b.key[:0], b.p, newDue, userID)
		_ = b.pb.Set(b.key, nil, nil)
	}
}

// PutDenseID records userID as the holder of dense id id, for
// Partition.UserByDenseID.
func (b *Batch) PutDenseID(id uint32, userID string) {
	b.key = appendDenseKey(b.key[:0], b.p, id)
	b.val = append(b.val[:0], userID...)
	_ = b.pb.Set(b.key, b.val, nil)
}

// DeleteDenseID removes the dense id's entry.
func (b *Batch) DeleteDenseID(id uint32) {
	b.key = appendDenseKey(b.key[:0], b.p, id)
	_ = b.pb.Delete(b.key, nil)
}

// PutBlob stores data under name, replacing any previous blob; the batch
// copies data. Blobs are opaque (segment bitmap snapshots, ...) and commit
// with the rest of the batch.
func (b *Batch) PutBlob(name string, data []byte) {
	b.key = appendBlobKey(b.key[:0], b.p, name)
	_ = b.pb.Set(b.key, data, nil)
}

// DeleteBlob removes the blob stored under name.
func (b *Batch) DeleteBlob(name string) {
	b.key = appendBlobKey(b.key[:0], b.p, name)
	_ = b.pb.Delete(b.key, nil)
}

// Len returns the number of writes in the batch.
func (b *Batch) Len() int { return int(b.pb.Count()) }

// Commit applies the batch atomically: after a crash either all of its
// writes are there or none. With sync, Commit returns once the batch is on
// stable storage. Without, it returns once the batch is visible to reads and
// queued for the WAL; it is then guaranteed durable only after a later
// synced commit or Store.Sync returns, and a crash before that may lose it
// (and the batches after it) as a whole. After Commit, successful or not,
// the batch is empty and can be reused.
func (b *Batch) Commit(sync bool) error {
	wo := pebble.NoSync
	if sync {
		wo = pebble.Sync
	}
	err := b.pb.Commit(wo)
	b.pb.Reset()
	if err != nil {
		return fmt.Errorf("state: commit batch of partition %d: %w", b.p, err)
	}
	return nil
}

// Close discards uncommitted writes and recycles the batch, which must not
// be used afterwards.
func (b *Batch) Close() {
	if b.pb == nil {
		return
	}
	_ = b.pb.Close()
	s := b.s
	*b = Batch{key: b.key[:0], val: b.val[:0]}
	if cap(b.val) <= maxPooledValueBytes {
		s.batches.Put(b)
	}
}

// maxPooledValueBytes keeps a batch whose buffer grew on one huge record out
// of the pool.
const maxPooledValueBytes = 64 << 10
