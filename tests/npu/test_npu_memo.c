/* The backend's memo of timing-only segments (runtime/npu/npu_memo.c) is exact: two segments
 * with the same descriptors at different places in memory take the same stats and per-op
 * profile, which equal those of simulating them with the memo off; a different shape is not
 * mistaken for it; with npu.overlap on too. */
#include "npu_graph_bench.h"

#include "m4npu_config.h"

#define IN(...) ((const char *[]){__VA_ARGS__})

/* Two identical layers (matmul -> gelu-free elementwise -> softmax) side by side, and a third
 * one of another width. Each layer is one segment. */
static void build(gb *b)
{
    gb_new(b, "memo");
    int64_t xd[2] = {24, 96}, wd[2] = {96, 96}, w3d[2] = {96, 80};
    gb_input(b, "x", 2, xd);
    const char *layers[3][5] = {{"w1", "a1", "b1", "c1", "y1"}, {"w2", "a2", "b2", "c2", "y2"},
                                {"w3", "a3", "b3", "c3", "y3"}};
    for (int l = 0; l < 3; l++) {
        gb_const(b, layers[l][0], 2, l == 2 ? w3d : wd, -0.5f, 0.5f);
        gb_node(b, "MatMul", 2, IN("x", layers[l][0]), 1, IN(layers[l][1]));
        gb_node(b, "Sigmoid", 1, IN(layers[l][1]), 1, IN(layers[l][2]));
        gb_node(b, "Mul", 2, IN(layers[l][1], layers[l][2]), 1, IN(layers[l][3]));
        gb_node(b, "Softmax", 1, IN(layers[l][3]), 1, IN(layers[l][4]));
        gb_output(b, layers[l][4]);
    }
    rt_error e;
    if (graph_prepare(b->g, &e) != RT_OK)
        fail_msg("graph_prepare: %s", e.msg);
    assert_int_equal(b->g->n_nodes, 12);
}

#define MAX_LAYER_OPS 8

typedef struct layer_run {
    npu_segment_stats st;
    uint32_t n_ops;
    npu_op_profile prof[MAX_LAYER_OPS];
} layer_run;

static void run_layer(npu_backend *be, gb *b, int layer, layer_run *lr)
{
    npu_segment_stats *st = &lr->st;
    int nodes[4];
    for (int k = 0; k < 4; k++)
        nodes[k] = 4 * layer + k;
    rt_error e;
    npu_segment *s = npu_segment_build(be, b->g, nodes, 4, NPU_WEIGHTS_INT8, true, &e);
    if (!s)
        fail_msg("npu_segment_build: %s", e.msg);
    if (npu_segment_run(s, NULL, st, &e) != RT_OK)
        fail_msg("npu_segment_run: %s", e.msg);
    npu_segment_ops(s, &lr->n_ops);
    assert_true(lr->n_ops > 0 && lr->n_ops <= MAX_LAYER_OPS);
    const npu_op_profile *p = npu_segment_profile(s);
    if (p)
        memcpy(lr->prof, p, lr->n_ops * sizeof lr->prof[0]);
    else
        lr->n_ops = 0; /* a backend without profiles */
    npu_segment_free(s);
}

static void assert_same_timing(const layer_run *ra, const layer_run *rb)
{
    const npu_segment_stats *a = &ra->st, *b = &rb->st;
    assert_int_equal(ra->n_ops, rb->n_ops);
    assert_memory_equal(ra->prof, rb->prof, ra->n_ops * sizeof ra->prof[0]); /* the per-op profile too */
    assert_int_equal(a->cycles, b->cycles);
    assert_int_equal(a->insns, b->insns);
    for (int u = 0; u < NPU_UNIT_COUNT; u++)
        for (int c = 0; c < NPU_CTR_COUNT; c++)
            if (c != NPU_CTR_IDLE && a->counters.v[u][c] != b->counters.v[u][c])
                fail_msg("unit %s counter %s: %llu != %llu", npu_unit_str((uint32_t)u), npu_counter_str((uint32_t)c),
                         (unsigned long long)a->counters.v[u][c], (unsigned long long)b->counters.v[u][c]);
}

static void test_memo_is_exact(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_defaults(&cfg);
    rt_error e;
    npu_backend *be = npu_backend_open(&cfg, &e);
    if (!be)
        fail_msg("%s", e.msg);
    gb b;
    build(&b);
    /* memo off: every layer simulated */
    npu_backend_set_memo(be, false);
    layer_run off[3], on[3];
    for (int l = 0; l < 3; l++)
        run_layer(be, &b, l, &off[l]);
    assert_int_equal(npu_backend_memo_hits(be), 0);
    assert_same_timing(&off[0], &off[1]); /* identical layers take identical time anyway */
    assert_true(off[2].st.cycles != off[0].st.cycles);
    /* memo on: layer 2 is a hit, layer 3 (another width) is not */
    npu_backend_set_memo(be, true);
    run_layer(be, &b, 0, &on[0]);
    assert_int_equal(npu_backend_memo_hits(be), 0);
    run_layer(be, &b, 1, &on[1]);
    assert_int_equal(npu_backend_memo_hits(be), 1);
    run_layer(be, &b, 2, &on[2]);
    assert_int_equal(npu_backend_memo_hits(be), 1);
    for (int l = 0; l < 3; l++)
        assert_same_timing(&on[l], &off[l]);
    assert_true(on[0].st.cycles > 0);
    gb_free(&b);
    npu_backend_close(be);
}

/* Without the per-op profile the stats are the same, and a memo entry kept without it is not taken
 * when the profile is asked for again: the segment is simulated, with its profile. */
static void test_profile_off_changes_nothing_else(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_defaults(&cfg);
    rt_error e;
    npu_backend *be = npu_backend_open(&cfg, &e);
    if (!be)
        fail_msg("%s", e.msg);
    gb b;
    build(&b);
    layer_run with, without, again;
    run_layer(be, &b, 0, &with);
    npu_backend_set_memo(be, false); /* forget it */
    npu_backend_set_memo(be, true);
    npu_backend_set_profile(be, false);
    run_layer(be, &b, 0, &without);
    assert_int_equal(without.n_ops, 0); /* no profile kept */
    assert_int_equal(without.st.cycles, with.st.cycles);
    assert_int_equal(without.st.insns, with.st.insns);
    npu_backend_set_profile(be, true);
    run_layer(be, &b, 1, &again); /* identical descriptors, but the memo's entry has no profile */
    assert_int_equal(npu_backend_memo_hits(be), 0);
    assert_same_timing(&again, &with);
    gb_free(&b);
    npu_backend_close(be);
}

/* With npu.overlap on, the firmware fences an op after an earlier one where their DRAM ranges
 * meet, so the memo keys on where tensors lie within their buffers and on which buffers share
 * bytes: identical layers (the same offsets, buffers apart) are still one entry, and what it
 * gives is what simulating gives. */
static void test_memo_is_exact_with_overlap(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_defaults(&cfg);
    cfg.npu.overlap = NPU_ON;
    rt_error e;
    npu_backend *be = npu_backend_open(&cfg, &e);
    if (!be)
        fail_msg("%s", e.msg);
    gb b;
    build(&b);
    layer_run off[3], on[3];
    npu_backend_set_memo(be, false);
    for (int l = 0; l < 3; l++)
        run_layer(be, &b, l, &off[l]);
    npu_backend_set_memo(be, true);
    for (int l = 0; l < 3; l++)
        run_layer(be, &b, l, &on[l]);
    assert_int_equal(npu_backend_memo_hits(be), 1); /* layer 2 from layer 1's entry */
    for (int l = 0; l < 3; l++)
        assert_same_timing(&on[l], &off[l]);
    gb_free(&b);
    npu_backend_close(be);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_memo_is_exact),
                                       cmocka_unit_test(test_profile_off_changes_nothing_else),
                                       cmocka_unit_test(test_memo_is_exact_with_overlap)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
