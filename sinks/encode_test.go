package sinks

import (
	"bytes"
	"encoding/json"
	"testing"
)

var tricky = []string{"", "plain", `quo"te`, `back\slash`, "tab\tnl\ncr\rbs\bff\f", "\x00\x01\x1f", "<a href='x'>&amp;</a>",
	"héllo wörld ✓ 日本", "bad\xffutf8\xc3", "line\u2028sep\u2029", "emoji 🎉"}

func TestAppendEncodersMatchEncodingJSON(t *testing.T) {
	tr := true
	var part int32 = 7
	var size uint64 = 12345
	for _, s := range tricky {
		for _, props := range []string{"", `{}`, `{ "a" : [1, 2.5e3, "x y", "<&>", "\u2028", {"b": null}] , "c":true }`, "{\"s\":\"a\u2028b\"}"} {
			d := Decision{DecisionID: s, CampaignID: "c" + s, UserID: s, Channel: "push", Template: s, DecidedAt: "2026-01-01T00:00:00.000Z", SendAt: s,
				Trigger:    Trigger{Event: s, MessageID: s, Partition: -3, Offset: 1 << 40},
				Attributes: Attributes{Email: s, Timezone: s, Properties: json.RawMessage(props)}}
			checkSame(t, AppendDecision(nil, &d), &d)
			d.Trigger = Trigger{Timer: s, Segment: "enter:" + s}
			d.Attributes = Attributes{}
			checkSame(t, AppendDecision(nil, &d), &d)
		}
		for _, f := range []Fact{
			{FactID: s, Kind: FactSuppression, UserID: s, At: s, CampaignID: s, Reason: s, Channel: s, Cause: s, MessageID: s},
			{FactID: s, Kind: FactConsentChange, From: s, To: s},
			{FactID: s, Kind: FactSegmentChange, Segment: s, Entered: &tr},
			{FactID: s, Kind: FactSegmentSize, Segment: s, Partition: &part, Size: &size},
			{},
		} {
			checkSame(t, AppendFact(nil, &f), &f)
		}
	}
}

func checkSame(t *testing.T, got []byte, v any) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("append encoder differs from encoding/json:\n got %s\nwant %s", got, want)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range tricky {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSONString(%q) = %s, encoding/json says %s", s, got, want)
		}
	})
}
