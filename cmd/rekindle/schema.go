package main

import (
	"fmt"
	"io"

	"github.com/rekindle/rekindle/sinks"
)

// cmdSchema prints the ClickHouse DDL, for loading JSONEachRow files by hand:
// rekindle schema | clickhouse-client --multiquery
func cmdSchema(args []string, out io.Writer) error {
	fs := newFlags("schema")
	database := fs.String("database", sinks.DefaultDatabase, "ClickHouse database")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	stmts, err := sinks.SchemaDDL(*database)
	if err != nil {
		return err
	}
	for _, s := range stmts {
		fmt.Fprintf(out, "%s;\n", s)
	}
	return nil
}
