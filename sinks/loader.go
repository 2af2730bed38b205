package sinks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Defaults of LoaderConfig.
const (
	DefaultLoaderGroupID = "rekindle-loader"
	DefaultEventsTopic   = "events"
	DefaultDLQTopic      = "events.dlq"
	DefaultFactsTopic    = "rekindle.facts"
	DefaultBatchRows     = 50000
	DefaultFlushInterval = time.Second
)

// DefaultSendTopics are the send topics loaded when LoaderConfig.SendTopics
// is empty.
func DefaultSendTopics() []string {
	return []string{"sends.push", "sends.email", "sends.sms", "sends.inapp"}
}

// Back-off between attempts at inserting a batch the sink refused.
const (
	insertBackoffMin = 100 * time.Millisecond
	insertBackoffMax = 10 * time.Second
	// fetchBackoff is the pause after a failed fetch (the broker is
	// unreachable or the group cannot be joined).
	fetchBackoff = time.Second
	// commitTimeout bounds one offset commit.
	commitTimeout = 30 * time.Second
)

// LoaderConfig configures a Loader. Only Brokers is required.
type LoaderConfig struct {
	// Brokers are the Kafka bootstrap addresses.
	Brokers []string
	// GroupID is the consumer group (default DefaultLoaderGroupID).
	GroupID string
	// EventsTopic holds Segment Spec events (default DefaultEventsTopic),
	// loaded into the events table.
	EventsTopic string
	// DLQTopic holds dead-lettered input (default DefaultDLQTopic), loaded
	// into the dlq table.
	DLQTopic string
	// FactsTopic holds facts (default DefaultFactsTopic), loaded into the
	// suppressions, consent_changes and segment_changes tables by kind.
	FactsTopic string
	// SendTopics hold decisions (default DefaultSendTopics()), loaded into
	// the decisions table.
	SendTopics []string
	// BatchRows is the most rows buffered; a full buffer is flushed
	// (default DefaultBatchRows).
	BatchRows int
	// FlushInterval is the longest a fetched message waits for its flush
	// (default DefaultFlushInterval).
	FlushInterval time.Duration
	// Logger receives sink failures and skipped messages (default
	// slog.Default()).
	Logger *slog.Logger
	// ReadCommitted reads up to the last stable offset of each partition
	// (isolation level read_committed). kafka-go's Reader passes the level
	// on but does not skip the records of aborted transactions
	// (segmentio/kafka-go#1332): with it they still reach the events
	// table, unlike the processor, which skips them.
	ReadCommitted bool
	// Auth: how to connect (nil: plaintext).
	Auth *Auth
}

func (c LoaderConfig) withDefaults() LoaderConfig {
	if c.GroupID == "" {
		c.GroupID = DefaultLoaderGroupID
	}
	if c.EventsTopic == "" {
		c.EventsTopic = DefaultEventsTopic
	}
	if c.DLQTopic == "" {
		c.DLQTopic = DefaultDLQTopic
	}
	if c.FactsTopic == "" {
		c.FactsTopic = DefaultFactsTopic
	}
	if len(c.SendTopics) == 0 {
		c.SendTopics = DefaultSendTopics()
	}
	if c.BatchRows == 0 {
		c.BatchRows = DefaultBatchRows
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports whether the configuration, with defaults applied, is
// usable.
func (c LoaderConfig) Validate() error {
	c = c.withDefaults()
	if len(c.Brokers) == 0 {
		return errors.New("sinks: loader: no Kafka brokers")
	}
	if c.BatchRows < 0 {
		return fmt.Errorf("sinks: loader: BatchRows %d is negative", c.BatchRows)
	}
	if c.FlushInterval < 0 {
		return fmt.Errorf("sinks: loader: FlushInterval %v is negative", c.FlushInterval)
	}
	_, err := c.routes()
	return err
}

// topicKind says which loader table(s) a topic feeds.
type topicKind uint8

const (
	kindEvents topicKind = iota + 1
	kindDecisions
	kindFacts
	kindDLQ
)

func (c LoaderConfig) routes() (map[string]topicKind, error) {
	routes := map[string]topicKind{}
	add := func(topic string, k topicKind) error {
		if topic == "" {
			return errors.New("sinks: loader: empty topic name")
		}
		if _, dup := routes[topic]; dup {
			return fmt.Errorf("sinks: loader: topic %q configured twice", topic)
		}
		routes[topic] = k
		return nil
	}
	if err := add(c.EventsTopic, kindEvents); err != nil {
		return nil, err
	}
	if err := add(c.DLQTopic, kindDLQ); err != nil {
		return nil, err
	}
	if err := add(c.FactsTopic, kindFacts); err != nil {
		return nil, err
	}
	for _, t := range c.SendTopics {
		if err := add(t, kindDecisions); err != nil {
			return nil, err
		}
	}
	return routes, nil
}

// RowSink is where the Loader puts rows: ClickHouseSink, or FileSink.
type RowSink interface {
	// Insert writes rows (values in the order of the table's Columns) into
	// table. An error means the rows may not have been written; the Loader
	// then inserts the same rows again, so a sink must tolerate duplicates
	// (the ClickHouse tables collapse them).
	Insert(ctx context.Context, table string, rows []Row) error
	Close() error
}

// LoaderStats count what a Loader did since it was created.
type LoaderStats struct {
	// Messages fetched from Kafka.
	Messages int64
	// Rows inserted, by table.
	Rows map[string]int64
	// Inserts that succeeded.
	Inserts int64
	// Retries counts failed insert attempts (each was retried).
	Retries int64
	// Commits of consumed offsets that succeeded.
	Commits int64
	// Skipped counts messages loaded into no table, by reason (Skip...);
	// their offsets are committed all the same.
	Skipped map[string]int64
	// LastError is the latest insert, commit or fetch error ("" if none).
	LastError string
}

// ErrLoaderClosed is returned by Run after Close.
var ErrLoaderClosed = errors.New("sinks: loader closed")

// Loader consumes rekindle's topics through a Kafka consumer group and loads
// them into a RowSink in batches. Delivery is at least once: a partition's
// offsets are committed only after every row of the messages up to them was
// inserted; a batch the sink refuses is retried with back-off, without
// fetching more, so memory stays bounded by BatchRows and no row is dropped.
// Replays after a crash are collapsed by the tables' ReplacingMergeTree.
// A message that cannot be converted into a row is counted in Stats, logged
// and committed.
type Loader struct {
	cfg    LoaderConfig
	log    *slog.Logger
	sink   RowSink
	routes map[string]topicKind
	reader *kafka.Reader

	stop     chan struct{} // closed by Close: Run returns
	stopOnce sync.Once

	// run is held by Run, and by Close once Run has returned; it guards the
	// batch below.
	run struct {
		sync.Mutex
		closed bool
		rows   map[string][]Row
		nrows  int
		marks  map[partitionKey]int64 // highest fetched offset of each partition in the batch
		done   map[string]bool        // tables of the batch already inserted
		opened time.Time              // when the batch's first message was fetched
	}

	mu struct {
		sync.Mutex
		stats LoaderStats
	}
}

// NewLoader returns a Loader that reads cfg's topics and writes to sink. The
// Loader owns sink from then on and closes it in Close; if NewLoader fails,
// the caller still owns it.
func NewLoader(cfg LoaderConfig, sink RowSink) (*Loader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, errors.New("sinks: loader: nil sink")
	}
	cfg = cfg.withDefaults()
	routes, _ := cfg.routes()
	topics := make([]string, 0, len(routes))
	topics = append(topics, cfg.EventsTopic, cfg.DLQTopic, cfg.FactsTopic)
	topics = append(topics, cfg.SendTopics...)

	l := &Loader{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "loader", "group", cfg.GroupID),
		sink:   sink,
		routes: routes,
		stop:   make(chan struct{}),
	}
	isolation := kafka.ReadUncommitted
	if cfg.ReadCommitted {
		isolation = kafka.ReadCommitted
	}
	l.reader = kafka.NewReader(kafka.ReaderConfig{
		Brokers:     cfg.Brokers,
		GroupID:     cfg.GroupID,
		GroupTopics: topics,
		// CommitInterval 0: CommitMessages commits synchronously.
		CommitInterval: 0,
		StartOffset:    kafka.FirstOffset,
		MinBytes:       1,
		MaxBytes:       16 << 20,
		MaxWait:        250 * time.Millisecond,
		IsolationLevel: isolation,
		Dialer:         cfg.Auth.Dialer(),
		ReadBackoffMin: 50 * time.Millisecond,
		ReadBackoffMax: time.Second,
		Logger: kafka.LoggerFunc(func(msg string, args ...any) {
			l.log.Debug("kafka: " + fmt.Sprintf(msg, args...))
		}),
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			l.log.Warn("kafka: " + fmt.Sprintf(msg, args...))
		}),
	})
	l.run.rows = map[string][]Row{}
	l.run.marks = map[partitionKey]int64{}
	l.run.done = map[string]bool{}
	l.mu.stats.Rows = map[string]int64{}
	l.mu.stats.Skipped = map[string]int64{}
	return l, nil
}

// Stats returns a snapshot of the counters.
func (l *Loader) Stats() LoaderStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.mu.stats
	s.Rows = maps.Clone(s.Rows)
	s.Skipped = maps.Clone(s.Skipped)
	return s
}

// Run consumes and loads until ctx is done or Close is called, then returns
// nil; what is buffered then is flushed by Close. Run returns an error only if
// the Loader cannot go on (it was closed, or Run is already running).
func (l *Loader) Run(ctx context.Context) error {
	select {
	case <-l.stop:
		return ErrLoaderClosed
	default:
	}
	if !l.run.TryLock() {
		return errors.New("sinks: loader: Run is already running")
	}
	defer l.run.Unlock()
	if l.run.closed {
		return ErrLoaderClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-l.stop:
			cancel()
		case <-ctx.Done():
		}
	}()

	for ctx.Err() == nil {
		pending := len(l.run.marks) > 0
		if pending && (l.run.nrows >= l.cfg.BatchRows || !time.Now().Before(l.run.opened.Add(l.cfg.FlushInterval))) {
			// flush returns an error only when ctx is done; the batch is
			// kept for Close.
			_ = l.flush(ctx)
			continue
		}
		fetchCtx, cancelFetch := ctx, context.CancelFunc(func() {})
		if pending {
			fetchCtx, cancelFetch = context.WithDeadline(ctx, l.run.opened.Add(l.cfg.FlushInterval))
		}
		msg, err := l.reader.FetchMessage(fetchCtx)
		cancelFetch()
		switch {
		case err == nil:
			l.add(&msg)
		case ctx.Err() != nil:
		case errors.Is(err, context.DeadlineExceeded):
			// Time to flush.
		case errors.Is(err, io.EOF):
			return ErrLoaderClosed
		default:
			l.noteError(err)
			l.log.Warn("fetch failed", "err", err, "backoff", fetchBackoff)
			sleep(ctx, fetchBackoff)
		}
	}
	return nil
}

// partitionKey names a topic partition.
type partitionKey struct {
	topic     string
	partition int
}

// add converts msg into its row (if any) and adds it to the batch.
func (l *Loader) add(m *kafka.Message) {
	if len(l.run.marks) == 0 {
		l.run.opened = time.Now()
	}
	key := partitionKey{m.Topic, m.Partition}
	if off, ok := l.run.marks[key]; !ok || m.Offset > off {
		l.run.marks[key] = m.Offset
	}

	table, row, err := l.convert(m)
	l.mu.Lock()
	l.mu.stats.Messages++
	var se *skipError
	if errors.As(err, &se) {
		l.mu.stats.Skipped[se.reason]++
	}
	l.mu.Unlock()
	if err != nil {
		// Malformed events are expected: the stream dead-lettered them
		// too, and the dlq table has them.
		level := slog.LevelWarn
		if table == TableEvents {
			level = slog.LevelDebug
		}
		l.log.Log(context.Background(), level, "message skipped", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
		return
	}
	l.run.rows[table] = append(l.run.rows[table], row)
	l.run.nrows++
}

func (l *Loader) convert(m *kafka.Message) (string, Row, error) {
	switch l.routes[m.Topic] {
	case kindEvents:
		row, err := eventRow(m)
		return TableEvents, row, err
	case kindDecisions:
		row, err := decisionRow(m)
		return TableDecisions, row, err
	case kindFacts:
		return factRow(m)
	case kindDLQ:
		return TableDLQ, dlqRow(m), nil
	default:
		return "", nil, skip(SkipUnknownTopic, "topic %q is not configured", m.Topic)
	}
}

// flush inserts the batch, table by table, retrying each until it lands or
// ctx is done, then commits the batch's offsets. It returns an error only if
// ctx is done first; the batch (less the tables already inserted) is kept.
func (l *Loader) flush(ctx context.Context) error {
	for _, t := range Tables() {
		rows := l.run.rows[t.Name]
		if len(rows) == 0 || l.run.done[t.Name] {
			continue
		}
		if err := l.insert(ctx, t.Name, rows); err != nil {
			return err
		}
		l.run.done[t.Name] = true
	}
	if err := l.commit(ctx); err != nil {
		return err
	}
	for table, rows := range l.run.rows {
		clear(rows) // drop references, keep capacity
		l.run.rows[table] = rows[:0]
	}
	clear(l.run.done)
	clear(l.run.marks)
	l.run.nrows = 0
	return nil
}

// insert retries until rows are in or ctx is done.
func (l *Loader) insert(ctx context.Context, table string, rows []Row) error {
	backoff := insertBackoffMin
	for attempt := 1; ; attempt++ {
		err := l.sink.Insert(ctx, table, rows)
		if err == nil {
			l.mu.Lock()
			l.mu.stats.Inserts++
			l.mu.stats.Rows[table] += int64(len(rows))
			l.mu.Unlock()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		l.mu.Lock()
		l.mu.stats.Retries++
		l.mu.stats.LastError = err.Error()
		l.mu.Unlock()
		l.log.Warn("insert failed; retrying", "table", table, "rows", len(rows), "attempt", attempt, "backoff", backoff, "err", err)
		if !sleep(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(2*backoff, insertBackoffMax)
	}
}

// commit commits the batch's offsets. A failed commit (the group rebalanced,
// the broker is gone) is logged and forgotten: the rows are in, and the
// messages will be delivered and inserted again, which the tables collapse.
func (l *Loader) commit(ctx context.Context) error {
	if len(l.run.marks) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, 0, len(l.run.marks))
	for k, off := range l.run.marks {
		msgs = append(msgs, kafka.Message{Topic: k.topic, Partition: k.partition, Offset: off})
	}
	cctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	err := l.reader.CommitMessages(cctx, msgs...)
	if err == nil {
		l.mu.Lock()
		l.mu.stats.Commits++
		l.mu.Unlock()
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	l.noteError(err)
	l.log.Warn("commit failed; these messages will be loaded again", "partitions", len(l.run.marks), "err", err)
	return nil
}

func (l *Loader) noteError(err error) {
	l.mu.Lock()
	l.mu.stats.LastError = err.Error()
	l.mu.Unlock()
}

// Close stops Run, inserts what is buffered and commits it (retrying until
// ctx is done), then closes the Kafka reader and the sink. Rows that could not
// be inserted before ctx was done are not committed: they are loaded again by
// the next Loader of the group.
func (l *Loader) Close(ctx context.Context) error {
	l.stopOnce.Do(func() { close(l.stop) })
	l.run.Lock() // waits for Run to return
	defer l.run.Unlock()
	if l.run.closed {
		return nil
	}
	l.run.closed = true

	var errs []error
	if len(l.run.marks) > 0 {
		if err := l.flush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("sinks: loader: close: %d rows not loaded (they will be loaded again from Kafka): %w", l.run.nrows, err))
		}
	}
	if err := l.reader.Close(); err != nil {
		errs = append(errs, fmt.Errorf("sinks: loader: close Kafka reader: %w", err))
	}
	if err := l.sink.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
