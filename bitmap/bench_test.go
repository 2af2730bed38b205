package bitmap

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// builtinDensities: the 26 built-in segments with plausible shares of a
// consumer app's users.
var builtinDensities = []struct {
	name string
	d    float64
}{
	{"active", 0.35}, {"lapsed", 0.40}, {"inactive_30d", 0.30}, {"inactive_60d", 0.22}, {"inactive_90d", 0.15},
	{"app_inactive", 0.30}, {"web_inactive", 0.25}, {"purchase_lapsed", 0.12}, {"new_user", 0.05},
	{"push_never_asked", 0.15}, {"push_denied", 0.20}, {"push_revoked", 0.04}, {"push_enabled", 0.45},
	{"email_subscribed", 0.60}, {"email_unsubscribed", 0.08}, {"email_spam", 0.005}, {"email_bounced", 0.02},
	{"sms_subscribed", 0.15}, {"sms_unsubscribed", 0.05}, {"uninstalled", 0.20}, {"premium_cancelled", 0.01},
	{"push_disengaged", 0.10}, {"email_disengaged", 0.20}, {"sms_disengaged", 0.03}, {"email_sunset", 0.05},
	{"at_risk", 0.08},
}

func builtinCatalog(tb testing.TB) *Catalog {
	names := make([]string, len(builtinDensities))
	for i, s := range builtinDensities {
		names[i] = s.name
	}
	return mustCatalog(tb, names...)
}

// buildPartitions returns one registry per partition holding users
// 1..users/parts of each, in the built-in segments at builtinDensities.
func buildPartitions(tb testing.TB, users, parts int) []*Registry {
	c := builtinCatalog(tb)
	regs := make([]*Registry, parts)
	per := users / parts
	var wg sync.WaitGroup
	for p := range regs {
		regs[p] = NewRegistry(c)
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(p), 42))
			changes := make([]Change, 0, 1<<16)
			for seq := 1; seq <= per; seq++ {
				id := uint32(p)<<24 | uint32(seq)
				regs[p].AddUser(id)
				for s, sd := range builtinDensities {
					if rng.Float64() < sd.d {
						changes = append(changes, Change{ID: id, Segment: s, Entered: true})
					}
				}
				if len(changes) > 1<<16-len(builtinDensities) {
					regs[p].Apply(changes)
					changes = changes[:0]
				}
			}
			regs[p].Apply(changes)
		})
	}
	wg.Wait()
	return regs
}

var tenMillion struct {
	once sync.Once
	regs []*Registry
}

func tenMillionUsers(b *testing.B) []*Registry {
	tenMillion.once.Do(func() { tenMillion.regs = buildPartitions(b, 10_000_000, 16) })
	return tenMillion.regs
}

// BenchmarkApply: one op is a commit's batch of 1000 segment changes to
// existing users (users leaving segments, then entering them again).
func BenchmarkApply(b *testing.B) {
	regs := buildPartitions(b, 625_000, 1)
	r := regs[0]
	rng := rand.New(rand.NewPCG(9, 9))
	var batch []Change
	for len(batch) < 500 {
		id := uint32(1 + rng.IntN(625_000))
		s := rng.IntN(len(builtinDensities))
		if r.Contains(s, id) {
			batch = append(batch, Change{ID: id, Segment: s})
		}
	}
	for i := range 500 {
		c := batch[i]
		c.Entered = true
		batch = append(batch, c)
	}
	r.Apply(batch)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.Apply(batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/change")
}

func BenchmarkExprCount10M(b *testing.B) {
	regs := tenMillionUsers(b)
	for _, src := range []string{
		"lapsed and not uninstalled and (email_subscribed or sms_subscribed)",
		"lapsed and not sms_unsubscribed",
		"not lapsed",
		"(active or new_user) and push_enabled and not (push_disengaged or uninstalled)",
	} {
		e, err := ParseExpr(src)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Bind(regs[0].Catalog()); err != nil {
			b.Fatal(err)
		}
		b.Run(src, func(b *testing.B) {
			b.ReportAllocs()
			var n uint64
			for b.Loop() {
				n = e.Count(regs)
			}
			b.ReportMetric(float64(n), "users")
		})
	}
}

// BenchmarkMembers: one partition's matching users as a bitmap.
func BenchmarkMembers(b *testing.B) {
	regs := tenMillionUsers(b)
	e, _ := ParseExpr("lapsed and not uninstalled and (email_subscribed or sms_subscribed)")
	if err := e.Bind(regs[0].Catalog()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		e.Members(regs[0])
	}
}

// BenchmarkExport1M: ForEachMember over a segment of 1M members; the
// lock_hold sub-benchmark is how long writers wait (the copy).
func BenchmarkExport1M(b *testing.B) {
	regs := buildPartitions(b, 2_500_000, 1)
	r := regs[0]
	lapsed, _ := r.Catalog().ID("lapsed") // 40%: about 1M
	b.Run("foreach", func(b *testing.B) {
		b.ReportAllocs()
		var n int
		for b.Loop() {
			n = 0
			r.ForEachMember(lapsed, func(uint32) bool { n++; return true })
		}
		b.ReportMetric(float64(n), "members")
	})
	b.Run("lock_hold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.mu.RLock()
			_ = r.mu.segs[lapsed].Clone()
			r.mu.RUnlock()
		}
	})
}

// BenchmarkMemory26Segments10M measures 10M users in the 26 built-in
// segments over 16 partitions: heap growth, roaring's own estimate and the
// snapshot size. Run it with -benchtime=1x.
func BenchmarkMemory26Segments10M(b *testing.B) {
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		regs := buildPartitions(b, 10_000_000, 16)
		runtime.GC()
		runtime.ReadMemStats(&after)
		var roaringBytes, snapshotBytes, members uint64
		for _, r := range regs {
			roaringBytes += r.SizeInBytes()
			data, err := r.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			snapshotBytes += uint64(len(data))
			for _, n := range r.Sizes() {
				members += n
			}
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(roaringBytes)/(1<<20), "roaring-MiB")
		b.ReportMetric(float64(snapshotBytes)/(1<<20), "snapshot-MiB")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/10e6, "heap-B/user")
		b.ReportMetric(float64(members)/1e6, "M-memberships")
		runtime.KeepAlive(regs)
	}
}
