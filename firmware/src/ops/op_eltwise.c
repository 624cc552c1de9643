/* op_eltwise.c -- NPU_OP_BINARY and NPU_OP_UNARY on the vector unit.
 *
 * Both stream the tensor through three SRAM slots (load -> vector -> store, fw_pipe), so the
 * DMA of chunk i+1, the arithmetic of chunk i and the store of chunk i-1 overlap. In the vector
 * unit every chunk is brought to f32 (v.dequant for int8), computed with one v.un / v.bin over
 * the whole chunk, and brought back (v.quant for int8), all in place in the slot. A broadcast
 * row or scalar operand is loaded once and stays resident; a column operand (one value per row)
 * travels with its rows. The arithmetic is specified in README.md ("BINARY", "UNARY").
 */
#include "fw_ops.h"

#include <stdio.h>
#include <string.h>

enum bcast { BC_FULL, BC_ROW, BC_COL, BC_SCALAR };

typedef struct ew_plan {
    uint64_t numel, rows, cols; /* in0 as rows x cols (cols = its last dim) */
    int bc;                     /* binary: broadcast class of in1 */
    uint64_t chunk;             /* elements (FULL, SCALAR, unary) or rows (ROW, COL) per slot */
    uint64_t slot_bytes, resident_bytes;
    uint32_t items;
} ew_plan;

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

static int check_common(const fw_op_ctx *c, const npu_op_desc *d, ew_plan *p, char *why, size_t whylen)
{
    memset(p, 0, sizeof *p);
    if (fw_check_act(c, &d->in[0], "in0", why, whylen) || fw_check_act(c, &d->out, "out", why, whylen))
        return -1;
    p->numel = fw_numel(&d->in[0]);
    if (fw_numel(&d->out) != p->numel)
        return fw_refuse(why, whylen, "out: %llu elements, in0 has %llu", (unsigned long long)fw_numel(&d->out),
                         (unsigned long long)p->numel);
    p->cols = (uint64_t)d->in[0].dims[d->in[0].rank - 1];
    p->rows = p->numel / p->cols;
    return 0;
}

static int plan_flat(const fw_op_ctx *c, ew_plan *p, uint64_t bytes_per_elem, uint64_t resident, char *why,
                     size_t whylen)
{
    p->resident_bytes = resident;
    uint64_t avail = c->info->sram_bytes - fw_align(resident);
    p->chunk = fw_chunk_rows(avail, FW_STREAM_SLOTS, bytes_per_elem, p->numel);
    if (p->chunk == 0)
        return fw_refuse(why, whylen, "does not fit in the %u-byte SRAM", c->info->sram_bytes);
    p->slot_bytes = p->chunk * bytes_per_elem;
    p->items = (uint32_t)ceil_div(p->numel, p->chunk);
    return 0;
}

static int plan_rows(const fw_op_ctx *c, ew_plan *p, uint64_t bytes_per_row, uint64_t resident, char *why,
                     size_t whylen)
{
    if (p->cols > FW_FIELD_MAX(VBIN, COLS))
        return fw_refuse(why, whylen, "rows of %llu elements exceed the vector unit's %llu",
                         (unsigned long long)p->cols, (unsigned long long)FW_FIELD_MAX(VBIN, COLS));
    p->resident_bytes = resident;
    uint64_t avail = c->info->sram_bytes - fw_align(resident);
    p->chunk = fw_chunk_rows(avail, FW_STREAM_SLOTS, bytes_per_row, p->rows);
    if (p->chunk == 0)
        return fw_refuse(why, whylen, "a row of %llu elements does not fit in the %u-byte SRAM",
                         (unsigned long long)p->cols, c->info->sram_bytes);
    p->slot_bytes = p->chunk * bytes_per_row;
    p->items = (uint32_t)ceil_div(p->rows, p->chunk);
    return 0;
}

/* ---------------------------------------------------------------- unary */

static int unary_plan(const fw_op_ctx *c, const npu_op_desc *d, ew_plan *p, char *why, size_t whylen)
{
    if (check_common(c, d, p, why, whylen))
        return -1;
    if (!isa_enum_name(ISA_ENUMSET_UNOP, d->iattr[0]))
        return fw_refuse(why, whylen, "iattr[0] = %d is not an ISA unop", d->iattr[0]);
    return plan_flat(c, p, 4, 0, why, whylen);
}

static int unary_check(fw_op_ctx *c, const npu_op_desc *d, char *why, size_t whylen)
{
    ew_plan p;
    return unary_plan(c, d, &p, why, whylen);
}

static void unary_emit(fw_op_ctx *c, const npu_op_desc *d)
{
    ew_plan p;
    char why[FW_WHY_BYTES];
    if (unary_plan(c, d, &p, why, sizeof why))
        return;
    const npu_tensor_ref *x = &d->in[0], *y = &d->out;
    uint32_t xs = fw_dtype_bytes(x->dtype), ys = fw_dtype_bytes(y->dtype);
    fw_pipe pipe;
    fw_pipe_init(c, &pipe, FW_STREAM_SLOTS, 3, p.slot_bytes, p.items);
    unsigned sq = fw_store_queue(c);
    for (uint64_t e0 = 0; e0 < p.numel; e0 += p.chunk) {
        uint64_t n = p.numel - e0 < p.chunk ? p.numel - e0 : p.chunk;
        unsigned q = fw_load_queue(c, fw_pipe_slot_index(&pipe, 0));
        uint32_t s = fw_pipe_begin(c, &pipe, 0, q);
        fw_dma_flat(c, 1, q, x->buf, s, x->offset + e0 * xs, n * xs);
        fw_pipe_end(c, &pipe, 0, q);
        fw_pipe_begin(c, &pipe, 1, NPU_UNIT_VEC);
        fw_to_f32(c, x, s, s, n);
        fw_vun(c, d->iattr[0], s, s, n, d->fattr[0]);
        fw_from_f32(c, y, s, s, n);
        fw_pipe_end(c, &pipe, 1, NPU_UNIT_VEC);
        fw_pipe_begin(c, &pipe, 2, sq);
        fw_dma_flat(c, 0, sq, y->buf, s, y->offset + e0 * ys, n * ys);
        fw_pipe_end(c, &pipe, 2, sq);
    }
}

/* The streaming plan of either kernel, in words (binary: with in1's broadcast class). */
static void ew_describe(const ew_plan *p, const char *fn, int binary, char *buf, size_t len)
{
    static const char *const bc_names[] = {"in1 same shape", "in1 a row", "in1 a column", "in1 a scalar"};
    int by_rows = binary && (p->bc == BC_ROW || p->bc == BC_COL);
    snprintf(buf, len, "%s, %llu elements%s%s, %llu %s per chunk, %u chunks", fn ? fn : "?",
             (unsigned long long)p->numel, binary ? ", " : "", binary ? bc_names[p->bc] : "",
             (unsigned long long)p->chunk, by_rows ? "rows" : "elements", p->items);
}

static void unary_describe(fw_op_ctx *c, const npu_op_desc *d, char *buf, size_t len)
{
    ew_plan p;
    char why[FW_WHY_BYTES];
    if (unary_plan(c, d, &p, why, sizeof why) == 0)
        ew_describe(&p, isa_enum_name(ISA_ENUMSET_UNOP, d->iattr[0]), 0, buf, len);
}

const fw_op_kernel fw_kernel_unary = {"unary", unary_check, unary_emit, unary_describe};

/* ---------------------------------------------------------------- binary */

static int binary_plan(const fw_op_ctx *c, const npu_op_desc *d, ew_plan *p, char *why, size_t whylen)
{
    if (check_common(c, d, p, why, whylen))
        return -1;
    if (d->n_inputs < 2)
        return fw_refuse(why, whylen, "needs 2 inputs, has %u", d->n_inputs);
    if (!isa_enum_name(ISA_ENUMSET_BINOP, d->iattr[0]))
        return fw_refuse(why, whylen, "iattr[0] = %d is not an ISA binop", d->iattr[0]);
    if (d->iattr[1] != 0 && (d->iattr[1] != 1 || d->iattr[0] == ISA_BINOP_POW))
        return fw_refuse(why, whylen, "iattr[1] (reversed) = %d for %s (expected 0, or 1 except for pow)", d->iattr[1],
                         isa_enum_name(ISA_ENUMSET_BINOP, d->iattr[0]));
    const npu_tensor_ref *b = &d->in[1];
    if (fw_check_act(c, b, "in1", why, whylen))
        return -1;
    uint64_t nb = fw_numel(b), blast = (uint64_t)b->dims[b->rank - 1];
    if (nb == 1)
        p->bc = BC_SCALAR;
    else if (nb == p->numel && blast == p->cols)
        p->bc = BC_FULL;
    else if (nb == p->cols && blast == p->cols)
        p->bc = BC_ROW;
    else if (blast == 1 && nb == p->rows)
        p->bc = BC_COL;
    else
        return fw_refuse(why, whylen, "in1 (%llu elements) is neither in0's shape, a row of %llu, a column of %llu "
                         "nor a scalar", (unsigned long long)nb, (unsigned long long)p->cols,
                         (unsigned long long)p->rows);
    switch (p->bc) {
    case BC_FULL: return plan_flat(c, p, 8, 0, why, whylen);
    case BC_SCALAR: return plan_flat(c, p, 4, 4, why, whylen);
    case BC_ROW: return plan_rows(c, p, 4 * p->cols, 4 * p->cols, why, whylen);
    default: return plan_rows(c, p, 4 * p->cols + 4, 0, why, whylen);
    }
}

static int binary_check(fw_op_ctx *c, const npu_op_desc *d, char *why, size_t whylen)
{
    ew_plan p;
    return binary_plan(c, d, &p, why, whylen);
}

static void binary_emit(fw_op_ctx *c, const npu_op_desc *d)
{
    ew_plan p;
    char why[FW_WHY_BYTES];
    if (binary_plan(c, d, &p, why, sizeof why))
        return;
    const npu_tensor_ref *a = &d->in[0], *b = &d->in[1], *y = &d->out;
    uint32_t as = fw_dtype_bytes(a->dtype), bs = fw_dtype_bytes(b->dtype), ys = fw_dtype_bytes(y->dtype);
    unsigned sq = fw_store_queue(c);
    uint32_t resident = 0;
    if (p.bc == BC_ROW || p.bc == BC_SCALAR) { /* loaded once, converted once */
        uint64_t n = p.bc == BC_ROW ? p.cols : 1;
        resident = fw_sram_alloc(c, p.resident_bytes);
        uint32_t sem = fw_sem_alloc(c);
        unsigned q = fw_load_queue(c, 0);
        fw_dma_flat(c, 1, q, b->buf, resident, b->offset, n * bs);
        fw_signal(c, q, sem);
        fw_wait(c, NPU_UNIT_VEC, sem);
        fw_to_f32(c, b, resident, resident, n);
    }
    fw_pipe pipe;
    fw_pipe_init(c, &pipe, FW_STREAM_SLOTS, 3, p.slot_bytes, p.items);
    int by_rows = p.bc == BC_ROW || p.bc == BC_COL;
    uint64_t total = by_rows ? p.rows : p.numel;
    for (uint64_t i0 = 0; i0 < total; i0 += p.chunk) {
        uint64_t k = total - i0 < p.chunk ? total - i0 : p.chunk;
        uint64_t e0 = by_rows ? i0 * p.cols : i0, n = by_rows ? k * p.cols : k;
        unsigned q = fw_load_queue(c, fw_pipe_slot_index(&pipe, 0));
        uint32_t s = fw_pipe_begin(c, &pipe, 0, q);
        uint32_t bslot = s + (uint32_t)(4 * n); /* FULL, COL: in1's part of the slot */
        fw_dma_flat(c, 1, q, a->buf, s, a->offset + e0 * as, n * as);
        if (p.bc == BC_FULL)
            fw_dma_flat(c, 1, q, b->buf, bslot, b->offset + e0 * bs, n * bs);
        else if (p.bc == BC_COL)
            fw_dma_flat(c, 1, q, b->buf, bslot, b->offset + i0 * bs, k * bs);
        fw_pipe_end(c, &pipe, 0, q);
        fw_pipe_begin(c, &pipe, 1, NPU_UNIT_VEC);
        fw_to_f32(c, a, s, s, n);
        int64_t fn = d->iattr[0];
        if (d->iattr[1] && fn == ISA_BINOP_DIV) { /* reversed: b / a = (1 / a) * b */
            fw_vun(c, ISA_UNOP_RECIP, s, s, n, 0.0f);
            fn = ISA_BINOP_MUL;
        }
        switch (p.bc) {
        case BC_FULL:
            fw_to_f32(c, b, bslot, bslot, n);
            fw_vbin_flat(c, fn, 0, s, s, bslot, n);
            break;
        case BC_SCALAR: fw_vbin_flat(c, fn, 1, s, s, resident, n); break;
        case BC_ROW: fw_vbin_rows(c, fn, ISA_BC_ROW, s, s, resident, k, p.cols); break;
        default:
            fw_to_f32(c, b, bslot, bslot, k);
            fw_vbin_rows(c, fn, ISA_BC_COL, s, s, bslot, k, p.cols);
            break;
        }
        if (d->iattr[1] && fn == ISA_BINOP_SUB) /* reversed: b - a = -(a - b) */
            fw_vun(c, ISA_UNOP_NEG, s, s, n, 0.0f);
        fw_from_f32(c, y, s, s, n);
        fw_pipe_end(c, &pipe, 1, NPU_UNIT_VEC);
        fw_pipe_begin(c, &pipe, 2, sq);
        fw_dma_flat(c, 0, sq, y->buf, s, y->offset + e0 * ys, n * ys);
        fw_pipe_end(c, &pipe, 2, sq);
    }
}

static void binary_describe(fw_op_ctx *c, const npu_op_desc *d, char *buf, size_t len)
{
    ew_plan p;
    char why[FW_WHY_BYTES];
    if (binary_plan(c, d, &p, why, sizeof why) == 0)
        ew_describe(&p, isa_enum_name(ISA_ENUMSET_BINOP, d->iattr[0]), 1, buf, len);
}

const fw_op_kernel fw_kernel_binary = {"binary", binary_check, binary_emit, binary_describe};
