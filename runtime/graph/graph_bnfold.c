/* graph_bnfold.c -- folding inference-mode BatchNormalization into the Conv, ConvTranspose or Gemm
 * before it, as deployment toolchains do at import: y = s * (conv(x) - mean) + beta with
 * s = scale / sqrt(var + eps) is conv(x) with every output channel's weights times s and the bias
 * (b - mean) * s + beta. The arithmetic is done once, in double, on constants; the BN node goes
 * away and the layer writes the BN's output. A BN is folded only when nothing else reads the
 * layer's output, its parameters are per-channel constants with data and the layer's weight
 * (and bias) are float constants: with data (the folded values are computed) or without data
 * (a shape-only model: the folded weight and bias are shape-only too). Any other BN stays and
 * runs as itself (the NPU path lowers it to a per-channel scale and shift).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "graph_internal.h"
#include "ops.h"

#define BN_EPSILON_DEFAULT 1e-5f
#define BN_PARAMS 4 /* scale, B, input_mean, input_var */
#define FOLD_NAME_BYTES 256
#define FOLD_NAME_TRIES 1000

/* The only node reading tensor t (-1 if none, several, or t is a graph output), from the graph's
 * users index: folding leaves it right for every tensor asked about here, since a fold changes
 * only the layer's weight inputs (new constants) and which node writes the BN's output, never who
 * reads an activation; the index is dropped when the pass ends. */
static int sole_reader(const rt_graph *g, int t)
{
    if (graph_is_output(g, t))
        return -1;
    const int *users;
    return graph_tensor_users(g, t, &users) == 1 ? users[0] : -1;
}

static bool is_float(rt_dtype t) { return t == RT_DT_F32 || t == RT_DT_F16 || t == RT_DT_BF16 || t == RT_DT_F64; }

static bool is_const(const rt_graph *g, int t) { return t >= 0 && g->tensors[t]->kind == RT_TENSOR_CONSTANT; }

static void store(rt_dtype dt, void *data, int64_t i, double v)
{
    switch (dt) {
    case RT_DT_F16: ((uint16_t *)data)[i] = rt_f32_to_f16((float)v); break;
    case RT_DT_BF16: ((uint16_t *)data)[i] = rt_f32_to_bf16((float)v); break;
    case RT_DT_F64: ((double *)data)[i] = v; break;
    default: ((float *)data)[i] = (float)v; break;
    }
}

/* A constant named after `base` and `what` that no tensor has yet: with data (values, n of them
 * in dtype dt) or shape-only (values NULL). Returns its index, or -1. */
static int new_constant(rt_graph *g, const char *base, const char *what, rt_dtype dt, int rank, const int64_t *dims,
                        const double *values)
{
    char name[FOLD_NAME_BYTES];
    snprintf(name, sizeof name, "%s/%s", base, what);
    for (int k = 1; graph_find_tensor(g, name) >= 0 && k < FOLD_NAME_TRIES; k++)
        snprintf(name, sizeof name, "%s/%s_%d", base, what, k);
    if (graph_find_tensor(g, name) >= 0)
        return -1;
    if (!values)
        return graph_add_weight(g, name, dt, rank, dims);
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    rt_tensor *t = rt_tensor_new(name, dt, rank, dims);
    if (!t || rt_tensor_alloc(t, NULL) != RT_OK) {
        rt_tensor_free(t);
        return -1;
    }
    for (int64_t i = 0; i < n; i++)
        store(dt, t->data, i, values[i]);
    int idx = graph_add_constant(g, name, dt, rank, dims, t->data, t->data_bytes);
    rt_tensor_free(t);
    return idx;
}

/* The BN's per-channel s and shift t = beta - mean * s, for c channels (double); false if a
 * parameter is not a float constant with data of c values. */
static bool bn_coefficients(const rt_graph *g, const rt_node *bn, int64_t c, double *s, double *t)
{
    const rt_tensor *p[BN_PARAMS];
    for (int k = 0; k < BN_PARAMS; k++) {
        int ti = k + 1 < bn->n_inputs ? bn->inputs[k + 1] : -1;
        if (!is_const(g, ti))
            return false;
        p[k] = g->tensors[ti];
        if (!p[k]->data || !is_float(p[k]->dtype) || rt_tensor_numel(p[k]) != c)
            return false;
    }
    double eps = rt_node_attr_float(bn, "epsilon", BN_EPSILON_DEFAULT);
    for (int64_t i = 0; i < c; i++) {
        s[i] = rt_tensor_get_f64(p[0], i) / sqrt(rt_tensor_get_f64(p[3], i) + eps);
        t[i] = rt_tensor_get_f64(p[1], i) - rt_tensor_get_f64(p[2], i) * s[i];
    }
    return true;
}

/* BN parameters that are per-channel constants of c values, with or without data. */
static bool bn_params_shaped(const rt_graph *g, const rt_node *bn, int64_t c)
{
    for (int k = 1; k <= BN_PARAMS; k++) {
        int ti = k < bn->n_inputs ? bn->inputs[k] : -1;
        if (!is_const(g, ti) || rt_tensor_numel(g->tensors[ti]) != c)
            return false;
    }
    return true;
}

/* Can node bn be folded at all (inference mode, one output used, spatial)? */
static bool bn_foldable(const rt_graph *g, const rt_node *bn)
{
    if (bn->op != RT_OP_BatchNormalization || bn->n_inputs < 1 + BN_PARAMS || bn->n_outputs < 1 || bn->outputs[0] < 0)
        return false;
    if (rt_node_attr_int(bn, "training_mode", 0) || !rt_node_attr_int(bn, "spatial", 1))
        return false;
    for (int k = 1; k < bn->n_outputs; k++)
        if (bn->outputs[k] >= 0 && sole_reader(g, bn->outputs[k]) != -1)
            return false; /* a running statistic is read */
    for (int k = 1; k < bn->n_outputs; k++)
        for (int j = 0; j < g->n_outputs; j++)
            if (bn->outputs[k] >= 0 && g->outputs[j] == bn->outputs[k])
                return false;
    return true;
}

/* Replace input k of node ni (appending it when k == n_inputs). */
static bool set_input(rt_graph *g, int ni, int k, int t)
{
    rt_node *n = &g->nodes[ni];
    if (k >= n->n_inputs) {
        int *in = realloc(n->inputs, (size_t)(k + 1) * sizeof *in);
        if (!in)
            return false;
        for (int i = n->n_inputs; i <= k; i++)
            in[i] = -1;
        n->inputs = in;
        n->n_inputs = k + 1;
    }
    n->inputs[k] = t;
    return true;
}

/* Fold bn (node bi) into the layer li before it; true when done. */
static bool fold_one(rt_graph *g, int li, int bi)
{
    const rt_node *layer = &g->nodes[li], *bn = &g->nodes[bi];
    int wt = layer->n_inputs > 1 ? layer->inputs[1] : -1;
    int bt = layer->n_inputs > 2 ? layer->inputs[2] : -1; /* Conv's B, Gemm's C */
    if (!is_const(g, wt) || !is_float(g->tensors[wt]->dtype) || (bt >= 0 && !is_const(g, bt)))
        return false;
    const rt_tensor *W = g->tensors[wt];
    if (!rt_tensor_shape_known(W) || W->rank < 2)
        return false;
    bool gemm = layer->op == RT_OP_Gemm, transpose = layer->op == RT_OP_ConvTranspose;
    bool trans_b = gemm && rt_node_attr_int(layer, "transB", 0);
    if (gemm && (W->rank != 2 || rt_node_attr_int(layer, "transA", 0) != 0))
        return false;
    int64_t groups = gemm ? 1 : rt_node_attr_int(layer, "group", 1);
    /* output channels, and where channel co's weights are */
    int64_t co_n = gemm ? (trans_b ? W->dims[0] : W->dims[1]) : transpose ? W->dims[1] * groups : W->dims[0];
    if (groups < 1 || !bn_params_shaped(g, bn, co_n))
        return false;
    const rt_tensor *B = bt >= 0 ? g->tensors[bt] : NULL;
    int64_t bn_len = B ? rt_tensor_numel(B) : 0;
    if (B && (!is_float(B->dtype) || (bn_len != co_n && !(gemm && bn_len == 1))))
        return false;
    bool numeric = W->data != NULL;
    double *s = malloc((size_t)co_n * sizeof *s), *t = malloc((size_t)co_n * sizeof *t);
    int64_t wn = rt_tensor_numel(W);
    double *wv = numeric ? malloc((size_t)wn * sizeof *wv) : NULL, *bv = malloc((size_t)co_n * sizeof *bv);
    bool ok = s && t && bv && (!numeric || wv);
    if (ok && numeric)
        ok = bn_coefficients(g, bn, co_n, s, t) && (!B || B->data);
    int nw = -1, nb = -1;
    if (ok && numeric) {
        double alpha = gemm ? rt_node_attr_float(layer, "alpha", 1.0f) : 1.0, beta = gemm ? rt_node_attr_float(layer, "beta", 1.0f) : 1.0;
        int64_t per = wn / W->dims[0]; /* elements per row of W */
        for (int64_t i = 0; i < wn; i++) {
            int64_t row = i / per, co;
            if (gemm)
                co = trans_b ? row : i % W->dims[1];
            else if (transpose) /* W [C, CO/G, k...]: row ci of group ci / (C/G) */
                co = row / (W->dims[0] / groups) * W->dims[1] + (i % per) / (per / W->dims[1]);
            else
                co = row;
            wv[i] = rt_tensor_get_f64(W, i) * s[co] * alpha;
        }
        for (int64_t c = 0; c < co_n; c++) {
            double b = B ? rt_tensor_get_f64(B, bn_len == 1 ? 0 : c) * beta : 0.0;
            bv[c] = b * s[c] + t[c];
        }
    }
    const char *base = g->tensors[bn->outputs[0]]->name;
    int64_t bdims[1] = {co_n};
    if (ok) {
        nw = new_constant(g, base, "folded_weight", W->dtype, W->rank, W->dims, numeric ? wv : NULL);
        nb = new_constant(g, base, "folded_bias", W->dtype, 1, bdims, numeric ? bv : NULL);
        ok = nw >= 0 && nb >= 0;
    }
    free(s);
    free(t);
    free(wv);
    free(bv);
    if (!ok)
        return false;
    int yb = g->nodes[bi].outputs[0], x = g->nodes[bi].inputs[0];
    if (!set_input(g, li, 1, nw) || !set_input(g, li, 2, nb))
        return false;
    g->nodes[li].outputs[0] = yb;
    g->nodes[bi].outputs[0] = -1; /* the BN is removed by the caller */
    g->tensors[yb]->producer = li;
    g->tensors[x]->producer = -1; /* the layer's old output, now read by the BN alone */
    return true;
}

rt_status graph_fold_batchnorm(rt_graph *g, int *n_folded, rt_error *e)
{
    *n_folded = 0;
    bool *remove = calloc((size_t)g->n_nodes + 1, sizeof *remove);
    if (!remove)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (BatchNormalization folding)");
    int n0 = g->n_nodes;
    for (int bi = 0; bi < n0; bi++) {
        const rt_node *bn = &g->nodes[bi];
        if (!bn_foldable(g, bn) || bn->inputs[0] < 0)
            continue;
        int li = g->tensors[bn->inputs[0]]->producer;
        if (li < 0 || remove[li] || sole_reader(g, bn->inputs[0]) != bi)
            continue;
        int op = g->nodes[li].op;
        if (op != RT_OP_Conv && op != RT_OP_ConvTranspose && op != RT_OP_Gemm)
            continue;
        if (fold_one(g, li, bi)) {
            if (op == RT_OP_Gemm) { /* alpha and beta are in the folded weight and bias */
                if (graph_node_set_float(g, li, "alpha", 1.0f) != RT_OK || graph_node_set_float(g, li, "beta", 1.0f) != RT_OK) {
                    free(remove);
                    return rt_error_set(e, RT_ERR_NOMEM, "out of memory (BatchNormalization folding)");
                }
            }
            remove[bi] = true;
            (*n_folded)++;
        }
    }
    graph_users_drop(g); /* (a fold that failed half-way may have changed a layer's inputs) */
    rt_status s = *n_folded ? graph_compact(g, remove, NULL) : RT_OK;
    free(remove);
    if (s != RT_OK)
        return rt_error_set(e, s, "out of memory (BatchNormalization folding)");
    return RT_OK;
}
