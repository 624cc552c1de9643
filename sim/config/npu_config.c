/* npu_config.c -- the device's own statement of which configurations it can model.
 *
 * Every loader (runtime/config, tests, tools) fills an npu_device_config and calls
 * npu_config_check(); the device never runs a configuration this file rejects. Limits that come
 * from the instruction set (tile geometry, SRAM addresses, DMA channels) are read from isa/'s
 * table, not restated here, so that a change of the ISA moves them too. Each message starts with
 * the YAML key (npu.sram.banks ...) so that the loader can point at the line that set it.
 */
#include "npu_config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "isa.h"

#define KIB_BYTES 1024ull
#define MIB_BYTES (1024ull * KIB_BYTES)

/* The smallest device memory the model accepts: the command queue, the firmware log and one
 * job's buffers must fit beside each other. */
#define NPU_MIN_DRAM_BYTES (1ull * MIB_BYTES)

/* ---- the RTL tiles that can be built
 *
 * rtl/CMakeLists.txt generates a header (its path in NPU_RTL_TILES_HEADER) made of
 * NPU_RTL_MATMUL(ROWS, COLS) and NPU_RTL_SOFTMAX(LANES) rows for the sizes it Verilates, and
 * states the softmax tiles' longest row in NPU_RTL_SM_MAX_LEN. Without it (this file built on its
 * own) the defaults are the sizes rtl/ builds for the tests: a 16x16 array, a 4-lane softmax. */
#ifndef NPU_RTL_SM_MAX_LEN
#define NPU_RTL_SM_MAX_LEN 512
#endif
typedef struct npu_rtl_matmul_size {
    uint32_t rows, cols;
} npu_rtl_matmul_size;

static const npu_rtl_matmul_size rtl_matmul_sizes[] = {
#ifdef NPU_RTL_TILES_HEADER
#define NPU_RTL_MATMUL(ROWS, COLS) {ROWS, COLS},
#define NPU_RTL_SOFTMAX(LANES)
#include NPU_RTL_TILES_HEADER
#undef NPU_RTL_MATMUL
#undef NPU_RTL_SOFTMAX
#else
    {16, 16},
#endif
};

static const uint32_t rtl_softmax_lanes[] = {
#ifdef NPU_RTL_TILES_HEADER
#define NPU_RTL_MATMUL(ROWS, COLS)
#define NPU_RTL_SOFTMAX(LANES) LANES,
#include NPU_RTL_TILES_HEADER
#undef NPU_RTL_MATMUL
#undef NPU_RTL_SOFTMAX
#else
    4,
#endif
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static int rtl_matmul_built(uint32_t rows, uint32_t cols)
{
    for (size_t i = 0; i < COUNT_OF(rtl_matmul_sizes); i++)
        if (rtl_matmul_sizes[i].rows == rows && rtl_matmul_sizes[i].cols == cols)
            return 1;
    return 0;
}

static int rtl_softmax_built(uint32_t lanes)
{
    for (size_t i = 0; i < COUNT_OF(rtl_softmax_lanes); i++)
        if (rtl_softmax_lanes[i] == lanes)
            return 1;
    return 0;
}

/* "16x16, 32x32" */
static void rtl_matmul_list(char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < COUNT_OF(rtl_matmul_sizes) && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%ux%u", i ? ", " : "", rtl_matmul_sizes[i].rows,
                              rtl_matmul_sizes[i].cols);
}

static void rtl_softmax_list(char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < COUNT_OF(rtl_softmax_lanes) && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%u", i ? ", " : "", rtl_softmax_lanes[i]);
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

static int check_clock(const char *key, double mhz, char *err, size_t errlen)
{
    if (!isfinite(mhz) || !(mhz > 0.0))
        FAIL("%s: %g must be a finite number greater than 0", key, mhz);
    return 0;
}

static int check_impl(const char *key, npu_tile_impl impl, char *err, size_t errlen)
{
    if (impl != NPU_IMPL_FAST && impl != NPU_IMPL_RTL)
        FAIL("%s: %d is not a tile implementation (expected fast or rtl)", key, (int)impl);
    return 0;
}

static int check_matmul(const npu_matmul_config *mm, char *err, size_t errlen)
{
    int64_t max_rows = isa_field_max(ISA_OP_MM, ISA_F(MM, M));
    int64_t max_cols = isa_field_max(ISA_OP_MM, ISA_F(MM, N));
    if (mm->rows < 1 || mm->rows > max_rows)
        FAIL("npu.matmul.rows: %u is outside 1..%lld (the ISA's mm m field)", mm->rows, (long long)max_rows);
    if (mm->cols < 1 || mm->cols > max_cols)
        FAIL("npu.matmul.cols: %u is outside 1..%lld (the ISA's mm n field)", mm->cols, (long long)max_cols);
    if (check_impl("npu.matmul.impl", mm->impl, err, errlen))
        return -1;
    if (mm->impl == NPU_IMPL_RTL && !rtl_matmul_built(mm->rows, mm->cols)) {
        char sizes[128];
        rtl_matmul_list(sizes, sizeof sizes);
        FAIL("npu.matmul.impl: no rtl tile is built for a %ux%u array (built: %s); use fast",
             mm->rows, mm->cols, sizes);
    }
    return 0;
}

static int check_softmax(const npu_softmax_config *sm, char *err, size_t errlen)
{
    int64_t max_len = isa_field_max(ISA_OP_SM, ISA_F(SM, LEN));
    if (sm->lanes < 1)
        FAIL("npu.softmax.lanes: must be at least 1");
    if (sm->max_len < 1 || sm->max_len > max_len)
        FAIL("npu.softmax.max_len: %u is outside 1..%lld (the ISA's sm len field)", sm->max_len,
             (long long)max_len);
    if (sm->lanes > sm->max_len)
        FAIL("npu.softmax.lanes: %u exceeds npu.softmax.max_len (%u)", sm->lanes, sm->max_len);
    if (check_impl("npu.softmax.impl", sm->impl, err, errlen))
        return -1;
    if (sm->impl == NPU_IMPL_RTL && !rtl_softmax_built(sm->lanes)) {
        char lanes[128];
        rtl_softmax_list(lanes, sizeof lanes);
        FAIL("npu.softmax.impl: no rtl tile is built with %u lanes (built: %s); use fast", sm->lanes, lanes);
    }
    if (sm->impl == NPU_IMPL_RTL && sm->max_len > NPU_RTL_SM_MAX_LEN) {
        FAIL("npu.softmax.max_len: %u exceeds the %u-element rows the rtl softmax tiles are built for",
             sm->max_len, (unsigned)NPU_RTL_SM_MAX_LEN);
    }
    return 0;
}

static int check_vector(const npu_vector_config *v, char *err, size_t errlen)
{
    if (v->lanes < 1)
        FAIL("npu.vector.lanes: must be at least 1");
    if (v->pipeline_cycles < 1)
        FAIL("npu.vector.pipeline_cycles: must be at least 1");
    if (v->simple_cycles < 1)
        FAIL("npu.vector.simple_cycles: must be at least 1");
    if (v->divsqrt_cycles < 1)
        FAIL("npu.vector.divsqrt_cycles: must be at least 1");
    if (v->transcendental_cycles < 1)
        FAIL("npu.vector.transcendental_cycles: must be at least 1");
    return 0;
}

static int check_sram(const npu_sram_config *s, char *err, size_t errlen)
{
    uint64_t reach = isa_sram_reach_bytes();
    if (s->size_bytes < 1)
        FAIL("npu.sram.size_bytes: must be at least 1");
    if (s->size_bytes > reach)
        FAIL("npu.sram.size_bytes: %llu exceeds the %llu MiB the ISA's %u-bit SRAM addresses reach",
             (unsigned long long)s->size_bytes, (unsigned long long)(reach / MIB_BYTES), isa_sram_address_bits());
    if (s->banks < 1)
        FAIL("npu.sram.banks: must be at least 1");
    if (s->bank_width_bytes < 1)
        FAIL("npu.sram.bank_width_bytes: must be at least 1");
    uint64_t stripe = (uint64_t)s->banks * s->bank_width_bytes;
    if (s->size_bytes % stripe != 0)
        FAIL("npu.sram.size_bytes: %llu is not a multiple of banks * bank_width_bytes (%u * %u = %llu)",
             (unsigned long long)s->size_bytes, s->banks, s->bank_width_bytes, (unsigned long long)stripe);
    return 0;
}

static int check_dma(const npu_dma_config *d, char *err, size_t errlen)
{
    uint32_t max = max_dma_channels();
    if (d->channels < 1 || d->channels > max)
        FAIL("npu.dma.channels: %u is outside 1..%u (the ISA's dma q field)", d->channels, max);
    return 0;
}

static int check_dram(const npu_dram_config *d, char *err, size_t errlen)
{
    if (d->size_bytes < NPU_MIN_DRAM_BYTES)
        FAIL("npu.dram.size_bytes: %llu is below the 1 MiB minimum (queue, firmware log and buffers)",
             (unsigned long long)d->size_bytes);
    if (!isfinite(d->bandwidth_gb_s) || !(d->bandwidth_gb_s > 0.0))
        FAIL("npu.dram.bandwidth_gb_s: %g must be a finite number greater than 0", d->bandwidth_gb_s);
    if (!isfinite(d->efficiency) || !(d->efficiency > 0.0) || d->efficiency > 1.0)
        FAIL("npu.dram.efficiency: %g is outside (0, 1]", d->efficiency);
    if (!isfinite(d->latency_ns) || !(d->latency_ns >= 0.0))
        FAIL("npu.dram.latency_ns: %g must be a finite number, at least 0", d->latency_ns);
    if (d->burst_bytes < 1 || (d->burst_bytes & (d->burst_bytes - 1)) != 0)
        FAIL("npu.dram.burst_bytes: %u is not a power of two", d->burst_bytes);
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
    if (check_clock("npu.clock_mhz", cfg->clock_mhz, err, errlen))
        return -1;
    if (check_matmul(&cfg->matmul, err, errlen) || check_softmax(&cfg->softmax, err, errlen) ||
        check_vector(&cfg->vector, err, errlen) || check_sram(&cfg->sram, err, errlen) ||
        check_dma(&cfg->dma, err, errlen) || check_dram(&cfg->dram, err, errlen))
        return -1;
    if (check_clock("npu.control.clock_mhz", cfg->control.clock_mhz, err, errlen))
        return -1;
    if (cfg->queue_depth < 1)
        FAIL("npu.queue_depth: must be at least 1");
    if (cfg->watchdog_cycles < 1)
        FAIL("npu.watchdog_cycles: must be at least 1");
    return 0;
}
