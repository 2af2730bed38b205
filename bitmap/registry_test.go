package bitmap

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func mustCatalog(t testing.TB, names ...string) *Catalog {
	t.Helper()
	c, err := NewCatalog(names)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestApplyContainsCardinality(t *testing.T) {
	c := mustCatalog(t, "active", "lapsed", "push_revoked")
	r := NewRegistry(c)
	if r.Catalog() != c {
		t.Error("Catalog is not the registry's catalog")
	}
	r.AddUser(7)
	r.Apply([]Change{
		{ID: 1, Segment: 0, Entered: true},
		{ID: 2, Segment: 0, Entered: true},
		{ID: 2, Segment: 1, Entered: true},
		{ID: 3<<24 | 5, Segment: 2, Entered: true},
		{ID: 2, Segment: 0, Entered: false}, // later changes win
		{ID: 9, Segment: 1, Entered: false}, // leaving a segment one is not in
	})
	for _, tc := range []struct {
		seg  int
		id   uint32
		want bool
	}{
		{0, 1, true}, {0, 2, false}, {1, 2, true}, {2, 3<<24 | 5, true}, {1, 9, false},
		{0, 7, false}, {-1, 1, false}, {3, 1, false},
	} {
		if got := r.Contains(tc.seg, tc.id); got != tc.want {
			t.Errorf("Contains(%d, %d) = %v, want %v", tc.seg, tc.id, got, tc.want)
		}
	}
	if got := r.Sizes(); !slices.Equal(got, []uint64{1, 1, 1}) {
		t.Errorf("Sizes = %v, want [1 1 1]", got)
	}
	if got := r.Cardinality(1); got != 1 {
		t.Errorf("Cardinality(1) = %d", got)
	}
	if got := r.Cardinality(5); got != 0 {
		t.Errorf("Cardinality(5) = %d", got)
	}
	// all: 7 (AddUser), 1, 2, 3<<24|5 (entered a segment); 9 only left one.
	if got := r.UserCount(); got != 4 {
		t.Errorf("UserCount = %d, want 4", got)
	}

	r.Set(1, 11, true)
	r.Set(1, 2, false)
	if !r.Contains(1, 11) || r.Contains(1, 2) || r.UserCount() != 5 {
		t.Errorf("after Set: Contains(1,11)=%v Contains(1,2)=%v UserCount=%d", r.Contains(1, 11), r.Contains(1, 2), r.UserCount())
	}
	if r.SizeInBytes() == 0 {
		t.Error("SizeInBytes = 0")
	}

	r.Reset()
	if r.UserCount() != 0 || !slices.Equal(r.Sizes(), []uint64{0, 0, 0}) {
		t.Errorf("after Reset: UserCount %d, Sizes %v", r.UserCount(), r.Sizes())
	}
	r.Apply([]Change{{ID: 4, Segment: 2, Entered: true}})
	if !r.Contains(2, 4) {
		t.Error("Apply after Reset did not take")
	}
}

// populated returns a registry of users 1..n of partition p with segment i
// holding each user with probability dens[i].
func populated(t testing.TB, p uint32, n int, dens []float64, rng *rand.Rand) *Registry {
	t.Helper()
	names := make([]string, len(dens))
	for i := range names {
		names[i] = string(rune('a'+i)) + "_seg"
	}
	r := NewRegistry(mustCatalog(t, names...))
	var changes []Change
	for seq := 1; seq <= n; seq++ {
		id := p<<24 | uint32(seq)
		r.AddUser(id)
		for s, d := range dens {
			if rng.Float64() < d {
				changes = append(changes, Change{ID: id, Segment: s, Entered: true})
			}
		}
	}
	r.Apply(changes)
	return r
}

// TestApplyAllocs: the per-event path (users leaving and re-entering
// segments, users staying) allocates nothing once the containers exist.
func TestApplyAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Dense segments (bitmap containers) and a sparse one (array containers).
	r := populated(t, 3, 200_000, []float64{0.4, 0.6, 0.03, 0.2}, rng)
	var leave, enter []Change
	for range 2000 {
		id := 3<<24 | uint32(1+rng.IntN(200_000))
		s := rng.IntN(4)
		if r.Contains(s, id) {
			leave = append(leave, Change{ID: id, Segment: s})
			enter = append(enter, Change{ID: id, Segment: s, Entered: true})
		}
	}
	if len(leave) < 500 {
		t.Fatalf("only %d changes", len(leave))
	}
	r.Apply(leave)
	r.Apply(enter)
	allocs := testing.AllocsPerRun(100, func() {
		r.Apply(leave)
		r.Apply(enter)
	})
	if allocs != 0 {
		t.Errorf("Apply allocated %.1f times per 2 batches of %d changes, want 0", allocs, len(leave))
	}
}

func TestForEachMember(t *testing.T) {
	r := NewRegistry(mustCatalog(t, "lapsed", "active"))
	want := []uint32{1, 2, 70_000, 1 << 24, 1<<24 | 3, 0xffffffff}
	for _, id := range slices.Backward(want) {
		r.Set(0, id, true)
	}
	var got []uint32
	r.ForEachMember(0, func(id uint32) bool {
		got = append(got, id)
		// Writers do not wait for the export, and it does not see them.
		r.Set(0, id+1, true)
		r.Set(0, 2, false)
		return true
	})
	if !slices.Equal(got, want) {
		t.Errorf("ForEachMember = %v, want %v", got, want)
	}
	n := 0
	r.ForEachMember(0, func(uint32) bool { n++; return n < 3 })
	if n != 3 {
		t.Errorf("stopping after 3: %d calls", n)
	}
	r.ForEachMember(1, func(uint32) bool { t.Error("empty segment has a member"); return true })
	r.ForEachMember(2, func(uint32) bool { t.Error("unknown segment has a member"); return true })
}

// TestConcurrentUse runs one writer and several readers; -race checks it.
func TestConcurrentUse(t *testing.T) {
	c := mustCatalog(t, "lapsed", "active", "push_revoked")
	r := NewRegistry(c)
	e, err := ParseExpr("lapsed and not active or push_revoked")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(c); err != nil {
		t.Fatal(err)
	}
	snap, _ := r.MarshalBinary()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		defer close(stop)
		rng := rand.New(rand.NewPCG(3, 4))
		changes := make([]Change, 100)
		for range 200 {
			for i := range changes {
				changes[i] = Change{ID: uint32(rng.IntN(50_000)), Segment: rng.IntN(3), Entered: rng.IntN(3) > 0}
			}
			r.Apply(changes)
			r.AddUser(uint32(rng.IntN(50_000)))
			r.Set(1, uint32(rng.IntN(50_000)), true)
		}
		if err := r.UnmarshalBinary(snap); err != nil {
			t.Error(err)
		}
	})
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = e.Count([]*Registry{r, r})
				_ = e.Members(r)
				_ = r.Sizes()
				_ = r.Contains(0, 5)
				r.ForEachMember(0, func(uint32) bool { return true })
				if _, err := r.MarshalBinary(); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}
