// Package broker runs franz-go's kfake, an in-process Kafka-protocol broker,
// on loopback for demos, tests and development. Production uses a real Kafka
// (or Kafka-compatible) cluster.
package broker

import (
	"fmt"
	"net"
	"strconv"
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
}

// Broker is a running embedded broker.
type Broker struct {
	cluster *kfake.Cluster
	addrs   []string
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
		kfake.BrokerConfigs(map[string]string{"log.segment.bytes": strconv.Itoa(segmentBytes)}),
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
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("broker: start on %s: %w", opts.Listen, err)
	}
	return &Broker{cluster: c, addrs: c.ListenAddrs()}, nil
}

// Addrs returns the bootstrap addresses clients connect to.
func (b *Broker) Addrs() []string { return b.addrs }

// Cluster exposes the kfake cluster, for fault injection in tests.
func (b *Broker) Cluster() *kfake.Cluster { return b.cluster }

// Close stops the broker.
func (b *Broker) Close() { b.cluster.Close() }

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
