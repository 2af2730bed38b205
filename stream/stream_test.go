package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/rekindle/rekindle/sinks"
	"github.com/rekindle/rekindle/state"
)

func mustProcessor(t testing.TB, yaml string) *Processor {
	t.Helper()
	cfg, err := ParseConfig("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProcessor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// openTestStore opens a Pebble store in a temporary directory; it is
// closed when the test ends.
func openTestStore(t testing.TB) *state.Store {
	t.Helper()
	store, err := state.Open(state.Options{Dir: t.TempDir(), Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// openTestPartition opens partition part of store for p.
func openTestPartition(t testing.TB, p *Processor, store *state.Store, part int32) *PartitionState {
	t.Helper()
	ps, err := p.NewPartitionState(store.Partition(part), part)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

type replayed struct {
	decisions, facts, dlq []byte
	stats                 ReplayStats
}

func replay(t testing.TB, p *Processor, events string) replayed {
	t.Helper()
	var d, f, q bytes.Buffer
	stats, err := Replay(context.Background(), p, ReplayOptions{Events: strings.NewReader(events), Decisions: &d, Facts: &f, DeadLetters: &q})
	if err != nil {
		t.Fatal(err)
	}
	return replayed{d.Bytes(), f.Bytes(), q.Bytes(), stats}
}

func lines[T any](t testing.TB, data []byte) []T {
	t.Helper()
	var out []T
	for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(l, &v); err != nil {
			t.Fatalf("output line %q: %v", l, err)
		}
		out = append(out, v)
	}
	return out
}

const campaignYAML = `
campaigns:
  - id: thanks
    trigger: {event: Order Completed}
    channels: [push, email]
    template: thank-you
  - id: cart
    trigger: {event: Wishlist Shared}
    channels: [sms]
    template: wish
`

func ev(user, msgID, ts, name, props string) string {
	if props == "" {
		props = "{}"
	}
	return fmt.Sprintf(`{"type":"track","userId":%q,"messageId":%q,"timestamp":%q,"event":%q,"properties":%s}`, user, msgID, ts, name, props)
}

func TestDecisionOnFirstConsentedChannel(t *testing.T) {
	p := mustProcessor(t, campaignYAML)
	events := strings.Join([]string{
		ev("a", "m1", "2026-01-01T10:00:00Z", "Push Permission Changed", `{"granted":true}`),
		ev("a", "m2", "2026-01-01T10:01:00Z", "Order Completed", `{"revenue":12.5}`),
		ev("b", "m3", "2026-01-01T10:00:00Z", "Email Subscription Changed", `{"status":"subscribed"}`),
		ev("b", "m4", "2026-01-01T10:02:00Z", "Order Completed", `{"revenue":3}`),
		ev("c", "m5", "2026-01-01T10:03:00Z", "Order Completed", `{"revenue":3}`),
		ev("c", "m6", "2026-01-01T10:04:00Z", "Wishlist Shared", `{}`),
	}, "\n")
	out := replay(t, p, events)
	ds := lines[sinks.Decision](t, out.decisions)
	if len(ds) != 2 {
		t.Fatalf("got %d decisions, want 2:\n%s", len(ds), out.decisions)
	}
	got := map[string]string{}
	for _, d := range ds {
		got[d.UserID] = d.Channel + "/" + d.CampaignID + "/" + d.Template + "/" + d.DecidedAt
		if d.Trigger.Event != "Order Completed" || d.Trigger.MessageID == "" {
			t.Errorf("decision %s: trigger %+v", d.DecisionID, d.Trigger)
		}
		if !strings.HasPrefix(d.DecisionID, "thanks:events/") {
			t.Errorf("decision id %q does not name campaign and input", d.DecisionID)
		}
	}
	want := map[string]string{
		"a": "push/thanks/thank-you/2026-01-01T10:01:00.000Z",
		"b": "email/thanks/thank-you/2026-01-01T10:02:00.000Z",
	}
	for u, w := range want {
		if got[u] != w {
			t.Errorf("user %s: got %q, want %q", u, got[u], w)
		}
	}
	var suppressed []string
	for _, f := range lines[sinks.Fact](t, out.facts) {
		if f.Kind == sinks.FactSuppression {
			suppressed = append(suppressed, f.UserID+"/"+f.CampaignID+"/"+f.Reason)
		}
	}
	if strings.Join(suppressed, ",") != "c/thanks/no_consent,c/cart/no_consent" {
		t.Errorf("suppressions = %v", suppressed)
	}
}

func TestConsentChangeTakesEffectAndIsAFact(t *testing.T) {
	p := mustProcessor(t, campaignYAML)
	events := strings.Join([]string{
		ev("a", "m1", "2026-01-01T10:00:00Z", "Push Permission Changed", `{"granted":true}`),
		ev("a", "m2", "2026-01-01T10:01:00Z", "Push Permission Changed", `{"granted":false}`),
		ev("a", "m3", "2026-01-01T10:02:00Z", "Order Completed", `{}`),
		ev("b", "m4", "2026-01-01T10:00:00Z", "Push Permission Changed", `{"granted":false}`),
		ev("s", "m5", "2026-01-01T10:00:00Z", "SMS Subscription Changed", `{"status":"subscribed"}`),
		ev("s", "m6", "2026-01-01T10:01:00Z", "SMS Received", `{"from":"+15550100","body":" stop "}`),
		ev("s", "m7", "2026-01-01T10:02:00Z", "Wishlist Shared", `{}`),
	}, "\n")
	out := replay(t, p, events)
	if len(out.decisions) != 0 {
		t.Fatalf("no decision may go to a channel the user left, got:\n%s", out.decisions)
	}
	var changes []string
	for _, f := range lines[sinks.Fact](t, out.facts) {
		if f.Kind == sinks.FactConsentChange {
			changes = append(changes, f.UserID+":"+f.Channel+":"+f.From+">"+f.To)
		}
	}
	want := "a:push:unknown>granted a:push:granted>revoked b:push:unknown>denied s:sms:unknown>subscribed s:sms:subscribed>unsubscribed"
	if got := strings.Join(changes, " "); got != want {
		t.Errorf("consent changes:\n got %s\nwant %s", got, want)
	}
}

func TestDuplicatesAndBadInputGoWhereTheyBelong(t *testing.T) {
	p := mustProcessor(t, campaignYAML)
	good := ev("a", "m1", "2026-01-01T10:00:00Z", "Email Subscription Changed", `{"status":"subscribed"}`)
	events := strings.Join([]string{
		good,
		`{"type":"track","userId":"a","event":"Order Completed"`, // truncated
		good, // duplicate messageId
		`{"type":"track","event":"Order Completed","messageId":"x"}`, // no id
		ev("a", "m9", "2026-01-01T10:00:00Z", "Email Subscription Changed", `{"status":"maybe"}`),
		`{"type":"grup","userId":"a"}`,
		ev("a", "m2", "2026-01-01T10:01:00Z", "Order Completed", `{}`),
	}, "\n")
	out := replay(t, p, events)
	if out.stats.Events != 2 || out.stats.Duplicates != 1 || out.stats.DLQ != 4 {
		t.Errorf("events=%d duplicates=%d dlq=%d, want 2, 1, 4", out.stats.Events, out.stats.Duplicates, out.stats.DLQ)
	}
	var reasons []string
	for _, d := range lines[map[string]string](t, out.dlq) {
		reasons = append(reasons, d[sinks.HeaderReason])
		if d["value"] == "" || d[sinks.HeaderError] == "" || d[sinks.HeaderOffset] == "" {
			t.Errorf("dead letter lacks value, error or offset: %v", d)
		}
	}
	if got := strings.Join(reasons, ","); got != "invalid_json,missing_id,invalid_property,unknown_type" {
		t.Errorf("DLQ reasons = %s", got)
	}
	if n := len(lines[sinks.Decision](t, out.decisions)); n != 1 {
		t.Errorf("got %d decisions, want 1 (the good events around bad ones are processed)", n)
	}
}

func replayFixture(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "replay_events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// replayCampaigns are the campaigns the replay fixture's tests run.
const replayCampaigns = `
campaigns:
  - {id: opened, trigger: {event: Application Opened}, channels: [push, inapp], template: hi}
  - {id: bought, trigger: {event: Order Completed}, channels: [email, sms, push], template: thanks}
`

func TestReplayIsByteIdentical(t *testing.T) {
	data := replayFixture(t)
	a := replay(t, mustProcessor(t, replayCampaigns), data)
	b := replay(t, mustProcessor(t, replayCampaigns), data)
	if len(a.decisions) == 0 || len(a.facts) == 0 {
		t.Fatalf("the fixture should produce decisions and facts (got %d, %d bytes)", len(a.decisions), len(a.facts))
	}
	if !bytes.Equal(a.decisions, b.decisions) || !bytes.Equal(a.facts, b.facts) || !bytes.Equal(a.dlq, b.dlq) {
		t.Fatal("two replays of the same input differ")
	}
	golden := filepath.Join("testdata", "replay_decisions.golden.jsonl")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		os.WriteFile(golden, a.decisions, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create it)", err)
	}
	if !bytes.Equal(a.decisions, want) {
		t.Errorf("decisions differ from %s (UPDATE_GOLDEN=1 rewrites it after a deliberate change)", golden)
	}
}

// A cache of two records evicts and reloads users all the time, and hands
// evicted records out again: the outputs are those of a cache that keeps
// everyone (the golden file's).
func TestReplayWithATinyCacheIsTheSame(t *testing.T) {
	data := replayFixture(t)
	big := replay(t, mustProcessor(t, replayCampaigns), data)
	tiny := replay(t, mustProcessor(t, replayCampaigns+"state:\n  cache_users: 2\n  commit_interval: 1ms\n"), data)
	if len(big.decisions) == 0 || !bytes.Equal(big.decisions, tiny.decisions) {
		t.Errorf("decisions differ with a 2-record cache (%d vs %d bytes)", len(big.decisions), len(tiny.decisions))
	}
	if !bytes.Equal(big.facts, tiny.facts) || !bytes.Equal(big.dlq, tiny.dlq) {
		t.Error("facts or dead letters differ with a 2-record cache")
	}
}

func TestPartitionOfMatchesKafkaGoMurmur2(t *testing.T) {
	b := &kafka.Murmur2Balancer{Consistent: true}
	for _, n := range []int{1, 3, 8, 16, 255} {
		ids := make([]int, n)
		for i := range ids {
			ids[i] = i
		}
		for i := 0; i < 2000; i++ {
			key := fmt.Sprintf("user-%d-%s", i, strings.Repeat("x", i%7))
			if got, want := PartitionOf(key, n), b.Balance(kafka.Message{Key: []byte(key)}, ids...); int(got) != want {
				t.Fatalf("PartitionOf(%q, %d) = %d, kafka-go says %d", key, n, got, want)
			}
		}
	}
}

func TestConfigErrorsNameFileLineAndKey(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"kafka:\n  partitions: 300\n", "x.yaml:2: kafka.partitions: 300 is out of range"},
		{"kafka:\n  partitons: 4\n", "x.yaml:2: unknown key partitons"},
		{"state:\n  block_cache_mb: 4\n", "x.yaml:2: state.block_cache_mb: 4: want 8 to 1048576 (MiB)"},
		{"kafka:\n  partitions: 4\n  compression: brotli\n", `x.yaml:3: kafka.compression: "brotli": want none, gzip, snappy, lz4 or zstd`},
		{"kafka:\n  isolation_level: read_comitted\n", `x.yaml:2: kafka.isolation_level: "read_comitted": want read_committed or read_uncommitted`},
		{"kafka:\n  brokers: [h:1]\n  sasl:\n    mechanism: SCRAM\n    username: u\n    password: p\n", `x.yaml:4: kafka.sasl.mechanism: "SCRAM": want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`},
		{"kafka:\n  brokers: [h:1]\n  sasl:\n    mechanism: PLAIN\n    username: u\n    password_env: REKINDLE_SURELY_UNSET\n", "x.yaml:6: kafka.sasl.password_env: REKINDLE_SURELY_UNSET is not set in the environment"},
		{"kafka:\n  brokers: [h:1]\n  sasl:\n    mechanism: PLAIN\n    password: p\n", "x.yaml:3: kafka.sasl.username: required"},
		{"kafka:\n  tls: {}\n", "x.yaml:2: kafka.tls: applies to kafka.brokers, and none is configured"},
		{"clickhouse:\n  addr: h:9000\n  password_env: REKINDLE_SURELY_UNSET\n", "x.yaml:3: clickhouse.password_env: REKINDLE_SURELY_UNSET is not set in the environment"},
		{"kafka:\n  brokers: [h:1]\n  sasl:\n    mechanism: PLAIN\n    username: u\n    password: p\n    password_env: P\n", "x.yaml:7: kafka.sasl.password_env: set with password: give one of the two"},
		{"kafka:\n  brokers: [h:1]\n  tls:\n    ca_file: /nonexistent/ca.pem\n", "x.yaml:4: kafka.tls.ca_file: open /nonexistent/ca.pem: no such file or directory"},
		{"kafka:\n  brokers: [h:1]\n  tls:\n    cert_file: c.pem\n", "x.yaml:3: kafka.tls.key_file: required with cert_file (c.pem)"},
		{"state:\n  background_duty: 1.5\n", "x.yaml:2: state.background_duty: 1.5: want a share of the time in (0, 1]"},
		{"kafka:\n  embedded_retention_mb: -5\n", "x.yaml:2: kafka.embedded_retention_mb: -5: must not be negative (0 keeps everything)"},
		{"kafka:\n  partitions: 2\n  embedded_retention: -1h\n", "x.yaml:3: kafka.embedded_retention: -1h"},
		{"campaigns:\n  - id: a\n    trigger: {event: X}\n    channels: [push, fax]\n", `x.yaml:4: campaigns[0].channels[1]: unknown channel "fax"`},
		{"campaigns:\n  - id: a\n    channels: [push]\n", "x.yaml:2: campaigns[0].trigger: campaign \"a\" needs exactly one of trigger.event"},
		{"segments:\n  lapsed_after: 30 days\n", `x.yaml:2: invalid duration "30 days"`},
		{"processing:\n  max_future_skew: soon\n", "x.yaml:2: "},
		{"processing:\n  batch_wait: 5ms\n", "x.yaml:2: unknown key batch_wait in section ProcessingConfig (removed: a batch is now whatever one fetch returns"},
		{"state:\n  dir: d\n  commit_interval: -1s\n", "x.yaml:3: state.commit_interval: -1s: must not be negative"},
		{"kafka: [\n", "x.yaml:"},
		{"vocabulary:\n  Bought: Order Done\n", `x.yaml:2: vocabulary.Bought: "Order Done" is not a built-in event name`},
	}
	for _, c := range cases {
		_, err := ParseConfig("x.yaml", []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config %q: error %v, want it to contain %q", c.yaml, err, c.want)
		}
	}
	cfg, err := ParseConfig("empty.yaml", nil)
	if err != nil || cfg.Topics.Events != DefaultEventsTopic || cfg.Processing.BatchSize != DefaultBatchSize ||
		cfg.State.CommitInterval != DefaultCommitInterval || cfg.Kafka.Compression != DefaultCompression ||
		cfg.EmbeddedRetentionBytes() != DefaultEmbeddedRetentionMB<<20 || cfg.Kafka.EmbeddedRetention != 0 {
		t.Errorf("empty config: %v, %+v", err, cfg.Topics)
	}
}

func TestVocabularyMapsCustomNames(t *testing.T) {
	p := mustProcessor(t, campaignYAML+"vocabulary:\n  Purchase: Order Completed\n")
	events := ev("a", "m1", "2026-01-01T10:00:00Z", "Email Subscription Changed", `{"status":"subscribed"}`) + "\n" +
		ev("a", "m2", "2026-01-01T10:01:00Z", "Purchase", `{"revenue":10}`)
	out := replay(t, p, events)
	ds := lines[sinks.Decision](t, out.decisions)
	if len(ds) != 1 || ds[0].Channel != "email" || ds[0].Trigger.Event != "Purchase" {
		t.Fatalf("a mapped name must trigger the campaign of its kind; got %s", out.decisions)
	}
}

func TestHugeRecordIsDeadLetteredWithinTheProducerLimit(t *testing.T) {
	p := mustProcessor(t, "processing:\n  max_event_bytes: 65536\n")
	huge := `{"type":"track","userId":"a","event":"X","properties":{"blob":"` + strings.Repeat("x", 2<<20) + `"}}`
	out := replay(t, p, huge+"\n"+ev("a", "m1", "2026-01-01T10:00:00Z", "Application Opened", ""))
	dl := lines[map[string]string](t, out.dlq)
	if out.stats.DLQ != 1 || out.stats.Events != 1 || len(dl) != 1 {
		t.Fatalf("dlq=%d events=%d", out.stats.DLQ, out.stats.Events)
	}
	if dl[0][sinks.HeaderReason] != "too_large" || len(dl[0]["value"]) != MaxDeadLetterBytes || dl[0][HeaderTruncated] != strconv.Itoa(len(huge)) {
		t.Errorf("dead letter: reason %q, %d bytes, truncated header %q", dl[0][sinks.HeaderReason], len(dl[0]["value"]), dl[0][HeaderTruncated])
	}
}

// A replay against a wall clock refuses an event from beyond it, as live,
// and its clock does not jump there: no timer fires on account of it.
func TestReplayRefusesEventsFromBeyondNow(t *testing.T) {
	p := mustProcessor(t, "")
	events := strings.Join([]string{
		ev("a", "a1", at(0), "Application Opened", ""),
		ev("b", "b1", "2099-01-01T00:00:00Z", "Application Opened", ""),
		ev("a", "a2", at(0.5), "Product Viewed", ""),
	}, "\n")
	var d, f, q bytes.Buffer
	stats, err := Replay(context.Background(), p, ReplayOptions{Events: strings.NewReader(events), Decisions: &d, Facts: &f, DeadLetters: &q,
		Now: t0.Add(time.Hour).UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	if stats.DLQ != 1 || !strings.Contains(q.String(), "2099") {
		t.Fatalf("DLQ %d: %s; want the 2099 event", stats.DLQ, q.String())
	}
	for _, fact := range lines[sinks.Fact](t, f.Bytes()) {
		if fact.Cause == "timer" || fact.UserID == "b" {
			t.Errorf("fact %+v: nothing should fire or happen to b", fact)
		}
	}
	// Without a wall clock the event is taken at its word (the old way).
	stats = replayStats(t, p, events)
	if stats.DLQ != 0 {
		t.Fatalf("Now unset: %d dead letters, want 0", stats.DLQ)
	}
}

func replayStats(t *testing.T, p *Processor, events string) ReplayStats {
	t.Helper()
	return replay(t, p, events).stats
}

// TestPasswordsFromTheEnvironment: password_env names the variable that
// holds a password (SASL's, ClickHouse's), read when the configuration is
// loaded.
func TestPasswordsFromTheEnvironment(t *testing.T) {
	t.Setenv("REKINDLE_TEST_CH_PASSWORD", "ch-secret")
	cfg, err := ParseConfig("x.yaml", []byte("clickhouse:\n  addr: h:9000\n  password_env: REKINDLE_TEST_CH_PASSWORD\n"))
	if err != nil {
		t.Fatal(err)
	}
	if pw, err := cfg.ClickHouse.Secret(); err != nil || pw != "ch-secret" {
		t.Errorf("clickhouse password %q, %v; want the variable's value", pw, err)
	}
	cfg, err = ParseConfig("x.yaml", []byte("clickhouse:\n  addr: h:9000\n  password: in-the-file\n"))
	if err != nil {
		t.Fatal(err)
	}
	if pw, err := cfg.ClickHouse.Secret(); err != nil || pw != "in-the-file" {
		t.Errorf("clickhouse password %q, %v; want the file's", pw, err)
	}
}
