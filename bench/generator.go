package bench

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults for GeneratorConfig fields; each field's comment states which applies.
const (
	DefaultUsers          = 5000
	DefaultTimeStep       = 50 * time.Millisecond
	DefaultMalformedShare = 0.01
	DefaultSkew           = 0.8
	// MaxUsers bounds GeneratorConfig.Users: the generator keeps about 24
	// bytes per user.
	MaxUsers = 100_000_000
)

// DefaultStart is the event time of the first record unless
// GeneratorConfig.Start says otherwise: 2026-01-01T00:00:00Z.
var DefaultStart = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// Default event mix, in percent of well-formed records (see Mix).
const (
	DefaultMixAppSessions  = 40
	DefaultMixProductViews = 25
	DefaultMixProductAdds  = 10
	DefaultMixOrders       = 3
	DefaultMixCheckouts    = 2
	DefaultMixMessages     = 15
	DefaultMixConsent      = 2
	DefaultMixInboundSMS   = 0.5
	DefaultMixUninstalls   = 0.2
	DefaultMixIdentifies   = 1.2
	DefaultMixSubscription = 0.4
	DefaultMixLocations    = 0.5
	DefaultMixAliases      = 0.2
)

// GeneratorConfig configures a Generator. The zero value is valid: every
// field has a stated default.
type GeneratorConfig struct {
	// Seed makes the output: the same config gives byte-identical records.
	Seed int64
	// Users is the size of the simulated population (default DefaultUsers,
	// at most MaxUsers). User ids are "u" and the zero-padded index,
	// e.g. "u000123".
	Users int
	// Start is the event time of the first record (default DefaultStart).
	// Timestamps are written in UTC with millisecond precision.
	Start time.Time
	// TimeStep is how far the simulated clock advances per record on average
	// (exponentially distributed; default DefaultTimeStep). Make it large
	// (minutes, hours) to let simulated days pass in a short run.
	TimeStep time.Duration
	// MalformedShare is the share of records that are malformed, in [0, 1]
	// (default DefaultMalformedShare; 0 means the default, see NoMalformed).
	MalformedShare float64
	// NoMalformed turns malformed records off, whatever MalformedShare says.
	NoMalformed bool
	// Skew is the Zipf exponent of user activity: the user of activity rank k
	// (0 = most active) emits a share proportional to (k+3)^-Skew of the
	// records (default DefaultSkew: with 5000 users the top 1% emit about a
	// quarter of all records). Must be in (0, 4].
	Skew float64
	// Mix weighs the kinds of well-formed records (default DefaultMix).
	Mix Mix
}

// Mix weighs the kinds of well-formed records against each other. Weights are
// relative (they need not sum to 100). The zero Mix means DefaultMix; in any
// other Mix a zero weight turns that kind off.
//
// Onboarding is outside the mix: the first record of every user is
// "Application Installed" (app users) or a page call (web users), the second
// an identify call with email, phone, country and time zone. An app user
// drawn for app activity (sessions, product views and adds, checkouts,
// orders) after uninstalling reinstalls first.
type Mix struct {
	// AppSessions: "Application Opened", screen calls, "Application
	// Backgrounded" (app users); page calls (web users).
	// Default DefaultMixAppSessions.
	AppSessions float64
	// ProductViews: "Product Viewed", and product page calls of web users.
	// Default DefaultMixProductViews.
	ProductViews float64
	// ProductAdds: "Product Added" with cart_value (DefaultMixProductAdds).
	ProductAdds float64
	// Orders: "Order Completed" with revenue and products (DefaultMixOrders).
	Orders float64
	// Checkouts: "Checkout Started", "Cart Viewed" (DefaultMixCheckouts).
	Checkouts float64
	// Messages: "Push Notification Received/Tapped/Bounced", "Email
	// Delivered/Opened/Link Clicked/Bounced/Marked as Spam", "SMS Delivered"
	// (DefaultMixMessages).
	Messages float64
	// Consent: "Push Permission Changed", "Email Subscription Changed",
	// "SMS Subscription Changed", "Permission Changed", "Unsubscribed"
	// (DefaultMixConsent).
	Consent float64
	// InboundSMS: "SMS Received" with STOP, START, HELP and free text
	// (DefaultMixInboundSMS).
	InboundSMS float64
	// Uninstalls: "Application Uninstalled", app users only
	// (DefaultMixUninstalls).
	Uninstalls float64
	// Identifies: identify calls after onboarding (DefaultMixIdentifies).
	Identifies float64
	// Subscription: "Subscription Started", "Subscription Cancelled"
	// (DefaultMixSubscription).
	Subscription float64
	// Locations: "Location Entered", app users only (DefaultMixLocations).
	Locations float64
	// Aliases: alias calls from the user's anonymousId (DefaultMixAliases).
	Aliases float64
}

// DefaultMix returns the mix used when GeneratorConfig.Mix is zero.
func DefaultMix() Mix {
	return Mix{
		AppSessions:  DefaultMixAppSessions,
		ProductViews: DefaultMixProductViews,
		ProductAdds:  DefaultMixProductAdds,
		Orders:       DefaultMixOrders,
		Checkouts:    DefaultMixCheckouts,
		Messages:     DefaultMixMessages,
		Consent:      DefaultMixConsent,
		InboundSMS:   DefaultMixInboundSMS,
		Uninstalls:   DefaultMixUninstalls,
		Identifies:   DefaultMixIdentifies,
		Subscription: DefaultMixSubscription,
		Locations:    DefaultMixLocations,
		Aliases:      DefaultMixAliases,
	}
}

// Record kinds, the indexes of Mix.weights.
const (
	catAppSessions = iota
	catProductViews
	catProductAdds
	catOrders
	catCheckouts
	catMessages
	catConsent
	catInboundSMS
	catUninstalls
	catIdentifies
	catSubscription
	catLocations
	catAliases
	numCategories
)

var categoryNames = [numCategories]string{
	"AppSessions", "ProductViews", "ProductAdds", "Orders", "Checkouts", "Messages", "Consent",
	"InboundSMS", "Uninstalls", "Identifies", "Subscription", "Locations", "Aliases",
}

func (m Mix) weights() [numCategories]float64 {
	return [numCategories]float64{
		m.AppSessions, m.ProductViews, m.ProductAdds, m.Orders, m.Checkouts, m.Messages, m.Consent,
		m.InboundSMS, m.Uninstalls, m.Identifies, m.Subscription, m.Locations, m.Aliases,
	}
}

// Validate reports the first invalid field, naming it and its value.
func (c *GeneratorConfig) Validate() error {
	if c.Users < 0 || c.Users > MaxUsers {
		return fmt.Errorf("bench: GeneratorConfig.Users %d: want 1..%d (0 for the default %d)", c.Users, MaxUsers, DefaultUsers)
	}
	if c.TimeStep < 0 {
		return fmt.Errorf("bench: GeneratorConfig.TimeStep %v: must not be negative", c.TimeStep)
	}
	if math.IsNaN(c.MalformedShare) || c.MalformedShare < 0 || c.MalformedShare > 1 {
		return fmt.Errorf("bench: GeneratorConfig.MalformedShare %v: want a share in [0, 1]", c.MalformedShare)
	}
	if math.IsNaN(c.Skew) || c.Skew < 0 || c.Skew > 4 {
		return fmt.Errorf("bench: GeneratorConfig.Skew %v: want a Zipf exponent in (0, 4] (0 for the default %v)", c.Skew, DefaultSkew)
	}
	if y := c.Start.Year(); !c.Start.IsZero() && (y < 1970 || y > 9000) {
		return fmt.Errorf("bench: GeneratorConfig.Start %v: want a year in 1970..9000", c.Start)
	}
	if err := c.Mix.validate(); err != nil {
		return fmt.Errorf("bench: GeneratorConfig.%w", err)
	}
	return nil
}

// validate reports the first invalid weight, as "Mix.Kind value: ...".
func (m Mix) validate() error {
	sum := 0.0
	for i, v := range m.weights() {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("Mix.%s %v: want a finite weight >= 0", categoryNames[i], v)
		}
		sum += v
	}
	if math.IsInf(sum, 0) {
		return errors.New("Mix: weights overflow")
	}
	return nil
}

// Malformed record kinds, as reported in Record.Malformed. Generators cycle
// through them in this order.
const (
	// MalformedTruncated: a well-formed record cut short, invalid JSON.
	MalformedTruncated = "truncated"
	// MalformedMissingID: neither userId nor anonymousId.
	MalformedMissingID = "missing_id"
	// MalformedUserIDType: "userId": true.
	MalformedUserIDType = "user_id_not_string"
	// MalformedGrantedType: "Push Permission Changed" with "granted": "yes".
	MalformedGrantedType = "granted_not_bool"
	// MalformedOversized: valid JSON with a properties blob over 64 KiB.
	MalformedOversized = "oversized"
	// MalformedUnknownType: "type": "grup".
	MalformedUnknownType = "unknown_type"
	// MalformedFutureTimestamp: a timestamp in 2099.
	MalformedFutureTimestamp = "future_timestamp"
	// MalformedNotObject: a JSON value that is not an object (array, string,
	// number, null, boolean).
	MalformedNotObject = "not_object"
)

var malformedKinds = [...]string{
	MalformedTruncated, MalformedMissingID, MalformedUserIDType, MalformedGrantedType,
	MalformedOversized, MalformedUnknownType, MalformedFutureTimestamp, MalformedNotObject,
}

// MalformedKinds returns every kind a Record.Malformed can hold, in the order
// generators cycle through them.
func MalformedKinds() []string { return append([]string(nil), malformedKinds[:]...) }

// blobText is the properties blob of MalformedOversized records: over
// 64 KiB on its own.
var blobText = strings.Repeat("abcdefghijklmnopqrstuvwxyz", (64<<10+512)/26)

// Record is one generated Kafka record.
type Record struct {
	// Key is the user id the record is keyed by ("u000123"). It is nil for
	// malformed records that carry no usable id (MalformedMissingID,
	// MalformedUserIDType, MalformedNotObject). It aliases Value.
	Key []byte
	// Value is the JSON text, appended to the dst given to Next: it aliases
	// dst's array when dst had room. Reusing dst overwrites it.
	Value []byte
	// Time is the simulated clock when the record was made, to the
	// millisecond; for well-formed records it equals the JSON timestamp.
	Time time.Time
	// Malformed is "" for a well-formed record, else its kind (Malformed*).
	Malformed string
	// Event is the event name of track calls ("Order Completed") and the type
	// of other calls ("identify", "page", "screen", "alias"); for malformed
	// records the event they imitate, or "".
	Event string
}

// Generator makes a deterministic stream of Segment Spec JSON records for a
// simulated population of app and web users. It is not safe for concurrent
// use; run one Generator per goroutine (with different seeds).
type Generator struct {
	rng       *rand.Rand
	users     []simUser
	byRank    []uint32 // activity rank → user index
	userZipf  *zipf
	prodZipf  *zipf
	idWidth   int
	cum       [numCategories]float64 // cumulative mix weights
	malformed float64                // share of malformed records
	step      float64                // mean TimeStep in nanoseconds
	seedHash  uint64

	now        time.Time
	count      uint64
	nMalformed uint64

	// Offsets of the user id in the record being written, -1 if none.
	keyStart, keyEnd int
}

// NewGenerator validates cfg, applies its defaults and builds the simulated
// population.
func NewGenerator(cfg GeneratorConfig) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Users == 0 {
		cfg.Users = DefaultUsers
	}
	if cfg.Start.IsZero() {
		cfg.Start = DefaultStart
	}
	if cfg.TimeStep == 0 {
		cfg.TimeStep = DefaultTimeStep
	}
	if cfg.MalformedShare == 0 {
		cfg.MalformedShare = DefaultMalformedShare
	}
	if cfg.NoMalformed {
		cfg.MalformedShare = 0
	}
	if cfg.Skew == 0 {
		cfg.Skew = DefaultSkew
	}
	if cfg.Mix == (Mix{}) {
		cfg.Mix = DefaultMix()
	}

	g := &Generator{
		rng:       rand.New(rand.NewPCG(uint64(cfg.Seed), 0x72656b696e646c65)), // "rekindle"
		malformed: cfg.MalformedShare,
		step:      float64(cfg.TimeStep),
		seedHash:  mix64(uint64(cfg.Seed) ^ 0x6a09e667f3bcc909),
		now:       cfg.Start.UTC(),
		idWidth:   6,
		userZipf:  newZipf(cfg.Users, cfg.Skew, 3),
		prodZipf:  newZipf(catalogSize, 0.9, 5),
	}
	for n := cfg.Users - 1; n >= 1_000_000; n /= 10 {
		g.idWidth++
	}
	sum := 0.0
	for i, w := range cfg.Mix.weights() {
		sum += w
		g.cum[i] = sum
	}

	g.users = make([]simUser, cfg.Users)
	for i := range g.users {
		g.users[i] = g.newUser()
	}
	g.byRank = make([]uint32, cfg.Users)
	for i := range g.byRank {
		g.byRank[i] = uint32(i)
	}
	g.rng.Shuffle(len(g.byRank), func(i, j int) { g.byRank[i], g.byRank[j] = g.byRank[j], g.byRank[i] })
	return g, nil
}

// Count returns how many records Next has made.
func (g *Generator) Count() uint64 { return g.count }

// Clock returns the simulated clock: the time of the last record made, or
// the configured start before the first.
func (g *Generator) Clock() time.Time { return g.now }

// Next makes the next record, appending its JSON text to dst. Typical use
// reuses one buffer: rec := g.Next(buf[:0]); buf = rec.Value.
func (g *Generator) Next(dst []byte) Record {
	g.now = g.now.Add(time.Duration(g.rng.ExpFloat64() * g.step))
	seq := g.count
	g.count++
	ts := g.now.UnixMilli()
	ui := g.pickUser()
	start := len(dst)
	g.keyStart, g.keyEnd = -1, -1

	rec := Record{Time: time.UnixMilli(ts).UTC()}
	var b []byte
	if g.malformed > 0 && g.rng.Float64() < g.malformed {
		rec.Malformed = malformedKinds[g.nMalformed%uint64(len(malformedKinds))]
		g.nMalformed++
		b, rec.Event = g.appendMalformed(dst, rec.Malformed, seq, ui, ts)
	} else {
		b, rec.Event = g.appendEvent(dst, seq, ui, ts)
	}
	rec.Value = b[start:]
	if g.keyStart >= 0 {
		rec.Key = b[g.keyStart:g.keyEnd:g.keyEnd]
	}
	return rec
}

// simUser is the state of one simulated user; fields index the tables.
type simUser struct {
	country, zone, platform, device, osVersion, appVersion uint8
	first, last, agent, domain                             uint8
	stage                                                  uint8 // 0 new, 1 installed, 2 identified
	flags                                                  uint8
	cartN                                                  uint8
	cart                                                   [3]uint16
}

const (
	flagPush        uint8 = 1 << iota // push permission granted
	flagEmail                         // subscribed to email
	flagSMS                           // subscribed to SMS
	flagUninstalled                   // app uninstalled
	flagPremium                       // has a premium subscription
	flagInSession                     // app in the foreground
)

func (u *simUser) app() bool { return u.platform != platformWeb }

func (g *Generator) newUser() simUser {
	var u simUser
	x := g.rng.Float64() * 100
	for i := range countries {
		if x < countries[i].weight || i == len(countries)-1 {
			u.country = uint8(i)
			break
		}
		x -= countries[i].weight
	}
	c := &countries[u.country]
	u.zone = uint8(g.rng.IntN(len(c.zones)))
	switch p := g.rng.IntN(100); {
	case p < 40:
		u.platform = platformIOS
		u.device = uint8(g.rng.IntN(len(iosDevices)))
		u.osVersion = uint8(g.rng.IntN(len(iosVersions)))
	case p < 70:
		u.platform = platformAndroid
		u.device = uint8(g.rng.IntN(len(androidDevices)))
		u.osVersion = uint8(g.rng.IntN(len(androidVersions)))
	default:
		u.platform = platformWeb
		u.agent = uint8(g.rng.IntN(len(userAgents)))
	}
	u.appVersion = uint8(g.rng.IntN(len(appVersions)))
	u.first = uint8(g.rng.IntN(10))
	u.last = uint8(g.rng.IntN(10))
	u.domain = uint8(g.rng.IntN(len(emailDomains)))
	if u.app() && g.rng.IntN(100) < 60 {
		u.flags |= flagPush
	}
	if g.rng.IntN(100) < 85 {
		u.flags |= flagEmail
	}
	if g.rng.IntN(100) < 40 {
		u.flags |= flagSMS
	}
	if g.rng.IntN(100) < 15 {
		u.flags |= flagPremium
	}
	return u
}

// zipf draws ranks in [0, n) with P(k) roughly proportional to (k+v)^-s. It
// inverts the continuous distribution, tabulated at zipfCells+1 points and
// interpolated linearly: one uniform draw, no math.Pow per draw.
type zipf struct {
	max int
	inv [zipfCells + 1]float64 // inv[i]: the rank at cumulative probability i/zipfCells
}

const zipfCells = 4096

func newZipf(n int, s, v float64) *zipf {
	z := &zipf{max: n - 1}
	a := 1 - s
	for i := range z.inv {
		u := float64(i) / zipfCells
		if a == 0 {
			lo := math.Log(v)
			z.inv[i] = math.Exp(lo+u*(math.Log(float64(n)+v)-lo)) - v
		} else {
			lo := math.Pow(v, a)
			z.inv[i] = math.Pow(lo+u*(math.Pow(float64(n)+v, a)-lo), 1/a) - v
		}
	}
	return z
}

func (z *zipf) draw(r *rand.Rand) int {
	x := r.Float64() * zipfCells
	i := int(x)
	k := int(z.inv[i] + (x-float64(i))*(z.inv[i+1]-z.inv[i]))
	return min(max(k, 0), z.max)
}

func (g *Generator) pickUser() uint32 { return g.byRank[g.userZipf.draw(g.rng)] }

func (g *Generator) pickProduct() int { return g.prodZipf.draw(g.rng) }

// pickAppUser redraws until it finds an onboarded, installed app user; ok is
// false after a few misses.
func (g *Generator) pickAppUser() (uint32, bool) {
	for range 8 {
		ui := g.pickUser()
		u := &g.users[ui]
		if u.app() && u.stage >= 2 && u.flags&flagUninstalled == 0 {
			return ui, true
		}
	}
	return 0, false
}

func (g *Generator) pickCategory() int {
	x := g.rng.Float64() * g.cum[numCategories-1]
	for i, c := range g.cum {
		if x < c {
			return i
		}
	}
	return catAppSessions
}

// appendEvent writes one well-formed record for user ui and returns its
// Record.Event.
func (g *Generator) appendEvent(b []byte, seq uint64, ui uint32, ts int64) ([]byte, string) {
	u := &g.users[ui]
	switch {
	case u.stage == 0:
		u.stage = 1
		if u.app() {
			return g.appendInstalled(b, seq, ui, ts)
		}
		return g.appendPage(b, seq, ui, ts, &webPages[0])
	case u.stage == 1:
		u.stage = 2
		return g.appendIdentify(b, seq, ui, ts)
	}
	cat := g.pickCategory()
	if cat == catUninstalls || cat == catLocations {
		if app, ok := g.pickAppUser(); ok {
			ui, u = app, &g.users[app]
		} else {
			cat = catAppSessions
		}
	}
	if u.flags&flagUninstalled != 0 && cat <= catCheckouts { // app activity: reinstall first
		u.flags &^= flagUninstalled
		return g.appendInstalled(b, seq, ui, ts)
	}
	switch cat {
	case catAppSessions:
		return g.appendSession(b, seq, ui, ts)
	case catProductViews:
		return g.appendProductViewed(b, seq, ui, ts, g.pickProduct())
	case catProductAdds:
		return g.appendProductAdded(b, seq, ui, ts)
	case catOrders:
		return g.appendOrder(b, seq, ui, ts)
	case catCheckouts:
		return g.appendCheckout(b, seq, ui, ts)
	case catMessages:
		return g.appendMessage(b, seq, ui, ts)
	case catConsent:
		return g.appendConsent(b, seq, ui, ts)
	case catInboundSMS:
		return g.appendInboundSMS(b, seq, ui, ts)
	case catUninstalls:
		return g.appendUninstalled(b, seq, ui, ts)
	case catIdentifies:
		return g.appendIdentify(b, seq, ui, ts)
	case catSubscription:
		return g.appendSubscription(b, seq, ui, ts)
	case catLocations:
		return g.appendLocation(b, seq, ui, ts)
	default:
		return g.appendAlias(b, seq, ui, ts)
	}
}

// How the header writes the user's ids.
const (
	idsUser     = iota // userId
	idsUserAnon        // userId and anonymousId
	idsNone            // neither (malformed)
	idsUserTrue        // "userId": true (malformed)
)

// appendHeader opens the record: type, event or name, ids, messageId and
// timestamp. nameKey is "event" for track calls, "name" for page and screen
// calls, "" for none.
func (g *Generator) appendHeader(b []byte, typ, nameKey, name string, ui uint32, ids int, seq uint64, ts int64) []byte {
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, '"')
	if nameKey != "" {
		b = append(b, ',', '"')
		b = append(b, nameKey...)
		b = append(b, `":`...)
		b = appendSafeString(b, name)
	}
	switch ids {
	case idsUser, idsUserAnon:
		b = append(b, `,"userId":"`...)
		g.keyStart = len(b)
		b = g.appendUserID(b, ui)
		g.keyEnd = len(b)
		b = append(b, '"')
		if ids == idsUserAnon {
			b = append(b, `,"anonymousId":"`...)
			b = g.appendAnonymousID(b, ui)
			b = append(b, '"')
		}
	case idsUserTrue:
		b = append(b, `,"userId":true`...)
	}
	b = append(b, `,"messageId":"`...)
	b = g.appendMessageID(b, seq)
	b = append(b, `","timestamp":"`...)
	b = appendTimestamp(b, ts)
	return append(b, '"')
}

// deviceIDs says how a device-side call identifies the user: web always
// sends the anonymousId cookie, app SDKs sometimes.
func (g *Generator) deviceIDs(u *simUser) int {
	if !u.app() || g.rng.IntN(100) < 30 {
		return idsUserAnon
	}
	return idsUser
}

// noProduct is the product argument of calls not about a product page.
const noProduct = -1

// appendDeviceContext writes the context of a call made from the user's app
// or browser. A web call is on the page of product (if not noProduct), else
// on path (if not ""); context.page has the url only if withURL, to keep
// records small.
func appendDeviceContext(b []byte, u *simUser, path string, product int, withURL bool) []byte {
	c := &countries[u.country]
	b = append(b, `,"context":{`...)
	switch u.platform {
	case platformWeb:
		if product != noProduct {
			b = append(b, `"page":{"path":"`...)
			pathStart := len(b)
			b = appendProductPath(b, product)
			if pathEnd := len(b); withURL {
				b = append(b, `","url":"`+shopURL...)
				b = append(b, b[pathStart:pathEnd]...)
			}
			b = append(b, `"},`...)
		} else if path != "" {
			b = append(b, `"page":{"path":`...)
			b = appendSafeString(b, path)
			if withURL {
				b = append(b, `,"url":"`+shopURL...)
				b = append(b, path...)
				b = append(b, '"')
			}
			b = append(b, `},`...)
		}
		b = append(b, `"userAgent":"`...)
		b = append(b, userAgents[u.agent]...)
		b = append(b, `","library":{"name":"analytics.js","version":"2.11.1"},`...)
	case platformIOS:
		b = append(b, `"app":{"name":"`+appName+`","version":"`...)
		b = append(b, appVersions[u.appVersion]...)
		b = append(b, `"},"device":{"manufacturer":"`...)
		d := &iosDevices[u.device]
		b = append(b, d.manufacturer...)
		b = append(b, `","model":"`...)
		b = append(b, d.model...)
		b = append(b, `"},"os":{"name":"iOS","version":"`...)
		b = append(b, iosVersions[u.osVersion]...)
		b = append(b, `"},"library":{"name":"analytics-swift","version":"1.7.3"},`...)
	default:
		b = append(b, `"app":{"name":"`+appName+`","version":"`...)
		b = append(b, appVersions[u.appVersion]...)
		b = append(b, `"},"device":{"manufacturer":"`...)
		d := &androidDevices[u.device]
		b = append(b, d.manufacturer...)
		b = append(b, `","model":"`...)
		b = append(b, d.model...)
		b = append(b, `"},"os":{"name":"Android","version":"`...)
		b = append(b, androidVersions[u.osVersion]...)
		b = append(b, `"},"library":{"name":"analytics-kotlin","version":"1.16.3"},`...)
	}
	b = append(b, `"timezone":"`...)
	b = append(b, c.zones[u.zone]...)
	return append(b, `"}`...)
}

// appendServerContext writes the context of a call sent by a backend
// integration (an email or SMS provider, a push gateway, billing).
func appendServerContext(b []byte, integration string) []byte {
	b = append(b, `,"context":{"library":{"name":"analytics-go","version":"3.3.0"},"integration":{"name":"`...)
	b = append(b, integration...)
	return append(b, `"}}`...)
}

func (g *Generator) appendInstalled(b []byte, seq uint64, ui uint32, ts int64) ([]byte, string) {
	const name = "Application Installed"
	u := &g.users[ui]
	b = g.appendHeader(b, "track", "event", name, ui, idsUserAnon, seq, ts)
	b = appendDeviceContext(b, u, "", noProduct, false)
	b = append(b, `,"properties":{"version":"`...)
	b = append(b, appVersions[u.appVersion]...)
	b = append(b, `","build":"`...)
	b = append(b, appBuilds[u.appVersion]...)
	return append(b, `"}}`...), name
}

func (g *Generator) appendUninstalled(b []byte, seq uint64, ui uint32, ts int64) ([]byte, string) {
	const name = "Application Uninstalled"
	u := &g.users[ui]
	u.flags |= flagUninstalled
	u.flags &^= flagInSession
	b = g.appendHeader(b, "track", "event", name, ui, idsUser, seq, ts)
	if u.platform == platformIOS {
		b = appendServerContext(b, "apns")
	} else {
		b = appendServerContext(b, "fcm")
	}
	b = append(b, `,"properties":{"platform":"`...)
	if u.platform == platformIOS {
		b = append(b, "ios"...)
	} else {
		b = append(b, "android"...)
	}
	b = append(b, `","version":"`...)
	b = append(b, appVersions[u.appVersion]...)
	return append(b, `"}}`...), name
}

func (g *Generator) appendIdentify(b []byte, seq uint64, ui uint32, ts int64) ([]byte, string) {
	u := &g.users[ui]
	c := &countries[u.country]
	b = g.appendHeader(b, "identify", "", "", ui, idsUserAnon, seq, ts)
	first := firstNames[c.names][u.first]
	last := lastNames[c.names][u.last]
	b = append(b, `,"traits":{"email":"`...)
	b = appendLower(b, first)
	b = append(b, '.')
	b = appendLower(b, last)
	b = strconv.AppendUint(b, uint64(ui), 10)
	b = append(b, '@')
	b = append(b, emailDomains[u.domain]...)
	b = append(b, `","phone":"`...)
	b = g.appendPhone(b, ui)
	b = append(b, `","first_name":"`...)
	b = append(b, first...)
	b = append(b, `","last_name":"`...)
	b = append(b, last...)
	b = append(b, `","country":"`...)
	b = append(b, c.code...)
	b = append(b, `","timezone":"`...)
	b = append(b, c.zones[u.zone]...)
	b = append(b, `"},"context":{"library":{"name":"analytics-go","version":"3.3.0"},"locale":"`...)
	b = append(b, c.locale...)
	b = append(b, `","timezone":"`...)
	b = append(b, c.zones[u.zone]...)
	return append(b, `"}}`...), "identify"
}

func (g *Generator) appendAlias(b []byte, seq uint64, ui uint32, ts int64) ([]byte, string) {
	b = g.appendHeader(b, "alias", "", "", ui, idsUser, seq, ts)
	b = append(b, `,"previousId":"`...)
	b = g.appendAnonymousID(b, ui)
	b = append(b, `","context":{"library":{"name":"analytics-go","version":"3.3.0"}}}`...)
	return b, "alias"
}

func (g *Generator) appendPage(b []byte, seq uint64, ui uint32, ts int64, p *webPage) ([]byte, string) {
	u := &g.users[ui]
	b = g.appendHeader(b, "page", "name", p.name, ui, idsUserAnon, seq, ts)
	b = appendDeviceContext(b, u, p.path, noProduct, true)
	b = append(b, `,"properties":{"title":`...)
	b = appendSafeString(b, p.title)
	if r := referrers[g.rng.IntN(len(referrers))]; r != "" {
		b = append(b, `,"referrer":"`...)
		b = append(b, r...)
		b = append(b, '"')
	}
	return append(b, `}}`...), "page"
}

func (g *Generator) appendSession(b []byte, seq uint64, ui uint32, ts int64) ([]byte, string) {
	u := &g.users[ui]
	if !u.app() {
		return g.appendPage(b, seq, ui, ts, &webPages[g.rng.IntN(len(webPages))])
	}
	switch {
	case u.flags&flagInSession == 0:
		const name = "Application Opened"
		u.flags |= flagInSession
		b = g.appendHeader(b, "track", "event", name, ui, g.deviceIDs(u), seq, ts)
		b = appendDeviceContext(b, u, "", noProduct, false)
		b = append(b, `,"properties":{"from_background":`...)
		b = strconv.AppendBool(b, g.rng.IntN(100) < 70)
		b = append(b, `,"version":"`...)
		b = append(b, appVersions[u.appVersion]...)
		return append(b, `"}}`...), name
	case g.rng.IntN(100) < 70:
		screen := appScreens[g.rng.IntN(len(appScreens))]
		b = g.appendHeader(b, "screen", "name", screen, ui, g.deviceIDs(u), seq, ts)
		b = appendDeviceContext(b, u, "", noProduct, false)
		b = append(b, `,"properties":{"name":"`...)
		b = append(b, screen...)
		return append(b, `"}}`...), "screen"
	default:
		const name = "Application Backgrounded"
		u.flags &^= flagInSession
		b = g.appendHeader(b, "track", "event", name, ui, g.deviceIDs(u), seq, ts)
		b = appendDeviceContext(b, u, "", noProduct, false)
		return append(b, `,"properties":{}}`...), name
	}
}

// appendProductProps writes a product's product_id, sku, name and category
// (if full) and price, without braces.
func appendProductProps(b []byte, p int, full bool) []byte {
	b = append(b, `"product_id":"`...)
	b = appendProductID(b, 'p', p)
	b = append(b, `","sku":"`...)
	b = appendProductID(b, 'S', p)
	if full {
		b = append(b, `","name":"`...)
		b = append(b, productAdjectives[p%len(productAdjectives)]...)
		b = append(b, ' ')
		b = append(b, productNouns[(p/len(productAdjectives))%len(productNouns)]...)
		b = append(b, `","category":"`...)
		b = append(b, productCategories[p%len(productCategories)]...)
	}
	b = append(b, `","price":`...)
	return appendCents(b, productPrice(p))
}

func productPrice(p int) int {
	return productPrices[mix64(uint64(p)*0x9e3779b97f4a7c15)%uint64(len(productPrices))]
}

func appendProductID(b []byte, prefix byte, p int) []byte {
	if prefix == 'S' {
		b = append(b, "SKU-"...)
	} else {
		b = append(b, prefix)
	}
	return appendPadded(b, uint64(p), 5)
}

// appendProductPath writes the web path of product p ("/products/p00123").
func appendProductPath(b []byte, p int) []byte {
	b = append(b, "/products/p"...)
	return appendPadded(b, uint64(p), 5)
}

func (g *Generator) appendProductViewed(b []byte, seq uint64, ui uint32, ts int64, p int) ([]byte, string) {
	u := &g.users[ui]
	if !u.app() && g.rng.IntN(100) < 30 {
		b = g.appendHeader(b, "page", "name", "Product", ui, idsUserAnon, seq, ts)
		b = appendDeviceContext(b, u, "", p, true)
		b = append(b, `,"properties":{"title":"`...)
		b = append(b, productAdjectives[p%len(productAdjectives)]...)
		b = append(b, ' ')
		b = append(b, productNouns[(p/len(productAdjectives))%len(productNouns)]...)
		b = append(b, ` | Rekindle Shop","product_id":"`...)
		b = appendProductID(b, 'p', p)
		return append(b, `"}}`...), "page"
	}
	const name = "Product Viewed"
	b = g.appendHeader(b, "track", "event", name, ui, g.deviceIDs(u), seq, ts)
	b = appendDeviceContext(b, u, "", p, false)
	b = append(b, `,"properties":{`...)
	b = appendProductProps(b, p, true)
	return append(b, `,"currency":"`+currency+`"}}`...), name
}

func (u *simUser) cartCents() int {
	sum := 0
	for _, p := range u.cart[:u.cartN] {
		sum += productPrice(int(p))
	}
	return sum
}

func (u *simUser) addToCart(p int) {
	if int(u.cartN) == len(u.cart) {
		copy(u.cart[:], u.cart[1:])
		u.cartN--
	}
	u.cart[u.cartN] = uint16(p)
	u.cartN++
}

func (g *Generator) appendCartID(b []byte, ui uint32) []byte {
	return appendHex(b, mix64(g.seedHash^uint64(ui)^0x63617274), 10)
}

func (g *Generator) appendProductAdded(b []byte, seq uint64, ui uint32, ts int64) ([]byte, string) {
	const name = "Product Added"
	u := &g.users[ui]
	p := g.pickProduct()
	u.addToCart(p)
	b = g.appendHeader(b, "track", "event", name, ui, g.deviceIDs(u), seq, ts)
	b = appendDeviceContext(b, u, "", p, false)
	b = append(b, `,"properties":{"cart_id":"`...)
	b = g.appendCartID(b, ui)
	b = append(b, `",`...)
	b = appendProductProps(b, p, false)
	b = append(b, `,"currency":"`+currency+`","cart_value":`...)
	b = appendCents(b, u.cartCents())
	return append(b, `}}`...), name
}

func (g *Generator) appendCheckout(b []byte, seq uint64, ui uint32, ts int64) ([]byte, string) {
	u := &g.users[ui]
	if u.cartN == 0 {
		u.addToCart(g.pickProduct())
	}
	name, path := "Cart Viewed", "/cart"
	if g.rng.IntN(2) == 0 {
		name, path = "Checkout Started", "/checkout"
	}
	if u.app() {
		path = ""
	}
	b = g.appendHeader(b, "track", "event", name, ui, g.deviceIDs(u), seq, ts)
	b = appendDeviceContext(b, u, path, noProduct, false)
	b = append(b, `,"properties":{"cart_id":"`...)
	b = g.appendCartID(b, ui)
	b = append(b, `","cart_value":`...)
	b = appendCents(b, u.cartCents())
	b = append(b, `,"item_count":`...)
	b = strconv.AppendUint(b, uint64(u.cartN), 10)
	return append(b, `,"currency":"`+currency+`"}}`...), name
}

func (g *Generator) appendOrder(b []byte, seq uint64, ui uint32, ts int64) ([]byte, string) {
	const name = "Order Completed"
	u := &g.users[ui]
	if u.cartN == 0 {
		u.addToCart(g.pickProduct())
	}
	path := "/checkout/thank-you"
	if u.app() {
		path = ""
	}
	revenue := u.cartCents()
	b = g.appendHeader(b, "track", "event", name, ui, g.deviceIDs(u), seq, ts)
	b = appendDeviceContext(b, u, path, noProduct, false)
	b = append(b, `,"properties":{"order_id":"ord_`...)
	b = appendHex(b, mix64(seq^g.seedHash^0x6f72646572), 16)
	b = append(b, `","revenue":`...)
	b = appendCents(b, revenue)
	b = append(b, `,"currency":"`+currency+`","products":[`...)
	for i, p := range u.cart[:u.cartN] {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"product_id":"`...)
		b = appendProductID(b, 'p', int(p))
		b = append(b, `","price":`...)
		b = appendCents(b, productPrice(int(p)))
		b = append(b, '}')
	}
	u.cartN = 0
	return append(b, `]}}`...), name
}

// Message events, with weights relative to each other.
type messageEvent struct {
	name    string
	channel string
	weight  int
	server  bool // sent by a provider, not by the device
}

var messageEvents = [...]messageEvent{
	{"Push Notification Received", "push", 22, false},
	{"Push Notification Tapped", "push", 5, false},
	{"Push Notification Bounced", "push", 1, true},
	{"Email Delivered", "email", 35, true},
	{"Email Opened", "email", 15, true},
	{"Email Link Clicked", "email", 5, true},
	{"Email Bounced", "email", 2, true},
	{"Email Marked as Spam", "email", 1, true},
	{"SMS Delivered", "sms", 10, true},
}

var messageWeightSum = func() int {
	n := 0
	for _, e := range messageEvents {
		n += e.weight
	}
	return n
}()

func (g *Generator) appendMessage(b []byte, seq uint64, ui uint32, ts int64) ([]byte, string) {
	u := &g.users[ui]
	x := g.rng.IntN(messageWeightSum)
	i := 0
	for x >= messageEvents[i].weight {
		x -= messageEvents[i].weight
		i++
	}
	if messageEvents[i].channel == "push" && (!u.app() || u.flags&(flagPush|flagUninstalled) != flagPush) {
		i = 3 + g.rng.IntN(2) // no push for this user: an email delivery or open instead
	}
	e := &messageEvents[i]
	cmp := &campaigns[g.rng.IntN(len(campaigns))]
	b = g.appendHeader(b, "track", "event", e.name, ui, idsUser, seq, ts)
	switch {
	case !e.server:
		b = appendDeviceContext(b, u, "", noProduct, false)
	case e.channel == "push" && u.platform == platformIOS:
		b = appendServerContext(b, "apns")
	case e.channel == "push":
		b = appendServerContext(b, "fcm")
	case e.channel == "email":
		b = appendServerContext(b, "sendgrid")
	default:
		b = appendServerContext(b, "twilio")
	}
	b = append(b, `,"properties":{"channel":"`...)
	b = append(b, e.channel...)
	b = append(b, `","campaign_id":"`...)
	b = append(b, cmp.id...)
	b = append(b, `","campaign_name":"`...)
	b = append(b, cmp.name...)
	b = append(b, `","`...)
	b = append(b, e.channel...)
	b = append(b, `_id":"`...)
	b = appendHex(b, mix64(seq^g.seedHash^0x6d7367), 16)
	b = append(b, '"')
	switch e.name {
	case "Email Delivered", "Email Opened":
		b = append(b, `,"email_subject":`...)
		b = appendSafeString(b, cmp.subject)
	case "Email Link Clicked":
		b = append(b, `,"link_url":"`+shopURL...)
		b = append(b, cmp.path...)
		b = append(b, `?utm_source=email&utm_campaign=`...)
		b = append(b, cmp.id...)
		b = append(b, '"')
	case "Email Bounced":
		bo := &emailBounces[g.rng.IntN(len(emailBounces))]
		b = append(b, `,"bounce_type":"`...)
		b = append(b, bo.kind...)
		b = append(b, `","reason":"`...)
		b = append(b, bo.reason...)
		b = append(b, '"')
	case "Push Notification Bounced":
		b = append(b, `,"reason":"`...)
		b = append(b, pushBounceReasons[g.rng.IntN(len(pushBounceReasons))]...)
		b = append(b, '"')
	case "SMS Delivered":
		b = append(b, `,"to":"+`...)
		b = g.appendPhoneDigits(b, ui)
		b = append(b, '"')
	}
	return append(b, `}}`...), e.name
}

func appendStatus(b []byte, subscribed bool) []byte {
	if subscribed {
		return append(b, `"subscribed"`...)
	}
	return append(b, `"unsubscribed"`...)
}

func (g *Generator) appendConsent(b []byte, seq uint64, ui uint32, ts int64) ([]byte, string) {
	u := &g.users[ui]
	x := g.rng.IntN(100)
	if x < 30 && (!u.app() || u.flags&flagUninstalled != 0) {
		x = 30 + g.rng.IntN(25) // web users have no push permission to change
	}
	switch {
	case x < 30:
		const name = "Push Permission Changed"
		u.flags ^= flagPush
		b = g.appendHeader(b, "track", "event", name, ui, g.deviceIDs(u), seq, ts)
		b = appendDeviceContext(b, u, "", noProduct, false)
		b = append(b, `,"properties":{"granted":`...)
		b = strconv.AppendBool(b, u.flags&flagPush != 0)
		return append(b, `,"channel":"push"}}`...), name
	case x < 55:
		const name = "Email Subscription Changed"
		u.flags ^= flagEmail
		b = g.appendHeader(b, "track", "event", name, ui, idsUser, seq, ts)
		b = appendServerContext(b, "preference_center")
		b = append(b, `,"properties":{"status":`...)
		b = appendStatus(b, u.flags&flagEmail != 0)
		return append(b, `,"channel":"email","source":"preference_center"}}`...), name
	case x < 70:
		const name = "SMS Subscription Changed"
		u.flags ^= flagSMS
		b = g.appendHeader(b, "track", "event", name, ui, idsUser, seq, ts)
		b = appendServerContext(b, "twilio")
		b = append(b, `,"properties":{"status":`...)
		b = appendStatus(b, u.flags&flagSMS != 0)
		b = append(b, `,"channel":"sms","phone":"+`...)
		b = g.appendPhoneDigits(b, ui)
		return append(b, `"}}`...), name
	case x < 85:
		const name = "Permission Changed"
		perm := permissions[g.rng.IntN(len(permissions))]
		var granted bool
		switch perm {
		case "push":
			if !u.app() {
				perm = "location"
				granted = g.rng.IntN(2) == 0
			} else {
				u.flags ^= flagPush
				granted = u.flags&flagPush != 0
			}
		case "email":
			u.flags ^= flagEmail
			granted = u.flags&flagEmail != 0
		case "sms":
			u.flags ^= flagSMS
			granted = u.flags&flagSMS != 0
		default:
			granted = g.rng.IntN(2) == 0
		}
		b = g.appendHeader(b, "track", "event", name, ui, g.deviceIDs(u), seq, ts)
		b = appendDeviceContext(b, u, "", noProduct, false)
		b = append(b, `,"properties":{"permission":"`...)
		b = append(b, perm...)
		b = append(b, `","granted":`...)
		b = strconv.AppendBool(b, granted)
		return append(b, `}}`...), name
	default:
		const name = "Unsubscribed"
		channel := "email"
		switch r := g.rng.IntN(10); {
		case r < 3:
			channel = "sms"
			u.flags &^= flagSMS
		case r < 4 && u.app():
			channel = "push"
			u.flags &^= flagPush
		default:
			u.flags &^= flagEmail
		}
		b = g.appendHeader(b, "track", "event", name, ui, idsUser, seq, ts)
		b = appendServerContext(b, "unsubscribe_link")
		b = append(b, `,"properties":{"channel":"`...)
		b = append(b, channel...)
		b = append(b, `","campaign_id":"`...)
		b = append(b, campaigns[g.rng.IntN(len(campaigns))].id...)
		b = append(b, '"')
		if r := unsubscribeReasons[g.rng.IntN(len(unsubscribeReasons))]; r != "" {
			b = append(b, `,"reason":"`...)
			b = append(b, r...)
			b = append(b, '"')
		}
		return append(b, `}}`...), name
	}
}

func (g *Generator) appendInboundSMS(b []byte, seq uint64, ui uint32, ts int64) ([]byte, string) {
	const name = "SMS Received"
	u := &g.users[ui]
	i := g.rng.IntN(len(smsBodies))
	switch {
	case i < 10:
		u.flags &^= flagSMS
	case i < 13:
		u.flags |= flagSMS
	}
	b = g.appendHeader(b, "track", "event", name, ui, idsUser, seq, ts)
	b = appendServerContext(b, "twilio")
	b = append(b, `,"properties":{"channel":"sms","from":"+`...)
	b = g.appendPhoneDigits(b, ui)
	b = append(b, `","to":"`+smsShortCode+`","body":`...)
	b = appendString(b, smsBodies[i])
	return append(b, `}}`...), name
}

func (g *Generator) appendSubscription(b []byte, seq uint64, ui uint32, ts int64) ([]byte, string) {
	u := &g.users[ui]
	pl := &plans[mix64(g.seedHash^uint64(ui))%uint64(len(plans))]
	name := "Subscription Started"
	if u.flags&flagPremium != 0 {
		name = "Subscription Cancelled"
	}
	u.flags ^= flagPremium
	b = g.appendHeader(b, "track", "event", name, ui, idsUser, seq, ts)
	b = appendServerContext(b, "stripe")
	b = append(b, `,"properties":{"plan":"`...)
	b = append(b, pl.name...)
	b = append(b, `","price":`...)
	b = appendCents(b, pl.cents)
	b = append(b, `,"currency":"`+currency+`"`...)
	if u.flags&flagPremium == 0 {
		b = append(b, `,"reason":"`...)
		b = append(b, cancelReasons[g.rng.IntN(len(cancelReasons))]...)
		b = append(b, '"')
	}
	return append(b, `}}`...), name
}

func (g *Generator) appendLocation(b []byte, seq uint64, ui uint32, ts int64) ([]byte, string) {
	const name = "Location Entered"
	u := &g.users[ui]
	s := &stores[g.rng.IntN(len(stores))]
	for i := range stores {
		if stores[i].countryCode == countries[u.country].code {
			s = &stores[i]
			break
		}
	}
	b = g.appendHeader(b, "track", "event", name, ui, g.deviceIDs(u), seq, ts)
	b = appendDeviceContext(b, u, "", noProduct, false)
	b = append(b, `,"properties":{"location_id":"`...)
	b = append(b, s.id...)
	b = append(b, `","name":"`...)
	b = append(b, s.name...)
	b = append(b, `","latitude":`...)
	b = append(b, s.latitude...)
	b = append(b, `,"longitude":`...)
	b = append(b, s.longitude...)
	b = append(b, `,"radius":`...)
	b = append(b, s.radiusMeters...)
	return append(b, `}}`...), name
}

// appendMalformed writes a record of the given malformed kind. It leaves the
// simulated users' state alone: the processor is expected to reject these.
func (g *Generator) appendMalformed(b []byte, kind string, seq uint64, ui uint32, ts int64) ([]byte, string) {
	u := &g.users[ui]
	p := g.pickProduct()
	switch kind {
	case MalformedTruncated:
		b, name := g.appendProductViewedNoState(b, seq, ui, ts, p, idsUser)
		// Any proper prefix of a JSON object is invalid; keep the user id.
		cut := g.keyEnd + 1 + g.rng.IntN(len(b)-g.keyEnd-1)
		return b[:cut], name
	case MalformedMissingID:
		return g.appendProductViewedNoState(b, seq, ui, ts, p, idsNone)
	case MalformedUserIDType:
		return g.appendProductViewedNoState(b, seq, ui, ts, p, idsUserTrue)
	case MalformedGrantedType:
		const name = "Push Permission Changed"
		b = g.appendHeader(b, "track", "event", name, ui, idsUser, seq, ts)
		b = appendDeviceContext(b, u, "", noProduct, false)
		return append(b, `,"properties":{"granted":"yes","channel":"push"}}`...), name
	case MalformedOversized:
		b = g.appendHeader(b, "track", "event", "Product Viewed", ui, idsUser, seq, ts)
		b = appendDeviceContext(b, u, "", noProduct, false)
		b = append(b, `,"properties":{"product_id":"`...)
		b = appendProductID(b, 'p', p)
		b = append(b, `","blob":"`...)
		b = append(b, blobText...)
		return append(b, `"}}`...), "Product Viewed"
	case MalformedUnknownType:
		b = g.appendHeader(b, "grup", "", "", ui, idsUser, seq, ts)
		b = append(b, `,"groupId":"org_`...)
		b = appendPadded(b, uint64(p), 4)
		b = append(b, `","traits":{"name":"Acme Corp","plan":"enterprise"}`...)
		b = appendServerContext(b, "crm")
		return append(b, '}'), ""
	case MalformedFutureTimestamp:
		future := time.UnixMilli(ts).UTC()
		future = future.AddDate(2099-future.Year(), 0, 0)
		return g.appendProductViewedNoState(b, seq, ui, future.UnixMilli(), p, idsUser)
	default: // MalformedNotObject
		switch g.nMalformed / uint64(len(malformedKinds)) % 5 {
		case 0:
			b = append(b, `[{"type":"track","event":"Product Viewed","userId":"`...)
			b = g.appendUserID(b, ui)
			return append(b, `"}]`...), ""
		case 1:
			return append(b, `"Application Opened"`...), ""
		case 2:
			return strconv.AppendUint(b, seq, 10), ""
		case 3:
			return append(b, `null`...), ""
		default:
			return append(b, `true`...), ""
		}
	}
}

// appendProductViewedNoState writes a "Product Viewed" track call with the
// given ids and no change to the user's state.
func (g *Generator) appendProductViewedNoState(b []byte, seq uint64, ui uint32, ts int64, p, ids int) ([]byte, string) {
	const name = "Product Viewed"
	b = g.appendHeader(b, "track", "event", name, ui, ids, seq, ts)
	b = appendDeviceContext(b, &g.users[ui], "", noProduct, false)
	b = append(b, `,"properties":{`...)
	b = appendProductProps(b, p, true)
	return append(b, `,"currency":"`+currency+`"}}`...), name
}

// appendUserID writes "u" and the zero-padded user index.
func (g *Generator) appendUserID(b []byte, ui uint32) []byte {
	b = append(b, 'u')
	return appendPadded(b, uint64(ui), g.idWidth)
}

// appendAnonymousID writes the user's stable anonymousId, a version 4 UUID
// unique per user.
func (g *Generator) appendAnonymousID(b []byte, ui uint32) []byte {
	x := mix64(g.seedHash ^ (uint64(ui)+1)*0x9e3779b97f4a7c15)
	return appendUUID(b, x, mix64(x^0x616e6f6e))
}

// appendMessageID writes the messageId of record seq, a version 4 UUID
// unique per seed and sequence number.
func (g *Generator) appendMessageID(b []byte, seq uint64) []byte {
	x := mix64(seq ^ g.seedHash)
	return appendUUID(b, x, mix64(x^0x5bd1e9955bd1e995))
}

// SeqOf returns the sequence number of the record whose messageId is id (the
// Count before Next made it), reading appendMessageID backwards, so that a
// reader of the outputs can find an event's record without a map of ids.
// It is false for a text that is not a UUID of that form; a messageId of
// another seed gives a number unrelated to any made (callers check the
// range).
func (g *Generator) SeqOf(id []byte) (uint64, bool) {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[14] != '4' || id[18] != '-' || id[23] != '-' {
		return 0, false
	}
	var x uint64
	for _, part := range [...][]byte{id[0:8], id[9:13], id[15:18], id[19:20]} {
		for _, c := range part {
			d, ok := hexDigit(c)
			if !ok {
				return 0, false
			}
			x = x<<4 | d
		}
	}
	// The last digit read is the variant's: 10 in its two high bits, then
	// the 2 high bits of x's low nibble (the next digit holds the other 2).
	d, ok := hexDigit(id[20])
	if !ok || x&0xc != 0x8 {
		return 0, false
	}
	x = x>>4<<4 | (x&0x3)<<2 | d>>2
	return unmix64(x) ^ g.seedHash, true
}

// appendUUID writes a version 4 UUID holding all 64 bits of x (so distinct x
// give distinct UUIDs) and 58 bits of y.
func appendUUID(b []byte, x, y uint64) []byte {
	var u [36]byte
	hex := func(to []byte, v uint64) {
		for i := len(to) - 1; i >= 0; i-- {
			to[i] = hexDigits[v&0xf]
			v >>= 4
		}
	}
	hex(u[0:8], x>>32)
	u[8] = '-'
	hex(u[9:13], x>>16)
	u[13], u[14] = '-', '4'
	hex(u[15:18], x>>4)
	u[18] = '-'
	hex(u[19:23], 0x8000|(x&0xf)<<10|(y>>48)&0x3ff)
	u[23] = '-'
	hex(u[24:36], y)
	return append(b, u[:]...)
}

// appendPhone writes the user's E.164 phone number.
func (g *Generator) appendPhone(b []byte, ui uint32) []byte {
	b = append(b, '+')
	return g.appendPhoneDigits(b, ui)
}

func (g *Generator) appendPhoneDigits(b []byte, ui uint32) []byte {
	c := &countries[g.users[ui].country]
	h := mix64(g.seedHash ^ uint64(ui) ^ 0x70686f6e65)
	b = append(b, c.phones[h%uint64(len(c.phones))]...)
	h /= uint64(len(c.phones))
	b = append(b, '2'+byte(h%8))
	h /= 8
	for range c.digits - 1 {
		b = append(b, '0'+byte(h%10))
		h /= 10
	}
	return b
}

// mix64 is the splitmix64 finaliser, a bijection on uint64.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// hexDigit is the value of a lowercase hexadecimal digit, as appendUUID
// writes them.
func hexDigit(c byte) (uint64, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0'), true
	case c >= 'a' && c <= 'f':
		return uint64(c-'a') + 10, true
	}
	return 0, false
}

// unmix64 is mix64's inverse.
func unmix64(x uint64) uint64 {
	x ^= x>>31 ^ x>>62
	x *= 0x319642b2d24d8ec3 // 0x94d049bb133111eb⁻¹ mod 2⁶⁴
	x ^= x>>27 ^ x>>54
	x *= 0x96de1b173f119089 // 0xbf58476d1ce4e5b9⁻¹ mod 2⁶⁴
	return x ^ x>>30 ^ x>>60
}

const hexDigits = "0123456789abcdef"

// appendHex writes the low n (at most 16) nibbles of x, most significant
// first.
func appendHex(b []byte, x uint64, n int) []byte {
	var buf [16]byte
	for i := 15; i >= 16-n; i-- {
		buf[i] = hexDigits[x&0xf]
		x >>= 4
	}
	return append(b, buf[16-n:]...)
}

// appendPadded writes x in decimal, zero-padded to at least width digits.
func appendPadded(b []byte, x uint64, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for x >= 10 || i > len(buf)-width+1 {
		i--
		buf[i] = '0' + byte(x%10)
		x /= 10
	}
	i--
	buf[i] = '0' + byte(x)
	return append(b, buf[i:]...)
}

// appendCents writes an amount of cents as a JSON number with two decimals.
func appendCents(b []byte, c int) []byte {
	b = strconv.AppendInt(b, int64(c/100), 10)
	b = append(b, '.', '0'+byte(c%100/10), '0'+byte(c%10))
	return b
}

// appendTimestamp writes Unix milliseconds as RFC 3339 UTC with
// milliseconds, "2006-01-02T15:04:05.000Z", for years 0000-9999.
func appendTimestamp(b []byte, ms int64) []byte {
	secs := floorDiv(ms, 1000)
	days := floorDiv(secs, 86400)
	sod := secs - days*86400
	y, m, d := civilFromDays(days)
	b = appendPadded(b, uint64(y), 4)
	b = append(b, '-', '0'+byte(m/10), '0'+byte(m%10), '-', '0'+byte(d/10), '0'+byte(d%10), 'T')
	h, mi, sec := sod/3600, sod/60%60, sod%60
	b = append(b, '0'+byte(h/10), '0'+byte(h%10), ':', '0'+byte(mi/10), '0'+byte(mi%10), ':', '0'+byte(sec/10), '0'+byte(sec%10), '.')
	frac := ms - secs*1000
	return append(b, '0'+byte(frac/100), '0'+byte(frac/10%10), '0'+byte(frac%10), 'Z')
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// civilFromDays converts days since 1970-01-01 to a proleptic Gregorian
// date (Howard Hinnant's days_from_civil, inverted).
func civilFromDays(z int64) (year int64, month, day int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = int(doy - (153*mp+2)/5 + 1)
	month = int(mp + 3)
	if mp >= 10 {
		month = int(mp - 9)
	}
	if month <= 2 {
		y++
	}
	return y, month, day
}

func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// appendSafeString writes s, which needs no escaping (the generator's own
// vocabulary, checked by tests), as a quoted JSON string.
func appendSafeString(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendString writes s as a quoted JSON string, escaped as needed.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendStringBody(b, s)
	return append(b, '"')
}

// appendStringBody writes s JSON-escaped, without quotes.
func appendStringBody(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
			i++
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
			i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
		}
	}
	return b
}
