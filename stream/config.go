package stream

import "time"

// Defaults for Config fields; each field's comment states which applies.
const (
	DefaultGroupID         = "rekindle"
	DefaultLoaderGroupID   = "rekindle-loader"
	DefaultEventsTopic     = "events"
	DefaultDLQTopic        = "events.dlq"
	DefaultFactsTopic      = "rekindle.facts"
	DefaultSendsPrefix     = "sends."
	DefaultPartitions      = 8
	DefaultSessionTimeout  = 10 * time.Second
	DefaultStateDir        = "rekindle-data"
	DefaultBatchSize       = 2000
	DefaultBatchWait       = 5 * time.Millisecond
	DefaultMaxEventBytes   = 64 << 10
	DefaultMaxFutureSkew   = 24 * time.Hour
	DefaultCacheUsers      = 200_000
	DefaultSyncInterval    = 200 * time.Millisecond
	DefaultHTTPListen      = "127.0.0.1:8080"
	DefaultClickHouseDB    = "rekindle"
	DefaultCHBatchRows     = 50_000
	DefaultCHFlushInterval = time.Second
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
	SessionTimeout time.Duration `yaml:"session_timeout"`
}

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
	// SyncInterval: how often committed batches are made durable with one
	// fsync (default DefaultSyncInterval). Batches commit without fsync; a
	// machine crash loses at most this much state, which is then rebuilt by
	// re-reading its inputs (their offsets are lost with it).
	SyncInterval time.Duration `yaml:"sync_interval"`
}

// ProcessingConfig tunes the processing loop.
type ProcessingConfig struct {
	// BatchSize: events per commit at most (default DefaultBatchSize).
	BatchSize int `yaml:"batch_size"`
	// BatchWait: how long a batch waits to fill up (default DefaultBatchWait).
	BatchWait time.Duration `yaml:"batch_wait"`
	// MaxEventBytes: larger records go to the DLQ (default DefaultMaxEventBytes).
	MaxEventBytes int `yaml:"max_event_bytes"`
	// MaxFutureSkew: events further in the future than this go to the DLQ
	// (default DefaultMaxFutureSkew).
	MaxFutureSkew time.Duration `yaml:"max_future_skew"`
}

// ClickHouseConfig enables the loader when Addr is set.
type ClickHouseConfig struct {
	Addr     string `yaml:"addr"`     // host:port of the native protocol; empty: no loader
	Database string `yaml:"database"` // default DefaultClickHouseDB
	User     string `yaml:"user"`     // default "default"
	Password string `yaml:"password"`
	// BatchRows: rows per insert at most (default DefaultCHBatchRows).
	BatchRows int `yaml:"batch_rows"`
	// FlushInterval: longest wait before an insert (default DefaultCHFlushInterval).
	FlushInterval time.Duration `yaml:"flush_interval"`
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
	Event string `yaml:"event"` // event name, after vocabulary mapping
}
