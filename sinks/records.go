package sinks

import "encoding/json"

// Decision is the JSON value of a record on a sends.<channel> topic (key: the
// user id). Downstream senders dedupe on DecisionID: a decision re-emitted
// after a crash is byte-identical.
type Decision struct {
	DecisionID string     `json:"decision_id"`
	CampaignID string     `json:"campaign_id"`
	UserID     string     `json:"user_id"`
	Channel    string     `json:"channel"`
	Template   string     `json:"template"`
	DecidedAt  string     `json:"decided_at"` // RFC 3339, UTC, milliseconds
	SendAt     string     `json:"send_at"`    // RFC 3339, UTC, milliseconds
	Trigger    Trigger    `json:"trigger"`
	Attributes Attributes `json:"attributes"`
}

// Trigger says what caused a decision: an event (name and messageId, plus its
// input position) or a timer.
type Trigger struct {
	Event     string `json:"event,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	Timer     string `json:"timer,omitempty"`
	Segment   string `json:"segment,omitempty"` // segment_enter/segment_exit triggers: "enter:NAME" or "exit:NAME"
	Topic     string `json:"topic,omitempty"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// Attributes personalise a message.
type Attributes struct {
	Email      string          `json:"email,omitempty"`
	Phone      string          `json:"phone,omitempty"`
	Timezone   string          `json:"timezone,omitempty"`
	Properties json.RawMessage `json:"properties,omitempty"`
}

// Fact kinds on the facts topic.
const (
	FactSuppression   = "suppression"
	FactConsentChange = "consent_change"
	FactSegmentChange = "segment_change"
	FactSegmentSize   = "segment_size"
)

// Fact is the JSON value of a record on the rekindle.facts topic (key: the
// user id). FactID is deterministic, like a DecisionID.
type Fact struct {
	FactID string `json:"fact_id"`
	Kind   string `json:"kind"`
	UserID string `json:"user_id"`
	At     string `json:"at"` // RFC 3339, UTC, milliseconds

	// suppression
	CampaignID string `json:"campaign_id,omitempty"`
	Reason     string `json:"reason,omitempty"`

	// consent_change (Channel also names a suppression's first channel)
	Channel string `json:"channel,omitempty"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`

	// segment_change
	Segment string `json:"segment,omitempty"`
	Entered *bool  `json:"entered,omitempty"`

	// segment_size (one partition's size of Segment at At)
	Partition *int32  `json:"partition,omitempty"`
	Size      *uint64 `json:"size,omitempty"`

	// Cause: the event name (and messageId) or timer that caused the fact.
	Cause     string `json:"cause,omitempty"`
	MessageID string `json:"message_id,omitempty"`
}

// TimeFormat is the layout of every timestamp rekindle writes.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"
