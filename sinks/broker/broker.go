// Package broker runs franz-go's kfake, an in-process Kafka-protocol broker,
// on loopback for demos, tests and development. Production uses a real Kafka
// (or Kafka-compatible) cluster.
package broker

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Options configure an embedded broker. The zero value is valid.
type Options struct {
	// Listen is host:port; default "127.0.0.1:0" (a free port).
	Listen string
	// Partitions of each seeded topic (default 8).
	Partitions int
	// Topics created on start.
	Topics []string
	// DataDir persists the broker's log across restarts; empty keeps it in memory.
	DataDir string
	// MinSessionTimeout lowers kfake's 6 s minimum group session timeout
	// (default 1s) so that tests rebalance quickly.
	MinSessionTimeout time.Duration
	// RetentionBytes bounds each partition's log, as Kafka's
	// retention.bytes: when a partition holds more, its oldest record
	// batches are deleted (their files too, segment by segment). Zero
	// keeps everything.
	RetentionBytes int64
	// Retention deletes the record batches whose newest timestamp is
	// older, as Kafka's retention.ms (the records' own timestamps: events
	// written with old CreateTimes go at the next check). Zero keeps them.
	Retention time.Duration
	// RetentionCheck is how often retention is applied (default
	// DefaultRetentionCheck).
	RetentionCheck time.Duration
	// TLS serves TLS with this configuration (nil: plaintext): tests of
	// rekindle against a secured cluster.
	TLS *tls.Config
	// Users turns SASL authentication on: every client must log in as one
	// of them (none: no authentication).
	Users []User
}

// User is a SASL login of the embedded broker.
type User struct {
	Mechanism string // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	Name      string
	Password  string
}

// DefaultRetentionCheck is how often the embedded broker applies retention
// (Kafka checks every 5 minutes by default).
const DefaultRetentionCheck = time.Minute

// Broker is a running embedded broker.
type Broker struct {
	cluster        *kfake.Cluster
	addrs          []string
	retentionBytes int64
	retention      time.Duration
	stop           chan struct{} // closed by Close: the retention loop ends
	done           chan struct{} // closed when it has

	closeOnce sync.Once
}

// Start starts an embedded broker.
// segmentBytes is the embedded broker's log segment size.
const segmentBytes = 8 << 20

func Start(opts Options) (*Broker, error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Partitions <= 0 {
		opts.Partitions = 8
	}
	if opts.MinSessionTimeout <= 0 {
		opts.MinSessionTimeout = time.Second
	}
	if opts.RetentionCheck <= 0 {
		opts.RetentionCheck = DefaultRetentionCheck
	}
	if opts.RetentionBytes < 0 || opts.Retention < 0 {
		return nil, fmt.Errorf("broker: retention %d bytes, %s: must not be negative (zero keeps everything)", opts.RetentionBytes, opts.Retention)
	}
	// kfake's fallbacks are Kafka's: no size bound, 7 days. Each is off
	// unless asked for.
	bcfgs := map[string]string{
		"log.segment.bytes":   strconv.Itoa(segmentBytes),
		"log.retention.bytes": "-1",
		"log.retention.ms":    "-1",
	}
	if opts.RetentionBytes > 0 {
		bcfgs["log.retention.bytes"] = strconv.FormatInt(opts.RetentionBytes, 10)
	}
	if opts.Retention > 0 {
		bcfgs["log.retention.ms"] = strconv.FormatInt(max(opts.Retention.Milliseconds(), 1), 10)
	}
	host, port, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("broker: listen address %q: %w", opts.Listen, err)
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(opts.Partitions),
		kfake.GroupMinSessionTimeout(opts.MinSessionTimeout),
		// Small segments: without a data directory kfake keeps each
		// segment in a growing in-memory file, and growing one copies it
		// whole while every client waits (a 64 MB copy stalled the broker
		// for tens of milliseconds under the default 100 MiB segments).
		kfake.BrokerConfigs(bcfgs),
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, p, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			if port != "0" {
				p = port
			}
			return net.Listen(network, net.JoinHostPort(host, p))
		}),
	}
	if len(opts.Topics) > 0 {
		kopts = append(kopts, kfake.SeedTopics(int32(opts.Partitions), opts.Topics...))
	}
	if opts.DataDir != "" {
		kopts = append(kopts, kfake.DataDir(opts.DataDir))
	}
	if opts.TLS != nil {
		kopts = append(kopts, kfake.TLS(opts.TLS))
	}
	if len(opts.Users) > 0 {
		kopts = append(kopts, kfake.EnableSASL())
		for _, u := range opts.Users {
			kopts = append(kopts, kfake.Superuser(u.Mechanism, u.Name, u.Password))
		}
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("broker: start on %s: %w", opts.Listen, err)
	}
	b := &Broker{cluster: c, addrs: c.ListenAddrs(), retentionBytes: opts.RetentionBytes, retention: opts.Retention,
		stop: make(chan struct{}), done: make(chan struct{})}
	// kfake applies retention on its own only to topics configured with
	// it, and hourly; the broker-wide bounds are applied here.
	go func() {
		defer close(b.done)
		if opts.RetentionBytes == 0 && opts.Retention == 0 {
			return
		}
		tick := time.NewTicker(opts.RetentionCheck)
		defer tick.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-tick.C:
				c.ApplyRetention()
			}
		}
	}()
	return b, nil
}

// Addrs returns the bootstrap addresses clients connect to.
func (b *Broker) Addrs() []string { return b.addrs }

// Retention returns the bounds the broker applies to each partition's log
// (zero: none).
func (b *Broker) Retention() (bytes int64, age time.Duration) { return b.retentionBytes, b.retention }

// Cluster exposes the kfake cluster, for fault injection in tests.
func (b *Broker) Cluster() *kfake.Cluster { return b.cluster }

// Close stops the broker.
func (b *Broker) Close() {
	b.closeOnce.Do(func() {
		close(b.stop)
		<-b.done
		b.cluster.Close()
	})
}

// FreeAddr returns a loopback host:port free right now, for a broker that
// must come back on the same address after a restart.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("broker: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// StartRetrying is Start, retried for up to wait while opts.Listen is still
// held (a broker restarted on the port it has just released).
func StartRetrying(opts Options, wait time.Duration) (*Broker, error) {
	deadline := time.Now().Add(wait)
	for {
		b, err := Start(opts)
		if err == nil || time.Now().After(deadline) {
			return b, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
