#include "textflag.h"

// func quoteMasks(data *byte, blocks int, q *uint64, carry uint64) (flags, carryOut uint64)
//
// For each 64-byte block of data: q[b] gets a bit per '"' (bit k for byte
// 64b+k). flags collects, over all blocks, whether a backslash was seen
// (bit 0), a byte from 0x80 up (bit 1), and a control character (below
// 0x20) between an odd and the next even quote, that is inside a string when
// there are no escapes (bit 2). carry is all ones when data starts inside a
// string (an odd number of quotes before it), else zero; carryOut is the
// same after the last block. It stops after the first block that sets
// bit 0 or 2: the masks and carry after it are then missing.
TEXT ·quoteMasks(SB), NOSPLIT, $0-48
	MOVQ data+0(FP), SI
	MOVQ blocks+8(FP), CX
	MOVQ q+16(FP), DI
	MOVQ carry+24(FP), DX
	XORQ R12, R12            // control characters inside strings

	MOVQ $0x22, AX
	VMOVQ AX, X10
	VPBROADCASTB X10, Y10    // '"'
	MOVQ $0x5c, AX
	VMOVQ AX, X11
	VPBROADCASTB X11, Y11    // '\\'
	MOVQ $0x20, AX
	VMOVQ AX, X12
	VPBROADCASTB X12, Y12    // ' '
	VPXOR Y13, Y13, Y13      // backslashes seen
	VPXOR Y14, Y14, Y14      // high bits seen

	TESTQ CX, CX
	JZ done

loop:
	VMOVDQU (SI), Y0
	VMOVDQU 32(SI), Y1

	// quotes
	VPCMPEQB Y10, Y0, Y2
	VPCMPEQB Y10, Y1, Y3
	VPMOVMSKB Y2, AX
	VPMOVMSKB Y3, BX
	SHLQ $32, BX
	ORQ  BX, AX
	MOVQ AX, (DI)

	// backslashes and bytes from 0x80 up, accumulated
	VPCMPEQB Y11, Y0, Y2
	VPCMPEQB Y11, Y1, Y3
	VPOR Y2, Y13, Y13
	VPOR Y3, Y13, Y13
	VPOR Y0, Y14, Y14
	VPOR Y1, Y14, Y14

	// control characters: signed 0x20 > b, and b not from 0x80 up
	VPCMPGTB Y0, Y12, Y2
	VPCMPGTB Y1, Y12, Y3
	VPMOVMSKB Y2, R8
	VPMOVMSKB Y3, R9
	SHLQ $32, R9
	ORQ  R9, R8
	VPMOVMSKB Y0, R10
	VPMOVMSKB Y1, R11
	SHLQ $32, R11
	ORQ  R11, R10
	NOTQ R10
	ANDQ R10, R8
	JZ   flip

	// inside strings: the prefix XOR of the quotes, flipped by the carry
	MOVQ AX, R9
	MOVQ R9, R11
	SHLQ $1, R11
	XORQ R11, R9
	MOVQ R9, R11
	SHLQ $2, R11
	XORQ R11, R9
	MOVQ R9, R11
	SHLQ $4, R11
	XORQ R11, R9
	MOVQ R9, R11
	SHLQ $8, R11
	XORQ R11, R9
	MOVQ R9, R11
	SHLQ $16, R11
	XORQ R11, R9
	MOVQ R9, R11
	SHLQ $32, R11
	XORQ R11, R9
	XORQ DX, R9
	ANDQ R8, R9
	ORQ  R9, R12

flip:
	// an odd number of quotes in the block flips the carry
	POPCNTQ AX, AX
	ANDQ $1, AX
	NEGQ AX
	XORQ AX, DX

	// a backslash or a control character inside a string rules the index
	// out: no need to look further
	VPTEST Y13, Y13
	JNZ  done
	TESTQ R12, R12
	JNZ  done

	ADDQ $64, SI
	ADDQ $8, DI
	DECQ CX
	JNZ  loop

done:
	XORQ AX, AX
	VPMOVMSKB Y13, BX
	TESTL BX, BX
	JZ   nobs
	ORQ  $1, AX
nobs:
	VPMOVMSKB Y14, BX
	TESTL BX, BX
	JZ   nohigh
	ORQ  $2, AX
nohigh:
	TESTQ R12, R12
	JZ   noctl
	ORQ  $4, AX
noctl:
	VZEROUPPER
	MOVQ AX, flags+32(FP)
	MOVQ DX, carryOut+40(FP)
	RET
