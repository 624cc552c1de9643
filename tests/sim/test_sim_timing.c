/* The fast models' timing, pinned to the cycle against the documented formulas (sim/README.md):
 * DMA = setup + latency + ceil(bytes / bandwidth); concurrent DMAs are served in program order; matmul
 * (with the output stage's term when it is the bottleneck, and mm.out), softmax and vector
 * latencies; the firmware's per-job and per-instruction costs; units overlap unless the program's
 * sync instructions order them; the SRAM banks bound a unit and make concurrent units and DMAs
 * wait for each other. */
#include "npu_test.h"

#include "tile_cycles.h"

/* The test configuration, spelled out so each expectation below can be derived by hand. */
#define CLOCK_MHZ 1000.0
#define DMA_SETUP 16
#define DRAM_LATENCY 100 /* cycles: 100 ns at 1 GHz */
#define DRAM_BW 16       /* bytes per cycle: 16 GB/s at 1 GHz, efficiency 1 */
#define BURST 64
#define JOB 400          /* 200 control cycles at 500 MHz = 400 NPU cycles */
#define INSN 20          /* 10 control cycles per dispatched instruction */
#define VEC_LANES 16
#define VEC_PIPE 4
#define OS_LANES 8       /* the matmul tile's output stage: results per cycle */

static npu_device_config config(void)
{
    npu_device_config c;
    npu_config_defaults(&c);
    c.clock_mhz = CLOCK_MHZ;
    c.dma.setup_cycles = DMA_SETUP;
    c.dram.latency_ns = 100.0;
    c.dram.bandwidth_gb_s = 16.0;
    c.dram.efficiency = 1.0;
    c.dram.burst_bytes = BURST;
    c.control.clock_mhz = 500.0;
    c.control.cycles_per_job = 200;
    c.control.cycles_per_insn = 10;
    c.matmul.rows = c.matmul.cols = 16;
    c.matmul.output_stage.lanes = OS_LANES;
    c.softmax.lanes = 4;
    c.vector.lanes = VEC_LANES;
    c.vector.pipeline_cycles = VEC_PIPE;
    c.vector.simple_cycles = 1;
    c.vector.divsqrt_cycles = 4;
    c.vector.transcendental_cycles = 8;
    return c;
}

static npu_test T;

static int setup(void **state)
{
    (void)state;
    npu_device_config c = config();
    npu_test_open(&T, &c);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    npu_test_close(&T);
    return 0;
}

static void run_ok(const char *src)
{
    if (npu_test_run(&T, src, 0) != NPU_DRV_OK)
        fail_msg("%s", npu_dev_error(T.dev));
}

static void test_dma_latency_plus_bytes_over_bandwidth(void **state)
{
    (void)state;
    /* 4 rows of 1024 bytes: 4096 bytes / 16 B per cycle = 256 cycles */
    run_ok("dma.ld 0, 0, 0x0, 0, 4, 1024, 1024, 1024\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA0, NPU_CTR_BUSY), DMA_SETUP + DRAM_LATENCY + 256);
    assert_int_equal(npu_test_cycles(&T), JOB + INSN + DMA_SETUP + DRAM_LATENCY + 256);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA0, NPU_CTR_DRAM_RD), 4096);
    /* rows are charged in whole 64-byte bursts: 3 x 100 bytes cost 3 x 128 = 384 bytes, 24 cycles */
    run_ok("dma.st 1, 1, 0x0, 0, 3, 100, 200, 100\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA1, NPU_CTR_BUSY), DMA_SETUP + DRAM_LATENCY + 24);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA1, NPU_CTR_DRAM_WR), 384);
}

/* npu.dram.onchip_bytes: the top of the address space is on-chip memory. A DMA there moves its
 * bytes at the SRAM banks' rate (8 x 16 = 128 B per cycle here) with no DRAM latency or burst
 * rounding, and counts them as SRAM bytes on both sides; one below it is a DRAM transfer as before. */
static void test_dma_to_onchip_memory_runs_at_the_sram_rate(void **state)
{
    (void)state;
    npu_test_close(&T);
    npu_device_config c = config();
    c.dram.onchip_bytes = (uint64_t)NPU_TEST_BUF_BYTES * NPU_TEST_BUFS;
    npu_test_open(&T, &c);
    /* the data region at the bottom: DRAM, as without on-chip memory */
    run_ok("dma.ld 0, 0, 0x0, 0, 4, 1024, 1024, 1024\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA0, NPU_CTR_BUSY), DMA_SETUP + DRAM_LATENCY + 256);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA0, NPU_CTR_DRAM_RD), 4096);
    /* the data region from the top down: all of it in the on-chip memory */
    npu_bo_free(T.data);
    T.data = npu_bo_alloc_high(T.dev, (uint64_t)NPU_TEST_BUF_BYTES * NPU_TEST_BUFS);
    assert_non_null(T.data);
    assert_int_equal(npu_bo_addr(T.data), c.dram.size_bytes - c.dram.onchip_bytes);
    assert_int_equal(npu_dev_onchip_bytes(T.dev), c.dram.onchip_bytes);
    run_ok("dma.ld 0, 0, 0x0, 0, 4, 1024, 1024, 1024\nend\n");
    const uint64_t sram_bytes_per_cycle = (uint64_t)c.sram.banks * c.sram.bank_width_bytes;
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA0, NPU_CTR_BUSY), DMA_SETUP + 4096 / sram_bytes_per_cycle);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA0, NPU_CTR_DRAM_RD), 0);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA0, NPU_CTR_SRAM_RD), 4096); /* the on-chip memory's side */
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA0, NPU_CTR_SRAM_WR), 4096); /* the SRAM's */
    /* 3 x 100 bytes stored: no burst rounding on chip */
    run_ok("dma.st 1, 1, 0x0, 0, 3, 100, 200, 100\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA1, NPU_CTR_BUSY), DMA_SETUP + (300 + sram_bytes_per_cycle - 1) / sram_bytes_per_cycle);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA1, NPU_CTR_DRAM_WR), 0);
}

static void test_dma_fractional_bandwidth_rounds_up(void **state)
{
    (void)state;
    npu_test_close(&T);
    npu_device_config c = config();
    c.dram.bandwidth_gb_s = 10.0; /* 10 bytes per cycle */
    npu_test_open(&T, &c);
    run_ok("dma.ld 0, 0, 0x0, 0, 4, 1024, 1024, 1024\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA0, NPU_CTR_BUSY), DMA_SETUP + DRAM_LATENCY + 410); /* ceil(409.6) */
    npu_test_close(&T);
    c = config();
    c.dram.efficiency = 0.5; /* 8 bytes per cycle sustained */
    npu_test_open(&T, &c);
    run_ok("dma.ld 0, 0, 0x0, 0, 4, 1024, 1024, 1024\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA0, NPU_CTR_BUSY), DMA_SETUP + DRAM_LATENCY + 512);
}

static void test_concurrent_dmas_are_served_in_program_order(void **state)
{
    (void)state;
    /* The vector unit holds both semaphores back until every instruction is dispatched
     * (4 + 4000/16 = 254 cycles from cycle 420), then releases both channels in the same cycle.
     * The DRAM serves the transfer dispatched first (dma0's) at the whole bandwidth, 256 cycles,
     * and dma1's after it: 512 cycles from the same start. */
    run_ok("v.un relu, i32, 0x10000, 0x10000, 1, 4000, 0.0\n"
           "signal vec, 0\n"
           "signal vec, 1\n"
           "wait dma0, 0\n"
           "dma.ld 0, 0, 0x0, 0, 4, 1024, 1024, 1024\n"
           "wait dma1, 1\n"
           "dma.ld 1, 1, 0x4000, 0, 4, 1024, 1024, 1024\n"
           "end\n");
    const uint64_t released = JOB + INSN + VEC_PIPE + 4000 / VEC_LANES;
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA0, NPU_CTR_BUSY), DMA_SETUP + DRAM_LATENCY + 256);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA1, NPU_CTR_BUSY), DMA_SETUP + DRAM_LATENCY + 512);
    assert_int_equal(npu_test_cycles(&T), released + DMA_SETUP + DRAM_LATENCY + 512);
    /* a transfer that starts while an earlier one is half done waits for it: the first enters
     * the DRAM at 420 + 116 = 536; the second is dispatched at 420 + 8 * 20 = 580 and enters at
     * 696, when the first has 4096 - 160 * 16 = 1536 bytes left, which it still gets alone: 96
     * more cycles (done at 792); then the second's 4096 bytes, 256 cycles: done at 1048 (the
     * same end as any sharing: the DRAM never idles while a transfer waits). */
    run_ok("dma.ld 0, 0, 0x0, 0, 4, 1024, 1024, 1024\n"
           "nop\nnop\nnop\nnop\nnop\nnop\nnop\n"
           "dma.ld 1, 1, 0x4000, 0, 4, 1024, 1024, 1024\n"
           "end\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA0, NPU_CTR_BUSY), DMA_SETUP + DRAM_LATENCY + 160 + 96);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA1, NPU_CTR_BUSY), DMA_SETUP + DRAM_LATENCY + 96 + 256);
    assert_int_equal(npu_test_cycles(&T), 1048);
}

/* Program order, not arrival: a transfer dispatched later on another channel that reaches the
 * DRAM first gives way to an earlier-dispatched one as soon as that one arrives (with processor
 * sharing, a prefetch on a spare channel took half the bandwidth from the transfer the program
 * needed first, and more DMA channels made workloads slower: issue 14). dma0's load waits for
 * the vector unit's gelu over 400 f32 (4 + 25 * 8 = 204 cycles, 3200 SRAM bytes: no bank
 * conflict with the DMA); dma1's load, dispatched after it, starts alone. */
static void test_earlier_dispatched_dma_preempts_a_later_one(void **state)
{
    (void)state;
    run_ok("v.un gelu, f32, 0x10000, 0x10000, 1, 400, 0.0\n" /* dispatched at 420, done at 624 */
           "signal vec, 0\n"
           "wait dma0, 0\n"
           "dma.ld 0, 0, 0x0, 0, 4, 1024, 1024, 1024\n"   /* enters the DRAM at 624 + 116 = 740 */
           "dma.ld 1, 1, 0x4000, 0, 4, 1024, 1024, 1024\n" /* dispatched at 500, enters at 616 */
           "end\n");
    /* dma1 alone from 616 to 740: 124 * 16 = 1984 bytes; dma0 then takes the DRAM for 256
     * cycles (done at 996), and dma1 moves its last 2112 bytes in 132 cycles (done at 1128) */
    const uint64_t gelu_done = JOB + INSN + VEC_PIPE + 400 / VEC_LANES * 8;
    assert_int_equal(gelu_done, 624);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA0, NPU_CTR_BUSY), DMA_SETUP + DRAM_LATENCY + 256);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA1, NPU_CTR_BUSY), DMA_SETUP + DRAM_LATENCY + 124 + 256 + 132);
    assert_int_equal(npu_test_cycles(&T), 1128);
}

static void test_matmul_cycles_equal_formula(void **state)
{
    (void)state;
    static const struct { int ws, m, n, k; } shapes[] = {
        {0, 16, 16, 64}, {0, 1, 1, 1}, {0, 15, 16, 17}, {0, 16, 3, 1000}, {0, 7, 9, 128},
        {1, 100, 16, 16}, {1, 1, 1, 1}, {1, 1000, 16, 15}, {1, 33, 5, 7},
    };
    char src[256];
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        snprintf(src, sizeof src, "mm %s, set, i8, nobias, i32, %d, %d, %d, 0x0, 0x20000, 0x30000, i8, i8\nend\n",
                 shapes[i].ws ? "ws" : "os", shapes[i].m, shapes[i].n, shapes[i].k);
        run_ok(src);
        uint64_t expect = shapes[i].ws ? (uint64_t)(2 * shapes[i].k + shapes[i].m + shapes[i].n - 1)
                                       : (uint64_t)(shapes[i].k + 2 * shapes[i].m + shapes[i].n - 1);
        assert_int_equal(expect, tile_mm_cycles(shapes[i].ws, shapes[i].m, shapes[i].n, shapes[i].k));
        if (npu_test_ctr(&T, NPU_UNIT_MM, NPU_CTR_BUSY) != expect)
            fail_msg("%s: %llu cycles, formula %llu", src,
                     (unsigned long long)npu_test_ctr(&T, NPU_UNIT_MM, NPU_CTR_BUSY), (unsigned long long)expect);
        assert_int_equal(npu_test_ctr(&T, NPU_UNIT_MM, NPU_CTR_MACS),
                         (uint64_t)shapes[i].m * shapes[i].n * shapes[i].k);
    }
}

/* The output stage requantises OS_LANES results per cycle: a row of n results stays ceil(n / 8)
 * cycles at the array's edge instead of one, so an mm with rq takes m * (ceil(n / 8) - 1) more
 * cycles than the array alone (none for n <= 8, and none for int32 results, which leave at the
 * array's width). mm.out: issue, ceil(n / 8) record beats, 256 / 8 table beats. */
/* npu.matmul.full_array_gemv: an os mm of m < 16 rows on the 16-row array splits k over
 * s = min(16 / m, k) row groups and adds their partial sums in ceil(log2 s) cycles; m >= 16 and
 * ws are unchanged. Hand-computed: a GEMV 1 x 16 x 1024 takes 1 + 64 + 15 + 4 + 1 = 85 cycles
 * instead of 1024 + 2 + 16 - 1 = 1041. The SRAM is widened to 64 banks (1 KiB per cycle) so that
 * the array, not the SRAM, bounds every case; at the default 8 banks of 16 bytes the same GEMV
 * reads its 17408 operand bytes in 136 cycles and takes 137: the split moves the bound to the SRAM. */
#define SPLIT_TEST_BANKS 64
static void test_full_array_gemv_cycles(void **state)
{
    (void)state;
    static const struct { int ws, rq, m, n, k; uint64_t off, on; } cases[] = {
        {0, 0, 1, 16, 1024, 1041, 85},                           /* s = 16: ceil(1024/16) = 64, tree 4 */
        {0, 0, 5, 16, 100, 100 + 10 + 15, 1 + 34 + 5 + 14 + 2 + 5}, /* s = 3: ceil(100/3) = 34, tree 2 */
        {0, 0, 1, 3, 4, 4 + 2 + 2, 1 + 1 + 1 + 1 + 2 + 1},       /* s = k = 4: one beat each, tree 2 */
        {0, 0, 16, 16, 64, 64 + 32 + 15, 64 + 32 + 15},          /* a full tile: s = 1 */
        {1, 0, 1, 16, 16, 32 + 1 + 15, 32 + 1 + 15},             /* ws: unchanged */
        {0, 1, 2, 16, 64, 64 + 4 + 15 + 2, 1 + 8 + 2 + 14 + 3 + 2 + 2}, /* rq (8 lanes): + m */
    };
    char src[256];
    for (int on = 0; on <= 1; on++) {
        npu_test_close(&T);
        npu_device_config c = config();
        c.matmul.full_array_gemv = on ? NPU_ON : NPU_OFF;
        c.sram.banks = SPLIT_TEST_BANKS;
        npu_test_open(&T, &c);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            snprintf(src, sizeof src, "mm %s, set, i8, nobias, %s, %d, %d, %d, 0x0, 0x20000, 0x30000, i8, i8\nend\n",
                     cases[i].ws ? "ws" : "os", cases[i].rq ? "rq" : "i32", cases[i].m, cases[i].n, cases[i].k);
            run_ok(src);
            uint64_t expect = on ? cases[i].on : cases[i].off;
            if (npu_test_ctr(&T, NPU_UNIT_MM, NPU_CTR_BUSY) != expect)
                fail_msg("full_array_gemv %s: %s: %llu cycles, expected %llu", on ? "on" : "off", src,
                         (unsigned long long)npu_test_ctr(&T, NPU_UNIT_MM, NPU_CTR_BUSY), (unsigned long long)expect);
            assert_int_equal(npu_test_ctr(&T, NPU_UNIT_MM, NPU_CTR_MACS),
                             (uint64_t)cases[i].m * cases[i].n * cases[i].k);
        }
    }
    npu_test_close(&T);
    npu_device_config c = config();
    c.matmul.full_array_gemv = NPU_ON;
    npu_test_open(&T, &c);
    run_ok("mm os, set, i8, nobias, i32, 1, 16, 1024, 0x0, 0x20000, 0x30000, i8, i8\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_MM, NPU_CTR_BUSY), 137); /* SRAM-bound, above */
}

static void test_output_stage_cycles(void **state)
{
    (void)state;
    static const struct { int ws, rq, m, n, k; uint64_t cycles; } cases[] = {
        {0, 1, 16, 16, 64, 64 + 2 * 16 + 16 - 1 + 16 * 1}, /* two beats per row: 16 stalled cycles */
        {0, 0, 16, 16, 64, 64 + 2 * 16 + 16 - 1},          /* int32: no stage term */
        {0, 1, 16, 8, 64, 64 + 2 * 16 + 8 - 1},            /* n = lanes: keeps pace */
        {1, 1, 100, 9, 4, 2 * 4 + 100 + 9 - 1 + 100 * 1},
        {0, 1, 3, 16, 1000, 1000 + 2 * 3 + 16 - 1 + 3 * 1},
    };
    char src[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(src, sizeof src, "mm %s, set, i8, nobias, %s, %d, %d, %d, 0x0, 0x20000, 0x30000, i8, i8\nend\n",
                 cases[i].ws ? "ws" : "os", cases[i].rq ? "rq" : "i32", cases[i].m, cases[i].n, cases[i].k);
        run_ok(src);
        assert_int_equal(cases[i].cycles, tile_mm_rq_cycles(cases[i].ws, (uint64_t)cases[i].m, (uint64_t)cases[i].n,
                                                             (uint64_t)cases[i].k, cases[i].rq ? OS_LANES : 0));
        if (npu_test_ctr(&T, NPU_UNIT_MM, NPU_CTR_BUSY) != cases[i].cycles)
            fail_msg("%s: %llu cycles, formula %llu", src,
                     (unsigned long long)npu_test_ctr(&T, NPU_UNIT_MM, NPU_CTR_BUSY),
                     (unsigned long long)cases[i].cycles);
        /* the stage's element counter (energy: output_stage_pj_per_elem) */
        assert_int_equal(npu_test_ctr(&T, NPU_UNIT_MM, NPU_CTR_ELEMS), cases[i].rq ? (uint64_t)cases[i].m * cases[i].n : 0);
    }
    /* a 16-bit operand: every step two cycles, the stage's extra beats included (1 + 2 * (21 + 2)) */
    run_ok("mm os, set, i8, nobias, rq, 2, 16, 3, 0x0, 0x20000, 0x30000, i16, i8\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_MM, NPU_CTR_BUSY), 1 + 2 * ((3 + 2 + 16 - 2 + 2) + 2 * (16 / OS_LANES - 1)));
    assert_int_equal(tile_mm_rq_cycles_typed(0, 1, 2, 16, 3, OS_LANES), 47);
    run_ok("mm.out col, nolut, 0x8000, 16, -128, 127, 0\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_MM, NPU_CTR_BUSY), 1 + 2);
    run_ok("mm.out row, lut, 0x8000, 5, 0, 127, 0x9000\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_MM, NPU_CTR_BUSY), 1 + 1 + 256 / OS_LANES);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_MM, NPU_CTR_SRAM_RD), 5 * 12 + 256); /* records and table */
    /* a wider stage removes the term */
    npu_test_close(&T);
    npu_device_config c = config();
    c.matmul.output_stage.lanes = 16;
    npu_test_open(&T, &c);
    run_ok("mm os, set, i8, nobias, rq, 16, 16, 64, 0x0, 0x20000, 0x30000, i8, i8\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_MM, NPU_CTR_BUSY), 64 + 2 * 16 + 16 - 1);
}

static void test_softmax_and_vector_cycles(void **state)
{
    (void)state;
    /* softmax, 4 lanes: 1 + rows * (3 * ceil(len / 4) + 41 + 6) */
    run_ok("sm causal, 0x0, 0x1000, 100, 8, 1000, 0\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_SM, NPU_CTR_BUSY), 1 + 8 * (3 * 25 + 41 + 6));
    run_ok("sm nomask, 0x0, 0x1000, 5, 1, 1000, 0\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_SM, NPU_CTR_BUSY), 1 + (3 * 2 + 41 + 6));
    /* vector: gelu is transcendental (8 cycles per 16 elements): 4 + ceil(200 / 16) * 8 */
    run_ok("v.un gelu, f32, 0x0, 0x0, 2, 100, 0.0\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_VEC, NPU_CTR_BUSY), 4 + 13 * 8);
    /* layer norm: 4 + rows * (3 passes * ceil(64 / 16) + rsqrt 4) */
    run_ok("v.norm layer, noaff, 0x0, 0x0, 0x0, 4, 64, 5\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_VEC, NPU_CTR_BUSY), 4 + 4 * (3 * 4 + 4));
    /* add with a row broadcast: 4 + ceil(48 / 16) * 1; divide: 4 + 3 * 4 */
    run_ok("v.bin add, f32, row, 0x0, 0x100, 0x200, 3, 16\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_VEC, NPU_CTR_BUSY), 4 + 3);
    run_ok("v.bin div, f32, full, 0x0, 0x100, 0x200, 3, 16\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_VEC, NPU_CTR_BUSY), 4 + 3 * 4);
}

static void test_firmware_costs(void **state)
{
    (void)state;
    run_ok("nop\nnop\nnop\nnop\nnop\nnop\nnop\nnop\nnop\nnop\nend\n");
    assert_int_equal(npu_test_cycles(&T), JOB + 11 * INSN);
    assert_int_equal(T.res.insns, 11);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_CTRL, NPU_CTR_BUSY), JOB + 11 * INSN);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_CTRL, NPU_CTR_JOBS), 1);
}

/* A control clock that does not divide the NPU's (300 MHz against 1000): each spend's remainder is
 * carried into the next, so the job's 200 control cycles and 11 instructions' 10 each take
 * floor(310 * 1000 / 300) = 1033 NPU cycles in all (dropping the remainders gives 666 + 11 * 33 =
 * 1029); at a whole ratio (the other tests: 2) a spend is an exact multiple. */
static void test_firmware_costs_at_a_fractional_clock_ratio(void **state)
{
    (void)state;
    npu_test_close(&T);
    npu_device_config c = config();
    c.control.clock_mhz = 300.0;
    npu_test_open(&T, &c);
    run_ok("nop\nnop\nnop\nnop\nnop\nnop\nnop\nnop\nnop\nnop\nend\n");
    assert_int_equal(npu_test_cycles(&T), 1033);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_CTRL, NPU_CTR_BUSY), 1033);
}

static void test_units_overlap_unless_synchronised(void **state)
{
    (void)state;
    const uint64_t dma = DMA_SETUP + DRAM_LATENCY + 256, mm = 64 + 2 * 16 + 16 - 1;
    /* no sync: the matmul (dispatched at 440) runs while the DMA (from 420) is in flight */
    run_ok("dma.ld 0, 0, 0x0, 0, 4, 1024, 1024, 1024\n"
           "mm os, set, i8, nobias, i32, 16, 16, 64, 0x2000, 0x3000, 0x4000, i8, i8\n"
           "end\n");
    assert_int_equal(npu_test_cycles(&T), JOB + INSN + dma); /* the longer of the two */
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_MM, NPU_CTR_STALL), 0);
    /* signal/wait: the matmul starts when the DMA completes */
    run_ok("dma.ld 0, 0, 0x0, 0, 4, 1024, 1024, 1024\n"
           "signal dma0, 0\n"
           "wait mm, 0\n"
           "mm os, set, i8, nobias, i32, 16, 16, 64, 0x2000, 0x3000, 0x4000, i8, i8\n"
           "end\n");
    assert_int_equal(npu_test_cycles(&T), JOB + INSN + dma + mm);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_MM, NPU_CTR_STALL), dma - 2 * INSN); /* wait dispatched at 460 */
    /* barrier: the control core stops dispatching until everything has drained */
    run_ok("dma.ld 0, 0, 0x0, 0, 4, 1024, 1024, 1024\n"
           "barrier\n"
           "mm os, set, i8, nobias, i32, 16, 16, 64, 0x2000, 0x3000, 0x4000, i8, i8\n"
           "end\n");
    assert_int_equal(npu_test_cycles(&T), JOB + INSN + dma + INSN + mm);
}

/* The SRAM banks (sim/src/sram.cpp): S = banks * bank_width_bytes bytes per cycle, shared by
 * max-min fairness between the instructions in flight, each asking at most for its bytes over its
 * own latency (a DMA: at most the DRAM's bandwidth). */
static void reopen_with_sram(uint32_t banks, uint32_t width)
{
    npu_test_close(&T);
    npu_device_config c = config();
    c.sram.banks = banks;
    c.sram.bank_width_bytes = width;
    npu_test_open(&T, &c);
}

static void test_sram_narrower_than_a_unit_bounds_it(void **state)
{
    (void)state;
    /* relu over 64 i32: 4 + 64 / 16 = 8 cycles on the test SRAM (128 B/cycle, 64 B/cycle asked) */
    run_ok("v.un relu, i32, 0x0, 0x1000, 1, 64, 0.0\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_VEC, NPU_CTR_BUSY), VEC_PIPE + 64 / VEC_LANES);
    /* one bank one byte wide: 256 bytes read + 256 written at 1 byte per cycle */
    reopen_with_sram(1, 1);
    run_ok("v.un relu, i32, 0x0, 0x1000, 1, 64, 0.0\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_VEC, NPU_CTR_BUSY), 2 * 64 * 4);
    /* a 16x16x64 matmul moves 1024 + 1024 + 1024 bytes: 3072 cycles instead of 111 */
    run_ok("mm os, set, i8, nobias, i32, 16, 16, 64, 0x0, 0x2000, 0x4000, i8, i8\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_MM, NPU_CTR_BUSY), 16 * 64 + 64 * 16 + 4 * 16 * 16);
    /* a DMA's SRAM side: 4096 bytes at 4 B/cycle (one bank, 4 bytes wide) start with the transfer,
     * after the setup, and outlast the DRAM's 100 + 256 cycles */
    reopen_with_sram(1, 4);
    run_ok("dma.ld 0, 0, 0x0, 0, 4, 1024, 1024, 1024\nend\n");
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA0, NPU_CTR_BUSY), DMA_SETUP + 4096 / 4);
    assert_int_equal(npu_test_cycles(&T), JOB + INSN + DMA_SETUP + 4096 / 4);
}

static void test_sram_conflicts_between_dma_and_vector(void **state)
{
    (void)state;
    /* The DMA (dispatched at 420) asks for 16 B/cycle of SRAM from 436 (after its setup); the relu
     * over 4000 i32 (dispatched at 440) asks for 32000 bytes over its 4 + 250 = 254 cycles, about
     * 126 B/cycle. Together 142 > 128 B/cycle: the DMA keeps its 16, the vector unit gets the other
     * 112 B/cycle and needs ceil(32000 / 112) = 286 cycles instead of 254. The DRAM side is not
     * slowed: the DMA still takes 16 + 100 + 16384 / 16 cycles. */
    const char *prog = "dma.ld 0, 0, 0x0, 0, 16, 1024, 1024, 1024\n"
                       "v.un relu, i32, 0x10000, 0x20000, 1, 4000, 0.0\n"
                       "end\n";
    run_ok(prog);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_VEC, NPU_CTR_BUSY), 286);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA0, NPU_CTR_BUSY), DMA_SETUP + DRAM_LATENCY + 1024);
    assert_int_equal(npu_test_cycles(&T), JOB + INSN + DMA_SETUP + DRAM_LATENCY + 1024);
    /* twice as many banks (256 B/cycle): no conflict, the formula's 254 cycles */
    reopen_with_sram(16, 16);
    run_ok(prog);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_VEC, NPU_CTR_BUSY), VEC_PIPE + 4000 / VEC_LANES);
    /* the same bandwidth from 4 banks 64 bytes wide gives the same cycles as 16 x 16 */
    reopen_with_sram(4, 64);
    run_ok(prog);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_VEC, NPU_CTR_BUSY), VEC_PIPE + 4000 / VEC_LANES);
}

/* A queue deeper than the first slots of its ring (16) keeps its instructions in order while it
 * grows and wraps. Five groups of eight loads of different chunks into the same SRAM bytes, each
 * group's last chunk stored by dma1 before the next group loads (semaphores 0 and 1), queued
 * faster than dma0 serves them (20 cycles to dispatch one, 120 to serve it): every group stores
 * its own last chunk, each load taking setup + latency + 64 B / 16 B per cycle. Regression
 * (issue 16): the queues are rings. */
#define DEEP_QUEUE 64
#define DEEP_GROUPS 5
#define DEEP_GROUP_LOADS 8
#define CHUNK 64

static void test_deep_queue_keeps_its_order(void **state)
{
    (void)state;
    npu_test_close(&T);
    npu_device_config c = config();
    c.queue_depth = DEEP_QUEUE;
    npu_test_open(&T, &c);
    enum { LOADS = DEEP_GROUPS * DEEP_GROUP_LOADS };
    uint8_t chunks[LOADS * CHUNK], out[DEEP_GROUPS * CHUNK];
    for (int i = 0; i < LOADS * CHUNK; i++)
        chunks[i] = (uint8_t)(i / CHUNK * 5 + i % CHUNK + 1);
    assert_int_equal(npu_bo_write(T.data, 0, chunks, sizeof chunks), NPU_DRV_OK);
    static char prog[16384];
    int n = 0;
    for (int g = 0; g < DEEP_GROUPS; g++) {
        for (int i = 0; i < DEEP_GROUP_LOADS; i++)
            n += snprintf(prog + n, sizeof prog - (size_t)n, "dma.ld 0, 0, 0x0, %d, 1, 64, 64, 64\n",
                          (g * DEEP_GROUP_LOADS + i) * CHUNK);
        n += snprintf(prog + n, sizeof prog - (size_t)n,
                      "signal dma0, 0\nwait dma0, 1\nwait dma1, 0\ndma.st 1, 2, 0x0, %d, 1, 64, 64, 64\nsignal dma1, 1\n",
                      g * CHUNK);
    }
    snprintf(prog + n, sizeof prog - (size_t)n, "end\n");
    run_ok(prog);
    assert_int_equal(npu_bo_read(T.data, 2 * NPU_TEST_BUF_BYTES, out, sizeof out), NPU_DRV_OK);
    for (int g = 0; g < DEEP_GROUPS; g++)
        assert_memory_equal(out + g * CHUNK, chunks + ((g + 1) * DEEP_GROUP_LOADS - 1) * CHUNK, CHUNK);
    const uint64_t one_dma = DMA_SETUP + DRAM_LATENCY + CHUNK / DRAM_BW;
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA0, NPU_CTR_BUSY), LOADS * one_dma);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA1, NPU_CTR_BUSY), DEEP_GROUPS * one_dma);
    assert_int_equal(npu_test_ctr(&T, NPU_UNIT_DMA0, NPU_CTR_INSNS), LOADS + 2 * DEEP_GROUPS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dma_latency_plus_bytes_over_bandwidth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dma_fractional_bandwidth_rounds_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_dmas_are_served_in_program_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_earlier_dispatched_dma_preempts_a_later_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_matmul_cycles_equal_formula, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_stage_cycles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_softmax_and_vector_cycles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_firmware_costs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_firmware_costs_at_a_fractional_clock_ratio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_array_gemv_cycles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_units_overlap_unless_synchronised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sram_narrower_than_a_unit_bounds_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sram_conflicts_between_dma_and_vector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dma_to_onchip_memory_runs_at_the_sram_rate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_queue_keeps_its_order, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
