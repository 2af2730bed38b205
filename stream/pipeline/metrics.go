package pipeline

import (
	"bufio"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// metrics serves GET /metrics: what GET /v1/stats says, in Prometheus's
// text exposition format (version 0.0.4), for a scraper. Counters end in
// _total; the processor's latency is the last minute's quantiles, in
// seconds.
func (p *Pipeline) metrics(w http.ResponseWriter, r *http.Request) {
	v := p.Stats()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m := &promWriter{w: bufio.NewWriter(w)}
	m.counter("rekindle_events_processed_total", "Events applied to the users' state.", v.Events)
	m.counter("rekindle_duplicates_total", "Events dropped as duplicates of a recent messageId.", v.Duplicates)
	m.counter("rekindle_dlq_total", "Input records sent to the dead-letter topic.", v.DLQ)
	m.counters("rekindle_decisions_total", "Send decisions, by channel.", "channel", v.Decisions)
	m.counter("rekindle_suppressions_total", "Sends suppressed (no consent, ...), as suppression facts.", v.Suppressions)
	m.counter("rekindle_facts_total", "Facts written (suppressions, consent and segment changes, sizes).", v.Facts)
	m.counter("rekindle_batches_total", "Batches processed.", v.Batches)
	m.counter("rekindle_state_commits_total", "State commits (records and offsets, one Pebble batch each).", v.Commits)
	m.counter("rekindle_inputs_lost_to_retention_total", "Input records the topic's retention deleted before they were processed.", v.InputsLost)
	m.counter("rekindle_inputs_aborted_total", "Input records of aborted transactions, skipped (read_committed).", v.InputsAborted)
	m.counter("rekindle_fetch_errors_total", "Fetches of the events topic that failed (retried).", v.FetchErrors)
	m.gauge("rekindle_partitions_owned", "Partitions of the events topic this process owns.", float64(v.Partitions))
	m.help("rekindle_partition_lag_records", "gauge", "Input records not processed yet, by owned partition, as of its last fetch.")
	lags := p.Runner.Stats().PartitionLags()
	parts := make([]int32, 0, len(lags))
	for part := range lags {
		parts = append(parts, part)
	}
	slices.Sort(parts)
	for _, part := range parts {
		m.sample("rekindle_partition_lag_records", `partition="`+strconv.Itoa(int(part))+`"`, float64(lags[part]))
	}
	m.help("rekindle_worker_seconds_total", "counter", "The partition workers' time, summed over workers, by what they did.")
	m.sample("rekindle_worker_seconds_total", `state="working"`, v.WorkerSeconds.Working)
	m.sample("rekindle_worker_seconds_total", `state="waiting_for_acks"`, v.WorkerSeconds.WaitingForAcks)
	m.sample("rekindle_worker_seconds_total", `state="waiting_for_input"`, v.WorkerSeconds.WaitingForInput)
	m.help("rekindle_commit_seconds_total", "counter", "The state commits' time: the workers' pauses to encode, the applies to Pebble.")
	m.sample("rekindle_commit_seconds_total", `phase="encoding"`, v.CommitSeconds.Encoding)
	m.sample("rekindle_commit_seconds_total", `phase="applying"`, v.CommitSeconds.Applying)
	m.counter("rekindle_user_cache_misses_total", "Users not found in a partition's cache.", v.UserLoads.CacheMisses)
	m.counter("rekindle_user_store_reads_total", "Users read from the state store (cache misses the filter of stored users did not rule out).", v.UserLoads.StoreReads)
	m.counter("rekindle_pebble_flushes_total", "Pebble memtable flushes.", v.Pebble.Flushes)
	m.counter("rekindle_pebble_compactions_total", "Pebble compactions.", v.Pebble.Compactions)
	m.counter("rekindle_pebble_write_stalls_total", "Pebble write stalls.", v.Pebble.WriteStalls)
	lm := v.Latency.LastMinute
	m.help("rekindle_processor_latency_last_minute_seconds", "gauge", "From an input's fetch response to its batch's outputs acknowledged by Kafka: quantiles over the last minute.")
	m.sample("rekindle_processor_latency_last_minute_seconds", `quantile="0.5"`, lm.AckedP50/1000)
	m.sample("rekindle_processor_latency_last_minute_seconds", `quantile="0.99"`, lm.AckedP99/1000)
	m.sample("rekindle_processor_latency_last_minute_seconds", `quantile="0.999"`, lm.AckedP999/1000)
	m.gauge("rekindle_processor_latency_last_minute_samples", "Inputs the last minute's latency quantiles are over.", float64(lm.Acked))
	if l := v.Loader; l != nil {
		m.counter("rekindle_loader_messages_total", "Messages the ClickHouse loader fetched.", l.Messages)
		m.counters("rekindle_loader_rows_total", "Rows the loader inserted into ClickHouse, by table.", "table", l.Rows)
		m.counter("rekindle_loader_inserts_total", "Inserts into ClickHouse that succeeded.", l.Inserts)
		m.counter("rekindle_loader_retries_total", "Failed insert attempts (each retried).", l.Retries)
		m.counters("rekindle_loader_skipped_total", "Messages loaded into no table, by reason.", "reason", l.Skipped)
	}
	failed := 0.0
	if p.Err() != nil {
		failed = 1
	}
	m.gauge("rekindle_failed", "1 once the pipeline has stopped on an error (see /healthz).", failed)
	_ = m.w.Flush()
}

// promWriter writes metric families in Prometheus's text format.
type promWriter struct{ w *bufio.Writer }

func (m *promWriter) help(name, typ, help string) {
	m.w.WriteString("# HELP " + name + " " + strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(help) + "\n")
	m.w.WriteString("# TYPE " + name + " " + typ + "\n")
}

// sample writes one sample; labels are `name="value",...` with values that
// need no escaping (channel, table and reason names, numbers).
func (m *promWriter) sample(name, labels string, v float64) {
	m.w.WriteString(name)
	if labels != "" {
		m.w.WriteString("{" + labels + "}")
	}
	m.w.WriteString(" " + strconv.FormatFloat(v, 'g', -1, 64) + "\n")
}

func (m *promWriter) counter(name, help string, v int64) {
	m.help(name, "counter", help)
	m.sample(name, "", float64(v))
}

func (m *promWriter) gauge(name, help string, v float64) {
	m.help(name, "gauge", help)
	m.sample(name, "", v)
}

// counters writes a counter family with a sample per key of values,
// labelled label="key", in key order.
func (m *promWriter) counters(name, help, label string, values map[string]int64) {
	m.help(name, "counter", help)
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		m.sample(name, label+`="`+k+`"`, float64(values[k]))
	}
}
