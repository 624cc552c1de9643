/* npu_lower_attn.c -- attention as one fused descriptor (NPU_OP_ATTENTION), so that the L x L
 * scores never reach device memory.
 *
 * The pattern, as torch.onnx writes scaled dot-product attention and as runtime/m4's builders
 * emit it (every intermediate read by the next node only, and no graph output):
 *
 *     [Transpose(K, swap of the last two axes) ->] MatMul(Q, K^T) -> [Div or Mul by a constant
 *     scalar] -> [Add(mask)] -> [float Cast] -> Softmax(last axis) -> [float Cast] -> MatMul(., V)
 *
 * Q, K^T (or K) and V are activations with the same leading (batch, head) dims; the mask is an
 * activation or a float constant whose last two dims are the scores' and whose leading dims
 * broadcast over one contiguous range of the scores' (a mask per batch, per head, or shared).
 *
 * How it is used: npu_attn_fuse() runs before a segment is planned and marks every node of each
 * pattern found wholly in the segment as fused, except the last MatMul, which lowers as the
 * ATTENTION descriptor (npu_lower_attention). The partitioner asks supports() node by node; a
 * node that could not run on its own (the mask Add of a long sequence) is still supported when it
 * is part of a pattern that fuses. A pattern fuses when the configuration turns the kernel on
 * (npu.fused_attention), every node of it is in the capability set, and a block of keys fits in
 * the SRAM by npu_attention.h's plan (which also picks the key block, the descriptor's iattr[0]).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "isa_exec.h"
#include "npu_attention.h"
#include "npu_lower.h"
#include "partition.h"

#define ATTN_MAX_MEMBERS 8 /* Transpose, MatMul, scale, Add, Cast, Softmax, Cast, MatMul */
#define LOG2_E 1.4426950408889634
#define NPU_INT8_LEVELS 127.0
/* Below the row's maximum by more than this (natural units), the softmax tile's exp2 table gives 0:
 * 2^-ISA_SM_EXP_FRAC_BITS = e^-9.7. */
#define SM_TABLE_RANGE ((double)ISA_SM_EXP_FRAC_BITS / LOG2_E)

typedef struct nl_attn {
    int nodes[ATTN_MAX_MEMBERS]; /* in graph order; the last is the P V MatMul */
    int n_nodes;
    int q, kt, k, v, mask, out;  /* tensors; k = the Transpose's input (keys as rows) or -1 */
    int scores;                  /* the scaled scores before the mask */
    int sm_in;                   /* the softmax's input (the scores after the mask) */
    float alpha;
    int64_t G, Lq, Lk, D, Dv;
    int64_t mask_mats, mask_div;
} nl_attn;

/* The only node reading t (t no graph output), or -1. */
static int only_reader(const rt_graph *g, int t)
{
    const int *users;
    if (t < 0 || graph_is_output(g, t) || graph_tensor_users(g, t, &users) != 1)
        return -1; /* (-1 from graph_tensor_users, no memory: no fusion) */
    return users[0];
}

static const rt_tensor *T(const rt_graph *g, int t) { return g->tensors[t]; }

static int producer(const rt_graph *g, int t) { return t >= 0 ? T(g, t)->producer : -1; }

static bool float_cast(const rt_graph *g, int n)
{
    const rt_node *x = &g->nodes[n];
    return x->op == RT_OP_Cast && x->n_inputs >= 1 && x->inputs[0] >= 0 && x->n_outputs >= 1 && x->outputs[0] >= 0 &&
           rt_dtype_is_float(T(g, x->inputs[0])->dtype) && rt_dtype_is_float(T(g, x->outputs[0])->dtype);
}

/* A constant scalar's value (through views and float casts), or NAN. */
static float const_scalar(const npu_lower *L, int t)
{
    if (t < 0 || !nl_is_const(L, t) || nl_numel(L, t) != 1)
        return NAN;
    const rt_tensor *c = T(L->g, nl_csrc(L, t));
    return c->data ? (float)rt_tensor_get_f64(c, 0) : NAN;
}

static bool is_last_two_swap(const rt_node *n, int rank)
{
    const int64_t *perm;
    size_t np = rt_node_attr_ints(n, "perm", &perm);
    if ((int)np != rank || rank < 2)
        return false;
    for (int i = 0; i < rank - 2; i++)
        if (perm[i] != i)
            return false;
    return perm[rank - 2] == rank - 1 && perm[rank - 1] == rank - 2;
}

static void add_member(nl_attn *a, int n) { a->nodes[a->n_nodes++] = n; }

/* The mask's leading dims over the scores' [..., Lq, Lk]: kept (equal) over one contiguous range of
 * leading axes, 1 elsewhere. Sets mats and div; false if the mask broadcasts otherwise. */
static bool mask_broadcast(const rt_tensor *m, const rt_tensor *s, nl_attn *a)
{
    int r = s->rank, off = r - m->rank;
    if (m->rank < 2 || off < 0 || m->dims[m->rank - 1] != a->Lk || m->dims[m->rank - 2] != a->Lq)
        return false;
    int i0 = -1, i1 = -1;
    for (int i = 0; i < r - 2; i++) {
        int64_t md = i - off >= 0 ? m->dims[i - off] : 1;
        if (md == s->dims[i] && md > 1) {
            if (i1 >= 0 && i1 != i - 1)
                return false; /* two separate kept ranges */
            i0 = i0 < 0 ? i : i0;
            i1 = i;
        } else if (md != 1) {
            return false;
        }
    }
    a->mask_mats = 1;
    a->mask_div = 1;
    for (int i = 0; i < r - 2; i++) {
        if (i0 >= 0 && i >= i0 && i <= i1)
            a->mask_mats *= s->dims[i];
        else if (i1 >= 0 && i > i1)
            a->mask_div *= s->dims[i];
    }
    return true;
}

/* Is t the scores: a MatMul's output, or a MatMul's output scaled by a constant scalar (Div or
 * Mul), each read only by the next node (`reader`)? Sets the scale node (or -1), the MatMul and
 * alpha. */
static bool scores_source(const npu_lower *L, int t, int reader, int *scale_node, int *mm, float *alpha)
{
    const rt_graph *g = L->g;
    int p = producer(g, t);
    *scale_node = -1;
    *alpha = 1.0f;
    if (p < 0 || only_reader(g, t) != reader)
        return false;
    const rt_node *n = &g->nodes[p];
    if ((n->op == RT_OP_Div || n->op == RT_OP_Mul) && n->n_inputs == 2) {
        for (int s = 0; s < (n->op == RT_OP_Div ? 1 : 2); s++) { /* Div: scores / c only */
            int q = producer(g, n->inputs[s]);
            float c = const_scalar(L, n->inputs[1 - s]);
            if (q < 0 || g->nodes[q].op != RT_OP_MatMul || !(isfinite(c) && c > 0.0f) ||
                only_reader(g, n->inputs[s]) != p)
                continue;
            *scale_node = p;
            *alpha = n->op == RT_OP_Div ? 1.0f / c : c;
            *mm = q;
            return true;
        }
        return false;
    }
    if (n->op != RT_OP_MatMul)
        return false;
    *mm = p;
    return true;
}

/* The pattern around Softmax node sm, by structure only. */
static bool match_at_softmax(const npu_lower *L, int sm, nl_attn *a)
{
    const rt_graph *g = L->g;
    memset(a, 0, sizeof *a);
    a->k = a->mask = -1;
    const rt_node *smn = &g->nodes[sm];
    if (smn->op != RT_OP_Softmax || smn->n_inputs < 1 || smn->n_outputs < 1)
        return false;
    int x = smn->inputs[0];
    if (x < 0 || !rt_tensor_shape_known(T(g, x)))
        return false;
    a->sm_in = x;
    int rank = T(g, x)->rank;
    int64_t axis = rt_node_attr_int(smn, "axis", graph_opset(g, smn->domain) < 13 ? 1 : -1);
    if ((axis < 0 ? axis + rank : axis) != rank - 1 || rank < 2)
        return false;
    int chain[ATTN_MAX_MEMBERS], nc = 0; /* backwards from the softmax */
    chain[nc++] = sm;
    int p = producer(g, x);
    if (p >= 0 && float_cast(g, p) && only_reader(g, x) == sm) {
        chain[nc++] = p;
        x = g->nodes[p].inputs[0];
        p = producer(g, x);
    }
    int scale = -1, mm = -1;
    if (p >= 0 && g->nodes[p].op == RT_OP_Add && g->nodes[p].n_inputs == 2 && only_reader(g, x) == chain[nc - 1]) {
        const rt_node *add = &g->nodes[p];
        int side = -1;
        for (int s = 0; s < 2 && side < 0; s++)
            if (add->inputs[s] != add->inputs[1 - s] && scores_source(L, add->inputs[s], p, &scale, &mm, &a->alpha))
                side = s;
        if (side < 0)
            return false;
        a->mask = add->inputs[1 - side];
        a->scores = add->inputs[side];
        chain[nc++] = p;
    } else if (!scores_source(L, x, chain[nc - 1], &scale, &mm, &a->alpha)) {
        return false;
    } else {
        a->scores = x;
    }
    if (scale >= 0)
        chain[nc++] = scale;
    p = mm;
    if (g->nodes[p].n_inputs != 2)
        return false;
    chain[nc++] = p;
    a->q = g->nodes[p].inputs[0];
    a->kt = g->nodes[p].inputs[1];
    int tr = producer(g, a->kt);
    if (tr >= 0 && g->nodes[tr].op == RT_OP_Transpose && g->nodes[tr].n_inputs >= 1 && only_reader(g, a->kt) == p &&
        rt_tensor_shape_known(T(g, a->kt)) && is_last_two_swap(&g->nodes[tr], T(g, a->kt)->rank)) {
        a->k = g->nodes[tr].inputs[0];
        chain[nc++] = tr;
    }
    for (int i = nc - 1; i >= 0; i--) /* graph order */
        add_member(a, chain[i]);
    /* forwards from the softmax: [Cast] -> MatMul(P, V) */
    int y = smn->outputs[0], r = only_reader(g, y);
    if (r >= 0 && float_cast(g, r)) {
        add_member(a, r);
        y = g->nodes[r].outputs[0];
        r = only_reader(g, y);
    }
    if (r < 0 || g->nodes[r].op != RT_OP_MatMul || g->nodes[r].n_inputs != 2 || g->nodes[r].inputs[0] != y ||
        g->nodes[r].inputs[1] == y || g->nodes[r].n_outputs < 1)
        return false;
    add_member(a, r);
    a->v = g->nodes[r].inputs[1];
    a->out = g->nodes[r].outputs[0];
    /* shapes: Q [.., Lq, D], K^T [.., D, Lk], V [.., Lk, Dv], the same leading dims */
    const rt_tensor *Q = T(g, a->q), *KT = T(g, a->kt), *V = T(g, a->v), *S = T(g, smn->inputs[0]);
    if (!rt_tensor_shape_known(Q) || !rt_tensor_shape_known(KT) || !rt_tensor_shape_known(V) ||
        !rt_tensor_shape_known(T(g, a->out)) || Q->rank != rank || KT->rank != rank || V->rank != rank)
        return false;
    a->G = 1;
    for (int i = 0; i < rank - 2; i++) {
        if (KT->dims[i] != Q->dims[i] || V->dims[i] != Q->dims[i])
            return false;
        a->G *= Q->dims[i];
    }
    a->Lq = Q->dims[rank - 2];
    a->D = Q->dims[rank - 1];
    a->Lk = KT->dims[rank - 1];
    a->Dv = V->dims[rank - 1];
    if (KT->dims[rank - 2] != a->D || V->dims[rank - 2] != a->Lk || S->dims[rank - 2] != a->Lq ||
        S->dims[rank - 1] != a->Lk)
        return false;
    if (a->mask >= 0 && (!rt_tensor_shape_known(T(g, a->mask)) || !mask_broadcast(T(g, a->mask), S, a)))
        return false;
    return true;
}

static bool fits(const npu_lower *L, const nl_attn *a, uint64_t bc)
{
    const npu_device_config *dev = L->dev;
    uint64_t br = (uint64_t)a->Lq < dev->matmul.rows ? (uint64_t)a->Lq : dev->matmul.rows;
    npu_attn_shape sh = {(uint64_t)a->D, (uint64_t)a->Dv, bc, dev->matmul.cols, a->mask >= 0, a->k >= 0};
    return npu_attn_sram_bytes(&sh, br) <= dev->sram.size_bytes;
}

/* The softmax tile takes whole rows: when the tile's rows hold every key and one block of all of
 * them fits beside min(Lq, array rows) query rows. */
static bool use_softmax_tile(const npu_lower *L, const nl_attn *a)
{
    return (uint64_t)a->Lk <= L->dev->softmax.max_len && fits(L, a, (uint64_t)a->Lk);
}

/* The online softmax's key block, or 0 if not even one key fits beside min(Lq, array rows)
 * query rows. */
static uint64_t key_block(const npu_lower *L, const nl_attn *a)
{
    uint64_t nb = L->dev->matmul.cols;
    uint64_t bc = (uint64_t)a->Lk < NPU_ATTN_KEY_BLOCK_PREFERRED ? (uint64_t)a->Lk : NPU_ATTN_KEY_BLOCK_PREFERRED;
    for (;;) {
        if (fits(L, a, bc))
            return bc;
        if (bc == 1)
            return 0;
        bc = bc > nb ? (bc / 2 > nb ? bc / 2 / nb * nb : nb) : bc / 2;
    }
}

/* A tensor's calibrated per-tensor scale, or 0 (none, or a timing-only segment). */
static double calibrated_scale(const npu_lower *L, int t)
{
    const rt_quant *q = &T(L->g, t)->quant;
    if (L->s && L->s->timing_only)
        return 0.0;
    return q->scheme == RT_QUANT_PER_TENSOR && q->count >= 1 && q->scales && q->scales[0] > 0.0f &&
                   isfinite(q->scales[0])
               ? (double)q->scales[0]
               : 0.0;
}

/* The largest |value| a mask adds: a constant's own (inf with -inf entries), an activation's
 * calibrated range; 0 when unknown. */
static double mask_magnitude(const npu_lower *L, int t)
{
    int c = nl_csrc(L, t);
    if (c >= 0 && T(L->g, c)->data) {
        double m = 0.0;
        for (int64_t i = 0; i < nl_numel(L, c); i++) {
            double v = fabs(rt_tensor_get_f64(T(L->g, c), i));
            m = v > m || isnan(v) ? v : m;
        }
        return m;
    }
    return calibrated_scale(L, t) * NPU_INT8_LEVELS;
}

/* The int8 scale of the scores for the softmax tile. The softmax input's calibrated scale, unless
 * the mask reaches beyond what the tile can tell from zero (its exp2 table ends 14 binary orders
 * below the row's maximum): such a mask only removes keys, and its huge values would leave the
 * scores no resolution. Then the scale is the scores' own before the mask, just coarse enough
 * that -128 (where masked entries saturate) lies below every row's maximum by the table's range:
 * 128 s >= max|scores| + range. 1 in a timing-only segment or without a calibration; clamped to
 * the tile's range as SOFTMAX's is. */
static float scores_scale(const npu_lower *L, const nl_attn *a)
{
    double pre = calibrated_scale(L, a->scores), post = calibrated_scale(L, a->sm_in), s = post;
    if (a->mask >= 0 && pre > 0.0 && mask_magnitude(L, a->mask) > pre * NPU_INT8_LEVELS + SM_TABLE_RANGE) {
        double floor = (pre * NPU_INT8_LEVELS + SM_TABLE_RANGE) / (NPU_INT8_LEVELS + 1.0);
        s = pre > floor ? pre : floor;
    }
    if (s <= 0.0)
        s = 1.0;
    double lo = (1.0 + 0.5) / ((double)(1 << ISA_SM_SCALE_FRAC_BITS) * LOG2_E);
    double hi = (65535.0 - 0.5) / ((double)(1 << ISA_SM_SCALE_FRAC_BITS) * LOG2_E);
    return (float)(s < lo ? lo : s > hi ? hi : s);
}

/* Can the pattern run fused? 0, or -1 with the reason. */
static int attn_feasible(npu_lower *L, const nl_attn *a)
{
    if (L->dev->fused_attention != NPU_ON)
        return nl_refuse(L, "fused attention is off in this configuration (npu.fused_attention)");
    if (L->afmt != NPU_ACTS_INT8)
        return nl_refuse(L, "fused attention takes int8 activations (these are %s)", npu_act_format_name(L->afmt));
    if (nl_need_act(L, a->q, "Q") || nl_need_act(L, a->kt, "K^T") || nl_need_act(L, a->v, "V") ||
        nl_need_data(L, a->out, "output"))
        return -1;
    if (a->k >= 0 && nl_need_act(L, a->k, "K"))
        return -1;
    if (a->mask >= 0 && nl_need_data(L, a->mask, "mask"))
        return -1;
    if ((uint64_t)a->D > MM_MAX_K)
        return nl_refuse(L, "attention: key width %lld exceeds the array's k of %u", (long long)a->D, MM_MAX_K);
    if (a->G * a->Lq * a->Lk <= 0 || a->Dv < 1)
        return nl_refuse(L, "attention: empty operands");
    if (!use_softmax_tile(L, a) && key_block(L, a) == 0)
        return nl_refuse(L, "attention: not even one key fits beside %lld query rows in the %llu-byte SRAM",
                         (long long)a->Lq, (unsigned long long)L->dev->sram.size_bytes);
    if (L->cfg)
        for (int i = 0; i < a->n_nodes; i++) {
            char why[PART_WHY_BYTES];
            if (!partition_config_allows(L->g, a->nodes[i], L->cfg, why, sizeof why))
                return nl_refuse(L, "attention: %s", why);
        }
    return 0;
}

/* The Softmax of the pattern node n would belong to, or -1: n itself, one reached through only
 * readers (forwards), or one behind the P V MatMul and its Cast (backwards). */
static int softmax_near(const rt_graph *g, int n)
{
    int x = n;
    for (int hop = 0; x >= 0 && hop < ATTN_MAX_MEMBERS; hop++) {
        if (g->nodes[x].op == RT_OP_Softmax)
            return x;
        if (g->nodes[x].op == RT_OP_MatMul && hop > 0)
            break; /* past the P V MatMul */
        x = g->nodes[x].n_outputs >= 1 ? only_reader(g, g->nodes[x].outputs[0]) : -1;
    }
    x = n;
    for (int hop = 0; x >= 0 && hop < 3; hop++) {
        if (g->nodes[x].op == RT_OP_Softmax)
            return x;
        x = g->nodes[x].n_inputs >= 1 ? producer(g, g->nodes[x].inputs[0]) : -1;
    }
    return -1;
}

static bool is_member(const nl_attn *a, int n)
{
    for (int i = 0; i < a->n_nodes; i++)
        if (a->nodes[i] == n)
            return true;
    return false;
}

bool npu_attn_member_fusable(npu_lower *L)
{
    int sm = softmax_near(L->g, L->node);
    nl_attn a;
    if (sm < 0 || !match_at_softmax(L, sm, &a) || !is_member(&a, L->node))
        return false;
    char keep[RT_ERROR_MSG_BYTES]; /* the node's own refusal stays the reason if fusion fails too */
    snprintf(keep, sizeof keep, "%s", L->why ? L->why : "");
    if (attn_feasible(L, &a) == 0)
        return true;
    if (L->why && L->whylen)
        snprintf(L->why, L->whylen, "%s", keep);
    return false;
}

void npu_attn_fuse(npu_lower *L)
{
    npu_segment *s = L->s;
    for (int p = 0; p < s->n_nodes; p++) {
        int sm = s->nodes[p];
        nl_attn a;
        if (L->g->nodes[sm].op != RT_OP_Softmax || !match_at_softmax(L, sm, &a))
            continue;
        bool inside = true;
        int pos[ATTN_MAX_MEMBERS];
        for (int i = 0; i < a.n_nodes && inside; i++) {
            pos[i] = npu_seg_pos(s, a.nodes[i]);
            inside = pos[i] >= 0 && !s->fused[pos[i]] && !s->attention[pos[i]];
        }
        L->node = a.nodes[a.n_nodes - 1];
        L->pos = npu_seg_pos(s, L->node);
        if (!inside || attn_feasible(L, &a) != 0)
            continue;
        for (int i = 0; i + 1 < a.n_nodes; i++)
            npu_fuse_into(s, a.nodes[i], a.nodes[a.n_nodes - 1]);
        s->attention[pos[a.n_nodes - 1]] = true;
    }
    if (L->why && L->whylen)
        L->why[0] = '\0';
}

int npu_lower_attention(npu_lower *L)
{
    int sm = softmax_near(L->g, L->node);
    nl_attn a;
    if (sm < 0 || !match_at_softmax(L, sm, &a) || a.nodes[a.n_nodes - 1] != L->node)
        return nl_refuse(L, "internal: the fused attention pattern changed after planning");
    bool k_rows = a.k >= 0, tile = use_softmax_tile(L, &a);
    uint64_t bc = tile ? (uint64_t)a.Lk : key_block(L, &a);
    if (bc == 0)
        return nl_refuse(L, "internal: the attention's key block no longer fits");
    npu_op_desc scratch;
    npu_op_desc *d = nl_new_op(L, NPU_OP_ATTENTION, 3, &scratch);
    int64_t qd[3] = {a.G, a.Lq, a.D}, vd[3] = {a.G, a.Lk, a.Dv}, od[3] = {a.G, a.Lq, a.Dv};
    int64_t kd[3] = {a.G, k_rows ? a.Lk : a.D, k_rows ? a.D : a.Lk}, md[3] = {a.mask_mats, a.Lq, a.Lk};
    d->in[0] = nl_in_ref(L, a.q, 3, qd);
    d->in[1] = nl_in_ref(L, k_rows ? a.k : a.kt, 3, kd);
    d->in[2] = nl_in_ref(L, a.v, 3, vd);
    d->iattr[0] = (int32_t)bc;
    d->iattr[1] = k_rows ? NPU_ATTN_K_ROWS : NPU_ATTN_K_TRANSPOSED;
    d->iattr[5] = tile ? NPU_ATTN_SOFTMAX_TILE : NPU_ATTN_SOFTMAX_ONLINE;
    d->fattr[0] = a.alpha;
    d->fattr[2] = tile ? scores_scale(L, &a) : 0.0f;
    if (a.mask >= 0) {
        /* an activation arrives as int8; a constant mask is uploaded as f32 (its -inf stays -inf) */
        npu_tensor_ref m = nl_is_const(L, a.mask) ? nl_const_ref(L, a.mask, 3, md) : nl_in_ref(L, a.mask, 3, md);
        d->iattr[2] = NPU_ATTN_MASK_ADD;
        d->iattr[3] = (int32_t)m.buf;
        d->iattr[4] = (int32_t)m.dtype;
        d->fattr[1] = m.dtype == NPU_DT_I8 ? m.scale : 0.0f;
        d->lattr[0] = (int64_t)m.offset;
        d->lattr[1] = a.mask_mats;
        d->lattr[2] = a.mask_div;
    }
    d->out = nl_out_ref(L, a.out, 3, od);
    return 0;
}
