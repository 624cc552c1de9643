/* npu_lower_move.c -- lowering data movement: the views (Reshape, Flatten, Squeeze, Unsqueeze,
 * Identity, Dropout, float Cast: metadata only), Transpose (dims merged down to at most four),
 * and Concat, Split, Slice and Gather with one constant index as box copies. Pure movement keeps
 * its input's scale.
 */
#include <stdint.h>
#include <string.h>

#include "npu_lower.h"
#include "ops_geom.h"

/* ---------------------------------------------------------------- data movement */

int npu_lower_view(npu_lower *L)
{
    int x = nl_in(L, 0), y = nl_out(L, 0);
    if (nl_node(L)->op == RT_OP_Cast && y >= 0 && nl_int_weight_src(L, y) >= 0)
        return nl_refuse(L, "a quantised weight's cast is folded into the MatMul or Conv that reads it");
    /* a float -> float Cast changes nothing on the device: int8 either way (need_* check both) */
    if (nl_need_act(L, x, "input") || nl_need_data(L, y, "output"))
        return -1;
    if (nl_node(L)->op == RT_OP_Dropout && !nl_output_unused(L, nl_out(L, 1)))
        return nl_refuse(L, "the mask output is used");
    if (nl_numel(L, x) != nl_numel(L, y))
        return nl_refuse(L, "%lld elements in, %lld out", (long long)nl_numel(L, x), (long long)nl_numel(L, y));
    nl_alias(L, y, x);
    return 0;
}

int npu_lower_transpose(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int x = nl_in(L, 0), y = nl_out(L, 0);
    if (nl_need_act(L, x, "data") || nl_need_data(L, y, "transposed"))
        return -1;
    const rt_tensor *X = nl_tensor(L, x);
    int r = X->rank;
    int64_t perm[RT_MAX_RANK];
    const int64_t *v;
    size_t cnt = rt_node_attr_ints(n, "perm", &v);
    for (int i = 0; i < r; i++)
        perm[i] = cnt == (size_t)r ? v[i] : r - 1 - i;
    /* drop size-1 dims, then merge input dims that stay neighbours: at most 4 must remain */
    int keep[RT_MAX_RANK], nk = 0, map[RT_MAX_RANK];
    for (int i = 0; i < r; i++)
        map[i] = -1;
    for (int i = 0; i < r; i++)
        if (X->dims[i] != 1)
            map[i] = nk, keep[nk++] = i;
    int64_t p[RT_MAX_RANK];
    int np = 0;
    for (int i = 0; i < r; i++)
        if (map[perm[i]] >= 0)
            p[np++] = map[perm[i]];
    /* group runs p[i+1] == p[i] + 1 */
    int64_t gd[RT_MAX_RANK] = {0};
    int ng = 0, gof[RT_MAX_RANK] = {0}; /* group of each kept input dim, numbered in output order */
    for (int i = 0; i < np; i++)
        gof[p[i]] = i > 0 && p[i] == p[i - 1] + 1 ? gof[p[i - 1]] : ng++;
    if (ng > NPU_MAX_RANK)
        return nl_refuse(L, "a permutation of %d independent axes (the kernel moves at most %d)", ng, NPU_MAX_RANK);
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    /* input dims in input order (groups sorted by their first kept dim) */
    int order[RT_MAX_RANK], no = 0;
    for (int k = 0; k < nk; k++)
        if (k == 0 || gof[k] != gof[k - 1])
            order[no++] = gof[k];
    for (int gi = 0; gi < ng; gi++)
        gd[gi] = 1;
    for (int k = 0; k < nk; k++)
        gd[gof[k]] *= X->dims[keep[k]];
    int64_t id[NPU_MAX_RANK], od[NPU_MAX_RANK], dperm[NPU_MAX_RANK];
    int pos_in[RT_MAX_RANK];
    for (int i = 0; i < no; i++) {
        id[i] = gd[order[i]];
        pos_in[order[i]] = i;
    }
    /* output order: groups in the order p visits them */
    int k = 0;
    for (int i = 0; i < np; i++)
        if (i == 0 || p[i] != p[i - 1] + 1) {
            int gi = gof[p[i]];
            dperm[k] = pos_in[gi];
            od[k] = gd[gi];
            k++;
        }
    npu_op_desc scratch;
    if (ng <= 1) { /* only a reshape: copy the bytes */
        int64_t one[1] = {nl_numel(L, x)};
        npu_op_desc *d = nl_new_op(L, NPU_OP_COPY, 1, &scratch);
        d->in[0] = nl_in_ref(L, x, 1, one);
        nl_share_scale(L, x, y);
        d->out = nl_out_ref(L, y, 1, one);
        d->lattr[0] = one[0];
        return 0;
    }
    npu_op_desc *d = nl_new_op(L, NPU_OP_TRANSPOSE, 1, &scratch);
    d->in[0] = nl_in_ref(L, x, no, id);
    nl_share_scale(L, x, y);
    d->out = nl_out_ref(L, y, k, od);
    for (int i = 0; i < k; i++)
        d->iattr[i] = (int32_t)dperm[i];
    return 0;
}

/* A box copy of src viewed as [outer, a, inner] into dst viewed as [outer, b, inner] at index off. */
static void copy_slab(npu_lower *L, int src, bool src_const, int dst, int64_t outer, int64_t a, int64_t inner,
                      int64_t b, int64_t src_off, int64_t dst_off, int64_t len)
{
    npu_op_desc scratch;
    npu_op_desc *d = nl_new_op(L, NPU_OP_COPY, 1, &scratch);
    int64_t sd[3] = {outer, a, inner}, dd[3] = {outer, b, inner};
    d->in[0] = src_const ? nl_const_ref(L, src, 3, sd) : nl_in_ref(L, src, 3, sd);
    d->out = nl_out_ref(L, dst, 3, dd);
    d->lattr[0] = outer;
    d->lattr[1] = len;
    d->lattr[2] = inner;
    d->iattr[1] = (int32_t)src_off;
    d->iattr[NPU_MAX_RANK + 1] = (int32_t)dst_off;
}

static void outer_inner(const rt_tensor *t, int axis, int64_t *outer, int64_t *inner)
{
    *outer = *inner = 1;
    for (int i = 0; i < t->rank; i++) {
        if (i < axis)
            *outer *= t->dims[i];
        else if (i > axis)
            *inner *= t->dims[i];
    }
}

int npu_lower_concat(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int y = nl_out(L, 0);
    if (nl_need_data(L, y, "concat_result"))
        return -1;
    const rt_tensor *Y = nl_tensor(L, y);
    int64_t axis = rt_node_attr_int(n, "axis", 0);
    if (axis < 0)
        axis += Y->rank;
    if (axis < 0 || axis >= Y->rank)
        return nl_refuse(L, "axis out of range");
    for (int k = 0; k < n->n_inputs; k++) {
        int t = nl_in(L, k);
        if (nl_need_data(L, t, "input"))
            return -1;
        if (nl_is_const(L, t) && nl_need_const(L, t, "input"))
            return -1;
    }
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    int64_t outer, inner, off = 0;
    outer_inner(Y, (int)axis, &outer, &inner);
    for (int k = 0; k < n->n_inputs; k++) {
        int t = nl_in(L, k);
        int64_t a = nl_tensor(L, t)->dims[axis];
        copy_slab(L, t, nl_is_const(L, t), y, outer, a, inner, Y->dims[axis], 0, off, a);
        off += a;
    }
    return 0;
}

int npu_lower_split(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int x = nl_in(L, 0);
    if (nl_need_act(L, x, "input"))
        return -1;
    rt_op_binding bind;
    rt_error e;
    if (ops_bind(L->g, L->node, NULL, &bind, &e) != RT_OK)
        return nl_refuse(L, "%s", e.msg);
    int axis = 0;
    int64_t sizes[64];
    rt_status st = n->n_outputs <= 64 ? ops_split_sizes(&bind.ctx, &axis, sizes) : RT_ERR_LIMIT;
    ops_unbind(&bind);
    if (st != RT_OK)
        return nl_refuse(L, "split sizes: %s", n->n_outputs <= 64 ? e.msg : "more than 64 outputs");
    for (int k = 0; k < n->n_outputs; k++)
        if (nl_out(L, k) >= 0 && nl_need_data(L, nl_out(L, k), "output"))
            return -1;
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    const rt_tensor *X = nl_tensor(L, x);
    int64_t outer, inner, off = 0;
    outer_inner(X, axis, &outer, &inner);
    for (int k = 0; k < n->n_outputs; k++) {
        int t = nl_out(L, k);
        if (t >= 0 && sizes[k] > 0) {
            nl_share_scale(L, x, t);
            copy_slab(L, x, false, t, outer, X->dims[axis], inner, sizes[k], off, 0, sizes[k]);
        }
        off += sizes[k];
    }
    return 0;
}

/* Gather with one constant index (how `qkv[0]` exports): a box copy of that slice. A lookup of
 * computed indices (an embedding) stays on the CPU. */
int npu_lower_gather(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    int x = nl_in(L, 0), idx = nl_in(L, 1), y = nl_out(L, 0);
    if (nl_need_act(L, x, "data") || nl_need_data(L, y, "output"))
        return -1;
    const rt_tensor *I = idx >= 0 ? nl_tensor(L, idx) : NULL, *X = nl_tensor(L, x);
    if (!I || I->kind != RT_TENSOR_CONSTANT || !rt_dtype_is_int(I->dtype) || !I->data || rt_tensor_numel(I) != 1)
        return nl_refuse(L, "indices that are not one constant (a lookup of computed indices stays on the CPU)");
    int64_t axis = rt_node_attr_int(n, "axis", 0);
    if (axis < 0)
        axis += X->rank;
    if (axis < 0 || axis >= X->rank)
        return nl_refuse(L, "axis out of range");
    int64_t i = rt_tensor_get_i64(I, 0), d = X->dims[axis];
    if (i < 0)
        i += d;
    if (i < 0 || i >= d || i > INT32_MAX)
        return nl_refuse(L, "index %lld outside a dimension of %lld", (long long)rt_tensor_get_i64(I, 0), (long long)d);
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    int64_t outer, inner;
    outer_inner(X, (int)axis, &outer, &inner);
    nl_share_scale(L, x, y);
    copy_slab(L, x, false, y, outer, d, inner, 1, i, 0, 1);
    return 0;
}

int npu_lower_slice(npu_lower *L)
{
    int x = nl_in(L, 0), y = nl_out(L, 0);
    if (nl_need_act(L, x, "data") || nl_need_data(L, y, "output"))
        return -1;
    rt_op_binding bind;
    rt_error e;
    if (ops_bind(L->g, L->node, NULL, &bind, &e) != RT_OK)
        return nl_refuse(L, "%s", e.msg);
    ops_slice s;
    rt_status st = ops_slice_params(&bind.ctx, &s);
    ops_unbind(&bind);
    if (st != RT_OK)
        return nl_refuse(L, "%s", e.msg);
    const rt_tensor *X = nl_tensor(L, x);
    for (int i = 0; i < X->rank; i++)
        if (s.step[i] != 1 && s.out[i] > 1)
            return nl_refuse(L, "step %lld on axis %d (the box copy takes step 1)", (long long)s.step[i], i);
    /* merge neighbouring axes the slice takes whole into the axis before them */
    int64_t in[RT_MAX_RANK], box[RT_MAX_RANK], st0[RT_MAX_RANK];
    int r = 0;
    for (int i = 0; i < X->rank; i++) {
        bool whole = s.start[i] == 0 && s.out[i] == X->dims[i];
        if (r > 0 && whole) { /* an axis taken whole folds into the one before: still one range */
            in[r - 1] *= X->dims[i];
            box[r - 1] *= X->dims[i];
            st0[r - 1] *= X->dims[i];
            continue;
        }
        in[r] = X->dims[i];
        box[r] = s.out[i];
        st0[r] = s.start[i];
        r++;
    }
    if (r > NPU_MAX_RANK || (r == NPU_MAX_RANK && box[r - 1] == 1))
        return nl_refuse(L, "slices %d axes of a rank-%d tensor (the box copy moves at most %d, or 3 when the "
                      "innermost is taken one element wide)", r, X->rank, NPU_MAX_RANK);
    for (int i = 0; i < r; i++)
        if (st0[i] > INT32_MAX)
            return nl_refuse(L, "a start offset beyond 2^31");
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    npu_op_desc scratch;
    npu_op_desc *d = nl_new_op(L, NPU_OP_COPY, 1, &scratch);
    d->in[0] = nl_in_ref(L, x, r, in);
    nl_share_scale(L, x, y);
    d->out = nl_out_ref(L, y, r, box);
    for (int i = 0; i < r; i++) {
        d->lattr[i] = box[i];
        d->iattr[i] = (int32_t)st0[i];
    }
    return 0;
}
