package sinks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// Reasons a message is loaded into no table (LoaderStats.Skipped keys).
const (
	SkipMalformedEvent    = "malformed_event"
	SkipMalformedDecision = "malformed_decision"
	SkipMalformedFact     = "malformed_fact"
	SkipUnknownFactKind   = "unknown_fact_kind"
	SkipUnknownTopic      = "unknown_topic"
)

// Headers of a dead-lettered record (written by the stream processor).
const (
	HeaderReason    = "rekindle-reason"
	HeaderError     = "rekindle-error"
	HeaderTopic     = "rekindle-topic"
	HeaderPartition = "rekindle-partition"
	HeaderOffset    = "rekindle-offset"
)

// skipError says why a message is loaded into no table.
type skipError struct {
	reason string
	err    error
}

func (e *skipError) Error() string { return e.reason + ": " + e.err.Error() }
func (e *skipError) Unwrap() error { return e.err }

func skip(reason string, format string, args ...any) *skipError {
	return &skipError{reason: reason, err: fmt.Errorf(format, args...)}
}

// DateTime (and Date) columns hold 1970-01-01 .. 2106-02-07; a time outside
// [minTime, maxTime) is treated as absent.
var (
	minTime = time.Unix(0, 0).UTC()
	maxTime = time.Date(2106, 1, 1, 0, 0, 0, 0, time.UTC)
)

// parseTime parses an RFC 3339 timestamp (Segment Spec and rekindle's own
// TimeFormat) into UTC with second precision; ok is false for an empty,
// malformed or unrepresentable one.
func parseTime(s string) (t time.Time, ok bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return clampTime(t)
}

func clampTime(t time.Time) (time.Time, bool) {
	t = t.UTC().Truncate(time.Second)
	if t.Before(minTime) || !t.Before(maxTime) {
		return time.Time{}, false
	}
	return t, true
}

// messageTime is the Kafka record's timestamp, or now when it has none.
func messageTime(m *kafka.Message) time.Time {
	if t, ok := clampTime(m.Time); ok {
		return t
	}
	t, _ := clampTime(time.Now())
	return t
}

// firstTime returns the first parseable timestamp of candidates, else the
// record's Kafka timestamp.
func firstTime(m *kafka.Message, candidates ...string) time.Time {
	for _, s := range candidates {
		if t, ok := parseTime(s); ok {
			return t
		}
	}
	return messageTime(m)
}

func dateOf(t time.Time) time.Time {
	y, mo, d := t.Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
}

// looseString decodes a JSON string, number or boolean as its text (ids
// arrive as numbers from some producers) and null as "".
type looseString string

func (s *looseString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		if len(b) >= 2 && bytes.IndexByte(b, '\\') < 0 {
			// No escapes: the bytes between the quotes are the string
			// (the decoder has validated b).
			*s = looseString(b[1 : len(b)-1])
			return nil
		}
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = looseString(v)
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		*s = ""
		return nil
	}
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		return fmt.Errorf("want a string, got %.20s", b)
	}
	*s = looseString(b)
	return nil
}

// segmentEvent holds the Segment Spec fields the events table keeps.
type segmentEvent struct {
	Type              looseString     `json:"type"`
	Event             looseString     `json:"event"`
	Name              looseString     `json:"name"`
	UserID            looseString     `json:"userId"`
	AnonymousID       looseString     `json:"anonymousId"`
	MessageID         looseString     `json:"messageId"`
	Timestamp         looseString     `json:"timestamp"`
	OriginalTimestamp looseString     `json:"originalTimestamp"`
	ReceivedAt        looseString     `json:"receivedAt"`
	Properties        json.RawMessage `json:"properties"`
}

// eventRow converts a record of the events topic. Event time is timestamp,
// else originalTimestamp, else receivedAt, else the record's Kafka timestamp.
func eventRow(m *kafka.Message) (Row, error) {
	var e segmentEvent
	if err := json.Unmarshal(m.Value, &e); err != nil {
		return nil, skip(SkipMalformedEvent, "decode event: %w", err)
	}
	at := firstTime(m, string(e.Timestamp), string(e.OriginalTimestamp), string(e.ReceivedAt))
	name := e.Event
	if name == "" {
		name = e.Name
	}
	props := "{}"
	if len(e.Properties) > 0 && !bytes.Equal(e.Properties, []byte("null")) {
		props = string(e.Properties)
	}
	return Row{
		dateOf(at), at,
		string(e.MessageID), string(e.UserID), string(e.AnonymousID),
		string(e.Type), string(name), props,
		m.Topic, uint32(m.Partition), uint64(m.Offset),
	}, nil
}

// decisionRecord is a Decision whose attributes are kept as raw JSON.
type decisionRecord struct {
	Decision
	Attributes json.RawMessage `json:"attributes"`
}

// decisionRow converts a record of a send topic.
func decisionRow(m *kafka.Message) (Row, error) {
	var d decisionRecord
	if err := json.Unmarshal(m.Value, &d); err != nil {
		return nil, skip(SkipMalformedDecision, "decode decision: %w", err)
	}
	if d.DecisionID == "" {
		return nil, skip(SkipMalformedDecision, "decision without decision_id")
	}
	decided := firstTime(m, d.DecidedAt)
	sendAt, ok := parseTime(d.SendAt)
	if !ok {
		sendAt = decided
	}
	attrs := "{}"
	if len(d.Attributes) > 0 && !bytes.Equal(d.Attributes, []byte("null")) {
		attrs = string(d.Attributes)
	}
	return Row{
		dateOf(decided), decided, sendAt,
		d.DecisionID, d.CampaignID, d.UserID, d.Channel, d.Template,
		d.Trigger.Event, d.Trigger.MessageID, d.Trigger.Timer,
		attrs,
		m.Topic, uint32(m.Partition), uint64(m.Offset),
	}, nil
}

// factRow converts a record of the facts topic into a row of the table for
// its kind.
func factRow(m *kafka.Message) (table string, row Row, err error) {
	var f Fact
	if err := json.Unmarshal(m.Value, &f); err != nil {
		return "", nil, skip(SkipMalformedFact, "decode fact: %w", err)
	}
	if f.FactID == "" {
		return "", nil, skip(SkipMalformedFact, "%s fact without fact_id", f.Kind)
	}
	at := firstTime(m, f.At)
	switch f.Kind {
	case FactSuppression:
		return TableSuppressions, Row{
			f.FactID, at, f.UserID, f.CampaignID, f.Channel, f.Reason, f.Cause, f.MessageID,
		}, nil
	case FactConsentChange:
		return TableConsentChanges, Row{
			f.FactID, at, f.UserID, f.Channel, f.From, f.To, f.Cause, f.MessageID,
		}, nil
	case FactSegmentChange:
		var entered uint8
		if f.Entered != nil && *f.Entered {
			entered = 1
		}
		return TableSegmentChanges, Row{
			f.FactID, at, f.UserID, f.Segment, entered, f.Cause,
		}, nil
	case FactSegmentSize:
		if f.Partition == nil || f.Size == nil || *f.Partition < 0 {
			return "", nil, skip(SkipMalformedFact, "segment_size fact %s without partition or size", f.FactID)
		}
		return TableSegmentSizes, Row{f.FactID, at, f.Segment, uint32(*f.Partition), *f.Size}, nil
	default:
		return "", nil, skip(SkipUnknownFactKind, "fact %s of kind %q", f.FactID, f.Kind)
	}
}

// dlqRow converts a dead-lettered record; it never fails: missing or
// malformed headers load as empty values.
func dlqRow(m *kafka.Message) Row {
	var reason, errText, srcTopic string
	var srcPartition uint32
	var srcOffset uint64
	for _, h := range m.Headers {
		switch h.Key {
		case HeaderReason:
			reason = string(h.Value)
		case HeaderError:
			errText = string(h.Value)
		case HeaderTopic:
			srcTopic = string(h.Value)
		case HeaderPartition:
			if v, err := strconv.ParseUint(string(h.Value), 10, 32); err == nil {
				srcPartition = uint32(v)
			}
		case HeaderOffset:
			if v, err := strconv.ParseUint(string(h.Value), 10, 64); err == nil {
				srcOffset = v
			}
		}
	}
	return Row{
		messageTime(m), reason, errText,
		srcTopic, srcPartition, srcOffset,
		string(m.Value),
		m.Topic, uint32(m.Partition), uint64(m.Offset),
	}
}
