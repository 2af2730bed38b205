// Package state stores rekindle's per-partition state in Pebble: user
// records in a compact versioned encoding, each partition's next input
// offset, dense-id sequence and dense-id index, timer index and snapshot
// blobs, all keyed by partition so that a partition can be dropped or handed
// over on its own. A Batch commits a partition's writes and its next offset
// atomically, so after a crash state and offset always agree (nothing
// applied twice or skipped); the package knows nothing about Kafka.
package state
