/* Issue 13, done-when 2: a MobileNet-v2-class and a ResNet-class network built by the project run
 * with at least 95% of their nodes on the NPU in at most two segments, on mobile-default and on
 * edge-tpu. Two kinds of network:
 *   - the ONNX test models (build/models/mobilenet_v2_bn.onnx, resnet_bn.onnx: explicit
 *     BatchNormalization, ReLU6 as Clip, depthwise convs, MaxPool, residual Adds, a Gemm head),
 *     imported (BN folded at import; the ResNet's BN after its last Add stays and runs on the
 *     NPU) and run with numerics: the device equals the CPU twin bit for bit and the output is
 *     within CNN_TOLERANCE of the FP32 reference;
 *   - the built-in TS-models mobilenet-v2 and resnet50 (224x224, INT8 weights behind their
 *     Casts), timing-only as whatif runs them.
 * Also: the per-layer report names the CNN ops' descriptors by kernel (they read "op").
 * "Nodes" are the nodes that run at inference: those computed from constants only (a quantised
 * weight's Cast, the reshape of its scales) are precomputed once and counted by neither side. */
#include "test_util.h"

#include "m4.h"
#include "m4npu_config.h"
#include "onnx_io.h"
#include "run.h"
#include "run_layers.h"

#define MOBILE_YAML M4NPU_SOURCE_DIR "/configs/mobile-default.yaml"
#define EDGE_YAML M4NPU_SOURCE_DIR "/configs/edge-tpu.yaml"
/* docs/run.md: the CNN test models' logits are within 5% of the largest |reference logit| */
#define CNN_TOLERANCE 0.05
#define MIN_NPU_FRACTION 0.95
#define MAX_SEGMENTS 2

static void load(const char *path, m4npu_config *cfg)
{
    m4npu_config_error err;
    if (m4npu_config_load(path, cfg, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s", err.msg);
}

static int count_op(const rt_graph *g, const char *op)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += strcmp(g->nodes[i].op_type, op) == 0;
    return n;
}

/* The plan's NPU share of the nodes that run at inference, and its segments. */
static void check_placement(const rt_graph *g, const run_result *r, const char *what)
{
    const part_plan *p = r->plan;
    int running = p->n_nodes - p->n_constant;
    double frac = running > 0 ? (double)p->n_npu / (double)running : 0.0;
    if (frac < MIN_NPU_FRACTION || p->n_segments > MAX_SEGMENTS) {
        for (int i = 0; i < g->n_nodes; i++)
            if (p->node[i].place == PART_CPU && !p->node[i].constant)
                print_message("  CPU: %s (%s): %s\n", g->nodes[i].op_type, g->nodes[i].name ? g->nodes[i].name : "",
                              p->node[i].why);
        fail_msg("%s: %d of %d running nodes on the NPU (%.1f%%), %d segments", what, p->n_npu, running, 100 * frac,
                 p->n_segments);
    }
}

static void onnx_case(const char *file, const char *config, int bn_left)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", M4NPU_MODELS_DIR, file);
    rt_graph *g;
    rt_error e;
    if (onnx_import_file(path, NULL, &g, &e) != RT_OK)
        fail_msg("%s: %s", path, e.msg);
    /* folded at import: what remains is a BN with nothing to fold into */
    assert_int_equal(count_op(g, "BatchNormalization"), bn_left);
    m4npu_config cfg;
    load(config, &cfg);
    run_options o = {.cfg = &cfg, .greedy_partition = true}; /* every supported node on the NPU */
    run_result *r;
    if (run_model(g, &o, &r, &e) != RT_OK)
        fail_msg("%s on %s: %s", file, config, e.msg);
    char what[600];
    snprintf(what, sizeof what, "%s on %s", file, config);
    check_placement(g, r, what);
    assert_int_equal(r->plan->n_cpu, r->plan->n_constant); /* every node that runs is on the NPU */
    assert_true(r->twin_max_abs == 0.0);                    /* the device is the twin, bit for bit */
    assert_int_equal(r->n_outputs, 1);
    if (!(r->max_rel <= CNN_TOLERANCE))
        fail_msg("%s: logits within %.4f of the reference's range (tolerance %.2f)", what, r->max_rel, CNN_TOLERANCE);
    assert_true(r->max_rel > 0.0); /* int8 arithmetic: not the reference itself */
    run_result_free(r);
    graph_free(g);
}

static void test_onnx_mobilenet_v2_class(void **state)
{
    (void)state;
    onnx_case("mobilenet_v2_bn.onnx", MOBILE_YAML, 0);
    onnx_case("mobilenet_v2_bn.onnx", EDGE_YAML, 0);
}

static void test_onnx_resnet_class(void **state)
{
    (void)state;
    onnx_case("resnet_bn.onnx", MOBILE_YAML, 1);
    onnx_case("resnet_bn.onnx", EDGE_YAML, 1);
}

static void module_case(const char *module, const char *config)
{
    m4_module_params p;
    memset(&p, 0, sizeof p);
    rt_error e;
    rt_graph *g = m4_module_build(module, &p, &e);
    if (!g)
        fail_msg("%s: %s", module, e.msg);
    m4npu_config cfg;
    load(config, &cfg);
    run_options o = {.cfg = &cfg, .timing_only = true, .greedy_partition = true};
    run_result *r;
    if (run_model(g, &o, &r, &e) != RT_OK)
        fail_msg("%s on %s: %s", module, config, e.msg);
    char what[600];
    snprintf(what, sizeof what, "module %s on %s", module, config);
    check_placement(g, r, what);
    assert_true(r->npu_s > 0.0);
    run_result_free(r);
    graph_free(g);
}

static void test_builtin_mobilenet_v2_and_resnet50(void **state)
{
    (void)state;
    module_case("mobilenet-v2", MOBILE_YAML);
    module_case("mobilenet-v2", EDGE_YAML);
    module_case("resnet50", MOBILE_YAML);
    module_case("resnet50", EDGE_YAML);
}

/* The per-layer report and the timeline name every op descriptor's kernel (the CNN ops' rows
 * read "op" before): as the firmware's kernel table does. */
static void test_reports_name_every_op_descriptor_kind(void **state)
{
    (void)state;
    static const struct {
        uint32_t op;
        const char *name;
    } cnn[] = {{NPU_OP_GROUP_CONV2D, "group_conv2d"}, {NPU_OP_POOL, "pool"},
               {NPU_OP_PAD, "pad"},                   {NPU_OP_RESIZE, "resize"},
               {NPU_OP_ACTIVATION, "activation"},     {NPU_OP_CHANNEL_AFFINE, "channel_affine"}};
    for (size_t i = 0; i < sizeof cnn / sizeof cnn[0]; i++)
        assert_string_equal(run_npu_op_name(cnn[i].op), cnn[i].name);
    for (uint32_t op = NPU_OP_MATMUL; op < NPU_OP_COUNT; op++) /* 0 is no op */
        if (strcmp(run_npu_op_name(op), "op") == 0)
            fail_msg("op descriptor kind %u has no name in the reports", op);
    assert_string_equal(run_npu_op_name(NPU_OP_COUNT), "op");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reports_name_every_op_descriptor_kind),
        cmocka_unit_test(test_onnx_mobilenet_v2_class),
        cmocka_unit_test(test_onnx_resnet_class),
        cmocka_unit_test(test_builtin_mobilenet_v2_and_resnet50),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
