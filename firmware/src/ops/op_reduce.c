/* op_reduce.c -- NPU_OP_REDUCE: sum, mean, max or min over the last axis (kept as 1), with one
 * v.red per chunk of rows. Rows stream through three slots (load -> vector -> store) as in
 * op_eltwise.c; each slot holds the chunk's rows (f32) and, after them, its results. The
 * arithmetic is specified in README.md ("REDUCE").
 */
#include "fw_ops.h"

#include <stdio.h>
#include <string.h>

typedef struct red_plan {
    uint64_t rows, cols, chunk, slot_bytes, items;
} red_plan;

static int red_plan_make(const fw_op_ctx *c, const npu_op_desc *d, red_plan *p, char *why, size_t whylen)
{
    const npu_tensor_ref *x = &d->in[0];
    memset(p, 0, sizeof *p);
    if (fw_check_act(c, x, "in0", why, whylen) || fw_check_act(c, &d->out, "out", why, whylen))
        return -1;
    if (!isa_enum_name(ISA_ENUMSET_REDOP, d->iattr[0]))
        return fw_refuse(why, whylen, "iattr[0] = %d is not an ISA redop", d->iattr[0]);
    p->cols = (uint64_t)x->dims[x->rank - 1];
    p->rows = fw_numel(x) / p->cols;
    if (fw_numel(&d->out) != p->rows)
        return fw_refuse(why, whylen, "out: %llu elements (expected one per row: %llu)",
                         (unsigned long long)fw_numel(&d->out), (unsigned long long)p->rows);
    if (p->cols > FW_FIELD_MAX(VRED, COLS))
        return fw_refuse(why, whylen, "rows of %llu elements exceed the vector unit's %llu",
                         (unsigned long long)p->cols, (unsigned long long)FW_FIELD_MAX(VRED, COLS));
    p->chunk = fw_chunk_rows(c->info->sram_bytes, FW_STREAM_SLOTS, 4 * p->cols + 4, p->rows);
    if (p->chunk == 0)
        return fw_refuse(why, whylen, "a row of %llu elements does not fit in the %u-byte SRAM",
                         (unsigned long long)p->cols, c->info->sram_bytes);
    p->slot_bytes = p->chunk * (4 * p->cols + 4);
    p->items = (p->rows + p->chunk - 1) / p->chunk;
    return 0;
}

static int red_check(fw_op_ctx *c, const npu_op_desc *d, char *why, size_t whylen)
{
    red_plan p;
    return red_plan_make(c, d, &p, why, whylen);
}

static void red_emit(fw_op_ctx *c, const npu_op_desc *d)
{
    red_plan p;
    char why[FW_WHY_BYTES];
    if (red_plan_make(c, d, &p, why, sizeof why))
        return;
    const npu_tensor_ref *x = &d->in[0], *y = &d->out;
    uint32_t xs = fw_dtype_bytes(x->dtype), ys = fw_dtype_bytes(y->dtype);
    fw_pipe pipe;
    fw_pipe_init(c, &pipe, FW_STREAM_SLOTS, 3, p.slot_bytes, (uint32_t)p.items);
    unsigned sq = fw_store_queue(c);
    for (uint64_t r0 = 0; r0 < p.rows; r0 += p.chunk) {
        uint64_t k = p.rows - r0 < p.chunk ? p.rows - r0 : p.chunk, n = k * p.cols;
        unsigned q = fw_load_queue(c, fw_pipe_slot_index(&pipe, 0));
        uint32_t s = fw_pipe_begin(c, &pipe, 0, q);
        uint32_t res = s + (uint32_t)(4 * n);
        fw_dma_flat(c, 1, q, x->buf, s, x->offset + r0 * p.cols * xs, n * xs);
        fw_pipe_end(c, &pipe, 0, q);
        fw_pipe_begin(c, &pipe, 1, NPU_UNIT_VEC);
        fw_to_f32(c, x, s, s, n);
        fw_vred(c, d->iattr[0], res, s, k, p.cols);
        fw_from_f32(c, y, res, res, k);
        fw_pipe_end(c, &pipe, 1, NPU_UNIT_VEC);
        fw_pipe_begin(c, &pipe, 2, sq);
        fw_dma_flat(c, 0, sq, y->buf, res, y->offset + r0 * ys, k * ys);
        fw_pipe_end(c, &pipe, 2, sq);
    }
}

static void red_describe(fw_op_ctx *c, const npu_op_desc *d, char *buf, size_t len)
{
    red_plan p;
    char why[FW_WHY_BYTES];
    if (red_plan_make(c, d, &p, why, sizeof why))
        return;
    snprintf(buf, len, "%s, %llu rows of %llu, %llu rows per chunk, %llu chunks",
             isa_enum_name(ISA_ENUMSET_REDOP, d->iattr[0]), (unsigned long long)p.rows, (unsigned long long)p.cols,
             (unsigned long long)p.chunk, (unsigned long long)p.items);
}

const fw_op_kernel fw_kernel_reduce = {"reduce", red_check, red_emit, red_describe};
