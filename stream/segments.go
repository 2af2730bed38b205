package stream

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/rekindle/rekindle/bitmap"
	"github.com/rekindle/rekindle/state"
)

// Built-in segment ids; the names are the contract (see README).
const (
	SegActive = iota
	SegLapsed
	SegInactive30d
	SegInactive60d
	SegInactive90d
	SegAppInactive
	SegWebInactive
	SegPurchaseLapsed
	SegNewUser
	SegPushNeverAsked
	SegPushDenied
	SegPushRevoked
	SegPushEnabled
	SegEmailSubscribed
	SegEmailUnsubscribed
	SegEmailSpam
	SegEmailBounced
	SegSMSSubscribed
	SegSMSUnsubscribed
	SegUninstalled
	SegPremiumCancelled
	SegPushDisengaged
	SegEmailDisengaged
	SegSMSDisengaged
	SegEmailSunset
	SegAtRisk
	NumBuiltinSegments
)

// BuiltinSegments names the built-in segments in id order.
var BuiltinSegments = [NumBuiltinSegments]string{
	"active", "lapsed", "inactive_30d", "inactive_60d", "inactive_90d", "app_inactive", "web_inactive",
	"purchase_lapsed", "new_user",
	"push_never_asked", "push_denied", "push_revoked", "push_enabled",
	"email_subscribed", "email_unsubscribed", "email_spam", "email_bounced",
	"sms_subscribed", "sms_unsubscribed", "uninstalled", "premium_cancelled",
	"push_disengaged", "email_disengaged", "sms_disengaged", "email_sunset", "at_risk",
}

const dayMs = int64(day / time.Millisecond)

// Mask is a set of segment ids: bit i of word i/64.
type Mask = [state.SegmentWords]uint64

func maskHas(m *Mask, id int) bool { return m[id>>6]&(1<<(id&63)) != 0 }
func maskSet(m *Mask, id int)      { m[id>>6] |= 1 << (id & 63) }

// defKind is the kind of a user-defined segment.
type defKind uint8

const (
	defTrait defKind = iota + 1
	defHistory
	defExpr
)

// segmentDef is a compiled SegmentDefinition.
type segmentDef struct {
	id   int
	name string
	kind defKind
	// trait
	trait  string
	op     string
	num    float64
	str    string
	isText bool
	// history
	performed, notPerformed string
	within                  int64
	atLeast                 int
	// expr
	expr *bitmap.Expr
}

// segmentSet computes users' segment membership: a pure function of the
// record and the clock.
type segmentSet struct {
	catalog *bitmap.Catalog
	defs    []segmentDef // in evaluation order (expressions after what they use)
	// tracked: event name → how many recent times a definition needs.
	tracked map[string]int

	lapsed, purchaseLapsed, sunset, newUser, disengagedWindow int64
	disengagedMessages                                        uint32
}

var traitNames = map[string]bool{
	"lifetime_value": false, "purchases": false, "cart_value": false, "cart_items": false, "events": false,
	"country": true, "timezone": true, "email": true,
}

func compileSegments(cfg *SegmentsConfig) (*segmentSet, error) {
	s := &segmentSet{
		tracked:            map[string]int{},
		lapsed:             cfg.LapsedAfter.Millis(),
		purchaseLapsed:     cfg.PurchaseLapsedAfter.Millis(),
		sunset:             cfg.EmailSunsetAfter.Millis(),
		newUser:            cfg.NewUserWindow.Millis(),
		disengagedWindow:   cfg.DisengagedWindow.Millis(),
		disengagedMessages: uint32(cfg.DisengagedMessages),
	}
	userNames := make([]string, 0, len(cfg.Definitions))
	for name := range cfg.Definitions {
		userNames = append(userNames, name)
	}
	sort.Strings(userNames) // ids are stable for a given set of definitions
	names := append(append([]string(nil), BuiltinSegments[:]...), userNames...)
	cat, err := bitmap.NewCatalog(names)
	if err != nil {
		return nil, &ConfigError{Key: "segments.definitions", Msg: err.Error()}
	}
	s.catalog = cat

	byName := map[string]*segmentDef{}
	var defs []*segmentDef
	for i, name := range userNames {
		d := cfg.Definitions[name]
		key := "segments.definitions." + name
		sd := &segmentDef{id: NumBuiltinSegments + i, name: name}
		set := 0
		if d.Trait != "" {
			set++
			sd.kind = defTrait
			isText, ok := traitNames[d.Trait]
			if !ok {
				return nil, &ConfigError{Key: key + ".trait", Msg: fmt.Sprintf("unknown trait %q (want one of lifetime_value, purchases, cart_value, cart_items, events, country, timezone, email)", d.Trait)}
			}
			sd.trait, sd.isText = d.Trait, isText
			switch d.Op {
			case "==", "!=":
			case ">", ">=", "<", "<=":
				if isText {
					return nil, &ConfigError{Key: key + ".op", Msg: fmt.Sprintf("%q compares numbers; trait %s is text (use == or !=)", d.Op, d.Trait)}
				}
			default:
				return nil, &ConfigError{Key: key + ".op", Msg: fmt.Sprintf("unknown operator %q (want ==, !=, >, >=, <, <=)", d.Op)}
			}
			sd.op = d.Op
			switch v := d.Value.(type) {
			case int:
				sd.num, sd.str = float64(v), fmt.Sprint(v)
			case float64:
				sd.num, sd.str = v, fmt.Sprint(v)
			case string:
				if !isText {
					return nil, &ConfigError{Key: key + ".value", Msg: fmt.Sprintf("%q: trait %s needs a number", v, d.Trait)}
				}
				sd.str = v
			default:
				return nil, &ConfigError{Key: key + ".value", Msg: fmt.Sprintf("%v: want a number or a string", d.Value)}
			}
		}
		if d.Performed != "" || d.NotPerformed != "" {
			set++
			sd.kind = defHistory
			if d.Performed == "" {
				return nil, &ConfigError{Key: key + ".not_performed", Msg: "needs performed: the event it must not follow"}
			}
			if d.AtLeast < 0 || d.AtLeast > 1000 {
				return nil, &ConfigError{Key: key + ".at_least", Msg: fmt.Sprintf("%d: want 1 to 1000", d.AtLeast)}
			}
			if d.Within < 0 {
				return nil, &ConfigError{Key: key + ".within", Msg: fmt.Sprintf("%s: must not be negative", d.Within)}
			}
			sd.performed, sd.notPerformed, sd.within, sd.atLeast = d.Performed, d.NotPerformed, d.Within.Millis(), max(d.AtLeast, 1)
			s.tracked[d.Performed] = max(s.tracked[d.Performed], sd.atLeast)
			if d.NotPerformed != "" {
				s.tracked[d.NotPerformed] = max(s.tracked[d.NotPerformed], 1)
			}
		}
		if d.Expr != "" {
			set++
			sd.kind = defExpr
			e, err := bitmap.ParseExpr(d.Expr)
			if err == nil {
				err = e.Bind(cat)
			}
			if err != nil {
				return nil, &ConfigError{Key: key + ".expr", Msg: err.Error()}
			}
			sd.expr = e
		}
		if set != 1 {
			return nil, &ConfigError{Key: key, Msg: "needs exactly one of trait, performed (with not_performed) or expr"}
		}
		byName[name] = sd
		defs = append(defs, sd)
	}
	// Expressions are evaluated after every segment they name.
	order, err := orderDefs(defs, byName)
	if err != nil {
		return nil, err
	}
	s.defs = order
	return s, nil
}

func orderDefs(defs []*segmentDef, byName map[string]*segmentDef) ([]segmentDef, error) {
	const (
		unvisited = iota
		visiting
		done
	)
	mark := map[string]int{}
	var out []segmentDef
	var visit func(d *segmentDef, path []string) error
	visit = func(d *segmentDef, path []string) error {
		switch mark[d.name] {
		case done:
			return nil
		case visiting:
			return &ConfigError{Key: "segments.definitions." + d.name + ".expr",
				Msg: "expressions refer to each other in a cycle: " + strings.Join(append(path, d.name), " → ")}
		}
		mark[d.name] = visiting
		if d.kind == defExpr {
			for _, n := range d.expr.Names() {
				if dep, ok := byName[n]; ok {
					if err := visit(dep, append(path, d.name)); err != nil {
						return err
					}
				}
			}
		}
		mark[d.name] = done
		out = append(out, *d)
		return nil
	}
	for _, d := range defs {
		if err := visit(d, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// track records an event time for the events that definitions name.
func (s *segmentSet) track(rec *state.UserRecord, name string, t int64) {
	keep, ok := s.tracked[name]
	if !ok {
		return
	}
	for i := range rec.Tracked {
		te := &rec.Tracked[i]
		if te.Name == name {
			if len(te.Times) >= keep {
				copy(te.Times, te.Times[len(te.Times)-keep+1:])
				te.Times = te.Times[:keep-1]
			}
			// Keep times sorted even when events arrive out of order.
			j := len(te.Times)
			te.Times = append(te.Times, t)
			for ; j > 0 && te.Times[j-1] > t; j-- {
				te.Times[j] = te.Times[j-1]
			}
			te.Times[j] = t
			return
		}
	}
	rec.Tracked = append(rec.Tracked, state.TrackedEvent{Name: strings.Clone(name), Times: []int64{t}})
}

func trackedTimes(rec *state.UserRecord, name string) []int64 {
	for i := range rec.Tracked {
		if rec.Tracked[i].Name == name {
			return rec.Tracked[i].Times
		}
	}
	return nil
}

// compute returns the segments rec belongs to at time now, and the earliest
// time after now at which that could change without a new event (0: never).
func (s *segmentSet) compute(rec *state.UserRecord, now int64) (m Mask, next int64) {
	dl := deadline{now: now, next: math.MaxInt64}
	due := dl.note
	last, first := int64(0), int64(0)
	for sf := 0; sf < state.NumSurfaces; sf++ {
		last = max(last, rec.LastSeen[sf])
		if f := rec.FirstSeen[sf]; f != 0 && (first == 0 || f < first) {
			first = f
		}
	}
	if last != 0 {
		if now-last < s.lapsed {
			maskSet(&m, SegActive)
		} else {
			maskSet(&m, SegLapsed)
		}
		due(last + s.lapsed)
		for i, days := range [3]int64{30, 60, 90} {
			if now-last >= days*dayMs {
				maskSet(&m, SegInactive30d+i)
			}
			due(last + days*dayMs)
		}
	}
	for _, x := range [2]struct{ surface, seg int }{{state.SurfaceApp, SegAppInactive}, {state.SurfaceWeb, SegWebInactive}} {
		if ls := rec.LastSeen[x.surface]; ls != 0 {
			if now-ls >= s.lapsed {
				maskSet(&m, x.seg)
			}
			due(ls + s.lapsed)
		}
	}
	if rec.Purchases > 0 {
		if now-rec.LastPurchase >= s.purchaseLapsed {
			maskSet(&m, SegPurchaseLapsed)
		}
		due(rec.LastPurchase + s.purchaseLapsed)
	}
	if first != 0 {
		if now-first < s.newUser {
			maskSet(&m, SegNewUser)
		}
		due(first + s.newUser)
	}

	switch rec.PushStatus {
	case state.PushUnknown:
		maskSet(&m, SegPushNeverAsked)
	case state.PushDenied:
		maskSet(&m, SegPushDenied)
	case state.PushRevoked:
		maskSet(&m, SegPushRevoked)
	case state.PushGranted:
		maskSet(&m, SegPushEnabled)
	}
	switch rec.EmailStatus {
	case state.EmailSubscribed:
		maskSet(&m, SegEmailSubscribed)
	case state.EmailUnsubscribed:
		maskSet(&m, SegEmailUnsubscribed)
	case state.EmailSpam:
		maskSet(&m, SegEmailSpam)
	case state.EmailBounced:
		maskSet(&m, SegEmailBounced)
	}
	switch rec.SMSStatus {
	case state.SMSSubscribed:
		maskSet(&m, SegSMSSubscribed)
	case state.SMSUnsubscribed:
		maskSet(&m, SegSMSUnsubscribed)
	}
	if rec.Uninstalled {
		maskSet(&m, SegUninstalled)
	}
	if rec.Premium == state.PremiumCancelled {
		maskSet(&m, SegPremiumCancelled)
	}

	// Passive churn: messages keep arriving, nothing is opened.
	for ch, seg := range [3]int{SegPushDisengaged, SegEmailDisengaged, SegSMSDisengaged} {
		if rec.DeliveredSinceEngaged[ch] >= s.disengagedMessages {
			le := rec.LastEngaged[ch]
			if le == 0 || now-le >= s.disengagedWindow {
				maskSet(&m, seg)
			}
			if le != 0 {
				due(le + s.disengagedWindow)
			}
		}
	}
	if rec.EmailStatus == state.EmailSubscribed {
		ref := max(rec.LastEngaged[state.ChannelEmail], rec.EmailChanged)
		if ref == 0 {
			ref = first
		}
		if ref != 0 {
			if now-ref >= s.sunset {
				maskSet(&m, SegEmailSunset)
			}
			due(ref + s.sunset)
		}
	}
	// at_risk: a churn signal while the user is still active.
	if maskHas(&m, SegActive) && (maskHas(&m, SegPushRevoked) || maskHas(&m, SegPurchaseLapsed) ||
		maskHas(&m, SegPushDisengaged) || maskHas(&m, SegEmailDisengaged) || maskHas(&m, SegSMSDisengaged)) {
		maskSet(&m, SegAtRisk)
	}

	for i := range s.defs {
		d := &s.defs[i]
		var in bool
		switch d.kind {
		case defTrait:
			in = d.traitMatches(rec)
		case defHistory:
			in = d.historyMatches(rec, now, &dl)
		case defExpr:
			in = d.expr.EvalMask(m[:])
		}
		if in {
			maskSet(&m, d.id)
		}
	}
	if dl.next == math.MaxInt64 {
		dl.next = 0
	}
	return m, dl.next
}

// deadline finds the earliest time after now at which a membership flips.
type deadline struct{ now, next int64 }

func (d *deadline) note(t int64) {
	if t > d.now && t < d.next {
		d.next = t
	}
}

func (d *segmentDef) traitMatches(rec *state.UserRecord) bool {
	if d.isText {
		var v string
		switch d.trait {
		case "country":
			v = rec.Country
		case "timezone":
			v = rec.Timezone
		case "email":
			v = rec.Email
		}
		return (v == d.str) == (d.op == "==")
	}
	var v float64
	switch d.trait {
	case "lifetime_value":
		v = rec.LifetimeValue
	case "purchases":
		v = float64(rec.Purchases)
	case "cart_value":
		v = rec.CartValue
	case "cart_items":
		v = float64(rec.CartItems)
	case "events":
		v = float64(rec.Events)
	}
	switch d.op {
	case "==":
		return v == d.num
	case "!=":
		return v != d.num
	case ">":
		return v > d.num
	case ">=":
		return v >= d.num
	case "<":
		return v < d.num
	default:
		return v <= d.num
	}
}

// historyMatches: AtLeast Performed events within the window (none after
// now counts) and, with NotPerformed, none of those since the latest
// Performed one. The window's expiry is a deadline.
func (d *segmentDef) historyMatches(rec *state.UserRecord, now int64, dl *deadline) bool {
	times := trackedTimes(rec, d.performed)
	n := 0
	var oldest, latest int64
	for i := len(times) - 1; i >= 0 && n < d.atLeast; i-- {
		t := times[i]
		if t > now {
			continue
		}
		if d.within > 0 && now-t >= d.within {
			break
		}
		if n == 0 {
			latest = t
		}
		oldest = t
		n++
	}
	if n < d.atLeast {
		return false
	}
	if d.within > 0 {
		dl.note(oldest + d.within)
	}
	if d.notPerformed != "" {
		nt := trackedTimes(rec, d.notPerformed)
		if len(nt) > 0 && nt[len(nt)-1] >= latest && nt[len(nt)-1] <= now {
			return false
		}
	}
	return true
}

// BuiltinRules describes each built-in segment's rule, for people (the HTTP
// API shows it as the definition).
var BuiltinRules = [NumBuiltinSegments]string{
	"any activity (app, web or store) within segments.lapsed_after",
	"activity before, none for segments.lapsed_after",
	"no activity for 30 days", "no activity for 60 days", "no activity for 90 days",
	"app used before, not for segments.lapsed_after", "web visited before, not for segments.lapsed_after",
	"bought before, nothing for segments.purchase_lapsed_after",
	"first seen within segments.new_user_window",
	"push permission never asked", "push refused at the prompt (never granted)",
	"push granted earlier, then turned off", "push granted",
	"email subscribed", "email unsubscribed", "marked an email as spam", "email address bounced",
	"SMS subscribed", "SMS unsubscribed (STOP or unsubscribe)", "app uninstalled", "premium subscription cancelled",
	"at least segments.disengaged_messages pushes received, none tapped within segments.disengaged_window",
	"at least segments.disengaged_messages emails received, none opened or clicked within segments.disengaged_window",
	"at least segments.disengaged_messages SMS received, none clicked within segments.disengaged_window",
	"email subscribed, no open or click for segments.email_sunset_after (since the last open, click or subscription)",
	"active, and push_revoked, purchase_lapsed or any *_disengaged",
}

// SegmentRule describes segment id's rule: a built-in's rule or a
// user-defined segment's definition.
func (p *Processor) SegmentRule(id int) any {
	if id < NumBuiltinSegments {
		return BuiltinRules[id]
	}
	name := p.segs.catalog.Name(id)
	return p.cfg.Segments.Definitions[name]
}

// SegmentNames returns the names of the segments in mask m.
func (p *Processor) SegmentNames(m *Mask) []string {
	var out []string
	for id := 0; id < p.segs.catalog.Len(); id++ {
		if maskHas(m, id) {
			out = append(out, p.segs.catalog.Name(id))
		}
	}
	return out
}
