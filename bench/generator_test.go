package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // time zone names are checked with time.LoadLocation
)

func newTestGenerator(t testing.TB, cfg GeneratorConfig) *Generator {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatalf("NewGenerator(%+v): %v", cfg, err)
	}
	return g
}

// ownedRecord copies a record out of the generator's buffer.
func ownedRecord(r Record) Record {
	r.Key = bytes.Clone(r.Key)
	r.Value = bytes.Clone(r.Value)
	return r
}

func TestGeneratorDeterministic(t *testing.T) {
	const n = 10_000
	gen := func(seed int64) []Record {
		g := newTestGenerator(t, GeneratorConfig{Seed: seed})
		out := make([]Record, n)
		var buf []byte
		for i := range out {
			r := g.Next(buf[:0])
			buf = r.Value
			out[i] = ownedRecord(r)
		}
		return out
	}
	a, b, c := gen(42), gen(42), gen(43)
	for i := range a {
		if !bytes.Equal(a[i].Value, b[i].Value) || !bytes.Equal(a[i].Key, b[i].Key) ||
			!a[i].Time.Equal(b[i].Time) || a[i].Malformed != b[i].Malformed || a[i].Event != b[i].Event {
			t.Fatalf("seed 42, record %d differs between runs:\n%s\n%s", i, a[i].Value, b[i].Value)
		}
	}
	same := 0
	for i := range a {
		if bytes.Equal(a[i].Value, c[i].Value) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("seeds 42 and 43 made %d identical records out of %d", same, n)
	}
}

// segmentRecord is what the test checks in a well-formed record.
type segmentRecord struct {
	Type        string         `json:"type"`
	Event       string         `json:"event"`
	Name        string         `json:"name"`
	UserID      string         `json:"userId"`
	AnonymousID string         `json:"anonymousId"`
	PreviousID  string         `json:"previousId"`
	MessageID   string         `json:"messageId"`
	Timestamp   string         `json:"timestamp"`
	Traits      map[string]any `json:"traits"`
	Properties  map[string]any `json:"properties"`
	Context     struct {
		Timezone  string            `json:"timezone"`
		App       map[string]any    `json:"app"`
		Page      map[string]string `json:"page"`
		UserAgent string            `json:"userAgent"`
		Library   map[string]string `json:"library"`
	} `json:"context"`
}

var (
	e164      = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)
	uuidV4    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	userIDPat = regexp.MustCompile(`^u[0-9]{6,}$`)
)

func TestGeneratorWellFormed(t *testing.T) {
	const n = 50_000
	g := newTestGenerator(t, GeneratorConfig{Seed: 7, NoMalformed: true})
	messageIDs := make(map[string]bool, n)
	inSize, wellFormed := 0, 0
	types := map[string]int{}
	prev := time.Time{}
	var buf []byte
	for i := range n {
		r := g.Next(buf[:0])
		buf = r.Value
		if r.Malformed != "" {
			t.Fatalf("record %d: malformed %q with NoMalformed", i, r.Malformed)
		}
		wellFormed++
		if l := len(r.Value); l >= 150 && l <= 600 {
			inSize++
		}
		var s segmentRecord
		if err := json.Unmarshal(r.Value, &s); err != nil {
			t.Fatalf("record %d: %v\n%s", i, err, r.Value)
		}
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("record %d: %s\n%s", i, fmt.Sprintf(format, args...), r.Value)
		}
		types[s.Type]++
		switch s.Type {
		case "track":
			if s.Event == "" || r.Event != s.Event {
				fail("track event %q, Record.Event %q", s.Event, r.Event)
			}
		case "identify", "page", "screen", "alias":
			if r.Event != s.Type {
				fail("Record.Event %q for a %s call", r.Event, s.Type)
			}
		default:
			fail("type %q", s.Type)
		}
		if s.UserID == "" && s.AnonymousID == "" {
			fail("neither userId nor anonymousId")
		}
		if !userIDPat.MatchString(s.UserID) || string(r.Key) != s.UserID {
			fail("userId %q, key %q", s.UserID, r.Key)
		}
		if s.AnonymousID != "" && !uuidV4.MatchString(s.AnonymousID) {
			fail("anonymousId %q", s.AnonymousID)
		}
		if !uuidV4.MatchString(s.MessageID) || messageIDs[s.MessageID] {
			fail("messageId %q invalid or repeated", s.MessageID)
		}
		messageIDs[s.MessageID] = true
		ts, err := time.Parse(time.RFC3339Nano, s.Timestamp)
		if err != nil || len(s.Timestamp) != len("2006-01-02T15:04:05.000Z") {
			fail("timestamp %q: %v", s.Timestamp, err)
		}
		if !ts.Equal(r.Time) {
			fail("timestamp %v, Record.Time %v", ts, r.Time)
		}
		if r.Time.Before(prev) {
			fail("time went back from %v to %v", prev, r.Time)
		}
		prev = r.Time
		if tz := s.Context.Timezone; tz != "" {
			if _, err := time.LoadLocation(tz); err != nil {
				fail("context.timezone: %v", err)
			}
		}
		if s.Context.App != nil && s.Context.Page != nil {
			fail("context has both app and page")
		}
		if s.Type == "alias" && !uuidV4.MatchString(s.PreviousID) {
			fail("alias previousId %q", s.PreviousID)
		}
		if s.Type == "identify" {
			email, _ := s.Traits["email"].(string)
			phone, _ := s.Traits["phone"].(string)
			tz, _ := s.Traits["timezone"].(string)
			country, _ := s.Traits["country"].(string)
			if !strings.Contains(email, "@example.") || !e164.MatchString(phone) || len(country) != 2 {
				fail("identify traits %v", s.Traits)
			}
			if _, err := time.LoadLocation(tz); err != nil {
				fail("traits.timezone: %v", err)
			}
		}
		checkProperties(t, fail, &s)
	}
	if share := float64(inSize) / float64(wellFormed); share < 0.95 {
		t.Errorf("%.1f%% of well-formed records are 150-600 bytes, want >= 95%%", 100*share)
	}
	for _, typ := range []string{"track", "identify", "page", "screen", "alias"} {
		if types[typ] == 0 {
			t.Errorf("no %s calls in %d records", typ, n)
		}
	}
}

// checkProperties checks the properties the decoder gives meaning to.
func checkProperties(t *testing.T, fail func(string, ...any), s *segmentRecord) {
	t.Helper()
	p := s.Properties
	isBool := func(k string) bool { _, ok := p[k].(bool); return ok }
	isNum := func(k string) bool { _, ok := p[k].(float64); return ok }
	str := func(k string) string { v, _ := p[k].(string); return v }
	switch s.Event {
	case "Push Permission Changed":
		if !isBool("granted") {
			fail("granted %v", p["granted"])
		}
	case "Permission Changed":
		if !isBool("granted") || !slices.Contains(permissions[:], str("permission")) {
			fail("permission %v granted %v", p["permission"], p["granted"])
		}
	case "Email Subscription Changed", "SMS Subscription Changed":
		if st := str("status"); st != "subscribed" && st != "unsubscribed" {
			fail("status %q", st)
		}
	case "Unsubscribed":
		if c := str("channel"); c != "email" && c != "sms" && c != "push" {
			fail("channel %q", c)
		}
	case "SMS Received":
		if !e164.MatchString(str("from")) || str("body") == "" {
			fail("from %q body %q", str("from"), str("body"))
		}
	case "Order Completed":
		products, _ := p["products"].([]any)
		if !isNum("revenue") || p["revenue"].(float64) <= 0 || len(products) == 0 || str("order_id") == "" {
			fail("order properties %v", p)
		}
	case "Product Added":
		if !isNum("cart_value") || !isNum("price") || str("product_id") == "" || str("sku") == "" {
			fail("product properties %v", p)
		}
	case "Product Viewed":
		if !isNum("price") || str("product_id") == "" || str("currency") == "" {
			fail("product properties %v", p)
		}
	}
	if strings.HasPrefix(s.Event, "Push Notification") || strings.HasPrefix(s.Event, "Email ") && s.Event != "Email Subscription Changed" ||
		s.Event == "SMS Delivered" {
		if c := str("channel"); c == "" || str("campaign_id") == "" {
			fail("message channel %q campaign %q", c, str("campaign_id"))
		}
	}
}

func TestGeneratorMalformed(t *testing.T) {
	const n = 200_000
	g := newTestGenerator(t, GeneratorConfig{Seed: 3})
	kinds := map[string]int{}
	malformed := 0
	var buf []byte
	for i := range n {
		r := g.Next(buf[:0])
		buf = r.Value
		if r.Malformed == "" {
			continue
		}
		malformed++
		kinds[r.Malformed]++
		if err := checkMalformed(r); err != nil {
			t.Fatalf("record %d, %s: %v\n%.300s", i, r.Malformed, err, r.Value)
		}
	}
	share := float64(malformed) / n
	if math.Abs(share-DefaultMalformedShare) > 0.002 {
		t.Errorf("malformed share %.4f, want %.4f ± 0.002", share, DefaultMalformedShare)
	}
	for _, k := range MalformedKinds() {
		if kinds[k] < malformed/len(malformedKinds)-1 {
			t.Errorf("kind %s: %d of %d malformed records, want about 1/%d", k, kinds[k], malformed, len(malformedKinds))
		}
	}
	if len(kinds) != len(malformedKinds) {
		t.Errorf("kinds %v, want exactly %v", kinds, MalformedKinds())
	}
}

// checkMalformed says whether r is malformed the way its kind says.
func checkMalformed(r Record) error {
	var obj map[string]any
	objErr := json.Unmarshal(r.Value, &obj)
	wantKey := true
	switch r.Malformed {
	case MalformedTruncated:
		if json.Valid(r.Value) {
			return fmt.Errorf("valid JSON")
		}
		if !bytes.Contains(r.Value, []byte(`"userId":"`+string(r.Key)+`"`)) {
			return fmt.Errorf("key %q not in the record", r.Key)
		}
		return nil
	case MalformedNotObject:
		if !json.Valid(r.Value) || bytes.HasPrefix(r.Value, []byte("{")) {
			return fmt.Errorf("want valid JSON that is not an object")
		}
		wantKey = false
	case MalformedMissingID:
		if _, ok := obj["userId"]; ok || obj["anonymousId"] != nil {
			return fmt.Errorf("has an id")
		}
		wantKey = false
	case MalformedUserIDType:
		if obj["userId"] != true {
			return fmt.Errorf("userId %v", obj["userId"])
		}
		wantKey = false
	case MalformedGrantedType:
		props, _ := obj["properties"].(map[string]any)
		if _, ok := props["granted"].(string); !ok || obj["event"] != "Push Permission Changed" {
			return fmt.Errorf("properties %v", props)
		}
	case MalformedOversized:
		props, _ := obj["properties"].(map[string]any)
		blob, _ := props["blob"].(string)
		if len(blob) <= 64<<10 {
			return fmt.Errorf("blob of %d bytes", len(blob))
		}
	case MalformedUnknownType:
		if obj["type"] != "grup" {
			return fmt.Errorf("type %v", obj["type"])
		}
	case MalformedFutureTimestamp:
		ts, _ := obj["timestamp"].(string)
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || tm.Year() != 2099 {
			return fmt.Errorf("timestamp %q: %v", ts, err)
		}
	default:
		return fmt.Errorf("unknown kind")
	}
	if r.Malformed != MalformedNotObject && (objErr != nil || obj == nil) {
		return fmt.Errorf("want a JSON object: %v", objErr)
	}
	if wantKey != (r.Key != nil) {
		return fmt.Errorf("key %q", r.Key)
	}
	if wantKey && obj["userId"] != string(r.Key) {
		return fmt.Errorf("key %q, userId %v", r.Key, obj["userId"])
	}
	return nil
}

func TestGeneratorMalformedShare(t *testing.T) {
	for _, share := range []float64{0.2, 1} {
		g := newTestGenerator(t, GeneratorConfig{Seed: 1, MalformedShare: share})
		got := 0
		const n = 20_000
		for range n {
			if g.Next(nil).Malformed != "" {
				got++
			}
		}
		if f := float64(got) / n; math.Abs(f-share) > 0.01 {
			t.Errorf("MalformedShare %v: got %.4f", share, f)
		}
	}
}

// mixCategory maps a well-formed record to the Mix weight that made it.
// Installs count as sessions: past onboarding, an uninstalled user's next
// session starts with a reinstall.
func mixCategory(r Record) int {
	switch r.Event {
	case "Application Opened", "Application Backgrounded", "screen", "Application Installed":
		return catAppSessions
	case "page":
		if bytes.Contains(r.Value, []byte(`"name":"Product"`)) {
			return catProductViews
		}
		return catAppSessions
	case "Product Viewed":
		return catProductViews
	case "Product Added":
		return catProductAdds
	case "Order Completed":
		return catOrders
	case "Checkout Started", "Cart Viewed":
		return catCheckouts
	case "Push Notification Received", "Push Notification Tapped", "Push Notification Bounced",
		"Email Delivered", "Email Opened", "Email Link Clicked", "Email Bounced", "Email Marked as Spam",
		"SMS Delivered":
		return catMessages
	case "Push Permission Changed", "Email Subscription Changed", "SMS Subscription Changed",
		"Permission Changed", "Unsubscribed":
		return catConsent
	case "SMS Received":
		return catInboundSMS
	case "Application Uninstalled":
		return catUninstalls
	case "identify":
		return catIdentifies
	case "Subscription Started", "Subscription Cancelled":
		return catSubscription
	case "Location Entered":
		return catLocations
	case "alias":
		return catAliases
	}
	return -1
}

func TestGeneratorMix(t *testing.T) {
	for _, tc := range []struct {
		name string
		mix  Mix
	}{
		{"default", Mix{}},
		{"commerce", Mix{ProductViews: 50, ProductAdds: 30, Orders: 20}},
		{"churn", Mix{AppSessions: 30, Consent: 25, InboundSMS: 25, Uninstalls: 5, Subscription: 15}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Few users, so that onboarding (install, identify) is rare.
			g := newTestGenerator(t, GeneratorConfig{Seed: 11, Users: 100, NoMalformed: true, Mix: tc.mix})
			mix := tc.mix
			if mix == (Mix{}) {
				mix = DefaultMix()
			}
			const n = 200_000
			var counts [numCategories]int
			for range n {
				if c := mixCategory(g.Next(nil)); c >= 0 {
					counts[c]++
				}
			}
			weights := mix.weights()
			total := 0.0
			for _, w := range weights {
				total += w
			}
			for i, w := range weights {
				want := w / total
				got := float64(counts[i]) / n
				// Onboarding adds identifies; app-only kinds fall back to
				// sessions when no app user turns up.
				if tol := 0.1*want + 0.003; math.Abs(got-want) > tol {
					t.Errorf("%s: share %.4f, want %.4f ± %.4f", categoryNames[i], got, want, tol)
				}
			}
		})
	}
}

func TestGeneratorZipfSkew(t *testing.T) {
	const users, n = 5000, 200_000
	g := newTestGenerator(t, GeneratorConfig{Seed: 5, Users: users, NoMalformed: true})
	perUser := map[string]int{}
	var buf []byte
	for range n {
		r := g.Next(buf[:0])
		buf = r.Value
		perUser[string(r.Key)]++
	}
	counts := make([]int, 0, len(perUser))
	for _, c := range perUser {
		counts = append(counts, c)
	}
	slices.Sort(counts)
	slices.Reverse(counts)
	top := 0
	for _, c := range counts[:users/100] {
		top += c
	}
	if share := float64(top) / n; share < 0.10 {
		t.Errorf("top 1%% of users made %.1f%% of records, want far more than 1%%", 100*share)
	}
	if len(perUser) < users/2 {
		t.Errorf("only %d of %d users active in %d records: no long tail", len(perUser), users, n)
	}
}

func TestGeneratorClock(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	g := newTestGenerator(t, GeneratorConfig{Seed: 2, Start: start, TimeStep: time.Hour})
	if !g.Clock().Equal(start) {
		t.Fatalf("Clock before the first record = %v, want %v", g.Clock(), start)
	}
	const n = 10_000
	var last Record
	for range n {
		last = g.Next(nil)
	}
	if g.Count() != n {
		t.Errorf("Count = %d, want %d", g.Count(), n)
	}
	elapsed := last.Time.Sub(start)
	if want := n * time.Hour; elapsed < want*9/10 || elapsed > want*11/10 {
		t.Errorf("after %d records of 1h on average, %v passed", n, elapsed)
	}
	if !g.Clock().Truncate(time.Millisecond).Equal(last.Time) {
		t.Errorf("Clock %v, last record at %v", g.Clock(), last.Time)
	}
}

func TestGeneratorLargePopulation(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 2 million users")
	}
	g := newTestGenerator(t, GeneratorConfig{Seed: 1, Users: 2_000_000, NoMalformed: true})
	for range 100 {
		r := g.Next(nil)
		if !regexp.MustCompile(`^u[0-9]{7}$`).Match(r.Key) {
			t.Fatalf("key %q with 2,000,000 users", r.Key)
		}
	}
}

func TestGeneratorConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  GeneratorConfig
		want string // in the error
	}{
		{GeneratorConfig{Users: -1}, "Users -1"},
		{GeneratorConfig{Users: MaxUsers + 1}, fmt.Sprintf("Users %d", MaxUsers+1)},
		{GeneratorConfig{TimeStep: -time.Second}, "TimeStep -1s"},
		{GeneratorConfig{MalformedShare: 1.5}, "MalformedShare 1.5"},
		{GeneratorConfig{MalformedShare: math.NaN()}, "MalformedShare NaN"},
		{GeneratorConfig{Skew: -1}, "Skew -1"},
		{GeneratorConfig{Skew: 5}, "Skew 5"},
		{GeneratorConfig{Start: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}, "Start 1900-01-01"},
		{GeneratorConfig{Mix: Mix{Orders: -2}}, "Mix.Orders -2"},
		{GeneratorConfig{Mix: Mix{Messages: math.Inf(1)}}, "Mix.Messages +Inf"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error with %q", tc.cfg, err, tc.want)
		}
		if _, err := NewGenerator(tc.cfg); err == nil {
			t.Errorf("NewGenerator(%+v) succeeded", tc.cfg)
		}
	}
	var zero GeneratorConfig
	if err := zero.Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
}

func TestGeneratorTables(t *testing.T) {
	for _, c := range countries {
		for _, z := range c.zones {
			if _, err := time.LoadLocation(z); err != nil {
				t.Errorf("%s: %v", c.code, err)
			}
		}
		for _, p := range c.phones {
			if n := len(p) + c.digits; n < 8 || n > 15 {
				t.Errorf("%s: %s and %d digits is not E.164", c.code, p, c.digits)
			}
		}
	}
}

// TestGeneratorTablesNeedNoEscaping: the generator writes its vocabulary into
// JSON strings without escaping it.
func TestGeneratorTablesNeedNoEscaping(t *testing.T) {
	var all []string
	add := func(s ...string) { all = append(all, s...) }
	for _, c := range countries {
		add(c.code, c.locale)
		add(c.zones...)
		add(c.phones...)
	}
	for i := range firstNames {
		add(firstNames[i][:]...)
		add(lastNames[i][:]...)
	}
	add(emailDomains[:]...)
	for _, d := range iosDevices {
		add(d.manufacturer, d.model)
	}
	for _, d := range androidDevices {
		add(d.manufacturer, d.model)
	}
	add(iosVersions[:]...)
	add(androidVersions[:]...)
	add(appVersions[:]...)
	add(appBuilds[:]...)
	add(userAgents[:]...)
	add(appScreens[:]...)
	for _, p := range webPages {
		add(p.name, p.path, p.title)
	}
	add(referrers[:]...)
	add(productAdjectives[:]...)
	add(productNouns[:]...)
	add(productCategories[:]...)
	for _, c := range campaigns {
		add(c.id, c.name, c.subject, c.path)
	}
	for _, e := range emailBounces {
		add(e.kind, e.reason)
	}
	add(pushBounceReasons[:]...)
	add(unsubscribeReasons[:]...)
	add(cancelReasons[:]...)
	for _, p := range plans {
		add(p.name)
	}
	for _, s := range stores {
		add(s.id, s.name, s.latitude, s.longitude, s.radiusMeters, s.countryCode)
	}
	add(permissions[:]...)
	for _, e := range messageEvents {
		add(e.name, e.channel)
	}
	for _, s := range all {
		if string(appendString(nil, s)) != `"`+s+`"` {
			t.Errorf("%q needs escaping in JSON", s)
		}
	}
}

func TestAppendTimestamp(t *testing.T) {
	max := time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()
	check := func(ms int64) {
		want := time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
		if got := string(appendTimestamp(nil, ms)); got != want {
			t.Fatalf("appendTimestamp(%d) = %s, want %s", ms, got, want)
		}
	}
	for _, ms := range []int64{0, 1, 999, 1000, 86_399_999, 86_400_000, 951_782_400_000, 4_107_542_400_000, max} {
		check(ms)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		check(r.Int64N(max + 1))
	}
}

func TestGeneratorNextAllocs(t *testing.T) {
	g := newTestGenerator(t, GeneratorConfig{Seed: 9})
	buf := make([]byte, 0, 128<<10) // room for oversized records
	allocs := testing.AllocsPerRun(20_000, func() {
		buf = g.Next(buf[:0]).Value
	})
	if allocs != 0 {
		t.Errorf("Next allocates %v times per record, want 0", allocs)
	}
}

func BenchmarkGeneratorNext(b *testing.B) {
	g := newTestGenerator(b, GeneratorConfig{Seed: 1})
	buf := make([]byte, 0, 128<<10)
	var bytes int
	b.ReportAllocs()
	for b.Loop() {
		r := g.Next(buf[:0])
		bytes += len(r.Value)
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "B/record")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func ExampleGenerator() {
	g, err := NewGenerator(GeneratorConfig{Seed: 1, Users: 1000})
	if err != nil {
		panic(err)
	}
	var buf []byte
	for range 3 {
		r := g.Next(buf[:0])
		buf = r.Value
		fmt.Println(string(r.Key), r.Event, r.Time.Format(time.RFC3339Nano), len(r.Value) > 0)
	}
	// Output:
	// u000546 Application Installed 2026-01-01T00:00:00.007Z true
	// u000901 Application Installed 2026-01-01T00:00:00.024Z true
	// u000905 Application Installed 2026-01-01T00:00:00.055Z true
}

// TestSeqOfReadsTheMessageIDBack: the latency instrument finds an output's
// event by the seq its messageId holds, every record's (malformed ones
// with a messageId too); another seed's ids fall outside the range made,
// and texts of other forms (length, version, variant, digits) are refused.
func TestSeqOfReadsTheMessageIDBack(t *testing.T) {
	const n = 20_000
	g := newTestGenerator(t, GeneratorConfig{Seed: 3})
	other := newTestGenerator(t, GeneratorConfig{Seed: 4})
	withID := 0
	var buf []byte
	for i := range n {
		r := g.Next(buf[:0])
		buf = r.Value
		id := messageIDOf(r.Value)
		if id == nil {
			continue
		}
		withID++
		if seq, ok := g.SeqOf(id); !ok || seq != uint64(i) {
			t.Fatalf("record %d (%q): SeqOf(%s) = %d, %v", i, r.Malformed, id, seq, ok)
		}
		if seq, ok := other.SeqOf(id); ok && seq < n {
			t.Fatalf("record %d: another seed's SeqOf(%s) = %d, within the range made", i, id, seq)
		}
	}
	if withID < n*9/10 {
		t.Fatalf("%d of %d records have a messageId", withID, n)
	}
	for _, bad := range []string{"", "not-a-uuid", "0b5ffa3c-86a0-4d3f-8c49-0a1c3b8f0e2", "0b5ffa3c-86a0-3d3f-8c49-0a1c3b8f0e2d",
		"0b5ffa3c-86a0-4d3f-cc49-0a1c3b8f0e2d", "0B5FFA3C-86a0-4d3f-8c49-0a1c3b8f0e2d", "0b5ffa3c-86a0-4d3f-8x49-0a1c3b8f0e2d"} {
		if seq, ok := g.SeqOf([]byte(bad)); ok {
			t.Errorf("SeqOf(%q) = %d, true; want false", bad, seq)
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 100_000 {
		if x := r.Uint64(); unmix64(mix64(x)) != x {
			t.Fatalf("unmix64(mix64(%#x)) = %#x", x, unmix64(mix64(x)))
		}
	}
}

// messageIDOf returns the messageId of a generated record (nil: none).
func messageIDOf(v []byte) []byte {
	const k = `"messageId":"`
	i := bytes.Index(v, []byte(k))
	if i < 0 {
		return nil
	}
	v = v[i+len(k):]
	if j := bytes.IndexByte(v, '"'); j >= 0 {
		return v[:j]
	}
	return nil
}
