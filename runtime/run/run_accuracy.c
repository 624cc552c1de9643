/* run_accuracy.c -- how far an output of the NPU path is from the FP32 reference, in the numbers
 * quantisation papers and toolchains report: the max absolute error (and relative to the largest
 * |reference|), the relative L2 error, the SQNR in dB and, for outputs that are class scores or
 * sequences of them (last axis = classes), the fraction of rows whose argmax agrees.
 *
 * Which outputs are class scores: those the caller names (run_options.class_outputs, `m4npu run
 * --class-scores NAME`) and those a Softmax or LogSoftmax over the last axis produces, seen
 * through view ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity). */
#include <math.h>
#include <string.h>

#include "ops.h"
#include "run_internal.h"

#define SOFTMAX_LAST_AXIS_OPSET 13 /* from opset 13 Softmax's axis defaults to -1 */
#define DB_PER_DECADE 10.0

static bool is_view(rt_op_id op)
{
    return op == RT_OP_Reshape || op == RT_OP_Flatten || op == RT_OP_Squeeze || op == RT_OP_Unsqueeze ||
           op == RT_OP_Identity;
}

/* Is tensor t (through views) the output of a Softmax / LogSoftmax over its last axis? */
static bool softmax_over_last_axis(const rt_graph *g, int t)
{
    for (int hops = 0; hops < g->n_nodes && t >= 0; hops++) {
        int p = g->tensors[t]->producer;
        if (p < 0)
            return false;
        const rt_node *n = &g->nodes[p];
        if (is_view(n->op)) {
            t = n->n_inputs > 0 ? n->inputs[0] : -1;
            continue;
        }
        if (n->op != RT_OP_Softmax && n->op != RT_OP_LogSoftmax)
            return false;
        const rt_tensor *x = n->n_inputs > 0 && n->inputs[0] >= 0 ? g->tensors[n->inputs[0]] : NULL;
        if (!x || x->rank < 1)
            return false;
        bool old = graph_opset(g, n->domain) < SOFTMAX_LAST_AXIS_OPSET;
        int64_t axis = rt_node_attr_int(n, "axis", old ? 1 : -1);
        if (axis < 0)
            axis += x->rank;
        return axis == x->rank - 1;
    }
    return false;
}

bool run_output_is_class_scores(const rt_graph *g, const run_options *o, int t)
{
    const rt_tensor *v = g->tensors[t];
    if (v->rank < 1 || v->dims[v->rank - 1] < 2)
        return false;
    for (int i = 0; o && i < o->n_class_outputs; i++)
        if (strcmp(o->class_outputs[i], v->name) == 0)
            return true;
    return softmax_over_last_axis(g, t);
}

/* First index of the largest value of row[0..n-1]; a NaN is never the largest. */
static int64_t argmax_row(const rt_tensor *v, int64_t first, int64_t n)
{
    int64_t best = 0;
    double bv = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        double x = rt_tensor_get_f64(v, first + i);
        if (x > bv) {
            bv = x;
            best = i;
        }
    }
    return best;
}

void run_accuracy(run_output *o, bool class_scores)
{
    o->max_abs = o->max_rel = o->ref_max_abs = 0;
    o->rel_l2 = o->sqnr_db = 0;
    o->argmax_rows = o->argmax_agree = 0;
    o->class_scores = class_scores;
    int64_t n = rt_tensor_numel(o->reference);
    double signal = 0, noise = 0;
    bool nan = false;
    for (int64_t i = 0; i < n; i++) {
        double want = rt_tensor_get_f64(o->reference, i), got = rt_tensor_get_f64(o->value, i);
        double d = fabs(got - want);
        if (!(d <= o->max_abs)) /* NaN propagates */
            o->max_abs = d;
        nan |= isnan(d);
        if (fabs(want) > o->ref_max_abs)
            o->ref_max_abs = fabs(want);
        signal += want * want;
        noise += d * d;
    }
    o->max_rel = o->ref_max_abs > 0 ? o->max_abs / o->ref_max_abs : (o->max_abs > 0 ? INFINITY : 0);
    if (nan) {
        o->rel_l2 = o->sqnr_db = NAN;
    } else {
        o->rel_l2 = signal > 0 ? sqrt(noise / signal) : (noise > 0 ? INFINITY : 0);
        /* an exact output has infinite SQNR; a zero reference with any error, minus infinity */
        o->sqnr_db = noise == 0 ? INFINITY : signal == 0 ? -INFINITY : DB_PER_DECADE * log10(signal / noise);
    }
    if (!class_scores || o->reference->rank < 1)
        return;
    int64_t classes = o->reference->dims[o->reference->rank - 1];
    if (classes < 1)
        return;
    o->argmax_rows = n / classes;
    for (int64_t r = 0; r < o->argmax_rows; r++)
        o->argmax_agree += argmax_row(o->value, r * classes, classes) == argmax_row(o->reference, r * classes, classes);
}
