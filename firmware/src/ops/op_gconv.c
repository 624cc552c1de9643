/* op_gconv.c -- NPU_OP_GROUP_CONV2D: grouped and depthwise convolution on the matmul array.
 *
 * Each output channel co of group g = co / (CO/G) sums over the C/G input channels of its group
 * only. A depthwise layer (C/G = 1) has KH*KW products per output, far too few for a row of
 * the array, so several groups share one mm: a block of gt groups is one [gt*CO/G x gt*K_g]
 * weight matrix that is block-diagonal (group j's weights in rows j*CO/G.., columns of its
 * input channels, zeros elsewhere), times the im2col of the block's gt*C/G input channels
 * (fw_im2col.c, rows (kh*KW + kw) * cc + c; a stride-1 window takes wide runs of positions across
 * output rows, so that each DMA moves long rows even for a 7x7 map). Weights stay compact in DRAM (OHWI: per output
 * channel its KH*KW*C/G values); the firmware expands a block in SRAM once, with one v.mov per
 * (tap, output channel of a group) into a zeroed tile, and keeps it for all the block's
 * segments. Groups too wide to share a tile (CO/G above half the array's rows, or k or the
 * v.mov pitches out of range) run one group per block as a dense convolution, in blocks of
 * output channels like op_conv.c. The products go through the convolutions' epilogue
 * (fw_epilogue.c) and are stored as in op_conv.c. Padding is done by the runtime (a pre-padded
 * input, pads 0). The arithmetic is specified in README.md ("GROUP_CONV2D").
 */
#include "fw_ops.h"

#include <string.h>

#define GC_PIPE_SLOTS 2
#define GC_MIN_SHARED_GROUPS 2 /* fewer groups per tile than this: one dense group per block */

typedef struct gc_plan {
    uint64_t n, c, h, w, co, kh, kw, sh, sw, oh, ow;
    uint64_t groups, cin_g, cout_g, kk;
    int per_channel, bias, runs; /* runs: flat or wide positions (fw_im2col), else output rows */
    int32_t act;
    uint32_t osz;
    float s_deq;
    uint64_t mt;                /* array rows */
    uint64_t gt;                /* groups per block: > 1 block-diagonal, 1 dense */
    uint64_t cb;                /* dense: output channels per block (within one group) */
    uint64_t nseg;              /* positions per segment */
    uint64_t rmax, kmax, ccmax; /* rows, k and input channels of a full block */
    fw_im2col im2col;
    uint64_t a_bytes, wc_off, b_bytes, c_bytes, o_bytes, p_bytes;
    uint64_t blocks, segments;
} gc_plan;

/* One block of output channels and the input channels it reads. */
typedef struct gc_block {
    uint64_t co0, rows, ci0, cc, k, gb;
} gc_block;

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

static void block_of(const gc_plan *p, uint64_t b, gc_block *blk)
{
    if (p->gt > 1) {
        uint64_t g0 = b * p->gt;
        blk->gb = p->groups - g0 < p->gt ? p->groups - g0 : p->gt;
        blk->co0 = g0 * p->cout_g;
        blk->rows = blk->gb * p->cout_g;
        blk->ci0 = g0 * p->cin_g;
        blk->cc = blk->gb * p->cin_g;
    } else {
        uint64_t per = ceil_div(p->cout_g, p->cb), g = b / per, j0 = (b % per) * p->cb;
        blk->gb = 1;
        blk->co0 = g * p->cout_g + j0;
        blk->rows = p->cout_g - j0 < p->cb ? p->cout_g - j0 : p->cb;
        blk->ci0 = g * p->cin_g;
        blk->cc = p->cin_g;
    }
    blk->k = blk->cc * p->kk;
}

static uint64_t gc_sram(gc_plan *p)
{
    uint64_t n = p->nseg;
    p->ccmax = p->gt * p->cin_g;
    p->kmax = p->ccmax * p->kk;
    p->rmax = p->gt > 1 ? p->gt * p->cout_g : p->cb;
    p->wc_off = fw_align(p->rmax * p->kmax);
    p->a_bytes = p->gt > 1 ? p->wc_off + p->rmax * p->kk * p->cin_g : p->rmax * p->kmax;
    p->b_bytes = fw_im2col_slot_bytes(&p->im2col, p->ccmax, n);
    p->c_bytes = 4 * p->rmax * n;
    p->o_bytes = fw_align(4 * p->rmax * n) + p->rmax * n * p->osz; /* the f32 epilogue, then a compacted copy */
    p->p_bytes = 2 * 4 * p->rmax;
    return GC_PIPE_SLOTS * (fw_align(p->a_bytes) + fw_align(p->b_bytes) + fw_align(p->c_bytes) +
                            fw_align(p->o_bytes) + fw_align(p->p_bytes));
}

/* Groups per block for the block-diagonal form: as many as fill the array's rows, within the
 * mm's k and the expansion's v.mov pitches; below GC_MIN_SHARED_GROUPS the dense form. */
static uint64_t groups_per_block(const gc_plan *p)
{
    if (p->groups < GC_MIN_SHARED_GROUPS || p->cout_g * GC_MIN_SHARED_GROUPS > p->mt)
        return 1;
    uint64_t gt = p->mt / p->cout_g;
    if (gt > p->groups)
        gt = p->groups;
    if (gt * p->cin_g * p->kk > FW_FIELD_MAX(MM, K))
        gt = FW_FIELD_MAX(MM, K) / (p->cin_g * p->kk);
    while (gt >= GC_MIN_SHARED_GROUPS && p->cout_g * gt * p->cin_g * p->kk + p->cin_g > FW_FIELD_MAX(VMOV, DSTRIDE))
        gt--;
    if (p->cout_g * p->kk * p->cin_g > FW_FIELD_MAX(VMOV, SSTRIDE))
        return 1;
    return gt >= GC_MIN_SHARED_GROUPS ? gt : 1;
}

static int gc_plan_make(const fw_op_ctx *c, const npu_op_desc *d, gc_plan *p, char *why, size_t whylen)
{
    const npu_tensor_ref *x = &d->in[0], *wt = &d->in[1], *y = &d->out;
    memset(p, 0, sizeof *p);
    if (d->n_inputs < 2)
        return fw_refuse(why, whylen, "needs 2 or 3 inputs, has %u", d->n_inputs);
    if (fw_check_act(c, x, "in0", why, whylen) || fw_check_act(c, y, "out", why, whylen))
        return -1;
    if (x->dtype != NPU_DT_I8 || x->rank != 4 || y->rank != 4)
        return fw_refuse(why, whylen, "in0 %s rank %u, out rank %u (expected i8 [N,C,H,W] and [N,CO,OH,OW])",
                         fw_dtype_name(x->dtype), x->rank, y->rank);
    if (fw_check_shape(wt, "in1", why, whylen))
        return -1;
    if (wt->rank != 4 || wt->dtype != NPU_DT_I8)
        return fw_refuse(why, whylen, "in1: %s rank %u (expected i8 [CO,C/G,KH,KW])", fw_dtype_name(wt->dtype),
                         wt->rank);
    if (d->iattr[7] != NPU_LAYOUT_OHWI)
        return fw_refuse(why, whylen, "in1: layout %d (expected OHWI = %d)", d->iattr[7], NPU_LAYOUT_OHWI);
    for (int i = 2; i <= 5; i++)
        if (d->iattr[i] != 0)
            return fw_refuse(why, whylen, "pads %d,%d,%d,%d: the kernel takes a pre-padded input (pads 0)", d->iattr[2],
                             d->iattr[3], d->iattr[4], d->iattr[5]);
    if (d->iattr[0] < 1 || d->iattr[1] < 1)
        return fw_refuse(why, whylen, "strides %d,%d (expected >= 1)", d->iattr[0], d->iattr[1]);
    p->n = (uint64_t)x->dims[0];
    p->c = (uint64_t)x->dims[1];
    p->h = (uint64_t)x->dims[2];
    p->w = (uint64_t)x->dims[3];
    p->co = (uint64_t)wt->dims[0];
    p->kh = (uint64_t)wt->dims[2];
    p->kw = (uint64_t)wt->dims[3];
    p->kk = p->kh * p->kw;
    p->sh = (uint64_t)d->iattr[0];
    p->sw = (uint64_t)d->iattr[1];
    if (d->lattr[0] < 1 || p->c % (uint64_t)d->lattr[0] || p->co % (uint64_t)d->lattr[0])
        return fw_refuse(why, whylen, "lattr[0] = %lld groups do not divide %llu input and %llu output channels",
                         (long long)d->lattr[0], (unsigned long long)p->c, (unsigned long long)p->co);
    p->groups = (uint64_t)d->lattr[0];
    p->cin_g = p->c / p->groups;
    p->cout_g = p->co / p->groups;
    if ((uint64_t)wt->dims[1] != p->cin_g)
        return fw_refuse(why, whylen, "in1: %lld input channels per group (expected %llu)", (long long)wt->dims[1],
                         (unsigned long long)p->cin_g);
    if (p->kh > p->h || p->kw > p->w)
        return fw_refuse(why, whylen, "kernel %llux%llu larger than the input %llux%llu", (unsigned long long)p->kh,
                         (unsigned long long)p->kw, (unsigned long long)p->h, (unsigned long long)p->w);
    p->oh = (p->h - p->kh) / p->sh + 1;
    p->ow = (p->w - p->kw) / p->sw + 1;
    if ((uint64_t)y->dims[0] != p->n || (uint64_t)y->dims[1] != p->co || (uint64_t)y->dims[2] != p->oh ||
        (uint64_t)y->dims[3] != p->ow)
        return fw_refuse(why, whylen, "out: [%lld,%lld,%lld,%lld] (expected [%llu,%llu,%llu,%llu])", (long long)y->dims[0],
                         (long long)y->dims[1], (long long)y->dims[2], (long long)y->dims[3], (unsigned long long)p->n,
                         (unsigned long long)p->co, (unsigned long long)p->oh, (unsigned long long)p->ow);
    if (p->cin_g * p->kk > FW_FIELD_MAX(MM, K))
        return fw_refuse(why, whylen, "%llu input channels per group x a %llux%llu kernel exceed the array's k of %llu",
                         (unsigned long long)p->cin_g, (unsigned long long)p->kh, (unsigned long long)p->kw,
                         (unsigned long long)FW_FIELD_MAX(MM, K));
    p->osz = fw_dtype_bytes(y->dtype);
    if (p->h * p->w > FW_FIELD_MAX(DMA_LD, DSTRIDE) || p->oh * p->ow * p->osz > FW_FIELD_MAX(DMA_LD, DSTRIDE))
        return fw_refuse(why, whylen, "channel planes of %llu input / %llu output bytes exceed the DMA's %llu-byte pitch",
                         (unsigned long long)(p->h * p->w), (unsigned long long)(p->oh * p->ow * p->osz),
                         (unsigned long long)FW_FIELD_MAX(DMA_LD, DSTRIDE));
    if (fw_check_ref(c, wt, "in1", p->co * p->kk * p->cin_g, why, whylen))
        return -1;
    if (wt->scales_axis == 0) {
        if (fw_check_scales(c, wt, "in1", p->co, why, whylen))
            return -1;
        p->per_channel = 1;
        p->s_deq = x->scale;
    } else if (wt->scales_axis == -1 && wt->scale > 0.0f && wt->scale <= 3.402823466e38f) {
        p->s_deq = x->scale * wt->scale;
    } else {
        return fw_refuse(why, whylen, "in1: scales axis %d, scale %g (expected axis 0, or -1 with a scale > 0)",
                         wt->scales_axis, (double)wt->scale);
    }
    if (d->n_inputs >= 3) {
        if (fw_check_f32_vec(c, &d->in[2], "in2 (bias)", p->co, why, whylen))
            return -1;
        p->bias = 1;
    }
    if (fw_check_fused_act(d->iattr[6], why, whylen))
        return -1;
    p->act = d->iattr[6];
    p->mt = c->info->mm_rows;
    fw_im2col_init(&p->im2col, x, p->kh, p->kw, p->sh, p->sw, 1);
    fw_im2col_allow_wide(&p->im2col, p->oh, p->ow);
    p->runs = fw_im2col_positions(&p->im2col) > 0;
    p->gt = groups_per_block(p);
    p->cb = p->cout_g;
    p->nseg = c->info->mm_cols;
    if (!p->runs && p->nseg > p->ow)
        p->nseg = p->ow;
    uint64_t sram = c->info->sram_bytes;
    for (;;) {
        uint64_t lim = fw_im2col_max_positions(&p->im2col, p->gt * p->cin_g);
        if (p->nseg > lim)
            p->nseg = lim;
        if (p->nseg >= 1 && gc_sram(p) <= sram)
            break;
        if (p->nseg > 1)
            p->nseg = (p->nseg + 1) / 2;
        else if (p->gt > 1)
            p->gt = p->gt / 2 >= GC_MIN_SHARED_GROUPS ? p->gt / 2 : 1;
        else if (p->cb > p->mt)
            p->cb = (p->cb / 2 + p->mt - 1) / p->mt * p->mt;
        else
            return fw_refuse(why, whylen, "does not fit in the %llu-byte SRAM", (unsigned long long)sram);
        p->nseg = p->nseg ? p->nseg : 1;
    }
    p->segments = p->runs ? p->n * ceil_div(fw_im2col_positions(&p->im2col), p->nseg)
                          : p->n * p->oh * ceil_div(p->ow, p->nseg);
    p->blocks = p->gt > 1 ? ceil_div(p->groups, p->gt) : p->groups * ceil_div(p->cout_g, p->cb);
    return 0;
}

static int gc_check(fw_op_ctx *c, const npu_op_desc *d, char *why, size_t whylen)
{
    gc_plan p;
    return gc_plan_make(c, d, &p, why, whylen);
}

/* ---------------------------------------------------------------- emission */

typedef struct gc_state {
    const npu_op_desc *d;
    const gc_plan *p;
    fw_pipe a, b, cc, out, prm;
} gc_state;

/* The block's weights into the next A slot: dense rows straight from DRAM, or the compact rows
 * expanded into a zeroed block-diagonal tile. Leaves the slot entered by the matmul stage. */
static uint32_t load_weights(fw_op_ctx *c, gc_state *s, const gc_block *blk)
{
    const gc_plan *p = s->p;
    const npu_tensor_ref *wt = &s->d->in[1];
    uint64_t kg = p->kk * p->cin_g; /* compact bytes per output channel */
    unsigned q = fw_load_queue(c, fw_pipe_slot_index(&s->a, 0) + 1);
    uint32_t as = fw_pipe_begin(c, &s->a, 0, q);
    uint32_t wc = p->gt > 1 ? as + (uint32_t)p->wc_off : as;
    fw_dma_flat(c, 1, q, wt->buf, wc, wt->offset + blk->co0 * kg, blk->rows * kg);
    fw_pipe_end(c, &s->a, 0, q);
    if (p->gt > 1) {
        /* A[j*CO/G + r][t*cc + j*C/G + i] = W[co0 + j*CO/G + r][t][i] for group j of the block */
        fw_pipe_begin(c, &s->a, 1, NPU_UNIT_VEC);
        fw_vzero(c, as, (blk->rows * blk->k + 3) / 4 * 4);
        for (uint64_t t = 0; t < p->kk; t++)
            for (uint64_t r = 0; r < p->cout_g; r++)
                fw_vmov(c, 0, 1, as + (uint32_t)(r * blk->k + t * blk->cc), wc + (uint32_t)((r * p->kk + t) * p->cin_g),
                        blk->gb, p->cin_g, p->cout_g * kg, p->cout_g * blk->k + p->cin_g);
        fw_pipe_end(c, &s->a, 1, NPU_UNIT_VEC);
    }
    return fw_pipe_begin(c, &s->a, p->gt > 1 ? 2 : 1, NPU_UNIT_MM);
}

/* Products, epilogue and store of one segment of a block. */
static void segment(fw_op_ctx *c, gc_state *s, const gc_block *blk, uint32_t as, uint32_t prm, uint64_t img,
                    uint64_t oh, uint64_t ow0, uint64_t n)
{
    const gc_plan *p = s->p;
    const npu_op_desc *d = s->d;
    uint32_t bstage = fw_im2col_stages(&p->im2col);
    uint32_t bs = fw_im2col_load(c, &p->im2col, &s->b, img, oh, ow0, n, blk->ci0, blk->cc);
    fw_pipe_begin(c, &s->b, bstage, NPU_UNIT_MM);
    uint32_t cs = fw_pipe_begin(c, &s->cc, 0, NPU_UNIT_MM);
    for (uint64_t t = 0; t < blk->rows; t += p->mt) {
        uint64_t m = blk->rows - t < p->mt ? blk->rows - t : p->mt;
        fw_mm(c, 0, 0, 0, (uint32_t)m, (uint32_t)n, (uint32_t)blk->k, as + (uint32_t)(t * blk->k), bs,
              cs + (uint32_t)(4 * t * n));
    }
    fw_pipe_end(c, &s->b, bstage, NPU_UNIT_MM);
    fw_pipe_end(c, &s->cc, 0, NPU_UNIT_MM);

    fw_epilogue ep = {p->s_deq, p->per_channel, p->bias, (uint32_t)(4 * p->rmax), p->act, d->fattr, &d->out};
    fw_pipe_begin(c, &s->cc, 1, NPU_UNIT_VEC);
    uint32_t o = fw_pipe_begin(c, &s->out, 0, NPU_UNIT_VEC);
    fw_epilogue_load(c, &ep, ISA_SDT_I32, o, cs, blk->rows * n);
    fw_pipe_end(c, &s->cc, 1, NPU_UNIT_VEC);
    fw_epilogue_finish(c, &ep, o, prm, blk->rows, n);
    uint64_t first = oh * p->ow + ow0, count = n; /* the output positions of the segment */
    uint32_t res = o;
    if (p->runs)
        fw_im2col_outputs(&p->im2col, ow0, n, &first, &count);
    if (count < n) { /* wide runs: drop the columns past the output's width */
        res = o + (uint32_t)fw_align(blk->rows * n * p->osz);
        fw_im2col_compact(c, &p->im2col, p->osz, res, o, blk->rows, ow0, n);
    }
    fw_pipe_end(c, &s->out, 0, NPU_UNIT_VEC);
    unsigned sq = fw_store_queue(c);
    uint64_t plane = p->oh * p->ow;
    fw_pipe_begin(c, &s->out, 1, sq);
    fw_dma(c, 0, sq, d->out.buf, res, d->out.offset + ((img * p->co + blk->co0) * plane + first) * p->osz, blk->rows,
           count * p->osz, plane * p->osz, count * p->osz);
    fw_pipe_end(c, &s->out, 1, sq);
}

static void gc_emit(fw_op_ctx *c, const npu_op_desc *d)
{
    gc_plan p;
    char why[FW_WHY_BYTES];
    if (gc_plan_make(c, d, &p, why, sizeof why))
        return;
    gc_state s;
    memset(&s, 0, sizeof s);
    s.d = d;
    s.p = &p;
    int prm_used = p.per_channel || p.bias;
    uint32_t items = (uint32_t)(p.blocks * p.segments);
    fw_pipe_init(c, &s.a, GC_PIPE_SLOTS, p.gt > 1 ? 3 : 2, p.a_bytes, (uint32_t)p.blocks);
    fw_pipe_init(c, &s.b, GC_PIPE_SLOTS, fw_im2col_stages(&p.im2col) + 1, p.b_bytes, items);
    fw_pipe_init(c, &s.cc, GC_PIPE_SLOTS, 2, p.c_bytes, items);
    fw_pipe_init(c, &s.out, GC_PIPE_SLOTS, 2, p.o_bytes, items);
    if (prm_used)
        fw_pipe_init(c, &s.prm, GC_PIPE_SLOTS, 2, p.p_bytes, (uint32_t)p.blocks);
    const npu_tensor_ref *wt = &d->in[1];
    for (uint64_t b = 0; b < p.blocks; b++) {
        gc_block blk;
        block_of(&p, b, &blk);
        uint32_t as = load_weights(c, &s, &blk);
        uint32_t prm = 0;
        if (prm_used) {
            unsigned pq = fw_load_queue(c, fw_pipe_slot_index(&s.prm, 0) + 2);
            prm = fw_pipe_begin(c, &s.prm, 0, pq);
            if (p.per_channel)
                fw_dma_flat(c, 1, pq, wt->scales_buf, prm, wt->scales_offset + 4 * blk.co0, 4 * blk.rows);
            if (p.bias)
                fw_dma_flat(c, 1, pq, d->in[2].buf, prm + (uint32_t)(4 * p.rmax), d->in[2].offset + 4 * blk.co0,
                            4 * blk.rows);
            fw_pipe_end(c, &s.prm, 0, pq);
            fw_pipe_begin(c, &s.prm, 1, NPU_UNIT_VEC);
        }
        uint64_t positions = fw_im2col_positions(&p.im2col);
        for (uint64_t img = 0; img < p.n; img++) {
            if (p.runs) {
                for (uint64_t p0 = 0; p0 < positions; p0 += p.nseg)
                    segment(c, &s, &blk, as, prm, img, 0, p0, positions - p0 < p.nseg ? positions - p0 : p.nseg);
                continue;
            }
            for (uint64_t oh = 0; oh < p.oh; oh++)
                for (uint64_t ow0 = 0; ow0 < p.ow; ow0 += p.nseg)
                    segment(c, &s, &blk, as, prm, img, oh, ow0, p.ow - ow0 < p.nseg ? p.ow - ow0 : p.nseg);
        }
        fw_pipe_end(c, &s.a, p.gt > 1 ? 2 : 1, NPU_UNIT_MM);
        if (prm_used)
            fw_pipe_end(c, &s.prm, 1, NPU_UNIT_VEC);
    }
}

static void gc_describe(fw_op_ctx *c, const npu_op_desc *d, char *buf, size_t len)
{
    gc_plan p;
    char why[FW_WHY_BYTES];
    if (gc_plan_make(c, d, &p, why, sizeof why))
        return;
    char per_block[64];
    if (p.gt > 1)
        snprintf(per_block, sizeof per_block, "%llu groups per block (block-diagonal)", (unsigned long long)p.gt);
    else
        snprintf(per_block, sizeof per_block, "one group per block, %llu channels", (unsigned long long)p.cb);
    snprintf(buf, len, "%llux%llux%llux%llu -> %llu channels in %llu groups, kernel %llux%llu stride %llux%llu, %s, "
             "%llu blocks, %llu positions per segment",
             (unsigned long long)p.n, (unsigned long long)p.c, (unsigned long long)p.h, (unsigned long long)p.w,
             (unsigned long long)p.co, (unsigned long long)p.groups, (unsigned long long)p.kh,
             (unsigned long long)p.kw, (unsigned long long)p.sh, (unsigned long long)p.sw, per_block,
             (unsigned long long)p.blocks, (unsigned long long)p.nseg);
}

const fw_op_kernel fw_kernel_group_conv2d = {"group_conv2d", gc_check, gc_emit, gc_describe};
