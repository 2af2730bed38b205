package pipeline

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/rekindle/rekindle/sinks/broker"
	"github.com/rekindle/rekindle/stream"
)

// testCA is broker.SelfSignedTLS in a test's directory, with the
// authority's PEM.
func testCA(t *testing.T) (server *tls.Config, caPEM []byte, caFile string) {
	t.Helper()
	server, caFile, err := broker.SelfSignedTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if caPEM, err = os.ReadFile(caFile); err != nil {
		t.Fatal(err)
	}
	return server, caPEM, caFile
}

// TestSecuredCluster: against a broker that speaks TLS only and lets in
// only clients that log in with SCRAM-SHA-512, rekindle configured with
// kafka.tls (the test's authority) and kafka.sasl (the password from the
// environment) creates its topics, consumes the events, and writes its
// decisions, which an independent client (franz-go, with TLS and SCRAM of
// its own) reads back, and its loader reads them too. With a wrong
// password it stops at once, saying that authentication failed.
func TestSecuredCluster(t *testing.T) {
	serverTLS, caPEM, caFile := testCA(t)
	const user, password = "rekindle", "s3cret"
	// No topics seeded: rekindle creates them, over TLS, logged in.
	b, err := broker.Start(broker.Options{Partitions: 2, TLS: serverTLS,
		Users: []broker.User{{Mechanism: stream.SASLScramSHA512, Name: user, Password: password}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	config := func(passwordEnv string) stream.Config {
		y := testCampaigns + "kafka:\n  brokers: [" + strings.Join(b.Addrs(), ",") + "]\n  session_timeout: 2s\n  partitions: 2\n" +
			"  tls: {ca_file: " + caFile + "}\n" +
			"  sasl: {mechanism: SCRAM-SHA-512, username: " + user + ", password_env: " + passwordEnv + "}\n" +
			"state:\n  dir: " + filepath.Join(t.TempDir(), "state") + "\nprocessing:\n  batch_size: 50\nhttp:\n  listen: 127.0.0.1:0\n"
		cfg, err := stream.ParseConfig("secured.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	t.Setenv("REKINDLE_TEST_KAFKA_PASSWORD", password)
	t.Setenv("REKINDLE_TEST_WRONG_PASSWORD", "not-"+password)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	if _, err := Start(ctx, Options{Config: config("REKINDLE_TEST_WRONG_PASSWORD"), NoLoader: true, NoHTTP: true}); err == nil ||
		!strings.Contains(strings.ToLower(err.Error()), "authentication failed") {
		t.Fatalf("a wrong password: error %v, want one that says authentication failed", err)
	} else if took := time.Since(start); took > 20*time.Second {
		t.Errorf("a wrong password took %s to be refused", took)
	} else {
		t.Logf("a wrong password: %v", err)
	}

	// A certificate from another authority is not trusted.
	_, _, otherCA := testCA(t)
	untrusted := config("REKINDLE_TEST_KAFKA_PASSWORD")
	untrusted.Kafka.TLS.CAFile = otherCA
	if _, err := Start(ctx, Options{Config: untrusted, NoLoader: true, NoHTTP: true}); err == nil ||
		!strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("another authority's CA file: error %v, want the certificate refused", err)
	}

	out := t.TempDir()
	p, err := Start(ctx, Options{Config: config("REKINDLE_TEST_KAFKA_PASSWORD"), NoHTTP: true, FileSinkDir: out})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	client := func(opts ...kgo.Opt) *kgo.Client {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addrs()...),
			kgo.DialTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}),
			kgo.SASL(scram.Auth{User: user, Pass: password}.AsSha512Mechanism())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	s := newScenario(40)
	prod := client(kgo.DefaultProduceTopic("events"))
	for _, m := range s.records {
		if err := prod.ProduceSync(ctx, &kgo.Record{Key: m.Key, Value: m.Value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every input processed", time.Minute, func() bool {
		st := p.Stats()
		return st.Events+st.DLQ+st.Duplicates == int64(len(s.records))
	})
	var decided int64
	for _, n := range p.Stats().Decisions {
		decided += n
	}
	if decided == 0 {
		t.Fatal("no decision: the scenario has buyers who consented")
	}
	// Read back by another client, logged in over TLS.
	cons := client(kgo.ConsumeTopics("sends.push", "sends.email", "sends.sms", "sends.inapp"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var read int64
	for read < decided && ctx.Err() == nil {
		fs := cons.PollFetches(ctx)
		if err := fs.Err(); err != nil && ctx.Err() == nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !bytes.Contains(r.Value, []byte(`"decision_id"`)) {
				t.Errorf("%s: not a decision: %s", r.Topic, r.Value)
			}
			read++
		})
	}
	if read != decided {
		t.Fatalf("read %d decisions from the send topics, the processor made %d", read, decided)
	}
	// The loader consumed them too, through the same TLS and SASL.
	waitFor(t, "the loader's decision rows", time.Minute, func() bool {
		data, _ := os.ReadFile(filepath.Join(out, "decisions.jsonl"))
		return int64(bytes.Count(data, []byte("\n"))) == decided
	})
}
