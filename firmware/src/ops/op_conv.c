/* op_conv.c -- NPU_OP_CONV2D as an implicit GEMM: out[co][p] = sum_k W[co][k] * B[k][p].
 *
 * With NCHW activations the weights are the A operand (rows = output channels, k = (kh, kw, c),
 * OHWI storage) and the im2col matrix B is built per segment of output positions (one output row
 * segment of at most `array columns` positions, or any run of positions for a 1x1 stride-1
 * convolution) straight into SRAM by the DMA (fw_im2col.c). The products of a segment are one mm
 * per tile of `array rows` output channels with k = KH*KW*C, whose int32 tiles stack into
 * [channels][positions]; the epilogue (fw_epilogue.c: per-channel scales and bias as column
 * broadcasts, the activation) and the store follow as in op_matmul.c. Weights stay
 * resident per block of output channels. When k exceeds the array's k field (or the weights of
 * one channel tile the SRAM) the input channels go in chunks: weights and im2col per chunk,
 * products accumulated in int32. Padding is not done here: the runtime copies the input
 * into a zero-bordered buffer (NPU_OP_COPY) and passes pads of 0. README.md ("CONV2D").
 * With output-stage parameters (in2 of dtype i32, fw_epilogue.c's other form) the epilogue is the
 * matmul tile's output stage: before each channel tile's last products an mm.out loads that
 * tile's records by row (the rows of C are the output channels), the mm requantises, and the int8
 * results are stored straight from the C slot.
 *
 * Types: weights i8 or f16 (A), activations i8, i16 or f16 (B): an f16 operand selects the
 * array's f16 mode, an i16 activation the 8 x 16 mode. With a 16-bit operand the channels are
 * never chunked (the f16 mode's f32 sums follow k; a 16-bit integer sum of more than 511
 * products could wrap), so k = KH*KW*C must fit one pass, and at most 511 with i16.
 */
#include "fw_ops.h"

#include <stdio.h>
#include <string.h>

#define CONV_PIPE_SLOTS 2
#define CONV_WIDE_INT_MAX_K 511 /* 8 x 16 products: 511 of them cannot wrap an int32 */

typedef struct conv_plan {
    uint64_t n, c, h, w, co, kh, kw, sh, sw, oh, ow, k;
    uint64_t cc, nchunks, kc;    /* input channels per chunk, chunks, k of a chunk */
    int per_channel, bias, flat; /* flat: 1x1 stride 1, positions in any run */
    int64_t at, bt;              /* mm operand types of the weights (A) and the activations (B) */
    uint32_t we, xe;             /* their bytes per element */
    int fmode, wide;             /* the f16 mode; a 16-bit operand (channels never chunked) */
    int32_t act;
    fw_out_stage os;             /* the output stage's epilogue (os.on), or the vector unit's */
    uint32_t osz;
    float s_deq;
    uint64_t mt, cb, nseg;       /* channel tile, channel block, positions per segment */
    uint32_t vec_lanes;          /* the vector unit's (the modelled cost of a strided im2col) */
    fw_im2col im2col;
    uint64_t a_bytes, b_bytes, c_bytes, o_bytes, p_bytes;
    uint64_t segments, blocks;
} conv_plan;

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

static uint64_t conv_sram(conv_plan *p)
{
    uint64_t n = p->nseg;
    p->kc = p->kh * p->kw * p->cc;
    p->nchunks = ceil_div(p->c, p->cc);
    p->a_bytes = p->cb * p->kc * p->we;
    p->b_bytes = fw_im2col_slot_bytes(&p->im2col, p->cc, n);
    /* the output stage writes int8 results where the int32 products were and needs no f32 slot */
    p->c_bytes = (p->os.on && p->nchunks == 1 ? 1 : 4) * p->cb * n;
    p->o_bytes = p->os.on ? 0 : 4 * p->cb * n;
    p->p_bytes = p->os.on ? ISA_MM_OUT_RECORD_BYTES * p->cb : 2 * 4 * p->cb;
    return fw_align(p->a_bytes) * CONV_PIPE_SLOTS + fw_align(p->b_bytes) * CONV_PIPE_SLOTS +
           fw_align(p->c_bytes) * CONV_PIPE_SLOTS + fw_align(p->o_bytes) * CONV_PIPE_SLOTS +
           fw_align(p->p_bytes) * CONV_PIPE_SLOTS + (p->os.lut ? fw_align(ISA_MM_OUT_LUT_ENTRIES) : 0);
}

/* Modelled cycles of the op with channel blocks of cb. The first block's weights are the fill
 * nothing overlaps (with channel chunks, each pass loads its chunk's weights instead); then the
 * passes (segment and chunk, of every block) go through the B slots: the im2col's DMAs one after
 * another on one channel, the strided de-interleave on the vector unit, and the products (one mm
 * per channel tile: sim/README.md's k + 2m + n - 1), at the pace of the slowest unit (the DRAM
 * with the next block's weights, the control core's dispatch: per pass the im2col, the slots'
 * signals and waits, the epilogue and the store, an mm per tile and the output stage's mm.out) or
 * of the two slots. More blocks load the im2col again; larger ones take longer to fill. */
#define CONV_PLAN_PASS_INSNS 12u
static uint64_t block_cost(const conv_plan *p, uint64_t cb)
{
    uint64_t blocks = ceil_div(p->co, cb), tiles = ceil_div(cb, p->mt), m = cb < p->mt ? cb : p->mt;
    uint64_t passes = p->segments * p->nchunks;
    int chunked = p->nchunks > 1;
    /* a block's weights: one run, or per pass KH*KW runs of cb rows (load_a_chunk) */
    uint64_t a_dmas = chunked ? p->kh * p->kw : 1, a_rows = chunked ? cb : 1;
    uint64_t a_row_bytes = chunked ? p->cc * p->we : cb * p->kc * p->we;
    uint64_t a_lat = a_dmas * fw_plan_dma_cycles(a_rows, a_row_bytes);
    uint64_t a_dram = a_dmas * fw_plan_dram_cycles(a_rows, a_row_bytes);
    uint64_t dmas = fw_im2col_dmas(&p->im2col), vmovs = fw_im2col_vmovs(&p->im2col);
    uint64_t b_lat = fw_im2col_plan_cycles(&p->im2col, p->cc, p->nseg);
    uint64_t dram = fw_im2col_plan_dram(&p->im2col, p->cc, p->nseg) + (chunked ? a_dram : a_dram / passes);
    uint64_t vec = vmovs ? vmovs * p->cc * p->nseg * p->sw / p->vec_lanes : 0;
    uint64_t mm = tiles * (p->kc + 2 * m + p->nseg - 1);
    uint64_t ctrl = (CONV_PLAN_PASS_INSNS + dmas + vmovs + (chunked ? a_dmas : 0) + (p->os.on ? 2 : 1) * tiles) *
                    FW_PLAN_CYCLES_PER_INSN;
    uint64_t stage[3] = {b_lat + (chunked ? a_lat : 0), vec, mm};
    uint64_t floor = mm > vec ? mm : vec;
    floor = ctrl > floor ? ctrl : floor;
    floor = dram > floor ? dram : floor;
    return (chunked ? 0 : a_lat) + fw_plan_pipeline_cycles(blocks * passes, stage, 3, CONV_PIPE_SLOTS, floor);
}

/* The channel block: the multiple of the channel tile (or all output channels) with the least
 * modelled cost among those that fit. A larger SRAM fits every block a smaller one did, so its
 * choice is modelled no slower (halving from all channels made more SRAM slower: issue 14). Ties
 * take the larger block (fewer instructions). */
static void choose_block(conv_plan *p, uint64_t sram)
{
    uint64_t best = p->cb, best_cost = block_cost(p, p->cb);
    for (uint64_t cb = p->cb + p->mt; cb < p->co + p->mt; cb += p->mt) {
        uint64_t cand = cb < p->co ? cb : p->co;
        p->cb = cand;
        if (conv_sram(p) > sram)
            break; /* the SRAM need grows with the block */
        uint64_t cost = block_cost(p, cand);
        if (cost <= best_cost) {
            best_cost = cost;
            best = cand;
        }
    }
    p->cb = best;
    conv_sram(p);
}

static int conv_plan_make(const fw_op_ctx *c, const npu_op_desc *d, conv_plan *p, char *why, size_t whylen)
{
    const npu_tensor_ref *x = &d->in[0], *wt = &d->in[1], *y = &d->out;
    memset(p, 0, sizeof *p);
    if (d->n_inputs < 2)
        return fw_refuse(why, whylen, "needs 2 or 3 inputs, has %u", d->n_inputs);
    if (fw_check_act(c, x, "in0", why, whylen) || fw_check_act(c, y, "out", why, whylen))
        return -1;
    if (x->dtype == NPU_DT_F32 || x->rank != 4 || y->rank != 4)
        return fw_refuse(why, whylen, "in0 %s rank %u, out rank %u (expected i8, i16 or f16 [N,C,H,W] and [N,CO,OH,OW])",
                         fw_dtype_name(x->dtype), x->rank, y->rank);
    if (fw_check_shape(wt, "in1", why, whylen))
        return -1;
    if (wt->rank != 4 || (wt->dtype != NPU_DT_I8 && wt->dtype != NPU_DT_F16))
        return fw_refuse(why, whylen,
                         "in1: %s rank %u (expected i8 or f16 [CO,C,KH,KW]; the weights are the array's A operand)",
                         fw_dtype_name(wt->dtype), wt->rank);
    p->at = fw_mm_type(wt->dtype);
    p->bt = fw_mm_type(x->dtype);
    p->fmode = p->at == ISA_MMT_F16 || p->bt == ISA_MMT_F16;
    p->wide = p->at != ISA_MMT_I8 || p->bt != ISA_MMT_I8;
    if (p->fmode && p->bt == ISA_MMT_I16)
        return fw_refuse(why, whylen, "in0 i16 with f16 weights (the f16 mode takes f16, i8 or i4)");
    p->we = fw_dtype_bytes(wt->dtype);
    p->xe = fw_dtype_bytes(x->dtype);
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
    p->sh = (uint64_t)d->iattr[0];
    p->sw = (uint64_t)d->iattr[1];
    if ((uint64_t)wt->dims[1] != p->c)
        return fw_refuse(why, whylen, "in1: %lld input channels, in0 has %llu (groups are not supported)",
                         (long long)wt->dims[1], (unsigned long long)p->c);
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
    p->k = p->kh * p->kw * p->c;
    if (p->kh * p->kw > FW_FIELD_MAX(MM, K))
        return fw_refuse(why, whylen, "a %llux%llu kernel exceeds the array's k of %llu", (unsigned long long)p->kh,
                         (unsigned long long)p->kw, (unsigned long long)FW_FIELD_MAX(MM, K));
    p->cc = p->c; /* channels per chunk: all of them unless k or the SRAM says otherwise */
    if (p->k > FW_FIELD_MAX(MM, K))
        p->cc = FW_FIELD_MAX(MM, K) / (p->kh * p->kw);
    if (p->wide && (p->cc < p->c || (!p->fmode && p->k > CONV_WIDE_INT_MAX_K)))
        return fw_refuse(why, whylen, "k = %llu (KH*KW*C) with a 16-bit operand: at most %llu in one pass",
                         (unsigned long long)p->k, (unsigned long long)(p->fmode ? FW_FIELD_MAX(MM, K) : CONV_WIDE_INT_MAX_K));
    uint32_t osz = fw_dtype_bytes(y->dtype);
    if (p->h * p->w * p->xe > FW_FIELD_MAX(DMA_LD, DSTRIDE) || p->oh * p->ow * osz > FW_FIELD_MAX(DMA_LD, DSTRIDE))
        return fw_refuse(why, whylen, "channel planes of %llu input / %llu output bytes exceed the DMA's %llu-byte pitch",
                         (unsigned long long)(p->h * p->w * p->xe), (unsigned long long)(p->oh * p->ow * osz),
                         (unsigned long long)FW_FIELD_MAX(DMA_LD, DSTRIDE));
    if (fw_check_ref(c, wt, "in1", p->co * p->k * p->we, why, whylen))
        return -1;
    float sx = x->dtype == NPU_DT_F16 ? 1.0f : x->scale, sw = wt->dtype == NPU_DT_F16 ? 1.0f : wt->scale;
    if (wt->scales_axis == 0) {
        if (fw_check_scales(c, wt, "in1", p->co, why, whylen))
            return -1;
        p->per_channel = 1;
        p->s_deq = sx;
    } else if (wt->scales_axis == -1 && sw > 0.0f && sw <= 3.402823466e38f) {
        p->s_deq = sx * sw;
    } else {
        return fw_refuse(why, whylen, "in1: scales axis %d, scale %g (expected axis 0, or -1 with a scale > 0)",
                         wt->scales_axis, (double)wt->scale);
    }
    if (fw_check_fused_act(d->iattr[6], why, whylen))
        return -1;
    p->act = d->iattr[6];
    if (fw_check_out_stage(c, d, p->co, p->act, &p->os, why, whylen))
        return -1;
    if (d->n_inputs >= 3 && !p->os.on) {
        if (fw_check_f32_vec(c, &d->in[2], "in2 (bias)", p->co, why, whylen))
            return -1;
        p->bias = 1;
    }
    p->osz = osz;
    p->mt = c->info->mm_rows;
    p->vec_lanes = c->info->vec_lanes ? c->info->vec_lanes : 1;
    fw_im2col_init(&p->im2col, x, p->kh, p->kw, p->sh, p->sw, 1);
    p->flat = p->im2col.flat;
    p->nseg = c->info->mm_cols;
    if (!p->flat && p->nseg > p->ow)
        p->nseg = p->ow;
    if (p->nseg > fw_im2col_max_positions(&p->im2col, p->cc))
        p->nseg = fw_im2col_max_positions(&p->im2col, p->cc);
    if (p->nseg == 0)
        p->nseg = 1; /* the strided de-interleave then works a chunk of channels at a time */
    while (p->sw > 1 && p->cc > 1 && p->cc * p->nseg > FW_FIELD_MAX(VMOV, DSTRIDE))
        p->cc = (p->cc + 1) / 2;
    /* the smallest channel block first: positions per segment, then channels per chunk, shrink
     * until it fits; then the block by modelled cost among those that fit (choose_block) */
    p->cb = p->co < p->mt ? p->co : p->mt;
    uint64_t sram = c->info->sram_bytes;
    while (conv_sram(p) > sram) {
        if (p->nseg > 1)
            p->nseg = (p->nseg + 1) / 2;
        else if (p->cc > 1 && !p->wide)
            p->cc = (p->cc + 1) / 2;
        else
            return fw_refuse(why, whylen, "does not fit in the %llu-byte SRAM", (unsigned long long)sram);
    }
    p->segments = p->flat ? p->n * ceil_div(p->oh * p->ow, p->nseg) : p->n * p->oh * ceil_div(p->ow, p->nseg);
    choose_block(p, sram);
    p->blocks = ceil_div(p->co, p->cb);
    return 0;
}

static int conv_check(fw_op_ctx *c, const npu_op_desc *d, char *why, size_t whylen)
{
    conv_plan p;
    return conv_plan_make(c, d, &p, why, whylen);
}

/* ---------------------------------------------------------------- emission */

typedef struct conv_state {
    const npu_op_desc *d;
    const conv_plan *p;
    fw_pipe a, b, cc, out, prm, tab;
    uint32_t tab_slot; /* output stage: the table */
} conv_state;

/* The weights of output channels [co0, co0 + ncb) for input channels [c0, c0 + cc): rows of
 * KH*KW runs of cc channels (OHWI), into the next A slot, pitch KH*KW*cc. */
static uint32_t load_a_chunk(fw_op_ctx *c, conv_state *s, uint64_t co0, uint64_t ncb, uint64_t c0, uint64_t cc)
{
    const conv_plan *p = s->p;
    const npu_tensor_ref *wt = &s->d->in[1];
    uint64_t kc = p->kh * p->kw * cc;
    unsigned q = fw_load_queue(c, fw_pipe_slot_index(&s->a, 0) + 1);
    uint32_t as = fw_pipe_begin(c, &s->a, 0, q);
    for (uint64_t r = 0; r < p->kh * p->kw; r++) /* int8 weights only: a 16-bit operand is never chunked */
        fw_dma(c, 1, q, wt->buf, as + (uint32_t)(r * cc), wt->offset + co0 * p->k + r * p->c + c0, ncb, cc, p->k, kc);
    fw_pipe_end(c, &s->a, 0, q);
    return fw_pipe_begin(c, &s->a, 1, NPU_UNIT_MM);
}

/* Products, epilogue and store of one segment for the channel block [co0, co0 + ncb). */
static void segment(fw_op_ctx *c, conv_state *s, uint32_t aslot, uint32_t prm, uint64_t co0, uint64_t ncb,
                    uint64_t img, uint64_t oh, uint64_t ow0, uint64_t n)
{
    const conv_plan *p = s->p;
    const npu_op_desc *d = s->d;
    uint32_t bstage = fw_im2col_stages(&p->im2col);
    uint32_t cs = 0;
    uint64_t esz = p->os.on && p->nchunks == 1 ? 1 : 4; /* bytes per element in the C slot */
    for (uint64_t ch = 0; ch < p->nchunks; ch++) {
        uint64_t c0 = ch * p->cc, cc = p->c - c0 < p->cc ? p->c - c0 : p->cc, kc = p->kh * p->kw * cc;
        uint32_t as = aslot;
        if (p->nchunks > 1) /* this chunk's weights: for each (kh, kw), the rows' run of cc channels */
            as = load_a_chunk(c, s, co0, ncb, c0, cc);
        uint32_t bs = fw_im2col_load(c, &p->im2col, &s->b, img, oh, ow0, n, c0, cc);
        fw_pipe_begin(c, &s->b, bstage, NPU_UNIT_MM);
        if (ch == 0)
            cs = fw_pipe_begin(c, &s->cc, 0, NPU_UNIT_MM);
        int rq = p->os.on && ch + 1 == p->nchunks; /* the last products go through the output stage */
        for (uint64_t t = 0; t < ncb; t += p->mt) {
            uint64_t m = ncb - t < p->mt ? ncb - t : p->mt;
            if (rq) /* the tile's output channels are the rows of C */
                fw_mm_out(c, &p->os, 1, prm + (uint32_t)(ISA_MM_OUT_RECORD_BYTES * t), (uint32_t)m, s->tab_slot);
            (rq ? fw_mm_rq : fw_mm_typed)(c, 0, ch > 0, 0, p->at, p->bt, (uint32_t)m, (uint32_t)n, (uint32_t)kc,
                                          as + (uint32_t)(t * kc * p->we), bs, cs + (uint32_t)(esz * t * n));
        }
        fw_pipe_end(c, &s->b, bstage, NPU_UNIT_MM);
        if (p->nchunks > 1)
            fw_pipe_end(c, &s->a, 1, NPU_UNIT_MM);
    }
    fw_pipe_end(c, &s->cc, 0, NPU_UNIT_MM);
    uint64_t plane = p->oh * p->ow, p0 = p->flat ? ow0 : oh * p->ow + ow0;
    if (p->os.on) { /* int8 results in the C slot: [ncb][n], or per tile where its partial sums were */
        unsigned sq = fw_store_queue(c);
        fw_pipe_begin(c, &s->cc, 1, sq);
        uint64_t base = d->out.offset + (img * p->co + co0) * plane + p0;
        for (uint64_t t = 0; t < ncb; t += (p->nchunks == 1 ? ncb : p->mt)) {
            uint64_t m = p->nchunks == 1 ? ncb : (ncb - t < p->mt ? ncb - t : p->mt);
            fw_dma(c, 0, sq, d->out.buf, cs + (uint32_t)(esz * t * n), base + t * plane, m, n, plane, n);
        }
        fw_pipe_end(c, &s->cc, 1, sq);
        return;
    }

    fw_epilogue ep = {p->s_deq, p->per_channel, p->bias, (uint32_t)(4 * p->cb), p->act, d->fattr, &d->out};
    fw_pipe_begin(c, &s->cc, 1, NPU_UNIT_VEC);
    uint32_t o = fw_pipe_begin(c, &s->out, 0, NPU_UNIT_VEC);
    fw_epilogue_load(c, &ep, p->fmode ? FW_EPILOGUE_F32_SUMS : ISA_SDT_I32, o, cs, ncb * n); /* f16 mode: f32 sums */
    fw_pipe_end(c, &s->cc, 1, NPU_UNIT_VEC);
    fw_epilogue_finish(c, &ep, o, prm, ncb, n);
    fw_pipe_end(c, &s->out, 0, NPU_UNIT_VEC);
    unsigned sq = fw_store_queue(c);
    fw_pipe_begin(c, &s->out, 1, sq);
    fw_dma(c, 0, sq, d->out.buf, o, d->out.offset + ((img * p->co + co0) * plane + p0) * p->osz, ncb, n * p->osz,
           plane * p->osz, n * p->osz);
    fw_pipe_end(c, &s->out, 1, sq);
}

static void conv_emit(fw_op_ctx *c, const npu_op_desc *d)
{
    conv_plan p;
    char why[FW_WHY_BYTES];
    if (conv_plan_make(c, d, &p, why, sizeof why))
        return;
    conv_state s;
    memset(&s, 0, sizeof s);
    s.d = d;
    s.p = &p;
    int prm_used = p.per_channel || p.bias || p.os.on;
    unsigned prm_unit = p.os.on ? NPU_UNIT_MM : NPU_UNIT_VEC; /* who reads the block's parameters */
    uint32_t items = (uint32_t)(p.blocks * p.segments);
    fw_pipe_init(c, &s.a, CONV_PIPE_SLOTS, 2, p.a_bytes, (uint32_t)(p.nchunks > 1 ? items * p.nchunks : p.blocks));
    fw_pipe_init(c, &s.b, CONV_PIPE_SLOTS, fw_im2col_stages(&p.im2col) + 1, p.b_bytes, (uint32_t)(items * p.nchunks));
    fw_pipe_init(c, &s.cc, CONV_PIPE_SLOTS, 2, p.c_bytes, items);
    if (!p.os.on)
        fw_pipe_init(c, &s.out, CONV_PIPE_SLOTS, 2, p.o_bytes, items);
    if (prm_used)
        fw_pipe_init(c, &s.prm, CONV_PIPE_SLOTS, 2, p.p_bytes, (uint32_t)p.blocks);
    if (p.os.lut) /* the table, once for the op */
        s.tab_slot = fw_load_table(c, &s.tab, d, &p.os);
    const npu_tensor_ref *wt = &d->in[1];
    for (uint64_t blk = 0; blk < p.blocks; blk++) {
        uint64_t co0 = blk * p.cb, ncb = p.co - co0 < p.cb ? p.co - co0 : p.cb;
        uint32_t aslot = 0;
        if (p.nchunks == 1) { /* the block's weights stay for all its segments */
            unsigned q = fw_load_queue(c, fw_pipe_slot_index(&s.a, 0) + 1);
            aslot = fw_pipe_begin(c, &s.a, 0, q);
            fw_dma_flat(c, 1, q, wt->buf, aslot, wt->offset + co0 * p.k * p.we, ncb * p.k * p.we);
            fw_pipe_end(c, &s.a, 0, q);
        }
        uint32_t prm = 0;
        if (prm_used) {
            unsigned pq = fw_load_queue(c, fw_pipe_slot_index(&s.prm, 0) + 2);
            prm = fw_pipe_begin(c, &s.prm, 0, pq);
            if (p.os.on)
                fw_dma_flat(c, 1, pq, d->in[2].buf, prm, d->in[2].offset + ISA_MM_OUT_RECORD_BYTES * co0,
                            ISA_MM_OUT_RECORD_BYTES * ncb);
            if (p.per_channel && !p.os.on)
                fw_dma_flat(c, 1, pq, wt->scales_buf, prm, wt->scales_offset + 4 * co0, 4 * ncb);
            if (p.bias)
                fw_dma_flat(c, 1, pq, d->in[2].buf, prm + (uint32_t)(4 * p.cb), d->in[2].offset + 4 * co0, 4 * ncb);
            fw_pipe_end(c, &s.prm, 0, pq);
            fw_pipe_begin(c, &s.prm, 1, prm_unit);
        }
        if (p.nchunks == 1)
            fw_pipe_begin(c, &s.a, 1, NPU_UNIT_MM);
        for (uint64_t img = 0; img < p.n; img++) {
            if (p.flat) {
                for (uint64_t p0 = 0; p0 < p.oh * p.ow; p0 += p.nseg)
                    segment(c, &s, aslot, prm, co0, ncb, img, 0, p0, p.oh * p.ow - p0 < p.nseg ? p.oh * p.ow - p0 : p.nseg);
                continue;
            }
            for (uint64_t oh = 0; oh < p.oh; oh++)
                for (uint64_t ow0 = 0; ow0 < p.ow; ow0 += p.nseg)
                    segment(c, &s, aslot, prm, co0, ncb, img, oh, ow0, p.ow - ow0 < p.nseg ? p.ow - ow0 : p.nseg);
        }
        if (p.nchunks == 1)
            fw_pipe_end(c, &s.a, 1, NPU_UNIT_MM);
        if (prm_used)
            fw_pipe_end(c, &s.prm, 1, prm_unit);
    }
    if (p.os.lut)
        fw_pipe_end(c, &s.tab, 1, NPU_UNIT_MM);
}

static void conv_describe(fw_op_ctx *c, const npu_op_desc *d, char *buf, size_t len)
{
    conv_plan p;
    char why[FW_WHY_BYTES];
    if (conv_plan_make(c, d, &p, why, sizeof why))
        return;
    snprintf(buf, len, "%llux%llux%llux%llu -> %llu channels, kernel %llux%llu stride %llux%llu%s, channels in blocks of "
             "%llu, input channels in %llu chunk%s, %llu positions per segment",
             (unsigned long long)p.n, (unsigned long long)p.c, (unsigned long long)p.h, (unsigned long long)p.w,
             (unsigned long long)p.co, (unsigned long long)p.kh, (unsigned long long)p.kw, (unsigned long long)p.sh,
             (unsigned long long)p.sw, p.flat ? " (1x1: flat)" : "", (unsigned long long)p.cb,
             (unsigned long long)p.nchunks, p.nchunks == 1 ? "" : "s", (unsigned long long)p.nseg);
    if (p.os.on)
        snprintf(buf + strlen(buf), len - strlen(buf), ", epilogue in the output stage%s", p.os.lut ? " (table)" : "");
}

const fw_op_kernel fw_kernel_conv2d = {"conv2d", conv_check, conv_emit, conv_describe};
