/* npu.overlap on real modules: the run pipeline's outputs are bit-identical with overlap on and
 * off (every NPU segment's ops read what earlier ops wrote through DRAM, so a missing fence would
 * change them), the device equals the CPU twin both ways, and only the NPU time changes: the
 * encoder block (transformer: matmuls, softmax, norms), and the ONNX MobileNet-v2- and
 * ResNet-class test models (convolutions, depthwise, pools, residual adds), greedy placement on
 * mobile-default. And the runtime's schedule: CPU work overlaps an NPU job it neither feeds nor
 * follows. */
#include "../npu/npu_graph_bench.h"

#include "encoder_block.h"
#include "m4npu_config.h"
#include "onnx_io.h"
#include "run.h"

#define MOBILE_YAML M4NPU_SOURCE_DIR "/configs/mobile-default.yaml"

static run_result *run_set(rt_graph *g, int overlap, const char *extra, bool timing_only)
{
    const char *sets[2] = {overlap ? "npu.overlap=on" : "npu.overlap=off", extra};
    m4npu_config cfg;
    m4npu_config_error err;
    if (m4npu_config_load_overrides(MOBILE_YAML, sets, extra ? 2 : 1, &cfg, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s", err.msg);
    run_options o = {.cfg = &cfg, .greedy_partition = true, .timing_only = timing_only};
    run_result *r;
    rt_error e;
    if (run_model(g, &o, &r, &e) != RT_OK)
        fail_msg("overlap %s: %s", overlap ? "on" : "off", e.msg);
    return r;
}

static run_result *run_with(rt_graph *g, int overlap) { return run_set(g, overlap, NULL, false); }

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

/* CPU and NPU overlap in the modelled latency: a MatMul on the NPU and a Sigmoid of the same
 * input on the CPU (ops.Sigmoid off), neither feeding the other. Off: one after the other, the
 * latency is the sum of the parts. On: the Sigmoid runs on the CPU while the job runs (after the
 * crossing in and the submission), and the crossing out waits for both: latency = transfers +
 * submission + max(job, CPU). A Sigmoid of the MatMul's output (it depends on the job) overlaps
 * nothing. */
static rt_graph *branches(bool dependent)
{
    gb b;
    gb_new(&b, dependent ? "chain" : "branches");
    int64_t xd[2] = {64, 512}, wd[2] = {512, 512};
    gb_input(&b, "x", 2, xd);
    gb_const(&b, "w", 2, wd, -0.05f, 0.05f);
    gb_node(&b, "MatMul", 2, (const char *[]){"x", "w"}, 1, (const char *[]){"y"});
    gb_node(&b, "Sigmoid", 1, (const char *[]){dependent ? "y" : "x"}, 1, (const char *[]){"z"});
    gb_output(&b, "y");
    gb_output(&b, "z");
    rt_error e;
    if (graph_prepare(b.g, &e) != RT_OK)
        fail_msg("graph_prepare: %s", e.msg);
    return b.g;
}

static void test_cpu_work_overlaps_an_npu_job_it_does_not_depend_on(void **state)
{
    (void)state;
    for (int dependent = 0; dependent < 2; dependent++) {
        rt_graph *g = branches(dependent);
        run_result *off = run_set(g, 0, "ops.Sigmoid=off", true), *on = run_set(g, 1, "ops.Sigmoid=off", true);
        assert_int_equal(off->plan->n_segments, 1);
        assert_int_equal(on->plan->n_segments, 1);
        assert_true(off->cpu_s > 0 && on->npu_s > 0);
        const double eps = 1e-12;
        assert_true(fabs(off->total_s - (off->npu_s + off->cpu_s + off->transfer_s + off->submit_s)) < eps);
        double serial = on->npu_s + on->cpu_s + on->transfer_s + on->submit_s;
        double overlapped = on->transfer_s + on->submit_s + (on->npu_s > on->cpu_s ? on->npu_s : on->cpu_s);
        print_message("%s: overlap off %.3f us, on %.3f us (serial %.3f, NPU %.3f, CPU %.3f)\n",
                      dependent ? "chain" : "branches", off->total_s * 1e6, on->total_s * 1e6, serial * 1e6,
                      on->npu_s * 1e6, on->cpu_s * 1e6);
        assert_true(fabs(on->total_s - (dependent ? serial : overlapped)) < eps);
        run_result_free(off);
        run_result_free(on);
        graph_free(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoder_block),
        cmocka_unit_test(test_cnn_models),
        cmocka_unit_test(test_cpu_work_overlaps_an_npu_job_it_does_not_depend_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
