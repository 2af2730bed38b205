// Package stream is rekindle's processing: partition workers that own a
// Kafka partition's state, the pure decision logic (apply an event to a
// user record, recompute segments, decide sends) shared by the live
// pipeline, replay and benchmarks, and lazy timers for absence segments.
// Outputs of every batch are acknowledged before the next batch is read;
// state and offset commit together every state.commit_interval, after the
// outputs they cover. Output ids are deterministic, so a crash re-emits
// identical records for the inputs after the last commit and never applies
// an input twice.
package stream
