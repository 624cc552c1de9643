/* m4npu_config.h -- the whole m4npu configuration (one YAML file) and its strict loader.
 *
 * A configuration is the device (npu_device_config, sim/include/npu_config.h), the operators it
 * runs (the capability set, `ops:`), the CPU that runs what the NPU cannot (the fallback cost
 * model), a name and a description. It is read from YAML,
 * overridden key by key from the command line (`npu.matmul.rows=32`, for sweeps), printed back
 * as YAML or JSON, and documented, all from one declarative schema: a table of keys per section
 * (path, type, offset into m4npu_config, range or enum names, unit, doc). A later section is a
 * new member of m4npu_config plus a table of rows in config_schema.c, not a new code path.
 *
 * Loading is strict: malformed YAML, an empty file, a document that is not a mapping, an
 * unknown key, a duplicate key, a missing key, a wrong type or an impossible value is an error
 *     FILE:LINE:COL: KEY: reason
 * naming the file, the dotted key path (npu.sram.banks) and the reason, with the position of the
 * offending node. The device's own check (npu_config_check) runs last and its message is placed
 * at the line that set the key it names. Nothing here keeps state between calls.
 */
#ifndef M4NPU_CONFIG_H
#define M4NPU_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "npu_config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define M4NPU_CONFIG_DESC_LEN 512   /* description, including its terminating NUL */
#define M4NPU_CONFIG_KEY_LEN 96     /* longest dotted key path, including the NUL */
#define M4NPU_CONFIG_MAX_KEYS 256   /* schema rows over all sections */

/* Sustained throughput of one core per data type, on the runtime's kernels: GFLOP/s for floating
 * point, giga-operations/s for int8. The CPU's `cores` reach Amdahl's speedup of it
 * (runtime/cpumodel). */
typedef struct m4npu_cpu_gflop_s {
    double fp32, fp16, int8;
} m4npu_cpu_gflop_s;

/* The CPU fallback model (issue "Reference runtime"): each op the NPU cannot run costs
 * max(flops / rate, bytes / bandwidth) + dispatch overhead, at active power; rate is one core's
 * gflop_s times the speedup of `cores` cores. */
typedef struct m4npu_cpu_config {
    uint32_t cores;
    m4npu_cpu_gflop_s gflop_s;
    double memory_bandwidth_gb_s; /* sustained, 1e9 bytes/s */
    double dispatch_overhead_us;  /* per operator */
    double npu_submit_overhead_us;   /* host time per NPU job: driver call, doorbell, interrupt, wake-up */
    double npu_transfer_overhead_us; /* host time per tensor crossing the CPU/NPU boundary */
    double npu_op_overhead_us;       /* host time per node of an NPU job: a delegate's per-op work */
    double active_power_w;        /* while running an operator */
    double idle_power_w;          /* while waiting for the NPU */
} m4npu_cpu_config;

/* The NPU capability set (`ops:`): for every operator of the runtime/ops registry, indexed by
 * its id (rt_op_id), whether the NPU runs it, on which data types and within which size limits.
 * The partitioner (runtime/partition) places a node on the NPU only if its op's entry allows it
 * AND the firmware can run it (npu_backend_supports). A limit of 0 means "no limit". */
#define M4NPU_CONFIG_MAX_OPS 192 /* entries; at least the registry's op count (checked) */
#define M4NPU_DTYPE_BIT(t) (1u << (unsigned)(t)) /* bit of an rt_dtype in m4npu_op_cap.dtypes */
/* What an op given as `on` accepts: float data of any width, which the NPU quantises at its
 * boundary (npu_backend.h), so an fp16 export runs as an fp32 one does. */
#define M4NPU_OP_DEFAULT_DTYPES (M4NPU_DTYPE_BIT(RT_DT_F32) | M4NPU_DTYPE_BIT(RT_DT_F16) | M4NPU_DTYPE_BIT(RT_DT_BF16))

typedef struct m4npu_op_cap {
    uint32_t npu;          /* 1: the NPU runs the op (within dtypes and limits); 0: the CPU does */
    uint32_t dtypes;       /* M4NPU_DTYPE_BIT of each type its data tensors may have (f32 ...) */
    uint32_t max_rank;     /* rank of any data tensor */
    uint32_t max_axis;     /* elements along the reduced axis (softmax/norm axis, reduce, MatMul K) */
    uint32_t max_kernel;   /* largest window dimension (Conv, ConvTranspose, MaxPool, AveragePool) */
    uint32_t max_stride;   /* largest stride (the same ops) */
    uint64_t max_elements; /* elements of any data tensor */
} m4npu_op_cap;

typedef struct m4npu_ops_config {
    m4npu_op_cap op[M4NPU_CONFIG_MAX_OPS];
} m4npu_ops_config;

/* The limits of an m4npu_op_cap by number (names as in YAML: "max_rank" ...). */
typedef enum m4npu_op_limit {
    M4NPU_LIMIT_RANK = 0,
    M4NPU_LIMIT_ELEMENTS,
    M4NPU_LIMIT_AXIS,
    M4NPU_LIMIT_KERNEL,
    M4NPU_LIMIT_STRIDE,
    M4NPU_LIMIT_COUNT
} m4npu_op_limit;

/* The energy table (issue "M4 workloads"): energy = action counts x these costs + static power x
 * time, plus the CPU's own energy (cpu section). Versioned: a report states the version it used;
 * docs/energy.md keeps the sources and the history. */
#define M4NPU_ENERGY_TABLE_VERSION 2 /* 2: output_stage_pj_per_elem */
typedef struct m4npu_energy_config {
    uint32_t version;                 /* M4NPU_ENERGY_TABLE_VERSION */
    double mac_int8_pj;               /* one int8 x int8 multiply-accumulate */
    double mac_int4_pj;               /* one int4-weight x int8 multiply-accumulate */
    double sram_pj_per_byte;          /* one byte read or written in the on-chip SRAM */
    double dram_pj_per_bit;           /* one bit moved to or from device DRAM */
    double vector_pj_per_lane_cycle;  /* one vector lane busy for one cycle */
    double softmax_pj_per_lane_cycle; /* one softmax lane busy for one cycle */
    double output_stage_pj_per_elem;  /* one result requantised by the matmul tile's output stage */
    double control_pj_per_cycle;      /* the control core running firmware, per NPU cycle */
    double npu_static_w;              /* leakage and clock tree of the whole NPU while it is on */
    double platform_w;                /* the rest of the device while a task runs (SoC fabric, DRAM
                                       * background, power delivery): what a whole-device
                                       * measurement includes; 0 counts the NPU and CPU only */
} m4npu_energy_config;

/* One configuration. The YAML key `name` is npu.name (the device carries its name). Loaded and
 * defaulted configurations have zero padding, so two of them compare equal with memcmp. */
typedef struct m4npu_config {
    char description[M4NPU_CONFIG_DESC_LEN];
    npu_device_config npu;
    m4npu_cpu_config cpu;
    m4npu_ops_config ops;
    m4npu_energy_config energy;
} m4npu_config;

typedef enum m4npu_config_status {
    M4NPU_CONFIG_OK = 0,
    M4NPU_CONFIG_E_IO,         /* the file could not be read */
    M4NPU_CONFIG_E_SYNTAX,     /* malformed YAML, or YAML features configs do not use */
    M4NPU_CONFIG_E_EMPTY,      /* no document in the file */
    M4NPU_CONFIG_E_STRUCTURE,  /* a scalar or sequence where a mapping was expected */
    M4NPU_CONFIG_E_UNKNOWN_KEY,
    M4NPU_CONFIG_E_DUPLICATE_KEY,
    M4NPU_CONFIG_E_MISSING_KEY,
    M4NPU_CONFIG_E_TYPE,       /* a value of the wrong type (text for a number ...) */
    M4NPU_CONFIG_E_RANGE,      /* a value outside the key's range */
    M4NPU_CONFIG_E_DEVICE,     /* rejected by npu_config_check() or a cross-key check */
    M4NPU_CONFIG_E_USAGE,      /* an override that is not KEY=VALUE */
    M4NPU_CONFIG_E_NOMEM,
    M4NPU_CONFIG_STATUS_COUNT
} m4npu_config_status;

typedef struct m4npu_config_error {
    m4npu_config_status status;
    char origin[256];               /* the file, or "--set KEY=VALUE" for an override; may be "" */
    int line, column;               /* 1-based position in origin; 0 when there is none */
    char key[M4NPU_CONFIG_KEY_LEN]; /* dotted key path; "" for errors about the whole file */
    char reason[512];
    char msg[1024];                 /* "ORIGIN:LINE:COL: KEY: reason" (parts that are empty left out) */
} m4npu_config_error;

/* ---- loading, overriding, checking */

/* configs/test.yaml's values: npu_config_defaults() plus a small CPU. */
void m4npu_config_defaults(m4npu_config *cfg);

/* Read, validate and check a YAML file. On error *out is unspecified and err says why. */
m4npu_config_status m4npu_config_load(const char *path, m4npu_config *out, m4npu_config_error *err);

/* As m4npu_config_load, then apply overrides ("KEY=VALUE" strings, in order) before the checks,
 * so that an override can make a file valid. An error in an override names it as its origin. */
m4npu_config_status m4npu_config_load_overrides(const char *path, const char *const *assignments,
                                                size_t nassignments, m4npu_config *out,
                                                m4npu_config_error *err);

/* Parse YAML text already in memory; `origin` names it in messages (NULL or "": "<text>"). */
m4npu_config_status m4npu_config_load_text(const char *text, size_t len, const char *origin,
                                           m4npu_config *out, m4npu_config_error *err);
/* The same with overrides applied before the checks, as m4npu_config_load_overrides does. */
m4npu_config_status m4npu_config_load_text_overrides(const char *text, size_t len, const char *origin,
                                                     const char *const *assignments, size_t nassignments,
                                                     m4npu_config *out, m4npu_config_error *err);

/* Set one key from its text form, as a YAML plain scalar would give it ("32", "8 MiB", "rtl").
 * Checks the value's type and range only; call m4npu_config_validate() after the last set.
 * The capability set takes `ops.OP` = on | off (drop or add an op) and `ops.OP.FIELD` = VALUE
 * (FIELD: dtypes as "f32" or "[f32, f16]", or a limit such as max_axis; this turns OP on). */
m4npu_config_status m4npu_config_set(m4npu_config *cfg, const char *key, const char *value,
                                     m4npu_config_error *err);
/* The same with "KEY=VALUE" in one string (what --set takes). */
m4npu_config_status m4npu_config_set_assignment(m4npu_config *cfg, const char *assignment,
                                                m4npu_config_error *err);

/* Every key's range, the cross-key checks and npu_config_check(). */
m4npu_config_status m4npu_config_validate(const m4npu_config *cfg, m4npu_config_error *err);

const char *m4npu_config_status_str(m4npu_config_status st);

/* ---- printing */

/* The effective configuration as YAML that m4npu_config_load reads back to the same struct.
 * Returns 0, or -1 if writing failed. */
int m4npu_config_write_yaml(const m4npu_config *cfg, FILE *out);
/* The same as a new JSON object (sizes in bytes as integers); NULL if out of memory. */
json_t *m4npu_config_to_json(const m4npu_config *cfg);
/* docs/configs.md: every key with its type, unit, range and meaning. */
void m4npu_config_doc_write(FILE *out);

/* ---- provenance (config_source.c): what a report says about the configuration it used */

/* Where a configuration came from: a file (NULL: the built-in defaults) and the KEY=VALUE
 * overrides applied after it, in order (as --set gave them). */
typedef struct m4npu_config_source {
    const char *path;
    const char *const *overrides;
    size_t n_overrides;
} m4npu_config_source;

#define M4NPU_CONFIG_HASH_HEX 17 /* 16 hex digits and the NUL */

/* 64-bit FNV-1a of the configuration as m4npu_config_write_yaml prints it: two configurations
 * hash alike iff they are the same, whatever file and overrides gave them (0 if out of memory). */
uint64_t m4npu_config_hash(const m4npu_config *cfg);
const char *m4npu_config_hash_hex(const m4npu_config *cfg, char out[M4NPU_CONFIG_HASH_HEX]);
/* "NAME", or with overrides "NAME + 2 overrides: KEY=VALUE, KEY=VALUE" (src may be NULL). */
const char *m4npu_config_label(const m4npu_config *cfg, const m4npu_config_source *src, char *buf, size_t size);
/* {"name", "file" (or null), "hash" (16 hex digits), "overrides": ["KEY=VALUE", ...]}; NULL if out
 * of memory. */
json_t *m4npu_config_source_json(const m4npu_config *cfg, const m4npu_config_source *src);

/* ---- the schema */

typedef enum m4npu_cfg_kind {
    M4NPU_CFG_U32,   /* unsigned integer (uint32_t member) */
    M4NPU_CFG_U64,   /* unsigned integer (uint64_t member) */
    M4NPU_CFG_BYTES, /* a size (uint64_t member): an integer or "8 MiB", "256KiB", "12 GiB" */
    M4NPU_CFG_F64,   /* a finite number (double member) */
    M4NPU_CFG_ENUM,  /* one of names[] (an enum member; its value is the name's index) */
    M4NPU_CFG_STR,   /* text (char[size] member, NUL-terminated) */
    M4NPU_CFG_OPS,   /* the capability set (m4npu_ops_config member): a mapping op name -> entry */
} m4npu_cfg_kind;

typedef struct m4npu_cfg_key {
    const char *path;         /* "npu.sram.size_bytes" */
    m4npu_cfg_kind kind;
    size_t offset;            /* of the member in m4npu_config */
    size_t size;              /* of the member */
    uint64_t min, max;        /* integer kinds: inclusive range; STR: length range in bytes */
    double fmin, fmax;        /* F64: inclusive range */
    const char *const *names; /* ENUM: names by value, NULL-terminated */
    const char *unit;         /* "MHz", "bytes", "cycles", "" ... */
    const char *doc;          /* meaning, and constraints between keys */
} m4npu_cfg_key;

typedef struct m4npu_cfg_section {
    const char *name;  /* "npu", "cpu"; "" for the top-level keys */
    const char *title; /* a heading for the docs */
    const char *doc;
    const m4npu_cfg_key *keys;
    size_t nkeys;
    /* Checks across the section's keys, run after every key has a value and is within its row's
     * range: 0, or -1 with "KEY: reason" in err (KEY a dotted path). NULL: none. */
    int (*check)(const m4npu_config *cfg, char *err, size_t errlen);
} m4npu_cfg_section;

/* ---- the capability set (config_ops.c) */

/* The entry of op id `op` (an rt_op_id), or NULL if out of range. */
const m4npu_op_cap *m4npu_config_op(const m4npu_config *cfg, int op);
/* How many ops the NPU runs (entries with npu = 1). */
int m4npu_config_ops_on(const m4npu_config *cfg);
const char *m4npu_op_limit_name(m4npu_op_limit lim); /* "max_rank", ... */
uint64_t m4npu_op_cap_limit(const m4npu_op_cap *cap, m4npu_op_limit lim);
/* Does the limit mean something for op id `op`? (max_axis: ops that reduce along an axis;
 * max_kernel/max_stride: windowed ops; max_rank/max_elements: every op.) A limit given for an
 * op it does not apply to is an error when loading. */
int m4npu_op_limit_applies(int op, m4npu_op_limit lim);

size_t m4npu_config_section_count(void);
const m4npu_cfg_section *m4npu_config_section_at(size_t i);
/* The row of a dotted key path, or NULL. */
const m4npu_cfg_key *m4npu_config_key_find(const char *path);

#ifdef __cplusplus
}
#endif
#endif
