package sinks

import (
	"fmt"
	"strings"
)

// DefaultDatabase is the ClickHouse database the loader writes to.
const DefaultDatabase = "rekindle"

// Tables the loader writes.
const (
	TableEvents         = "events"
	TableDecisions      = "decisions"
	TableSuppressions   = "suppressions"
	TableConsentChanges = "consent_changes"
	TableSegmentChanges = "segment_changes"
	TableSegmentSizes   = "segment_sizes"
	TableDLQ            = "dlq"
)

// Column is one column of a loader table: its name and ClickHouse type.
type Column struct {
	Name string
	Type string
}

// Table describes a loader table. Every table is a ReplacingMergeTree whose
// sorting key is the id that identifies a record across replays, and whose
// partition key derives from the record itself, so that a record loaded twice
// (at-least-once delivery after a crash) collapses into one row on merge or
// with SELECT ... FINAL.
type Table struct {
	Name        string
	Columns     []Column
	PartitionBy string // partition key expression
	OrderBy     []string
}

// Row is one row of a table: values in the order of Table.Columns, typed
// Date/DateTime: time.Time (UTC), String: string, UInt8: uint8,
// UInt32: uint32, UInt64: uint64.
type Row []any

// Tables returns the loader's tables. The DDL uses only types and clauses that
// ClickHouse 18.16 understands (no LowCardinality, DateTime64, Map or TTL), so
// it runs there and on current releases alike.
func Tables() []Table {
	return []Table{
		{
			Name: TableEvents,
			Columns: []Column{
				{"event_date", "Date"},
				{"event_time", "DateTime"},
				{"message_id", "String"},
				{"user_id", "String"},
				{"anonymous_id", "String"},
				{"type", "String"},
				{"event", "String"},
				{"properties", "String"},
				{"topic", "String"},
				{"partition", "UInt32"},
				{"offset", "UInt64"},
			},
			PartitionBy: "toYYYYMM(`event_date`)",
			OrderBy:     []string{"topic", "partition", "offset"},
		},
		{
			Name: TableDecisions,
			Columns: []Column{
				{"decision_date", "Date"},
				{"decided_at", "DateTime"},
				{"send_at", "DateTime"},
				{"decision_id", "String"},
				{"campaign_id", "String"},
				{"user_id", "String"},
				{"channel", "String"},
				{"template", "String"},
				{"trigger_event", "String"},
				{"trigger_message_id", "String"},
				{"trigger_timer", "String"},
				{"attributes", "String"},
				{"topic", "String"},
				{"partition", "UInt32"},
				{"offset", "UInt64"},
			},
			PartitionBy: "toYYYYMM(`decision_date`)",
			OrderBy:     []string{"decision_id"},
		},
		{
			Name: TableSuppressions,
			Columns: []Column{
				{"fact_id", "String"},
				{"at", "DateTime"},
				{"user_id", "String"},
				{"campaign_id", "String"},
				{"channel", "String"},
				{"reason", "String"},
				{"cause", "String"},
				{"message_id", "String"},
			},
			PartitionBy: "toYYYYMM(`at`)",
			OrderBy:     []string{"fact_id"},
		},
		{
			Name: TableConsentChanges,
			Columns: []Column{
				{"fact_id", "String"},
				{"at", "DateTime"},
				{"user_id", "String"},
				{"channel", "String"},
				{"from", "String"},
				{"to", "String"},
				{"cause", "String"},
				{"message_id", "String"},
			},
			PartitionBy: "toYYYYMM(`at`)",
			OrderBy:     []string{"fact_id"},
		},
		{
			Name: TableSegmentChanges,
			Columns: []Column{
				{"fact_id", "String"},
				{"at", "DateTime"},
				{"user_id", "String"},
				{"segment", "String"},
				{"entered", "UInt8"},
				{"cause", "String"},
			},
			PartitionBy: "toYYYYMM(`at`)",
			OrderBy:     []string{"fact_id"},
		},
		{
			// One row per segment per partition per sizes interval: the
			// size of a segment at a time is the sum over partitions.
			Name: TableSegmentSizes,
			Columns: []Column{
				{"fact_id", "String"},
				{"at", "DateTime"},
				{"segment", "String"},
				{"partition", "UInt32"},
				{"size", "UInt64"},
			},
			PartitionBy: "toYYYYMM(`at`)",
			OrderBy:     []string{"fact_id"},
		},
		{
			// at is when the record was dead-lettered (the DLQ record's
			// Kafka timestamp), so that a reloaded record lands in the same
			// partition and collapses.
			Name: TableDLQ,
			Columns: []Column{
				{"at", "DateTime"},
				{"reason", "String"},
				{"error", "String"},
				{"source_topic", "String"},
				{"source_partition", "UInt32"},
				{"source_offset", "UInt64"},
				{"payload", "String"},
				{"topic", "String"},
				{"partition", "UInt32"},
				{"offset", "UInt64"},
			},
			PartitionBy: "toYYYYMM(`at`)",
			OrderBy:     []string{"topic", "partition", "offset"},
		},
	}
}

// tableByName returns the loader table called name.
func tableByName(name string) (Table, bool) {
	for _, t := range Tables() {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

// SchemaDDL returns the statements that create database and the loader's
// tables if they do not exist yet, in order.
func SchemaDDL(database string) ([]string, error) {
	if err := validIdentifier(database); err != nil {
		return nil, err
	}
	stmts := []string{"CREATE DATABASE IF NOT EXISTS " + quoteIdent(database)}
	for _, t := range Tables() {
		stmts = append(stmts, t.createStatement(database))
	}
	return stmts, nil
}

func (t Table) createStatement(database string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s.%s (\n", quoteIdent(database), quoteIdent(t.Name))
	for i, c := range t.Columns {
		sep := ","
		if i == len(t.Columns)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "    %s %s%s\n", quoteIdent(c.Name), c.Type, sep)
	}
	fmt.Fprintf(&b, ") ENGINE = ReplacingMergeTree()\nPARTITION BY %s\nORDER BY (%s)\nSETTINGS index_granularity = 8192",
		t.PartitionBy, quoteIdents(t.OrderBy))
	return b.String()
}

// insertStatement is the INSERT that names every column explicitly (which
// clickhouse-go needs to talk to ClickHouse 18.16).
func (t Table) insertStatement(database string) string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return fmt.Sprintf("INSERT INTO %s.%s (%s)", quoteIdent(database), quoteIdent(t.Name), quoteIdents(names))
}

func quoteIdent(s string) string { return "`" + s + "`" }

func quoteIdents(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quoteIdent(n)
	}
	return strings.Join(q, ", ")
}

// validIdentifier accepts the names the loader puts into SQL unquoted by the
// caller: letters, digits and underscores, not starting with a digit.
func validIdentifier(name string) error {
	if name == "" {
		return fmt.Errorf("sinks: empty ClickHouse identifier")
	}
	for i, r := range name {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return fmt.Errorf("sinks: ClickHouse identifier %q: only letters, digits and '_' allowed", name)
		}
	}
	return nil
}
