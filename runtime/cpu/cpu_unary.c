/* cpu_unary.c -- CPU reference kernels of the one-input elementwise ops: math functions,
 * activations (Sigmoid, Erf-GELU, SiLU parts, HardSwish, ...), rounding, Not, IsNaN/IsInf.
 * Floats are computed in double and rounded once to f32 (f64 for f64), then to the output
 * type; f16 and bf16 tensors are converted whole on the way in and out (cpu_dense.h). */
#include <math.h>
#include <string.h>

#include "cpu_dense.h"
#include "cpu_util.h"

typedef struct unary_params {
    double alpha, beta, gamma, lambd, bias;
    bool gelu_tanh, detect_neg, detect_pos;
} unary_params;

static double sigmoid(double x)
{
    if (x >= 0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* The float function of op `op`; *ok = false if the op has no float form. */
static double unary_f(int op, double x, const unary_params *p, bool *ok)
{
    switch (op) {
    case RT_OP_Sqrt: return sqrt(x);
    case RT_OP_Neg: return -x;
    case RT_OP_Exp: return exp(x);
    case RT_OP_Erf: return erf(x);
    case RT_OP_Sigmoid: return sigmoid(x);
    case RT_OP_Tanh: return tanh(x);
    case RT_OP_Relu: return x > 0 || isnan(x) ? x : 0.0; /* max(0, x); NaN stays NaN */
    case RT_OP_Cos: return cos(x);
    case RT_OP_Sin: return sin(x);
    case RT_OP_Abs: return fabs(x);
    case RT_OP_Ceil: return ceil(x);
    case RT_OP_Floor: return floor(x);
    case RT_OP_Round: return nearbyint(x); /* half to even in the default rounding mode */
    case RT_OP_Sign: return x > 0 ? 1.0 : x < 0 ? -1.0 : x;
    case RT_OP_Reciprocal: return 1.0 / x;
    case RT_OP_Log: return log(x);
    case RT_OP_Tan: return tan(x);
    case RT_OP_Asin: return asin(x);
    case RT_OP_Acos: return acos(x);
    case RT_OP_Atan: return atan(x);
    case RT_OP_Sinh: return sinh(x);
    case RT_OP_Cosh: return cosh(x);
    case RT_OP_Asinh: return asinh(x);
    case RT_OP_Acosh: return acosh(x);
    case RT_OP_Atanh: return atanh(x);
    case RT_OP_Softplus: return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
    case RT_OP_Softsign: return x / (1.0 + fabs(x));
    case RT_OP_Elu: return x >= 0 ? x : p->alpha * (exp(x) - 1.0);
    case RT_OP_Selu: return x > 0 ? p->gamma * x : p->gamma * p->alpha * (exp(x) - 1.0);
    case RT_OP_Celu: return fmax(0.0, x) + fmin(0.0, p->alpha * (exp(x / p->alpha) - 1.0));
    case RT_OP_LeakyRelu: return x >= 0 ? x : p->alpha * x;
    case RT_OP_HardSigmoid: return fmax(0.0, fmin(1.0, p->alpha * x + p->beta));
    case RT_OP_HardSwish: return x * fmax(0.0, fmin(1.0, x / 6.0 + 0.5));
    case RT_OP_ThresholdedRelu: return x > p->alpha ? x : 0.0;
    case RT_OP_Shrink: return x < -p->lambd ? x + p->bias : x > p->lambd ? x - p->bias : 0.0;
    case RT_OP_Gelu:
        if (p->gelu_tanh)
            return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
        return 0.5 * x * (1.0 + erf(x * 0.7071067811865476));
    case RT_OP_IsNaN: return isnan(x) ? 1.0 : 0.0;
    case RT_OP_IsInf: return isinf(x) && ((x > 0 && p->detect_pos) || (x < 0 && p->detect_neg)) ? 1.0 : 0.0;
    default: *ok = false; return 0;
    }
}

/* The common activations as plain loops over f32 (same values as unary_f, rounded to f32);
 * false for every other op. */
static bool unary_f32_fast(int op, const float *x, float *y, int64_t n)
{
    switch (op) {
    case RT_OP_Relu:
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] > 0 || x[i] != x[i] ? x[i] : 0.0f;
        return true;
    case RT_OP_Sigmoid:
        for (int64_t i = 0; i < n; i++)
            y[i] = (float)sigmoid(x[i]);
        return true;
    case RT_OP_Tanh:
        for (int64_t i = 0; i < n; i++)
            y[i] = (float)tanh(x[i]);
        return true;
    default:
        return false;
    }
}

/* Relu straight on f16 bits (the same values as through f32: a negative number or -0 becomes
 * +0, NaN stays NaN): the activations of an fp16 CNN move 4 bytes per element instead of 16. */
#define F16_SIGN 0x8000u
#define F16_ABS 0x7fffu
#define F16_INF 0x7c00u

static void relu_f16(const uint16_t *x, uint16_t *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = x[i];
        bool negative = (h & F16_SIGN) && (h & F16_ABS) <= F16_INF;
        y[i] = negative ? 0 : h;
    }
}

/* The integer form for ops that have one; *ok = false otherwise. */
static int64_t unary_i(int op, int64_t x, bool is_signed, bool *ok)
{
    switch (op) {
    case RT_OP_Neg: return (int64_t)(0 - (uint64_t)x);
    case RT_OP_Abs: return x < 0 ? (int64_t)(0 - (uint64_t)x) : x;
    case RT_OP_Sign: return x > 0 ? 1 : (x < 0 && is_signed) ? -1 : 0;
    case RT_OP_Relu: return x > 0 ? x : 0;
    case RT_OP_Ceil:
    case RT_OP_Floor:
    case RT_OP_Round: return x;
    case RT_OP_Not: return !x;
    case RT_OP_IsNaN:
    case RT_OP_IsInf: return 0;
    default: *ok = false; return 0;
    }
}

rt_status cpu_unary(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0];
    const rt_node *n = c->node;
    int op = n->op;
    unary_params p = {0};
    switch (op) {
    case RT_OP_Elu: case RT_OP_Celu: case RT_OP_ThresholdedRelu:
        p.alpha = rt_node_attr_float(n, "alpha", 1.0f);
        break;
    case RT_OP_Selu:
        p.alpha = rt_node_attr_float(n, "alpha", 1.67326319217681884765625f);
        p.gamma = rt_node_attr_float(n, "gamma", 1.05070102214813232421875f);
        break;
    case RT_OP_LeakyRelu:
        p.alpha = rt_node_attr_float(n, "alpha", 0.01f);
        break;
    case RT_OP_HardSigmoid:
        p.alpha = rt_node_attr_float(n, "alpha", 0.2f);
        p.beta = rt_node_attr_float(n, "beta", 0.5f);
        break;
    case RT_OP_Shrink:
        p.bias = rt_node_attr_float(n, "bias", 0.0f);
        p.lambd = rt_node_attr_float(n, "lambd", 0.5f);
        break;
    case RT_OP_Gelu:
        p.gelu_tanh = strcmp(rt_node_attr_string(n, "approximate", "none"), "tanh") == 0;
        break;
    case RT_OP_IsInf:
        p.detect_neg = rt_node_attr_int(n, "detect_negative", 1) != 0;
        p.detect_pos = rt_node_attr_int(n, "detect_positive", 1) != 0;
        break;
    default:
        break;
    }
    int64_t count = cpu_numel(x);
    bool ok = true;
    if (rt_dtype_is_float(x->dtype)) {
        if (op == RT_OP_Relu && x->dtype == RT_DT_F16 && y->dtype == RT_DT_F16) {
            relu_f16(x->data, y->data, count);
        } else if (x->dtype != RT_DT_F64 && y->dtype != RT_DT_F64) {
            /* f32, f16, bf16: one conversion in, one out (cpu_dense.h) */
            bool ox, oy;
            const float *xs = cpu_dense_read_f32(c, x, &ox);
            float *ys = xs ? cpu_dense_out_f32(c, y, &oy) : NULL;
            if (!ys) {
                cpu_dense_release(xs, ox);
                return RT_ERR_NOMEM;
            }
            if (!unary_f32_fast(op, xs, ys, count))
                for (int64_t i = 0; i < count && ok; i++)
                    ys[i] = (float)unary_f(op, xs[i], &p, &ok);
            cpu_dense_commit_f32(y, ys, oy);
            cpu_dense_release(xs, ox);
        } else {
            for (int64_t i = 0; i < count && ok; i++)
                cpu_st(y->dtype, y->data, i, unary_f(op, cpu_ld(x->dtype, x->data, i), &p, &ok));
        }
    } else if (rt_dtype_is_int(x->dtype) || x->dtype == RT_DT_BOOL) {
        bool sgn = rt_dtype_is_signed(x->dtype);
        for (int64_t i = 0; i < count && ok; i++)
            cpu_sti(y->dtype, y->data, i, unary_i(op, cpu_ldi(x->dtype, x->data, i), sgn, &ok));
    } else {
        ok = false;
    }
    return ok ? RT_OK : cpu_dtype_error(c, x->dtype);
}
