/* The `ops:` section (the NPU capability set, runtime/config/config_ops.c): the presets' sets,
 * every class of error with its exact message and position, overrides that drop, add and change
 * ops (what sweeps use), printing and loading back bit for bit, JSON, and the check of a struct
 * built in code. */
#include "config/config_test_util.h"

#include <jansson.h>

#include "ops.h"
#define ORIGIN "caps.yaml"

/* configs/test.yaml with its `ops:` block replaced by `block` (which starts with "ops:"). */
static char *with_ops_block(const char *block)
{
    char *text = test_read_file(TEST_YAML, NULL);
    char *start = strstr(text, "\nops:");
    assert_non_null(start);
    char *end = strstr(start, "\n\n");
    assert_non_null(end);
    size_t head = (size_t)(start - text) + 1, blen = strlen(block), rest = strlen(end);
    char *out = malloc(head + blen + rest + 1);
    assert_non_null(out);
    memcpy(out, text, head);
    memcpy(out + head, block, blen);
    memcpy(out + head + blen, end, rest + 1);
    free(text);
    return out;
}

static int op_id(const char *name)
{
    int op = ops_lookup("", name);
    if (op == RT_OP_NONE)
        fail_msg("no op %s in the registry", name);
    return op;
}

static const m4npu_op_cap *cap_of(const m4npu_config *cfg, const char *name)
{
    return m4npu_config_op(cfg, op_id(name));
}

/* ---- the presets */

static void test_mobile_default_runs_two_thirds_of_m4_on_the_npu(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_error err;
    if (m4npu_config_load(MOBILE_YAML, &cfg, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s", err.msg);
    int m4 = 0, m4_on = 0;
    for (int op = 0; op < ops_count(); op++) {
        if (!ops_get(op)->in_m4)
            continue;
        m4++;
        m4_on += m4npu_config_op(&cfg, op)->npu != 0;
    }
    assert_int_equal(m4, 39);
    assert_int_equal(m4_on, 27); /* 69%; the paper's figure is 64% */
    assert_int_equal(m4npu_config_ops_on(&cfg), 40); /* and 13 mobile-CNN ops outside the M4 set */
    /* as a real NPU would: matrix ops, softmax and norms on; masks, gathers, trig off; casts only
     * between float types (no-ops on an int8 NPU) */
    const char *on[] = {"MatMul", "Gemm", "Conv", "Softmax", "LayerNormalization", "Add", "Mul", "Transpose",
                        "Resize", "MaxPool", "Clip", "Pad"};
    const char *off[] = {"Where", "Expand", "Gather", "Sin", "Cos", "Range", "ConstantOfShape"};
    assert_int_equal(cap_of(&cfg, "Cast")->dtypes, M4NPU_OP_DEFAULT_DTYPES);
    for (size_t i = 0; i < sizeof on / sizeof on[0]; i++)
        if (!cap_of(&cfg, on[i])->npu)
            fail_msg("%s should run on the NPU", on[i]);
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++)
        if (cap_of(&cfg, off[i])->npu)
            fail_msg("%s should run on the CPU", off[i]);
    const m4npu_op_cap *sm = cap_of(&cfg, "Softmax");
    assert_int_equal(sm->max_axis, cfg.npu.softmax.max_len);
    assert_int_equal(sm->dtypes, M4NPU_OP_DEFAULT_DTYPES);
    assert_int_equal(cap_of(&cfg, "Conv")->max_kernel, 16);
    assert_int_equal(cap_of(&cfg, "Conv")->max_stride, 16);
    assert_true(cfg.cpu.npu_submit_overhead_us > 0 && cfg.cpu.npu_transfer_overhead_us > 0);

    /* every M4 op the preset leaves to the CPU is written out as `off` with its reason */
    assert_true(cap_of(&cfg, "Cast")->npu);
    char *text = test_read_file(MOBILE_YAML, NULL);
    for (int op = 0; op < ops_count(); op++) {
        if (!ops_get(op)->in_m4 || m4npu_config_op(&cfg, op)->npu)
            continue;
        char needle[96];
        snprintf(needle, sizeof needle, "\n  %s: off", ops_get(op)->name);
        char *at = strstr(text, needle);
        if (!at)
            fail_msg("mobile-default.yaml does not list %s as off", ops_get(op)->name);
        char *nl = strchr(at + 1, '\n');
        char *hash = strchr(at + 1, '#');
        if (!hash || (nl && hash > nl))
            fail_msg("mobile-default.yaml gives no reason for %s", ops_get(op)->name);
    }
    free(text);
}

static void test_test_preset_is_the_defaults(void **state)
{
    (void)state;
    m4npu_config cfg, dflt;
    m4npu_config_error err;
    if (m4npu_config_load(TEST_YAML, &cfg, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s", err.msg);
    m4npu_config_defaults(&dflt);
    assert_memory_equal(&cfg.ops, &dflt.ops, sizeof cfg.ops);
    assert_true(cfg.cpu.npu_submit_overhead_us == dflt.cpu.npu_submit_overhead_us);
    assert_int_equal(cap_of(&cfg, "Softmax")->max_axis, 512);
    assert_int_equal(m4npu_config_ops_on(&cfg), 39);
}

/* ---- errors in the file */

typedef struct ops_case {
    const char *block;  /* the `ops:` block */
    m4npu_config_status status;
    const char *key;
    const char *at;     /* text on the reported line */
    int column;
    const char *reason;
} ops_case;

static const ops_case cases[] = {
    {"ops:\n  MatMul: on\n  FancyOp: on", M4NPU_CONFIG_E_UNKNOWN_KEY, "ops.FancyOp", "FancyOp", 3,
     "unknown op; not in the runtime/ops registry (`m4npu ops` lists every op)"},
    {"ops:\n  softmax: on", M4NPU_CONFIG_E_UNKNOWN_KEY, "ops.softmax", "softmax", 3,
     "unknown op; not in the runtime/ops registry (did you mean Softmax?)"},
    {"ops:\n  MatMul: on\n  MatMul: off", M4NPU_CONFIG_E_DUPLICATE_KEY, "ops.MatMul", "MatMul: off", 3,
     "duplicate key (first at line 52, column 3)"},
    {"ops:\n  MatMul: yes", M4NPU_CONFIG_E_TYPE, "ops.MatMul", "yes", 11,
     "expected on, off or a mapping with keys dtypes, max_rank, max_elements, max_axis, max_kernel, max_stride, "
     "got \"yes\""},
    {"ops:\n  MatMul:", M4NPU_CONFIG_E_TYPE, "ops.MatMul", "MatMul:", 10,
     "expected on, off or a mapping with keys dtypes, max_rank, max_elements, max_axis, max_kernel, max_stride, "
     "got nothing"},
    {"ops:\n  MatMul: [f32]", M4NPU_CONFIG_E_TYPE, "ops.MatMul", "[f32]", 11,
     "expected on, off or a mapping with keys dtypes, max_rank, max_elements, max_axis, max_kernel, max_stride, "
     "got a sequence"},
    {"ops:\n  Softmax: {max_kernel: 3}", M4NPU_CONFIG_E_RANGE, "ops.Softmax.max_kernel", "max_kernel", 13,
     "Softmax has no window; max_kernel applies to Conv, ConvTranspose, MaxPool, AveragePool"},
    {"ops:\n  Add: {max_axis: 3}", M4NPU_CONFIG_E_RANGE, "ops.Add.max_axis", "max_axis", 9,
     "Add has no reduction axis; max_axis applies to Softmax, LogSoftmax, Hardmax, LayerNormalization, "
     "InstanceNormalization, GroupNormalization, ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, "
     "ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum, ReduceLogSumExp, ArgMax, ArgMin, MatMul, Gemm, "
     "MatMulInteger, QLinearMatMul"},
    {"ops:\n  Softmax: {max_axes: 3}", M4NPU_CONFIG_E_UNKNOWN_KEY, "ops.Softmax.max_axes", "max_axes", 13,
     "unknown key; expected one of: dtypes, max_rank, max_elements, max_axis, max_kernel, max_stride"},
    {"ops:\n  Softmax: {max_axis: 0}", M4NPU_CONFIG_E_RANGE, "ops.Softmax.max_axis", "max_axis", 23,
     "0 is outside 1..4294967295 elements (leave the limit out for none)"},
    {"ops:\n  Softmax: {max_axis: -4}", M4NPU_CONFIG_E_RANGE, "ops.Softmax.max_axis", "max_axis", 23,
     "-4 is outside 1..4294967295 elements"},
    {"ops:\n  Softmax: {max_axis: 4096.5}", M4NPU_CONFIG_E_TYPE, "ops.Softmax.max_axis", "max_axis", 23,
     "expected an unsigned integer, got \"4096.5\""},
    {"ops:\n  Softmax: {max_axis: \"12\"}", M4NPU_CONFIG_E_TYPE, "ops.Softmax.max_axis", "max_axis", 23,
     "expected an unsigned integer, got the quoted string \"12\""},
    {"ops:\n  Softmax: {max_axis: 4294967296}", M4NPU_CONFIG_E_RANGE, "ops.Softmax.max_axis", "max_axis", 23,
     "4294967296 is outside 1..4294967295 elements"},
    {"ops:\n  Softmax: {max_rank: 9}", M4NPU_CONFIG_E_RANGE, "ops.Softmax.max_rank", "max_rank", 23,
     "9 is outside 1..8 dimensions"},
    {"ops:\n  Conv: {max_kernel: 65536}", M4NPU_CONFIG_E_RANGE, "ops.Conv.max_kernel", "max_kernel", 22,
     "65536 is outside 1..65535 elements"},
    {"ops:\n  Softmax: {max_axis: 8, max_axis: 9}", M4NPU_CONFIG_E_DUPLICATE_KEY, "ops.Softmax.max_axis", "max_axis",
     26, "duplicate key (first at line 52, column 13)"},
    {"ops:\n  Conv: {dtypes: [f32, f33]}", M4NPU_CONFIG_E_TYPE, "ops.Conv.dtypes", "dtypes", 24,
     "unknown data type \"f33\"; expected one of f32, f16, bf16, f64, i8, u8, i16, u16, i32, i64, bool"},
    {"ops:\n  Conv: {dtypes: [f32, f32]}", M4NPU_CONFIG_E_DUPLICATE_KEY, "ops.Conv.dtypes", "dtypes", 24,
     "f32 is listed twice"},
    {"ops:\n  Conv: {dtypes: []}", M4NPU_CONFIG_E_RANGE, "ops.Conv.dtypes", "dtypes", 18,
     "needs at least one data type"},
    {"ops:\n  Conv: {dtypes: {a: 1}}", M4NPU_CONFIG_E_TYPE, "ops.Conv.dtypes", "dtypes", 18,
     "expected a data type or a sequence of them, got a mapping"},
    {"ops: on", M4NPU_CONFIG_E_TYPE, "ops", "ops: on", 6,
     "expected a mapping of op names (e.g. MatMul: on), got a scalar"},
};

static void test_error_messages(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const ops_case *oc = &cases[i];
        char *text = with_ops_block(oc->block);
        m4npu_config cfg;
        m4npu_config_error err;
        m4npu_config_status st = m4npu_config_load_text(text, strlen(text), ORIGIN, &cfg, &err);
        /* the reported line: the first line of the block holding `at` */
        const char *hit = strstr(strstr(text, "\nops:") + 1, oc->at);
        assert_non_null(hit);
        int line = 1;
        for (const char *p = text; p < hit; p++)
            line += *p == '\n';
        char want[1024];
        snprintf(want, sizeof want, ORIGIN ":%d:%d: %s: %s", line, oc->column, oc->key, oc->reason);
        if (st == M4NPU_CONFIG_OK)
            fail_msg("case %zu loaded; expected %s", i, want);
        if (strcmp(err.msg, want) != 0)
            fail_msg("case %zu:\n  got  %s\n  want %s", i, err.msg, want);
        assert_int_equal(st, oc->status);
        free(text);
    }
}

static void test_off_and_empty_sets(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_error err;
    char *text = with_ops_block("ops: {}");
    assert_int_equal(m4npu_config_load_text(text, strlen(text), ORIGIN, &cfg, &err), M4NPU_CONFIG_OK);
    assert_int_equal(m4npu_config_ops_on(&cfg), 0);
    free(text);
    text = with_ops_block("ops:\n  MatMul: off\n  Softmax: {}\n  Conv: {dtypes: f16}");
    assert_int_equal(m4npu_config_load_text(text, strlen(text), ORIGIN, &cfg, &err), M4NPU_CONFIG_OK);
    assert_int_equal(m4npu_config_ops_on(&cfg), 2);
    assert_int_equal(cap_of(&cfg, "MatMul")->npu, 0);
    assert_int_equal(cap_of(&cfg, "Softmax")->npu, 1);
    assert_int_equal(cap_of(&cfg, "Softmax")->dtypes, M4NPU_OP_DEFAULT_DTYPES);
    assert_int_equal(cap_of(&cfg, "Conv")->dtypes, M4NPU_DTYPE_BIT(RT_DT_F16));
    free(text);
}

/* ---- overrides */

static void set_ok(m4npu_config *cfg, const char *assignment)
{
    m4npu_config_error err;
    if (m4npu_config_set_assignment(cfg, assignment, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s: %s", assignment, err.msg);
    if (m4npu_config_validate(cfg, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s: %s", assignment, err.msg);
}

static void test_overrides_drop_add_and_change_ops(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_defaults(&cfg);
    set_ok(&cfg, "ops.Softmax=off");
    assert_int_equal(cap_of(&cfg, "Softmax")->npu, 0);
    assert_int_equal(cap_of(&cfg, "Softmax")->max_axis, 0);
    assert_int_equal(m4npu_config_ops_on(&cfg), 38);
    set_ok(&cfg, "ops.Where=on");
    assert_int_equal(cap_of(&cfg, "Where")->npu, 1);
    assert_int_equal(cap_of(&cfg, "Where")->dtypes, M4NPU_OP_DEFAULT_DTYPES);
    /* `on` keeps the limits of an op that is on already */
    set_ok(&cfg, "ops.LayerNormalization=on");
    assert_int_equal(cap_of(&cfg, "LayerNormalization")->max_axis, 1024);
    /* a field turns an op on, as a mapping does in YAML */
    set_ok(&cfg, "ops.Softmax.max_axis=256");
    assert_int_equal(cap_of(&cfg, "Softmax")->npu, 1);
    assert_int_equal(cap_of(&cfg, "Softmax")->max_axis, 256);
    set_ok(&cfg, "ops.Conv.dtypes=[f32, f16]");
    assert_int_equal(cap_of(&cfg, "Conv")->dtypes, M4NPU_DTYPE_BIT(RT_DT_F32) | M4NPU_DTYPE_BIT(RT_DT_F16));
    assert_int_equal(cap_of(&cfg, "Conv")->max_kernel, 7);
    set_ok(&cfg, "ops.Conv.dtypes=i8,u8");
    assert_int_equal(cap_of(&cfg, "Conv")->dtypes, M4NPU_DTYPE_BIT(RT_DT_I8) | M4NPU_DTYPE_BIT(RT_DT_U8));
    set_ok(&cfg, "ops.MaxPool.max_stride=2");
    assert_int_equal(cap_of(&cfg, "MaxPool")->max_stride, 2);

    /* through the loader: overrides apply after the file, and name themselves in errors */
    const char *sets[] = {"ops.Softmax=off", "ops.Gather=on"};
    m4npu_config_error err;
    assert_int_equal(m4npu_config_load_overrides(MOBILE_YAML, sets, 2, &cfg, &err), M4NPU_CONFIG_OK);
    assert_int_equal(cap_of(&cfg, "Softmax")->npu, 0);
    assert_int_equal(cap_of(&cfg, "Gather")->npu, 1);
    const char *bad[] = {"ops.Gather=on", "ops.Softmax.max_kernel=3"};
    assert_int_equal(m4npu_config_load_overrides(MOBILE_YAML, bad, 2, &cfg, &err), M4NPU_CONFIG_E_RANGE);
    assert_string_equal(err.msg, "--set ops.Softmax.max_kernel=3: ops.Softmax.max_kernel: Softmax has no window; "
                                 "max_kernel applies to Conv, ConvTranspose, MaxPool, AveragePool");
}

static void test_override_errors(void **state)
{
    (void)state;
    cfgtest_expect_set_error("ops.FancyOp", "on", M4NPU_CONFIG_E_UNKNOWN_KEY,
                     "ops.FancyOp: unknown op; not in the runtime/ops registry (`m4npu ops` lists every op)");
    cfgtest_expect_set_error("ops.Softmax", "maybe", M4NPU_CONFIG_E_TYPE,
                     "ops.Softmax: expected on or off, got \"maybe\" (set a field with ops.Softmax.FIELD=VALUE; "
                     "fields: dtypes, max_rank, max_elements, max_axis, max_kernel, max_stride)");
    cfgtest_expect_set_error("ops.Softmax.axis", "3", M4NPU_CONFIG_E_UNKNOWN_KEY,
                     "ops.Softmax.axis: unknown key; expected one of: dtypes, max_rank, max_elements, max_axis, "
                     "max_kernel, max_stride (in ops.Softmax)");
    cfgtest_expect_set_error("ops.Softmax.max_axis", "lots", M4NPU_CONFIG_E_TYPE,
                     "ops.Softmax.max_axis: expected an unsigned integer, got \"lots\"");
    cfgtest_expect_set_error("ops.Where.max_axis", "3", M4NPU_CONFIG_E_RANGE,
                     "ops.Where.max_axis: Where has no reduction axis; max_axis applies to Softmax, LogSoftmax, "
                     "Hardmax, LayerNormalization, InstanceNormalization, GroupNormalization, ReduceMean, ReduceSum, "
                     "ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum, "
                     "ReduceLogSumExp, ArgMax, ArgMin, MatMul, Gemm, MatMulInteger, QLinearMatMul");
    cfgtest_expect_set_error("ops.Conv.dtypes", "[]", M4NPU_CONFIG_E_RANGE, "ops.Conv.dtypes: needs at least one data type");
    cfgtest_expect_set_error("ops.Conv.dtypes", "f32,,f16", M4NPU_CONFIG_E_TYPE,
                     "ops.Conv.dtypes: an empty name in the list of data types");
    cfgtest_expect_set_error("ops", "off", M4NPU_CONFIG_E_TYPE,
                     "ops: is the capability set; set ops.OP=on|off or ops.OP.FIELD=VALUE");
}

/* ---- printing and the check */

static void assert_round_trip(const m4npu_config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    assert_non_null(mem);
    assert_int_equal(m4npu_config_write_yaml(cfg, mem), 0);
    fclose(mem);
    m4npu_config again;
    m4npu_config_error err;
    memset(&again, 0x5a, sizeof again);
    if (m4npu_config_load_text(text, len, "printed", &again, &err) != M4NPU_CONFIG_OK)
        fail_msg("the printed configuration does not load: %s\n%s", err.msg, text);
    if (memcmp(&again, cfg, sizeof again) != 0)
        fail_msg("the printed configuration loads to a different struct:\n%s", text);
    free(text);
}

static void test_random_capability_sets_round_trip(void **state)
{
    (void)state;
    test_rng r = {0xca95e7};
    const rt_dtype types[] = {RT_DT_F32, RT_DT_F16, RT_DT_BF16, RT_DT_I8, RT_DT_U8, RT_DT_I32, RT_DT_I64, RT_DT_BOOL};
    for (int i = 0; i < 300; i++) {
        m4npu_config cfg;
        m4npu_config_defaults(&cfg);
        memset(&cfg.ops, 0, sizeof cfg.ops);
        for (int op = 0; op < ops_count(); op++) {
            if (test_rng_range(&r, 0, 2) == 0)
                continue;
            m4npu_op_cap *c = &cfg.ops.op[op];
            c->npu = 1;
            do {
                for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
                    if (test_rng_range(&r, 0, 3) == 0)
                        c->dtypes |= M4NPU_DTYPE_BIT(types[t]);
            } while (c->dtypes == 0);
            for (int l = 0; l < M4NPU_LIMIT_COUNT; l++) {
                if (!m4npu_op_limit_applies(op, (m4npu_op_limit)l) || test_rng_range(&r, 0, 2))
                    continue;
                uint64_t v = l == M4NPU_LIMIT_RANK       ? (uint64_t)test_rng_range(&r, 1, RT_MAX_RANK)
                             : l == M4NPU_LIMIT_ELEMENTS ? (uint64_t)test_rng_range(&r, 1, RT_MAX_ELEMENTS)
                             : l == M4NPU_LIMIT_AXIS     ? (uint64_t)test_rng_range(&r, 1, UINT32_MAX)
                                                         : (uint64_t)test_rng_range(&r, 1, 65535); /* a window */
                if (l == M4NPU_LIMIT_RANK)
                    c->max_rank = (uint32_t)v;
                else if (l == M4NPU_LIMIT_ELEMENTS)
                    c->max_elements = v;
                else if (l == M4NPU_LIMIT_AXIS)
                    c->max_axis = (uint32_t)v;
                else if (l == M4NPU_LIMIT_KERNEL)
                    c->max_kernel = (uint32_t)v;
                else
                    c->max_stride = (uint32_t)v;
            }
        }
        m4npu_config_error err;
        if (m4npu_config_validate(&cfg, &err) != M4NPU_CONFIG_OK)
            fail_msg("case %d: %s", i, err.msg);
        assert_round_trip(&cfg);
    }
    m4npu_config cfg;
    m4npu_config_defaults(&cfg);
    memset(&cfg.ops, 0, sizeof cfg.ops); /* the empty set prints as `ops: {}` */
    assert_round_trip(&cfg);
}

static void test_json_lists_the_ops_on(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_defaults(&cfg);
    json_t *j = m4npu_config_to_json(&cfg);
    assert_non_null(j);
    json_t *ops = json_object_get(j, "ops");
    assert_true(json_is_object(ops));
    assert_int_equal(json_object_size(ops), 39);
    json_t *sm = json_object_get(ops, "Softmax");
    assert_int_equal(json_integer_value(json_object_get(sm, "max_axis")), 512);
    assert_string_equal(json_string_value(json_array_get(json_object_get(sm, "dtypes"), 0)), "f32");
    assert_null(json_object_get(ops, "Where"));
    assert_null(json_object_get(json_object_get(ops, "MatMul"), "max_axis"));
    json_decref(j);
}

static void expect_invalid(const m4npu_config *cfg, const char *msg)
{
    m4npu_config_error err;
    assert_int_equal(m4npu_config_validate(cfg, &err), M4NPU_CONFIG_E_DEVICE);
    assert_string_equal(err.msg, msg);
}

static void test_check_of_a_struct_built_in_code(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_defaults(&cfg);
    cfg.ops.op[op_id("Add")].max_kernel = 3;
    expect_invalid(&cfg, "ops.Add.max_kernel: does not apply to Add");
    m4npu_config_defaults(&cfg);
    cfg.ops.op[op_id("Add")].dtypes = 0;
    expect_invalid(&cfg, "ops.Add.dtypes: needs at least one data type");
    m4npu_config_defaults(&cfg);
    cfg.ops.op[op_id("Where")].max_rank = 2;
    expect_invalid(&cfg, "ops.Where: an op that is off has no data types or limits");
    m4npu_config_defaults(&cfg);
    cfg.ops.op[op_id("Add")].npu = 2;
    expect_invalid(&cfg, "ops.Add: npu is 2; expected 0 (off) or 1 (on)");
    m4npu_config_defaults(&cfg);
    cfg.ops.op[M4NPU_CONFIG_MAX_OPS - 1].npu = 1;
    char want[160];
    snprintf(want, sizeof want, "ops: entry %d is set but the registry has only %d ops", M4NPU_CONFIG_MAX_OPS - 1,
             ops_count());
    expect_invalid(&cfg, want);
}

static void test_cli_config_shows_and_overrides_the_set(void **state)
{
    (void)state;
    char out[16384];
    int rc = test_run(out, sizeof out, "%s config %s --set ops.Softmax=off --set ops.Where=on", M4NPU_BIN,
                      TEST_YAML);
    assert_int_equal(rc, 0);
    assert_null(strstr(out, "  Softmax:"));
    assert_non_null(strstr(out, "\nops:\n  Add: on\n"));
    assert_non_null(strstr(out, "  Where: on\n"));
    rc = test_run(out, sizeof out, "%s config %s --set ops.Bogus=on", M4NPU_BIN, TEST_YAML);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "--set ops.Bogus=on: ops.Bogus: unknown op"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mobile_default_runs_two_thirds_of_m4_on_the_npu),
        cmocka_unit_test(test_test_preset_is_the_defaults),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_off_and_empty_sets),
        cmocka_unit_test(test_overrides_drop_add_and_change_ops),
        cmocka_unit_test(test_override_errors),
        cmocka_unit_test(test_random_capability_sets_round_trip),
        cmocka_unit_test(test_json_lists_the_ops_on),
        cmocka_unit_test(test_check_of_a_struct_built_in_code),
        cmocka_unit_test(test_cli_config_shows_and_overrides_the_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
