package segment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
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
	_, good4 := obj(m, "properties")
	if !good1 || !good2 || !good3 || !good4 {
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
		checkAgainstReference(t, data, &ev, err)
		checkIndexChangesNothing(t, d, data, &ev, err)
	})
}

// checkIndexChangesNothing checks that decoding data without the quote
// index gives what Decode gave (ev, err), and with the index, when this
// machine has one, the same again.
func checkIndexChangesNothing(t *testing.T, d *Decoder, data []byte, ev *Event, err error) {
	t.Helper()
	for _, index := range []bool{false, canIndexQuotes} {
		var ev2 Event
		err2 := d.decode(data, 0, &ev2, index)
		if fmt.Sprint(err2) != fmt.Sprint(err) || !reflect.DeepEqual(ev2, *ev) {
			t.Fatalf("Decode(%q) with the quote index %v:\n got %v %+v\nwant %v %+v", data, index, err2, ev2, err, *ev)
		}
	}
}

// unmodelled reports whether Decode may refuse a message the reference
// accepts: for a field the reference does not look at.
func unmodelled(de *DecodeError) bool {
	if de.Reason != ReasonWrongType {
		return false
	}
	switch de.Field {
	case "traits.phone", "traits.country", "context.traits.phone", "context.traits.country":
		return true
	}
	return strings.HasPrefix(de.Field, "properties.")
}

// checkAgainstReference checks the outcome of Decode(data) (decoded with
// now == 0) against encoding/json.
func checkAgainstReference(t *testing.T, data []byte, ev *Event, err error) {
	t.Helper()
	valid := json.Valid(data)
	ref, refOK := referenceDecode(data)
	if err != nil {
		de, ok := err.(*DecodeError)
		if !ok {
			t.Fatalf("error %T, want *DecodeError", err)
		}
		if view(*ev) != view(Event{}) {
			t.Fatalf("failed decode (%v) left %s", err, view(*ev))
		}
		if valid && refOK && utf8.Valid(data) && len(data) <= DefaultMaxBytes &&
			!strings.Contains(err.Error(), "nesting too deep") && !unmodelled(de) {
			t.Fatalf("Decode(%s) refused what the reference accepts: %v\nref %+v", data, err, ref)
		}
		return
	}
	if !valid {
		t.Fatalf("Decode accepted invalid JSON %q: %s", data, view(*ev))
	}
	if !refOK {
		t.Fatalf("Decode accepted what the reference refuses: %s\n%s", data, view(*ev))
	}
	got := reference{
		typ: ev.Type.String(), userID: ev.UserID, anonymousID: ev.AnonymousID, messageID: ev.MessageID,
		previousID: ev.PreviousID, name: ev.Name, timestamp: ev.Timestamp, email: ev.Email, timezone: ev.Timezone,
	}
	if got != ref {
		t.Fatalf("Decode(%s) and encoding/json disagree\n got %+v\nwant %+v", data, got, ref)
	}
	if ev.Properties != nil && !json.Valid(ev.Properties) {
		t.Fatalf("Properties %q is not valid JSON", ev.Properties)
	}
}

// TestDecodeMatchesReference runs Decode and encoding/json over generated
// Segment-shaped documents, which reach the decoding rules far more often
// than byte-level fuzzing does.
func TestDecodeMatchesReference(t *testing.T) {
	n := 50000
	if testing.Short() {
		n = 5000
	}
	g := docGen{r: rand.New(rand.NewPCG(7, 11))}
	d := NewDecoder(DecoderOptions{})
	accepted := 0
	for range n {
		data := []byte(g.document())
		var ev Event
		err := d.Decode(data, 0, &ev)
		if err == nil {
			accepted++
		}
		checkAgainstReference(t, data, &ev, err)
		checkIndexChangesNothing(t, d, data, &ev, err)
	}
	t.Logf("%d of %d generated documents decoded", accepted, n)
	if accepted < n/10 {
		t.Errorf("only %d of %d generated documents decoded: the generator is too hostile", accepted, n)
	}
}

type docGen struct{ r *rand.Rand }

func (g docGen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g docGen) ws() string {
	if g.r.IntN(8) == 0 {
		return g.pick(" ", "\n", "\t ", "\r\n  ")
	}
	return ""
}

func (g docGen) str() string {
	return g.pick(`""`, `"u1"`, `"Order Completed"`, `"Application Opened"`, `"Push Permission Changed"`,
		`"\u00e9t\u00E9"`, `"a\"b\\c\/d"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\udc00x"`, `"tab\there"`,
		`"héllo ✓"`, `"19.99"`, `"-1e2"`, `"2024-05-01T12:34:56.789Z"`, `"2024-05-01T12:34:56+02:00"`,
		`"2024-02-30T00:00:00Z"`, `"2024-05-01T12:34:56,5Z"`, `"1714566896789"`, `"\u0000"`, `"track"`,
		`"identify"`, `"store"`, `"app"`, `"web"`, `"Europe/Paris"`, `"}{]["`)
}

func (g docGen) scalar() string {
	switch g.r.IntN(4) {
	case 0:
		return g.pick("0", "-0", "42", "-7.5", "1e3", "2.5E-3", "12345678901234567890", "1e400", "0.1")
	case 1:
		return g.pick("true", "false", "null")
	}
	return g.str()
}

func (g docGen) value(depth int, keys []string) string {
	switch k := g.r.IntN(10); {
	case k < 6 || depth > 3:
		if g.r.IntN(2) == 0 {
			return g.str()
		}
		return g.scalar()
	case k < 8:
		return g.object(depth+1, keys)
	default:
		var b strings.Builder
		b.WriteString("[" + g.ws())
		for i := range g.r.IntN(4) {
			if i > 0 {
				b.WriteString("," + g.ws())
			}
			b.WriteString(g.value(depth+1, keys))
		}
		b.WriteString("]")
		return b.String()
	}
}

var genKeys = []string{"type", "userId", "anonymousId", "messageId", "previousId", "event", "name",
	"timestamp", "originalTimestamp", "receivedAt", "context", "traits", "properties", "timezone", "email",
	"phone", "country", "app", "page", "device", "os", "userAgent", "channel", "granted", "status",
	"permission", "from", "body", "revenue", "total", "value", "surface", "other", "user\\u0049d", "t\\u0079pe"}

func (g docGen) object(depth int, keys []string) string {
	var b strings.Builder
	b.WriteString("{" + g.ws())
	for i := range g.r.IntN(6) {
		if i > 0 {
			b.WriteString("," + g.ws())
		}
		b.WriteString(`"` + keys[g.r.IntN(len(keys))] + `"` + g.ws() + ":" + g.ws() + g.value(depth, keys))
	}
	b.WriteString(g.ws() + "}")
	return b.String()
}

// document is mostly a plausible message, with random damage.
func (g docGen) document() string {
	var fields []string
	add := func(key, val string) { fields = append(fields, `"`+key+`":`+g.ws()+val) }
	// good returns one of the good values, or rarely one of the bad ones.
	good := func(good []string, bad ...string) string {
		if g.r.IntN(12) == 0 {
			return g.pick(bad...)
		}
		return g.pick(good...)
	}
	if g.r.IntN(30) != 0 {
		add("type", good([]string{`"track"`, `"track"`, `"identify"`, `"page"`, `"screen"`, `"alias"`}, `"other"`, "1", "null"))
	}
	if g.r.IntN(20) != 0 {
		add(g.pick("userId", "anonymousId"), good([]string{`"u1"`, `"a\u00e92"`, "12", "-1.5e3"}, `""`, "null", "true"))
	}
	if g.r.IntN(3) == 0 {
		add(g.pick("userId", "anonymousId", "previousId", "previousId"), good([]string{`"u2"`, "3.5"}, "null", "{}"))
	}
	if g.r.IntN(20) != 0 {
		add("event", good([]string{`"Order Completed"`, `"Push Permission Changed"`, `"Application Opened"`,
			`"Custom"`, `"SMS Received"`, `"Email Subscription Changed"`}, `""`, "5"))
	}
	for range g.r.IntN(3) {
		add(g.pick("name", "messageId"), good([]string{`"n\u0031"`, `"m-1"`}, "[]", "2"))
	}
	for range g.r.IntN(3) {
		ts := g.pick(`"2024-05-01T12:34:56.789Z"`, `"2024-05-01T12:34:56+02:00"`, `"1999-12-31T23:59:59.9999-00:30"`, "null")
		if g.r.IntN(5) == 0 {
			ts = g.scalar()
		}
		add(g.pick("timestamp", "originalTimestamp", "receivedAt"), ts)
	}
	for range g.r.IntN(5) {
		key := g.pick("context", "traits", "properties", "integrations")
		if g.r.IntN(5) == 0 {
			add(key, g.value(0, genKeys))
		} else {
			add(key, g.object(1, genKeys))
		}
	}
	g.r.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	doc := g.ws() + "{" + strings.Join(fields, ","+g.ws()) + "}" + g.ws()
	if g.r.IntN(20) == 0 && len(doc) > 0 { // damage
		i := g.r.IntN(len(doc))
		doc = doc[:i] + g.pick("", ",", "}", `"`, "\\", "\x01", "\xff") + doc[i+1:]
	}
	return doc
}
