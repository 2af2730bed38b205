package stream

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/rekindle/rekindle/sinks"
	"github.com/rekindle/rekindle/state"
)

var t0 = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)

// at returns t0 plus d days (fractions allowed) in RFC 3339.
func at(days float64) string {
	return t0.Add(time.Duration(days * float64(24*time.Hour))).Format(time.RFC3339Nano)
}

func atMillis(days float64) string {
	return t0.Add(time.Duration(days * float64(24*time.Hour))).UTC().Format(sinks.TimeFormat)
}

// segmentChanges replays events until `until` days and returns the
// segment_change facts as "user segment +|- at" lines, for the segments named.
func segmentChanges(t *testing.T, yaml string, until float64, segments []string, events ...string) []string {
	t.Helper()
	var d, f bytes.Buffer
	_, err := Replay(context.Background(), mustProcessor(t, yaml), ReplayOptions{
		Events: strings.NewReader(strings.Join(events, "\n")), Decisions: &d, Facts: &f,
		Until: t0.Add(time.Duration(until * float64(24*time.Hour))).UnixMilli(),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, s := range segments {
		want[s] = true
	}
	var out []string
	for _, fact := range lines[sinks.Fact](t, f.Bytes()) {
		if fact.Kind != sinks.FactSegmentChange || !want[fact.Segment] {
			continue
		}
		sign := "-"
		if *fact.Entered {
			sign = "+"
		}
		out = append(out, fmt.Sprintf("%s %s%s %s", fact.UserID, sign, fact.Segment, fact.At))
	}
	return out
}

func expectChanges(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("segment changes:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

func TestPurchaseLapsedAtTheExactDeadlineAndLeftOnPurchase(t *testing.T) {
	got := segmentChanges(t, "", 100, []string{"purchase_lapsed"},
		ev("a", "m1", at(0), "Order Completed", `{"revenue":10}`),
		ev("a", "m2", at(75), "Order Completed", `{"revenue":10}`),
	)
	expectChanges(t, got, "a +purchase_lapsed "+atMillis(60), "a -purchase_lapsed "+atMillis(75))
}

func TestLapsedAndInactiveThresholds(t *testing.T) {
	got := segmentChanges(t, "segments:\n  lapsed_after: 45d\n", 100, []string{"active", "lapsed", "inactive_30d", "inactive_90d"},
		ev("a", "m1", at(0), "Application Opened", ""),
	)
	expectChanges(t, got,
		"a +active "+atMillis(0),
		"a +inactive_30d "+atMillis(30),
		"a -active "+atMillis(45), "a +lapsed "+atMillis(45),
		"a +inactive_90d "+atMillis(90))
}

func TestPushRevokedIsNotPushDenied(t *testing.T) {
	segs := []string{"push_never_asked", "push_enabled", "push_denied", "push_revoked"}
	got := segmentChanges(t, "", 1, segs,
		ev("a", "m1", at(0), "Push Permission Changed", `{"granted":true}`),
		ev("a", "m2", at(0.5), "Push Permission Changed", `{"granted":false}`),
		ev("b", "m3", at(0), "Push Permission Changed", `{"granted":false}`),
	)
	expectChanges(t, got,
		"a +push_enabled "+atMillis(0),
		"a -push_enabled "+atMillis(0.5), "a +push_revoked "+atMillis(0.5),
		"b +push_denied "+atMillis(0))
}

func TestEmailDisengagedAfterFiveUnopenedAndBackOnOpen(t *testing.T) {
	var events []string
	for i := 0; i < 5; i++ {
		events = append(events, ev("a", fmt.Sprint("d", i), at(float64(i)), "Email Delivered", ""))
	}
	events = append(events, ev("a", "o", at(10), "Email Opened", ""))
	got := segmentChanges(t, "", 11, []string{"email_disengaged"}, events...)
	expectChanges(t, got, "a +email_disengaged "+atMillis(4), "a -email_disengaged "+atMillis(10))
}

func TestEmailSunsetAfter180DaysWithoutOpens(t *testing.T) {
	got := segmentChanges(t, "", 400, []string{"email_sunset"},
		ev("a", "m1", at(0), "Email Subscription Changed", `{"status":"subscribed"}`),
		ev("a", "m2", at(100), "Email Opened", ""),
	)
	expectChanges(t, got, "a +email_sunset "+atMillis(280))
}

const definitionsYAML = `
segments:
  definitions:
    big_spenders: {trait: lifetime_value, op: ">=", value: 500}
    cart_abandoners: {performed: "Product Added", within: 2d, not_performed: "Order Completed"}
    frequent_openers: {performed: "Application Opened", at_least: 3, within: 7d}
    churn_watch: {expr: "lapsed and not uninstalled and (email_subscribed or sms_subscribed)"}
`

func TestUserDefinedSegments(t *testing.T) {
	segs := []string{"big_spenders", "cart_abandoners", "frequent_openers", "churn_watch"}
	got := segmentChanges(t, definitionsYAML, 60, segs,
		ev("a", "m1", at(0), "Product Added", `{"price":300}`),
		ev("a", "m2", at(1), "Order Completed", `{"revenue":300}`),
		ev("a", "m3", at(1.5), "Order Completed", `{"revenue":250}`),
		ev("b", "m4", at(0), "Product Added", `{"price":5}`), // abandoned: leaves when the window ends
		ev("c", "m5", at(0), "Application Opened", ""),
		ev("c", "m6", at(1), "Application Opened", ""),
		ev("c", "m7", at(2), "Application Opened", ""),
		ev("c", "m8", at(3), "Email Subscription Changed", `{"status":"subscribed"}`),
	)
	// In input order; a timer fires before the first event after its due time.
	expectChanges(t, got,
		"a +cart_abandoners "+atMillis(0),
		"a -cart_abandoners "+atMillis(1),
		"a +big_spenders "+atMillis(1.5),
		"b +cart_abandoners "+atMillis(0),
		"b -cart_abandoners "+atMillis(2),
		"c +frequent_openers "+atMillis(2),
		"c -frequent_openers "+atMillis(7),
		"c +churn_watch "+atMillis(32))
}

func TestSegmentTriggeredCampaign(t *testing.T) {
	yaml := `
campaigns:
  - {id: winback, trigger: {segment_enter: lapsed}, channels: [email], template: we-miss-you}
`
	var d bytes.Buffer
	events := ev("a", "m1", at(0), "Email Subscription Changed", `{"status":"subscribed"}`) + "\n" + ev("a", "m2", at(1), "Application Opened", "")
	_, err := Replay(context.Background(), mustProcessor(t, yaml), ReplayOptions{
		Events: strings.NewReader(events), Decisions: &d, Until: t0.Add(40 * 24 * time.Hour).UnixMilli(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ds := lines[sinks.Decision](t, d.Bytes())
	if len(ds) != 1 || ds[0].CampaignID != "winback" || ds[0].DecidedAt != atMillis(31) ||
		ds[0].Trigger.Segment != "enter:lapsed" || ds[0].Trigger.Timer == "" || ds[0].Channel != "email" {
		t.Fatalf("decisions: %s", d.Bytes())
	}
}

func TestSegmentConfigErrors(t *testing.T) {
	for yaml, want := range map[string]string{
		"segments:\n  definitions:\n    x: {trait: height, op: '>', value: 1}\n":      `x.yaml:3: segments.definitions.x.trait: unknown trait "height"`,
		"segments:\n  definitions:\n    x: {expr: 'lapsed and'}\n":                    "x.yaml:3: segments.definitions.x.expr: expr: position 10",
		"segments:\n  definitions:\n    x: {expr: 'lapsed or nope'}\n":                `nope`,
		"segments:\n  definitions:\n    x: {expr: y}\n    y: {expr: x}\n":             "cycle",
		"segments:\n  definitions:\n    x: {not_performed: A}\n":                      "needs performed",
		"campaigns:\n  - {id: c, trigger: {segment_enter: lost}, channels: [push]}\n": `x.yaml:2: campaigns[0].trigger.segment_enter: unknown segment "lost"`,
	} {
		_, err := ParseConfig("x.yaml", []byte(yaml))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to contain %q", yaml, err, want)
		}
	}
}

// After every batch, with timers fired up to the clock, each partition's
// bitmaps equal the membership recomputed from scratch from the records.
func TestBitmapsEqualMembershipRecomputedFromRecords(t *testing.T) {
	p := mustProcessor(t, definitionsYAML)
	store, err := state.Open(state.Options{Dir: t.TempDir(), Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const parts, users = 3, 2000
	pss := make([]*PartitionState, parts)
	for i := range pss {
		if pss[i], err = p.NewPartitionState(store.Partition(int32(i)), int32(i)); err != nil {
			t.Fatal(err)
		}
	}
	names := []string{"Application Opened", "Order Completed", "Product Added", "Email Delivered", "Email Opened",
		"Push Notification Received", "Push Permission Changed", "Email Subscription Changed", "SMS Received", "Application Uninstalled", "Page Viewed"}
	props := map[string]string{"Order Completed": `{"revenue":120}`, "Product Added": `{"price":20}`,
		"Push Permission Changed": `{"granted":true}`, "Email Subscription Changed": `{"status":"subscribed"}`, "SMS Received": `{"body":"STOP"}`}
	rng := rand.New(rand.NewPCG(1, 2))
	clock := 0.0
	offsets := make([]int64, parts)
	for batch := 0; batch < 30; batch++ {
		for i := 0; i < 500; i++ {
			clock += rng.Float64() * 0.05 // days; ~12 days per batch
			u := fmt.Sprintf("u%d", rng.IntN(users))
			name := names[rng.IntN(len(names))]
			if name == "Push Permission Changed" && rng.IntN(2) == 0 {
				props[name] = `{"granted":false}`
			} else if name == "Push Permission Changed" {
				props[name] = `{"granted":true}`
			}
			part := PartitionOf(u, parts)
			in := Input{Topic: "events", Partition: part, Offset: offsets[part],
				Value: []byte(ev(u, fmt.Sprint(batch, "-", i), at(clock), name, props[name]))}
			offsets[part]++
			if err := pss[part].Process(&in); err != nil {
				t.Fatal(err)
			}
		}
		now := t0.Add(time.Duration(clock * float64(24*time.Hour))).UnixMilli()
		for i, ps := range pss {
			// Right after a commit the timer index is complete: fire until
			// nothing is due.
			for {
				if err := ps.Commit(offsets[i], false, false); err != nil {
					t.Fatal(err)
				}
				n, err := ps.FireTimers(now, 100)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
			checked := 0
			err := store.Partition(int32(i)).ForEachUser(func(r *state.UserRecord) error {
				want, _ := p.segs.compute(r, now)
				if want != r.Segments {
					return fmt.Errorf("batch %d: user %s: stored segments %v, recomputed at the clock %v (timer due %d, now %d)",
						batch, r.UserID, p.SegmentNames(&r.Segments), p.SegmentNames(&want), r.TimerDue, now)
				}
				for id := 0; id < p.segs.catalog.Len(); id++ {
					if ps.reg.Contains(id, r.DenseID) != maskHas(&want, id) {
						return fmt.Errorf("batch %d: user %s: bitmap of %s says %v", batch, r.UserID, p.segs.catalog.Name(id), !maskHas(&want, id))
					}
				}
				checked++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var total uint64
			for id := 0; id < p.segs.catalog.Len(); id++ {
				total += ps.reg.Cardinality(id)
			}
			if checked == 0 || total == 0 {
				t.Fatalf("partition %d checked %d users, bitmaps hold %d memberships", i, checked, total)
			}
		}
	}
}

// Bitmaps survive a restart through the snapshot, and a rebuild from the
// records gives the same bitmaps.
func TestSegmentsSurviveRestartAndRebuildMatches(t *testing.T) {
	dir := t.TempDir()
	p := mustProcessor(t, definitionsYAML)
	data := strings.Split(strings.TrimSpace(replayFixture(t)), "\n")
	open := func() (*state.Store, *PartitionState) {
		store, err := state.Open(state.Options{Dir: dir, Logf: func(string, ...any) {}})
		if err != nil {
			t.Fatal(err)
		}
		ps, err := p.NewPartitionState(store.Partition(0), 0)
		if err != nil {
			t.Fatal(err)
		}
		return store, ps
	}
	store, ps := open()
	for i, line := range data {
		in := Input{Topic: "events", Offset: int64(i), Value: []byte(line)}
		if err := ps.Process(&in); err != nil {
			t.Fatal(err)
		}
	}
	if err := ps.Commit(int64(len(data)), false, true); err != nil {
		t.Fatal(err)
	}
	before, err := ps.reg.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	sizes := fmt.Sprint(ps.reg.Sizes())
	store.Close()

	store, ps = open()
	after, _ := ps.reg.MarshalBinary()
	if !bytes.Equal(before, after) || fmt.Sprint(ps.reg.Sizes()) != sizes {
		t.Fatalf("bitmaps differ after a restart: sizes %s, then %v", sizes, ps.reg.Sizes())
	}
	ps.reg.Reset()
	if err := ps.RebuildSegments(); err != nil {
		t.Fatal(err)
	}
	rebuilt, _ := ps.reg.MarshalBinary()
	if !bytes.Equal(before, rebuilt) {
		t.Fatalf("a rebuild from the records gives other bitmaps: sizes %s, rebuilt %v", sizes, ps.reg.Sizes())
	}
	if !strings.Contains(sizes, " ") || sizes == fmt.Sprint(make([]uint64, len(ps.reg.Sizes()))) {
		t.Fatalf("the fixture put nobody in any segment: %s", sizes)
	}
	store.Close()

	// A stale snapshot (state committed after it) is not used: rebuilt instead.
	store, ps = open()
	in := Input{Topic: "events", Offset: int64(len(data)), Value: []byte(ev("newcomer", "n1", at(400), "Application Opened", ""))}
	if err := ps.Process(&in); err != nil {
		t.Fatal(err)
	}
	if err := ps.Commit(int64(len(data))+1, false, false); err != nil {
		t.Fatal(err)
	}
	store.Close()
	store, ps = open()
	defer store.Close()
	active, _ := p.segs.catalog.ID("active")
	var rec state.UserRecord
	store.Partition(0).GetUser("newcomer", &rec)
	if !ps.reg.Contains(active, rec.DenseID) {
		t.Fatal("after a restart with a stale snapshot, the newest user is missing from the bitmaps")
	}
}

// A segment definition added between runs applies to the users already
// stored: their segments are recomputed at startup.
func TestChangedDefinitionsAreRecomputed(t *testing.T) {
	dir := t.TempDir()
	run := func(yaml string, events ...string) (*state.Store, *PartitionState, *Processor) {
		p := mustProcessor(t, yaml)
		store, err := state.Open(state.Options{Dir: dir, Logf: func(string, ...any) {}})
		if err != nil {
			t.Fatal(err)
		}
		ps, err := p.NewPartitionState(store.Partition(0), 0)
		if err != nil {
			t.Fatal(err)
		}
		next, _, _ := store.Partition(0).Offset()
		for _, e := range events {
			in := Input{Topic: "events", Offset: next, Value: []byte(e)}
			next++
			if err := ps.Process(&in); err != nil {
				t.Fatal(err)
			}
		}
		if err := ps.Commit(next, false, false); err != nil {
			t.Fatal(err)
		}
		return store, ps, p
	}
	store, _, _ := run("", ev("rich", "m1", at(0), "Order Completed", `{"revenue":900}`), ev("poor", "m2", at(0), "Order Completed", `{"revenue":9}`))
	store.Close()

	store, ps, p := run(definitionsYAML)
	defer store.Close()
	big, _ := p.segs.catalog.ID("big_spenders")
	lapsed, _ := p.segs.catalog.ID("purchase_lapsed")
	for user, want := range map[string]bool{"rich": true, "poor": false} {
		var rec state.UserRecord
		if found, err := store.Partition(0).GetUser(user, &rec); err != nil || !found {
			t.Fatal(user, found, err)
		}
		if maskHas(&rec.Segments, big) != want || ps.reg.Contains(big, rec.DenseID) != want {
			t.Errorf("%s: big_spenders in record %v, in bitmap %v, want %v", user, maskHas(&rec.Segments, big), ps.reg.Contains(big, rec.DenseID), want)
		}
		if maskHas(&rec.Segments, lapsed) || rec.TimerDue == 0 {
			t.Errorf("%s: built-in segments or timer wrong after the recompute: %v, timer %d", user, p.SegmentNames(&rec.Segments), rec.TimerDue)
		}
	}
}
