/* npu_config.c -- the device's own statement of which configurations it can model.
 *
 * Every loader (runtime/config, tests, tools) fills an npu_device_config and calls
 * npu_config_check(); the device never runs a configuration this file rejects. Limits that come
 * from the instruction set (tile geometry, SRAM addresses, DMA channels) are read from isa/'s
 * table, not restated here, so that a change of the ISA moves them too. Each message starts with
 * the YAML key (npu.sram.banks ...) so that the loader can point at the line that set it, and
 * every range check states the range and its unit.
 *
 * npu_dram_map is the one place device memory is mapped: the device maps through it when it
 * opens, and npu_config_check_host maps (and releases) through it to tell `m4npu config`
 * whether `m4npu exec` could open the device on this host.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE: the mapping the device makes */
#include "npu_config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "isa.h"

#define KIB_BYTES 1024ull
#define MIB_BYTES (1024ull * KIB_BYTES)

/* ---- the RTL tiles that can be built
 *
 * rtl/CMakeLists.txt generates a header (its path in NPU_RTL_TILES_HEADER) made of
 * NPU_RTL_MATMUL(ROWS, COLS, LANES) and NPU_RTL_SOFTMAX(LANES, MAX_LEN) rows for the sizes it
 * Verilates. Without it (this file built on its own) the defaults are the sizes rtl/ builds for
 * the tests: a 16x16 array with an 8-lane output stage, a 4-lane softmax with rows up to 512. */
typedef struct npu_rtl_matmul_size {
    uint32_t rows, cols, lanes;
} npu_rtl_matmul_size;

typedef struct npu_rtl_softmax_size {
    uint32_t lanes, max_len;
} npu_rtl_softmax_size;

static const npu_rtl_matmul_size rtl_matmul_sizes[] = {
#ifdef NPU_RTL_TILES_HEADER
#define NPU_RTL_MATMUL(ROWS, COLS, LANES) {ROWS, COLS, LANES},
#define NPU_RTL_SOFTMAX(LANES, MAX_LEN)
#include NPU_RTL_TILES_HEADER
#undef NPU_RTL_MATMUL
#undef NPU_RTL_SOFTMAX
#else
    {16, 16, 8},
#endif
};

static const npu_rtl_softmax_size rtl_softmax_sizes[] = {
#ifdef NPU_RTL_TILES_HEADER
#define NPU_RTL_MATMUL(ROWS, COLS, LANES)
#define NPU_RTL_SOFTMAX(LANES, MAX_LEN) {LANES, MAX_LEN},
#include NPU_RTL_TILES_HEADER
#undef NPU_RTL_MATMUL
#undef NPU_RTL_SOFTMAX
#else
    {4, 512},
#endif
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static int rtl_matmul_built(uint32_t rows, uint32_t cols, uint32_t lanes)
{
    for (size_t i = 0; i < COUNT_OF(rtl_matmul_sizes); i++)
        if (rtl_matmul_sizes[i].rows == rows && rtl_matmul_sizes[i].cols == cols &&
            rtl_matmul_sizes[i].lanes == lanes)
            return 1;
    return 0;
}

/* A tile built for rows at least max_len long serves it (rtl/CMakeLists.txt). */
static int rtl_softmax_built(uint32_t lanes, uint32_t max_len)
{
    for (size_t i = 0; i < COUNT_OF(rtl_softmax_sizes); i++)
        if (rtl_softmax_sizes[i].lanes == lanes && rtl_softmax_sizes[i].max_len >= max_len)
            return 1;
    return 0;
}

/* "16x16/8, 64x64/64" */
static void rtl_matmul_list(char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < COUNT_OF(rtl_matmul_sizes) && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%ux%u/%u", i ? ", " : "", rtl_matmul_sizes[i].rows,
                              rtl_matmul_sizes[i].cols, rtl_matmul_sizes[i].lanes);
}

/* "4 lanes up to 512, 64 lanes up to 4096" */
static void rtl_softmax_list(char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < COUNT_OF(rtl_softmax_sizes) && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%u lanes up to %u", i ? ", " : "", rtl_softmax_sizes[i].lanes,
                              rtl_softmax_sizes[i].max_len);
}

/* ---- limits taken from the ISA table */

static int64_t isa_field_max(isa_op op, int field)
{
    return isa_desc(op)->fields[field].max;
}

static uint64_t isa_sram_reach_bytes(void)
{
    return 1ull << isa_desc(ISA_OP_DMA_LD)->fields[ISA_F(DMA_LD, SRAM)].width;
}

static unsigned isa_sram_address_bits(void)
{
    return isa_desc(ISA_OP_DMA_LD)->fields[ISA_F(DMA_LD, SRAM)].width;
}

static uint32_t max_dma_channels(void)
{
    uint64_t isa_channels = (uint64_t)isa_field_max(ISA_OP_DMA_LD, ISA_F(DMA_LD, Q)) + 1;
    return isa_channels < NPU_MAX_DMA_CHANNELS ? (uint32_t)isa_channels : NPU_MAX_DMA_CHANNELS;
}

/* ---- defaults: configs/test.yaml */

void npu_config_defaults(npu_device_config *cfg)
{
    /* Member by member after the memset, so that padding stays zero and two default
     * configurations compare equal byte for byte. */
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->name, sizeof cfg->name, "%s", "test");
    cfg->clock_mhz = 1000.0;
    cfg->matmul.rows = 16;
    cfg->matmul.cols = 16;
    cfg->matmul.impl = NPU_IMPL_FAST;
    cfg->matmul.output_stage.enabled = NPU_ON;
    cfg->matmul.output_stage.lanes = 8;
    cfg->matmul.full_array_gemv = NPU_OFF;
    cfg->softmax.lanes = 4;
    cfg->softmax.max_len = 512;
    cfg->softmax.impl = NPU_IMPL_FAST;
    cfg->vector.lanes = 16;
    cfg->vector.pipeline_cycles = 4;
    cfg->vector.simple_cycles = 1;
    cfg->vector.divsqrt_cycles = 4;
    cfg->vector.transcendental_cycles = 8;
    cfg->sram.size_bytes = 256 * KIB_BYTES;
    cfg->sram.banks = 8;
    cfg->sram.bank_width_bytes = 16;
    cfg->dma.channels = 2;
    cfg->dma.setup_cycles = 16;
    cfg->dram.size_bytes = 64 * MIB_BYTES;
    cfg->dram.bandwidth_gb_s = 16.0;
    cfg->dram.efficiency = 1.0;
    cfg->dram.latency_ns = 100.0;
    cfg->dram.burst_bytes = 64;
    cfg->control.clock_mhz = 500.0;
    cfg->control.cycles_per_insn = 10;
    cfg->control.cycles_per_job = 200;
    cfg->queue_depth = 8;
    cfg->watchdog_cycles = 1000000;
    cfg->fused_attention = NPU_ON;
    cfg->overlap = NPU_OFF;
}

/* ---- the check */

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

#define FAIL(...) return fail(err, errlen, __VA_ARGS__)

/* "16 MiB" when v is a whole number of KiB, MiB, GiB or TiB, else the bytes. */
static void format_bytes(uint64_t v, char *buf, size_t size)
{
    static const char *const suffix[] = {"TiB", "GiB", "MiB", "KiB"};
    for (int i = 0; i < 4; i++) {
        uint64_t unit = 1ull << (10 * (4 - i));
        if (v != 0 && v % unit == 0) {
            snprintf(buf, size, "%llu %s", (unsigned long long)(v / unit), suffix[i]);
            return;
        }
    }
    snprintf(buf, size, "%llu", (unsigned long long)v);
}

/* "KEY: V is outside LO..HI UNIT (WHY)": every range check says the range and its unit. */
static int check_uint(const char *key, uint64_t v, uint64_t lo, uint64_t hi, const char *unit, const char *why,
                      char *err, size_t errlen)
{
    if (v >= lo && v <= hi)
        return 0;
    FAIL("%s: %llu is outside %llu..%llu%s%s%s%s%s", key, (unsigned long long)v, (unsigned long long)lo,
         (unsigned long long)hi, unit[0] ? " " : "", unit, why ? " (" : "", why ? why : "", why ? ")" : "");
}

#define PLAIN_INTEGER_LIMIT 1e15 /* whole numbers below this print without an exponent */

/* The shortest text that reads back as v ("1e-320", not "9.99989e-321"; "10000", not "1e+04"), as
 * runtime/config prints values. */
static void format_double(double v, char *buf, size_t size)
{
    if (v == floor(v) && fabs(v) < PLAIN_INTEGER_LIMIT) {
        snprintf(buf, size, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v || v != v)
            return;
    }
}

static int check_double(const char *key, double v, double lo, double hi, const char *unit, char *err, size_t errlen)
{
    if (v >= lo && v <= hi) /* false for NaN */
        return 0;
    char val[40], l[40], h[40];
    format_double(v, val, sizeof val);
    format_double(lo, l, sizeof l);
    format_double(hi, h, sizeof h);
    FAIL("%s: %s is outside %s..%s%s%s", key, val, l, h, unit[0] ? " " : "", unit);
}

static int check_bytes(const char *key, uint64_t v, uint64_t lo, uint64_t hi, const char *why, char *err,
                       size_t errlen)
{
    if (v >= lo && v <= hi)
        return 0;
    char val[48], sized[40], l[40], h[40];
    format_bytes(v, sized, sizeof sized);
    if (strchr(sized, ' '))
        snprintf(val, sizeof val, "%llu (%s)", (unsigned long long)v, sized);
    else
        snprintf(val, sizeof val, "%llu", (unsigned long long)v);
    format_bytes(lo, l, sizeof l);
    format_bytes(hi, h, sizeof h);
    FAIL("%s: %s is outside %s..%s%s%s%s%s", key, val, l, h, strchr(h, ' ') ? "" : " bytes", why ? " (" : "",
         why ? why : "", why ? ")" : "");
}

static int check_impl(const char *key, npu_tile_impl impl, char *err, size_t errlen)
{
    if (impl != NPU_IMPL_FAST && impl != NPU_IMPL_RTL)
        FAIL("%s: %d is not a tile implementation (expected fast or rtl)", key, (int)impl);
    return 0;
}

static int check_matmul(const npu_matmul_config *mm, char *err, size_t errlen)
{
    uint64_t max_rows = (uint64_t)isa_field_max(ISA_OP_MM, ISA_F(MM, M));
    uint64_t max_cols = (uint64_t)isa_field_max(ISA_OP_MM, ISA_F(MM, N));
    if (check_uint("npu.matmul.rows", mm->rows, 1, max_rows, "PEs", "the ISA's mm m field", err, errlen) ||
        check_uint("npu.matmul.cols", mm->cols, 1, max_cols, "PEs", "the ISA's mm n field", err, errlen) ||
        check_impl("npu.matmul.impl", mm->impl, err, errlen))
        return -1;
    if (mm->output_stage.enabled != NPU_OFF && mm->output_stage.enabled != NPU_ON)
        FAIL("npu.matmul.output_stage.enabled: %d is not a switch (expected on or off)", (int)mm->output_stage.enabled);
    if (check_uint("npu.matmul.output_stage.lanes", mm->output_stage.lanes, 1, max_cols, "elements/cycle",
                   "the ISA's mm n field", err, errlen))
        return -1;
    if (mm->full_array_gemv != NPU_OFF && mm->full_array_gemv != NPU_ON)
        FAIL("npu.matmul.full_array_gemv: %d is not a switch (expected on or off)", (int)mm->full_array_gemv);
    if (mm->impl == NPU_IMPL_RTL && mm->full_array_gemv == NPU_ON)
        FAIL("npu.matmul.full_array_gemv: on needs npu.matmul.impl fast (the rtl tile does not split k over its rows)");
    if (mm->impl == NPU_IMPL_RTL && !rtl_matmul_built(mm->rows, mm->cols, mm->output_stage.lanes)) {
        char sizes[256];
        rtl_matmul_list(sizes, sizeof sizes);
        FAIL("npu.matmul.impl: no rtl tile is built for a %ux%u array with an output stage of %u lanes (built: %s; "
             "rows x cols / lanes); use fast", mm->rows, mm->cols, mm->output_stage.lanes, sizes);
    }
    return 0;
}

static int check_softmax(const npu_softmax_config *sm, char *err, size_t errlen)
{
    uint64_t max_len = (uint64_t)isa_field_max(ISA_OP_SM, ISA_F(SM, LEN));
    if (check_uint("npu.softmax.lanes", sm->lanes, 1, max_len, "elements/cycle", "the ISA's sm len field", err,
                   errlen) ||
        check_uint("npu.softmax.max_len", sm->max_len, 1, max_len, "elements", "the ISA's sm len field", err, errlen))
        return -1;
    if (sm->lanes > sm->max_len)
        FAIL("npu.softmax.lanes: %u exceeds npu.softmax.max_len (%u)", sm->lanes, sm->max_len);
    if (check_impl("npu.softmax.impl", sm->impl, err, errlen))
        return -1;
    if (sm->impl == NPU_IMPL_RTL && !rtl_softmax_built(sm->lanes, sm->max_len)) {
        char built[256];
        rtl_softmax_list(built, sizeof built);
        FAIL("npu.softmax.impl: no rtl tile is built with %u lanes and rows of %u (built: %s); use fast", sm->lanes,
             sm->max_len, built);
    }
    return 0;
}

static int check_vector(const npu_vector_config *v, char *err, size_t errlen)
{
    if (check_uint("npu.vector.lanes", v->lanes, 1, NPU_VECTOR_LANES_MAX, "elements/cycle", NULL, err, errlen) ||
        check_uint("npu.vector.pipeline_cycles", v->pipeline_cycles, 1, NPU_UNIT_CYCLES_MAX, "cycles", NULL, err,
                   errlen) ||
        check_uint("npu.vector.simple_cycles", v->simple_cycles, 1, NPU_UNIT_CYCLES_MAX, "cycles", NULL, err, errlen) ||
        check_uint("npu.vector.divsqrt_cycles", v->divsqrt_cycles, 1, NPU_UNIT_CYCLES_MAX, "cycles", NULL, err,
                   errlen) ||
        check_uint("npu.vector.transcendental_cycles", v->transcendental_cycles, 1, NPU_UNIT_CYCLES_MAX, "cycles",
                   NULL, err, errlen))
        return -1;
    return 0;
}

static int check_sram(const npu_sram_config *s, char *err, size_t errlen)
{
    char reach[64];
    snprintf(reach, sizeof reach, "the ISA's %u-bit SRAM addresses", isa_sram_address_bits());
    if (check_bytes("npu.sram.size_bytes", s->size_bytes, NPU_SRAM_MIN_BYTES, isa_sram_reach_bytes(), reach, err,
                    errlen) ||
        check_uint("npu.sram.banks", s->banks, 1, NPU_SRAM_BANKS_MAX, "banks", NULL, err, errlen) ||
        check_uint("npu.sram.bank_width_bytes", s->bank_width_bytes, 1, NPU_SRAM_BANK_WIDTH_MAX_BYTES, "bytes", NULL,
                   err, errlen))
        return -1;
    uint64_t stripe = (uint64_t)s->banks * s->bank_width_bytes;
    if (s->size_bytes % stripe != 0)
        FAIL("npu.sram.size_bytes: %llu is not a multiple of banks * bank_width_bytes (%u * %u = %llu)",
             (unsigned long long)s->size_bytes, s->banks, s->bank_width_bytes, (unsigned long long)stripe);
    return 0;
}

static int check_dma(const npu_dma_config *d, char *err, size_t errlen)
{
    if (check_uint("npu.dma.channels", d->channels, 1, max_dma_channels(), "channels", "the ISA's dma q field", err,
                   errlen) ||
        check_uint("npu.dma.setup_cycles", d->setup_cycles, 0, NPU_DMA_SETUP_CYCLES_MAX, "cycles", NULL, err, errlen))
        return -1;
    return 0;
}

static int check_dram(const npu_dram_config *d, char *err, size_t errlen)
{
    if (check_bytes("npu.dram.size_bytes", d->size_bytes, NPU_MIN_DRAM_BYTES, NPU_MAX_DRAM_BYTES, NULL, err,
                    errlen) ||
        check_double("npu.dram.bandwidth_gb_s", d->bandwidth_gb_s, NPU_DRAM_BANDWIDTH_GB_S_MIN,
                     NPU_DRAM_BANDWIDTH_GB_S_MAX, "GB/s", err, errlen) ||
        check_double("npu.dram.efficiency", d->efficiency, NPU_DRAM_EFFICIENCY_MIN, NPU_DRAM_EFFICIENCY_MAX, "", err,
                     errlen) ||
        check_double("npu.dram.latency_ns", d->latency_ns, 0.0, NPU_DRAM_LATENCY_NS_MAX, "ns", err, errlen) ||
        check_uint("npu.dram.burst_bytes", d->burst_bytes, 1, NPU_DRAM_BURST_MAX_BYTES, "bytes", NULL, err, errlen) ||
        check_bytes("npu.dram.onchip_bytes", d->onchip_bytes, 0, d->size_bytes / 2,
                    "at most half of npu.dram.size_bytes: the rest is the memory behind the DRAM interface", err,
                    errlen))
        return -1;
    if ((d->burst_bytes & (d->burst_bytes - 1)) != 0)
        FAIL("npu.dram.burst_bytes: %u is not a power of two", d->burst_bytes);
    return 0;
}

static int check_control(const npu_device_config *cfg, char *err, size_t errlen)
{
    if (check_double("npu.control.clock_mhz", cfg->control.clock_mhz, NPU_CLOCK_MHZ_MIN, NPU_CLOCK_MHZ_MAX, "MHz", err,
                     errlen) ||
        check_uint("npu.control.cycles_per_insn", cfg->control.cycles_per_insn, 0, NPU_CYCLES_PER_INSN_MAX, "cycles",
                   NULL, err, errlen) ||
        check_uint("npu.control.cycles_per_job", cfg->control.cycles_per_job, 0, NPU_CYCLES_PER_JOB_MAX, "cycles",
                   NULL, err, errlen) ||
        check_uint("npu.queue_depth", cfg->queue_depth, NPU_QUEUE_DEPTH_MIN, NPU_QUEUE_DEPTH_MAX, "instructions", NULL,
                   err, errlen) ||
        check_uint("npu.watchdog_cycles", cfg->watchdog_cycles, NPU_WATCHDOG_CYCLES_MIN, NPU_WATCHDOG_CYCLES_MAX,
                   "cycles", NULL, err, errlen))
        return -1;
    return 0;
}

int npu_config_check(const npu_device_config *cfg, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!cfg)
        FAIL("npu: no configuration");
    if (memchr(cfg->name, '\0', sizeof cfg->name) == NULL)
        FAIL("name: longer than %d bytes", NPU_CONFIG_NAME_LEN - 1);
    if (cfg->name[0] == '\0')
        FAIL("name: must not be empty");
    if (check_double("npu.clock_mhz", cfg->clock_mhz, NPU_CLOCK_MHZ_MIN, NPU_CLOCK_MHZ_MAX, "MHz", err, errlen))
        return -1;
    if (check_matmul(&cfg->matmul, err, errlen) || check_softmax(&cfg->softmax, err, errlen) ||
        check_vector(&cfg->vector, err, errlen) || check_sram(&cfg->sram, err, errlen) ||
        check_dma(&cfg->dma, err, errlen) || check_dram(&cfg->dram, err, errlen) || check_control(cfg, err, errlen))
        return -1;
    if (cfg->fused_attention != NPU_OFF && cfg->fused_attention != NPU_ON)
        FAIL("npu.fused_attention: %d is not a switch (expected on or off)", (int)cfg->fused_attention);
    if (cfg->overlap != NPU_OFF && cfg->overlap != NPU_ON)
        FAIL("npu.overlap: %d is not a switch (expected on or off)", (int)cfg->overlap);
    return 0;
}

/* ---- the host */

void *npu_dram_map(uint64_t size, char *err, size_t errlen)
{
    void *mem = size <= SIZE_MAX ? mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                                 : MAP_FAILED;
    if (mem != MAP_FAILED)
        return mem;
    int why = size <= SIZE_MAX ? errno : ENOMEM;
    char sized[40];
    format_bytes(size, sized, sizeof sized);
    fail(err, errlen,
         "npu.dram.size_bytes: %s cannot be mapped on this host (%s); the device maps all of its DRAM when it "
         "opens: lower it, or raise the host's limit (ulimit -v, vm.overcommit_memory)",
         sized, strerror(why));
    return NULL;
}

void npu_dram_unmap(void *mem, uint64_t size)
{
    if (mem)
        munmap(mem, (size_t)size);
}

int npu_config_check_host(const npu_device_config *cfg, char *err, size_t errlen)
{
    void *mem = npu_dram_map(cfg->dram.size_bytes, err, errlen);
    if (!mem)
        return -1;
    npu_dram_unmap(mem, cfg->dram.size_bytes);
    return 0;
}
