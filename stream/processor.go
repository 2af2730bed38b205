package stream

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/rekindle/rekindle/bitmap"
	"github.com/rekindle/rekindle/sinks"
	"github.com/rekindle/rekindle/state"
	"github.com/rekindle/rekindle/stream/segment"
)

// Input is one record read from the events topic (or a line of a replay file).
type Input struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	// Time is the record's broker timestamp in Unix milliseconds: event time
	// when the event has none, and the reference for the future-timestamp check.
	Time int64
}

// Header is a Kafka record header of an Output.
type Header struct {
	Key   string
	Value []byte
}

// Output is one record to produce: a decision, a fact or a dead letter.
type Output struct {
	Topic   string
	Key     []byte
	Value   []byte
	Headers []Header
}

// Counters count what a partition did. They are added up across partitions.
type Counters struct {
	Events       int64 // inputs applied to state
	Duplicates   int64 // inputs dropped because their messageId was seen
	DLQ          int64 // inputs sent to the dead-letter topic
	Decisions    [state.NumChannels]int64
	Suppressions int64
	Facts        int64 // all facts, suppressions included
}

// Add adds o to c.
func (c *Counters) Add(o *Counters) {
	c.Events += o.Events
	c.Duplicates += o.Duplicates
	c.DLQ += o.DLQ
	for i := range c.Decisions {
		c.Decisions[i] += o.Decisions[i]
	}
	c.Suppressions += o.Suppressions
	c.Facts += o.Facts
}

// campaign is a compiled CampaignConfig.
type campaign struct {
	id       string
	template string
	channels []state.Channel
}

// Processor holds what every partition shares: the compiled configuration.
// It is immutable after NewProcessor and safe for concurrent use.
type Processor struct {
	cfg        Config
	decoder    *segment.Decoder
	segs       *segmentSet
	sendTopics [state.NumChannels]string
	byKind     [256][]*campaign // built-in kinds
	byName     map[string][]*campaign
	byEnter    map[int][]*campaign // segment id → campaigns triggered on entering
	byExit     map[int][]*campaign
}

// Catalog returns the segment catalog: built-in and user-defined segment
// names and their ids.
func (p *Processor) Catalog() *bitmap.Catalog { return p.segs.catalog }

// NewProcessor compiles a validated configuration.
func NewProcessor(cfg Config) (*Processor, error) {
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	vocab := make(map[string]segment.Kind, len(segment.DefaultVocabulary)+len(cfg.Vocabulary))
	for name, k := range segment.DefaultVocabulary {
		vocab[name] = k
	}
	for name, target := range cfg.Vocabulary {
		k, _ := segment.KindByName(target)
		vocab[name] = k
	}
	p := &Processor{
		cfg: cfg,
		decoder: segment.NewDecoder(segment.DecoderOptions{
			Vocabulary:    vocab,
			MaxBytes:      cfg.Processing.MaxEventBytes,
			MaxFutureSkew: time.Duration(cfg.Processing.MaxFutureSkew),
		}),
		byName:  map[string][]*campaign{},
		byEnter: map[int][]*campaign{},
		byExit:  map[int][]*campaign{},
	}
	var err error
	if p.segs, err = compileSegments(&cfg.Segments); err != nil {
		return nil, err
	}
	for ch := state.Channel(0); ch < state.NumChannels; ch++ {
		p.sendTopics[ch] = cfg.SendTopic(ch)
	}
	for _, cc := range cfg.Campaigns {
		c := &campaign{id: cc.ID, template: cc.Template}
		for _, name := range cc.Channels {
			ch, _ := state.ParseChannel(name)
			c.channels = append(c.channels, ch)
		}
		if name := cc.Trigger.SegmentEnter; name != "" {
			id, _ := p.segs.catalog.ID(name)
			p.byEnter[id] = append(p.byEnter[id], c)
		} else if name := cc.Trigger.SegmentExit; name != "" {
			id, _ := p.segs.catalog.ID(name)
			p.byExit[id] = append(p.byExit[id], c)
		} else if k, ok := vocab[cc.Trigger.Event]; ok && k != segment.KindCustom {
			p.byKind[k] = append(p.byKind[k], c)
		} else {
			p.byName[cc.Trigger.Event] = append(p.byName[cc.Trigger.Event], c)
		}
	}
	return p, nil
}

// Config returns the processor's (defaulted) configuration.
func (p *Processor) Config() Config { return p.cfg }

type cachedUser struct {
	// id holds the bytes of rec.UserID when they fit, so that a cache
	// lookup compares the id within the record's own first cache line.
	id  [inlineID]byte
	rec state.UserRecord
	// strs holds the bytes of the record's other strings when they fit
	// together (see packStrings).
	strs  [inlineStrs]byte
	dirty bool
	ref   bool // looked up since the eviction sweep last passed it
	isNew bool // not stored yet: its dense id goes into the reverse index
	// enc says whether the record is encoded ahead of the next commit
	// (see PreEncode), as commitUsers[pos] (pos: its place in ps.dirty).
	enc encState
	pos int32
	due int64 // the timer due time the store's timer index holds
}

// PartitionState processes the inputs of one partition. It is owned by one
// goroutine. Process applies inputs to cached user records and collects
// outputs; once the caller has written them, Flush drops them and publishes
// the batch's segment changes; Commit (when CommitDue says so) writes the
// dirty records and the next offset in one Pebble batch. After any error the
// PartitionState must be discarded: its cache may hold changes that were
// never committed.
type PartitionState struct {
	proc      *Processor
	partition int32
	store     *state.Partition
	cache     userCache
	ahead     [lookahead + 1]uint64 // cache hashes of the next inputs' keys (see Prefetch)
	dirty     []*cachedUser
	stale     []int32 // places in dirty of records changed since PreEncode encoded them
	seq       uint32  // next dense-id sequence number
	seqDirty  bool
	out       []Output
	arena     []byte // output keys and values of the batch, reused after they are written
	// spareOut and spareArena are the other pair of output buffers: the
	// outputs TakeOutputs last returned, still being written.
	spareOut   []Output
	spareArena []byte
	lastTime   string // formatTime(lastTimeMs), in timeBufs[timeSlot]
	timeBufs   [2][]byte
	timeSlot   int
	lastTimeMs int64
	counters   Counters
	ev         segment.Event
	watermark  int64 // largest event time seen, Unix ms

	reg     *bitmap.Registry // segment bitmaps of this partition
	changes []bitmap.Change  // applied to reg at Flush
	added   []uint32         // dense ids created since the last Flush
	minDue  int64            // no timer of this partition is due before this (0: none known)
	// minArmed: no user re-armed since the last commit (whose new due time
	// is not in the store's timer index yet) is due before this (0: none).
	minArmed int64
	// indexStale: FireTimers read index entries of users re-armed since the
	// last commit.
	indexStale bool
	// timerFloor: the store's timer index holds no timer due before this;
	// FireTimers reads from it, past the markers of fired timers.
	// nextFloor is where it moves at the next commit (0: stays).
	timerFloor, nextFloor int64
	nextCommit            time.Time       // when the interval makes the next commit due (see commitSlot)
	inflight              chan commitDone // the commit being applied (see CommitAsync)
	commitBatch           *state.Batch    // the commits' batch, reused (nil: being applied, or none yet)
	commitUsers           []pendingUser
	commitVals            []byte
	commitTimers          []timerMove
	commitOrder           []keyOrder // the commit's users in key order (see userKeyOrder)
	// refBuf and idBuf hold the cause's ref and the output id being
	// built (see cause.ref and scratchID).
	refBuf, idBuf []byte
	commitErr     error
	// catalogStored: the store knows which segment ids the records' masks use.
	catalogStored bool
	// times, when set, receives how long each commit took (see CommitTimes).
	times *CommitTimes
	// stored filters the cache misses that read the store (see storedUsers);
	// loads, when set, counts them.
	stored storedUsers
	loads  *UserLoads
}

// UserLoads counts the users not found in a partition's cache, and how
// many of them were read from the store (the others, ruled out by the
// filter of stored users, were created without a read). Safe for
// concurrent use.
type UserLoads struct {
	CacheMisses, StoreReads atomic.Int64
	// Scanning: partitions whose worker is scanning the stored users into
	// its filter (until then every cache miss reads the store); Scanned:
	// the scans that have finished.
	Scanning, Scanned atomic.Int64
}

// CommitTimes sums how long commits took, in nanoseconds: the worker's
// pause while it encodes the dirty records (CommitAsync), and the Pebble
// apply on the commit's goroutine (taking a core meanwhile), with the
// longest of each. Safe for concurrent use.
type CommitTimes struct {
	EncodeNanos, ApplyNanos       atomic.Int64
	MaxEncodeNanos, MaxApplyNanos atomic.Int64
}

// addTime adds d to sum and raises longest to it.
func addTime(sum, longest *atomic.Int64, d time.Duration) {
	sum.Add(int64(d))
	for {
		m := longest.Load()
		if int64(d) <= m || longest.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// NewPartitionState opens the processing state of one partition.
func (p *Processor) NewPartitionState(store *state.Partition, partition int32) (*PartitionState, error) {
	seq, err := store.DenseSeq()
	if err != nil {
		return nil, err
	}
	if seq == 0 {
		seq = 1 // dense id 0 would read as "none assigned"
	}
	ps := &PartitionState{
		proc:       p,
		partition:  partition,
		store:      store,
		cache:      newUserCache(),
		seq:        seq,
		nextCommit: commitSlot(time.Now(), partition, time.Duration(p.cfg.State.CommitInterval)),
		timerFloor: math.MinInt64,
		stored:     newStoredUsers(int(seq - 1)),
	}
	if err := ps.loadSegments(); err != nil {
		return nil, err
	}
	if _, err := ps.ScanStoredUsers(storedScanFirst); err != nil {
		return nil, err
	}
	return ps, nil
}

// Outputs returns the outputs collected since the last Flush or Commit.
func (ps *PartitionState) Outputs() []Output { return ps.out }

// TakeOutputs returns the outputs collected since the last Flush, Commit
// or TakeOutputs, and collects the next ones in other buffers: the outputs
// returned (and the bytes they point to, dead letters aside) stay valid
// while the next batch is processed, until the next TakeOutputs. A caller
// can so write a batch's outputs while it processes the next batch.
func (ps *PartitionState) TakeOutputs() []Output {
	outs := ps.out
	ps.out, ps.spareOut = ps.spareOut, ps.out
	ps.arena, ps.spareArena = ps.spareArena, ps.arena
	ps.clearOutputs()
	return outs
}

// Flush ends a batch whose outputs the caller has written or taken (see
// TakeOutputs): it drops the outputs still collected, resets the counters
// and applies the batch's segment changes to the bitmaps. The state stays
// uncommitted (see CommitDue).
func (ps *PartitionState) Flush() {
	ps.clearOutputs()
	ps.counters = Counters{}
	for _, id := range ps.added {
		ps.reg.AddUser(id)
	}
	ps.added = ps.added[:0]
	ps.reg.Apply(ps.changes)
	clear(ps.changes)
	ps.changes = ps.changes[:0]
}

// CommitDue reports whether the partition should commit now, at event-clock
// time now (Unix ms): the partition's commit slot has come (every
// state.commit_interval, see commitSlot), half of state.cache_users are
// dirty (dirty records cannot be evicted), or a user re-armed since the last
// commit has a timer due by now or was skipped by FireTimers (which sees
// only committed timers).
func (ps *PartitionState) CommitDue(now int64) bool {
	st := &ps.proc.cfg.State
	return len(ps.dirty) >= max(1, st.CacheUsers/2) ||
		(ps.minArmed != 0 && ps.minArmed <= now) || ps.indexStale ||
		!time.Now().Before(ps.nextCommit)
}

// clearOutputs drops the collected outputs (after the caller wrote them).
func (ps *PartitionState) clearOutputs() {
	clear(ps.out)
	ps.out = ps.out[:0]
	ps.arena = ps.arena[:0]
}

// Counters returns what was counted since the last Flush or Commit.
func (ps *PartitionState) Counters() *Counters { return &ps.counters }

// Process applies one input. The error is an I/O error of the state store
// (fatal for the batch); bad input is not an error, it becomes a DLQ output.
func (ps *PartitionState) Process(in *Input) error {
	ev := &ps.ev
	ref := in.Time
	if ref == 0 {
		ref = ps.watermark
	}
	if err := ps.proc.decoder.Decode(in.Value, ref, ev); err != nil {
		ps.deadLetter(in, err)
		return nil
	}
	t := ev.Timestamp
	if t == 0 {
		t = in.Time
	}
	if t == 0 {
		t = ps.watermark
	}
	if t > ps.watermark {
		ps.watermark = t
	}
	cu, err := ps.user(ev.User())
	if err != nil {
		return err
	}
	rec := &cu.rec
	var msgHash uint64
	if ev.MessageID != "" {
		msgHash = hash64(ev.MessageID)
		if seenMessage(rec, msgHash) {
			ps.counters.Duplicates++
			return nil
		}
	}
	if reason, detail := ps.apply(cu, ev, in, t); reason != "" {
		// A semantically invalid event (e.g. an unknown subscription status)
		// is refused whole: nothing of it is applied.
		ps.deadLetter(in, &segment.DecodeError{Reason: reason, Field: "properties", Detail: detail})
		return nil
	}
	if msgHash != 0 {
		rememberMessage(rec, msgHash)
	}
	ps.markDirty(cu)
	ps.counters.Events++
	c := eventCause(in, ev, t)
	if ev.Type == segment.TypeTrack {
		ps.proc.segs.track(rec, ev.Name, t)
	}
	ps.updateSegments(cu, &c)
	ps.trigger(rec, ev, &c)
	return nil
}

// user returns the cached record of id, loading or creating it.
func (ps *PartitionState) user(id string) (*cachedUser, error) {
	h := ps.cache.hash(id)
	if cu := ps.cache.get(id, h); cu != nil {
		cu.ref = true
		return cu, nil
	}
	ps.makeRoom()
	cu := ps.cache.alloc() // zeroed, the record evicted for it if any
	found := false
	if !ps.stored.ready || ps.stored.mayHold(h) {
		var err error
		if found, err = ps.store.GetUser(id, &cu.rec); err != nil {
			ps.cache.release(cu)
			return nil, err
		}
		if ps.loads != nil {
			ps.loads.StoreReads.Add(1)
		}
	}
	if ps.loads != nil {
		ps.loads.CacheMisses.Add(1)
	}
	cu.due = cu.rec.TimerDue
	if !found {
		ps.stored.add(h)
		cu.isNew = true
		dense, err := state.DenseID(ps.partition, ps.seq)
		if err != nil {
			ps.cache.release(cu)
			return nil, err
		}
		ps.seq++
		ps.seqDirty = true
		ps.added = append(ps.added, dense)
		cu.rec = state.UserRecord{UserID: id, DenseID: dense}
	}
	if len(id) <= inlineID {
		cu.rec.UserID = unsafe.String(&cu.id[0], copy(cu.id[:], id))
	} else if !found {
		cu.rec.UserID = strings.Clone(id)
	}
	if found {
		cu.packStrings() // out of the decoded record's block, which goes
	}
	ps.cache.put(cu, h)
	return cu, nil
}

// inlineID is the longest user id a cachedUser holds in itself (a UUID
// has 36 characters).
const inlineID = 40

// inlineStrs is the room a cachedUser has for its other strings: an
// anonymous id (a UUID), an email address, a phone number, a time zone and
// a country code take about 90 bytes.
const inlineStrs = 112

// lookahead is how many inputs ahead of the one being processed Prefetch
// hashes a key and starts loading its cache slot; it starts loading the key
// itself one input earlier, and the record one input ahead.
const lookahead = 2

// Prefetch starts loading into the CPU caches what processing the inputs
// after ins[i] will touch first, found from their record keys (the user
// ids; a key that is not costs a useless prefetch): the key of
// ins[i+lookahead+1]; the cache slot of ins[i+lookahead] (its key has
// arrived); the record and value bytes of ins[i+1] (its slot has arrived).
// Processing an input takes microseconds, a miss to memory about a tenth
// of one, so each load is done before it is needed. Call it before
// Process(&ins[i]) for each i in order.
func (ps *PartitionState) Prefetch(ins []Input, i int) {
	if i == 0 {
		for j := range min(lookahead+1, len(ins)) {
			prefetchBytes(ins[j].Key)
		}
		for j := range min(lookahead, len(ins)) {
			ps.prefetchSlot(&ins[j], j)
		}
	}
	if j := i + lookahead + 1; j < len(ins) {
		prefetchBytes(ins[j].Key)
	}
	if j := i + lookahead; j < len(ins) {
		ps.prefetchSlot(&ins[j], j)
	}
	if j := i + 1; j < len(ins) {
		if h := ps.ahead[j%len(ps.ahead)]; h != 0 {
			ps.cache.prefetchUser(h)
		}
		prefetchBytes(ins[j].Value)
	}
}

func prefetchBytes(b []byte) {
	if len(b) > 0 {
		prefetchLines(unsafe.Pointer(&b[0]), uintptr(len(b)))
	}
}

func (ps *PartitionState) prefetchSlot(in *Input, j int) {
	h := uint64(0)
	if len(in.Key) > 0 {
		h = ps.cache.hash(bytesString(in.Key))
		ps.cache.prefetchSlot(h)
	}
	ps.ahead[j%len(ps.ahead)] = h
}

// Every change to a record is followed, within the same Process or
// FireTimers call, by markDirty: a record encoded ahead of the commit (see
// PreEncode) becomes stale here and is encoded again by the commit.
func (ps *PartitionState) markDirty(cu *cachedUser) {
	if !cu.dirty {
		cu.dirty = true
		cu.pos = int32(len(ps.dirty))
		ps.dirty = append(ps.dirty, cu)
	} else if cu.enc == encFresh {
		cu.enc = encStale
		ps.stale = append(ps.stale, cu.pos)
	}
}

// seenMessage reports whether the messageId hash h is among the record's
// recent ones.
func seenMessage(rec *state.UserRecord, h uint64) bool {
	for _, r := range rec.RecentMessageIDs {
		if r == h {
			return true
		}
	}
	return false
}

// rememberMessage records h, replacing the oldest recent hash.
func rememberMessage(rec *state.UserRecord, h uint64) {
	rec.RecentMessageIDs[rec.RecentNext%state.RecentIDs] = h
	rec.RecentNext = (rec.RecentNext + 1) % state.RecentIDs
}

// hash64 is FNV-1a; 0 is reserved for an empty slot.
func hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	if h == 0 {
		h = 1
	}
	return h
}

// Commit writes the dirty user records and next (the offset of the input
// after the last processed one) in one atomic Pebble batch, after a Flush,
// and waits for it. The caller must have had the outputs acknowledged
// first. With snapshot, the segment bitmaps are saved in the same batch.
func (ps *PartitionState) Commit(next int64, sync, snapshot bool) error {
	if err := ps.CommitAsync(next, sync, snapshot); err != nil {
		return err
	}
	return ps.WaitCommit()
}

// CommitAsync is Commit without the wait: the batch is built from the
// records as they are now, and Pebble applies it on another goroutine while
// the caller goes on processing (applying thousands of records takes tens
// of milliseconds that would otherwise stall the partition). One commit is
// in flight at most: the next one, FireTimers (which reads the committed
// timer index) and WaitCommit wait for it; evictions happen only after it
// landed, so a record read back from the store is never older than the
// cache's.
func (ps *PartitionState) CommitAsync(next int64, sync, snapshot bool) error {
	return ps.CommitAsyncAfter(next, sync, snapshot, nil)
}

// CommitAsyncAfter is CommitAsync for a caller whose outputs are not all
// acknowledged yet: the commit's goroutine calls acked (when not nil)
// before it applies the batch, and applies nothing if it fails.
func (ps *PartitionState) CommitAsyncAfter(next int64, sync, snapshot bool, acked func() error) error {
	if err := ps.WaitCommit(); err != nil {
		return err
	}
	start := time.Now()
	// The worker encodes the dirty records (they change once it goes on)
	// and lists the timer-index moves; the keys and the Pebble batch itself
	// are built on the commit's goroutine. The buffers are reused: the
	// commit before this one is done with them. What PreEncode encoded
	// ahead is kept; the records changed since are encoded again.
	ps.verifyPreEncoded()
	for len(ps.stale) > 0 {
		ps.encodeStale()
	}
	for len(ps.commitUsers) < len(ps.dirty) {
		ps.encodeNext()
	}
	users, vals := ps.commitUsers, ps.commitVals
	floor := max(ps.timerFloor, ps.nextFloor)
	timers := ps.commitTimers[:0]
	for i := range users {
		u := &users[i]
		if u.oldDue == u.newDue {
			continue
		}
		if u.oldDue != 0 {
			timers = append(timers, timerMove{due: u.oldDue, userID: u.userID, del: true})
		}
		if u.newDue != 0 {
			timers = append(timers, timerMove{due: u.newDue, userID: u.userID})
			floor = min(floor, u.newDue)
		}
	}
	ps.commitTimers = timers
	seq, seqDirty := ps.seq, ps.seqDirty
	ps.Flush()
	// Keys are a user id and a few bytes; each write costs about as much
	// again in the batch's own framing.
	b := ps.commitBatch
	ps.commitBatch = nil
	if b == nil {
		b = ps.store.NewReusableBatch(len(vals)+(len(users)*2+len(timers))*(32+16)+1024, maxCommitBatchBytes)
	}
	if snapshot || !ps.catalogStored {
		if err := ps.putSnapshot(b, next); err != nil {
			b.Close()
			return err
		}
	}
	// The encodings are copies: the records may change from here on, and
	// are marked dirty again when they do.
	for i, cu := range ps.dirty {
		cu.dirty, cu.isNew, cu.due, cu.enc = false, false, users[i].newDue, encNone
	}
	clear(ps.dirty)
	ps.dirty = ps.dirty[:0]
	// The commit's goroutine has them now; the next PreEncode waits for it.
	ps.commitUsers, ps.commitVals = ps.commitUsers[:0], ps.commitVals[:0]
	ps.seqDirty = false
	ps.minArmed, ps.indexStale = 0, false
	ps.timerFloor, ps.nextFloor = floor, 0
	ps.nextCommit = commitSlot(time.Now(), ps.partition, time.Duration(ps.proc.cfg.State.CommitInterval))
	done := make(chan commitDone, 1)
	ps.inflight = done
	order := ps.commitOrder
	times := ps.times
	applyStart := time.Now()
	if times != nil {
		addTime(&times.EncodeNanos, &times.MaxEncodeNanos, applyStart.Sub(start))
	}
	hold := holdCommits
	go func() {
		if hold != nil {
			<-hold
		}
		// Pebble inserts a batch into its memtable (a skiplist) in batch
		// order, each search starting from where the previous insert
		// ended: keys in ascending order make each insert a short step
		// instead of a descent through the whole list (a cache miss per
		// level). So the batch goes in key order, one key range at a time.
		// New users come in creation order, which is dense-id order.
		for i := range users {
			if u := &users[i]; u.isNew {
				b.PutDenseID(u.denseID, u.userID)
			}
		}
		order = userKeyOrder(users, order)
		for _, o := range order {
			u := &users[o.i]
			b.PutUserValue(u.userID, vals[u.start:u.end])
		}
		slices.SortFunc(timers, func(a, b timerMove) int {
			if a.due != b.due {
				return cmp.Compare(a.due, b.due)
			}
			return strings.Compare(a.userID, b.userID)
		})
		for _, t := range timers {
			if t.del {
				b.SetTimer(t.userID, t.due, 0)
			} else {
				b.SetTimer(t.userID, 0, t.due)
			}
		}
		if seqDirty {
			b.SetDenseSeq(seq)
		}
		b.SetOffset(next)
		built := time.Now()
		if acked != nil {
			if err := acked(); err != nil {
				b.Close()
				done <- commitDone{err: fmt.Errorf("stream: state of partition %d up to offset %d not committed: its outputs were not written: %w", ps.partition, next, err), order: order}
				return
			}
		}
		ackedAt := time.Now()
		err := b.Commit(sync)
		if times != nil {
			addTime(&times.ApplyNanos, &times.MaxApplyNanos, built.Sub(applyStart)+time.Since(ackedAt))
		}
		if err != nil {
			b.Close()
			done <- commitDone{err: err}
			return
		}
		done <- commitDone{batch: b, order: order} // empty again, for the next commit
	}()
	return nil
}

// holdCommits, when set (tests), holds each commit's goroutine until it
// receives: the worker goes on meanwhile, as it does while a commit is
// applied.
var holdCommits chan struct{}

// commitDone is what a commit's goroutine hands back: its error, or its
// batch for the next commit to reuse.
type commitDone struct {
	err   error
	batch *state.Batch
	order []keyOrder
}

// maxCommitBatchBytes is the largest commit batch whose buffer is kept for
// the next commit (a commit of 100,000 records takes about 20 MB).
const maxCommitBatchBytes = 32 << 20

// timerMove is one write of a commit to the timer index: the user's entry
// at due is deleted (del) or added.
type timerMove struct {
	due    int64
	userID string
	del    bool
}

// pendingUser is a dirty record as a commit writes it: encoded by the
// worker into commitVals[start:end], written into the batch on the
// commit's goroutine.
type pendingUser struct {
	userID     string
	denseID    uint32
	isNew      bool
	start, end int
	// The timer due time the store's index holds, and the record's when
	// it was encoded: the commit moves the index entry when they differ.
	oldDue, newDue int64
}

// commitSlot returns the first time after now at which partition commits
// (every interval): the moments whose offset into the interval, counted on
// the wall clock, is the partition's own fraction of it, partition × the
// golden ratio mod 1. Partitions would otherwise commit together, each
// pausing its worker to encode and taking a core for the Pebble apply at
// the same moment (the latency spikes of a 2-partition run at 200,000
// events/s came right after the commits, 50 ms apart, of both): any set of
// partitions is spread over the interval (0 and 0.62 of it for two; eight
// are 0.09-0.15 apart), and being on the wall clock, a commit slot stays
// put after a forced commit, a slow batch, a rebalance, or in another
// process on the same machine.
func commitSlot(now time.Time, partition int32, interval time.Duration) time.Time {
	if interval <= 0 {
		return now
	}
	const phi = 0.6180339887498949
	_, frac := math.Modf(float64(partition) * phi)
	offset := int64(frac * float64(interval))
	n, iv := now.UnixNano(), int64(interval)
	return time.Unix(0, n-(n-offset)%iv+iv) // the slot at or before now, plus one interval
}

// WaitCommit waits for the commit in flight, if any, and returns its error
// (which stays: the PartitionState must then be discarded).
func (ps *PartitionState) WaitCommit() error {
	if ps.inflight != nil {
		return ps.landed(<-ps.inflight)
	}
	return ps.commitErr
}

// landed takes what the commit in flight handed back.
func (ps *PartitionState) landed(d commitDone) error {
	ps.commitErr, ps.commitBatch, ps.commitOrder = d.err, d.batch, d.order
	ps.inflight = nil
	if ps.commitErr == nil {
		ps.evict()
	}
	return ps.commitErr
}

// evict keeps the cache within its bound by dropping clean records (see
// userCache.evict). Only records whose latest version is in the store are
// clean.
func (ps *PartitionState) evict() {
	if limit := ps.proc.cfg.State.CacheUsers; ps.cache.len() > limit {
		ps.cache.evict(limit, 0)
	}
}

// makeRoomSteps bounds the slots makeRoom looks at for a record to evict.
const makeRoomSteps = 32

// makeRoom evicts a record, when the cache is full, for the one about to
// be added: a record at a time as users come, instead of tens of
// thousands at once after a commit (with traffic from 2M users, 25,000-
// 48,000 records in 8-56 ms, a pause of the worker's every second or two).
// Not while a commit is being applied: the records it writes are clean
// already, and its keys are their user ids' bytes (see pendingUser), so
// they must not be reused before it lands. If none is found within
// makeRoomSteps slots the cache grows by one until the next commit lands.
func (ps *PartitionState) makeRoom() {
	limit := ps.proc.cfg.State.CacheUsers
	if ps.cache.len() < limit {
		return
	}
	if ps.inflight != nil {
		select {
		case d := <-ps.inflight:
			// Its error stays, for the next WaitCommit to return.
			if ps.landed(d) != nil {
				return
			}
		default:
			return
		}
	}
	ps.cache.evict(limit-1, makeRoomSteps)
}

func (ps *PartitionState) deadLetter(in *Input, err error) {
	reason := "invalid"
	var de *segment.DecodeError
	if errors.As(err, &de) {
		reason = de.Reason
	}
	ps.counters.DLQ++
	value := in.Value
	var truncated []byte
	if len(value) > MaxDeadLetterBytes {
		// A record the producer limit would refuse would stop the partition;
		// the original stays in the input topic at the offset named.
		truncated = strconv.AppendInt(nil, int64(len(value)), 10)
		value = value[:MaxDeadLetterBytes]
	}
	// Copies: the input's fetch response goes back to the fetcher as soon
	// as the batch is processed, while its outputs are still being written.
	o := Output{
		Topic: ps.proc.cfg.Topics.DLQ,
		Key:   ps.arenaBytes(in.Key),
		Value: ps.arenaBytes(value),
		Headers: []Header{
			{sinks.HeaderReason, []byte(reason)},
			{sinks.HeaderError, []byte(err.Error())},
			{sinks.HeaderTopic, []byte(in.Topic)},
			{sinks.HeaderPartition, strconv.AppendInt(nil, int64(in.Partition), 10)},
			{sinks.HeaderOffset, strconv.AppendInt(nil, in.Offset, 10)},
		},
	}
	if truncated != nil {
		o.Headers = append(o.Headers, Header{HeaderTruncated, truncated})
	}
	ps.out = append(ps.out, o)
}

// MaxDeadLetterBytes is the most of a rejected record the DLQ carries:
// Kafka refuses produce batches over 1 MB by default. A longer record is cut,
// with header HeaderTruncated giving its original length.
const MaxDeadLetterBytes = 512 << 10

// HeaderTruncated marks a dead letter cut to MaxDeadLetterBytes.
const HeaderTruncated = "rekindle-truncated"

func formatTime(ms int64) string {
	return string(sinks.AppendTime(nil, ms))
}

// formatTime formats ms, remembering the last one: the outputs of one
// event or timer share their time. The text lives in one of two reused
// buffers, taken in turn, so a time stays valid while the next one is
// formatted; callers copy it into the output arena at once.
func (ps *PartitionState) formatTime(ms int64) string {
	if ms != ps.lastTimeMs || ps.lastTime == "" {
		ps.timeSlot ^= 1
		b := sinks.AppendTime(ps.timeBufs[ps.timeSlot][:0], ms)
		ps.timeBufs[ps.timeSlot] = b
		ps.lastTimeMs, ps.lastTime = ms, bytesString(b)
	}
	return ps.lastTime
}

// appendInputRef appends the deterministic id part naming an input:
// "topic/partition/offset".
func appendInputRef(b []byte, in *Input) []byte {
	b = append(b, in.Topic...)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(in.Partition), 10)
	b = append(b, '/')
	return strconv.AppendInt(b, in.Offset, 10)
}

// scratchID joins parts in ps.idBuf and returns them as a string valid
// until the next scratchID: for an id that goes into the output arena at
// once (the output encoders copy it), without an allocation.
func (ps *PartitionState) scratchID(parts ...string) string {
	b := ps.idBuf[:0]
	for _, p := range parts {
		b = append(b, p...)
	}
	ps.idBuf = b
	return bytesString(b)
}

// bytesString returns a string sharing b's memory: b must not change while
// the string is in use.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func (ps *PartitionState) emitFact(f *sinks.Fact) {
	start := len(ps.arena)
	ps.arena = sinks.AppendFact(ps.arena, f)
	value := ps.arena[start:len(ps.arena):len(ps.arena)]
	ps.counters.Facts++
	ps.out = append(ps.out, Output{Topic: ps.proc.cfg.Topics.Facts, Key: ps.arenaString(f.UserID), Value: value})
}

// arenaString copies s into the batch's output arena.
func (ps *PartitionState) arenaString(s string) []byte {
	start := len(ps.arena)
	ps.arena = append(ps.arena, s...)
	return ps.arena[start:len(ps.arena):len(ps.arena)]
}

// arenaBytes is arenaString for bytes; nil stays nil (a record without a
// key is written without one).
func (ps *PartitionState) arenaBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	start := len(ps.arena)
	ps.arena = append(ps.arena, b...)
	return ps.arena[start:len(ps.arena):len(ps.arena)]
}

// PartitionOf returns the partition (of n) that the Java-compatible murmur2
// partitioner gives a user id key.
func PartitionOf(userID string, n int) int32 {
	return int32((murmur2([]byte(userID)) & 0x7fffffff) % uint32(n))
}

// murmur2 is Kafka's Java client hash (Utils.murmur2).
func murmur2(data []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	length := len(data)
	h := uint32(seed) ^ uint32(length)
	n := length / 4
	for i := 0; i < n; i++ {
		k := uint32(data[i*4]) | uint32(data[i*4+1])<<8 | uint32(data[i*4+2])<<16 | uint32(data[i*4+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n*4:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
