//go:build !amd64

package stream

import "unsafe"

// prefetchLines does nothing on this architecture (see prefetch_amd64.go).
func prefetchLines(p unsafe.Pointer, n uintptr) {}
