package bitmap

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// oracle is an expression both as source text and as a plain function of a
// user's memberships (by segment name), generated together.
type oracle struct {
	src string
	f   func(member map[string]bool) bool
}

func randomExpr(rng *rand.Rand, names []string, depth int) oracle {
	kw := func(w string) string { // keywords in any case
		switch rng.IntN(4) {
		case 0:
			return strings.ToUpper(w)
		case 1:
			return strings.ToUpper(w[:1]) + w[1:]
		}
		return w
	}
	if depth == 0 || rng.IntN(4) == 0 {
		n := names[rng.IntN(len(names))]
		return oracle{n, func(m map[string]bool) bool { return m[n] }}
	}
	switch rng.IntN(3) {
	case 0:
		x := randomExpr(rng, names, depth-1)
		return oracle{kw("not") + " (" + x.src + ")", func(m map[string]bool) bool { return !x.f(m) }}
	default:
		and := rng.IntN(2) == 0
		n := 2 + rng.IntN(3)
		kids := make([]oracle, n)
		srcs := make([]string, n)
		for i := range kids {
			kids[i] = randomExpr(rng, names, depth-1)
			srcs[i] = "(" + kids[i].src + ")"
		}
		op := kw("or")
		if and {
			op = kw("and")
		}
		return oracle{strings.Join(srcs, " "+op+" "), func(m map[string]bool) bool {
			for _, k := range kids {
				if k.f(m) == and {
					continue
				}
				return !and
			}
			return and
		}}
	}
}

type user struct {
	id     uint32
	member map[string]bool
	mask   []uint64 // by the main catalog's ids
}

// TestEvalMatchesBruteForce compares Count, Members and EvalMask with a
// brute-force evaluation over random users of three partitions: one dense
// (bitmap and run containers), two sparse (array containers), one of these
// with its catalog in another order.
func TestEvalMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	names := []string{"lapsed", "active", "push_revoked", "email_subscribed", "never", "cohort"}
	dens := map[string]float64{"lapsed": 0.4, "active": 0.6, "push_revoked": 0.03, "email_subscribed": 0.9, "never": 0}
	cat := mustCatalog(t, names...)
	reversed := slices.Clone(names)
	slices.Reverse(reversed)
	regs := []*Registry{NewRegistry(cat), NewRegistry(cat), NewRegistry(mustCatalog(t, reversed...))}

	var users []user
	for p, n := range []int{6000, 800, 800} {
		reg := regs[p]
		for i := range n {
			seq := uint32(i + 1) // dense
			if p > 0 {
				seq = uint32(rng.IntN(1 << 24)) // sparse, duplicates possible
			}
			id := uint32(p)<<24 | seq
			if reg.UserCount() > 0 && reg.mu.all.Contains(id) {
				continue
			}
			u := user{id: id, member: map[string]bool{}, mask: make([]uint64, 2)}
			reg.AddUser(id)
			for _, name := range names {
				in := rng.Float64() < dens[name]
				if name == "cohort" {
					in = seq < 5000 // a range: a run container after RunOptimize
				}
				if !in {
					continue
				}
				u.member[name] = true
				ci, _ := cat.ID(name)
				u.mask[ci/64] |= 1 << (ci % 64)
				ri, _ := reg.Catalog().ID(name)
				reg.Apply([]Change{{ID: id, Segment: ri, Entered: true}})
			}
			users = append(users, u)
		}
	}
	for _, bm := range regs[0].mu.segs {
		bm.RunOptimize()
	}

	fixed := []string{
		"lapsed", "not lapsed", "never", "not never", "lapsed and active", "lapsed or active",
		"lapsed and not active", "not lapsed and not active", "lapsed or not active", "not lapsed or not active",
		"lapsed and active and not push_revoked and not cohort", "lapsed and (email_subscribed or cohort) and not push_revoked",
		"not (lapsed or active or cohort)", "lapsed or active or not email_subscribed or not cohort",
		"lapsed and active and cohort", "lapsed or active or cohort", "not not cohort", "not (lapsed and not active)",
	}
	var cases []oracle
	for _, src := range fixed {
		cases = append(cases, oracle{src: src})
	}
	for range 200 {
		cases = append(cases, randomExpr(rng, names, 4))
	}
	for _, tc := range cases {
		e, err := ParseExpr(tc.src)
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		if err := e.Bind(cat); err != nil {
			t.Fatal(err)
		}
		f := tc.f
		if f == nil { // the parsed tree, evaluated by name (precedence is TestParsePrecedence's)
			f = func(m map[string]bool) bool { return evalNames(e.root, m) }
		}
		want := make([]*roaring.Bitmap, len(regs))
		for i := range want {
			want[i] = roaring.New()
		}
		var total uint64
		for _, u := range users {
			in := f(u.member)
			if got := e.EvalMask(u.mask); got != in {
				t.Fatalf("%q: EvalMask(user %d %v) = %v, want %v", tc.src, u.id, u.member, got, in)
			}
			if in {
				total++
				want[u.id>>24].Add(u.id)
			}
		}
		if got := e.Count(regs); got != total {
			t.Errorf("%q: Count = %d, want %d", tc.src, got, total)
		}
		for p, reg := range regs {
			if got, w := e.Count([]*Registry{reg}), want[p].GetCardinality(); got != w {
				t.Errorf("%q: partition %d: Count = %d, want %d", tc.src, p, got, w)
			}
			m := e.Members(reg)
			if !m.Equals(want[p]) {
				t.Errorf("%q: partition %d: Members has %d users, want %d", tc.src, p, m.GetCardinality(), want[p].GetCardinality())
			}
			m.Add(0xfffffff0) // the caller owns it
		}
	}
	// Evaluation left the registries as they were.
	for _, reg := range regs {
		if got := reg.UserCount(); got == 0 || reg.mu.all.Contains(0xfffffff0) {
			t.Error("evaluation changed a registry")
		}
	}
}

func evalNames(n *node, m map[string]bool) bool {
	switch n.op {
	case opName:
		return m[n.name]
	case opNot:
		return !evalNames(n.kids[0], m)
	}
	for _, k := range n.kids {
		if evalNames(k, m) != (n.op == opAnd) {
			return n.op != opAnd
		}
	}
	return n.op == opAnd
}

// TestCountUnknownName: a registry whose catalog lacks a name treats it as
// an empty segment.
func TestCountUnknownName(t *testing.T) {
	a := NewRegistry(mustCatalog(t, "lapsed", "uninstalled"))
	b := NewRegistry(mustCatalog(t, "lapsed"))
	for _, r := range []*Registry{a, b} {
		for id := uint32(1); id <= 10; id++ {
			r.AddUser(id)
			r.Set(0, id, id <= 6)
		}
	}
	a.Set(1, 2, true)
	e, _ := ParseExpr("lapsed and not uninstalled")
	for _, tc := range []struct {
		regs []*Registry
		want uint64
	}{{nil, 0}, {[]*Registry{a}, 5}, {[]*Registry{b}, 6}, {[]*Registry{a, b}, 11}} {
		if got := e.Count(tc.regs); got != tc.want {
			t.Errorf("Count over %d registries = %d, want %d", len(tc.regs), got, tc.want)
		}
	}
	e, _ = ParseExpr("uninstalled or not uninstalled")
	if got := fmt.Sprint(e.Members(b).ToArray()); got != "[1 2 3 4 5 6 7 8 9 10]" {
		t.Errorf("Members = %s", got)
	}
}
