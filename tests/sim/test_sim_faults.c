/* Faults through the driver: each gives its code, unit, instruction and address (and, for an
 * illegal instruction, why); the device stops, keeps the queued jobs, and after a reset the next
 * job runs correctly. A job that hangs is dropped by the reset, not run again. */
#include "npu_test.h"

static npu_test T;

static int setup(void **state)
{
    (void)state;
    npu_device_config c;
    npu_config_defaults(&c);
    c.sram.size_bytes = 256 * 1024;
    c.watchdog_cycles = 50000;
    npu_test_open(&T, &c);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    npu_test_close(&T);
    return 0;
}

static const char copy_program[] = "dma.ld 0, 0, 0x100, 0, 1, 256, 256, 256\n"
                                   "signal dma0, 0\n"
                                   "wait dma1, 0\n"
                                   "dma.st 1, 2, 0x100, 0, 1, 256, 256, 256\n"
                                   "end\n";

/* The device is halted on a fault: the next job waits for a reset, then copies correctly. */
static void assert_next_job_runs_after_reset(void)
{
    uint8_t in[256], out[256];
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(npu_bo_write(T.data, 0, in, sizeof in), NPU_DRV_OK);
    memset(out, 0, sizeof out);
    assert_int_equal(npu_bo_write(T.data, 2 * NPU_TEST_BUF_BYTES, out, sizeof out), NPU_DRV_OK);
    npu_fence f = npu_test_submit(&T, copy_program, 0);
    npu_job_result res;
    assert_int_equal(npu_wait(T.dev, f, NPU_TEST_TIMEOUT, &res), NPU_DRV_E_HALTED);
    npu_dev_status ds;
    npu_dev_read_status(T.dev, &ds);
    assert_int_equal(ds.status, NPU_STATUS_FAULT);
    assert_int_equal(npu_dev_reset(T.dev), NPU_DRV_OK);
    assert_int_equal(npu_wait(T.dev, f, NPU_TEST_TIMEOUT, &res), NPU_DRV_OK);
    assert_int_equal(res.state, NPU_JOB_DONE);
    assert_int_equal(npu_bo_read(T.data, 2 * NPU_TEST_BUF_BYTES, out, sizeof out), NPU_DRV_OK);
    assert_memory_equal(in, out, sizeof out);
    npu_dev_read_status(T.dev, &ds);
    assert_int_equal(ds.status, NPU_STATUS_IDLE);
}

/* A fault address inside the job's own program, known only once the program is loaded. */
#define IN_PROGRAM (1ull << 63)

static void expect_fault(const char *src, uint32_t fault, uint32_t unit, uint32_t insn, uint64_t addr)
{
    assert_int_equal(npu_test_run(&T, src, 0), NPU_DRV_E_FAULT);
    if (addr & IN_PROGRAM)
        addr = npu_bo_addr(T.prog) + (addr & ~IN_PROGRAM);
    assert_int_equal(T.res.state, NPU_JOB_FAILED);
    if (T.res.fault != fault)
        fail_msg("fault %s, expected %s (%s)", npu_fault_str(T.res.fault), npu_fault_str(fault), npu_dev_error(T.dev));
    assert_int_equal(T.res.fault_unit, unit);
    assert_int_equal(T.res.fault_insn, insn);
    assert_int_equal(T.res.fault_addr, addr);
    /* the registers say the same */
    npu_dev_status ds;
    npu_dev_read_status(T.dev, &ds);
    assert_int_equal(ds.fault, fault);
    assert_int_equal(ds.fault_unit, unit);
    assert_int_equal(ds.fault_insn, insn);
    assert_int_equal(ds.fault_addr, addr);
    assert_int_equal(ds.fault_job, (uint32_t)T.fence);
}

static void test_illegal_instruction(void **state)
{
    (void)state;
    /* the third word has an unknown opcode: the fault names its device address */
    expect_fault("nop\nnop\n.insn 0xff\nend\n", NPU_FAULT_ILLEGAL_INSN, NPU_UNIT_CTRL, 2, IN_PROGRAM | 32);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_CTRL, NPU_CTR_INSNS), 0); /* nothing ran */
    /* regression (issue 9): the error said why only in the firmware log */
    char want[200];
    snprintf(want, sizeof want, "job %u faulted: illegal_instruction in unit ctrl at instruction 2, address 0x%llx: "
             "unknown opcode 0xff", (uint32_t)T.fence, (unsigned long long)(npu_bo_addr(T.prog) + 32));
    assert_string_equal(npu_dev_error(T.dev), want);
    assert_next_job_runs_after_reset();
    /* a reserved bit set in a valid opcode is illegal too */
    expect_fault("nop\n.insn 0x80000000000000000000000000000001\n", NPU_FAULT_ILLEGAL_INSN, NPU_UNIT_CTRL, 1,
                 IN_PROGRAM | 16);
    assert_int_equal(npu_dev_reset(T.dev), NPU_DRV_OK);
}

/* A program that one of its buffers overlaps may rewrite itself: the firmware dispatches such a
 * program word by word, each read and checked just before it goes out (fw_job.c), so an
 * instruction a DMA store overwrote with an illegal word after validation faults where it stands.
 * Run as one block read at validation, the job would end cleanly with the old `end`. */
static void test_program_that_rewrites_itself(void **state)
{
    (void)state;
    static const char src[] = "dma.ld 0, 1, 0x0, 0, 1, 16, 16, 16\n" /* 0: the illegal word into SRAM */
                              "barrier\n"
                              "dma.st 0, 0, 0x0, 80, 1, 16, 16, 16\n" /* 2: over instruction 5 (buffer 0 = the program) */
                              "barrier\n"
                              "nop\n"
                              "end\n"; /* 5 */
    const uint8_t illegal[ISA_INSN_BYTES] = {0xff};
    assert_int_equal(npu_bo_write(T.data, 0, illegal, sizeof illegal), NPU_DRV_OK);
    isa_asm_result r;
    assert_int_equal(isa_assemble(src, strlen(src), "rewrite.s", &r), ISA_OK);
    T.prog = npu_bo_alloc(T.dev, r.size);
    assert_non_null(T.prog);
    assert_int_equal(npu_bo_write(T.prog, 0, r.bytes, r.size), NPU_DRV_OK);
    npu_job job;
    memset(&job, 0, sizeof job);
    job.type = NPU_JOB_ISA;
    job.program.bo = T.prog;
    job.nbufs = 2;
    job.bufs[0] = (npu_buf_ref){T.prog, 0, r.size};
    job.bufs[1] = (npu_buf_ref){T.data, 0, NPU_TEST_BUF_BYTES};
    isa_asm_result_free(&r);
    assert_int_equal(npu_submit(T.dev, &job, &T.fence), NPU_DRV_OK);
    assert_int_equal(npu_wait(T.dev, T.fence, NPU_TEST_TIMEOUT, &T.res), NPU_DRV_E_FAULT);
    assert_int_equal(T.res.fault, NPU_FAULT_ILLEGAL_INSN);
    assert_int_equal(T.res.fault_unit, NPU_UNIT_CTRL);
    assert_int_equal(T.res.fault_insn, 5);
    assert_int_equal(T.res.fault_addr, npu_bo_addr(T.prog) + 5 * ISA_INSN_BYTES);
    assert_int_equal(npu_dev_reset(T.dev), NPU_DRV_OK);
}

static void test_dma_beyond_its_buffer(void **state)
{
    (void)state;
    /* buffer 1 has 64 KiB; its first row runs from 0xff00 over the end at 0x10000 */
    uint64_t buf1 = npu_bo_addr(T.data) + NPU_TEST_BUF_BYTES;
    expect_fault("nop\ndma.ld 0, 1, 0x0, 0xff00, 2, 512, 512, 512\nend\n", NPU_FAULT_DMA_OOB, NPU_UNIT_DMA0, 1,
                 buf1 + NPU_TEST_BUF_BYTES);
    assert_next_job_runs_after_reset();
    /* strided: rows 0..2 fit, row 3 starts beyond the end */
    expect_fault("dma.st 1, 3, 0x0, 0xf000, 4, 16, 0x600, 16\nend\n", NPU_FAULT_DMA_OOB, NPU_UNIT_DMA1, 0,
                 npu_bo_addr(T.data) + 3 * NPU_TEST_BUF_BYTES + 0xf000 + 3 * 0x600);
    assert_next_job_runs_after_reset();
}

static void test_sram_overflow(void **state)
{
    (void)state;
    /* the SRAM has 0x40000 bytes; the load's destination runs from 0x3ff00 to 0x40100 */
    expect_fault("dma.ld 0, 0, 0x3ff00, 0, 1, 512, 512, 512\nend\n", NPU_FAULT_SRAM_OVERFLOW, NPU_UNIT_DMA0, 0, 0x40000);
    assert_next_job_runs_after_reset();
    /* a matmul whose int32 output lies wholly beyond the end */
    expect_fault("nop\nnop\nnop\nmm os, set, i8, nobias, i32, 16, 16, 16, 0x0, 0x100, 0x50000, i8, i8\nend\n",
                 NPU_FAULT_SRAM_OVERFLOW, NPU_UNIT_MM, 3, 0x50000);
    assert_next_job_runs_after_reset();
}

static void test_unit_that_never_finishes(void **state)
{
    (void)state;
    /* the matmul queue waits on a semaphore nobody signals: the watchdog names it */
    expect_fault("dma.ld 0, 0, 0x0, 0, 1, 64, 64, 64\nwait mm, 5\nmm os, set, i8, nobias, i32, 1, 1, 1, 0, 0x40, 0x80, i8, i8\nend\n",
                 NPU_FAULT_WATCHDOG, NPU_UNIT_MM, 1, 0);
    assert_true(npu_test_cycles(&T) >= 50000);
    assert_next_job_runs_after_reset();
}

/* Regression (issue 16): the watchdog keeps one timer pending across waits and jobs instead of
 * a timeout per wait. A device reopened with a shorter watchdog_cycles than the timer left pending
 * by its earlier configuration still faults that many cycles after the deadlock, at the very
 * cycle a device without that history does. */
#define LONG_WATCHDOG_CYCLES 10000000ull

static void test_watchdog_shorter_than_the_pending_timer(void **state)
{
    (void)state;
    static const char hang[] = "dma.ld 0, 0, 0x0, 0, 1, 64, 64, 64\nwait mm, 5\n"
                               "mm os, set, i8, nobias, i32, 1, 1, 1, 0, 0x40, 0x80, i8, i8\nend\n";
    expect_fault(hang, NPU_FAULT_WATCHDOG, NPU_UNIT_MM, 1, 0);
    const uint64_t without_history = npu_test_cycles(&T);
    npu_device_config c;
    npu_config_defaults(&c);
    c.sram.size_bytes = 256 * 1024;
    const uint64_t short_cycles = 50000;
    npu_test_close(&T);
    c.watchdog_cycles = LONG_WATCHDOG_CYCLES;
    npu_test_open(&T, &c);
    assert_int_equal(npu_test_run(&T, copy_program, 0), NPU_DRV_OK); /* its timer stays pending */
    npu_test_close(&T);
    c.watchdog_cycles = short_cycles;
    npu_test_open(&T, &c);
    expect_fault(hang, NPU_FAULT_WATCHDOG, NPU_UNIT_MM, 1, 0);
    assert_int_equal(npu_test_cycles(&T), without_history);
    assert_true(npu_test_cycles(&T) < LONG_WATCHDOG_CYCLES);
    assert_next_job_runs_after_reset();
}

/* A program whose control core blocks on a full matmul queue (the matmul waits on a semaphore
 * nobody signals; queue_depth 8, ten more matmuls behind the wait) while a long load keeps dma0
 * busy for its first few thousand cycles. */
static char *full_queue_program(void)
{
    static char src[1024];
    int n = snprintf(src, sizeof src, "dma.ld 0, 0, 0x0, 0, 64, 1024, 1024, 1024\nwait mm, 5\n");
    for (int i = 0; i < 10; i++)
        n += snprintf(src + n, sizeof src - (size_t)n, "mm os, set, i8, nobias, i32, 1, 1, 1, 0, 0x40, 0x80, i8, i8\n");
    snprintf(src + n, sizeof src - (size_t)n, "end\n");
    return src;
}

/* Regression (issue 16): the firmware spends its dispatch cycles while it waits for room in a
 * full queue (hal_spend_push: one wait instead of a spend then a wait per unit event). The
 * watchdog still counts from the last unit event (the load's end, not the start of the wait), and
 * a reset still interrupts the push, at the cycles and with the counters that the separate spend
 * and push gave (measured on the commit before hal_spend_push). */
#define FULL_QUEUE_WATCHDOG_JOB_CYCLES 54632ull /* the load ends at 4632 */
#define FULL_QUEUE_WATCHDOG_CTRL_BUSY 620ull
#define FULL_QUEUE_DISPATCHED 10ull /* the load, the wait and the matmuls that found room */
#define FULL_QUEUE_RESET_BUDGET_CYCLES 3000ull
#define FULL_QUEUE_RESET_CTRL_BUSY 620ull

static void test_full_queue_while_units_hang(void **state)
{
    (void)state;
    expect_fault(full_queue_program(), NPU_FAULT_WATCHDOG, NPU_UNIT_MM, 1, 0);
    assert_int_equal(npu_test_cycles(&T), FULL_QUEUE_WATCHDOG_JOB_CYCLES);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_CTRL, NPU_CTR_BUSY), FULL_QUEUE_WATCHDOG_CTRL_BUSY);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_CTRL, NPU_CTR_INSNS), FULL_QUEUE_DISPATCHED);
    assert_int_equal(npu_dev_reset(T.dev), NPU_DRV_OK);
    /* the host gives up while the push waits, and resets the device */
    npu_counters before, after, diff;
    npu_dev_read_counters(T.dev, &before);
    npu_fence f = npu_test_submit(&T, full_queue_program(), 0);
    npu_job_result res;
    assert_int_equal(npu_wait(T.dev, f, FULL_QUEUE_RESET_BUDGET_CYCLES, &res), NPU_DRV_E_TIMEOUT);
    assert_int_equal(npu_dev_reset(T.dev), NPU_DRV_OK);
    assert_int_equal(npu_wait(T.dev, f, NPU_TEST_TIMEOUT, &res), NPU_DRV_E_ABORTED);
    npu_dev_read_counters(T.dev, &after);
    npu_counters_diff(&before, &after, &diff);
    assert_int_equal(diff.v[NPU_UNIT_CTRL][NPU_CTR_BUSY], FULL_QUEUE_RESET_CTRL_BUSY);
    assert_int_equal(diff.v[NPU_UNIT_CTRL][NPU_CTR_INSNS], FULL_QUEUE_DISPATCHED);
    assert_int_equal(npu_test_run(&T, copy_program, 0), NPU_DRV_OK);
}

/* A reset clears the SRAM (npu_abi.h); between jobs it keeps its bytes. Regression (issue 16): the
 * SRAM is cleared by dropping its pages, not by writing every byte. */
static void test_reset_clears_the_sram(void **state)
{
    (void)state;
    static const char load[] = "dma.ld 0, 0, 0x100, 0, 1, 256, 256, 256\nend\n";
    static const char store[] = "dma.st 1, 2, 0x100, 0, 1, 256, 256, 256\nend\n";
    uint8_t in[256], out[256], zeros[256] = {0};
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)(i * 3 + 1);
    assert_int_equal(npu_bo_write(T.data, 0, in, sizeof in), NPU_DRV_OK);
    assert_int_equal(npu_test_run(&T, load, 0), NPU_DRV_OK);
    assert_int_equal(npu_test_run(&T, store, 0), NPU_DRV_OK);
    assert_int_equal(npu_bo_read(T.data, 2 * NPU_TEST_BUF_BYTES, out, sizeof out), NPU_DRV_OK);
    assert_memory_equal(out, in, sizeof out); /* kept between jobs */
    assert_int_equal(npu_dev_reset(T.dev), NPU_DRV_OK);
    assert_int_equal(npu_test_run(&T, store, 0), NPU_DRV_OK);
    assert_int_equal(npu_bo_read(T.data, 2 * NPU_TEST_BUF_BYTES, out, sizeof out), NPU_DRV_OK);
    assert_memory_equal(out, zeros, sizeof out); /* cleared by the reset */
}

static void test_device_limits(void **state)
{
    (void)state;
    /* the test device has a 16 x 16 tile and 2 DMA channels */
    expect_fault("mm os, set, i8, nobias, i32, 17, 16, 16, 0x0, 0x1000, 0x2000, i8, i8\nend\n", NPU_FAULT_LIMIT, NPU_UNIT_MM, 0, 0);
    assert_non_null(strstr(npu_dev_error(T.dev), "at instruction 0, address 0x0 (`mm os, set, i8, nobias, i32, 17, 16, "
                                                 "16, 0x0, 0x1000, 0x2000, i8, i8`): mm: m = 17 exceeds the 16-row matmul tile"));
    assert_next_job_runs_after_reset();
    expect_fault("dma.ld 2, 0, 0x0, 0, 1, 64, 64, 64\nend\n", NPU_FAULT_LIMIT, NPU_UNIT_DMA2, 0, 0);
    assert_next_job_runs_after_reset();
}

static void test_queued_jobs_survive_a_fault(void **state)
{
    (void)state;
    /* a faulting job, then a good one, both queued before anything runs */
    npu_fence bad = npu_test_submit(&T, "wait vec, 1\nend\n", 0);
    uint8_t in[256];
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)(255 - i);
    npu_bo_write(T.data, 0, in, sizeof in);
    npu_bo *keep = T.prog;
    T.prog = NULL; /* keep the first program alive while the second is submitted */
    npu_fence good = npu_test_submit(&T, copy_program, 0);
    npu_job_result res;
    assert_int_equal(npu_wait(T.dev, bad, NPU_TEST_TIMEOUT, &res), NPU_DRV_E_FAULT);
    assert_int_equal(res.fault, NPU_FAULT_WATCHDOG);
    assert_int_equal(npu_wait(T.dev, good, NPU_TEST_TIMEOUT, &res), NPU_DRV_E_HALTED);
    assert_int_equal(npu_dev_reset(T.dev), NPU_DRV_OK);
    assert_int_equal(npu_wait(T.dev, good, NPU_TEST_TIMEOUT, &res), NPU_DRV_OK);
    uint8_t out[256];
    npu_bo_read(T.data, 2 * NPU_TEST_BUF_BYTES, out, sizeof out);
    assert_memory_equal(in, out, sizeof out);
    npu_bo_free(keep);
}

static void test_bad_descriptors(void **state)
{
    (void)state;
    /* a program that is not whole instructions, and a buffer outside device memory */
    npu_bo *prog = npu_bo_alloc(T.dev, 24);
    uint8_t zeros[24] = {0x01};
    npu_bo_write(prog, 0, zeros, sizeof zeros);
    npu_job job;
    memset(&job, 0, sizeof job);
    job.type = NPU_JOB_ISA;
    job.program.bo = prog;
    npu_fence f;
    npu_job_result res;
    assert_int_equal(npu_submit(T.dev, &job, &f), NPU_DRV_OK);
    assert_int_equal(npu_wait(T.dev, f, NPU_TEST_TIMEOUT, &res), NPU_DRV_E_FAULT);
    assert_int_equal(res.fault, NPU_FAULT_BAD_JOB);
    assert_int_equal(res.fault_addr, npu_bo_addr(prog));
    assert_int_equal(npu_dev_reset(T.dev), NPU_DRV_OK);
    job.type = 7; /* no such job type */
    job.program.size = 16;
    assert_int_equal(npu_submit(T.dev, &job, &f), NPU_DRV_OK);
    assert_int_equal(npu_wait(T.dev, f, NPU_TEST_TIMEOUT, &res), NPU_DRV_E_FAULT);
    assert_int_equal(res.fault, NPU_FAULT_BAD_JOB);
    assert_int_equal(npu_dev_reset(T.dev), NPU_DRV_OK);
    npu_bo_free(prog);
    /* the driver refuses what it can see is wrong before the device does */
    job.type = NPU_JOB_ISA;
    job.program.bo = T.data;
    job.program.offset = npu_bo_size(T.data) + 1;
    assert_int_equal(npu_submit(T.dev, &job, &f), NPU_DRV_E_BOUNDS);
    job.program.offset = 0;
    job.nbufs = NPU_MAX_BUFFERS + 1;
    assert_int_equal(npu_submit(T.dev, &job, &f), NPU_DRV_E_ARG);
    assert_int_equal(npu_wait(T.dev, 12345, 10, &res), NPU_DRV_E_ARG);
}

static void test_timeout_and_log(void **state)
{
    (void)state;
    npu_fence f = npu_test_submit(&T, "dma.ld 0, 0, 0x0, 0, 64, 1024, 1024, 1024\nend\n", 0);
    npu_job_result res;
    assert_int_equal(npu_wait(T.dev, f, 100, &res), NPU_DRV_E_TIMEOUT);
    assert_int_equal(npu_wait(T.dev, f, NPU_TEST_TIMEOUT, &res), NPU_DRV_OK);
    char log[8192];
    npu_dev_read_log(T.dev, log, sizeof log);
    assert_non_null(strstr(log, "boot: m4npu firmware"));
    char expect[64];
    snprintf(expect, sizeof expect, "job %u: done, 2 instructions", (uint32_t)f);
    assert_non_null(strstr(log, expect));
    assert_int_equal(npu_dev_read_log(T.dev, log, sizeof log), 0); /* nothing new */
}

/* Regression (issue 9): a reset while a job hung rebooted the firmware into the same job, so the
 * next job failed too and a second reset was needed. The reset drops the hung job (its
 * completion says aborted by reset); the job queued behind it and the next one run. */
static void test_reset_drops_a_hung_job(void **state)
{
    (void)state;
    /* a job that waits on a semaphore nobody signals, and a good job queued behind it */
    npu_fence hung = npu_test_submit(&T, "nop\nwait vec, 7\nend\n", 0);
    npu_bo *keep = T.prog;
    T.prog = NULL;
    uint8_t in[256], out[256];
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)(i ^ 0x5a);
    assert_int_equal(npu_bo_write(T.data, 0, in, sizeof in), NPU_DRV_OK);
    memset(out, 0, sizeof out);
    assert_int_equal(npu_bo_write(T.data, 2 * NPU_TEST_BUF_BYTES, out, sizeof out), NPU_DRV_OK);
    npu_fence queued = npu_test_submit(&T, copy_program, 0);
    /* the host gives up long before the watchdog (50000 cycles): the timeout names the unit */
    npu_job_result res;
    assert_int_equal(npu_wait(T.dev, hung, 2000, &res), NPU_DRV_E_TIMEOUT);
    char want[200];
    snprintf(want, sizeof want, "job %u did not complete within 2000 cycles; vec is stalled in a wait at instruction 1 "
             "(`wait vec, 7`)", (uint32_t)hung);
    assert_string_equal(npu_dev_error(T.dev), want);
    uint64_t reset_at = npu_dev_cycles(T.dev);
    assert_int_equal(npu_dev_reset(T.dev), NPU_DRV_OK);
    /* the hung job's completion: aborted by the reset, when it started and when it was dropped */
    memset(&res, 0, sizeof res);
    assert_int_equal(npu_wait(T.dev, hung, NPU_TEST_TIMEOUT, &res), NPU_DRV_E_ABORTED);
    assert_int_equal(res.state, NPU_JOB_ABORTED);
    assert_int_equal(res.fault, NPU_FAULT_NONE);
    assert_true(res.start_cycle < reset_at); /* the first job of a fresh device starts at cycle 0 */
    assert_int_equal(res.end_cycle, reset_at);
    assert_non_null(strstr(npu_dev_error(T.dev), "was aborted by a device reset"));
    /* the job behind it runs without a second reset */
    assert_int_equal(npu_wait(T.dev, queued, NPU_TEST_TIMEOUT, &res), NPU_DRV_OK);
    assert_int_equal(res.state, NPU_JOB_DONE);
    assert_int_equal(npu_bo_read(T.data, 2 * NPU_TEST_BUF_BYTES, out, sizeof out), NPU_DRV_OK);
    assert_memory_equal(in, out, sizeof out);
    /* and so does a job submitted afterwards */
    assert_int_equal(npu_test_run(&T, copy_program, 0), NPU_DRV_OK);
    npu_dev_status ds;
    npu_dev_read_status(T.dev, &ds);
    assert_int_equal(ds.status, NPU_STATUS_IDLE);
    assert_int_equal(ds.abi_version, (uint32_t)NPU_ABI_VERSION);
    char log[8192];
    npu_dev_read_log(T.dev, log, sizeof log);
    snprintf(want, sizeof want, "job %u: aborted by a device reset", (uint32_t)hung);
    assert_non_null(strstr(log, want));
    npu_bo_free(keep);

    /* a reset with nothing running drops nothing: the idle device runs the next job */
    assert_int_equal(npu_dev_reset(T.dev), NPU_DRV_OK);
    assert_int_equal(npu_test_run(&T, copy_program, 0), NPU_DRV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_illegal_instruction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_program_that_rewrites_itself, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dma_beyond_its_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sram_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unit_that_never_finishes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_shorter_than_the_pending_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_queue_while_units_hang, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_clears_the_sram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued_jobs_survive_a_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_descriptors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_and_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_drops_a_hung_job, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
