// Package bitmap keeps segment membership as roaring bitmaps: a Catalog maps
// segment names to small ids, a Registry holds one partition's bitmaps (safe
// for one writer and any number of concurrent readers) and snapshots them as
// versioned, checksummed bytes keyed by segment name, and an Expr evaluates
// and/or/not expressions over segments, for one user or for whole partitions.
package bitmap
