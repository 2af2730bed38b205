// Package stream is rekindle's processing: partition workers that own a
// Kafka partition's state, the pure decision logic (apply an event to a
// user record, recompute segments, decide sends) shared by the live
// pipeline, replay and benchmarks, and lazy timers for absence segments.
// Outputs of a batch are acknowledged before its state and offset commit
// together, and output ids are deterministic, so a crash re-emits identical
// records and never applies an input twice.
package stream
