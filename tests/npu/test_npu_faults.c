/* Faults of NPU_JOB_OPS jobs: a descriptor the firmware's kernels refuse stops the job with
 * NPU_FAULT_BAD_OP naming its index (and the reason in the firmware log) before any descriptor
 * has run; the device then recovers with a reset. Malformed op programs are BAD_JOB. */
#include "npu_op_bench.h"

#include "isa.h"

#define BUF_BYTES (256u * 1024u)

static opb B;

static int setup(void **state)
{
    (void)state;
    npu_device_config c;
    npu_config_defaults(&c);
    opb_open(&B, &c, BUF_BYTES);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    opb_close(&B);
    return 0;
}

/* op 0: a valid unary op writing buffer 1, op 1: the descriptor under test, op 2: valid */
static npu_op_desc *three_ops(void)
{
    opb_reset(&B);
    int64_t d[2] = {4, 16};
    npu_op_desc *u = opb_op(&B, NPU_OP_UNARY, 1);
    u->in[0] = opb_tensor(&B, 0, NPU_DT_I8, 0.1f, 2, d);
    u->out = opb_tensor(&B, 1, NPU_DT_I8, 0.1f, 2, d);
    u->iattr[0] = ISA_UNOP_NEG;
    opb_fill(&B, &u->in[0]);
    memset(B.host[1] + u->out.offset, 0x5A, 64); /* must survive: nothing runs before validation */
    npu_op_desc *bad = opb_op(&B, NPU_OP_UNARY, 1);
    *bad = *u;
    npu_op_desc *last = opb_op(&B, NPU_OP_UNARY, 1);
    *last = *u;
    return &B.ops[1];
}

static void expect_bad_op(uint32_t index, const char *reason)
{
    assert_int_equal(opb_run_device(&B, 0), NPU_DRV_E_FAULT);
    assert_int_equal(B.res.state, NPU_JOB_FAILED);
    assert_int_equal(B.res.fault, NPU_FAULT_BAD_OP);
    assert_int_equal(B.res.fault_insn, index);
    assert_int_equal(B.res.fault_unit, NPU_UNIT_CTRL);
    npu_dev_status ds;
    assert_int_equal(npu_dev_read_status(B.dev, &ds), NPU_DRV_OK);
    assert_int_equal(ds.status, NPU_STATUS_FAULT);
    assert_int_equal(ds.fault, NPU_FAULT_BAD_OP);
    assert_int_equal(ds.fault_insn, index);
    char log[4096];
    npu_dev_read_log(B.dev, log, sizeof log);
    char want[64];
    snprintf(want, sizeof want, "op %u (", index);
    if (!strstr(log, want) || !strstr(log, reason))
        fail_msg("the firmware log should name op %u and say '%s':\n%s", index, reason, log);
    uint8_t back[64];
    assert_int_equal(npu_bo_read(B.bo[1], B.ops[0].out.offset, back, sizeof back), NPU_DRV_OK);
    for (int i = 0; i < 64; i++)
        assert_int_equal(back[i], 0x5A);
    /* a reset brings the device back; the same bench then runs a valid job */
    assert_int_equal(npu_dev_reset(B.dev), NPU_DRV_OK);
    B.nops = 1;
    assert_int_equal(opb_run_device(&B, 0), NPU_DRV_OK);
}

static void test_refused_descriptors_name_their_index(void **state)
{
    (void)state;
    npu_op_desc *d = three_ops();
    d->op = 42;
    expect_bad_op(1, "not an enum npu_op");

    d = three_ops();
    d->in[0].buf = 9;
    expect_bad_op(1, "buffer 9, but the job has 4 buffers");

    d = three_ops();
    d->out.offset = BUF_BYTES - 8;
    expect_bad_op(1, "is outside buffer 1");

    d = three_ops();
    d->iattr[0] = 99;
    expect_bad_op(1, "is not an ISA unop");

    d = three_ops();
    d->in[0].dtype = NPU_DT_I4;
    expect_bad_op(1, "activations are i8, i16, f16 or f32");

    d = three_ops();
    d->in[0].scale = 0.0f;
    expect_bad_op(1, "expected finite and > 0");

    d = three_ops();
    d->n_inputs = 0;
    expect_bad_op(1, "n_inputs = 0");
}

static void test_refusals_from_device_limits(void **state)
{
    (void)state;
    /* a softmax row longer than the tile's max_len (512 on the test device) */
    npu_op_desc *d = three_ops();
    int64_t rd[2] = {1, 600};
    d->op = NPU_OP_SOFTMAX;
    d->in[0] = opb_tensor(&B, 2, NPU_DT_I8, 0.1f, 2, rd);
    d->out = opb_tensor(&B, 2, NPU_DT_I8, 1.0f / 128, 2, rd);
    expect_bad_op(1, "exceed the softmax tile's 512");

    /* a layer norm whose row does not fit the 256 KiB SRAM three times */
    d = three_ops();
    int64_t nd[2] = {1, 30000};
    d->op = NPU_OP_NORM;
    d->in[0] = opb_tensor(&B, 2, NPU_DT_F32, 0, 2, nd);
    d->out = opb_tensor(&B, 3, NPU_DT_F32, 0, 2, nd);
    d->iattr[0] = NPU_NORM_LAYER;
    d->fattr[0] = 1e-5f;
    expect_bad_op(1, "does not fit");

    /* an epsilon the vector unit cannot express */
    d = three_ops();
    d->op = NPU_OP_NORM;
    d->iattr[0] = NPU_NORM_RMS;
    d->fattr[0] = 2e-5f;
    expect_bad_op(1, "is not 10^-e");

    /* a matmul whose operands disagree on K */
    d = three_ops();
    int64_t ad[2] = {4, 16}, wd[2] = {15, 8}, od[2] = {4, 8};
    d->op = NPU_OP_MATMUL;
    d->n_inputs = 2;
    d->in[0] = opb_tensor(&B, 2, NPU_DT_I8, 0.1f, 2, ad);
    d->in[1] = opb_tensor(&B, 2, NPU_DT_I8, 0.1f, 2, wd);
    d->out = opb_tensor(&B, 3, NPU_DT_I8, 0.1f, 2, od);
    expect_bad_op(1, "in0 has K = 16");

    /* a conv with padding (the runtime pre-pads) */
    d = three_ops();
    int64_t xd[4] = {1, 2, 5, 5}, kd[4] = {3, 2, 3, 3}, yd[4] = {1, 3, 5, 5};
    d->op = NPU_OP_CONV2D;
    d->n_inputs = 2;
    d->in[0] = opb_tensor(&B, 2, NPU_DT_I8, 0.1f, 4, xd);
    d->in[1] = opb_tensor(&B, 2, NPU_DT_I8, 0.1f, 4, kd);
    d->out = opb_tensor(&B, 3, NPU_DT_I8, 0.1f, 4, yd);
    d->iattr[0] = d->iattr[1] = 1;
    d->iattr[2] = d->iattr[3] = d->iattr[4] = d->iattr[5] = 1;
    d->iattr[7] = NPU_LAYOUT_OHWI;
    expect_bad_op(1, "pre-padded input");
}

/* The operand type rules of the array (ABI 1.x: i16 and f16 operands, per-group scales). */
static void test_refused_operand_types(void **state)
{
    (void)state;
    int64_t ad[2] = {4, 600}, wd[2] = {600, 8}, od[2] = {4, 8};
    npu_op_desc *d = three_ops();
    d->op = NPU_OP_MATMUL;
    d->n_inputs = 2;
    d->in[0] = opb_tensor(&B, 2, NPU_DT_I16, 0.1f, 2, ad);
    d->in[1] = opb_tensor(&B, 2, NPU_DT_I16, 0.1f, 2, wd);
    d->out = opb_tensor(&B, 3, NPU_DT_I8, 0.1f, 2, od);
    expect_bad_op(1, "both i16");

    d = three_ops();
    d->op = NPU_OP_MATMUL;
    d->n_inputs = 2;
    d->in[0] = opb_tensor(&B, 2, NPU_DT_F16, 0, 2, ad);
    d->in[1] = opb_tensor(&B, 2, NPU_DT_I16, 0.1f, 2, wd);
    d->out = opb_tensor(&B, 3, NPU_DT_F16, 0, 2, od);
    expect_bad_op(1, "an i16 operand with an f16 one");

    /* per-group scales need in1's scales on its last axis; an i16 operand takes groups <= 511 */
    d = three_ops();
    d->op = NPU_OP_MATMUL;
    d->n_inputs = 2;
    d->in[0] = opb_tensor(&B, 2, NPU_DT_I16, 0.1f, 2, ad);
    d->in[1] = opb_tensor(&B, 2, NPU_DT_I8, 0.1f, 2, wd);
    d->out = opb_tensor(&B, 3, NPU_DT_I8, 0.1f, 2, od);
    d->iattr[3] = 32;
    expect_bad_op(1, "per-group scales are G > 0");

    d = three_ops();
    d->op = NPU_OP_MATMUL;
    d->n_inputs = 2;
    d->in[0] = opb_tensor(&B, 2, NPU_DT_I16, 0.1f, 2, ad);
    d->in[1] = opb_tensor(&B, 2, NPU_DT_I8, 0.1f, 2, wd);
    opb_scales(&B, &d->in[1], 1, 8, 2, 0.01f, 0.02f);
    d->out = opb_tensor(&B, 3, NPU_DT_I8, 0.1f, 2, od);
    d->iattr[3] = 600;
    expect_bad_op(1, "group size 600 (at most 511 with an i16 operand)");

    /* a conv with an i16 input whose k = C*KH*KW exceeds one 16 x 8 pass */
    d = three_ops();
    int64_t xd[4] = {1, 64, 5, 5}, kd[4] = {3, 64, 3, 3}, yd[4] = {1, 3, 3, 3};
    d->op = NPU_OP_CONV2D;
    d->n_inputs = 2;
    d->in[0] = opb_tensor(&B, 2, NPU_DT_I16, 0.1f, 4, xd);
    d->in[1] = opb_tensor(&B, 2, NPU_DT_I8, 0.1f, 4, kd);
    d->out = opb_tensor(&B, 3, NPU_DT_I8, 0.1f, 4, yd);
    d->iattr[0] = d->iattr[1] = 1;
    d->iattr[7] = NPU_LAYOUT_OHWI;
    expect_bad_op(1, "with a 16-bit operand: at most 511");
}

/* A matmul whose epilogue is output-stage parameters (in2 of dtype i32). */
static npu_op_desc *stage_matmul(uint64_t words, uint32_t out_dtype, int32_t act)
{
    npu_op_desc *d = three_ops();
    int64_t ad[2] = {4, 16}, wd[2] = {16, 8}, od[2] = {4, 8}, pd[1] = {(int64_t)words};
    d->op = NPU_OP_MATMUL;
    d->n_inputs = 3;
    d->in[0] = opb_tensor(&B, 2, NPU_DT_I8, 0.1f, 2, ad);
    d->in[1] = opb_tensor(&B, 2, NPU_DT_I8, 0.1f, 2, wd);
    d->in[2] = opb_tensor(&B, 2, NPU_DT_I32, 0, 1, pd);
    d->out = opb_tensor(&B, 3, out_dtype, 0.1f, 2, od);
    d->iattr[0] = act;
    return d;
}

static void test_output_stage_descriptors(void **state)
{
    (void)state;
    /* 8 records of 3 words; gelu needs the 256-byte table (64 words) after them */
    stage_matmul(3 * 8, NPU_DT_I8, NPU_ACT_GELU);
    expect_bad_op(1, "in2 (output-stage parameters): 24 i32 words (expected 88: 8 records of 3 and a 256-byte table)");
    stage_matmul(3 * 8 + 64, NPU_DT_F32, NPU_ACT_GELU);
    expect_bad_op(1, "out: dtype f32 (the output stage writes i8)");
    /* the stage takes int32 sums of one pass: no f16 operand, no per-group scales */
    npu_op_desc *d = stage_matmul(3 * 8, NPU_DT_I8, NPU_ACT_RELU);
    int64_t ad[2] = {4, 16};
    d->in[0] = opb_tensor(&B, 2, NPU_DT_F16, 0, 2, ad);
    expect_bad_op(1, "output-stage parameters with an f16 operand");
    d = stage_matmul(3 * 8, NPU_DT_I8, NPU_ACT_RELU);
    opb_scales(&B, &d->in[1], 1, 8, 2, 0.01f, 0.02f);
    d->iattr[3] = 8;
    expect_bad_op(1, "K is summed in f32 chunks (per-group scales)");
    stage_matmul(3 * 8, NPU_DT_I8, NPU_ACT_RELU);
    assert_int_equal(opb_run_device(&B, 0), NPU_DRV_OK);
    /* a device whose output stage is switched off refuses them, naming the key */
    opb_close(&B);
    npu_device_config c;
    npu_config_defaults(&c);
    c.matmul.output_stage.enabled = NPU_OFF;
    opb_open(&B, &c, BUF_BYTES);
    stage_matmul(3 * 8, NPU_DT_I8, NPU_ACT_RELU);
    expect_bad_op(1, "output stage is switched off (npu.matmul.output_stage.enabled)");
}

static void test_timing_only_jobs_are_refused_alike(void **state)
{
    (void)state;
    npu_op_desc *d = three_ops();
    d->op = NPU_OP_TRANSPOSE;
    d->iattr[0] = d->iattr[1] = 0; /* not a permutation */
    assert_int_equal(opb_run_device(&B, NPU_JOB_F_TIMING_ONLY), NPU_DRV_E_FAULT);
    assert_int_equal(B.res.fault, NPU_FAULT_BAD_OP);
    assert_int_equal(B.res.fault_insn, 1);
    assert_int_equal(npu_dev_reset(B.dev), NPU_DRV_OK);
}

static void test_program_not_whole_descriptors_is_bad_job(void **state)
{
    (void)state;
    three_ops();
    npu_bo *prog = npu_bo_alloc(B.dev, sizeof(npu_op_desc) + 8);
    assert_non_null(prog);
    assert_int_equal(npu_bo_write(prog, 0, B.ops, sizeof(npu_op_desc)), NPU_DRV_OK);
    npu_job job;
    memset(&job, 0, sizeof job);
    job.type = NPU_JOB_OPS;
    job.program.bo = prog;
    job.program.size = sizeof(npu_op_desc) + 8;
    job.nbufs = OPB_BUFS;
    for (int i = 0; i < OPB_BUFS; i++)
        job.bufs[i].bo = B.bo[i];
    npu_fence f;
    npu_job_result r;
    assert_int_equal(npu_submit(B.dev, &job, &f), NPU_DRV_OK);
    assert_int_equal(npu_wait(B.dev, f, OPB_TIMEOUT, &r), NPU_DRV_E_FAULT);
    assert_int_equal(r.fault, NPU_FAULT_BAD_JOB);
    char log[4096];
    npu_dev_read_log(B.dev, log, sizeof log);
    assert_non_null(strstr(log, "op descriptors"));
    npu_bo_free(prog);
    assert_int_equal(npu_dev_reset(B.dev), NPU_DRV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_descriptors_name_their_index),
        cmocka_unit_test(test_refusals_from_device_limits),
        cmocka_unit_test(test_refused_operand_types),
        cmocka_unit_test(test_output_stage_descriptors),
        cmocka_unit_test(test_timing_only_jobs_are_refused_alike),
        cmocka_unit_test(test_program_not_whole_descriptors_is_bad_job),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
