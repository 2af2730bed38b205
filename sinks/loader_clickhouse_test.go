package sinks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/rekindle/rekindle/sinks"
)

// queryConn opens a connection for the test's own queries (the loader owns
// and closes its sink).
func queryConn(t *testing.T, addr, db string) driver.Conn {
	t.Helper()
	s, err := sinks.NewClickHouseSink(context.Background(), sinks.ClickHouseOptions{Addr: addr, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Conn()
}

func count(t *testing.T, conn driver.Conn, query string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func strings1(t *testing.T, conn driver.Conn, query string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// waitCounts waits until every table of want holds that many distinct rows.
func waitCounts(t *testing.T, conn driver.Conn, db string, want map[string]uint64) {
	t.Helper()
	waitFor(t, 90*time.Second, "rows in ClickHouse", func() (bool, string) {
		got := map[string]uint64{}
		for table := range want {
			got[table] = count(t, conn, fmt.Sprintf("SELECT count() FROM `%s`.`%s` FINAL", db, table))
		}
		for table, n := range want {
			if got[table] != n {
				return false, fmt.Sprint(got)
			}
		}
		return true, ""
	})
}

func seq(prefix string, n int, keep func(int) bool) []string {
	var out []string
	for i := range n {
		if keep == nil || keep(i) {
			out = append(out, fmt.Sprintf("%s-%04d", prefix, i))
		}
	}
	return out
}

func TestLoaderClickHouseEndToEnd(t *testing.T) {
	addr := requireClickHouse(t)
	db := testDatabase(t, addr)
	brokers := startBroker(t)

	const nEvents, nDecisions, nFacts, nDLQ = 300, 40, 30, 5
	var msgs []kafka.Message
	for i := range nEvents {
		msgs = append(msgs, eventMessage(i))
	}
	// Malformed events (also dead-lettered by the stream): counted, skipped.
	msgs = append(msgs,
		kafka.Message{Topic: sinks.DefaultEventsTopic, Key: []byte("x"), Value: []byte(`{"type":"track",`)},
		kafka.Message{Topic: sinks.DefaultEventsTopic, Key: []byte("y"), Value: []byte(`[1,2,3]`)},
	)
	for i := range nDecisions {
		d := decisionFor(i)
		v, _ := json.Marshal(d)
		msgs = append(msgs, kafka.Message{Topic: "sends." + d.Channel, Key: []byte(d.UserID), Value: v})
	}
	for i := range nFacts {
		f := factFor(i)
		v, _ := json.Marshal(f)
		msgs = append(msgs, kafka.Message{Topic: sinks.DefaultFactsTopic, Key: []byte(f.UserID), Value: v})
	}
	msgs = append(msgs, kafka.Message{Topic: sinks.DefaultFactsTopic, Key: []byte("u"), Value: []byte(`{"fact_id":"f-x","kind":"mystery"}`)})
	for i := range nDLQ {
		msgs = append(msgs, dlqMessage(i))
	}
	produce(t, brokers, msgs)

	ctx := context.Background()
	sink, err := sinks.NewClickHouseSink(ctx, sinks.ClickHouseOptions{Addr: addr, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	l, err := sinks.NewLoader(sinks.LoaderConfig{
		Brokers: brokers, GroupID: "e2e", BatchRows: 100, FlushInterval: 200 * time.Millisecond, Logger: testLogger(t),
	}, sink)
	if err != nil {
		t.Fatal(err)
	}
	stop := runLoader(t, l)

	conn := queryConn(t, addr, db)
	want := map[string]uint64{
		sinks.TableEvents:         nEvents,
		sinks.TableDecisions:      nDecisions,
		sinks.TableSuppressions:   nFacts / 3,
		sinks.TableConsentChanges: nFacts / 3,
		sinks.TableSegmentChanges: nFacts / 3,
		sinks.TableDLQ:            nDLQ,
	}
	waitCounts(t, conn, db, want)

	q := func(format string) string { return fmt.Sprintf(format, db) }
	check := func(what string, got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", what, got, want)
		}
	}
	check("event ids", strings1(t, conn, q("SELECT message_id FROM `%s`.events FINAL ORDER BY message_id")), seq("msg", nEvents, nil))
	check("decision ids", strings1(t, conn, q("SELECT decision_id FROM `%s`.decisions FINAL ORDER BY decision_id")), seq("dec", nDecisions, nil))
	check("suppression ids", strings1(t, conn, q("SELECT fact_id FROM `%s`.suppressions FINAL ORDER BY fact_id")), seq("fact", nFacts, func(i int) bool { return i%3 == 0 }))
	check("consent ids", strings1(t, conn, q("SELECT fact_id FROM `%s`.consent_changes FINAL ORDER BY fact_id")), seq("fact", nFacts, func(i int) bool { return i%3 == 1 }))
	check("segment ids", strings1(t, conn, q("SELECT fact_id FROM `%s`.segment_changes FINAL ORDER BY fact_id")), seq("fact", nFacts, func(i int) bool { return i%3 == 2 }))
	check("dlq source offsets", strings1(t, conn, q("SELECT toString(source_offset) FROM `%s`.dlq FINAL ORDER BY source_offset")), []string{"1000", "1001", "1002", "1003", "1004"})

	// Column values, one row of each table.
	check("event 7", strings1(t, conn, q("SELECT concat(toString(event_date), '|', toString(toUnixTimestamp(event_time)), '|', user_id, '|', anonymous_id, '|', type, '|', event, '|', properties, '|', topic) FROM `%s`.events WHERE message_id = 'msg-0007' LIMIT 1")),
		[]string{fmt.Sprintf("2024-03-08|%d|user-7|anon-7|track|Product Added|{\"cart_value\":107,\"sku\":\"s\\u00e9-7\"}|events", time.Date(2024, 3, 8, 10, 0, 7, 0, time.UTC).Unix())})
	check("decision 5", strings1(t, conn, q("SELECT concat(toString(decision_date), '|', toString(toUnixTimestamp(send_at)), '|', campaign_id, '|', user_id, '|', channel, '|', template, '|', trigger_event, '|', trigger_message_id, '|', attributes, '|', topic) FROM `%s`.decisions WHERE decision_id = 'dec-0005' LIMIT 1")),
		[]string{fmt.Sprintf(`2024-03-05|%d|cart-abandon|user-5|email|tpl-email|Product Added|msg-0005|{"email":"u5@example.com","properties":{"cart_value":150}}|sends.email`, time.Date(2024, 3, 5, 12, 30, 5, 0, time.UTC).Unix())})
	check("suppression 3", strings1(t, conn, q("SELECT concat(user_id, '|', campaign_id, '|', channel, '|', reason, '|', cause, '|', message_id) FROM `%s`.suppressions WHERE fact_id = 'fact-0003'")),
		[]string{"user-3|cart-abandon|sms|no_consent|SMS Received|msg-0003"})
	check("consent 4", strings1(t, conn, q("SELECT concat(channel, '|', `from`, '|', `to`, '|', toString(toUnixTimestamp(at))) FROM `%s`.consent_changes WHERE fact_id = 'fact-0004'")),
		[]string{fmt.Sprintf("sms|subscribed|unsubscribed|%d", time.Date(2024, 3, 6, 8, 0, 4, 0, time.UTC).Unix())})
	check("segments entered", strings1(t, conn, q("SELECT concat(fact_id, ':', toString(entered)) FROM `%s`.segment_changes FINAL WHERE fact_id IN ('fact-0002', 'fact-0005') ORDER BY fact_id")),
		[]string{"fact-0002:1", "fact-0005:0"})
	check("dlq 2", strings1(t, conn, q("SELECT concat(reason, '|', error, '|', source_topic, '|', toString(source_partition), '|', payload, '|', topic) FROM `%s`.dlq WHERE source_offset = 1002")),
		[]string{`malformed_json|unexpected end of JSON input at 2|events|2|{"type":"track","bad":2|events.dlq`})

	waitFor(t, 10*time.Second, "stats", func() (bool, string) {
		s := l.Stats()
		return s.Commits > 0 && s.Messages == int64(len(msgs)), fmt.Sprintf("%+v", s)
	})
	st := l.Stats()
	if st.Skipped[sinks.SkipMalformedEvent] != 2 || st.Skipped[sinks.SkipUnknownFactKind] != 1 {
		t.Errorf("Skipped = %v, want 2 %s and 1 %s", st.Skipped, sinks.SkipMalformedEvent, sinks.SkipUnknownFactKind)
	}
	for table, n := range want {
		if st.Rows[table] != int64(n) {
			t.Errorf("Stats().Rows[%s] = %d, want %d", table, st.Rows[table], n)
		}
	}
	stop()

	// A replay (here: a second group reading everything again) inserts every
	// row a second time; the tables collapse the copies.
	sink2, err := sinks.NewClickHouseSink(ctx, sinks.ClickHouseOptions{Addr: addr, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	l2, err := sinks.NewLoader(sinks.LoaderConfig{
		Brokers: brokers, GroupID: "e2e-replay", BatchRows: 1000, FlushInterval: 200 * time.Millisecond, Logger: testLogger(t),
	}, sink2)
	if err != nil {
		t.Fatal(err)
	}
	runLoader(t, l2)
	var total int64
	for _, n := range want {
		total += int64(n)
	}
	waitFor(t, 60*time.Second, "replay", func() (bool, string) {
		var rows int64
		s := l2.Stats()
		for _, n := range s.Rows {
			rows += n
		}
		return rows == total, fmt.Sprintf("%+v", s)
	})
	for table, n := range want {
		if err := conn.Exec(ctx, fmt.Sprintf("OPTIMIZE TABLE `%s`.`%s` FINAL", db, table)); err != nil {
			t.Fatal(err)
		}
		if got := count(t, conn, fmt.Sprintf("SELECT count() FROM `%s`.`%s`", db, table)); got != n {
			t.Errorf("%s after replay and OPTIMIZE: %d rows, want %d", table, got, n)
		}
	}
}

func TestLoaderClickHouseOutage(t *testing.T) {
	addr := requireClickHouse(t)
	db := testDatabase(t, addr)
	brokers := startBroker(t)
	p := startProxy(t, addr)

	ctx := context.Background()
	sink, err := sinks.NewClickHouseSink(ctx, sinks.ClickHouseOptions{Addr: p.addr, Database: db, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const batchRows = 50
	l, err := sinks.NewLoader(sinks.LoaderConfig{
		Brokers: brokers, GroupID: "outage", BatchRows: batchRows, FlushInterval: 100 * time.Millisecond, Logger: testLogger(t),
	}, sink)
	if err != nil {
		t.Fatal(err)
	}
	runLoader(t, l)
	conn := queryConn(t, addr, db)

	var before []kafka.Message
	for i := range 100 {
		before = append(before, eventMessage(i))
	}
	produce(t, brokers, before)
	waitCounts(t, conn, db, map[string]uint64{sinks.TableEvents: 100})

	p.Down()
	var during []kafka.Message
	for i := 100; i < 250; i++ {
		during = append(during, eventMessage(i))
	}
	for i := range 10 {
		v, _ := json.Marshal(decisionFor(i))
		during = append(during, kafka.Message{Topic: "sends.push", Key: []byte("u"), Value: v})
	}
	produce(t, brokers, during)
	waitFor(t, 30*time.Second, "failed inserts", func() (bool, string) {
		s := l.Stats()
		return s.Retries >= 3, fmt.Sprintf("%+v", s)
	})
	// While the sink is down the loader holds one batch and fetches no more.
	if s := l.Stats(); s.Messages > 100+batchRows {
		t.Errorf("fetched %d messages during the outage, want at most %d (one batch)", s.Messages, 100+batchRows)
	}
	if n := count(t, conn, fmt.Sprintf("SELECT count() FROM `%s`.events", db)); n != 100 {
		t.Errorf("%d events in ClickHouse during the outage, want 100", n)
	}

	p.Up()
	waitCounts(t, conn, db, map[string]uint64{sinks.TableEvents: 250, sinks.TableDecisions: 10})
	if got := strings1(t, conn, fmt.Sprintf("SELECT message_id FROM `%s`.events FINAL ORDER BY message_id", db)); !slices.Equal(got, seq("msg", 250, nil)) {
		t.Errorf("event ids after recovery: %v", got)
	}
	if got := strings1(t, conn, fmt.Sprintf("SELECT decision_id FROM `%s`.decisions FINAL ORDER BY decision_id", db)); !slices.Equal(got, seq("dec", 10, nil)) {
		t.Errorf("decision ids after recovery: %v", got)
	}
	s := l.Stats()
	if s.Retries == 0 || s.LastError == "" {
		t.Errorf("Stats() = %+v, want retries and a last error", s)
	}
	t.Logf("stats after recovery: %+v", s)
}

// TestLoaderClickHouseCloseDuringOutage closes a loader whose sink is down:
// Close gives up when its context ends, commits nothing it did not insert,
// and the next loader of the group loads those rows.
func TestLoaderClickHouseCloseDuringOutage(t *testing.T) {
	addr := requireClickHouse(t)
	db := testDatabase(t, addr)
	brokers := startBroker(t)
	p := startProxy(t, addr)
	ctx := context.Background()
	cfg := sinks.LoaderConfig{Brokers: brokers, GroupID: "close-outage", BatchRows: 1000, FlushInterval: 100 * time.Millisecond, Logger: testLogger(t)}

	sink, err := sinks.NewClickHouseSink(ctx, sinks.ClickHouseOptions{Addr: p.addr, Database: db, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	l, err := sinks.NewLoader(cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- l.Run(runCtx) }()

	var msgs []kafka.Message
	for i := range 60 {
		msgs = append(msgs, eventMessage(i))
	}
	produce(t, brokers, msgs[:30])
	conn := queryConn(t, addr, db)
	waitCounts(t, conn, db, map[string]uint64{sinks.TableEvents: 30})

	p.Down()
	produce(t, brokers, msgs[30:])
	waitFor(t, 30*time.Second, "failed inserts", func() (bool, string) {
		s := l.Stats()
		return s.Retries >= 2 && s.Messages == 60, fmt.Sprintf("%+v", s)
	})
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	closeCtx, closeCancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer closeCancel()
	if err := l.Close(closeCtx); err == nil {
		t.Error("Close succeeded although the sink was down")
	} else {
		t.Logf("Close: %v", err)
	}
	if err := l.Run(ctx); err == nil {
		t.Error("Run after Close succeeded")
	}

	p.Up()
	sink2, err := sinks.NewClickHouseSink(ctx, sinks.ClickHouseOptions{Addr: p.addr, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	l2, err := sinks.NewLoader(cfg, sink2)
	if err != nil {
		t.Fatal(err)
	}
	runLoader(t, l2)
	waitCounts(t, conn, db, map[string]uint64{sinks.TableEvents: 60})
	if got := strings1(t, conn, fmt.Sprintf("SELECT message_id FROM `%s`.events FINAL ORDER BY message_id", db)); !slices.Equal(got, seq("msg", 60, nil)) {
		t.Errorf("event ids: %v", got)
	}
	if s := l2.Stats(); s.Messages != 30 {
		t.Errorf("second loader fetched %d messages, want the 30 left uncommitted", s.Messages)
	}
}
