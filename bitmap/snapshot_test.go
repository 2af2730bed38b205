package bitmap

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// sameContents reports how a and b differ (by segment name), or "".
func sameContents(a, b *Registry) string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	b.mu.RLock()
	defer b.mu.RUnlock()
	if !a.mu.all.Equals(b.mu.all) {
		return "all differs"
	}
	for i, bm := range a.mu.segs {
		name := a.catalog.Name(i)
		j, ok := b.catalog.ID(name)
		if !ok {
			continue
		}
		if !bm.Equals(b.mu.segs[j]) {
			return "segment " + name + " differs"
		}
	}
	return ""
}

func sampleRegistry(t testing.TB) *Registry {
	rng := rand.New(rand.NewPCG(5, 6))
	r := NewRegistry(mustCatalog(t, "lapsed", "active", "push_revoked", "email_unsubscribed", "empty"))
	var changes []Change
	for seq := uint32(1); seq <= 20_000; seq++ {
		id := 7<<24 | seq
		r.AddUser(id)
		for s, d := range []float64{0.4, 0.6, 0.01, 0.1, 0} {
			if rng.Float64() < d {
				changes = append(changes, Change{ID: id, Segment: s, Entered: true})
			}
		}
	}
	r.Apply(changes)
	// A run container too.
	r.mu.segs[1].AddRange(7<<24|100_000, 7<<24|120_000)
	r.mu.all.AddRange(7<<24|100_000, 7<<24|120_000)
	r.mu.segs[1].RunOptimize()
	return r
}

func TestSnapshotRoundTrip(t *testing.T) {
	r := sampleRegistry(t)
	data, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	r2 := NewRegistry(r.Catalog())
	if err := r2.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if d := sameContents(r, r2); d != "" {
		t.Fatal(d)
	}
	if len(r2.Missing()) != 0 || len(r2.Dropped()) != 0 {
		t.Errorf("Missing %v, Dropped %v", r2.Missing(), r2.Dropped())
	}
	// The result is independent of the input bytes.
	clear(data)
	if r2.UserCount() != r.UserCount() || !slices.Equal(r2.Sizes(), r.Sizes()) {
		t.Error("registry changed with the input bytes")
	}
	r2.Apply([]Change{{ID: 7<<24 | 1, Segment: 4, Entered: true}})

	// AppendBinary appends.
	prefix := []byte("prefix")
	out, err := r.AppendBinary(prefix)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := r.MarshalBinary()
	if string(out[:6]) != "prefix" || string(out[6:]) != string(again) {
		t.Error("AppendBinary differs from MarshalBinary")
	}

	empty := NewRegistry(mustCatalog(t))
	data, err = empty.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := NewRegistry(mustCatalog(t)).UnmarshalBinary(data); err != nil {
		t.Errorf("empty registry: %v", err)
	}
}

// TestSnapshotCatalogChange: segments are matched by name.
func TestSnapshotCatalogChange(t *testing.T) {
	r := sampleRegistry(t)
	data, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// Reordered, "active" and "empty" gone, two new segments.
	c2 := mustCatalog(t, "new_user", "email_unsubscribed", "lapsed", "push_revoked", "at_risk")
	r2 := NewRegistry(c2)
	r2.Set(0, 42, true) // replaced by the snapshot
	if err := r2.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if d := sameContents(r, r2); d != "" {
		t.Fatal(d)
	}
	if got, want := r2.Missing(), []string{"new_user", "at_risk"}; !slices.Equal(got, want) {
		t.Errorf("Missing = %v, want %v", got, want)
	}
	if got, want := r2.Dropped(), []string{"active", "empty"}; !slices.Equal(got, want) {
		t.Errorf("Dropped = %v, want %v", got, want)
	}
	if r2.Cardinality(0) != 0 || r2.Cardinality(4) != 0 || r2.Contains(0, 42) {
		t.Error("missing segments are not empty")
	}
	for _, name := range []string{"lapsed", "push_revoked", "email_unsubscribed"} {
		i, _ := r.Catalog().ID(name)
		j, _ := c2.ID(name)
		if r.Cardinality(i) != r2.Cardinality(j) || r.Cardinality(i) == 0 {
			t.Errorf("%s: %d members, want %d", name, r2.Cardinality(j), r.Cardinality(i))
		}
	}
	r2.Reset()
	if r2.Missing() != nil || r2.Dropped() != nil {
		t.Error("Reset kept Missing/Dropped")
	}
}

// reseal fixes the length and checksum of a snapshot whose body was edited.
func reseal(data []byte) []byte {
	if len(data) < snapshotHeader+4 {
		return data
	}
	out := slices.Clone(data)
	binary.LittleEndian.PutUint32(out[len(snapshotMagic)+1:], uint32(len(out)))
	binary.LittleEndian.PutUint32(out[len(out)-4:], crc32.Checksum(out[:len(out)-4], castagnoli))
	return out
}

// snapshotOf builds a snapshot body by hand: names and bitmaps.
func snapshotOf(count int, all []byte, segs ...[]byte) []byte {
	b := []byte(snapshotMagic)
	b = append(b, snapshotVersion, 0, 0, 0, 0)
	b = binary.AppendUvarint(b, uint64(count))
	b = binary.AppendUvarint(b, uint64(len(all)))
	b = append(b, all...)
	for _, s := range segs {
		b = append(b, s...)
	}
	return reseal(append(b, 0, 0, 0, 0))
}

func segEntry(name string, bm []byte) []byte {
	b := binary.AppendUvarint(nil, uint64(len(name)))
	b = append(b, name...)
	b = binary.AppendUvarint(b, uint64(len(bm)))
	return append(b, bm...)
}

func roaringBytes(ids ...uint32) []byte {
	b, err := roaring.BitmapOf(ids...).ToBytes()
	if err != nil {
		panic(err)
	}
	return b
}

func TestSnapshotCorrupt(t *testing.T) {
	r := sampleRegistry(t)
	good, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	before, _ := r.MarshalBinary()
	check := func(what string, data []byte, want string) {
		t.Helper()
		err := r.UnmarshalBinary(data)
		if err == nil {
			t.Errorf("%s: no error", what)
			return
		}
		if !strings.HasPrefix(err.Error(), "bitmap: snapshot: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s:\n got %v\nwant ...%s...", what, err, want)
		}
	}

	// Truncations and flipped bits, everywhere in the header, sampled after.
	for n := 0; n < len(good); n += 1 + n/64 {
		check("truncated", good[:n], "")
	}
	for i := 0; i < len(good); i += 1 + i/64 {
		bad := slices.Clone(good)
		bad[i] ^= 1 << (i % 8)
		check("bit flip", bad, "")
	}
	check("flipped body", func() []byte { b := slices.Clone(good); b[20] ^= 4; return b }(), "checksum mismatch")
	if err := r.UnmarshalBinary(func() []byte { b := slices.Clone(good); b[20] ^= 4; return b }()); !errors.Is(err, ErrSnapshotChecksum) {
		t.Errorf("checksum error %v does not wrap ErrSnapshotChecksum", err)
	}
	check("nil", nil, "offset 0: truncated: 0 bytes")
	check("magic only", []byte("RKS"), "truncated: 3 bytes")
	check("not a snapshot", []byte(`{"json": true}`), `not a segment snapshot (no "RKSG" magic)`)
	check("header", good[:7], "truncated: 7 bytes, the header alone is 9")
	check("truncated body", good[:len(good)-1], "truncated: ")
	check("trailing", append(slices.Clone(good), 0), "1 bytes after the end of the snapshot")
	v2 := slices.Clone(good)
	v2[4] = 2
	check("version", v2, "offset 4: version 2 not supported (want 1)")

	empty := roaringBytes()
	check("bad roaring in all", snapshotOf(0, []byte{1, 2, 3, 4, 5, 6, 7, 8}), "all: ")
	check("unsorted array container", snapshotOf(0, func() []byte {
		b := roaringBytes(5, 9)
		b[len(b)-4], b[len(b)-2] = 9, 5
		return b
	}()), "all: invalid roaring data")
	check("roaring shorter than its length", snapshotOf(0, append(roaringBytes(1), 0)), "all: roaring data is")
	check("length past the end", snapshotOf(1, empty, []byte{3, 'a', 'b'}), "runs past the end")
	check("count too large", snapshotOf(200, empty), "200 segments, at most 128")
	check("fewer segments than count", snapshotOf(2, empty, segEntry("lapsed", empty)), "bad or truncated segment name length")
	check("trailing segment", snapshotOf(0, empty, segEntry("lapsed", empty)), "16 unexpected bytes after the last segment")
	check("duplicate name", snapshotOf(2, empty, segEntry("lapsed", empty), segEntry("lapsed", empty)), `segment "lapsed" appears twice`)
	check("invalid name", snapshotOf(1, empty, segEntry("Lapsed", empty)), `invalid character "L"`)
	check("empty name", snapshotOf(1, empty, segEntry("", empty)), "empty segment name")
	check("member outside all", snapshotOf(1, roaringBytes(1, 2), segEntry("lapsed", roaringBytes(2, 3))), `segment "lapsed" has 1 members that are not in all`)

	after, _ := r.MarshalBinary()
	if string(before) != string(after) {
		t.Error("a failed UnmarshalBinary changed the registry")
	}
	// The hand-built format is the real one.
	if err := r.UnmarshalBinary(snapshotOf(1, roaringBytes(1, 2), segEntry("lapsed", roaringBytes(2)))); err != nil {
		t.Fatal(err)
	}
	if !r.Contains(0, 2) || r.UserCount() != 2 || len(r.Missing()) != 4 {
		t.Errorf("hand-built snapshot: Contains %v, users %d, missing %v", r.Contains(0, 2), r.UserCount(), r.Missing())
	}
}

// FuzzUnmarshal: run with -fuzzminimizetime=5s or so; minimising a large
// interesting input with the default 60 s stalls the run.
func FuzzUnmarshal(f *testing.F) {
	small := NewRegistry(mustCatalog(f, "lapsed", "active", "push_revoked"))
	small.Apply([]Change{{ID: 1, Segment: 0, Entered: true}, {ID: 2, Segment: 1, Entered: true}, {ID: 1 << 24, Segment: 2, Entered: true}})
	for i := uint32(0); i < 5000; i += 1 {
		small.Set(1, 1<<16|i, true)
	}
	small.mu.segs[1].RunOptimize()
	small.mu.all.RunOptimize() // small seeds minimise quickly
	for _, r := range []*Registry{small, NewRegistry(mustCatalog(f, "lapsed"))} {
		data, err := r.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(snapshotOf(1, roaringBytes(1, 2), segEntry("lapsed", roaringBytes(2))))
	c := mustCatalog(f, "active", "lapsed", "email_unsubscribed")
	f.Fuzz(func(t *testing.T, data []byte) {
		// As is, and resealed so that the mutations reach the decoder.
		for _, in := range [][]byte{data, reseal(data)} {
			r := NewRegistry(c)
			if err := r.UnmarshalBinary(in); err != nil {
				continue
			}
			// Whatever decodes is usable and round-trips.
			out, err := r.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			r2 := NewRegistry(c)
			if err := r2.UnmarshalBinary(out); err != nil {
				t.Fatalf("re-decoding: %v", err)
			}
			if d := sameContents(r, r2); d != "" {
				t.Fatal(d)
			}
			r.Apply([]Change{{ID: 1, Segment: 0, Entered: true}, {ID: 2, Segment: 1}})
			e, _ := ParseExpr("not lapsed or active and not email_unsubscribed")
			_ = e.Count([]*Registry{r})
			_ = e.Members(r)
		}
	})
}
