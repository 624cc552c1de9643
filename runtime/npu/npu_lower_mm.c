/* npu_lower_mm.c -- lowering MatMul, Gemm and Conv: the array's ops. Weights are packed here
 * (float weights quantised per output channel in the segment's format; int8/int4 weights read
 * through their Cast as they are), and a following Mul by per-channel scales, Add of a bias and
 * Relu/Gelu fold into the same descriptor when nothing else reads the intermediate. With the
 * output stage switched on (npu.matmul.output_stage.enabled) the epilogue becomes its records and
 * table (npu_out_stage.c) in in2; else in2 is the f32 bias for the vector unit. Conv padding
 * becomes a box copy into a zero-bordered buffer; a 3-D kernel spanning the depth becomes 2-D.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "npu_lower.h"

/* ---------------------------------------------------------------- fusion */

/* The only node reading t, if it is a later node of this segment and t is no graph output. */
static int sole_consumer(const npu_lower *L, int t)
{
    if (!L->s)
        return -1;
    const int *users;
    if (graph_is_output(L->g, t) || graph_tensor_users(L->g, t, &users) != 1)
        return -1;
    int found = users[0];
    if (npu_seg_pos(L->s, found) <= L->pos)
        return -1;
    return found;
}

/* A constant of `n` values along `axis` of a rank-r output (ones elsewhere), e.g. a bias [N] for
 * a MatMul, [CO, 1, 1] or [1, CO, 1, 1] for a Conv. */
static bool is_channel_vector(const rt_tensor *c, int64_t n, int out_rank, int axis)
{
    if (rt_tensor_numel(c) != n || c->rank > out_rank)
        return false;
    for (int i = 0; i < c->rank; i++) {
        int oa = out_rank - c->rank + i;
        if (c->dims[i] != (oa == axis ? n : 1))
            return false;
    }
    return true;
}

/* If node c is `op(y, k)` (either order) with k a constant channel vector usable here, returns k. */
static int channel_operand(const npu_lower *L, int c, int op, int y, int64_t channels, int out_rank, int axis)
{
    const rt_node *n = &L->g->nodes[c];
    if (n->op != op || n->n_inputs != 2 || n->n_outputs < 1 || n->outputs[0] < 0 ||
        !nl_float_act(nl_tensor(L, n->outputs[0])->dtype) || nl_numel(L, n->outputs[0]) != nl_numel(L, y))
        return -1;
    int other = n->inputs[0] == y ? n->inputs[1] : n->inputs[0];
    if (other < 0 || other == y || !nl_is_const(L, other) ||
        (!L->s->timing_only && !nl_tensor(L, nl_csrc(L, other))->data) ||
        !is_channel_vector(nl_tensor(L, other), channels, out_rank, axis))
        return -1;
    return other;
}

/* Absorb Mul(y, scales), then Add(y, bias), then an activation (nl_fused_act) after a
 * MatMul/Gemm/Conv writing y, each only where the intermediate has no other reader. */
epilogue_fusion nl_fuse_epilogue(npu_lower *L, int y, int64_t channels, int channel_axis, bool have_bias,
                                 bool scale_ok)
{
    epilogue_fusion f = {y, -1, -1, -1, NPU_ACT_NONE, {0.0f, 0.0f}};
    if (L->mode == NPU_LOWER_CHECK)
        return f;
    int out_rank = nl_tensor(L, y)->rank;
    int c = sole_consumer(L, y), k;
    if (c >= 0 && scale_ok && !have_bias &&
        (k = channel_operand(L, c, RT_OP_Mul, f.out, channels, out_rank, channel_axis)) >= 0) {
        f.scale = k;
        f.out = L->g->nodes[c].outputs[0];
        npu_fuse_into(L->s, c, L->node);
        c = sole_consumer(L, f.out);
    }
    if (c >= 0 && !have_bias && (k = channel_operand(L, c, RT_OP_Add, f.out, channels, out_rank, channel_axis)) >= 0) {
        f.bias = k;
        f.out = L->g->nodes[c].outputs[0];
        npu_fuse_into(L->s, c, L->node);
        c = sole_consumer(L, f.out);
    }
    if (c >= 0 && L->g->nodes[c].n_outputs >= 1 && L->g->nodes[c].outputs[0] >= 0 &&
        nl_float_act(nl_tensor(L, L->g->nodes[c].outputs[0])->dtype)) {
        const rt_node *n = &L->g->nodes[c];
        float prm[2];
        int32_t act = nl_fused_act(L, c, prm);
        if (act != NPU_ACT_NONE) {
            f.act = act;
            f.prm[0] = prm[0];
            f.prm[1] = prm[1];
            f.pre = f.out;
            f.out = n->outputs[0];
            npu_fuse_into(L->s, c, L->node);
        }
    }
    return f;
}

/* Multiply scales[0..n-1] by the fused per-channel multiplier (if any). */
static void apply_channel_scale(const npu_lower *L, int scale_t, float *scales, int64_t n)
{
    if (scale_t < 0)
        return;
    float *m = nl_const_f32(L, scale_t);
    for (int64_t i = 0; m && i < n; i++)
        scales[i] *= m[i];
    free(m);
}

/* ---------------------------------------------------------------- the output stage */

/* A tensor's calibrated per-tensor scale, or `fallback`. */
static double calibrated_scale(const npu_lower *L, int t, double fallback)
{
    const rt_quant *q = t >= 0 ? &nl_tensor(L, t)->quant : NULL;
    if (q && q->scheme == RT_QUANT_PER_TENSOR && q->count >= 1 && q->scales && q->scales[0] > 0.0f &&
        isfinite(q->scales[0]))
        return q->scales[0];
    return fallback;
}

/* The epilogue of d (its act in `act`, its output already set) as output-stage parameters in in2:
 * `channels` records and, for a table activation, the table, in one parameter blob. The records
 * need the accumulator's scale per channel: in0's scale times the weight scale (w_scales[channel],
 * or w_scale for all); bias (f32, or NULL) is the channel's bias. In a numeric segment a channel
 * the stage cannot express makes the descriptor keep the vector epilogue instead (in2 the f32 bias
 * in the same blob, or no in2): the choice is made per op, from the values, and said in
 * runtime/npu/README.md. */
static void lower_out_stage(npu_lower *L, npu_op_desc *d, int32_t act, const float prm[2], int64_t channels,
                            uint64_t k, const float *w_scales, float w_scale, const float *bias, int pre)
{
    bool table = npu_out_stage_uses_table(act);
    uint64_t rec_bytes = ISA_MM_OUT_RECORD_BYTES * (uint64_t)channels;
    npu_cref c = nl_blob(L, NPU_BLOB_PARAM, rec_bytes + (table ? ISA_MM_OUT_LUT_ENTRIES : 0));
    int64_t words = (int64_t)((rec_bytes + (table ? ISA_MM_OUT_LUT_ENTRIES : 0)) / 4);
    d->n_inputs = 3;
    d->in[2] = nl_make_ref(c.buf, NPU_DT_I32, c.offset, 0.0f, 1, &words);
    if (!c.host)
        return; /* planning, or a timing-only segment: the place is all it needs */
    double sa = d->in[0].scale, so = d->out.scale;
    double s_in = table ? calibrated_scale(L, pre, so) : so; /* the requantised value the table reads */
    bool ok = true;
    for (int64_t i = 0; i < channels && ok; i++) {
        isa_mm_out_record r;
        ok = npu_out_stage_channel(sa * (double)(w_scales ? w_scales[i] : w_scale), s_in, bias ? bias[i] : 0.0,
                                   k, &r);
        npu_out_stage_put(c.host + ISA_MM_OUT_RECORD_BYTES * (uint64_t)i, &r);
    }
    if (ok && table)
        npu_out_stage_table((int8_t *)c.host + rec_bytes, act, prm, s_in, so);
    if (ok)
        return;
    if (bias) { /* the vector epilogue: the f32 bias where the records were */
        memcpy(c.host, bias, (size_t)channels * sizeof *bias);
        d->in[2] = nl_make_ref(c.buf, NPU_DT_F32, c.offset, 0.0f, 1, &channels);
    } else {
        d->n_inputs = 2;
        d->in[2].buf = NPU_NO_BUFFER;
    }
}

/* Can d's epilogue go to the output stage: switched on, int32 products of integer operands summed
 * in one pass (no per-group weight scales), an int8 output? (firmware/src/ops/fw_epilogue.c.) */
static bool stage_applies(const npu_lower *L, const npu_op_desc *d, int32_t group)
{
    bool int_ops = d->in[0].dtype != NPU_DT_F16 && d->in[1].dtype != NPU_DT_F16 && d->in[0].dtype != NPU_DT_I16;
    return L->dev->matmul.output_stage.enabled && int_ops && group == 0 && d->out.dtype == NPU_DT_I8;
}

/* The host bytes of a parameter-buffer constant a descriptor already refers to (numeric EMIT). */
static const float *param_host(const npu_lower *L, uint32_t buf, uint64_t offset)
{
    if (L->mode != NPU_LOWER_EMIT || !L->s || L->s->timing_only || buf != NPU_BUF_PARAM || !L->s->param_host)
        return NULL;
    return (const float *)(L->s->param_host + offset);
}

/* ---------------------------------------------------------------- matmul and gemm */

/* SRAM bytes the firmware's smallest matmul tiling (one row, one k per chunk, one tile per group:
 * op_matmul.c's plan_tiling at its end) takes with column tiles of `nb`, two slots of every stage,
 * each region aligned, the output stage's records (12 bytes per column, more than the 8 of the
 * vector epilogue's scale and bias) and its table. */
static uint64_t mm_min_sram(uint64_t nb)
{
    const uint64_t al = NPU_ARENA_ALIGN_BYTES, slots = 2, record_bytes = 12, table_bytes = 256;
#define MM_ALIGN(x) (((x) + al - 1) / al * al)
    uint64_t need = slots * (MM_ALIGN(1) + MM_ALIGN(nb) + 2 * MM_ALIGN(4 * nb) + MM_ALIGN(record_bytes * nb));
#undef MM_ALIGN
    return need + table_bytes;
}

/* The width of a BLOCKED weight's column tiles: the array's columns, or fewer when the SRAM is
 * too small for the firmware's smallest tiling at that width (it cannot narrow a block itself;
 * the array's other columns then idle). */
static uint32_t block_width(const npu_lower *L, bool int4)
{
    uint32_t nb = L->dev->matmul.cols;
    while (nb > MM_INT4_MIN_COLS && mm_min_sram(nb) > L->dev->sram.size_bytes)
        nb = (nb + 1) / 2;
    return int4 && nb % 2 ? nb - 1 : nb; /* int4: even (weight_ref keeps int4 off below 2 columns) */
}

/* The weights' group size for a K of k: the segment's, unless it spans K (then per channel). */
static uint64_t weight_group(const npu_lower *L, int64_t k)
{
    return L->group && (int64_t)L->group < k && !(L->s && L->s->wtype == NPU_WEIGHTS_F16) ? L->group : 0;
}

/* The weight operand, BLOCKED: from a float constant [K, N] (trans: stored [N, K]) times alpha,
 * quantised here in the segment's weight type, per output channel or per group of K rows
 * (*group, the descriptor's iattr[3]); or from an already quantised int8/int4 constant (`iw`,
 * [K, N]) whose per-channel scales are the fused multiplier. */
static npu_tensor_ref weight_ref(npu_lower *L, int t, int iw, int64_t k, int64_t n, bool trans, float alpha,
                                 int scale_t, int32_t *group)
{
    npu_weight_type wt = iw >= 0 ? (nl_tensor(L, iw)->dtype == RT_DT_I4 ? NPU_WEIGHTS_INT4 : NPU_WEIGHTS_INT8)
                         : L->s ? L->s->wtype
                                : NPU_WEIGHTS_INT8;
    /* int4 pairs columns: a 1-column array takes the segment's int4 weights as int8 instead */
    if (iw < 0 && wt == NPU_WEIGHTS_INT4 && L->dev->matmul.cols < MM_INT4_MIN_COLS)
        wt = NPU_WEIGHTS_INT8;
    bool int4 = wt == NPU_WEIGHTS_INT4, f16 = wt == NPU_WEIGHTS_F16;
    uint64_t g = iw >= 0 ? 0 : weight_group(L, k), ngroups = g ? ((uint64_t)k + g - 1) / g : 1;
    *group = (int32_t)g;
    uint32_t nb = block_width(L, int4);
    uint64_t bytes = npu_blocked_bytes((uint64_t)k, (uint64_t)n, nb, int4) * (f16 ? 2 : 1);
    npu_cref sc = nl_blob(L, NPU_BLOB_PARAM, 4 * (uint64_t)n * ngroups);
    npu_cref w = nl_blob(L, NPU_BLOB_WEIGHT, bytes);
    if (w.host && sc.host) {
        float *scales = malloc((size_t)(n * (int64_t)ngroups) * sizeof *scales);
        if (scales && iw >= 0) {
            npu_pack_blocked_int(nl_tensor(L, iw), (uint64_t)k, (uint64_t)n, nb, int4, w.host);
            for (int64_t i = 0; i < n; i++)
                scales[i] = 1.0f;
        } else if (scales) {
            float *v = nl_const_f32(L, t);
            if (v)
                npu_pack_blocked(v, trans ? 1 : n, trans ? k : 1, (uint64_t)k, (uint64_t)n, alpha, nb, wt, g, w.host,
                                 scales);
            free(v);
        }
        if (scales) {
            for (uint64_t gi = 0; gi < ngroups; gi++)
                apply_channel_scale(L, scale_t, scales + gi * (uint64_t)n, n);
            memcpy(sc.host, scales, (size_t)(n * (int64_t)ngroups) * sizeof *scales);
        }
        free(scales);
    }
    int64_t d[2] = {k, n};
    npu_tensor_ref r = nl_make_ref(w.buf, int4 ? NPU_DT_I4 : f16 ? NPU_DT_F16 : NPU_DT_I8, w.offset, 0.0f, 2, d);
    r.scales_axis = 1;
    r.scales_buf = sc.buf;
    r.scales_offset = sc.offset;
    return r;
}

/* The array's limits on 16-bit activations (firmware/src/ops/op_matmul.c, op_conv.c): a 16 x 8
 * int32 sum holds 511 products; the f16 mode sums K in one pass, and neither multiplies two
 * int16 operands. */
#define WIDE_INT_MAX_K 511u

/* Does a MatMul of K (B an activation or not) fit the formats' rules and, in the f16 mode, the
 * SRAM with K in one pass (two A rows, two B tiles of the array's width, all 16-bit)? */
static int check_wide_matmul(npu_lower *L, int64_t K, bool bconst)
{
    bool f16 = L->afmt == NPU_ACTS_F16, i16 = L->afmt == NPU_ACTS_INT16;
    if (i16 && !bconst)
        return nl_refuse(L, "a MatMul of two int16 activations (the array multiplies 16 x 8)");
    uint64_t g = weight_group(L, K);
    if (g && g > (i16 ? WIDE_INT_MAX_K : MM_MAX_K))
        return nl_refuse(L, "weight group size %llu with %s activations (at most %u)", (unsigned long long)g,
                         npu_act_format_name(L->afmt), i16 ? WIDE_INT_MAX_K : MM_MAX_K);
    if (f16) {
        if (K > (int64_t)MM_MAX_K)
            return nl_refuse(L, "K = %lld with f16 activations: the f16 mode sums K in one pass of at most %u",
                             (long long)K, MM_MAX_K);
        uint64_t cols = L->dev->matmul.cols, need = 2 * 2 * (uint64_t)K * (1 + cols) + SRAM_SLACK_BYTES;
        if (need > L->dev->sram.size_bytes)
            return nl_refuse(L, "K = %lld in one f16 pass needs %llu bytes of SRAM; the device has %llu", (long long)K,
                             (unsigned long long)need, (unsigned long long)L->dev->sram.size_bytes);
    }
    return 0;
}

/* y = a @ b (+ bias) with a [.., M, K] an activation and b a constant [K, N] (or an activation). */
static int lower_matmul_core(npu_lower *L, int a, int b, int y, bool trans_b, float alpha, int bias_t, float beta)
{
    const rt_tensor *A = nl_tensor(L, a), *B = nl_tensor(L, b), *Y = nl_tensor(L, y);
    if (A->rank < 1 || B->rank < 2)
        return nl_refuse(L, "operands of rank %d and %d (expected >= 1 and >= 2)", A->rank, B->rank);
    int64_t K = A->dims[A->rank - 1], M = A->rank >= 2 ? A->dims[A->rank - 2] : 1;
    int64_t bk = trans_b ? B->dims[B->rank - 1] : B->dims[B->rank - 2];
    int64_t N = trans_b ? B->dims[B->rank - 2] : B->dims[B->rank - 1];
    if (bk != K)
        return nl_refuse(L, "K = %lld but B has %lld rows", (long long)K, (long long)bk);
    int64_t batch = rt_tensor_numel(A) / (M * K);
    int iw = nl_is_const(L, b) ? -1 : nl_int_weight_src(L, b); /* an int8/int4 weight behind its cast */
    bool bconst = nl_is_const(L, b) || iw >= 0, batched = false;
    if (bconst) {
        if (B->rank != 2)
            return nl_refuse(L, "a constant B of rank %d (weights are [K, N])", B->rank);
        if (iw >= 0 && (trans_b || alpha != 1.0f))
            return nl_refuse(L, "a quantised weight with transB or alpha");
        if (iw >= 0 && L->mode == NPU_LOWER_EMIT && !L->s->timing_only && !nl_tensor(L, iw)->data)
            return nl_refuse(L, "the weight '%s' has no data (a numeric segment needs it; build a timing-only one)",
                          nl_tensor(L, iw)->name);
        if (iw < 0 && nl_need_const(L, b, "B"))
            return -1;
        if (iw >= 0 && nl_tensor(L, iw)->dtype == RT_DT_I4 && L->dev->matmul.cols < MM_INT4_MIN_COLS)
            return nl_refuse(L, "an int4 weight on a %u-column array (int4 tiles pair columns)", L->dev->matmul.cols);
    } else {
        if (trans_b || alpha != 1.0f)
            return nl_refuse(L, "an activation B with transB or alpha (only weights are transformed)");
        if (B->rank > 2) {
            if (A->rank != B->rank)
                return nl_refuse(L, "batch dims of A (rank %d) and B (rank %d) differ; the kernel does not broadcast them",
                              A->rank, B->rank);
            for (int i = 0; i + 2 < A->rank; i++)
                if (A->dims[i] != B->dims[i])
                    return nl_refuse(L, "batch dim %d: A has %lld, B %lld (no batch broadcasting)", i,
                                  (long long)A->dims[i], (long long)B->dims[i]);
            batched = true;
        }
        if (nl_need_act(L, b, "B"))
            return -1;
    }
    if (rt_tensor_numel(Y) != batch * M * N)
        return nl_refuse(L, "output of %lld elements (expected %lld)", (long long)rt_tensor_numel(Y),
                      (long long)(batch * M * N));
    if (check_wide_matmul(L, K, bconst))
        return -1;
    if (bias_t >= 0) {
        if (nl_need_const(L, bias_t, "C (bias)"))
            return -1;
        if (!is_channel_vector(nl_tensor(L, bias_t), N, 2, 1))
            return nl_refuse(L, "C of shape other than [N] or [1, N] (only a bias vector is fused)");
    }
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    epilogue_fusion f = nl_fuse_epilogue(L, y, N, Y->rank - 1, bias_t >= 0, bconst);
    if (f.bias >= 0) {
        bias_t = f.bias;
        beta = 1.0f;
    }
    npu_op_desc scratch;
    npu_op_desc *d = nl_new_op(L, NPU_OP_MATMUL, bias_t >= 0 ? 3 : 2, &scratch);
    int64_t ad[3] = {batch, M, K}, od[3] = {batch, M, N};
    d->in[0] = nl_in_ref(L, a, 3, ad);
    if (bconst) {
        d->in[1] = weight_ref(L, b, iw, K, N, trans_b, alpha, f.scale, &d->iattr[3]);
        d->iattr[1] = NPU_LAYOUT_BLOCKED;
        d->iattr[2] = (int32_t)block_width(L, d->in[1].dtype == NPU_DT_I4);
    } else {
        int64_t bd3[3] = {batch, K, N}, bd2[2] = {K, N};
        d->in[1] = batched ? nl_in_ref(L, b, 3, bd3) : nl_in_ref(L, b, 2, bd2);
        d->iattr[1] = NPU_LAYOUT_ROW_MAJOR;
    }
    d->iattr[0] = f.act;
    d->fattr[0] = f.prm[0];
    d->fattr[1] = f.prm[1];
    d->out = nl_out_ref(L, f.out, 3, od);
    float *bias = NULL;
    if (bias_t >= 0 && L->mode == NPU_LOWER_EMIT && !L->s->timing_only) {
        bias = nl_const_f32(L, bias_t);
        for (int64_t i = 0; bias && i < N; i++)
            bias[i] *= beta;
    }
    if (stage_applies(L, d, d->iattr[3])) {
        const float *ws = d->in[1].scales_axis >= 0 ? param_host(L, d->in[1].scales_buf, d->in[1].scales_offset) : NULL;
        lower_out_stage(L, d, f.act, f.prm, N, (uint64_t)K, ws, d->in[1].scale, bias, f.pre);
    } else if (bias_t >= 0) {
        float *h;
        d->in[2] = nl_param_vec(L, N, &h);
        if (h && bias)
            memcpy(h, bias, (size_t)N * sizeof *h);
    }
    free(bias);
    return 0;
}

int npu_lower_matmul(npu_lower *L)
{
    int a = nl_in(L, 0), b = nl_in(L, 1), y = nl_out(L, 0);
    if (nl_need_act(L, a, "A") || nl_need_data(L, b, "B") || nl_need_data(L, y, "Y"))
        return -1;
    return lower_matmul_core(L, a, b, y, false, 1.0f, -1, 1.0f);
}

int npu_lower_gemm(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int a = nl_in(L, 0), b = nl_in(L, 1), c = nl_in(L, 2), y = nl_out(L, 0);
    if (nl_need_act(L, a, "A") || nl_need_data(L, b, "B") || nl_need_data(L, y, "Y"))
        return -1;
    if (rt_node_attr_int(n, "transA", 0))
        return nl_refuse(L, "transA = 1 (the array reads A row by row)");
    if (nl_tensor(L, a)->rank != 2)
        return nl_refuse(L, "A of rank %d", nl_tensor(L, a)->rank);
    float alpha = rt_node_attr_float(n, "alpha", 1.0f), beta = rt_node_attr_float(n, "beta", 1.0f);
    return lower_matmul_core(L, a, b, y, rt_node_attr_int(n, "transB", 0) != 0, alpha, c, beta);
}

/* ---------------------------------------------------------------- conv */

int npu_lower_conv(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int x = nl_in(L, 0), w = nl_in(L, 1), bt = nl_in(L, 2), y = nl_out(L, 0);
    int iw = w >= 0 && !nl_is_const(L, w) ? nl_int_weight_src(L, w) : -1; /* an int8/int4 weight behind its cast */
    if (nl_need_act(L, x, "X") || nl_need_data(L, y, "Y") || (iw < 0 && nl_need_const(L, w, "W")))
        return -1;
    if (iw >= 0 && L->mode == NPU_LOWER_EMIT && !L->s->timing_only && !nl_tensor(L, iw)->data)
        return nl_refuse(L, "the weight '%s' has no data (a numeric segment needs it; build a timing-only one)",
                      nl_tensor(L, iw)->name);
    const rt_tensor *X = nl_tensor(L, x), *W = nl_tensor(L, w), *Y = nl_tensor(L, y);
    int nsp = X->rank - 2;
    if (nsp < 1 || nsp > 3 || W->rank != X->rank || Y->rank != X->rank)
        return nl_refuse(L, "a %d-D convolution (the kernel runs 1-D, 2-D, and 3-D whose kernel spans the depth)", nsp);
    if (rt_node_attr_int(n, "group", 1) != 1)
        return nl_refuse(L, "group = %lld; the NPU kernel supports 1", (long long)rt_node_attr_int(n, "group", 1));
    const int64_t *v;
    size_t cnt = rt_node_attr_ints(n, "dilations", &v);
    for (size_t i = 0; i < cnt; i++)
        if (v[i] != 1)
            return nl_refuse(L, "dilation %lld; the NPU kernel supports 1", (long long)v[i]);
    int64_t st[3] = {1, 1, 1}, pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0};
    cnt = rt_node_attr_ints(n, "strides", &v);
    for (int i = 0; cnt == (size_t)nsp && i < nsp; i++)
        st[i] = v[i];
    const char *ap = rt_node_attr_string(n, "auto_pad", "NOTSET");
    cnt = rt_node_attr_ints(n, "pads", &v);
    for (int i = 0; strcmp(ap, "NOTSET") == 0 && cnt == (size_t)(2 * nsp) && i < nsp; i++) {
        pb[i] = v[i];
        pe[i] = v[nsp + i];
    }
    /* a 3-D kernel spanning the whole (unpadded) depth is a 2-D convolution over channels x depth */
    int64_t depth = 1;
    if (nsp == 3) {
        if (W->dims[2] != X->dims[2] || pb[0] != 0 || pe[0] != 0 || strncmp(ap, "SAME", 4) == 0 || Y->dims[2] != 1)
            return nl_refuse(L, "a 3-D convolution whose kernel does not span the whole depth (the kernel folds the "
                          "depth into the channels)");
        depth = X->dims[2];
    }
    /* as 2-D: [N, C, H, W] with H = 1 for 1-D */
    int64_t N = X->dims[0], C = X->dims[1] * depth, H = nsp >= 2 ? X->dims[X->rank - 2] : 1, Wd = X->dims[X->rank - 1];
    int64_t CO = W->dims[0], KH = nsp >= 2 ? W->dims[W->rank - 2] : 1, KW = W->dims[W->rank - 1];
    int64_t OH = nsp >= 2 ? Y->dims[Y->rank - 2] : 1, OW = Y->dims[Y->rank - 1];
    if (W->dims[1] != X->dims[1])
        return nl_refuse(L, "W has %lld input channels, X %lld", (long long)W->dims[1], (long long)X->dims[1]);
    int64_t sh = nsp >= 2 ? st[nsp - 2] : 1, sw = st[nsp - 1];
    /* begin pads from the attribute or the SAME_* rule; the end pads are whatever makes the
     * output size come out, so explicit and automatic padding are handled alike */
    int64_t pt = nsp >= 2 ? pb[nsp - 2] : 0, pl = pb[nsp - 1];
    if (strncmp(ap, "SAME", 4) == 0) {
        int64_t th = (OH - 1) * sh + KH - H, tw = (OW - 1) * sw + KW - Wd;
        bool upper = strcmp(ap, "SAME_UPPER") == 0;
        pt = th > 0 ? (upper ? th / 2 : th - th / 2) : 0;
        pl = tw > 0 ? (upper ? tw / 2 : tw - tw / 2) : 0;
    }
    if (pt < 0 || pl < 0)
        return nl_refuse(L, "negative pads");
    int64_t HP = (OH - 1) * sh + KH, WP = (OW - 1) * sw + KW; /* the input the kernel reads */
    /* the padded buffer: the input at (pt, pl), as large as the kernel reads (or the input is) */
    int64_t HB = HP > pt + H ? HP : pt + H, WB = WP > pl + Wd ? WP : pl + Wd; /* padded buffer */
    bool pad = pt > 0 || pl > 0 || HB > H || WB > Wd;
    int64_t K = C * KH * KW;
    if (KH * KW > (int64_t)MM_MAX_K)
        return nl_refuse(L, "a %lldx%lld kernel exceeds the array's k of %u", (long long)KH, (long long)KW, MM_MAX_K);
    int64_t kmin = KH * KW; /* the firmware's smallest chunk: one input channel */
    if ((uint64_t)(HB * WB) > DMA_MAX_PITCH || (uint64_t)(OH * OW) > DMA_MAX_PITCH)
        return nl_refuse(L, "channel planes of %lld input / %lld output bytes exceed the DMA's %u-byte row pitch",
                      (long long)(HB * WB), (long long)(OH * OW), DMA_MAX_PITCH);
    /* the firmware's smallest tiling: one channel tile of weights, one position per segment, one
     * input channel per chunk */
    uint64_t mt = L->dev->matmul.rows, need = 2 * (mt * (uint64_t)kmin) + 2 * (uint64_t)kmin;
    if (sw > 1)
        need += 2 * ((uint64_t)KH * (uint64_t)((KW + sw - 1) / sw) * (uint64_t)sw + (uint64_t)sw);
    need += 48 * mt + SRAM_SLACK_BYTES; /* int32 products, f32 epilogue, scales and bias: two slots each */
    if (need > L->dev->sram.size_bytes)
        return nl_refuse(L, "its smallest tiling needs %llu bytes of SRAM; the device has %llu", (unsigned long long)need,
                      (unsigned long long)L->dev->sram.size_bytes);
    bool wide = L->afmt != NPU_ACTS_INT8; /* a 16-bit operand: the channels are never chunked */
    bool f16w = iw < 0 && L->s && L->s->wtype == NPU_WEIGHTS_F16;
    if (wide) {
        uint64_t kmax = L->afmt == NPU_ACTS_INT16 ? WIDE_INT_MAX_K : MM_MAX_K;
        if ((uint64_t)K > kmax)
            return nl_refuse(L, "k = %lld (C*KH*KW) with %s activations: at most %llu in one pass", (long long)K,
                             npu_act_format_name(L->afmt), (unsigned long long)kmax);
        uint64_t wneed = 2 * (mt * (uint64_t)K * 2) + 2 * (uint64_t)K * 2 + 48 * mt + SRAM_SLACK_BYTES;
        if (wneed > L->dev->sram.size_bytes)
            return nl_refuse(L, "k = %lld in one 16-bit pass needs %llu bytes of SRAM; the device has %llu", (long long)K,
                             (unsigned long long)wneed, (unsigned long long)L->dev->sram.size_bytes);
        if ((uint64_t)(HB * WB) * 2 > DMA_MAX_PITCH)
            return nl_refuse(L, "channel planes of %lld 16-bit elements exceed the DMA's %u-byte row pitch",
                             (long long)(HB * WB), DMA_MAX_PITCH);
    }
    if (bt >= 0) {
        if (nl_need_const(L, bt, "B"))
            return -1;
        if (rt_tensor_numel(nl_tensor(L, bt)) != CO)
            return nl_refuse(L, "B has %lld values for %lld output channels", (long long)rt_tensor_numel(nl_tensor(L, bt)),
                          (long long)CO);
    }
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    epilogue_fusion f = nl_fuse_epilogue(L, y, CO, 1, bt >= 0, true);
    if (f.bias >= 0)
        bt = f.bias;
    int64_t xd[4] = {N, C, H, Wd}, pd[4] = {N, C, HB, WB}, wd[4] = {CO, C, KH, KW}, od[4] = {N, CO, OH, OW};
    npu_tensor_ref xin = nl_in_ref(L, x, 4, xd);
    if (pad) /* copy into a zero-bordered buffer; the kernel reads pads of 0 */
        xin = nl_bordered_input(L, xin, pd, pt, pl, 0);
    npu_cref sc = nl_blob(L, NPU_BLOB_PARAM, 4 * (uint64_t)CO);
    npu_cref wb = nl_blob(L, NPU_BLOB_WEIGHT, (uint64_t)(CO * K) * (f16w ? 2 : 1));
    if (wb.host && sc.host) {
        float *scales = (float *)sc.host;
        if (iw >= 0) {
            npu_pack_ohwi_int(nl_tensor(L, iw), (uint64_t)CO, (uint64_t)C, (uint64_t)KH, (uint64_t)KW, wb.host);
            for (int64_t i = 0; i < CO; i++)
                scales[i] = 1.0f;
        } else {
            float *wv = nl_const_f32(L, w);
            if (wv)
                npu_pack_ohwi(wv, (uint64_t)CO, (uint64_t)C, (uint64_t)KH, (uint64_t)KW, f16w, wb.host, scales);
            free(wv);
        }
        apply_channel_scale(L, f.scale, scales, CO);
    }
    npu_op_desc scratch;
    npu_op_desc *d = nl_new_op(L, NPU_OP_CONV2D, bt >= 0 ? 3 : 2, &scratch);
    d->in[0] = xin;
    d->in[1] = nl_make_ref(wb.buf, f16w ? NPU_DT_F16 : NPU_DT_I8, wb.offset, 0.0f, 4, wd);
    d->in[1].scales_axis = 0;
    d->in[1].scales_buf = sc.buf;
    d->in[1].scales_offset = sc.offset;
    d->iattr[0] = (int32_t)sh;
    d->iattr[1] = (int32_t)sw;
    d->iattr[6] = f.act;
    d->iattr[7] = NPU_LAYOUT_OHWI;
    d->fattr[0] = f.prm[0];
    d->fattr[1] = f.prm[1];
    d->out = nl_out_ref(L, f.out, 4, od);
    float *bias = bt >= 0 && L->mode == NPU_LOWER_EMIT && !L->s->timing_only ? nl_const_f32(L, bt) : NULL;
    if (stage_applies(L, d, 0)) {
        lower_out_stage(L, d, f.act, f.prm, CO, (uint64_t)K, (const float *)sc.host, 0.0f, bias, f.pre);
    } else if (bt >= 0) {
        float *h;
        d->in[2] = nl_param_vec(L, CO, &h);
        if (h && bias)
            memcpy(h, bias, (size_t)CO * sizeof *h);
    }
    free(bias);
    return 0;
}
