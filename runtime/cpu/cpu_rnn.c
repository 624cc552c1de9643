/* cpu_rnn.c -- CPU kernels of the recurrent ops LSTM, GRU and RNN: forward, reverse and
 * bidirectional, layouts 0 and 1, any ONNX activation (with activation_alpha / _beta),
 * sequence_lens, initial states, LSTM peepholes and input_forget, GRU linear_before_reset, clip.
 *
 * Everything computes in f64 after one conversion of each input (cpu_dense.h), so f16, bf16,
 * f32 and f64 models share one path and the result is rounded once. The input projection of
 * all steps is one GEMM per direction (X W^T), the recurrent projection one GEMM per step
 * (H R^T), both through OpenBLAS; the gates are elementwise. Attributes and shapes were decoded
 * and checked by ops_rnn_params (runtime/ops/ops_infer_rnn.c), the same code inference runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_dense.h"
#include "cpu_util.h"
#include "ops_geom.h"

/* Inputs as f64 arrays (NULL when absent), outputs as f64 buffers (NULL when not requested),
 * and the per-direction scratch. */
typedef struct rnn_run {
    const ops_rnn *p;
    const rt_op_ctx *c;
    double *in[OPS_RNN_P + 1];
    bool in_owned[OPS_RNN_P + 1];
    double *out[3];
    bool out_owned[3];
    int64_t *lens;  /* [batch] steps of each sequence */
    double *xw;     /* [seq * batch, gates * hidden]: X W^T + biases, rows in X's order */
    double *hr;     /* [batch, gates * hidden]: H R^T of the current step (then the gates) */
    double *h, *cs; /* [batch, hidden]: hidden and cell state */
    double *rh, *rhr; /* [batch, hidden]: GRU (r . H) and (r . H) Rh^T */
    double *vec;    /* [hidden]: one activation's scratch */
} rnn_run;

/* v = act(clip(v)) over n elements: one switch per call, a plain loop inside. */
static void act_apply(const ops_rnn_act *a, double clip, double *v, int64_t n)
{
    if (clip > 0)
        for (int64_t i = 0; i < n; i++)
            v[i] = v[i] < -clip ? -clip : v[i] > clip ? clip : v[i];
    double al = a->alpha, be = a->beta;
    switch (a->kind) {
    case OPS_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++)
            v[i] = 1.0 / (1.0 + exp(-v[i]));
        break;
    case OPS_ACT_TANH:
        for (int64_t i = 0; i < n; i++)
            v[i] = tanh(v[i]);
        break;
    case OPS_ACT_RELU:
        for (int64_t i = 0; i < n; i++)
            v[i] = v[i] > 0 ? v[i] : 0;
        break;
    case OPS_ACT_AFFINE:
        for (int64_t i = 0; i < n; i++)
            v[i] = al * v[i] + be;
        break;
    case OPS_ACT_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++)
            v[i] = v[i] >= 0 ? v[i] : al * v[i];
        break;
    case OPS_ACT_THRESHOLDED_RELU:
        for (int64_t i = 0; i < n; i++)
            v[i] = v[i] > al ? v[i] : 0;
        break;
    case OPS_ACT_SCALED_TANH:
        for (int64_t i = 0; i < n; i++)
            v[i] = al * tanh(be * v[i]);
        break;
    case OPS_ACT_HARD_SIGMOID:
        for (int64_t i = 0; i < n; i++) {
            double t = al * v[i] + be;
            v[i] = t < 0 ? 0 : t > 1 ? 1 : t;
        }
        break;
    case OPS_ACT_ELU:
        for (int64_t i = 0; i < n; i++)
            v[i] = v[i] >= 0 ? v[i] : al * (exp(v[i]) - 1.0);
        break;
    case OPS_ACT_SOFTSIGN:
        for (int64_t i = 0; i < n; i++)
            v[i] = v[i] / (1.0 + fabs(v[i]));
        break;
    case OPS_ACT_SOFTPLUS:
        for (int64_t i = 0; i < n; i++)
            v[i] = log1p(exp(v[i]));
        break;
    }
}

static int64_t x_row(const ops_rnn *p, int64_t t, int64_t b)
{
    return p->layout ? b * p->seq + t : t * p->batch + b;
}

static int64_t y_off(const ops_rnn *p, int64_t t, int d, int64_t b)
{
    return (p->layout ? (b * p->seq + t) * p->dirs + d : (t * p->dirs + d) * p->batch + b) * p->hidden;
}

static int64_t state_off(const ops_rnn *p, int d, int64_t b)
{
    return (p->layout ? b * p->dirs + d : d * p->batch + b) * p->hidden;
}

/* One LSTM step of batch element b: gates g = [i, o, f, c] pre-activations (X and H terms and
 * biases summed), c and h updated in place. */
static void lstm_cell(const rnn_run *r, int d, double *g, double *c, double *h)
{
    const ops_rnn *p = r->p;
    int64_t H = p->hidden;
    const double *peep = r->in[OPS_RNN_P] ? r->in[OPS_RNN_P] + d * 3 * H : NULL; /* Pi, Po, Pf */
    double *gi = g, *go = g + H, *gf = g + 2 * H, *gc = g + 3 * H;
    if (peep)
        for (int64_t j = 0; j < H; j++) {
            gi[j] += peep[j] * c[j];
            gf[j] += peep[2 * H + j] * c[j];
        }
    act_apply(&p->act[d][0], p->clip, gi, H);
    if (p->input_forget)
        for (int64_t j = 0; j < H; j++)
            gf[j] = 1.0 - gi[j];
    else
        act_apply(&p->act[d][0], p->clip, gf, H);
    act_apply(&p->act[d][1], p->clip, gc, H);
    for (int64_t j = 0; j < H; j++)
        c[j] = gf[j] * c[j] + gi[j] * gc[j];
    if (peep)
        for (int64_t j = 0; j < H; j++)
            go[j] += peep[H + j] * c[j];
    act_apply(&p->act[d][0], p->clip, go, H);
    memcpy(r->vec, c, (size_t)H * sizeof *c);
    act_apply(&p->act[d][2], 0, r->vec, H); /* clip bounds the gates' inputs, not the cell */
    for (int64_t j = 0; j < H; j++)
        h[j] = go[j] * r->vec[j];
}

/* The batch elements still running at step s, and the time index each is at. */
static bool step_time(const rnn_run *r, bool backward, int64_t s, int64_t b, int64_t *t)
{
    if (s >= r->lens[b])
        return false;
    *t = backward ? r->lens[b] - 1 - s : s;
    return true;
}

static rt_status run_direction(rnn_run *r, int d)
{
    const ops_rnn *p = r->p;
    const rt_op_ctx *c = r->c;
    int64_t S = p->seq, B = p->batch, I = p->input, H = p->hidden, G = p->gates, GH = G * H;
    bool backward = p->dirs == 2 ? d == 1 : p->reverse;
    bool gru = G == 3, lstm = G == 4;
    const double *w = r->in[OPS_RNN_W] + d * GH * I, *rw = r->in[OPS_RNN_R] + d * GH * H;
    const double *bias = r->in[OPS_RNN_B] ? r->in[OPS_RNN_B] + d * 2 * GH : NULL;
    /* input projection of every step at once, plus Wb + Rb (GRU with linear_before_reset keeps
     * Rbh for inside the reset product) */
    rt_status s = cpu_gemm_f64(c, false, true, S * B, GH, I, 1, r->in[OPS_RNN_X], I, w, I, 0, r->xw, GH);
    if (s != RT_OK)
        return s;
    if (bias)
        for (int64_t row = 0; row < S * B; row++)
            for (int64_t j = 0; j < GH; j++)
                r->xw[row * GH + j] += bias[j] + (gru && p->linear_before_reset && j >= 2 * H ? 0 : bias[GH + j]);
    for (int64_t b = 0; b < B; b++) {
        const double *h0 = r->in[OPS_RNN_INIT_H], *c0 = r->in[OPS_RNN_INIT_C];
        for (int64_t j = 0; j < H; j++) {
            r->h[b * H + j] = h0 ? h0[state_off(p, d, b) + j] : 0;
            r->cs[b * H + j] = c0 ? c0[state_off(p, d, b) + j] : 0;
        }
    }
    int64_t t;
    for (int64_t st = 0; st < S; st++) {
        if ((s = cpu_gemm_f64(c, false, true, B, GH, H, 1, r->h, H, rw, H, 0, r->hr, GH)) != RT_OK)
            return s;
        for (int64_t b = 0; b < B; b++) {
            if (!step_time(r, backward, st, b, &t))
                continue;
            double *g = r->hr + b * GH, *h = r->h + b * H;
            const double *xg = r->xw + x_row(p, t, b) * GH;
            if (gru) { /* z and r now; the candidate after the reset product below */
                for (int64_t j = 0; j < 2 * H; j++)
                    g[j] += xg[j];
                act_apply(&p->act[d][0], p->clip, g, 2 * H);
                for (int64_t j = 0; j < H; j++)
                    r->rh[b * H + j] = g[H + j] * h[j];
                continue;
            }
            for (int64_t j = 0; j < GH; j++)
                g[j] += xg[j];
            if (lstm) {
                lstm_cell(r, d, g, r->cs + b * H, h);
            } else {
                act_apply(&p->act[d][0], p->clip, g, H);
                memcpy(h, g, (size_t)H * sizeof *h);
            }
        }
        if (gru && !p->linear_before_reset &&
            (s = cpu_gemm_f64(c, false, true, B, H, H, 1, r->rh, H, rw + 2 * H * H, H, 0, r->rhr, H)) != RT_OK)
            return s;
        for (int64_t b = 0; gru && b < B; b++) {
            if (!step_time(r, backward, st, b, &t))
                continue;
            double *g = r->hr + b * GH, *h = r->h + b * H, *cand = g + 2 * H;
            const double *xg = r->xw + x_row(p, t, b) * GH;
            for (int64_t j = 0; j < H; j++)
                cand[j] = xg[2 * H + j] + (p->linear_before_reset
                                               ? g[H + j] * (cand[j] + (bias ? bias[GH + 2 * H + j] : 0))
                                               : r->rhr[b * H + j]);
            act_apply(&p->act[d][1], p->clip, cand, H);
            for (int64_t j = 0; j < H; j++)
                h[j] = (1.0 - g[j]) * cand[j] + g[j] * h[j];
        }
        for (int64_t b = 0; r->out[0] && b < B; b++)
            if (step_time(r, backward, st, b, &t))
                memcpy(r->out[0] + y_off(p, t, d, b), r->h + b * H, (size_t)H * sizeof(double));
    }
    for (int64_t b = 0; b < B; b++) {
        if (r->out[1])
            memcpy(r->out[1] + state_off(p, d, b), r->h + b * H, (size_t)H * sizeof(double));
        if (r->out[2])
            memcpy(r->out[2] + state_off(p, d, b), r->cs + b * H, (size_t)H * sizeof(double));
    }
    return RT_OK;
}

static void run_free(rnn_run *r)
{
    for (int i = 0; i <= OPS_RNN_P; i++)
        cpu_dense_release(r->in[i], r->in_owned[i]);
    free(r->lens);
    free(r->xw);
    free(r->hr);
    free(r->h);
    free(r->cs);
    free(r->rh);
    free(r->rhr);
    free(r->vec);
}

static void *scratch(int64_t n)
{
    return calloc((size_t)(n > 0 ? n : 1), sizeof(double));
}

rt_status cpu_rnn(rt_op_ctx *c)
{
    ops_rnn p;
    rt_status s = ops_rnn_params(c, &p);
    if (s != RT_OK)
        return s;
    rnn_run r = {.p = &p, .c = c};
    int64_t B = p.batch, H = p.hidden, GH = p.gates * H;
    r.lens = malloc((size_t)(B > 0 ? B : 1) * sizeof *r.lens);
    r.xw = scratch(p.seq * B * GH);
    r.hr = scratch(B * GH);
    r.h = scratch(B * H);
    r.cs = scratch(B * H);
    r.rh = scratch(B * H);
    r.rhr = scratch(B * H);
    r.vec = scratch(H);
    bool ok = r.lens && r.xw && r.hr && r.h && r.cs && r.rh && r.rhr && r.vec;
    for (int i = 0; i <= OPS_RNN_P && ok; i++)
        if (i != OPS_RNN_SEQ_LENS && ops_has_input(c, i))
            ok = (r.in[i] = cpu_dense_read_f64(c, c->in[i], &r.in_owned[i])) != NULL;
    if (!ok) {
        run_free(&r);
        return ops_err(c, RT_ERR_NOMEM, "out of memory (recurrent state)");
    }
    const rt_tensor *lens = ops_has_input(c, OPS_RNN_SEQ_LENS) ? c->in[OPS_RNN_SEQ_LENS] : NULL;
    for (int64_t b = 0; b < B; b++) {
        r.lens[b] = lens ? cpu_ldi(lens->dtype, lens->data, b) : p.seq;
        int64_t len = r.lens[b];
        if (len < 0 || len > p.seq) {
            run_free(&r);
            return ops_err(c, RT_ERR_SHAPE, "sequence_lens[%lld] = %lld is outside [0, %lld]", (long long)b,
                           (long long)len, (long long)p.seq);
        }
    }
    for (int i = 0; i < 3 && i < c->n_out && ok; i++)
        if (c->out[i]) {
            ok = (r.out[i] = cpu_dense_out_f64(c, c->out[i], &r.out_owned[i])) != NULL;
            if (ok) /* steps past a sequence's length stay 0 */
                memset(r.out[i], 0, (size_t)rt_tensor_numel(c->out[i]) * sizeof(double));
        }
    s = ok ? RT_OK : RT_ERR_NOMEM;
    for (int d = 0; d < p.dirs && s == RT_OK; d++)
        s = run_direction(&r, d);
    for (int i = 0; i < 3; i++)
        if (r.out[i]) {
            if (s == RT_OK)
                cpu_dense_commit_f64(c->out[i], r.out[i], r.out_owned[i]);
            else
                cpu_dense_release(r.out[i], r.out_owned[i]);
        }
    run_free(&r);
    return s;
}
