/* If, Loop and Scan in the IR, built with the graph API: how a subgraph's outer-scope names
 * become capture inputs (nested too), inlining of a constant If (names, clashes, nested
 * captures), deep copies, shapes that change from one iteration to the next (nothing folded
 * from the first iteration's shape), zero iterations, Scan-8's sequence_lens, the subgraph
 * runner hook, and errors. The ONNX node tests cover the ops against their reference outputs. */
#include <math.h>

#include "test_util.h"

#include "cpu_exec.h"
#include "graph.h"
#include "ops.h"

static void check(rt_status s, const rt_error *e)
{
    if (s != RT_OK)
        fail_msg("status %d: %s", s, e->msg);
}

static rt_tensor *f32(const char *name, int rank, const int64_t *dims, const float *v)
{
    rt_tensor *t = rt_tensor_new(name, RT_DT_F32, rank, dims);
    assert_int_equal(rt_tensor_alloc(t, NULL), RT_OK);
    memcpy(t->data, v, t->data_bytes);
    return t;
}

static rt_tensor *scalar_bool(const char *name, bool v)
{
    rt_tensor *t = rt_tensor_new(name, RT_DT_BOOL, 0, NULL);
    assert_int_equal(rt_tensor_alloc(t, NULL), RT_OK);
    *(uint8_t *)t->data = v;
    return t;
}

/* Run g with inputs (by their names); the caller frees the executor. */
static cpu_exec *run(const rt_graph *g, int n, rt_tensor **in)
{
    cpu_exec *x;
    rt_error e;
    check(cpu_exec_create(g, &x, &e), &e);
    for (int i = 0; i < n; i++)
        check(cpu_exec_set_input(x, in[i]->name, in[i], &e), &e);
    check(cpu_exec_run(x, &e), &e);
    return x;
}

static const float W4[4] = {10, 20, 30, 40};

/* y = If(c) then x + W else -x: both branches read x, the then-branch also W */
static rt_graph *if_graph(void)
{
    rt_graph *g = graph_create("if");
    graph_add_input(g, "x", RT_DT_F32, 1, (int64_t[]){4});
    graph_add_input(g, "c", RT_DT_BOOL, 0, NULL);
    graph_add_constant(g, "W", RT_DT_F32, 1, (int64_t[]){4}, W4, sizeof W4);
    rt_graph *t = graph_create("then"), *f = graph_create("else");
    graph_add_node(t, "Add", "add", 2, (const char *[]){"x", "W"}, 1, (const char *[]){"ty"});
    graph_mark_output(t, graph_find_tensor(t, "ty"));
    graph_add_node(f, "Neg", "neg", 1, (const char *[]){"x"}, 1, (const char *[]){"fy"});
    graph_mark_output(f, graph_find_tensor(f, "fy"));
    int n = graph_add_node(g, "If", "if", 1, (const char *[]){"c"}, 1, (const char *[]){"y"});
    graph_node_set_graph(g, n, "then_branch", t);
    graph_node_set_graph(g, n, "else_branch", f);
    graph_mark_output(g, graph_find_tensor(g, "y"));
    return g;
}

static void test_captures_are_linked_by_position(void **state)
{
    (void)state;
    rt_graph *g = if_graph();
    rt_error e;
    check(graph_prepare(g, &e), &e);
    const rt_node *n = &g->nodes[graph_find_node(g, "if")];
    assert_int_equal(n->n_captures, 2); /* x then W, in first-use order */
    assert_int_equal(rt_node_explicit_inputs(n), 1);
    assert_string_equal(g->tensors[n->inputs[1]]->name, "x");
    assert_string_equal(g->tensors[n->inputs[2]]->name, "W");
    const rt_graph *f = rt_node_attr_graph(n, "else_branch");
    assert_int_equal(f->n_captures, 2); /* W is an unused placeholder there: positions agree */
    assert_string_equal(f->tensors[f->captures[1]]->name, "W");
    assert_int_equal(f->tensors[f->captures[0]]->kind, RT_TENSOR_INPUT);
    /* inference gave the branches the outer types and the If its output shape */
    assert_int_equal(g->tensors[graph_find_tensor(g, "y")]->dtype, RT_DT_F32);
    assert_int_equal(g->tensors[graph_find_tensor(g, "y")]->dims[0], 4);
    const float xv[4] = {1, 2, 3, 4};
    for (int c = 0; c < 2; c++) {
        rt_tensor *in[2] = {f32("x", 1, (int64_t[]){4}, xv), scalar_bool("c", c)};
        cpu_exec *x = run(g, 2, in);
        const rt_tensor *y = cpu_exec_output(x, "y");
        for (int i = 0; i < 4; i++)
            assert_true(((float *)y->data)[i] == (c ? xv[i] + W4[i] : -xv[i]));
        cpu_exec_free(x);
        rt_tensor_free(in[0]);
        rt_tensor_free(in[1]);
    }
    graph_free(g);
}

/* A subgraph runner that counts the runs and delegates to the CPU executor. */
typedef struct counting {
    rt_body_runner r;
    int runs;
} counting;

static rt_status count_run(const rt_body_runner *self, const rt_graph *body, rt_tensor *const *args,
                           rt_tensor **results, rt_error *e)
{
    ((counting *)self->ctx)->runs++;
    return cpu_exec_body(body, args, results, self, e);
}

/* acc = Loop(3, acc0): body: i > 0 ? acc + W : acc - W, an If nested in the body reading the
 * body's input (acc_in) and the main graph's W */
static void test_nested_captures_and_runner(void **state)
{
    (void)state;
    rt_graph *g = graph_create("nested");
    int64_t three = 3, zero = 0;
    graph_add_input(g, "acc0", RT_DT_F32, 1, (int64_t[]){4});
    graph_add_constant(g, "W", RT_DT_F32, 1, (int64_t[]){4}, W4, sizeof W4);
    graph_add_constant(g, "M", RT_DT_I64, 0, NULL, &three, sizeof three);
    rt_graph *body = graph_create("body");
    graph_add_input(body, "i", RT_DT_I64, 0, NULL);
    graph_add_input(body, "cond", RT_DT_BOOL, 0, NULL);
    graph_add_input(body, "acc_in", RT_DT_F32, 1, (int64_t[]){4});
    graph_add_constant(body, "zero", RT_DT_I64, 0, NULL, &zero, sizeof zero);
    graph_add_node(body, "Greater", "gt", 2, (const char *[]){"i", "zero"}, 1, (const char *[]){"later"});
    rt_graph *t = graph_create("t"), *f = graph_create("f");
    graph_add_node(t, "Add", "add", 2, (const char *[]){"acc_in", "W"}, 1, (const char *[]){"ta"});
    graph_mark_output(t, graph_find_tensor(t, "ta"));
    graph_add_node(f, "Sub", "sub", 2, (const char *[]){"acc_in", "W"}, 1, (const char *[]){"fa"});
    graph_mark_output(f, graph_find_tensor(f, "fa"));
    int ni = graph_add_node(body, "If", "inner", 1, (const char *[]){"later"}, 1, (const char *[]){"acc_out"});
    graph_node_set_graph(body, ni, "then_branch", t);
    graph_node_set_graph(body, ni, "else_branch", f);
    graph_add_node(body, "Identity", "keep", 1, (const char *[]){"cond"}, 1, (const char *[]){"cond_out"});
    graph_mark_output(body, graph_find_tensor(body, "cond_out"));
    graph_mark_output(body, graph_find_tensor(body, "acc_out"));
    int nl = graph_add_node(g, "Loop", "loop", 3, (const char *[]){"M", "", "acc0"}, 1, (const char *[]){"acc"});
    graph_node_set_graph(g, nl, "body", body);
    graph_mark_output(g, graph_find_tensor(g, "acc"));
    assert_int_equal(graph_last_error(g)->code, RT_OK);
    /* W, read by the inner If, is a capture of the body and so of the Loop; acc_in is not */
    assert_int_equal(g->nodes[nl].n_captures, 1);
    assert_string_equal(g->tensors[g->nodes[nl].inputs[3]]->name, "W");
    assert_int_equal(body->n_captures, 1);
    assert_int_equal(graph_count_nodes_deep(g), 1 + 3 + 2);
    rt_error e;
    check(graph_prepare(g, &e), &e);
    const float a0[4] = {1, 1, 1, 1};
    rt_tensor *in = f32("acc0", 1, (int64_t[]){4}, a0);
    cpu_exec *x = run(g, 1, &in);
    const rt_tensor *acc = cpu_exec_output(x, "acc");
    for (int i = 0; i < 4; i++) /* -W, +W, +W */
        assert_true(((float *)acc->data)[i] == a0[i] + W4[i]);
    cpu_exec_free(x);
    /* the same node through a runner: every subgraph run (3 bodies + 3 branches) goes through it */
    counting cnt = {{count_run, NULL}, 0};
    cnt.r.ctx = &cnt;
    rt_tensor **vals = calloc((size_t)g->n_tensors, sizeof *vals);
    int ti = graph_find_tensor(g, "acc0");
    vals[ti] = in;
    for (int k = 0; k < g->n_tensors; k++)
        if (g->tensors[k]->kind == RT_TENSOR_CONSTANT)
            vals[k] = g->tensors[k];
    int loop = graph_find_node(g, "loop");
    check(cpu_exec_node_run(g, loop, vals, &cnt.r, &e), &e);
    assert_int_equal(cnt.runs, 6);
    rt_tensor_free(vals[graph_find_tensor(g, "acc")]);
    free(vals);
    rt_tensor_free(in);
    graph_free(g);
}

static void test_constant_if_is_inlined(void **state)
{
    (void)state;
    rt_graph *g = graph_create("inline");
    graph_add_input(g, "x", RT_DT_F32, 1, (int64_t[]){4});
    graph_add_node(g, "Relu", "r", 1, (const char *[]){"x"}, 1, (const char *[]){"clash"});
    uint8_t yes = 1;
    graph_add_constant(g, "c", RT_DT_BOOL, 0, NULL, &yes, 1);
    /* then: y0 = clash' + x where clash' is a branch tensor named like an outer one; y1 = x (a capture) */
    rt_graph *t = graph_create("t"), *f = graph_create("f");
    graph_add_node(t, "Neg", "neg", 1, (const char *[]){"x"}, 1, (const char *[]){"clash"});
    /* a nested If inside the branch reads the renamed tensor */
    rt_graph *nt = graph_create("nt"), *nf = graph_create("nf");
    graph_add_node(nt, "Add", "nadd", 2, (const char *[]){"clash", "x"}, 1, (const char *[]){"n1"});
    graph_mark_output(nt, graph_find_tensor(nt, "n1"));
    graph_add_node(nf, "Identity", "nid", 1, (const char *[]){"clash"}, 1, (const char *[]){"n2"});
    graph_mark_output(nf, graph_find_tensor(nf, "n2"));
    graph_add_input(g, "d", RT_DT_BOOL, 0, NULL);
    int nn = graph_add_node(t, "If", "nested", 1, (const char *[]){"d"}, 1, (const char *[]){"y0b"});
    graph_node_set_graph(t, nn, "then_branch", nt);
    graph_node_set_graph(t, nn, "else_branch", nf);
    graph_mark_output(t, graph_find_tensor(t, "y0b"));
    graph_mark_output(t, graph_tensor_ref(t, "x"));
    graph_add_node(f, "Abs", "abs", 1, (const char *[]){"x"}, 1, (const char *[]){"fa"});
    graph_mark_output(f, graph_find_tensor(f, "fa"));
    graph_mark_output(f, graph_find_tensor(f, "fa"));
    int n = graph_add_node(g, "If", "if", 1, (const char *[]){"c"}, 2, (const char *[]){"y0", "y1"});
    graph_node_set_graph(g, n, "then_branch", t);
    graph_node_set_graph(g, n, "else_branch", f);
    graph_add_node(g, "Add", "sum", 2, (const char *[]){"y0", "clash"}, 1, (const char *[]){"s"});
    graph_mark_output(g, graph_find_tensor(g, "s"));
    graph_mark_output(g, graph_find_tensor(g, "y1"));
    rt_error e;
    check(graph_prepare(g, &e), &e);
    assert_int_equal(graph_find_node(g, "if"), -1);
    assert_true(graph_find_node(g, "neg") >= 0);
    assert_true(graph_find_node(g, "nested") >= 0); /* the non-constant nested If came along */
    assert_int_equal(graph_find_node(g, "abs"), -1);
    assert_true(graph_find_tensor(g, "clash__inlined1") >= 0); /* renamed: 'clash' is taken */
    const rt_node *nested = &g->nodes[graph_find_node(g, "nested")];
    const rt_graph *inner = rt_node_attr_graph(nested, "then_branch");
    bool renamed = false;
    for (int k = 0; k < inner->n_captures; k++)
        renamed |= strcmp(inner->tensors[inner->captures[k]]->name, "clash__inlined1") == 0;
    assert_true(renamed); /* the nested subgraph's capture follows the rename */
    assert_true(graph_find_node(g, "if/output1") >= 0); /* y1 is a capture: an Identity gives it */
    const float xv[4] = {1, -2, 3, -4};
    for (int d = 0; d < 2; d++) {
        rt_tensor *in[2] = {f32("x", 1, (int64_t[]){4}, xv), scalar_bool("d", d)};
        cpu_exec *x = run(g, 2, in);
        const float *s = cpu_exec_output(x, "s")->data, *y1 = cpu_exec_output(x, "y1")->data;
        for (int i = 0; i < 4; i++) {
            float clash = -xv[i], y0 = d ? clash + xv[i] : clash;
            assert_true(s[i] == y0 + fmaxf(xv[i], 0));
            assert_true(y1[i] == xv[i]);
        }
        cpu_exec_free(x);
        rt_tensor_free(in[0]);
        rt_tensor_free(in[1]);
    }
    /* a deep copy of the inlined graph is independent of it and prepares again */
    rt_graph *c = graph_clone(g);
    assert_non_null(c);
    graph_free(g);
    /* its outputs are outputs (folding and the partitioner ask the flag), each listed once */
    int n_outputs = c->n_outputs;
    for (int k = 0; k < n_outputs; k++) {
        assert_true(graph_is_output(c, c->outputs[k]));
        assert_int_equal(graph_mark_output(c, c->outputs[k]), RT_OK);
    }
    assert_int_equal(c->n_outputs, n_outputs);
    check(graph_prepare(c, &e), &e);
    graph_free(c);
}

/* v grows by one element per iteration; the scan output is Shape(v_in): a shape known for the
 * first iteration only must not be folded into a constant */
static void test_growing_carried_value(void **state)
{
    (void)state;
    rt_graph *g = graph_create("grow");
    int64_t four = 4;
    float one = 1;
    graph_add_input(g, "v0", RT_DT_F32, 1, (int64_t[]){1});
    graph_add_constant(g, "M", RT_DT_I64, 0, NULL, &four, sizeof four);
    rt_graph *b = graph_create("body");
    graph_add_input(b, "i", RT_DT_I64, 0, NULL);
    graph_add_input(b, "cond", RT_DT_BOOL, 0, NULL);
    graph_add_input(b, "v_in", RT_DT_F32, 1, (int64_t[]){1});
    graph_add_constant(b, "one", RT_DT_F32, 1, (int64_t[]){1}, &one, sizeof one);
    graph_add_node(b, "Concat", "grow", 2, (const char *[]){"v_in", "one"}, 1, (const char *[]){"v_out"});
    graph_node_set_int(b, 0, "axis", 0);
    graph_add_node(b, "Shape", "shape", 1, (const char *[]){"v_in"}, 1, (const char *[]){"len"});
    graph_add_node(b, "Identity", "keep", 1, (const char *[]){"cond"}, 1, (const char *[]){"cond_out"});
    graph_mark_output(b, graph_find_tensor(b, "cond_out"));
    graph_mark_output(b, graph_find_tensor(b, "v_out"));
    graph_mark_output(b, graph_find_tensor(b, "len"));
    int n = graph_add_node(g, "Loop", "loop", 3, (const char *[]){"M", "", "v0"}, 2, (const char *[]){"v", "lens"});
    graph_node_set_graph(g, n, "body", b);
    graph_mark_output(g, graph_find_tensor(g, "v"));
    graph_mark_output(g, graph_find_tensor(g, "lens"));
    rt_error e;
    check(graph_prepare(g, &e), &e);
    const rt_tensor *v = g->tensors[graph_find_tensor(g, "v")], *lens = g->tensors[graph_find_tensor(g, "lens")];
    assert_int_equal(v->rank, 1);
    assert_int_equal(v->dims[0], RT_DIM_UNKNOWN); /* it changes: generalised */
    assert_int_equal(lens->rank, 2);
    assert_int_equal(lens->dims[0], 4); /* M iterations exactly: the condition passes through */
    assert_int_equal(lens->dims[1], 1);
    const float v0 = 7;
    rt_tensor *in = f32("v0", 1, (int64_t[]){1}, &v0);
    cpu_exec *x = run(g, 1, &in);
    const rt_tensor *vo = cpu_exec_output(x, "v"), *lo = cpu_exec_output(x, "lens");
    assert_int_equal(vo->dims[0], 5);
    for (int i = 0; i < 4; i++)
        assert_int_equal(((int64_t *)lo->data)[i], i + 1);
    cpu_exec_free(x);
    rt_tensor_free(in);
    graph_free(g);
}

/* M = 0: the carried value comes back unchanged, the scan output is empty with the body's shape */
static void test_loop_zero_iterations(void **state)
{
    (void)state;
    rt_graph *g = graph_create("zero");
    graph_add_input(g, "M", RT_DT_I64, 0, NULL);
    graph_add_input(g, "v0", RT_DT_F32, 1, (int64_t[]){3});
    rt_graph *b = graph_create("body");
    graph_add_input(b, "i", RT_DT_I64, 0, NULL);
    graph_add_input(b, "cond", RT_DT_BOOL, 0, NULL);
    graph_add_input(b, "v_in", RT_DT_F32, 1, (int64_t[]){3});
    graph_add_node(b, "Neg", "neg", 1, (const char *[]){"v_in"}, 1, (const char *[]){"v_out"});
    graph_add_node(b, "Identity", "keep", 1, (const char *[]){"cond"}, 1, (const char *[]){"cond_out"});
    graph_add_node(b, "Identity", "scan", 1, (const char *[]){"v_out"}, 1, (const char *[]){"s"});
    graph_mark_output(b, graph_find_tensor(b, "cond_out"));
    graph_mark_output(b, graph_find_tensor(b, "v_out"));
    graph_mark_output(b, graph_find_tensor(b, "s"));
    int n = graph_add_node(g, "Loop", "loop", 3, (const char *[]){"M", "", "v0"}, 2, (const char *[]){"v", "ss"});
    graph_node_set_graph(g, n, "body", b);
    graph_mark_output(g, graph_find_tensor(g, "v"));
    graph_mark_output(g, graph_find_tensor(g, "ss"));
    rt_error e;
    check(graph_prepare(g, &e), &e);
    for (int64_t m = 0; m <= 2; m += 2) {
        rt_tensor *mt = rt_tensor_new("M", RT_DT_I64, 0, NULL);
        assert_int_equal(rt_tensor_alloc(mt, NULL), RT_OK);
        *(int64_t *)mt->data = m;
        const float v0[3] = {1, 2, 3};
        rt_tensor *in[2] = {mt, f32("v0", 1, (int64_t[]){3}, v0)};
        cpu_exec *x = run(g, 2, in);
        const rt_tensor *v = cpu_exec_output(x, "v"), *ss = cpu_exec_output(x, "ss");
        assert_int_equal(ss->rank, 2);
        assert_int_equal(ss->dims[0], m);
        assert_int_equal(ss->dims[1], 3);
        assert_true(((float *)v->data)[1] == 2); /* 0 or 2 negations */
        cpu_exec_free(x);
        rt_tensor_free(in[0]);
        rt_tensor_free(in[1]);
    }
    graph_free(g);
}

/* Scan-8: batch 2, sequence 3, sequence_lens {2, 3}; a running sum, outputs zero past a length */
static void test_scan8_sequence_lens(void **state)
{
    (void)state;
    rt_graph *g = graph_create("scan8");
    graph_set_opset(g, "", 8);
    graph_add_input(g, "lens", RT_DT_I32, 1, (int64_t[]){2});
    graph_add_input(g, "s0", RT_DT_F32, 2, (int64_t[]){2, 1});
    graph_add_input(g, "x", RT_DT_F32, 3, (int64_t[]){2, 3, 1});
    rt_graph *b = graph_create("body");
    graph_set_opset(b, "", 8);
    graph_add_input(b, "s_in", RT_DT_F32, 1, (int64_t[]){1});
    graph_add_input(b, "xt", RT_DT_F32, 1, (int64_t[]){1});
    graph_add_node(b, "Add", "add", 2, (const char *[]){"s_in", "xt"}, 1, (const char *[]){"s_out"});
    graph_add_node(b, "Identity", "copy", 1, (const char *[]){"s_out"}, 1, (const char *[]){"y"});
    graph_mark_output(b, graph_find_tensor(b, "s_out"));
    graph_mark_output(b, graph_find_tensor(b, "y"));
    int n = graph_add_node(g, "Scan", "scan", 3, (const char *[]){"lens", "s0", "x"}, 2, (const char *[]){"s", "ys"});
    graph_node_set_int(g, n, "num_scan_inputs", 1);
    graph_node_set_graph(g, n, "body", b);
    graph_mark_output(g, graph_find_tensor(g, "s"));
    graph_mark_output(g, graph_find_tensor(g, "ys"));
    rt_error e;
    check(graph_prepare(g, &e), &e);
    rt_tensor *lens = rt_tensor_new("lens", RT_DT_I32, 1, (int64_t[]){2});
    assert_int_equal(rt_tensor_alloc(lens, NULL), RT_OK);
    ((int32_t *)lens->data)[0] = 2;
    ((int32_t *)lens->data)[1] = 3;
    const float s0[2] = {100, 200}, xv[6] = {1, 2, 3, 4, 5, 6};
    rt_tensor *in[3] = {lens, f32("s0", 2, (int64_t[]){2, 1}, s0), f32("x", 3, (int64_t[]){2, 3, 1}, xv)};
    cpu_exec *x = run(g, 3, in);
    const float *s = cpu_exec_output(x, "s")->data, *ys = cpu_exec_output(x, "ys")->data;
    assert_true(s[0] == 103 && s[1] == 215);
    const float want[6] = {101, 103, 0, 204, 209, 215};
    for (int i = 0; i < 6; i++)
        assert_true(ys[i] == want[i]);
    cpu_exec_free(x);
    for (int i = 0; i < 3; i++)
        rt_tensor_free(in[i]);
    graph_free(g);
}

/* Scan-9: the scanned input on axis 1, the scan output reversed (scan_output_directions) on axis 0 */
static void test_scan_output_reversed(void **state)
{
    (void)state;
    rt_graph *g = graph_create("scan_rev");
    graph_add_input(g, "s0", RT_DT_F32, 1, (int64_t[]){1});
    graph_add_input(g, "x", RT_DT_F32, 2, (int64_t[]){1, 3});
    rt_graph *b = graph_create("body");
    graph_add_input(b, "s_in", RT_DT_F32, 1, (int64_t[]){1});
    graph_add_input(b, "xt", RT_DT_F32, 1, (int64_t[]){1});
    graph_add_node(b, "Add", "add", 2, (const char *[]){"s_in", "xt"}, 1, (const char *[]){"s_out"});
    graph_add_node(b, "Identity", "copy", 1, (const char *[]){"s_out"}, 1, (const char *[]){"y"});
    graph_mark_output(b, graph_find_tensor(b, "s_out"));
    graph_mark_output(b, graph_find_tensor(b, "y"));
    int n = graph_add_node(g, "Scan", "scan", 2, (const char *[]){"s0", "x"}, 2, (const char *[]){"s", "ys"});
    graph_node_set_int(g, n, "num_scan_inputs", 1);
    graph_node_set_ints(g, n, "scan_input_axes", 1, (int64_t[]){1});
    graph_node_set_ints(g, n, "scan_output_directions", 1, (int64_t[]){1});
    graph_node_set_graph(g, n, "body", b);
    graph_mark_output(g, graph_find_tensor(g, "s"));
    graph_mark_output(g, graph_find_tensor(g, "ys"));
    rt_error e;
    check(graph_prepare(g, &e), &e);
    const rt_tensor *ys = g->tensors[graph_find_tensor(g, "ys")];
    assert_int_equal(ys->rank, 2); /* [3 steps, 1] */
    assert_int_equal(ys->dims[0], 3);
    const float s0 = 10, xv[3] = {1, 2, 3};
    rt_tensor *in[2] = {f32("s0", 1, (int64_t[]){1}, &s0), f32("x", 2, (int64_t[]){1, 3}, xv)};
    cpu_exec *x = run(g, 2, in);
    const float *y = cpu_exec_output(x, "ys")->data;
    assert_true(y[0] == 16 && y[1] == 13 && y[2] == 11); /* steps 11, 13, 16 written last first */
    cpu_exec_free(x);
    rt_tensor_free(in[0]);
    rt_tensor_free(in[1]);
    graph_free(g);
}

/* Ifs nested NEST_DEPTH deep, each level reading the main graph's input: preparing is linear in
 * the depth (a subgraph prepared for the same binding is not prepared again) */
#define NEST_DEPTH 40
static void test_deep_nesting(void **state)
{
    (void)state;
    rt_graph *inner = NULL;
    for (int level = NEST_DEPTH; level >= 0; level--) {
        rt_graph *g = graph_create(level ? "branch" : "main");
        if (!level)
            graph_add_input(g, "x", RT_DT_F32, 1, (int64_t[]){2});
        char y[32];
        snprintf(y, sizeof y, "y%d", level);
        if (!inner) { /* the innermost: -x */
            graph_add_node(g, "Neg", "neg", 1, (const char *[]){"x"}, 1, (const char *[]){y});
        } else {
            char c[32], cs[32];
            snprintf(c, sizeof c, "c%d", level);
            snprintf(cs, sizeof cs, "s%d", level);
            graph_add_node(g, "ReduceSum", cs, 1, (const char *[]){"x"}, 1, (const char *[]){cs});
            graph_node_set_int(g, g->n_nodes - 1, "keepdims", 0);
            graph_add_node(g, "IsInf", c, 1, (const char *[]){cs}, 1, (const char *[]){c}); /* false */
            rt_graph *other = graph_create("other");
            char o[32];
            snprintf(o, sizeof o, "o%d", level);
            graph_add_node(other, "Abs", o, 1, (const char *[]){"x"}, 1, (const char *[]){o});
            graph_mark_output(other, graph_find_tensor(other, o));
            int n = graph_add_node(g, "If", "if", 1, (const char *[]){c}, 1, (const char *[]){y});
            graph_node_set_graph(g, n, "then_branch", other);
            graph_node_set_graph(g, n, "else_branch", inner);
        }
        graph_mark_output(g, graph_find_tensor(g, y));
        assert_int_equal(graph_last_error(g)->code, RT_OK);
        inner = g;
    }
    rt_error e;
    check(graph_prepare(inner, &e), &e);
    const float xv[2] = {1.5f, -2};
    rt_tensor *in = f32("x", 1, (int64_t[]){2}, xv);
    cpu_exec *x = run(inner, 1, &in);
    const float *y = cpu_exec_output(x, "y0")->data;
    assert_true(y[0] == -1.5f && y[1] == 2); /* every level took its else branch down to -x */
    cpu_exec_free(x);
    rt_tensor_free(in);
    graph_free(inner);
}

static void test_errors(void **state)
{
    (void)state;
    /* a branch whose output type differs from the other's */
    rt_graph *g = graph_create("bad");
    graph_add_input(g, "c", RT_DT_BOOL, 0, NULL);
    graph_add_input(g, "x", RT_DT_F32, 1, (int64_t[]){2});
    rt_graph *t = graph_create("t"), *f = graph_create("f");
    graph_add_node(t, "Neg", "neg", 1, (const char *[]){"x"}, 1, (const char *[]){"a"});
    graph_mark_output(t, graph_find_tensor(t, "a"));
    graph_add_node(f, "Shape", "shape", 1, (const char *[]){"x"}, 1, (const char *[]){"b"});
    graph_mark_output(f, graph_find_tensor(f, "b"));
    int n = graph_add_node(g, "If", "if", 1, (const char *[]){"c"}, 1, (const char *[]){"y"});
    graph_node_set_graph(g, n, "then_branch", t);
    graph_node_set_graph(g, n, "else_branch", f);
    graph_mark_output(g, graph_find_tensor(g, "y"));
    rt_error e;
    assert_int_equal(graph_prepare(g, &e), RT_ERR_DTYPE);
    assert_non_null(strstr(e.msg, "node 'if' (If): output 0 is f32 in then_branch but i64 in else_branch"));
    graph_free(g);
    /* a name no scope defines, read inside a subgraph */
    g = graph_create("ghost");
    graph_add_input(g, "c", RT_DT_BOOL, 0, NULL);
    t = graph_create("t");
    f = graph_create("f");
    graph_add_node(t, "Neg", "neg", 1, (const char *[]){"ghost"}, 1, (const char *[]){"a"});
    graph_mark_output(t, graph_find_tensor(t, "a"));
    graph_add_node(f, "Neg", "neg2", 1, (const char *[]){"ghost"}, 1, (const char *[]){"b"});
    graph_mark_output(f, graph_find_tensor(f, "b"));
    n = graph_add_node(g, "If", "if", 1, (const char *[]){"c"}, 1, (const char *[]){"y"});
    graph_node_set_graph(g, n, "then_branch", t);
    graph_node_set_graph(g, n, "else_branch", f);
    graph_mark_output(g, graph_find_tensor(g, "y"));
    assert_int_equal(graph_prepare(g, &e), RT_ERR_MISSING_INPUT);
    assert_non_null(strstr(e.msg, "node 'if' (If) reads 'ghost'"));
    assert_non_null(strstr(e.msg, "(read inside its subgraphs)"));
    graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_captures_are_linked_by_position),
        cmocka_unit_test(test_nested_captures_and_runner),
        cmocka_unit_test(test_constant_if_is_inlined),
        cmocka_unit_test(test_growing_carried_value),
        cmocka_unit_test(test_loop_zero_iterations),
        cmocka_unit_test(test_scan8_sequence_lens),
        cmocka_unit_test(test_scan_output_reversed),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
