package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/rekindle/rekindle/sinks/broker"
	"github.com/rekindle/rekindle/state"
	"github.com/rekindle/rekindle/stream"
	"github.com/rekindle/rekindle/stream/pipeline"
)

func loadConfig(path string) (stream.Config, error) {
	if path == "" {
		return stream.Defaults(), nil
	}
	return stream.LoadConfig(path)
}

// openStopped opens the existing state store of a processor that is not
// running; hint says what to do when it is (the store is locked).
func openStopped(cfg stream.Config, hint string) (*state.Store, error) {
	if _, err := os.Stat(cfg.State.Dir); err != nil {
		return nil, fmt.Errorf("state directory %s (state.dir): %w", cfg.State.Dir, err)
	}
	// Flat out: with the processor stopped, no event waits for a share of
	// the cores (see state.Options.BackgroundDuty).
	store, err := state.Open(state.Options{Dir: cfg.State.Dir, BackgroundDuty: 1, Logf: func(string, ...any) {}})
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, hint)
	}
	return store, nil
}

func cmdRun(ctx context.Context, log *slog.Logger, args []string) error {
	fs := newFlags("run")
	config := fs.String("config", "", "configuration file (YAML); without it every default applies")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*config)
	if err != nil {
		return err
	}
	p, err := pipeline.Start(ctx, pipeline.Options{Config: cfg, Logger: log, PersistEmbeddedBroker: true})
	if err != nil {
		return err
	}
	log.Info("rekindle running", "brokers", strings.Join(p.Brokers, ","), "events_topic", cfg.Topics.Events,
		"state", cfg.State.Dir, "clickhouse", cfg.ClickHouse.Addr, "http", p.HTTPAddr)
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-p.Failed():
			// Exit (non-zero) rather than run on without it: a supervisor
			// restarts the process, which resumes from the committed state.
			log.Error("a component stopped on an error; shutting down", "err", p.Err())
			done = true
		case <-tick.C:
			s := p.Stats()
			log.Info("progress", "events", s.Events, "decisions", s.Decisions, "dlq", s.DLQ, "partitions", s.Partitions,
				"lag", s.Lag, "lost_to_retention", s.InputsLost, "aborted", s.InputsAborted, "fetch_errors", s.FetchErrors)
		}
	}
	log.Info("shutting down: finishing batches in flight")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(p.Err(), p.Close(sctx))
}

func cmdBroker(ctx context.Context, log *slog.Logger, args []string) error {
	fs := newFlags("broker")
	listen := fs.String("listen", "127.0.0.1:9092", "address to listen on")
	partitions := fs.Int("partitions", stream.DefaultPartitions, "partitions of each default topic")
	dataDir := fs.String("data-dir", "", "persist the broker's log here (default: in memory)")
	retentionMB := fs.Int64("retention-mb", stream.DefaultEmbeddedRetentionMB, "bound each partition's log to this many MiB, deleting the oldest records past it (0: keep everything)")
	retention := fs.Duration("retention", 0, "delete records older than this by their timestamps, e.g. 168h (0: keep them)")
	tlsDir := fs.String("tls-dir", "", "serve TLS only, with a certificate of its own for 127.0.0.1 and localhost; DIR/ca.pem is what clients trust (kafka.tls.ca_file)")
	var users brokerUsers
	fs.Var(&users, "user", "require SASL: clients log in as MECHANISM:NAME:PASSWORD (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; repeatable; for trying kafka.sasl out, the password is visible to ps)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *partitions < 1 {
		return fmt.Errorf("--partitions %d: must be at least 1", *partitions)
	}
	var serverTLS *tls.Config
	if *tlsDir != "" {
		if err := os.MkdirAll(*tlsDir, 0o755); err != nil {
			return fmt.Errorf("--tls-dir: %w", err)
		}
		var caFile string
		var err error
		if serverTLS, caFile, err = broker.SelfSignedTLS(*tlsDir); err != nil {
			return fmt.Errorf("--tls-dir %s: %w", *tlsDir, err)
		}
		log.Info("serving TLS only; clients trust the certificate with kafka.tls.ca_file", "ca_file", caFile)
	}
	if *retentionMB < 0 || *retention < 0 {
		return fmt.Errorf("--retention-mb %d, --retention %s: must not be negative (0 keeps everything)", *retentionMB, *retention)
	}
	cfg := stream.Defaults()
	b, err := broker.Start(broker.Options{Listen: *listen, Partitions: *partitions, Topics: cfg.AllTopics(), DataDir: *dataDir,
		RetentionBytes: *retentionMB << 20, Retention: *retention, TLS: serverTLS, Users: users})
	if err != nil {
		return err
	}
	defer b.Close()
	log.Info("embedded Kafka-protocol broker running (Ctrl-C stops it)", "addr", b.Addrs()[0],
		"topics", strings.Join(cfg.AllTopics(), ","), "partitions", *partitions, "retention_mb_per_partition", *retentionMB, "retention", *retention)
	<-ctx.Done()
	return nil
}

// brokerUsers is the broker command's repeatable --user flag.
type brokerUsers []broker.User

func (u *brokerUsers) String() string { return fmt.Sprint(len(*u), " users") }

func (u *brokerUsers) Set(v string) error {
	mech, rest, ok1 := strings.Cut(v, ":")
	name, password, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || name == "" || password == "" {
		return errors.New("want MECHANISM:NAME:PASSWORD")
	}
	switch mech {
	case stream.SASLPlain, stream.SASLScramSHA256, stream.SASLScramSHA512:
	default:
		return fmt.Errorf("mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", mech)
	}
	*u = append(*u, broker.User{Mechanism: mech, Name: name, Password: password})
	return nil
}

func cmdReplay(ctx context.Context, args []string) error {
	fs := newFlags("replay")
	config := fs.String("config", "", "configuration file (YAML)")
	events := fs.String("events", "", "input: one Segment Spec JSON event per line (required)")
	out := fs.String("out", "", "output: decisions, one JSON object per line (required)")
	facts := fs.String("facts", "", "output: facts, one JSON object per line")
	dlq := fs.String("dlq", "", "output: rejected inputs with their reason, one JSON object per line")
	until := fs.String("until", "", "advance the clock to this RFC 3339 time after the last event, so pending timers fire")
	now := fs.String("now", "wall", `events later than this RFC 3339 time plus processing.max_future_skew go to the DLQ, as live; "wall" is the clock, "off" disables the check`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *events == "" || *out == "" {
		return errors.New("--events and --out are required")
	}
	cfg, err := loadConfig(*config)
	if err != nil {
		return err
	}
	proc, err := stream.NewProcessor(cfg)
	if err != nil {
		return err
	}
	opts := stream.ReplayOptions{}
	if *until != "" {
		t, err := time.Parse(time.RFC3339, *until)
		if err != nil {
			return fmt.Errorf("--until %q: want an RFC 3339 time such as 2026-03-01T00:00:00Z", *until)
		}
		opts.Until = t.UnixMilli()
	}
	switch *now {
	case "off":
	case "wall":
		opts.Now = time.Now().UnixMilli()
	default:
		t, err := time.Parse(time.RFC3339, *now)
		if err != nil {
			return fmt.Errorf(`--now %q: want an RFC 3339 time such as 2026-03-01T00:00:00Z, "wall" or "off"`, *now)
		}
		opts.Now = t.UnixMilli()
	}
	in, err := os.Open(*events)
	if err != nil {
		return err
	}
	defer in.Close()
	opts.Events = bufio.NewReaderSize(in, 1<<20)
	var files []*outFile
	open := func(path string) (*bufio.Writer, error) {
		f, err := newOutFile(path)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		return f.w, nil
	}
	if opts.Decisions, err = open(*out); err != nil {
		return err
	}
	if *facts != "" {
		if opts.Facts, err = open(*facts); err != nil {
			return err
		}
	}
	if *dlq != "" {
		if opts.DeadLetters, err = open(*dlq); err != nil {
			return err
		}
	}
	opts.Progress = func(n int64) { fmt.Fprintf(os.Stderr, "\rreplayed %d lines", n) }
	stats, err := stream.Replay(ctx, proc, opts)
	for _, f := range files {
		err = errors.Join(err, f.close())
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "\rreplayed %d lines: %d events applied, %d duplicates, %d to the DLQ, %d decisions, %d facts\n",
		stats.Lines, stats.Events, stats.Duplicates, stats.DLQ, sum(stats.Decisions[:]), stats.Facts)
	return nil
}

type outFile struct {
	f *os.File
	w *bufio.Writer
}

func newOutFile(path string) (*outFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &outFile{f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (o *outFile) close() error {
	return errors.Join(o.w.Flush(), o.f.Close())
}

func sum(xs []int64) int64 {
	var s int64
	for _, x := range xs {
		s += x
	}
	return s
}

func cmdUser(args []string, out io.Writer) error {
	fs := newFlags("user")
	config := fs.String("config", "", "configuration file (YAML); its state.dir is read")
	id := fs.String("id", "", "user id (required)")
	partitions := fs.Int("partitions", 0, "partitions of the events topic (default: kafka.partitions of the config)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *id == "" {
		return errors.New("--id is required")
	}
	cfg, err := loadConfig(*config)
	if err != nil {
		return err
	}
	n := cfg.Kafka.Partitions
	if *partitions > 0 {
		n = *partitions
	}
	store, err := openStopped(cfg, "while rekindle runs, use its HTTP API: GET /v1/users/"+*id)
	if err != nil {
		return err
	}
	defer store.Close()
	var rec state.UserRecord
	found, err := stream.LookupUser(store, *id, n, &rec)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("user %q not found in %s (%d partitions searched)", *id, cfg.State.Dir, n)
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(stream.ViewUser(&rec))
}

// cmdDropPartition deletes one partition's state (records, offset, timers,
// bitmaps, and the record of a state ahead of its log) so that the next run
// rebuilds it from the partition's first record. The processor must be
// stopped (the store cannot be opened twice).
func cmdDropPartition(args []string, out io.Writer) error {
	fs := newFlags("drop-partition")
	config := fs.String("config", "", "configuration file (YAML); its state.dir is read")
	partition := fs.Int("partition", -1, "partition of the events topic whose state is dropped (required)")
	yes := fs.Bool("yes", false, "drop it (without --yes nothing is deleted)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*config)
	if err != nil {
		return err
	}
	if *partition < 0 || *partition >= cfg.Kafka.Partitions {
		return fmt.Errorf("--partition %d: want 0 to %d (kafka.partitions: %d)", *partition, cfg.Kafka.Partitions-1, cfg.Kafka.Partitions)
	}
	store, err := openStopped(cfg, "stop rekindle first")
	if err != nil {
		return err
	}
	defer store.Close()
	p := store.Partition(int32(*partition))
	next, ok, err := p.Offset()
	if err != nil {
		return err
	}
	what := "no state"
	if ok {
		what = fmt.Sprintf("state up to offset %d", next)
	}
	if !*yes {
		return fmt.Errorf("partition %d of %s holds %s: add --yes to drop it (it is rebuilt from the partition's first record at the next run)", *partition, cfg.State.Dir, what)
	}
	if err := p.Drop(); err != nil {
		return err
	}
	fmt.Fprintf(out, "dropped partition %d's %s from %s; the next run rebuilds it from the partition's first record\n", *partition, what, cfg.State.Dir)
	return nil
}
