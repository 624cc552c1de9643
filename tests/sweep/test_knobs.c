/* Every configuration knob does what it claims: for each numeric key of the schema
 * (runtime/config/config_schema.c) a workload chosen to exercise it is simulated at the
 * mobile-default preset and at another value of the key, and at least one metric (latency,
 * energy or a part of them, the outcome of the workload, or an ISA program's cycles) must move.
 * A key with no case here fails the test: give it a workload that exercises it, or remove the
 * key. The workloads are small modules in timing-only mode (a few hundredths of a second each)
 * and, for the watchdog, a deadlocked ISA program. */
#include "npu_test.h"

#include "sweep.h"

#define MOBILE M4NPU_SOURCE_DIR "/configs/mobile-default.yaml"
#define MAX_SETS 4

typedef struct knob_case {
    const char *key;
    const char *value;  /* the other value */
    const char *module; /* a what-if module; NULL: the ISA program */
    m4_format format;
    const char *sets[MAX_SETS]; /* overrides of the base for both runs */
    const char *program;        /* for keys a module cannot reach */
    const char *why;            /* what the workload exercises */
} knob_case;

/* A program whose matmul waits on a semaphore that nothing signals: the watchdog ends it. */
static const char deadlock[] = "dma.ld 0, 0, 0x0, 0, 1, 64, 64, 64\n"
                               "wait mm, 5\n"
                               "mm os, set, i8, nobias, i32, 1, 1, 1, 0, 0x40, 0x80, i8, i8\n"
                               "end\n";

static const knob_case cases[] = {
    {"npu.clock_mhz", "500", "projection", 0, {NULL}, NULL, "every cycle of the NPU"},
    {"npu.matmul.rows", "16", "IMU_enc", 0, {NULL}, NULL, "matmuls over 200 tokens tile by the array's rows"},
    {"npu.matmul.cols", "16", "projection", 0, {NULL}, NULL, "output columns per array pass"},
    {"npu.matmul.output_stage.lanes", "4", "IMU_enc", 0, {NULL}, NULL,
     "each row of results waits at the array's edge while 4 lanes requantise it"},
    {"npu.softmax.lanes", "4", "IMU_enc", 0, {NULL}, NULL, "attention's softmax rows"},
    {"npu.softmax.max_len", "64", "IMU_enc", 0, {NULL}, NULL, "rows longer than the tile split or go to the CPU"},
    {"npu.vector.lanes", "4", "IMU_enc", 0, {NULL}, NULL, "norms, adds and quantisation on the vector unit"},
    {"npu.vector.pipeline_cycles", "100", "IMU_enc", 0, {NULL}, NULL, "every vector instruction's start-up"},
    {"npu.vector.simple_cycles", "8", "IMU_enc", 0, {NULL}, NULL, "adds, multiplies, quantisation"},
    {"npu.vector.divsqrt_cycles", "64", "IMU_enc", 0, {NULL}, NULL, "LayerNorm's reciprocal square root"},
    {"npu.vector.transcendental_cycles", "64", "TTS_dec", 0, {NULL}, NULL, "the post-net's Tanh"},
    {"npu.sram.size_bytes", "64 KiB", "projection", 0, {NULL}, NULL, "tiles that fit the SRAM"},
    {"npu.sram.banks", "1", "projection", 0, {NULL}, NULL, "the SRAM's bandwidth: banks x width"},
    {"npu.sram.bank_width_bytes", "1", "projection", 0, {NULL}, NULL, "the SRAM's bandwidth: banks x width"},
    {"npu.dma.channels", "1", "projection", 0, {NULL}, NULL, "transfers in flight at once"},
    {"npu.dma.setup_cycles", "1000", "projection", 0, {NULL}, NULL, "every DMA transfer's setup"},
    {"npu.dram.size_bytes", "1 MiB", "projection", 0, {NULL}, NULL, "its 4 MiB of buffers no longer fit: it fails"},
    {"npu.dram.bandwidth_gb_s", "5", "projection", 0, {NULL}, NULL, "streaming the weights"},
    {"npu.dram.efficiency", "0.1", "projection", 0, {NULL}, NULL, "streaming the weights"},
    {"npu.dram.latency_ns", "10000", "projection", 0, {NULL}, NULL, "every transfer's first byte"},
    {"npu.dram.burst_bytes", "4096", "projection", 0, {NULL}, NULL, "rows rounded to whole bursts"},
    {"npu.dram.onchip_bytes", "16 MiB", "projection", 0, {NULL}, NULL, "its weights and activations on chip"},
    {"npu.control.clock_mhz", "50", "projection", 0, {NULL}, NULL, "the firmware's time"},
    {"npu.control.cycles_per_insn", "1000", "projection", 0, {NULL}, NULL, "dispatching every instruction"},
    {"npu.control.cycles_per_job", "100000", "projection", 0, {NULL}, NULL, "every job's fetch and completion"},
    {"npu.queue_depth", "1", "projection", 0, {NULL}, NULL, "the control core stalls on full queues"},
    {"npu.watchdog_cycles", "100000", NULL, 0, {"npu.watchdog_cycles=50000"}, deadlock,
     "a deadlocked job faults after this long"},
    {"cpu.cores", "1", "IMU_enc", 0, {"ops.MatMul=off"}, NULL, "compute-bound MatMuls on the CPU"},
    {"cpu.gflop_s.fp32", "1", "TTS_dec", 0, {NULL}, NULL, "the FP32 module's CPU operators"},
    {"cpu.gflop_s.fp16", "1", "IMU_enc", 0, {NULL}, NULL, "the FP16 module's CPU operators (Erf ...)"},
    {"cpu.gflop_s.int8", "1", "GEN_dec", 0, {"ops.MatMul=off"}, NULL, "INT8-weight MatMul on the CPU's integer kernel"},
    {"cpu.memory_bandwidth_gb_s", "1", "IMU_enc", 0, {NULL}, NULL, "memory-bound CPU operators and copies"},
    {"cpu.dispatch_overhead_us", "1000", "IMU_enc", 0, {NULL}, NULL, "every CPU operator"},
    {"cpu.npu_submit_overhead_us", "1000", "IMU_enc", 0, {NULL}, NULL, "every NPU segment"},
    {"cpu.npu_transfer_overhead_us", "1000", "IMU_enc", 0, {NULL}, NULL, "every tensor crossing the boundary"},
    {"cpu.npu_op_overhead_us", "1000", "IMU_enc", 0, {NULL}, NULL, "every node of an NPU segment"},
    {"cpu.active_power_w", "50", "IMU_enc", 0, {NULL}, NULL, "the CPU's energy while it computes"},
    {"cpu.idle_power_w", "0", "IMU_enc", 0, {NULL}, NULL, "the CPU's energy while the NPU runs"},
    {"energy.mac_int8_pj", "1", "projection", 0, {NULL}, NULL, "int8 MACs"},
    {"energy.mac_int4_pj", "1", "GEN_dec", M4_FMT_INT4, {NULL}, NULL, "int4-weight MACs"},
    {"energy.sram_pj_per_byte", "1", "projection", 0, {NULL}, NULL, "SRAM traffic"},
    {"energy.dram_pj_per_bit", "1", "projection", 0, {NULL}, NULL, "DRAM traffic"},
    {"energy.vector_pj_per_lane_cycle", "5", "IMU_enc", 0, {NULL}, NULL, "vector lane-cycles"},
    {"energy.softmax_pj_per_lane_cycle", "5", "IMU_enc", 0, {NULL}, NULL, "softmax lane-cycles"},
    {"energy.output_stage_pj_per_elem", "10", "IMU_enc", 0, {NULL}, NULL, "results through the output stage"},
    {"energy.control_pj_per_cycle", "1", "projection", 0, {NULL}, NULL, "the control core's cycles"},
    {"energy.npu_static_w", "1", "projection", 0, {NULL}, NULL, "static power over the time"},
    {"energy.platform_w", "1", "projection", 0, {NULL}, NULL, "the rest of the device over the time"},
};

/* Numeric keys that are not knobs, and why. */
static const struct {
    const char *key, *why;
} not_knobs[] = {
    {"energy.version", "the energy table's version tag: one valid value, checked, stated by reports"},
};

#define N_CASES (sizeof cases / sizeof cases[0])
#define N_NOT_KNOBS (sizeof not_knobs / sizeof not_knobs[0])

/* What a workload shows: its outcome and every metric, or an ISA program's status and cycles. */
typedef struct observation {
    bool ok;
    double v[SWEEP_METRIC_COUNT];
    uint64_t cycles;
    int fault;
} observation;

static void apply(m4npu_config *cfg, const char *key, const char *value)
{
    m4npu_config_error err;
    if (m4npu_config_set(cfg, key, value, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s=%s: %s", key, value, err.msg);
}

static void observe(const knob_case *c, const m4npu_config *cfg, observation *o)
{
    memset(o, 0, sizeof *o);
    if (c->program) {
        npu_test t;
        npu_test_open(&t, &cfg->npu);
        npu_drv_status st = npu_test_run(&t, c->program, 0);
        o->ok = st == NPU_DRV_OK;
        o->fault = (int)t.res.fault;
        o->cycles = npu_test_cycles(&t);
        npu_test_close(&t);
        return;
    }
    int id = m4_module_lookup(c->module);
    assert_true(id >= 0);
    sweep_workload wl;
    memset(&wl, 0, sizeof wl);
    wl.kind = SWEEP_WL_MODULE;
    wl.module = (m4_module_id)id;
    wl.params.format = c->format;
    sweep_area area;
    sweep_area_defaults(&area);
    sweep_result r;
    sweep_run_workload_on(cfg, &wl, &area, &r);
    o->ok = r.ok;
    for (int m = 0; m < SWEEP_METRIC_COUNT; m++)
        o->v[m] = r.has[m] ? r.metric[m] : -1.0;
}

static bool moved(const observation *a, const observation *b)
{
    if (a->ok != b->ok || a->cycles != b->cycles || a->fault != b->fault)
        return true;
    for (int m = 0; m < SWEEP_METRIC_COUNT; m++)
        if (m != SWEEP_M_AREA_MM2 && a->v[m] != b->v[m])
            return true;
    return false;
}

/* Every numeric key of the schema has a case (or is listed as not a knob), and every case names
 * a numeric key of the schema. */
static void test_every_numeric_key_has_a_workload(void **state)
{
    (void)state;
    int numeric = 0;
    for (size_t s = 0; s < m4npu_config_section_count(); s++) {
        const m4npu_cfg_section *sec = m4npu_config_section_at(s);
        for (size_t k = 0; k < sec->nkeys; k++) {
            const m4npu_cfg_key *key = &sec->keys[k];
            if (!sweep_key_is_numeric(key))
                continue;
            numeric++;
            bool found = false;
            for (size_t c = 0; c < N_CASES && !found; c++)
                found = strcmp(cases[c].key, key->path) == 0;
            for (size_t c = 0; c < N_NOT_KNOBS && !found; c++)
                found = strcmp(not_knobs[c].key, key->path) == 0;
            if (!found)
                fail_msg("%s: no workload in tests/sweep/test_knobs.c exercises it; add one (a knob must move a "
                         "metric) or remove the key",
                         key->path);
        }
    }
    assert_int_equal((size_t)numeric, N_CASES + N_NOT_KNOBS);
    for (size_t c = 0; c < N_CASES; c++) {
        const m4npu_cfg_key *k = m4npu_config_key_find(cases[c].key);
        if (!k || !sweep_key_is_numeric(k))
            fail_msg("case %s: not a numeric key of the schema", cases[c].key);
    }
}

static void test_every_knob_moves_a_metric(void **state)
{
    (void)state;
    m4npu_config preset;
    m4npu_config_error err;
    if (m4npu_config_load(MOBILE, &preset, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s", err.msg);
    int dead = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        const knob_case *c = &cases[i];
        m4npu_config base = preset, varied;
        for (int s = 0; s < MAX_SETS && c->sets[s]; s++)
            if (m4npu_config_set_assignment(&base, c->sets[s], &err) != M4NPU_CONFIG_OK)
                fail_msg("%s: %s", c->sets[s], err.msg);
        varied = base;
        apply(&varied, c->key, c->value);
        if (m4npu_config_validate(&varied, &err) != M4NPU_CONFIG_OK)
            fail_msg("%s=%s is not a valid configuration: %s", c->key, c->value, err.msg);
        observation a, b;
        observe(c, &base, &a);
        observe(c, &varied, &b);
        if (!a.ok && !c->program)
            fail_msg("%s: the workload %s fails at the base configuration", c->key, c->module);
        if (!moved(&a, &b)) {
            print_message("DEAD: %s=%s changes nothing in %s (%s)\n", c->key, c->value,
                          c->module ? c->module : "its ISA program", c->why);
            dead++;
        }
    }
    assert_int_equal(dead, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_numeric_key_has_a_workload),
        cmocka_unit_test(test_every_knob_moves_a_metric),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
