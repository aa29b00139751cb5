#include "textflag.h"

// func jsonStopAVX2(s []byte) (n int, high bool)
//
// Per 32 bytes: a mask of the stop bytes ('"', '\\', or <= 0x1f, found as
// min(x, 0x1f) == x) and a mask of the bytes >= 0x80 (their sign bits).
TEXT ·jsonStopAVX2(SB), NOSPLIT, $0-33
	MOVQ s_base+0(FP), SI
	MOVQ s_len+8(FP), BX
	ANDQ $~31, BX          // bytes in whole blocks
	XORQ AX, AX            // index of the block
	XORL DX, DX            // high-byte masks so far, ORed
	MOVL $0x22, R8
	VMOVD R8, X1
	VPBROADCASTB X1, Y1    // '"'
	MOVL $0x5c, R8
	VMOVD R8, X2
	VPBROADCASTB X2, Y2    // '\\'
	MOVL $0x1f, R8
	VMOVD R8, X3
	VPBROADCASTB X3, Y3    // 0x1f

loop:
	CMPQ AX, BX
	JAE  done
	VMOVDQU (SI)(AX*1), Y0
	VPCMPEQB Y0, Y1, Y4
	VPCMPEQB Y0, Y2, Y5
	VPOR     Y4, Y5, Y4
	VPMINUB  Y0, Y3, Y5
	VPCMPEQB Y0, Y5, Y5
	VPOR     Y4, Y5, Y4
	VPMOVMSKB Y4, R9
	VPMOVMSKB Y0, R10
	TESTL R9, R9
	JNZ   found
	ORL   R10, DX
	ADDQ  $32, AX
	JMP   loop

found:
	TZCNTL R9, CX          // the first stop byte's place in the block
	ADDQ   CX, AX
	MOVL   $1, R11
	SHLL   CX, R11
	DECL   R11             // the bytes before it
	ANDL   R11, R10
	ORL    R10, DX

done:
	VZEROUPPER
	MOVQ  AX, n+24(FP)
	TESTL DX, DX
	SETNE high+32(FP)
	RET
