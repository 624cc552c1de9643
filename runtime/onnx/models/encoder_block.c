/* encoder_block.c -- builds the transformer encoder block test model (see encoder_block.h)
 * with the graph builder API, the way the M4 module builders will build theirs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder_block.h"

#define LN_EPSILON 1e-5f

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void model_fill_uniform(float *v, int64_t n, float a, uint64_t *state)
{
    for (int64_t i = 0; i < n; i++) {
        double u = (double)(splitmix(state) >> 11) / 9007199254740992.0; /* [0, 1) */
        v[i] = (float)((2.0 * u - 1.0) * a);
    }
}

typedef struct builder {
    rt_graph *g;
    bool with_data;
    uint64_t rng;
} builder;

/* A weight [rank dims] filled uniform(+-a) (or shape-only). */
static void weight(builder *b, const char *name, int rank, const int64_t *dims, float a, float offset)
{
    if (!b->with_data) {
        graph_add_weight(b->g, name, RT_DT_F32, rank, dims);
        return;
    }
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        graph_add_weight(b->g, name, RT_DT_F32, rank, dims); /* the builder records no error: */
        return;                                              /* the caller sees missing data */
    }
    model_fill_uniform(v, n, a, &b->rng);
    for (int64_t i = 0; i < n; i++)
        v[i] += offset;
    graph_add_constant(b->g, name, RT_DT_F32, rank, dims, v, (uint64_t)n * sizeof *v);
    free(v);
}

static void scalar_f32(builder *b, const char *name, float v)
{
    graph_add_constant(b->g, name, RT_DT_F32, 0, NULL, &v, sizeof v);
}

static void shape_const(builder *b, const char *name, int n, const int64_t *v)
{
    int64_t d = n;
    graph_add_constant(b->g, name, RT_DT_I64, 1, &d, v, (uint64_t)n * sizeof *v);
}

static int node(builder *b, const char *op, const char *name, int nin, const char *const *in, const char *out)
{
    return graph_add_node(b->g, op, name, nin, in, 1, &out);
}

/* y = x @ W + bias, W [in, out] */
static void linear(builder *b, const char *prefix, const char *x, int64_t in, int64_t out, const char *y)
{
    char w[64], bias[64], mm[64], n1[64], n2[64];
    snprintf(w, sizeof w, "%s.weight", prefix);
    snprintf(bias, sizeof bias, "%s.bias", prefix);
    snprintf(mm, sizeof mm, "%s.mm", prefix);
    snprintf(n1, sizeof n1, "%s/MatMul", prefix);
    snprintf(n2, sizeof n2, "%s/Add", prefix);
    float a = 1.0f / sqrtf((float)in);
    weight(b, w, 2, (int64_t[]){in, out}, a, 0);
    weight(b, bias, 1, &out, a, 0);
    node(b, "MatMul", n1, 2, (const char *[]){x, w}, mm);
    node(b, "Add", n2, 2, (const char *[]){mm, bias}, y);
}

static void layer_norm(builder *b, const char *prefix, const char *x, int64_t d, const char *y)
{
    char gname[64], bname[64], nname[64];
    snprintf(gname, sizeof gname, "%s.weight", prefix);
    snprintf(bname, sizeof bname, "%s.bias", prefix);
    snprintf(nname, sizeof nname, "%s/LayerNormalization", prefix);
    weight(b, gname, 1, &d, 0.1f, 1.0f);
    weight(b, bname, 1, &d, 0.1f, 0.0f);
    int n = node(b, "LayerNormalization", nname, 3, (const char *[]){x, gname, bname}, y);
    if (n >= 0) {
        graph_node_set_int(b->g, n, "axis", -1);
        graph_node_set_float(b->g, n, "epsilon", LN_EPSILON);
    }
}

static void transpose(builder *b, const char *name, const char *x, const int64_t *perm, const char *y)
{
    int n = node(b, "Transpose", name, 1, (const char *[]){x}, y);
    if (n >= 0)
        graph_node_set_ints(b->g, n, "perm", 4, perm);
}

rt_graph *model_encoder_block(const encoder_block_cfg *cfg, bool with_data, rt_error *e)
{
    int64_t d = cfg->d_model, H = cfg->heads, T = cfg->tokens, F = cfg->d_ff;
    if (d <= 0 || H <= 0 || T <= 0 || F <= 0 || d % H) {
        rt_error_set(e, RT_ERR_ARG, "encoder block: d_model must be a positive multiple of heads");
        return NULL;
    }
    int64_t dh = d / H;
    rt_graph *g = graph_create("encoder_block");
    if (!g) {
        rt_error_set(e, RT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    builder b = {g, with_data, cfg->seed};
    graph_set_opset(g, "", RT_DEFAULT_OPSET);
    graph_add_input(g, "x", RT_DT_F32, 3, (int64_t[]){1, T, d});

    /* attention */
    layer_norm(&b, "ln1", "x", d, "ln1.out");
    linear(&b, "attn.q", "ln1.out", d, d, "q");
    linear(&b, "attn.k", "ln1.out", d, d, "k");
    linear(&b, "attn.v", "ln1.out", d, d, "v");
    shape_const(&b, "heads_shape", 4, (int64_t[]){1, T, H, dh});
    shape_const(&b, "model_shape", 3, (int64_t[]){1, T, d});
    node(&b, "Reshape", "attn/q/Reshape", 2, (const char *[]){"q", "heads_shape"}, "q.heads");
    node(&b, "Reshape", "attn/k/Reshape", 2, (const char *[]){"k", "heads_shape"}, "k.heads");
    node(&b, "Reshape", "attn/v/Reshape", 2, (const char *[]){"v", "heads_shape"}, "v.heads");
    transpose(&b, "attn/q/Transpose", "q.heads", (int64_t[]){0, 2, 1, 3}, "q.t");
    transpose(&b, "attn/k/Transpose", "k.heads", (int64_t[]){0, 2, 3, 1}, "k.t");
    transpose(&b, "attn/v/Transpose", "v.heads", (int64_t[]){0, 2, 1, 3}, "v.t");
    node(&b, "MatMul", "attn/scores/MatMul", 2, (const char *[]){"q.t", "k.t"}, "scores");
    scalar_f32(&b, "attn.scale", sqrtf((float)dh));
    node(&b, "Div", "attn/scores/Div", 2, (const char *[]){"scores", "attn.scale"}, "scores.scaled");
    int sm = node(&b, "Softmax", "attn/Softmax", 1, (const char *[]){"scores.scaled"}, "probs");
    if (sm >= 0)
        graph_node_set_int(g, sm, "axis", -1);
    node(&b, "MatMul", "attn/context/MatMul", 2, (const char *[]){"probs", "v.t"}, "context");
    transpose(&b, "attn/context/Transpose", "context", (int64_t[]){0, 2, 1, 3}, "context.t");
    node(&b, "Reshape", "attn/context/Reshape", 2, (const char *[]){"context.t", "model_shape"}, "context.merged");
    linear(&b, "attn.out", "context.merged", d, d, "attn.proj");
    node(&b, "Add", "residual1/Add", 2, (const char *[]){"x", "attn.proj"}, "r1");

    /* MLP with GELU in the Erf form torch.onnx exports: x * 0.5 * (1 + erf(x / sqrt(2))) */
    layer_norm(&b, "ln2", "r1", d, "ln2.out");
    linear(&b, "mlp.fc1", "ln2.out", d, F, "h");
    scalar_f32(&b, "gelu.sqrt2", sqrtf(2.0f));
    scalar_f32(&b, "gelu.one", 1.0f);
    scalar_f32(&b, "gelu.half", 0.5f);
    node(&b, "Div", "mlp/gelu/Div", 2, (const char *[]){"h", "gelu.sqrt2"}, "gelu.scaled");
    node(&b, "Erf", "mlp/gelu/Erf", 1, (const char *[]){"gelu.scaled"}, "gelu.erf");
    node(&b, "Add", "mlp/gelu/Add", 2, (const char *[]){"gelu.erf", "gelu.one"}, "gelu.plus1");
    node(&b, "Mul", "mlp/gelu/Mul", 2, (const char *[]){"h", "gelu.plus1"}, "gelu.prod");
    node(&b, "Mul", "mlp/gelu/Mul_1", 2, (const char *[]){"gelu.prod", "gelu.half"}, "gelu.out");
    linear(&b, "mlp.fc2", "gelu.out", F, d, "mlp.out");
    node(&b, "Add", "residual2/Add", 2, (const char *[]){"r1", "mlp.out"}, "y");
    graph_mark_output(g, graph_find_tensor(g, "y"));

    if (graph_prepare(g, e) != RT_OK) {
        graph_free(g);
        return NULL;
    }
    return g;
}
