/* op_pad.c -- NPU_OP_PAD: padding of the last two axes of [B, H, W], in constant, edge or reflect
 * mode, with optional interior padding (the zeros a transposed convolution inserts between
 * input elements).
 *
 * Output rows are built in SRAM, a block at a time (whole planes when they fit, else rows of one
 * plane), and stored with one contiguous DMA. Constant mode fills the block from the fill row
 * (in1: WO elements of the pad value in the output's type) with one DMA whose DRAM pitch is 0
 * (or each slot once, at the start, see below), then the DMA puts each input row at its place
 * (interior rows: an SRAM pitch of (ih+1) rows), a DMA per plane, or, for whole planes of fewer
 * rows than the block has planes (a 1-D convolution's), a DMA per row of every plane;
 * with interior columns the rows go to a staging area first and one v.mov per row scatters
 * them with a pitch of iw+1 elements. Edge and reflect modes load, for every output row, the
 * input row it copies (runs of consecutive rows, or of one repeated row, are one DMA each) into
 * a staging area; then one v.mov places the data columns and one v.mov per pad column copies
 * the input column it mirrors or repeats. Blocks stream through three slots (load, vector,
 * store). Bytes move unchanged: in0, out and the fill row share their type and scale.
 *
 * Small planes (a depthwise layer's 14x14 or 7x7 maps, hundreds of them), constant mode without
 * interior padding, are gathered instead: a DMA per plane would cost more in setup and DRAM
 * latency than it moves. A block of planes is loaded with one DMA, each row placed between the
 * left and right pads of a staging area T [planes][h][wo] by one v.mov (rows of every plane at
 * one pitch), and the planes of T placed between the top and bottom pad rows by a second v.mov
 * (one row per plane; without pad rows T is the block itself), then stored with one DMA. The
 * pads of the block and of T are filled once per slot at the start, as whole-plane constant
 * padding does when it has many blocks (the fill row, then copies doubling the filled length):
 * nothing but data lands on them afterwards.
 * README.md ("PAD").
 */
#include "fw_ops.h"

#include <string.h>

/* Planes of at most this many input bytes, in rows shorter than a DRAM burst, are gathered (see
 * above): a DMA costs ~100-200 NPU cycles of setup and DRAM latency on the presets and is charged
 * whole bursts per row; the vector unit places such a plane in fewer. */
#define PAD_GATHER_MAX_PLANE_BYTES 1024u
#define PAD_GATHER_MAX_ROW_BYTES 64u

/* Blocks above which whole-plane constant padding fills its slots once rather than per block:
 * FW_STREAM_SLOTS slots filled by the vector unit against a fill DMA per block (the DMA moves a
 * block's bytes about as fast as the vector unit copies them on the presets). */
#define PAD_FILL_ONCE_MIN_BLOCKS (2u * FW_STREAM_SLOTS)

/* Whole planes per block: at least this many blocks when the planes allow (load, vector work and
 * store of different blocks overlap only with several; one block of a 1-D convolution's 512
 * planes ran its fill, load and store one after the other), but blocks of at least
 * PAD_MIN_BLOCK_BYTES (a DMA's setup and DRAM latency amortised). */
#define PAD_PIPE_MIN_BLOCKS (PAD_FILL_ONCE_MIN_BLOCKS + 2u)
#define PAD_MIN_BLOCK_BYTES (16u * 1024u)

typedef struct pad_plan {
    uint64_t b, h, w, ho, wo, top, left, ih, iw;
    int mode, fill, staging, vec, gather;
    int fill_once; /* whole planes per block: each slot's pads are filled once (no input lands there) */
    uint64_t t_off, s_off; /* gather: T and the loaded planes in the slot */
    uint32_t esz;
    uint64_t nb, nr;          /* planes per block; output rows per block (nr < ho: one plane) */
    uint64_t blk_bytes, slot_bytes;
    uint64_t items;
} pad_plan;

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

/* The input index output index o copies along an axis of n inputs (before, interior), or -1 for a
 * constant pad. */
static int64_t src_index(const pad_plan *p, int64_t o, int64_t before, int64_t n, int64_t interior)
{
    int64_t r = o - before;
    switch (p->mode) {
    case NPU_PAD_EDGE: return r < 0 ? 0 : r >= n ? n - 1 : r;
    case NPU_PAD_REFLECT: return r < 0 ? -r : r >= n ? 2 * (n - 1) - r : r;
    default:
        if (r < 0 || r % (interior + 1) != 0 || r / (interior + 1) >= n)
            return -1;
        return r / (interior + 1);
    }
}

static uint64_t pad_slot(pad_plan *p)
{
    p->blk_bytes = fw_align(p->nb * p->nr * p->wo * p->esz);
    p->slot_bytes = p->blk_bytes + (p->staging ? p->nb * p->nr * p->w * p->esz : 0);
    if (p->gather) { /* block [nb][ho][wo] | T [nb][h][wo] | planes [nb][h][w] */
        p->t_off = p->blk_bytes;
        p->s_off = p->t_off + fw_align(p->nb * p->h * p->wo * p->esz);
        p->slot_bytes = p->s_off + p->nb * p->h * p->w * p->esz;
    }
    return p->slot_bytes;
}

static int pad_plan_make(const fw_op_ctx *c, const npu_op_desc *d, pad_plan *p, char *why, size_t whylen)
{
    const npu_tensor_ref *x = &d->in[0], *y = &d->out;
    memset(p, 0, sizeof *p);
    if (fw_check_act(c, x, "in0", why, whylen) || fw_check_act(c, y, "out", why, whylen))
        return -1;
    if (x->rank != 3 || y->rank != 3)
        return fw_refuse(why, whylen, "in0 rank %u, out rank %u (expected [B,H,W] and [B,HO,WO])", x->rank, y->rank);
    if (x->dtype != y->dtype || (x->dtype == NPU_DT_I8 && x->scale != y->scale))
        return fw_refuse(why, whylen, "out: %s scale %g, in0 %s scale %g (padding moves data unchanged)",
                         fw_dtype_name(y->dtype), (double)y->scale, fw_dtype_name(x->dtype), (double)x->scale);
    for (int i = 0; i <= 6; i++)
        if (i != 4 && d->iattr[i] < 0)
            return fw_refuse(why, whylen, "iattr[%d] = %d (pads and interior padding are >= 0)", i, d->iattr[i]);
    p->mode = d->iattr[4];
    if (p->mode != NPU_PAD_CONSTANT && p->mode != NPU_PAD_EDGE && p->mode != NPU_PAD_REFLECT)
        return fw_refuse(why, whylen, "iattr[4] = %d is not an enum npu_pad_mode", p->mode);
    p->b = (uint64_t)x->dims[0];
    p->h = (uint64_t)x->dims[1];
    p->w = (uint64_t)x->dims[2];
    p->top = (uint64_t)d->iattr[0];
    p->left = (uint64_t)d->iattr[1];
    p->ih = (uint64_t)d->iattr[5];
    p->iw = (uint64_t)d->iattr[6];
    p->esz = fw_dtype_bytes(x->dtype);
    if (p->mode != NPU_PAD_CONSTANT && (p->ih || p->iw))
        return fw_refuse(why, whylen, "interior padding %llu,%llu in edge or reflect mode (constant mode only)",
                         (unsigned long long)p->ih, (unsigned long long)p->iw);
    if (p->mode == NPU_PAD_REFLECT && ((uint64_t)d->iattr[0] >= p->h || (uint64_t)d->iattr[2] >= p->h ||
                                       (uint64_t)d->iattr[1] >= p->w || (uint64_t)d->iattr[3] >= p->w))
        return fw_refuse(why, whylen, "reflect pads %d,%d,%d,%d reach past a %llux%llu input", d->iattr[0], d->iattr[1],
                         d->iattr[2], d->iattr[3], (unsigned long long)p->h, (unsigned long long)p->w);
    p->ho = p->top + p->h + (p->h - 1) * p->ih + (uint64_t)d->iattr[2];
    p->wo = p->left + p->w + (p->w - 1) * p->iw + (uint64_t)d->iattr[3];
    if ((uint64_t)y->dims[0] != p->b || (uint64_t)y->dims[1] != p->ho || (uint64_t)y->dims[2] != p->wo)
        return fw_refuse(why, whylen, "out: [%lld,%lld,%lld] (expected [%llu,%llu,%llu])", (long long)y->dims[0],
                         (long long)y->dims[1], (long long)y->dims[2], (unsigned long long)p->b,
                         (unsigned long long)p->ho, (unsigned long long)p->wo);
    if (p->wo > FW_FIELD_MAX(VMOV, DSTRIDE) || p->w > FW_FIELD_MAX(VMOV, COLS))
        return fw_refuse(why, whylen, "rows of %llu input / %llu output elements exceed the vector unit's %llu",
                         (unsigned long long)p->w, (unsigned long long)p->wo,
                         (unsigned long long)FW_FIELD_MAX(VMOV, DSTRIDE));
    p->fill = p->mode == NPU_PAD_CONSTANT;
    if (p->fill) {
        if (d->n_inputs < 2 || d->in[1].buf == NPU_NO_BUFFER)
            return fw_refuse(why, whylen, "constant mode needs in1, the fill row of %llu elements",
                             (unsigned long long)p->wo);
        const npu_tensor_ref *f = &d->in[1];
        if (fw_check_shape(f, "in1 (fill row)", why, whylen))
            return -1;
        if (f->dtype != y->dtype || fw_numel(f) != p->wo)
            return fw_refuse(why, whylen, "in1 (fill row): %s of %llu elements (expected %s of %llu)",
                             fw_dtype_name(f->dtype), (unsigned long long)fw_numel(f), fw_dtype_name(y->dtype),
                             (unsigned long long)p->wo);
        if (fw_check_ref(c, f, "in1 (fill row)", p->wo * p->esz, why, whylen))
            return -1;
    }
    p->staging = !p->fill || p->iw > 0;
    p->gather = p->fill && p->ih == 0 && p->iw == 0 && p->h * p->w * p->esz <= PAD_GATHER_MAX_PLANE_BYTES &&
                p->w * p->esz < PAD_GATHER_MAX_ROW_BYTES &&
                p->ho * p->wo <= FW_FIELD_MAX(VMOV, DSTRIDE);
    p->vec = p->staging || p->gather;
    /* whole planes per block when one fits in a slot, else rows of one plane */
    uint64_t avail = c->info->sram_bytes / FW_STREAM_SLOTS;
    avail = avail > 2 * FW_SRAM_ALIGN_BYTES ? avail - 2 * FW_SRAM_ALIGN_BYTES : 0;
    uint64_t per_row = p->wo * p->esz + (p->staging ? p->w * p->esz : 0), per_plane = p->ho * per_row;
    if (p->gather)
        per_plane = (p->ho * p->wo + p->h * p->wo + p->h * p->w) * p->esz + 2 * FW_SRAM_ALIGN_BYTES;
    if (per_plane <= avail) {
        p->nr = p->ho;
        uint64_t target = avail < FW_CHUNK_TARGET_BYTES ? avail : FW_CHUNK_TARGET_BYTES;
        p->nb = target / per_plane;
        uint64_t piped = ceil_div(p->b, PAD_PIPE_MIN_BLOCKS), amortised = ceil_div(PAD_MIN_BLOCK_BYTES, per_plane);
        uint64_t cap = piped > amortised ? piped : amortised;
        p->nb = p->nb > cap ? cap : p->nb;
        p->nb = p->nb < 1 ? 1 : p->nb > p->b ? p->b : p->nb;
    } else {
        p->nb = 1;
        p->nr = avail / per_row;
        if (p->nr == 0)
            return fw_refuse(why, whylen, "an output row of %llu elements does not fit in the %u-byte SRAM",
                             (unsigned long long)p->wo, c->info->sram_bytes);
    }
    pad_slot(p);
    p->items = ceil_div(p->b, p->nb) * ceil_div(p->ho, p->nr);
    /* filling the slots once (on the vector unit) pays off against a fill DMA per block only when
     * there are several blocks per slot; gathering needs it (T's pads) */
    p->fill_once = p->fill && p->nr == p->ho && (p->gather || p->items > PAD_FILL_ONCE_MIN_BLOCKS);
    return 0;
}

static int pad_check(fw_op_ctx *c, const npu_op_desc *d, char *why, size_t whylen)
{
    pad_plan p;
    return pad_plan_make(c, d, &p, why, whylen);
}

/* ---------------------------------------------------------------- emission */

/* The DMA loads of one block: constant mode, the fill and the input rows at their places (or
 * into the staging area with interior columns); edge and reflect, each output row's source row
 * into the staging area. */
static void load_block(fw_op_ctx *c, const npu_op_desc *d, const pad_plan *p, unsigned q, uint32_t s, uint64_t b0,
                       uint64_t nb, uint64_t r0, uint64_t nr)
{
    const npu_tensor_ref *x = &d->in[0];
    uint64_t e = p->esz, in_row = p->w * e, out_row = p->wo * e;
    uint32_t st = s + (uint32_t)p->blk_bytes;
    if (p->fill && !p->fill_once)
        fw_dma(c, 1, q, d->in[1].buf, s, d->in[1].offset, nb * nr, out_row, 0, out_row);
    if (p->fill && p->ih == 0 && p->iw == 0 && nr == p->ho && p->h < nb && p->h * in_row <= FW_FIELD_MAX(DMA_LD, DSTRIDE) &&
        p->ho * out_row <= FW_FIELD_MAX(DMA_LD, SSTRIDE)) {
        /* whole planes, fewer rows than planes: one DMA per input row, that row of every plane */
        for (uint64_t i = 0; i < p->h; i++)
            fw_dma(c, 1, q, x->buf, s + (uint32_t)((p->top + i) * out_row + p->left * e),
                   x->offset + (b0 * p->h + i) * in_row, nb, in_row, p->h * in_row, p->ho * out_row);
        return;
    }
    for (uint64_t b = b0; b < b0 + nb; b++) {
        uint64_t plane = x->offset + b * p->h * in_row, blk = (b - b0) * nr;
        if (p->fill) { /* the input rows whose output rows fall in [r0, r0 + nr), an arithmetic run */
            int64_t first = -1, last = -1, ro_first = 0;
            for (uint64_t ro = r0; ro < r0 + nr; ro++) {
                int64_t hi = src_index(p, (int64_t)ro, (int64_t)p->top, (int64_t)p->h, (int64_t)p->ih);
                if (hi < 0)
                    continue;
                if (first < 0) {
                    first = hi;
                    ro_first = (int64_t)ro;
                }
                last = hi;
            }
            if (first < 0)
                continue;
            uint64_t rows = (uint64_t)(last - first + 1);
            if (p->iw == 0)
                fw_dma(c, 1, q, x->buf, s + (uint32_t)((blk + (uint64_t)ro_first - r0) * out_row + p->left * e),
                       plane + (uint64_t)first * in_row, rows, in_row, in_row, (p->ih + 1) * out_row);
            else
                fw_dma(c, 1, q, x->buf, st + (uint32_t)((blk + (uint64_t)ro_first - r0) * in_row),
                       plane + (uint64_t)first * in_row, rows, in_row, in_row, (p->ih + 1) * in_row);
            continue;
        }
        /* edge / reflect: runs of output rows whose sources step by 1 (or repeat one row) */
        for (uint64_t ro = r0; ro < r0 + nr;) {
            int64_t hi = src_index(p, (int64_t)ro, (int64_t)p->top, (int64_t)p->h, 0);
            uint64_t run = 1;
            int64_t step = ro + 1 < r0 + nr ? src_index(p, (int64_t)ro + 1, (int64_t)p->top, (int64_t)p->h, 0) - hi : 2;
            if (step == 0 || step == 1)
                while (ro + run < r0 + nr &&
                       src_index(p, (int64_t)(ro + run), (int64_t)p->top, (int64_t)p->h, 0) == hi + step * (int64_t)run)
                    run++;
            fw_dma(c, 1, q, x->buf, st + (uint32_t)((blk + ro - r0) * in_row), plane + (uint64_t)hi * in_row, run,
                   in_row, step == 1 ? in_row : 0, in_row);
            ro += run;
        }
    }
}

/* Whole planes in constant mode: fill every slot's block (and T when gathering) with the fill row
 * once, then doubling copies; only data lands there later, so the pads stay filled. */
static void fill_slots(fw_op_ctx *c, const npu_op_desc *d, const pad_plan *p, const fw_pipe *pipe)
{
    uint64_t e = p->esz, n = p->nb * p->ho * p->wo, row = p->wo * e;
    uint32_t sem = fw_sem_alloc(c);
    unsigned q = fw_load_queue(c, 0);
    for (uint32_t k = 0; k < pipe->nslots; k++)
        fw_dma_flat(c, 1, q, d->in[1].buf, pipe->addr[k], d->in[1].offset, row);
    fw_signal(c, q, sem);
    fw_wait(c, NPU_UNIT_VEC, sem);
    for (uint32_t k = 0; k < pipe->nslots; k++) {
        uint32_t s = pipe->addr[k];
        for (uint64_t have = p->wo; have < n;) {
            uint64_t m = n - have < have ? n - have : have;
            fw_vmov(c, 0, p->esz, s + (uint32_t)(have * e), s, m, 1, 1, 1); /* flat */
            have += m;
        }
        if (p->gather)
            fw_vmov(c, 0, p->esz, s + (uint32_t)p->t_off, s, p->nb * p->h * p->wo, 1, 1, 1);
    }
    if (!p->gather) { /* the loads put data into the blocks: after the fill (a signal per channel) */
        uint32_t done = fw_sem_alloc(c), nq = fw_load_channels(c);
        for (uint32_t i = 0; i < nq; i++)
            fw_signal(c, NPU_UNIT_VEC, done);
        for (uint32_t i = 0; i < nq; i++)
            fw_wait(c, fw_load_queue(c, i), done);
    }
}

/* Gather: nb planes at the slot's s_off -> T's data columns -> the block's data rows. */
static void gather_block(fw_op_ctx *c, const pad_plan *p, uint32_t s, uint64_t nb)
{
    uint64_t e = p->esz;
    uint32_t t = s + (uint32_t)p->t_off;
    if (p->ho == p->h) /* no pad rows: T is the block */
        t = s;
    fw_vmov(c, 0, p->esz, t + (uint32_t)(p->left * e), s + (uint32_t)p->s_off, nb * p->h, p->w, p->w, p->wo);
    if (t != s)
        fw_vmov(c, 0, p->esz, s + (uint32_t)(p->top * p->wo * e), t, nb, p->h * p->wo, p->h * p->wo, p->ho * p->wo);
}

/* The vector unit's part: interior columns scattered, or edge / reflect rows built from the
 * staging area. */
static void build_block(fw_op_ctx *c, const pad_plan *p, uint32_t s, uint64_t nb, uint64_t r0, uint64_t nr)
{
    uint64_t e = p->esz, rows = nb * nr;
    uint32_t st = s + (uint32_t)p->blk_bytes;
    if (p->fill) { /* interior columns: each staged input row into every (iw+1)-th element */
        for (uint64_t b = 0; b < nb; b++)
            for (uint64_t ro = r0; ro < r0 + nr; ro++) {
                if (src_index(p, (int64_t)ro, (int64_t)p->top, (int64_t)p->h, (int64_t)p->ih) < 0)
                    continue;
                uint64_t at = b * nr + ro - r0;
                fw_vmov(c, 0, p->esz, s + (uint32_t)(at * p->wo * e + p->left * e), st + (uint32_t)(at * p->w * e), p->w,
                        1, 1, p->iw + 1);
            }
        return;
    }
    fw_vmov(c, 0, p->esz, s + (uint32_t)(p->left * e), st, rows, p->w, p->w, p->wo);
    for (uint64_t j = 0; j < p->wo; j++) {
        if (j >= p->left && j < p->left + p->w)
            continue;
        int64_t wi = src_index(p, (int64_t)j, (int64_t)p->left, (int64_t)p->w, 0);
        fw_vmov(c, 0, p->esz, s + (uint32_t)(j * e), st + (uint32_t)((uint64_t)wi * e), rows, 1, p->w, p->wo);
    }
}

static void pad_emit(fw_op_ctx *c, const npu_op_desc *d)
{
    pad_plan p;
    char why[FW_WHY_BYTES];
    if (pad_plan_make(c, d, &p, why, sizeof why))
        return;
    const npu_tensor_ref *y = &d->out;
    fw_pipe pipe;
    uint32_t stages = p.vec ? 3 : 2;
    fw_pipe_init(c, &pipe, FW_STREAM_SLOTS, stages, p.slot_bytes, (uint32_t)p.items);
    if (p.fill_once)
        fill_slots(c, d, &p, &pipe);
    unsigned sq = fw_store_queue(c);
    for (uint64_t b0 = 0; b0 < p.b; b0 += p.nb)
        for (uint64_t r0 = 0; r0 < p.ho; r0 += p.nr) {
            uint64_t nb = p.b - b0 < p.nb ? p.b - b0 : p.nb, nr = p.ho - r0 < p.nr ? p.ho - r0 : p.nr;
            unsigned q = fw_load_queue(c, fw_pipe_slot_index(&pipe, 0));
            uint32_t s = fw_pipe_begin(c, &pipe, 0, q);
            if (p.gather)
                fw_dma_flat(c, 1, q, d->in[0].buf, s + (uint32_t)p.s_off, d->in[0].offset + b0 * p.h * p.w * p.esz,
                            nb * p.h * p.w * p.esz);
            else
                load_block(c, d, &p, q, s, b0, nb, r0, nr);
            fw_pipe_end(c, &pipe, 0, q);
            if (p.vec) {
                fw_pipe_begin(c, &pipe, 1, NPU_UNIT_VEC);
                if (p.gather)
                    gather_block(c, &p, s, nb);
                else
                    build_block(c, &p, s, nb, r0, nr);
                fw_pipe_end(c, &pipe, 1, NPU_UNIT_VEC);
            }
            fw_pipe_begin(c, &pipe, stages - 1, sq);
            fw_dma_flat(c, 0, sq, y->buf, s, y->offset + ((b0 * p.ho + r0) * p.wo) * p.esz, nb * nr * p.wo * p.esz);
            fw_pipe_end(c, &pipe, stages - 1, sq);
        }
}

static void pad_describe(fw_op_ctx *c, const npu_op_desc *d, char *buf, size_t len)
{
    pad_plan p;
    char why[FW_WHY_BYTES];
    if (pad_plan_make(c, d, &p, why, sizeof why))
        return;
    if (p.nr < p.ho)
        snprintf(buf, len, "%llu planes %llux%llu -> %llux%llu, %llu output rows per block%s",
                 (unsigned long long)p.b, (unsigned long long)p.h, (unsigned long long)p.w,
                 (unsigned long long)p.ho, (unsigned long long)p.wo, (unsigned long long)p.nr,
                 p.gather ? ", rows gathered" : "");
    else
        snprintf(buf, len, "%llu planes %llux%llu -> %llux%llu, %llu planes per block%s%s",
                 (unsigned long long)p.b, (unsigned long long)p.h, (unsigned long long)p.w,
                 (unsigned long long)p.ho, (unsigned long long)p.wo, (unsigned long long)p.nb,
                 p.gather ? ", rows gathered" : "", p.fill_once ? ", pads filled once" : "");
}

const fw_op_kernel fw_kernel_pad = {"pad", pad_check, pad_emit, pad_describe};
