/* op_pool.c -- NPU_OP_POOL: max and average pooling on the vector unit, separably and without
 * im2col.
 *
 * A block of channels and output rows is loaded once (each input row once, however many windows
 * it is in) and turned into f32 integers (v.dequant with scale 1: exact). A max pool dequantises
 * with the input's scale instead and needs no scaling pass after the fold: x -> fl(x * sx) is
 * monotonic (sx > 0, as fw_check_act requires of every int8 scale), so the largest product is
 * the product of the largest value, bit for bit. A stride s along a
 * dimension is undone by splitting that dimension into s phases, so that every window tap
 * becomes a shifted contiguous view: rows by the DMA (phase pr gets input rows pr, pr + s, ...),
 * columns by one v.mov transpose of the whole block ([rows][Wq][s] -> [s][rows][Wq]). The window
 * is then folded separably, each step one v.bin over the whole block: along a row, the KW taps
 * (phase kw % sw, shifted by kw / sw) into one value per position; then across rows, the KH taps
 * of those (row phase kh % sh, shifted by kh / sh rows). Views run over the block's full width,
 * so positions past the output's width (and rows past the block) are computed and dropped by a
 * compaction (one v.mov per output row) before the scale (average), the divisors and the store.
 * Max and sum of integers are exact in f32 whatever the order, so the result is the README's (and the
 * twin's) exactly. Blocks go through two slots (load, vector, store overlap). The input is padded
 * by the runtime (a PAD descriptor: -128 for max, 0 for average). README.md ("POOL").
 */
#include "fw_ops.h"

#include <string.h>

#define POOL_PIPE_SLOTS 2
/* The window sum of int8 values is exact in f32 while it stays within 2^24: at most this many taps. */
#define POOL_EXACT_SUM_TAPS ((1u << 24) / 128u)
#define F32_BYTES 4u
/* Output rows per block that blocks keep before they give up channels (longer vectors per
 * instruction against fewer channels per block). */
#define POOL_MIN_BLOCK_ROWS 4u

typedef struct pool_plan {
    uint64_t n, c, h, w, kh, kw, sh, sw, oh, ow;
    int kind, map;
    float recip;            /* AVG without a map */
    float sx;               /* the input's scale */
    uint32_t osz;
    uint64_t pr, pw;        /* row and column phases in use: min(stride, kernel) */
    uint64_t qh, qw;        /* taps per phase (at most): ceil(kernel / stride) */
    uint64_t wq, wl;        /* columns per column phase; loaded row length wq * sw */
    uint64_t cc, r, nr;     /* channels and output rows per block; phase rows loaded per block */
    /* slot layout (bytes from the slot's start) */
    uint64_t x_off, xt_off, h_off, o_off, c_off, slot_bytes;
    uint64_t items;
} pool_plan;

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

/* Phase rows row phase p needs for r output rows: r + (its taps) - 1. */
static uint64_t phase_rows(const pool_plan *p, uint64_t ph, uint64_t r) { return r + ceil_div(p->kh - ph, p->sh) - 1; }

static uint64_t pool_slot(pool_plan *p)
{
    p->nr = p->r + p->qh - 1;
    uint64_t plane = p->pr * p->cc * p->nr; /* rows of the phase-split block */
    uint64_t x = F32_BYTES * plane * p->wl;
    uint64_t slack = F32_BYTES * (p->qh * p->wq + p->qw) + FW_SRAM_ALIGN_BYTES; /* shifted views read past */
    p->x_off = 0;
    p->xt_off = fw_align(x + slack);
    p->h_off = p->xt_off + (p->sw > 1 ? fw_align(x + slack) : 0);
    p->o_off = p->h_off + fw_align(F32_BYTES * plane * p->wq + slack);
    p->c_off = p->o_off + fw_align(F32_BYTES * p->cc * p->nr * p->wq + slack);
    p->slot_bytes = p->c_off + F32_BYTES * p->cc * p->r * p->ow;
    return p->slot_bytes;
}

/* The block's limits besides the SRAM: the transpose's and the compaction's pitches. */
static int pool_fits(pool_plan *p, uint64_t sram)
{
    uint64_t t_rows = p->pr * p->cc * p->nr * p->wq;
    if (p->sw > 1 && t_rows > FW_FIELD_MAX(VMOV, DSTRIDE))
        return 0;
    if (p->nr * p->wq > FW_FIELD_MAX(VMOV, SSTRIDE) || p->r * p->ow > FW_FIELD_MAX(VMOV, DSTRIDE))
        return 0;
    return POOL_PIPE_SLOTS * fw_align(p->slot_bytes) + (p->map ? POOL_PIPE_SLOTS * fw_align(F32_BYTES * p->r * p->ow) : 0) <=
           sram;
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
    if (p->kh * p->kw > POOL_EXACT_SUM_TAPS)
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
    p->sx = x->scale;
    p->pr = p->sh < p->kh ? p->sh : p->kh;
    p->pw = p->sw < p->kw ? p->sw : p->kw;
    p->qh = ceil_div(p->kh, p->sh);
    p->qw = ceil_div(p->kw, p->sw);
    p->wq = ceil_div(p->w, p->sw);
    p->wl = p->wq * p->sw;
    p->cc = p->c;
    p->r = p->oh;
    uint64_t sram = c->info->sram_bytes;
    for (;;) {
        pool_slot(p);
        if (pool_fits(p, sram))
            break;
        if (p->r > POOL_MIN_BLOCK_ROWS)
            p->r = ceil_div(p->r, 2);
        else if (p->cc > 1)
            p->cc = ceil_div(p->cc, 2);
        else if (p->r > 1)
            p->r = ceil_div(p->r, 2);
        else
            return fw_refuse(why, whylen, "one output row of one channel does not fit in the %llu-byte SRAM",
                             (unsigned long long)sram);
    }
    p->items = p->n * ceil_div(p->c, p->cc) * ceil_div(p->oh, p->r);
    return 0;
}

static int pool_check(fw_op_ctx *c, const npu_op_desc *d, char *why, size_t whylen)
{
    pool_plan p;
    return pool_plan_make(c, d, &p, why, whylen);
}

/* ---------------------------------------------------------------- emission */

/* Load the block's phase rows as int8 at the start of the slot: row phase ph, channel k, phase
 * row i at ((ph * cc + k) * nr + i) * wl. */
static void load_block(fw_op_ctx *c, const pool_plan *p, const npu_tensor_ref *x, unsigned q, uint32_t s,
                       uint64_t img, uint64_t c0, uint64_t cc, uint64_t oh0, uint64_t r)
{
    uint64_t plane = p->h * p->w, base = x->offset + (img * p->c + c0) * plane;
    for (uint64_t ph = 0; ph < p->pr; ph++) {
        uint64_t rows = phase_rows(p, ph, r), first = oh0 * p->sh + ph; /* input row of phase row 0 */
        uint32_t dst = s + (uint32_t)(ph * cc * p->nr * p->wl);
        if (p->sh == 1 && p->wl == p->w) { /* every channel's rows are one run */
            fw_dma(c, 1, q, x->buf, dst, base + first * p->w, cc, rows * p->w, plane, p->nr * p->wl);
        } else if (cc <= rows) { /* per channel: its phase rows, a DRAM pitch of sh rows */
            for (uint64_t k = 0; k < cc; k++)
                fw_dma(c, 1, q, x->buf, dst + (uint32_t)(k * p->nr * p->wl), base + k * plane + first * p->w, rows, p->w,
                       p->sh * p->w, p->wl);
        } else { /* per phase row: that row of every channel */
            for (uint64_t i = 0; i < rows; i++)
                fw_dma(c, 1, q, x->buf, dst + (uint32_t)(i * p->wl), base + (first + i * p->sh) * p->w, cc, p->w, plane,
                       p->nr * p->wl);
        }
    }
}

/* The vector work of one block: returns the SRAM address of its [cc][r * ow] f32 result. */
static uint32_t fold_block(fw_op_ctx *c, const pool_plan *p, uint32_t s, uint64_t cc, uint64_t r)
{
    int64_t fold = p->kind == NPU_POOL_MAX ? ISA_BINOP_MAX : ISA_BINOP_ADD;
    uint64_t rows = p->pr * cc * p->nr;                /* phase rows of the block */
    uint64_t xe = rows * p->wl, he = rows * p->wq, oe = cc * p->nr * p->wq; /* elements */
    uint32_t x = s + (uint32_t)p->x_off, xt = x, hb = s + (uint32_t)p->h_off, o = s + (uint32_t)p->o_off;
    fw_vdequant(c, ISA_SDT_I8, x, x, xe, p->kind == NPU_POOL_MAX ? p->sx : 1.0f); /* (AVG: exact integers) */
    if (p->sw > 1) { /* [rows * wq][sw] -> [sw][rows * wq]: column phase pw at xt + pw * he */
        xt = s + (uint32_t)p->xt_off;
        fw_vmov(c, 1, F32_BYTES, xt, x, rows * p->wq, p->sw, p->sw, rows * p->wq);
    }
    /* along the rows, per row phase: tap kw is column phase kw % sw shifted by kw / sw (one tap:
     * the rows are column phase 0 itself, [pr][cc][nr][wq]) */
    uint64_t rplane = cc * p->nr * p->wq; /* one row phase's elements */
    if (p->kw == 1)
        hb = xt;
    for (uint64_t ph = 0; ph < p->pr && p->kw > 1; ph++) {
        uint32_t dst = hb + (uint32_t)(F32_BYTES * ph * rplane);
        for (uint64_t j = 1; j < p->kw; j++) {
            uint32_t view = xt + (uint32_t)(F32_BYTES * ((j % p->sw) * he + ph * rplane + j / p->sw));
            fw_vbin_flat(c, fold, 0, dst, j == 1 ? xt + (uint32_t)(F32_BYTES * ph * rplane) : dst, view, rplane);
        }
    }
    /* across rows: tap kh is row phase kh % sh shifted by kh / sh phase rows (one tap: row phase 0) */
    if (p->kh == 1)
        o = hb;
    for (uint64_t i = 1; i < p->kh; i++) {
        uint32_t view = hb + (uint32_t)(F32_BYTES * ((i % p->sh) * rplane + (i / p->sh) * p->wq));
        fw_vbin_flat(c, fold, 0, o, i == 1 ? hb : o, view, oe);
    }
    /* compaction: output row k's first ow positions of every channel */
    uint32_t res = s + (uint32_t)p->c_off;
    for (uint64_t k = 0; k < r; k++)
        fw_vmov(c, 0, F32_BYTES, res + (uint32_t)(F32_BYTES * k * p->ow), o + (uint32_t)(F32_BYTES * k * p->wq), cc, p->ow,
                p->nr * p->wq, r * p->ow);
    return res;
}

static void pool_emit(fw_op_ctx *c, const npu_op_desc *d)
{
    pool_plan p;
    char why[FW_WHY_BYTES];
    if (pool_plan_make(c, d, &p, why, sizeof why))
        return;
    const npu_tensor_ref *x = &d->in[0], *y = &d->out;
    fw_pipe pipe, map;
    fw_pipe_init(c, &pipe, POOL_PIPE_SLOTS, 3, p.slot_bytes, (uint32_t)p.items);
    if (p.map)
        fw_pipe_init(c, &map, POOL_PIPE_SLOTS, 2, F32_BYTES * p.r * p.ow, (uint32_t)p.items);
    unsigned sq = fw_store_queue(c);
    uint64_t plane = p.oh * p.ow;
    for (uint64_t img = 0; img < p.n; img++)
        for (uint64_t c0 = 0; c0 < p.c; c0 += p.cc)
            for (uint64_t oh0 = 0; oh0 < p.oh; oh0 += p.r) {
                uint64_t cc = p.c - c0 < p.cc ? p.c - c0 : p.cc, r = p.oh - oh0 < p.r ? p.oh - oh0 : p.r, e = cc * r * p.ow;
                unsigned q = fw_load_queue(c, fw_pipe_slot_index(&pipe, 0));
                uint32_t s = fw_pipe_begin(c, &pipe, 0, q);
                load_block(c, &p, x, q, s, img, c0, cc, oh0, r);
                fw_pipe_end(c, &pipe, 0, q);
                uint32_t mp = 0;
                if (p.map) { /* the block's divisor reciprocals */
                    unsigned mq = fw_load_queue(c, fw_pipe_slot_index(&map, 0) + 1);
                    mp = fw_pipe_begin(c, &map, 0, mq);
                    fw_dma_flat(c, 1, mq, d->in[1].buf, mp, d->in[1].offset + F32_BYTES * oh0 * p.ow, F32_BYTES * r * p.ow);
                    fw_pipe_end(c, &map, 0, mq);
                }
                fw_pipe_begin(c, &pipe, 1, NPU_UNIT_VEC);
                uint32_t res = fold_block(c, &p, s, cc, r);
                if (p.kind == NPU_POOL_AVG) {
                    fw_vun(c, ISA_UNOP_MULI, res, res, e, x->scale);
                    if (p.map) {
                        fw_pipe_begin(c, &map, 1, NPU_UNIT_VEC);
                        fw_vbin_rows(c, ISA_BINOP_MUL, ISA_BC_ROW, res, res, mp, cc, r * p.ow);
                        fw_pipe_end(c, &map, 1, NPU_UNIT_VEC);
                    } else {
                        fw_vun(c, ISA_UNOP_MULI, res, res, e, p.recip);
                    }
                }
                fw_from_f32(c, y, res, res, e);
                fw_pipe_end(c, &pipe, 1, NPU_UNIT_VEC);
                fw_pipe_begin(c, &pipe, 2, sq);
                fw_dma(c, 0, sq, y->buf, res, y->offset + ((img * p.c + c0) * plane + oh0 * p.ow) * p.osz, cc,
                       r * p.ow * p.osz, plane * p.osz, r * p.ow * p.osz);
                fw_pipe_end(c, &pipe, 2, sq);
            }
}

static void pool_describe(fw_op_ctx *c, const npu_op_desc *d, char *buf, size_t len)
{
    pool_plan p;
    char why[FW_WHY_BYTES];
    if (pool_plan_make(c, d, &p, why, sizeof why))
        return;
    snprintf(buf, len, "%s %llux%llux%llux%llu, kernel %llux%llu stride %llux%llu, %llu channels and %llu output rows "
             "per block",
             p.kind == NPU_POOL_MAX ? "max" : "average", (unsigned long long)p.n, (unsigned long long)p.c,
             (unsigned long long)p.h, (unsigned long long)p.w, (unsigned long long)p.kh, (unsigned long long)p.kw,
             (unsigned long long)p.sh, (unsigned long long)p.sw, (unsigned long long)p.cc, (unsigned long long)p.r);
}

const fw_op_kernel fw_kernel_pool = {"pool", pool_check, pool_emit, pool_describe};
