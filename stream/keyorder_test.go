package stream

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// userKeyOrder orders any ids as strings.Compare does: common prefixes,
// ids that are prefixes of others, zero bytes, long and empty ids.
func TestUserKeyOrderIsStringOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0, 1, 'a', 'b', 'z', 0x7f, 0x80, 0xff}
	sets := map[string]func(i int) string{
		"short":  func(i int) string { return fmt.Sprintf("u%06d", rng.IntN(1_000_000)) },
		"prefix": func(i int) string { return fmt.Sprintf("customer-0000000%d", rng.IntN(100_000)) },
		"bytes": func(i int) string {
			b := make([]byte, rng.IntN(12))
			for j := range b {
				b[j] = alphabet[rng.IntN(len(alphabet))]
			}
			return string(b)
		},
		"uuid": func(i int) string {
			return fmt.Sprintf("%08x-%04x-4%03x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12))
		},
		"one": func(i int) string { return "only" },
	}
	for name, gen := range sets {
		n := 5000
		if name == "one" {
			n = 1
		}
		seen := map[string]bool{}
		var users []pendingUser
		for i := 0; len(users) < n && i < 50*n; i++ {
			if id := gen(i); !seen[id] {
				seen[id] = true
				users = append(users, pendingUser{userID: id})
			}
		}
		order := userKeyOrder(users, nil)
		if len(order) != len(users) {
			t.Fatalf("%s: %d indexes for %d users", name, len(order), len(users))
		}
		got := make([]string, len(order))
		for k, o := range order {
			got[k] = users[o.i].userID
		}
		want := make([]string, len(users))
		for k := range users {
			want[k] = users[k].userID
		}
		slices.SortFunc(want, strings.Compare)
		if !slices.Equal(got, want) {
			for k := range got {
				if got[k] != want[k] {
					t.Fatalf("%s: position %d of %d: %q, want %q", name, k, len(got), got[k], want[k])
				}
			}
		}
	}
	if got := userKeyOrder(nil, make([]keyOrder, 3)); len(got) != 0 {
		t.Fatalf("no users: %v", got)
	}
}

// The order of a commit's 30,000 users, as a 2-partition run at 200,000
// events/s makes them, vs sorting the users themselves by id.
func BenchmarkCommitKeyOrder(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	users := make([]pendingUser, 30_000)
	for i := range users {
		users[i].userID = fmt.Sprintf("u%06d", rng.IntN(1_000_000))
	}
	b.Run("keyOrder", func(b *testing.B) {
		var order []keyOrder
		for b.Loop() {
			order = userKeyOrder(users, order)
		}
	})
	b.Run("sortByID", func(b *testing.B) {
		tmp := make([]pendingUser, len(users))
		for b.Loop() {
			copy(tmp, users)
			slices.SortFunc(tmp, func(a, b pendingUser) int { return strings.Compare(a.userID, b.userID) })
		}
	})
}
