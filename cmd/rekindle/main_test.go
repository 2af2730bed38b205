package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekindle/rekindle/sinks"
	"github.com/rekindle/rekindle/sinks/broker"
	"github.com/rekindle/rekindle/state"
	"github.com/rekindle/rekindle/stream"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const cliConfig = `
campaigns:
  - id: thanks
    trigger: {event: Order Completed}
    channels: [email]
    template: thank-you
`

func TestReplayCommandWritesIdenticalFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "rekindle.yaml", cliConfig)
	events := filepath.Join("..", "..", "stream", "testdata", "replay_events.jsonl")
	var outs [2][3][]byte
	for i := range outs {
		d, f, q := filepath.Join(dir, "d.jsonl"), filepath.Join(dir, "f.jsonl"), filepath.Join(dir, "q.jsonl")
		if err := cmdReplay(context.Background(), []string{"--config", cfg, "--events", events, "--out", d, "--facts", f, "--dlq", q}); err != nil {
			t.Fatal(err)
		}
		for j, p := range []string{d, f, q} {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			outs[i][j] = b
		}
	}
	if len(outs[0][1]) == 0 || len(outs[0][2]) == 0 {
		t.Fatal("replay of the fixture wrote no facts or no dead letters")
	}
	for j := range outs[0] {
		if !bytes.Equal(outs[0][j], outs[1][j]) {
			t.Errorf("output %d differs between two replays of the same file", j)
		}
	}
}

func TestBenchRateTakesAList(t *testing.T) {
	for in, want := range map[string]string{"0": "[0]", "20000": "[20000]", "5000,10000, 20000": "[5000 10000 20000]", "0,5000": "[0 5000]"} {
		if got, err := parseRates(in); err != nil || fmt.Sprint(got) != want {
			t.Errorf("parseRates(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "5000,", "5000,0", "1e4"} {
		if got, err := parseRates(in); err == nil {
			t.Errorf("parseRates(%q) = %v, want an error", in, got)
		}
	}
}

func TestCommandErrorsSayWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", "kafka:\n  brokers: [nohost]\n")
	cases := []struct {
		err  error
		want string
	}{
		{cmdRun(context.Background(), nil, []string{"--config", bad}), `bad.yaml:2: kafka.brokers[0]: "nohost": want host:port`},
		{cmdReplay(context.Background(), []string{"--config", bad}), "--events and --out are required"},
		{cmdReplay(context.Background(), []string{"--events", "x", "--out", "y", "--until", "tomorrow"}), `--until "tomorrow"`},
		{cmdUser([]string{"--id", "u1", "--config", writeFile(t, dir, "s.yaml", "state:\n  dir: "+filepath.Join(dir, "none")+"\n")}, nil), "state directory"},
		{cmdBroker(context.Background(), nil, []string{"--partitions", "0"}), "--partitions 0"},
		{cmdBroker(context.Background(), nil, []string{"--user", "SCRAM:rk:pw"}), `invalid value "SCRAM:rk:pw" for flag -user: mechanism "SCRAM": want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`},
		{cmdBroker(context.Background(), nil, []string{"--user", "PLAIN:rk"}), `invalid value "PLAIN:rk" for flag -user: want MECHANISM:NAME:PASSWORD`},
		{cmdDemo(context.Background(), nil, []string{"--rate", "-5"}), "rate -5"},
		{cmdGenerate([]string{"extra"}), `unexpected argument "extra"`},
		{cmdBench(context.Background(), nil, []string{"--rate", "5000,fast", "e2e"}), `"fast": want events/s`},
		{cmdBench(context.Background(), nil, []string{"--rate", "5000,0", "e2e"}), `"0": want events/s`},
		{cmdBench(context.Background(), nil, []string{"--broker-log", "tape", "e2e"}), `BrokerLog "tape": want "disk" or "memory"`},
		{cmdBench(context.Background(), nil, []string{"--input-compression", "rar", "e2e"}), `InputCompression "rar": want none, gzip`},
		{cmdBench(context.Background(), nil, []string{"--output-compression", "lzma", "e2e"}), `OutputCompression "lzma": want none, gzip`},
		{cmdBench(context.Background(), nil, []string{"--replication-factor", "-2", "e2e"}), `ReplicationFactor -2: must not be negative`},
		{cmdBench(context.Background(), nil, []string{"--mix", "ordres=1", "e2e"}), `unknown kind "ordres" (kinds: app_sessions,`},
		{cmdBench(context.Background(), nil, []string{"--malformed", "2", "e2e"}), `invalid value "2" for flag -malformed: want a share from 0 to 1`},
		{cmdBench(context.Background(), nil, []string{"--skew", "0", "e2e"}), `invalid value "0" for flag -skew: want an exponent above 0`},
		{cmdGenerate([]string{"--mix", "orders=-1"}), `weight "-1" of orders: want a number >= 0`},
		{cmdGenerate([]string{"--start", "yesterday"}), `--start "yesterday": want an RFC 3339 time`},
		{cmdGenerate([]string{"--time-step", "0s"}), `--time-step 0s: must be above 0`},
		{cmdBench(context.Background(), nil, []string{"--history", "e2e"}), `--history runs no scenario; drop "e2e"`},
		{cmdBench(context.Background(), nil, []string{"--history", "--results", filepath.Join(dir, "none.jsonl")}), `none.jsonl: no such file`},
		{cmdBench(context.Background(), nil, []string{"--history", "--results", bad}), `bad.yaml:1: not a run's results`},
	}
	for i, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("case %d: error %v, want it to contain %q", i, c.err, c.want)
		}
	}
}

func TestUserCommandPrintsTheRecord(t *testing.T) {
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	cfgPath := writeFile(t, dir, "rekindle.yaml", cliConfig+"kafka:\n  partitions: 4\nstate:\n  dir: "+stateDir+"\n")
	cfg, err := stream.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	proc, err := stream.NewProcessor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(state.Options{Dir: stateDir, Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	part := stream.PartitionOf("ada", 4)
	ps, err := proc.NewPartitionState(store.Partition(part), part)
	if err != nil {
		t.Fatal(err)
	}
	in := stream.Input{Topic: "events", Partition: part, Value: []byte(`{"type":"identify","userId":"ada","messageId":"1","timestamp":"2026-02-01T08:00:00Z","traits":{"email":"ada@example.com","timezone":"Europe/London"}}`)}
	if err := ps.Process(&in); err != nil {
		t.Fatal(err)
	}
	if err := ps.Commit(1, true, false); err != nil {
		t.Fatal(err)
	}
	store.Close()

	var out bytes.Buffer
	if err := cmdUser([]string{"--config", cfgPath, "--id", "ada"}, &out); err != nil {
		t.Fatal(err)
	}
	var v stream.UserView
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("%v in %s", err, out.Bytes())
	}
	if v.UserID != "ada" || v.Email != "ada@example.com" || v.Timezone != "Europe/London" || v.Events != 1 {
		t.Errorf("printed record: %s", out.Bytes())
	}
	if err := cmdUser([]string{"--config", cfgPath, "--id", "bob"}, &out); err == nil || !strings.Contains(err.Error(), `user "bob" not found`) {
		t.Errorf("unknown user: %v", err)
	}
}

func TestSchemaCommandPrintsDDL(t *testing.T) {
	var out bytes.Buffer
	if err := cmdSchema([]string{"--database", "analytics"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CREATE DATABASE IF NOT EXISTS `analytics`;", "CREATE TABLE IF NOT EXISTS `analytics`.`decisions`", "`segment_sizes`"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("schema output lacks %q:\n%s", want, out.String())
		}
	}
	if err := cmdSchema([]string{"--database", "no-dashes"}, &out); err == nil {
		t.Error("an invalid database name was accepted")
	}
}

// drop-partition deletes one partition's state, only with --yes, and no
// other partition's.
func TestDropPartitionCommand(t *testing.T) {
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	cfgPath := writeFile(t, dir, "rekindle.yaml", cliConfig+"kafka:\n  partitions: 4\nstate:\n  dir: "+stateDir+"\n")
	store, err := state.Open(state.Options{Dir: stateDir, Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	for part, user := range map[int32]string{1: "ada", 2: "bob"} {
		b := store.Partition(part).NewBatch()
		b.PutUser(&state.UserRecord{UserID: user, Events: 3})
		b.SetOffset(40 + int64(part))
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
		b.Close()
	}
	store.Close()
	var out bytes.Buffer
	if err := cmdDropPartition([]string{"--config", cfgPath, "--partition", "1"}, &out); err == nil || !strings.Contains(err.Error(), "state up to offset 41: add --yes") {
		t.Errorf("without --yes: %v", err)
	}
	if err := cmdDropPartition([]string{"--config", cfgPath, "--partition", "4", "--yes"}, &out); err == nil || !strings.Contains(err.Error(), "--partition 4: want 0 to 3") {
		t.Errorf("partition out of range: %v", err)
	}
	check := func(part int32, user string, want bool) {
		t.Helper()
		store, err := state.Open(state.Options{Dir: stateDir, Logf: func(string, ...any) {}})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		var rec state.UserRecord
		found, err := store.Partition(part).GetUser(user, &rec)
		_, hasOffset, err2 := store.Partition(part).Offset()
		if err != nil || err2 != nil || found != want || hasOffset != want {
			t.Errorf("partition %d: user %s found=%v, offset stored=%v (%v, %v); want %v", part, user, found, hasOffset, err, err2, want)
		}
	}
	check(1, "ada", true)
	if err := cmdDropPartition([]string{"--config", cfgPath, "--partition", "1", "--yes"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "dropped partition 1's state up to offset 41") {
		t.Errorf("output: %s", out.String())
	}
	check(1, "ada", false)
	check(2, "bob", true)
}

// TestBrokerCommandServesTLSAndSASL: `rekindle broker --tls-dir D --user
// SCRAM-SHA-256:rk:pw` lets in a client that trusts D/ca.pem and logs in
// as rk, and no other: a wrong password, or no TLS, is refused.
func TestBrokerCommandServesTLSAndSASL(t *testing.T) {
	addr, err := broker.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "tls")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- cmdBroker(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), []string{"--listen", addr, "--partitions", "1",
			"--tls-dir", dir, "--user", "SCRAM-SHA-256:rk:pw"})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("broker command: %v", err)
		}
	}()
	auth := func(password string, tls bool) *sinks.Auth {
		y := "kafka:\n  brokers: [" + addr + "]\n  sasl: {mechanism: SCRAM-SHA-256, username: rk, password: " + password + "}\n"
		if tls {
			y += "  tls: {ca_file: " + filepath.Join(dir, "ca.pem") + "}\n"
		}
		cfg, err := stream.ParseConfig("c.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		a, err := cfg.Kafka.Auth()
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "ca.pem")); err != nil {
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		pctx, pcancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := sinks.Probe(pctx, []string{addr}, auth("pw", true))
		pcancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the right user over TLS: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range []struct {
		what     string
		password string
		tls      bool
	}{{"a wrong password", "nope", true}, {"no TLS", "pw", false}} {
		pctx, pcancel := context.WithTimeout(context.Background(), 3*time.Second)
		if err := sinks.Probe(pctx, []string{addr}, auth(c.password, c.tls)); err == nil {
			t.Errorf("%s: let in", c.what)
		}
		pcancel()
	}
}
