package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/rekindle/rekindle/sinks"
	"github.com/rekindle/rekindle/sinks/broker"
	"github.com/rekindle/rekindle/sinks/chtest"
	"github.com/rekindle/rekindle/state"
	"github.com/rekindle/rekindle/stream"
)

const testCampaigns = `
campaigns:
  - id: thanks
    trigger: {event: Order Completed}
    channels: [push, email]
    template: thank-you
`

// scenario is a deterministic input: users who consent differently and
// then buy, with malformed records between them. Expected outcomes follow
// from the construction, not from running rekindle.
type scenario struct {
	records   []kafka.Message
	perUser   map[string]int64 // well-formed, distinct events per user
	push      map[string]bool  // users expected to get a push decision
	email     map[string]bool  // users expected to get an email decision
	suppress  map[string]bool  // users expected to be suppressed
	malformed int
}

func newScenario(users int) *scenario {
	return newScenarioAt(users, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
}

// newScenarioAt is newScenario with its events a few minutes after base.
func newScenarioAt(users int, base time.Time) *scenario {
	s := &scenario{perUser: map[string]int64{}, push: map[string]bool{}, email: map[string]bool{}, suppress: map[string]bool{}}
	add := func(user, name, props string, minute int) {
		msgID := fmt.Sprintf("%s-%d", user, minute)
		v := fmt.Sprintf(`{"type":"track","userId":%q,"messageId":%q,"timestamp":%q,"event":%q,"properties":%s}`,
			user, msgID, base.Add(time.Duration(minute)*time.Minute).Format(time.RFC3339), name, props)
		s.records = append(s.records, kafka.Message{Key: []byte(user), Value: []byte(v)})
		s.perUser[user]++
	}
	for i := 0; i < users; i++ {
		u := fmt.Sprintf("user-%04d", i)
		s.records = append(s.records, kafka.Message{Key: []byte(u), Value: []byte(fmt.Sprintf(
			`{"type":"identify","userId":%q,"messageId":"%s-id","timestamp":%q,"traits":{"email":"%s@example.com"}}`,
			u, u, base.Add(-time.Hour).Format(time.RFC3339), u))})
		s.perUser[u]++
		add(u, "Application Opened", `{}`, 1)
		switch i % 3 {
		case 0:
			add(u, "Push Permission Changed", `{"granted":true}`, 2)
			s.push[u] = true
		case 1:
			add(u, "Email Subscription Changed", `{"status":"subscribed"}`, 2)
			s.email[u] = true
		default:
			s.suppress[u] = true
		}
		add(u, "Order Completed", `{"revenue":19.99,"order_id":"o-`+u+`"}`, 3)
		if i%10 == 0 {
			s.records = append(s.records, kafka.Message{Key: []byte(u), Value: []byte(`{"type":"track","userId":"` + u + `","event":"Order Completed"`)})
			s.records = append(s.records, kafka.Message{Key: []byte(u), Value: []byte(`{"type":"track","event":"Order Completed","properties":{}}`)})
			s.malformed += 2
		}
	}
	return s
}

func produce(t testing.TB, brokers []string, topic string, msgs []kafka.Message) {
	t.Helper()
	w := sinks.NewWriter(brokers, sinks.WriterOptions{})
	defer w.Close()
	for i := range msgs {
		msgs[i].Topic = topic
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce %d records: %v", len(msgs), err)
	}
}

// readTopic reads every record of every partition of topic up to its end.
func readTopic(t testing.TB, brokers []string, topic string) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := sinks.PartitionCount(ctx, brokers, nil, topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	for p := 0; p < n; p++ {
		conn, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("read %s/%d: %v", topic, p, err)
			}
			out = append(out, m)
			if m.Offset >= last-1 {
				break
			}
		}
		r.Close()
	}
	return out
}

// groupLag returns how far the group's committed offsets of topic are
// behind the ends of its partitions, in records.
func groupLag(t testing.TB, brokers []string, group, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := sinks.PartitionCount(ctx, brokers, nil, topic)
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]int, n)
	offs := make([]kafka.OffsetRequest, n)
	for p := range parts {
		parts[p], offs[p] = p, kafka.LastOffsetOf(p)
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	committed, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		t.Fatal(err)
	}
	ends, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: offs}})
	if err != nil {
		t.Fatal(err)
	}
	end := map[int]int64{}
	for _, po := range ends.Topics[topic] {
		end[po.Partition] = po.LastOffset
	}
	var lag int64
	for _, po := range committed.Topics[topic] {
		if po.Error != nil {
			t.Fatalf("group offset of %s/%d: %v", topic, po.Partition, po.Error)
		}
		// -1: nothing committed yet (an empty partition needs nothing).
		if po.CommittedOffset >= 0 || end[po.Partition] > 0 {
			lag += end[po.Partition] - max(po.CommittedOffset, 0)
		}
	}
	return lag
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func testConfig(t testing.TB, brokers []string, dir string, extra string) stream.Config {
	t.Helper()
	y := testCampaigns + "kafka:\n  brokers: [" + strings.Join(brokers, ",") + "]\n  session_timeout: 2s\n" +
		"state:\n  dir: " + dir + "\nprocessing:\n  batch_size: 50\nhttp:\n  listen: 127.0.0.1:0\n" + extra
	cfg, err := stream.ParseConfig("test.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startBroker(t testing.TB) *broker.Broker {
	t.Helper()
	b, err := broker.Start(broker.Options{Partitions: 4, Topics: stream.Defaults().AllTopics()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// decisionsByUser checks every decision once per id (re-emissions must be
// byte-identical) and returns user → channel.
func decisionsByUser(t testing.TB, brokers []string) map[string]string {
	t.Helper()
	byID := map[string]string{}
	got := map[string]string{}
	for _, ch := range []string{"push", "email", "sms", "inapp"} {
		for _, m := range readTopic(t, brokers, "sends."+ch) {
			var d sinks.Decision
			if err := json.Unmarshal(m.Value, &d); err != nil {
				t.Fatalf("decision %s: %v", m.Value, err)
			}
			if prev, ok := byID[d.DecisionID]; ok {
				if prev != string(m.Value) {
					t.Fatalf("decision %s emitted twice with different bytes:\n%s\n%s", d.DecisionID, prev, m.Value)
				}
				continue
			}
			byID[d.DecisionID] = string(m.Value)
			if string(m.Key) != d.UserID || d.Channel != ch {
				t.Errorf("decision %s on sends.%s with key %q: %s", d.DecisionID, ch, m.Key, m.Value)
			}
			if _, dup := got[d.UserID]; dup {
				t.Errorf("user %s got two distinct decisions", d.UserID)
			}
			got[d.UserID] = d.Channel
		}
	}
	return got
}

func checkDecisions(t *testing.T, s *scenario, got map[string]string) {
	t.Helper()
	for u := range s.push {
		if got[u] != "push" {
			t.Errorf("user %s: decision %q, want push", u, got[u])
		}
	}
	for u := range s.email {
		if got[u] != "email" {
			t.Errorf("user %s: decision %q, want email", u, got[u])
		}
	}
	for u := range s.suppress {
		if ch, ok := got[u]; ok {
			t.Errorf("user %s has no consent but got a %s decision", u, ch)
		}
	}
}

func TestEndToEndThroughEmbeddedBroker(t *testing.T) {
	chAddr := chtest.Require(t)
	db := chtest.Database(t, chAddr)
	b := startBroker(t)
	s := newScenario(300)
	produce(t, b.Addrs(), "events", s.records)

	cfg := testConfig(t, b.Addrs(), t.TempDir(), "clickhouse:\n  addr: "+chAddr+"\n  database: "+db+"\n  flush_interval: 200ms\n")
	p, err := Start(context.Background(), Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	wantEvents := int64(0)
	for _, n := range s.perUser {
		wantEvents += n
	}
	waitFor(t, "all events processed", time.Minute, func() bool {
		st := p.Stats()
		return st.Events+st.DLQ >= wantEvents+int64(s.malformed)
	})
	st := p.Stats()
	if st.Events != wantEvents || st.DLQ != int64(s.malformed) {
		t.Errorf("events=%d dlq=%d, want %d and %d", st.Events, st.DLQ, wantEvents, s.malformed)
	}
	// Everything read: the lag the workers report from their fetches is 0
	// (the last fetch may still be in flight, so wait for it).
	waitFor(t, "lag 0 in /v1/stats", 10*time.Second, func() bool { return p.Stats().Lag == 0 })
	// The workers have worked, waited for their outputs' acknowledgements
	// and for input.
	if w := p.Stats().WorkerSeconds; w.Working <= 0 || w.WaitingForAcks <= 0 || w.WaitingForInput <= 0 {
		t.Errorf("workers' seconds: %+v, want each above 0", w)
	}
	// Every input processed spent measured time in the processor, and
	// its batch's outputs were acknowledged.
	waitFor(t, "every input's outputs acknowledged", 10*time.Second, func() bool {
		return p.Stats().Latency.Acked == wantEvents+int64(s.malformed)
	})
	if l := p.Stats().Latency; l.Samples != wantEvents+int64(s.malformed) || l.WrittenP50 <= 0 ||
		l.WrittenP50 > l.WrittenP99 || l.WrittenP99 > l.WrittenP999 || l.AckedP50 < l.WrittenP50 || l.AckedP99 < l.WrittenP99 ||
		l.StartedP50 > l.WrittenP50 || l.StartedP99 > l.WrittenP99 || l.StartedP50 > l.StartedP99 {
		t.Errorf("processor latency %+v for %d inputs: want a sample each, quantiles above 0 in order, started before written before acked",
			l, wantEvents+int64(s.malformed))
	}
	// The process is younger than a minute: its last minute is all of it.
	if l := p.Stats().Latency; l.LastMinute.LatencyQuantiles != l.LatencyQuantiles || l.LastMinute.Seconds <= 0 || l.LastMinute.Seconds > 60 {
		t.Errorf("processor latency over the last minute %+v, want the same as since the start %+v", l.LastMinute, l.LatencyQuantiles)
	}
	// Every user was a cache miss once (the state started empty), and the
	// filter of stored users spared nearly all of them a read.
	if l := p.Stats().UserLoads; l.CacheMisses < int64(len(s.perUser)) || l.StoreReads > l.CacheMisses/10 {
		t.Errorf("user loads: %+v for %d users, want a miss each and few store reads", l, len(s.perUser))
	}
	// The state commits took time to encode and to apply.
	waitFor(t, "a state commit", 10*time.Second, func() bool { return p.Stats().Commits > 0 })
	if c := p.Stats().CommitSeconds; c.Encoding <= 0 || c.Applying <= 0 || c.MaxEncoding <= 0 || c.MaxEncoding > c.Encoding || c.MaxApplying > c.Applying {
		t.Errorf("commit seconds: %+v, want each above 0 and the longest within the sum", c)
	}
	// The consumer group's offsets (what lag monitors read) catch up with
	// the state too, though the last batches left the workers idle.
	waitFor(t, "group offsets at the end of every partition", 10*time.Second, func() bool {
		return groupLag(t, p.Brokers, cfg.Kafka.GroupID, "events") == 0
	})
	checkDecisions(t, s, decisionsByUser(t, p.Brokers))
	if got := len(readTopic(t, p.Brokers, "events.dlq")); got != s.malformed {
		t.Errorf("DLQ topic holds %d records, want %d", got, s.malformed)
	}
	var suppressions int
	for _, m := range readTopic(t, p.Brokers, "rekindle.facts") {
		var f sinks.Fact
		json.Unmarshal(m.Value, &f)
		if f.Kind == sinks.FactSuppression {
			suppressions++
			if !s.suppress[f.UserID] || f.Reason != stream.ReasonNoConsent {
				t.Errorf("unexpected suppression %s", m.Value)
			}
		}
	}
	if suppressions != len(s.suppress) {
		t.Errorf("%d suppressions, want %d", suppressions, len(s.suppress))
	}

	// ClickHouse holds the same decisions, suppressions, events and dead letters.
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{chAddr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	count := func(q string) uint64 {
		var n uint64
		if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	waitFor(t, "the loader to load every decision, suppression, event and dead letter", time.Minute, func() bool {
		return count("SELECT count() FROM "+db+".decisions FINAL") == uint64(len(s.push)+len(s.email)) &&
			count("SELECT count() FROM "+db+".suppressions FINAL") == uint64(len(s.suppress)) &&
			count("SELECT count() FROM "+db+".events FINAL WHERE message_id != ''") == uint64(wantEvents) &&
			count("SELECT count() FROM "+db+".dlq FINAL") == uint64(s.malformed)
	})
	rows, err := conn.Query(context.Background(), "SELECT user_id, channel FROM "+db+".decisions FINAL")
	if err != nil {
		t.Fatal(err)
	}
	loaded := map[string]string{}
	for rows.Next() {
		var u, ch string
		if err := rows.Scan(&u, &ch); err != nil {
			t.Fatal(err)
		}
		loaded[u] = ch
	}
	rows.Close()
	checkDecisions(t, s, loaded)
	if n := count("SELECT count() FROM " + db + ".consent_changes FINAL"); n != uint64(len(s.push)+len(s.email)) {
		t.Errorf("%d consent changes in ClickHouse, want %d", n, len(s.push)+len(s.email))
	}

	// The HTTP API shows a user's record; errors say what was wrong.
	resp, err := http.Get("http://" + p.HTTPAddr + "/v1/users/user-0000")
	if err != nil {
		t.Fatal(err)
	}
	var v stream.UserView
	json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if resp.StatusCode != 200 || v.Email != "user-0000@example.com" || v.Channels["push"].Consent != "granted" || v.Purchases != 1 {
		t.Errorf("GET /v1/users/user-0000: %d %+v", resp.StatusCode, v)
	}
	// Segments: the events are months old, so on the live clock everybody
	// lapses as soon as the timers run.
	getJSON := func(path string, wantStatus int, v any) {
		t.Helper()
		resp, err := http.Get("http://" + p.HTTPAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != wantStatus {
			t.Fatalf("GET %s: status %d, want %d", path, resp.StatusCode, wantStatus)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	var seg SegmentView
	waitFor(t, "every user in lapsed", 30*time.Second, func() bool {
		getJSON("/v1/segments/lapsed", 200, &seg)
		return seg.Size == uint64(len(s.perUser))
	})
	var aud struct{ Count uint64 }
	getJSON("/v1/audience?expr=lapsed%20and%20push_enabled%20and%20not%20email_subscribed", 200, &aud)
	if aud.Count != uint64(len(s.push)) {
		t.Errorf("audience count %d, want %d", aud.Count, len(s.push))
	}
	var bad struct {
		Error    string
		Position int
	}
	getJSON("/v1/audience?expr=lapsed%20and%20(push_enabled", 400, &bad)
	if bad.Position != 24 || !strings.Contains(bad.Error, `expected ")" to close "(" at position 11`) {
		t.Errorf("bad expression: %+v, want the end of input (24) and the unclosed parenthesis at 11", bad)
	}
	var member struct{ Member bool }
	getJSON("/v1/segments/push_enabled?member=user-0000", 200, &member)
	if !member.Member {
		t.Error("user-0000 granted push but is not a member of push_enabled")
	}
	resp, err = http.Get("http://" + p.HTTPAddr + "/v1/segments/email_subscribed/export?format=facebook")
	if err != nil {
		t.Fatal(err)
	}
	export, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	exported := strings.Split(strings.TrimSpace(string(export)), "\n")
	if exported[0] != "email,phone" || len(exported) != len(s.email)+1 {
		t.Fatalf("facebook export: header %q and %d rows, want %d", exported[0], len(exported)-1, len(s.email))
	}
	hashes := map[string]bool{}
	for u := range s.email {
		sum := sha256.Sum256([]byte(u + "@example.com"))
		hashes[hex.EncodeToString(sum[:])+","] = true
	}
	for _, row := range exported[1:] {
		if !hashes[row] {
			t.Errorf("export row %q is not the SHA-256 of a subscriber's normalised email", row)
		}
	}
	for format, want := range map[string]string{"csv": "user-0001,user-0001@example.com,,,", "ndjson": `{"country":"","email":"user-0001@example.com","phone":"","timezone":"","user_id":"user-0001"}`} {
		resp, err := http.Get("http://" + p.HTTPAddr + "/v1/segments/email_subscribed/export?format=" + format)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if n := strings.Count(string(body), "\n"); !strings.Contains(string(body), want+"\n") || n < len(s.email) {
			t.Errorf("%s export: %d lines, want a line %s:\n%.300s", format, n, want, body)
		}
	}
	resp, err = http.Get("http://" + p.HTTPAddr + "/v1/segments/email_subscribed/export?format=xml")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("export in an unknown format: status %d, want 400", resp.StatusCode)
	}
	// The live timer fired at the exact deadline: 30 days after the last activity.
	lapsedAt := ""
	for _, m := range readTopic(t, p.Brokers, "rekindle.facts") {
		var f sinks.Fact
		json.Unmarshal(m.Value, &f)
		if f.Kind == sinks.FactSegmentChange && f.UserID == "user-0000" && f.Segment == "lapsed" && *f.Entered {
			lapsedAt = f.At + " " + f.Cause
		}
	}
	if want := "2026-03-31T09:01:00.000Z timer"; lapsedAt != want {
		t.Errorf("user-0000 entered lapsed at %q, want %q", lapsedAt, want)
	}

	var withSegs struct{ Segments []string }
	getJSON("/v1/users/user-0001", 200, &withSegs)
	if !slices.Contains(withSegs.Segments, "email_subscribed") || !slices.Contains(withSegs.Segments, "lapsed") {
		t.Errorf("user-0001's segments: %v", withSegs.Segments)
	}

	resp, err = http.Get("http://" + p.HTTPAddr + "/v1/users/nobody")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unknown user: status %d, want 404", resp.StatusCode)
	}
}

// Crash safety runs the processor in child processes that die (os.Exit,
// no cleanup) at chosen points, against a broker in this process.
const crashEnv = "REKINDLE_CRASH_CHILD"

func TestMain(m *testing.M) {
	// Idle workers encode dirty records ahead of every commit, and every
	// commit checks that none changed behind its encoding.
	stream.EncodeAheadForTests()
	// A restarted partition processes events while it scans its stored
	// users, a user before each batch (none while idle).
	stream.ScanStoredForTests(1, 0, 1)
	if spec := os.Getenv(crashEnv); spec != "" {
		os.Exit(crashChild(spec))
	}
	os.Exit(m.Run())
}

// crashChild runs the pipeline and exits with status 3 at the crash point:
// "acked:N" after the N-th batch's outputs were acknowledged (before its
// state commit), "mid:N" in the middle of the N-th batch. The state commits
// every REKINDLE_COMMIT_INTERVAL: with 1ms every batch commits; with 1h none
// does (every batch is flushed, none committed). A commit is applied on
// another goroutine and may still be in flight at the crash, but a
// partition's next commit waits for it: a partition in its third batch has
// landed its first commit, so with 4 partitions N >= 9 implies some batch
// of this child committed.
func crashChild(spec string) int {
	var brokers []string
	json.Unmarshal([]byte(os.Getenv("REKINDLE_BROKERS")), &brokers)
	dir := os.Getenv("REKINDLE_STATE")
	kind, nStr, _ := strings.Cut(spec, ":")
	n, _ := strconv.Atoi(nStr)
	var batches, mids atomic.Int64
	var pl atomic.Pointer[Pipeline]
	// crash makes the batches committed before the crash point durable (as
	// the periodic sync would have), then dies without any cleanup.
	crash := func() {
		if p := pl.Load(); p != nil {
			p.Store.Sync()
		}
		os.Exit(3)
	}
	hooks := stream.Hooks{
		OutputsAcked: func(part int32, outputs int) {
			if kind == "acked" && outputs > 0 {
				if batches.Add(1) >= int64(n) {
					crash()
				}
			}
		},
		InBatch: func(part int32, i int) {
			if kind == "mid" && i == 10 {
				if mids.Add(1) >= int64(n) {
					crash()
				}
			}
		},
	}
	cfg := testConfig(nopT{}, brokers, dir, "")
	interval, err := time.ParseDuration(os.Getenv("REKINDLE_COMMIT_INTERVAL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	cfg.State.CommitInterval = stream.Duration(interval)
	p, err := Start(context.Background(), Options{Config: cfg, Hooks: hooks, NoHTTP: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	pl.Store(p)
	time.Sleep(2 * time.Minute) // the hook ends the process
	p.Close(context.Background())
	return 0
}

type nopT struct{ testing.TB }

func (nopT) Helper()                   {}
func (nopT) Fatal(args ...any)         { fmt.Fprintln(os.Stderr, args...); os.Exit(1) }
func (nopT) Fatalf(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...); os.Exit(1) }

func TestCrashSafetyExactlyOnce(t *testing.T) {
	b := startBroker(t)
	// Recent events: no absence timer is due during the test, so nothing
	// but the commit interval makes a partition commit.
	s := newScenarioAt(400, time.Now().UTC().Add(-time.Hour).Truncate(time.Minute))
	produce(t, b.Addrs(), "events", s.records)
	dir := filepath.Join(t.TempDir(), "state")
	brokers, _ := json.Marshal(b.Addrs())

	committed := func() (sum int64) {
		store, err := state.Open(state.Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		for part := int32(0); part < 4; part++ {
			o, _, err := store.Partition(part).Offset()
			if err != nil {
				t.Fatal(err)
			}
			sum += o
		}
		return sum
	}
	var progress int64
	for _, c := range []struct {
		spec, interval string
		progress       bool // some batch must have committed
	}{
		{"acked:2", "1ms", false},
		// Six batches flushed (outputs acknowledged), none committed: all
		// of it is processed again and re-emitted with the same ids.
		{"acked:6", "1h", false},
		{"mid:9", "1ms", true},
		{"acked:9", "1ms", true},
		{"mid:9", "1ms", true},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+c.spec, "REKINDLE_BROKERS="+string(brokers), "REKINDLE_STATE="+dir,
			"REKINDLE_COMMIT_INTERVAL="+c.interval)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("child %s (commit every %s): want exit status 3 (crash at the hook), got %v\n%s", c.spec, c.interval, err, out)
		}
		// Each run resumes where the last durable commit left off and
		// gets further: the restart path is exercised, not a rebuild.
		now := committed()
		switch {
		case c.progress && now <= progress:
			t.Errorf("after crash %s (commit every %s): %d inputs committed, no progress from %d", c.spec, c.interval, now, progress)
		case c.interval == "1h" && now != progress:
			t.Errorf("after crash %s (commit every %s): %d inputs committed, want still %d", c.spec, c.interval, now, progress)
		}
		progress = now
	}

	// Recover in process and finish.
	cfg := testConfig(t, b.Addrs(), dir, "")
	p, err := Start(context.Background(), Options{Config: cfg, NoHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	total := int64(len(s.records))
	waitFor(t, "every partition committed to the end", time.Minute, func() bool {
		var next int64
		for part := int32(0); part < int32(p.Partitions); part++ {
			o, ok, _ := p.Store.Partition(part).Offset()
			if ok {
				next += o
			}
		}
		return next == total
	})
	p.Close(context.Background())

	// Exactly-once state: every user's event counter equals the distinct
	// well-formed events produced for that user.
	store, err := state.Open(state.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var users []string
	for u := range s.perUser {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		var rec state.UserRecord
		found, err := store.Partition(stream.PartitionOf(u, 4)).GetUser(u, &rec)
		if err != nil || !found {
			t.Errorf("user %s (partition %d): found=%v err=%v", u, stream.PartitionOf(u, 4), found, err)
			continue
		}
		if int64(rec.Events) != s.perUser[u] || rec.Purchases != 1 {
			t.Errorf("user %s: %d events and %d purchases applied, want %d and 1", u, rec.Events, rec.Purchases, s.perUser[u])
		}
	}
	// Every decision present; duplicates only byte-identical (checked inside).
	checkDecisions(t, s, decisionsByUser(t, b.Addrs()))
}

// Two processors in one group split the partitions: each opens a worker
// on assignment and closes it on revocation; a partition that moves is
// rebuilt by its new owner from its own state (here: from the start), and
// its re-emitted outputs are byte-identical.
func TestRebalanceBetweenTwoProcessors(t *testing.T) {
	b := startBroker(t)
	s := newScenario(200)
	half := len(s.records) / 2
	produce(t, b.Addrs(), "events", s.records[:half])

	pa, err := Start(context.Background(), Options{Config: testConfig(t, b.Addrs(), t.TempDir(), ""), NoHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pa.Close(context.Background())
	waitFor(t, "the first processor to own every partition", 30*time.Second, func() bool { return pa.Stats().Partitions == 4 })

	pb, err := Start(context.Background(), Options{Config: testConfig(t, b.Addrs(), t.TempDir(), ""), NoHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pb.Close(context.Background())
	waitFor(t, "the partitions to be split between the two", 60*time.Second, func() bool {
		a, b := pa.Stats().Partitions, pb.Stats().Partitions
		return a > 0 && b > 0 && a+b == 4
	})
	produce(t, b.Addrs(), "events", s.records[half:])

	// Every partition's owner has processed it to the end.
	ends := map[int32]int64{}
	for _, m := range s.records {
		ends[stream.PartitionOf(string(m.Key), 4)]++
	}
	waitFor(t, "every partition processed to its end by its owner", 60*time.Second, func() bool {
		done := 0
		for part, end := range ends {
			for _, p := range []*Pipeline{pa, pb} {
				if _, owned := p.Runner.Registries()[part]; !owned {
					continue
				}
				if next, ok, _ := p.Store.Partition(part).Offset(); ok && next == end {
					done++
				}
			}
		}
		return done == len(ends)
	})
	checkDecisions(t, s, decisionsByUser(t, b.Addrs()))
}

// The broker restarts under a running processor: fetches fail and are
// retried, output produces wait it out, and once it is back every event is
// processed exactly once, every decision present and intact.
func TestBrokerRestartUnderTheProcessor(t *testing.T) {
	dir := t.TempDir()
	addr, err := broker.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	start := func() *broker.Broker {
		t.Helper()
		b, err := broker.StartRetrying(broker.Options{Listen: addr, Partitions: 4, Topics: stream.Defaults().AllTopics(),
			DataDir: filepath.Join(dir, "broker"), MinSessionTimeout: 100 * time.Millisecond}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := start()
	s := newScenario(200)
	half := len(s.records) / 2
	produce(t, b.Addrs(), "events", s.records[:half])
	p, err := Start(context.Background(), Options{Config: testConfig(t, b.Addrs(), filepath.Join(dir, "state"), ""), NoHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	processed := func() int64 { st := p.Stats(); return st.Events + st.DLQ }
	waitFor(t, "the first half processed", time.Minute, func() bool { return processed() >= int64(half) })

	b.Close()
	time.Sleep(time.Second)
	b = start()
	t.Cleanup(b.Close) // after the processor's Close
	produce(t, b.Addrs(), "events", s.records[half:])

	var total int64
	for _, n := range s.perUser {
		total += n
	}
	waitFor(t, "every partition committed to the end", 2*time.Minute, func() bool {
		var next int64
		for part := int32(0); part < 4; part++ {
			o, ok, _ := p.Store.Partition(part).Offset()
			if ok {
				next += o
			}
		}
		return next == int64(len(s.records))
	})
	for u, want := range s.perUser {
		var rec state.UserRecord
		found, err := p.Store.Partition(stream.PartitionOf(u, 4)).GetUser(u, &rec)
		if err != nil || !found || int64(rec.Events) != want {
			t.Errorf("user %s: found=%v err=%v, %d events applied, want %d", u, found, err, rec.Events, want)
		}
	}
	checkDecisions(t, s, decisionsByUser(t, b.Addrs()))
	// The fetches that failed while the broker was away are counted, and
	// the latest is named in /v1/stats.
	if st := p.Stats(); st.FetchErrors == 0 || st.LastFetchError == nil || st.LastFetchError.Error == "" {
		t.Errorf("fetch_errors %d, last_fetch_error %+v: want the outage's failed fetches", st.FetchErrors, st.LastFetchError)
	} else {
		t.Logf("%d failed fetches, the latest: %+v", st.FetchErrors, *st.LastFetchError)
	}
}

// A batch's outputs are written while the worker processes the next batch.
// The broker holds the first write of facts until the worker has processed
// another input, which the test produces only once the write is held: a
// worker that waited for its write would never get there (the hold gives up
// after 20 s and the test fails). The partition's outputs still arrive in
// the order they were made: every fact of the first round before any of the
// second.
func TestOutputsInFlightWhileTheNextBatchIsProcessed(t *testing.T) {
	b := startBroker(t)
	c := b.Cluster()
	var processed atomic.Int64
	held := make(chan int64, 1)      // inputs processed when the write was held
	progressed := make(chan bool, 1) // whether more were processed during the hold
	var holding atomic.Bool
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.ProduceRequest)
		facts := slices.ContainsFunc(req.Topics, func(t kmsg.ProduceRequestTopic) bool { return t.Topic == "rekindle.facts" })
		if !facts || !holding.CompareAndSwap(false, true) {
			return nil, nil, false
		}
		c.DropControl()
		n0 := processed.Load()
		held <- n0
		c.SleepControl(func() {
			for deadline := time.Now().Add(20 * time.Second); processed.Load() == n0 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		})
		progressed <- processed.Load() > n0
		return nil, nil, false // the broker writes it now
	})

	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	event := func(round int, name, props string) kafka.Message {
		id := fmt.Sprintf("r%d-%s", round, strings.ReplaceAll(name, " ", ""))
		return kafka.Message{Key: []byte("user-a"), Value: []byte(fmt.Sprintf(
			`{"type":"track","userId":"user-a","messageId":%q,"timestamp":%q,"event":%q,"properties":%s}`,
			id, at.Add(time.Duration(round)*time.Minute).Format(time.RFC3339), name, props))}
	}
	first := []kafka.Message{
		{Key: []byte("user-a"), Value: []byte(`{"type":"identify","userId":"user-a","messageId":"r1-identify","timestamp":"` +
			at.Format(time.RFC3339) + `","traits":{"email":"a@example.com"}}`)},
		event(1, "Application Opened", `{}`),
		event(1, "Push Permission Changed", `{"granted":true}`),
		event(1, "Email Subscription Changed", `{"status":"subscribed"}`),
	}
	second := []kafka.Message{
		event(2, "Push Permission Changed", `{"granted":false}`),
		event(2, "Email Subscription Changed", `{"status":"unsubscribed"}`),
	}
	produce(t, b.Addrs(), "events", first)

	cfg := testConfig(t, b.Addrs(), filepath.Join(t.TempDir(), "state"), "")
	p, err := Start(context.Background(), Options{Config: cfg, NoHTTP: true,
		Hooks: stream.Hooks{InBatch: func(int32, int) { processed.Add(1) }}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	select {
	case n := <-held:
		t.Logf("the first write of facts held after %d inputs", n)
	case <-time.After(time.Minute):
		t.Fatal("no write of facts within a minute")
	}
	produce(t, b.Addrs(), "events", second)
	if !<-progressed {
		t.Fatal("the worker processed nothing while its last batch's outputs were in flight")
	}
	waitFor(t, "both rounds processed", time.Minute, func() bool { return p.Stats().Events == int64(len(first)+len(second)) })

	var rounds []byte // the round of each fact of user-a, in the facts topic's order
	waitFor(t, "the second round's facts", time.Minute, func() bool {
		rounds = rounds[:0]
		for _, m := range readTopic(t, b.Addrs(), "rekindle.facts") {
			var f sinks.Fact
			if err := json.Unmarshal(m.Value, &f); err != nil {
				t.Fatalf("fact %s: %v", m.Value, err)
			}
			if f.UserID == "user-a" && len(f.MessageID) > 1 {
				rounds = append(rounds, f.MessageID[1])
			}
		}
		return bytes.IndexByte(rounds, '2') >= 0
	})
	if i := bytes.IndexByte(rounds, '1'); i < 0 || bytes.LastIndexByte(rounds, '1') > bytes.IndexByte(rounds, '2') {
		t.Errorf("facts by round in the topic's order: %s, want every 1 before any 2", rounds)
	}
}

// A batch's state is committed only once its outputs are acknowledged
// (guarantee 2), though the worker goes on meanwhile and the commit waits on
// a goroutine of its own: while the broker holds every write of outputs,
// with every batch due for a commit, no offset is stored.
func TestNoStateCommittedBeforeItsOutputsAreAcknowledged(t *testing.T) {
	b := startBroker(t)
	s := newScenarioAt(40, time.Now().UTC().Add(-time.Hour).Truncate(time.Minute))
	produce(t, b.Addrs(), "events", s.records)
	c := b.Cluster()
	held, released := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var holding atomic.Bool
	holding.Store(true)
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if holding.Load() {
			once.Do(func() { close(held) })
			c.SleepControl(func() { <-released })
		}
		return nil, nil, false // the broker writes it now
	})
	cfg := testConfig(t, b.Addrs(), filepath.Join(t.TempDir(), "state"), "")
	cfg.State.CommitInterval = stream.Duration(time.Millisecond)
	cfg.State.BlockCacheMB = 24
	p, err := Start(context.Background(), Options{Config: cfg, NoHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	if got := p.Store.CacheBytes(); got != 24<<20 {
		t.Errorf("Pebble's block cache: %d bytes, want state.block_cache_mb's 24 MiB", got)
	}
	select {
	case <-held:
	case <-time.After(time.Minute):
		t.Fatal("no write of facts within a minute")
	}
	stored := func() (parts int, sum int64) {
		for part := int32(0); part < int32(p.Partitions); part++ {
			o, ok, err := p.Store.Partition(part).Offset()
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				parts++
				sum += o
			}
		}
		return parts, sum
	}
	release := func() {
		holding.Store(false)
		close(released)
	}
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if n, sum := stored(); n > 0 {
			release()
			t.Fatalf("state of %d partitions committed (offsets summing to %d) while their outputs were held by the broker", n, sum)
		}
	}
	if p.Stats().Events == 0 {
		t.Fatal("nothing processed while the outputs were held")
	}
	release()
	want := int64(len(s.records))
	waitFor(t, "every input's state committed once the outputs are written", time.Minute, func() bool {
		_, sum := stored()
		return sum == want
	})
}

// A processor on its embedded broker (no kafka.brokers) restarts: with the
// broker's log persisted beside the state, the second run resumes where the
// state left off and processes only what arrived since, every event once.
// (With the log in memory the restarted broker is empty, the stored
// offsets point past its end and the new events are never processed.)
// Every user has events in both runs, so the second run loads each user
// stored by the first while it scans them into its filter of stored users
// (a user before each batch, see TestMain): a stored user taken for a new
// one would lose the first run's events.
func TestEmbeddedBrokerRestartsWithItsState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := newScenarioAt(60, time.Now().UTC().Add(-time.Hour).Truncate(time.Minute))
	var first, second []kafka.Message
	for i, m := range s.records {
		if i%2 == 0 {
			first = append(first, m)
		} else {
			second = append(second, m)
		}
	}
	cfg := testConfig(t, nil, dir, "")
	cfg.Kafka.Brokers = nil
	retentionMB := 512
	cfg.Kafka.EmbeddedRetentionMB, cfg.Kafka.EmbeddedRetention = &retentionMB, stream.Duration(48*time.Hour)
	partitions := 0
	run := func(records []kafka.Message, want int64) {
		t.Helper()
		p, err := Start(context.Background(), Options{Config: cfg, NoHTTP: true, PersistEmbeddedBroker: true})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(context.Background())
		if p.Embedded == nil {
			t.Fatal("no embedded broker started")
		}
		if b, age := p.Embedded.Retention(); b != 512<<20 || age != 48*time.Hour {
			t.Errorf("the embedded broker's retention: %d bytes, %s; want kafka.embedded_retention_mb 512 and embedded_retention 48h", b, age)
		}
		partitions = p.Partitions
		produce(t, p.Brokers, "events", records)
		waitFor(t, fmt.Sprintf("%d inputs processed", want), time.Minute, func() bool {
			st := p.Stats()
			return st.Events+st.DLQ+st.Duplicates >= want
		})
		time.Sleep(200 * time.Millisecond) // nothing more arrives
		if st := p.Stats(); st.Events+st.DLQ+st.Duplicates != want || st.Duplicates != 0 {
			t.Errorf("this run processed %d inputs (%d duplicates), want %d and none", st.Events+st.DLQ+st.Duplicates, st.Duplicates, want)
		}
	}
	run(first, int64(len(first)))
	if _, err := os.Stat(EmbeddedBrokerDir(cfg)); err != nil {
		t.Fatalf("the embedded broker's log: %v", err)
	}
	run(second, int64(len(second)))

	store, err := state.Open(state.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for u, want := range s.perUser {
		var rec state.UserRecord
		found, err := store.Partition(stream.PartitionOf(u, partitions)).GetUser(u, &rec)
		if err != nil || !found || int64(rec.Events) != want {
			t.Errorf("user %s: found=%v err=%v, %d events applied, want %d", u, found, err, rec.Events, want)
		}
	}
}

// A restarted worker that waits for input scans its stored users into its
// filter meanwhile (two at a time here, none before batches): once it is
// done, the users it rules out are created without a read, the stored
// ones are read, and none is taken for a new one.
func TestStoredUsersScannedWhileIdle(t *testing.T) {
	defer stream.ScanStoredForTests(1, 2, 0)()
	dir := filepath.Join(t.TempDir(), "state")
	s := newScenarioAt(40, time.Now().UTC().Add(-time.Hour).Truncate(time.Minute))
	cfg := testConfig(t, nil, dir, "")
	cfg.Kafka.Brokers = nil
	start := func() *Pipeline {
		t.Helper()
		p, err := Start(context.Background(), Options{Config: cfg, NoHTTP: true, PersistEmbeddedBroker: true})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	processed := func(p *Pipeline, want int64) {
		t.Helper()
		waitFor(t, fmt.Sprintf("%d inputs processed", want), time.Minute, func() bool {
			st := p.Stats()
			return st.Events+st.DLQ+st.Duplicates >= want
		})
	}
	p := start()
	produce(t, p.Brokers, "events", s.records)
	processed(p, int64(len(s.records)))
	partitions := p.Partitions
	p.Close(context.Background())

	// Restarted on that state; closed before the state is read below.
	want := map[string]int64{} // events per user in the end
	func() {
		p := start()
		defer p.Close(context.Background())
		waitFor(t, "every partition's stored users scanned while idle", time.Minute, func() bool {
			l := p.Stats().UserLoads
			return l.FiltersScanned == int64(partitions) && l.FiltersScanning == 0
		})
		at := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
		var more []kafka.Message
		for u, n := range s.perUser {
			more = append(more, kafka.Message{Key: []byte(u), Value: []byte(fmt.Sprintf(
				`{"type":"track","userId":%q,"messageId":"%s-again","timestamp":%q,"event":"Application Opened","properties":{}}`, u, u, at))})
			want[u] = n + 1
		}
		for i := range 40 {
			u := fmt.Sprintf("fresh-%02d", i)
			more = append(more, kafka.Message{Key: []byte(u), Value: []byte(fmt.Sprintf(
				`{"type":"track","userId":%q,"messageId":"%s-1","timestamp":%q,"event":"Application Opened","properties":{}}`, u, u, at))})
			want[u] = 1
		}
		produce(t, p.Brokers, "events", more)
		processed(p, int64(len(more)))
		// Each user a cache miss (a new process); the 40 stored ones read,
		// nearly none of the 40 new ones.
		if l := p.Stats().UserLoads; l.CacheMisses != int64(len(want)) || l.StoreReads < int64(len(s.perUser)) || l.StoreReads > int64(len(s.perUser))+4 {
			t.Errorf("user loads %+v, want %d misses and about %d reads: the filter complete before the events came", l, len(want), len(s.perUser))
		}
	}()

	store, err := state.Open(state.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for u, n := range want {
		var rec state.UserRecord
		found, err := store.Partition(stream.PartitionOf(u, partitions)).GetUser(u, &rec)
		if err != nil || !found || int64(rec.Events) != n {
			t.Errorf("user %s: found=%v err=%v, %d events applied, want %d", u, found, err, rec.Events, n)
		}
	}
}

// A state whose offset points past the end of its partition (here: an
// embedded broker that kept its log in memory, restarted empty) is an
// error that says what happened and what to do, recorded with the state:
// the partition is not processed, not even once the new log has grown past
// the stored offset (going on from there would skip the records before
// it), and not after a restart either.
func TestStateAheadOfTheLogStopsThePartition(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := newScenarioAt(20, time.Now().UTC().Add(-time.Hour).Truncate(time.Minute))
	cfg := testConfig(t, nil, dir, "")
	cfg.Kafka.Brokers, cfg.Kafka.Partitions = nil, 1
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelError}))
	for run := range 3 {
		p, err := Start(context.Background(), Options{Config: cfg, NoHTTP: true, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		// Every run's broker starts empty. The first run processes the
		// scenario; the next ones find the state ahead of the empty log,
		// then get more records than the state has seen.
		if run == 0 {
			produce(t, p.Brokers, "events", s.records)
			waitFor(t, "every input processed", time.Minute, func() bool {
				st := p.Stats()
				return st.Events+st.DLQ == int64(len(s.records))
			})
			p.Close(context.Background())
			continue
		}
		refusals := func() int { return strings.Count(logs.String(), "partition not processed") }
		before := refusals()
		waitFor(t, "the partition refused", time.Minute, func() bool { return refusals() > before })
		produce(t, p.Brokers, "events", append(slices.Clone(s.records), s.records[:5]...))
		before = refusals()
		waitFor(t, "the partition refused again, its log now past the stored offset", time.Minute, func() bool { return refusals() > before })
		if st := p.Stats(); st.Events+st.DLQ+st.Duplicates != 0 {
			t.Errorf("run %d processed %d inputs of a log that is not the state's, want none", run, st.Events+st.DLQ+st.Duplicates)
		}
		p.Close(context.Background())
	}
	if out := logs.String(); !strings.Contains(out, "is past the end of the partition's log") || !strings.Contains(out, "rekindle drop-partition --partition 0 --yes") {
		t.Errorf("log:\n%s", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestInputsDeletedByRetentionAreCounted: records of the events topic that
// its retention deleted while the processor was stopped are skipped from
// the stored offset to the oldest record left, logged, and counted in
// /v1/stats as inputs_lost_to_retention; the rest are processed.
func TestInputsDeletedByRetentionAreCounted(t *testing.T) {
	// Retention applied only when the test asks (a check an hour away).
	b, err := broker.Start(broker.Options{Partitions: 1, Topics: stream.Defaults().AllTopics(),
		RetentionBytes: 32 << 10, RetentionCheck: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := testConfig(t, b.Addrs(), filepath.Join(t.TempDir(), "state"), "")
	s := newScenario(200)
	const first = 100
	processed := func(p *Pipeline) int64 { st := p.Stats(); return st.Events + st.DLQ + st.Duplicates }

	p, err := Start(context.Background(), Options{Config: cfg, NoLoader: true, NoHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	produce(t, b.Addrs(), "events", s.records[:first])
	waitFor(t, "the first records processed", time.Minute, func() bool { return processed(p) == first })
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Batches of 20: retention deletes whole batches.
	for rest := s.records[first:]; len(rest) > 0; rest = rest[min(20, len(rest)):] {
		produce(t, b.Addrs(), "events", rest[:min(20, len(rest))])
	}
	b.Cluster().ApplyRetention()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(b.Addrs()...), Timeout: 10 * time.Second, Transport: tr}
	offs, err := client.ListOffsets(context.Background(), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		"events": {kafka.FirstOffsetOf(0), kafka.LastOffsetOf(0)}}})
	if err != nil {
		t.Fatal(err)
	}
	logStart, end := offs.Topics["events"][0].FirstOffset, offs.Topics["events"][0].LastOffset
	if end != int64(len(s.records)) || logStart <= first || logStart >= end {
		t.Fatalf("events log %d..%d after retention; want it to start past %d and end at %d", logStart, end, first, len(s.records))
	}

	p, err = Start(context.Background(), Options{Config: cfg, NoLoader: true, NoHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	waitFor(t, "the records left processed", time.Minute, func() bool { return processed(p) == end-logStart })
	if got := p.Stats().InputsLost; got != logStart-first {
		t.Errorf("inputs_lost_to_retention %d, want %d (offsets %d to %d deleted unprocessed)", got, logStart-first, first, logStart)
	}
	time.Sleep(200 * time.Millisecond) // nothing more arrives
	if got := processed(p); got != end-logStart {
		t.Errorf("after the restart %d records processed, want the %d left", got, end-logStart)
	}
}

// TestAbortedTransactionsAreNotEvents: events written in transactions by a
// transactional producer (franz-go's) are processed when the transaction
// commits and, with kafka.isolation_level read_committed (the default),
// never when it aborts: they are counted in /v1/stats as inputs_aborted.
// With read_uncommitted every record is an event.
func TestAbortedTransactionsAreNotEvents(t *testing.T) {
	for _, c := range []struct {
		level              string
		processed, aborted int64
	}{
		{stream.ReadCommitted, 40, 20},
		{stream.ReadUncommitted, 60, 0},
	} {
		t.Run(c.level, func(t *testing.T) {
			b, err := broker.Start(broker.Options{Partitions: 1, Topics: stream.Defaults().AllTopics()})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			cfg := testConfig(t, b.Addrs(), filepath.Join(t.TempDir(), "state"), "")
			if c.level != stream.DefaultIsolationLevel {
				cfg.Kafka.IsolationLevel = c.level
			}
			p, err := Start(context.Background(), Options{Config: cfg, NoLoader: true, NoHTTP: true})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(context.Background())

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.TransactionalID("upstream"), kgo.DefaultProduceTopic("events"))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			s := newScenario(60)
			// 20 records a transaction: committed, aborted, committed.
			for txn, commit := range []bool{true, false, true} {
				if err := cl.BeginTransaction(); err != nil {
					t.Fatal(err)
				}
				for _, m := range s.records[txn*20 : (txn+1)*20] {
					if err := cl.ProduceSync(ctx, &kgo.Record{Key: m.Key, Value: m.Value}).FirstErr(); err != nil {
						t.Fatal(err)
					}
				}
				if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
					t.Fatal(err)
				}
			}
			processed := func() int64 { st := p.Stats(); return st.Events + st.DLQ + st.Duplicates }
			waitFor(t, "the committed records processed", time.Minute, func() bool { return processed() >= c.processed })
			time.Sleep(300 * time.Millisecond) // nothing more arrives
			if got, aborted := processed(), p.Stats().InputsAborted; got != c.processed || aborted != c.aborted {
				t.Errorf("%d records processed and %d skipped as aborted, want %d and %d", got, aborted, c.processed, c.aborted)
			}
		})
	}
}
