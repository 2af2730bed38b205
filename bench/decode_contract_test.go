package bench_test

import (
	"errors"
	"testing"

	"github.com/rekindle/rekindle/bench"
	"github.com/rekindle/rekindle/stream/segment"
)

// TestGeneratorDecodes is the contract between the generator and rekindle's
// decoder: every well-formed record decodes to the user, event and time the
// generator reports, and every malformed kind is refused for its reason.
func TestGeneratorDecodes(t *testing.T) {
	wantReason := map[string]string{
		bench.MalformedTruncated:       segment.ReasonInvalidJSON,
		bench.MalformedMissingID:       segment.ReasonMissingID,
		bench.MalformedUserIDType:      segment.ReasonWrongType,
		bench.MalformedGrantedType:     segment.ReasonWrongType,
		bench.MalformedOversized:       segment.ReasonTooLarge,
		bench.MalformedUnknownType:     segment.ReasonUnknownType,
		bench.MalformedFutureTimestamp: segment.ReasonFutureTimestamp,
		bench.MalformedNotObject:       segment.ReasonInvalidJSON,
	}
	for _, k := range bench.MalformedKinds() {
		if wantReason[k] == "" {
			t.Fatalf("malformed kind %s has no expected decoder reason", k)
		}
	}
	g, err := bench.NewGenerator(bench.GeneratorConfig{Seed: 17, MalformedShare: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	dec := segment.NewDecoder(segment.DecoderOptions{})
	var ev segment.Event
	var buf []byte
	seen := map[string]int{}
	for i := range 100_000 {
		r := g.Next(buf[:0])
		buf = r.Value
		err := dec.Decode(r.Value, r.Time.UnixMilli(), &ev)
		if r.Malformed != "" {
			seen[r.Malformed]++
			var de *segment.DecodeError
			if !errors.As(err, &de) || de.Reason != wantReason[r.Malformed] {
				t.Fatalf("record %d, %s: decoder says %v, want reason %s\n%.300s", i, r.Malformed, err, wantReason[r.Malformed], r.Value)
			}
			continue
		}
		if err != nil {
			t.Fatalf("record %d: %v\n%s", i, err, r.Value)
		}
		if ev.User() != string(r.Key) || ev.Timestamp != r.Time.UnixMilli() {
			t.Fatalf("record %d: user %q at %d, generator says %q at %d\n%s", i, ev.User(), ev.Timestamp, r.Key, r.Time.UnixMilli(), r.Value)
		}
		if ev.Type == segment.TypeTrack {
			if ev.Name != r.Event || ev.Kind == segment.KindCustom {
				t.Fatalf("record %d: event %q kind %d, generator says %q\n%s", i, ev.Name, ev.Kind, r.Event, r.Value)
			}
		} else if ev.Type.String() != r.Event {
			t.Fatalf("record %d: type %v, generator says %q", i, ev.Type, r.Event)
		}
		if msg := checkMeaning(&ev); msg != "" {
			t.Fatalf("record %d: %s\n%s", i, msg, r.Value)
		}
	}
	if len(seen) != len(wantReason) {
		t.Errorf("malformed kinds seen: %v", seen)
	}
}

// checkMeaning checks the fields the processor acts on.
func checkMeaning(ev *segment.Event) string {
	switch ev.Kind {
	case segment.KindPushPermissionChanged, segment.KindPermissionChanged:
		if !ev.HasGranted {
			return "no granted"
		}
	case segment.KindEmailSubscriptionChanged, segment.KindSMSSubscriptionChanged:
		if ev.Status != "subscribed" && ev.Status != "unsubscribed" {
			return "status " + ev.Status
		}
	case segment.KindSMSReceived:
		if ev.From == "" || ev.Body == "" {
			return "no from or body"
		}
	case segment.KindOrderCompleted:
		if !ev.HasRevenue || ev.Revenue <= 0 {
			return "no revenue"
		}
	}
	switch ev.Type {
	case segment.TypeIdentify:
		if ev.Email == "" || ev.Phone == "" || ev.Country == "" || ev.Timezone == "" {
			return "identify without email, phone, country or time zone"
		}
	case segment.TypePage:
		if ev.Surface != segment.SurfaceWeb {
			return "page call not on the web surface"
		}
	case segment.TypeScreen:
		if ev.Surface != segment.SurfaceApp {
			return "screen call not on the app surface"
		}
	}
	switch ev.Kind {
	case segment.KindProductViewed, segment.KindProductAdded, segment.KindCartViewed,
		segment.KindCheckoutStarted, segment.KindOrderCompleted, segment.KindAppOpened:
		if ev.Surface != segment.SurfaceApp && ev.Surface != segment.SurfaceWeb {
			return "activity on no surface"
		}
	case segment.KindPushReceived, segment.KindEmailDelivered, segment.KindSMSDelivered, segment.KindUnsubscribed:
		if ev.Channel == "" {
			return "message event without channel"
		}
	}
	return ""
}
