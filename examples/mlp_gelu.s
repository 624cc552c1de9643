; mlp_gelu.s -- one MLP step on the vector unit: y = quant(gelu(dequant(x W + b)))
; x: 8 x 32 int8 (buffer 0), W: 32 x 16 int8 (buffer 1), b: 16 int32 (buffer 2), y: 8 x 16 int8 (buffer 3)
.equ X, 0x0000
.equ W, 0x0100
.equ BIAS, 0x0300
.equ ACC, 0x0400        ; 8 x 16 int32
.equ F, 0x0600          ; 8 x 16 f32
.equ Y, 0x0800
dma.ld 0, 0, X, 0, 8, 32, 32, 32
dma.ld 0, 1, W, 0, 32, 16, 16, 16
dma.ld 0, 2, BIAS, 0, 1, 64, 64, 64
signal dma0, 0
wait mm, 0
mm.cfg BIAS, 1, 0
mm os, set, i8, bias, i32, 8, 16, 32, X, W, ACC, i8, i8
signal mm, 1
wait vec, 1
v.dequant i32, F, ACC, 128, 0.001
v.un gelu, f32, F, F, 8, 16, 0.0
v.quant Y, F, 128, 0.05
signal vec, 2
wait dma1, 2
dma.st 1, 3, Y, 0, 8, 16, 16, 16
end
