package bench

import (
	"math"
	"strings"
	"testing"
)

func TestParseMix(t *testing.T) {
	def := DefaultMix()
	if m, err := ParseMix(""); err != nil || m != def {
		t.Errorf(`ParseMix("") = %+v, %v; want DefaultMix`, m, err)
	}
	m, err := ParseMix("orders=10, consent = 0,aliases=1.5")
	if err != nil {
		t.Fatal(err)
	}
	want := def
	want.Orders, want.Consent, want.Aliases = 10, 0, 1.5
	if m != want {
		t.Errorf("ParseMix overrides: %+v, want %+v", m, want)
	}
	// String gives percentages that read back as the same proportions.
	back, err := ParseMix(m.String())
	if err != nil {
		t.Fatal(err)
	}
	share := func(m Mix) (s [numCategories]float64) {
		w, sum := m.weights(), 0.0
		for _, v := range w {
			sum += v
		}
		for i, v := range w {
			s[i] = v / sum
		}
		return s
	}
	for i, got := range share(back) {
		if want := share(m)[i]; math.Abs(got-want) > 0.001*want {
			t.Errorf("String %q read back: %s's share %.5f, want %.5f", m.String(), categoryNames[i], got, want)
		}
	}
	if got := def.String(); !strings.HasPrefix(got, "app_sessions=40,product_views=25,") || !strings.HasSuffix(got, ",aliases=0.2") {
		t.Errorf("DefaultMix().String() = %q", got)
	}
	if (Mix{}).String() != def.String() {
		t.Errorf("the zero Mix prints %q, want the default's %q", Mix{}.String(), def.String())
	}
	all0 := strings.Join(MixKinds(), "=0,") + "=0"
	for in, want := range map[string]string{
		"ordres=1":    `unknown kind "ordres" (kinds: app_sessions,`,
		"orders":      `item "orders" is not kind=weight`,
		"orders=-1":   `weight "-1" of orders: want a number >= 0`,
		"orders=lots": `weight "lots" of orders`,
		"orders=NaN":  `weight "NaN" of orders`,
		"orders=+Inf": `weight "+Inf" of orders`,
		"orders=1,,":  `item "" is not kind=weight`,
		all0:          "every kind's weight is 0",
	} {
		if m, err := ParseMix(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseMix(%q) = %+v, %v; want an error containing %q", in, m, err, want)
		}
	}
}

func TestBenchConfigValidatesTheTraffic(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{MalformedShare: 1.5}, "Config.MalformedShare 1.5: want a share in [0, 1]"},
		{Config{Skew: -1}, "Config.Skew -1: want a Zipf exponent"},
		{Config{Mix: Mix{Orders: -3}}, "Config.Mix.Orders -3: want a finite weight >= 0"},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
}

// ParseMix never panics, and a mix it accepts is one the generator takes,
// with at least one kind on.
func FuzzParseMix(f *testing.F) {
	for _, s := range []string{"", "orders=10", "orders=1,consent=0", "ordres=1", "orders=-1", "a=b=c", ",", "orders=1e308,messages=1e308"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMix(s)
		if err != nil {
			return
		}
		if err := m.validate(); err != nil {
			t.Fatalf("ParseMix(%q) accepted %+v: %v", s, m, err)
		}
		if m == (Mix{}) {
			t.Fatalf("ParseMix(%q) accepted a mix with every kind off", s)
		}
	})
}
