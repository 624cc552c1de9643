; double_buffer.s -- a tiled matmul whose weight loads overlap the matmuls (double buffering).
; C[16 x 64] = A[16 x 64] B[64 x 64] in four 16-column tiles of B. Channel 0 loads B tiles into
; two SRAM slots; the matmul tile works on one slot while the next tile streams into the other.
; Semaphores: 0/1 = "slot 0/1 full" (DMA -> mm), 2/3 = "slot 0/1 free" (mm -> DMA).
.equ A_SRAM, 0x0000     ; 16 x 64 int8
.equ SLOT0, 0x0400      ; 64 x 16 int8
.equ SLOT1, 0x0800
.equ C_SRAM, 0x1000     ; 16 x 16 int32 per tile, 4 tiles
dma.ld 1, 0, A_SRAM, 0, 16, 64, 64, 64
signal dma1, 4
wait mm, 4
; tile 0 and 1 fill both slots
dma.ld 0, 1, SLOT0, 0, 64, 16, 64, 16
signal dma0, 0
dma.ld 0, 1, SLOT1, 16, 64, 16, 64, 16
signal dma0, 1
; tile 0
wait mm, 0
mm os, set, i8, nobias, i32, 16, 16, 64, A_SRAM, SLOT0, C_SRAM, i8, i8
signal mm, 2
; tile 2 into slot 0 once tile 0 is done with it
wait dma0, 2
dma.ld 0, 1, SLOT0, 32, 64, 16, 64, 16
signal dma0, 0
; tile 1
wait mm, 1
mm os, set, i8, nobias, i32, 16, 16, 64, A_SRAM, SLOT1, C_SRAM + 1024, i8, i8
signal mm, 3
wait dma0, 3
dma.ld 0, 1, SLOT1, 48, 64, 16, 64, 16
signal dma0, 1
; tiles 2 and 3
wait mm, 0
mm os, set, i8, nobias, i32, 16, 16, 64, A_SRAM, SLOT0, C_SRAM + 2048, i8, i8
wait mm, 1
mm os, set, i8, nobias, i32, 16, 16, 64, A_SRAM, SLOT1, C_SRAM + 3072, i8, i8
signal mm, 5
wait dma1, 5
dma.st 1, 2, C_SRAM, 0, 1, 4096, 4096, 4096
end
