package sinks

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// FileSink appends rows to <dir>/<table>.jsonl in ClickHouse's JSONEachRow
// format, one object per row with the table's column names: Date as
// "YYYY-MM-DD", DateTime as Unix seconds, integers as numbers, strings as JSON
// strings. A file loads with
//
//	clickhouse-client --query "INSERT INTO rekindle.events FORMAT JSONEachRow" < events.jsonl
//
// Each Insert is one write followed by fsync. Strings that are not valid UTF-8
// (a dead-lettered payload can be anything) are written with U+FFFD in place
// of the invalid bytes. FileSink is safe for concurrent use.
type FileSink struct {
	dir string

	mu struct {
		sync.Mutex
		files map[string]*os.File
		buf   []byte
	}
}

var _ RowSink = (*FileSink)(nil)

// NewFileSink writes into dir, creating it if needed.
func NewFileSink(dir string) (*FileSink, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sinks: file sink: %w", err)
	}
	s := &FileSink{dir: dir}
	s.mu.files = map[string]*os.File{}
	return s, nil
}

// Path returns the file rows of table are appended to.
func (s *FileSink) Path(table string) string { return filepath.Join(s.dir, table+".jsonl") }

// Insert appends rows to the table's file.
func (s *FileSink) Insert(ctx context.Context, table string, rows []Row) error {
	t, ok := tableByName(table)
	if !ok {
		return fmt.Errorf("sinks: file sink: unknown table %q", table)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := s.mu.buf[:0]
	for i, r := range rows {
		var err error
		if buf, err = appendJSONRow(buf, t, r); err != nil {
			return fmt.Errorf("sinks: file sink: row %d of %s: %w", i, table, err)
		}
	}
	s.mu.buf = buf
	f, err := s.file(table)
	if err != nil {
		return err
	}
	if _, err := f.Write(buf); err != nil {
		return fmt.Errorf("sinks: file sink: append to %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sinks: file sink: sync %s: %w", f.Name(), err)
	}
	return nil
}

func (s *FileSink) file(table string) (*os.File, error) {
	if f, ok := s.mu.files[table]; ok {
		return f, nil
	}
	f, err := os.OpenFile(s.Path(table), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sinks: file sink: %w", err)
	}
	s.mu.files[table] = f
	return f, nil
}

// Close closes the files.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for table, f := range s.mu.files {
		if err := f.Close(); err != nil && first == nil {
			first = fmt.Errorf("sinks: file sink: close %s: %w", f.Name(), err)
		}
		delete(s.mu.files, table)
	}
	return first
}

// appendJSONRow appends r as one JSONEachRow line.
func appendJSONRow(buf []byte, t Table, r Row) ([]byte, error) {
	if len(r) != len(t.Columns) {
		return buf, fmt.Errorf("%d values for %d columns", len(r), len(t.Columns))
	}
	buf = append(buf, '{')
	for i, c := range t.Columns {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, c.Name)
		buf = append(buf, ':')
		var err error
		if buf, err = appendJSONValue(buf, c, r[i]); err != nil {
			return buf, err
		}
	}
	return append(buf, '}', '\n'), nil
}

func appendJSONValue(buf []byte, c Column, v any) ([]byte, error) {
	switch c.Type {
	case "Date":
		t, ok := v.(time.Time)
		if !ok {
			break
		}
		return append(append(append(buf, '"'), t.UTC().Format(time.DateOnly)...), '"'), nil
	case "DateTime":
		t, ok := v.(time.Time)
		if !ok {
			break
		}
		return strconv.AppendInt(buf, t.Unix(), 10), nil
	case "String":
		s, ok := v.(string)
		if !ok {
			break
		}
		return appendJSONString(buf, s), nil
	case "UInt8":
		if n, ok := v.(uint8); ok {
			return strconv.AppendUint(buf, uint64(n), 10), nil
		}
	case "UInt32":
		if n, ok := v.(uint32); ok {
			return strconv.AppendUint(buf, uint64(n), 10), nil
		}
	case "UInt64":
		if n, ok := v.(uint64); ok {
			return strconv.AppendUint(buf, n, 10), nil
		}
	}
	return buf, fmt.Errorf("column %s %s: unexpected value of type %T", c.Name, c.Type, v)
}

func appendJSONString(buf []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(buf, b...)
}
