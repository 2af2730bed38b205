package stream

import (
	"encoding/json"
	"fmt"

	"github.com/rekindle/rekindle/sinks"
	"github.com/rekindle/rekindle/state"
	"github.com/rekindle/rekindle/stream/segment"
)

// Suppression reasons.
const (
	ReasonNoConsent = "no_consent"
)

// trigger evaluates the campaigns an event starts. It runs after apply, so a
// consent change carried by the event itself takes effect first.
func (ps *PartitionState) trigger(rec *state.UserRecord, ev *segment.Event, in *Input, t int64) {
	var cs []*campaign
	if ev.Kind != segment.KindCustom {
		cs = ps.proc.byKind[ev.Kind]
	} else if ev.Type == segment.TypeTrack {
		cs = ps.proc.byName[ev.Name]
	}
	for _, c := range cs {
		ps.decide(c, rec, ev, in, t)
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

func (ps *PartitionState) decide(c *campaign, rec *state.UserRecord, ev *segment.Event, in *Input, t int64) {
	ref := inputRef(in)
	at := formatTime(t)
	for _, ch := range c.channels {
		if !Allowed(rec, ch) {
			continue
		}
		d := sinks.Decision{
			DecisionID: c.id + ":" + ref + ":0",
			CampaignID: c.id,
			UserID:     rec.UserID,
			Channel:    ch.String(),
			Template:   c.template,
			DecidedAt:  at,
			SendAt:     at,
			Trigger:    sinks.Trigger{Event: ev.Name, MessageID: ev.MessageID, Topic: in.Topic, Partition: in.Partition, Offset: in.Offset},
			Attributes: sinks.Attributes{Email: rec.Email, Phone: rec.Phone, Timezone: rec.Timezone},
		}
		if len(ev.Properties) > 0 {
			d.Attributes.Properties = json.RawMessage(ev.Properties)
		}
		value, err := json.Marshal(&d)
		if err != nil {
			// Properties passed the decoder's validation, so this cannot
			// happen; if it does, the input goes to the DLQ rather than vanish.
			ps.deadLetter(in, fmt.Errorf("stream: encode decision of campaign %q: %w", c.id, err))
			return
		}
		ps.counters.Decisions[ch]++
		rec.LastDecisionAt = t
		ps.out = append(ps.out, Output{Topic: ps.proc.sendTopics[ch], Key: []byte(rec.UserID), Value: value})
		return
	}
	names := make([]string, len(c.channels))
	for i, ch := range c.channels {
		names[i] = ch.String()
	}
	ps.counters.Suppressions++
	ps.emitFact(&sinks.Fact{
		FactID:     "suppression:" + c.id + ":" + ref,
		Kind:       sinks.FactSuppression,
		UserID:     rec.UserID,
		At:         at,
		CampaignID: c.id,
		Channel:    names[0],
		Reason:     ReasonNoConsent,
		Cause:      ev.Name,
		MessageID:  ev.MessageID,
	})
}
