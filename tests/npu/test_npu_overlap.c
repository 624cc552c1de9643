/* Overlap across ops (npu.overlap, firmware/src/ops/fw_overlap.c): with it on, an op whose
 * inputs do not come from the op before it loads them while that op computes, so a two-op job is
 * faster by the second op's loads (pinned to the cycle); an op that reads what the op before it
 * wrote (through DRAM), or writes what it reads, waits for it, so every byte equals the CPU twin
 * and the run with overlap off, on chains of several kernels; with it off the cycles are what the
 * firmware gave before the switch existed (pinned). Same device, same descriptors, only the
 * switch changes. */
#include "npu_op_bench.h"

#include "isa.h"

#define BUF_BYTES (512u * 1024u)
#define LOG_BYTES (64u * 1024u)

/* Pinned on the defaults (configs/test.yaml: 16x16 array, 256 KiB SRAM, 2 DMA channels). */
/* overlap off: what main gave before npu.overlap (37352), less what B panels of one column tile
 * instead of 512 KiB / 8 of the SRAM save (issue 14: panels by modelled cost) */
#define TWO_MATMULS_OFF_CYCLES 32137u
#define TWO_MATMULS_ON_CYCLES 29157u
#define HIDDEN_CYCLES 2980u /* of the second matmul's loads, under the first's products (the DRAM serves the first op's transfers first: program order) */
/* the job's own work (cycles_per_job = 200 control cycles at 500 MHz, in 1000 MHz NPU cycles) */
#define JOB_CYCLES 400u

/* One device per process (SystemC): the bench is reopened when the switch changes. */
static opb B;
static int B_overlap = -1;

static void use(int overlap)
{
    if (B_overlap == overlap)
        return;
    if (B_overlap >= 0)
        opb_close(&B);
    npu_device_config c;
    npu_config_defaults(&c);
    c.watchdog_cycles = 100000000;
    c.overlap = overlap ? NPU_ON : NPU_OFF;
    opb_open(&B, &c, BUF_BYTES);
    B_overlap = overlap;
}

static int teardown(void **state)
{
    (void)state;
    if (B_overlap >= 0)
        opb_close(&B);
    B_overlap = -1;
    return 0;
}

/* Open the bench with the switch and put the job on it (random fills from the same seed). */
typedef void (*build_fn)(opb *b);

static void build_on(int overlap, build_fn build)
{
    use(overlap);
    opb_reset(&B);
    B.rng.s = 12345;
    build(&B);
}

static npu_op_desc *matmul(opb *b, npu_tensor_ref x, npu_tensor_ref w, npu_tensor_ref y)
{
    npu_op_desc *d = opb_op(b, NPU_OP_MATMUL, 2);
    d->in[0] = x;
    d->in[1] = w;
    d->out = y;
    return d;
}

/* A compute-bound matmul (128 x 128 x 128 on the 16x16 array), then a load-bound one (a GEMV of
 * 256 x 192 weights) that reads nothing the first writes. */
static void two_independent_matmuls(opb *b)
{
    int64_t x0d[2] = {128, 128}, w0d[2] = {128, 128}, y0d[2] = {128, 128};
    int64_t x1d[2] = {1, 256}, w1d[2] = {256, 192}, y1d[2] = {1, 192};
    npu_tensor_ref x0 = opb_tensor(b, 0, NPU_DT_I8, 0.05f, 2, x0d), w0 = opb_tensor(b, 1, NPU_DT_I8, 0.01f, 2, w0d);
    npu_tensor_ref y0 = opb_tensor(b, 2, NPU_DT_I8, 0.5f, 2, y0d);
    npu_tensor_ref x1 = opb_tensor(b, 0, NPU_DT_I8, 0.05f, 2, x1d), w1 = opb_tensor(b, 1, NPU_DT_I8, 0.01f, 2, w1d);
    npu_tensor_ref y1 = opb_tensor(b, 3, NPU_DT_I8, 0.5f, 2, y1d);
    opb_fill(b, &x0);
    opb_fill(b, &w0);
    opb_fill(b, &x1);
    opb_fill(b, &w1);
    matmul(b, x0, w0, y0);
    matmul(b, x1, w1, y1);
}

static uint64_t run_cycles(opb *b)
{
    if (opb_run_device(b, 0) != NPU_DRV_OK) {
        char log[LOG_BYTES];
        npu_dev_read_log(b->dev, log, sizeof log);
        fail_msg("device run failed: %s\nfirmware log:\n%s", npu_dev_error(b->dev), log);
    }
    return opb_cycles(b);
}

/* Cycles of the job's op k alone (-1: the whole job); *load_busy: DMA channel 0's busy cycles. */
static uint64_t job_cycles(int overlap, int k, uint64_t *load_busy)
{
    build_on(overlap, two_independent_matmuls);
    if (k >= 0) {
        B.ops[0] = B.ops[k];
        B.nops = 1;
    }
    uint64_t cycles = run_cycles(&B);
    if (load_busy)
        *load_busy = B.diff.v[NPU_UNIT_DMA0][NPU_CTR_BUSY];
    return cycles;
}

static void test_the_second_ops_loads_hide_under_the_first_ops_compute(void **state)
{
    (void)state;
    uint64_t two_off = job_cycles(0, -1, NULL), first_off = job_cycles(0, 0, NULL), second_off = job_cycles(0, 1, NULL);
    uint64_t load = 0, two_on = job_cycles(1, -1, NULL), first_on = job_cycles(1, 0, NULL);
    uint64_t second_on = job_cycles(1, 1, &load);
    print_message("two matmuls, overlap off: %llu cycles (alone %llu + %llu); on: %llu (alone %llu + %llu, the "
                  "second's loads busy %llu)\n",
                  (unsigned long long)two_off, (unsigned long long)first_off, (unsigned long long)second_off,
                  (unsigned long long)two_on, (unsigned long long)first_on, (unsigned long long)second_on,
                  (unsigned long long)load);
    /* off: one op after the other, the job's own work counted once */
    assert_int_equal(two_off, TWO_MATMULS_OFF_CYCLES);
    assert_int_equal(two_off, first_off + second_off - JOB_CYCLES);
    /* on: the same ops, tiled alike (each alone takes as long as with overlap off: the first keeps
     * the whole SRAM, its plan in half would dispatch more instructions), but the second's weight
     * loads run under the first's products */
    assert_int_equal(first_on, first_off);
    assert_int_equal(second_on, second_off);
    assert_int_equal(two_on, TWO_MATMULS_ON_CYCLES);
    uint64_t hidden = first_on + second_on - JOB_CYCLES - two_on;
    assert_int_equal(hidden, HIDDEN_CYCLES);
    /* only loads hide (the array takes the ops one after the other), and only as far as the
     * queues let the control core run ahead: the second op is queued once the first op's last
     * instructions are (npu.queue_depth = 8 per unit), so its loads start under the first op's
     * last few products, not its whole run */
    assert_true(hidden > 0 && hidden <= load);
    /* and the bytes are the twin's */
    build_on(1, two_independent_matmuls);
    opb_check(&B, "two independent matmuls, overlap on");
}

/* matmul -> gelu -> softmax, each reading the previous op's output from DRAM (RAW) */
static void chain_of_three(opb *b)
{
    int64_t xd[2] = {20, 48}, wd[2] = {48, 40}, hd[2] = {20, 40};
    npu_tensor_ref x = opb_tensor(b, 0, NPU_DT_I8, 0.05f, 2, xd), w = opb_tensor(b, 1, NPU_DT_I8, 0.01f, 2, wd);
    npu_tensor_ref h = opb_tensor(b, 0, NPU_DT_I8, 0.4f, 2, hd), g = opb_tensor(b, 0, NPU_DT_I8, 0.4f, 2, hd);
    npu_tensor_ref s = opb_tensor(b, 2, NPU_DT_I8, 1.0f / 128.0f, 2, hd);
    opb_fill(b, &x);
    opb_fill(b, &w);
    matmul(b, x, w, h);
    npu_op_desc *d = opb_op(b, NPU_OP_UNARY, 1);
    d->in[0] = h;
    d->out = g;
    d->iattr[0] = ISA_UNOP_GELU;
    d = opb_op(b, NPU_OP_SOFTMAX, 1);
    d->in[0] = g;
    d->out = s;
}

/* Ping-pong between two tensors: every op reads what the op before wrote and overwrites what the
 * op before read (RAW and WAR through DRAM), more ops than the fence semaphores have pairs and
 * than the kernels' semaphores rotate through; a binary op adds a third operand. */
enum { PING_PONG_OPS = 14 };
static void ping_pong(opb *b)
{
    int64_t dd[2] = {24, 96};
    npu_tensor_ref a = opb_tensor(b, 0, NPU_DT_I8, 0.1f, 2, dd), c = opb_tensor(b, 1, NPU_DT_I8, 0.1f, 2, dd);
    npu_tensor_ref k = opb_tensor(b, 2, NPU_DT_I8, 0.1f, 2, dd);
    opb_fill(b, &a);
    opb_fill(b, &k);
    for (int i = 0; i < PING_PONG_OPS; i++) {
        npu_op_desc *d;
        if (i % 3 == 2) {
            d = opb_op(b, NPU_OP_BINARY, 2);
            d->in[1] = k;
            d->iattr[0] = ISA_BINOP_ADD;
        } else {
            d = opb_op(b, NPU_OP_UNARY, 1);
            d->iattr[0] = i % 3 ? ISA_UNOP_TANH : ISA_UNOP_NEG;
        }
        d->in[0] = i % 2 ? c : a;
        d->out = i % 2 ? a : c;
    }
}

/* A matmul whose output feeds a transpose whose output feeds a matmul (a transpose-heavy
 * attention shape), then a negation of the first output over the first input (WAR against the first op). */
static void matmul_transpose_matmul(opb *b)
{
    int64_t xd[2] = {32, 64}, wd[2] = {64, 48}, hd[2] = {32, 48}, td[2] = {48, 32}, w2d[2] = {32, 64};
    int64_t yd[2] = {48, 64};
    npu_tensor_ref x = opb_tensor(b, 0, NPU_DT_I8, 0.05f, 2, xd), w = opb_tensor(b, 1, NPU_DT_I8, 0.02f, 2, wd);
    npu_tensor_ref h = opb_tensor(b, 2, NPU_DT_I8, 0.3f, 2, hd), t = opb_tensor(b, 3, NPU_DT_I8, 0.3f, 2, td);
    npu_tensor_ref w2 = opb_tensor(b, 1, NPU_DT_I8, 0.02f, 2, w2d), y = opb_tensor(b, 2, NPU_DT_I8, 0.4f, 2, yd);
    opb_fill(b, &x);
    opb_fill(b, &w);
    opb_fill(b, &w2);
    matmul(b, x, w, h);
    npu_op_desc *d = opb_op(b, NPU_OP_TRANSPOSE, 1);
    d->in[0] = h;
    d->out = t;
    d->iattr[0] = 1;
    d->iattr[1] = 0;
    matmul(b, t, w2, y);
    npu_tensor_ref back = x;
    back.dims[0] = 32;
    back.dims[1] = 48;
    d = opb_op(b, NPU_OP_UNARY, 1);
    d->in[0] = h;
    d->out = back;
    d->iattr[0] = ISA_UNOP_NEG;
}

/* Every byte of every buffer after the job, and its cycles, with the switch. */
typedef struct outcome {
    uint8_t *bytes[OPB_BUFS];
    uint64_t cycles;
} outcome;

static outcome run_checked(int overlap, build_fn build, const char *what)
{
    build_on(overlap, build);
    opb_check(&B, what); /* the CPU twin's bytes */
    outcome o = {.cycles = opb_cycles(&B)};
    for (int i = 0; i < OPB_BUFS; i++) {
        o.bytes[i] = malloc(B.size[i]);
        assert_non_null(o.bytes[i]);
        assert_int_equal(npu_bo_read(B.bo[i], 0, o.bytes[i], B.size[i]), NPU_DRV_OK);
    }
    return o;
}

static void expect_same_bytes(build_fn build, const char *what)
{
    outcome off = run_checked(0, build, what), on = run_checked(1, build, what);
    print_message("%s: overlap off %llu cycles, on %llu\n", what, (unsigned long long)off.cycles,
                  (unsigned long long)on.cycles);
    for (int i = 0; i < OPB_BUFS; i++) {
        assert_memory_equal(off.bytes[i], on.bytes[i], B.size[i]);
        free(off.bytes[i]);
        free(on.bytes[i]);
    }
    assert_true(on.cycles <= off.cycles);
}

static void test_an_op_that_reads_the_previous_output_waits_for_it(void **state)
{
    (void)state;
    expect_same_bytes(chain_of_three, "matmul -> gelu -> softmax");
    expect_same_bytes(ping_pong, "ping-pong of unary and binary ops");
    expect_same_bytes(matmul_transpose_matmul, "matmul -> transpose -> matmul, copy over the input");
}

static void test_the_log_counts_fences_and_the_timing_is_deterministic(void **state)
{
    (void)state;
    char log[LOG_BYTES];
    build_on(1, ping_pong);
    npu_dev_read_log(B.dev, log, sizeof log); /* drain */
    assert_int_equal(opb_run_device(&B, NPU_JOB_F_LOG_OPS | NPU_JOB_F_TIMING_ONLY), NPU_DRV_OK);
    uint64_t first = opb_cycles(&B);
    npu_dev_read_log(B.dev, log, sizeof log);
    const char *line = strstr(log, "overlap across ops: ");
    if (!line)
        fail_msg("no overlap line in the log:\n%s", log);
    unsigned long long fences = 0, drains = 0;
    assert_int_equal(sscanf(line, "overlap across ops: %llu fences, %llu drains", &fences, &drains), 2);
    assert_true(fences >= PING_PONG_OPS - 1); /* every op waits for the one before (RAW) */
    assert_int_equal(opb_run_device(&B, NPU_JOB_F_TIMING_ONLY), NPU_DRV_OK);
    assert_int_equal(opb_cycles(&B), first);
    /* with overlap off there is no such line */
    build_on(0, ping_pong);
    npu_dev_read_log(B.dev, log, sizeof log);
    assert_int_equal(opb_run_device(&B, NPU_JOB_F_LOG_OPS | NPU_JOB_F_TIMING_ONLY), NPU_DRV_OK);
    npu_dev_read_log(B.dev, log, sizeof log);
    assert_null(strstr(log, "overlap across ops"));
}

/* With overlap on, op i's profile record is its dispatch window (firmware/src/ops/README.md): the
 * windows follow one another, the last ends when the job's units have drained, and every counter
 * of the units is in exactly one window. */
static void test_the_profile_windows_cover_the_job(void **state)
{
    (void)state;
    build_on(1, ping_pong);
    npu_op_profile p[PING_PONG_OPS];
    assert_int_equal(opb_run_device_profiled(&B, NPU_JOB_F_TIMING_ONLY, p), NPU_DRV_OK);
    for (int i = 0; i < PING_PONG_OPS; i++) {
        assert_true(p[i].end_cycle >= p[i].start_cycle);
        if (i)
            assert_int_equal(p[i].start_cycle, p[i - 1].end_cycle);
    }
    assert_true(p[0].start_cycle > B.res.start_cycle && p[PING_PONG_OPS - 1].end_cycle <= B.res.end_cycle);
    static const int counters[] = {NPU_CTR_BUSY, NPU_CTR_STALL, NPU_CTR_ELEMS, NPU_CTR_DRAM_RD, NPU_CTR_DRAM_WR,
                                   NPU_CTR_SRAM_RD, NPU_CTR_SRAM_WR, NPU_CTR_INSNS};
    for (int u = 0; u < NPU_UNIT_CTRL; u++)
        for (size_t k = 0; k < sizeof counters / sizeof counters[0]; k++) {
            uint64_t sum = 0;
            for (int i = 0; i < PING_PONG_OPS; i++)
                sum += p[i].ctr[u][counters[k]];
            assert_int_equal(sum, B.diff.v[u][counters[k]]);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_second_ops_loads_hide_under_the_first_ops_compute),
        cmocka_unit_test(test_an_op_that_reads_the_previous_output_waits_for_it),
        cmocka_unit_test(test_the_log_counts_fences_and_the_timing_is_deterministic),
        cmocka_unit_test(test_the_profile_windows_cover_the_job),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
