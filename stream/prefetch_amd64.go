package stream

import "unsafe"

// prefetchLines hints the CPU to load the cache lines of the n bytes at p
// (at least the first line, even for n == 0). It never faults: a prefetch
// of an address that is not mapped is dropped.
//
//go:noescape
func prefetchLines(p unsafe.Pointer, n uintptr)
