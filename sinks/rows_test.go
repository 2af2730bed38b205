package sinks

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

var kafkaTime = time.Date(2024, 5, 6, 7, 8, 9, 500e6, time.UTC)

func msg(topic, value string, headers ...kafka.Header) *kafka.Message {
	return &kafka.Message{Topic: topic, Partition: 2, Offset: 41, Time: kafkaTime, Value: []byte(value), Headers: headers}
}

func utc(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

func TestEventRow(t *testing.T) {
	kt := utc(2024, 5, 6, 7, 8, 9)
	for _, tc := range []struct {
		name, in string
		want     Row
	}{
		{"track", `{"type":"track","event":"Order Completed","userId":"u1","anonymousId":"a1","messageId":"m1","timestamp":"2024-01-02T03:04:05.678+01:00","properties":{"revenue":9.5}}`,
			Row{utc(2024, 1, 2, 0, 0, 0), utc(2024, 1, 2, 2, 4, 5), "m1", "u1", "a1", "track", "Order Completed", `{"revenue":9.5}`, "events", uint32(2), uint64(41)}},
		{"screen name, originalTimestamp, numeric user id", `{"type":"screen","name":"Home","userId":42,"originalTimestamp":"2023-12-31T23:59:59Z","timestamp":"garbage"}`,
			Row{utc(2023, 12, 31, 0, 0, 0), utc(2023, 12, 31, 23, 59, 59), "", "42", "", "screen", "Home", "{}", "events", uint32(2), uint64(41)}},
		{"receivedAt", `{"type":"identify","userId":null,"anonymousId":"a","receivedAt":"2024-02-29T12:00:00Z","properties":null}`,
			Row{utc(2024, 2, 29, 0, 0, 0), utc(2024, 2, 29, 12, 0, 0), "", "", "a", "identify", "", "{}", "events", uint32(2), uint64(41)}},
		{"no time: Kafka time", `{"type":"track","event":"x"}`,
			Row{utc(2024, 5, 6, 0, 0, 0), kt, "", "", "", "track", "x", "{}", "events", uint32(2), uint64(41)}},
		{"out of range time: Kafka time", `{"type":"track","event":"x","timestamp":"1969-12-31T23:59:59Z","originalTimestamp":"2200-01-01T00:00:00Z"}`,
			Row{utc(2024, 5, 6, 0, 0, 0), kt, "", "", "", "track", "x", "{}", "events", uint32(2), uint64(41)}},
	} {
		got, err := eventRow(msg("events", tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %#v\nwant %#v", tc.name, got, tc.want)
		}
	}
	for _, bad := range []string{"", "{", "[]", `"x"`, "null x", `{"userId":{}}`, `{"properties":1`} {
		_, err := eventRow(msg("events", bad))
		var se *skipError
		if !errors.As(err, &se) || se.reason != SkipMalformedEvent {
			t.Errorf("eventRow(%q) = %v, want a %s skip", bad, err, SkipMalformedEvent)
		}
	}
}

func TestDecisionRow(t *testing.T) {
	in := `{"decision_id":"d1","campaign_id":"c","user_id":"u","channel":"email","template":"t","decided_at":"2024-03-05T12:00:01.999Z","send_at":"2024-03-05T12:30:00.000Z",` +
		`"trigger":{"timer":"lapsed-30d","partition":0,"offset":0},"attributes":{"email":"a@b","extra":[1]}}`
	got, err := decisionRow(msg("sends.email", in))
	if err != nil {
		t.Fatal(err)
	}
	want := Row{utc(2024, 3, 5, 0, 0, 0), utc(2024, 3, 5, 12, 0, 1), utc(2024, 3, 5, 12, 30, 0), "d1", "c", "u", "email", "t", "", "", "lapsed-30d",
		`{"email":"a@b","extra":[1]}`, "sends.email", uint32(2), uint64(41)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("\n got %#v\nwant %#v", got, want)
	}
	for _, bad := range []string{`{"campaign_id":"c"}`, `{"decision_id":1}`, `nope`} {
		if _, err := decisionRow(msg("sends.email", bad)); err == nil {
			t.Errorf("decisionRow(%q) succeeded", bad)
		}
	}
}

func TestFactRow(t *testing.T) {
	at := utc(2024, 3, 6, 8, 0, 0)
	for _, tc := range []struct {
		in    string
		table string
		want  Row
	}{
		{`{"fact_id":"f1","kind":"suppression","user_id":"u","at":"2024-03-06T08:00:00.000Z","campaign_id":"c","reason":"no_consent","channel":"sms","cause":"e","message_id":"m"}`,
			TableSuppressions, Row{"f1", at, "u", "c", "sms", "no_consent", "e", "m"}},
		{`{"fact_id":"f2","kind":"consent_change","user_id":"u","at":"2024-03-06T08:00:00.000Z","channel":"sms","from":"subscribed","to":"unsubscribed","cause":"SMS Received","message_id":"m"}`,
			TableConsentChanges, Row{"f2", at, "u", "sms", "subscribed", "unsubscribed", "SMS Received", "m"}},
		{`{"fact_id":"f3","kind":"segment_change","user_id":"u","at":"2024-03-06T08:00:00.000Z","segment":"lapsed","entered":true,"cause":"timer"}`,
			TableSegmentChanges, Row{"f3", at, "u", "lapsed", uint8(1), "timer"}},
		{`{"fact_id":"f4","kind":"segment_change","user_id":"u","segment":"lapsed","entered":false}`,
			TableSegmentChanges, Row{"f4", utc(2024, 5, 6, 7, 8, 9), "u", "lapsed", uint8(0), ""}},
		{`{"fact_id":"f5","kind":"segment_size","at":"2024-03-06T08:00:00.000Z","segment":"lapsed","partition":3,"size":42}`,
			TableSegmentSizes, Row{"f5", at, "lapsed", uint32(3), uint64(42)}},
	} {
		table, got, err := factRow(msg("rekindle.facts", tc.in))
		if err != nil || table != tc.table || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("factRow(%s) = %s %#v %v, want %s %#v", tc.in, table, got, err, tc.table, tc.want)
		}
	}
	for in, reason := range map[string]string{
		`{"fact_id":"f","kind":"weather"}`:                    SkipUnknownFactKind,
		`{"kind":"suppression"}`:                              SkipMalformedFact,
		`{"fact_id":"s","kind":"segment_size","segment":"x"}`: SkipMalformedFact,
		`{"fact_id":`: SkipMalformedFact,
	} {
		_, _, err := factRow(msg("rekindle.facts", in))
		var se *skipError
		if !errors.As(err, &se) || se.reason != reason {
			t.Errorf("factRow(%s) = %v, want a %s skip", in, err, reason)
		}
	}
}

func TestDLQRow(t *testing.T) {
	got := dlqRow(msg("events.dlq", "\xff{bad",
		kafka.Header{Key: HeaderReason, Value: []byte("malformed_json")},
		kafka.Header{Key: HeaderError, Value: []byte("boom")},
		kafka.Header{Key: HeaderTopic, Value: []byte("events")},
		kafka.Header{Key: HeaderPartition, Value: []byte("7")},
		kafka.Header{Key: HeaderOffset, Value: []byte("123456789012")},
	))
	want := Row{utc(2024, 5, 6, 7, 8, 9), "malformed_json", "boom", "events", uint32(7), uint64(123456789012), "\xff{bad", "events.dlq", uint32(2), uint64(41)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("\n got %#v\nwant %#v", got, want)
	}
	got = dlqRow(msg("events.dlq", "", kafka.Header{Key: HeaderPartition, Value: []byte("-1")}))
	if got[4] != uint32(0) || got[1] != "" {
		t.Errorf("headerless DLQ row = %#v", got)
	}
}

// Every row the converters produce fits its table's columns, whatever the input.
func FuzzRows(f *testing.F) {
	f.Add(`{"type":"track","event":"x","userId":"u","timestamp":"2024-01-02T03:04:05Z","properties":{}}`)
	f.Add(`{"decision_id":"d","decided_at":"2024-03-05T12:00:01.999Z","attributes":{"email":"a"}}`)
	f.Add(`{"fact_id":"f","kind":"segment_change","entered":true}`)
	f.Add(`{"fact_id":"f","kind":"consent_change","at":"9999-12-31T23:59:59Z"}`)
	f.Add(`{"userId":1e400}`)
	f.Fuzz(func(t *testing.T, in string) {
		m := msg("any", in, kafka.Header{Key: HeaderOffset, Value: []byte(in)})
		check := func(table string, row Row) {
			tb, _ := tableByName(table)
			if _, err := appendJSONRow(nil, tb, row); err != nil {
				t.Fatalf("%s row %#v: %v", table, row, err)
			}
		}
		if row, err := eventRow(m); err == nil {
			check(TableEvents, row)
		}
		if row, err := decisionRow(m); err == nil {
			check(TableDecisions, row)
		}
		if table, row, err := factRow(m); err == nil {
			check(table, row)
		}
		check(TableDLQ, dlqRow(m))
	})
}

func BenchmarkEventRow(b *testing.B) {
	m := msg("events", `{"type":"track","event":"Product Added","userId":"user-1","anonymousId":"anon-1","messageId":"msg-0001","timestamp":"2024-03-02T10:00:01.250Z","properties":{"cart_value":101,"sku":"s-1"},"context":{"timezone":"Europe/Paris","app":{"version":"1.2.3"}}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(m.Value)))
	for b.Loop() {
		if _, err := eventRow(m); err != nil {
			b.Fatal(err)
		}
	}
}
