/* npu_memplan.c -- device memory planned ahead for the segments of one graph (npu_backend.h).
 *
 * Why: a module (LLaMA's 32 layers) is many segments that run one after the other. Allocating
 * each segment's buffers for the module's whole run keeps every segment's activations in device
 * memory at once, although only one segment runs at a time; at 2048 tokens that is gigabytes of
 * dead attention scores. A plan instead places, before anything is allocated:
 *   - the constants of every segment once, side by side in one region (weights stay resident);
 *   - the resident tensors (a KV cache) once each, in their own region, in first-use order, so
 *     that each segment sees the few it touches as one compact window (its buffer 2);
 *   - the activations of every segment in one shared arena: within a segment each tensor gets an
 *     offset from its lifetime (npu_arena_plan, greedy by size as TFLite's arena planner does),
 *     and since a segment's activations are dead when its job ends, all segments start at offset
 *     0 and the arena is as large as the largest segment needs.
 * Commit then allocates four buffer objects (constants, resident, arena, descriptors), uploads,
 * and binds every segment's buffer table to windows on them; freeing the plan gives all of it
 * back at once, so nothing fragments device memory between modules.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npu_internal.h"

#define BYTES_PER_MIB (1024.0 * 1024.0)

static uint64_t align_up(uint64_t bytes, uint64_t align) { return (bytes + align - 1) / align * align; }

/* ---------------------------------------------------------------- the arena planner */

/* The order buffers are placed in: largest first; among equals the earlier birth, then the lower
 * index (a total order, so the plan is the same on every run). */
typedef struct place_order {
    uint64_t bytes;
    int first, index;
} place_order;

static bool placed_before(const place_order *a, const place_order *b)
{
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes;
    if (a->first != b->first)
        return a->first < b->first;
    return a->index < b->index;
}

/* o[0..n-1] into placement order: a merge sort with the comparison inline (qsort's callback per
 * comparison cost more than the comparison). tmp: room for n. */
static void sort_place_order(place_order *o, place_order *tmp, int n)
{
    for (int width = 1; width < n; width *= 2) {
        for (int lo = 0; lo < n; lo += 2 * width) {
            int mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = placed_before(&o[j], &o[i]) ? o[j++] : o[i++];
            while (i < mid)
                tmp[k++] = o[i++];
            while (j < hi)
                tmp[k++] = o[j++];
        }
        memcpy(o, tmp, (size_t)n * sizeof *o);
    }
}

/* Distinct values are listed by marking them in a table over their range when the range holds at
 * most this many slots per value listed (a segment's steps are its op positions, its tensors
 * mostly a run of the graph's); else they are sorted. */
#define DISTINCT_TABLE_PER_VALUE 4

static int cmp_int(const void *pa, const void *pb)
{
    int a = *(const int *)pa, b = *(const int *)pb;
    return (a > b) - (a < b);
}

int npu_sort_distinct(int *v, int n)
{
    if (n <= 0)
        return 0;
    int lo = v[0], hi = v[0];
    for (int i = 1; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    int64_t range = (int64_t)hi - lo + 1;
    int w = 0;
    if (range <= (int64_t)DISTINCT_TABLE_PER_VALUE * n) {
        bool *at = calloc((size_t)range, sizeof *at);
        if (!at)
            return -1;
        for (int i = 0; i < n; i++)
            at[v[i] - lo] = true;
        for (int64_t x = 0; x < range; x++)
            if (at[x])
                v[w++] = (int)(lo + x);
        free(at);
        return w;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_int);
    for (int i = 0; i < n; i++)
        if (w == 0 || v[i] != v[w - 1])
            v[w++] = v[i];
    return w;
}

/* Which buffers meet a lifetime, without a walk over every buffer: the distinct first and last
 * steps, ranked (two lifetimes meet exactly when their ranks do), are the leaves of a segment
 * tree, and each buffer is listed at the O(log n) tree nodes that make up its lifetime. The
 * buffers that meet [a, b] are those listed at the nodes over any leaf of [a, b]: about
 * 2 (b - a + 1) + log n nodes. Built once, CSR, for every buffer (a query skips the unplaced). */
typedef struct step_tree {
    int *steps, n_steps; /* the distinct steps, ascending: leaf i is steps[i] */
    int size;            /* leaves, a power of two; node k's children are 2k and 2k + 1 */
    int *start, *item;   /* the buffers at node k: item[start[k] .. start[k + 1] - 1] */
} step_tree;

static int step_rank(const step_tree *st, int step)
{
    int lo = 0, hi = st->n_steps - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (st->steps[mid] < step)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The canonical nodes of leaves [l, r] (fill: NULL counts them into start[k + 1]). */
static void tree_cover(step_tree *st, int l, int r, int buf, int *fill)
{
    for (l += st->size, r += st->size + 1; l < r; l >>= 1, r >>= 1) {
        if (l & 1) {
            if (fill)
                st->item[fill[l]++] = buf;
            else
                st->start[l + 1]++;
            l++;
        }
        if (r & 1) {
            r--;
            if (fill)
                st->item[fill[r]++] = buf;
            else
                st->start[r + 1]++;
        }
    }
}

static void tree_free(step_tree *st)
{
    free(st->steps);
    free(st->start);
    free(st->item);
}

/* A lifetime's leaves: the ranks of its first and last steps (one ending before it starts lives
 * at its first step only). */
static void lifetime_leaves(const step_tree *st, const npu_live_buf *b, int *l, int *r)
{
    *l = step_rank(st, b->first);
    *r = step_rank(st, b->last);
    if (*r < *l)
        *r = *l;
}

/* The tree of bufs[0..n-1], and each one's leaves into leaf_l, leaf_r (room for n each): ranked
 * once here, for both passes and the planner (a binary search over the steps each). */
static bool tree_build(step_tree *st, const npu_live_buf *bufs, int n, int *leaf_l, int *leaf_r)
{
    memset(st, 0, sizeof *st);
    if (!leaf_l || !leaf_r)
        return false;
    st->steps = malloc((size_t)(2 * n) * sizeof *st->steps);
    if (!st->steps)
        return false;
    for (int i = 0; i < n; i++) {
        st->steps[2 * i] = bufs[i].first;
        st->steps[2 * i + 1] = bufs[i].last;
    }
    st->n_steps = npu_sort_distinct(st->steps, 2 * n);
    if (st->n_steps < 0)
        return false;
    for (int i = 0; i < n; i++)
        lifetime_leaves(st, &bufs[i], &leaf_l[i], &leaf_r[i]);
    st->size = 1;
    while (st->size < st->n_steps)
        st->size *= 2;
    size_t nodes = 2 * (size_t)st->size;
    st->start = calloc(nodes + 1, sizeof *st->start);
    int *fill = malloc(nodes * sizeof *fill); /* each node's next free slot while filling */
    bool ok = st->start && fill;
    for (int pass = 0; ok && pass < 2; pass++) {
        for (int i = 0; i < n; i++)
            tree_cover(st, leaf_l[i], leaf_r[i], i, pass ? fill : NULL);
        if (pass == 0) {
            for (size_t k = 0; k < nodes; k++)
                st->start[k + 1] += st->start[k];
            size_t listed = (size_t)st->start[nodes];
            ok = (st->item = malloc((listed ? listed : 1) * sizeof *st->item)) != NULL;
            if (ok)
                memcpy(fill, st->start, nodes * sizeof *fill);
        }
    }
    free(fill);
    return ok;
}

typedef struct met {
    uint64_t off, end;
} met;

/* Sorting the m placed buffers a new one meets costs about m log m comparisons through qsort's
 * callback; reading them off the list of all k placed buffers, kept in offset order, costs k
 * cheap tests. Sort when m * this < k: a rough ratio of the two costs per buffer. Both give the
 * same order, so the choice moves time only, never an offset. */
#define ARENA_SORT_VS_WALK 64
/* A query of the step tree visits about 2 nodes per leaf of the lifetime (and the buffers listed
 * there); testing every placed buffer costs one test each. Test them all when the lifetime's
 * leaves times this reach the placed count. */
#define ARENA_QUERY_VS_WALK 2
/* Most buffers meet a few placed ones (a decode segment's: 4 to 25 on average); so few are
 * sorted by insertion, inline, rather than through qsort's callbacks (about 4,000 instructions
 * a call there). */
#define ARENA_INSERTION_SORT_MAX 32
/* A lifetime over at least 1/this of the steps is long: such a buffer meets most of the others
 * (a decode segment's KV caches when they are not resident), so the placed long ones are kept
 * in their own list by offset and merged into each short buffer's sorted few, instead of being
 * found again by every query and sorting with them. */
#define ARENA_LONG_SHARE 8

static void sort_few(met *m, int n)
{
    for (int i = 1; i < n; i++) {
        met x = m[i];
        int j = i;
        for (; j > 0 && (m[j - 1].off > x.off || (m[j - 1].off == x.off && m[j - 1].end > x.end)); j--)
            m[j] = m[j - 1];
        m[j] = x;
    }
}

static int by_offset(const void *pa, const void *pb)
{
    const met *a = pa, *b = pb;
    if (a->off != b->off)
        return a->off < b->off ? -1 : 1;
    return (a->end > b->end) - (a->end < b->end);
}

/* Where a buffer at m goes among the first n of by_off (in (offset, end) order): after every one
 * at a lower or equal (offset, end). */
static int offset_rank(const met *placed_at, const int *by_off, int n, met m)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (by_offset(&placed_at[by_off[mid]], &m) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* v[0..n-1], buffer indices, into (offset, end) order of their placed_at: a merge sort with the
 * comparison inline, as sort_place_order. tmp: room for n. */
static void sort_by_offset(int *v, int *tmp, int n, const met *placed_at)
{
    for (int width = 1; width < n; width *= 2) {
        for (int lo = 0; lo < n; lo += 2 * width) {
            int mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = by_offset(&placed_at[v[j]], &placed_at[v[i]]) < 0 ? v[j++] : v[i++];
            while (i < mid)
                tmp[k++] = v[i++];
            while (j < hi)
                tmp[k++] = v[j++];
        }
        memcpy(v, tmp, (size_t)n * sizeof *v);
    }
}

/* Placed buffers in (offset, end) order, for the walks that read all of them. Placing a buffer
 * only appends it; the ones appended since the list was last read are sorted and merged in when
 * it is read next. Every read walks the whole list, so bringing it up to date costs no more than
 * the read (plus p log p for p new ones). Inserting each buffer at its place as it was placed
 * moved the list's tail every time: O(n) a buffer, O(n^2) for a segment that seldom or never
 * reads the list (one segment of a 160k-node chain: memmove was 60% of its plan). */
typedef struct offset_list {
    int *at;      /* buffer indices: at[0 .. n_sorted - 1] in (offset, end) order, then the newer ones */
    int n, n_sorted;
} offset_list;

static void offset_list_add(offset_list *l, int buf) { l->at[l->n++] = buf; }

/* The list in order: the new ones sorted (tmp: room for them), then merged into the sorted run
 * from the top down, the old ones above each new one moved once, by memmove (one new buffer
 * costs what the insertion at its place did: a binary search and one move). */
static const int *offset_list_read(offset_list *l, const met *placed_at, int *tmp)
{
    int fresh = l->n - l->n_sorted;
    if (fresh == 0)
        return l->at;
    if (fresh <= ARENA_INSERTION_SORT_MAX) {
        for (int j = 0; j < fresh; j++) { /* few (mostly one): sorted into tmp by insertion */
            int buf = l->at[l->n_sorted + j], i = j;
            for (; i > 0 && by_offset(&placed_at[tmp[i - 1]], &placed_at[buf]) > 0; i--)
                tmp[i] = tmp[i - 1];
            tmp[i] = buf;
        }
    } else {
        sort_by_offset(&l->at[l->n_sorted], tmp, fresh, placed_at);
        memcpy(tmp, &l->at[l->n_sorted], (size_t)fresh * sizeof *tmp);
    }
    int top = l->n_sorted; /* the old ones not moved yet: at[0 .. top - 1] */
    for (int j = fresh - 1; j >= 0; j--) {
        int pos = offset_rank(placed_at, l->at, top, placed_at[tmp[j]]);
        memmove(&l->at[pos + j + 1], &l->at[pos], (size_t)(top - pos) * sizeof *l->at);
        l->at[pos + j] = tmp[j];
        top = pos;
    }
    l->n_sorted = l->n;
    return l->at;
}

rt_status npu_arena_plan(const npu_live_buf *bufs, int n, uint64_t align, uint64_t *offsets, uint64_t *peak,
                         rt_error *e)
{
    *peak = 0;
    if (n <= 0)
        return RT_OK;
    if (align == 0)
        align = 1;
    place_order *order = malloc((size_t)n * sizeof *order);
    place_order *order_tmp = malloc((size_t)n * sizeof *order_tmp);
    uint64_t *need = malloc((size_t)n * sizeof *need);
    bool *placed = calloc((size_t)n, sizeof *placed);
    int *seen = malloc((size_t)n * sizeof *seen); /* the last query that listed each buffer */
    met *meets = malloc((size_t)n * sizeof *meets);
    met *placed_at = calloc((size_t)n, sizeof *placed_at); /* each placed buffer's [offset, end) */
    offset_list by_off = {malloc((size_t)n * sizeof(int)), 0, 0}; /* the placed buffers by (offset, end) */
    int *leaf_l = malloc((size_t)n * sizeof *leaf_l), *leaf_r = malloc((size_t)n * sizeof *leaf_r); /* lifetimes, ranked */
    bool *is_long = malloc((size_t)n * sizeof *is_long);     /* lives over a large share of the steps */
    offset_list long_by_off = {malloc((size_t)n * sizeof(int)), 0, 0}; /* the placed long ones by offset */
    int *sort_tmp = malloc((size_t)n * sizeof *sort_tmp); /* room to sort the lists' new buffers */
    met *merged = malloc((size_t)n * sizeof *merged);
    step_tree st;
    rt_status rc = RT_OK;
    bool ok = tree_build(&st, bufs, n, leaf_l, leaf_r) && order && order_tmp && need && placed && seen && meets && placed_at && by_off.at && leaf_l && leaf_r && is_long && long_by_off.at && sort_tmp && merged;
    if (!ok) {
        rc = rt_error_set(e, RT_ERR_NOMEM, "out of memory (arena plan of %d buffers)", n);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        order[i] = (place_order){bufs[i].bytes, bufs[i].first, i};
        need[i] = align_up(bufs[i].bytes ? bufs[i].bytes : 1, align);
        seen[i] = -1;
        is_long[i] = (int64_t)(leaf_r[i] - leaf_l[i] + 1) * ARENA_LONG_SHARE >= st.n_steps;
    }
    sort_place_order(order, order_tmp, n);
    for (int k = 0; k < n; k++) {
        int bi = order[k].index;
        int nm = 0, l = leaf_l[bi], r = leaf_r[bi];
        if ((int64_t)(r - l + 1) * ARENA_QUERY_VS_WALK >= k) {
            /* a long lifetime: its tree query would visit about 2 (r - l + 1) nodes, more than
             * the placed buffers; each of them tested, in offset order */
            const int *sorted = offset_list_read(&by_off, placed_at, sort_tmp);
            for (int i = 0; i < k; i++) {
                int p = sorted[i];
                if (leaf_l[p] <= r && l <= leaf_r[p])
                    meets[nm++] = placed_at[p];
            }
        } else {
            /* the placed buffers that meet b in time (marked seen[p] == k); the long-lived ones
             * among them not listed: they are read off their own list below */
            for (int lo = l + st.size, hi = r + st.size; lo >= 1; lo >>= 1, hi >>= 1) /* every node over a leaf of b's */
                for (int node = lo; node <= hi; node++)
                    for (int j = st.start[node]; j < st.start[node + 1]; j++) {
                        int p = st.item[j];
                        if (placed[p] && seen[p] != k) {
                            seen[p] = k;
                            if (!is_long[p])
                                meets[nm++] = placed_at[p];
                        }
                    }
            /* ... lowest offset first (buffers at the same offset in any order: after the first
             * of them, none can start a gap): sorted and merged with the long-lived ones that
             * meet b (their list is in offset order), or, when they are a large share of the
             * placed ones, all read off the placed list already in that order; the same
             * sequence either way */
            if (nm > ARENA_INSERTION_SORT_MAX && (int64_t)nm * ARENA_SORT_VS_WALK >= k) {
                const int *sorted = offset_list_read(&by_off, placed_at, sort_tmp);
                nm = 0;
                for (int i = 0; i < k; i++)
                    if (seen[sorted[i]] == k)
                        meets[nm++] = placed_at[sorted[i]];
            } else {
                if (nm <= ARENA_INSERTION_SORT_MAX)
                    sort_few(meets, nm);
                else
                    qsort(meets, (size_t)nm, sizeof *meets, by_offset);
                if (long_by_off.n > 0) {
                    const int *long_sorted = offset_list_read(&long_by_off, placed_at, sort_tmp);
                    int i = 0, m = 0;
                    for (int j = 0; j < long_by_off.n; j++) {
                        int p = long_sorted[j];
                        if (leaf_l[p] > r || l > leaf_r[p])
                            continue;
                        for (; i < nm && by_offset(&meets[i], &placed_at[p]) <= 0; i++)
                            merged[m++] = meets[i];
                        merged[m++] = placed_at[p];
                    }
                    for (; i < nm; i++)
                        merged[m++] = meets[i];
                    met *t = meets;
                    meets = merged;
                    merged = t;
                    nm = m;
                }
            }
        }
        /* the smallest gap between them that holds b, else the top of the highest */
        uint64_t top = 0, best = UINT64_MAX, best_gap = UINT64_MAX;
        for (int i = 0; i < nm; i++) {
            const met *p = &meets[i];
            if (p->off >= top + need[bi] && p->off - top < best_gap) {
                best_gap = p->off - top;
                best = top;
            }
            if (p->end > top)
                top = p->end;
        }
        uint64_t at = best != UINT64_MAX ? best : top;
        offsets[bi] = at;
        placed[bi] = true;
        placed_at[bi] = (met){at, at + need[bi]};
        offset_list_add(&by_off, bi);
        if (is_long[bi])
            offset_list_add(&long_by_off, bi);
        if (at + need[bi] > *peak)
            *peak = at + need[bi];
    }
out: /* every exit: the scratch arrays go, whether or not all of them were allocated */
    free(order);
    free(order_tmp);
    free(need);
    free(placed);
    free(seen);
    free(meets);
    free(placed_at);
    free(by_off.at);
    free(leaf_l);
    free(leaf_r);
    free(is_long);
    free(long_by_off.at);
    free(sort_tmp);
    free(merged);
    tree_free(&st);
    return rc;
}

/* ---------------------------------------------------------------- the plan */

npu_mem_plan *npu_mem_plan_new(npu_backend *b, rt_graph *g, npu_resident_fn resident, void *resident_ctx,
                               rt_error *e)
{
    if (!b || !g) {
        rt_error_set(e, RT_ERR_ARG, "npu_mem_plan_new: no backend or graph");
        return NULL;
    }
    npu_mem_plan *p = calloc(1, sizeof *p);
    /* only a plan with resident tensors needs their offsets: a segment built alone
     * (npu_segment_build, once per segment) must not cost the graph's size */
    if (p && resident)
        p->res_off = malloc(((size_t)g->n_tensors + 1) * sizeof *p->res_off);
    if (!p || (resident && !p->res_off)) {
        free(p);
        rt_error_set(e, RT_ERR_NOMEM, "out of memory (memory plan)");
        return NULL;
    }
    for (int t = 0; resident && t < g->n_tensors; t++)
        p->res_off[t] = NPU_MEMPLAN_UNPLACED;
    p->b = b;
    p->g = g;
    p->resident = resident;
    p->resident_ctx = resident_ctx;
    p->onchip = npu_dev_onchip_bytes(b->dev) > 0;
    return p;
}

bool npu_mem_plan_is_resident(const npu_mem_plan *p, int t)
{
    return p->resident && p->resident(p->g, t, p->resident_ctx);
}

uint64_t npu_mem_plan_resident(npu_mem_plan *p, int t, uint64_t bytes)
{
    if (p->res_off[t] == NPU_MEMPLAN_UNPLACED) {
        p->res_off[t] = p->res_bytes;
        p->res_bytes += align_up(bytes ? bytes : 1, NPU_ARENA_ALIGN_BYTES);
    }
    return p->res_off[t];
}

npu_segment *npu_mem_plan_segment(npu_mem_plan *p, const int *nodes, int n_nodes, npu_weight_type weights,
                                  bool timing_only, rt_error *e)
{
    if (!p) {
        rt_error_set(e, RT_ERR_ARG, "npu_mem_plan_segment: no plan");
        return NULL;
    }
    if (p->committed) {
        rt_error_set(e, RT_ERR_ARG, "npu_mem_plan_segment: the plan's memory is already allocated");
        return NULL;
    }
    if (p->n_segs == p->cap_segs) {
        int cap = p->cap_segs ? 2 * p->cap_segs : 16;
        npu_segment **s = realloc(p->segs, (size_t)cap * sizeof *s);
        if (!s) {
            rt_error_set(e, RT_ERR_NOMEM, "out of memory (memory plan)");
            return NULL;
        }
        p->segs = s;
        p->cap_segs = cap;
    }
    npu_segment *s = npu_segment_plan(p, nodes, n_nodes, weights, timing_only, e);
    if (!s)
        return NULL;
    /* its constants and descriptors follow the previous segment's; its activations share the arena */
    s->const_off = p->const_bytes;
    uint64_t c = 0;
    for (uint32_t k = 0; k < s->nbufs; k++) {
        if (k == NPU_BUF_ACT || k == NPU_BUF_RESIDENT)
            continue;
        if (k == NPU_BUF_PARAM && p->onchip) { /* an offset in the plan's own region of them */
            s->buf_off[k] = p->param_bytes;
            p->param_bytes += align_up(s->buf_bytes[k] ? s->buf_bytes[k] : 1, NPU_ARENA_ALIGN_BYTES);
            continue;
        }
        s->buf_off[k] = c;
        c += align_up(s->buf_bytes[k] ? s->buf_bytes[k] : 1, NPU_ARENA_ALIGN_BYTES);
    }
    p->const_bytes += c;
    s->prog_off = p->prog_bytes;
    p->prog_bytes += npu_program_region_bytes(s->n_ops);
    if (s->buf_bytes[NPU_BUF_ACT] > p->act_bytes)
        p->act_bytes = s->buf_bytes[NPU_BUF_ACT];
    p->segs[p->n_segs++] = s;
    return s;
}

void npu_mem_plan_usage(const npu_mem_plan *p, npu_mem_usage *u)
{
    memset(u, 0, sizeof *u);
    if (!p)
        return;
    /* as commit allocates: the arena and the descriptors always (an empty window points into the
     * arena), the constant and resident regions when they hold anything */
    u->weight_bytes = p->const_bytes + p->param_bytes;
    u->kv_bytes = p->res_bytes;
    u->act_bytes = align_up(p->act_bytes ? p->act_bytes : 1, NPU_ARENA_ALIGN_BYTES);
    u->program_bytes = p->prog_bytes ? p->prog_bytes : NPU_ARENA_ALIGN_BYTES;
    u->peak_bytes = u->weight_bytes + u->kv_bytes + u->act_bytes + u->program_bytes;
}

void npu_segment_mem_usage(const npu_segment *s, npu_mem_usage *u)
{
    memset(u, 0, sizeof *u);
    if (!s)
        return;
    for (uint32_t k = 0; k < s->nbufs; k++) {
        uint64_t bytes = align_up(s->buf_bytes[k], NPU_ARENA_ALIGN_BYTES);
        if (k == NPU_BUF_ACT)
            u->act_bytes = bytes;
        else if (k == NPU_BUF_RESIDENT)
            u->kv_bytes = bytes;
        else
            u->weight_bytes += bytes;
    }
    u->program_bytes = s->n_ops ? npu_program_region_bytes(s->n_ops) : 0;
    u->peak_bytes = u->weight_bytes + u->kv_bytes + u->act_bytes + u->program_bytes;
}

static double mib(uint64_t bytes) { return (double)bytes / BYTES_PER_MIB; }

/* The plan does not fit: what it needs (weights, KV cache, activations, descriptors), what
 * device memory already holds, and how many bytes are missing; or, when enough bytes are free
 * but not in one block, which region found no block. */
static rt_status does_not_fit(const npu_mem_plan *p, const npu_mem_info *mi, const char *region, uint64_t region_bytes,
                              rt_error *e)
{
    npu_mem_usage u;
    npu_mem_plan_usage(p, &u);
    uint64_t missing = u.peak_bytes > mi->free_bytes ? u.peak_bytes - mi->free_bytes : 0;
    char tail[200];
    if (missing)
        snprintf(tail, sizeof tail, "%" PRIu64 " bytes (%.1f MiB) are missing", missing, mib(missing));
    else
        snprintf(tail, sizeof tail, "%s (%" PRIu64 " bytes) find no free block that large (the largest is %" PRIu64
                 " bytes)", region, region_bytes, mi->largest_free_bytes);
    return rt_error_set(e, RT_ERR_NOMEM,
                        "device memory: the plan of %d segments needs %" PRIu64 " bytes (%.1f MiB: weights %.1f, "
                        "KV cache %.1f, activations %.1f, descriptors %.1f); the device's %" PRIu64
                        " bytes already hold %" PRIu64 " in %u buffers (%" PRIu64 " the driver's queue and log), "
                        "%" PRIu64 " are free: %s",
                        p->n_segs, u.peak_bytes, mib(u.peak_bytes), mib(u.weight_bytes), mib(u.kv_bytes),
                        mib(u.act_bytes), mib(u.program_bytes), mi->total_bytes, mi->used_bytes, mi->live_bos,
                        mi->driver_bytes, mi->free_bytes, tail);
}

static void release(npu_mem_plan *p)
{
    npu_bo_free(p->const_bo);
    npu_bo_free(p->res_bo);
    npu_bo_free(p->act_bo);
    npu_bo_free(p->prog_bo);
    npu_bo_free(p->param_bo);
    p->const_bo = p->res_bo = p->act_bo = p->prog_bo = p->param_bo = NULL;
}

static npu_window window(npu_bo *bo, uint64_t offset, uint64_t bytes)
{
    npu_window w = {bo, offset, bytes ? bytes : NPU_ARENA_ALIGN_BYTES};
    return w;
}

rt_status npu_mem_plan_check(const npu_mem_plan *p, rt_error *e)
{
    if (!p)
        return rt_error_set(e, RT_ERR_ARG, "npu_mem_plan_check: no plan");
    npu_mem_info mi;
    npu_dev_mem_info(p->b->dev, &mi);
    npu_mem_usage u;
    npu_mem_plan_usage(p, &u);
    return u.peak_bytes > mi.free_bytes ? does_not_fit(p, &mi, "the plan", u.peak_bytes, e) : RT_OK;
}

rt_status npu_mem_plan_commit(npu_mem_plan *p, rt_error *e)
{
    if (!p)
        return rt_error_set(e, RT_ERR_ARG, "npu_mem_plan_commit: no plan");
    if (p->committed)
        return RT_OK;
    rt_status fit = npu_mem_plan_check(p, e);
    if (fit != RT_OK)
        return fit;
    npu_dev *dev = p->b->dev;
    npu_mem_info mi;
    npu_dev_mem_info(dev, &mi);
    npu_mem_usage u;
    npu_mem_plan_usage(p, &u);
    /* the largest and longest-lived first; on a device with on-chip memory at the top of its
     * address space, from the top down (npu_bo_alloc_high) the arena, the small constants and the
     * weights, so that they are on chip in that order as far as they fit: every inference reads and
     * writes its activations and reads its constants; the weights that do not fit stream from DRAM
     * (as the Edge TPU compiler caches parameters on chip and streams the rest) */
    struct { npu_bo **bo; uint64_t bytes; const char *what; bool high; } regions[] = {
        {&p->act_bo, p->onchip ? u.act_bytes : 0, "its activation arena", true},
        {&p->param_bo, p->param_bytes, "its small constants", true},
        {&p->const_bo, p->const_bytes, "its constants", p->onchip},
        {&p->res_bo, u.kv_bytes, "its resident tensors", false},
        {&p->act_bo, p->onchip ? 0 : u.act_bytes, "its activation arena", false},
        {&p->prog_bo, u.program_bytes, "its descriptors", false},
    };
    for (size_t i = 0; i < sizeof regions / sizeof regions[0]; i++) {
        uint64_t bytes = regions[i].bytes;
        if (bytes && !(*regions[i].bo = regions[i].high ? npu_bo_alloc_high(dev, bytes) : npu_bo_alloc(dev, bytes))) {
            release(p);
            return does_not_fit(p, &mi, regions[i].what, bytes, e);
        }
    }
    for (int i = 0; i < p->n_segs; i++) {
        npu_segment *s = p->segs[i];
        for (uint32_t k = 0; k < s->nbufs; k++) {
            if (k == NPU_BUF_ACT)
                s->win[k] = window(p->act_bo, 0, s->buf_bytes[k]);
            else if (k == NPU_BUF_PARAM && p->onchip)
                s->win[k] = window(p->param_bo, s->buf_off[k], s->buf_bytes[k]);
            else if (k == NPU_BUF_RESIDENT)
                s->win[k] = s->buf_bytes[k] ? window(p->res_bo, s->res_base, s->buf_bytes[k])
                                            : window(p->act_bo, 0, 0); /* touches none: any valid window */
            else
                s->win[k] = window(p->const_bo, s->const_off + s->buf_off[k], s->buf_bytes[k]);
        }
        uint64_t desc_bytes = (uint64_t)s->n_ops * sizeof *s->ops;
        s->prog = window(p->prog_bo, s->prog_off, desc_bytes);
        s->prof = window(p->prog_bo, s->prog_off + align_up(desc_bytes, NPU_ARENA_ALIGN_BYTES),
                         (uint64_t)s->n_ops * sizeof(npu_op_profile));
        rt_status st = npu_segment_upload(s, e);
        if (st != RT_OK) {
            release(p);
            return st;
        }
    }
    p->committed = true;
    return RT_OK;
}

void npu_mem_plan_free(npu_mem_plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_segs; i++)
        npu_segment_destroy(p->segs[i]);
    release(p);
    free(p->segs);
    free(p->res_off);
    free(p);
}
