/* op_matmul.c -- NPU_OP_MATMUL: out = epilogue(in0 x in1), tiled for the matmul array and the SRAM.
 *
 * The loop nest (sizes chosen by mm_plan to fit the SRAM):
 *     for each row block (R rows of in0, across batches):
 *       for each group of G column tiles (tiles of `nb` columns):
 *         for each k chunk:  A(rows, k chunk)  -> SRAM (kept for all groups when K fits in one chunk)
 *           for each panel of B items (a B item: one column tile, one k chunk, one batch):
 *             DMA the panel -> a B slot; mm for every m-tile (<= array rows) of the item's batch
 *         epilogue on the vector unit (int32 -> f32, scales, bias, activation, quantise), store
 * Every SRAM stage is a pipe of slots (fw_ops.h): B panels stream through 2-3 slots while the
 * array works on the previous one, C tiles through 2 slots so that the epilogue of one group
 * overlaps the products of the next, and outputs through 2 slots so that stores overlap too.
 * With output-stage parameters (in2 of dtype i32) there is no vector epilogue: each column tile's
 * last products are `mm ... rq` after an mm.out that loads the tile's records, the int8 results
 * land in the C slot and are stored from there, tile by tile (README.md, "Output stage").
 * Weights in the BLOCKED layout make a panel of whole column tiles one contiguous DMA.
 *
 * Operand types: in0 i8, i16 or f16 (the array's A), in1 i8, i4, i16 or f16 (B); at most one
 * 16-bit integer, and the f16 mode (an f16 operand) takes no i16. Two cases sum K in f32 chunks on
 * the vector unit instead of the array's int32 accumulators: per-group weight scales (iattr[3] = G:
 * chunks of G rows, each scaled by its group's scales) and a 16-bit integer operand with K > 511
 * (16 x 8 products are up to 2^22, so 511 of them cannot wrap an int32: chunks of 511). Then each
 * chunk is one pass of products (acc = set) into C, converted, scaled and added into an f32
 * accumulator F (the output slot) in chunk order, and the epilogue starts from F. The f16 mode
 * sums the whole K in one pass (the array's f32 sums are ordered by k), so it never splits K.
 * The exact arithmetic is specified in README.md ("MATMUL").
 */
#include "fw_ops.h"

#include <stdio.h>
#include <string.h>

/* A B panel (one slot) is at most this size and an eighth of the SRAM; within that its number of
 * items is chosen by modelled cost (panel_items). */
#define MM_PANEL_MAX_BYTES (512u * 1024u)
#define MM_PANEL_SRAM_SHARE 8
/* A panel's instructions besides its mm: the DMA and its slot's signals and waits. */
#define MM_PLAN_PANEL_INSNS 5u
/* Row blocks of up to this many array-row tiles keep B re-streaming low for long inputs. */
#define MM_ROW_BLOCK_TILES 8
#define MM_B_SLOTS 3
/* With the output stage a group's int8 results take a quarter of the int32 products' room and no
 * f32 slot, so the SRAM alone would allow groups of many tiles; but the last group's stores are
 * the op's tail that no product overlaps, so groups aim at this many bytes of results (measured
 * on mobile-default: 128 KiB, 256 KiB, 512 KiB and no limit give IMG_enc 115.3, 114.8, 118.9 and
 * 117.8 M cycles, TXT_enc 25.7, 25.2, 25.0 and 25.0 M). */
#define MM_STAGE_GROUP_TARGET_BYTES (256u * 1024u)
#define MM_PIPE_SLOTS 2
/* B items one panel may hold (bounds the state kept to issue its products). */
#define MM_MAX_PANEL_ITEMS 64
/* The longest K a 16 x 8 product sum may have in int32: 511 * 2^15 * 2^7 < 2^31. */
#define MM_WIDE_INT_MAX_K 511

typedef struct mm_plan {
    /* the problem */
    uint64_t batch, M, K, N, rows; /* rows = batch * M, the rows of in0 and out */
    int b_batched, int4, blocked, per_channel, bias;
    int64_t at, bt;                /* operand types (isa_table.def MMT) */
    uint32_t ae, be2;              /* bytes per A element; bytes per 2 B elements (int4: 1) */
    int fmode;                     /* f16 mode: C is f32 */
    uint64_t kacc;                 /* f32 accumulation over K chunks of this length (0: none) */
    uint64_t group;                /* per-group weight scales: rows of K per group (0: none) */
    int32_t act;
    fw_out_stage os;               /* the output stage's epilogue (os.on), or the vector unit's */
    uint32_t osz;                  /* bytes per output element */
    uint64_t nb, ntiles;           /* column tile width, number of tiles */
    uint64_t b_row_bytes;          /* row-major in1: bytes per row */
    float s_deq;                   /* int32 -> f32 scale */
    /* the tiling */
    uint64_t mt;                   /* m-tile rows (array rows) */
    uint64_t R, kc, nk, G;         /* row block, k chunk and count, tiles per group */
    uint64_t a_bytes, b_slot, c_bytes, p_bytes, o_bytes, t_bytes, g_bytes;
    uint32_t b_slots;
    int a_resident;                /* A loaded once per row block */
    int ws;                        /* weight-stationary: one mm per (batch's rows in a row block, tile) */
} mm_plan;

/* Width the array computes for tile j: the real width, rounded up to even for int4. */
static uint64_t tile_width(const mm_plan *p, uint64_t j)
{
    uint64_t w = p->N - j * p->nb;
    return w < p->nb ? w : p->nb;
}

static uint64_t tile_width_eff(const mm_plan *p, uint64_t j)
{
    uint64_t w = tile_width(p, j);
    return p->int4 ? (w + 1) / 2 * 2 : w;
}

static uint64_t b_bytes(const mm_plan *p, uint64_t cols) { return cols * p->be2 / 2; }

static uint64_t sram_need(const mm_plan *p, uint64_t groups)
{
    uint64_t a_items = p->a_resident ? (p->rows + p->R - 1) / p->R : 2;
    uint64_t n = fw_align(p->a_bytes) * (a_items > 1 ? MM_PIPE_SLOTS : 1);
    n += fw_align(p->b_slot) * p->b_slots;
    uint64_t c_items = p->kacc ? groups * p->nk : groups; /* f32 accumulation: a C item per chunk */
    n += fw_align(p->c_bytes) * (c_items > 1 ? MM_PIPE_SLOTS : 1);
    n += fw_align(p->o_bytes) * (groups > 1 ? MM_PIPE_SLOTS : 1);
    if (p->per_channel || p->bias || p->os.on)
        n += fw_align(p->p_bytes) * (groups > 1 ? MM_PIPE_SLOTS : 1);
    if (p->kacc)
        n += fw_align(p->t_bytes) + (p->group ? fw_align(p->g_bytes) * (c_items > 1 ? MM_PIPE_SLOTS : 1) : 0);
    if (p->os.lut)
        n += fw_align(ISA_MM_OUT_LUT_ENTRIES);
    return n;
}

static void plan_sizes(mm_plan *p)
{
    p->nk = (p->K + p->kc - 1) / p->kc;
    p->a_resident = p->nk == 1;
    uint64_t gw = p->G * p->nb, item = p->kc * b_bytes(p, p->nb);
    p->a_bytes = p->R * p->kc * p->ae;
    /* the output stage writes int8 results where the int32 products were (int8 pitch when one
     * mm makes them, else in place of the partial sums) and needs no f32 slot */
    p->c_bytes = (p->os.on && p->nk == 1 ? 1 : 4) * p->R * gw;
    p->o_bytes = p->os.on ? 0 : 4 * p->R * gw;
    p->p_bytes = p->os.on ? ISA_MM_OUT_RECORD_BYTES * gw : 2 * 4 * gw;
    p->t_bytes = 4 * p->R * gw;
    p->g_bytes = 4 * gw;
    if (p->b_slot < item)
        p->b_slot = item;
}

/* B items per panel, by modelled cost. Each panel is one load and then the products of its items;
 * the op's panels stream through the B slots, so the first panel's load and the last panel's
 * products are the fill and drain nothing overlaps, and the others follow at the pace of the
 * slowest unit (array, DRAM, the control core's dispatch of the panel's DMA, semaphores and mm
 * instructions). Candidates: every whole number of items in `cap` bytes. A larger SRAM has a
 * larger cap, so its candidates include every one a smaller SRAM had and its choice is modelled no
 * slower (a panel of min(512 KiB, SRAM / 8) made GEMVs slower with more SRAM, and, holding twice
 * the int4 column tiles, IMG_enc slower with int4 weights: issue 14). Ties take more items (fewer
 * instructions). */
static uint64_t panel_items(const mm_plan *p, uint64_t cap)
{
    uint64_t item = p->kc * b_bytes(p, p->nb);
    uint64_t rows = p->b_batched && p->M < p->R ? p->M : p->R; /* the rows one item's products take */
    uint64_t batches = p->b_batched && p->M < p->R ? (p->R + p->M - 1) / p->M : 1;
    uint64_t tiles = p->G < p->ntiles ? p->G : p->ntiles;
    uint64_t per_stream = tiles * batches; /* items of one (row block, group, k chunk) */
    uint64_t streams = ((p->rows + p->R - 1) / p->R) * ((p->ntiles + p->G - 1) / p->G) * p->nk;
    uint64_t mo = rows < p->mt ? rows : p->mt;
    uint64_t mtiles = (rows + p->mt - 1) / p->mt;
    uint64_t mm_item = mtiles * (p->kc + 2 * mo + p->nb - 1); /* sim/README.md's tile */
    uint64_t most = cap / item;
    if (most > per_stream)
        most = per_stream;
    if (most > MM_MAX_PANEL_ITEMS)
        most = MM_MAX_PANEL_ITEMS;
    uint64_t best = 1, best_cost = UINT64_MAX;
    for (uint64_t k = 1; k <= most; k++) {
        uint64_t mm = k * mm_item, dram = fw_plan_dram_cycles(1, k * item);
        uint64_t ctrl = (MM_PLAN_PANEL_INSNS + k * mtiles) * FW_PLAN_CYCLES_PER_INSN;
        uint64_t stage[2] = {fw_plan_dma_cycles(1, k * item), mm};
        uint64_t floor = mm > dram ? mm : dram;
        floor = ctrl > floor ? ctrl : floor;
        uint64_t cost = fw_plan_pipeline_cycles(streams * ((per_stream + k - 1) / k), stage, 2, p->b_slots, floor);
        if (cost <= best_cost) {
            best_cost = cost;
            best = k;
        }
    }
    return best;
}

/* Choose R, kc, G and the B slot size so that everything fits in the SRAM. */
static int plan_tiling(mm_plan *p, uint64_t sram, char *why, size_t whylen)
{
    const uint64_t max_cols = FW_FIELD_MAX(VBIN, COLS);
    p->kc = p->K < FW_FIELD_MAX(MM, K) ? p->K : FW_FIELD_MAX(MM, K);
    if (p->kacc)
        p->kc = p->kacc; /* the chunks of the f32 accumulation are fixed by the descriptor */
    p->R = p->rows <= p->mt ? p->rows : p->mt * MM_ROW_BLOCK_TILES;
    if (p->R > p->rows)
        p->R = p->rows;
    p->G = p->ntiles;
    if (p->G * p->nb > max_cols)
        p->G = max_cols / p->nb;
    if (p->os.on && p->G > 1 && p->R * p->G * p->nb > MM_STAGE_GROUP_TARGET_BYTES) {
        uint64_t g = MM_STAGE_GROUP_TARGET_BYTES / (p->R * p->nb);
        p->G = g ? g : 1;
    }
    p->b_slots = MM_B_SLOTS;
    p->b_slot = 0;
    plan_sizes(p);
    uint64_t cap = MM_PANEL_MAX_BYTES < sram / MM_PANEL_SRAM_SHARE ? MM_PANEL_MAX_BYTES : sram / MM_PANEL_SRAM_SHARE;
    p->b_slot *= panel_items(p, cap); /* plan_sizes made it one item */
    for (;;) {
        uint64_t groups = ((p->rows + p->R - 1) / p->R) * ((p->ntiles + p->G - 1) / p->G);
        if (sram_need(p, groups) <= sram)
            return 0;
        uint64_t item = p->kc * b_bytes(p, p->nb);
        if (p->b_slot > item) {
            p->b_slot = item;
        } else if (p->b_slots > MM_PIPE_SLOTS) {
            p->b_slots = MM_PIPE_SLOTS;
        } else if (p->G > 1 && p->c_bytes + p->o_bytes >= p->a_bytes) {
            p->G = (p->G + 1) / 2;
        } else if (p->R > 1 && p->R * p->kc >= item) {
            p->R = p->R > p->mt ? (p->R / 2 + p->mt - 1) / p->mt * p->mt : (p->R + 1) / 2;
        } else if (p->G > 1) {
            p->G = (p->G + 1) / 2;
        } else if (p->R > 1) { /* fewer rows than columns per tile (a wide array): fewer rows first */
            p->R = p->R > p->mt ? (p->R / 2 + p->mt - 1) / p->mt * p->mt : (p->R + 1) / 2;
        } else if (p->kc > 1 && !p->kacc && !p->fmode) {
            p->kc = (p->kc + 1) / 2;
        } else if (!p->blocked && p->nb > (p->int4 ? 2u : 1u)) {
            /* narrower column tiles than the array (its other columns idle); a BLOCKED weight's
             * tiles are the host's block width, which the host sizes to the SRAM */
            p->nb = p->int4 ? (p->nb / 2 + 1) / 2 * 2 : (p->nb + 1) / 2;
            p->ntiles = (p->N + p->nb - 1) / p->nb;
            p->b_slot = 0;
        } else {
            return fw_refuse(why, whylen, "does not fit in the %llu-byte SRAM%s", (unsigned long long)sram,
                             p->fmode ? " (the f16 mode sums K in one pass)"
                                      : p->kacc ? " (a K chunk of the f32 accumulation in one pass)" : "");
        }
        plan_sizes(p);
    }
}

/* The dataflow: weight-stationary streams any number of rows through the array when k fits its
 * rows, output-stationary takes k of any length but at most `array rows` rows per mm. Compare
 * the tile formulas (sim/README.md) for the rows one mm gets: os ceil(m/R)*(k + 2*min(m,R) + n - 1),
 * ws 2k + m + n - 1. */
static int choose_ws(const mm_plan *p)
{
    if (p->nk != 1 || p->K > p->mt)
        return 0;
    uint64_t m = p->b_batched && p->M < p->R ? p->M : p->R, n = p->nb;
    uint64_t mo = m < p->mt ? m : p->mt;
    uint64_t os = (m + p->mt - 1) / p->mt * (p->K + 2 * mo + n - 1), ws = 2 * p->K + m + n - 1;
    return ws < os;
}

static int mm_plan_make(const fw_op_ctx *c, const npu_op_desc *d, mm_plan *p, char *why, size_t whylen)
{
    const npu_tensor_ref *a = &d->in[0], *b = &d->in[1], *o = &d->out;
    memset(p, 0, sizeof *p);
    if (d->n_inputs < 2)
        return fw_refuse(why, whylen, "needs 2 or 3 inputs, has %u", d->n_inputs);
    if (fw_check_act(c, a, "in0", why, whylen) || fw_check_act(c, o, "out", why, whylen))
        return -1;
    if (a->dtype != NPU_DT_I8 && a->dtype != NPU_DT_I16 && a->dtype != NPU_DT_F16)
        return fw_refuse(why, whylen, "in0: dtype %s (the array reads i8, i16 or f16)", fw_dtype_name(a->dtype));
    if (fw_check_shape(b, "in1", why, whylen))
        return -1;
    if (b->rank < 2)
        return fw_refuse(why, whylen, "in1: rank %u (expected >= 2)", b->rank);
    p->K = (uint64_t)a->dims[a->rank - 1];
    p->M = a->rank >= 2 ? (uint64_t)a->dims[a->rank - 2] : 1;
    p->batch = 1;
    for (uint32_t i = 0; i + 2 < a->rank; i++)
        p->batch *= (uint64_t)a->dims[i];
    p->rows = p->batch * p->M;
    if ((uint64_t)b->dims[b->rank - 2] != p->K)
        return fw_refuse(why, whylen, "in1: %lld rows, in0 has K = %llu", (long long)b->dims[b->rank - 2],
                         (unsigned long long)p->K);
    p->N = (uint64_t)b->dims[b->rank - 1];
    if (b->rank > 2) {
        uint64_t bb = 1;
        for (uint32_t i = 0; i + 2 < b->rank; i++)
            bb *= (uint64_t)b->dims[i];
        if (bb != p->batch)
            return fw_refuse(why, whylen, "in1: %llu batches, in0 has %llu (batches must match, or in1 rank 2)",
                             (unsigned long long)bb, (unsigned long long)p->batch);
        p->b_batched = 1;
    }
    if (b->dtype != NPU_DT_I8 && b->dtype != NPU_DT_I4 && b->dtype != NPU_DT_I16 && b->dtype != NPU_DT_F16)
        return fw_refuse(why, whylen, "in1: dtype %s (expected i8, i4, i16 or f16)", fw_dtype_name(b->dtype));
    p->int4 = b->dtype == NPU_DT_I4;
    p->at = fw_mm_type(a->dtype);
    p->bt = fw_mm_type(b->dtype);
    p->fmode = p->at == ISA_MMT_F16 || p->bt == ISA_MMT_F16;
    if (p->at == ISA_MMT_I16 && p->bt == ISA_MMT_I16)
        return fw_refuse(why, whylen, "in0 and in1 are both i16 (the array multiplies 16 x 8)");
    if (p->fmode && (p->at == ISA_MMT_I16 || p->bt == ISA_MMT_I16))
        return fw_refuse(why, whylen, "an i16 operand with an f16 one (the f16 mode takes f16, i8 or i4)");
    p->ae = fw_dtype_bytes(a->dtype);
    p->be2 = p->int4 ? 1 : 2 * fw_dtype_bytes(b->dtype);
    if (d->iattr[1] != NPU_LAYOUT_ROW_MAJOR && d->iattr[1] != NPU_LAYOUT_BLOCKED)
        return fw_refuse(why, whylen, "in1: layout %d (expected ROW_MAJOR or BLOCKED)", d->iattr[1]);
    p->blocked = d->iattr[1] == NPU_LAYOUT_BLOCKED;
    p->mt = c->info->mm_rows;
    if (p->blocked) {
        if (b->rank != 2)
            return fw_refuse(why, whylen, "in1: a BLOCKED weight has rank 2, not %u", b->rank);
        if (d->iattr[2] < 1 || (uint32_t)d->iattr[2] > c->info->mm_cols || (p->int4 && d->iattr[2] % 2))
            return fw_refuse(why, whylen, "in1: block width %d (expected 1..%u%s)", d->iattr[2], c->info->mm_cols,
                             p->int4 ? ", even for int4" : "");
        p->nb = (uint64_t)d->iattr[2];
    } else {
        p->nb = c->info->mm_cols;
        if (p->int4 && p->nb % 2)
            p->nb--;
        if (p->int4 && p->N % 2)
            return fw_refuse(why, whylen, "in1: int4 row-major weight with odd N = %llu", (unsigned long long)p->N);
    }
    if (p->nb < 1)
        return fw_refuse(why, whylen, "the %u-column array cannot hold an int4 tile", c->info->mm_cols);
    p->ntiles = (p->N + p->nb - 1) / p->nb;
    uint64_t bbytes;
    if (p->blocked)
        bbytes = (p->ntiles - 1) * p->K * b_bytes(p, p->nb) + p->K * b_bytes(p, tile_width_eff(p, p->ntiles - 1));
    else
        bbytes = fw_tensor_bytes(b);
    p->b_row_bytes = b_bytes(p, p->N);
    if (fw_check_ref(c, b, "in1", bbytes, why, whylen))
        return -1;
    float sa = a->dtype == NPU_DT_F16 ? 1.0f : a->scale, sb = b->dtype == NPU_DT_F16 ? 1.0f : b->scale;
    if (d->iattr[3] < 0 || (d->iattr[3] > 0 && b->scales_axis != (int32_t)b->rank - 1))
        return fw_refuse(why, whylen, "iattr[3] = %d: per-group scales are G > 0 with in1's scales on its last axis",
                         d->iattr[3]);
    p->group = (uint64_t)d->iattr[3];
    if (b->scales_axis == (int32_t)b->rank - 1) {
        if (p->b_batched)
            return fw_refuse(why, whylen, "in1: per-channel scales on a batched operand");
        uint64_t groups = p->group ? (p->K + p->group - 1) / p->group : 1;
        if (fw_check_scales(c, b, "in1", groups * p->N, why, whylen))
            return -1;
        p->per_channel = !p->group;
        p->s_deq = sa;
    } else if (b->scales_axis == -1) {
        if (!(sb > 0.0f && sb <= 3.402823466e38f))
            return fw_refuse(why, whylen, "in1: scale %g (expected finite and > 0)", (double)b->scale);
        p->s_deq = sa * sb;
        if (!(p->s_deq > 0.0f && p->s_deq <= 3.402823466e38f))
            return fw_refuse(why, whylen, "in0 scale x in1 scale = %g is not a finite positive f32",
                             (double)p->s_deq);
    } else {
        return fw_refuse(why, whylen, "in1: scales axis %d (expected -1 or %u)", b->scales_axis, b->rank - 1);
    }
    if (fw_numel(o) != p->rows * p->N || (uint64_t)o->dims[o->rank - 1] != p->N)
        return fw_refuse(why, whylen, "out: %llu elements, last dim %lld (expected %llu x %llu)",
                         (unsigned long long)fw_numel(o), (long long)o->dims[o->rank - 1],
                         (unsigned long long)p->rows, (unsigned long long)p->N);
    if (fw_check_fused_act(d->iattr[0], why, whylen))
        return -1;
    p->act = d->iattr[0];
    if (fw_check_out_stage(c, d, p->N, p->act, &p->os, why, whylen))
        return -1;
    if (d->n_inputs >= 3 && !p->os.on) {
        if (fw_check_f32_vec(c, &d->in[2], "in2 (bias)", p->N, why, whylen))
            return -1;
        p->bias = 1;
    }
    p->osz = fw_dtype_bytes(o->dtype);
    int wide_int = !p->fmode && (p->at == ISA_MMT_I16 || p->bt == ISA_MMT_I16);
    if (p->group) {
        if (p->group > FW_FIELD_MAX(MM, K) || (wide_int && p->group > MM_WIDE_INT_MAX_K))
            return fw_refuse(why, whylen, "group size %llu (at most %llu%s)", (unsigned long long)p->group,
                             (unsigned long long)(wide_int ? MM_WIDE_INT_MAX_K : FW_FIELD_MAX(MM, K)),
                             wide_int ? " with an i16 operand" : "");
        p->kacc = p->group < p->K ? p->group : p->K;
    } else if (wide_int && p->K > MM_WIDE_INT_MAX_K) {
        p->kacc = MM_WIDE_INT_MAX_K;
    }
    if (p->os.on && p->kacc)
        return fw_refuse(why, whylen, "in2: output-stage parameters, but K is summed in f32 chunks (%s): the stage "
                         "takes int32 sums", p->group ? "per-group scales" : "an i16 operand with K > 511");
    if (p->fmode && p->K > FW_FIELD_MAX(MM, K))
        return fw_refuse(why, whylen, "K = %llu: the f16 mode sums K in one pass of at most %llu",
                         (unsigned long long)p->K, (unsigned long long)FW_FIELD_MAX(MM, K));
    if (plan_tiling(p, c->info->sram_bytes, why, whylen))
        return -1;
    p->ws = choose_ws(p);
    return 0;
}

static int mm_check(fw_op_ctx *c, const npu_op_desc *d, char *why, size_t whylen)
{
    mm_plan p;
    return mm_plan_make(c, d, &p, why, whylen);
}

/* ---------------------------------------------------------------- emission */

typedef struct mm_state {
    const npu_op_desc *d;
    const mm_plan *p;
    fw_pipe a, b, cc, prm, out, gs, tab;
    uint32_t t_area;      /* f32 accumulation: a chunk's converted products before they are added */
    uint32_t a_slot;      /* current A slot (SRAM) */
    uint32_t prm_slot;    /* output stage: the group's records */
    uint32_t tab_slot;    /* output stage: the table */
    uint64_t a_k0;        /* first K column in the A slot */
    uint64_t kc_len;      /* columns of the current k chunk */
    /* the row block */
    uint64_t r0, nrows;
    /* B panel being assembled */
    int counting;         /* only count panels */
    uint32_t panels;
    uint32_t bslot;       /* SRAM of the open panel */
    unsigned bq;          /* its DMA queue */
    uint64_t used;        /* bytes used in the open panel */
    int open;
    /* a contiguous DMA run not yet emitted */
    uint64_t run_off, run_bytes;
    uint32_t run_sram;
    /* items in the open panel, for the products */
    uint32_t nitems;
    struct mm_item { uint64_t j, b, sram; } items[MM_MAX_PANEL_ITEMS];
} mm_state;

static void flush_run(fw_op_ctx *c, mm_state *s)
{
    if (s->run_bytes && !s->counting)
        fw_dma_flat(c, 1, s->bq, s->d->in[1].buf, s->run_sram, s->run_off, s->run_bytes);
    s->run_bytes = 0;
}

/* The products of every item of the open panel; then the panel's slot is free again. */
static void close_panel(fw_op_ctx *c, mm_state *s, uint64_t kc_index, uint32_t cslot, uint64_t n0_tile)
{
    if (!s->open)
        return;
    flush_run(c, s);
    s->open = 0;
    s->panels++;
    if (s->counting)
        return;
    const mm_plan *p = s->p;
    fw_pipe_end(c, &s->b, 0, s->bq);
    fw_pipe_begin(c, &s->b, 1, NPU_UNIT_MM);
    int rq = p->os.on && kc_index + 1 == p->nk; /* the last products go through the output stage */
    uint64_t esz = p->os.on && p->nk == 1 ? 1 : 4;
    for (uint32_t i = 0; i < s->nitems; i++) {
        const struct mm_item *it = &s->items[i];
        uint64_t we = tile_width_eff(p, it->j);
        uint32_t cblk = cslot + (uint32_t)(esz * s->nrows * p->nb * (it->j - n0_tile));
        if (rq) /* the tile's records (columns past its width get zero records) */
            fw_mm_out(c, &p->os, 0, s->prm_slot + (uint32_t)(ISA_MM_OUT_RECORD_BYTES * p->nb * (it->j - n0_tile)),
                      (uint32_t)tile_width(p, it->j), s->tab_slot);
        /* the m-tiles of this item: rows of its batch inside the row block (all rows if shared) */
        uint64_t lo = s->r0, hi = s->r0 + s->nrows;
        if (p->b_batched) {
            uint64_t blo = it->b * p->M, bhi = blo + p->M;
            lo = lo > blo ? lo : blo;
            hi = hi < bhi ? hi : bhi;
        }
        uint64_t step = p->ws ? FW_FIELD_MAX(MM, M) : p->mt;
        for (uint64_t r = lo; r < hi; r += step) {
            uint64_t m = hi - r < step ? hi - r : step;
            uint64_t ro = r - s->r0;
            if (rq)
                fw_mm_rq(c, p->ws, kc_index > 0, p->int4, p->at, p->bt, (uint32_t)m, (uint32_t)we,
                         (uint32_t)s->kc_len, s->a_slot + (uint32_t)(ro * s->kc_len * p->ae), (uint32_t)it->sram,
                         cblk + (uint32_t)(esz * ro * we));
            else
                fw_mm_typed(c, p->ws, !p->kacc && kc_index > 0, p->int4, p->at, p->bt, (uint32_t)m, (uint32_t)we,
                            (uint32_t)s->kc_len, s->a_slot + (uint32_t)(ro * s->kc_len * p->ae), (uint32_t)it->sram,
                            cblk + (uint32_t)(esz * ro * we));
        }
    }
    fw_pipe_end(c, &s->b, 1, NPU_UNIT_MM);
    s->nitems = 0;
}

/* Add B item (tile j, batch bi, k chunk starting at k0) to the open panel, opening one if needed. */
static void add_item(fw_op_ctx *c, mm_state *s, uint64_t j, uint64_t bi, uint64_t k0, uint64_t kc_index,
                     uint32_t cslot, uint64_t n0_tile)
{
    const mm_plan *p = s->p;
    const npu_tensor_ref *b = &s->d->in[1];
    uint64_t we = tile_width_eff(p, j), cols = b_bytes(p, we), bytes = s->kc_len * cols;
    if (s->open && (s->used + bytes > p->b_slot || s->nitems == MM_MAX_PANEL_ITEMS))
        close_panel(c, s, kc_index, cslot, n0_tile);
    if (!s->open) {
        s->open = 1;
        s->used = 0;
        s->nitems = 0;
        if (!s->counting) {
            uint32_t slot_index = fw_pipe_slot_index(&s->b, 0);
            s->bq = fw_load_queue(c, slot_index);
            s->bslot = fw_pipe_begin(c, &s->b, 0, s->bq);
        }
    }
    uint32_t sram = s->bslot + (uint32_t)s->used;
    s->items[s->nitems].j = j;
    s->items[s->nitems].b = bi;
    s->items[s->nitems].sram = sram;
    s->nitems++;
    s->used += bytes; /* items pack tightly: mm reads B at any address */
    if (s->counting)
        return;
    uint64_t off, rows, dstride;
    if (p->blocked) {
        off = b->offset + j * p->K * b_bytes(p, p->nb) + k0 * cols;
        rows = 1;
        dstride = bytes;
    } else {
        off = b->offset + bi * p->K * p->b_row_bytes + k0 * p->b_row_bytes + b_bytes(p, j * p->nb);
        rows = s->kc_len;
        dstride = p->b_row_bytes;
    }
    int flat = rows == 1 || dstride == cols;
    if (flat && s->run_bytes && off == s->run_off + s->run_bytes && sram == s->run_sram + s->run_bytes) {
        s->run_bytes += bytes;
        return;
    }
    flush_run(c, s);
    if (flat) {
        s->run_off = off;
        s->run_sram = sram;
        s->run_bytes = bytes;
    } else {
        fw_dma(c, 1, s->bq, b->buf, sram, off, rows, cols, dstride, cols);
    }
}

/* All B items of one (row block, group, k chunk). */
static void stream_b(fw_op_ctx *c, mm_state *s, uint64_t j0, uint64_t j1, uint64_t k0, uint64_t kc_index,
                     uint32_t cslot)
{
    const mm_plan *p = s->p;
    uint64_t b_lo = 0, b_hi = 1;
    if (p->b_batched) {
        b_lo = s->r0 / p->M;
        b_hi = (s->r0 + s->nrows - 1) / p->M + 1;
    }
    for (uint64_t j = j0; j < j1; j++)
        for (uint64_t bi = b_lo; bi < b_hi; bi++)
            add_item(c, s, j, bi, k0, kc_index, cslot, j0);
    close_panel(c, s, kc_index, cslot, j0);
}

static void load_a(fw_op_ctx *c, mm_state *s, uint64_t k0)
{
    const mm_plan *p = s->p;
    const npu_tensor_ref *a = &s->d->in[0];
    unsigned q = fw_load_queue(c, fw_pipe_slot_index(&s->a, 0) + 1);
    uint32_t slot = fw_pipe_begin(c, &s->a, 0, q);
    fw_dma(c, 1, q, a->buf, slot, a->offset + (s->r0 * p->K + k0) * p->ae, s->nrows, s->kc_len * p->ae, p->K * p->ae,
           s->kc_len * p->ae);
    fw_pipe_end(c, &s->a, 0, q);
    s->a_slot = fw_pipe_begin(c, &s->a, 1, NPU_UNIT_MM);
}

/* Columns [n0, n0 + gw) of a group of tiles j0 .. j1 - 1. */
static void group_cols(const mm_plan *p, uint64_t j0, uint64_t j1, uint64_t *n0, uint64_t *gw)
{
    *n0 = j0 * p->nb;
    *gw = (j1 < p->ntiles ? j1 * p->nb : p->N) - *n0;
}

/* The products of one (row block, group) in the C slot as f32, row-major [rows][gw], at dst,
 * times s_deq: column blocks are staged to rows first when they need it; int32 products through
 * v.dequant, the f16 mode's f32 sums through v.cvt. */
static void load_products(fw_op_ctx *c, const mm_state *s, uint64_t j0, uint64_t j1, uint32_t cslot, uint32_t dst)
{
    const mm_plan *p = s->p;
    uint64_t n0, gw;
    group_cols(p, j0, j1, &n0, &gw);
    uint64_t n = s->nrows * gw;
    uint32_t src = cslot;
    int stage = s->nrows > 1 && (j1 - j0 > 1 || tile_width_eff(p, j1 - 1) != tile_width(p, j1 - 1));
    if (stage) { /* column blocks -> row-major [rows][gw] */
        for (uint64_t j = j0; j < j1; j++)
            fw_vmov(c, 0, 4, dst + (uint32_t)(4 * (j - j0) * p->nb), cslot + (uint32_t)(4 * s->nrows * p->nb * (j - j0)),
                    s->nrows, tile_width(p, j), tile_width_eff(p, j), gw);
        src = dst;
    }
    if (p->fmode)
        fw_vcvt(c, ISA_CDT_F32, ISA_CDT_F32, dst, src, n, p->s_deq);
    else
        fw_vdequant(c, ISA_SDT_I32, dst, src, n, p->s_deq);
}

/* The epilogue of one (row block, group) on the vector unit, then its store. Without f32
 * accumulation the products come from the C slot into the output slot o; with it, o already
 * holds their f32 sum (accumulate_chunk). */
static void epilogue(fw_op_ctx *c, mm_state *s, uint64_t j0, uint64_t j1)
{
    const mm_plan *p = s->p;
    const npu_op_desc *d = s->d;
    uint64_t n0, gw;
    group_cols(p, j0, j1, &n0, &gw);
    uint64_t n = s->nrows * gw;
    uint32_t prm = 0;
    if (p->per_channel || p->bias) { /* this group's scales and bias */
        unsigned q = fw_load_queue(c, fw_pipe_slot_index(&s->prm, 0) + 2);
        prm = fw_pipe_begin(c, &s->prm, 0, q);
        if (p->per_channel)
            fw_dma_flat(c, 1, q, d->in[1].scales_buf, prm, d->in[1].scales_offset + 4 * n0, 4 * gw);
        if (p->bias)
            fw_dma_flat(c, 1, q, d->in[2].buf, prm + (uint32_t)(4 * p->G * p->nb), d->in[2].offset + 4 * n0, 4 * gw);
        fw_pipe_end(c, &s->prm, 0, q);
    }
    uint32_t o;
    if (p->kacc) {
        o = fw_pipe_slot(&s->out, 0); /* begun by the first chunk */
    } else {
        uint32_t cslot = fw_pipe_begin(c, &s->cc, 1, NPU_UNIT_VEC);
        o = fw_pipe_begin(c, &s->out, 0, NPU_UNIT_VEC);
        load_products(c, s, j0, j1, cslot, o);
        fw_pipe_end(c, &s->cc, 1, NPU_UNIT_VEC);
    }
    if (p->per_channel || p->bias) {
        fw_pipe_begin(c, &s->prm, 1, NPU_UNIT_VEC);
        if (p->per_channel)
            fw_vbin_rows(c, ISA_BINOP_MUL, ISA_BC_ROW, o, o, prm, s->nrows, gw);
        if (p->bias)
            fw_vbin_rows(c, ISA_BINOP_ADD, ISA_BC_ROW, o, o, prm + (uint32_t)(4 * p->G * p->nb), s->nrows, gw);
        fw_pipe_end(c, &s->prm, 1, NPU_UNIT_VEC);
    }
    fw_activation(c, p->act, d->fattr, o, n);
    fw_from_f32(c, &d->out, o, o, n);
    fw_pipe_end(c, &s->out, 0, NPU_UNIT_VEC);
    unsigned sq = fw_store_queue(c);
    fw_pipe_begin(c, &s->out, 1, sq);
    fw_dma(c, 0, sq, d->out.buf, o, d->out.offset + (s->r0 * p->N + n0) * p->osz, s->nrows, gw * p->osz,
           p->N * p->osz, gw * p->osz);
    fw_pipe_end(c, &s->out, 1, sq);
}

/* f32 accumulation: chunk kci's products (in the C slot) into the output slot F, in chunk order:
 * F = y (first chunk) or F + y, y = the products times s_deq (times the group's scales). */
static void accumulate_chunk(fw_op_ctx *c, mm_state *s, uint64_t j0, uint64_t j1, uint64_t kci)
{
    const mm_plan *p = s->p;
    const npu_tensor_ref *b = &s->d->in[1];
    uint64_t n0, gw;
    group_cols(p, j0, j1, &n0, &gw);
    uint64_t n = s->nrows * gw;
    uint32_t g = 0;
    if (p->group) { /* this chunk's group scales for the group's columns */
        unsigned q = fw_load_queue(c, fw_pipe_slot_index(&s->gs, 0) + 2);
        g = fw_pipe_begin(c, &s->gs, 0, q);
        fw_dma_flat(c, 1, q, b->scales_buf, g, b->scales_offset + 4 * (kci * p->N + n0), 4 * gw);
        fw_pipe_end(c, &s->gs, 0, q);
    }
    uint32_t f = kci == 0 ? fw_pipe_begin(c, &s->out, 0, NPU_UNIT_VEC) : fw_pipe_slot(&s->out, 0);
    uint32_t y = kci == 0 ? f : s->t_area;
    uint32_t cslot = fw_pipe_begin(c, &s->cc, 1, NPU_UNIT_VEC);
    load_products(c, s, j0, j1, cslot, y);
    fw_pipe_end(c, &s->cc, 1, NPU_UNIT_VEC);
    if (p->group) {
        fw_pipe_begin(c, &s->gs, 1, NPU_UNIT_VEC);
        fw_vbin_rows(c, ISA_BINOP_MUL, ISA_BC_ROW, y, y, g, s->nrows, gw);
        fw_pipe_end(c, &s->gs, 1, NPU_UNIT_VEC);
    }
    if (kci > 0)
        fw_vbin_flat(c, ISA_BINOP_ADD, 0, f, f, y, n);
}

/* Output stage: the records of columns [n0, n0 + width of the group) into the next prm slot; the
 * matmul tile waits for them before the group's first product. */
static void load_records(fw_op_ctx *c, mm_state *s, uint64_t j0, uint64_t j1)
{
    const mm_plan *p = s->p;
    const npu_tensor_ref *prm = &s->d->in[2];
    uint64_t n0 = j0 * p->nb, gw = (j1 < p->ntiles ? j1 * p->nb : p->N) - n0;
    unsigned q = fw_load_queue(c, fw_pipe_slot_index(&s->prm, 0) + 2);
    uint32_t slot = fw_pipe_begin(c, &s->prm, 0, q);
    fw_dma_flat(c, 1, q, prm->buf, slot, prm->offset + ISA_MM_OUT_RECORD_BYTES * n0, ISA_MM_OUT_RECORD_BYTES * gw);
    fw_pipe_end(c, &s->prm, 0, q);
    s->prm_slot = fw_pipe_begin(c, &s->prm, 1, NPU_UNIT_MM);
}

/* Output stage: store the group's int8 results from the C slot. One row (a GEMV) lies whole in the
 * slot, tile after tile: one DMA. Otherwise a column tile at a time (one DMA per tile when one mm
 * made each m-tile, else one per m-tile: they sit where their int32 partial sums were). */
static void store_tiles(fw_op_ctx *c, mm_state *s, uint64_t j0, uint64_t j1, uint32_t cslot)
{
    const mm_plan *p = s->p;
    const npu_tensor_ref *o = &s->d->out;
    unsigned sq = fw_store_queue(c);
    fw_pipe_begin(c, &s->cc, 1, sq);
    if (p->nk == 1 && s->nrows == 1) {
        uint64_t n0 = j0 * p->nb, gw = (j1 < p->ntiles ? j1 * p->nb : p->N) - n0;
        fw_dma_flat(c, 0, sq, o->buf, cslot, o->offset + s->r0 * p->N + n0, gw);
        fw_pipe_end(c, &s->cc, 1, sq);
        return;
    }
    for (uint64_t j = j0; j < j1; j++) {
        uint64_t tw = tile_width(p, j), we = tile_width_eff(p, j), n0 = j * p->nb;
        if (p->nk == 1) {
            fw_dma(c, 0, sq, o->buf, cslot + (uint32_t)(s->nrows * p->nb * (j - j0)), o->offset + s->r0 * p->N + n0,
                   s->nrows, tw, p->N, we);
            continue;
        }
        uint32_t blk = cslot + (uint32_t)(4 * s->nrows * p->nb * (j - j0));
        uint64_t b_lo = 0, b_hi = 1, step = p->ws ? FW_FIELD_MAX(MM, M) : p->mt;
        if (p->b_batched) {
            b_lo = s->r0 / p->M;
            b_hi = (s->r0 + s->nrows - 1) / p->M + 1;
        }
        for (uint64_t bi = b_lo; bi < b_hi; bi++) { /* the m-tiles close_panel made */
            uint64_t lo = s->r0, hi = s->r0 + s->nrows;
            if (p->b_batched) {
                lo = lo > bi * p->M ? lo : bi * p->M;
                hi = hi < (bi + 1) * p->M ? hi : (bi + 1) * p->M;
            }
            for (uint64_t r = lo; r < hi; r += step) {
                uint64_t m = hi - r < step ? hi - r : step, ro = r - s->r0;
                fw_dma(c, 0, sq, o->buf, blk + (uint32_t)(4 * ro * we), o->offset + r * p->N + n0, m, tw, p->N, we);
            }
        }
    }
    fw_pipe_end(c, &s->cc, 1, sq);
}

/* Walk the loop nest; with s->counting only the B panels are counted. */
static void walk(fw_op_ctx *c, mm_state *s)
{
    const mm_plan *p = s->p;
    for (s->r0 = 0; s->r0 < p->rows; s->r0 += p->R) {
        s->nrows = p->rows - s->r0 < p->R ? p->rows - s->r0 : p->R;
        if (p->a_resident && !s->counting) {
            s->kc_len = p->K;
            load_a(c, s, 0);
        }
        for (uint64_t j0 = 0; j0 < p->ntiles; j0 += p->G) {
            uint64_t j1 = j0 + p->G < p->ntiles ? j0 + p->G : p->ntiles;
            if (p->os.on && !s->counting)
                load_records(c, s, j0, j1);
            uint32_t cslot = s->counting || p->kacc ? 0 : fw_pipe_begin(c, &s->cc, 0, NPU_UNIT_MM);
            for (uint64_t kci = 0; kci < p->nk; kci++) {
                uint64_t k0 = kci * p->kc;
                s->kc_len = p->K - k0 < p->kc ? p->K - k0 : p->kc;
                if (p->kacc && !s->counting) /* each chunk's products in a C slot of their own */
                    cslot = fw_pipe_begin(c, &s->cc, 0, NPU_UNIT_MM);
                if (!p->a_resident && !s->counting)
                    load_a(c, s, k0);
                stream_b(c, s, j0, j1, k0, kci, cslot);
                if (!p->a_resident && !s->counting)
                    fw_pipe_end(c, &s->a, 1, NPU_UNIT_MM);
                if (p->kacc && !s->counting) {
                    fw_pipe_end(c, &s->cc, 0, NPU_UNIT_MM);
                    accumulate_chunk(c, s, j0, j1, kci);
                }
            }
            if (s->counting)
                continue;
            if (!p->kacc)
                fw_pipe_end(c, &s->cc, 0, NPU_UNIT_MM);
            if (p->os.on) {
                fw_pipe_end(c, &s->prm, 1, NPU_UNIT_MM);
                store_tiles(c, s, j0, j1, cslot);
            } else {
                epilogue(c, s, j0, j1);
            }
        }
        if (p->a_resident && !s->counting)
            fw_pipe_end(c, &s->a, 1, NPU_UNIT_MM);
    }
}

static void mm_emit(fw_op_ctx *c, const npu_op_desc *d)
{
    mm_plan p;
    char why[FW_WHY_BYTES];
    if (mm_plan_make(c, d, &p, why, sizeof why) != 0)
        return; /* checked before: cannot happen */
    mm_state s;
    memset(&s, 0, sizeof s);
    s.d = d;
    s.p = &p;
    s.counting = 1;
    walk(c, &s);
    uint32_t panels = s.panels;
    uint64_t row_blocks = (p.rows + p.R - 1) / p.R, groups = row_blocks * ((p.ntiles + p.G - 1) / p.G);
    uint32_t a_items = (uint32_t)(p.a_resident ? row_blocks : groups * p.nk);
    fw_pipe_init(c, &s.a, MM_PIPE_SLOTS, 2, p.a_bytes, a_items);
    fw_pipe_init(c, &s.b, p.b_slots, 2, p.b_slot, panels);
    uint32_t chunks = (uint32_t)(p.kacc ? groups * p.nk : groups);
    fw_pipe_init(c, &s.cc, MM_PIPE_SLOTS, 2, p.c_bytes, chunks);
    if (!p.os.on)
        fw_pipe_init(c, &s.out, MM_PIPE_SLOTS, 2, p.o_bytes, (uint32_t)groups);
    if (p.per_channel || p.bias || p.os.on)
        fw_pipe_init(c, &s.prm, MM_PIPE_SLOTS, 2, p.p_bytes, (uint32_t)groups);
    if (p.kacc) {
        s.t_area = fw_sram_alloc(c, p.t_bytes);
        if (p.group)
            fw_pipe_init(c, &s.gs, MM_PIPE_SLOTS, 2, p.g_bytes, chunks);
    }
    if (p.os.lut) /* the table, once for the op; the tile waits for it before its first mm.out */
        s.tab_slot = fw_load_table(c, &s.tab, d, &p.os);
    s.counting = 0;
    s.panels = 0;
    walk(c, &s);
    if (p.os.lut)
        fw_pipe_end(c, &s.tab, 1, NPU_UNIT_MM);
}

static void mm_describe(fw_op_ctx *c, const npu_op_desc *d, char *buf, size_t len)
{
    mm_plan p;
    char why[FW_WHY_BYTES];
    if (mm_plan_make(c, d, &p, why, sizeof why))
        return;
    snprintf(buf, len, "%s, %llux%llu x %llux%llu %s, %llu tiles of %llu columns in groups of %llu, rows in blocks of "
             "%llu, k in %llu chunk%s of %llu, %u B slots",
             p.ws ? "weight-stationary" : "output-stationary", (unsigned long long)p.rows, (unsigned long long)p.K,
             (unsigned long long)p.K, (unsigned long long)p.N, p.int4 ? "int4" : "int8", (unsigned long long)p.ntiles,
             (unsigned long long)p.nb, (unsigned long long)p.G, (unsigned long long)p.R, (unsigned long long)p.nk,
             p.nk == 1 ? "" : "s", (unsigned long long)p.kc, p.b_slots);
    if (p.os.on)
        snprintf(buf + strlen(buf), len - strlen(buf), ", epilogue in the output stage%s", p.os.lut ? " (table)" : "");
}

const fw_op_kernel fw_kernel_matmul = {"matmul", mm_check, mm_emit, mm_describe};
