package segment

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"
)

// now is the reference time of the tests: 2024-05-01T12:00:00Z.
const now = int64(1714564800000)

// typicalTrack is a ~300-byte track event without escapes.
const typicalTrack = `{"type":"track","event":"Order Completed","userId":"u_8f14e45fceea167a",` +
	`"anonymousId":"b3f0c7f6-bb0e-4f5a-9c1e-2a8d7f3e4c21","messageId":"ajs-1714566896789-5c7b",` +
	`"timestamp":"2024-05-01T12:34:56.789Z","context":{"timezone":"Europe/Paris","app":{"name":"Shop"}},` +
	`"properties":{"order_id":"o-1001","revenue":42.5}}`

func decode(t *testing.T, in string) (Event, error) {
	t.Helper()
	var ev Event
	err := NewDecoder(DecoderOptions{}).Decode([]byte(in), now, &ev)
	if err != nil && view(ev) != view(Event{}) {
		t.Errorf("Decode(%s) failed but left %+v", in, ev)
	}
	return ev, err
}

// view renders an Event for comparison and messages; Properties as text,
// and whether it is nil.
func view(ev Event) string {
	props := "<nil>"
	if ev.Properties != nil {
		props = "`" + string(ev.Properties) + "`"
	}
	ev.Properties = nil
	return fmt.Sprintf("%+v Properties:%s", ev, props)
}

func TestDecodeFields(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Event
	}{
		{
			name: "typical track",
			in:   typicalTrack,
			want: Event{Type: TypeTrack, UserID: "u_8f14e45fceea167a",
				AnonymousID: "b3f0c7f6-bb0e-4f5a-9c1e-2a8d7f3e4c21", MessageID: "ajs-1714566896789-5c7b",
				Name: "Order Completed", Kind: KindOrderCompleted, Timestamp: 1714566896789,
				Surface: SurfaceApp, Timezone: "Europe/Paris", Revenue: 42.5, HasRevenue: true,
				Properties: []byte(`{"order_id":"o-1001","revenue":42.5}`)},
		},
		{
			name: "anonymous only",
			in:   `{"type":"track","event":"Signed Up","anonymousId":"a1"}`,
			want: Event{Type: TypeTrack, AnonymousID: "a1", Name: "Signed Up", Kind: KindCustom},
		},
		{
			name: "null userId counts as absent",
			in:   `{"type":"track","event":"E","userId":null,"anonymousId":"a1"}`,
			want: Event{Type: TypeTrack, AnonymousID: "a1", Name: "E"},
		},
		{
			name: "empty userId with anonymousId",
			in:   `{"type":"track","event":"E","userId":"","anonymousId":"a1"}`,
			want: Event{Type: TypeTrack, AnonymousID: "a1", Name: "E"},
		},
		{
			name: "identify with traits",
			in: `{"type":"identify","userId":"u1","traits":{"email":"a@b.c","phone":"+33600000000",` +
				`"country":"FR","timezone":"Europe/Paris","name":"Ann"}}`,
			want: Event{Type: TypeIdentify, Kind: KindIdentify, UserID: "u1", Email: "a@b.c",
				Phone: "+33600000000", Country: "FR", Timezone: "Europe/Paris"},
		},
		{
			name: "identify phone as a number",
			in:   `{"type":"identify","userId":"u1","traits":{"phone":33600000000}}`,
			want: Event{Type: TypeIdentify, Kind: KindIdentify, UserID: "u1", Phone: "33600000000"},
		},
		{
			name: "context.traits on a track",
			in: `{"type":"track","event":"E","userId":"u1","context":{"traits":{"email":"c@d.e",` +
				`"phone":"1","country":"DE","timezone":"Europe/Berlin"}}}`,
			want: Event{Type: TypeTrack, Name: "E", UserID: "u1", Email: "c@d.e", Phone: "1",
				Country: "DE", Timezone: "Europe/Berlin"},
		},
		{
			name: "top-level traits win over context.traits",
			in: `{"type":"identify","userId":"u1","context":{"traits":{"email":"ctx@x","country":"DE",` +
				`"phone":"2","timezone":"Europe/Berlin"}},"traits":{"email":"top@x","phone":"1","timezone":"Asia/Tokyo"}}`,
			want: Event{Type: TypeIdentify, Kind: KindIdentify, UserID: "u1", Email: "top@x",
				Phone: "1", Country: "DE", Timezone: "Asia/Tokyo"},
		},
		{
			name: "context.timezone wins over traits",
			in: `{"type":"identify","userId":"u1","traits":{"timezone":"Asia/Tokyo"},` +
				`"context":{"timezone":"America/New_York","traits":{"timezone":"Europe/Berlin"}}}`,
			want: Event{Type: TypeIdentify, Kind: KindIdentify, UserID: "u1", Timezone: "America/New_York"},
		},
		{
			name: "page",
			in: `{"type":"page","name":"Home","userId":"u1","context":{"page":{"path":"/"},` +
				`"userAgent":"Mozilla/5.0"},"properties":{"title":"Home"}}`,
			want: Event{Type: TypePage, Kind: KindPage, Name: "Home", UserID: "u1", Surface: SurfaceWeb,
				Properties: []byte(`{"title":"Home"}`)},
		},
		{
			name: "screen",
			in:   `{"type":"screen","name":"Cart","anonymousId":"a1","event":"ignored"}`,
			want: Event{Type: TypeScreen, Kind: KindScreen, Name: "Cart", AnonymousID: "a1", Surface: SurfaceApp},
		},
		{
			name: "alias",
			in:   `{"type":"alias","userId":"u1","previousId":"a1","messageId":"m1"}`,
			want: Event{Type: TypeAlias, Kind: KindAlias, UserID: "u1", PreviousID: "a1", MessageID: "m1"},
		},
		{
			name: "alias previousId as a number",
			in:   `{"type":"alias","userId":"u1","previousId":42}`,
			want: Event{Type: TypeAlias, Kind: KindAlias, UserID: "u1", PreviousID: "42"},
		},
		{
			name: "timestamp wins",
			in: `{"type":"track","event":"E","userId":"u1","receivedAt":"2024-05-01T00:00:03Z",` +
				`"originalTimestamp":"2024-05-01T00:00:02Z","timestamp":"2024-05-01T00:00:01Z"}`,
			want: Event{Type: TypeTrack, Name: "E", UserID: "u1", Timestamp: 1714521601000},
		},
		{
			name: "originalTimestamp when timestamp is null",
			in: `{"type":"track","event":"E","userId":"u1","timestamp":null,` +
				`"originalTimestamp":"2024-05-01T00:00:02Z","receivedAt":"2024-05-01T00:00:03Z"}`,
			want: Event{Type: TypeTrack, Name: "E", UserID: "u1", Timestamp: 1714521602000},
		},
		{
			name: "receivedAt last",
			in:   `{"type":"track","event":"E","userId":"u1","receivedAt":"2024-05-01T00:00:03Z"}`,
			want: Event{Type: TypeTrack, Name: "E", UserID: "u1", Timestamp: 1714521603000},
		},
		{
			name: "permission granted",
			in: `{"type":"track","event":"Permission Changed","userId":"u1",` +
				`"properties":{"granted":true,"permission":"push"}}`,
			want: Event{Type: TypeTrack, Name: "Permission Changed", Kind: KindPermissionChanged,
				UserID: "u1", Granted: true, HasGranted: true, Permission: "push",
				Properties: []byte(`{"granted":true,"permission":"push"}`)},
		},
		{
			name: "push permission revoked",
			in:   `{"type":"track","event":"Push Permission Changed","userId":"u1","properties":{"granted":false}}`,
			want: Event{Type: TypeTrack, Name: "Push Permission Changed", Kind: KindPushPermissionChanged,
				UserID: "u1", HasGranted: true, Properties: []byte(`{"granted":false}`)},
		},
		{
			name: "subscription status and channel",
			in: `{"type":"track","event":"Email Subscription Changed","userId":"u1",` +
				`"properties":{"status":"unsubscribed","channel":"email"},"context":{"app":{}}}`,
			want: Event{Type: TypeTrack, Name: "Email Subscription Changed", Kind: KindEmailSubscriptionChanged,
				UserID: "u1", Status: "unsubscribed", Channel: "email",
				Properties: []byte(`{"status":"unsubscribed","channel":"email"}`)},
		},
		{
			name: "inbound sms",
			in: `{"type":"track","event":"SMS Received","userId":"u1",` +
				`"properties":{"from":"+15550100","body":"STOP"}}`,
			want: Event{Type: TypeTrack, Name: "SMS Received", Kind: KindSMSReceived, UserID: "u1",
				From: "+15550100", Body: "STOP", Properties: []byte(`{"from":"+15550100","body":"STOP"}`)},
		},
		{
			name: "revenue as a numeric string",
			in:   `{"type":"track","event":"Order Completed","userId":"u1","properties":{"revenue":"19.99"}}`,
			want: Event{Type: TypeTrack, Name: "Order Completed", Kind: KindOrderCompleted, UserID: "u1",
				Revenue: 19.99, HasRevenue: true, Properties: []byte(`{"revenue":"19.99"}`)},
		},
		{
			name: "total when revenue is null",
			in: `{"type":"track","event":"Order Completed","userId":"u1",` +
				`"properties":{"value":3,"revenue":null,"total":2.5e1}}`,
			want: Event{Type: TypeTrack, Name: "Order Completed", Kind: KindOrderCompleted, UserID: "u1",
				Revenue: 25, HasRevenue: true, Properties: []byte(`{"value":3,"revenue":null,"total":2.5e1}`)},
		},
		{
			name: "value last",
			in:   `{"type":"track","event":"Product Added","userId":"u1","properties":{"value":-3}}`,
			want: Event{Type: TypeTrack, Name: "Product Added", Kind: KindProductAdded, UserID: "u1",
				Revenue: -3, HasRevenue: true, Properties: []byte(`{"value":-3}`)},
		},
		{
			name: "known properties of the wrong type are ignored where unused",
			in: `{"type":"track","event":"Rating Given","userId":"u1",` +
				`"properties":{"granted":"yes","status":{},"value":[1],"channel":2,"from":true,"body":1}}`,
			want: Event{Type: TypeTrack, Name: "Rating Given", UserID: "u1",
				Properties: []byte(`{"granted":"yes","status":{},"value":[1],"channel":2,"from":true,"body":1}`)},
		},
		{
			name: "well-typed known properties are kept on any kind",
			in:   `{"type":"track","event":"Ticket Closed","userId":"u1","properties":{"status":"done","value":5}}`,
			want: Event{Type: TypeTrack, Name: "Ticket Closed", UserID: "u1", Status: "done",
				Revenue: 5, HasRevenue: true, Properties: []byte(`{"status":"done","value":5}`)},
		},
		{
			name: "properties null",
			in:   `{"type":"track","event":"E","userId":"u1","properties":null}`,
			want: Event{Type: TypeTrack, Name: "E", UserID: "u1"},
		},
		{
			name: "properties empty",
			in:   `{"type":"track","event":"E","userId":"u1","properties":{}}`,
			want: Event{Type: TypeTrack, Name: "E", UserID: "u1", Properties: []byte(`{}`)},
		},
		{
			name: "whitespace everywhere",
			in: " \t\r\n{ \"type\" : \"track\" ,\n\"event\":\t\"E\" , \"userId\" : \"u1\" ," +
				" \"properties\" : { \"revenue\" : 1 } } \n",
			want: Event{Type: TypeTrack, Name: "E", UserID: "u1", Revenue: 1, HasRevenue: true,
				Properties: []byte(`{ "revenue" : 1 }`)},
		},
		{
			name: "repeated key: last wins",
			in:   `{"type":"page","userId":"u1","userId":"u2","type":"track","event":"E"}`,
			want: Event{Type: TypeTrack, Name: "E", UserID: "u2"},
		},
		{
			name: "repeated container replaces the earlier one",
			in: `{"type":"track","event":"E","userId":"u1","context":{"timezone":"A","app":{}},` +
				`"context":{"traits":{"email":"e"}}}`,
			want: Event{Type: TypeTrack, Name: "E", UserID: "u1", Email: "e"},
		},
		{
			name: "null container clears the earlier one",
			in:   `{"type":"track","event":"E","userId":"u1","traits":{"email":"e"},"traits":null}`,
			want: Event{Type: TypeTrack, Name: "E", UserID: "u1"},
		},
		{
			name: "keys are case-sensitive",
			in:   `{"type":"track","event":"E","userId":"u1","UserID":"x","Timestamp":"bad","Type":1}`,
			want: Event{Type: TypeTrack, Name: "E", UserID: "u1"},
		},
		{
			name: "unused fields are not checked",
			in: `{"type":"identify","userId":"u1","event":5,"name":{},"previousId":[],` +
				`"receivedAt":7,"timestamp":"2024-05-01T00:00:00Z"}`,
			want: Event{Type: TypeIdentify, Kind: KindIdentify, UserID: "u1", Timestamp: 1714521600000},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := decode(t, tt.in)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got, want := view(ev), view(tt.want); got != want {
				t.Errorf("Decode(%s)\n got %+v\nwant %+v", tt.in, got, want)
			}
		})
	}
}

func TestDecodeIDsAsNumbers(t *testing.T) {
	for _, num := range []string{"0", "12345", "-7", "1.5", "1e9", "-0.25E-3", "12345678901234567890123"} {
		ev, err := decode(t, `{"type":"track","event":"E","userId":`+num+`,"anonymousId":`+num+`}`)
		if err != nil {
			t.Fatalf("userId %s: %v", num, err)
		}
		if ev.UserID != num || ev.AnonymousID != num {
			t.Errorf("userId %s: got %q / %q, want the literal text", num, ev.UserID, ev.AnonymousID)
		}
	}
}

func TestDecodeEscapes(t *testing.T) {
	tests := []struct{ json, want string }{
		{`"plain"`, "plain"},
		{`"a\"b"`, `a"b`},
		{`"a\\b\/c"`, `a\b/c`},
		{`"\b\f\n\r\t"`, "\b\f\n\r\t"},
		{`"\u0041\u00e9\u20AC"`, "Aé€"},
		{`"\u0000"`, "\x00"},
		{`"\ud83d\ude00"`, "😀"},
		{`"x\uD83D\uDE00y"`, "x😀y"},
		{`"\ud83d"`, "\uFFFD"},              // lone high surrogate
		{`"\ude00"`, "\uFFFD"},              // lone low surrogate
		{`"\ud83dx"`, "\uFFFDx"},            // high surrogate then text
		{`"\ud83d\u0041"`, "\uFFFDA"},       // high surrogate then a non-surrogate escape
		{`"\ud83d\ud83d\ude00"`, "\uFFFD😀"}, // two highs then a low
		{`"\ud83d\n"`, "\uFFFD\n"},
		{`"héllo wörld ✓ 😀"`, "héllo wörld ✓ 😀"}, // raw UTF-8 needs no escape
	}
	for _, tt := range tests {
		in := `{"type":"track","event":` + tt.json + `,"userId":` + tt.json + `}`
		ev, err := decode(t, in)
		if err != nil {
			t.Fatalf("%s: %v", tt.json, err)
		}
		var ref string
		if err := json.Unmarshal([]byte(tt.json), &ref); err != nil || ref != tt.want {
			t.Fatalf("test is wrong: encoding/json decodes %s as %q (%v)", tt.json, ref, err)
		}
		if ev.Name != tt.want || ev.UserID != tt.want {
			t.Errorf("%s: got %q, want %q", tt.json, ev.Name, tt.want)
		}
	}

	// Escaped keys and escaped type names are matched after unescaping.
	ev, err := decode(t, `{"t\u0079pe":"tr\u0061ck","ev\u0065nt":"Order Completed","user\u0049d":"u1",`+
		`"properties":{"reven\u0075e":2}}`)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != TypeTrack || ev.Kind != KindOrderCompleted || ev.UserID != "u1" || ev.Revenue != 2 {
		t.Errorf("escaped keys: got %+v", ev)
	}
}

func TestDecodeAliasesInput(t *testing.T) {
	data := []byte(`{"type":"track","event":"E","userId":"u1","messageId":"m\u0031","properties":{"a":1}}`)
	var ev Event
	if err := NewDecoder(DecoderOptions{}).Decode(data, now, &ev); err != nil {
		t.Fatal(err)
	}
	inData := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		base := uintptr(unsafe.Pointer(&data[0]))
		return p >= base && p < base+uintptr(len(data))
	}
	if !inData(ev.UserID) || !inData(ev.Name) {
		t.Error("unescaped strings are copies, want them to alias the input")
	}
	if ev.MessageID != "m1" || inData(ev.MessageID) {
		t.Errorf("escaped string %q aliases the input, want a copy", ev.MessageID)
	}
	if &ev.Properties[0] != &data[strings.Index(string(data), `{"a"`)] {
		t.Error("Properties is not a sub-slice of the input")
	}
	if cap(ev.Properties) != len(ev.Properties) {
		t.Error("Properties has spare capacity: an append would overwrite the input")
	}
}

func TestDecodeNestedSkipping(t *testing.T) {
	// Unknown values of every shape, including strings that look like
	// structure and keys that look like known fields one level down.
	in := `{"context":{"library":{"name":"analytics.js","version":"2.1"},"ip":"1.2.3.4",` +
		`"campaign":{"name":"} \" {","source":[1,-2.5e-3,true,false,null,{"a":[[],{}]},"\\\"]"]},` +
		`"page":null,"device":null,"os":null,"locale":"fr-FR","deep":[[[[{"userId":"inner"}]]]]},` +
		`"integrations":{"All":true,"Mixpanel":false},"extra":{"type":"identify","event":"Nope",` +
		`"timestamp":"garbage","userId":"inner","traits":{"email":"inner@x"}},` +
		`"properties":{"nested":{"revenue":"not me","granted":"nor me"},"list":[{"revenue":1}]},` +
		`"type":"track","event":"Order Completed","userId":"u1","n":-0.0e+00,"b":[true,false,null,""]}`
	ev, err := decode(t, in)
	if err != nil {
		t.Fatal(err)
	}
	if ev.UserID != "u1" || ev.Name != "Order Completed" || ev.Timestamp != 0 || ev.Email != "" ||
		ev.HasRevenue || ev.HasGranted || ev.Surface != SurfaceNone {
		t.Errorf("nested values leaked into the event: %+v", ev)
	}
}

func TestDecodeVocabulary(t *testing.T) {
	for name, kind := range DefaultVocabulary {
		ev, err := decode(t, `{"type":"track","userId":"u1","event":"`+name+`"}`)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ev.Kind != kind || ev.Name != name {
			t.Errorf("%s: kind %d, want %d", name, ev.Kind, kind)
		}
	}
	for _, name := range []string{"order completed", "Order Completed ", "Foo", "Application"} {
		if ev, err := decode(t, `{"type":"track","userId":"u1","event":"`+name+`"}`); err != nil || ev.Kind != KindCustom {
			t.Errorf("%q: kind %d (%v), want KindCustom", name, ev.Kind, err)
		}
	}

	vocab := map[string]Kind{"Purchase": KindOrderCompleted}
	for n, k := range DefaultVocabulary {
		vocab[n] = k
	}
	d := NewDecoder(DecoderOptions{Vocabulary: vocab})
	vocab["Later"] = KindAppOpened // the decoder keeps its own copy
	var ev Event
	if err := d.Decode([]byte(`{"type":"track","userId":"u1","event":"Purchase"}`), 0, &ev); err != nil || ev.Kind != KindOrderCompleted {
		t.Errorf("extra vocabulary name: kind %d (%v)", ev.Kind, err)
	}
	if err := d.Decode([]byte(`{"type":"track","userId":"u1","event":"Later"}`), 0, &ev); err != nil || ev.Kind != KindCustom {
		t.Errorf("vocabulary changed after NewDecoder: kind %d (%v)", ev.Kind, err)
	}
}

func TestDecodeSurface(t *testing.T) {
	tests := []struct {
		name    string
		typ     string // type and name/event part
		context string
		props   string
		want    Surface
	}{
		{"bare track", `"type":"track","event":"E"`, `{}`, `{}`, SurfaceNone},
		{"screen", `"type":"screen","name":"S"`, `{}`, `{}`, SurfaceApp},
		{"page", `"type":"page","name":"P"`, `{}`, `{}`, SurfaceWeb},
		{"page from an app context", `"type":"page"`, `{"app":{}}`, `{}`, SurfaceWeb},
		{"Application event", `"type":"track","event":"Application Opened"`, `{}`, `{}`, SurfaceApp},
		{"custom Application event", `"type":"track","event":"Application Crashed"`, `{}`, `{}`, SurfaceApp},
		{"context.app", `"type":"track","event":"E"`, `{"app":{"name":"Shop"}}`, `{}`, SurfaceApp},
		{"context.device", `"type":"track","event":"E"`, `{"device":{"type":"ios"}}`, `{}`, SurfaceApp},
		{"context.os", `"type":"track","event":"E"`, `{"os":{"name":"Android"}}`, `{}`, SurfaceApp},
		{"context.page", `"type":"track","event":"E"`, `{"page":{"url":"https://x"}}`, `{}`, SurfaceWeb},
		{"userAgent", `"type":"track","event":"E"`, `{"userAgent":"Mozilla/5.0"}`, `{}`, SurfaceWeb},
		{"userAgent with app", `"type":"track","event":"E"`, `{"userAgent":"Dalvik","app":{}}`, `{}`, SurfaceApp},
		{"userAgent with os", `"type":"track","event":"E"`, `{"userAgent":"Mozilla","os":{"name":""}}`, `{}`, SurfaceWeb},
		{"null hints", `"type":"track","event":"E"`, `{"app":null,"page":null,"userAgent":null}`, `{}`, SurfaceNone},
		{"store channel", `"type":"track","event":"Order Completed"`, `{"channel":"store","app":{}}`, `{}`, SurfaceStore},
		{"other channel", `"type":"track","event":"E"`, `{"channel":"server"}`, `{}`, SurfaceNone},
		{"explicit store", `"type":"track","event":"E"`, `{"app":{}}`, `{"surface":"store"}`, SurfaceStore},
		{"explicit web on screen", `"type":"screen"`, `{}`, `{"surface":"web"}`, SurfaceWeb},
		{"explicit app on page", `"type":"page"`, `{"channel":"store"}`, `{"surface":"app"}`, SurfaceApp},
		{"unknown explicit value", `"type":"screen"`, `{}`, `{"surface":"kiosk"}`, SurfaceApp},
		{"non-string explicit value", `"type":"screen"`, `{}`, `{"surface":1}`, SurfaceApp},
		{"message event", `"type":"track","event":"Push Notification Tapped"`, `{"app":{}}`, `{}`, SurfaceNone},
		{"message event in store", `"type":"track","event":"Email Opened"`, `{"channel":"store"}`, `{}`, SurfaceNone},
		{"message event, explicit", `"type":"track","event":"Email Link Clicked"`, `{}`, `{"surface":"web"}`, SurfaceWeb},
		{"identify from an app", `"type":"identify"`, `{"app":{}}`, `{}`, SurfaceApp},
	}
	for _, tt := range tests {
		in := `{` + tt.typ + `,"userId":"u1","context":` + tt.context + `,"properties":` + tt.props + `}`
		ev, err := decode(t, in)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if ev.Surface != tt.want {
			t.Errorf("%s: surface %d, want %d", tt.name, ev.Surface, tt.want)
		}
	}

	messages := []string{"Push Notification Received", "Push Notification Tapped", "Push Notification Bounced",
		"Email Delivered", "Email Opened", "Email Link Clicked", "Email Bounced", "Email Marked as Spam",
		"Unsubscribed", "Push Permission Changed", "Email Subscription Changed", "SMS Subscription Changed",
		"Permission Changed", "SMS Received", "SMS Delivered", "SMS Link Clicked"}
	for _, name := range messages {
		ev, err := decode(t, `{"type":"track","userId":"u1","event":"`+name+`","context":{"app":{},"userAgent":"x"}}`)
		if err != nil || ev.Surface != SurfaceNone {
			t.Errorf("%s: surface %d (%v), want SurfaceNone", name, ev.Surface, err)
		}
	}
}

func TestDecodeTimestamps(t *testing.T) {
	valid := []string{
		"2024-05-01T12:34:56Z",
		"2024-05-01T12:34:56.7Z",
		"2024-05-01T12:34:56.78Z",
		"2024-05-01T12:34:56.789Z",
		"2024-05-01T12:34:56.789999999Z",
		"2024-05-01T12:34:56.7899999999999Z", // more than nanoseconds: truncated
		"2024-05-01T12:34:56+02:00",
		"2024-05-01T12:34:56.123-07:30",
		"2024-05-01T00:00:00+23:59",
		"2024-02-29T23:59:59Z",
		"2000-02-29T00:00:00Z",
		"1969-12-31T23:59:59.999Z",
		"1900-01-01T00:00:00Z",
		"0000-01-01T00:00:00Z",
		"0000-03-01T00:00:00Z",
		"9999-12-31T23:59:59.999Z",
		"2024-05-01T12:34:56,5Z", // accepted by time.Parse
	}
	for _, ts := range valid {
		ref, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatalf("test is wrong: time.Parse(%q): %v", ts, err)
		}
		var ev Event
		err = NewDecoder(DecoderOptions{}).Decode([]byte(`{"type":"track","event":"E","userId":"u1","timestamp":"`+ts+`"}`), 0, &ev)
		if err != nil {
			t.Errorf("%s: %v", ts, err)
			continue
		}
		if ev.Timestamp != ref.UnixMilli() {
			t.Errorf("%s: %d, want %d", ts, ev.Timestamp, ref.UnixMilli())
		}
	}

	invalid := []string{
		"", "2024", "2024-05-01", "2024-05-01 12:34:56Z", "2024-05-01T12:34:56", "2024-13-01T00:00:00Z",
		"2024-00-01T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2024-04-31T00:00:00Z",
		"2024-05-01T24:00:00Z", "2024-05-01T12:60:00Z", "2024-05-01T12:34:60Z", "2024-05-01T12:34:56.Z",
		"2024-05-01T12:34:56+0200", "2024-05-01T12:34:56+02", "2024-05-01T12:34:56Zjunk",
		"2024-05-01T12:34:56+02:00:00", "+2024-05-01T12:34:56Z", "２024-05-01T12:34:56Z", "1714566896789",
	}
	for _, ts := range invalid {
		if _, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			t.Fatalf("test is wrong: time.Parse accepts %q", ts)
		}
		_, err := decode(t, `{"type":"track","event":"E","userId":"u1","timestamp":"`+ts+`"}`)
		var de *DecodeError
		if !errors.As(err, &de) || de.Reason != ReasonBadTimestamp || de.Field != "timestamp" {
			t.Errorf("%q: %v, want bad_timestamp on timestamp", ts, err)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		reason string
		field  string
		text   string // the whole Error() text, or a part of it
	}{
		{"type missing", `{"userId":"u1","event":"E"}`, ReasonUnknownType, "type",
			"segment: unknown_type: type is missing"},
		{"type null", `{"type":null,"userId":"u1"}`, ReasonUnknownType, "type", "type is missing"},
		{"type unknown", `{"type":"purchase","userId":"u1"}`, ReasonUnknownType, "type",
			`segment: unknown_type: type is "purchase", want track, identify, page, screen or alias`},
		{"type upper case", `{"type":"Track","userId":"u1","event":"E"}`, ReasonUnknownType, "type", `"Track"`},
		{"type number", `{"type":1,"userId":"u1"}`, ReasonWrongType, "type",
			"segment: wrong_type: type is a number (1), want a string"},
		{"no ids", `{"type":"track","event":"E"}`, ReasonMissingID, "userId",
			"segment: missing_id: userId and anonymousId are both missing or empty"},
		{"empty ids", `{"type":"track","event":"E","userId":"","anonymousId":null}`, ReasonMissingID, "userId", ""},
		{"userId bool", `{"type":"track","event":"E","userId":true}`, ReasonWrongType, "userId",
			"segment: wrong_type: userId is a boolean (true), want a string or a number"},
		{"anonymousId object", `{"type":"track","event":"E","userId":"u","anonymousId":{"a":1}}`,
			ReasonWrongType, "anonymousId", `anonymousId is an object ({"a":1}), want a string or a number`},
		{"messageId number", `{"type":"track","event":"E","userId":"u","messageId":5}`, ReasonWrongType,
			"messageId", "messageId is a number (5), want a string"},
		{"alias without previousId", `{"type":"alias","userId":"u1"}`, ReasonMissingID, "previousId", ""},
		{"alias previousId array", `{"type":"alias","userId":"u1","previousId":[]}`, ReasonWrongType, "previousId", ""},
		{"track without event", `{"type":"track","userId":"u1"}`, ReasonMissingEvent, "event",
			"segment: missing_event: event is missing or empty, a track needs it"},
		{"track empty event", `{"type":"track","userId":"u1","event":""}`, ReasonMissingEvent, "event", ""},
		{"track event number", `{"type":"track","userId":"u1","event":5}`, ReasonWrongType, "event", ""},
		{"page name number", `{"type":"page","userId":"u1","name":5}`, ReasonWrongType, "name", ""},
		{"timestamp number", `{"type":"track","event":"E","userId":"u1","timestamp":1714566896789}`,
			ReasonWrongType, "timestamp", "timestamp is a number (1714566896789), want an RFC 3339 string"},
		{"bad timestamp", `{"type":"track","event":"E","userId":"u1","timestamp":"yesterday"}`,
			ReasonBadTimestamp, "timestamp",
			`segment: bad_timestamp: timestamp is "yesterday", want RFC 3339 (2006-01-02T15:04:05.999Z)`},
		{"bad originalTimestamp", `{"type":"track","event":"E","userId":"u1","originalTimestamp":"x","receivedAt":"2024-05-01T00:00:00Z"}`,
			ReasonBadTimestamp, "originalTimestamp", ""},
		{"bad receivedAt", `{"type":"track","event":"E","userId":"u1","receivedAt":"2024-05-01"}`,
			ReasonBadTimestamp, "receivedAt", ""},
		{"future", `{"type":"track","event":"E","userId":"u1","timestamp":"2024-05-02T12:00:00.001Z"}`,
			ReasonFutureTimestamp, "timestamp",
			`segment: future_timestamp: timestamp is "2024-05-02T12:00:00.001Z", more than 24h0m0s after now (2024-05-01T12:00:00Z)`},
		{"context string", `{"type":"track","event":"E","userId":"u1","context":"web"}`, ReasonWrongType,
			"context", `context is a string ("web"), want an object`},
		{"traits array", `{"type":"identify","userId":"u1","traits":[]}`, ReasonWrongType, "traits", ""},
		{"context.traits number", `{"type":"track","event":"E","userId":"u1","context":{"traits":1}}`,
			ReasonWrongType, "context.traits", ""},
		{"properties array", `{"type":"track","event":"E","userId":"u1","properties":[1]}`, ReasonWrongType,
			"properties", "properties is an array ([1]), want an object"},
		{"context.timezone number", `{"type":"track","event":"E","userId":"u1","context":{"timezone":1}}`,
			ReasonWrongType, "context.timezone", ""},
		{"traits.timezone bool", `{"type":"identify","userId":"u1","traits":{"timezone":true}}`,
			ReasonWrongType, "traits.timezone", ""},
		{"traits.email number", `{"type":"identify","userId":"u1","traits":{"email":1}}`, ReasonWrongType,
			"traits.email", ""},
		{"traits.phone object", `{"type":"identify","userId":"u1","traits":{"phone":{}}}`, ReasonWrongType,
			"traits.phone", ""},
		{"traits.country array", `{"type":"identify","userId":"u1","traits":{"country":["FR"]}}`,
			ReasonWrongType, "traits.country", ""},
		{"context.traits.email number", `{"type":"track","event":"E","userId":"u1","context":{"traits":{"email":1}}}`,
			ReasonWrongType, "context.traits.email", ""},
		{"granted string", `{"type":"track","event":"Push Permission Changed","userId":"u1","properties":{"granted":"yes"}}`,
			ReasonWrongType, "properties.granted",
			`segment: wrong_type: properties.granted is a string ("yes"), want a boolean`},
		{"granted number", `{"type":"track","event":"Permission Changed","userId":"u1","properties":{"granted":1}}`,
			ReasonWrongType, "properties.granted", ""},
		{"permission bool", `{"type":"track","event":"Permission Changed","userId":"u1","properties":{"permission":true}}`,
			ReasonWrongType, "properties.permission", ""},
		{"status number", `{"type":"track","event":"SMS Subscription Changed","userId":"u1","properties":{"status":0}}`,
			ReasonWrongType, "properties.status", ""},
		{"from number", `{"type":"track","event":"SMS Received","userId":"u1","properties":{"from":15550100}}`,
			ReasonWrongType, "properties.from", ""},
		{"body array", `{"type":"track","event":"SMS Received","userId":"u1","properties":{"body":["STOP"]}}`,
			ReasonWrongType, "properties.body", ""},
		{"channel number", `{"type":"track","event":"Email Opened","userId":"u1","properties":{"channel":1}}`,
			ReasonWrongType, "properties.channel", ""},
		{"revenue text", `{"type":"track","event":"Order Completed","userId":"u1","properties":{"revenue":"$5"}}`,
			ReasonWrongType, "properties.revenue", `properties.revenue is a string ("$5"), want a number`},
		{"revenue NaN", `{"type":"track","event":"Order Completed","userId":"u1","properties":{"revenue":"NaN"}}`,
			ReasonWrongType, "properties.revenue", ""},
		{"revenue empty", `{"type":"track","event":"Order Completed","userId":"u1","properties":{"revenue":""}}`,
			ReasonWrongType, "properties.revenue", ""},
		{"revenue huge", `{"type":"track","event":"Order Completed","userId":"u1","properties":{"revenue":1e400}}`,
			ReasonWrongType, "properties.revenue", `properties.revenue is "1e400", out of range of a float64`},
		{"total bool", `{"type":"track","event":"Product Added","userId":"u1","properties":{"total":true}}`,
			ReasonWrongType, "properties.total", ""},
		{"value object", `{"type":"track","event":"Product Added","userId":"u1","properties":{"value":{}}}`,
			ReasonWrongType, "properties.value", ""},
		{"long value truncated", `{"type":"track","event":"Push Permission Changed","userId":"u1","properties":{"granted":"` +
			strings.Repeat("é", 100) + `"}}`, ReasonWrongType, "properties.granted",
			`is a string ("` + strings.Repeat("é", 31) + `...), want a boolean`},
		{"long type truncated", `{"type":"` + strings.Repeat("x", 100) + `","userId":"u1"}`, ReasonUnknownType, "type",
			`type is "` + strings.Repeat("x", 64) + `"..., want`},
		{"syntax error wins", `{"type":1,"userId":true,}`, ReasonInvalidJSON, "",
			"segment: invalid_json: offset 24: want a string key (found '}')"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decode(t, tt.in)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode(%s) = %v, want a *DecodeError", tt.in, err)
			}
			if de.Reason != tt.reason || de.Field != tt.field {
				t.Errorf("Decode(%s): reason %q field %q, want %q %q (%v)", tt.in, de.Reason, de.Field,
					tt.reason, tt.field, err)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("Decode(%s):\n got %s\nwant %s", tt.in, err, tt.text)
			}
		})
	}
}

func TestDecodeFutureTimestamp(t *testing.T) {
	in := []byte(`{"type":"track","event":"E","userId":"u1","timestamp":"2024-05-02T12:00:00Z"}`)
	var ev Event
	if err := NewDecoder(DecoderOptions{}).Decode(in, now, &ev); err != nil {
		t.Errorf("exactly MaxFutureSkew ahead: %v", err)
	}
	if err := NewDecoder(DecoderOptions{}).Decode(in, 0, &ev); err != nil {
		t.Errorf("now == 0 must skip the check: %v", err)
	}
	err := NewDecoder(DecoderOptions{MaxFutureSkew: time.Hour}).Decode(in, now, &ev)
	var de *DecodeError
	if !errors.As(err, &de) || de.Reason != ReasonFutureTimestamp {
		t.Errorf("MaxFutureSkew 1h: %v, want future_timestamp", err)
	}
	past := []byte(`{"type":"track","event":"E","userId":"u1","timestamp":"2001-01-01T00:00:00Z"}`)
	if err := NewDecoder(DecoderOptions{MaxFutureSkew: time.Hour}).Decode(past, now, &ev); err != nil {
		t.Errorf("past event: %v", err)
	}
}

func TestDecodeTooLarge(t *testing.T) {
	small := NewDecoder(DecoderOptions{MaxBytes: 64})
	var ev Event
	in := []byte(`{"type":"track","event":"E","userId":"u1","properties":{"pad":"........"}}`)
	err := small.Decode(in, now, &ev)
	var de *DecodeError
	if !errors.As(err, &de) || de.Reason != ReasonTooLarge ||
		err.Error() != "segment: too_large: 74 bytes, limit 64" {
		t.Errorf("got %v, want too_large", err)
	}
	if err := small.Decode(in[:0:0], now, &ev); err == nil || err.(*DecodeError).Reason != ReasonInvalidJSON {
		t.Errorf("empty input: %v", err)
	}

	big := []byte(`{"type":"track","event":"E","userId":"u1","properties":{"pad":"` +
		strings.Repeat("x", DefaultMaxBytes) + `"}}`)
	if err := NewDecoder(DecoderOptions{}).Decode(big, now, &ev); err == nil || err.(*DecodeError).Reason != ReasonTooLarge {
		t.Errorf("over the default limit: %v", err)
	}
	var zero Decoder
	if err := zero.Decode(big, now, &ev); err == nil || err.(*DecodeError).Reason != ReasonTooLarge {
		t.Errorf("zero Decoder over the default limit: %v", err)
	}
}

func TestDecoderOptionsValidate(t *testing.T) {
	for _, o := range []DecoderOptions{{}, {MaxBytes: 1 << 20, MaxFutureSkew: time.Minute}} {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	for _, o := range []DecoderOptions{{MaxBytes: -1}, {MaxFutureSkew: -time.Second}} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v: valid, want an error", o)
		}
	}
}

func TestDecodeInvalidJSON(t *testing.T) {
	base := `"type":"track","event":"E","userId":"u1"`
	tests := []string{
		``, ` `, `null`, `[]`, `"x"`, `1`, `{`, `}`, `{}}`, `{} {}`, `{}x`, "\xef\xbb\xbf{" + base + `}`,
		`{` + base, `{` + base + `,}`, `{,` + base + `}`, `{` + base + `,,"a":1}`,
		`{` + base + `,"a"}`, `{` + base + `,"a":}`, `{` + base + `,"a" 1}`, `{` + base + `,a:1}`,
		`{` + base + `,'a':1}`, `{` + base + `,"a":1,}`, `{` + base + `,"a":[1,]}`, `{` + base + `,"a":[,1]}`,
		`{` + base + `,"a":[1 2]}`, `{` + base + `,"a":{"b"}}`, `{` + base + `,"a":[}`, `{` + base + `,"a":{]}`,
		`{` + base + `,"a":01}`, `{` + base + `,"a":-}`, `{` + base + `,"a":1.}`, `{` + base + `,"a":.5}`,
		`{` + base + `,"a":1e}`, `{` + base + `,"a":1e+}`, `{` + base + `,"a":+1}`, `{` + base + `,"a":0x10}`,
		`{` + base + `,"a":NaN}`, `{` + base + `,"a":Infinity}`, `{` + base + `,"a":tru}`, `{` + base + `,"a":nul}`,
		`{` + base + `,"a":True}`, `{` + base + `,"a":falsey}`, `{` + base + `,"a":"\x}`, `{` + base + `,"a":"\u12"}`,
		`{` + base + `,"a":"\u12G4"}`, `{` + base + `,"a":"\'"}`, `{` + base + `,"a":"` + "\t" + `"}`,
		`{` + base + `,"a":"` + "\n" + `"}`, `{` + base + `,"a":"` + "\x00" + `"}`, `{` + base + `,"a":"unterminated}`,
		`{` + base + `,"a` + "\x01" + `":1}`, `{` + base + `,"a":"\`, `{` + base + `,"a":"\u`,
		`{` + base + `,"a":1` + "\x0b" + `}`, `{` + base + `,"a":1` + "\u00a0" + `}`,
		`{` + base + `,"a":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`,
		`{` + base + `,"a":` + strings.Repeat(`{"":`, maxDepth) + "1" + strings.Repeat("}", maxDepth) + `}`,
		`{"type":"track","event":"E","userId":"u1"` + "\x00}",
		`{"type":"track","event":"E","userId":"u1","properties":{"revenue":1,}}`,
		`{"type":"track","event":"E","userId":"u1","context":{"app":{"name":"x"}}`,
	}
	for _, in := range tests {
		_, err := decode(t, in)
		var de *DecodeError
		if !errors.As(err, &de) || de.Reason != ReasonInvalidJSON {
			t.Errorf("Decode(%q) = %v, want invalid_json", in, err)
		}
	}

	// Invalid UTF-8 is refused (encoding/json would replace it with U+FFFD).
	for _, bad := range []string{"\xff", "\xc3", "\xc3(", "\xe2\x82", "\xed\xa0\x80" /* surrogate */, "\xc0\xaf" /* overlong */, "\xf4\x90\x80\x80"} {
		in := `{"type":"track","event":"E","userId":"u1","x":"` + bad + `"}`
		_, err := decode(t, in)
		if err == nil || err.(*DecodeError).Reason != ReasonInvalidJSON || !strings.Contains(err.Error(), "invalid UTF-8") {
			t.Errorf("Decode(%q) = %v, want invalid_json (invalid UTF-8)", in, err)
		}
	}

	// The deepest nesting allowed.
	deep := `{` + base + `,"a":` + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + `}`
	if _, err := decode(t, deep); err != nil {
		t.Errorf("nesting %d: %v", maxDepth, err)
	}
}

func TestDecodeResetsEvent(t *testing.T) {
	d := NewDecoder(DecoderOptions{})
	var ev Event
	full := `{"type":"identify","userId":"u1","anonymousId":"a","messageId":"m","timestamp":"2024-05-01T00:00:00Z",` +
		`"traits":{"email":"e","phone":"p","country":"c","timezone":"t"},"context":{"app":{}},` +
		`"properties":{"granted":true,"status":"s","permission":"p","from":"f","body":"b","revenue":1,"channel":"c"}}`
	if err := d.Decode([]byte(full), now, &ev); err != nil {
		t.Fatal(err)
	}
	if err := d.Decode([]byte(`{"type":"track","event":"E","anonymousId":"a2"}`), now, &ev); err != nil {
		t.Fatal(err)
	}
	if want := (Event{Type: TypeTrack, Name: "E", AnonymousID: "a2"}); view(ev) != view(want) {
		t.Errorf("second decode kept fields of the first: %+v", ev)
	}
	if err := d.Decode([]byte(full), now, &ev); err != nil {
		t.Fatal(err)
	}
	if err := d.Decode([]byte(`{"type":"track"}`), now, &ev); err == nil || view(ev) != view(Event{}) {
		t.Errorf("failed decode left %+v (%v)", ev, err)
	}
}

func TestDecodeAllocs(t *testing.T) {
	if len(typicalTrack) < 280 || len(typicalTrack) > 320 {
		t.Fatalf("typicalTrack is %d bytes, want about 300", len(typicalTrack))
	}
	d := NewDecoder(DecoderOptions{})
	data := []byte(typicalTrack)
	var ev Event
	allocs := testing.AllocsPerRun(1000, func() {
		if err := d.Decode(data, now, &ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Decode allocates %v times per typical event, want 0", allocs)
	}
	for _, in := range benchEvents {
		data := []byte(in.json)
		if in.escaped {
			continue
		}
		if a := testing.AllocsPerRun(100, func() { _ = d.Decode(data, now, &ev) }); a != 0 {
			t.Errorf("%s: %v allocations per decode, want 0", in.name, a)
		}
	}
}

var benchEvents = []struct {
	name    string
	json    string
	escaped bool
}{
	{name: "track", json: typicalTrack},
	{name: "identify", json: `{"anonymousId":"507f191e810c19729de860ea","channel":"browser","context":{"ip":"8.8.8.8",` +
		`"userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/61.0.3163.100 Safari/537.36",` +
		`"library":{"name":"analytics.js","version":"2.11.1"},"locale":"en-US","timezone":"America/New_York",` +
		`"page":{"path":"/academy/","referrer":"","search":"","title":"Analytics Academy","url":"https://segment.com/academy/"}},` +
		`"integrations":{"All":false,"Mixpanel":true,"Salesforce":true},"messageId":"022bb90c-bbac-11e4-8dfc-aa07a5b093db",` +
		`"receivedAt":"2015-02-23T22:28:55.387Z","sentAt":"2015-02-23T22:28:55.111Z","timestamp":"2015-02-23T22:28:55.111Z",` +
		`"traits":{"name":"Peter Gibbons","email":"peter@example.com","plan":"premium","logins":5,` +
		`"address":{"street":"6th St","city":"San Francisco","state":"CA","postalCode":"94103","country":"USA"}},` +
		`"type":"identify","userId":"97980cfea0067","version":"1.1"}`},
	{name: "app_open", json: `{"type":"track","event":"Application Opened","userId":"1f9e7d2a-4b3c-4d5e-8f6a-7b8c9d0e1f2a",` +
		`"anonymousId":"f0e1d2c3-b4a5-4968-8776-655443322110","messageId":"7c6b5a49-3827-4615-a4b3-c2d1e0f9a8b7",` +
		`"timestamp":"2024-05-01T09:15:00.250+02:00","context":{"app":{"name":"Shop","version":"5.1.0","build":"5100",` +
		`"namespace":"com.example.shop"},"device":{"id":"B5372DB0-C21E-11E4-8DFC-AA07A5B093DB","manufacturer":"Apple",` +
		`"model":"iPhone15,2","type":"ios","adTrackingEnabled":false},"os":{"name":"iOS","version":"17.4.1"},` +
		`"network":{"wifi":true,"cellular":false,"carrier":"Orange"},"screen":{"width":393,"height":852,"density":3},` +
		`"locale":"fr-FR","timezone":"Europe/Paris","library":{"name":"analytics-swift","version":"1.5.3"},` +
		`"traits":{"email":"ann@example.com","country":"FR"}},"properties":{"from_background":true,"version":"5.1.0","build":"5100"}}`},
	{name: "utf8", json: `{"type":"track","event":"Product Added","userId":"u-1042","timestamp":"2024-05-01T12:00:00+09:00",` +
		`"context":{"locale":"ja-JP","timezone":"Asia/Tokyo","traits":{"name":"山田 花子","country":"JP"}},` +
		`"properties":{"name":"抹茶ラテ（ホット）・Ｍサイズ","category":"飲み物／季節限定","price":480,"currency":"JPY",` +
		`"description":"京都府宇治市産の抹茶を使用した、まろやかで香り高いラテです。","value":480}}`},
	{name: "escaped", escaped: true, json: `{"type":"track","event":"SMS Received","userId":"u\u00e9\u00e8",` +
		`"timestamp":"2024-05-01T12:00:00Z","properties":{"from":"+33600000000","body":"STOP\n\"merci\" \ud83d\ude00"}}`},
}

func BenchmarkDecode(b *testing.B) {
	d := NewDecoder(DecoderOptions{})
	for _, in := range benchEvents {
		b.Run(in.name, func(b *testing.B) {
			data := []byte(in.json)
			var ev Event
			if err := d.Decode(data, now, &ev); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := d.Decode(data, now, &ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSpecial checks the eight-bytes-at-a-time string scan against the
// byte table: the lowest flagged byte is the first byte that is not plain.
func TestSpecial(t *testing.T) {
	check := func(b [8]byte) {
		want := 8
		for i, c := range b {
			if !plain[c] {
				want = i
				break
			}
		}
		got := 8
		if m := special(binary.LittleEndian.Uint64(b[:])); m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if got != want {
			t.Fatalf("%q: first special byte at %d, want %d", b, got, want)
		}
	}
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 8; pos++ {
			b := [8]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}
			b[pos] = byte(c)
			check(b)
			for k := pos + 1; k < 8; k++ {
				b[k] = byte(255 - c) // whatever follows must not matter
			}
			check(b)
			for k := pos + 1; k < 8; k++ {
				b[k] = byte(k * 37)
			}
			check(b)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1 << 20 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], r.Uint64()&^(r.Uint64()&0x8080808080808080))
		check(b)
	}
}

// TestUTF8Len checks the string scan's UTF-8 validation against unicode/utf8.
func TestUTF8Len(t *testing.T) {
	check := func(b []byte) {
		want := 0
		if r, size := utf8.DecodeRune(b); r != utf8.RuneError || size > 1 {
			want = size
		}
		if got := utf8Len(b); got != want {
			t.Fatalf("% x: length %d, want %d", b, got, want)
		}
	}
	tails := []byte{0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF}
	for b0 := 0x80; b0 < 0x100; b0++ {
		check([]byte{byte(b0)})
		for b1 := 0; b1 < 0x100; b1++ {
			check([]byte{byte(b0), byte(b1)})
			for b2 := 0; b2 < 0x100; b2++ {
				check([]byte{byte(b0), byte(b1), byte(b2)})
				if b0 >= 0xF0 {
					for _, b3 := range tails {
						check([]byte{byte(b0), byte(b1), byte(b2), b3})
					}
				}
			}
		}
	}
}

// BenchmarkEncodingJSONValid is a yardstick for BenchmarkDecode on a noisy
// machine: encoding/json only validating the same events.
func BenchmarkEncodingJSONValid(b *testing.B) {
	for _, in := range benchEvents {
		b.Run(in.name, func(b *testing.B) {
			data := []byte(in.json)
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if !json.Valid(data) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
