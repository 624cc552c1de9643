; attention.s -- one attention-score block of a transformer head:
;     P = softmax(causal(requant(Q K^T)))   for 16 queries and 16 keys, head dimension 64
; Run:  m4npu exec examples/attention.s --config configs/test.yaml \
;           --load 0x0=q.bin --load 0x10000=kt.bin --dump 0x20000:256=p.bin
; Buffers (exec's default layout, 64 KiB each): 0 = Q (16 x 64 int8), 1 = K^T (64 x 16 int8),
; 2 = P (16 x 16 int8 probabilities in Q0.7). A test checks P against a C reference.

.equ T, 16              ; tokens (queries = keys)
.equ D, 64              ; head dimension
.equ Q_SRAM, 0x0000     ; T x D int8
.equ KT_SRAM, 0x0400    ; D x T int8
.equ S_SRAM, 0x0800     ; T x T int8 scores
.equ P_SRAM, 0x0900     ; T x T int8 probabilities

; Q on channel 0 and K^T on channel 1, in parallel
dma.ld 0, 0, Q_SRAM, 0, T, D, D, D
dma.ld 1, 1, KT_SRAM, 0, D, T, T, T
signal dma0, 0
signal dma1, 1
wait mm, 0
wait mm, 1

; scores: int32 Q K^T requantised to int8 as (x * 1 + 256) >> 9
mm.cfg 0, 1, 9
mm os, set, i8, nobias, rq, T, T, D, Q_SRAM, KT_SRAM, S_SRAM, i8, i8
signal mm, 2
wait sm, 2

; row softmax with a causal mask; scale 0.1807 * log2(e) = 0.2607 in Q4.12
sm causal, S_SRAM, P_SRAM, T, T, 1068, 0
signal sm, 3
wait dma0, 3
dma.st 0, 2, P_SRAM, 0, T, T, T, T
end
