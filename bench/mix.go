package bench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// mixFlagNames are the kinds' names in ParseMix and Mix.String, in the
// order of categoryNames.
var mixFlagNames = [numCategories]string{
	"app_sessions", "product_views", "product_adds", "orders", "checkouts", "messages", "consent",
	"inbound_sms", "uninstalls", "identifies", "subscription", "locations", "aliases",
}

// MixKinds returns the names ParseMix accepts, in order.
func MixKinds() []string { return mixFlagNames[:] }

// ParseMix reads a mix as "kind=weight,kind=weight,...": each named kind
// gets the weight, the others keep DefaultMix's (weights are relative to
// each other; 0 turns a kind off). An empty s is DefaultMix. Errors name
// the offending item and, for an unknown kind, the known ones.
func ParseMix(s string) (Mix, error) {
	m := DefaultMix()
	if strings.TrimSpace(s) == "" {
		return m, nil
	}
	w := m.weights()
	for item := range strings.SplitSeq(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return Mix{}, fmt.Errorf("mix %q: item %q is not kind=weight (e.g. orders=10)", s, item)
		}
		name = strings.TrimSpace(name)
		k := -1
		for i, n := range mixFlagNames {
			if n == name {
				k = i
			}
		}
		if k < 0 {
			return Mix{}, fmt.Errorf("mix %q: unknown kind %q (kinds: %s)", s, name, strings.Join(mixFlagNames[:], ", "))
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return Mix{}, fmt.Errorf("mix %q: weight %q of %s: want a number >= 0", s, val, name)
		}
		w[k] = v
	}
	sum := 0.0
	for _, v := range w {
		sum += v
	}
	if sum == 0 {
		return Mix{}, fmt.Errorf("mix %q: every kind's weight is 0; at least one must be above 0", s)
	}
	if math.IsInf(sum, 0) {
		return Mix{}, fmt.Errorf("mix %q: the weights add up past the largest number; use smaller ones (they are relative)", s)
	}
	return mixOf(w), nil
}

// mixOf is the Mix of weights w, in the order of categoryNames.
func mixOf(w [numCategories]float64) Mix {
	return Mix{
		AppSessions: w[catAppSessions], ProductViews: w[catProductViews], ProductAdds: w[catProductAdds],
		Orders: w[catOrders], Checkouts: w[catCheckouts], Messages: w[catMessages], Consent: w[catConsent],
		InboundSMS: w[catInboundSMS], Uninstalls: w[catUninstalls], Identifies: w[catIdentifies],
		Subscription: w[catSubscription], Locations: w[catLocations], Aliases: w[catAliases],
	}
}

// String writes the mix as ParseMix reads it, each kind's share in percent
// of the well-formed records after onboarding (the zero Mix as DefaultMix).
func (m Mix) String() string {
	if m == (Mix{}) {
		m = DefaultMix()
	}
	w := m.weights()
	sum := 0.0
	for _, v := range w {
		sum += v
	}
	var b strings.Builder
	for i, v := range w {
		if i > 0 {
			b.WriteByte(',')
		}
		if sum > 0 {
			v = 100 * v / sum
		}
		b.WriteString(mixFlagNames[i])
		b.WriteByte('=')
		b.WriteString(strconv.FormatFloat(v, 'g', 4, 64))
	}
	return b.String()
}
