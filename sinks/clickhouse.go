package sinks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Defaults of ClickHouseOptions.
const (
	DefaultClickHouseAddr    = "127.0.0.1:9000"
	DefaultClickHouseUser    = "default"
	DefaultClickHouseTimeout = 30 * time.Second
)

// ClickHouseOptions configure NewClickHouseSink. The zero value is valid.
type ClickHouseOptions struct {
	// Addr is host:port of ClickHouse's native protocol (default
	// DefaultClickHouseAddr).
	Addr string
	// Database the tables live in (default DefaultDatabase); created if
	// missing. Letters, digits and '_' only.
	Database string
	// User (default DefaultClickHouseUser) and Password authenticate.
	User     string
	Password string
	// Timeout bounds dialing and waiting for a reply (default
	// DefaultClickHouseTimeout).
	Timeout time.Duration
}

func (o ClickHouseOptions) withDefaults() ClickHouseOptions {
	if o.Addr == "" {
		o.Addr = DefaultClickHouseAddr
	}
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if o.User == "" {
		o.User = DefaultClickHouseUser
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultClickHouseTimeout
	}
	return o
}

// ClickHouseSink inserts rows into ClickHouse over the native protocol, one
// INSERT with an explicit column list per call. It is safe for concurrent use.
type ClickHouseSink struct {
	opts    ClickHouseOptions
	conn    driver.Conn
	inserts map[string]string // table -> INSERT statement
}

var _ RowSink = (*ClickHouseSink)(nil)

// NewClickHouseSink connects to ClickHouse and creates the database and the
// loader's tables if they do not exist.
func NewClickHouseSink(ctx context.Context, opts ClickHouseOptions) (*ClickHouseSink, error) {
	opts = opts.withDefaults()
	ddl, err := SchemaDDL(opts.Database)
	if err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{opts.Addr},
		Auth: clickhouse.Auth{
			// Statements name the database; "default" always exists,
			// opts.Database may not yet.
			Database: "default",
			Username: opts.User,
			Password: opts.Password,
		},
		DialTimeout:  opts.Timeout,
		ReadTimeout:  opts.Timeout,
		MaxOpenConns: 4,
		MaxIdleConns: 2,
		Compression:  &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		ClientInfo: clickhouse.ClientInfo{
			Products: []struct{ Name, Version string }{{Name: "rekindle-loader", Version: "1"}},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("sinks: clickhouse %s: %w", opts.Addr, err)
	}
	for _, stmt := range ddl {
		if err := conn.Exec(ctx, stmt); err != nil {
			conn.Close()
			return nil, fmt.Errorf("sinks: clickhouse %s: create schema: %w", opts.Addr, err)
		}
	}
	s := &ClickHouseSink{opts: opts, conn: conn, inserts: map[string]string{}}
	for _, t := range Tables() {
		s.inserts[t.Name] = t.insertStatement(opts.Database)
	}
	return s, nil
}

// Conn exposes the connection, for queries in tests and tools.
func (s *ClickHouseSink) Conn() driver.Conn { return s.conn }

// Insert writes rows into table in one INSERT; on error none or (if the
// connection broke mid-insert) all of them may have landed.
func (s *ClickHouseSink) Insert(ctx context.Context, table string, rows []Row) (err error) {
	stmt, ok := s.inserts[table]
	if !ok {
		return fmt.Errorf("sinks: clickhouse: unknown table %q", table)
	}
	if len(rows) == 0 {
		return nil
	}
	batch, err := s.conn.PrepareBatch(ctx, stmt)
	if err != nil {
		return fmt.Errorf("sinks: clickhouse %s: prepare insert into %s.%s: %w", s.opts.Addr, s.opts.Database, table, err)
	}
	defer func() {
		if cerr := batch.Close(); cerr != nil && err == nil && !errors.Is(cerr, clickhouse.ErrBatchAlreadySent) {
			err = fmt.Errorf("sinks: clickhouse %s: close insert into %s.%s: %w", s.opts.Addr, s.opts.Database, table, cerr)
		}
	}()
	for i, r := range rows {
		if err := batch.Append(r...); err != nil {
			// Drop the connection rather than end the INSERT, so that no
			// partial batch is committed.
			batch.Abort()
			return fmt.Errorf("sinks: clickhouse: append row %d to %s: %w", i, table, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("sinks: clickhouse %s: insert %d rows into %s.%s: %w", s.opts.Addr, len(rows), s.opts.Database, table, err)
	}
	return nil
}

// Close closes the connections.
func (s *ClickHouseSink) Close() error {
	if err := s.conn.Close(); err != nil {
		return fmt.Errorf("sinks: clickhouse %s: close: %w", s.opts.Addr, err)
	}
	return nil
}
