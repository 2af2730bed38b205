package state

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func openMem(t testing.TB) (*Store, vfs.FS) {
	t.Helper()
	fs := vfs.NewMem()
	s, err := Open(Options{Dir: "db", FS: fs, CacheBytes: 8 << 20, Logf: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return s, fs
}

// quiet drops Pebble's informational messages in tests.
func quiet(string, ...any) {}

func closeStore(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func mustCommit(t testing.TB, b *Batch, sync bool) {
	t.Helper()
	if err := b.Commit(sync); err != nil {
		t.Fatal(err)
	}
}

func userIDs(t testing.TB, p *Partition) []string {
	t.Helper()
	var ids []string
	if err := p.ForEachUser(func(r *UserRecord) error {
		ids = append(ids, r.UserID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestOpenValidates(t *testing.T) {
	if _, err := Open(Options{}); err == nil {
		t.Error("Open without Dir succeeded")
	}
	if _, err := Open(Options{Dir: "x", FS: vfs.NewMem(), CacheBytes: -1}); err == nil {
		t.Error("Open with negative CacheBytes succeeded")
	}
	s, _ := openMem(t)
	closeStore(t, s)
	if err := s.Close(); err == nil {
		t.Error("second Close succeeded")
	}
}

func TestPutGetUser(t *testing.T) {
	s, _ := openMem(t)
	defer closeStore(t, s)
	p := s.Partition(3)

	var r UserRecord
	r.Email = "stale@example.com" // GetUser must reset r
	if found, err := p.GetUser("u1", &r); err != nil || found {
		t.Fatalf("GetUser on empty store: found %v, err %v", found, err)
	}
	if !reflect.DeepEqual(r, UserRecord{}) {
		t.Fatalf("GetUser did not reset r: %+v", r)
	}

	want := sampleRecord()
	want.UserID = "u1"
	b := p.NewBatch()
	b.PutUser(&want)
	b.SetOffset(42)
	if b.Len() != 2 {
		t.Errorf("Len %d, want 2", b.Len())
	}
	mustCommit(t, b, false)
	if b.Len() != 0 {
		t.Errorf("Len after Commit %d, want 0", b.Len())
	}
	b.Close()

	found, err := p.GetUser("u1", &r)
	if err != nil || !found {
		t.Fatalf("GetUser: found %v, err %v", found, err)
	}
	if !recordsEqual(&r, &want) {
		t.Fatalf("GetUser:\n got %+v\nwant %+v", r, want)
	}

	// Overwrite, then delete.
	want.Events++
	b = p.NewBatch()
	b.PutUser(&want)
	mustCommit(t, b, false)
	if _, err := p.GetUser("u1", &r); err != nil || r.Events != want.Events {
		t.Fatalf("after overwrite: events %d, err %v", r.Events, err)
	}
	b.DeleteUser("u1")
	mustCommit(t, b, false)
	b.Close()
	if found, err := p.GetUser("u1", &r); err != nil || found {
		t.Fatalf("after delete: found %v, err %v", found, err)
	}
}

func TestGetUserCorruptValue(t *testing.T) {
	s, _ := openMem(t)
	defer closeStore(t, s)
	p := s.Partition(1)
	if err := s.db.Set(appendUserKey(nil, 1, "u"), []byte{9, 9}, nil); err != nil {
		t.Fatal(err)
	}
	var r UserRecord
	_, err := p.GetUser("u", &r)
	if err == nil || !strings.Contains(err.Error(), `state: get user "u" in partition 1: state: record version 9 unsupported`) {
		t.Fatalf("err %v", err)
	}
	// A record stored under another user's key is reported, not returned.
	other := UserRecord{UserID: "someone-else"}
	if err := s.db.Set(appendUserKey(nil, 1, "u"), AppendRecord(nil, &other), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.GetUser("u", &r); err == nil {
		t.Fatal("GetUser returned a record of another user")
	}
	if err := p.ForEachUser(func(*UserRecord) error { return nil }); err == nil {
		t.Fatal("ForEachUser accepted a record of another user")
	}
}

func TestOffsetAndSeqPersist(t *testing.T) {
	fs := vfs.NewMem()
	opts := Options{Dir: "db", FS: fs, Logf: quiet}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Partition(7)
	if _, ok, err := p.Offset(); ok || err != nil {
		t.Fatalf("Offset on empty store: ok %v, err %v", ok, err)
	}
	if seq, err := p.DenseSeq(); seq != 0 || err != nil {
		t.Fatalf("DenseSeq on empty store: %d, %v", seq, err)
	}
	b := p.NewBatch()
	b.SetOffset(1 << 40)
	b.SetDenseSeq(MaxDenseSeq)
	b.PutUser(&UserRecord{UserID: "u", DenseID: 7<<24 | 1})
	mustCommit(t, b, false)
	b.Close()
	closeStore(t, s)

	s, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore(t, s)
	p = s.Partition(7)
	if off, ok, err := p.Offset(); off != 1<<40 || !ok || err != nil {
		t.Fatalf("Offset after reopen: %d, %v, %v", off, ok, err)
	}
	if seq, err := p.DenseSeq(); seq != MaxDenseSeq || err != nil {
		t.Fatalf("DenseSeq after reopen: %d, %v", seq, err)
	}
	var r UserRecord
	if found, err := p.GetUser("u", &r); !found || err != nil || r.DenseID != 7<<24|1 {
		t.Fatalf("GetUser after reopen: %v, %v, %+v", found, err, r)
	}
}

func TestUncommittedBatchLeavesNoTrace(t *testing.T) {
	s, _ := openMem(t)
	defer closeStore(t, s)
	p := s.Partition(0)
	b := p.NewBatch()
	b.PutUser(&UserRecord{UserID: "kept", Events: 1})
	b.SetOffset(10)
	b.SetDenseSeq(1)
	mustCommit(t, b, false)

	// Written, never committed.
	b.PutUser(&UserRecord{UserID: "kept", Events: 2})
	b.PutUser(&UserRecord{UserID: "ghost"})
	b.SetOffset(20)
	b.SetDenseSeq(2)
	b.Close()

	var r UserRecord
	if _, err := p.GetUser("kept", &r); err != nil || r.Events != 1 {
		t.Fatalf("kept: events %d, err %v", r.Events, err)
	}
	if found, _ := p.GetUser("ghost", &r); found {
		t.Fatal("uncommitted user is visible")
	}
	if off, _, _ := p.Offset(); off != 10 {
		t.Fatalf("offset %d, want 10", off)
	}
	if seq, _ := p.DenseSeq(); seq != 1 {
		t.Fatalf("dense seq %d, want 1", seq)
	}
	// The recycled batch starts empty.
	b = p.NewBatch()
	defer b.Close()
	if b.Len() != 0 {
		t.Fatalf("recycled batch has %d writes", b.Len())
	}
}

func TestPartitionsIsolated(t *testing.T) {
	s, _ := openMem(t)
	defer closeStore(t, s)
	parts := []int32{0, 1, 2, 255, 256, 1 << 30}
	for _, id := range parts {
		b := s.Partition(id).NewBatch()
		for _, u := range []string{"shared", "only-" + strconv.Itoa(int(id)), "z"} {
			b.PutUser(&UserRecord{UserID: u, Events: uint64(id) + 1})
		}
		b.SetOffset(int64(id) + 100)
		b.SetDenseSeq(uint32(id) + 5)
		mustCommit(t, b, false)
		b.Close()
	}
	// A timer-index key must go with its partition too.
	if err := s.db.Set(appendTimerKey(nil, 1, 123, "shared"), nil, nil); err != nil {
		t.Fatal(err)
	}

	for _, id := range parts {
		p := s.Partition(id)
		got := strings.Join(userIDs(t, p), ",")
		if want := "only-" + strconv.Itoa(int(id)) + ",shared,z"; got != want {
			t.Errorf("partition %d users %q, want %q", id, got, want)
		}
		var r UserRecord
		if _, err := p.GetUser("shared", &r); err != nil || r.Events != uint64(id)+1 {
			t.Errorf("partition %d: shared user events %d, err %v", id, r.Events, err)
		}
	}

	if err := s.Partition(1).Drop(); err != nil {
		t.Fatal(err)
	}
	p1 := s.Partition(1)
	if ids := userIDs(t, p1); len(ids) != 0 {
		t.Errorf("dropped partition still has users %v", ids)
	}
	if _, ok, _ := p1.Offset(); ok {
		t.Error("dropped partition still has an offset")
	}
	if seq, _ := p1.DenseSeq(); seq != 0 {
		t.Error("dropped partition still has a dense seq")
	}
	it, err := s.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	for it.First(); it.Valid(); it.Next() {
		if string(it.Key()[:4]) == "\x00\x00\x00\x01" {
			t.Errorf("key %q of dropped partition survived", it.Key())
		}
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	for _, id := range parts {
		if id == 1 {
			continue
		}
		p := s.Partition(id)
		if n := len(userIDs(t, p)); n != 3 {
			t.Errorf("partition %d lost users after dropping another: %d left", id, n)
		}
		if off, ok, _ := p.Offset(); !ok || off != int64(id)+100 {
			t.Errorf("partition %d offset %d after dropping another", id, off)
		}
		if seq, _ := p.DenseSeq(); seq != uint32(id)+5 {
			t.Errorf("partition %d dense seq %d after dropping another", id, seq)
		}
	}
}

func TestForEachUserStopsOnError(t *testing.T) {
	s, _ := openMem(t)
	defer closeStore(t, s)
	p := s.Partition(2)
	b := p.NewBatch()
	for i := range 10 {
		b.PutUser(&UserRecord{UserID: fmt.Sprintf("u%02d", i), Events: uint64(i)})
	}
	mustCommit(t, b, false)
	b.Close()

	stop := errors.New("stop")
	n := 0
	err := p.ForEachUser(func(r *UserRecord) error {
		if r.Events != uint64(n) {
			t.Errorf("user %s visited at position %d", r.UserID, n)
		}
		n++
		if n == 4 {
			return stop
		}
		return nil
	})
	if err != stop || n != 4 {
		t.Fatalf("err %v after %d users, want stop after 4", err, n)
	}
}

func TestDenseID(t *testing.T) {
	for _, c := range []struct {
		p   int32
		seq uint32
		id  uint32
	}{
		{0, 0, 0},
		{0, MaxDenseSeq, MaxDenseSeq},
		{1, 0, 1 << 24},
		{255, MaxDenseSeq, 1<<32 - 1},
		{17, 12345, 17<<24 | 12345},
	} {
		id, err := DenseID(c.p, c.seq)
		if err != nil || id != c.id {
			t.Errorf("DenseID(%d, %d) = %d, %v; want %d", c.p, c.seq, id, err, c.id)
		}
		if got := DensePartition(id); got != c.p {
			t.Errorf("DensePartition(%d) = %d, want %d", id, got, c.p)
		}
	}
	for _, c := range []struct {
		p    int32
		seq  uint32
		want string
	}{
		{-1, 0, "partition -1"},
		{256, 0, "partition 256"},
		{3, 1 << 24, "seq 16777216 of partition 3"},
		{3, 1<<32 - 1, "seq 4294967295"},
	} {
		if _, err := DenseID(c.p, c.seq); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("DenseID(%d, %d): err %v, want mention of %q", c.p, c.seq, err, c.want)
		}
	}
}

func TestStoreSyncAndMetrics(t *testing.T) {
	s, _ := openMem(t)
	defer closeStore(t, s)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if m := s.Metrics(); !strings.Contains(m, "WAL") {
		t.Errorf("Metrics does not look like Pebble metrics:\n%s", m)
	}
}

func TestPutUserAllocs(t *testing.T) {
	s, _ := openMem(t)
	defer closeStore(t, s)
	b := s.Partition(0).NewBatch()
	defer b.Close()
	r := sampleRecord()
	// Warm up the batch's buffers, then reset it through a commit.
	for range 100 {
		b.PutUser(&r)
	}
	mustCommit(t, b, false)
	if n := testing.AllocsPerRun(50, func() { b.PutUser(&r) }); n != 0 {
		t.Errorf("PutUser: %v allocs, want 0", n)
	}
}

// Crash test. The child process (this test binary re-executed with
// crashEnvDir set) commits batches to partition crashPartition and dies
// without closing the store; the parent reopens the directory and checks
// that the state is exactly the state after the batches up to the stored
// offset, and that every batch confirmed durable is there.
const (
	crashEnvDir    = "STATE_CRASH_DIR"
	crashEnvMode   = "STATE_CRASH_MODE"
	crashPartition = 5
	crashUsers     = 50
	crashBatch     = 20 // users touched per batch
)

// crashApply is the deterministic effect of batch i (offset i → i+1): user
// (i*7+j) % crashUsers gets Events incremented and LastSeen[0] = i.
func crashApply(model map[string]*UserRecord, i int, b *Batch) {
	for j := range crashBatch {
		id := "user-" + strconv.Itoa((i*7+j)%crashUsers)
		r, ok := model[id]
		if !ok {
			r = &UserRecord{UserID: id, Email: id + "@example.com"}
			model[id] = r
		}
		r.Events++
		r.LastSeen[SurfaceApp] = int64(i)
		if b != nil {
			b.PutUser(r)
		}
	}
	if b != nil {
		b.SetOffset(int64(i) + 1)
	}
}

// TestCrashChild is the child side; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnvDir)
	if dir == "" {
		t.Skip("runs only as the child of TestCrashRecovery")
	}
	s, err := Open(Options{Dir: dir, Logf: quiet})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	p := s.Partition(crashPartition)
	model := map[string]*UserRecord{}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		b := p.NewBatch()
		crashApply(model, i, b)
		sync := i%5 == 4
		if err := b.Commit(sync); err != nil {
			fmt.Println("commit:", err)
			os.Exit(2)
		}
		b.Close()
		if sync {
			// Batches 0..i are durable now.
			fmt.Fprintf(out, "durable %d\n", i+1)
			out.Flush()
		}
		if os.Getenv(crashEnvMode) == "exit" && i == 203 {
			// Half-built batch that is never committed, then die.
			b := p.NewBatch()
			crashApply(map[string]*UserRecord{}, i+1, b)
			os.Exit(1)
		}
		// In "kill" mode loop until the parent kills the process.
	}
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a subprocess")
	}
	for _, mode := range []string{"exit", "kill"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashEnvDir+"="+dir, crashEnvMode+"="+mode)
			cmd.Stderr = os.Stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() }) // if the test fails before the kill
			durable := 0
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				line := sc.Text()
				n, ok := strings.CutPrefix(line, "durable ")
				if !ok {
					t.Errorf("child: %s", line)
					continue
				}
				if durable, err = strconv.Atoi(n); err != nil {
					t.Fatal(err)
				}
				if mode == "kill" && durable >= 300 {
					// Kill while the child is committing.
					time.Sleep(time.Millisecond)
					if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
					break
				}
			}
			_, _ = io.Copy(io.Discard, stdout)
			err = cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("child ended with %v, want a crash", err)
			}
			if mode == "exit" && exit.ExitCode() != 1 {
				t.Fatalf("child exit code %d, want 1", exit.ExitCode())
			}
			if durable == 0 {
				t.Fatal("child reported no durable batch")
			}

			s, err := Open(Options{Dir: dir, Logf: quiet})
			if err != nil {
				t.Fatal(err)
			}
			defer closeStore(t, s)
			p := s.Partition(crashPartition)
			next, ok, err := p.Offset()
			if err != nil || !ok {
				t.Fatalf("offset after crash: %d, %v, %v", next, ok, err)
			}
			if next < int64(durable) {
				t.Fatalf("offset %d after crash, but %d batches were durable", next, durable)
			}
			if mode == "exit" && next != 204 {
				// os.Exit does not lose what the process wrote to the WAL
				// file; only the never-committed batch 204 is absent.
				t.Logf("offset after exit: %d (batches after the last sync may be lost)", next)
			}
			t.Logf("%s: %d batches durable, offset %d after recovery", mode, durable, next)

			// State must be exactly the effect of batches [0, next).
			model := map[string]*UserRecord{}
			for i := range int(next) {
				crashApply(model, i, nil)
			}
			seen := 0
			if err := p.ForEachUser(func(r *UserRecord) error {
				seen++
				want, ok := model[r.UserID]
				if !ok {
					return fmt.Errorf("unexpected user %q", r.UserID)
				}
				if !recordsEqual(r, want) {
					return fmt.Errorf("user %s: got events %d last seen %d, want %d / %d (offset %d)",
						r.UserID, r.Events, r.LastSeen[0], want.Events, want.LastSeen[0], next)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if seen != len(model) {
				t.Fatalf("%d users stored, want %d", seen, len(model))
			}
		})
	}
}

// BenchmarkPutUserCommit commits batches of 1000 users and their offset
// without sync, in memory and on disk (the in-memory WAL file's growth shows
// up in B/op; the batch path itself does not allocate per user).
func BenchmarkPutUserCommit(b *testing.B) {
	b.Run("mem", func(b *testing.B) {
		s, _ := openMem(b)
		defer closeStore(b, s)
		benchPutUserCommit(b, s)
	})
	b.Run("disk", func(b *testing.B) {
		s, err := Open(Options{Dir: b.TempDir(), Logf: quiet})
		if err != nil {
			b.Fatal(err)
		}
		defer closeStore(b, s)
		benchPutUserCommit(b, s)
	})
}

func benchPutUserCommit(b *testing.B, s *Store) {
	p := s.Partition(0)
	recs := make([]UserRecord, 1000)
	for i := range recs {
		recs[i] = sampleRecord()
		recs[i].UserID = fmt.Sprintf("user-%06d", i)
	}
	batch := p.NewBatch()
	defer batch.Close()
	b.ReportAllocs()
	off := int64(0)
	for b.Loop() {
		for i := range recs {
			recs[i].Events++
			batch.PutUser(&recs[i])
		}
		off += int64(len(recs))
		batch.SetOffset(off)
		if err := batch.Commit(false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/user")
}

func BenchmarkGetUser(b *testing.B) {
	s, _ := openMem(b)
	defer closeStore(b, s)
	p := s.Partition(0)
	const n = 10000
	batch := p.NewBatch()
	r := sampleRecord()
	for i := range n {
		r.UserID = fmt.Sprintf("user-%06d", i)
		batch.PutUser(&r)
	}
	mustCommit(b, batch, false)
	batch.Close()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%06d", (i*7919)%n)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if found, err := p.GetUser(ids[i%n], &r); !found || err != nil {
			b.Fatal(found, err)
		}
		i++
	}
}

// A reusable batch keeps its buffer from one commit to the next (while
// within its bound) and starts each one empty: a write of an earlier commit
// is not applied again.
func TestReusableBatch(t *testing.T) {
	s, _ := openMem(t)
	defer closeStore(t, s)
	p := s.Partition(0)
	b := p.NewReusableBatch(1<<10, 1<<20)
	defer b.Close()
	big := UserRecord{UserID: "a", Email: strings.Repeat("x", 200<<10)} // grows the buffer past 64 KB
	b.PutUser(&big)
	mustCommit(t, b, false)
	buf := b.pb.Repr()
	if cap(buf) < 200<<10 {
		t.Fatalf("buffer %d bytes after the commit, want the grown one kept", cap(buf))
	}

	// "a" deleted behind the batch's back; the next commit writes "b" only.
	d := p.NewBatch()
	d.DeleteUser("a")
	mustCommit(t, d, false)
	d.Close()
	b.PutUser(&UserRecord{UserID: "b", Events: 1})
	if b.Len() != 1 {
		t.Fatalf("%d writes in the batch, want 1", b.Len())
	}
	mustCommit(t, b, false)
	if &b.pb.Repr()[0] != &buf[0] {
		t.Fatal("the second commit did not reuse the buffer")
	}
	var r UserRecord
	if found, _ := p.GetUser("a", &r); found {
		t.Fatal("the first commit's write was applied again")
	}
	if found, _ := p.GetUser("b", &r); !found || r.Events != 1 {
		t.Fatalf("b: found %v, %+v", found, r)
	}

	// Past its bound the buffer is let go.
	small := p.NewReusableBatch(1<<10, 4<<10)
	defer small.Close()
	small.PutUser(&big)
	mustCommit(t, small, false)
	if c := cap(small.pb.Repr()); c > 4<<10 {
		t.Fatalf("buffer of %d bytes kept, bound 4 KB", c)
	}
}

// Background counts Pebble's flushes and compactions as they end, with
// their durations.
func TestBackgroundCountsFlushesAndCompactions(t *testing.T) {
	s, _ := openMem(t)
	defer closeStore(t, s)
	if bg := s.Background(); bg.Flushes != 0 || bg.Compactions != 0 {
		t.Fatalf("a new store: %+v, want no work yet", bg)
	}
	p := s.Partition(0)
	for round := range 2 {
		b := p.NewBatch()
		for i := range 1000 {
			b.PutUser(&UserRecord{UserID: fmt.Sprintf("u%04d", i), Events: uint64(round + 1)})
		}
		mustCommit(t, b, false)
		b.Close()
		if err := s.db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	bg := s.Background()
	if bg.Flushes < 2 || bg.FlushSeconds <= 0 || bg.MaxFlushSeconds <= 0 || bg.MaxFlushSeconds > bg.FlushSeconds {
		t.Fatalf("after two flushes: %+v", bg)
	}
	if err := s.db.Compact(context.Background(), []byte{0}, []byte{0xff}, false); err != nil {
		t.Fatal(err)
	}
	after := s.Background()
	if after.Compactions < 1 || after.CompactionSeconds <= 0 {
		t.Fatalf("after a manual compaction: %+v", after)
	}
	if d := after.Sub(bg); d.Flushes != after.Flushes-bg.Flushes || d.Compactions != after.Compactions-bg.Compactions || d.FlushSeconds != after.FlushSeconds-bg.FlushSeconds || d.BackgroundErrors != 0 {
		t.Fatalf("Sub: %+v from %+v and %+v", d, after, bg)
	}
}

// A scan of a partition's user ids in chunks visits each stored user once,
// in id order, and none of another partition's, whatever the chunk size.
func TestUserIDsAfterVisitsEveryUserOnce(t *testing.T) {
	s, _ := openMem(t)
	defer closeStore(t, s)
	var want []string
	for part := int32(1); part <= 3; part++ {
		b := s.Partition(part).NewBatch()
		for i := range 100 {
			r := UserRecord{UserID: fmt.Sprintf("p%d-u%03d", part, (i*37)%100)}
			if i%10 == 0 {
				r.UserID += "\x00" // an id that extends another by a zero byte
			}
			b.PutUser(&r)
			if part == 2 {
				want = append(want, r.UserID)
			}
		}
		b.SetOffset(7) // keys of other kinds around the users'
		b.SetTimer("p2-u000", 0, 99)
		mustCommit(t, b, false)
		b.Close()
	}
	slices.Sort(want)
	p := s.Partition(2)
	for _, chunk := range []int{0, 1, 7, 99, 100, 101} {
		var got []string
		var after []byte
		for calls := 0; ; calls++ {
			if calls > 200 {
				t.Fatalf("chunk %d: scan does not end", chunk)
			}
			n := 0
			last, done, err := p.UserIDsAfter(after, chunk, func(id []byte) {
				got = append(got, string(id))
				n++
			})
			if err != nil {
				t.Fatal(err)
			}
			if chunk > 0 && n > chunk {
				t.Fatalf("chunk %d: a call visited %d ids", chunk, n)
			}
			if n > 0 && string(last) != got[len(got)-1] {
				t.Fatalf("chunk %d: last %q, the last visited %q", chunk, last, got[len(got)-1])
			}
			after = last
			if done {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("chunk %d: visited %d ids:\n%q\nwant %d:\n%q", chunk, len(got), got, len(want), want)
		}
	}
}
