/* ops_infer_rnn.c -- the recurrent ops LSTM, GRU and RNN: their attributes and input shapes
 * decoded and checked once (ops_rnn_params, shared with the kernel in runtime/cpu/cpu_rnn.c),
 * and their output types and shapes. */
#include <string.h>
#include <strings.h>

#include "ops_geom.h"
#include "ops_impl.h"

typedef struct act_name {
    const char *name;
    ops_rnn_act_kind kind;
    int n_params; /* 0, 1 (alpha) or 2 (alpha, beta) */
    double alpha, beta; /* defaults when activation_alpha / activation_beta run out */
} act_name;

/* The activation functions ONNX lists for the recurrent ops, and onnxruntime's defaults. */
static const act_name act_names[] = {
    {"Sigmoid", OPS_ACT_SIGMOID, 0, 0, 0},
    {"Tanh", OPS_ACT_TANH, 0, 0, 0},
    {"Relu", OPS_ACT_RELU, 0, 0, 0},
    {"Affine", OPS_ACT_AFFINE, 2, 1.0, 0.0},
    {"LeakyRelu", OPS_ACT_LEAKY_RELU, 1, 0.01, 0},
    {"ThresholdedRelu", OPS_ACT_THRESHOLDED_RELU, 1, 1.0, 0},
    {"ScaledTanh", OPS_ACT_SCALED_TANH, 2, 1.0, 1.0},
    {"HardSigmoid", OPS_ACT_HARD_SIGMOID, 2, 0.2, 0.5},
    {"Elu", OPS_ACT_ELU, 1, 1.0, 0},
    {"Softsign", OPS_ACT_SOFTSIGN, 0, 0, 0},
    {"Softplus", OPS_ACT_SOFTPLUS, 0, 0, 0},
};

/* Default activations per direction: LSTM (Sigmoid, Tanh, Tanh), GRU (Sigmoid, Tanh), RNN Tanh. */
static const char *const default_acts[3] = {"Sigmoid", "Tanh", "Tanh"};

static rt_status parse_activations(const rt_op_ctx *c, ops_rnn *r)
{
    const rt_attr *names = rt_node_attr(c->node, "activations");
    size_t want = (size_t)(r->dirs * r->n_acts);
    if (names && (names->type != RT_ATTR_STRINGS || names->n != want))
        return ops_err(c, RT_ERR_ATTR, "activations has %zu names, expected %zu (%d per direction)",
                       names->type == RT_ATTR_STRINGS ? names->n : (size_t)1, want, r->n_acts);
    const float *alphas, *betas;
    size_t n_alpha = rt_node_attr_floats(c->node, "activation_alpha", &alphas);
    size_t n_beta = rt_node_attr_floats(c->node, "activation_beta", &betas);
    size_t next_alpha = 0, next_beta = 0;
    for (size_t i = 0; i < want; i++) {
        const char *name = names ? names->strings[i] : r->gates == 1 ? "Tanh" : default_acts[i % (size_t)r->n_acts];
        const act_name *a = NULL;
        for (size_t k = 0; k < sizeof act_names / sizeof act_names[0] && !a; k++)
            if (strcasecmp(name, act_names[k].name) == 0)
                a = &act_names[k];
        if (!a)
            return ops_err(c, RT_ERR_ATTR,
                           "activation '%s' is not one of Sigmoid, Tanh, Relu, Affine, LeakyRelu, ThresholdedRelu, "
                           "ScaledTanh, HardSigmoid, Elu, Softsign, Softplus",
                           name);
        ops_rnn_act *out = &r->act[i / (size_t)r->n_acts][i % (size_t)r->n_acts];
        out->kind = a->kind;
        out->alpha = a->alpha;
        out->beta = a->beta;
        /* alphas and betas are consumed in the order of the activations that take them */
        if (a->n_params >= 1 && next_alpha < n_alpha)
            out->alpha = alphas[next_alpha++];
        if (a->n_params >= 2 && next_beta < n_beta)
            out->beta = betas[next_beta++];
    }
    return RT_OK;
}

/* Input i, when present, must have rank 'rank' and dims matching 'want' (-1: any). */
static rt_status check_dims(const rt_op_ctx *c, int i, const char *what, int rank, const int64_t *want)
{
    if (!ops_has_input(c, i) || c->in[i]->rank < 0)
        return RT_OK;
    const rt_tensor *t = c->in[i];
    bool ok = t->rank == rank;
    for (int d = 0; ok && d < rank; d++)
        ok = want[d] < 0 || t->dims[d] < 0 || t->dims[d] == want[d];
    if (!ok) {
        char got[96], exp[96];
        rt_tensor w = {.rank = rank};
        for (int d = 0; d < rank; d++)
            w.dims[d] = want[d];
        return ops_err(c, RT_ERR_SHAPE, "%s ('%s') has shape %s, expected %s", what, t->name,
                       rt_shape_str(t, got, sizeof got), rt_shape_str(&w, exp, sizeof exp));
    }
    return RT_OK;
}

rt_status ops_rnn_params(const rt_op_ctx *c, ops_rnn *r)
{
    memset(r, 0, sizeof *r);
    int op = c->node->op;
    r->gates = op == RT_OP_LSTM ? 4 : op == RT_OP_GRU ? 3 : 1;
    r->n_acts = op == RT_OP_LSTM ? 3 : op == RT_OP_GRU ? 2 : 1;
    rt_status s = RT_OK;
    for (int i = OPS_RNN_X; i <= OPS_RNN_R && s == RT_OK; i++)
        s = ops_need_typed(c, i);
    if (s != RT_OK)
        return s;
    const char *dir = rt_node_attr_string(c->node, "direction", "forward");
    if (strcmp(dir, "forward") != 0 && strcmp(dir, "reverse") != 0 && strcmp(dir, "bidirectional") != 0)
        return ops_err(c, RT_ERR_ATTR, "direction '%s' is not forward, reverse or bidirectional", dir);
    r->dirs = strcmp(dir, "bidirectional") == 0 ? 2 : 1;
    r->reverse = strcmp(dir, "reverse") == 0;
    int64_t layout = rt_node_attr_int(c->node, "layout", 0);
    if (layout != 0 && layout != 1)
        return ops_err(c, RT_ERR_ATTR, "layout %lld is not 0 or 1", (long long)layout);
    r->layout = (int)layout;
    r->clip = rt_node_attr_float(c->node, "clip", 0.0f);
    if (r->clip < 0)
        return ops_err(c, RT_ERR_ATTR, "clip %g must be positive", r->clip);
    r->linear_before_reset = rt_node_attr_int(c->node, "linear_before_reset", 0) != 0;
    r->input_forget = rt_node_attr_int(c->node, "input_forget", 0) != 0;
    const rt_tensor *x = c->in[OPS_RNN_X], *w = c->in[OPS_RNN_W], *rr = c->in[OPS_RNN_R];
    if (x->rank >= 0 && x->rank != 3)
        return ops_err(c, RT_ERR_SHAPE, "X ('%s') must have rank 3, not %d", x->name, x->rank);
    if (!rt_dtype_is_float(x->dtype))
        return ops_err(c, RT_ERR_DTYPE, "X must be a float type (got %s)", rt_dtype_name(x->dtype));
    for (int i = OPS_RNN_W; i <= OPS_RNN_P; i++)
        if (i != OPS_RNN_SEQ_LENS && ops_has_input(c, i) && c->in[i]->dtype != x->dtype)
            return ops_err(c, RT_ERR_DTYPE, "input %d ('%s') is %s, X is %s", i, c->in[i]->name,
                           rt_dtype_name(c->in[i]->dtype), rt_dtype_name(x->dtype));
    if (ops_has_input(c, OPS_RNN_SEQ_LENS) && !rt_dtype_is_int(c->in[OPS_RNN_SEQ_LENS]->dtype))
        return ops_err(c, RT_ERR_DTYPE, "sequence_lens must be an integer tensor");
    r->seq = x->rank == 3 ? x->dims[r->layout ? 1 : 0] : RT_DIM_UNKNOWN;
    r->batch = x->rank == 3 ? x->dims[r->layout ? 0 : 1] : RT_DIM_UNKNOWN;
    r->input = x->rank == 3 ? x->dims[2] : RT_DIM_UNKNOWN;
    r->hidden = rt_node_attr_int(c->node, "hidden_size", RT_DIM_UNKNOWN);
    if (r->hidden == RT_DIM_UNKNOWN && rr->rank == 3)
        r->hidden = rr->dims[2];
    if (r->hidden == RT_DIM_UNKNOWN && w->rank == 3 && w->dims[1] >= 0)
        r->hidden = w->dims[1] / r->gates;
    if (r->hidden != RT_DIM_UNKNOWN && r->hidden < 1)
        return ops_err(c, RT_ERR_ATTR, "hidden_size %lld must be >= 1", (long long)r->hidden);
    int64_t gh = r->hidden < 0 ? -1 : r->gates * r->hidden, D = r->dirs, B = r->batch, H = r->hidden;
    int64_t w_dims[3] = {D, gh, r->input}, r_dims[3] = {D, gh, H}, b_dims[2] = {D, gh < 0 ? -1 : 2 * gh};
    int64_t h0_dims[3] = {r->layout ? B : D, r->layout ? D : B, H}, p_dims[2] = {D, H < 0 ? -1 : 3 * H};
    if ((s = check_dims(c, OPS_RNN_W, "W", 3, w_dims)) != RT_OK ||
        (s = check_dims(c, OPS_RNN_R, "R", 3, r_dims)) != RT_OK ||
        (s = check_dims(c, OPS_RNN_B, "B", 2, b_dims)) != RT_OK ||
        (s = check_dims(c, OPS_RNN_SEQ_LENS, "sequence_lens", 1, &B)) != RT_OK ||
        (s = check_dims(c, OPS_RNN_INIT_H, "initial_h", 3, h0_dims)) != RT_OK)
        return s;
    if (op == RT_OP_LSTM && ((s = check_dims(c, OPS_RNN_INIT_C, "initial_c", 3, h0_dims)) != RT_OK ||
                             (s = check_dims(c, OPS_RNN_P, "P", 2, p_dims)) != RT_OK))
        return s;
    if (op != RT_OP_LSTM && c->n_in > OPS_RNN_INIT_C)
        return ops_err(c, RT_ERR_ARG, "%s takes at most 6 inputs, not %d", c->node->op_type, c->n_in);
    return parse_activations(c, r);
}

rt_status infer_rnn(rt_op_ctx *c)
{
    ops_rnn r;
    rt_status s = ops_rnn_params(c, &r);
    if (s != RT_OK)
        return s;
    rt_dtype dt = c->in[OPS_RNN_X]->dtype;
    int64_t y_dims[4] = {r.seq, r.dirs, r.batch, r.hidden}, h_dims[3] = {r.dirs, r.batch, r.hidden};
    if (r.layout) {
        int64_t y1[4] = {r.batch, r.seq, r.dirs, r.hidden}, h1[3] = {r.batch, r.dirs, r.hidden};
        memcpy(y_dims, y1, sizeof y1);
        memcpy(h_dims, h1, sizeof h1);
    }
    int max_out = c->node->op == RT_OP_LSTM ? 3 : 2;
    if (c->n_out > max_out)
        return ops_err(c, RT_ERR_ARG, "%s has at most %d outputs, not %d", c->node->op_type, max_out, c->n_out);
    for (int i = 0; i < c->n_out && s == RT_OK; i++)
        if (c->out[i])
            s = i == 0 ? ops_set_output(c, 0, dt, 4, y_dims) : ops_set_output(c, i, dt, 3, h_dims);
    return s;
}
