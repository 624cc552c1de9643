/* npu.overlap on real modules: the run pipeline's outputs are bit-identical with overlap on and
 * off (every NPU segment's ops read what earlier ops wrote through DRAM, so a missing fence would
 * change them), the device equals the CPU twin both ways, and only the NPU time changes: the
 * encoder block (transformer: matmuls, softmax, norms), and the ONNX MobileNet-v2- and
 * ResNet-class test models (convolutions, depthwise, pools, residual adds), greedy placement on
 * mobile-default. */
#include "test_util.h"

#include "encoder_block.h"
#include "m4npu_config.h"
#include "onnx_io.h"
#include "run.h"

#define MOBILE_YAML M4NPU_SOURCE_DIR "/configs/mobile-default.yaml"

static run_result *run_with(rt_graph *g, int overlap)
{
    const char *set = overlap ? "npu.overlap=on" : "npu.overlap=off";
    m4npu_config cfg;
    m4npu_config_error err;
    if (m4npu_config_load_overrides(MOBILE_YAML, &set, 1, &cfg, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s", err.msg);
    run_options o = {.cfg = &cfg, .greedy_partition = true};
    run_result *r;
    rt_error e;
    if (run_model(g, &o, &r, &e) != RT_OK)
        fail_msg("overlap %s: %s", overlap ? "on" : "off", e.msg);
    return r;
}

static void same_outputs(rt_graph *g, const char *what)
{
    run_result *off = run_with(g, 0), *on = run_with(g, 1);
    assert_true(off->plan->n_segments >= 1);
    assert_int_equal(on->plan->n_segments, off->plan->n_segments);
    assert_true(off->twin_max_abs == 0.0 && on->twin_max_abs == 0.0);
    assert_int_equal(on->n_outputs, off->n_outputs);
    for (int i = 0; i < off->n_outputs; i++) {
        const rt_tensor *a = off->outputs[i].value, *b = on->outputs[i].value;
        assert_int_equal(rt_tensor_nbytes(a), rt_tensor_nbytes(b));
        assert_memory_equal(a->data, b->data, rt_tensor_nbytes(a));
    }
    print_message("%s: NPU time overlap off %.3f us, on %.3f us\n", what, off->npu_s * 1e6, on->npu_s * 1e6);
    assert_true(on->npu_s != off->npu_s); /* the switch reached the firmware */
    run_result_free(off);
    run_result_free(on);
}

static void test_encoder_block(void **state)
{
    (void)state;
    encoder_block_cfg ec = ENCODER_BLOCK_DEFAULT;
    rt_error e;
    rt_graph *g = model_encoder_block(&ec, true, &e);
    if (!g)
        fail_msg("%s", e.msg);
    same_outputs(g, "encoder block");
    graph_free(g);
}

static void onnx_case(const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", M4NPU_MODELS_DIR, file);
    rt_graph *g;
    rt_error e;
    if (onnx_import_file(path, NULL, &g, &e) != RT_OK)
        fail_msg("%s: %s", path, e.msg);
    same_outputs(g, file);
    graph_free(g);
}

static void test_cnn_models(void **state)
{
    (void)state;
    onnx_case("mobilenet_v2_bn.onnx");
    onnx_case("resnet_bn.onnx");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoder_block),
        cmocka_unit_test(test_cnn_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
