// Package pipeline wires rekindle's parts into a running process: Kafka (or
// the embedded broker), the Pebble store, the stream processor, the
// ClickHouse loader and the HTTP API. `rekindle run` and `rekindle demo` use
// it; tests use it to run the real thing.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rekindle/rekindle/sinks"
	"github.com/rekindle/rekindle/sinks/broker"
	"github.com/rekindle/rekindle/state"
	"github.com/rekindle/rekindle/stream"
)

// Options configure a Pipeline.
type Options struct {
	Config stream.Config
	Logger *slog.Logger // default: discard
	Hooks  stream.Hooks
	// BrokerListen is where the embedded broker listens when
	// Config.Kafka.Brokers is empty (default 127.0.0.1:0).
	BrokerListen string
	// PersistEmbeddedBroker keeps the embedded broker's log in files in
	// EmbeddedBrokerDir instead of in memory: the log then outlives the
	// process like the state it goes with (a state whose offsets point
	// past an empty log would wait for events that never come), and its
	// size is bounded by the disk, not the heap.
	PersistEmbeddedBroker bool
	// FileSinkDir: with no ClickHouse configured, the loader writes its rows
	// as JSONEachRow files here; empty runs no loader then.
	FileSinkDir string
	// NoLoader runs no loader even when ClickHouse is configured.
	NoLoader bool
	// NoHTTP serves no HTTP API.
	NoHTTP bool
}

// Pipeline is a running rekindle.
type Pipeline struct {
	Brokers    []string
	Embedded   *broker.Broker // nil with an external cluster
	Store      *state.Store
	Processor  *stream.Processor
	Runner     *stream.Runner
	Loader     *sinks.Loader // nil without a loader
	HTTPAddr   string        // "" without HTTP
	Partitions int           // of the events topic

	log    *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
	http   *http.Server
	// latency: the processor's latency histograms over the last minute.
	latency *latencyWindow
	mu      sync.Mutex
	errs    []error
	failed  chan struct{} // closed by the first fail
}

// EmbeddedBrokerDir is where a persisted embedded broker keeps its log:
// beside the state directory, "<state.dir>-broker".
func EmbeddedBrokerDir(cfg stream.Config) string {
	dir := cfg.State.Dir
	if dir == "" {
		dir = stream.DefaultStateDir
	}
	return filepath.Clean(dir) + "-broker"
}

// Start starts every part and returns once they run.
func Start(ctx context.Context, opts Options) (_ *Pipeline, err error) {
	cfg := opts.Config
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	proc, err := stream.NewProcessor(cfg)
	if err != nil {
		return nil, err
	}
	cfg = proc.Config()
	p := &Pipeline{Processor: proc, log: log, Brokers: cfg.Kafka.Brokers, latency: newLatencyWindow(time.Now()),
		failed: make(chan struct{})}
	defer func() {
		if err != nil {
			p.Close(context.Background())
		}
	}()

	if len(p.Brokers) == 0 {
		bopts := broker.Options{
			Listen:         opts.BrokerListen,
			Partitions:     cfg.Kafka.Partitions,
			Topics:         cfg.AllTopics(),
			RetentionBytes: cfg.EmbeddedRetentionBytes(),
			Retention:      time.Duration(cfg.Kafka.EmbeddedRetention),
		}
		where := "in memory"
		if opts.PersistEmbeddedBroker {
			bopts.DataDir = EmbeddedBrokerDir(cfg)
			where = bopts.DataDir
		}
		p.Embedded, err = broker.Start(bopts)
		if err != nil {
			return p, err
		}
		p.Brokers = p.Embedded.Addrs()
		log.Info("no kafka.brokers configured: started the embedded Kafka-protocol broker (for demos and development, not production)",
			"addr", p.Brokers[0], "partitions", cfg.Kafka.Partitions, "log", where,
			"retention_mb_per_partition", bopts.RetentionBytes>>20, "retention", bopts.Retention)
	}
	// TLS and SASL, for configured brokers (validated with the config).
	auth, err := cfg.Kafka.Auth()
	if err != nil {
		return p, err
	}
	if p.Embedded == nil {
		if err := sinks.Probe(ctx, p.Brokers, auth); err != nil {
			return p, fmt.Errorf("pipeline: kafka.brokers: %w", err)
		}
	}
	if cfg.CreateTopicsEnabled() {
		if err := sinks.EnsureTopics(ctx, p.Brokers, auth, cfg.AllTopics(), cfg.Kafka.Partitions, cfg.Kafka.ReplicationFactor); err != nil {
			return p, err
		}
	}
	if p.Partitions, err = sinks.PartitionCount(ctx, p.Brokers, auth, cfg.Topics.Events); err != nil {
		return p, err
	}

	if p.Store, err = state.Open(state.Options{Dir: cfg.State.Dir, CacheBytes: int64(cfg.State.BlockCacheMB) << 20, BackgroundDuty: cfg.State.BackgroundDuty, Logf: func(format string, args ...any) {
		log.Debug("pebble: " + strings.TrimSpace(fmt.Sprintf(format, args...)))
	}}); err != nil {
		return p, err
	}
	if p.Runner, err = stream.NewRunner(proc, stream.RunnerOptions{Brokers: p.Brokers, Store: p.Store, Logger: log, Hooks: opts.Hooks, Auth: auth}); err != nil {
		return p, err
	}

	var sink sinks.RowSink
	switch {
	case opts.NoLoader:
	case cfg.ClickHouse.Addr != "":
		password, err := cfg.ClickHouse.Secret()
		if err != nil {
			return p, err
		}
		sink, err = sinks.NewClickHouseSink(ctx, sinks.ClickHouseOptions{
			Addr: cfg.ClickHouse.Addr, Database: cfg.ClickHouse.Database,
			User: cfg.ClickHouse.User, Password: password,
		})
		if err != nil {
			return p, err
		}
	case opts.FileSinkDir != "":
		if sink, err = sinks.NewFileSink(opts.FileSinkDir); err != nil {
			return p, err
		}
	}
	if sink != nil {
		var sends []string
		for ch := state.Channel(0); ch < state.NumChannels; ch++ {
			sends = append(sends, cfg.SendTopic(ch))
		}
		p.Loader, err = sinks.NewLoader(sinks.LoaderConfig{
			Brokers:       p.Brokers,
			GroupID:       cfg.Kafka.LoaderGroupID,
			EventsTopic:   cfg.Topics.Events,
			DLQTopic:      cfg.Topics.DLQ,
			FactsTopic:    cfg.Topics.Facts,
			SendTopics:    sends,
			BatchRows:     cfg.ClickHouse.BatchRows,
			FlushInterval: time.Duration(cfg.ClickHouse.FlushInterval),
			Logger:        log,
			ReadCommitted: cfg.Kafka.IsolationLevel == stream.ReadCommitted,
			Auth:          auth,
		}, sink)
		if err != nil {
			sink.Close()
			return p, err
		}
	}

	if !opts.NoHTTP && cfg.HTTP.Listen != "off" {
		ln, err := net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			return p, fmt.Errorf("pipeline: http listen on %s (http.listen): %w", cfg.HTTP.Listen, err)
		}
		p.HTTPAddr = ln.Addr().String()
		p.http = &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 5 * time.Second}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if err := p.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				p.fail(fmt.Errorf("pipeline: http: %w", err))
			}
		}()
		log.Info("HTTP API listening", "addr", p.HTTPAddr)
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel = cancel
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := p.Runner.Run(runCtx); err != nil {
			p.fail(err)
		}
	}()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.sampleLatencies(runCtx)
	}()
	if p.Loader != nil {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if err := p.Loader.Run(runCtx); err != nil && runCtx.Err() == nil {
				p.fail(err)
			}
		}()
	}
	return p, nil
}

func (p *Pipeline) fail(err error) {
	p.log.Error("pipeline component failed", "err", err)
	p.mu.Lock()
	p.errs = append(p.errs, err)
	if len(p.errs) == 1 {
		close(p.failed)
	}
	p.mu.Unlock()
}

// Failed is closed once a component has stopped on an error (Err says
// which): the process should shut down and be restarted.
func (p *Pipeline) Failed() <-chan struct{} { return p.failed }

// Err returns the errors components failed with so far.
func (p *Pipeline) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return errors.Join(p.errs...)
}

// PartitionOf returns the events-topic partition of a user id, as the
// murmur2 partitioner assigns it. (A producer with another partitioner puts
// the user elsewhere; GET /v1/users then looks in every partition.)
func (p *Pipeline) PartitionOf(userID string) int32 {
	return stream.PartitionOf(userID, p.Partitions)
}

// Close shuts down in two phases: stop consuming and finish the batches in
// flight (outputs flushed, state committed), then close the store and the
// broker.
func (p *Pipeline) Close(ctx context.Context) error {
	if p.cancel != nil {
		p.cancel()
	}
	if p.http != nil {
		p.http.Shutdown(ctx)
	}
	p.wg.Wait()
	var errs []error
	if p.Loader != nil {
		errs = append(errs, p.Loader.Close(ctx))
	}
	if p.Runner != nil {
		errs = append(errs, p.Runner.Close())
	}
	if p.Store != nil {
		errs = append(errs, p.Store.Close())
	}
	if p.Embedded != nil {
		p.Embedded.Close()
	}
	return errors.Join(errs...)
}
