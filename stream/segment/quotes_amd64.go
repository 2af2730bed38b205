package segment

import "golang.org/x/sys/cpu"

// canIndexQuotes reports whether quoteMasks can run here (AVX2 and POPCNT).
var canIndexQuotes = cpu.X86.HasAVX2 && cpu.X86.HasPOPCNT

// quoteMasks is described in quotes_amd64.s; quoteMasksGo is its reference.
//
//go:noescape
func quoteMasks(data *byte, blocks int, q *uint64, carry uint64) (flags, carryOut uint64)
