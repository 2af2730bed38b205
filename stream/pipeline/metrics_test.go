package pipeline

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// promLine is a sample line of Prometheus's text format: a name, labels
// whose values need no escaping, a value.
var promLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*\})? (\S+)$`)

// scrape reads GET /metrics and checks the format strictly: every sample's
// family has a HELP and a TYPE line before it, once, and a value that
// parses. It returns the samples by name{labels}.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	samples := map[string]float64{}
	typed, helped := map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# HELP "):
			name := strings.Fields(line)[2]
			if helped[name] {
				t.Errorf("line %d: a second HELP for %s", n, name)
			}
			helped[name] = true
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			if len(f) != 4 || !map[string]bool{"counter": true, "gauge": true}[f[3]] || typed[f[2]] {
				t.Errorf("line %d: %q", n, line)
			}
			typed[f[2]] = true
		default:
			m := promLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("line %d is not a sample: %q", n, line)
			}
			if !typed[m[1]] || !helped[m[1]] {
				t.Errorf("line %d: %s has no HELP and TYPE before it", n, m[1])
			}
			v, err := strconv.ParseFloat(m[4], 64)
			if err != nil {
				t.Errorf("line %d: value %q: %v", n, m[4], err)
			}
			samples[m[1]+m[2]] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return samples
}

// TestMetricsAndHealth: GET /metrics says what GET /v1/stats says, in
// Prometheus's text format (checked line by line), the loader's counters
// included; GET /healthz answers 200 while the pipeline runs and 503 with
// the error once a component has failed, and Failed (on which run shuts
// down) is closed then.
func TestMetricsAndHealth(t *testing.T) {
	b := startBroker(t)
	s := newScenario(60)
	cfg := testConfig(t, b.Addrs(), filepath.Join(t.TempDir(), "state"), "")
	p, err := Start(context.Background(), Options{Config: cfg, FileSinkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	produce(t, b.Addrs(), "events", s.records)
	waitFor(t, "every input processed and loaded", time.Minute, func() bool {
		st := p.Stats()
		return st.Events+st.DLQ+st.Duplicates == int64(len(s.records)) && st.Lag == 0 &&
			st.Loader != nil && st.Loader.Rows["decisions"] == st.Decisions["push"]+st.Decisions["email"]+st.Decisions["sms"]+st.Decisions["inapp"]
	})
	st := p.Stats()
	got := scrape(t, p.HTTPAddr)
	want := map[string]float64{
		"rekindle_events_processed_total":               float64(st.Events),
		"rekindle_dlq_total":                            float64(st.DLQ),
		`rekindle_decisions_total{channel="push"}`:      float64(st.Decisions["push"]),
		`rekindle_decisions_total{channel="email"}`:     float64(st.Decisions["email"]),
		"rekindle_partitions_owned":                     float64(st.Partitions),
		"rekindle_fetch_errors_total":                   0,
		"rekindle_failed":                               0,
		`rekindle_loader_rows_total{table="decisions"}`: float64(st.Loader.Rows["decisions"]),
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v as /v1/stats says", k, g, ok, v)
		}
	}
	if st.DLQ != int64(s.malformed) || st.Decisions["push"]+st.Decisions["email"] == 0 {
		t.Errorf("the scenario: %d dead letters (want %d) and %v decisions", st.DLQ, s.malformed, st.Decisions)
	}
	for part := range st.Partitions {
		if v, ok := got[`rekindle_partition_lag_records{partition="`+strconv.Itoa(int(part))+`"}`]; !ok || v != 0 {
			t.Errorf("partition %d: lag %v (present %v), want 0", part, v, ok)
		}
	}

	health := func() (int, map[string]string) {
		resp, err := http.Get("http://" + p.HTTPAddr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var m map[string]string
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("/healthz: %s: %v", body, err)
		}
		return resp.StatusCode, m
	}
	if code, m := health(); code != http.StatusOK || m["status"] != "ok" {
		t.Errorf("/healthz while running: %d %v", code, m)
	}
	select {
	case <-p.Failed():
		t.Fatal("Failed is closed while nothing has failed")
	default:
	}
	p.fail(errors.New("test: the runner stopped"))
	select {
	case <-p.Failed(): // run shuts down on it
	default:
		t.Error("Failed is not closed after a failure")
	}
	if code, m := health(); code != http.StatusServiceUnavailable || m["status"] != "failed" || !strings.Contains(m["error"], "the runner stopped") {
		t.Errorf("/healthz after a failure: %d %v", code, m)
	}
	if v := scrape(t, p.HTTPAddr)["rekindle_failed"]; v != 1 {
		t.Errorf("rekindle_failed = %v after a failure, want 1", v)
	}
}
