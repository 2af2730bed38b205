package stream

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/rekindle/rekindle/state"
)

// The per-event path has an allocation budget: decoding, applying and
// evaluating an event of a cached user that triggers nothing allocates
// nothing; a commit allocates a little per batch, not per event.
func TestProcessAllocationBudget(t *testing.T) {
	p := mustProcessor(t, campaignYAML)
	store := openTestStore(t)
	ps := openTestPartition(t, p, store, 0)
	const users = 100
	inputs := make([]Input, 0, 4*users)
	for round := 0; round < 4; round++ {
		for u := 0; u < users; u++ {
			name := []string{"Application Opened", "Product Viewed", "Product Added", "Email Opened"}[round]
			inputs = append(inputs, Input{Topic: "events", Value: []byte(ev(fmt.Sprintf("user-%d", u), fmt.Sprintf("000000-%d-%d", u, round),
				"2026-01-01T10:00:00Z", name, `{"product_id":"p1","price":3.5}`))})
		}
	}
	offset := int64(0)
	run := func() {
		for i := range inputs {
			in := &inputs[i]
			in.Offset = offset
			offset++
			if err := ps.Process(in); err != nil {
				t.Fatal(err)
			}
		}
		if err := ps.Commit(offset, false, false); err != nil {
			t.Fatal(err)
		}
	}
	run() // loads and creates the users
	// Each later run gets new message ids (a run number written in place over
	// the leading "000000"), so no event is dropped as a duplicate.
	var runs int
	allocs := testing.AllocsPerRun(20, func() {
		runs++
		for i := range inputs {
			v := inputs[i].Value
			at := bytes.Index(v, []byte(`"messageId":"`)) + len(`"messageId":"`)
			n := runs
			for k := at + 5; k >= at; k-- { // six digits in place, no allocation
				v[k] = byte('0' + n%10)
				n /= 10
			}
		}
		run()
	})
	var rec state.UserRecord
	if found, err := store.Partition(0).GetUser("user-7", &rec); err != nil || !found || rec.Events != uint64(4*(runs+1)) {
		t.Fatalf("user-7 has %d events applied after %d runs (found=%v, err=%v), want %d: the measured events were not processed",
			rec.Events, runs+1, found, err, 4*(runs+1))
	}
	perEvent := allocs / float64(len(inputs))
	t.Logf("%.0f allocations per batch of %d events (%.3f per event)", allocs, len(inputs), perEvent)
	if perEvent > 0.05 {
		t.Errorf("per-event path allocates %.3f times per event (%.0f per batch of %d); budget 0.05", perEvent, allocs, len(inputs))
	}
}
