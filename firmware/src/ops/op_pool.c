/* op_pool.c -- NPU_OP_POOL: max and average pooling on the vector unit.
 *
 * The window taps of a segment (a block of channels; wide runs of positions across output rows
 * for a stride-1 window, else one output row's run) come from the convolutions' im2col
 * (fw_im2col.c): rows [(kh*KW + kw) * cc + c][n] of int8 values in SRAM. The vector unit turns tap 0 into f32 (exact integers), then folds every further tap
 * into it (v.dequant into a temporary, v.bin max or add), so that the window's maximum or sum
 * is exact; one multiply by the input's scale then gives real values, and for an average one
 * multiply by the divisor's reciprocal: a scalar, or (count_include_pad = 0 at the borders) one
 * per output position, a row broadcast over the channels loaded per segment. The input is
 * padded by the runtime (-128 for max, 0 for average). Segments stream through two slots per
 * stage as in op_conv.c. The arithmetic is specified in README.md ("POOL").
 */
#include "fw_ops.h"

#include <string.h>

#define POOL_PIPE_SLOTS 2
/* The window sum of int8 values is exact in f32 while it stays within 2^24: at most this many taps. */
#define POOL_EXACT_SUM_TAPS ((1u << 24) / 128u)

typedef struct pool_plan {
    uint64_t n, c, h, w, kh, kw, sh, sw, oh, ow, kk;
    int kind, map, runs; /* runs: flat or wide positions (fw_im2col), else output rows */
    float recip;          /* AVG without a map */
    uint32_t osz;
    uint64_t cc, nseg;    /* channels per block, positions per segment */
    fw_im2col im2col;
    uint64_t b_bytes, acc_bytes, o_bytes;
    uint64_t blocks, segments;
} pool_plan;

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

static uint64_t pool_sram(pool_plan *p)
{
    p->b_bytes = fw_im2col_slot_bytes(&p->im2col, p->cc, p->nseg);
    p->acc_bytes = fw_align(4 * p->cc * p->nseg);
    p->o_bytes = 2 * p->acc_bytes; /* the f32 window result, and a temporary for one tap */
    return POOL_PIPE_SLOTS * (fw_align(p->b_bytes) + fw_align(p->o_bytes) + (p->map ? fw_align(4 * p->nseg) : 0));
}

static int pool_plan_make(const fw_op_ctx *c, const npu_op_desc *d, pool_plan *p, char *why, size_t whylen)
{
    const npu_tensor_ref *x = &d->in[0], *y = &d->out;
    memset(p, 0, sizeof *p);
    if (fw_check_act(c, x, "in0", why, whylen) || fw_check_act(c, y, "out", why, whylen))
        return -1;
    if (x->dtype != NPU_DT_I8 || x->rank != 4 || y->rank != 4)
        return fw_refuse(why, whylen, "in0 %s rank %u, out rank %u (expected i8 [N,C,H,W] and [N,C,OH,OW])",
                         fw_dtype_name(x->dtype), x->rank, y->rank);
    if (d->iattr[4] != NPU_POOL_MAX && d->iattr[4] != NPU_POOL_AVG)
        return fw_refuse(why, whylen, "iattr[4] = %d is not an enum npu_pool", d->iattr[4]);
    if (d->iattr[0] < 1 || d->iattr[1] < 1 || d->iattr[2] < 1 || d->iattr[3] < 1)
        return fw_refuse(why, whylen, "strides %d,%d, kernel %dx%d (expected >= 1)", d->iattr[0], d->iattr[1],
                         d->iattr[2], d->iattr[3]);
    p->kind = d->iattr[4];
    p->n = (uint64_t)x->dims[0];
    p->c = (uint64_t)x->dims[1];
    p->h = (uint64_t)x->dims[2];
    p->w = (uint64_t)x->dims[3];
    p->sh = (uint64_t)d->iattr[0];
    p->sw = (uint64_t)d->iattr[1];
    p->kh = (uint64_t)d->iattr[2];
    p->kw = (uint64_t)d->iattr[3];
    p->kk = p->kh * p->kw;
    if (p->kh > p->h || p->kw > p->w)
        return fw_refuse(why, whylen, "window %llux%llu larger than the input %llux%llu", (unsigned long long)p->kh,
                         (unsigned long long)p->kw, (unsigned long long)p->h, (unsigned long long)p->w);
    p->oh = (p->h - p->kh) / p->sh + 1;
    p->ow = (p->w - p->kw) / p->sw + 1;
    if ((uint64_t)y->dims[0] != p->n || (uint64_t)y->dims[1] != p->c || (uint64_t)y->dims[2] != p->oh ||
        (uint64_t)y->dims[3] != p->ow)
        return fw_refuse(why, whylen, "out: [%lld,%lld,%lld,%lld] (expected [%llu,%llu,%llu,%llu])", (long long)y->dims[0],
                         (long long)y->dims[1], (long long)y->dims[2], (long long)y->dims[3], (unsigned long long)p->n,
                         (unsigned long long)p->c, (unsigned long long)p->oh, (unsigned long long)p->ow);
    if (p->kk > POOL_EXACT_SUM_TAPS)
        return fw_refuse(why, whylen, "a %llux%llu window has more than %u taps (the f32 sum of int8 values is exact "
                         "up to that)", (unsigned long long)p->kh, (unsigned long long)p->kw, POOL_EXACT_SUM_TAPS);
    p->osz = fw_dtype_bytes(y->dtype);
    if (p->h * p->w > FW_FIELD_MAX(DMA_LD, DSTRIDE) || p->oh * p->ow * p->osz > FW_FIELD_MAX(DMA_LD, DSTRIDE))
        return fw_refuse(why, whylen, "channel planes of %llu input / %llu output bytes exceed the DMA's %llu-byte pitch",
                         (unsigned long long)(p->h * p->w), (unsigned long long)(p->oh * p->ow * p->osz),
                         (unsigned long long)FW_FIELD_MAX(DMA_LD, DSTRIDE));
    p->map = d->n_inputs >= 2 && d->in[1].buf != NPU_NO_BUFFER;
    if (p->map && p->kind != NPU_POOL_AVG)
        return fw_refuse(why, whylen, "in1 (divisors) is for an average pool only");
    if (p->map && fw_check_f32_vec(c, &d->in[1], "in1 (divisors)", p->oh * p->ow, why, whylen))
        return -1;
    p->recip = d->fattr[0];
    fw_im2col_init(&p->im2col, x, p->kh, p->kw, p->sh, p->sw, 1);
    fw_im2col_allow_wide(&p->im2col, p->oh, p->ow);
    p->runs = fw_im2col_positions(&p->im2col) > 0;
    p->cc = p->c;
    p->nseg = p->runs ? fw_im2col_positions(&p->im2col) : p->ow;
    uint64_t sram = c->info->sram_bytes;
    for (;;) {
        uint64_t lim = fw_im2col_max_positions(&p->im2col, p->cc);
        if (p->nseg > lim)
            p->nseg = lim ? lim : 1;
        if (fw_im2col_max_positions(&p->im2col, p->cc) >= p->nseg && pool_sram(p) <= sram)
            break;
        if (p->cc > 1)
            p->cc = (p->cc + 1) / 2;
        else if (p->nseg > 1)
            p->nseg = (p->nseg + 1) / 2;
        else
            return fw_refuse(why, whylen, "does not fit in the %llu-byte SRAM", (unsigned long long)sram);
    }
    p->segments = p->runs ? ceil_div(fw_im2col_positions(&p->im2col), p->nseg) : p->oh * ceil_div(p->ow, p->nseg);
    p->blocks = p->n * ceil_div(p->c, p->cc);
    return 0;
}

static int pool_check(fw_op_ctx *c, const npu_op_desc *d, char *why, size_t whylen)
{
    pool_plan p;
    return pool_plan_make(c, d, &p, why, whylen);
}

/* ---------------------------------------------------------------- emission */

typedef struct pool_state {
    const npu_op_desc *d;
    const pool_plan *p;
    fw_pipe b, out, map;
} pool_state;

static void segment(fw_op_ctx *c, pool_state *s, uint64_t img, uint64_t c0, uint64_t cc, uint64_t oh, uint64_t ow0,
                    uint64_t n)
{
    const pool_plan *p = s->p;
    const npu_op_desc *d = s->d;
    uint64_t e = cc * n, p0 = oh * p->ow + ow0, count = n; /* the output positions of the segment */
    if (p->runs)
        fw_im2col_outputs(&p->im2col, ow0, n, &p0, &count);
    uint32_t bs = fw_im2col_load(c, &p->im2col, &s->b, img, oh, ow0, n, c0, cc);
    uint32_t mp = 0;
    if (p->map) { /* this segment's divisor reciprocals */
        unsigned q = fw_load_queue(c, fw_pipe_slot_index(&s->map, 0) + 1);
        mp = fw_pipe_begin(c, &s->map, 0, q);
        fw_dma_flat(c, 1, q, d->in[1].buf, mp, d->in[1].offset + 4 * p0, 4 * count);
        fw_pipe_end(c, &s->map, 0, q);
    }
    uint32_t bstage = fw_im2col_stages(&p->im2col);
    fw_pipe_begin(c, &s->b, bstage, NPU_UNIT_VEC);
    uint32_t acc = fw_pipe_begin(c, &s->out, 0, NPU_UNIT_VEC), tmp = acc + (uint32_t)p->acc_bytes;
    int64_t fold = p->kind == NPU_POOL_MAX ? ISA_BINOP_MAX : ISA_BINOP_ADD;
    fw_vdequant(c, ISA_SDT_I8, acc, bs, e, 1.0f);
    for (uint64_t t = 1; t < p->kk; t++) {
        fw_vdequant(c, ISA_SDT_I8, tmp, bs + (uint32_t)(t * e), e, 1.0f);
        fw_vbin_flat(c, fold, 0, acc, acc, tmp, e);
    }
    fw_pipe_end(c, &s->b, bstage, NPU_UNIT_VEC);
    if (count < n) { /* wide runs: only the positions inside the output's width go on */
        fw_im2col_compact(c, &p->im2col, 4, tmp, acc, cc, ow0, n);
        acc = tmp;
        e = cc * count;
    }
    fw_vun(c, ISA_UNOP_MULI, acc, acc, e, d->in[0].scale);
    if (p->kind == NPU_POOL_AVG) {
        if (p->map) {
            fw_pipe_begin(c, &s->map, 1, NPU_UNIT_VEC);
            fw_vbin_rows(c, ISA_BINOP_MUL, ISA_BC_ROW, acc, acc, mp, cc, count);
            fw_pipe_end(c, &s->map, 1, NPU_UNIT_VEC);
        } else {
            fw_vun(c, ISA_UNOP_MULI, acc, acc, e, p->recip);
        }
    }
    fw_from_f32(c, &d->out, acc, acc, e);
    fw_pipe_end(c, &s->out, 0, NPU_UNIT_VEC);
    unsigned sq = fw_store_queue(c);
    uint64_t plane = p->oh * p->ow;
    fw_pipe_begin(c, &s->out, 1, sq);
    fw_dma(c, 0, sq, d->out.buf, acc, d->out.offset + ((img * p->c + c0) * plane + p0) * p->osz, cc, count * p->osz,
           plane * p->osz, count * p->osz);
    fw_pipe_end(c, &s->out, 1, sq);
}

static void pool_emit(fw_op_ctx *c, const npu_op_desc *d)
{
    pool_plan p;
    char why[FW_WHY_BYTES];
    if (pool_plan_make(c, d, &p, why, sizeof why))
        return;
    pool_state s;
    memset(&s, 0, sizeof s);
    s.d = d;
    s.p = &p;
    uint32_t items = (uint32_t)(p.blocks * p.segments);
    fw_pipe_init(c, &s.b, POOL_PIPE_SLOTS, fw_im2col_stages(&p.im2col) + 1, p.b_bytes, items);
    fw_pipe_init(c, &s.out, POOL_PIPE_SLOTS, 2, p.o_bytes, items);
    if (p.map)
        fw_pipe_init(c, &s.map, POOL_PIPE_SLOTS, 2, 4 * p.nseg, items);
    for (uint64_t img = 0; img < p.n; img++)
        for (uint64_t c0 = 0; c0 < p.c; c0 += p.cc) {
            uint64_t cc = p.c - c0 < p.cc ? p.c - c0 : p.cc;
            uint64_t positions = fw_im2col_positions(&p.im2col);
            if (p.runs) {
                for (uint64_t p0 = 0; p0 < positions; p0 += p.nseg)
                    segment(c, &s, img, c0, cc, 0, p0, positions - p0 < p.nseg ? positions - p0 : p.nseg);
                continue;
            }
            for (uint64_t oh = 0; oh < p.oh; oh++)
                for (uint64_t ow0 = 0; ow0 < p.ow; ow0 += p.nseg)
                    segment(c, &s, img, c0, cc, oh, ow0, p.ow - ow0 < p.nseg ? p.ow - ow0 : p.nseg);
        }
}

const fw_op_kernel fw_kernel_pool = {"pool", pool_check, pool_emit};
