/* `m4npu run` end to end: the encoder block with a given .npy input, --json, --timeline and
 * --output-dir (the written output is what the report's errors describe, against a reference
 * computed here); every corrupted model of build/models and every bad input gives a clear
 * message and a non-zero exit, and no crash (the sanitizer build runs the same tests). */
#include "test_util.h"
#include "layers_check.h"

#include <jansson.h>
#include <math.h>
#include <sys/stat.h>

#include "cpu_exec.h"
#include "npy.h"
#include "onnx_io.h"

#define MOBILE_YAML M4NPU_SOURCE_DIR "/configs/mobile-default.yaml"
#define MODEL(f) M4NPU_MODELS_DIR "/" f
#define ENCODER MODEL("encoder_block.onnx")
#define OUT_BYTES (1 << 20)
#define ENCODER_TOLERANCE 0.05 /* docs/run.md */

static char out[OUT_BYTES];

static int run(const char *fmt, const char *a, const char *b)
{
    char args[3000];
    snprintf(args, sizeof args, fmt, a, b);
    return test_run(out, sizeof out, "%s run %s", M4NPU_BIN, args);
}

/* x.npy: f32 [1, 16, 64], a fixed pattern */
static void write_input(const char *path, rt_tensor **keep)
{
    rt_tensor *x = rt_tensor_new("x", RT_DT_F32, 3, (int64_t[]){1, 16, 64});
    assert_int_equal(rt_tensor_alloc(x, NULL), RT_OK);
    for (int i = 0; i < 1024; i++)
        ((float *)x->data)[i] = sinf((float)i * 0.37f) * 1.5f;
    rt_error e;
    assert_int_equal(npy_write_file(x, path, &e), RT_OK);
    *keep = x;
}

static void test_encoder_end_to_end(void **state)
{
    (void)state;
    char in[256], dir[256], tl[256], y[300];
    test_path(in, sizeof in, "x.npy");
    test_path(dir, sizeof dir, "outs");
    test_path(tl, sizeof tl, "tl.json");
    mkdir(dir, 0755);
    rt_tensor *x;
    write_input(in, &x);
    char args[2000];
    snprintf(args, sizeof args, "%s --config %s --partition greedy --input x=%s --output-dir %s --timeline %s --json 2>&1",
             ENCODER, MOBILE_YAML, in, dir, tl);
    int rc = test_run(out, sizeof out, "%s run %s", M4NPU_BIN, args);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, out);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    if (!j)
        fail_msg("not JSON: %s\n%.300s", jerr.text, out);
    json_t *counts = json_object_get(j, "counts");
    assert_true(json_integer_value(json_object_get(counts, "npu")) > 0);
    assert_true(json_integer_value(json_object_get(counts, "cpu")) > 0);
    assert_int_equal(json_integer_value(json_object_get(counts, "segments")), 2);
    assert_int_equal(json_array_size(json_object_get(j, "placement")), 33);
    assert_int_equal(json_array_size(json_object_get(j, "segments")), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "inputs"), 0), "source")),
                        "given");
    json_t *brk = json_object_get(j, "breakdown");
    double total = json_real_value(json_object_get(brk, "total_s"));
    double sum = json_real_value(json_object_get(brk, "npu_s")) + json_real_value(json_object_get(brk, "cpu_s")) +
                 json_real_value(json_object_get(brk, "transfer_s")) + json_real_value(json_object_get(brk, "submit_s"));
    assert_true(total > 0 && fabs(total - sum) < 1e-12);
    json_t *xfer = json_object_get(j, "transfers");
    assert_int_equal(json_integer_value(json_object_get(xfer, "crossings")), 8);
    assert_true(json_integer_value(json_object_get(xfer, "bytes")) > 0);
    assert_true(json_real_value(json_object_get(xfer, "seconds")) > 0);
    assert_true(json_is_object(json_object_get(j, "energy")));
    assert_true(json_real_value(json_object_get(json_object_get(j, "energy"), "total")) > 0);
    double max_abs = json_real_value(json_object_get(j, "max_abs_error"));
    double max_rel = json_real_value(json_object_get(j, "max_rel_error"));
    assert_true(max_abs > 0 && max_rel <= ENCODER_TOLERANCE);
    assert_string_equal(json_string_value(json_object_get(j, "timeline")), tl);

    /* the output file is the NPU path's result: its distance to a reference computed here is
     * exactly the reported error */
    snprintf(y, sizeof y, "%s/y.npy", dir);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "outputs_written"), 0)), y);
    rt_tensor *got;
    rt_error e;
    if (npy_read_file(y, "y", &got, &e) != RT_OK)
        fail_msg("%s", e.msg);
    rt_graph *g;
    assert_int_equal(onnx_import_file(ENCODER, NULL, &g, &e), RT_OK);
    cpu_exec *ex;
    assert_int_equal(cpu_exec_create(g, &ex, &e), RT_OK);
    assert_int_equal(cpu_exec_set_input(ex, "x", x, &e), RT_OK);
    assert_int_equal(cpu_exec_run(ex, &e), RT_OK);
    const rt_tensor *ref = cpu_exec_output(ex, "y");
    assert_int_equal(got->rank, ref->rank);
    assert_memory_equal(got->dims, ref->dims, (size_t)ref->rank * sizeof ref->dims[0]);
    double m = 0, rm = 0;
    for (int64_t i = 0; i < rt_tensor_numel(ref); i++) {
        m = fmax(m, fabs((double)((float *)got->data)[i] - ((float *)ref->data)[i]));
        rm = fmax(rm, fabs(((float *)ref->data)[i]));
    }
    assert_true(m == max_abs);
    assert_true(fabs(m / rm - max_rel) < 1e-15);
    cpu_exec_free(ex);
    graph_free(g);
    rt_tensor_free(got);
    rt_tensor_free(x);

    json_t *t = json_load_file(tl, 0, &jerr);
    if (!t)
        fail_msg("timeline: %s", jerr.text);
    assert_true(json_array_size(json_object_get(t, "traceEvents")) > 20);
    json_decref(t);
    json_decref(j);
}

static void test_text_report_and_overrides(void **state)
{
    (void)state;
    int rc = run("%s --config %s --partition greedy", ENCODER, MOBILE_YAML);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "placement (33 nodes: 32 on the NPU in 2 segments, 1 on the CPU)"));
    assert_non_null(strstr(out, "partitioning: greedy (every supported node on the NPU)"));
    assert_non_null(strstr(out, "mlp/gelu/Erf"));
    assert_non_null(strstr(out, "Erf: not in the NPU capability set"));
    assert_non_null(strstr(out, "latency (modelled): "));
    assert_non_null(strstr(out, "inputs: generated (seed 0x6d346e7075"));
    assert_non_null(strstr(out, "output                        max abs      max rel       rel L2    SQNR dB  argmax agreement"));
    assert_non_null(strstr(out, "\n  y    "));
    rc = run("%s --config %s --partition greedy --set ops.Softmax=off", ENCODER, MOBILE_YAML);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "31 on the NPU in 3 segments, 2 on the CPU"));
    rc = run("%s --config %s --set ops.Bogus=on", ENCODER, MOBILE_YAML);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "--set ops.Bogus=on: ops.Bogus: unknown op"));
}

typedef struct bad_model {
    const char *file;
    const char *message; /* after "m4npu run: DIR/FILE: " */
} bad_model;

static const bad_model bad_models[] = {
    {"truncated.onnx", "not an ONNX model: protobuf parse failed (truncated or corrupt file)"},
    {"garbage.onnx", "not an ONNX model: protobuf parse failed (truncated or corrupt file)"},
    {"wrong_size.onnx", "initializer 'W': 44 bytes of raw_data, but shape [3,4] of f32 needs 48"},
    {"bad_dims.onnx", "initializer 'W': dimension 0 is negative (-3)"},
    {"huge_dims.onnx", "initializer 'W': element count overflows"},
    {"cycle.onnx", "cycle in graph through node 'relu_a' (Relu)"},
    {"unknown_op.onnx", "unknown op 'FancyOp' (node 'fancy1' (FancyOp)): no kernel"},
    {"unknown_ops3.onnx", "3 unknown ops: 'FancyOp' (2 nodes, first 'fancy1' (FancyOp)), 'com.example.Frobnicate' "
                          "(node 'frob' (Frobnicate)), 'Mystery' (node 'mystery' (Mystery) in then_branch of 'branch' "
                          "(If)): no kernel"},
    {"missing_input.onnx", "missing input: node 'add_ghost' (Add) reads 'ghost'"},
};

static void test_corrupted_models(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_models / sizeof bad_models[0]; i++) {
        char model[512], want[1024];
        snprintf(model, sizeof model, MODEL("%s"), bad_models[i].file);
        int rc = run("%s --config %s", model, MOBILE_YAML);
        if (rc != 1)
            fail_msg("%s: exit %d (want 1): %s", bad_models[i].file, rc, out);
        snprintf(want, sizeof want, "m4npu run: %s: %s", model, bad_models[i].message);
        if (strncmp(out, want, strlen(want)) != 0)
            fail_msg("%s:\n  got  %s  want %s", bad_models[i].file, out, want);
        assert_null(strstr(out, "latency (modelled)")); /* nothing ran */
    }
    int rc = run("%s --config %s", MODEL("no_such_model.onnx"), MOBILE_YAML);
    assert_int_equal(rc, 3);
    assert_non_null(strstr(out, "no_such_model.onnx: cannot open: No such file or directory"));
}

static void write_bytes(const char *name, const void *data, size_t len, char *path, size_t psize)
{
    test_path(path, psize, name);
    test_write_file(path, data, len);
}

static void expect_input_failure(const char *input_arg, int want_rc, const char *want)
{
    char args[2000];
    snprintf(args, sizeof args, "%s --config %s --input %s", ENCODER, MOBILE_YAML, input_arg);
    int rc = test_run(out, sizeof out, "%s run %s", M4NPU_BIN, args);
    if (rc != want_rc)
        fail_msg("--input %s: exit %d (want %d): %s", input_arg, rc, want_rc, out);
    if (!strstr(out, want))
        fail_msg("--input %s:\n  got  %s  want ...%s...", input_arg, out, want);
    assert_null(strstr(out, "latency (modelled)")); /* nothing ran */
}

static void test_bad_inputs(void **state)
{
    (void)state;
    char p[256], arg[300];
    /* not a .npy file */
    write_bytes("garbage.npy", "hello, world", 12, p, sizeof p);
    snprintf(arg, sizeof arg, "x=%s", p);
    expect_input_failure(arg, 1, "--input x: ");
    expect_input_failure(arg, 1, "garbage.npy: not a .npy file (it does not start with \\x93NUMPY)");
    /* truncated: a valid header, half the data */
    rt_tensor *x;
    char good[256];
    test_path(good, sizeof good, "good.npy");
    write_input(good, &x);
    uint8_t *buf;
    size_t len;
    rt_error e;
    assert_int_equal(npy_write_buffer(x, &buf, &len, &e), RT_OK);
    write_bytes("half.npy", buf, len - 2048, p, sizeof p);
    snprintf(arg, sizeof arg, "x=%s", p);
    expect_input_failure(arg, 1, "half.npy: truncated .npy data: 2048 bytes, but shape [1,16,64] of f32 needs 4096");
    free(buf);
    rt_tensor_free(x);
    /* wrong type, wrong shape, an input the model does not have */
    rt_tensor *i = rt_tensor_new("x", RT_DT_I32, 3, (int64_t[]){1, 16, 64});
    assert_int_equal(rt_tensor_alloc(i, NULL), RT_OK);
    test_path(p, sizeof p, "ints.npy");
    assert_int_equal(npy_write_file(i, p, &e), RT_OK);
    snprintf(arg, sizeof arg, "x=%s", p);
    expect_input_failure(arg, 1, "--input x: expected f32 [1,16,64], got i32 [1,16,64]");
    rt_tensor_free(i);
    rt_tensor *s = rt_tensor_new("x", RT_DT_F32, 2, (int64_t[]){16, 64});
    assert_int_equal(rt_tensor_alloc(s, NULL), RT_OK);
    test_path(p, sizeof p, "shape.npy");
    assert_int_equal(npy_write_file(s, p, &e), RT_OK);
    snprintf(arg, sizeof arg, "x=%s", p);
    expect_input_failure(arg, 1, "--input x: expected f32 [1,16,64], got f32 [16,64]");
    snprintf(arg, sizeof arg, "tokens=%s", good);
    expect_input_failure(arg, 1, "--input tokens: the model has no input 'tokens' (its inputs: x)");
    rt_tensor_free(s);
    /* a file that does not exist: exit 3 */
    expect_input_failure("x=/nonexistent/x.npy", 3, "--input x: /nonexistent/x.npy: cannot open");
    /* usage */
    expect_input_failure("x", 2, "--input x: expected NAME=FILE.npy");
}

static void test_usage_and_output_errors(void **state)
{
    (void)state;
    int rc = run("%s%s", ENCODER, "");
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "--config FILE is required"));
    rc = run("--config %s%s", MOBILE_YAML, "");
    assert_int_equal(rc, 2);
    rc = run("%s --config %s --weights int3", ENCODER, MOBILE_YAML);
    assert_int_equal(rc, 2);
    rc = run("%s --config %s --seed -4", ENCODER, MOBILE_YAML);
    assert_int_equal(rc, 2);
    char file[256], args[1200];
    test_path(file, sizeof file, "a-file");
    test_write_file(file, "x", 1);
    snprintf(args, sizeof args, "%s --output-dir %s/outs", MOBILE_YAML, file);
    rc = run("%s --config %s", ENCODER, args);
    assert_int_equal(rc, 3);
    char want[600];
    snprintf(want, sizeof want, "%s/outs: %s is not a directory", file, file);
    assert_non_null(strstr(out, want));
    rc = run("%s --config %s --timeline /nonexistent/dir/t.json", ENCODER, MOBILE_YAML);
    assert_int_equal(rc, 3);
    assert_non_null(strstr(out, "/nonexistent/dir/t.json: cannot create"));
    rc = run("%s --config %s", ENCODER, "/nonexistent/c.yaml");
    assert_int_equal(rc, 3);
    rc = test_run(out, sizeof out, "%s run --help", M4NPU_BIN);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "usage: m4npu run MODEL.onnx --config FILE"));
}

/* `m4npu run MODEL --layers --json`: per-layer rows whose cycles, seconds and energy add up to the
 * run's; --layers --csv gives the same rows with the configuration and its overrides; the table
 * ends with the totals. */
static void test_layers_add_up(void **state)
{
    (void)state;
    int rc = run("%s --config %s --layers --json", ENCODER, MOBILE_YAML);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, out);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_layers_add_up(j);
    size_t rows = json_array_size(json_object_get(j, "layers"));
    /* every NPU node has its op descriptors' time, or is fused into one that has, or is a view
     * (metadata: no descriptor) */
    size_t i;
    json_t *p;
    static const char *const views = " Reshape Flatten Squeeze Unsqueeze Identity Dropout Cast ";
    json_array_foreach(json_object_get(j, "placement"), i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "place")), "npu") != 0)
            continue;
        char op[48];
        snprintf(op, sizeof op, " %s ", json_string_value(json_object_get(p, "op")));
        if (!(json_real_value(json_object_get(p, "model_s")) > 0 || json_is_string(json_object_get(p, "fused_into")) ||
              strstr(views, op)))
            fail_msg("NPU node %s: no time, not fused, not a view", json_string_value(json_object_get(p, "node")));
    }
    json_decref(j);
    rc = run("%s --config %s --layers --csv --set ops.Erf=on", ENCODER, MOBILE_YAML);
    assert_int_equal(rc, 0);
    size_t lines = 0;
    for (const char *c = out; *c; c++)
        lines += *c == '\n';
    assert_true(lines > 2);
    assert_non_null(strstr(out, ",energy_j,"));
    assert_non_null(strstr(out, ",\"mobile-default\","));
    assert_non_null(strstr(out, ",\"ops.Erf=on\"\n"));
    rc = run("%s --config %s --layers", ENCODER, MOBILE_YAML);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "per layer (docs/layers.md):"));
    assert_non_null(strstr(out, "attention")); /* the fused attention's descriptor */
    (void)rows;
    /* --csv without --layers is a usage error */
    assert_int_equal(run("%s --config %s --csv", ENCODER, MOBILE_YAML), 2);
}

/* Regression (issue 18, fixed with issue 9): --output-dir into a missing directory failed; it is
 * created, parents too. */
static void test_output_dir_is_created(void **state)
{
    (void)state;
    char dir[256], y[300], args[1200];
    test_path(dir, sizeof dir, "new/nested/outs");
    snprintf(args, sizeof args, "%s --output-dir %s", MOBILE_YAML, dir);
    int rc = run("%s --config %s", ENCODER, args);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, out);
    snprintf(y, sizeof y, "%s/y.npy", dir);
    assert_int_equal(access(y, R_OK), 0);
}

/* Regression (issue 9): when a later output could not be written, the earlier ones stayed. Here
 * the timeline's directory does not exist: no output may appear, not even in a directory that
 * already existed, and a directory the run would have created is not left behind either. */
static void test_a_failed_output_leaves_none(void **state)
{
    (void)state;
    char dir[256], y[300], created[256], args[1600];
    test_path(dir, sizeof dir, "kept-empty");
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(args, sizeof args, "%s --output-dir %s --timeline %s/no-such-dir/t.json", MOBILE_YAML, dir, dir);
    int rc = run("%s --config %s", ENCODER, args);
    assert_int_equal(rc, 3);
    char want[600];
    snprintf(want, sizeof want, "%s/no-such-dir/t.json: cannot create: the directory %s/no-such-dir does not exist", dir,
             dir);
    if (!strstr(out, want))
        fail_msg("expected '%s' in:\n%s", want, out);
    snprintf(y, sizeof y, "%s/y.npy", dir);
    assert_int_equal(access(y, F_OK), -1);
    test_path(created, sizeof created, "would-be-created");
    snprintf(args, sizeof args, "%s --output-dir %s --timeline %s/no-such-dir/t.json", MOBILE_YAML, created, dir);
    assert_int_equal(run("%s --config %s", ENCODER, args), 3);
    assert_int_equal(access(created, F_OK), -1);
    /* an output named like the model is refused (exit 2), the model stays */
    snprintf(args, sizeof args, "%s --timeline %s", MOBILE_YAML, ENCODER);
    assert_int_equal(run("%s --config %s", ENCODER, args), 2);
    assert_non_null(strstr(out, "refusing to overwrite an input with an output"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoder_end_to_end),
        cmocka_unit_test(test_text_report_and_overrides),
        cmocka_unit_test(test_corrupted_models),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_usage_and_output_errors),
        cmocka_unit_test(test_layers_add_up),
        cmocka_unit_test(test_output_dir_is_created),
        cmocka_unit_test(test_a_failed_output_leaves_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
