/* npu_attention.h -- the SRAM plan of the fused attention kernel (NPU_OP_ATTENTION, npu_abi.h),
 * shared by the firmware, which allocates its regions from it (firmware/src/ops/op_attention.c),
 * and the host's lowering, which picks the key block (the descriptor's iattr[0]) so that the plan
 * fits the device's SRAM (runtime/npu). One formula on both sides: a key block the host chooses
 * is one the firmware accepts.
 *
 * For a block of `br` query rows and `bc` keys the kernel keeps in SRAM, each region rounded up
 * to NPU_ATTN_ALIGN_BYTES and the streamed ones twice (double buffering):
 *   q    the query rows [br, d] (int8)
 *   k    the key block as K^T [d, bc] (int8), plus [bc, d] as loaded when keys come as rows
 *   v    the value block [bc, dv] (int8) in column tiles of the array's width
 *   s    the scores [br, bc] (int32, then f32 in place), plus the mask block [br, bc] (f32, the
 *        int8 mask dequantised in place) when there is a mask
 *   p    the probabilities exp(s - m) quantised to int8 [br, bc]
 *   acc  P V and the row sums of P [br, dv + 1] (int32)
 *   out  the output rows [br, dv] (f32, then the output type in place)
 * and once: a column of bc int8 ones (P's row sums come out of the array as one more column) and
 * the running state [br] x (dv + 5 + key tiles) f32: O, l, two m, two alpha, the per-tile maxima.
 */
#ifndef M4NPU_NPU_ATTENTION_H
#define M4NPU_NPU_ATTENTION_H

#include <stdint.h>

#define NPU_ATTN_ALIGN_BYTES 64u
/* exp(s - m) is in (0, 1]; the array multiplies it as int8 0..127 (the row's maximum is 127) */
#define NPU_ATTN_P_SCALE (1.0f / 127.0f)
/* Query rows per block at most: enough that a long key sequence is streamed few times. */
#define NPU_ATTN_MAX_QUERY_ROWS 1024u
/* The online softmax's key block the host prefers: long enough that rescaling (once per block) and
 * the per-block instructions cost little, short enough that many query rows fit beside it and
 * that the next block's loads and scores overlap this one's softmax. Measured on mobile-default
 * with the online softmax (npu-attention-bench ... npu.softmax.max_len=64): 128, 256, 512, 1024
 * keys give a 2048-token prefill layer's attention 77.6, 72.4, 73.2, 77.6 ms and a decode step's
 * (2048 keys) 0.75, 0.83, 0.94, 1.06 ms. (With the softmax tile the block is every key.) */
#define NPU_ATTN_KEY_BLOCK_PREFERRED 256u
#define NPU_ATTN_F32_BYTES 4u
/* State vectors of br f32 beside O: l, m (two, ping-pong), alpha (two, one per block in flight). */
#define NPU_ATTN_STATE_VECTORS 5u
#define NPU_ATTN_SLOTS 2u

typedef struct npu_attn_shape {
    uint64_t d;          /* query/key width */
    uint64_t dv;         /* value width */
    uint64_t bc;         /* keys per block */
    uint64_t tile_cols;  /* the array's columns: key tiles and value tiles are this wide */
    int mask;            /* 1: an additive mask */
    int k_rows;          /* 1: keys come as rows [lk, d] (transposed in SRAM) */
} npu_attn_shape;

typedef struct npu_attn_sram {
    uint64_t q, k, v, s, p, acc, out; /* one slot each */
    uint64_t ones, state;
    uint64_t total;                   /* every region, streamed ones twice */
} npu_attn_sram;

static inline uint64_t npu_attn_align(uint64_t bytes)
{
    return (bytes + NPU_ATTN_ALIGN_BYTES - 1) / NPU_ATTN_ALIGN_BYTES * NPU_ATTN_ALIGN_BYTES;
}

static inline uint64_t npu_attn_key_tiles(const npu_attn_shape *sh)
{
    return (sh->bc + sh->tile_cols - 1) / sh->tile_cols;
}

/* The plan for `br` query rows. */
static inline void npu_attn_sram_plan(const npu_attn_shape *sh, uint64_t br, npu_attn_sram *p)
{
    const uint64_t f = NPU_ATTN_F32_BYTES;
    p->q = npu_attn_align(br * sh->d);
    p->k = npu_attn_align(sh->d * sh->bc * (sh->k_rows ? 2 : 1));
    p->v = npu_attn_align(sh->bc * sh->dv);
    p->s = npu_attn_align(f * br * sh->bc * (sh->mask ? 2 : 1));
    p->p = npu_attn_align(br * sh->bc);
    p->acc = npu_attn_align(f * br * (sh->dv + 1));
    p->out = npu_attn_align(f * br * sh->dv);
    p->ones = npu_attn_align(NPU_ATTN_F32_BYTES * sh->bc); /* built as f32 ones, quantised in place */
    p->state = npu_attn_align(f * br * (sh->dv + NPU_ATTN_STATE_VECTORS + npu_attn_key_tiles(sh)));
    p->total = NPU_ATTN_SLOTS * (p->q + p->k + p->v + p->s + p->p + p->acc + p->out) + p->ones + p->state;
}

static inline uint64_t npu_attn_sram_bytes(const npu_attn_shape *sh, uint64_t br)
{
    npu_attn_sram p;
    npu_attn_sram_plan(sh, br, &p);
    return p.total;
}

#endif
