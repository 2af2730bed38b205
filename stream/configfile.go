package stream

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/rekindle/rekindle/sinks"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/rekindle/rekindle/state"
	"github.com/rekindle/rekindle/stream/segment"
	"gopkg.in/yaml.v3"
)

// ConfigError is a configuration problem at a place in a file.
type ConfigError struct {
	File string
	Line int    // 0 when the key is absent from the file
	Key  string // dotted path, e.g. "campaigns[0].channels[1]"
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// LoadConfig reads, defaults and validates the YAML configuration at path.
func LoadConfig(path string) (Config, error) {
	return LoadConfigBrokers(path, nil)
}

// LoadConfigBrokers is LoadConfig with kafka.brokers replaced by brokers,
// when there are any (a command's flag), before the configuration is
// validated: kafka.tls and kafka.sasl are checked against them.
func LoadConfigBrokers(path string, brokers []string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return parseConfig(path, data, brokers)
}

var yamlLineRE = regexp.MustCompile(`^\s*line (\d+): (.*)$`)

// ParseConfig parses YAML configuration data; name is used in errors.
func ParseConfig(name string, data []byte) (Config, error) {
	return parseConfig(name, data, nil)
}

func parseConfig(name string, data []byte, brokers []string) (Config, error) {
	var cfg Config
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return cfg, yamlError(name, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) { // empty file: all defaults
		return cfg, yamlError(name, err)
	}
	if len(brokers) > 0 {
		cfg.Kafka.Brokers = brokers
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.File = name
			ce.Line = lineOf(&root, ce.Key)
			return cfg, ce
		}
		return cfg, fmt.Errorf("%s: %w", name, err)
	}
	return cfg, nil
}

// removedKeys are keys earlier versions accepted, with what became of them.
var removedKeys = map[string]string{
	"batch_wait": "removed: a batch is now whatever one fetch returns, at most processing.batch_size, processed at once",
}

func yamlError(name string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msgs := make([]string, 0, len(te.Errors))
		for _, e := range te.Errors {
			if m := yamlLineRE.FindStringSubmatch(e); m != nil {
				msg := strings.Replace(m[2], "field ", "unknown key ", 1)
				msg = strings.Replace(msg, " not found in type stream.", " in section ", 1)
				for key, why := range removedKeys {
					if strings.HasPrefix(m[2], "field "+key+" ") {
						msg += " (" + why + ")"
					}
				}
				msgs = append(msgs, name+":"+m[1]+": "+msg)
				continue
			}
			msgs = append(msgs, name+": "+e)
		}
		return errors.New(strings.Join(msgs, "\n"))
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s:%s: %s", name, m[1], m[2])
	}
	return fmt.Errorf("%s: %s", name, msg)
}

// lineOf finds the line of a dotted key path ("campaigns[0].channels[1]") in
// the YAML tree, or the line of its deepest present ancestor.
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, part := range strings.Split(path, ".") {
		key, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 && strings.HasSuffix(part, "]") {
			key = part[:i]
			idx, _ = strconv.Atoi(part[i+1 : len(part)-1])
		}
		if n.Kind != yaml.MappingNode {
			return line
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line = n.Content[i].Line
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return line
		}
		n = next
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return line
			}
			n = n.Content[idx]
			line = n.Line
		}
	}
	return line
}

func (c *Config) applyDefaults() {
	k := &c.Kafka
	if k.GroupID == "" {
		k.GroupID = DefaultGroupID
	}
	if k.LoaderGroupID == "" {
		k.LoaderGroupID = DefaultLoaderGroupID
	}
	if k.Partitions == 0 {
		k.Partitions = DefaultPartitions
	}
	if k.ReplicationFactor == 0 {
		k.ReplicationFactor = 1
	}
	if k.SessionTimeout == 0 {
		k.SessionTimeout = DefaultSessionTimeout
	}
	if k.Compression == "" {
		k.Compression = DefaultCompression
	}
	if k.IsolationLevel == "" {
		k.IsolationLevel = DefaultIsolationLevel
	}
	if k.EmbeddedRetentionMB == nil {
		n := DefaultEmbeddedRetentionMB
		k.EmbeddedRetentionMB = &n
	}
	t := &c.Topics
	if t.Events == "" {
		t.Events = DefaultEventsTopic
	}
	if t.DLQ == "" {
		t.DLQ = DefaultDLQTopic
	}
	if t.Facts == "" {
		t.Facts = DefaultFactsTopic
	}
	if t.SendsPrefix == "" {
		t.SendsPrefix = DefaultSendsPrefix
	}
	if c.State.Dir == "" {
		c.State.Dir = DefaultStateDir
	}
	if c.State.CacheUsers == 0 {
		c.State.CacheUsers = DefaultCacheUsers
	}
	if c.State.BlockCacheMB == 0 {
		c.State.BlockCacheMB = DefaultBlockCacheMB
	}
	if c.State.BackgroundDuty == 0 {
		c.State.BackgroundDuty = state.DefaultBackgroundDuty
	}
	if c.State.SyncInterval == 0 {
		c.State.SyncInterval = DefaultSyncInterval
	}
	if c.State.CommitInterval == 0 {
		c.State.CommitInterval = DefaultCommitInterval
	}
	p := &c.Processing
	if p.BatchSize == 0 {
		p.BatchSize = DefaultBatchSize
	}
	if p.MaxEventBytes == 0 {
		p.MaxEventBytes = DefaultMaxEventBytes
	}
	if p.MaxFutureSkew == 0 {
		p.MaxFutureSkew = DefaultMaxFutureSkew
	}
	ch := &c.ClickHouse
	if ch.Database == "" {
		ch.Database = DefaultClickHouseDB
	}
	if ch.User == "" {
		ch.User = "default"
	}
	if ch.BatchRows == 0 {
		ch.BatchRows = DefaultCHBatchRows
	}
	if ch.FlushInterval == 0 {
		ch.FlushInterval = DefaultCHFlushInterval
	}
	sg := &c.Segments
	for _, d := range []struct {
		field *Duration
		def   Duration
	}{
		{&sg.LapsedAfter, DefaultLapsedAfter}, {&sg.PurchaseLapsedAfter, DefaultPurchaseLapsedAfter},
		{&sg.EmailSunsetAfter, DefaultEmailSunsetAfter}, {&sg.NewUserWindow, DefaultNewUserWindow},
		{&sg.DisengagedWindow, DefaultDisengagedWindow}, {&sg.SizesInterval, DefaultSizesInterval},
		{&sg.SnapshotInterval, DefaultSnapshotInterval},
	} {
		if *d.field == 0 {
			*d.field = d.def
		}
	}
	if sg.DisengagedMessages == 0 {
		sg.DisengagedMessages = DefaultDisengagedMessages
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = DefaultHTTPListen
	}
}

// Defaults returns the configuration with every default applied.
func Defaults() Config {
	var c Config
	c.applyDefaults()
	return c
}

// Validate checks a defaulted configuration; the error is a *ConfigError
// naming the key.
func (c *Config) Validate() error {
	bad := func(key, format string, args ...any) error {
		return &ConfigError{Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	if c.Kafka.Partitions < 1 || c.Kafka.Partitions > 256 {
		return bad("kafka.partitions", "%d is out of range: rekindle supports 1 to 256 partitions", c.Kafka.Partitions)
	}
	if c.Kafka.ReplicationFactor < 1 {
		return bad("kafka.replication_factor", "%d: must be at least 1", c.Kafka.ReplicationFactor)
	}
	if c.Kafka.SessionTimeout < 0 {
		return bad("kafka.session_timeout", "%s: must be positive", c.Kafka.SessionTimeout)
	}
	if c.Kafka.EmbeddedRetentionMB != nil && *c.Kafka.EmbeddedRetentionMB < 0 {
		return bad("kafka.embedded_retention_mb", "%d: must not be negative (0 keeps everything)", *c.Kafka.EmbeddedRetentionMB)
	}
	if c.Kafka.EmbeddedRetention < 0 {
		return bad("kafka.embedded_retention", "%s: must not be negative (0 keeps everything)", c.Kafka.EmbeddedRetention)
	}
	if _, ok := sinks.Compressions[c.Kafka.Compression]; !ok {
		return bad("kafka.compression", "%q: want none, gzip, snappy, lz4 or zstd", c.Kafka.Compression)
	}
	if l := c.Kafka.IsolationLevel; l != ReadCommitted && l != ReadUncommitted {
		return bad("kafka.isolation_level", "%q: want read_committed or read_uncommitted", l)
	}
	if _, err := c.Kafka.Auth(); err != nil {
		return err
	}
	for i, b := range c.Kafka.Brokers {
		if !strings.Contains(b, ":") {
			return bad(fmt.Sprintf("kafka.brokers[%d]", i), "%q: want host:port", b)
		}
	}
	if c.Processing.BatchSize < 1 {
		return bad("processing.batch_size", "%d: must be at least 1", c.Processing.BatchSize)
	}
	if c.Processing.MaxEventBytes < 256 {
		return bad("processing.max_event_bytes", "%d: must be at least 256", c.Processing.MaxEventBytes)
	}
	if c.Processing.MaxFutureSkew < 0 {
		return bad("processing.max_future_skew", "%s: must not be negative", c.Processing.MaxFutureSkew)
	}
	if c.State.CacheUsers < 1 {
		return bad("state.cache_users", "%d: must be at least 1", c.State.CacheUsers)
	}
	if c.State.BlockCacheMB < 8 || c.State.BlockCacheMB > 1<<20 {
		return bad("state.block_cache_mb", "%d: want 8 to 1048576 (MiB)", c.State.BlockCacheMB)
	}
	if c.State.BackgroundDuty < 0 || c.State.BackgroundDuty > 1 {
		return bad("state.background_duty", "%g: want a share of the time in (0, 1] (1: flushes and compactions work flat out)", c.State.BackgroundDuty)
	}
	if c.State.SyncInterval < 0 {
		return bad("state.sync_interval", "%s: must not be negative", c.State.SyncInterval)
	}
	if c.State.CommitInterval < 0 {
		return bad("state.commit_interval", "%s: must not be negative", c.State.CommitInterval)
	}
	if c.ClickHouse.Addr != "" && !strings.Contains(c.ClickHouse.Addr, ":") {
		return bad("clickhouse.addr", "%q: want host:port of the native protocol (e.g. 127.0.0.1:9000)", c.ClickHouse.Addr)
	}
	if _, err := c.ClickHouse.Secret(); err != nil {
		return err
	}
	if c.ClickHouse.BatchRows < 1 {
		return bad("clickhouse.batch_rows", "%d: must be at least 1", c.ClickHouse.BatchRows)
	}
	for name, target := range c.Vocabulary {
		if _, ok := segment.KindByName(target); !ok {
			return bad("vocabulary."+name, "%q is not a built-in event name (e.g. \"Order Completed\")", target)
		}
	}
	if c.Segments.DisengagedMessages < 1 {
		return bad("segments.disengaged_messages", "%d: must be at least 1", c.Segments.DisengagedMessages)
	}
	segs, err := compileSegments(&c.Segments)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, cp := range c.Campaigns {
		key := fmt.Sprintf("campaigns[%d]", i)
		if cp.ID == "" {
			return bad(key+".id", "missing: every campaign needs an id")
		}
		if seen[cp.ID] {
			return bad(key+".id", "%q is used by an earlier campaign", cp.ID)
		}
		seen[cp.ID] = true
		set := 0
		for _, v := range []string{cp.Trigger.Event, cp.Trigger.SegmentEnter, cp.Trigger.SegmentExit} {
			if v != "" {
				set++
			}
		}
		if set != 1 {
			return bad(key+".trigger", "campaign %q needs exactly one of trigger.event, trigger.segment_enter, trigger.segment_exit", cp.ID)
		}
		for field, name := range map[string]string{"segment_enter": cp.Trigger.SegmentEnter, "segment_exit": cp.Trigger.SegmentExit} {
			if _, ok := segs.catalog.ID(name); name != "" && !ok {
				return bad(key+".trigger."+field, "unknown segment %q (built-in or under segments.definitions)", name)
			}
		}
		if len(cp.Channels) == 0 {
			return bad(key+".channels", "missing: campaign %q needs at least one channel", cp.ID)
		}
		for j, ch := range cp.Channels {
			if _, ok := state.ParseChannel(ch); !ok {
				return bad(fmt.Sprintf("%s.channels[%d]", key, j), "unknown channel %q (want push, email, sms or inapp)", ch)
			}
		}
	}
	return nil
}

// SendTopic returns the send topic of a channel.
func (c Config) SendTopic(ch state.Channel) string { return c.Topics.SendsPrefix + ch.String() }

// AllTopics returns every topic rekindle uses.
func (c Config) AllTopics() []string {
	ts := []string{c.Topics.Events, c.Topics.DLQ, c.Topics.Facts}
	for ch := state.Channel(0); ch < state.NumChannels; ch++ {
		ts = append(ts, c.SendTopic(ch))
	}
	return ts
}

// CreateTopicsEnabled reports whether missing topics are created (default true).
// EmbeddedRetentionBytes is kafka.embedded_retention_mb in bytes (its
// default when unset).
func (c Config) EmbeddedRetentionBytes() int64 {
	mb := DefaultEmbeddedRetentionMB
	if c.Kafka.EmbeddedRetentionMB != nil {
		mb = *c.Kafka.EmbeddedRetentionMB
	}
	return int64(mb) << 20
}

func (c Config) CreateTopicsEnabled() bool {
	return c.Kafka.CreateTopics == nil || *c.Kafka.CreateTopics
}
