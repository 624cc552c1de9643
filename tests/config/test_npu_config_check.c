/* npu_config_check(): every limit the device states, with its exact message naming the YAML key;
 * and the loader's schema agrees with it (what the schema documents as out of range, the device
 * rejects; every member of npu_device_config has a row). */
#include "config_test_util.h"

#include <math.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "npu_config.h"

#define MIB (1024ull * 1024ull)

static void expect(const npu_device_config *cfg, const char *msg)
{
    char err[512];
    int rc = npu_config_check(cfg, err, sizeof err);
    if (!msg) {
        if (rc != 0)
            fail_msg("expected a valid configuration, got: %s", err);
        return;
    }
    assert_int_equal(rc, -1);
    assert_string_equal(err, msg);
}

/* A message that lists what this build compiled: its fixed start, and the default sizes in it. */
static void expect_listing(const npu_device_config *cfg, const char *start, const char *listed, const char *end)
{
    char err[512];
    assert_int_equal(npu_config_check(cfg, err, sizeof err), -1);
    if (strncmp(err, start, strlen(start)) != 0 || !strstr(err, listed) ||
        strcmp(err + strlen(err) - strlen(end), end) != 0)
        fail_msg("got: %s\nwant: %s...%s...%s", err, start, listed, end);
}

static void test_defaults_are_test_yaml_values(void **state)
{
    (void)state;
    npu_device_config c;
    npu_config_defaults(&c);
    expect(&c, NULL);
    assert_string_equal(c.name, "test");
    assert_true(c.clock_mhz == 1000.0);
    assert_int_equal(c.matmul.rows, 16);
    assert_int_equal(c.matmul.cols, 16);
    assert_int_equal(c.matmul.impl, NPU_IMPL_FAST);
    assert_int_equal(c.matmul.output_stage.enabled, NPU_ON);
    assert_int_equal(c.matmul.output_stage.lanes, 8);
    assert_int_equal(c.softmax.lanes, 4);
    assert_int_equal(c.softmax.max_len, 512);
    assert_int_equal(c.vector.lanes, 16);
    assert_int_equal(c.vector.pipeline_cycles, 4);
    assert_int_equal(c.vector.simple_cycles, 1);
    assert_int_equal(c.vector.divsqrt_cycles, 4);
    assert_int_equal(c.vector.transcendental_cycles, 8);
    assert_int_equal(c.sram.size_bytes, 256 * 1024);
    assert_int_equal(c.sram.banks, 8);
    assert_int_equal(c.sram.bank_width_bytes, 16);
    assert_int_equal(c.dma.channels, 2);
    assert_int_equal(c.dma.setup_cycles, 16);
    assert_int_equal(c.dram.size_bytes, 64 * MIB);
    assert_true(c.dram.bandwidth_gb_s == 16.0 && c.dram.efficiency == 1.0 && c.dram.latency_ns == 100.0);
    assert_int_equal(c.dram.burst_bytes, 64);
    assert_true(c.control.clock_mhz == 500.0);
    assert_int_equal(c.control.cycles_per_insn, 10);
    assert_int_equal(c.control.cycles_per_job, 200);
    assert_int_equal(c.queue_depth, 8);
    assert_int_equal(c.watchdog_cycles, 1000000);
}

static void test_clocks(void **state)
{
    (void)state;
    npu_device_config c;
    npu_config_defaults(&c);
    c.clock_mhz = 0;
    expect(&c, "npu.clock_mhz: 0 is outside 1..10000 MHz");
    c.clock_mhz = NAN;
    expect(&c, "npu.clock_mhz: nan is outside 1..10000 MHz");
    c.clock_mhz = INFINITY;
    expect(&c, "npu.clock_mhz: inf is outside 1..10000 MHz");
    c.clock_mhz = 10000;
    expect(&c, NULL);
    npu_config_defaults(&c);
    c.control.clock_mhz = -1;
    expect(&c, "npu.control.clock_mhz: -1 is outside 1..10000 MHz");
}

static void test_matmul(void **state)
{
    (void)state;
    npu_device_config c;
    npu_config_defaults(&c);
    c.matmul.rows = 0;
    expect(&c, "npu.matmul.rows: 0 is outside 1..4095 PEs (the ISA's mm m field)");
    c.matmul.rows = 4096;
    expect(&c, "npu.matmul.rows: 4096 is outside 1..4095 PEs (the ISA's mm m field)");
    c.matmul.rows = 4095;
    c.matmul.cols = 4096;
    expect(&c, "npu.matmul.cols: 4096 is outside 1..4095 PEs (the ISA's mm n field)");
    c.matmul.cols = 4095;
    expect(&c, NULL);
    /* rtl: only the sizes that are built */
    npu_config_defaults(&c);
    c.matmul.impl = NPU_IMPL_RTL;
    expect(&c, NULL);
    c.matmul.rows = 32;
    c.matmul.cols = 32;
    expect_listing(&c, "npu.matmul.impl: no rtl tile is built for a 32x32 array with an output stage of 8 lanes (built: ",
                   "16x16/8", "; rows x cols / lanes); use fast");
    c.matmul.rows = c.matmul.cols = 16;
    c.matmul.output_stage.lanes = 16; /* the geometry is built, with another stage */
    expect_listing(&c, "npu.matmul.impl: no rtl tile is built for a 16x16 array with an output stage of 16 lanes",
                   "16x16/8", "use fast");
    c.matmul.impl = (npu_tile_impl)7;
    expect(&c, "npu.matmul.impl: 7 is not a tile implementation (expected fast or rtl)");
    /* the output stage */
    npu_config_defaults(&c);
    c.matmul.output_stage.enabled = (npu_switch)2;
    expect(&c, "npu.matmul.output_stage.enabled: 2 is not a switch (expected on or off)");
    c.matmul.output_stage.enabled = NPU_OFF;
    expect(&c, NULL);
    c.matmul.output_stage.lanes = 0;
    expect(&c, "npu.matmul.output_stage.lanes: 0 is outside 1..4095 elements/cycle (the ISA's mm n field)");
    c.matmul.output_stage.lanes = 4096;
    expect(&c, "npu.matmul.output_stage.lanes: 4096 is outside 1..4095 elements/cycle (the ISA's mm n field)");
}

static void test_softmax(void **state)
{
    (void)state;
    npu_device_config c;
    npu_config_defaults(&c);
    c.softmax.lanes = 0;
    expect(&c, "npu.softmax.lanes: 0 is outside 1..16383 elements/cycle (the ISA's sm len field)");
    npu_config_defaults(&c);
    c.softmax.max_len = 0;
    expect(&c, "npu.softmax.max_len: 0 is outside 1..16383 elements (the ISA's sm len field)");
    c.softmax.max_len = 16384;
    expect(&c, "npu.softmax.max_len: 16384 is outside 1..16383 elements (the ISA's sm len field)");
    c.softmax.max_len = 16383;
    expect(&c, NULL);
    c.softmax.max_len = 4;
    c.softmax.lanes = 5;
    expect(&c, "npu.softmax.lanes: 5 exceeds npu.softmax.max_len (4)");
    c.softmax.lanes = 4;
    expect(&c, NULL);
    c.softmax.impl = NPU_IMPL_RTL;
    expect(&c, NULL);
    c.softmax.max_len = 512; /* a tile built for rows of 512 serves any max_len up to it */
    expect(&c, NULL);
    c.softmax.max_len = 513;
    expect_listing(&c, "npu.softmax.impl: no rtl tile is built with 4 lanes and rows of 513 (built: ",
                   "4 lanes up to 512", "); use fast");
    c.softmax.max_len = 64;
    c.softmax.lanes = 8;
    expect_listing(&c, "npu.softmax.impl: no rtl tile is built with 8 lanes and rows of 64 (built: ",
                   "4 lanes up to 512", "); use fast");
}

static void test_vector(void **state)
{
    (void)state;
    static const struct {
        size_t offset;
        uint32_t value;
        const char *msg;
    } cases[] = {
        {offsetof(npu_device_config, vector.lanes), 0, "npu.vector.lanes: 0 is outside 1..4096 elements/cycle"},
        {offsetof(npu_device_config, vector.lanes), 4097, "npu.vector.lanes: 4097 is outside 1..4096 elements/cycle"},
        {offsetof(npu_device_config, vector.pipeline_cycles), 0, "npu.vector.pipeline_cycles: 0 is outside 1..10000 cycles"},
        {offsetof(npu_device_config, vector.simple_cycles), 0, "npu.vector.simple_cycles: 0 is outside 1..10000 cycles"},
        {offsetof(npu_device_config, vector.divsqrt_cycles), 10001,
         "npu.vector.divsqrt_cycles: 10001 is outside 1..10000 cycles"},
        {offsetof(npu_device_config, vector.transcendental_cycles), 0,
         "npu.vector.transcendental_cycles: 0 is outside 1..10000 cycles"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        npu_device_config c;
        npu_config_defaults(&c);
        memcpy((char *)&c + cases[i].offset, &cases[i].value, sizeof cases[i].value);
        expect(&c, cases[i].msg);
    }
}

static void test_sram(void **state)
{
    (void)state;
    npu_device_config c;
    npu_config_defaults(&c);
    c.sram.size_bytes = 20971520;
    expect(&c, "npu.sram.size_bytes: 20971520 (20 MiB) is outside 1 KiB..16 MiB (the ISA's 24-bit SRAM addresses)");
    c.sram.size_bytes = 16 * MIB;
    expect(&c, NULL);
    c.sram.size_bytes = 1023;
    expect(&c, "npu.sram.size_bytes: 1023 is outside 1 KiB..16 MiB (the ISA's 24-bit SRAM addresses)");
    c.sram.size_bytes = 1024;
    c.sram.banks = 1;
    c.sram.bank_width_bytes = 1;
    expect(&c, NULL);
    npu_config_defaults(&c);
    c.sram.size_bytes = 256 * 1024 + 64;
    expect(&c, "npu.sram.size_bytes: 262208 is not a multiple of banks * bank_width_bytes (8 * 16 = 128)");
    npu_config_defaults(&c);
    c.sram.banks = 0;
    expect(&c, "npu.sram.banks: 0 is outside 1..1024 banks");
    npu_config_defaults(&c);
    c.sram.bank_width_bytes = 0;
    expect(&c, "npu.sram.bank_width_bytes: 0 is outside 1..1024 bytes");
    /* banks * width at their largest is computed in 64 bits */
    npu_config_defaults(&c);
    c.sram.banks = 1024;
    c.sram.bank_width_bytes = 1024;
    expect(&c, "npu.sram.size_bytes: 262144 is not a multiple of banks * bank_width_bytes (1024 * 1024 = 1048576)");
}

static void test_dma_dram_control(void **state)
{
    (void)state;
    npu_device_config c;
    npu_config_defaults(&c);
    c.dma.channels = 0;
    expect(&c, "npu.dma.channels: 0 is outside 1..4 channels (the ISA's dma q field)");
    c.dma.channels = 5;
    expect(&c, "npu.dma.channels: 5 is outside 1..4 channels (the ISA's dma q field)");
    c.dma.channels = 4;
    expect(&c, NULL);
    c.dma.setup_cycles = 100001;
    expect(&c, "npu.dma.setup_cycles: 100001 is outside 0..100000 cycles");

    npu_config_defaults(&c);
    c.dram.size_bytes = MIB - 1;
    expect(&c, "npu.dram.size_bytes: 1048575 is outside 1 MiB..1 TiB");
    c.dram.size_bytes = MIB;
    expect(&c, NULL);
    c.dram.size_bytes = (MIB << 20) + 1;
    expect(&c, "npu.dram.size_bytes: 1099511627777 is outside 1 MiB..1 TiB");
    npu_config_defaults(&c);
    /* regression (issue 9): 1e-320 GB/s passed, and a 2 KB copy took 268 M cycles */
    c.dram.bandwidth_gb_s = 1e-320;
    expect(&c, "npu.dram.bandwidth_gb_s: 1e-320 is outside 0.1..10000 GB/s");
    c.dram.bandwidth_gb_s = 0;
    expect(&c, "npu.dram.bandwidth_gb_s: 0 is outside 0.1..10000 GB/s");
    c.dram.bandwidth_gb_s = 0.1;
    expect(&c, NULL);
    npu_config_defaults(&c);
    c.dram.efficiency = 0;
    expect(&c, "npu.dram.efficiency: 0 is outside 0.01..1");
    c.dram.efficiency = 1.5;
    expect(&c, "npu.dram.efficiency: 1.5 is outside 0.01..1");
    c.dram.efficiency = 0.01;
    expect(&c, NULL);
    c.dram.latency_ns = -1;
    expect(&c, "npu.dram.latency_ns: -1 is outside 0..10000 ns");
    c.dram.latency_ns = 0;
    expect(&c, NULL);
    c.dram.burst_bytes = 48;
    expect(&c, "npu.dram.burst_bytes: 48 is not a power of two");
    c.dram.burst_bytes = 0;
    expect(&c, "npu.dram.burst_bytes: 0 is outside 1..4096 bytes");
    c.dram.burst_bytes = 1;
    expect(&c, NULL);
    c.dram.onchip_bytes = c.dram.size_bytes / 2 + 1; /* the DRAM keeps at least half the address space */
    expect(&c, "npu.dram.onchip_bytes: 33554433 is outside 0..32 MiB (at most half of npu.dram.size_bytes: the rest "
               "is the memory behind the DRAM interface)");
    c.dram.onchip_bytes = c.dram.size_bytes / 2;
    expect(&c, NULL);

    npu_config_defaults(&c);
    c.queue_depth = 0;
    expect(&c, "npu.queue_depth: 0 is outside 1..4096 instructions");
    npu_config_defaults(&c);
    c.watchdog_cycles = 999;
    expect(&c, "npu.watchdog_cycles: 999 is outside 1000..10000000000000 cycles");
    npu_config_defaults(&c);
    c.control.cycles_per_insn = 0; /* an ideal firmware is a valid what-if */
    c.control.cycles_per_job = 0;
    c.dma.setup_cycles = 0;
    expect(&c, NULL);
    c.control.cycles_per_job = 100000001;
    expect(&c, "npu.control.cycles_per_job: 100000001 is outside 0..100000000 cycles");
}

/* Regression (issue 9): a DRAM size the host cannot map passed `m4npu config` and failed only
 * in `exec`. npu_config_check_host maps it as the device does. In a child whose address space is
 * limited to what it uses now plus 1 GiB (whatever a sanitizer reserved), 64 GiB cannot be
 * mapped, 64 MiB can. */
static void test_dram_the_host_cannot_map(void **state)
{
    (void)state;
    npu_device_config c;
    npu_config_defaults(&c);
    char err[512];
    assert_int_equal(npu_config_check_host(&c, err, sizeof err), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *f = fopen("/proc/self/statm", "r");
        unsigned long pages = 0;
        if (!f || fscanf(f, "%lu", &pages) != 1)
            _exit(2);
        fclose(f);
        rlim_t now = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE), room = (rlim_t)1 << 30;
        struct rlimit lim = {now + room, now + room};
        if (setrlimit(RLIMIT_AS, &lim) != 0)
            _exit(3);
        int ok = npu_config_check_host(&c, err, sizeof err) == 0;
        c.dram.size_bytes = 64ull << 30;
        ok = ok && npu_config_check(&c, err, sizeof err) == 0 && npu_config_check_host(&c, err, sizeof err) == -1 &&
             strcmp(err, "npu.dram.size_bytes: 64 GiB cannot be mapped on this host (Cannot allocate memory); the "
                         "device maps all of its DRAM when it opens: lower it, or raise the host's limit (ulimit -v, "
                         "vm.overcommit_memory)") == 0;
        if (!ok)
            fprintf(stderr, "child: %s\n", err);
        _exit(ok ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_name(void **state)
{
    (void)state;
    npu_device_config c;
    npu_config_defaults(&c);
    c.name[0] = '\0';
    expect(&c, "name: must not be empty");
    memset(c.name, 'x', sizeof c.name);
    expect(&c, "name: longer than 63 bytes");
    char err[8];
    assert_int_equal(npu_config_check(&c, err, sizeof err), -1); /* a short buffer is truncated */
    assert_string_equal(err, "name: l");
    assert_int_equal(npu_config_check(NULL, NULL, 0), -1);
}

/* What the loader's schema says is out of range for an npu key, the device must reject too, and
 * every numeric key has a finite range (the schema documents the device's ranges). */
static void test_schema_ranges_agree_with_the_check(void **state)
{
    (void)state;
    const m4npu_cfg_section *npu = NULL;
    for (size_t s = 0; s < m4npu_config_section_count(); s++)
        if (strcmp(m4npu_config_section_at(s)->name, "npu") == 0)
            npu = m4npu_config_section_at(s);
    assert_non_null(npu);
    int probed = 0;
    for (size_t i = 0; i < npu->nkeys; i++) {
        const m4npu_cfg_key *k = &npu->keys[i];
        uint64_t cap = k->size == 4 ? UINT32_MAX : (uint64_t)INT64_MAX;
        for (int side = 0; side < 2; side++) {
            m4npu_config cfg;
            m4npu_config_defaults(&cfg);
            char *m = (char *)&cfg + k->offset;
            if (k->kind == M4NPU_CFG_F64) {
                double v;
                v = side == 0 ? nextafter(k->fmin, -INFINITY) : nextafter(k->fmax, INFINITY);
                memcpy(m, &v, sizeof v);
            } else if (k->kind == M4NPU_CFG_ENUM) {
                if (side == 0)
                    continue;
                uint32_t v = 0;
                while (k->names[v])
                    v++;
                memcpy(m, &v, sizeof v); /* one past the last name */
            } else if (k->kind == M4NPU_CFG_U32 || k->kind == M4NPU_CFG_U64 || k->kind == M4NPU_CFG_BYTES) {
                uint64_t v;
                if (side == 1 && k->max >= cap)
                    fail_msg("%s: no upper bound but the member's size", k->path);
                if (side == 0 && k->min > 0)
                    v = k->min - 1;
                else if (side == 1)
                    v = k->max + 1;
                else
                    continue;
                if (k->size == 4) {
                    uint32_t v32 = (uint32_t)v;
                    memcpy(m, &v32, 4);
                } else {
                    memcpy(m, &v, 8);
                }
            } else {
                continue;
            }
            char err[512];
            if (npu_config_check(&cfg.npu, err, sizeof err) == 0)
                fail_msg("%s: the schema documents a value outside its range that npu_config_check accepts",
                         k->path);
            if (strncmp(err, k->path, strlen(k->path)) != 0)
                fail_msg("%s: npu_config_check names another key: %s", k->path, err);
            probed++;
        }
    }
    assert_true(probed >= 45);
}

/* Every member of npu_device_config has a row ("key for key"): the rows (plus the top-level
 * name) cover the struct except for alignment padding, which only ever precedes an 8-byte
 * aligned member and is shorter than 8 bytes. */
static void test_schema_covers_every_member(void **state)
{
    (void)state;
    size_t base = offsetof(m4npu_config, npu), end = base + sizeof(npu_device_config);
    unsigned char covered[sizeof(npu_device_config)] = {0};
    for (size_t s = 0; s < m4npu_config_section_count(); s++) {
        const m4npu_cfg_section *sec = m4npu_config_section_at(s);
        for (size_t i = 0; i < sec->nkeys; i++) {
            const m4npu_cfg_key *k = &sec->keys[i];
            if (k->offset < base || k->offset >= end)
                continue;
            assert_true(k->offset + k->size <= end);
            for (size_t b = 0; b < k->size; b++) {
                assert_false(covered[k->offset - base + b]); /* no two rows share a member */
                covered[k->offset - base + b] = 1;
            }
        }
    }
    size_t i = 0;
    while (i < sizeof covered) {
        if (covered[i]) {
            i++;
            continue;
        }
        size_t gap = i;
        while (i < sizeof covered && !covered[i])
            i++;
        if (i - gap >= 8 || i % 8 != 0)
            fail_msg("bytes %zu..%zu of npu_device_config have no schema row", gap, i - 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_test_yaml_values),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_sram),
        cmocka_unit_test(test_dma_dram_control),
        cmocka_unit_test(test_name),
        cmocka_unit_test(test_dram_the_host_cannot_map),
        cmocka_unit_test(test_schema_ranges_agree_with_the_check),
        cmocka_unit_test(test_schema_covers_every_member),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
