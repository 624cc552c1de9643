/* The device-memory plan (runtime/npu/npu_memplan.c): the arena planner's offsets never let two
 * buffers alive at the same step overlap and beat first-fit in time order where that fragments;
 * the segments of a plan share one activation arena (a module whose segments' activations add
 * up to more than the device holds fits, as long as the largest one does: the regression of
 * issue 17), constants and resident tensors are placed once, all device memory comes back when
 * the plan is freed, a plan that does not fit says what it needs and how much is missing, and
 * segments run through a plan compute exactly what they compute alone. On configs/test.yaml's
 * device (64 MiB of DRAM). */
#include "npu_graph_bench.h"

#include "m4npu_config.h"
#include "npu_internal.h"

#define MIB (1024ull * 1024ull)
#define N_REFERENCE_MAX 400 /* buffers in the planner's comparison with the reference walk */
#define N_DENSE 3000        /* buffers of the dense comparison: many placed ones meet each new one */

static npu_backend *BE;

static int setup(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_defaults(&cfg);
    rt_error e;
    BE = npu_backend_open(&cfg, &e);
    if (!BE)
        fail_msg("npu_backend_open: %s", e.msg);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    npu_backend_close(BE);
    return 0;
}

#define IN(...) ((const char *[]){__VA_ARGS__})

/* ---------------------------------------------------------------- the arena planner */

static void check_no_overlap(const npu_live_buf *b, int n, const uint64_t *off, uint64_t align, uint64_t peak)
{
    for (int i = 0; i < n; i++) {
        assert_int_equal(off[i] % align, 0);
        assert_true(off[i] + b[i].bytes <= peak);
        for (int j = i + 1; j < n; j++) {
            bool meet = !(b[i].last < b[j].first || b[j].last < b[i].first);
            bool share = off[i] < off[j] + b[j].bytes && off[j] < off[i] + b[i].bytes;
            if (meet && share)
                fail_msg("buffers %d [%d,%d] at %llu+%llu and %d [%d,%d] at %llu+%llu overlap", i, b[i].first,
                         b[i].last, (unsigned long long)off[i], (unsigned long long)b[i].bytes, j, b[j].first,
                         b[j].last, (unsigned long long)off[j], (unsigned long long)b[j].bytes);
        }
    }
}

/* First fit in time order puts A and B at step 0 (0..10, 10..20), frees A at step 1 and finds no
 * room for C (20) in A's old hole: peak 40. Greedy by size places C first and reaches the lower
 * bound, the most bytes alive at one step (B + C = 30). */
static void test_arena_greedy_by_size_reaches_the_bound_first_fit_misses(void **state)
{
    (void)state;
    const npu_live_buf b[3] = {{10, 0, 0}, {10, 0, 2}, {20, 1, 1}};
    uint64_t off[3], peak;
    rt_error e;
    assert_int_equal(npu_arena_plan(b, 3, 1, off, &peak, &e), RT_OK);
    check_no_overlap(b, 3, off, 1, peak);
    assert_int_equal(peak, 30);
}

static void test_arena_random_plans_are_valid_and_deterministic(void **state)
{
    (void)state;
    test_rng r = {2024};
    enum { N = 60, ALIGN = 64 };
    for (int round = 0; round < 200; round++) {
        npu_live_buf b[N];
        int n = (int)test_rng_range(&r, 1, N), steps = (int)test_rng_range(&r, 1, 40);
        for (int i = 0; i < n; i++) {
            int a = (int)test_rng_range(&r, -1, steps), c = (int)test_rng_range(&r, -1, steps);
            b[i] = (npu_live_buf){(uint64_t)test_rng_range(&r, 1, 5000), a < c ? a : c, a < c ? c : a};
        }
        uint64_t off[N], off2[N], peak, peak2;
        rt_error e;
        assert_int_equal(npu_arena_plan(b, n, ALIGN, off, &peak, &e), RT_OK);
        check_no_overlap(b, n, off, ALIGN, peak);
        uint64_t bound = 0, total = 0; /* the most aligned bytes alive at one step; all of them */
        for (int t = -1; t <= steps; t++) {
            uint64_t live = 0;
            for (int i = 0; i < n; i++)
                if (b[i].first <= t && t <= b[i].last)
                    live += (b[i].bytes + ALIGN - 1) / ALIGN * ALIGN;
            bound = live > bound ? live : bound;
        }
        for (int i = 0; i < n; i++)
            total += (b[i].bytes + ALIGN - 1) / ALIGN * ALIGN;
        assert_true(peak >= bound && peak <= total);
        assert_int_equal(npu_arena_plan(b, n, ALIGN, off2, &peak2, &e), RT_OK);
        assert_int_equal(peak, peak2);
        assert_memory_equal(off, off2, (size_t)n * sizeof off[0]);
    }
}

/* The planner as first written: every placed buffer walked for each new one, O(n^2). The planner
 * now finds the buffers that meet a lifetime through a tree over the steps (a segment of 80,000
 * nodes took seconds); it must place every buffer exactly where this walk does. */
static void reference_plan(const npu_live_buf *b, int n, uint64_t align, uint64_t *off, uint64_t *peak)
{
    int order[N_DENSE];
    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = 1; i < n; i++) /* largest first; then the earlier birth; then the lower index */
        for (int j = i; j > 0; j--) {
            const npu_live_buf *x = &b[order[j - 1]], *y = &b[order[j]];
            bool swap = x->bytes < y->bytes || (x->bytes == y->bytes && x->first > y->first);
            if (!swap)
                break;
            int t = order[j - 1];
            order[j - 1] = order[j];
            order[j] = t;
        }
    int placed[N_DENSE], nplaced = 0;
    *peak = 0;
    for (int k = 0; k < n; k++) {
        const npu_live_buf *x = &b[order[k]];
        uint64_t need = ((x->bytes ? x->bytes : 1) + align - 1) / align * align;
        uint64_t top = 0, best = UINT64_MAX, best_gap = UINT64_MAX;
        for (int i = 0; i < nplaced; i++) { /* placed[] is kept sorted by offset */
            const npu_live_buf *p = &b[placed[i]];
            uint64_t p_need = ((p->bytes ? p->bytes : 1) + align - 1) / align * align;
            if (p->last < x->first || p->first > x->last)
                continue;
            if (off[placed[i]] >= top + need && off[placed[i]] - top < best_gap) {
                best_gap = off[placed[i]] - top;
                best = top;
            }
            if (off[placed[i]] + p_need > top)
                top = off[placed[i]] + p_need;
        }
        uint64_t at = best != UINT64_MAX ? best : top;
        off[order[k]] = at;
        int pos = nplaced;
        while (pos > 0 && off[placed[pos - 1]] > at) {
            placed[pos] = placed[pos - 1];
            pos--;
        }
        placed[pos] = order[k];
        nplaced++;
        if (at + need > *peak)
            *peak = at + need;
    }
}

/* npu_arena_plan places b[0..n) where the reference walk does, with the same peak (off and want:
 * the caller's room for n offsets). */
static void assert_plan_matches_walk(const npu_live_buf *b, int n, uint64_t align, uint64_t *off, uint64_t *want)
{
    uint64_t peak, want_peak;
    rt_error e;
    assert_int_equal(npu_arena_plan(b, n, align, off, &peak, &e), RT_OK);
    reference_plan(b, n, align, want, &want_peak);
    assert_int_equal(peak, want_peak);
    assert_memory_equal(off, want, (size_t)n * sizeof off[0]);
}

static void test_arena_plan_matches_the_walk_over_every_buffer(void **state)
{
    (void)state;
    test_rng r = {17};
    for (int round = 0; round < 300; round++) {
        npu_live_buf b[N_REFERENCE_MAX];
        int n = (int)test_rng_range(&r, 1, N_REFERENCE_MAX), steps = (int)test_rng_range(&r, 1, 2 * N_REFERENCE_MAX);
        uint64_t align = round % 3 == 0 ? 1 : 64, span = round % 2 ? 4 : (uint64_t)steps; /* short or any lifetimes */
        for (int i = 0; i < n; i++) {
            int a = (int)test_rng_range(&r, -1, steps), len = (int)test_rng_range(&r, 0, (int)span);
            /* sizes from a few values, so that equal sizes (the tie-breaks) are common */
            b[i] = (npu_live_buf){(uint64_t)test_rng_range(&r, 0, 4) * 1000 + (round % 5 ? 0 : (uint64_t)i % 7), a,
                                  a + len};
        }
        uint64_t off[N_REFERENCE_MAX], want[N_REFERENCE_MAX];
        assert_plan_matches_walk(b, n, align, off, want);
    }
}

/* The planner finds the placed buffers a new one meets in several ways by how many there are
 * (a tree query then an inline sort, qsort, or a read of the placed list in offset order; or, for
 * a long lifetime, a test of every placed buffer): thousands of buffers with short lifetimes on
 * few steps make each new one meet dozens to hundreds of placed ones, so every way is taken
 * (the random comparison above, with at most 400 buffers, never sorts more than a few). Each must
 * place exactly where the walk does. */
static void test_arena_plan_matches_the_walk_when_many_buffers_meet(void **state)
{
    (void)state;
    test_rng r = {99};
    static const int steps_of_round[] = {40, 75, 150, 400};
    enum { ROUNDS = sizeof steps_of_round / sizeof steps_of_round[0] };
    static npu_live_buf b[N_DENSE];
    static uint64_t off[N_DENSE], want[N_DENSE];
    for (int round = 0; round < ROUNDS; round++) {
        int steps = steps_of_round[round];
        for (int i = 0; i < N_DENSE; i++) {
            int a = (int)test_rng_range(&r, -1, steps), len = (int)test_rng_range(&r, 0, 2);
            /* a few long lifetimes among the short ones */
            if (i % 97 == 0)
                len = steps;
            b[i] = (npu_live_buf){(uint64_t)test_rng_range(&r, 1, 64) * 256, a, a + len};
        }
        assert_plan_matches_walk(b, N_DENSE, 64, off, want);
    }
}

/* The placed buffers in offset order are brought up to date only when the planner reads them
 * (placing appends; a read sorts the new ones and merges them in): a chain of short lifetimes,
 * as one segment of an elementwise chain gives, places thousands without a read; long lifetimes
 * of the largest size, placed first, come into their own list 60 at once before a short one
 * reads it; small long-lived ones, placed last, read the 2,800 placed since the previous read,
 * then dozens at a time. The chain's sizes vary, so that its buffers are placed out of offset
 * order (a read that skipped the sort, or merged by index, fails here). Every buffer where the
 * walk puts it. */
static void test_arena_plan_matches_the_walk_when_reads_are_rare(void **state)
{
    (void)state;
    test_rng r = {31};
    enum { STEPS = 1500, LONG_EVERY = 50, SMALL_LONG_EVERY = 331, LARGEST_BYTES = 8192, SMALL_MAX_BYTES = 200 };
    static npu_live_buf b[N_DENSE];
    static uint64_t off[N_DENSE], want[N_DENSE];
    for (int i = 0; i < N_DENSE; i++) {
        int a = (int)test_rng_range(&r, -1, STEPS);
        if (i % LONG_EVERY == 0) /* long and the largest */
            b[i] = (npu_live_buf){LARGEST_BYTES, a / 2, a / 2 + STEPS / 2};
        else if (i % SMALL_LONG_EVERY == 1) /* long and the smallest */
            b[i] = (npu_live_buf){(uint64_t)test_rng_range(&r, 1, SMALL_MAX_BYTES), a / 4, a / 4 + STEPS / 3};
        else /* a step of the chain: written at a, read at a + 1 */
            b[i] = (npu_live_buf){(uint64_t)test_rng_range(&r, 1, 64) * 64, a, a + 1}; /* 64 B .. 4 KiB */
    }
    assert_plan_matches_walk(b, N_DENSE, 64, off, want);
}

/* npu_sort_distinct (a segment's tensors, the planner's steps): values in a compact range (a
 * table) and spread ones (a sort), negatives and repeats, give the ascending distinct values. */
static void test_sort_distinct_lists_each_value_once_ascending(void **state)
{
    (void)state;
    test_rng r = {5};
    enum { N = 500 };
    for (int round = 0; round < 40; round++) {
        int v[N], n = (int)test_rng_range(&r, 1, N);
        int spread = round % 2 ? 2 * n : 1000000; /* a table, or a sort */
        bool want[2 * N + 1] = {false};
        for (int i = 0; i < n; i++) {
            v[i] = (int)test_rng_range(&r, 0, spread) - spread / 2;
            if (round % 2)
                want[v[i] + spread / 2] = true;
        }
        int copy[N];
        memcpy(copy, v, sizeof copy);
        int w = npu_sort_distinct(v, n);
        assert_true(w >= 1 && w <= n);
        for (int i = 1; i < w; i++)
            assert_true(v[i - 1] < v[i]);
        for (int i = 0; i < n; i++) { /* every input value is listed */
            bool found = false;
            for (int j = 0; j < w && !found; j++)
                found = v[j] == copy[i];
            assert_true(found);
        }
        for (int j = 0; j < w; j++) { /* and nothing else */
            bool found = false;
            for (int i = 0; i < n && !found; i++)
                found = v[j] == copy[i];
            assert_true(found);
        }
        if (round % 2) {
            int listed = 0;
            for (int x = 0; x <= spread; x++)
                listed += want[x];
            assert_int_equal(w, listed);
        }
    }
    assert_int_equal(npu_sort_distinct(NULL, 0), 0);
}

/* ---------------------------------------------------------------- plans of segments */

static uint64_t used_now(void)
{
    npu_mem_info mi;
    npu_dev_mem_info(npu_backend_device(BE), &mi);
    return mi.used_bytes;
}

/* n MatMuls of x [rows, k] by their own weight [k, cols], each its own graph output; timing-only
 * (the weights have no data). */
static rt_graph *fanout_graph(int n, int64_t rows, int64_t k, int64_t cols)
{
    rt_graph *g = graph_create("fanout");
    assert_non_null(g);
    int64_t xd[2] = {rows, k}, wd[2] = {k, cols};
    assert_true(graph_add_input(g, "x", RT_DT_F32, 2, xd) >= 0);
    for (int i = 0; i < n; i++) {
        char w[16], y[16];
        snprintf(w, sizeof w, "w%d", i);
        snprintf(y, sizeof y, "y%d", i);
        assert_true(graph_add_weight(g, w, RT_DT_F32, 2, wd) >= 0);
        assert_true(graph_add_node(g, "MatMul", NULL, 2, IN("x", w), 1, IN(y)) >= 0);
        assert_int_equal(graph_mark_output(g, graph_find_tensor(g, y)), RT_OK);
    }
    rt_error e;
    if (graph_prepare(g, &e) != RT_OK)
        fail_msg("graph_prepare: %s", e.msg);
    return g;
}

/* Issue 17's regression: 8 segments of 8 MiB of activations each (64 MiB together, the whole
 * device) used to hold all their buffers at once and ran out of device memory; planned together
 * they share one arena of the largest segment's size, run, and give every byte back. */
static void test_segments_share_one_arena_and_memory_comes_back(void **state)
{
    (void)state;
    enum { SEGS = 8 };
    const int64_t rows = 2048, k = 16, cols = 4096; /* out 8 MiB, in 32 KiB, weight 64 KiB per segment */
    rt_graph *g = fanout_graph(SEGS, rows, k, cols);
    uint64_t before = used_now();
    rt_error e;
    npu_mem_plan *p = npu_mem_plan_new(BE, g, NULL, NULL, &e);
    assert_non_null(p);
    npu_segment *segs[SEGS];
    uint64_t act_sum = 0, const_sum = 0;
    for (int i = 0; i < SEGS; i++) {
        int node = i;
        segs[i] = npu_mem_plan_segment(p, &node, 1, NPU_WEIGHTS_INT8, true, &e);
        if (!segs[i])
            fail_msg("segment %d: %s", i, e.msg);
        npu_mem_usage su;
        npu_segment_mem_usage(segs[i], &su);
        assert_int_equal(su.act_bytes, (uint64_t)(rows * cols + rows * k));
        act_sum += su.act_bytes;
        const_sum += su.weight_bytes;
    }
    npu_mem_usage u;
    npu_mem_plan_usage(p, &u);
    assert_true(act_sum >= 64 * MIB); /* more than the device: one buffer per segment could not fit */
    assert_int_equal(u.act_bytes, (uint64_t)(rows * cols + rows * k));
    assert_int_equal(u.weight_bytes, const_sum);
    assert_int_equal(u.kv_bytes, 0);
    assert_int_equal(u.peak_bytes, u.weight_bytes + u.kv_bytes + u.act_bytes + u.program_bytes);
    if (npu_mem_plan_commit(p, &e) != RT_OK)
        fail_msg("commit: %s", e.msg);
    assert_int_equal(used_now() - before, u.peak_bytes);
    for (int i = 0; i < SEGS; i++) {
        npu_segment_stats st;
        if (npu_segment_run(segs[i], NULL, &st, &e) != RT_OK)
            fail_msg("run %d: %s", i, e.msg);
        assert_true(st.cycles > 0);
    }
    npu_mem_plan_free(p);
    assert_int_equal(used_now(), before);
    npu_mem_info mi; /* and in one block again: the freed ranges merged with their neighbours */
    npu_dev_mem_info(npu_backend_device(BE), &mi);
    assert_int_equal(mi.largest_free_bytes, mi.free_bytes);
    graph_free(g);
}

/* x [1, C, H, W] through a 3x3 Conv with 1-pixel pads into the graph output y; timing-only. */
static rt_graph *padded_conv_graph(int64_t c, int64_t hw, int64_t co)
{
    rt_graph *g = graph_create("padded_conv");
    assert_non_null(g);
    int64_t xd[4] = {1, c, hw, hw}, wd[4] = {co, c, 3, 3};
    assert_true(graph_add_input(g, "x", RT_DT_F32, 4, xd) >= 0);
    assert_true(graph_add_weight(g, "w", RT_DT_F32, 4, wd) >= 0);
    int n = graph_add_node(g, "Conv", NULL, 2, IN("x", "w"), 1, IN("y"));
    assert_true(n >= 0);
    graph_node_set_ints(g, n, "pads", 4, (const int64_t[]){1, 1, 1, 1});
    assert_int_equal(graph_mark_output(g, graph_find_tensor(g, "y")), RT_OK);
    rt_error e;
    if (graph_prepare(g, &e) != RT_OK)
        fail_msg("graph_prepare: %s", e.msg);
    return g;
}

/* One plan of the padded conv on backend b: its usage and one run's stats. */
static void run_padded_conv(npu_backend *b, rt_graph *g, npu_mem_usage *u, npu_segment_stats *st)
{
    rt_error e;
    npu_mem_plan *p = npu_mem_plan_new(b, g, NULL, NULL, &e);
    assert_non_null(p);
    int node = 0;
    npu_segment *s = npu_mem_plan_segment(p, &node, 1, NPU_WEIGHTS_INT8, true, &e);
    if (!s)
        fail_msg("segment: %s", e.msg);
    npu_mem_plan_usage(p, u);
    if (npu_mem_plan_commit(p, &e) != RT_OK)
        fail_msg("commit: %s", e.msg);
    if (npu_segment_run(s, NULL, st, &e) != RT_OK)
        fail_msg("run: %s", e.msg);
    npu_mem_plan_free(p);
}

static uint64_t dram_bytes(const npu_segment_stats *st)
{
    uint64_t n = 0;
    for (int u = 0; u < NPU_UNIT_COUNT; u++)
        n += st->counters.v[u][NPU_CTR_DRAM_RD] + st->counters.v[u][NPU_CTR_DRAM_WR];
    return n;
}

/* The padded copy a PAD writes before a Conv reads it holds nothing between runs: it is arena
 * scratch at the conv's step (beside its input and output), not a constant (it used to be one: a
 * plan's constants grew by every padded input of a CNN, and a device with on-chip memory would
 * have held them there for good). On a device with on-chip memory (npu.dram.onchip_bytes) the
 * arena, the small constants and the weights go there first: a conv whose data all fits moves no
 * DRAM byte and takes fewer cycles than the same conv on DRAM. */
static void test_padded_copy_is_scratch_and_onchip_memory_holds_the_plan(void **state)
{
    (void)state;
    const int64_t c = 8, hw = 32, co = 16;
    const uint64_t x_bytes = (uint64_t)(c * hw * hw), y_bytes = (uint64_t)(co * hw * hw);
    const uint64_t padded_bytes = (uint64_t)(c * (hw + 2) * (hw + 2));
    rt_graph *g = padded_conv_graph(c, hw, co);
    npu_mem_usage u;
    npu_segment_stats dram_st, onchip_st;
    run_padded_conv(BE, g, &u, &dram_st);
    assert_true(u.weight_bytes < padded_bytes);                   /* not a constant */
    assert_true(u.act_bytes >= x_bytes + y_bytes + padded_bytes); /* all three live at the conv */
    assert_true(dram_bytes(&dram_st) > 0);

    /* one device per process (SystemC): the suite's, then one with on-chip memory, then the suite's again */
    npu_backend_close(BE);
    m4npu_config cfg;
    m4npu_config_defaults(&cfg);
    cfg.npu.dram.onchip_bytes = 1 * MIB;
    rt_error e;
    BE = npu_backend_open(&cfg, &e);
    if (!BE)
        fail_msg("npu_backend_open: %s", e.msg);
    run_padded_conv(BE, g, &u, &onchip_st);
    assert_int_equal(dram_bytes(&onchip_st), 0);
    assert_true(onchip_st.cycles < dram_st.cycles);
    /* the same work, on chip: as many MACs */
    assert_int_equal(onchip_st.counters.v[NPU_UNIT_MM][NPU_CTR_MACS], dram_st.counters.v[NPU_UNIT_MM][NPU_CTR_MACS]);
    npu_backend_close(BE);
    m4npu_config_defaults(&cfg);
    BE = npu_backend_open(&cfg, &e);
    if (!BE)
        fail_msg("npu_backend_open: %s", e.msg);
    graph_free(g);
}

/* The memo (npu_memo.c) takes a timing-only segment's stats from an earlier segment with the same
 * descriptors. On a device with on-chip memory that is only right when their buffers lie alike
 * against it: two identical MatMul segments whose weights are one on chip and one split by the
 * boundary (the plan places the later segment's constants higher, so on chip first) take
 * different times, and the memo must give each its own, as simulating each does. */
static void test_memo_tells_on_chip_placements_apart(void **state)
{
    (void)state;
    const int64_t rows = 64, k = 256, cols = 256; /* weights 64 KiB each, activations 48 KiB */
    rt_graph *g = fanout_graph(2, rows, k, cols);
    npu_backend_close(BE); /* one device per process (SystemC) */
    m4npu_config cfg;
    m4npu_config_defaults(&cfg);
    cfg.npu.dram.onchip_bytes = 128 * 1024; /* the arena, the scales, one weight and part of the other */
    rt_error e;
    npu_segment_stats memo_st[2], alone_st[2];
    for (int memo = 1; memo >= 0; memo--) {
        BE = npu_backend_open(&cfg, &e);
        if (!BE)
            fail_msg("npu_backend_open: %s", e.msg);
        npu_backend_set_memo(BE, memo);
        npu_mem_plan *p = npu_mem_plan_new(BE, g, NULL, NULL, &e);
        assert_non_null(p);
        npu_segment *segs[2];
        for (int i = 0; i < 2; i++) {
            int node = i;
            segs[i] = npu_mem_plan_segment(p, &node, 1, NPU_WEIGHTS_INT8, true, &e);
            if (!segs[i])
                fail_msg("segment %d: %s", i, e.msg);
        }
        if (npu_mem_plan_commit(p, &e) != RT_OK)
            fail_msg("commit: %s", e.msg);
        for (int i = 0; i < 2; i++)
            if (npu_segment_run(segs[i], NULL, memo ? &memo_st[i] : &alone_st[i], &e) != RT_OK)
                fail_msg("run %d: %s", i, e.msg);
        npu_mem_plan_free(p);
        npu_backend_close(BE);
    }
    assert_true(dram_bytes(&alone_st[0]) > dram_bytes(&alone_st[1])); /* segment 0's weights partly off chip */
    assert_true(alone_st[0].cycles > alone_st[1].cycles);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(memo_st[i].cycles, alone_st[i].cycles);
        assert_int_equal(dram_bytes(&memo_st[i]), dram_bytes(&alone_st[i]));
    }
    m4npu_config_defaults(&cfg);
    BE = npu_backend_open(&cfg, &e);
    if (!BE)
        fail_msg("npu_backend_open: %s", e.msg);
    graph_free(g);
}

/* A plan larger than the device: the error says what it needs, what is held, and the bytes
 * missing; nothing stays allocated. */
static void test_plan_that_does_not_fit_says_how_much_is_missing(void **state)
{
    (void)state;
    rt_graph *g = fanout_graph(1, 16, 8192, 8192); /* a 64 MiB weight on a 64 MiB device */
    uint64_t before = used_now();
    rt_error e;
    npu_mem_plan *p = npu_mem_plan_new(BE, g, NULL, NULL, &e);
    int node = 0;
    assert_non_null(npu_mem_plan_segment(p, &node, 1, NPU_WEIGHTS_INT8, true, &e));
    npu_mem_usage u;
    npu_mem_plan_usage(p, &u);
    npu_mem_info mi;
    npu_dev_mem_info(npu_backend_device(BE), &mi);
    assert_true(u.peak_bytes > mi.free_bytes);
    assert_int_equal(npu_mem_plan_commit(p, &e), RT_ERR_NOMEM);
    char want[160];
    snprintf(want, sizeof want, "needs %llu bytes", (unsigned long long)u.peak_bytes);
    assert_non_null(strstr(e.msg, want));
    snprintf(want, sizeof want, "%llu bytes (", (unsigned long long)(u.peak_bytes - mi.free_bytes));
    assert_non_null(strstr(e.msg, want));
    assert_non_null(strstr(e.msg, "are missing"));
    /* 64 MiB of int8 weights, their f32 scales (32 KiB) and the output stage's records (96 KiB) */
    assert_non_null(strstr(e.msg, "weights 64.1"));
    snprintf(want, sizeof want, "already hold %llu in %u buffers", (unsigned long long)mi.used_bytes, mi.live_bos);
    assert_non_null(strstr(e.msg, want));
    assert_int_equal(used_now(), before);
    npu_mem_plan_free(p);
    graph_free(g);
}

/* Resident tensors (a KV cache) live in their own region, once, whichever segments touch them. */
static bool resident_kv(const rt_graph *g, int t, void *ctx)
{
    (void)ctx;
    return strcmp(g->tensors[t]->name, "kv") == 0;
}

static void test_resident_tensors_are_placed_once(void **state)
{
    (void)state;
    rt_graph *g = graph_create("kv");
    int64_t d[2] = {64, 64};
    assert_true(graph_add_input(g, "kv", RT_DT_F32, 2, d) >= 0);
    assert_true(graph_add_input(g, "x", RT_DT_F32, 2, d) >= 0);
    assert_true(graph_add_node(g, "Add", NULL, 2, IN("x", "kv"), 1, IN("a")) >= 0);
    assert_true(graph_add_node(g, "Mul", NULL, 2, IN("x", "kv"), 1, IN("b")) >= 0);
    assert_int_equal(graph_mark_output(g, graph_find_tensor(g, "a")), RT_OK);
    assert_int_equal(graph_mark_output(g, graph_find_tensor(g, "b")), RT_OK);
    rt_error e;
    assert_int_equal(graph_prepare(g, &e), RT_OK);
    npu_mem_plan *p = npu_mem_plan_new(BE, g, resident_kv, NULL, &e);
    npu_segment *s[2];
    for (int i = 0; i < 2; i++) {
        s[i] = npu_mem_plan_segment(p, &i, 1, NPU_WEIGHTS_INT8, true, &e);
        if (!s[i])
            fail_msg("%s", e.msg);
        uint32_t n;
        const npu_op_desc *op = npu_segment_ops(s[i], &n);
        assert_int_equal(n, 1);
        assert_int_equal(op[0].in[1].buf, NPU_BUF_RESIDENT); /* kv */
        assert_int_equal(op[0].in[0].buf, NPU_BUF_ACT);      /* x */
        npu_mem_usage su;
        npu_segment_mem_usage(s[i], &su);
        assert_int_equal(su.kv_bytes, 64 * 64);
        assert_int_equal(su.act_bytes, 2 * 64 * 64); /* x and the output */
    }
    npu_mem_usage u;
    npu_mem_plan_usage(p, &u);
    assert_int_equal(u.kv_bytes, 64 * 64); /* once, not once per segment */
    assert_int_equal(npu_mem_plan_commit(p, &e), RT_OK);
    for (int i = 0; i < 2; i++)
        assert_int_equal(npu_segment_run(s[i], NULL, NULL, &e), RT_OK);
    npu_mem_plan_free(p);
    graph_free(g);
}

/* Two numeric segments of one plan (the second reads the first's output, which crosses through
 * the host) share the arena and compute exactly what each computes when built alone. */
static void test_plan_segments_compute_what_they_compute_alone(void **state)
{
    (void)state;
    gb b;
    gb_new(&b, "chain");
    int64_t xd[2] = {24, 40}, w1d[2] = {40, 48}, w2d[2] = {48, 32};
    gb_input(&b, "x", 2, xd);
    gb_const(&b, "w1", 2, w1d, -0.5f, 0.5f);
    gb_const(&b, "w2", 2, w2d, -0.5f, 0.5f);
    gb_node(&b, "MatMul", 2, IN("x", "w1"), 1, IN("h"));
    gb_node(&b, "MatMul", 2, IN("h", "w2"), 1, IN("y"));
    gb_output(&b, "h");
    gb_output(&b, "y");
    rt_tensor **ref = gb_reference(&b, -1.0f, 1.0f);
    rt_error e;
    rt_tensor **planned = gb_inputs_of(&b, ref), **alone = gb_inputs_of(&b, ref);
    npu_mem_plan *p = npu_mem_plan_new(BE, b.g, NULL, NULL, &e);
    npu_segment *ps[2], *as[2];
    for (int i = 0; i < 2; i++) {
        ps[i] = npu_mem_plan_segment(p, &i, 1, NPU_WEIGHTS_INT8, false, &e);
        as[i] = npu_segment_build(BE, b.g, &i, 1, NPU_WEIGHTS_INT8, false, &e);
        assert_non_null(ps[i]);
        assert_non_null(as[i]);
    }
    assert_int_equal(npu_mem_plan_commit(p, &e), RT_OK);
    for (int i = 0; i < 2; i++) {
        if (npu_segment_run(ps[i], planned, NULL, &e) != RT_OK || npu_segment_run(as[i], alone, NULL, &e) != RT_OK)
            fail_msg("%s", e.msg);
    }
    for (int k = 0; k < b.g->n_outputs; k++) {
        int t = b.g->outputs[k];
        assert_non_null(planned[t]);
        assert_memory_equal(planned[t]->data, alone[t]->data, rt_tensor_nbytes(alone[t]));
    }
    npu_mem_plan_free(p);
    for (int i = 0; i < 2; i++)
        npu_segment_free(as[i]);
    gb_values_free(&b, ref);
    gb_values_free(&b, planned);
    gb_values_free(&b, alone);
    gb_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_greedy_by_size_reaches_the_bound_first_fit_misses),
        cmocka_unit_test(test_arena_random_plans_are_valid_and_deterministic),
        cmocka_unit_test(test_arena_plan_matches_the_walk_over_every_buffer),
        cmocka_unit_test(test_arena_plan_matches_the_walk_when_many_buffers_meet),
        cmocka_unit_test(test_arena_plan_matches_the_walk_when_reads_are_rare),
        cmocka_unit_test(test_sort_distinct_lists_each_value_once_ascending),
        cmocka_unit_test(test_segments_share_one_arena_and_memory_comes_back),
        cmocka_unit_test(test_plan_that_does_not_fit_says_how_much_is_missing),
        cmocka_unit_test(test_resident_tensors_are_placed_once),
        cmocka_unit_test(test_plan_segments_compute_what_they_compute_alone),
        cmocka_unit_test(test_padded_copy_is_scratch_and_onchip_memory_holds_the_plan),
        cmocka_unit_test(test_memo_tells_on_chip_placements_apart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
