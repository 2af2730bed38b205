package sinks_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/rekindle/rekindle/sinks"
	"github.com/rekindle/rekindle/sinks/broker"
	"github.com/rekindle/rekindle/sinks/chtest"
)

// Topics of the tests (the defaults).
var (
	sendTopics = sinks.DefaultSendTopics()
	allTopics  = append([]string{sinks.DefaultEventsTopic, sinks.DefaultDLQTopic, sinks.DefaultFactsTopic}, sendTopics...)
)

func clickHouseAddr() string { return chtest.Addr() }

func requireClickHouse(t *testing.T) string { t.Helper(); return chtest.Require(t) }

func testDatabase(t *testing.T, addr string) string { t.Helper(); return chtest.Database(t, addr) }

func startBroker(t *testing.T) []string {
	t.Helper()
	b, err := broker.Start(broker.Options{Partitions: 3, Topics: allTopics, MinSessionTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addrs()
}

func produce(t *testing.T, brokers []string, msgs []kafka.Message) {
	t.Helper()
	w := sinks.NewWriter(brokers, sinks.WriterOptions{})
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce %d messages: %v", len(msgs), err)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// runLoader starts l.Run in the background; the returned stop cancels it,
// closes the loader and checks that Run returned nil.
func runLoader(t *testing.T, l *sinks.Loader) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- l.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("Run: %v", err)
			}
			cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer ccancel()
			if err := l.Close(cctx); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last: %s", timeout, what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Test records.

func eventJSON(i int) []byte {
	return fmt.Appendf(nil, `{"type":"track","event":"Product Added","userId":"user-%d","anonymousId":"anon-%d","messageId":"msg-%04d","timestamp":"2024-03-%02dT10:00:%02d.250Z","properties":{"cart_value":%d,"sku":"s\u00e9-%d"}}`,
		i%17, i, i, 1+i%28, i%60, 100+i, i)
}

func eventMessage(i int) kafka.Message {
	return kafka.Message{Topic: sinks.DefaultEventsTopic, Key: fmt.Appendf(nil, "user-%d", i%17), Value: eventJSON(i)}
}

func decisionFor(i int) sinks.Decision {
	ch := []string{"push", "email", "sms", "inapp"}[i%4]
	return sinks.Decision{
		DecisionID: fmt.Sprintf("dec-%04d", i),
		CampaignID: "cart-abandon",
		UserID:     fmt.Sprintf("user-%d", i%17),
		Channel:    ch,
		Template:   "tpl-" + ch,
		DecidedAt:  time.Date(2024, 3, 5, 12, 0, i%60, 0, time.UTC).Format(sinks.TimeFormat),
		SendAt:     time.Date(2024, 3, 5, 12, 30, i%60, 0, time.UTC).Format(sinks.TimeFormat),
		Trigger:    sinks.Trigger{Event: "Product Added", MessageID: fmt.Sprintf("msg-%04d", i), Topic: "events", Partition: 1, Offset: int64(i)},
		Attributes: sinks.Attributes{Email: fmt.Sprintf("u%d@example.com", i), Properties: []byte(`{"cart_value":150}`)},
	}
}

func factFor(i int) sinks.Fact {
	at := time.Date(2024, 3, 6, 8, 0, i%60, 0, time.UTC).Format(sinks.TimeFormat)
	f := sinks.Fact{FactID: fmt.Sprintf("fact-%04d", i), UserID: fmt.Sprintf("user-%d", i%17), At: at, Cause: "SMS Received", MessageID: fmt.Sprintf("msg-%04d", i)}
	switch i % 3 {
	case 0:
		f.Kind, f.CampaignID, f.Channel, f.Reason = sinks.FactSuppression, "cart-abandon", "sms", "no_consent"
	case 1:
		f.Kind, f.Channel, f.From, f.To = sinks.FactConsentChange, "sms", "subscribed", "unsubscribed"
	case 2:
		entered := i%2 == 0
		f.Kind, f.Segment, f.Entered = sinks.FactSegmentChange, "sms_unsubscribed", &entered
	}
	return f
}

func dlqMessage(i int) kafka.Message {
	return kafka.Message{
		Topic: sinks.DefaultDLQTopic,
		Key:   fmt.Appendf(nil, "user-%d", i),
		Value: fmt.Appendf(nil, `{"type":"track","bad":%d`, i),
		Headers: []kafka.Header{
			{Key: sinks.HeaderReason, Value: []byte("malformed_json")},
			{Key: sinks.HeaderError, Value: fmt.Appendf(nil, "unexpected end of JSON input at %d", i)},
			{Key: sinks.HeaderTopic, Value: []byte("events")},
			{Key: sinks.HeaderPartition, Value: []byte(strconv.Itoa(i % 3))},
			{Key: sinks.HeaderOffset, Value: []byte(strconv.Itoa(1000 + i))},
		},
	}
}

// proxy forwards TCP connections from a loopback port to target; Down
// refuses new connections and cuts open ones, Up listens again on the same
// port.
type proxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() { p.Down(); p.wg.Wait() })
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.forward(c)
			}()
		}
	}()
}

func (p *proxy) forward(c net.Conn) {
	u, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, u) {
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); io.Copy(u, c); u.Close(); c.Close() }()
	go func() { defer wg.Done(); io.Copy(c, u); u.Close(); c.Close() }()
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

// track registers a forwarded pair, or closes it if the proxy went down.
func (p *proxy) track(c, u net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		c.Close()
		u.Close()
		return false
	}
	p.conns[c] = struct{}{}
	p.conns[u] = struct{}{}
	return true
}

// Down stops listening and cuts every forwarded connection.
func (p *proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// Up listens on the proxy's port again.
func (p *proxy) Up() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port can take a moment to be free again
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: listen on %s again: %v", p.addr, err)
	}
	p.serve(ln)
}
