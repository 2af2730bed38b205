package stream

import (
	"encoding/json"
	"strconv"

	"github.com/rekindle/rekindle/sinks"
	"github.com/rekindle/rekindle/state"
	"github.com/rekindle/rekindle/stream/segment"
)

// Suppression reasons.
const (
	ReasonNoConsent = "no_consent"
)

// cause is what made the processor act: an input event or a user's timer.
// Its strings are built only when an output needs them.
type cause struct {
	at        int64 // Unix ms: the event time or the timer's due time
	event     string
	messageID string
	user      string // timers: whose
	in        *Input // nil for timers
	props     []byte
	refStr    string // ref(), once built
}

func eventCause(in *Input, ev *segment.Event, t int64) cause {
	return cause{at: t, event: ev.Name, messageID: ev.MessageID, in: in, props: ev.Properties}
}

func timerCause(userID string, due int64) cause {
	return cause{at: due, user: userID}
}

// timer is the timer key "user/due" ("" for an event).
func (c *cause) timer() string {
	if c.in != nil {
		return ""
	}
	return c.user + "/" + strconv.FormatInt(c.at, 10)
}

// ref is the cause's deterministic id part: "topic/partition/offset" or
// "timer/user/due". It is built in ps.refBuf, without an allocation, and
// valid while the cause is the one being processed (the ids it goes into
// are copied into the output arena at once).
func (c *cause) ref(ps *PartitionState) string {
	if c.refStr == "" {
		b := ps.refBuf[:0]
		if c.in != nil {
			b = appendInputRef(b, c.in)
		} else {
			b = append(b, "timer/"...)
			b = append(b, c.user...)
			b = append(b, '/')
			b = strconv.AppendInt(b, c.at, 10)
		}
		ps.refBuf = b
		c.refStr = bytesString(b)
	}
	return c.refStr
}

// trigger evaluates the campaigns an event starts. It runs after apply, so a
// consent change carried by the event itself takes effect first.
func (ps *PartitionState) trigger(rec *state.UserRecord, ev *segment.Event, c *cause) {
	var cs []*campaign
	if ev.Kind != segment.KindCustom {
		cs = ps.proc.byKind[ev.Kind]
	} else if ev.Type == segment.TypeTrack {
		cs = ps.proc.byName[ev.Name]
	}
	for _, cp := range cs {
		ps.decide(cp, rec, c, "")
	}
}

// Allowed reports whether a marketing message may be sent to rec on ch:
// the user opted in and is reachable there.
func Allowed(rec *state.UserRecord, ch state.Channel) bool {
	switch ch {
	case state.ChannelPush:
		return rec.PushStatus == state.PushGranted && !rec.Uninstalled
	case state.ChannelEmail:
		return rec.EmailStatus == state.EmailSubscribed
	case state.ChannelSMS:
		return rec.SMSStatus == state.SMSSubscribed
	case state.ChannelInApp:
		return !rec.Uninstalled && rec.LastSeen[state.SurfaceApp] > 0
	}
	return false
}

// decide emits one decision on the campaign's first allowed channel, or a
// suppression. segment names the segment change that triggered it, if any.
func (ps *PartitionState) decide(cp *campaign, rec *state.UserRecord, c *cause, segment string) {
	at := ps.formatTime(c.at)
	ref := c.ref(ps)
	for _, ch := range cp.channels {
		if !Allowed(rec, ch) {
			continue
		}
		d := sinks.Decision{
			DecisionID: ps.scratchID(cp.id, ":", ref, ":0"),
			CampaignID: cp.id,
			UserID:     rec.UserID,
			Channel:    ch.String(),
			Template:   cp.template,
			DecidedAt:  at,
			SendAt:     at,
			Trigger:    sinks.Trigger{Event: c.event, MessageID: c.messageID, Timer: c.timer(), Segment: segment},
			Attributes: sinks.Attributes{Email: rec.Email, Phone: rec.Phone, Timezone: rec.Timezone},
		}
		if c.in != nil {
			d.Trigger.Topic, d.Trigger.Partition, d.Trigger.Offset = c.in.Topic, c.in.Partition, c.in.Offset
		}
		if len(c.props) > 0 {
			d.Attributes.Properties = json.RawMessage(c.props)
		}
		start := len(ps.arena)
		ps.arena = sinks.AppendDecision(ps.arena, &d)
		value := ps.arena[start:len(ps.arena):len(ps.arena)]
		ps.counters.Decisions[ch]++
		rec.LastDecisionAt = c.at
		ps.out = append(ps.out, Output{Topic: ps.proc.sendTopics[ch], Key: ps.arenaString(rec.UserID), Value: value})
		return
	}
	ps.counters.Suppressions++
	ps.emitFact(&sinks.Fact{
		FactID:     ps.scratchID("suppression:", cp.id, ":", ref),
		Kind:       sinks.FactSuppression,
		UserID:     rec.UserID,
		At:         at,
		CampaignID: cp.id,
		Channel:    cp.channels[0].String(),
		Reason:     ReasonNoConsent,
		Cause:      causeName(c),
		MessageID:  c.messageID,
	})
}

func causeName(c *cause) string {
	if c.in == nil {
		return "timer"
	}
	return c.event
}
