package segment

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"unsafe"
	"syscall"
)

func threadCPU() int64 {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3 /*CLOCK_THREAD_CPUTIME_ID*/, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

func TestCPUTmp(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d := NewDecoder(DecoderOptions{})
	var ev Event
	measure := func(name string, f func()) {
		best := int64(1 << 62)
		for r := 0; r < 7; r++ {
			const n = 200000
			t0 := threadCPU()
			for i := 0; i < n; i++ { f() }
			if el := (threadCPU() - t0) / n; el < best { best = el }
		}
		fmt.Printf("%-20s %5d ns/op (thread CPU)\n", name, best)
	}
	for _, in := range benchEvents {
		data := []byte(in.json)
		measure(in.name, func() { d.Decode(data, now, &ev) })
		measure(in.name+" json.Valid", func() { json.Valid(data) })
	}
}
