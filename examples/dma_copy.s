; dma_copy.s -- a 2-D strided copy through SRAM on two DMA channels.
; Reads a 32 x 48-byte tile out of a 64-byte-pitch image in buffer 0, stores it densely into
; buffer 1. The store waits for the load through semaphore 0.
.equ ROWS, 32
.equ COLS, 48
.equ PITCH, 64
dma.ld 0, 0, 0x0, 0x10, ROWS, COLS, PITCH, COLS
signal dma0, 0
wait dma1, 0
dma.st 1, 1, 0x0, 0x0, ROWS, COLS, COLS, COLS
end
