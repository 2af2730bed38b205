package stream

import (
	"time"

	"github.com/rekindle/rekindle/sinks"
	"github.com/rekindle/rekindle/state"
)

// Defaults for Config fields; each field's comment states which applies.
const (
	DefaultGroupID     = "rekindle"
	DefaultCompression = "lz4"
	// DefaultIsolationLevel: records of aborted transactions are not
	// events (Kafka's read_committed).
	DefaultIsolationLevel = ReadCommitted
	// DefaultEmbeddedRetentionMB: 1 GiB per partition of the embedded
	// broker's log (8 partitions of 7 topics: at most 56 GiB).
	DefaultEmbeddedRetentionMB = 1024
	DefaultLoaderGroupID       = sinks.DefaultLoaderGroupID
	DefaultEventsTopic         = sinks.DefaultEventsTopic
	DefaultDLQTopic            = sinks.DefaultDLQTopic
	DefaultFactsTopic          = sinks.DefaultFactsTopic
	DefaultSendsPrefix         = "sends."
	DefaultPartitions          = 8
	DefaultSessionTimeout      = Duration(10 * time.Second)
	DefaultStateDir            = "rekindle-data"
	DefaultBatchSize           = 2000
	DefaultMaxEventBytes       = 64 << 10
	DefaultMaxFutureSkew       = Duration(24 * time.Hour)
	DefaultCacheUsers          = 200_000
	DefaultBlockCacheMB        = state.DefaultCacheBytes >> 20
	DefaultSyncInterval        = Duration(200 * time.Millisecond)
	DefaultCommitInterval      = Duration(time.Second)
	DefaultHTTPListen          = "127.0.0.1:8080"
	DefaultClickHouseDB        = sinks.DefaultDatabase
	DefaultCHBatchRows         = sinks.DefaultBatchRows
	DefaultCHFlushInterval     = Duration(sinks.DefaultFlushInterval)
)

// Config is rekindle's whole configuration, as read from rekindle.yaml. The
// zero value is valid: every field has a stated default.
type Config struct {
	Kafka      KafkaConfig      `yaml:"kafka"`
	Topics     TopicsConfig     `yaml:"topics"`
	State      StateConfig      `yaml:"state"`
	Processing ProcessingConfig `yaml:"processing"`
	ClickHouse ClickHouseConfig `yaml:"clickhouse"`
	HTTP       HTTPConfig       `yaml:"http"`
	// Vocabulary maps further event names to built-in kinds, e.g.
	// {"Purchase": "Order Completed"}.
	Vocabulary map[string]string `yaml:"vocabulary"`
	Campaigns  []CampaignConfig  `yaml:"campaigns"`
	Segments   SegmentsConfig    `yaml:"segments"`
}

// Segment defaults.
const (
	DefaultLapsedAfter         = Duration(30 * day)
	DefaultPurchaseLapsedAfter = Duration(60 * day)
	DefaultEmailSunsetAfter    = Duration(180 * day)
	DefaultNewUserWindow       = Duration(7 * day)
	DefaultDisengagedMessages  = 5
	DefaultDisengagedWindow    = Duration(30 * day)
	DefaultSizesInterval       = Duration(time.Minute)
	DefaultSnapshotInterval    = Duration(time.Minute)
)

// SegmentsConfig tunes the built-in segments and defines more.
type SegmentsConfig struct {
	// LapsedAfter: no activity of any kind for this long makes a user
	// `lapsed` (and `app_inactive`/`web_inactive` per surface); activity
	// within it makes them `active` (default DefaultLapsedAfter).
	LapsedAfter Duration `yaml:"lapsed_after"`
	// PurchaseLapsedAfter: a buyer with no purchase for this long is
	// `purchase_lapsed` (default DefaultPurchaseLapsedAfter).
	PurchaseLapsedAfter Duration `yaml:"purchase_lapsed_after"`
	// EmailSunsetAfter: a subscriber with no email open or click for this
	// long is `email_sunset` (default DefaultEmailSunsetAfter).
	EmailSunsetAfter Duration `yaml:"email_sunset_after"`
	// NewUserWindow: first seen within this is `new_user` (default DefaultNewUserWindow).
	NewUserWindow Duration `yaml:"new_user_window"`
	// DisengagedMessages and DisengagedWindow: at least this many messages
	// received on a channel with no open/click/tap within the window make a
	// user `<channel>_disengaged` (defaults DefaultDisengagedMessages, DefaultDisengagedWindow).
	DisengagedMessages int      `yaml:"disengaged_messages"`
	DisengagedWindow   Duration `yaml:"disengaged_window"`
	// SizesInterval: how often each partition writes its segment sizes
	// (default DefaultSizesInterval).
	SizesInterval Duration `yaml:"sizes_interval"`
	// SnapshotInterval: how often the bitmaps are saved with the state
	// (default DefaultSnapshotInterval); between snapshots they are rebuilt
	// from the user records after a crash.
	SnapshotInterval Duration `yaml:"snapshot_interval"`
	// Definitions are user-defined segments by name.
	Definitions map[string]SegmentDefinition `yaml:"definitions"`
}

// SegmentDefinition defines a segment by exactly one of: a trait
// comparison (Trait, Op, Value); an event history (Performed, Within,
// AtLeast, NotPerformed); or an expression over other segments (Expr).
type SegmentDefinition struct {
	Trait string `yaml:"trait"` // lifetime_value, purchases, cart_value, cart_items, events, country, timezone
	Op    string `yaml:"op"`    // ==, !=, >, >=, <, <=
	Value any    `yaml:"value"` // a number, or a string for country/timezone

	// Performed: the user did this event at least AtLeast times (default 1)
	// within the last Within (0: ever).
	Performed string   `yaml:"performed"`
	Within    Duration `yaml:"within"`
	AtLeast   int      `yaml:"at_least"`
	// NotPerformed: and has not done this event since the latest Performed one.
	NotPerformed string `yaml:"not_performed"`

	// Expr: boolean algebra over segment names with and, or, not, ().
	Expr string `yaml:"expr"`
}

// KafkaConfig says where Kafka is.
type KafkaConfig struct {
	// Brokers; empty starts the embedded broker on loopback.
	Brokers []string `yaml:"brokers"`
	// GroupID of the processor (default DefaultGroupID).
	GroupID string `yaml:"group_id"`
	// LoaderGroupID of the ClickHouse loader (default DefaultLoaderGroupID).
	LoaderGroupID string `yaml:"loader_group_id"`
	// CreateTopics creates missing topics on start (default true).
	CreateTopics *bool `yaml:"create_topics"`
	// Partitions of topics rekindle creates (default DefaultPartitions).
	Partitions int `yaml:"partitions"`
	// ReplicationFactor of topics rekindle creates (default 1).
	ReplicationFactor int `yaml:"replication_factor"`
	// SessionTimeout of the consumer groups (default 10s).
	SessionTimeout Duration `yaml:"session_timeout"`
	// Compression of the records rekindle writes (decisions, facts, dead
	// letters): none, gzip, snappy, lz4 or zstd (default
	// DefaultCompression). Every Kafka client reads them all; zstd needs
	// brokers of Kafka 2.1 or later.
	Compression string `yaml:"compression"`
	// IsolationLevel of the events topic's reads, as Kafka's consumers'
	// isolation.level: read_committed (the default) reads up to the last
	// stable offset and skips the records of aborted transactions;
	// read_uncommitted reads every record as soon as it is written.
	// Producers that write without transactions see no difference.
	IsolationLevel string `yaml:"isolation_level"`
	// TLS connects to the brokers over TLS (absent: plaintext).
	TLS *KafkaTLS `yaml:"tls"`
	// SASL authenticates to the brokers (absent: no authentication).
	SASL *KafkaSASL `yaml:"sasl"`
	// EmbeddedRetentionMB bounds each partition's log in the embedded
	// broker (no brokers configured), as Kafka's retention.bytes: past it
	// the oldest records are deleted (default
	// DefaultEmbeddedRetentionMB; 0 keeps everything).
	EmbeddedRetentionMB *int `yaml:"embedded_retention_mb"`
	// EmbeddedRetention deletes the embedded broker's records older than
	// this by their timestamps, as Kafka's retention.ms (default 0: kept).
	EmbeddedRetention Duration `yaml:"embedded_retention"`
}

// The isolation levels of KafkaConfig.IsolationLevel.
const (
	ReadCommitted   = "read_committed"
	ReadUncommitted = "read_uncommitted"
)

// TopicsConfig names the topics.
type TopicsConfig struct {
	Events string `yaml:"events"` // default DefaultEventsTopic
	DLQ    string `yaml:"dlq"`    // default DefaultDLQTopic
	Facts  string `yaml:"facts"`  // default DefaultFactsTopic
	// SendsPrefix + channel name is a send topic (default DefaultSendsPrefix).
	SendsPrefix string `yaml:"sends_prefix"`
}

// StateConfig says where Pebble keeps state.
type StateConfig struct {
	Dir string `yaml:"dir"` // default DefaultStateDir
	// CacheUsers is how many user records each partition keeps in memory
	// (default DefaultCacheUsers).
	CacheUsers int `yaml:"cache_users"`
	// BlockCacheMB: Pebble's block cache, in MiB, shared by the partitions
	// (default DefaultBlockCacheMB). A record not in the user cache is read
	// through it: with 2M active users and a 64 MiB cache, those reads took
	// 40% of the CPU (see state.DefaultCacheBytes).
	BlockCacheMB int `yaml:"block_cache_mb"`
	// BackgroundDuty: the share of wall time one of Pebble's memtable
	// flushes or compactions may work, in (0, 1] (default
	// state.DefaultBackgroundDuty): it sleeps the rest in slices of a few
	// milliseconds, so that its bursts do not queue the workers behind
	// them, unless the store falls behind. 1 works flat out.
	BackgroundDuty float64 `yaml:"background_duty"`
	// SyncInterval: how often committed batches are made durable with one
	// fsync (default DefaultSyncInterval). Batches commit without fsync; a
	// machine crash loses at most this much state, which is then rebuilt by
	// re-reading its inputs (their offsets are lost with it).
	SyncInterval Duration `yaml:"sync_interval"`
	// CommitInterval: how often a partition commits its dirty user records
	// and next offset (default DefaultCommitInterval). Outputs are written
	// after every batch, state less often: a user active in many batches is
	// written once per interval. A crash re-processes at most this much input
	// and re-emits its outputs with the same ids. A partition also commits
	// when half of cache_users are dirty, before a timer of a user re-armed
	// since the last commit is due, on snapshots, revocation and shutdown.
	CommitInterval Duration `yaml:"commit_interval"`
}

// ProcessingConfig tunes the processing loop.
type ProcessingConfig struct {
	// BatchSize: events per batch at most (default DefaultBatchSize); the
	// outputs of a batch are written together.
	BatchSize int `yaml:"batch_size"`
	// MaxEventBytes: larger records go to the DLQ (default DefaultMaxEventBytes).
	MaxEventBytes int `yaml:"max_event_bytes"`
	// MaxFutureSkew: events further in the future than this go to the DLQ
	// (default DefaultMaxFutureSkew).
	MaxFutureSkew Duration `yaml:"max_future_skew"`
}

// ClickHouseConfig enables the loader when Addr is set.
type ClickHouseConfig struct {
	Addr     string `yaml:"addr"`     // host:port of the native protocol; empty: no loader
	Database string `yaml:"database"` // default DefaultClickHouseDB
	User     string `yaml:"user"`     // default "default"
	Password string `yaml:"password"`
	// PasswordEnv names the environment variable holding the password,
	// instead of Password.
	PasswordEnv string `yaml:"password_env"`
	// BatchRows: rows per insert at most (default DefaultCHBatchRows).
	BatchRows int `yaml:"batch_rows"`
	// FlushInterval: longest wait before an insert (default DefaultCHFlushInterval).
	FlushInterval Duration `yaml:"flush_interval"`
}

// Secret returns the ClickHouse password: Password, or the value of the
// environment variable PasswordEnv names.
func (c *ClickHouseConfig) Secret() (string, error) {
	return secret(c.Password, c.PasswordEnv, "clickhouse")
}

// HTTPConfig configures the HTTP API.
type HTTPConfig struct {
	Listen string `yaml:"listen"` // default DefaultHTTPListen; "off" disables it
}

// CampaignConfig is one triggered campaign.
type CampaignConfig struct {
	ID       string        `yaml:"id"`
	Trigger  TriggerConfig `yaml:"trigger"`
	Channels []string      `yaml:"channels"` // in order of preference
	Template string        `yaml:"template"`
}

// TriggerConfig says what starts a campaign.
type TriggerConfig struct {
	Event        string `yaml:"event"`         // event name, after vocabulary mapping
	SegmentEnter string `yaml:"segment_enter"` // the user entered this segment
	SegmentExit  string `yaml:"segment_exit"`  // the user left this segment
}
