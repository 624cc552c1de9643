/* `m4npu run` on models with symbolic dimensions and control flow (tests/run/flow_models.py
 * builds them at test time with python3-onnx, with float64 numpy references), each output
 * compared with its reference:
 *
 *   FP32 path (every op on the CPU: `ops: {}`)  max |out - ref| <= FP32_TOLERANCE x max |ref|
 *   NPU path (configs/mobile-default.yaml)      max |out - ref| <= NPU_TOLERANCE x max |ref|
 *                                               (int8 activations and weights, as docs/run.md)
 *
 * and what the run says about them: the branch an If took, that a constant If is gone (inlined,
 * its nodes on the NPU), the iterations of a Loop, timing-only runs from --dim (the same modelled
 * time as the run with data, when the path does not depend on data), and the errors for a
 * dimension that is not known or given twice differently. */
#include "test_util.h"
#include "layers_check.h"

#include <jansson.h>
#include <math.h>
#include <sys/stat.h>

#include "npy.h"

#define MOBILE_YAML M4NPU_SOURCE_DIR "/configs/mobile-default.yaml"
/* the NPU path: every supported node on the NPU (the default cost-aware partition may keep small
 * models on the CPU, and these tests check what the NPU path computes) */
#define MOBILE_GREEDY MOBILE_YAML " --partition greedy"
#define GENERATOR M4NPU_SOURCE_DIR "/tests/run/flow_models.py"
#define PYTHON "/usr/bin/python3" /* Debian's python3-onnx works only with it */
#define OUT_BYTES (1 << 20)
#define FP32_TOLERANCE 1e-5 /* float32 kernels computing in double, rounded once per op */
#define NPU_TOLERANCE 0.05  /* int8, docs/run.md */
#define DISPATCH_S 5e-6     /* mobile-default's cpu.dispatch_overhead_us */

static char out[OUT_BYTES];
static char dir[512], cpu_yaml[600];

/* A copy of mobile-default.yaml whose capability set is empty: everything on the CPU. */
static void write_cpu_config(void)
{
    snprintf(cpu_yaml, sizeof cpu_yaml, "%s/cpu-only.yaml", dir);
    test_write_cpu_only_config(MOBILE_YAML, cpu_yaml);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s/flow", test_tmpdir());
    mkdir(dir, 0755);
    int rc = test_run(out, sizeof out, "%s %s %s", PYTHON, GENERATOR, dir);
    if (rc != 0) {
        fprintf(stderr, "flow_models.py failed (python3-onnx and python3-numpy are in scripts/deps.txt): %s\n", out);
        return -1;
    }
    write_cpu_config();
    return 0;
}

static json_t *run_json(int expect_rc, const char *fmt, ...)
{
    char args[3000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    int rc = test_run(out, sizeof out, "%s run %s --json 2>&1", M4NPU_BIN, args);
    if (rc != expect_rc)
        fail_msg("exit %d, expected %d: m4npu run %s\n%s", rc, expect_rc, args, out);
    if (expect_rc != 0)
        return NULL;
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    if (!j)
        fail_msg("not JSON: %s\n%.400s", jerr.text, out);
    return j;
}

static rt_tensor *load(const char *file)
{
    char p[1500];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    rt_tensor *t;
    rt_error e;
    if (npy_read_file(p, NULL, &t, &e) != RT_OK)
        fail_msg("%s", e.msg);
    return t;
}

/* max |got - want| relative to max |want|, shapes equal */
static double rel_error(const rt_tensor *got, const rt_tensor *want)
{
    char s1[96], s2[96];
    if (got->rank != want->rank || memcmp(got->dims, want->dims, (size_t)got->rank * sizeof got->dims[0]) != 0)
        fail_msg("shape %s, expected %s", rt_shape_str(got, s1, sizeof s1), rt_shape_str(want, s2, sizeof s2));
    double err = 0, mx = 0;
    for (int64_t i = 0; i < rt_tensor_numel(want); i++) {
        double d = fabs(rt_tensor_get_f64(got, i) - rt_tensor_get_f64(want, i));
        err = d > err || isnan(d) ? d : err;
        mx = fmax(mx, fabs(rt_tensor_get_f64(want, i)));
    }
    return mx > 0 ? err / mx : err;
}

/* Run model (with `inputs`, "x=F ..." relative to dir) on both paths; check every output
 * named in outputs ("y=ref.npy z=ref2.npy") and return the NPU run's JSON. */
static json_t *run_and_check(const char *model, const char *inputs, const char *outputs)
{
    char ins[1500] = "", spec[1000];
    snprintf(spec, sizeof spec, "%s", inputs);
    for (char *tok = strtok(spec, " "); tok; tok = strtok(NULL, " ")) {
        char *eq = strchr(tok, '=');
        size_t o = strlen(ins);
        snprintf(ins + o, sizeof ins - o, " --input %.*s=%s/%s", (int)(eq - tok), tok, dir, eq + 1);
    }
    json_t *npu = NULL;
    for (int path = 0; path < 2; path++) {
        const char *cfg = path ? MOBILE_GREEDY : cpu_yaml;
        char od[700];
        snprintf(od, sizeof od, "%s/out-%s-%d", dir, model, path);
        mkdir(od, 0755);
        json_t *j = run_json(0, "%s/%s.onnx --config %s%s --output-dir %s --layers", dir, model, cfg, ins, od);
        assert_layers_add_up(j); /* control flow too: what its subgraphs ran is in its node's row */
        char ospec[1000];
        snprintf(ospec, sizeof ospec, "%s", outputs);
        char *save;
        for (char *tok = strtok_r(ospec, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
            char *eq = strchr(tok, '=');
            *eq = '\0';
            char got_file[900];
            snprintf(got_file, sizeof got_file, "out-%s-%d/%s.npy", model, path, tok);
            rt_tensor *got = load(got_file), *want = load(eq + 1);
            double err = rel_error(got, want), tol = path ? NPU_TOLERANCE : FP32_TOLERANCE;
            printf("  %s %s (%s): max error %.3g of max |ref| (tolerance %g)\n", model, tok, path ? "NPU" : "FP32", err,
                   tol);
            if (!(err <= tol))
                fail_msg("%s: output %s on the %s path is off by %g of max |ref| (> %g)", model, tok,
                         path ? "NPU" : "FP32", err, tol);
            rt_tensor_free(got);
            rt_tensor_free(want);
        }
        if (path)
            npu = j;
        else
            json_decref(j);
    }
    return npu;
}

/* The placement entry of the first node with op `op`, or NULL. */
static json_t *placed(json_t *j, const char *op)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(j, "placement"), i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "op")), op) == 0)
            return p;
    }
    return NULL;
}

static double total_s(json_t *j)
{
    return json_real_value(json_object_get(json_object_get(j, "breakdown"), "total_s"));
}

static void test_symbolic_batch_and_width(void **state)
{
    (void)state;
    json_t *j = run_and_check("sym_dims", "x=sym_dims.x.npy", "y=sym_dims.y.npy");
    /* the Reshape target computed from Shape(x) folded once batch was bound: Conv and MatMul run
     * on the NPU, no shape node is left to the CPU */
    assert_non_null(placed(j, "Conv"));
    assert_string_equal(json_string_value(json_object_get(placed(j, "MatMul"), "place")), "npu");
    assert_null(placed(j, "Shape"));
    /* timing only, the same shapes from --dim (by name, and the width as INPUT:AXIS): the same
     * plan and the same modelled time, nothing computed */
    json_t *t = run_json(0, "%s/sym_dims.onnx --config %s --timing-only --dim batch=2 --dim x:3=20", dir, MOBILE_GREEDY);
    assert_true(json_is_true(json_object_get(t, "timing_only")));
    assert_true(json_is_null(json_object_get(t, "max_abs_error")));
    assert_int_equal(json_array_size(json_object_get(t, "errors")), 0);
    assert_int_equal(json_array_size(json_object_get(t, "placement")), json_array_size(json_object_get(j, "placement")));
    assert_true(total_s(t) > 0);
    assert_true(fabs(total_s(t) - total_s(j)) <= 1e-12 * total_s(j));
    json_decref(t);
    json_decref(j);
    /* --reference-only binds the dimensions the same way (here from the input) */
    char od[700];
    snprintf(od, sizeof od, "%s/out-ref", dir);
    mkdir(od, 0755);
    json_decref(run_json(0, "%s/sym_dims.onnx --reference-only --input x=%s/sym_dims.x.npy --output-dir %s", dir, dir,
                         od));
    rt_tensor *got = load("out-ref/y.npy"), *want = load("sym_dims.y.npy");
    assert_true(rel_error(got, want) <= FP32_TOLERANCE);
    rt_tensor_free(got);
    rt_tensor_free(want);
}

static void test_unknown_dimension_errors(void **state)
{
    (void)state;
    char m[700];
    snprintf(m, sizeof m, "%s/sym_dims.onnx --config %s", dir, MOBILE_GREEDY);
    run_json(1, "%s --timing-only --dim batch=2", m);
    assert_non_null(strstr(out, "input 'x': dimension 3 ('width') is not known: give it with --dim width=VALUE"));
    run_json(1, "%s", m); /* with data: the input may be given instead */
    assert_non_null(strstr(out, "input 'x': dimension 0 ('batch') is not known: give it with --dim batch=VALUE (or the "
                                "input with --input x=FILE.npy)"));
    run_json(1, "%s --dim batch=3 --input x=%s/sym_dims.x.npy", m, dir);
    assert_non_null(strstr(out, "dimension 'batch' is 3 (--dim batch=3) but 2 (dimension 0 of --input x)"));
    run_json(1, "%s --timing-only --dim height=3", m);
    assert_non_null(strstr(out, "--dim height: the model has no symbolic dimension 'height'"));
    assert_non_null(strstr(out, "(its symbolic dimensions: batch, width)"));
    /* an input without a declared shape takes the given value's; without one it cannot run */
    json_decref(run_and_check("noshape", "x=noshape.x.npy", "y=noshape.y.npy"));
    run_json(1, "%s/noshape.onnx --config %s --timing-only", dir, MOBILE_GREEDY);
    assert_non_null(strstr(out, "input 'x' declares no shape (not even a rank): run without --timing-only and give it "
                                "with --input x=FILE.npy"));
    run_json(1, "%s/noshape.onnx --config %s", dir, MOBILE_GREEDY);
    assert_non_null(strstr(out, "input 'x' declares no shape (not even a rank): give it with --input x=FILE.npy"));
    /* usage: a timing-only run takes no input files and writes no outputs; VALUE is a number */
    run_json(2, "%s --timing-only --input x=%s/sym_dims.x.npy", m, dir);
    assert_non_null(strstr(out, "--timing-only computes no values"));
    run_json(2, "%s --dim batch=two", m);
    assert_non_null(strstr(out, "--dim batch=two: expected NAME=VALUE with a positive integer VALUE"));
}

static void test_if_on_a_computed_scalar(void **state)
{
    (void)state;
    static const struct {
        const char *name, *branch;
    } cases[] = {{"pos", "ran then_branch"}, {"negsmall", "ran else_branch"}, {"neglarge", "ran else_branch"}};
    double model_s[3];
    for (int i = 0; i < 3; i++) {
        char ins[200], outs[200];
        snprintf(ins, sizeof ins, "x=if_nested.%s.x.npy", cases[i].name);
        snprintf(outs, sizeof outs, "y=if_nested.%s.y.npy", cases[i].name);
        json_t *j = run_and_check("if_nested", ins, outs);
        json_t *p = placed(j, "If");
        assert_non_null(p);
        assert_string_equal(json_string_value(json_object_get(p, "place")), "cpu");
        json_t *sub = json_object_get(p, "subgraphs");
        assert_string_equal(json_string_value(json_object_get(sub, "what")), cases[i].branch);
        /* the branch's MatMul ran as an NPU segment; the else branch runs its nested If too */
        assert_true(json_integer_value(json_object_get(sub, "segments")) >= 1);
        assert_int_equal(json_integer_value(json_object_get(sub, "runs")), i == 0 ? 1 : 2);
        assert_true(json_real_value(json_object_get(sub, "npu_s")) > 0);
        model_s[i] = json_real_value(json_object_get(p, "model_s"));
        /* the node itself is one dispatch; the rest is what its subgraphs ran */
        double ran = json_real_value(json_object_get(sub, "npu_s")) + json_real_value(json_object_get(sub, "cpu_s")) +
                     json_real_value(json_object_get(sub, "transfer_s")) +
                     json_real_value(json_object_get(sub, "submit_s"));
        assert_true(fabs(model_s[i] - ran - DISPATCH_S) < 1e-12);
        /* the subgraphs' time is in the breakdown */
        assert_true(total_s(j) > model_s[i]);
        json_decref(j);
    }
    assert_true(model_s[1] != model_s[0] && model_s[2] != model_s[1]); /* each path costs what it ran */
    /* without data the condition is unknown: the costlier branch, said so */
    json_t *t = run_json(0, "%s/if_nested.onnx --config %s --timing-only --dim batch=3", dir, MOBILE_GREEDY);
    const char *what = json_string_value(json_object_get(json_object_get(placed(t, "If"), "subgraphs"), "what"));
    assert_non_null(strstr(what, "the costlier branch"));
    json_decref(t);
}

static void test_if_on_a_constant_is_inlined(void **state)
{
    (void)state;
    for (int w = 16; w <= 24; w += 8) {
        char ins[200], outs[200];
        snprintf(ins, sizeof ins, "x=if_const.w%d.x.npy", w);
        snprintf(outs, sizeof outs, "z=if_const.w%d.z.npy", w);
        json_t *j = run_and_check("if_const", ins, outs);
        assert_null(placed(j, "If")); /* both Ifs (on the bound width, on a literal) are gone */
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "counts"), "cpu")), 0);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "counts"), "segments")), 1);
        assert_non_null(placed(j, w == 16 ? "Relu" : "Slice")); /* the selected branch's nodes */
        assert_null(placed(j, w == 16 ? "Slice" : "Relu"));
        json_decref(j);
    }
}

static void test_loop(void **state)
{
    (void)state;
    json_t *j = run_and_check("loop", "x=loop.x.npy h0=loop.h0.npy v=loop.v.npy",
                              "h_final=loop.h_final.ref.npy hs=loop.hs.ref.npy v_final=loop.v_final.ref.npy "
                              "vs=loop.vs.ref.npy");
    size_t i;
    json_t *p;
    int loops = 0;
    json_array_foreach(json_object_get(j, "placement"), i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "op")), "Loop") != 0)
            continue;
        json_t *sub = json_object_get(p, "subgraphs");
        /* the RNN runs its 5 steps (M from Shape(x)), the halving loop until its condition ends it */
        assert_string_equal(json_string_value(json_object_get(sub, "what")), loops ? "ran body 7 times" : "ran body 5 times");
        assert_int_equal(json_integer_value(json_object_get(sub, "runs")), loops ? 7 : 5);
        assert_true(json_real_value(json_object_get(sub, "npu_s")) > 0);
        loops++;
    }
    assert_int_equal(loops, 2);
    json_decref(j);
    /* without data, the halving loop's length (and its scan output's shape) is not known */
    run_json(1, "%s/loop.onnx --config %s --timing-only --dim steps=5 --dim batch=2", dir, MOBILE_GREEDY);
    assert_non_null(strstr(out, "timing only: the shape [?,2,4] of 'vs' (output of node #1 (Loop)) depends on data"));
}

static void test_scan(void **state)
{
    (void)state;
    json_t *j = run_and_check("scan", "s0=scan.s0.npy x=scan.x.npy", "s_final=scan.s_final.ref.npy ys=scan.ys.ref.npy");
    json_t *sub = json_object_get(placed(j, "Scan"), "subgraphs");
    assert_string_equal(json_string_value(json_object_get(sub, "what")), "ran body 6 times");
    /* timing only: 6 steps from the shapes, the same modelled time as the run with data */
    json_t *t = run_json(0, "%s/scan.onnx --config %s --timing-only --dim batch=2 --dim steps=6", dir, MOBILE_GREEDY);
    assert_string_equal(json_string_value(json_object_get(json_object_get(placed(t, "Scan"), "subgraphs"), "what")),
                        "body 6 times");
    assert_true(fabs(total_s(t) - total_s(j)) <= 1e-12 * total_s(j));
    json_decref(t);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symbolic_batch_and_width),
        cmocka_unit_test(test_unknown_dimension_errors),
        cmocka_unit_test(test_if_on_a_computed_scalar),
        cmocka_unit_test(test_if_on_a_constant_is_inlined),
        cmocka_unit_test(test_loop),
        cmocka_unit_test(test_scan),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
