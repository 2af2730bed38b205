package sinks_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/rekindle/rekindle/sinks"
)

// readJSONLines decodes every line of path into a map, numbers as json.Number.
func readJSONLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%s line %d: %v: %s", path, len(out)+1, err, sc.Bytes())
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sampleRows returns two rows of every table, with awkward strings.
func sampleRows() map[string][]sinks.Row {
	at := time.Date(2024, 3, 5, 12, 34, 56, 0, time.UTC)
	day := time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)
	odd := "quote \" backslash \\ newline \n tab \t <html> & é 🎉"
	return map[string][]sinks.Row{
		sinks.TableEvents: {
			{day, at, "m1", "u1", "a1", "track", "Order Completed", `{"revenue":12.5}`, "events", uint32(2), uint64(1 << 40)},
			{day, at, "m2", odd, "", "identify", "", "{}", "events", uint32(0), uint64(0)},
		},
		sinks.TableDecisions: {
			{day, at, at.Add(time.Hour), "d1", "c1", "u1", "push", "t1", "Cart Added", "m1", "", `{"email":"x@y"}`, "sends.push", uint32(1), uint64(7)},
			{day, at, at, "d2", "c1", odd, "sms", "t2", "", "", "lapsed-30d", "{}", "sends.sms", uint32(3), uint64(8)},
		},
		sinks.TableSuppressions: {
			{"f1", at, "u1", "c1", "sms", "no_consent", "SMS Received", "m9"},
			{"f2", at, odd, "", "", "", "", ""},
		},
		sinks.TableConsentChanges: {
			{"f3", at, "u1", "sms", "subscribed", "unsubscribed", "SMS Received", "m9"},
			{"f4", at, "u2", "push", "granted", "denied", odd, ""},
		},
		sinks.TableSegmentChanges: {
			{"f5", at, "u1", "lapsed", uint8(1), "timer"},
			{"f6", at, "u1", "lapsed", uint8(0), "Order Completed"},
		},
		sinks.TableSegmentSizes: {
			{"s1", at, "lapsed", uint32(3), uint64(12345)},
			{"s2", at, odd, uint32(0), uint64(0)},
		},
		sinks.TableDLQ: {
			{at, "malformed_json", "unexpected EOF", "events", uint32(1), uint64(99), `{"type":`, "events.dlq", uint32(0), uint64(3)},
			{at, "", "", "", uint32(0), uint64(0), odd, "events.dlq", uint32(1), uint64(4)},
		},
	}
}

// jsonValue is how FileSink writes a value of a column of typ.
func jsonValue(typ string, v any) any {
	switch typ {
	case "Date":
		return v.(time.Time).Format(time.DateOnly)
	case "DateTime":
		return json.Number(fmt.Sprint(v.(time.Time).Unix()))
	case "String":
		return v
	default:
		return json.Number(fmt.Sprint(v))
	}
}

func TestFileSinkRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, err := sinks.NewFileSink(dir)
	if err != nil {
		t.Fatal(err)
	}
	rows := sampleRows()
	ctx := context.Background()
	for _, table := range sinks.Tables() {
		// Two inserts: the second appends.
		for _, r := range rows[table.Name] {
			if err := s.Insert(ctx, table.Name, []sinks.Row{r}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Insert(ctx, "nope", nil); err == nil {
		t.Error("Insert into an unknown table succeeded")
	}
	if err := s.Insert(ctx, sinks.TableSegmentChanges, []sinks.Row{{"f", "not a time", "u", "s", uint8(1), "c"}}); err == nil {
		t.Error("Insert of a mistyped row succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for _, table := range sinks.Tables() {
		got := readJSONLines(t, s.Path(table.Name))
		want := rows[table.Name]
		if len(got) != len(want) {
			t.Fatalf("%s: %d lines, want %d", table.Name, len(got), len(want))
		}
		for i, r := range want {
			exp := map[string]any{}
			for j, c := range table.Columns {
				exp[c.Name] = jsonValue(c.Type, r[j])
			}
			if !reflect.DeepEqual(got[i], exp) {
				t.Errorf("%s line %d:\n got %v\nwant %v", table.Name, i+1, got[i], exp)
			}
		}
	}
}

// TestFileSinkLoadsIntoClickHouse feeds FileSink's files to clickhouse-client
// as documented and compares what ClickHouse holds.
func TestFileSinkLoadsIntoClickHouse(t *testing.T) {
	addr := requireClickHouse(t)
	client, err := exec.LookPath("clickhouse-client")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("clickhouse-client not found, and CI is set")
		}
		t.Skip("clickhouse-client not found")
	}
	db := testDatabase(t, addr)
	conn := queryConn(t, addr, db) // creates the schema
	host, port, _ := strings.Cut(addr, ":")

	dir := t.TempDir()
	s, err := sinks.NewFileSink(dir)
	if err != nil {
		t.Fatal(err)
	}
	rows := sampleRows()
	for table, rs := range rows {
		if err := s.Insert(context.Background(), table, rs); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	for _, table := range sinks.Tables() {
		f, err := os.Open(s.Path(table.Name))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(client, "--host", host, "--port", port,
			"--query", fmt.Sprintf("INSERT INTO %s.%s FORMAT JSONEachRow", db, table.Name))
		cmd.Stdin = f
		out, err := cmd.CombinedOutput()
		f.Close()
		if err != nil {
			t.Fatalf("clickhouse-client < %s: %v: %s", filepath.Base(s.Path(table.Name)), err, out)
		}
	}
	// The awkward string survives, and times and numbers are exact.
	odd := rows[sinks.TableEvents][1][3].(string)
	var user string
	var at time.Time
	var offset uint64
	if err := conn.QueryRow(context.Background(), fmt.Sprintf("SELECT user_id, event_time, `offset` FROM `%s`.events WHERE message_id = 'm2'", db)).Scan(&user, &at, &offset); err != nil {
		t.Fatal(err)
	}
	if user != odd || !at.Equal(time.Date(2024, 3, 5, 12, 34, 56, 0, time.UTC)) || offset != 0 {
		t.Errorf("event m2 = %q %v %d", user, at, offset)
	}
	if err := conn.QueryRow(context.Background(), fmt.Sprintf("SELECT `offset` FROM `%s`.events WHERE message_id = 'm1'", db)).Scan(&offset); err != nil || offset != 1<<40 {
		t.Errorf("event m1 offset = %d, %v", offset, err)
	}
	for _, table := range sinks.Tables() {
		if n := count(t, conn, fmt.Sprintf("SELECT count() FROM `%s`.`%s`", db, table.Name)); n != 2 {
			t.Errorf("%s: %d rows loaded, want 2", table.Name, n)
		}
	}
}

// TestLoaderFileSinkAndMalformedInput runs the loader into a FileSink over
// good and malformed input: malformed messages are counted and committed,
// and the loader goes on.
func TestLoaderFileSinkAndMalformedInput(t *testing.T) {
	brokers := startBroker(t)
	var msgs []kafka.Message
	for i := range 20 {
		msgs = append(msgs, eventMessage(i))
		if i == 5 {
			msgs = append(msgs,
				kafka.Message{Topic: sinks.DefaultEventsTopic, Key: []byte("user-5"), Value: []byte("{not json")},
				kafka.Message{Topic: sinks.DefaultEventsTopic, Key: []byte("user-5"), Value: []byte(`"a string"`)},
				kafka.Message{Topic: sinks.DefaultEventsTopic, Key: []byte("user-5"), Value: []byte(`{"userId":{"nested":1}}`)},
				kafka.Message{Topic: "sends.push", Key: []byte("user-5"), Value: []byte(`{"user_id":"user-5"}`)}, // no decision_id
				kafka.Message{Topic: sinks.DefaultFactsTopic, Key: []byte("user-5"), Value: []byte(`{"kind":"suppression"`)},
			)
		}
	}
	produce(t, brokers, msgs)

	dir := t.TempDir()
	fs, err := sinks.NewFileSink(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sinks.LoaderConfig{Brokers: brokers, GroupID: "files", BatchRows: 7, FlushInterval: 50 * time.Millisecond, Logger: testLogger(t)}
	l, err := sinks.NewLoader(cfg, fs)
	if err != nil {
		t.Fatal(err)
	}
	stop := runLoader(t, l)
	waitFor(t, 30*time.Second, "loaded and committed", func() (bool, string) {
		s := l.Stats()
		return s.Rows[sinks.TableEvents] == 20 && s.Messages == int64(len(msgs)), fmt.Sprintf("%+v", s)
	})
	stop()
	s := l.Stats()
	wantSkipped := map[string]int64{sinks.SkipMalformedEvent: 3, sinks.SkipMalformedDecision: 1, sinks.SkipMalformedFact: 1}
	if !reflect.DeepEqual(s.Skipped, wantSkipped) {
		t.Errorf("Skipped = %v, want %v", s.Skipped, wantSkipped)
	}
	lines := readJSONLines(t, fs.Path(sinks.TableEvents))
	ids := map[string]bool{}
	for _, m := range lines {
		ids[m["message_id"].(string)] = true
	}
	if len(ids) != 20 {
		t.Errorf("%d distinct events in %s, want 20", len(ids), fs.Path(sinks.TableEvents))
	}

	// The same group resumes after the committed offsets, malformed
	// messages included: it loads only what is new.
	produce(t, brokers, []kafka.Message{eventMessage(20)})
	fs2, err := sinks.NewFileSink(filepath.Join(dir, "second"))
	if err != nil {
		t.Fatal(err)
	}
	l2, err := sinks.NewLoader(cfg, fs2)
	if err != nil {
		t.Fatal(err)
	}
	stop2 := runLoader(t, l2)
	waitFor(t, 30*time.Second, "the new event", func() (bool, string) {
		s := l2.Stats()
		return s.Rows[sinks.TableEvents] == 1, fmt.Sprintf("%+v", s)
	})
	stop2()
	if s := l2.Stats(); s.Messages != 1 || len(s.Skipped) != 0 {
		t.Errorf("second loader: %+v, want exactly the one new message", s)
	}
	if got := readJSONLines(t, fs2.Path(sinks.TableEvents)); len(got) != 1 || got[0]["message_id"] != "msg-0020" {
		t.Errorf("second loader wrote %v", got)
	}
}

func TestLoaderConfigValidate(t *testing.T) {
	ok := sinks.LoaderConfig{Brokers: []string{"127.0.0.1:9092"}}
	if err := ok.Validate(); err != nil {
		t.Errorf("minimal config: %v", err)
	}
	for name, cfg := range map[string]sinks.LoaderConfig{
		"no brokers":      {},
		"negative rows":   {Brokers: ok.Brokers, BatchRows: -1},
		"negative flush":  {Brokers: ok.Brokers, FlushInterval: -time.Second},
		"duplicate topic": {Brokers: ok.Brokers, SendTopics: []string{"sends.push", "events"}},
		"empty send":      {Brokers: ok.Brokers, SendTopics: []string{""}},
	} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, cfg)
		}
		if _, err := sinks.NewLoader(cfg, nil); err == nil {
			t.Errorf("%s: NewLoader accepted %+v", name, cfg)
		}
	}
	if _, err := sinks.NewLoader(ok, nil); err == nil {
		t.Error("NewLoader accepted a nil sink")
	}
}

func TestSchemaDDL(t *testing.T) {
	stmts, err := sinks.SchemaDDL("rekindle")
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 1+len(sinks.Tables()) {
		t.Fatalf("%d statements", len(stmts))
	}
	for _, s := range stmts[1:] {
		for _, banned := range []string{"LowCardinality", "DateTime64", "Map(", "TTL"} {
			if strings.Contains(s, banned) {
				t.Errorf("DDL uses %s, which ClickHouse 18.16 lacks:\n%s", banned, s)
			}
		}
		if !strings.Contains(s, "ReplacingMergeTree") {
			t.Errorf("not a ReplacingMergeTree:\n%s", s)
		}
	}
	for _, bad := range []string{"", "a-b", "1db", "x`; DROP", "db.t"} {
		if _, err := sinks.SchemaDDL(bad); err == nil {
			t.Errorf("SchemaDDL(%q) accepted", bad)
		}
	}
}
