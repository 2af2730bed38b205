package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHistoryTablesPerMachine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	env := func(model, time string) Environment {
		return Environment{Time: time, GitDescribe: "abc1234", GoVersion: "go1.26", GOMAXPROCS: 2, NumCPU: 2, CPUModel: model, OS: "linux", Arch: "amd64"}
	}
	runs := []Results{
		{Env: env("AMD EPYC", "2026-12-01T01:00:00Z"), Events: DefaultEvents, Population: DefaultGeneratorUsers,
			Pipeline: &PipelineResult{EventsPerCPUSecond: 601234, Runs: make([]PipelineRun, 3), Pass: 2},
			E2E:      &E2EResult{EventsPerSecond: 456000, LatencyResult: LatencyResult{LatencyProduced: 1, P99Ms: 74.8, OfferedPerSec: 226825}},
			Ceiling:  &CeilingResult{Ratio: 0.49},
			Memory:   &MemoryResult{Users: 10_000_000, RSSBytes: 943e6},
			Restore:  &RestoreResult{Users: 1_000_000, RebuildSeconds: 0.55, SnapshotSeconds: 0.01}},
		{Env: env("Intel Xeon", "2026-12-01T02:00:00Z"), Quick: true, Events: 50_000, Population: 2_000_000},
		{Env: env("AMD EPYC", "2026-12-01T03:00:00Z"), Mix: "orders=100", MalformedShare: 0.2, Skew: 1},
	}
	runs[2].Env.Host = &HostSpeed{StartMs: 90, EndMs: 110, FreshPageStartUs: 2.5, FreshPageEndUs: 3.5}
	for _, r := range runs {
		if err := r.AppendJSONL(path); err != nil {
			t.Fatal(err)
		}
	}
	read, err := ReadResults(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(read) != 3 {
		t.Fatalf("read %d runs, want 3", len(read))
	}
	var b strings.Builder
	WriteHistory(&b, read, 0)
	out := b.String()
	for _, want := range []string{
		"AMD EPYC, 2 CPUs, GOMAXPROCS 2, linux/amd64: 2 runs\n",
		"Intel Xeon, 2 CPUs, GOMAXPROCS 2, linux/amd64: 1 runs\n",
		"2026-12-01 01:00 abc1234             -       -  601234 (3)    456000    0.49    74.8 ms at 226825          943 MB at 10M   0.55 s at 1M\n",
		"\npipeline/core: the median of the passes in brackets",
		"2026-12-01 03:00 abc1234           100     3.0  -",
		"(traffic shaped)",
		"(quick, 50k events, population 2M)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("history lacks %q:\n%s", want, out)
		}
	}
	// The two EPYC runs are in one table, before the Xeon's.
	if e, x := strings.Index(out, "03:00 abc"), strings.Index(out, "Intel Xeon"); e < 0 || x < 0 || e > x {
		t.Errorf("the runs of one machine are not together:\n%s", out)
	}
	b.Reset()
	WriteHistory(&b, read, 1)
	if out := b.String(); strings.Contains(out, "01:00 abc") || !strings.Contains(out, "2 runs, the last 1") || strings.Contains(out, "in brackets") {
		t.Errorf("the last run of each machine only:\n%s", out)
	}

	if err := os.WriteFile(path, []byte(`{"env":{"time":"2026-12-01T01:00:00Z"}}`+"\n\n{oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadResults(path); err == nil || !strings.Contains(err.Error(), path+":3: not a run's results") {
		t.Errorf("a bad line: %v, want its file and line", err)
	}
	if _, err := ReadResults(filepath.Join(t.TempDir(), "none.jsonl")); err == nil || !strings.Contains(err.Error(), "none.jsonl") {
		t.Errorf("a missing file: %v", err)
	}
}
