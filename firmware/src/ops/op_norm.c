/* op_norm.c -- NPU_OP_NORM: layer, RMS and group normalisation on the vector unit.
 *
 * LAYER and RMS normalise each row of the last axis with one v.norm (its affine form takes gamma
 * and beta, loaded once and kept resident). GROUP views x[N, C, spatial] as N * groups rows of
 * (C / groups) * spatial elements, normalises them with v.norm (no affine), then applies the
 * per-channel gamma and beta with column-broadcast v.bin over the [channels, spatial] view; the
 * resident gamma/beta hold as many copies as one chunk spans samples. Rows stream through three
 * slots as in op_eltwise.c. The arithmetic is specified in README.md ("NORM").
 */
#include "fw_ops.h"

#include <stdio.h>
#include <string.h>

/* A chunk of group-norm rows covering several samples keeps this many gamma/beta copies at most. */
#define NORM_MAX_SAMPLE_COPIES 16

typedef struct norm_plan {
    int32_t kind;
    uint64_t rows, cols;        /* the rows v.norm normalises */
    uint64_t chans, spatial;    /* GROUP: channels, elements per channel */
    uint64_t groups, ch_per_group;
    int gamma, beta, eps;
    uint64_t chunk, slot_bytes, items, copies;
    uint64_t prm_bytes;
} norm_plan;

static int present(const npu_op_desc *d, uint32_t i) { return d->n_inputs > i && d->in[i].buf != NPU_NO_BUFFER; }

static int norm_plan_make(const fw_op_ctx *c, const npu_op_desc *d, norm_plan *p, char *why, size_t whylen)
{
    const npu_tensor_ref *x = &d->in[0];
    memset(p, 0, sizeof *p);
    if (fw_check_act(c, x, "in0", why, whylen) || fw_check_act(c, &d->out, "out", why, whylen))
        return -1;
    uint64_t numel = fw_numel(x);
    if (fw_numel(&d->out) != numel)
        return fw_refuse(why, whylen, "out: %llu elements, in0 has %llu", (unsigned long long)fw_numel(&d->out),
                         (unsigned long long)numel);
    p->kind = d->iattr[0];
    p->eps = fw_eps_exponent(d->fattr[0]);
    if (p->eps < 0)
        return fw_refuse(why, whylen, "epsilon %g is not 10^-e for e in 0..%llu (the ISA's form)", (double)d->fattr[0],
                         (unsigned long long)FW_FIELD_MAX(VNORM, EPS));
    p->gamma = present(d, 1);
    p->beta = present(d, 2);
    if (p->beta && !p->gamma)
        return fw_refuse(why, whylen, "beta without gamma");
    uint64_t pcount;
    if (p->kind == NPU_NORM_LAYER || p->kind == NPU_NORM_RMS) {
        p->cols = (uint64_t)x->dims[x->rank - 1];
        p->rows = numel / p->cols;
        pcount = p->cols;
    } else if (p->kind == NPU_NORM_GROUP) {
        if (x->rank < 2)
            return fw_refuse(why, whylen, "group norm of a rank-%u tensor (expected [N, C, ...])", x->rank);
        p->chans = (uint64_t)x->dims[1];
        p->spatial = numel / ((uint64_t)x->dims[0] * p->chans);
        if (d->iattr[1] < 1 || p->chans % (uint64_t)d->iattr[1])
            return fw_refuse(why, whylen, "%d groups do not divide %llu channels", d->iattr[1],
                             (unsigned long long)p->chans);
        p->groups = (uint64_t)d->iattr[1];
        p->ch_per_group = p->chans / p->groups;
        p->cols = p->ch_per_group * p->spatial;
        p->rows = (uint64_t)x->dims[0] * p->groups;
        pcount = p->chans;
        if (p->spatial > FW_FIELD_MAX(VBIN, COLS))
            return fw_refuse(why, whylen, "%llu elements per channel exceed the vector unit's %llu",
                             (unsigned long long)p->spatial, (unsigned long long)FW_FIELD_MAX(VBIN, COLS));
    } else {
        return fw_refuse(why, whylen, "iattr[0] = %d is not an enum npu_norm", p->kind);
    }
    if (p->cols > FW_FIELD_MAX(VNORM, COLS))
        return fw_refuse(why, whylen, "rows of %llu elements exceed the vector unit's %llu",
                         (unsigned long long)p->cols, (unsigned long long)FW_FIELD_MAX(VNORM, COLS));
    if (p->gamma && fw_check_f32_vec(c, &d->in[1], "in1 (gamma)", pcount, why, whylen))
        return -1;
    if (p->beta && fw_check_f32_vec(c, &d->in[2], "in2 (beta)", pcount, why, whylen))
        return -1;
    uint64_t row_bytes = 4 * p->cols, sram = c->info->sram_bytes;
    p->copies = 1;
    if (p->kind == NPU_NORM_GROUP) {
        /* chunks start on a sample when they span samples, else on a multiple of their size within one */
        uint64_t per_sample = p->groups * row_bytes, prm1 = 2 * 4 * p->chans;
        uint64_t avail = sram > fw_align(prm1) ? sram - fw_align(prm1) : 0;
        uint64_t k = fw_chunk_rows(avail, FW_STREAM_SLOTS, per_sample, p->rows / p->groups);
        if (k > NORM_MAX_SAMPLE_COPIES)
            k = NORM_MAX_SAMPLE_COPIES;
        while (k > 1 && (uint64_t)FW_STREAM_SLOTS * fw_align(k * per_sample) + fw_align(k * prm1) > sram)
            k--;
        if (k >= 1 && (uint64_t)FW_STREAM_SLOTS * fw_align(per_sample) + fw_align(prm1) <= sram) {
            p->chunk = k * p->groups;
            p->copies = k;
        } else {
            uint64_t r = fw_chunk_rows(avail, FW_STREAM_SLOTS, row_bytes, p->groups);
            while (r > 1 && p->groups % r)
                r--;
            p->chunk = r;
        }
        p->prm_bytes = p->copies * prm1;
    } else {
        p->prm_bytes = (p->gamma + p->beta) * 4 * p->cols;
        p->chunk = fw_chunk_rows(sram - fw_align(p->prm_bytes), FW_STREAM_SLOTS, row_bytes, p->rows);
    }
    if (p->chunk == 0)
        return fw_refuse(why, whylen, "a row of %llu elements does not fit in the %llu-byte SRAM",
                         (unsigned long long)p->cols, (unsigned long long)sram);
    p->slot_bytes = p->chunk * row_bytes;
    p->items = (p->rows + p->chunk - 1) / p->chunk;
    return 0;
}

static int norm_check(fw_op_ctx *c, const npu_op_desc *d, char *why, size_t whylen)
{
    norm_plan p;
    return norm_plan_make(c, d, &p, why, whylen);
}

static void norm_emit(fw_op_ctx *c, const npu_op_desc *d)
{
    norm_plan p;
    char why[FW_WHY_BYTES];
    if (norm_plan_make(c, d, &p, why, sizeof why))
        return;
    const npu_tensor_ref *x = &d->in[0], *y = &d->out;
    uint32_t xs = fw_dtype_bytes(x->dtype), ys = fw_dtype_bytes(y->dtype);
    int group = p.kind == NPU_NORM_GROUP;
    uint64_t pcount = group ? p.chans : p.cols; /* one gamma (or beta) vector */
    uint32_t prm = 0;
    if (p.gamma) { /* resident parameters: gamma copies, then beta copies */
        prm = fw_sram_alloc(c, p.prm_bytes);
        uint32_t sem = fw_sem_alloc(c);
        unsigned q = fw_load_queue(c, 0);
        for (uint64_t k = 0; k < p.copies; k++) {
            fw_dma_flat(c, 1, q, d->in[1].buf, prm + (uint32_t)(4 * k * pcount), d->in[1].offset, 4 * pcount);
            if (p.beta)
                fw_dma_flat(c, 1, q, d->in[2].buf, prm + (uint32_t)(4 * (p.copies + k) * pcount), d->in[2].offset,
                            4 * pcount);
        }
        fw_signal(c, q, sem);
        fw_wait(c, NPU_UNIT_VEC, sem);
    }
    int64_t fn = p.kind == NPU_NORM_RMS ? ISA_NORM_RMS : ISA_NORM_LAYER;
    int64_t aff = group || !p.gamma ? ISA_AFF_NONE : p.beta ? ISA_AFF_GAMMA_BETA : ISA_AFF_GAMMA;
    fw_pipe pipe;
    fw_pipe_init(c, &pipe, FW_STREAM_SLOTS, 3, p.slot_bytes, (uint32_t)p.items);
    unsigned sq = fw_store_queue(c);
    for (uint64_t r0 = 0; r0 < p.rows; r0 += p.chunk) {
        uint64_t k = p.rows - r0 < p.chunk ? p.rows - r0 : p.chunk, n = k * p.cols, e0 = r0 * p.cols;
        unsigned q = fw_load_queue(c, fw_pipe_slot_index(&pipe, 0));
        uint32_t s = fw_pipe_begin(c, &pipe, 0, q);
        fw_dma_flat(c, 1, q, x->buf, s, x->offset + e0 * xs, n * xs);
        fw_pipe_end(c, &pipe, 0, q);
        fw_pipe_begin(c, &pipe, 1, NPU_UNIT_VEC);
        fw_to_f32(c, x, s, s, n);
        fw_vnorm(c, fn, aff, s, s, prm, k, p.cols, p.eps);
        if (group && p.gamma) { /* per channel: rows of the [channels, spatial] view */
            uint64_t first_ch = (r0 % p.groups) * p.ch_per_group, nch = k * p.ch_per_group;
            fw_vbin_rows(c, ISA_BINOP_MUL, ISA_BC_COL, s, s, prm + (uint32_t)(4 * first_ch), nch, p.spatial);
            if (p.beta)
                fw_vbin_rows(c, ISA_BINOP_ADD, ISA_BC_COL, s, s, prm + (uint32_t)(4 * (p.copies * p.chans + first_ch)),
                             nch, p.spatial);
        }
        fw_from_f32(c, y, s, s, n);
        fw_pipe_end(c, &pipe, 1, NPU_UNIT_VEC);
        fw_pipe_begin(c, &pipe, 2, sq);
        fw_dma_flat(c, 0, sq, y->buf, s, y->offset + e0 * ys, n * ys);
        fw_pipe_end(c, &pipe, 2, sq);
    }
}

static void norm_describe(fw_op_ctx *c, const npu_op_desc *d, char *buf, size_t len)
{
    static const char *const kinds[] = {"layer", "rms", "group"};
    norm_plan p;
    char why[FW_WHY_BYTES];
    if (norm_plan_make(c, d, &p, why, sizeof why))
        return;
    snprintf(buf, len, "%s norm, %llu rows of %llu, %llu rows per chunk, %llu chunks",
             p.kind >= 0 && p.kind <= NPU_NORM_GROUP ? kinds[p.kind] : "?", (unsigned long long)p.rows,
             (unsigned long long)p.cols, (unsigned long long)p.chunk, (unsigned long long)p.items);
}

const fw_op_kernel fw_kernel_norm = {"norm", norm_check, norm_emit, norm_describe};
