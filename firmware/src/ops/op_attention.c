/* op_attention.c -- NPU_OP_ATTENTION: out = softmax(alpha Q K^T (+ mask)) V with the scores on
 * chip, the softmax computed online over key blocks (flash attention's rescaling), or on the
 * softmax tile when one block holds every key.
 *
 * For each matrix g, each block of `br` query rows, each block of `bc` keys (an "item"):
 *   mm   S = Q K^T in int32, one mm per array-wide key tile (and array-high row tile)
 *   vec  S -> f32 (x alpha sq sk), + mask, then
 *        online: row maxima m' = max(m, max S), alpha = exp(m - m'), P = exp(S - m') quantised to
 *                int8 (1/127: the row's largest is 127)
 *        tile:   S quantised to int8 and gathered into whole rows
 *   sm   (tile) P = the tile's softmax of each row, int8 Q0.7
 *   mm   online: [P V | P 1] in int32, tile by key tile (the ones column gives P's exact row
 *        sums); tile: P V in one pass over every key
 *   vec  online: O = O alpha + (P V) sv, l = l alpha + sum P (the first block of a row block sets
 *        them)
 * and after a row block's last key block O / l (online) or (P V) sv / 128 (tile) is quantised and
 * stored. Scores, probabilities and the running state never leave the SRAM: DRAM sees Q, K, V,
 * the mask and the output only.
 *
 * Each SRAM stage is a pipe (fw_ops.h) and the items are emitted skewed, so that the array
 * computes the next item's scores and this item's P V while the vector unit works on this one:
 * per item i the order is loads(i+1) [transpose(i+1)] QK(i+1) V1(i) [SM(i)] PV(i) V2(i-1) [OUT].
 * The regions and their sizes are npu_attention.h's plan (the host picks the key block with the
 * same formula; this kernel picks the query rows per block, as many as fit). Keys given as rows
 * are transposed in SRAM (v.mov) once per item. The exact arithmetic is README.md's ("ATTENTION").
 */
#include "fw_ops.h"

#include <stdio.h>
#include <string.h>

#include "isa_exec.h"
#include "npu_attention.h"

_Static_assert(NPU_ATTN_ALIGN_BYTES == FW_SRAM_ALIGN_BYTES, "the shared SRAM plan aligns as fw_sram_alloc does");

#define F32_BYTES 4u
#define FLT_MAX_F 3.402823466e38f
#define LOG2_E 1.4426950408889634

typedef struct at_plan {
    uint64_t G, Lq, Lk, D, Dv;
    uint64_t bc, nkb;   /* keys per block, key blocks */
    uint64_t br, nqb;   /* query rows per block, row blocks per matrix */
    uint64_t nb;        /* key tile width: the array's columns */
    uint64_t vc, ndv;   /* value tile width (the array's columns), value tiles */
    uint64_t mt;        /* the array's rows */
    int k_rows, mask, qk_ws, pv_ws;
    int tile;           /* the softmax tile on whole rows (one key block) */
    float s_in;         /* tile: the int8 scores' scale */
    uint32_t scale_q;   /* tile: the sm instruction's scale */
    float s_out;        /* tile: P V -> f32, fl(sv * 1/128) */
    uint32_t mask_buf, mask_esz;
    uint64_t mask_off, mask_mats, mask_div;
    float sd, sv, smask;
    uint32_t osz;
    npu_attn_shape sh;
    npu_attn_sram sram;
} at_plan;

static int finite_pos(float x) { return x > 0.0f && x <= FLT_MAX_F; }

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* Rows of one mm and its cycles (sim/README.md's tile formulas) for m rows, depth k, width n. */
static int prefer_ws(uint64_t m, uint64_t k, uint64_t n, uint64_t mt)
{
    if (k > mt)
        return 0;
    uint64_t mo = m < mt ? m : mt;
    uint64_t os = (m + mt - 1) / mt * (k + 2 * mo + n - 1), ws = 2 * k + m + n - 1;
    return ws < os;
}

static int check_3d(const fw_op_ctx *c, const npu_tensor_ref *t, const char *what, int int8_only, char *why,
                    size_t whylen)
{
    if (fw_check_act(c, t, what, why, whylen))
        return -1;
    if (int8_only && t->dtype != NPU_DT_I8)
        return fw_refuse(why, whylen, "%s: dtype %s (the array reads int8)", what, fw_dtype_name(t->dtype));
    if (t->rank != 3)
        return fw_refuse(why, whylen, "%s: rank %u (expected 3: matrices, rows, columns)", what, t->rank);
    return 0;
}

static int at_plan_make(const fw_op_ctx *c, const npu_op_desc *d, at_plan *p, char *why, size_t whylen)
{
    const npu_tensor_ref *q = &d->in[0], *k = &d->in[1], *v = &d->in[2], *o = &d->out;
    memset(p, 0, sizeof *p);
    if (!c->info->fused_attention)
        return fw_refuse(why, whylen, "the fused attention kernel is off in this configuration (npu.fused_attention)");
    if (d->n_inputs != 3)
        return fw_refuse(why, whylen, "needs 3 inputs (Q, K, V), has %u", d->n_inputs);
    if (check_3d(c, q, "in0 (Q)", 1, why, whylen) || check_3d(c, k, "in1 (K)", 1, why, whylen) ||
        check_3d(c, v, "in2 (V)", 1, why, whylen) || check_3d(c, o, "out", 0, why, whylen))
        return -1;
    if (d->iattr[1] != NPU_ATTN_K_TRANSPOSED && d->iattr[1] != NPU_ATTN_K_ROWS)
        return fw_refuse(why, whylen, "iattr[1] (key layout) = %d (expected 0 or 1)", d->iattr[1]);
    p->k_rows = d->iattr[1] == NPU_ATTN_K_ROWS;
    p->G = (uint64_t)q->dims[0];
    p->Lq = (uint64_t)q->dims[1];
    p->D = (uint64_t)q->dims[2];
    p->Lk = (uint64_t)(p->k_rows ? k->dims[1] : k->dims[2]);
    p->Dv = (uint64_t)v->dims[2];
    uint64_t kd = (uint64_t)(p->k_rows ? k->dims[2] : k->dims[1]);
    if ((uint64_t)k->dims[0] != p->G || kd != p->D)
        return fw_refuse(why, whylen, "in1: [%lld, %lld, %lld] does not hold %llu matrices of %s with width %llu",
                         (long long)k->dims[0], (long long)k->dims[1], (long long)k->dims[2], (unsigned long long)p->G,
                         p->k_rows ? "key rows" : "key columns", (unsigned long long)p->D);
    if ((uint64_t)v->dims[0] != p->G || (uint64_t)v->dims[1] != p->Lk)
        return fw_refuse(why, whylen, "in2: [%lld, %lld, %lld] (expected %llu matrices of %llu rows)",
                         (long long)v->dims[0], (long long)v->dims[1], (long long)v->dims[2], (unsigned long long)p->G,
                         (unsigned long long)p->Lk);
    if ((uint64_t)o->dims[0] != p->G || (uint64_t)o->dims[1] != p->Lq || (uint64_t)o->dims[2] != p->Dv)
        return fw_refuse(why, whylen, "out: [%lld, %lld, %lld] (expected [%llu, %llu, %llu])", (long long)o->dims[0],
                         (long long)o->dims[1], (long long)o->dims[2], (unsigned long long)p->G,
                         (unsigned long long)p->Lq, (unsigned long long)p->Dv);
    if (p->D > FW_FIELD_MAX(MM, K))
        return fw_refuse(why, whylen, "key width %llu exceeds the array's k of %llu", (unsigned long long)p->D,
                         (unsigned long long)FW_FIELD_MAX(MM, K));
    if (d->iattr[0] < 1 || (uint64_t)d->iattr[0] > p->Lk)
        return fw_refuse(why, whylen, "iattr[0] (key block) = %d (expected 1..%llu)", d->iattr[0],
                         (unsigned long long)p->Lk);
    p->bc = (uint64_t)d->iattr[0];
    p->nkb = (p->Lk + p->bc - 1) / p->bc;
    if (!finite_pos(d->fattr[0]))
        return fw_refuse(why, whylen, "fattr[0] (score scale) = %g (expected finite and > 0)", (double)d->fattr[0]);
    p->sd = (q->scale * k->scale) * d->fattr[0];
    if (!finite_pos(p->sd))
        return fw_refuse(why, whylen, "in0 scale x in1 scale x fattr[0] = %g is not a finite positive f32",
                         (double)p->sd);
    p->sv = v->scale;
    if (d->iattr[2] != NPU_ATTN_MASK_NONE && d->iattr[2] != NPU_ATTN_MASK_ADD)
        return fw_refuse(why, whylen, "iattr[2] (mask) = %d (expected 0 or 1)", d->iattr[2]);
    p->mask = d->iattr[2] == NPU_ATTN_MASK_ADD;
    if (d->iattr[5] != NPU_ATTN_SOFTMAX_ONLINE && d->iattr[5] != NPU_ATTN_SOFTMAX_TILE)
        return fw_refuse(why, whylen, "iattr[5] (softmax) = %d (expected 0 or 1)", d->iattr[5]);
    p->tile = d->iattr[5] == NPU_ATTN_SOFTMAX_TILE;
    if (p->tile) {
        if (p->bc != p->Lk)
            return fw_refuse(why, whylen, "the softmax tile needs one key block of all %llu keys (iattr[0] = %llu)",
                             (unsigned long long)p->Lk, (unsigned long long)p->bc);
        if (p->Lk > c->info->sm_max_len)
            return fw_refuse(why, whylen, "rows of %llu keys exceed the softmax tile's %u", (unsigned long long)p->Lk,
                             c->info->sm_max_len);
        double sq = (double)d->fattr[2] * LOG2_E * (double)(1 << ISA_SM_SCALE_FRAC_BITS) + 0.5;
        if (!finite_pos(d->fattr[2]) || !(sq >= 1.0 && sq < (double)FW_FIELD_MAX(SM, SCALE) + 1.0))
            return fw_refuse(why, whylen, "fattr[2] (scores scale) = %g is outside the softmax tile's range",
                             (double)d->fattr[2]);
        p->s_in = d->fattr[2];
        p->scale_q = (uint32_t)sq;
        p->s_out = v->scale * (1.0f / (float)(1 << ISA_SM_OUT_FRAC_BITS));
    }
    if (p->mask) {
        if (d->iattr[4] != NPU_DT_I8 && d->iattr[4] != NPU_DT_F32)
            return fw_refuse(why, whylen, "iattr[4] (mask dtype) = %d (expected i8 or f32)", d->iattr[4]);
        if (d->iattr[4] == NPU_DT_I8 && !finite_pos(d->fattr[1]))
            return fw_refuse(why, whylen, "fattr[1] (mask scale) = %g (expected finite and > 0)", (double)d->fattr[1]);
        if (d->lattr[1] < 1 || d->lattr[2] < 1 || (uint64_t)d->lattr[1] > p->G)
            return fw_refuse(why, whylen, "lattr[1..2] (mask matrices, matrices per mask) = %lld, %lld (expected "
                             "1..%llu and >= 1)", (long long)d->lattr[1], (long long)d->lattr[2],
                             (unsigned long long)p->G);
        npu_tensor_ref m;
        memset(&m, 0, sizeof m);
        m.buf = (uint32_t)d->iattr[3];
        m.dtype = (uint32_t)d->iattr[4];
        m.offset = (uint64_t)d->lattr[0];
        m.rank = 3;
        m.dims[0] = d->lattr[1];
        m.dims[1] = (int64_t)p->Lq;
        m.dims[2] = (int64_t)p->Lk;
        if (d->lattr[0] < 0 || fw_check_ref(c, &m, "mask", fw_tensor_bytes(&m), why, whylen))
            return -1;
        p->mask_buf = m.buf;
        p->mask_esz = fw_dtype_bytes(m.dtype);
        p->mask_off = m.offset;
        p->mask_mats = (uint64_t)d->lattr[1];
        p->mask_div = (uint64_t)d->lattr[2];
        p->smask = m.dtype == NPU_DT_I8 ? d->fattr[1] : 1.0f;
    }
    p->osz = fw_dtype_bytes(o->dtype);
    p->mt = c->info->mm_rows;
    p->nb = c->info->mm_cols;
    p->vc = c->info->mm_cols;
    p->ndv = (p->Dv + p->vc - 1) / p->vc;
    p->sh = (npu_attn_shape){p->D, p->Dv, p->bc, p->nb, p->mask, p->k_rows};
    /* as many query rows per block as fit (row tiles of the array's height when there are more) */
    uint64_t br = min_u64(p->Lq, NPU_ATTN_MAX_QUERY_ROWS);
    while (npu_attn_sram_bytes(&p->sh, br) > c->info->sram_bytes) {
        if (br == 1)
            return fw_refuse(why, whylen, "a block of %llu keys (D %llu, Dv %llu%s) does not fit in the %u-byte SRAM "
                             "even with one query row", (unsigned long long)p->bc, (unsigned long long)p->D,
                             (unsigned long long)p->Dv, p->mask ? ", masked" : "", c->info->sram_bytes);
        br = br > p->mt ? (br / 2 > p->mt ? br / 2 / p->mt * p->mt : p->mt) : br / 2;
    }
    p->br = br;
    p->nqb = (p->Lq + br - 1) / br;
    npu_attn_sram_plan(&p->sh, br, &p->sram);
    p->qk_ws = prefer_ws(br, p->D, p->nb, p->mt);
    p->pv_ws = prefer_ws(br, p->nb, p->vc, p->mt);
    return 0;
}

static int at_check(fw_op_ctx *c, const npu_op_desc *d, char *why, size_t whylen)
{
    at_plan p;
    return at_plan_make(c, d, &p, why, whylen);
}

/* ---------------------------------------------------------------- emission */

typedef struct at_item {
    uint64_t g, qb, t;    /* matrix, row block, key block */
    uint64_t r0, rows;    /* query rows */
    uint64_t k0, kw, nsub; /* keys, key tiles */
} at_item;

/* Pipes: q (DMA -> mm), k (DMA [-> vec transpose] -> mm), v (DMA -> mm), blk: the scores and the
 * probabilities of an item ([DMA mask ->] mm QK -> vec [-> sm] -> mm PV), acc (mm -> vec), out
 * (vec -> DMA store). At most 2 x (2 + 3 + 2 + 5 + 2 + 2) = 32 semaphores. */
typedef struct at_state {
    const npu_op_desc *d;
    const at_plan *p;
    fw_pipe q, k, v, blk, acc, out;
    uint32_t blk_qk, blk_vec, blk_pv; /* the blk pipe's stages */
    uint32_t ones, state;
    uint32_t qslot;   /* the current row block's Q */
    int cur;          /* which of the two m vectors holds the running maximum */
} at_state;

static at_item item_at(const at_plan *p, uint64_t i)
{
    at_item it;
    it.t = i % p->nkb;
    it.qb = i / p->nkb % p->nqb;
    it.g = i / p->nkb / p->nqb;
    it.r0 = it.qb * p->br;
    it.rows = min_u64(p->br, p->Lq - it.r0);
    it.k0 = it.t * p->bc;
    it.kw = min_u64(p->bc, p->Lk - it.k0);
    it.nsub = (it.kw + p->nb - 1) / p->nb;
    return it;
}

static uint64_t tile_w(const at_plan *p, const at_item *it, uint64_t j) { return min_u64(p->nb, it->kw - j * p->nb); }
static uint64_t vtile_w(const at_plan *p, uint64_t c) { return min_u64(p->vc, p->Dv - c * p->vc); }

/* The state region: O [br, Dv] in value tiles, then l, m0, m1, alpha0, alpha1, the per-tile maxima. */
static uint32_t st_o(const at_state *s) { return s->state; }
static uint32_t st_vec(const at_state *s, uint64_t k) { return s->state + (uint32_t)(F32_BYTES * s->p->br * (s->p->Dv + k)); }
#define ST_L 0
#define ST_M0 1
#define ST_ALPHA0 3
#define ST_PART 5

static void emit_loads(fw_op_ctx *c, at_state *s, const at_item *it)
{
    const at_plan *p = s->p;
    const npu_op_desc *d = s->d;
    if (it->t == 0) { /* the row block's queries */
        unsigned lq = fw_load_queue(c, fw_pipe_slot_index(&s->q, 0));
        uint32_t qs = fw_pipe_begin(c, &s->q, 0, lq);
        fw_dma_flat(c, 1, lq, d->in[0].buf, qs, d->in[0].offset + (it->g * p->Lq + it->r0) * p->D, it->rows * p->D);
        fw_pipe_end(c, &s->q, 0, lq);
    }
    unsigned kq = fw_load_queue(c, fw_pipe_slot_index(&s->k, 0) + 1);
    uint32_t ks = fw_pipe_begin(c, &s->k, 0, kq);
    if (p->k_rows) { /* [kw, D] as stored; transposed on the vector unit */
        fw_dma_flat(c, 1, kq, d->in[1].buf, ks + (uint32_t)(p->D * p->bc), d->in[1].offset + (it->g * p->Lk + it->k0) * p->D,
                    it->kw * p->D);
    } else { /* K^T: one [D, w] column tile after the other */
        for (uint64_t j = 0; j < it->nsub; j++)
            fw_dma(c, 1, kq, d->in[1].buf, ks + (uint32_t)(p->D * j * p->nb),
                   d->in[1].offset + it->g * p->D * p->Lk + it->k0 + j * p->nb, p->D, tile_w(p, it, j), p->Lk,
                   tile_w(p, it, j));
    }
    fw_pipe_end(c, &s->k, 0, kq);
    unsigned vq = fw_load_queue(c, fw_pipe_slot_index(&s->v, 0) + 2);
    uint32_t vs = fw_pipe_begin(c, &s->v, 0, vq);
    for (uint64_t cv = 0; cv < p->ndv; cv++) /* value tiles [kw, vw] */
        fw_dma(c, 1, vq, d->in[2].buf, vs + (uint32_t)(cv * p->bc * p->vc),
               d->in[2].offset + (it->g * p->Lk + it->k0) * p->Dv + cv * p->vc, it->kw, vtile_w(p, cv), p->Dv,
               vtile_w(p, cv));
    fw_pipe_end(c, &s->v, 0, vq);
    if (p->mask) { /* the mask block, key tile by key tile, into the score slot's second half */
        unsigned mq = fw_load_queue(c, fw_pipe_slot_index(&s->blk, 0) + 3);
        uint32_t ss = fw_pipe_begin(c, &s->blk, 0, mq);
        uint32_t mk = ss + (uint32_t)(F32_BYTES * p->br * p->bc);
        uint64_t mat = (it->g / p->mask_div) % p->mask_mats, e = p->mask_esz;
        for (uint64_t j = 0; j < it->nsub; j++)
            fw_dma(c, 1, mq, p->mask_buf, mk + (uint32_t)(e * it->rows * j * p->nb),
                   p->mask_off + ((mat * p->Lq + it->r0) * p->Lk + it->k0 + j * p->nb) * e, it->rows,
                   tile_w(p, it, j) * e, p->Lk * e, tile_w(p, it, j) * e);
        fw_pipe_end(c, &s->blk, 0, mq);
    }
}

static void emit_transpose(fw_op_ctx *c, at_state *s, const at_item *it)
{
    const at_plan *p = s->p;
    uint32_t ks = fw_pipe_begin(c, &s->k, 1, NPU_UNIT_VEC), rows = ks + (uint32_t)(p->D * p->bc);
    for (uint64_t j = 0; j < it->nsub; j++)
        fw_vmov(c, 1, 1, ks + (uint32_t)(p->D * j * p->nb), rows + (uint32_t)(j * p->nb * p->D), tile_w(p, it, j), p->D,
                p->D, tile_w(p, it, j));
    fw_pipe_end(c, &s->k, 1, NPU_UNIT_VEC);
}

static void emit_qk(fw_op_ctx *c, at_state *s, const at_item *it)
{
    const at_plan *p = s->p;
    if (it->t == 0)
        s->qslot = fw_pipe_begin(c, &s->q, 1, NPU_UNIT_MM);
    uint32_t klast = p->k_rows ? 2 : 1;
    uint32_t ks = fw_pipe_begin(c, &s->k, klast, NPU_UNIT_MM), ss = fw_pipe_begin(c, &s->blk, s->blk_qk, NPU_UNIT_MM);
    uint64_t step = p->qk_ws ? it->rows : p->mt;
    for (uint64_t j = 0; j < it->nsub; j++) {
        uint64_t w = tile_w(p, it, j);
        for (uint64_t r = 0; r < it->rows; r += step) {
            uint64_t m = min_u64(step, it->rows - r);
            fw_mm(c, p->qk_ws, 0, 0, (uint32_t)m, (uint32_t)w, (uint32_t)p->D, s->qslot + (uint32_t)(r * p->D),
                  ks + (uint32_t)(p->D * j * p->nb), ss + (uint32_t)(F32_BYTES * (it->rows * j * p->nb + r * w)));
        }
    }
    fw_pipe_end(c, &s->blk, s->blk_qk, NPU_UNIT_MM);
    fw_pipe_end(c, &s->k, klast, NPU_UNIT_MM);
    if (it->t == p->nkb - 1)
        fw_pipe_end(c, &s->q, 1, NPU_UNIT_MM);
}

/* The probabilities' place in a blk slot: after the scores (and the mask). */
static uint32_t p_area(const at_plan *p, uint32_t slot)
{
    return slot + (uint32_t)npu_attn_align((uint64_t)F32_BYTES * p->br * p->bc * (p->mask ? 2 : 1));
}

/* Tile mode: the scores quantised to the softmax tile's int8 and gathered from key tiles into whole
 * rows; then the tile's softmax of every row, in place. */
static void emit_tile_softmax(fw_op_ctx *c, at_state *s, const at_item *it, uint32_t ss)
{
    const at_plan *p = s->p;
    uint32_t ps = p_area(p, ss);
    fw_vquant(c, ss, ss, it->rows * it->kw, p->s_in); /* int8 over the start of the f32 scores */
    for (uint64_t j = 0; j < it->nsub; j++)
        fw_vmov(c, 0, 1, ps + (uint32_t)(j * p->nb), ss + (uint32_t)(it->rows * j * p->nb), it->rows, tile_w(p, it, j),
                tile_w(p, it, j), it->kw);
    fw_pipe_end(c, &s->blk, s->blk_vec, NPU_UNIT_VEC);
    fw_pipe_begin(c, &s->blk, s->blk_vec + 1, NPU_UNIT_SM);
    const uint64_t max_rows = FW_FIELD_MAX(SM, ROWS);
    for (uint64_t r = 0; r < it->rows; r += max_rows)
        fw_sm(c, 0, ps + (uint32_t)(r * it->kw), ps + (uint32_t)(r * it->kw), (uint32_t)it->kw,
              (uint32_t)min_u64(max_rows, it->rows - r), p->scale_q, 0);
    fw_pipe_end(c, &s->blk, s->blk_vec + 1, NPU_UNIT_SM);
}

/* Scores -> probabilities: dequantise, mask; then online: row maxima, rescale factor, exp,
 * quantise; or on the softmax tile. */
static void emit_softmax(fw_op_ctx *c, at_state *s, const at_item *it, uint64_t i)
{
    const at_plan *p = s->p;
    uint32_t ss = fw_pipe_begin(c, &s->blk, s->blk_vec, NPU_UNIT_VEC), ps = p_area(p, ss);
    uint64_t n = it->rows * it->kw;
    fw_vdequant(c, ISA_SDT_I32, ss, ss, n, p->sd);
    if (p->mask) {
        uint32_t mk = ss + (uint32_t)(F32_BYTES * p->br * p->bc);
        if (p->mask_esz == 1)
            fw_vdequant(c, ISA_SDT_I8, mk, mk, n, p->smask);
        fw_vbin_flat(c, ISA_BINOP_ADD, 0, ss, ss, mk, n);
    }
    if (p->tile) {
        emit_tile_softmax(c, s, it, ss);
        return;
    }
    /* the block's row maxima into m_new (the running maximum itself for a row block's first) */
    uint32_t m_old = st_vec(s, ST_M0 + (uint64_t)s->cur), m_new = it->t == 0 ? m_old : st_vec(s, ST_M0 + (uint64_t)(1 - s->cur));
    for (uint64_t j = 0; j < it->nsub; j++)
        fw_vred(c, ISA_REDOP_MAX, j ? st_vec(s, ST_PART) + (uint32_t)(F32_BYTES * it->rows * j) : m_new,
                ss + (uint32_t)(F32_BYTES * it->rows * j * p->nb), it->rows, tile_w(p, it, j));
    for (uint64_t j = 1; j < it->nsub; j++)
        fw_vbin_flat(c, ISA_BINOP_MAX, 0, m_new, m_new, st_vec(s, ST_PART) + (uint32_t)(F32_BYTES * it->rows * j),
                     it->rows);
    if (it->t > 0) { /* m' = max(m, block max); alpha = exp(m - m') */
        uint32_t alpha = st_vec(s, ST_ALPHA0 + i % 2);
        fw_vbin_flat(c, ISA_BINOP_MAX, 0, m_new, m_old, m_new, it->rows);
        fw_vbin_flat(c, ISA_BINOP_SUB, 0, alpha, m_old, m_new, it->rows);
        fw_vun(c, ISA_UNOP_EXP, alpha, alpha, it->rows, 0.0f);
        s->cur = 1 - s->cur;
    }
    for (uint64_t j = 0; j < it->nsub; j++) {
        uint32_t sj = ss + (uint32_t)(F32_BYTES * it->rows * j * p->nb);
        fw_vbin_rows(c, ISA_BINOP_SUB, ISA_BC_COL, sj, sj, m_new, it->rows, tile_w(p, it, j));
    }
    fw_vun(c, ISA_UNOP_EXP, ss, ss, n, 0.0f);
    fw_vquant(c, ps, ss, n, NPU_ATTN_P_SCALE);
    fw_pipe_end(c, &s->blk, s->blk_vec, NPU_UNIT_VEC);
}

/* Online: [P V | P 1], value tiles and the ones column accumulated over the block's key tiles.
 * Tile: P V, whole rows of P against whole value tiles (one mm per row tile and value tile). */
static void emit_pv(fw_op_ctx *c, at_state *s, const at_item *it)
{
    const at_plan *p = s->p;
    uint32_t ps = p_area(p, fw_pipe_begin(c, &s->blk, s->blk_pv, NPU_UNIT_MM));
    uint32_t vs = fw_pipe_begin(c, &s->v, 1, NPU_UNIT_MM), as = fw_pipe_begin(c, &s->acc, 0, NPU_UNIT_MM);
    for (uint64_t r = 0; p->tile && r < it->rows; r += p->mt) {
        uint64_t m = min_u64(p->mt, it->rows - r);
        for (uint64_t cv = 0; cv < p->ndv; cv++) {
            uint64_t vw = vtile_w(p, cv);
            fw_mm(c, 0, 0, 0, (uint32_t)m, (uint32_t)vw, (uint32_t)it->kw, ps + (uint32_t)(r * it->kw),
                  vs + (uint32_t)(cv * p->bc * p->vc), as + (uint32_t)(F32_BYTES * (it->rows * cv * p->vc + r * vw)));
        }
    }
    for (uint64_t j = 0; !p->tile && j < it->nsub; j++) {
        uint64_t w = tile_w(p, it, j);
        int ws = p->pv_ws && w <= p->mt;
        uint64_t step = ws ? it->rows : p->mt;
        for (uint64_t r = 0; r < it->rows; r += step) {
            uint64_t m = min_u64(step, it->rows - r);
            uint32_t a = ps + (uint32_t)(it->rows * j * p->nb + r * w);
            for (uint64_t cv = 0; cv < p->ndv; cv++) {
                uint64_t vw = vtile_w(p, cv);
                fw_mm(c, ws, j > 0, 0, (uint32_t)m, (uint32_t)vw, (uint32_t)w, a,
                      vs + (uint32_t)(cv * p->bc * p->vc + j * p->nb * vw),
                      as + (uint32_t)(F32_BYTES * (it->rows * cv * p->vc + r * vw)));
            }
            fw_mm(c, ws, j > 0, 0, (uint32_t)m, 1, (uint32_t)w, a, s->ones + (uint32_t)(j * p->nb),
                  as + (uint32_t)(F32_BYTES * (it->rows * p->Dv + r)));
        }
    }
    fw_pipe_end(c, &s->acc, 0, NPU_UNIT_MM);
    fw_pipe_end(c, &s->v, 1, NPU_UNIT_MM);
    fw_pipe_end(c, &s->blk, s->blk_pv, NPU_UNIT_MM);
}

/* O = O alpha + (P V) sv, l = l alpha + sum P (set by a row block's first key block). Tile mode:
 * O = (P V) sv / 128, the row block's only key block. */
static void emit_update(fw_op_ctx *c, at_state *s, const at_item *it, uint64_t i)
{
    const at_plan *p = s->p;
    uint32_t as = fw_pipe_begin(c, &s->acc, 1, NPU_UNIT_VEC);
    if (p->tile) {
        fw_vdequant(c, ISA_SDT_I32, st_o(s), as, it->rows * p->Dv, p->s_out);
        fw_pipe_end(c, &s->acc, 1, NPU_UNIT_VEC);
        return;
    }
    uint64_t n = it->rows * p->Dv;
    uint32_t cnt = as + (uint32_t)(F32_BYTES * n), l = st_vec(s, ST_L);
    if (it->t == 0) {
        fw_vdequant(c, ISA_SDT_I32, st_o(s), as, n, p->sv);
        fw_vdequant(c, ISA_SDT_I32, l, cnt, it->rows, 1.0f);
    } else {
        uint32_t alpha = st_vec(s, ST_ALPHA0 + i % 2);
        fw_vdequant(c, ISA_SDT_I32, as, as, n, p->sv);
        fw_vdequant(c, ISA_SDT_I32, cnt, cnt, it->rows, 1.0f);
        for (uint64_t cv = 0; cv < p->ndv; cv++) {
            uint32_t oc = st_o(s) + (uint32_t)(F32_BYTES * it->rows * cv * p->vc);
            fw_vbin_rows(c, ISA_BINOP_MUL, ISA_BC_COL, oc, oc, alpha, it->rows, vtile_w(p, cv));
        }
        fw_vbin_flat(c, ISA_BINOP_ADD, 0, st_o(s), st_o(s), as, n);
        fw_vbin_flat(c, ISA_BINOP_MUL, 0, l, l, alpha, it->rows);
        fw_vbin_flat(c, ISA_BINOP_ADD, 0, l, l, cnt, it->rows);
    }
    fw_pipe_end(c, &s->acc, 1, NPU_UNIT_VEC);
}

/* A row block is done: O / l in the output type, stored tile by tile. */
static void emit_out(fw_op_ctx *c, at_state *s, const at_item *it)
{
    const at_plan *p = s->p;
    const npu_tensor_ref *o = &s->d->out;
    uint32_t os = fw_pipe_begin(c, &s->out, 0, NPU_UNIT_VEC);
    for (uint64_t cv = 0; !p->tile && cv < p->ndv; cv++) {
        uint32_t off = (uint32_t)(F32_BYTES * it->rows * cv * p->vc);
        fw_vbin_rows(c, ISA_BINOP_DIV, ISA_BC_COL, os + off, st_o(s) + off, st_vec(s, ST_L), it->rows, vtile_w(p, cv));
    }
    fw_from_f32(c, o, os, p->tile ? st_o(s) : os, it->rows * p->Dv);
    fw_pipe_end(c, &s->out, 0, NPU_UNIT_VEC);
    unsigned sq = fw_store_queue(c);
    fw_pipe_begin(c, &s->out, 1, sq);
    for (uint64_t cv = 0; cv < p->ndv; cv++) {
        uint64_t vw = vtile_w(p, cv);
        fw_dma(c, 0, sq, o->buf, os + (uint32_t)(p->osz * it->rows * cv * p->vc),
               o->offset + ((it->g * p->Lq + it->r0) * p->Dv + cv * p->vc) * p->osz, it->rows, vw * p->osz,
               p->Dv * p->osz, vw * p->osz);
    }
    fw_pipe_end(c, &s->out, 1, sq);
}

static void at_emit(fw_op_ctx *c, const npu_op_desc *d)
{
    at_plan p;
    char why[FW_WHY_BYTES];
    if (at_plan_make(c, d, &p, why, sizeof why) != 0)
        return; /* checked before: cannot happen */
    at_state s;
    memset(&s, 0, sizeof s);
    s.d = d;
    s.p = &p;
    uint32_t items = (uint32_t)(p.G * p.nqb * p.nkb), blocks = (uint32_t)(p.G * p.nqb);
    fw_pipe_init(c, &s.q, NPU_ATTN_SLOTS, 2, p.sram.q, blocks);
    fw_pipe_init(c, &s.k, NPU_ATTN_SLOTS, p.k_rows ? 3 : 2, p.sram.k, items);
    fw_pipe_init(c, &s.v, NPU_ATTN_SLOTS, 2, p.sram.v, items);
    s.blk_qk = p.mask ? 1 : 0; /* [DMA mask] -> mm QK -> vec [-> sm] -> mm PV */
    s.blk_vec = s.blk_qk + 1;
    s.blk_pv = s.blk_vec + (p.tile ? 2 : 1);
    fw_pipe_init(c, &s.blk, NPU_ATTN_SLOTS, s.blk_pv + 1, p.sram.s + p.sram.p, items);
    fw_pipe_init(c, &s.acc, NPU_ATTN_SLOTS, 2, p.sram.acc, items);
    fw_pipe_init(c, &s.out, NPU_ATTN_SLOTS, 2, p.sram.out, blocks);
    s.ones = fw_sram_alloc(c, p.sram.ones);
    s.state = fw_sram_alloc(c, p.sram.state);
    /* a column of int8 ones (as f32 ones quantised in place): P's row sums come out of the array */
    fw_vzero(c, s.ones, F32_BYTES * p.bc);
    fw_vun(c, ISA_UNOP_ADDI, s.ones, s.ones, p.bc, 1.0f);
    fw_vquant(c, s.ones, s.ones, p.bc, 1.0f);
    /* skewed: loads(i+1) [transpose(i+1)] QK(i+1) V1(i) PV(i) V2(i-1) [OUT of i-1's row block] */
    at_item first = item_at(&p, 0);
    emit_loads(c, &s, &first);
    if (p.k_rows)
        emit_transpose(c, &s, &first);
    emit_qk(c, &s, &first);
    for (uint64_t i = 0; i < items && !fw_stopped(c); i++) {
        at_item it = item_at(&p, i), next = item_at(&p, i + 1 < items ? i + 1 : i);
        if (i + 1 < items)
            emit_loads(c, &s, &next);
        emit_softmax(c, &s, &it, i);
        if (i + 1 < items) {
            if (p.k_rows)
                emit_transpose(c, &s, &next);
            emit_qk(c, &s, &next);
        }
        emit_pv(c, &s, &it);
        if (i > 0) {
            at_item prev = item_at(&p, i - 1);
            emit_update(c, &s, &prev, i - 1);
            if (prev.t == p.nkb - 1)
                emit_out(c, &s, &prev);
        }
    }
    at_item last = item_at(&p, items - 1);
    emit_update(c, &s, &last, items - 1);
    emit_out(c, &s, &last);
}

static void at_describe(fw_op_ctx *c, const npu_op_desc *d, char *buf, size_t len)
{
    at_plan p;
    char why[FW_WHY_BYTES];
    if (at_plan_make(c, d, &p, why, sizeof why) != 0)
        return;
    snprintf(buf, len, "%llu matrices, %llu queries x %llu keys, d %llu, %s softmax, keys in %llu blocks of %llu, "
             "queries in %llu blocks of %llu%s",
             (unsigned long long)p.G, (unsigned long long)p.Lq, (unsigned long long)p.Lk, (unsigned long long)p.D,
             p.tile ? "tile" : "online", (unsigned long long)p.nkb, (unsigned long long)p.bc,
             (unsigned long long)p.nqb, (unsigned long long)p.br, p.mask ? ", masked" : "");
}

const fw_op_kernel fw_kernel_attention = {"attention", at_check, at_emit, at_describe};
