package state

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sampleRecord is a realistic, mostly filled record.
func sampleRecord() UserRecord {
	const t0 = 1_732_000_000_000
	return UserRecord{
		UserID:           "user-12345",
		DenseID:          3<<24 | 77,
		AnonymousID:      "anon-9f8e7d",
		Email:            "ada@example.com",
		Phone:            "+15551234567",
		Timezone:         "Europe/Berlin",
		Country:          "DE",
		FirstSeen:        [NumSurfaces]int64{t0, 0, t0 + 5},
		LastSeen:         [NumSurfaces]int64{t0 + 1000, 0, t0 + 9},
		LastPurchase:     t0 + 500,
		Purchases:        3,
		LifetimeValue:    129.95,
		CartItems:        2,
		CartValue:        45.5,
		CartUpdated:      t0 + 800,
		LastDelivered:    [NumChannels]int64{t0 + 1, t0 + 2, 0, 0},
		LastEngaged:      [NumChannels]int64{t0, 0, 0, 0},
		PushStatus:       PushRevoked,
		PushChanged:      t0 + 3,
		EmailStatus:      EmailSubscribed,
		SMSStatus:        SMSUnsubscribed,
		SMSChanged:       t0 + 4,
		Premium:          PremiumCancelled,
		PremiumAt:        t0 + 6,
		SentDay:          [NumChannels]int32{20050, 20050, 0, 0},
		SentDayCount:     [NumChannels]uint16{1, 2, 0, 0},
		SentWeek:         [NumChannels]int32{2864, 2864, 0, 0},
		SentWeekCount:    [NumChannels]uint16{3, 4, 0, 0},
		LastDecisionAt:   t0 + 7,
		Events:           987654,
		RecentMessageIDs: [RecentIDs]uint64{0xdeadbeefcafef00d, 1, 0, 0, 0, 0, 0, 0},
		RecentNext:       2,
	}
}

// recordsEqual compares records with floats compared by their bits, so NaNs
// produced by the fuzzer compare equal to themselves.
func recordsEqual(a, b *UserRecord) bool {
	if math.Float64bits(a.LifetimeValue) != math.Float64bits(b.LifetimeValue) ||
		math.Float64bits(a.CartValue) != math.Float64bits(b.CartValue) {
		return false
	}
	x, y := *a, *b
	x.LifetimeValue, x.CartValue, y.LifetimeValue, y.CartValue = 0, 0, 0, 0
	return x == y
}

func roundTrip(t *testing.T, in *UserRecord) {
	t.Helper()
	enc := AppendRecord(nil, in)
	if enc[0] != RecordVersion {
		t.Fatalf("version byte %d, want %d", enc[0], RecordVersion)
	}
	var out UserRecord
	if err := DecodeRecord(enc, &out); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !recordsEqual(in, &out) {
		t.Fatalf("round trip mismatch:\n in %+v\nout %+v", *in, out)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	full := sampleRecord()
	extremes := UserRecord{
		UserID:        strings.Repeat("x", 300),
		DenseID:       math.MaxUint32,
		FirstSeen:     [NumSurfaces]int64{math.MinInt64, math.MaxInt64, -1},
		Purchases:     math.MaxUint32,
		LifetimeValue: math.Inf(-1),
		CartValue:     math.Copysign(0, -1), // -0 must survive (bits differ from +0)
		SentDay:       [NumChannels]int32{math.MinInt32, math.MaxInt32, -1, 1},
		SentDayCount:  [NumChannels]uint16{math.MaxUint16, 1, 1, 1},
		Events:        math.MaxUint64,
		RecentNext:    255,
		PushStatus:    255, // unknown enum values are carried, not rejected
		Uninstalled:   true,
	}
	for name, r := range map[string]UserRecord{
		"zero":       {},
		"sample":     full,
		"extremes":   extremes,
		"nan":        {LifetimeValue: math.NaN()},
		"utf8 and 0": {UserID: "ユーザー\x00\xff", Email: "é"},
	} {
		t.Run(name, func(t *testing.T) { roundTrip(t, &r) })
	}
}

func TestRecordZeroIsSmall(t *testing.T) {
	// version + 6 lengths + DenseID + arrays' masks + scalars: a zero record
	// costs about a byte per field.
	if n := len(AppendRecord(nil, &UserRecord{})); n > 40 {
		t.Errorf("zero record encodes to %d bytes, want ≤ 40", n)
	}
	r := sampleRecord()
	t.Logf("sample record: %d bytes", len(AppendRecord(nil, &r)))
}

// TestRecordEveryField sets each field, one at a time and then all
// together, to a non-zero value through reflection, so a field added to
// UserRecord without codec support fails here.
func TestRecordEveryField(t *testing.T) {
	var all UserRecord
	av := reflect.ValueOf(&all).Elem()
	typ := av.Type()
	for i := range typ.NumField() {
		f := typ.Field(i)
		var one UserRecord
		ov := reflect.ValueOf(&one).Elem()
		fillNonZero(t, f.Name, ov.Field(i), i+1)
		fillNonZero(t, f.Name, av.Field(i), i+1)
		if ov.Field(i).IsZero() {
			t.Fatalf("field %s: could not set a non-zero value", f.Name)
		}
		enc := AppendRecord(nil, &one)
		var out UserRecord
		if err := DecodeRecord(enc, &out); err != nil {
			t.Fatalf("field %s: decode: %v", f.Name, err)
		}
		if !reflect.DeepEqual(one, out) {
			t.Errorf("field %s is not encoded: set %v, decoded %v", f.Name, ov.Field(i), reflect.ValueOf(out).Field(i))
		}
	}
	roundTrip(t, &all)
}

// fillNonZero sets v, and every element if v is an array, to a non-zero
// value derived from seed.
func fillNonZero(t *testing.T, name string, v reflect.Value, seed int) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString(strings.Repeat(string(rune('a'+seed%26)), seed%7+1))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		v.SetInt(-int64(seed) * 1000003 % (1 << (v.Type().Bits() - 2)))
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		v.SetUint(uint64(seed) * 7919 % (1 << (v.Type().Bits() - 1)))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(seed) + 0.25)
	case reflect.Array:
		for j := range v.Len() {
			fillNonZero(t, name, v.Index(j), seed*31+j+1)
		}
	default:
		t.Fatalf("field %s: kind %s not handled by the test; extend fillNonZero and the codec", name, v.Kind())
	}
	if v.IsZero() {
		t.Fatalf("field %s: seed %d gives a zero value", name, seed)
	}
}

func TestDecodeRecordErrors(t *testing.T) {
	r := sampleRecord()
	enc := AppendRecord(nil, &r)

	var out UserRecord
	if err := DecodeRecord(nil, &out); !errors.Is(err, ErrCorruptRecord) {
		t.Errorf("empty input: err %v, want ErrCorruptRecord", err)
	}
	for _, v := range []byte{0, 2, 255} {
		bad := append([]byte{v}, enc[1:]...)
		err := DecodeRecord(bad, &out)
		if want := fmt.Sprintf("state: record version %d unsupported", v); err == nil || err.Error() != want {
			t.Errorf("version %d: err %v, want %q", v, err, want)
		}
	}
	// Every proper prefix is truncated input.
	for n := 1; n < len(enc); n++ {
		if err := DecodeRecord(enc[:n], &out); !errors.Is(err, ErrCorruptRecord) {
			t.Fatalf("prefix of %d/%d bytes: err %v, want ErrCorruptRecord", n, len(enc), err)
		}
	}
	if err := DecodeRecord(append(enc[:len(enc):len(enc)], 0), &out); !errors.Is(err, ErrCorruptRecord) ||
		!strings.Contains(err.Error(), "trailing") {
		t.Errorf("trailing byte: err %v", err)
	}
	// A string length beyond the input.
	bad := []byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}
	if err := DecodeRecord(bad, &out); !errors.Is(err, ErrCorruptRecord) {
		t.Errorf("huge string length: err %v", err)
	}
	// A bool that is neither 0 nor 1 and an out-of-range uint16.
	zero := AppendRecord(nil, &UserRecord{Uninstalled: true})
	i := bytes.LastIndexByte(zero, 1) // the Uninstalled byte is the last 1
	zero[i] = 2
	if err := DecodeRecord(zero, &out); !errors.Is(err, ErrCorruptRecord) {
		t.Errorf("bool 2: err %v", err)
	}
}

// TestRecordGoldenV1 pins format version 1: these bytes were written by the
// first release and must decode forever. Never regenerate the file; a
// layout change needs a new version (see codec.go).
func TestRecordGoldenV1(t *testing.T) {
	path := filepath.Join("testdata", "record_v1.hex")
	want := sampleRecord()
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) && os.Getenv("STATE_WRITE_GOLDEN") != "" {
		enc := hex.EncodeToString(AppendRecord(nil, &want))
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(enc+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Skipf("wrote %s", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	golden, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var got UserRecord
	if err := DecodeRecord(golden, &got); err != nil {
		t.Fatalf("decode golden v1: %v", err)
	}
	if !recordsEqual(&got, &want) {
		t.Fatalf("golden v1 decodes to\n%+v\nwant\n%+v", got, want)
	}
	// While v1 is the current version, encoding must reproduce it exactly.
	if RecordVersion == 1 && !bytes.Equal(AppendRecord(nil, &want), golden) {
		t.Fatalf("AppendRecord no longer writes the v1 golden bytes: bump RecordVersion instead of changing v1")
	}
}

func TestAppendRecordAllocs(t *testing.T) {
	r := sampleRecord()
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { buf = AppendRecord(buf[:0], &r) }); n != 0 {
		t.Errorf("AppendRecord: %v allocs, want 0", n)
	}
	var out UserRecord
	if n := testing.AllocsPerRun(100, func() {
		if err := DecodeRecord(buf, &out); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		t.Errorf("DecodeRecord: %v allocs, want ≤ 1 (the strings)", n)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	r := sampleRecord()
	f.Add(AppendRecord(nil, &r))
	f.Add(AppendRecord(nil, &UserRecord{}))
	f.Add(AppendRecord(nil, &UserRecord{UserID: "u", LifetimeValue: math.NaN(), Uninstalled: true}))
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{2, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var r1 UserRecord
		if err := DecodeRecord(data, &r1); err != nil {
			return
		}
		enc := AppendRecord(nil, &r1)
		var r2 UserRecord
		if err := DecodeRecord(enc, &r2); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !recordsEqual(&r1, &r2) {
			t.Fatalf("re-encode changed the record:\n%+v\n%+v", r1, r2)
		}
		if !bytes.Equal(enc, AppendRecord(nil, &r2)) {
			t.Fatal("encoding is not stable")
		}
	})
}

func BenchmarkAppendRecord(b *testing.B) {
	r := sampleRecord()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRecord(buf[:0], &r)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeRecord(b *testing.B) {
	r := sampleRecord()
	enc := AppendRecord(nil, &r)
	var out UserRecord
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeRecord(enc, &out); err != nil {
			b.Fatal(err)
		}
	}
}
