// Package chtest gives tests a real ClickHouse server: the one .ci/run
// starts (or $REKINDLE_CLICKHOUSE_ADDR), required when CI is set, and a
// database of their own that is dropped when they end.
package chtest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/rekindle/rekindle/sinks"
)

// Addr returns the server tests use: $REKINDLE_CLICKHOUSE_ADDR, else
// 127.0.0.1:9000.
func Addr() string {
	if a := os.Getenv("REKINDLE_CLICKHOUSE_ADDR"); a != "" {
		return a
	}
	return sinks.DefaultClickHouseAddr
}

// Require returns the server's address. When it is not reachable the test
// fails if CI is set (.ci/run starts a server), and skips otherwise.
func Require(t testing.TB) string {
	t.Helper()
	addr := Addr()
	if sinks.Reachable(addr, 2*time.Second) {
		return addr
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("ClickHouse is not reachable on %s, and CI is set (.ci/run starts it)", addr)
	}
	t.Skipf("ClickHouse is not reachable on %s; start one (see .ci/run) or set REKINDLE_CLICKHOUSE_ADDR", addr)
	return ""
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// Database returns a database name unique to this test run, dropped when
// the test ends.
func Database(t testing.TB, addr string) string {
	t.Helper()
	name := strings.ToLower(nonIdent.ReplaceAllString(t.Name(), "_"))
	db := fmt.Sprintf("rekindle_test_%s_%d_%d", name, os.Getpid(), time.Now().UnixNano()%1e9)
	t.Cleanup(func() {
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
		if err != nil {
			t.Logf("drop %s: %v", db, err)
			return
		}
		defer conn.Close()
		if err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS `"+db+"`"); err != nil {
			t.Logf("drop %s: %v", db, err)
		}
	})
	return db
}
