/* LSTM, GRU and RNN on models built here, saved as ONNX and imported again, against an FP64
 * reference written from the ONNX operator definitions (one batch element and one step at a
 * time, no BLAS): directions, layouts, sequence_lens, initial states, peepholes, input_forget,
 * clip, linear_before_reset, explicit activations with alpha/beta, f32/f16/f64. Tolerances as
 * test_models.h (relative to the largest |reference| of each output). Also the errors of bad
 * attributes and inputs, and the cost. */
#include "test_models.h"

#include <strings.h>

#define MAX_ACTS 6

typedef struct rnn_spec {
    const char *op; /* LSTM, GRU, RNN */
    const char *direction;
    int layout;
    int64_t seq, batch, input, hidden;
    rt_dtype dt;
    bool bias, init_h, init_c, peepholes;
    const int32_t *lens; /* sequence_lens, or NULL */
    double clip;         /* 0: no clip attribute */
    int linear_before_reset, input_forget;
    int n_acts;
    const char *acts[MAX_ACTS];
    int n_alpha, n_beta;
    float alpha[MAX_ACTS], beta[MAX_ACTS];
} rnn_spec;

static int gates_of(const rnn_spec *s)
{
    return strcmp(s->op, "LSTM") == 0 ? 4 : strcmp(s->op, "GRU") == 0 ? 3 : 1;
}

static int dirs_of(const rnn_spec *s)
{
    return strcmp(s->direction, "bidirectional") == 0 ? 2 : 1;
}

/* ---- the FP64 reference */

typedef struct ref_act {
    char name[24];
    double alpha, beta;
} ref_act;

static double act(const ref_act *a, double x, double clip)
{
    if (clip > 0)
        x = fmin(clip, fmax(-clip, x));
    const char *n = a->name;
    if (!strcasecmp(n, "Sigmoid"))
        return 1 / (1 + exp(-x));
    if (!strcasecmp(n, "Tanh"))
        return tanh(x);
    if (!strcasecmp(n, "Relu"))
        return fmax(0, x);
    if (!strcasecmp(n, "Affine"))
        return a->alpha * x + a->beta;
    if (!strcasecmp(n, "LeakyRelu"))
        return x >= 0 ? x : a->alpha * x;
    if (!strcasecmp(n, "ThresholdedRelu"))
        return x > a->alpha ? x : 0;
    if (!strcasecmp(n, "ScaledTanh"))
        return a->alpha * tanh(a->beta * x);
    if (!strcasecmp(n, "HardSigmoid"))
        return fmin(1, fmax(0, a->alpha * x + a->beta));
    if (!strcasecmp(n, "Elu"))
        return x >= 0 ? x : a->alpha * (exp(x) - 1);
    if (!strcasecmp(n, "Softsign"))
        return x / (1 + fabs(x));
    if (!strcasecmp(n, "Softplus"))
        return log(1 + exp(x));
    fail_msg("reference: activation %s", n);
    return 0;
}

/* The activations of direction d: given, or the op's defaults; alphas and betas go to the
 * activations that take them, in order (onnxruntime's defaults otherwise). */
static void ref_acts(const rnn_spec *s, ref_act *out)
{
    static const char *const lstm[] = {"Sigmoid", "Tanh", "Tanh"}, *const gru[] = {"Sigmoid", "Tanh"};
    int per = gates_of(s) == 4 ? 3 : gates_of(s) == 3 ? 2 : 1, na = 0, nb = 0;
    for (int i = 0; i < per * dirs_of(s); i++) {
        const char *n = s->n_acts ? s->acts[i] : per == 3 ? lstm[i % 3] : per == 2 ? gru[i % 2] : "Tanh";
        snprintf(out[i].name, sizeof out[i].name, "%s", n);
        int takes = !strcasecmp(n, "Affine") || !strcasecmp(n, "ScaledTanh") || !strcasecmp(n, "HardSigmoid") ? 2
                    : !strcasecmp(n, "LeakyRelu") || !strcasecmp(n, "ThresholdedRelu") || !strcasecmp(n, "Elu") ? 1
                                                                                                                 : 0;
        out[i].alpha = !strcasecmp(n, "LeakyRelu") ? 0.01 : !strcasecmp(n, "HardSigmoid") ? 0.2 : 1.0;
        out[i].beta = !strcasecmp(n, "HardSigmoid") ? 0.5 : !strcasecmp(n, "ScaledTanh") ? 1.0 : 0.0;
        if (takes >= 1 && na < s->n_alpha)
            out[i].alpha = s->alpha[na++];
        if (takes >= 2 && nb < s->n_beta)
            out[i].beta = s->beta[nb++];
    }
}

typedef struct rnn_data {
    tv x, w, r, b, h0, c0, p;
} rnn_data;

typedef struct rnn_ref {
    double *y, *yh, *yc;
} rnn_ref;

static rnn_ref reference(const rnn_spec *s, const rnn_data *v)
{
    int G = gates_of(s), D = dirs_of(s), per = G == 4 ? 3 : G == 3 ? 2 : 1;
    int64_t S = s->seq, B = s->batch, I = s->input, H = s->hidden;
    ref_act acts[MAX_ACTS];
    ref_acts(s, acts);
    rnn_ref o = {calloc((size_t)(S * D * B * H), sizeof(double)), calloc((size_t)(D * B * H), sizeof(double)),
                 calloc((size_t)(D * B * H), sizeof(double))};
    double *h = calloc((size_t)H, sizeof *h), *c = calloc((size_t)H, sizeof *c), *hn = calloc((size_t)H, sizeof *hn);
    double *pre = calloc((size_t)(G * H), sizeof *pre);
    for (int d = 0; d < D; d++) {
        bool back = D == 2 ? d == 1 : strcmp(s->direction, "reverse") == 0;
        const ref_act *f = &acts[d * per], *g = per > 1 ? &acts[d * per + 1] : NULL, *ha = per > 2 ? &acts[d * per + 2] : NULL;
        for (int64_t b = 0; b < B; b++) {
            int64_t len = s->lens ? s->lens[b] : S;
            int64_t st = s->layout ? (b * D + d) * H : (d * B + b) * H; /* state offset */
            for (int64_t j = 0; j < H; j++) {
                h[j] = s->init_h ? v->h0.v[st + j] : 0;
                c[j] = s->init_c ? v->c0.v[st + j] : 0;
            }
            for (int64_t step = 0; step < len; step++) {
                int64_t t = back ? len - 1 - step : step;
                const double *x = v->x.v + (s->layout ? b * S + t : t * B + b) * I;
                /* pre[gate j] = W x + Wb (+ R h + Rb, except GRU's candidate) */
                for (int64_t j = 0; j < G * H; j++) {
                    double acc = s->bias ? v->b.v[d * 2 * G * H + j] : 0;
                    for (int64_t k = 0; k < I; k++)
                        acc += v->w.v[(d * G * H + j) * I + k] * x[k];
                    bool candidate = G == 3 && j >= 2 * H;
                    if (!candidate) {
                        acc += s->bias ? v->b.v[d * 2 * G * H + G * H + j] : 0;
                        for (int64_t k = 0; k < H; k++)
                            acc += v->r.v[(d * G * H + j) * H + k] * h[k];
                    }
                    pre[j] = acc;
                }
                if (G == 4) {
                    const double *P = s->peepholes ? v->p.v + d * 3 * H : NULL;
                    for (int64_t j = 0; j < H; j++) {
                        double i = act(f, pre[j] + (P ? P[j] * c[j] : 0), s->clip);
                        double fg = s->input_forget ? 1 - i : act(f, pre[2 * H + j] + (P ? P[2 * H + j] * c[j] : 0), s->clip);
                        double cc = act(g, pre[3 * H + j], s->clip);
                        c[j] = fg * c[j] + i * cc;
                        double og = act(f, pre[H + j] + (P ? P[H + j] * c[j] : 0), s->clip);
                        hn[j] = og * act(ha, c[j], 0);
                    }
                } else if (G == 3) {
                    for (int64_t j = 0; j < H; j++) {
                        double z = act(f, pre[j], s->clip), r = act(f, pre[H + j], s->clip), rec = 0;
                        double rb = s->bias ? v->b.v[d * 2 * G * H + G * H + 2 * H + j] : 0;
                        if (s->linear_before_reset) {
                            for (int64_t k = 0; k < H; k++)
                                rec += v->r.v[(d * G * H + 2 * H + j) * H + k] * h[k];
                            rec = r * (rec + rb);
                        } else {
                            for (int64_t k = 0; k < H; k++)
                                rec += v->r.v[(d * G * H + 2 * H + j) * H + k] *
                                       (act(f, pre[H + k], s->clip) * h[k]);
                            rec += rb;
                        }
                        double cand = act(g, pre[2 * H + j] + rec, s->clip);
                        hn[j] = (1 - z) * cand + z * h[j];
                    }
                } else {
                    for (int64_t j = 0; j < H; j++)
                        hn[j] = act(f, pre[j], s->clip);
                }
                memcpy(h, hn, (size_t)H * sizeof *h);
                double *y = o.y + (s->layout ? ((b * S + t) * D + d) * H : ((t * D + d) * B + b) * H);
                memcpy(y, h, (size_t)H * sizeof *h);
            }
            memcpy(o.yh + st, h, (size_t)H * sizeof *h);
            memcpy(o.yc + st, c, (size_t)H * sizeof *c);
        }
    }
    free(h);
    free(c);
    free(hn);
    free(pre);
    return o;
}

/* ---- the model */

static rnn_data make_data(const rnn_spec *s, uint64_t seed)
{
    int G = gates_of(s), D = dirs_of(s);
    int64_t S = s->seq, B = s->batch, I = s->input, H = s->hidden;
    int64_t xd[3] = {s->layout ? B : S, s->layout ? S : B, I}, wd[3] = {D, G * H, I}, rd[3] = {D, G * H, H};
    int64_t bd[2] = {D, 2 * G * H}, hd[3] = {s->layout ? B : D, s->layout ? D : B, H}, pd[2] = {D, 3 * H};
    rnn_data v = {
        .x = tv_random(seed, s->dt, 3, xd, -1, 1),
        .w = tv_random(seed + 1, s->dt, 3, wd, -0.6, 0.6),
        .r = tv_random(seed + 2, s->dt, 3, rd, -0.6, 0.6),
        .b = tv_random(seed + 3, s->dt, 2, bd, -0.3, 0.3),
        .h0 = tv_random(seed + 4, s->dt, 3, hd, -0.5, 0.5),
        .c0 = tv_random(seed + 5, s->dt, 3, hd, -0.5, 0.5),
        .p = tv_random(seed + 6, s->dt, 2, pd, -0.4, 0.4),
    };
    return v;
}

static void free_data(rnn_data *v)
{
    tv_free(&v->x);
    tv_free(&v->w);
    tv_free(&v->r);
    tv_free(&v->b);
    tv_free(&v->h0);
    tv_free(&v->c0);
    tv_free(&v->p);
}

/* The one-node graph of spec s (X a graph input, the rest constants). */
static rt_graph *make_graph(const rnn_spec *s, const rnn_data *v)
{
    rt_graph *g = graph_create(s->op);
    assert_true(graph_add_input(g, "X", s->dt, 3, v->x.dims) >= 0);
    tv_constant(g, "W", &v->w);
    tv_constant(g, "R", &v->r);
    if (s->bias)
        tv_constant(g, "B", &v->b);
    if (s->lens)
        assert_true(graph_add_constant(g, "lens", RT_DT_I32, 1, (int64_t[]){s->batch}, s->lens,
                                       (uint64_t)s->batch * sizeof(int32_t)) >= 0);
    if (s->init_h)
        tv_constant(g, "h0", &v->h0);
    if (s->init_c)
        tv_constant(g, "c0", &v->c0);
    if (s->peepholes)
        tv_constant(g, "P", &v->p);
    bool lstm = gates_of(s) == 4;
    const char *ins[8] = {"X", "W", "R", s->bias ? "B" : "", s->lens ? "lens" : "", s->init_h ? "h0" : "",
                          s->init_c ? "c0" : "", s->peepholes ? "P" : ""};
    int n_in = lstm ? (s->peepholes ? 8 : s->init_c ? 7 : 6) : 6;
    const char *outs[3] = {"Y", "Y_h", "Y_c"};
    int nd = graph_add_node(g, s->op, "rnn", n_in, ins, lstm ? 3 : 2, outs);
    assert_true(nd >= 0);
    assert_int_equal(graph_node_set_string(g, nd, "direction", s->direction), RT_OK);
    assert_int_equal(graph_node_set_int(g, nd, "hidden_size", s->hidden), RT_OK);
    if (s->layout)
        graph_node_set_int(g, nd, "layout", s->layout);
    if (s->clip > 0)
        graph_node_set_float(g, nd, "clip", (float)s->clip);
    if (s->linear_before_reset)
        graph_node_set_int(g, nd, "linear_before_reset", 1);
    if (s->input_forget)
        graph_node_set_int(g, nd, "input_forget", 1);
    if (s->n_acts)
        graph_node_set_strings(g, nd, "activations", (size_t)s->n_acts, s->acts);
    if (s->n_alpha)
        graph_node_set_floats(g, nd, "activation_alpha", (size_t)s->n_alpha, s->alpha);
    if (s->n_beta)
        graph_node_set_floats(g, nd, "activation_beta", (size_t)s->n_beta, s->beta);
    for (int i = 0; i < (lstm ? 3 : 2); i++)
        graph_mark_output(g, graph_find_tensor(g, outs[i]));
    return g;
}

static void check_spec(const rnn_spec *s, const char *file)
{
    rnn_data v = make_data(s, 1000 + (uint64_t)s->hidden);
    rnn_ref ref = reference(s, &v);
    rt_graph *h;
    char path[512];
    test_path(path, sizeof path, file);
    cpu_exec *ex = model_run(make_graph(s, &v), path, 1, (const char *[]){"X"}, &v.x, &h);
    int D = dirs_of(s);
    int64_t S = s->seq, B = s->batch, H = s->hidden;
    int64_t yd[4] = {S, D, B, H}, hd[3] = {D, B, H};
    if (s->layout) {
        int64_t y1[4] = {B, S, D, H}, h1[3] = {B, D, H};
        memcpy(yd, y1, sizeof y1);
        memcpy(hd, h1, sizeof h1);
    }
    double tol = dtype_tolerance(s->dt);
    double e_y = output_error(ex, "Y", s->dt, 4, yd, ref.y), e_h = output_error(ex, "Y_h", s->dt, 3, hd, ref.yh);
    double e_c = gates_of(s) == 4 ? output_error(ex, "Y_c", s->dt, 3, hd, ref.yc) : 0;
    if (!(e_y <= tol && e_h <= tol && e_c <= tol))
        fail_msg("%s (%s): relative errors Y %g, Y_h %g, Y_c %g > %g", s->op, file, e_y, e_h, e_c, tol);
    cpu_exec_free(ex);
    graph_free(h);
    free(ref.y);
    free(ref.yh);
    free(ref.yc);
    free_data(&v);
}

static const int32_t lens3[3] = {5, 2, 4};

static void test_lstm_bidirectional(void **state)
{
    (void)state;
    /* peepholes, sequence_lens, initial states, bias, default activations */
    const rnn_spec s = {.op = "LSTM", .direction = "bidirectional", .seq = 5, .batch = 3, .input = 4, .hidden = 6,
                        .dt = RT_DT_F32, .bias = true, .init_h = true, .init_c = true, .peepholes = true,
                        .lens = lens3};
    check_spec(&s, "lstm_bidirectional.onnx");
    rnn_spec f64 = s;
    f64.dt = RT_DT_F64;
    check_spec(&f64, "lstm_bidirectional_f64.onnx");
    rnn_spec f16 = s;
    f16.dt = RT_DT_F16;
    check_spec(&f16, "lstm_bidirectional_f16.onnx");
}

static void test_lstm_reverse_layout1_options(void **state)
{
    (void)state;
    /* layout 1, reverse, input_forget, clip, explicit activations with alpha and beta */
    const rnn_spec s = {.op = "LSTM", .direction = "reverse", .layout = 1, .seq = 4, .batch = 2, .input = 3,
                        .hidden = 5, .dt = RT_DT_F32, .bias = true, .init_h = true, .init_c = true, .clip = 0.7,
                        .input_forget = 1, .n_acts = 3, .acts = {"HardSigmoid", "Softsign", "ScaledTanh"},
                        .n_alpha = 2, .alpha = {0.3f, 1.5f}, .n_beta = 2, .beta = {0.4f, 0.7f}};
    check_spec(&s, "lstm_reverse.onnx");
}

static void test_gru(void **state)
{
    (void)state;
    const rnn_spec bi = {.op = "GRU", .direction = "bidirectional", .seq = 5, .batch = 3, .input = 4, .hidden = 7,
                         .dt = RT_DT_F32, .bias = true, .init_h = true, .lens = lens3};
    check_spec(&bi, "gru_bidirectional.onnx");
    const rnn_spec lbr = {.op = "GRU", .direction = "forward", .layout = 1, .seq = 6, .batch = 2, .input = 3,
                          .hidden = 4, .dt = RT_DT_F16, .bias = true, .linear_before_reset = 1, .clip = 2.0};
    check_spec(&lbr, "gru_linear_before_reset.onnx");
    const rnn_spec acts = {.op = "GRU", .direction = "reverse", .seq = 3, .batch = 2, .input = 2, .hidden = 3,
                           .dt = RT_DT_F32, .n_acts = 2, .acts = {"Affine", "Elu"}, .n_alpha = 2,
                           .alpha = {0.5f, 0.8f}, .n_beta = 1, .beta = {0.1f}};
    check_spec(&acts, "gru_activations.onnx");
}

static void test_rnn(void **state)
{
    (void)state;
    const rnn_spec bi = {.op = "RNN", .direction = "bidirectional", .seq = 4, .batch = 3, .input = 3, .hidden = 5,
                         .dt = RT_DT_F32, .bias = true, .init_h = true, .lens = (const int32_t[]){4, 1, 3},
                         .n_acts = 2, .acts = {"LeakyRelu", "ThresholdedRelu"}, .n_alpha = 2,
                         .alpha = {0.2f, 0.1f}};
    check_spec(&bi, "rnn_bidirectional.onnx");
    const rnn_spec dflt = {.op = "RNN", .direction = "forward", .layout = 1, .seq = 3, .batch = 2, .input = 4,
                           .hidden = 3, .dt = RT_DT_BF16};
    check_spec(&dflt, "rnn_defaults_bf16.onnx");
}

/* Attribute and input errors: graph preparation (shape inference) or the kernel names them. */
static void expect_error(const rnn_spec *s, void (*tweak)(rt_graph *), rt_status code, const char *msg)
{
    rnn_data v = make_data(s, 7);
    rt_graph *g = make_graph(s, &v);
    if (tweak)
        tweak(g);
    rt_error e = {0};
    rt_status st = graph_prepare(g, &e);
    if (st == RT_OK) {
        cpu_exec *ex;
        assert_int_equal(cpu_exec_create(g, &ex, &e), RT_OK);
        rt_tensor *x = rt_tensor_new("X", s->dt, 3, v.x.dims);
        assert_int_equal(rt_tensor_alloc(x, NULL), RT_OK);
        assert_int_equal(cpu_exec_set_input(ex, "X", x, &e), RT_OK);
        st = cpu_exec_run(ex, &e);
        rt_tensor_free(x);
        cpu_exec_free(ex);
    }
    if (st != code || !strstr(e.msg, msg))
        fail_msg("status %d '%s', expected %d with '%s'", st, e.msg, code, msg);
    graph_free(g);
    free_data(&v);
}

static void set_sideways(rt_graph *g)
{
    graph_node_set_string(g, 0, "direction", "sideways");
}

static void set_bad_hidden(rt_graph *g)
{
    graph_node_set_int(g, 0, "hidden_size", 9);
}

static void test_errors(void **state)
{
    (void)state;
    const rnn_spec lstm = {.op = "LSTM", .direction = "forward", .seq = 3, .batch = 2, .input = 2, .hidden = 3,
                           .dt = RT_DT_F32};
    expect_error(&lstm, set_sideways, RT_ERR_ATTR, "direction 'sideways' is not forward, reverse or bidirectional");
    expect_error(&lstm, set_bad_hidden, RT_ERR_SHAPE, "W ('W') has shape [1,12,2], expected [1,36,2]");
    rnn_spec acts = lstm;
    acts.n_acts = 2;
    acts.acts[0] = "Sigmoid";
    acts.acts[1] = "Tanh";
    expect_error(&acts, NULL, RT_ERR_ATTR, "activations has 2 names, expected 3 (3 per direction)");
    rnn_spec unknown = lstm;
    unknown.n_acts = 3;
    unknown.acts[0] = "Sigmoid";
    unknown.acts[1] = "Swish";
    unknown.acts[2] = "Tanh";
    expect_error(&unknown, NULL, RT_ERR_ATTR, "activation 'Swish' is not one of");
    rnn_spec lens = lstm;
    lens.lens = (const int32_t[]){2, 9};
    expect_error(&lens, NULL, RT_ERR_SHAPE, "sequence_lens[1] = 9 is outside [0, 3]");
}

/* The cost: dirs * seq * batch * gates * hidden * (input + hidden) MACs. */
static void test_cost(void **state)
{
    (void)state;
    const rnn_spec s = {.op = "GRU", .direction = "bidirectional", .seq = 5, .batch = 3, .input = 4, .hidden = 7,
                        .dt = RT_DT_F32, .bias = true};
    rnn_data v = make_data(&s, 3);
    rt_graph *g = make_graph(&s, &v);
    rt_error e = {0};
    assert_int_equal(graph_prepare(g, &e), RT_OK);
    rt_cost c;
    assert_int_equal(graph_node_cost(g, 0, &c, &e), RT_OK);
    assert_true(c.macs == 2.0 * 5 * 3 * 3 * 7 * (4 + 7));
    assert_true(c.flops > 2 * c.macs);
    graph_free(g);
    free_data(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lstm_bidirectional),
        cmocka_unit_test(test_lstm_reverse_layout1_options),
        cmocka_unit_test(test_gru),
        cmocka_unit_test(test_rnn),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
