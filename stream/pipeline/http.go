package pipeline

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/rekindle/rekindle/state"
	"github.com/rekindle/rekindle/stream"
)

// Handler returns the HTTP API:
//
//	GET /v1/users/{id}  the user record
//	GET /v1/stats       processing counters
//	GET /metrics        the same, in Prometheus's text format
//	GET /healthz        200 while running, 503 once the pipeline failed
func (p *Pipeline) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/users/{id}", p.getUser)
	mux.HandleFunc("GET /v1/stats", p.getStats)
	mux.HandleFunc("GET /v1/segments", p.listSegments)
	mux.HandleFunc("GET /v1/segments/{name}", p.getSegment)
	mux.HandleFunc("GET /v1/segments/{name}/export", p.exportSegment)
	mux.HandleFunc("GET /v1/audience", p.audience)
	mux.HandleFunc("GET /metrics", p.metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := p.Err(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "failed", "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path+" (try GET /v1/users/{id}, /v1/segments, /v1/segments/{name}[/export], /v1/audience?expr=..., /v1/stats, /metrics or /healthz)")
	})
	return mux
}

func (p *Pipeline) getUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" {
		writeError(w, http.StatusBadRequest, "missing user id in path /v1/users/{id}")
		return
	}
	rec, found, err := p.lookupUser(id)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, "user "+strconv.Quote(id)+" not found (no event for this user id has been processed)")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		stream.UserView
		Segments []string `json:"segments"`
	}{stream.ViewUser(&rec), p.Processor.SegmentNames(&rec.Segments)})
}

// StatsView is the body of GET /v1/stats.
type StatsView struct {
	Events       int64            `json:"events_processed"`
	Duplicates   int64            `json:"duplicates"`
	DLQ          int64            `json:"dlq"`
	Decisions    map[string]int64 `json:"decisions"`
	Suppressions int64            `json:"suppressions"`
	Facts        int64            `json:"facts"`
	Batches      int64            `json:"batches"`
	Commits      int64            `json:"state_commits"`
	Lag          int64            `json:"lag"` // input records not processed yet, owned partitions
	Partitions   int64            `json:"partitions_owned"`
	// WorkerSeconds: where the partition workers' time went, summed over
	// workers (see stream.Stats).
	WorkerSeconds WorkerSeconds `json:"worker_seconds"`
	// CommitSeconds: how long the state commits took, summed over them,
	// and the longest (see stream.CommitTimes).
	CommitSeconds CommitSeconds `json:"commit_seconds"`
	// Pebble: what the state store's background work has taken: flushes,
	// compactions (each takes a core while it runs) and write stalls.
	Pebble state.BackgroundStats `json:"pebble"`
	// UserLoads: users not in a partition's cache, and those of them read
	// from the state store (the others the filter of stored users ruled
	// out: created without a read).
	UserLoads UserLoads `json:"user_loads"`
	// InputsLost: input records the topic's retention deleted before they
	// were processed (the processor was stopped or behind for longer than
	// the topic keeps records).
	InputsLost int64 `json:"inputs_lost_to_retention"`
	// InputsAborted: records of aborted transactions in the events topic,
	// skipped as kafka.isolation_level read_committed says (not events).
	InputsAborted int64 `json:"inputs_aborted"`
	// FetchErrors: fetches of the events topic that failed (each retried
	// with back-off), and the latest of them: a partition whose lag grows
	// while its fetches fail says why here.
	FetchErrors    int64           `json:"fetch_errors"`
	LastFetchError *FetchErrorView `json:"last_fetch_error,omitempty"`
	// Latency: how long the inputs spent in the processor, since the start
	// and over the last minute (see stream.Stats.Latency).
	Latency ProcessorLatency `json:"processor_latency_ms"`
	// Loader: the ClickHouse loader's counters (absent without a loader).
	Loader *LoaderView `json:"loader,omitempty"`
}

// FetchErrorView is the latest failed fetch.
type FetchErrorView struct {
	Partition int32  `json:"partition"`
	Error     string `json:"error"`
	At        string `json:"at"` // RFC 3339, UTC
}

// LoaderView is what the loader has done so far (see sinks.LoaderStats).
type LoaderView struct {
	Messages  int64            `json:"messages"`
	Rows      map[string]int64 `json:"rows"`
	Inserts   int64            `json:"inserts"`
	Retries   int64            `json:"retries"`
	Commits   int64            `json:"commits"`
	Skipped   map[string]int64 `json:"skipped"`
	LastError string           `json:"last_error,omitempty"`
}

// UserLoads counts the loads of users missing from the cache.
type UserLoads struct {
	CacheMisses int64 `json:"cache_misses"`
	StoreReads  int64 `json:"store_reads"`
	// FiltersScanning: partitions still scanning their stored users into
	// the filter (every cache miss reads the store until it is done);
	// FiltersScanned: the scans finished since the start.
	FiltersScanning int64 `json:"filters_scanning"`
	FiltersScanned  int64 `json:"filters_scanned"`
}

// CommitSeconds splits the state commits' time: the workers' pauses to
// encode the dirty records, and the applies on the commits' goroutines.
type CommitSeconds struct {
	Encoding    float64 `json:"encoding"`
	Applying    float64 `json:"applying"`
	MaxEncoding float64 `json:"max_encoding"`
	MaxApplying float64 `json:"max_applying"`
}

// WorkerSeconds splits the partition workers' time.
type WorkerSeconds struct {
	Working         float64 `json:"working"`
	WaitingForAcks  float64 `json:"waiting_for_acks"`
	WaitingForInput float64 `json:"waiting_for_input"`
}

// Stats returns the processor's counters so far.
func (p *Pipeline) Stats() StatsView {
	c := p.Runner.Stats().Snapshot()
	v := StatsView{
		Events: c.Events, Duplicates: c.Duplicates, DLQ: c.DLQ, Suppressions: c.Suppressions, Facts: c.Facts,
		Decisions:  map[string]int64{},
		Batches:    p.Runner.Stats().Batches.Load(),
		Commits:    p.Runner.Stats().Commits.Load(),
		Lag:        p.Runner.Stats().Lag(),
		Partitions: p.Runner.Stats().Partitions.Load(),
		WorkerSeconds: WorkerSeconds{
			Working:         time.Duration(p.Runner.Stats().WorkNanos.Load()).Seconds(),
			WaitingForAcks:  time.Duration(p.Runner.Stats().AckWaitNanos.Load()).Seconds(),
			WaitingForInput: time.Duration(p.Runner.Stats().InputWaitNanos.Load()).Seconds(),
		},
		Pebble:        p.Store.Background(),
		InputsLost:    p.Runner.Stats().InputsLost.Load(),
		InputsAborted: p.Runner.Stats().InputsAborted.Load(),
		Latency:       p.processorLatency(),
		UserLoads: UserLoads{
			CacheMisses:     p.Runner.Stats().UserLoads.CacheMisses.Load(),
			StoreReads:      p.Runner.Stats().UserLoads.StoreReads.Load(),
			FiltersScanning: p.Runner.Stats().UserLoads.Scanning.Load(),
			FiltersScanned:  p.Runner.Stats().UserLoads.Scanned.Load(),
		},
	}
	ct := &p.Runner.Stats().CommitTimes
	v.CommitSeconds = CommitSeconds{
		Encoding:    time.Duration(ct.EncodeNanos.Load()).Seconds(),
		Applying:    time.Duration(ct.ApplyNanos.Load()).Seconds(),
		MaxEncoding: time.Duration(ct.MaxEncodeNanos.Load()).Seconds(),
		MaxApplying: time.Duration(ct.MaxApplyNanos.Load()).Seconds(),
	}
	for ch := state.Channel(0); ch < state.NumChannels; ch++ {
		v.Decisions[ch.String()] = c.Decisions[ch]
	}
	v.FetchErrors = p.Runner.Stats().FetchErrors.Load()
	if fe, ok := p.Runner.Stats().LastFetchError(); ok {
		v.LastFetchError = &FetchErrorView{Partition: fe.Partition, Error: fe.Err, At: fe.At.UTC().Format(time.RFC3339)}
	}
	if p.Loader != nil {
		ls := p.Loader.Stats()
		v.Loader = &LoaderView{Messages: ls.Messages, Rows: ls.Rows, Inserts: ls.Inserts, Retries: ls.Retries,
			Commits: ls.Commits, Skipped: ls.Skipped, LastError: ls.LastError}
	}
	return v
}

func (p *Pipeline) getStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, p.Stats())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
