/* `m4npu run --reference-only` end to end (the given or generated input, the report's GMAC,
 * wall time and output statistics, --json, --output-dir against hand-computed values, usage
 * errors), and a full `m4npu run` of a model with the recurrent and integer ops, which the
 * partitioner places and costs on the CPU. Models are built here and saved with the exporter. */
#include "test_util.h"

#include <jansson.h>
#include <sys/stat.h>

#include "graph.h"
#include "npy.h"
#include "onnx_io.h"

#define MOBILE_YAML M4NPU_SOURCE_DIR "/configs/mobile-default.yaml"
#define OUT_BYTES (1 << 20)

static char out[OUT_BYTES];

static void save(rt_graph *g, const char *path)
{
    rt_error e = {0};
    if (onnx_export_file(g, path, &e) != RT_OK)
        fail_msg("export: %s", e.msg);
    graph_free(g);
}

/* y = a x b with b = [[1, 2], [3, 4], [5, 6]]: 12 MACs */
static void write_matmul(const char *path)
{
    rt_graph *g = graph_create("mm");
    float b[6] = {1, 2, 3, 4, 5, 6};
    assert_true(graph_add_input(g, "a", RT_DT_F32, 2, (int64_t[]){2, 3}) >= 0);
    assert_true(graph_add_constant(g, "b", RT_DT_F32, 2, (int64_t[]){3, 2}, b, sizeof b) >= 0);
    assert_true(graph_add_node(g, "MatMul", "mm", 2, (const char *[]){"a", "b"}, 1, (const char *[]){"y"}) >= 0);
    graph_mark_output(g, graph_find_tensor(g, "y"));
    save(g, path);
}

static json_t *parse(void)
{
    json_error_t err;
    json_t *j = json_loads(out, 0, &err);
    if (!j)
        fail_msg("not JSON (%s): %s", err.text, out);
    return j;
}

static void test_reference_only_given_input(void **state)
{
    (void)state;
    char model[256], in[256], dir[256], y[300];
    test_path(model, sizeof model, "mm.onnx");
    test_path(in, sizeof in, "a.npy");
    test_path(dir, sizeof dir, "ref-outs");
    mkdir(dir, 0755);
    write_matmul(model);
    rt_tensor *a = rt_tensor_new("a", RT_DT_F32, 2, (int64_t[]){2, 3});
    assert_int_equal(rt_tensor_alloc(a, NULL), RT_OK);
    float av[6] = {1, 0, -1, 2, 0.5f, 0};
    memcpy(a->data, av, sizeof av);
    rt_error e;
    assert_int_equal(npy_write_file(a, in, &e), RT_OK);
    rt_tensor_free(a);

    int rc = test_run(out, sizeof out, "%s run %s --reference-only --input a=%s --output-dir %s --json", M4NPU_BIN,
                      model, in, dir);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, out);
    json_t *j = parse();
    assert_true(json_is_true(json_object_get(j, "reference_only")));
    assert_true(json_real_value(json_object_get(j, "macs")) == 12.0);
    assert_true(json_real_value(json_object_get(j, "host_wall_s")) >= 0.0);
    assert_true(json_real_value(json_object_get(j, "host_cpu_s")) >= 0.0);
    assert_true(json_integer_value(json_object_get(j, "blas_threads")) >= 1);
    assert_int_equal(json_array_size(json_object_get(j, "generated_inputs")), 0);
    json_t *o = json_array_get(json_object_get(j, "outputs"), 0);
    assert_string_equal(json_string_value(json_object_get(o, "shape")), "[2,2]");
    /* [1,0,-1] x b = [-4,-4]; [2,0.5,0] x b = [3.5,6] */
    assert_true(json_real_value(json_object_get(o, "min")) == -4.0);
    assert_true(json_real_value(json_object_get(o, "max")) == 6.0);
    json_decref(j);
    snprintf(y, sizeof y, "%s/y.npy", dir);
    rt_tensor *yt;
    assert_int_equal(npy_read_file(y, "y", &yt, &e), RT_OK);
    const float want[4] = {-4, -4, 3.5f, 6};
    assert_memory_equal(yt->data, want, sizeof want);
    rt_tensor_free(yt);
}

static void test_reference_only_text_and_generated(void **state)
{
    (void)state;
    char model[256];
    test_path(model, sizeof model, "mm2.onnx");
    write_matmul(model);
    int rc = test_run(out, sizeof out, "%s run %s --reference-only", M4NPU_BIN, model);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, out);
    assert_non_null(strstr(out, "FP32 reference only"));
    assert_non_null(strstr(out, "inputs: generated (seed 0x6d346e7075, uniform [-1, 1)) for a"));
    assert_non_null(strstr(out, "graph: 1 nodes, 0.000 GMAC"));
    assert_non_null(strstr(out, "host wall time: "));
    assert_non_null(strstr(out, "output y: f32 [2,2] min "));
    /* no NPU: no placement or segments */
    assert_null(strstr(out, "placement"));
}

static void test_reference_only_usage(void **state)
{
    (void)state;
    char model[256];
    test_path(model, sizeof model, "mm3.onnx");
    write_matmul(model);
    assert_int_equal(test_run(out, sizeof out, "%s run %s --reference-only --config %s", M4NPU_BIN, model, MOBILE_YAML),
                     2);
    assert_non_null(strstr(out, "--reference-only takes no --config, --set, --timeline, --trace, --layers or --log"));
    assert_int_equal(test_run(out, sizeof out, "%s run %s --reference-only --timeline t.json", M4NPU_BIN, model), 2);
    assert_int_equal(test_run(out, sizeof out, "%s run %s --reference-only --trace t.m4t", M4NPU_BIN, model), 2);
    assert_int_equal(test_run(out, sizeof out, "%s run --help", M4NPU_BIN), 0);
    assert_non_null(strstr(out, "--reference-only"));
    assert_int_equal(test_run(out, sizeof out, "%s run /nonexistent/m.onnx --reference-only", M4NPU_BIN), 3);
}

/* Two processes, the same model and generated input: the same output bytes. The model is an
 * f16 3x3 convolution with 16 channels (the Winograd and OpenBLAS path). */
static void test_reference_only_deterministic(void **state)
{
    (void)state;
    char model[256], d1[256], d2[256], f1[300], f2[300];
    test_path(model, sizeof model, "conv16.onnx");
    test_path(d1, sizeof d1, "det1");
    test_path(d2, sizeof d2, "det2");
    mkdir(d1, 0755);
    mkdir(d2, 0755);
    rt_graph *g = graph_create("conv16");
    uint16_t w[16 * 16 * 9];
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        w[i] = rt_f32_to_f16((float)((int)(i * 7919 % 201) - 100) * 0.003f);
    assert_true(graph_add_input(g, "x", RT_DT_F16, 4, (int64_t[]){1, 16, 20, 24}) >= 0);
    assert_true(graph_add_constant(g, "w", RT_DT_F16, 4, (int64_t[]){16, 16, 3, 3}, w, sizeof w) >= 0);
    int n = graph_add_node(g, "Conv", "conv", 2, (const char *[]){"x", "w"}, 1, (const char *[]){"y"});
    graph_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1});
    graph_mark_output(g, graph_find_tensor(g, "y"));
    save(g, model);
    assert_int_equal(test_run(out, sizeof out, "%s run %s --reference-only --output-dir %s", M4NPU_BIN, model, d1), 0);
    assert_int_equal(test_run(out, sizeof out, "%s run %s --reference-only --output-dir %s", M4NPU_BIN, model, d2), 0);
    snprintf(f1, sizeof f1, "%s/y.npy", d1);
    snprintf(f2, sizeof f2, "%s/y.npy", d2);
    size_t n1, n2;
    char *b1 = test_read_file(f1, &n1), *b2 = test_read_file(f2, &n2);
    assert_int_equal(n1, n2);
    assert_true(n1 > 16 * 20 * 24 * 2);
    assert_memory_equal(b1, b2, n1);
    free(b1);
    free(b2);
}

/* LSTM (bidirectional) + GRU + ConvInteger + MatMulInteger + QLinearConv in one model: the full
 * pipeline runs it, every one of these nodes on the CPU. */
static void test_full_run_places_new_ops_on_cpu(void **state)
{
    (void)state;
    char model[256];
    test_path(model, sizeof model, "mixed.onnx");
    rt_graph *g = graph_create("mixed");
    float w2[2 * 16 * 3], r2[2 * 16 * 4], gw[12 * 3], gr[12 * 4];
    for (size_t i = 0; i < sizeof w2 / sizeof w2[0]; i++)
        w2[i] = (float)((int)(i % 7) - 3) * 0.1f;
    for (size_t i = 0; i < sizeof r2 / sizeof r2[0]; i++)
        r2[i] = (float)((int)(i % 5) - 2) * 0.1f;
    memcpy(gw, w2, sizeof gw);
    memcpy(gr, r2, sizeof gr);
    assert_true(graph_add_input(g, "x", RT_DT_F32, 3, (int64_t[]){5, 1, 3}) >= 0);
    assert_true(graph_add_constant(g, "W", RT_DT_F32, 3, (int64_t[]){2, 16, 3}, w2, sizeof w2) >= 0);
    assert_true(graph_add_constant(g, "R", RT_DT_F32, 3, (int64_t[]){2, 16, 4}, r2, sizeof r2) >= 0);
    int n = graph_add_node(g, "LSTM", "lstm", 3, (const char *[]){"x", "W", "R"}, 1, (const char *[]){"y"});
    graph_node_set_string(g, n, "direction", "bidirectional");
    graph_node_set_int(g, n, "hidden_size", 4);
    graph_mark_output(g, graph_find_tensor(g, "y"));
    assert_true(graph_add_constant(g, "GW", RT_DT_F32, 3, (int64_t[]){1, 12, 3}, gw, sizeof gw) >= 0);
    assert_true(graph_add_constant(g, "GR", RT_DT_F32, 3, (int64_t[]){1, 12, 4}, gr, sizeof gr) >= 0);
    n = graph_add_node(g, "GRU", "gru", 3, (const char *[]){"x", "GW", "GR"}, 2, (const char *[]){"gy", "gh"});
    graph_node_set_int(g, n, "hidden_size", 4);
    graph_mark_output(g, graph_find_tensor(g, "gh"));
    uint8_t cw[3 * 2 * 3 * 3];
    for (size_t i = 0; i < sizeof cw; i++)
        cw[i] = (uint8_t)(i * 37 % 251);
    assert_true(graph_add_input(g, "q", RT_DT_U8, 4, (int64_t[]){1, 2, 6, 6}) >= 0);
    assert_true(graph_add_constant(g, "cw", RT_DT_U8, 4, (int64_t[]){3, 2, 3, 3}, cw, sizeof cw) >= 0);
    assert_true(graph_add_node(g, "ConvInteger", "convint", 2, (const char *[]){"q", "cw"}, 1,
                               (const char *[]){"ci"}) >= 0);
    graph_mark_output(g, graph_find_tensor(g, "ci"));
    assert_true(graph_add_constant(g, "mb", RT_DT_U8, 2, (int64_t[]){6, 4}, cw, 24) >= 0);
    assert_true(graph_add_node(g, "MatMulInteger", "mmint", 2, (const char *[]){"q", "mb"}, 1,
                               (const char *[]){"mi"}) >= 0);
    graph_mark_output(g, graph_find_tensor(g, "mi"));
    float one = 1.0f, small = 0.01f;
    uint8_t zero = 0;
    assert_true(graph_add_constant(g, "s1", RT_DT_F32, 0, NULL, &one, sizeof one) >= 0);
    assert_true(graph_add_constant(g, "s2", RT_DT_F32, 0, NULL, &small, sizeof small) >= 0);
    assert_true(graph_add_constant(g, "z", RT_DT_U8, 0, NULL, &zero, 1) >= 0);
    assert_true(graph_add_node(g, "QLinearConv", "qconv", 8, (const char *[]){"q", "s2", "z", "cw", "s2", "z", "s1", "z"},
                               1, (const char *[]){"qc"}) >= 0);
    graph_mark_output(g, graph_find_tensor(g, "qc"));
    save(g, model);

    int rc = test_run(out, sizeof out, "%s run %s --config %s --json", M4NPU_BIN, model, MOBILE_YAML);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, out);
    json_t *j = parse();
    json_t *placement = json_object_get(j, "placement"), *p;
    size_t i;
    int seen = 0;
    json_array_foreach(placement, i, p)
    {
        const char *op = json_string_value(json_object_get(p, "op"));
        if (!strcmp(op, "LSTM") || !strcmp(op, "GRU") || !strcmp(op, "ConvInteger") || !strcmp(op, "MatMulInteger") ||
            !strcmp(op, "QLinearConv")) {
            assert_string_equal(json_string_value(json_object_get(p, "place")), "cpu");
            seen++;
        }
    }
    assert_int_equal(seen, 5);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_only_given_input),
        cmocka_unit_test(test_reference_only_text_and_generated),
        cmocka_unit_test(test_reference_only_usage),
        cmocka_unit_test(test_reference_only_deterministic),
        cmocka_unit_test(test_full_run_places_new_ops_on_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
