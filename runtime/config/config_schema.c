/* config_schema.c -- the schema: one table of keys per section of the YAML file.
 *
 * Each row names a key by its dotted path, its type, where it lives in m4npu_config, its range
 * (or enum names), its unit and what it means. Parsing, range checks, overrides, the YAML and
 * JSON printers and docs/configs.md are all driven by these rows. Every numeric key has a
 * physically meaningful range (a value that passes means something), checked when the value is
 * read, so that the error points at it: "FILE:LINE:COL: KEY: V is outside LO..HI UNIT". The npu
 * rows take the device's own bounds (npu_config.h, the ISA table); npu_config_check() stays the
 * device's authority and tests/config/test_npu_config_check.c keeps the two in agreement.
 *
 * To add a section (energy:): add its member to m4npu_config, a table here and a line in
 * `sections`; add its defaults to m4npu_config_defaults() and its keys to every preset.
 */
#include "config_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MEMBER_SIZE(M) sizeof(((m4npu_config *)0)->M)
#define ROW(P, KIND, M, MIN, MAX, FMIN, FMAX, NAMES, UNIT, DOC)                                     \
    {P, KIND, offsetof(m4npu_config, M), MEMBER_SIZE(M), MIN, MAX, FMIN, FMAX, NAMES, UNIT, DOC}
#define U32(P, M, MIN, MAX, UNIT, DOC) ROW(P, M4NPU_CFG_U32, M, MIN, MAX, 0, 0, NULL, UNIT, DOC)
#define U64(P, M, MIN, MAX, UNIT, DOC) ROW(P, M4NPU_CFG_U64, M, MIN, MAX, 0, 0, NULL, UNIT, DOC)
#define BYTES(P, M, MIN, MAX, DOC) ROW(P, M4NPU_CFG_BYTES, M, MIN, MAX, 0, 0, NULL, "bytes", DOC)
#define F64(P, M, FMIN, FMAX, UNIT, DOC) ROW(P, M4NPU_CFG_F64, M, 0, 0, FMIN, FMAX, NULL, UNIT, DOC)
#define ENUM(P, M, NAMES, DOC) ROW(P, M4NPU_CFG_ENUM, M, 0, 0, 0, 0, NAMES, "", DOC)
#define STR(P, M, MINLEN, DOC) ROW(P, M4NPU_CFG_STR, M, MINLEN, MEMBER_SIZE(M) - 1, 0, 0, NULL, "", DOC)

/* Limits of the device, as npu_config_check() states them from the ISA table. */
#define ISA_TILE_DIM_MAX 4095u          /* mm m and n fields: 12 bits */
#define ISA_SM_LEN_MAX 16383u           /* sm len field: 14 bits */
#define ISA_SRAM_REACH_BYTES (1ull << 24) /* 24-bit SRAM addresses: 16 MiB */

/* The CPU and the energy table: physically meaningful bounds (a phone CPU, and far beyond it). */
#define CPU_CORES_MAX 1024u
#define CPU_GFLOP_S_MIN 0.01            /* 10 MFLOP/s .. 1 PFLOP/s of one core */
#define CPU_GFLOP_S_MAX 1e6
#define CPU_BANDWIDTH_GB_S_MIN 0.1      /* as the NPU's DRAM */
#define CPU_BANDWIDTH_GB_S_MAX 10000.0
#define CPU_OVERHEAD_US_MAX 1e6         /* a fixed cost of up to 1 s */
#define CPU_POWER_W_MIN 0.001           /* 1 mW .. 1 kW */
#define CPU_POWER_W_MAX 1000.0
#define ENERGY_MAC_PJ_MAX 100.0         /* an int8 MAC costs ~0.1 pJ, an fp32 fused multiply-add ~4 pJ */
#define ENERGY_PJ_MAX 1000.0            /* per byte, bit or lane cycle: DRAM is ~5-20 pJ/bit */
#define ENERGY_CONTROL_PJ_MAX 1e5       /* a control core cycle */
#define ENERGY_STATIC_W_MAX 100.0

static const char *const impl_names[] = {[NPU_IMPL_FAST] = "fast", [NPU_IMPL_RTL] = "rtl", NULL};
static const char *const switch_names[] = {[NPU_OFF] = "off", [NPU_ON] = "on", NULL};

_Static_assert(sizeof(npu_tile_impl) == sizeof(uint32_t), "enum keys are stored as 32-bit values");
_Static_assert(sizeof(npu_switch) == sizeof(uint32_t), "enum keys are stored as 32-bit values");

static const m4npu_cfg_key top_keys[] = {
    STR("name", npu.name, 1, "Short name of the configuration, shown in reports (npu_device_config.name)."),
    STR("description", description, 0, "What the configuration models and where its numbers come from."),
};

static const m4npu_cfg_key npu_keys[] = {
    F64("npu.clock_mhz", npu.clock_mhz, NPU_CLOCK_MHZ_MIN, NPU_CLOCK_MHZ_MAX, "MHz",
        "NPU clock. Simulated time is counted in these cycles."),

    U32("npu.matmul.rows", npu.matmul.rows, 1, ISA_TILE_DIM_MAX, "PEs",
        "Rows of the systolic array (the largest m of one `mm` in os dataflow, k in ws)."),
    U32("npu.matmul.cols", npu.matmul.cols, 1, ISA_TILE_DIM_MAX, "PEs",
        "Columns of the systolic array (the largest n of one `mm`)."),
    ENUM("npu.matmul.impl", npu.matmul.impl, impl_names,
         "fast: transaction-level model with the analytic latency; rtl: the Verilated tile, only "
         "for the sizes rtl/ builds (16x16 with an 8-lane output stage by default, the presets' sizes opt-in)."),
    ENUM("npu.matmul.output_stage.enabled", npu.matmul.output_stage.enabled, switch_names,
         "on: MATMUL and CONV2D requantise, add their bias and apply ReLU/GELU/SiLU in the matmul tile's "
         "output stage (mm.out); off: their epilogue runs on the vector unit in f32, as on an NPU without "
         "one. The stage always runs `mm ... rq` of raw ISA programs."),
    U32("npu.matmul.output_stage.lanes", npu.matmul.output_stage.lanes, 1, ISA_TILE_DIM_MAX, "elements/cycle",
        "Results the output stage requantises per cycle. Fewer than the array's columns stall the array "
        "while a row drains: an mm with rq takes m * (ceil(n / lanes) - 1) cycles more."),
    ENUM("npu.matmul.full_array_gemv", npu.matmul.full_array_gemv, switch_names,
         "on: an output-stationary mm of m rows, fewer than the array's R, splits k over s = min(floor(R / m), k) "
         "groups of m rows, each fed its own slice of A and B, and adds the s partial sums down the columns: "
         "ceil(k / s) + 2m + n - 1 + ceil(log2 s) cycles instead of k + 2m + n - 1, so a GEMV (decode) takes in "
         "up to R * n weight bytes per cycle instead of n. The R - m * s other rows and the C - n columns past "
         "n idle. Fast model only (the rtl tile has no k split). off: one row group, as the rtl tile."),

    U32("npu.softmax.lanes", npu.softmax.lanes, 1, ISA_SM_LEN_MAX, "elements/cycle",
        "Elements per cycle in each of the three passes over a row. At most npu.softmax.max_len."),
    U32("npu.softmax.max_len", npu.softmax.max_len, 1, ISA_SM_LEN_MAX, "elements",
        "Longest row one `sm` instruction accepts."),
    ENUM("npu.softmax.impl", npu.softmax.impl, impl_names,
         "fast or rtl (rtl only for the lane counts and row lengths rtl/ builds: 4 lanes up to 512 by default, the "
        "presets' sizes opt-in)."),

    U32("npu.vector.lanes", npu.vector.lanes, 1, NPU_VECTOR_LANES_MAX, "elements/cycle",
        "f32/i32 elements the vector unit processes per cycle."),
    U32("npu.vector.pipeline_cycles", npu.vector.pipeline_cycles, 1, NPU_UNIT_CYCLES_MAX, "cycles",
        "Start-up latency of every vector instruction."),
    U32("npu.vector.simple_cycles", npu.vector.simple_cycles, 1, NPU_UNIT_CYCLES_MAX, "cycles",
        "Cycles per group of `lanes` elements for add, mul, max, relu, copy, quantise ..."),
    U32("npu.vector.divsqrt_cycles", npu.vector.divsqrt_cycles, 1, NPU_UNIT_CYCLES_MAX, "cycles",
        "Cycles per group for div, sqrt, rsqrt, recip."),
    U32("npu.vector.transcendental_cycles", npu.vector.transcendental_cycles, 1, NPU_UNIT_CYCLES_MAX, "cycles",
        "Cycles per group for exp, log, sigmoid, tanh, erf, gelu, silu, sin, cos, pow."),

    BYTES("npu.sram.size_bytes", npu.sram.size_bytes, NPU_SRAM_MIN_BYTES, ISA_SRAM_REACH_BYTES,
          "On-chip SRAM the ISA addresses (24-bit addresses reach 16 MiB). A multiple of "
          "npu.sram.banks * npu.sram.bank_width_bytes."),
    U32("npu.sram.banks", npu.sram.banks, 1, NPU_SRAM_BANKS_MAX, "banks",
        "SRAM banks, interleaved and accessed in parallel: the SRAM moves banks * bank_width_bytes bytes "
        "per cycle, shared by the units and the DMA (sim/README.md, SRAM banks)."),
    U32("npu.sram.bank_width_bytes", npu.sram.bank_width_bytes, 1, NPU_SRAM_BANK_WIDTH_MAX_BYTES, "bytes",
        "Bytes one bank reads or writes per cycle."),

    U32("npu.dma.channels", npu.dma.channels, 1, NPU_MAX_DMA_CHANNELS, "channels",
        "DMA channels that transfer concurrently (the ISA's `q` field names 4)."),
    U32("npu.dma.setup_cycles", npu.dma.setup_cycles, 0, NPU_DMA_SETUP_CYCLES_MAX, "cycles",
        "Per transfer, before the first byte moves."),

    BYTES("npu.dram.size_bytes", npu.dram.size_bytes, NPU_MIN_DRAM_BYTES, NPU_MAX_DRAM_BYTES,
          "Device memory shared with the host (queue, firmware log, buffers). The device maps all of it "
          "when it opens (pages are used only when touched): the check maps it too, so a size this "
          "host cannot map (an address-space limit, strict overcommit) is refused here, not in `exec`."),
    F64("npu.dram.bandwidth_gb_s", npu.dram.bandwidth_gb_s, NPU_DRAM_BANDWIDTH_GB_S_MIN, NPU_DRAM_BANDWIDTH_GB_S_MAX,
        "GB/s", "Peak DRAM bandwidth (1e9 bytes/s), shared by all requesters."),
    F64("npu.dram.efficiency", npu.dram.efficiency, NPU_DRAM_EFFICIENCY_MIN, NPU_DRAM_EFFICIENCY_MAX, "",
        "Sustained fraction of the peak bandwidth."),
    F64("npu.dram.latency_ns", npu.dram.latency_ns, 0.0, NPU_DRAM_LATENCY_NS_MAX, "ns",
        "First-byte latency of a transfer."),
    U32("npu.dram.burst_bytes", npu.dram.burst_bytes, 1, NPU_DRAM_BURST_MAX_BYTES, "bytes",
        "A power of two; each row of a 2-D transfer is rounded up to whole bursts."),
    BYTES("npu.dram.onchip_bytes", npu.dram.onchip_bytes, 0, NPU_MAX_DRAM_BYTES / 2,
          "On-chip memory mapped at the top of the device address space (at most half of `size_bytes`), "
          "as an Edge TPU's parameter cache or a Hexagon TCM: a DMA there runs at the SRAM banks' rate, with "
          "no DRAM latency, bandwidth or energy (it counts as SRAM bytes). The memory plan places the "
          "activation arena there first, then the small constants, then as many weights as fit (the rest "
          "stay behind the DRAM interface). 0: none, every buffer is in DRAM."),

    F64("npu.control.clock_mhz", npu.control.clock_mhz, NPU_CLOCK_MHZ_MIN, NPU_CLOCK_MHZ_MAX, "MHz",
        "Clock of the control core that runs the firmware."),
    U32("npu.control.cycles_per_insn", npu.control.cycles_per_insn, 0, NPU_CYCLES_PER_INSN_MAX, "cycles",
        "Firmware cost to validate and dispatch one instruction (control-core cycles)."),
    U32("npu.control.cycles_per_job", npu.control.cycles_per_job, 0, NPU_CYCLES_PER_JOB_MAX, "cycles",
        "Firmware cost to fetch, validate and complete one job (control-core cycles)."),

    U32("npu.queue_depth", npu.queue_depth, NPU_QUEUE_DEPTH_MIN, NPU_QUEUE_DEPTH_MAX, "instructions",
        "Instructions each unit queue holds."),
    U64("npu.watchdog_cycles", npu.watchdog_cycles, NPU_WATCHDOG_CYCLES_MIN, NPU_WATCHDOG_CYCLES_MAX, "cycles",
        "A job whose units make no progress (every unit with work stalled in a wait) for this many NPU "
        "cycles faults. At least 1000: below that, the firmware's own gaps between dispatches trip it."),
    ENUM("npu.fused_attention", npu.fused_attention, switch_names,
         "on: the firmware has the fused attention kernel (NPU_OP_ATTENTION) and the runtime lowers "
         "attention (MatMul(Q, K^T), a scale, a mask Add, Softmax, MatMul(P, V)) to it where the SRAM "
         "holds a block of keys: the scores stay on chip, the softmax is computed online. off: each of "
         "those ops is its own descriptor and the L x L scores go through DRAM."),
    ENUM("npu.overlap", npu.overlap, switch_names,
         "on: the firmware queues each op's instructions while earlier ops still run (the next op's "
         "loads under this op's compute), each op in the half of the SRAM the previous op left alone "
         "when it fits there, fenced only where it touches what an earlier op still uses (SRAM, DRAM "
         "it writes or reads, semaphores); a per-op profile then covers the op's dispatch, not its "
         "execution (firmware/src/ops/README.md). The runtime's modelled latency also lets CPU work "
         "run beside an NPU job it neither feeds nor follows (docs/run.md). off: the units drain "
         "between ops, CPU and NPU take turns."),
};

static const m4npu_cfg_key cpu_keys[] = {
    U32("cpu.cores", cpu.cores, 1, CPU_CORES_MAX, "cores",
        "CPU cores the runtime's fallback kernels use: the compute rates below are one core's; n cores "
        "reach Amdahl's speedup 1 / (0.1 + 0.9 / n) of them (runtime/cpumodel; 3.08 at 4 cores)."),
    F64("cpu.gflop_s.fp32", cpu.gflop_s.fp32, CPU_GFLOP_S_MIN, CPU_GFLOP_S_MAX, "GFLOP/s",
        "Sustained fp32 rate of one core on the runtime's kernels."),
    F64("cpu.gflop_s.fp16", cpu.gflop_s.fp16, CPU_GFLOP_S_MIN, CPU_GFLOP_S_MAX, "GFLOP/s",
        "Sustained fp16 rate of one core."),
    F64("cpu.gflop_s.int8", cpu.gflop_s.int8, CPU_GFLOP_S_MIN, CPU_GFLOP_S_MAX, "GOP/s",
        "Sustained int8 rate of one core (operations, a MAC is two): int8 data, and MatMul, Gemm and Conv "
        "with weight-only quantised (INT8/INT4) weights."),
    F64("cpu.memory_bandwidth_gb_s", cpu.memory_bandwidth_gb_s, CPU_BANDWIDTH_GB_S_MIN, CPU_BANDWIDTH_GB_S_MAX, "GB/s",
        "Sustained DRAM bandwidth the CPU reaches (1e9 bytes/s)."),
    F64("cpu.dispatch_overhead_us", cpu.dispatch_overhead_us, 0.0, CPU_OVERHEAD_US_MAX, "us",
        "Fixed cost of running one operator on the CPU."),
    F64("cpu.npu_submit_overhead_us", cpu.npu_submit_overhead_us, 0.0, CPU_OVERHEAD_US_MAX, "us",
        "Host time to submit one NPU job (one segment) and resume when it completes: driver call, "
        "doorbell, interrupt, thread wake-up. Charged once per segment at active power."),
    F64("cpu.npu_transfer_overhead_us", cpu.npu_transfer_overhead_us, 0.0, CPU_OVERHEAD_US_MAX, "us",
        "Host time per tensor crossing the CPU/NPU boundary (buffer mapping, cache maintenance), on top "
        "of its quantise/dequantise copy at cpu.memory_bandwidth_gb_s."),
    F64("cpu.npu_op_overhead_us", cpu.npu_op_overhead_us, 0.0, CPU_OVERHEAD_US_MAX, "us",
        "Host time per node of an NPU job, charged with its submission at active power: the per-operation "
        "work of an inference runtime's NPU delegate that prepares, marshals or launches the job op by op "
        "(a TFLite / NNAPI delegate). 0: the runtime submits a compiled graph as one job, as this one does."),
    F64("cpu.active_power_w", cpu.active_power_w, CPU_POWER_W_MIN, CPU_POWER_W_MAX, "W",
        "CPU power while running an operator."),
    F64("cpu.idle_power_w", cpu.idle_power_w, 0.0, CPU_POWER_W_MAX, "W",
        "CPU power while it waits for the NPU. At most cpu.active_power_w."),
};

static const m4npu_cfg_key ops_keys[] = {
    ROW("ops", M4NPU_CFG_OPS, ops, 0, 0, 0, 0, NULL, "",
        "The NPU capability set: a mapping from op names (runtime/ops) to on, off or {dtypes, limits}; "
        "ops not listed run on the CPU. The fields are described below the table."),
};

static const m4npu_cfg_key energy_keys[] = {
    U32("energy.version", energy.version, M4NPU_ENERGY_TABLE_VERSION, M4NPU_ENERGY_TABLE_VERSION, "",
        "Version of the energy table's meaning (docs/energy.md); reports state it."),
    F64("energy.mac_int8_pj", energy.mac_int8_pj, 0.0, ENERGY_MAC_PJ_MAX, "pJ",
        "One int8 x int8 multiply-accumulate in the array."),
    F64("energy.mac_int4_pj", energy.mac_int4_pj, 0.0, ENERGY_MAC_PJ_MAX, "pJ",
        "One int4-weight x int8 multiply-accumulate (replaces mac_int8_pj for those MACs)."),
    F64("energy.sram_pj_per_byte", energy.sram_pj_per_byte, 0.0, ENERGY_PJ_MAX, "pJ/byte",
        "One byte read from or written to the on-chip SRAM, by any unit."),
    F64("energy.dram_pj_per_bit", energy.dram_pj_per_bit, 0.0, ENERGY_PJ_MAX, "pJ/bit",
        "One bit moved to or from device DRAM (burst-rounded DMA bytes, and boundary copies)."),
    F64("energy.vector_pj_per_lane_cycle", energy.vector_pj_per_lane_cycle, 0.0, ENERGY_PJ_MAX, "pJ",
        "One vector lane busy for one cycle (a transcendental op costs more cycles, so more energy)."),
    F64("energy.softmax_pj_per_lane_cycle", energy.softmax_pj_per_lane_cycle, 0.0, ENERGY_PJ_MAX, "pJ",
        "One softmax-tile lane busy for one cycle."),
    F64("energy.output_stage_pj_per_elem", energy.output_stage_pj_per_elem, 0.0, ENERGY_PJ_MAX, "pJ",
        "One result through the matmul tile's output stage (bias add, 32 x 32-bit multiply, rounding shift, "
        "clamp, table read): the matmul tile's element counter (mm with rq)."),
    F64("energy.control_pj_per_cycle", energy.control_pj_per_cycle, 0.0, ENERGY_CONTROL_PJ_MAX, "pJ",
        "The control core running firmware, per NPU cycle it is busy."),
    F64("energy.npu_static_w", energy.npu_static_w, 0.0, ENERGY_STATIC_W_MAX, "W",
        "Leakage and clock tree of the whole NPU, charged over the whole task time."),
    F64("energy.platform_w", energy.platform_w, 0.0, ENERGY_STATIC_W_MAX, "W",
        "The rest of the device while a task runs (SoC fabric and caches, DRAM background and refresh, power "
        "delivery losses), charged over the whole task time with the static energy: what a whole-device "
        "energy measurement includes. 0: the NPU and the CPU only (docs/energy.md)."),
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The device's own check, then whether this host can open it (its DRAM mapped): what `m4npu
 * exec` needs, so that `m4npu config` accepts nothing exec would refuse. */
static int npu_section_check(const m4npu_config *cfg, char *err, size_t errlen)
{
    if (npu_config_check(&cfg->npu, err, errlen) != 0)
        return -1;
    return npu_config_check_host(&cfg->npu, err, errlen);
}

static int cpu_section_check(const m4npu_config *cfg, char *err, size_t errlen)
{
    if (cfg->cpu.idle_power_w > cfg->cpu.active_power_w) {
        char idle[40], active[40];
        config_format_double(cfg->cpu.idle_power_w, idle, sizeof idle);
        config_format_double(cfg->cpu.active_power_w, active, sizeof active);
        snprintf(err, errlen, "cpu.idle_power_w: %s exceeds cpu.active_power_w (%s)", idle, active);
        return -1;
    }
    return 0;
}

static int ops_section_check(const m4npu_config *cfg, char *err, size_t errlen)
{
    return config_ops_check(cfg, err, errlen);
}

static const m4npu_cfg_section sections[] = {
    {"", "Top level", "Identify the configuration.", top_keys, COUNT_OF(top_keys), NULL},
    {"npu", "npu: the device",
     "Every member of npu_device_config (sim/include/npu_config.h), key for key. The ranges below "
     "are those of the device's own check (npu_config_check, npu_config.h), which runs on every "
     "configuration.",
     npu_keys, COUNT_OF(npu_keys), npu_section_check},
    {"ops", "ops: the NPU capability set",
     "Which operators the NPU runs, on which data types and within which sizes; the partitioner "
     "(runtime/partition) puts every other node on the CPU, at the cost of the cpu section plus the "
     "boundary copies. Not listed means off.",
     ops_keys, COUNT_OF(ops_keys), ops_section_check},
    {"cpu", "cpu: the CPU fallback model",
     "The CPU that runs the operators the NPU cannot: each costs max(flops / rate, bytes / "
     "bandwidth) plus the dispatch overhead, at active power; rate is one core's gflop_s times the "
     "speedup of cpu.cores cores.",
     cpu_keys, COUNT_OF(cpu_keys), cpu_section_check},
    {"energy", "energy: the energy table",
     "Energy = the device's action counts (performance counters) x these costs + npu_static_w x time, "
     "plus the CPU's energy from the cpu section and the boundary copies' DRAM traffic. "
     "docs/energy.md gives the sources and the version history.",
     energy_keys, COUNT_OF(energy_keys), NULL},
};

size_t m4npu_config_section_count(void)
{
    return COUNT_OF(sections);
}

const m4npu_cfg_section *m4npu_config_section_at(size_t i)
{
    return i < COUNT_OF(sections) ? &sections[i] : NULL;
}

size_t config_key_count(void)
{
    size_t n = 0;
    for (size_t s = 0; s < COUNT_OF(sections); s++)
        n += sections[s].nkeys;
    return n;
}

const m4npu_cfg_key *config_key_at(size_t i)
{
    for (size_t s = 0; s < COUNT_OF(sections); s++) {
        if (i < sections[s].nkeys)
            return &sections[s].keys[i];
        i -= sections[s].nkeys;
    }
    return NULL;
}

size_t config_key_index(const m4npu_cfg_key *k)
{
    size_t base = 0;
    for (size_t s = 0; s < COUNT_OF(sections); s++) {
        if (k >= sections[s].keys && k < sections[s].keys + sections[s].nkeys)
            return base + (size_t)(k - sections[s].keys);
        base += sections[s].nkeys;
    }
    return base; /* not a row: one past the last */
}

const m4npu_cfg_section *config_key_section(const m4npu_cfg_key *k)
{
    for (size_t s = 0; s < COUNT_OF(sections); s++)
        if (k >= sections[s].keys && k < sections[s].keys + sections[s].nkeys)
            return &sections[s];
    return NULL;
}

const m4npu_cfg_key *m4npu_config_key_find(const char *path)
{
    if (!path)
        return NULL;
    for (size_t i = 0, n = config_key_count(); i < n; i++)
        if (strcmp(config_key_at(i)->path, path) == 0)
            return config_key_at(i);
    return NULL;
}

/* If row path p lies below prefix, the next component: start and length. */
static int next_component(const char *p, const char *prefix, const char **start, size_t *len)
{
    size_t plen = strlen(prefix);
    if (plen) {
        if (strncmp(p, prefix, plen) != 0 || p[plen] != '.')
            return 0;
        p += plen + 1;
    }
    const char *dot = strchr(p, '.');
    *start = p;
    *len = dot ? (size_t)(dot - p) : strlen(p);
    return 1;
}

size_t config_children(const char *prefix, const char **names, size_t *name_len, size_t max)
{
    size_t n = 0;
    for (size_t i = 0, rows = config_key_count(); i < rows; i++) {
        const char *c;
        size_t len;
        if (!next_component(config_key_at(i)->path, prefix, &c, &len))
            continue;
        size_t j = 0;
        while (j < n && !(name_len[j] == len && memcmp(names[j], c, len) == 0))
            j++;
        if (j == n && n < max) {
            names[n] = c;
            name_len[n] = len;
            n++;
        }
    }
    return n;
}

void config_children_list(const char *prefix, char *buf, size_t size)
{
    const char *names[M4NPU_CONFIG_MAX_KEYS];
    size_t lens[M4NPU_CONFIG_MAX_KEYS];
    size_t n = config_children(prefix, names, lens, M4NPU_CONFIG_MAX_KEYS), used = 0;
    if (size)
        buf[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%.*s", i ? ", " : "", (int)lens[i], names[i]);
}

int config_is_mapping(const char *path)
{
    size_t len = strlen(path);
    for (size_t i = 0, rows = config_key_count(); i < rows; i++) {
        const char *p = config_key_at(i)->path;
        if (len == 0 || (strncmp(p, path, len) == 0 && p[len] == '.'))
            return 1;
    }
    return 0;
}

/* ---- defaults */

void m4npu_config_defaults(m4npu_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    npu_config_defaults(&cfg->npu);
    snprintf(cfg->description, sizeof cfg->description, "%s",
             "Small and fast, for tests: a 16x16 array, 256 KiB of SRAM, 64 MiB of DRAM.");
    /* member by member, so that padding stays zero (configurations compare with memcmp) */
    cfg->cpu.cores = 1;
    cfg->cpu.gflop_s.fp32 = 50.0;
    cfg->cpu.gflop_s.fp16 = 100.0;
    cfg->cpu.gflop_s.int8 = 200.0;
    cfg->cpu.memory_bandwidth_gb_s = 10.0;
    cfg->cpu.dispatch_overhead_us = 2.0;
    cfg->cpu.active_power_w = 2.0;
    cfg->cpu.idle_power_w = 0.1;
    cfg->cpu.npu_submit_overhead_us = 20.0;
    cfg->cpu.npu_transfer_overhead_us = 2.0;
    cfg->cpu.npu_op_overhead_us = 0.0;
    config_ops_defaults(&cfg->ops);
    cfg->energy.version = M4NPU_ENERGY_TABLE_VERSION;
    cfg->energy.mac_int8_pj = 0.1;
    cfg->energy.mac_int4_pj = 0.05;
    cfg->energy.sram_pj_per_byte = 5.0;
    cfg->energy.dram_pj_per_bit = 5.0;
    cfg->energy.vector_pj_per_lane_cycle = 0.5;
    cfg->energy.softmax_pj_per_lane_cycle = 0.3;
    cfg->energy.output_stage_pj_per_elem = 0.8;
    cfg->energy.control_pj_per_cycle = 15.0;
    cfg->energy.npu_static_w = 0.05;
    cfg->energy.platform_w = 0.0;
}

/* ---- status names */

static const char *const status_names[M4NPU_CONFIG_STATUS_COUNT] = {
    [M4NPU_CONFIG_OK] = "ok",
    [M4NPU_CONFIG_E_IO] = "cannot read the file",
    [M4NPU_CONFIG_E_SYNTAX] = "malformed YAML",
    [M4NPU_CONFIG_E_EMPTY] = "empty configuration",
    [M4NPU_CONFIG_E_STRUCTURE] = "a mapping was expected",
    [M4NPU_CONFIG_E_UNKNOWN_KEY] = "unknown key",
    [M4NPU_CONFIG_E_DUPLICATE_KEY] = "duplicate key",
    [M4NPU_CONFIG_E_MISSING_KEY] = "missing key",
    [M4NPU_CONFIG_E_TYPE] = "wrong type",
    [M4NPU_CONFIG_E_RANGE] = "value out of range",
    [M4NPU_CONFIG_E_DEVICE] = "the device cannot model this configuration",
    [M4NPU_CONFIG_E_USAGE] = "an override must be KEY=VALUE",
    [M4NPU_CONFIG_E_NOMEM] = "out of memory",
};

const char *m4npu_config_status_str(m4npu_config_status st)
{
    return (unsigned)st < M4NPU_CONFIG_STATUS_COUNT ? status_names[st] : "unknown status";
}
