/* `m4npu conformance --json` over libonnx-testdata: no failure and at least
 * CONFORMANCE_MIN_PASSED passed tests; per-op tallies, the exclusion table, --op and errors. */
#include <jansson.h>

#include "test_util.h"

#define CONFORMANCE_MIN_PASSED 150
#define NODE_TESTS "/usr/share/libonnx-testdata/data/node"

static char out[1 << 16];

static json_t *run_json(const char *args, int expect_rc)
{
    char path[512];
    test_path(path, sizeof path, "conformance.json");
    int rc = test_run(out, sizeof out, "%s conformance --json %s > %s", M4NPU_BIN, args, path);
    if (rc != expect_rc)
        fail_msg("exit %d, expected %d: %s", rc, expect_rc, out);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root)
        fail_msg("not JSON: %s (line %d)", err.text, err.line);
    return root;
}

static int geti(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_non_null(v);
    return (int)json_integer_value(v);
}

static void test_all_node_tests(void **state)
{
    (void)state;
    json_t *root = run_json("", 0);
    int passed = geti(root, "passed"), failed = geti(root, "failed"), excluded = geti(root, "excluded");
    printf("conformance: %d passed, %d failed, %d excluded, %d unsupported\n", passed, failed, excluded,
           geti(root, "unsupported"));
    assert_int_equal(failed, 0);
    assert_true(passed >= CONFORMANCE_MIN_PASSED);
    /* the per-op tallies add up, and the M4 core ops are covered */
    json_t *by_op = json_object_get(root, "by_op");
    const char *op;
    json_t *t;
    int sum = 0;
    json_object_foreach(by_op, op, t) sum += geti(t, "passed");
    assert_int_equal(sum, passed);
    const char *core[] = {"MatMul", "Gemm", "Conv", "Softmax", "LayerNormalization", "Reshape", "Transpose",
                          "Concat", "Slice", "Gather", "Resize", "Erf", "Where", "Expand", "Trilu"};
    for (size_t i = 0; i < sizeof core / sizeof core[0]; i++) {
        json_t *o = json_object_get(by_op, core[i]);
        if (!o || geti(o, "passed") < 1)
            fail_msg("no passed test for %s", core[i]);
    }
    /* control flow: If (test_if), Loop (test_loop11 and the Range expansions), Scan (Scan-8 and -9) */
    const struct {
        const char *op;
        int min;
    } control[] = {{"If", 1}, {"Loop", 1}, {"Scan", 2}, {"Range", 4}};
    for (size_t i = 0; i < sizeof control / sizeof control[0]; i++) {
        json_t *o = json_object_get(by_op, control[i].op);
        if (!o || geti(o, "passed") < control[i].min)
            fail_msg("fewer than %d passed tests for %s", control[i].min, control[i].op);
    }
    /* every excluded test carries its reason */
    size_t i;
    json_t *test;
    json_array_foreach(json_object_get(root, "tests"), i, test)
    {
        if (strcmp(json_string_value(json_object_get(test, "result")), "excluded") == 0)
            assert_non_null(json_object_get(test, "message"));
    }
    assert_true(json_array_size(json_object_get(root, "exclusions")) > 0);
    assert_true(excluded <= 30); /* keep them few */
    json_decref(root);
}

static void test_op_filter(void **state)
{
    (void)state;
    json_t *root = run_json("--op Conv", 0);
    json_t *by_op = json_object_get(root, "by_op");
    assert_int_equal(json_object_size(by_op), 1);
    assert_true(geti(json_object_get(by_op, "Conv"), "passed") >= 4);
    json_decref(root);
}

static void test_usage_and_missing_dir(void **state)
{
    (void)state;
    assert_int_equal(test_run(out, sizeof out, "%s conformance --dir /nonexistent/dir", M4NPU_BIN), 3);
    assert_non_null(strstr(out, "/nonexistent/dir: cannot read the test directory"));
    assert_int_equal(test_run(out, sizeof out, "%s conformance --bogus", M4NPU_BIN), 2);
    /* an op no test is about is a usage error naming it and the close names (was: 0 tests, exit 0) */
    assert_int_equal(test_run(out, sizeof out, "%s conformance --op NoSuchOp", M4NPU_BIN), 2);
    assert_non_null(strstr(out, "--op NoSuchOp: no such op"));
    assert_int_equal(test_run(out, sizeof out, "%s conformance --op Softmx", M4NPU_BIN), 2);
    assert_non_null(strstr(out, "did you mean Softmax"));
    assert_int_equal(test_run(out, sizeof out, "%s conformance --help", M4NPU_BIN), 0);
    assert_non_null(strstr(out, "rtol 1e-3, atol 1e-7"));
}

int main(void)
{
    if (access(NODE_TESTS, R_OK) != 0) {
        fprintf(stderr, "test_conformance: %s missing (install libonnx-testdata)\n", NODE_TESTS);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_node_tests),
        cmocka_unit_test(test_op_filter),
        cmocka_unit_test(test_usage_and_missing_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
