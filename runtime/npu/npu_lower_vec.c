/* npu_lower_vec.c -- lowering the vector-unit and softmax-tile ops: Softmax, the elementwise
 * binary and unary ops (broadcasts classified as the kernel's full / row / column / scalar
 * operand; constant scalars as immediates), LayerNormalization, Group/InstanceNormalization and
 * the reductions over the last axis.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "isa.h"
#include "isa_exec.h"
#include "npu_lower.h"
#include "ops_geom.h"

/* The softmax tile's input scale field is Q4.12 of scale * log2(e): scales outside this range are
 * moved to its edge (the input is quantised more coarsely, never wrongly). */
#define LOG2_E 1.4426950408889634
#define SM_SCALE_MIN ((1.0 + 0.5) / (4096.0 * LOG2_E))
#define SM_SCALE_MAX ((65535.0 - 0.5) / (4096.0 * LOG2_E))
#define SM_OUT_SCALE (1.0f / (float)(1 << ISA_SM_OUT_FRAC_BITS))
#define F32_BYTES 4u
#define NPU_MAX_COL_SLICES 64 /* a per-channel operand over at most this many images: one op each */

/* ---------------------------------------------------------------- softmax */

int npu_lower_softmax(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int x = nl_in(L, 0), y = nl_out(L, 0);
    if (nl_need_act(L, x, "input") || nl_need_data(L, y, "output"))
        return -1;
    const rt_tensor *X = nl_tensor(L, x);
    int64_t axis = rt_node_attr_int(n, "axis", graph_opset(L->g, n->domain) < 13 ? 1 : -1);
    if (axis < 0)
        axis += X->rank;
    if (axis != X->rank - 1)
        return nl_refuse(L, "axis %lld of a rank-%d tensor; the softmax tile works on the last axis", (long long)axis,
                      X->rank);
    int64_t len = X->dims[X->rank - 1], rows = rt_tensor_numel(X) / len;
    bool tile = L->afmt == NPU_ACTS_INT8; /* 16-bit rows run on the vector unit in f32 */
    if (tile && len > (int64_t)L->dev->softmax.max_len)
        return nl_refuse(L, "rows of %lld elements exceed the softmax tile's %u", (long long)len, L->dev->softmax.max_len);
    if (!tile && len > (int64_t)VEC_MAX_COLS)
        return nl_refuse(L, "rows of %lld elements exceed the vector unit's %u", (long long)len, VEC_MAX_COLS);
    if (!nl_sram_fits(L, STREAM_SLOTS, (uint64_t)len * (tile ? 1 : F32_BYTES) + (tile ? 0 : F32_BYTES), 0))
        return nl_refuse(L, "a row of %lld elements does not fit in the SRAM", (long long)len);
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    nl_force_scale(L, y, SM_OUT_SCALE);
    if (tile)
        nl_clamp_scale(L, x, (float)SM_SCALE_MIN, (float)SM_SCALE_MAX);
    npu_op_desc scratch;
    npu_op_desc *d = nl_new_op(L, NPU_OP_SOFTMAX, 1, &scratch);
    int64_t dd[2] = {rows, len};
    d->in[0] = nl_in_ref(L, x, 2, dd);
    d->out = nl_out_ref(L, y, 2, dd);
    return 0;
}

/* ---------------------------------------------------------------- elementwise */

enum bclass { BC_FULL = 0, BC_ROW, BC_COL, BC_SCALAR, BC_NONE };

/* How b broadcasts over out (shapes right-aligned): b's extent covers out's axes [i0, i1] exactly
 * and is 1 elsewhere, so out is [outer, mid, inner] and b repeats over outer and inner. The
 * kernel sees FULL (outer = inner = 1), a ROW of `mid` values over rows of `mid` (inner = 1), a
 * COLUMN of `mid` values over rows of `inner` (outer = 1, or one descriptor per outer index),
 * or a SCALAR. */
typedef struct bcast {
    int cls;
    int64_t outer, mid, inner;
} bcast;

static bcast classify(const rt_tensor *b, const rt_tensor *out)
{
    bcast r = {BC_NONE, 1, 1, 1};
    int off = out->rank - b->rank, i0 = -1, i1 = -1;
    if (off < 0) { /* extra leading dims of b must be 1 */
        for (int i = 0; i < -off; i++)
            if (b->dims[i] != 1)
                return r;
    }
    int state = 0; /* over out's axes of extent > 1: 0 before b's range, 1 inside, 2 after */
    for (int i = 0; i < out->rank; i++) {
        int bi = i - off;
        int64_t bd = bi >= 0 && bi < b->rank ? b->dims[bi] : 1;
        if (out->dims[i] == 1)
            continue; /* extent-1 axes move no data either way */
        if (bd == 1) {
            state = state == 1 ? 2 : state;
            continue;
        }
        if (bd != out->dims[i] || state == 2)
            return r; /* a partial broadcast inside b, or b's extent is not one range of axes */
        if (state == 0)
            i0 = i;
        state = 1;
        i1 = i;
    }
    if (i0 < 0) { /* b is one value: the whole output when that is one value too */
        r.cls = rt_tensor_numel(out) == 1 ? BC_FULL : BC_SCALAR;
        r.outer = rt_tensor_numel(out);
        return r;
    }
    for (int i = 0; i < out->rank; i++) {
        int64_t d = out->dims[i];
        if (i < i0)
            r.outer *= d;
        else if (i <= i1)
            r.mid *= d;
        else
            r.inner *= d;
    }
    r.cls = r.outer == 1 && r.inner == 1 ? BC_FULL : r.inner == 1 ? BC_ROW : BC_COL;
    return r;
}

static void flat_dims(const rt_tensor *t, int64_t *d)
{
    int64_t cols = t->dims[t->rank - 1];
    d[0] = rt_tensor_numel(t) / cols;
    d[1] = cols;
}

static int unary_desc(npu_lower *L, int x, int y, int64_t fn, float imm)
{
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    npu_op_desc scratch;
    npu_op_desc *d = nl_new_op(L, NPU_OP_UNARY, 1, &scratch);
    int64_t dd[2];
    flat_dims(nl_tensor(L, y), dd);
    d->in[0] = nl_in_ref(L, x, 2, dd);
    d->out = nl_out_ref(L, y, 2, dd);
    d->iattr[0] = (int32_t)fn;
    d->fattr[0] = imm;
    return 0;
}

/* A constant's single value. */
static int scalar_value(npu_lower *L, int t, float *v)
{
    const rt_tensor *c = nl_tensor(L, nl_csrc(L, t));
    if (!c->data)
        return nl_refuse(L, "the scalar constant '%s' has no data", c->name);
    *v = (float)rt_tensor_get_f64(c, 0);
    return 0;
}

int npu_lower_binary(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int a = nl_in(L, 0), b = nl_in(L, 1), y = nl_out(L, 0);
    if (n->n_inputs != 2)
        return nl_refuse(L, "%d inputs (the kernel takes 2)", n->n_inputs);
    if (nl_need_data(L, a, "A") || nl_need_data(L, b, "B") || nl_need_data(L, y, "C"))
        return -1;
    if (nl_is_const(L, a) && nl_is_const(L, b))
        return nl_refuse(L, "both inputs are constants");
    int64_t fn;
    bool commutative = false;
    switch (n->op) {
    case RT_OP_Add: fn = ISA_BINOP_ADD; commutative = true; break;
    case RT_OP_Sub: fn = ISA_BINOP_SUB; break;
    case RT_OP_Mul: fn = ISA_BINOP_MUL; commutative = true; break;
    case RT_OP_Div: fn = ISA_BINOP_DIV; break;
    case RT_OP_Max: fn = ISA_BINOP_MAX; commutative = true; break;
    case RT_OP_Min: fn = ISA_BINOP_MIN; commutative = true; break;
    default: fn = ISA_BINOP_POW; break;
    }
    const rt_tensor *Y = nl_tensor(L, y);
    bool reversed = false;
    /* in0 of the descriptor has the output's shape and is an activation when possible */
    bcast ca = classify(nl_tensor(L, a), Y), cb = classify(nl_tensor(L, b), Y);
    if (ca.cls != BC_FULL || (nl_is_const(L, a) && cb.cls == BC_FULL)) {
        int t = a;
        a = b;
        b = t;
        reversed = !commutative;
        bcast tc = ca;
        ca = cb;
        cb = tc;
    }
    if (ca.cls != BC_FULL)
        return nl_refuse(L, "neither input has the output's shape (both broadcast)");
    if (cb.cls == BC_NONE)
        return nl_refuse(L, "'%s' broadcasts inside its own extent (the kernel repeats an operand only as a whole)",
                      nl_tensor(L, b)->name);
    int64_t vcols = cb.cls == BC_ROW ? cb.mid : cb.inner;
    if ((cb.cls == BC_ROW || cb.cls == BC_COL) && vcols > (int64_t)VEC_MAX_COLS)
        return nl_refuse(L, "rows of %lld elements exceed the vector unit's %u", (long long)vcols, VEC_MAX_COLS);
    int64_t slices = cb.cls == BC_COL ? cb.outer : 1; /* a column over several outer blocks: one op each */
    if (slices > NPU_MAX_COL_SLICES)
        return nl_refuse(L, "'%s' repeats over %lld outer blocks and within rows (at most %d are lowered)",
                      nl_tensor(L, b)->name, (long long)slices, NPU_MAX_COL_SLICES);
    if (slices > 1 && nl_is_const(L, a))
        return nl_refuse(L, "a constant first operand with a column operand over several blocks");
    /* a row stays resident beside three slots of rows; a column travels with its rows */
    if ((cb.cls == BC_ROW && !nl_sram_fits(L, STREAM_SLOTS, 4 * (uint64_t)cb.mid, 4 * (uint64_t)cb.mid)) ||
        (cb.cls == BC_COL && !nl_sram_fits(L, STREAM_SLOTS, 4 * (uint64_t)cb.inner + 4, 0)))
        return nl_refuse(L, "rows of %lld elements do not fit in the SRAM", (long long)vcols);
    if (reversed && fn == ISA_BINOP_POW)
        return nl_refuse(L, "the exponent has the output's shape and the base broadcasts");
    if (fn == ISA_BINOP_POW && !nl_is_const(L, b) && nl_need_act(L, b, "exponent"))
        return -1;
    /* a constant scalar second operand: one unary op with an immediate */
    if (nl_is_const(L, b) && nl_numel(L, b) == 1 && !reversed && !nl_is_const(L, a)) {
        float v = 0.0f;
        if ((L->s && !L->s->timing_only) || nl_tensor(L, nl_csrc(L, b))->data) {
            if (scalar_value(L, b, &v))
                return -1;
        } else if (fn == ISA_BINOP_POW) {
            return nl_refuse(L, "a Pow exponent without data (it decides the kernel)");
        }
        switch (fn) {
        case ISA_BINOP_ADD: return unary_desc(L, a, y, ISA_UNOP_ADDI, v);
        case ISA_BINOP_SUB: return unary_desc(L, a, y, ISA_UNOP_ADDI, -v);
        case ISA_BINOP_MUL: return unary_desc(L, a, y, ISA_UNOP_MULI, v);
        case ISA_BINOP_MAX: return unary_desc(L, a, y, ISA_UNOP_MAXI, v);
        case ISA_BINOP_MIN: return unary_desc(L, a, y, ISA_UNOP_MINI, v);
        case ISA_BINOP_POW:
            if (v == 2.0f)
                return unary_desc(L, a, y, ISA_UNOP_SQUARE, 0.0f);
            if (v == 0.5f)
                return unary_desc(L, a, y, ISA_UNOP_SQRT, 0.0f);
            if (v == -0.5f)
                return unary_desc(L, a, y, ISA_UNOP_RSQRT, 0.0f);
            if (v == -1.0f)
                return unary_desc(L, a, y, ISA_UNOP_RECIP, 0.0f);
            break; /* any other exponent: pow with the scalar in memory */
        default: break; /* Div by a constant: an exact division, the scalar in memory */
        }
    }
    if (nl_is_const(L, a) && nl_need_const(L, a, "A"))
        return -1;
    if (nl_is_const(L, b) && nl_need_const(L, b, "B"))
        return -1;
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    /* the views the kernel sees: in0 rows x cols; in1 per class */
    int64_t dd[2], bd[2];
    int brank = 2;
    switch (cb.cls) {
    case BC_FULL: flat_dims(Y, dd); bd[0] = dd[0]; bd[1] = dd[1]; break;
    case BC_ROW: dd[0] = cb.outer; dd[1] = cb.mid; bd[0] = cb.mid; brank = 1; break;
    case BC_COL: dd[0] = cb.mid; dd[1] = cb.inner; bd[0] = cb.mid; bd[1] = 1; break;
    default: flat_dims(Y, dd); bd[0] = 1; brank = 1; break;
    }
    npu_tensor_ref bref = nl_is_const(L, b) ? nl_const_ref(L, b, brank, bd) : nl_in_ref(L, b, brank, bd);
    for (int64_t k = 0; k < slices; k++) {
        npu_op_desc scratch;
        npu_op_desc *d = nl_new_op(L, NPU_OP_BINARY, 2, &scratch);
        uint64_t at = (uint64_t)(k * dd[0] * dd[1]);
        if (nl_is_const(L, a)) {
            d->in[0] = nl_const_ref(L, a, 2, dd);
        } else {
            nl_read_act(L, a);
            d->in[0] = nl_act_ref_at(L, a, at, 2, dd);
        }
        d->in[1] = bref;
        nl_write_act(L, y);
        d->out = nl_act_ref_at(L, y, at, 2, dd);
        d->iattr[0] = (int32_t)fn;
        d->iattr[1] = reversed;
    }
    return 0;
}

int npu_lower_unary(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int x = nl_in(L, 0), y = nl_out(L, 0);
    if (nl_need_act(L, x, "input") || nl_need_data(L, y, "output"))
        return -1;
    switch (n->op) {
    case RT_OP_Relu: return unary_desc(L, x, y, ISA_UNOP_RELU, 0.0f);
    case RT_OP_Sigmoid: return unary_desc(L, x, y, ISA_UNOP_SIGMOID, 0.0f);
    case RT_OP_Tanh: return unary_desc(L, x, y, ISA_UNOP_TANH, 0.0f);
    case RT_OP_Erf: return unary_desc(L, x, y, ISA_UNOP_ERF, 0.0f);
    case RT_OP_Sqrt: return unary_desc(L, x, y, ISA_UNOP_SQRT, 0.0f);
    case RT_OP_Reciprocal: return unary_desc(L, x, y, ISA_UNOP_RECIP, 0.0f);
    case RT_OP_Neg: return unary_desc(L, x, y, ISA_UNOP_NEG, 0.0f);
    case RT_OP_Exp: return unary_desc(L, x, y, ISA_UNOP_EXP, 0.0f);
    case RT_OP_Log: return unary_desc(L, x, y, ISA_UNOP_LOG, 0.0f);
    case RT_OP_Abs: return unary_desc(L, x, y, ISA_UNOP_ABS, 0.0f);
    case RT_OP_Sin: return unary_desc(L, x, y, ISA_UNOP_SIN, 0.0f);
    case RT_OP_Cos: return unary_desc(L, x, y, ISA_UNOP_COS, 0.0f);
    case RT_OP_LeakyRelu: return unary_desc(L, x, y, ISA_UNOP_LEAKY, rt_node_attr_float(n, "alpha", 0.01f));
    case RT_OP_Gelu:
        if (strcmp(rt_node_attr_string(n, "approximate", "none"), "none") != 0)
            return nl_refuse(L, "approximate = \"%s\"; the vector unit's gelu is the erf form",
                          rt_node_attr_string(n, "approximate", "none"));
        return unary_desc(L, x, y, ISA_UNOP_GELU, 0.0f);
    default: return nl_refuse(L, "no unary kernel for this op");
    }
}

/* ---------------------------------------------------------------- norms and reductions */

static int eps_ok(npu_lower *L, float eps)
{
    double p = 1.0;
    for (int x = 0; x <= 31; x++, p /= 10.0)
        if (fabs((double)eps - p) <= p * 1e-4)
            return 0;
    return nl_refuse(L, "epsilon %g is not a power of ten (the vector unit's form is 10^-e)", (double)eps);
}

int npu_lower_layernorm(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int x = nl_in(L, 0), sc = nl_in(L, 1), bt = nl_in(L, 2), y = nl_out(L, 0);
    if (nl_need_act(L, x, "X") || nl_need_data(L, y, "Y") || nl_need_const(L, sc, "Scale"))
        return -1;
    const rt_tensor *X = nl_tensor(L, x);
    int64_t axis = rt_node_attr_int(n, "axis", -1);
    if (axis < 0)
        axis += X->rank;
    if (axis != X->rank - 1)
        return nl_refuse(L, "axis %lld; the kernel normalises the last axis", (long long)axis);
    if (!nl_output_unused(L, nl_out(L, 1)) || !nl_output_unused(L, nl_out(L, 2)))
        return nl_refuse(L, "the Mean or InvStdDev output is used");
    float eps = rt_node_attr_float(n, "epsilon", 1e-5f);
    int64_t D = X->dims[X->rank - 1];
    if (eps_ok(L, eps))
        return -1;
    if (nl_numel(L, sc) != D || (bt >= 0 && (nl_need_const(L, bt, "B") || nl_numel(L, bt) != D)))
        return nl_refuse(L, "Scale and B must have %lld values (the normalised axis)", (long long)D);
    if (D > (int64_t)VEC_MAX_COLS || !nl_sram_fits(L, STREAM_SLOTS, 4 * (uint64_t)D, 8 * (uint64_t)D))
        return nl_refuse(L, "rows of %lld elements exceed the vector unit or the SRAM", (long long)D);
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    npu_op_desc scratch;
    npu_op_desc *d = nl_new_op(L, NPU_OP_NORM, bt >= 0 ? 3 : 2, &scratch);
    int64_t dd[2];
    flat_dims(X, dd);
    d->in[0] = nl_in_ref(L, x, 2, dd);
    int64_t pd[1] = {D};
    d->in[1] = nl_const_ref(L, sc, 1, pd);
    if (bt >= 0)
        d->in[2] = nl_const_ref(L, bt, 1, pd);
    d->out = nl_out_ref(L, y, 2, dd);
    d->iattr[0] = NPU_NORM_LAYER;
    d->fattr[0] = eps;
    return 0;
}

int npu_lower_groupnorm(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int x = nl_in(L, 0), sc = nl_in(L, 1), bt = nl_in(L, 2), y = nl_out(L, 0);
    if (nl_need_act(L, x, "X") || nl_need_data(L, y, "Y") || nl_need_const(L, sc, "scale") || nl_need_const(L, bt, "bias"))
        return -1;
    const rt_tensor *X = nl_tensor(L, x);
    if (X->rank < 3 || X->rank > NPU_MAX_RANK + 1)
        return nl_refuse(L, "input of rank %d (expected [N, C, ...])", X->rank);
    int64_t N = X->dims[0], C = X->dims[1], spatial = rt_tensor_numel(X) / (N * C);
    int64_t G = n->op == RT_OP_InstanceNormalization ? C : rt_node_attr_int(n, "num_groups", 0);
    if (G < 1 || C % G)
        return nl_refuse(L, "num_groups %lld does not divide %lld channels", (long long)G, (long long)C);
    int64_t ns = nl_numel(L, sc);
    if ((ns != C && ns != G) || nl_numel(L, bt) != ns)
        return nl_refuse(L, "scale and bias must have one value per channel or per group");
    float eps = rt_node_attr_float(n, "epsilon", 1e-5f);
    if (eps_ok(L, eps))
        return -1;
    int64_t cols = C / G * spatial;
    if (cols > (int64_t)VEC_MAX_COLS || spatial > (int64_t)VEC_MAX_COLS ||
        !nl_sram_fits(L, STREAM_SLOTS, 4 * (uint64_t)cols, 8 * (uint64_t)C))
        return nl_refuse(L, "groups of %lld elements exceed the vector unit or the SRAM", (long long)cols);
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    npu_op_desc scratch;
    npu_op_desc *d = nl_new_op(L, NPU_OP_NORM, 3, &scratch);
    int64_t dd[3] = {N, C, spatial};
    d->in[0] = nl_in_ref(L, x, 3, dd);
    float *g, *b;
    d->in[1] = nl_param_vec(L, C, &g);
    d->in[2] = nl_param_vec(L, C, &b);
    if (g && b) { /* per group (opset 18) becomes per channel */
        float *gv = nl_const_f32(L, sc), *bv = nl_const_f32(L, bt);
        for (int64_t c = 0; gv && bv && c < C; c++) {
            g[c] = gv[ns == C ? c : c / (C / G)];
            b[c] = bv[ns == C ? c : c / (C / G)];
        }
        free(gv);
        free(bv);
    }
    d->out = nl_out_ref(L, y, 3, dd);
    d->iattr[0] = NPU_NORM_GROUP;
    d->iattr[1] = (int32_t)G;
    d->fattr[0] = eps;
    return 0;
}

int npu_lower_reduce(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int x = nl_in(L, 0), y = nl_out(L, 0);
    if (nl_need_act(L, x, "data") || nl_need_data(L, y, "reduced"))
        return -1;
    const rt_tensor *X = nl_tensor(L, x);
    int64_t fn = n->op == RT_OP_ReduceMean  ? ISA_REDOP_MEAN
                 : n->op == RT_OP_ReduceSum ? ISA_REDOP_SUM
                 : n->op == RT_OP_ReduceMax ? ISA_REDOP_MAX
                                            : ISA_REDOP_MIN;
    rt_op_binding bind;
    rt_error e;
    if (ops_bind(L->g, L->node, NULL, &bind, &e) != RT_OK)
        return nl_refuse(L, "%s", e.msg);
    int64_t axes[RT_MAX_RANK + 1];
    int na = 0;
    bool present = false;
    rt_status st = ops_axes(&bind.ctx, 1, n->op == RT_OP_ReduceSum ? 13 : 18, axes, &na, &present);
    ops_unbind(&bind);
    if (st != RT_OK)
        return nl_refuse(L, "axes: %s", e.msg);
    /* the reduced axes must be the trailing ones (the last, or e.g. H and W of [N, C, H, W]): a
     * row of the [rows, cols] view each */
    bool seen[RT_MAX_RANK] = {false};
    int first = X->rank;
    for (int i = 0; present && i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + X->rank : axes[i];
        if (a < 0 || a >= X->rank)
            return nl_refuse(L, "axis %lld out of range", (long long)axes[i]);
        seen[a] = true;
        first = (int)a < first ? (int)a : first;
    }
    if (!present && rt_node_attr_int(n, "noop_with_empty_axes", 0))
        return nl_refuse(L, "no axes with noop_with_empty_axes (an identity)");
    if (!present)
        first = 0;
    for (int a = first; present && a < X->rank; a++)
        if (!seen[a])
            return nl_refuse(L, "reduces axes that are not the trailing ones");
    int64_t cols = 1;
    for (int a = first; a < X->rank; a++)
        cols *= X->dims[a];
    if (cols > (int64_t)VEC_MAX_COLS || !nl_sram_fits(L, STREAM_SLOTS, 4 * (uint64_t)cols + 4, 0))
        return nl_refuse(L, "rows of %lld elements exceed the vector unit or the SRAM", (long long)cols);
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    npu_op_desc scratch;
    npu_op_desc *d = nl_new_op(L, NPU_OP_REDUCE, 1, &scratch);
    int64_t dd[2] = {rt_tensor_numel(X) / cols, cols}, od[2];
    od[0] = dd[0];
    od[1] = 1;
    d->in[0] = nl_in_ref(L, x, 2, dd);
    d->out = nl_out_ref(L, y, 2, od);
    d->iattr[0] = (int32_t)fn;
    return 0;
}
