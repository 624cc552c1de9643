; every expression form and directive the assembler takes
.equ BASE, 0x100
SIZE = (BASE << 2) | 0b1010 & ~3
.equ NEG, -(SIZE % 7) + 3 * 2 / 1 - (1 >> 0)
mm.cfg 0x40, 1234, 7
v.un gelu, f32, 0, BASE, 1, 16, 1.5e-2
v.un addi, f32, 0, BASE, 1, 16, bits(0x3e000000)
v.norm rms, gamma, 0x400, 0x800, 0xc00, 2, 64, 5
sm causal, 0, 0x200, 64, 2, 0x1000, NEG
.insn 0x000000000000000000000000000001
nop # a comment
barrier
end
