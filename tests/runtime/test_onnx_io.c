/* ONNX import and export: valid models (raw_data, typed fields, Constant nodes, external data),
 * every corrupted file of build/models with its exact message, the export round trip, random
 * truncation and corruption (no crash), and the non-zero exit of the CLI on bad models. */
#include <math.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "test_util.h"

#include "cpu_exec.h"
#include "encoder_block.h"
#include "onnx_io.h"

static char out[1 << 16];

static void model_path(char *buf, size_t n, const char *file)
{
    snprintf(buf, n, "%s/%s", M4NPU_MODELS_DIR, file);
}

static rt_tensor *tensor_f32(const char *name, int rank, const int64_t *dims, const float *v)
{
    rt_tensor *t = rt_tensor_new(name, RT_DT_F32, rank, dims);
    assert_int_equal(rt_tensor_alloc(t, NULL), RT_OK);
    memcpy(t->data, v, t->data_bytes);
    return t;
}

/* Run g on one input; returns a copy of output `name`. */
static rt_tensor *run(const rt_graph *g, const rt_tensor *in, const char *name)
{
    cpu_exec *x;
    rt_error e;
    assert_int_equal(cpu_exec_create(g, &x, &e), RT_OK);
    assert_int_equal(cpu_exec_set_input(x, "x", in, &e), RT_OK);
    if (cpu_exec_run(x, &e) != RT_OK)
        fail_msg("run: %s", e.msg);
    rt_tensor *y = rt_tensor_clone(cpu_exec_output(x, name));
    cpu_exec_free(x);
    return y;
}

static rt_graph *import_ok(const char *file)
{
    char p[512];
    model_path(p, sizeof p, file);
    rt_graph *g;
    rt_error e;
    if (onnx_import_file(p, NULL, &g, &e) != RT_OK)
        fail_msg("%s: %s", file, e.msg);
    return g;
}

static const float x23[6] = {1, 2, 3, 4, 5, 6};

/* y = x @ W + b with W[i] = (i - 6) / 4 and b = 0..3, as gen_models writes it */
static void small_linear_expected(float *y)
{
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 4; c++) {
            double acc = c;
            for (int k = 0; k < 3; k++)
                acc += x23[r * 3 + k] * (double)((k * 4 + c) - 6) * 0.25;
            y[r * 4 + c] = (float)acc;
        }
}

static void test_typed_fields_and_external_data(void **state)
{
    (void)state;
    float want[8];
    small_linear_expected(want);
    const char *files[2] = {"typed_fields.onnx", "external_data.onnx"};
    for (int f = 0; f < 2; f++) {
        rt_graph *g = import_ok(files[f]);
        rt_tensor *in = tensor_f32("x", 2, (int64_t[]){2, 3}, x23);
        rt_tensor *y = run(g, in, f == 0 ? "z" : "y");
        assert_int_equal(rt_tensor_numel(y), 8);
        if (f == 0) { /* reshaped to [4,2] by an int64_data target */
            assert_int_equal(y->dims[0], 4);
            assert_int_equal(y->dims[1], 2);
        }
        for (int i = 0; i < 8; i++)
            assert_true(fabsf(((float *)y->data)[i] - want[i]) < 1e-6f);
        rt_tensor_free(y);
        rt_tensor_free(in);
        graph_free(g);
    }
}

static void test_external_data_missing_file_names_the_tensor(void **state)
{
    (void)state;
    char src[512], dst[512];
    model_path(src, sizeof src, "external_data.onnx");
    test_path(dst, sizeof dst, "lonely.onnx");
    uint8_t *buf;
    size_t len;
    rt_error e;
    assert_int_equal(rt_read_file(src, 0, NULL, &buf, &len, &e), RT_OK);
    test_write_file(dst, buf, len);
    rt_graph *g;
    assert_int_equal(onnx_import_file(dst, NULL, &g, &e), RT_ERR_IO);
    assert_non_null(strstr(e.msg, "initializer 'W': cannot open external data file"));
    /* from a buffer there is no directory to look in */
    assert_int_equal(onnx_import_buffer(buf, len, NULL, NULL, &g, &e), RT_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "initializer 'W': weights in an external data file ('external_data.bin')"));
    free(buf);
}

/* ---- protobuf bytes by hand, for files the generator does not write */

typedef struct pb {
    uint8_t b[2048];
    size_t n;
} pb;

static void pb_varint(pb *p, uint64_t v)
{
    do {
        assert_true(p->n < sizeof p->b);
        p->b[p->n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
}

static void pb_int(pb *p, unsigned field, uint64_t v)
{
    pb_varint(p, (uint64_t)field << 3);
    pb_varint(p, v);
}

static void pb_bytes(pb *p, unsigned field, const void *data, size_t len)
{
    pb_varint(p, (uint64_t)field << 3 | 2);
    pb_varint(p, len);
    assert_true(p->n + len <= sizeof p->b);
    memcpy(p->b + p->n, data, len);
    p->n += len;
}

/* onnx.proto field numbers */
enum { TP_DIMS = 1, TP_DATA_TYPE = 2, TP_FLOAT_DATA = 4, TP_NAME = 8, TP_EXTERNAL_DATA = 13, TP_DATA_LOCATION = 14,
       SS_KEY = 1, SS_VALUE = 2, GP_NODE = 1, GP_INITIALIZER = 5, MP_IR_VERSION = 1, MP_GRAPH = 7,
       MP_OPSET_IMPORT = 8, OS_VERSION = 2, NP_OUTPUT = 2, NP_OP_TYPE = 4, NP_ATTRIBUTE = 5, AP_NAME = 1, AP_I = 3,
       AP_TYPE = 20 };
#define HUGE_ELEMENTS (INT64_C(1) << 30) /* f32: 4 GiB, the most a tensor may hold */

/* Where the address space ends for the calls between limit_address_space() and its undo: the
 * current size plus 1 GiB, so that allocating a 4 GiB tensor fails with "out of memory" instead
 * of succeeding lazily. Not under ASan, which reserves terabytes of shadow memory. */
#define ADDRESS_HEADROOM_BYTES (UINT64_C(1) << 30)
static bool limit_address_space(struct rlimit *saved)
{
#if defined(__SANITIZE_ADDRESS__)
    (void)saved;
    return false;
#else
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long pages = 0;
    if (!f || fscanf(f, "%llu", &pages) != 1)
        fail_msg("cannot read /proc/self/statm");
    fclose(f);
    assert_int_equal(getrlimit(RLIMIT_AS, saved), 0);
    struct rlimit lim = *saved;
    lim.rlim_cur = (rlim_t)(pages * (unsigned long long)sysconf(_SC_PAGESIZE) + ADDRESS_HEADROOM_BYTES);
    assert_int_equal(setrlimit(RLIMIT_AS, &lim), 0);
    return true;
#endif
}

/* Regression (fuzzing): a TensorProto allocated its declared size (up to 4 GiB) before it looked
 * at its data, so a 10-byte file claiming 2^30 floats allocated 4 GiB -- and where that much
 * memory could not be had, reported "out of memory" instead of the missing data. The address
 * space is limited here so that an early allocation fails visibly. */
static void test_tensor_data_checked_before_allocation(void **state)
{
    (void)state;
    pb none = {0}, few = {0};
    pb_int(&none, TP_DIMS, (uint64_t)HUGE_ELEMENTS);
    pb_int(&none, TP_DATA_TYPE, RT_DT_F32);
    few = none;
    float three[3] = {1, 2, 3};
    pb_bytes(&few, TP_FLOAT_DATA, three, sizeof three);
    /* a model whose initializer's 4 GiB are in a 16-byte external file */
    char dir[256], bin[512], model[512];
    test_path(dir, sizeof dir, "huge_external");
    mkdir(dir, 0755);
    snprintf(bin, sizeof bin, "%s/w.bin", dir);
    snprintf(model, sizeof model, "%s/model.onnx", dir);
    test_write_file(bin, "0123456789abcdef", 16);
    pb loc = {0}, init = none, graph = {0}, opset = {0}, m = {0};
    pb_bytes(&loc, SS_KEY, "location", 8);
    pb_bytes(&loc, SS_VALUE, "w.bin", 5);
    pb_bytes(&init, TP_NAME, "w", 1);
    pb_bytes(&init, TP_EXTERNAL_DATA, loc.b, loc.n);
    pb_int(&init, TP_DATA_LOCATION, 1);
    pb_bytes(&graph, GP_INITIALIZER, init.b, init.n);
    pb_int(&opset, OS_VERSION, RT_DEFAULT_OPSET);
    pb_int(&m, MP_IR_VERSION, 8);
    pb_bytes(&m, MP_OPSET_IMPORT, opset.b, opset.n);
    pb_bytes(&m, MP_GRAPH, graph.b, graph.n);
    test_write_file(model, m.b, m.n);

    struct rlimit saved;
    bool limited = limit_address_space(&saved);
    rt_tensor *t = NULL;
    rt_graph *g = NULL;
    rt_error e1 = {0}, e2 = {0}, e3 = {0};
    rt_status s1 = onnx_load_tensor_buffer(none.b, none.n, &t, &e1);
    rt_status s2 = onnx_load_tensor_buffer(few.b, few.n, &t, &e2);
    rt_status s3 = onnx_import_file(model, NULL, &g, &e3);
    if (limited)
        assert_int_equal(setrlimit(RLIMIT_AS, &saved), 0);
    assert_null(t);
    assert_null(g);
    if (s1 != RT_ERR_DATA_SIZE || !strstr(e1.msg, "no data (neither raw_data nor float_data), shape has 1073741824"))
        fail_msg("no data: %d %s", s1, e1.msg);
    if (s2 != RT_ERR_DATA_SIZE || !strstr(e2.msg, "3 values in float_data, but the shape has 1073741824 elements"))
        fail_msg("3 values: %d %s", s2, e2.msg);
    if (s3 != RT_ERR_DATA_SIZE || !strstr(e3.msg, "w.bin has fewer than 4294967296 bytes at offset 0"))
        fail_msg("external: %d %s", s3, e3.msg);
}

/* The builder checks attribute and opset names one by one; the importer bounds how many a file
 * may have, so that a file of 100,000 attributes on one node is refused at once instead of taking
 * minutes (quadratic). */
static void test_absurd_attribute_and_opset_counts_are_refused(void **state)
{
    (void)state;
    pb node = {0}, graph = {0}, opset = {0}, m = {0};
    pb_bytes(&node, NP_OUTPUT, "y", 1);
    pb_bytes(&node, NP_OP_TYPE, "Relu", 4);
    for (int i = 0; i < 65; i++) {
        pb a = {0};
        char name[8];
        int len = snprintf(name, sizeof name, "a%d", i);
        pb_bytes(&a, AP_NAME, name, (size_t)len);
        pb_int(&a, AP_I, 1);
        pb_int(&a, AP_TYPE, RT_ATTR_INT);
        pb_bytes(&node, NP_ATTRIBUTE, a.b, a.n);
    }
    pb_bytes(&graph, GP_NODE, node.b, node.n);
    pb_int(&opset, OS_VERSION, RT_DEFAULT_OPSET);
    pb_int(&m, MP_IR_VERSION, 8);
    pb_bytes(&m, MP_OPSET_IMPORT, opset.b, opset.n);
    pb_bytes(&m, MP_GRAPH, graph.b, graph.n);
    rt_graph *g;
    rt_error e;
    if (onnx_import_buffer(m.b, m.n, NULL, NULL, &g, &e) != RT_ERR_LIMIT)
        fail_msg("%s", e.msg);
    assert_non_null(strstr(e.msg, "node #0 (Relu): 65 attributes; no op takes more than 64"));
    pb many = {0};
    pb_int(&many, MP_IR_VERSION, 8);
    for (int i = 0; i < 65; i++)
        pb_bytes(&many, MP_OPSET_IMPORT, opset.b, opset.n);
    pb_bytes(&many, MP_GRAPH, "", 0);
    assert_int_equal(onnx_import_buffer(many.b, many.n, NULL, NULL, &g, &e), RT_ERR_LIMIT);
    assert_non_null(strstr(e.msg, "the model imports 65 opsets; at most 64 are accepted"));
}

static void test_constant_nodes(void **state)
{
    (void)state;
    rt_graph *g = import_ok("constant_nodes.onnx");
    for (int i = 0; i < g->n_nodes; i++)
        assert_string_not_equal(g->nodes[i].op_type, "Constant"); /* all became constants */
    rt_tensor *in = tensor_f32("x", 2, (int64_t[]){2, 3}, x23);
    rt_tensor *y = run(g, in, "y");
    assert_int_equal(y->rank, 2);
    assert_int_equal(y->dims[0], 3);
    assert_int_equal(y->dims[1], 2);
    float want[6] = {3, 6, 9, 9, 12, 15}; /* x*2 + [1,2,3] */
    assert_memory_equal(y->data, want, sizeof want);
    rt_tensor_free(y);
    rt_tensor_free(in);
    graph_free(g);
}

/* The exported file runs exactly like the graph it was exported from; re-export is stable. */
static void test_encoder_block_round_trip(void **state)
{
    (void)state;
    rt_error e;
    encoder_block_cfg cfg = ENCODER_BLOCK_DEFAULT;
    rt_graph *built = model_encoder_block(&cfg, true, &e);
    assert_non_null(built);
    rt_graph *file = import_ok("encoder_block.onnx");
    assert_int_equal(file->n_nodes, built->n_nodes);
    float v[16 * 64];
    uint64_t seed = 7;
    model_fill_uniform(v, 16 * 64, 1.0f, &seed);
    rt_tensor *in = tensor_f32("x", 3, (int64_t[]){1, 16, 64}, v);
    rt_tensor *a = run(built, in, "y"), *b = run(file, in, "y");
    assert_int_equal(a->data_bytes, 16 * 64 * 4);
    assert_memory_equal(a->data, b->data, a->data_bytes);
    /* not trivially zero or the input */
    float mx = 0;
    for (int i = 0; i < 16 * 64; i++)
        mx = fmaxf(mx, fabsf(((float *)a->data)[i] - v[i]));
    assert_true(mx > 1e-3f);
    uint8_t *b1, *b2;
    size_t l1, l2;
    assert_int_equal(onnx_export_buffer(file, &b1, &l1, &e), RT_OK);
    rt_graph *again;
    assert_int_equal(onnx_import_buffer(b1, l1, NULL, NULL, &again, &e), RT_OK);
    assert_int_equal(onnx_export_buffer(again, &b2, &l2, &e), RT_OK);
    assert_int_equal(l1, l2);
    assert_memory_equal(b1, b2, l1);
    free(b1);
    free(b2);
    graph_free(again);
    rt_tensor_free(a);
    rt_tensor_free(b);
    rt_tensor_free(in);
    graph_free(file);
    graph_free(built);
}

/* y = Loop(M = 3, acc0 = x): acc = If(i > 0, acc + W, acc - W) with W of the main graph, a
 * symbolic batch: exported, imported, run; the subgraphs, captures and dim_param survive */
static rt_graph *control_flow_graph(void)
{
    rt_graph *g = graph_create("cf");
    const float w[3] = {0.5f, -1, 2};
    int64_t three = 3, zero = 0;
    graph_add_input(g, "x", RT_DT_F32, 2, (int64_t[]){RT_DIM_UNKNOWN, 3});
    graph_set_dim_param(g, "x", 0, "batch");
    graph_add_constant(g, "W", RT_DT_F32, 1, (int64_t[]){3}, w, sizeof w);
    graph_add_constant(g, "M", RT_DT_I64, 0, NULL, &three, sizeof three);
    rt_graph *body = graph_create("body");
    graph_add_input(body, "i", RT_DT_I64, 0, NULL);
    graph_add_input(body, "cond", RT_DT_BOOL, 0, NULL);
    graph_add_input(body, "acc_in", RT_DT_F32, 2, (int64_t[]){RT_DIM_UNKNOWN, 3});
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
    graph_add_node(body, "Identity", "scan", 1, (const char *[]){"acc_out"}, 1, (const char *[]){"step"});
    graph_mark_output(body, graph_find_tensor(body, "cond_out"));
    graph_mark_output(body, graph_find_tensor(body, "acc_out"));
    graph_mark_output(body, graph_find_tensor(body, "step"));
    int nl = graph_add_node(g, "Loop", "loop", 3, (const char *[]){"M", "", "x"}, 2, (const char *[]){"y", "steps"});
    graph_node_set_graph(g, nl, "body", body);
    graph_mark_output(g, graph_find_tensor(g, "y"));
    graph_mark_output(g, graph_find_tensor(g, "steps"));
    return g;
}

static void test_control_flow_round_trip(void **state)
{
    (void)state;
    rt_graph *built = control_flow_graph();
    rt_error e;
    if (graph_prepare(built, &e) != RT_OK)
        fail_msg("%s", e.msg);
    uint8_t *buf;
    size_t len;
    assert_int_equal(onnx_export_buffer(built, &buf, &len, &e), RT_OK);
    rt_graph *file;
    if (onnx_import_buffer(buf, len, NULL, NULL, &file, &e) != RT_OK)
        fail_msg("%s", e.msg);
    assert_string_equal(graph_dim_param(file, "x", 0), "batch");
    const rt_node *loop = &file->nodes[graph_find_node(file, "loop")];
    assert_int_equal(rt_node_explicit_inputs(loop), 3); /* W is read by name, linked again */
    assert_int_equal(loop->n_captures, 1);
    const rt_tensor *steps = file->tensors[graph_find_tensor(file, "steps")];
    assert_int_equal(steps->rank, 3);
    assert_int_equal(steps->dims[0], 3);
    const float xv[6] = {1, 2, 3, 4, 5, 6};
    rt_tensor *in = tensor_f32("x", 2, (int64_t[]){2, 3}, xv);
    rt_tensor *a = run(built, in, "steps"), *b = run(file, in, "steps");
    assert_int_equal(a->data_bytes, 3 * 6 * 4);
    assert_memory_equal(a->data, b->data, a->data_bytes);
    assert_true(((float *)b->data)[0] == xv[0] - 0.5f);          /* step 0: acc - W */
    assert_true(((float *)b->data)[12 + 2] == xv[2] - 2 + 2 + 2); /* step 2: - W + W + W */
    rt_tensor_free(a);
    rt_tensor_free(b);
    rt_tensor_free(in);
    free(buf);
    graph_free(file);
    graph_free(built);
}

/* Every prefix and many corruptions of the control-flow model: an error or a graph that runs or
 * fails cleanly, never a crash (subgraph import, the skim, inference through subgraphs). */
static void test_control_flow_corruptions_never_crash(void **state)
{
    (void)state;
    rt_graph *built = control_flow_graph();
    uint8_t *buf;
    size_t len;
    rt_error e;
    assert_int_equal(graph_prepare(built, &e), RT_OK);
    assert_int_equal(onnx_export_buffer(built, &buf, &len, &e), RT_OK);
    graph_free(built);
    const float xv[6] = {1, 2, 3, 4, 5, 6};
    rt_tensor *in = tensor_f32("x", 2, (int64_t[]){2, 3}, xv);
    uint8_t *copy = malloc(len);
    test_rng r = {0xf10c0de};
    int ran = 0;
    for (size_t round = 0; round < len + 2000; round++) {
        size_t n = len;
        memcpy(copy, buf, len);
        if (round < len)
            n = round; /* every prefix */
        else
            for (int k = 0; k < 3; k++)
                copy[test_rng_range(&r, 0, (int64_t)len - 1)] = (uint8_t)test_rng_next(&r);
        rt_graph *g;
        if (onnx_import_buffer(copy, n, NULL, NULL, &g, &e) != RT_OK) {
            assert_true(e.msg[0] != '\0');
            continue;
        }
        cpu_exec *x;
        if (cpu_exec_create(g, &x, &e) == RT_OK) {
            if (cpu_exec_set_input(x, "x", in, &e) == RT_OK && cpu_exec_run(x, &e) == RT_OK)
                ran++;
            cpu_exec_free(x);
        }
        graph_free(g);
    }
    assert_true(ran > 0); /* some corruptions leave a runnable model (names, values) */
    rt_tensor_free(in);
    free(copy);
    free(buf);
}

static void test_export_refuses_shape_only_weights(void **state)
{
    (void)state;
    rt_error e;
    encoder_block_cfg cfg = ENCODER_BLOCK_DEFAULT;
    rt_graph *g = model_encoder_block(&cfg, false, &e);
    uint8_t *buf;
    size_t len;
    assert_int_equal(onnx_export_buffer(g, &buf, &len, &e), RT_ERR_NO_DATA);
    assert_non_null(strstr(e.msg, "has no data (a shape-only weight) and cannot be exported"));
    graph_free(g);
}

static const struct corrupt {
    const char *file;
    rt_status code;
    const char *msg;
} corrupted[] = {
    {"truncated.onnx", RT_ERR_PARSE, "not an ONNX model: protobuf parse failed (truncated or corrupt file)"},
    {"garbage.onnx", RT_ERR_PARSE, "not an ONNX model: protobuf parse failed (truncated or corrupt file)"},
    {"wrong_size.onnx", RT_ERR_DATA_SIZE, "initializer 'W': 44 bytes of raw_data, but shape [3,4] of f32 needs 48"},
    {"bad_dims.onnx", RT_ERR_SHAPE, "initializer 'W': dimension 0 is negative (-3)"},
    {"huge_dims.onnx", RT_ERR_LIMIT, "initializer 'W': element count overflows"},
    {"cycle.onnx", RT_ERR_CYCLE,
     "cycle in graph through node 'relu_a' (Relu): 'add_b' (Add) -> 'relu_a' (Relu) -> 'add_b' (Add)"},
    {"unknown_op.onnx", RT_ERR_UNKNOWN_OP, "unknown op 'FancyOp' (node 'fancy1' (FancyOp)): no kernel"},
    {"unknown_ops3.onnx", RT_ERR_UNKNOWN_OP,
     "3 unknown ops: 'FancyOp' (2 nodes, first 'fancy1' (FancyOp)), 'com.example.Frobnicate' (node 'frob' "
     "(Frobnicate)), 'Mystery' (node 'mystery' (Mystery) in then_branch of 'branch' (If)): no kernel"},
    {"missing_input.onnx", RT_ERR_MISSING_INPUT, "missing input: node 'add_ghost' (Add) reads 'ghost'"},
};
#define N_CORRUPT (sizeof corrupted / sizeof corrupted[0])

static void test_corrupted_files_exact_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CORRUPT; i++) {
        char p[512], prefix[600];
        model_path(p, sizeof p, corrupted[i].file);
        rt_graph *g = (rt_graph *)1;
        rt_error e;
        rt_status s = onnx_import_file(p, NULL, &g, &e);
        if (s != corrupted[i].code || !strstr(e.msg, corrupted[i].msg))
            fail_msg("%s: got %d '%s', expected %d '%s'", corrupted[i].file, s, e.msg, corrupted[i].code,
                     corrupted[i].msg);
        snprintf(prefix, sizeof prefix, "%s: ", p);
        assert_int_equal(strncmp(e.msg, prefix, strlen(prefix)), 0); /* names the file */
        assert_null(g);
    }
}

/* Every prefix and many single-byte corruptions of a valid model: an error or a graph, never
 * a crash (the sanitizer build runs this too). */
static void test_truncations_and_bit_flips_never_crash(void **state)
{
    (void)state;
    char p[512];
    model_path(p, sizeof p, "typed_fields.onnx");
    uint8_t *buf;
    size_t len;
    rt_error e;
    assert_int_equal(rt_read_file(p, 0, NULL, &buf, &len, &e), RT_OK);
    int errors = 0;
    for (size_t cut = 0; cut < len; cut++) {
        rt_graph *g;
        if (onnx_import_buffer(buf, cut, NULL, NULL, &g, &e) == RT_OK)
            graph_free(g);
        else
            errors++;
    }
    assert_true(errors > (int)len / 2);
    test_rng r = {0x0badcafe};
    uint8_t *copy = malloc(len);
    for (int round = 0; round < 2000; round++) {
        memcpy(copy, buf, len);
        for (int k = 0; k < 3; k++)
            copy[test_rng_range(&r, 0, (int64_t)len - 1)] = (uint8_t)test_rng_next(&r);
        rt_graph *g;
        if (onnx_import_buffer(copy, len, NULL, NULL, &g, &e) == RT_OK) {
            cpu_exec *x;
            if (cpu_exec_create(g, &x, &e) == RT_OK) {
                rt_tensor *in = tensor_f32("x", 2, (int64_t[]){2, 3}, x23);
                if (cpu_exec_set_input(x, "x", in, &e) == RT_OK)
                    (void)cpu_exec_run(x, &e);
                rt_tensor_free(in);
                cpu_exec_free(x);
            }
            graph_free(g);
        } else {
            assert_true(e.msg[0] != '\0');
        }
    }
    free(copy);
    free(buf);
}

/* The CLI reads each corrupted model as a conformance test: reported, exit 1, no crash. */
static void test_cli_reports_corrupted_models(void **state)
{
    (void)state;
    char dir[512];
    test_path(dir, sizeof dir, "bad_models");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
    assert_int_equal(test_run(NULL, 0, "%s", cmd), 0);
    for (size_t i = 0; i < N_CORRUPT; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s", corrupted[i].file);
        *strrchr(name, '.') = '\0';
        assert_int_equal(test_run(NULL, 0, "mkdir -p %s/test_%s/test_data_set_0 && cp %s/%s %s/test_%s/model.onnx", dir,
                                  name, M4NPU_MODELS_DIR, corrupted[i].file, dir, name), 0);
    }
    int rc = test_run(out, sizeof out, "%s conformance --dir %s", M4NPU_BIN, dir);
    assert_int_equal(rc, 1);
    for (size_t i = 0; i < N_CORRUPT; i++) {
        if (corrupted[i].code == RT_ERR_UNKNOWN_OP)
            continue; /* a model needing an op with no kernel is "unsupported", not failed */
        if (!strstr(out, corrupted[i].msg))
            fail_msg("expected '%s' in:\n%s", corrupted[i].msg, out);
    }
    assert_non_null(strstr(out, "conformance: 0 passed, 7 failed, 0 excluded, 2 unsupported"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_typed_fields_and_external_data),
        cmocka_unit_test(test_external_data_missing_file_names_the_tensor),
        cmocka_unit_test(test_constant_nodes),
        cmocka_unit_test(test_encoder_block_round_trip),
        cmocka_unit_test(test_control_flow_round_trip),
        cmocka_unit_test(test_control_flow_corruptions_never_crash),
        cmocka_unit_test(test_export_refuses_shape_only_weights),
        cmocka_unit_test(test_tensor_data_checked_before_allocation),
        cmocka_unit_test(test_absurd_attribute_and_opset_counts_are_refused),
        cmocka_unit_test(test_corrupted_files_exact_errors),
        cmocka_unit_test(test_truncations_and_bit_flips_never_crash),
        cmocka_unit_test(test_cli_reports_corrupted_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
