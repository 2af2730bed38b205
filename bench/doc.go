// Package bench holds rekindle's workload generator and benchmark runners as
// a library; cmd/ binds flags to it. The generator's output is a pure
// function of its configuration: the same seed gives the same records, byte
// for byte.
package bench
