// Package sinks carries what rekindle decides and observes out of the
// processor: synchronous, acks=all Kafka producers for decisions and facts,
// and the Loader, which batches rekindle's topics into ClickHouse (or
// JSONEachRow files) at least once, into tables that collapse replays.
package sinks
