package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// ReadResults reads a results file (one JSON line per run, as Run appends
// them). A line that is not a run's results is an error naming the file and
// the line.
func ReadResults(path string) ([]Results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: results: %w", err)
	}
	defer f.Close()
	var runs []Results
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var r Results
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("bench: %s:%d: not a run's results: %v", path, line, err)
		}
		if r.Env.Time == "" {
			return nil, fmt.Errorf("bench: %s:%d: not a run's results: no env.time", path, line)
		}
		runs = append(runs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", path, err)
	}
	return runs, nil
}

// machine names the machine a run was on, as the results record it: runs
// on different machines are never compared in one table.
func (e *Environment) machine() string {
	return fmt.Sprintf("%s, %d CPUs, GOMAXPROCS %d, %s/%s", e.CPUModel, e.NumCPU, e.GOMAXPROCS, e.OS, e.Arch)
}

// WriteHistory prints runs as one table per machine, in the order they
// ran, with each scenario's headline numbers; last > 0 keeps only the last
// runs of each machine.
func WriteHistory(w io.Writer, runs []Results, last int) {
	var machines []string
	byMachine := map[string][]Results{}
	for _, r := range runs {
		m := r.Env.machine()
		if _, ok := byMachine[m]; !ok {
			machines = append(machines, m)
		}
		byMachine[m] = append(byMachine[m], r)
	}
	passes := false // a run shown whose pipeline made several passes
	if len(runs) == 0 {
		fmt.Fprintln(w, "no runs recorded")
		return
	}
	for i, m := range machines {
		rs := byMachine[m]
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s: %d runs", m, len(rs))
		if last > 0 && len(rs) > last {
			fmt.Fprintf(w, ", the last %d", last)
			rs = rs[len(rs)-last:]
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "  %-16s %-14s %6s %7s  %-13s %-9s %-7s %-26s %-15s %s\n",
			"time (UTC)", "git", "ref ms", "page µs", "pipeline/core", "e2e/s", "/ceil", "p99 decision at offered/s", "RSS at users", "restore")
		for _, r := range rs {
			passes = passes || r.Pipeline != nil && len(r.Pipeline.Runs) > 1
			fmt.Fprintf(w, "  %-16s %-14s %6s %7s  %-13s %-9s %-7s %-26s %-15s %s%s\n",
				historyTime(r.Env.Time),
				r.Env.GitDescribe, historyRef(r.Env.Host), historyFreshPage(r.Env.Host), historyPipeline(r.Pipeline), historyE2E(r.E2E),
				historyRatio(r.Ceiling), historyLatency(r.E2E), historyMemory(r.Memory), historyRestore(r.Restore),
				historyNotes(&r))
		}
	}
	if passes {
		fmt.Fprintln(w, "\npipeline/core: the median of the passes in brackets (a single pass before the twelfth session)")
	}
}

// historyTime writes an RFC 3339 UTC time to the minute.
func historyTime(t string) string {
	t = strings.Replace(strings.TrimSuffix(t, "Z"), "T", " ", 1)
	return t[:min(16, len(t))]
}

// historyNotes says how a run differs from a default one, where it does.
func historyNotes(r *Results) string {
	var notes []string
	if r.Quick {
		notes = append(notes, "quick")
	}
	if r.Events != 0 && r.Events != DefaultEvents {
		notes = append(notes, shortCount(r.Events)+" events")
	}
	if r.Population != 0 && r.Population != DefaultGeneratorUsers {
		notes = append(notes, "population "+shortCount(r.Population))
	}
	if r.Brokers != "" && r.Brokers != "embedded" {
		notes = append(notes, "brokers "+r.Brokers)
	} else if r.BrokerLog == BrokerLogMemory {
		notes = append(notes, "broker log in memory")
	}
	if r.ConfigFile != "" {
		notes = append(notes, "config "+r.ConfigFile)
	}
	if r.Mix != "" && (r.Mix != DefaultMix().String() || r.MalformedShare != DefaultMalformedShare || r.Skew != DefaultSkew) {
		notes = append(notes, "traffic shaped")
	}
	if len(notes) == 0 {
		return ""
	}
	return "  (" + strings.Join(notes, ", ") + ")"
}

func historyRef(h *HostSpeed) string {
	if h == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f", (h.StartMs+h.EndMs)/2)
}

// historyFreshPage is the host's price of a fresh page, the mean of the
// run's two measurements.
func historyFreshPage(h *HostSpeed) string {
	if h == nil || h.FreshPageStartUs <= 0 || h.FreshPageEndUs <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", (h.FreshPageStartUs+h.FreshPageEndUs)/2)
}

// historyPipeline is the pipeline's events/s per core, with the number of
// passes it is the median of, when more than one (see historyLegend).
func historyPipeline(p *PipelineResult) string {
	switch {
	case p == nil:
		return "-"
	case len(p.Runs) > 1:
		return fmt.Sprintf("%.0f (%d)", p.EventsPerCPUSecond, len(p.Runs))
	}
	return fmt.Sprintf("%.0f", p.EventsPerCPUSecond)
}

func historyE2E(e *E2EResult) string {
	if e == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f", e.EventsPerSecond)
}

func historyRatio(c *CeilingResult) string {
	if c == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", c.Ratio)
}

func historyLatency(e *E2EResult) string {
	if e == nil || e.LatencyProduced == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f ms at %.0f", e.P99Ms, e.OfferedPerSec)
}

func historyMemory(m *MemoryResult) string {
	if m == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f MB at %s", float64(m.RSSBytes)/1e6, shortCount(m.Users))
}

func historyRestore(r *RestoreResult) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f s at %s", max(r.RebuildSeconds, r.SnapshotSeconds), shortCount(r.Users))
}

// shortCount writes n as 100k, 1M, 10M where it is that round.
func shortCount(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1_000 && n%1_000 == 0:
		return fmt.Sprintf("%dk", n/1_000)
	}
	return fmt.Sprint(n)
}
