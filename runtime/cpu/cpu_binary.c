/* cpu_binary.c -- CPU reference kernels of the broadcasting ops with two or more inputs:
 * arithmetic, Pow, Mod, comparisons, logic, PRelu, BitShift, Max/Min/Sum/Mean, Where, Clip.
 * Integer types compute in int64 (wrapping to the type), floats in double (f32, f16 and bf16
 * inputs are converted whole to f32 buffers first and each result rounds to f32). */
#include <math.h>
#include <string.h>

#include "cpu_dense.h"
#include "cpu_util.h"

static double bin_f(int op, double a, double b, bool fmod_mode, bool *ok)
{
    switch (op) {
    case RT_OP_Add: case RT_OP_Sum: return a + b;
    case RT_OP_Sub: return a - b;
    case RT_OP_Mul: return a * b;
    case RT_OP_Div: return a / b;
    case RT_OP_Pow: return pow(a, b);
    case RT_OP_PRelu: return a < 0 ? a * b : a;
    case RT_OP_Mod: {
        double r = fmod(a, b);
        if (!fmod_mode && r != 0 && ((r < 0) != (b < 0)))
            r += b;
        return r;
    }
    case RT_OP_Max: return isnan(a) || isnan(b) ? NAN : a > b ? a : b;
    case RT_OP_Min: return isnan(a) || isnan(b) ? NAN : a < b ? a : b;
    case RT_OP_Equal: return a == b;
    case RT_OP_Less: return a < b;
    case RT_OP_LessOrEqual: return a <= b;
    case RT_OP_Greater: return a > b;
    case RT_OP_GreaterOrEqual: return a >= b;
    default: *ok = false; return 0;
    }
}

static int64_t bin_i(int op, int64_t a, int64_t b, bool is_unsigned64, bool fmod_mode, bool shift_left, bool *ok)
{
    uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
    switch (op) {
    case RT_OP_Add: case RT_OP_Sum: return (int64_t)(ua + ub);
    case RT_OP_Sub: return (int64_t)(ua - ub);
    case RT_OP_Mul: return (int64_t)(ua * ub);
    case RT_OP_Div:
        if (b == 0)
            return 0; /* undefined in ONNX; never trap */
        if (is_unsigned64)
            return (int64_t)(ua / ub);
        if (a == INT64_MIN && b == -1)
            return a;
        return a / b;
    case RT_OP_Mod: {
        if (b == 0)
            return 0;
        if (is_unsigned64)
            return (int64_t)(ua % ub);
        if (a == INT64_MIN && b == -1)
            return 0;
        int64_t r = a % b;
        if (!fmod_mode && r != 0 && ((r < 0) != (b < 0)))
            r += b;
        return r;
    }
    case RT_OP_Pow: {
        if (b < 0)
            return a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);
        uint64_t r = 1, base = ua;
        for (int64_t e = b; e > 0; e >>= 1) {
            if (e & 1)
                r *= base;
            base *= base;
        }
        return (int64_t)r;
    }
    case RT_OP_PRelu: return a < 0 ? (int64_t)(ua * ub) : a;
    case RT_OP_Max: return is_unsigned64 ? (ua > ub ? a : b) : (a > b ? a : b);
    case RT_OP_Min: return is_unsigned64 ? (ua < ub ? a : b) : (a < b ? a : b);
    case RT_OP_Equal: return a == b;
    case RT_OP_Less: return is_unsigned64 ? ua < ub : a < b;
    case RT_OP_LessOrEqual: return is_unsigned64 ? ua <= ub : a <= b;
    case RT_OP_Greater: return is_unsigned64 ? ua > ub : a > b;
    case RT_OP_GreaterOrEqual: return is_unsigned64 ? ua >= ub : a >= b;
    case RT_OP_And: return a && b;
    case RT_OP_Or: return a || b;
    case RT_OP_Xor: return (a != 0) != (b != 0);
    case RT_OP_BitShift:
        if (ub >= 64)
            return 0;
        return (int64_t)(shift_left ? ua << ub : ua >> ub);
    default: *ok = false; return 0;
    }
}

/* f32, f16 and bf16 compute through whole-tensor f32 buffers (cpu_dense.h). */
static bool f32_working(rt_dtype t)
{
    return rt_dtype_is_float(t) && t != RT_DT_F64;
}

/* Float inputs and output (not f64): one conversion in per input and one out; the hot ops on
 * same-shaped inputs as plain loops, the rest through bin_f and the broadcast walk. */
static rt_status binary_f32(rt_op_ctx *c, int op, const rt_tensor *const *ins, rt_tensor *y, bool same,
                            bool fmod_mode)
{
    bool oa, ob, oy, ok = true;
    const float *pa = cpu_dense_read_f32(c, ins[0], &oa), *pb = pa ? cpu_dense_read_f32(c, ins[1], &ob) : NULL;
    float *py = pb ? cpu_dense_out_f32(c, y, &oy) : NULL;
    if (!py) {
        if (pa)
            cpu_dense_release(pa, oa);
        if (pb)
            cpu_dense_release(pb, ob);
        return RT_ERR_NOMEM;
    }
    int64_t n = cpu_numel(y);
    bool done = same;
    switch (same ? op : RT_OP_NONE) { /* the hot cases, without the generic dispatch */
    case RT_OP_Add: case RT_OP_Sum: for (int64_t i = 0; i < n; i++) py[i] = pa[i] + pb[i]; break;
    case RT_OP_Sub: for (int64_t i = 0; i < n; i++) py[i] = pa[i] - pb[i]; break;
    case RT_OP_Mul: for (int64_t i = 0; i < n; i++) py[i] = pa[i] * pb[i]; break;
    case RT_OP_Div: for (int64_t i = 0; i < n; i++) py[i] = pa[i] / pb[i]; break;
    default: done = false; break;
    }
    if (!done) {
        cpu_iter it;
        cpu_iter_init(&it, y, 2, ins);
        for (int64_t i = 0; i < n && ok; i++, cpu_iter_next(&it))
            py[i] = (float)bin_f(op, pa[it.off[0]], pb[it.off[1]], fmod_mode, &ok);
    }
    cpu_dense_commit_f32(y, py, oy);
    cpu_dense_release(pa, oa);
    cpu_dense_release(pb, ob);
    return ok ? RT_OK : cpu_dtype_error(c, ins[0]->dtype);
}

static rt_status binary_loop(rt_op_ctx *c, int op, const rt_tensor *a, const rt_tensor *b, rt_tensor *y,
                             bool accumulate)
{
    /* accumulate: y = op(y, b) over y's own shape (variadic ops fold inputs one by one) */
    const rt_tensor *ins[2] = {accumulate ? y : a, b};
    rt_dtype in_t = ins[0]->dtype;
    bool fmod_mode = rt_node_attr_int(c->node, "fmod", 0) != 0;
    bool left = strcmp(rt_node_attr_string(c->node, "direction", "LEFT"), "LEFT") == 0;
    if (op == RT_OP_Mod && rt_dtype_is_float(in_t) && !fmod_mode)
        return ops_err(c, RT_ERR_ATTR, "Mod on floating-point inputs requires fmod=1");
    int64_t n = cpu_numel(y);
    bool ok = true;
    bool same = ins[0]->rank == y->rank && ins[1]->rank == y->rank && cpu_numel(ins[0]) == n && cpu_numel(ins[1]) == n;
    if (f32_working(in_t) && f32_working(ins[1]->dtype) && f32_working(y->dtype))
        return binary_f32(c, op, ins, y, same, fmod_mode);
    cpu_iter it;
    cpu_iter_init(&it, y, 2, ins);
    bool use_float = rt_dtype_is_float(in_t) || (op == RT_OP_Pow && rt_dtype_is_float(ins[1]->dtype));
    bool u64 = in_t == RT_DT_U64;
    for (int64_t i = 0; i < n && ok; i++, cpu_iter_next(&it)) {
        if (use_float) {
            double r = bin_f(op, cpu_ld(in_t, ins[0]->data, it.off[0]), cpu_ld(ins[1]->dtype, ins[1]->data, it.off[1]),
                             fmod_mode, &ok);
            cpu_st(y->dtype, y->data, i, r);
        } else {
            int64_t r = bin_i(op, cpu_ldi(in_t, ins[0]->data, it.off[0]), cpu_ldi(ins[1]->dtype, ins[1]->data, it.off[1]),
                              u64, fmod_mode, left, &ok);
            cpu_sti(y->dtype, y->data, i, r);
        }
    }
    return ok ? RT_OK : cpu_dtype_error(c, in_t);
}

rt_status cpu_binary(rt_op_ctx *c)
{
    return binary_loop(c, c->node->op, c->in[0], c->in[1], c->out[0], false);
}

/* y = broadcast copy of t */
static void broadcast_copy(const rt_tensor *t, rt_tensor *y)
{
    cpu_iter it;
    const rt_tensor *ins[1] = {t};
    cpu_iter_init(&it, y, 1, ins);
    size_t es = rt_dtype_bits(y->dtype) / 8;
    int64_t n = cpu_numel(y);
    for (int64_t i = 0; i < n; i++, cpu_iter_next(&it))
        memcpy((char *)y->data + (size_t)i * es, (const char *)t->data + (size_t)it.off[0] * es, es);
}

rt_status cpu_variadic(rt_op_ctx *c)
{
    rt_tensor *y = c->out[0];
    int op = c->node->op;
    if (rt_dtype_bits(y->dtype) < 8)
        return cpu_dtype_error(c, y->dtype);
    broadcast_copy(c->in[0], y);
    int acc_op = op == RT_OP_Mean ? RT_OP_Sum : op;
    for (int k = 1; k < c->n_in; k++) {
        rt_status s = binary_loop(c, acc_op, NULL, c->in[k], y, true);
        if (s != RT_OK)
            return s;
    }
    if (op == RT_OP_Mean) {
        int64_t n = cpu_numel(y);
        for (int64_t i = 0; i < n; i++)
            cpu_st(y->dtype, y->data, i, cpu_ld(y->dtype, y->data, i) / c->n_in);
    }
    return RT_OK;
}

rt_status cpu_where(rt_op_ctx *c)
{
    rt_tensor *y = c->out[0];
    cpu_iter it;
    cpu_iter_init(&it, y, 3, (const rt_tensor *const *)c->in);
    size_t es = rt_dtype_bits(y->dtype) / 8;
    if (es == 0)
        return cpu_dtype_error(c, y->dtype);
    const uint8_t *cond = c->in[0]->data;
    int64_t n = cpu_numel(y);
    for (int64_t i = 0; i < n; i++, cpu_iter_next(&it)) {
        bool take_x = cond[it.off[0]] != 0;
        const rt_tensor *src = take_x ? c->in[1] : c->in[2];
        memcpy((char *)y->data + (size_t)i * es, (const char *)src->data + (size_t)it.off[take_x ? 1 : 2] * es, es);
    }
    return RT_OK;
}

rt_status cpu_clip(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0];
    int64_t n = cpu_numel(x);
    bool is_f = rt_dtype_is_float(x->dtype);
    double lo = -INFINITY, hi = INFINITY;
    int64_t ilo = INT64_MIN, ihi = INT64_MAX;
    if (c->opset < 11) {
        lo = rt_node_attr_float(c->node, "min", -INFINITY);
        hi = rt_node_attr_float(c->node, "max", INFINITY);
    } else {
        if (ops_has_input(c, 1)) {
            lo = cpu_ld(c->in[1]->dtype, c->in[1]->data, 0);
            ilo = cpu_ldi(c->in[1]->dtype, c->in[1]->data, 0);
        }
        if (ops_has_input(c, 2)) {
            hi = cpu_ld(c->in[2]->dtype, c->in[2]->data, 0);
            ihi = cpu_ldi(c->in[2]->dtype, c->in[2]->data, 0);
        }
    }
    for (int64_t i = 0; i < n; i++) {
        if (is_f) {
            double v = cpu_ld(x->dtype, x->data, i);
            v = v < lo ? lo : v;
            v = v > hi ? hi : v;
            cpu_st(y->dtype, y->data, i, v);
        } else {
            int64_t v = cpu_ldi(x->dtype, x->data, i);
            v = v < ilo ? ilo : v;
            v = v > ihi ? ihi : v;
            cpu_sti(y->dtype, y->data, i, v);
        }
    }
    return RT_OK;
}
