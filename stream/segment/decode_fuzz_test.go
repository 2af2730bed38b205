package segment

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// reference decodes what FuzzDecode compares with encoding/json, following
// the same rules as Decoder.
type reference struct {
	typ, userID, anonymousID, messageID, previousID, name string
	timestamp                                             int64
	email, timezone                                       string
}

// referenceDecode reports ok false where Decoder must fail too.
func referenceDecode(data []byte) (ref reference, ok bool) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return ref, false
	}
	str := func(m map[string]any, key string, numbers bool) (string, bool) {
		switch v := m[key].(type) {
		case nil:
			return "", true
		case string:
			return v, true
		case json.Number:
			return string(v), numbers
		}
		return "", false
	}
	obj := func(m map[string]any, key string) (map[string]any, bool) {
		switch v := m[key].(type) {
		case nil:
			return nil, true
		case map[string]any:
			return v, true
		}
		return nil, false
	}
	first := func(key string, ms ...map[string]any) (string, bool) {
		for _, m := range ms {
			if m[key] != nil {
				return str(m, key, false)
			}
		}
		return "", true
	}

	var good bool
	if ref.typ, good = str(m, "type", false); !good {
		return ref, false
	}
	switch ref.typ {
	case "track", "identify", "page", "screen", "alias":
	default:
		return ref, false
	}
	if ref.userID, good = str(m, "userId", true); !good {
		return ref, false
	}
	if ref.anonymousID, good = str(m, "anonymousId", true); !good {
		return ref, false
	}
	if ref.userID == "" && ref.anonymousID == "" {
		return ref, false
	}
	if ref.messageID, good = str(m, "messageId", false); !good {
		return ref, false
	}
	if ref.typ == "alias" {
		if ref.previousID, good = str(m, "previousId", true); !good || ref.previousID == "" {
			return ref, false
		}
	}
	switch ref.typ {
	case "track":
		if ref.name, good = str(m, "event", false); !good || ref.name == "" {
			return ref, false
		}
	case "page", "screen":
		if ref.name, good = str(m, "name", false); !good {
			return ref, false
		}
	}
	for _, key := range []string{"timestamp", "originalTimestamp", "receivedAt"} {
		if m[key] == nil {
			continue
		}
		s, good := str(m, key, false)
		if !good {
			return ref, false
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return ref, false
		}
		ref.timestamp = t.UnixMilli()
		break
	}
	ctx, good1 := obj(m, "context")
	traits, good2 := obj(m, "traits")
	ctxTraits, good3 := obj(ctx, "traits")
	if !good1 || !good2 || !good3 {
		return ref, false
	}
	if ref.email, good = first("email", traits, ctxTraits); !good {
		return ref, false
	}
	if ref.timezone, good = first("timezone", ctx, traits, ctxTraits); !good {
		return ref, false
	}
	return ref, true
}

var fuzzSeeds = []string{
	typicalTrack,
	`{"type":"identify","userId":12345,"traits":{"email":"a@b.c","phone":33600000000,"timezone":"Europe/Paris"}}`,
	`{"type":"page","anonymousId":"a1","name":"Home","context":{"page":{"url":"https://x/?q=\"}{"},"userAgent":"M"}}`,
	`{"type":"screen","userId":"u1","name":"Cart","timestamp":"2024-05-01T12:34:56.123+02:00"}`,
	`{"type":"alias","userId":"u1","previousId":"a1"}`,
	`{"type":"track","event":"Push Permission Changed","userId":"u1","properties":{"granted":false}}`,
	`{"type":"track","event":"SMS Received","userId":"u\u00e9","properties":{"from":"+1","body":"STOP \ud83d\ude00"}}`,
	`{"type":"track","event":"Order Completed","userId":"u1","properties":{"revenue":"19.99","total":1e3}}`,
	`{"type":"track","event":"E","userId":"u1","context":{"a":[[[{"b":[1,-2.5e-3,true,false,null]}]]]}}`,
	`{"type":"track","event":"E","userId":"u1","userId":null,"anonymousId":"a","context":{"traits":{"email":"x"}},"context":null}`,
	`{"type":"track","event":"E","userId":"u1","timestamp":"2024-02-30T00:00:00Z"}`,
	`{"type":"track","event":"E","userId":"u1",}`,
	`{"type":"track","event":"E","userId":"u1"} {}`,
	`{"type":"track","event":"E","userId":"\ud800","x":"\u12"}`,
	"{\"type\":\"track\",\"event\":\"E\",\"userId\":\"\xff\"}",
	`[{"type":"track"}]`,
	`{"type":"track","event":"E","anonymousId":0.5e-7,"originalTimestamp":"2024-05-01T12:34:56,5Z"}`,
}

func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	d := NewDecoder(DecoderOptions{})
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		var ev Event
		err := d.Decode(data, 0, &ev)
		if !bytes.Equal(data, orig) {
			t.Fatal("Decode modified its input")
		}
		valid := json.Valid(data)
		ref, refOK := referenceDecode(data)
		if err != nil {
			if _, ok := err.(*DecodeError); !ok {
				t.Fatalf("error %T, want *DecodeError", err)
			}
			if view(ev) != view(Event{}) {
				t.Fatalf("failed decode (%v) left %s", err, view(ev))
			}
			if refOK && valid && utf8.Valid(data) && len(data) <= DefaultMaxBytes &&
				!strings.Contains(err.Error(), "nesting too deep") {
				// The reference accepts: Decode may refuse only for a rule
				// the reference does not model.
				switch err.(*DecodeError).Reason {
				case ReasonWrongType, ReasonBadTimestamp:
				default:
					t.Fatalf("Decode refused what the reference accepts: %v\nref %+v", err, ref)
				}
			}
			return
		}
		if !valid {
			t.Fatalf("Decode accepted invalid JSON: %s", view(ev))
		}
		if !refOK {
			t.Fatalf("Decode accepted what the reference refuses: %s", view(ev))
		}
		got := reference{
			typ: ev.Type.String(), userID: ev.UserID, anonymousID: ev.AnonymousID, messageID: ev.MessageID,
			previousID: ev.PreviousID, name: ev.Name, timestamp: ev.Timestamp, email: ev.Email, timezone: ev.Timezone,
		}
		if got != ref {
			t.Fatalf("Decode and encoding/json disagree\n got %+v\nwant %+v", got, ref)
		}
		if ev.Properties != nil && !json.Valid(ev.Properties) {
			t.Fatalf("Properties %q is not valid JSON", ev.Properties)
		}
	})
}
