/* The firmware's operator kernels against their CPU twin, bit for bit: every op family over
 * shapes around the tile sizes (1, tile-1, tile, tile+1, non-multiples, batches), both weight
 * types and layouts, each as one NPU_JOB_OPS job on configs/test.yaml's device (16x16 array with
 * an 8-lane output stage, 256 KiB SRAM) and on variants with one and four DMA channels, the fused
 * attention included (several key blocks, row blocks, masks, both key layouts) and its refusals.
 * MATMUL and CONV2D run both epilogues: the vector unit's (f32 bias) and the output stage's (in2
 * of records and a table, as runtime/npu computes them), every activation, k in one and in several
 * chunks. Also: a timing-only run takes exactly the cycles of the numeric run and moves no data.
 * Built a second time with NPU_KERNELS_RTL (test_npu_kernels_rtl): the array and softmax
 * families with the Verilated tiles in the device (rtl mode), against the same twin. */
#include "npu_op_bench.h"

#include "isa.h"
#include "npu_internal.h"

#define BUF_BYTES (2u << 20)

static opb B;

static npu_device_config base_config(void)
{
    npu_device_config c;
    npu_config_defaults(&c);
    c.watchdog_cycles = 100000000;
#ifdef NPU_KERNELS_RTL
    c.matmul.impl = NPU_IMPL_RTL;
    c.softmax.impl = NPU_IMPL_RTL;
#endif
    return c;
}

static int setup(void **state)
{
    (void)state;
    npu_device_config c = base_config();
    opb_open(&B, &c, BUF_BYTES);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    opb_close(&B);
    return 0;
}

/* ---------------------------------------------------------------- matmul */

typedef struct mm_case {
    int64_t batch, m, k, n;
    uint32_t wtype;    /* NPU_DT_I8 / NPU_DT_I4 */
    int blocked, per_channel, bias, batched_b, f32_out;
    int32_t act;
    uint32_t atype; /* in0: NPU_DT_I8 (0), NPU_DT_I16 or NPU_DT_F16 */
    uint32_t otype; /* out: 0 = as f32_out says, else this dtype */
    int32_t group;  /* iattr[3]: per-group weight scales (rows of K per group), 0 none */
    int stage;      /* the epilogue in the output stage */
} mm_case;

/* The spread (standard deviation) of random operand data of a dtype: random bytes for the
 * integers (uniform over the type: 74 for i8, 18918 for i16; i4 counted as i8, which makes its
 * outputs small), f16 uniform in [-4, 4] (2.31). */
static float spread_of(uint32_t dt)
{
    return dt == NPU_DT_I16 ? 18918.0f : dt == NPU_DT_F16 ? 2.31f : 74.0f;
}

/* A scale that gives real values of about the i8 case's (0 for f16: no scale). */
static float scale_like_i8(uint32_t dt, float s8)
{
    return dt == NPU_DT_F16 ? 0.0f : dt == NPU_DT_I16 ? s8 * 127.0f / 32767.0f : s8;
}

static const char *dt_name(uint32_t dt)
{
    switch (dt) {
    case NPU_DT_I8: return "i8";
    case NPU_DT_I4: return "i4";
    case NPU_DT_I16: return "i16";
    case NPU_DT_F16: return "f16";
    case NPU_DT_F32: return "f32";
    default: return "?";
    }
}

/* in2 of d (its in0, out and act set) as output-stage parameters: records from the accumulator's
 * scale per channel (in0's times ws[c], or sw) and a random bias, as runtime/npu lowers them. */
static void stage_params(npu_op_desc *d, int32_t act, int64_t channels, uint64_t k, const float *ws, float sw,
                         int bias)
{
    int table = npu_out_stage_uses_table(act);
    uint64_t rec = ISA_MM_OUT_RECORD_BYTES * (uint64_t)channels, bytes = rec + (table ? ISA_MM_OUT_LUT_ENTRIES : 0);
    int64_t words = (int64_t)(bytes / 4);
    d->n_inputs = 3;
    d->in[2] = opb_tensor_bytes(&B, 2, NPU_DT_I32, 0, 1, &words, bytes);
    uint8_t *p = B.host[2] + d->in[2].offset;
    for (int64_t c = 0; c < channels; c++) {
        float b = bias ? (float)test_rng_range(&B.rng, -400, 400) / 100.0f : 0.0f;
        isa_mm_out_record r;
        if (!npu_out_stage_channel((double)d->in[0].scale * (ws ? ws[c] : sw), d->out.scale, b, k, &r))
            fail_msg("channel %lld: the output stage cannot express it", (long long)c);
        npu_out_stage_put(p + ISA_MM_OUT_RECORD_BYTES * (uint64_t)c, &r);
    }
    if (table)
        npu_out_stage_table((int8_t *)(p + rec), act, d->fattr, d->out.scale, d->out.scale);
}

/* Bytes of a BLOCKED [K, N] weight with block width nb. */
static uint64_t blocked_bytes(int64_t k, int64_t n, int64_t nb, int int4)
{
    int64_t tiles = (n + nb - 1) / nb, last = n - (tiles - 1) * nb;
    if (int4)
        last = (last + 1) / 2 * 2;
    uint64_t el = (uint64_t)((tiles - 1) * k * nb + k * last);
    return int4 ? el / 2 : el;
}

static void run_mm(const mm_case *t, int64_t nb)
{
    opb_reset(&B);
    uint32_t at = t->atype ? t->atype : NPU_DT_I8;
    uint32_t ot = t->otype ? t->otype : t->f32_out ? NPU_DT_F32 : NPU_DT_I8;
    char what[240];
    snprintf(what, sizeof what, "matmul b%lld %lldx%lld %s @ %lldx%lld %s%s%s%s%s act %d -> %s group %d%s",
             (long long)t->batch, (long long)t->m, (long long)t->k, dt_name(at), (long long)t->k, (long long)t->n,
             dt_name(t->wtype), t->blocked ? " blocked" : "", t->per_channel ? " per-channel" : "",
             t->bias ? " bias" : "", t->batched_b ? " batched-b" : "", t->act, dt_name(ot), t->group,
             t->stage ? " output-stage" : "");
    int64_t adims[3] = {t->batch, t->m, t->k}, odims[3] = {t->batch, t->m, t->n};
    float s_a = scale_like_i8(at, 0.05f), s_b = t->wtype == NPU_DT_F16 ? 0.0f : 0.02f;
    npu_tensor_ref a = opb_tensor(&B, 0, at, s_a, 3, adims);
    npu_tensor_ref w;
    if (t->batched_b) {
        int64_t bd[3] = {t->batch, t->k, t->n};
        w = opb_tensor(&B, 1, t->wtype, s_b, 3, bd);
    } else {
        int64_t bd[2] = {t->k, t->n};
        w = t->blocked ? opb_tensor_bytes(&B, 1, t->wtype, s_b, 2, bd, blocked_bytes(t->k, t->n, nb, t->wtype == NPU_DT_I4))
                       : opb_tensor(&B, 1, t->wtype, s_b, 2, bd);
    }
    opb_fill(&B, &a);
    if (t->wtype == NPU_DT_F16)
        opb_fill_f16(&B, 1, w.offset, (B.used[1] - w.offset) / 2, -4.0f, 4.0f);
    else
        opb_fill_bytes(&B, 1, w.offset, B.used[1] - w.offset);
    uint64_t groups = t->group ? (uint64_t)((t->k + t->group - 1) / t->group) : 1;
    if (t->per_channel || t->group)
        opb_scales(&B, &w, (int32_t)w.rank - 1, groups * (uint64_t)t->n, 2, 0.001f, 0.05f);
    npu_op_desc *d = opb_op(&B, NPU_OP_MATMUL, t->bias ? 3 : 2);
    d->in[0] = a;
    d->in[1] = w;
    if (t->bias) {
        int64_t nd[1] = {t->n};
        d->in[2] = opb_tensor(&B, 2, NPU_DT_F32, 0, 1, nd);
        opb_fill(&B, &d->in[2]);
    }
    /* random products: a sum of K terms with a standard deviation of spread_a * spread_b each;
     * the output scale puts 2.5 standard deviations at 127 so that few results saturate */
    float real_a = (s_a > 0 ? s_a : 1.0f) * spread_of(at);
    float real_b = (t->per_channel || t->group ? 0.025f : s_b > 0 ? s_b : 1.0f) * spread_of(t->wtype);
    float s_out = real_a * real_b * sqrtf((float)t->k) * 2.5f / 127.0f;
    d->out = opb_tensor(&B, 3, ot, scale_like_i8(ot, s_out), 3, odims);
    d->iattr[0] = t->act;
    d->fattr[0] = t->act == NPU_ACT_CLIP ? -0.5f : 0.25f; /* the activation's parameters (CLIP: bounds) */
    d->fattr[1] = t->act == NPU_ACT_CLIP ? 0.75f : 0.5f;
    if (t->stage) { /* replaces the f32 bias */
        const float *ws = t->per_channel ? (const float *)(B.host[2] + w.scales_offset) : NULL;
        stage_params(d, t->act, t->n, (uint64_t)t->k, ws, w.scale, t->bias);
    }
    d->iattr[1] = t->blocked ? NPU_LAYOUT_BLOCKED : NPU_LAYOUT_ROW_MAJOR;
    d->iattr[2] = (int32_t)nb;
    d->iattr[3] = t->group;
    opb_check(&B, what);
}

static void test_matmul_shapes_around_the_tile(void **state)
{
    (void)state;
    static const int64_t ms[] = {1, 15, 16, 17, 40}, ks[] = {1, 16, 33}, ns[] = {1, 15, 16, 17, 50};
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
        for (size_t j = 0; j < sizeof ks / sizeof *ks; j++)
            for (size_t l = 0; l < sizeof ns / sizeof *ns; l++) {
                mm_case t = {1, ms[i], ks[j], ns[l], NPU_DT_I8, (int)((i + l) % 2), (int)(j % 2), (int)(l % 2), 0, 0,
                             (int32_t)((i + j + l) % 4), 0, 0, 0, 0};
                run_mm(&t, 16);
            }
}

/* The output stage's epilogue: rows narrower and wider than its 8 lanes, every activation, per
 * channel and per tensor, int4, batched B (attention), k in one mm and in several k chunks (the
 * int8 results land where the int32 partial sums were), weight-stationary row blocks. */
static void test_matmul_output_stage(void **state)
{
    (void)state;
    static const int64_t ms[] = {1, 16, 17, 40}, ns[] = {1, 7, 8, 9, 16, 17, 50};
    int no = 0;
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
        for (size_t l = 0; l < sizeof ns / sizeof *ns; l++, no++) {
            mm_case t = {1, ms[i], no % 3 ? 33 : 16, ns[l], NPU_DT_I8, no % 2, (no / 2) % 2, (no / 3) % 2, 0, 0,
                         (int32_t)(no % 4), 0, 0, 0, 1};
            run_mm(&t, 16);
        }
    mm_case i4 = {1, 20, 48, 34, NPU_DT_I4, 1, 1, 1, 0, 0, NPU_ACT_GELU, 0, 0, 0, 1};
    run_mm(&i4, 16);
    mm_case odd4 = {1, 5, 16, 18, NPU_DT_I4, 1, 1, 0, 0, 0, NPU_ACT_SILU, 0, 0, 0, 1}; /* a padded int4 column */
    run_mm(&odd4, 16);
    mm_case batched = {3, 9, 12, 20, NPU_DT_I8, 0, 0, 0, 1, 0, NPU_ACT_NONE, 0, 0, 0, 1};
    run_mm(&batched, 16);
    mm_case long_k = {1, 3, 16390, 5, NPU_DT_I8, 0, 1, 1, 0, 0, NPU_ACT_RELU, 0, 0, 0, 1}; /* two k chunks */
    run_mm(&long_k, 16);
    mm_case long_k_rows = {1, 40, 16500, 20, NPU_DT_I8, 1, 1, 1, 0, 0, NPU_ACT_GELU, 0, 0, 0, 1};
    run_mm(&long_k_rows, 16);
    /* the activations with parameters are tables too */
    mm_case clip = {1, 17, 33, 20, NPU_DT_I8, 1, 1, 1, 0, 0, NPU_ACT_CLIP, 0, 0, 0, 1};
    run_mm(&clip, 16);
    mm_case hsig = {2, 5, 17, 40, NPU_DT_I4, 1, 0, 1, 0, 0, NPU_ACT_HARDSIGMOID, 0, 0, 0, 1};
    run_mm(&hsig, 16);
    mm_case leaky = {1, 30, 20, 9, NPU_DT_I8, 0, 1, 0, 0, 0, NPU_ACT_LEAKY, 0, 0, 0, 1};
    run_mm(&leaky, 16);
    /* an i16 activation (the 16 x 8 mode, one int32 sum) requantised by the stage */
    mm_case wide = {1, 9, 40, 24, NPU_DT_I8, 1, 1, 1, 0, 0, NPU_ACT_RELU, NPU_DT_I16, NPU_DT_I8, 0, 1};
    run_mm(&wide, 16);
}

static void test_matmul_int4_weights(void **state)
{
    (void)state;
    static const int64_t ns[] = {2, 16, 17, 18, 34};
    for (size_t l = 0; l < sizeof ns / sizeof *ns; l++)
        for (int blocked = 0; blocked <= 1; blocked++) {
            if (!blocked && ns[l] % 2)
                continue; /* row-major int4 needs even N */
            mm_case t = {1, 17, 40, ns[l], NPU_DT_I4, blocked, 1, 1, 0, 0, NPU_ACT_NONE, 0, 0, 0, 0};
            run_mm(&t, 16);
            mm_case u = {2, 5, 17, ns[l], NPU_DT_I4, blocked, 0, 0, 0, 1, NPU_ACT_RELU, 0, 0, 0, 0};
            run_mm(&u, 16);
        }
}

static void test_matmul_batches(void **state)
{
    (void)state;
    /* shared weights across batches, and per-batch activations (attention's QK^T and PV) */
    mm_case shared = {3, 17, 20, 33, NPU_DT_I8, 1, 1, 1, 0, 0, NPU_ACT_GELU, 0, 0, 0, 0};
    run_mm(&shared, 16);
    /* more rows than one row block (8 array-row tiles): A streams through its two slots */
    mm_case tall = {1, 300, 40, 50, NPU_DT_I8, 1, 1, 1, 0, 0, NPU_ACT_RELU, 0, 0, 0, 0};
    run_mm(&tall, 16);
    mm_case tall4 = {2, 150, 33, 34, NPU_DT_I4, 1, 0, 1, 0, 1, NPU_ACT_NONE, 0, 0, 0, 0};
    run_mm(&tall4, 16);
    /* k within the array's rows: weight-stationary, rows streaming, per batch and across batches */
    mm_case ws_batched = {4, 40, 12, 20, NPU_DT_I8, 0, 0, 0, 1, 0, NPU_ACT_NONE, 0, 0, 0, 0};
    run_mm(&ws_batched, 16);
    mm_case ws_shared = {3, 100, 16, 40, NPU_DT_I4, 1, 1, 1, 0, 0, NPU_ACT_GELU, 0, 0, 0, 0};
    run_mm(&ws_shared, 16);
    static const int64_t ms[] = {1, 4, 16, 17}, ns[] = {1, 8, 16, 40};
    for (size_t i = 0; i < 4; i++) {
        mm_case t = {6, ms[i], 24, ns[i], NPU_DT_I8, 0, 0, 0, 1, (int)(i % 2), NPU_ACT_NONE, 0, 0, 0, 0};
        run_mm(&t, 16);
    }
}

static void test_matmul_narrow_blocks_and_long_k(void **state)
{
    (void)state;
    mm_case t = {1, 3, 50, 37, NPU_DT_I8, 1, 1, 1, 0, 0, NPU_ACT_SILU, 0, 0, 0, 0};
    run_mm(&t, 8); /* blocks narrower than the array */
    /* K beyond the array's k field and the SRAM: k chunks with accumulation, A reloaded per group */
    mm_case longk = {1, 2, 20000, 17, NPU_DT_I8, 1, 1, 0, 0, 0, NPU_ACT_NONE, 0, 0, 0, 0};
    run_mm(&longk, 16);
    mm_case longk4 = {1, 20, 5000, 40, NPU_DT_I4, 1, 1, 1, 0, 0, NPU_ACT_NONE, 0, 0, 0, 0};
    run_mm(&longk4, 16);
}

/* The array's operand types (ABI 1.6): i16 activations (the 16 x 8 mode, K in int32 chunks of
 * 511 beyond that), f16 activations with i8, i4 or f16 weights (the f16 mode, f32 sums in k
 * order), i8 activations with i16 or f16 B, and outputs of every activation type. */
static void test_matmul_operand_types(void **state)
{
    (void)state;
    static const uint32_t pairs[][2] = {{NPU_DT_I16, NPU_DT_I8}, {NPU_DT_I16, NPU_DT_I4}, {NPU_DT_F16, NPU_DT_I8},
                                        {NPU_DT_F16, NPU_DT_I4}, {NPU_DT_F16, NPU_DT_F16}, {NPU_DT_I8, NPU_DT_I16},
                                        {NPU_DT_I8, NPU_DT_F16}};
    static const uint32_t outs[] = {NPU_DT_I8, NPU_DT_I16, NPU_DT_F16, NPU_DT_F32};
    static const int64_t shapes[][3] = {{1, 16, 1}, {17, 33, 18}, {40, 16, 50}, {3, 700, 20}};
    for (size_t p = 0; p < sizeof pairs / sizeof *pairs; p++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            int blocked = (int)((p + s) % 2);
            if (pairs[p][1] == NPU_DT_I4 && !blocked && shapes[s][2] % 2)
                blocked = 1; /* row-major int4 needs even N */
            mm_case t = {1, shapes[s][0], shapes[s][1], shapes[s][2], pairs[p][1], blocked, (int)(s % 2),
                         (int)((p + 1) % 2), 0, 0, (int32_t)((p + s) % 4), pairs[p][0], outs[(p + s) % 4], 0, 0};
            run_mm(&t, 16);
        }
    /* batches and a batched B; weight-stationary rows */
    mm_case batched = {3, 17, 20, 33, NPU_DT_F16, 0, 0, 1, 1, 0, NPU_ACT_NONE, NPU_DT_F16, NPU_DT_F16, 0, 0};
    run_mm(&batched, 16);
    mm_case ws = {2, 100, 16, 40, NPU_DT_I8, 1, 1, 1, 0, 0, NPU_ACT_RELU, NPU_DT_I16, NPU_DT_I16, 0, 0};
    run_mm(&ws, 16);
    /* i16 with a K of several int32 chunks, rows beyond one row block */
    mm_case longk = {1, 150, 1200, 40, NPU_DT_I8, 1, 1, 1, 0, 0, NPU_ACT_GELU, NPU_DT_I16, NPU_DT_F32, 0, 0};
    run_mm(&longk, 16);
}

/* Per-group weight scales (iattr[3] = G): K summed in f32 chunks of G rows, each chunk's products
 * times its group's scales; G dividing K or not, larger than K, with every activation type. */
static void test_matmul_group_scales(void **state)
{
    (void)state;
    static const int32_t gs[] = {16, 32, 24, 100};
    static const uint32_t acts[] = {NPU_DT_I8, NPU_DT_I16, NPU_DT_F16};
    for (size_t g = 0; g < sizeof gs / sizeof *gs; g++)
        for (size_t a = 0; a < sizeof acts / sizeof *acts; a++)
            for (int w4 = 0; w4 <= 1; w4++) {
                mm_case t = {1, 17 + (int64_t)g, 64, 34, w4 ? NPU_DT_I4 : NPU_DT_I8, (int)((g + a) % 2), 0,
                             (int)(a % 2), 0, 0, NPU_ACT_NONE, acts[a], a == 2 ? NPU_DT_F16 : NPU_DT_I8, gs[g], 0};
                run_mm(&t, 16);
            }
    mm_case longk = {1, 20, 3000, 40, NPU_DT_I4, 1, 0, 1, 0, 0, NPU_ACT_RELU, NPU_DT_I8, NPU_DT_F32, 128, 0};
    run_mm(&longk, 16);
}

/* ---------------------------------------------------------------- vector families */

static npu_tensor_ref act(uint32_t buf, uint32_t dtype, float scale, uint32_t rank, const int64_t *dims, int fill)
{
    npu_tensor_ref t = opb_tensor(&B, buf, dtype, scale, rank, dims);
    if (fill)
        opb_fill(&B, &t);
    return t;
}

static void test_unary_every_function(void **state)
{
    (void)state;
    static const int64_t shapes[][2] = {{1, 1}, {3, 17}, {64, 100}, {1, 70000}};
    for (int fn = 0; fn <= ISA_UNOP_COS; fn++)
        for (size_t s = 0; s < 4; s++) {
            if (s == 3 && fn % 5)
                continue; /* the long shape for a few functions only */
            opb_reset(&B);
            uint32_t in_dt = (fn + (int)s) % 2 ? NPU_DT_F32 : NPU_DT_I8, out_dt = fn % 3 ? NPU_DT_I8 : NPU_DT_F32;
            npu_op_desc *d = opb_op(&B, NPU_OP_UNARY, 1);
            d->in[0] = act(0, in_dt, 0.04f, 2, shapes[s], 1);
            d->out = act(1, out_dt, 0.03f, 2, shapes[s], 0);
            d->iattr[0] = fn;
            d->fattr[0] = 0.25f;
            char what[64];
            snprintf(what, sizeof what, "unary %s on %lldx%lld", isa_enum_name(ISA_ENUMSET_UNOP, fn),
                     (long long)shapes[s][0], (long long)shapes[s][1]);
            opb_check(&B, what);
        }
}

static void test_binary_broadcasts(void **state)
{
    (void)state;
    static const int64_t shapes[][2] = {{1, 1}, {5, 16}, {33, 17}, {200, 300}};
    for (int fn = 0; fn <= ISA_BINOP_POW; fn++)
        for (size_t s = 0; s < 4; s++)
            for (int bc = 0; bc < 4; bc++) {
                opb_reset(&B);
                int64_t rows = shapes[s][0], cols = shapes[s][1];
                int64_t bdims[2] = {bc == 0 || bc == 2 ? rows : 1, bc == 0 || bc == 1 ? cols : 1};
                npu_op_desc *d = opb_op(&B, NPU_OP_BINARY, 2);
                d->in[0] = act(0, (fn + bc) % 2 ? NPU_DT_I8 : NPU_DT_F32, 0.05f, 2, shapes[s], 1);
                d->in[1] = act(1, bc % 2 ? NPU_DT_I8 : NPU_DT_F32, 0.02f, 2, bdims, 1);
                d->out = act(2, (int)s % 2 ? NPU_DT_I8 : NPU_DT_F32, 0.08f, 2, shapes[s], 0);
                d->iattr[0] = fn;
                d->iattr[1] = fn != ISA_BINOP_POW && (s + (size_t)bc) % 3 == 0; /* reversed operands */
                char what[80];
                snprintf(what, sizeof what, "binary %s%s, %lldx%lld, in1 %lldx%lld",
                         isa_enum_name(ISA_ENUMSET_BINOP, fn), d->iattr[1] ? " reversed" : "", (long long)rows,
                         (long long)cols, (long long)bdims[0], (long long)bdims[1]);
                opb_check(&B, what);
            }
}

static void test_norms(void **state)
{
    (void)state;
    static const int64_t shapes[][2] = {{1, 8}, {7, 64}, {40, 300}, {3, 4000}};
    for (int kind = NPU_NORM_LAYER; kind <= NPU_NORM_RMS; kind++)
        for (size_t s = 0; s < 4; s++)
            for (int aff = 0; aff < 3; aff++) {
                opb_reset(&B);
                npu_op_desc *d = opb_op(&B, NPU_OP_NORM, 1 + (uint32_t)aff);
                d->in[0] = act(0, aff == 1 ? NPU_DT_F32 : NPU_DT_I8, 0.05f, 2, shapes[s], 1);
                int64_t pd[1] = {shapes[s][1]};
                if (aff >= 1)
                    d->in[1] = act(1, NPU_DT_F32, 0, 1, pd, 1);
                if (aff >= 2)
                    d->in[2] = act(1, NPU_DT_F32, 0, 1, pd, 1);
                d->out = act(2, s % 2 ? NPU_DT_F32 : NPU_DT_I8, 0.04f, 2, shapes[s], 0);
                d->iattr[0] = kind;
                d->fattr[0] = (s % 2) ? 1e-5f : 1e-6f;
                char what[80];
                snprintf(what, sizeof what, "norm %d on %lldx%lld, affine %d", kind, (long long)shapes[s][0],
                         (long long)shapes[s][1], aff);
                opb_check(&B, what);
            }
}

static void test_group_norm(void **state)
{
    (void)state;
    static const int64_t shapes[][4] = {{1, 4, 3, 5}, {2, 32, 8, 8}, {3, 6, 1, 17}, {1, 64, 30, 30}};
    static const int32_t groups[] = {2, 8, 6, 32};
    for (size_t s = 0; s < 4; s++) {
        opb_reset(&B);
        npu_op_desc *d = opb_op(&B, NPU_OP_NORM, 3);
        d->in[0] = act(0, NPU_DT_I8, 0.05f, 4, shapes[s], 1);
        int64_t pd[1] = {shapes[s][1]};
        d->in[1] = act(1, NPU_DT_F32, 0, 1, pd, 1);
        d->in[2] = act(1, NPU_DT_F32, 0, 1, pd, 1);
        d->out = act(2, NPU_DT_I8, 0.04f, 4, shapes[s], 0);
        d->iattr[0] = NPU_NORM_GROUP;
        d->iattr[1] = groups[s];
        d->fattr[0] = 1e-5f;
        char what[80];
        snprintf(what, sizeof what, "group norm %zu", s);
        opb_check(&B, what);
    }
}

static void test_reduce(void **state)
{
    (void)state;
    static const int64_t shapes[][2] = {{1, 1}, {9, 16}, {300, 33}, {2, 20000}};
    for (int fn = 0; fn <= ISA_REDOP_MIN; fn++)
        for (size_t s = 0; s < 4; s++) {
            opb_reset(&B);
            npu_op_desc *d = opb_op(&B, NPU_OP_REDUCE, 1);
            d->in[0] = act(0, s % 2 ? NPU_DT_I8 : NPU_DT_F32, 0.05f, 2, shapes[s], 1);
            int64_t od[2] = {shapes[s][0], 1};
            d->out = act(1, fn % 2 ? NPU_DT_I8 : NPU_DT_F32, 0.5f, 2, od, 0);
            d->iattr[0] = fn;
            char what[64];
            snprintf(what, sizeof what, "reduce %d on %lldx%lld", fn, (long long)shapes[s][0], (long long)shapes[s][1]);
            opb_check(&B, what);
        }
}

static void test_softmax(void **state)
{
    (void)state;
    static const int64_t shapes[][3] = {{1, 1, 1}, {2, 7, 16}, {4, 33, 100}, {1, 600, 512}};
    for (size_t s = 0; s < 4; s++)
        for (int mask = 0; mask <= 1; mask++) {
            opb_reset(&B);
            npu_op_desc *d = opb_op(&B, NPU_OP_SOFTMAX, 1);
            d->in[0] = act(0, NPU_DT_I8, 0.08f, 3, shapes[s], 1);
            d->out = act(1, s % 2 ? NPU_DT_F32 : NPU_DT_I8, 1.0f / 128, 3, shapes[s], 0);
            d->iattr[0] = mask;
            d->iattr[1] = (int32_t)s - 1;
            char what[64];
            snprintf(what, sizeof what, "softmax %zu mask %d", s, mask);
            opb_check(&B, what);
        }
}

/* ---------------------------------------------------------------- fused attention */

typedef struct attn_case {
    int64_t G, Lq, Lk, D, Dv, bc;
    int k_rows;
    int mask;            /* 0 none, 1 int8, 2 f32 causal (-inf above the diagonal) */
    int64_t mats, div;   /* mask matrices, matrices per mask */
    int f32_out;
    int tile;            /* the softmax tile on whole rows (bc = Lk) */
} attn_case;

/* Q, K, V random int8; the mask random int8 (any value: bit-exactness does not need a meaningful
 * one) or an f32 causal mask; scales that give the scores a spread of a few units. */
static void run_attn(const attn_case *t)
{
    opb_reset(&B);
    char what[200];
    snprintf(what, sizeof what, "attention G%lld Lq%lld Lk%lld D%lld Dv%lld bc%lld%s mask %d (%lld/%lld)%s%s",
             (long long)t->G, (long long)t->Lq, (long long)t->Lk, (long long)t->D, (long long)t->Dv, (long long)t->bc,
             t->k_rows ? " k-rows" : "", t->mask, (long long)t->mats, (long long)t->div, t->f32_out ? " f32-out" : "",
             t->tile ? " softmax-tile" : "");
    int64_t qd[3] = {t->G, t->Lq, t->D}, kd[3] = {t->G, t->k_rows ? t->Lk : t->D, t->k_rows ? t->D : t->Lk};
    int64_t vd[3] = {t->G, t->Lk, t->Dv}, od[3] = {t->G, t->Lq, t->Dv};
    npu_op_desc *d = opb_op(&B, NPU_OP_ATTENTION, 3);
    d->in[0] = act(0, NPU_DT_I8, 0.01f, 3, qd, 1);
    d->in[1] = act(1, NPU_DT_I8, 0.01f, 3, kd, 1);
    d->in[2] = act(1, NPU_DT_I8, 0.02f, 3, vd, 1);
    d->out = act(3, t->f32_out ? NPU_DT_F32 : NPU_DT_I8, 0.02f, 3, od, 0);
    d->iattr[0] = (int32_t)t->bc;
    d->iattr[1] = t->k_rows ? NPU_ATTN_K_ROWS : NPU_ATTN_K_TRANSPOSED;
    d->fattr[0] = 1.0f / sqrtf((float)t->D);
    if (t->tile) {
        d->iattr[5] = NPU_ATTN_SOFTMAX_TILE;
        d->fattr[2] = 0.04f; /* the int8 scores' scale: about 5 units across */
    }
    if (t->mask) {
        int64_t md[3] = {t->mats, t->Lq, t->Lk};
        npu_tensor_ref m = act(2, t->mask == 1 ? NPU_DT_I8 : NPU_DT_F32, 0.05f, 3, md, t->mask == 1);
        if (t->mask == 2)
            for (int64_t x = 0; x < t->mats; x++)
                for (int64_t r = 0; r < t->Lq; r++)
                    for (int64_t j = 0; j < t->Lk; j++) {
                        float v = j > r ? -INFINITY : 0.0f;
                        memcpy(B.host[2] + m.offset + 4 * ((x * t->Lq + r) * t->Lk + j), &v, 4);
                    }
        d->iattr[2] = NPU_ATTN_MASK_ADD;
        d->iattr[3] = (int32_t)m.buf;
        d->iattr[4] = (int32_t)m.dtype;
        d->fattr[1] = m.scale;
        d->lattr[0] = (int64_t)m.offset;
        d->lattr[1] = t->mats;
        d->lattr[2] = t->div;
    }
    opb_check(&B, what);
}

/* Shapes around the 16x16 array's tiles, one and several key blocks (the online rescaling), key
 * blocks that are not tile multiples, both key layouts, int8 and f32 outputs. */
static void test_attention_shapes_and_key_blocks(void **state)
{
    (void)state;
    static const attn_case cases[] = {
        {1, 1, 1, 8, 8, 1, 0, 0, 1, 1, 0, 0},       {1, 1, 40, 16, 16, 16, 0, 0, 1, 1, 1, 0},
        {2, 5, 33, 16, 24, 33, 1, 0, 1, 1, 0, 0},   {2, 17, 33, 20, 16, 7, 0, 0, 1, 1, 1, 0},
        {1, 16, 16, 16, 16, 16, 1, 0, 1, 1, 0, 0},  {3, 40, 70, 8, 17, 32, 1, 0, 1, 1, 0, 0},
        {1, 24, 50, 64, 1, 1, 0, 0, 1, 1, 1, 0},    {1, 9, 100, 33, 40, 50, 1, 0, 1, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_attn(&cases[i]);
}

/* Masks: int8 shared by every matrix, per batch (broadcast over heads), per head (broadcast over
 * batches); an f32 causal mask with -inf (later key blocks of early rows entirely masked). */
static void test_attention_masks(void **state)
{
    (void)state;
    static const attn_case cases[] = {
        {4, 12, 30, 16, 16, 16, 0, 1, 1, 1, 0, 0}, {4, 12, 30, 16, 16, 30, 1, 1, 2, 2, 1, 0},
        {4, 7, 20, 8, 8, 8, 0, 1, 2, 1, 0, 0},     {2, 33, 33, 16, 16, 16, 1, 2, 1, 1, 1, 0},
        {1, 20, 20, 16, 16, 5, 0, 2, 1, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_attn(&cases[i]);
}

/* The softmax tile on whole rows (one key block): shapes, masks (the f32 -inf one saturates to the
 * int8 minimum), both key layouts, several row blocks. */
static void test_attention_softmax_tile(void **state)
{
    (void)state;
    static const attn_case cases[] = {
        {1, 1, 1, 8, 8, 1, 0, 0, 1, 1, 0, 1},        {2, 17, 33, 20, 16, 33, 1, 0, 1, 1, 1, 1},
        {4, 12, 30, 16, 24, 30, 0, 1, 2, 2, 0, 1},   {2, 33, 33, 16, 16, 33, 1, 2, 1, 1, 1, 1},
        {1, 150, 200, 64, 48, 200, 0, 1, 1, 1, 0, 1}, {1, 40, 512, 16, 16, 512, 1, 0, 1, 1, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_attn(&cases[i]);
}

/* More query rows than fit beside the key block in the 256 KiB SRAM: several row blocks, each
 * streaming K and V again. */
static void test_attention_row_blocks(void **state)
{
    (void)state;
    attn_case t = {2, 200, 96, 64, 64, 64, 1, 1, 1, 1, 0, 0};
    run_attn(&t);
    attn_case u = {1, 150, 40, 64, 48, 40, 0, 2, 1, 1, 1, 0};
    run_attn(&u);
}

/* Descriptors the kernel refuses, each naming why: a key block longer than the keys, a mask
 * outside its buffer, a key block that cannot fit in the SRAM. */
static void test_attention_refusals(void **state)
{
    (void)state;
    static const struct { int what; const char *reason; } bad[] = {
        {0, "iattr[0] (key block)"}, {1, "mask: ["}, {2, "does not fit in the 262144-byte SRAM"}, {3, "iattr[1]"},
        {4, "the softmax tile needs one key block"}, {5, "exceed the softmax tile's 512"},
        {6, "outside the softmax tile's range"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        opb_reset(&B);
        int64_t lk = bad[i].what == 2 ? 8000 : bad[i].what == 5 ? 600 : 16;
        int64_t qd[3] = {1, 4, 16}, kd[3] = {1, 16, lk}, vd[3] = {1, lk, 16};
        int64_t od[3] = {1, 4, 16};
        npu_op_desc *d = opb_op(&B, NPU_OP_ATTENTION, 3);
        d->in[0] = act(0, NPU_DT_I8, 0.01f, 3, qd, 0);
        d->in[1] = act(1, NPU_DT_I8, 0.01f, 3, kd, 0);
        d->in[2] = act(1, NPU_DT_I8, 0.01f, 3, vd, 0);
        d->out = act(3, NPU_DT_I8, 0.01f, 3, od, 0);
        d->iattr[0] = bad[i].what == 0 ? 17 : bad[i].what == 4 ? 8 : (int32_t)lk;
        d->iattr[1] = bad[i].what == 3 ? 5 : 0;
        d->fattr[0] = 0.25f;
        if (bad[i].what >= 4) {
            d->iattr[5] = NPU_ATTN_SOFTMAX_TILE;
            d->fattr[2] = bad[i].what == 6 ? 1e-9f : 0.05f;
        }
        if (bad[i].what == 1) {
            d->iattr[2] = NPU_ATTN_MASK_ADD;
            d->iattr[3] = 2;
            d->iattr[4] = NPU_DT_I8;
            d->fattr[1] = 1.0f;
            d->lattr[0] = (int64_t)BUF_BYTES - 10;
            d->lattr[1] = 1;
            d->lattr[2] = 1;
        }
        char log[4096];
        while (npu_dev_read_log(B.dev, log, sizeof log) > 0) /* only this job's lines below */
            ;
        assert_int_equal(opb_run_device(&B, 0), NPU_DRV_E_FAULT);
        assert_int_equal(B.res.fault, NPU_FAULT_BAD_OP);
        npu_dev_read_log(B.dev, log, sizeof log);
        assert_int_equal(npu_dev_reset(B.dev), NPU_DRV_OK);
        if (!strstr(log, bad[i].reason))
            fail_msg("refusal %zu: the log does not say '%s':\n%s", i, bad[i].reason, log);
    }
}

/* ---------------------------------------------------------------- data movement */

static void test_transpose(void **state)
{
    (void)state;
    static const int64_t shapes[][4] = {{2, 3, 4, 5}, {1, 17, 4, 33}, {3, 40, 2, 64}, {1, 1, 300, 500}, {2, 3, 4, 6}};
    static const int32_t perms[][4] = {{0, 2, 1, 3}, {0, 1, 3, 2}, {3, 2, 1, 0}, {1, 0, 3, 2}, {2, 0, 3, 1}};
    for (size_t s = 0; s < 5; s++)
        for (size_t p = 0; p < 10; p++) {
            opb_reset(&B);
            uint32_t dt = p % 2 ? NPU_DT_I8 : NPU_DT_F32;
            npu_op_desc *d = opb_op(&B, NPU_OP_TRANSPOSE, 1);
            d->in[0] = act(0, dt, 0.1f, 4, shapes[s], 1);
            int64_t od[4];
            for (int i = 0; i < 4; i++) {
                od[i] = shapes[s][perms[p / 2][i]];
                d->iattr[i] = perms[p / 2][i];
            }
            d->out = act(1, dt, 0.1f, 4, od, 0);
            char what[64];
            snprintf(what, sizeof what, "transpose shape %zu perm %zu", s, p);
            opb_check(&B, what);
        }
}

static void test_box_copy(void **state)
{
    (void)state;
    /* a slice, a concat part, a strided column box, and a requantising copy */
    static const int64_t in[][4] = {{2, 8, 10, 12}, {1, 3, 5, 7}, {4, 50, 1, 300}, {1, 1, 100, 100}};
    static const int64_t out[][4] = {{2, 8, 10, 12}, {1, 6, 5, 7}, {4, 50, 1, 600}, {1, 1, 120, 120}};
    static const int64_t box[][4] = {{1, 4, 3, 5}, {1, 3, 5, 7}, {4, 50, 1, 300}, {1, 1, 100, 1}};
    static const int32_t src[][4] = {{1, 2, 7, 3}, {0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 99}};
    static const int32_t dst[][4] = {{0, 1, 0, 6}, {0, 3, 0, 0}, {0, 0, 0, 300}, {0, 0, 10, 10}};
    for (size_t s = 0; s < 4; s++)
        for (int conv = 0; conv < 3; conv++) {
            opb_reset(&B);
            npu_op_desc *d = opb_op(&B, NPU_OP_COPY, 1);
            d->in[0] = act(0, conv == 2 ? NPU_DT_F32 : NPU_DT_I8, 0.1f, 4, in[s], 1);
            d->out = act(1, NPU_DT_I8, conv ? 0.07f : 0.1f, 4, out[s], 1);
            for (int i = 0; i < 4; i++) {
                d->lattr[i] = box[s][i];
                d->iattr[i] = src[s][i];
                d->iattr[4 + i] = dst[s][i];
            }
            char what[64];
            snprintf(what, sizeof what, "copy %zu conversion %d", s, conv);
            opb_check(&B, what);
        }
}

/* ---------------------------------------------------------------- conv */

static void run_conv_full(int64_t n, int64_t c, int64_t h, int64_t w, int64_t co, int64_t kh, int64_t kw, int32_t sh,
                          int32_t sw, int per_channel, int bias, uint32_t xt, uint32_t wt, uint32_t ot, int stage,
                          int32_t activation)
{
    opb_reset(&B);
    int64_t oh = (h - kh) / sh + 1, ow = (w - kw) / sw + 1;
    int64_t xd[4] = {n, c, h, w}, wd[4] = {co, c, kh, kw}, od[4] = {n, co, oh, ow};
    npu_op_desc *d = opb_op(&B, NPU_OP_CONV2D, bias ? 3 : 2);
    float s_x = scale_like_i8(xt, 0.05f), s_w = wt == NPU_DT_F16 ? 0.0f : 0.01f;
    d->in[0] = act(0, xt, s_x, 4, xd, 1);
    d->in[1] = act(1, wt, s_w, 4, wd, 1);
    if (per_channel)
        opb_scales(&B, &d->in[1], 0, (uint64_t)co, 2, 0.005f, 0.015f);
    if (bias) {
        int64_t bd[1] = {co};
        d->in[2] = act(2, NPU_DT_F32, 0, 1, bd, 1);
    }
    float real_x = (s_x > 0 ? s_x : 1.0f) * spread_of(xt), real_w = (s_w > 0 ? s_w : 1.0f) * spread_of(wt);
    float s_out = real_x * real_w * sqrtf((float)(c * kh * kw)) * 2.5f / 127.0f;
    if (!ot)
        ot = per_channel || stage ? NPU_DT_I8 : NPU_DT_F32;
    d->out = act(3, ot, scale_like_i8(ot, s_out), 4, od, 0);
    d->iattr[0] = sh;
    d->iattr[1] = sw;
    d->iattr[6] = activation < 0 ? (bias ? NPU_ACT_RELU : NPU_ACT_NONE) : activation;
    d->fattr[0] = activation == NPU_ACT_CLIP ? 0.0f : 0.2f; /* ReLU6's bounds; hard sigmoid's slope */
    d->fattr[1] = activation == NPU_ACT_CLIP ? 6.0f : 0.5f;
    d->iattr[7] = NPU_LAYOUT_OHWI;
    if (stage)
        stage_params(d, d->iattr[6], co, (uint64_t)(c * kh * kw),
                     per_channel ? (const float *)(B.host[2] + d->in[1].scales_offset) : NULL, d->in[1].scale, bias);
    char what[180];
    snprintf(what, sizeof what, "conv %lldx%lldx%lldx%lld %s -> %lld, k %lldx%lld %s, stride %d,%d -> %s%s act %d",
             (long long)n, (long long)c, (long long)h, (long long)w, dt_name(xt), (long long)co, (long long)kh,
             (long long)kw, dt_name(wt), sh, sw, dt_name(ot), stage ? " output-stage" : "", d->iattr[6]);
    opb_check(&B, what);
}

static void run_conv_typed(int64_t n, int64_t c, int64_t h, int64_t w, int64_t co, int64_t kh, int64_t kw, int32_t sh,
                           int32_t sw, int per_channel, int bias, uint32_t xt, uint32_t wt, uint32_t ot)
{
    run_conv_full(n, c, h, w, co, kh, kw, sh, sw, per_channel, bias, xt, wt, ot, 0, -1);
}

static void run_conv_act(int64_t n, int64_t c, int64_t h, int64_t w, int64_t co, int64_t kh, int64_t kw, int32_t sh,
                         int32_t sw, int per_channel, int bias, int stage, int32_t activation)
{
    run_conv_full(n, c, h, w, co, kh, kw, sh, sw, per_channel, bias, NPU_DT_I8, NPU_DT_I8, 0, stage, activation);
}

static void run_conv(int64_t n, int64_t c, int64_t h, int64_t w, int64_t co, int64_t kh, int64_t kw, int32_t sh,
                     int32_t sw, int per_channel, int bias)
{
    run_conv_full(n, c, h, w, co, kh, kw, sh, sw, per_channel, bias, NPU_DT_I8, NPU_DT_I8, 0, 0, -1);
}

static void test_conv2d(void **state)
{
    (void)state;
    run_conv(1, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1);
    run_conv(2, 5, 6, 20, 17, 1, 1, 1, 1, 1, 0);  /* 1x1: positions in runs across rows */
    run_conv(1, 8, 9, 40, 33, 3, 3, 1, 1, 0, 1);  /* output rows longer than the array */
    run_conv(1, 4, 9, 13, 16, 3, 3, 2, 2, 1, 1);  /* stride 2: de-interleaved runs */
    run_conv(1, 3, 28, 28, 20, 7, 7, 7, 7, 1, 1); /* patchify: stride = kernel */
    run_conv(1, 6, 1, 50, 8, 1, 3, 1, 2, 1, 1);   /* a 1-D conv with stride 2 */
    run_conv(1, 64, 6, 6, 300, 3, 3, 1, 1, 1, 1); /* weights beyond the SRAM: blocks of channels */
    run_conv(1, 2000, 4, 4, 20, 3, 3, 1, 1, 1, 1); /* C*KH*KW beyond the array's k: input channel chunks */
    run_conv(1, 1500, 5, 9, 18, 3, 3, 2, 2, 0, 1); /* chunks with the strided im2col */
}

/* ---------------------------------------------------------------- the CNN families (ABI 1.5) */

/* A grouped convolution: OHWI weights [CO][KH][KW][C/G] with per-channel or per-tensor scales. */
static void run_gconv(int64_t n, int64_t c, int64_t h, int64_t w, int64_t co, int64_t groups, int64_t kh, int64_t kw,
                      int32_t sh, int32_t sw, int per_channel, int bias, int32_t fused, int f32_out)
{
    opb_reset(&B);
    int64_t oh = (h - kh) / sh + 1, ow = (w - kw) / sw + 1;
    int64_t xd[4] = {n, c, h, w}, wd[4] = {co, c / groups, kh, kw}, od[4] = {n, co, oh, ow};
    npu_op_desc *d = opb_op(&B, NPU_OP_GROUP_CONV2D, bias ? 3 : 2);
    d->in[0] = act(0, NPU_DT_I8, 0.05f, 4, xd, 1);
    d->in[1] = act(1, NPU_DT_I8, 0.01f, 4, wd, 1);
    if (per_channel)
        opb_scales(&B, &d->in[1], 0, (uint64_t)co, 2, 0.005f, 0.015f);
    if (bias) {
        int64_t bd[1] = {co};
        d->in[2] = act(2, NPU_DT_F32, 0, 1, bd, 1);
    }
    float s_out = 0.05f * 0.01f * 74.0f * 74.0f * sqrtf((float)(c / groups * kh * kw)) * 2.5f / 127.0f;
    d->out = act(3, f32_out ? NPU_DT_F32 : NPU_DT_I8, s_out, 4, od, 0);
    d->iattr[0] = sh;
    d->iattr[1] = sw;
    d->iattr[6] = fused;
    d->iattr[7] = NPU_LAYOUT_OHWI;
    d->lattr[0] = groups;
    d->fattr[0] = fused == NPU_ACT_HARDSIGMOID ? 0.2f : fused == NPU_ACT_LEAKY ? 0.1f : -0.5f; /* clip bounds */
    d->fattr[1] = fused == NPU_ACT_HARDSIGMOID ? 0.5f : 1.5f;
    char what[160];
    snprintf(what, sizeof what, "group conv %lldx%lldx%lldx%lld -> %lld, %lld groups, k %lldx%lld, stride %d,%d, act %d",
             (long long)n, (long long)c, (long long)h, (long long)w, (long long)co, (long long)groups, (long long)kh,
             (long long)kw, sh, sw, fused);
    opb_check(&B, what);
}

static void test_group_conv(void **state)
{
    (void)state;
    run_gconv(1, 8, 9, 10, 8, 8, 3, 3, 1, 1, 1, 1, NPU_ACT_CLIP, 0);      /* depthwise, one partial block */
    run_gconv(1, 40, 11, 12, 40, 40, 3, 3, 2, 2, 1, 1, NPU_ACT_RELU, 0);  /* depthwise, stride 2, 3 blocks */
    run_gconv(2, 6, 7, 30, 12, 6, 3, 3, 1, 1, 1, 0, NPU_ACT_NONE, 1);     /* multiplier 2, rows beyond the array */
    run_gconv(1, 16, 8, 8, 32, 4, 3, 3, 1, 2, 0, 1, NPU_ACT_LEAKY, 0);    /* 4 input, 8 output channels per group */
    run_gconv(1, 8, 6, 6, 40, 2, 3, 3, 1, 1, 1, 1, NPU_ACT_HARDSIGMOID, 0); /* wide groups: dense blocks */
    run_gconv(1, 32, 5, 9, 32, 32, 1, 1, 1, 1, 1, 1, NPU_ACT_NONE, 0);    /* 1x1 depthwise: flat runs */
    run_gconv(1, 24, 20, 20, 24, 24, 5, 5, 2, 1, 1, 1, NPU_ACT_CLIP, 0);  /* 5x5, mixed strides */
}

static void run_pool(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw, int32_t sh, int32_t sw,
                     int kind, int map, int f32_out)
{
    opb_reset(&B);
    int64_t oh = (h - kh) / sh + 1, ow = (w - kw) / sw + 1;
    int64_t xd[4] = {n, c, h, w}, od[4] = {n, c, oh, ow}, md[1] = {oh * ow};
    npu_op_desc *d = opb_op(&B, NPU_OP_POOL, map ? 2 : 1);
    d->in[0] = act(0, NPU_DT_I8, 0.05f, 4, xd, 1);
    if (map) {
        d->in[1] = act(1, NPU_DT_F32, 0, 1, md, 0);
        opb_fill_f32(&B, 1, d->in[1].offset, (uint64_t)(oh * ow), 0.1f, 1.0f);
    }
    d->out = act(2, f32_out ? NPU_DT_F32 : NPU_DT_I8, kind == NPU_POOL_MAX ? 0.05f : 0.02f, 4, od, 0);
    d->iattr[0] = sh;
    d->iattr[1] = sw;
    d->iattr[2] = (int32_t)kh;
    d->iattr[3] = (int32_t)kw;
    d->iattr[4] = kind;
    d->fattr[0] = 1.0f / (float)(kh * kw);
    char what[120];
    snprintf(what, sizeof what, "pool %d %lldx%lldx%lldx%lld, k %lldx%lld, stride %d,%d, map %d", kind, (long long)n,
             (long long)c, (long long)h, (long long)w, (long long)kh, (long long)kw, sh, sw, map);
    opb_check(&B, what);
}

static void test_pool(void **state)
{
    (void)state;
    run_pool(1, 5, 11, 13, 3, 3, 2, 2, NPU_POOL_MAX, 0, 0);  /* ResNet's stem pool shape class */
    run_pool(2, 3, 8, 8, 2, 2, 2, 2, NPU_POOL_AVG, 0, 1);
    run_pool(1, 7, 9, 9, 3, 3, 1, 1, NPU_POOL_AVG, 1, 0);    /* divisors per position */
    run_pool(1, 70, 7, 7, 7, 7, 1, 1, NPU_POOL_AVG, 0, 0);   /* a global window */
    run_pool(1, 4, 6, 10, 1, 1, 1, 1, NPU_POOL_MAX, 0, 0);   /* 1x1: flat runs */
    run_pool(1, 3, 10, 11, 2, 2, 3, 3, NPU_POOL_MAX, 0, 0);  /* stride beyond the window */
    run_pool(1, 64, 40, 40, 3, 3, 2, 2, NPU_POOL_MAX, 0, 0); /* channel blocks in the SRAM */
}

/* A max pool dequantises with the input's scale before folding (exact only for a scale > 0): a
 * descriptor with another scale is refused by the firmware (as every int8 scale) and the twin. */
static void test_pool_refuses_a_max_pool_scale_not_positive(void **state)
{
    (void)state;
    static const float bad[] = {-0.05f, 0.0f};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        opb_reset(&B);
        int64_t xd[4] = {1, 2, 5, 5}, od[4] = {1, 2, 3, 3};
        npu_op_desc *d = opb_op(&B, NPU_OP_POOL, 1);
        d->in[0] = act(0, NPU_DT_I8, bad[i], 4, xd, 1);
        d->out = act(2, NPU_DT_I8, 0.05f, 4, od, 0);
        d->iattr[0] = d->iattr[1] = 1;
        d->iattr[2] = d->iattr[3] = 3;
        d->iattr[4] = NPU_POOL_MAX;
        char log[4096];
        while (npu_dev_read_log(B.dev, log, sizeof log) > 0) /* only this job's lines below */
            ;
        assert_int_equal(opb_run_device(&B, 0), NPU_DRV_E_FAULT);
        assert_int_equal(B.res.fault, NPU_FAULT_BAD_OP);
        npu_dev_read_log(B.dev, log, sizeof log);
        assert_int_equal(npu_dev_reset(B.dev), NPU_DRV_OK);
        if (!strstr(log, "(expected finite and > 0)"))
            fail_msg("scale %g: the log does not say why:\n%s", (double)bad[i], log);
        npu_twin_buf tb[OPB_BUFS];
        for (int k = 0; k < OPB_BUFS; k++) {
            tb[k].data = B.host[k];
            tb[k].size = B.size[k];
        }
        rt_error e;
        memset(&e, 0, sizeof e);
        assert_int_not_equal(npu_twin_run(B.ops, B.nops, tb, OPB_BUFS, &e), RT_OK);
    }
}

static void run_pad(int64_t b, int64_t h, int64_t w, const int32_t *pads, int mode, int32_t ih, int32_t iw,
                    uint32_t dt)
{
    opb_reset(&B);
    int64_t ho = pads[0] + h + (h - 1) * ih + pads[2], wo = pads[1] + w + (w - 1) * iw + pads[3];
    int64_t xd[3] = {b, h, w}, od[3] = {b, ho, wo}, fd[1] = {wo};
    npu_op_desc *d = opb_op(&B, NPU_OP_PAD, mode == NPU_PAD_CONSTANT ? 2 : 1);
    d->in[0] = act(0, dt, 0.1f, 3, xd, 1);
    if (mode == NPU_PAD_CONSTANT)
        d->in[1] = act(1, dt, 0.1f, 1, fd, 1);
    d->out = act(2, dt, 0.1f, 3, od, 1);
    for (int i = 0; i < 4; i++)
        d->iattr[i] = pads[i];
    d->iattr[4] = mode;
    d->iattr[5] = ih;
    d->iattr[6] = iw;
    char what[120];
    snprintf(what, sizeof what, "pad mode %d %lldx%lldx%lld pads %d,%d,%d,%d interior %d,%d", mode, (long long)b,
             (long long)h, (long long)w, pads[0], pads[1], pads[2], pads[3], ih, iw);
    opb_check(&B, what);
}

static void test_pad(void **state)
{
    (void)state;
    static const int32_t p1[4] = {1, 2, 3, 0}, p0[4] = {0, 0, 0, 0}, p2[4] = {2, 2, 1, 1}, p3[4] = {2, 1, 2, 3};
    for (int mode = NPU_PAD_CONSTANT; mode <= NPU_PAD_REFLECT; mode++) {
        run_pad(3, 5, 7, p1, mode, 0, 0, NPU_DT_I8);
        run_pad(2, 4, 6, p3, mode, 0, 0, NPU_DT_F32);
        run_pad(1, 300, 290, p2, mode, 0, 0, NPU_DT_I8); /* planes beyond a slot: blocks of rows */
    }
    /* constant mode, small planes gathered: several blocks (the last one partial), rows of planes
     * beyond one v.mov, f32; larger planes per plane with the slots filled once (many blocks) */
    run_pad(600, 7, 7, p2, NPU_PAD_CONSTANT, 0, 0, NPU_DT_I8);
    run_pad(200, 30, 3, p1, NPU_PAD_CONSTANT, 0, 0, NPU_DT_I8);
    run_pad(90, 6, 5, p3, NPU_PAD_CONSTANT, 0, 0, NPU_DT_F32);
    run_pad(400, 40, 40, p2, NPU_PAD_CONSTANT, 0, 0, NPU_DT_I8);
    /* whole planes by DMA: one per input row of every plane (a 1-D conv's rows), one per plane;
     * gathered with no pad rows (straight into the block) */
    static const int32_t side[4] = {0, 3, 0, 2};
    run_pad(64, 1, 200, side, NPU_PAD_CONSTANT, 0, 0, NPU_DT_I8);
    run_pad(2, 30, 100, p1, NPU_PAD_CONSTANT, 0, 0, NPU_DT_I8);
    run_pad(50, 6, 5, side, NPU_PAD_CONSTANT, 0, 0, NPU_DT_I8);
    run_pad(2, 5, 6, p0, NPU_PAD_CONSTANT, 1, 1, NPU_DT_I8); /* a transposed convolution's zero insertion */
    run_pad(2, 4, 3, p2, NPU_PAD_CONSTANT, 2, 1, NPU_DT_I8);
    run_pad(1, 200, 150, p1, NPU_PAD_CONSTANT, 1, 0, NPU_DT_I8);
}

static void run_resize(int64_t b, int64_t h, int64_t w, int64_t ho, int64_t wo, int mode, int coord, int nearest,
                       uint32_t out_dt)
{
    opb_reset(&B);
    int64_t xd[3] = {b, h, w}, od[3] = {b, ho, wo};
    npu_op_desc *d = opb_op(&B, NPU_OP_RESIZE, 1);
    d->in[0] = act(0, NPU_DT_I8, 0.1f, 3, xd, 1);
    d->out = act(1, out_dt, mode == NPU_RESIZE_NEAREST ? 0.1f : 0.07f, 3, od, 0);
    d->iattr[0] = mode;
    d->iattr[1] = coord;
    d->iattr[2] = nearest;
    double sh = (double)ho / (double)h, sw = (double)wo / (double)w;
    memcpy(&d->lattr[0], &sh, sizeof sh);
    memcpy(&d->lattr[1], &sw, sizeof sw);
    char what[120];
    snprintf(what, sizeof what, "resize mode %d coord %d nearest %d %lldx%lldx%lld -> %lldx%lld", mode, coord, nearest,
             (long long)b, (long long)h, (long long)w, (long long)ho, (long long)wo);
    opb_check(&B, what);
}

static void test_resize(void **state)
{
    (void)state;
    for (int coord = 0; coord < NPU_COORD_COUNT; coord++) {
        run_resize(3, 5, 7, 10, 14, NPU_RESIZE_NEAREST, coord, coord % NPU_NEAREST_COUNT, NPU_DT_I8);
        run_resize(2, 9, 8, 4, 5, NPU_RESIZE_NEAREST, coord, (coord + 1) % NPU_NEAREST_COUNT, NPU_DT_I8);
        run_resize(3, 5, 7, 9, 4, NPU_RESIZE_LINEAR, coord, 0, coord % 2 ? NPU_DT_F32 : NPU_DT_I8);
        run_resize(2, 6, 6, 12, 12, NPU_RESIZE_LINEAR, coord, 0, NPU_DT_I8);
    }
    run_resize(16, 40, 40, 80, 80, NPU_RESIZE_LINEAR, NPU_COORD_HALF_PIXEL, 0, NPU_DT_I8); /* blocks of rows */
    run_resize(8, 30, 50, 60, 100, NPU_RESIZE_NEAREST, NPU_COORD_ASYMMETRIC, NPU_NEAREST_FLOOR, NPU_DT_I8);
    /* many small planes: loaded and stored by row (the cases above with fewer planes than rows go
     * by plane) */
    run_resize(40, 4, 4, 8, 8, NPU_RESIZE_NEAREST, NPU_COORD_ASYMMETRIC, NPU_NEAREST_FLOOR, NPU_DT_I8);
    run_resize(40, 4, 4, 8, 8, NPU_RESIZE_LINEAR, NPU_COORD_HALF_PIXEL, 0, NPU_DT_I8);
    /* output planes larger than a DMA's pitch (by plane, in blocks of rows) */
    run_resize(2, 130, 140, 260, 280, NPU_RESIZE_NEAREST, NPU_COORD_HALF_PIXEL, NPU_NEAREST_ROUND_PREFER_FLOOR, NPU_DT_I8);
    run_resize(1, 130, 140, 260, 280, NPU_RESIZE_LINEAR, NPU_COORD_ALIGN_CORNERS, 0, NPU_DT_I8);
}

static void test_activation(void **state)
{
    (void)state;
    static const int64_t shapes[][2] = {{1, 1}, {3, 17}, {64, 100}, {2, 70000}};
    for (int32_t a = NPU_ACT_NONE; a < NPU_ACT_COUNT; a++)
        for (size_t s = 0; s < 4; s++) {
            if (s == 3 && a % 3)
                continue; /* the long shape for a few activations only */
            opb_reset(&B);
            npu_op_desc *d = opb_op(&B, NPU_OP_ACTIVATION, a == NPU_ACT_PRELU ? 2 : 1);
            d->in[0] = act(0, (a + (int)s) % 2 ? NPU_DT_F32 : NPU_DT_I8, 0.04f, 2, shapes[s], 1);
            if (a == NPU_ACT_PRELU) {
                int64_t sd[2] = {shapes[s][0], 1};
                d->in[1] = act(1, NPU_DT_F32, 0, 2, sd, 1);
            }
            d->out = act(2, a % 3 ? NPU_DT_I8 : NPU_DT_F32, 0.03f, 2, shapes[s], 0);
            d->iattr[0] = a;
            d->fattr[0] = a == NPU_ACT_CLIP ? -1.0f : 0.3f;
            d->fattr[1] = a == NPU_ACT_CLIP ? 2.0f : 0.4f;
            char what[64];
            snprintf(what, sizeof what, "activation %d on %lldx%lld", a, (long long)shapes[s][0], (long long)shapes[s][1]);
            opb_check(&B, what);
        }
}

static void test_channel_affine(void **state)
{
    (void)state;
    static const int64_t shapes[][2] = {{1, 1}, {6, 49}, {64, 300}, {3, 30000}};
    static const int32_t acts[] = {NPU_ACT_NONE, NPU_ACT_RELU, NPU_ACT_CLIP};
    for (size_t s = 0; s < 4; s++)
        for (size_t a = 0; a < 3; a++) {
            opb_reset(&B);
            int64_t cd[2] = {shapes[s][0], 1};
            npu_op_desc *d = opb_op(&B, NPU_OP_CHANNEL_AFFINE, 3);
            d->in[0] = act(0, (s + a) % 2 ? NPU_DT_F32 : NPU_DT_I8, 0.05f, 2, shapes[s], 1);
            d->in[1] = act(1, NPU_DT_F32, 0, 2, cd, 1);
            d->in[2] = act(1, NPU_DT_F32, 0, 2, cd, 1);
            d->out = act(2, a == 1 ? NPU_DT_F32 : NPU_DT_I8, 0.1f, 2, shapes[s], 0);
            d->iattr[0] = acts[a];
            d->fattr[0] = 0.0f;
            d->fattr[1] = 6.0f;
            char what[64];
            snprintf(what, sizeof what, "channel affine on %lldx%lld, act %d", (long long)shapes[s][0],
                     (long long)shapes[s][1], acts[a]);
            opb_check(&B, what);
        }
}

static void test_fused_activations_with_parameters(void **state)
{
    (void)state;
    /* ReLU6 (clip 0..6), leaky and hard sigmoid fused into the array ops' epilogues */
    mm_case t = {1, 17, 33, 20, NPU_DT_I8, 1, 1, 1, 0, 0, NPU_ACT_CLIP, 0, 0, 0, 0};
    run_mm(&t, 16);
    mm_case u = {2, 5, 17, 40, NPU_DT_I4, 1, 0, 1, 0, 0, NPU_ACT_HARDSIGMOID, 0, 0, 0, 0};
    run_mm(&u, 16);
    mm_case v = {1, 30, 20, 9, NPU_DT_I8, 0, 1, 0, 0, 1, NPU_ACT_LEAKY, 0, 0, 0, 0};
    run_mm(&v, 16);
    opb_reset(&B);
    int64_t xd[4] = {1, 3, 8, 8}, wd[4] = {4, 3, 3, 3}, od[4] = {1, 4, 6, 6};
    npu_op_desc *d = opb_op(&B, NPU_OP_CONV2D, 2);
    d->in[0] = act(0, NPU_DT_I8, 0.05f, 4, xd, 1);
    d->in[1] = act(1, NPU_DT_I8, 0.01f, 4, wd, 1);
    d->out = act(3, NPU_DT_I8, 0.03f, 4, od, 0);
    d->iattr[0] = d->iattr[1] = 1;
    d->iattr[6] = NPU_ACT_CLIP;
    d->iattr[7] = NPU_LAYOUT_OHWI;
    d->fattr[0] = 0.0f;
    d->fattr[1] = 6.0f;
    opb_check(&B, "conv with ReLU6");
}

/* Run B's ops again with the per-op log and find "op 0 KERNEL (TILING" in it: each CNN kernel
 * describes its tiling (ABI 1.4's per-op log). */
static void expect_logged_tiling(const char *kernel, const char *tiling)
{
    char log[8192], want[256];
    while (npu_dev_read_log(B.dev, log, sizeof log) > 0) /* only this job's lines below */
        ;
    assert_int_equal(opb_run_device(&B, NPU_JOB_F_LOG_OPS), NPU_DRV_OK);
    npu_dev_read_log(B.dev, log, sizeof log);
    snprintf(want, sizeof want, "op 0 %s (%s", kernel, tiling);
    if (!strstr(log, want))
        fail_msg("no '%s' in the log:\n%s", want, log);
}

static void test_cnn_kernels_log_their_tiling(void **state)
{
    (void)state;
    run_gconv(1, 40, 11, 12, 40, 40, 3, 3, 2, 2, 1, 1, NPU_ACT_RELU, 0);
    expect_logged_tiling("group_conv2d", "1x40x11x12 -> 40 channels in 40 groups, kernel 3x3 stride 2x2, ");
    run_pool(1, 5, 11, 13, 3, 3, 2, 2, NPU_POOL_MAX, 0, 0);
    expect_logged_tiling("pool", "max 1x5x11x13, kernel 3x3 stride 2x2, 5 channels and ");
    static const int32_t pads[4] = {1, 2, 3, 0};
    run_pad(3, 5, 7, pads, NPU_PAD_CONSTANT, 0, 0, NPU_DT_I8);
    expect_logged_tiling("pad", "3 planes 5x7 -> 9x9, ");
    /* a 1-D convolution's padding: many planes of one row stream through several blocks (they
     * overlap load, fill and store; one block of 512 planes ran them one after the other) */
    static const int32_t sides[4] = {0, 2, 0, 2};
    run_pad(512, 1, 566, sides, NPU_PAD_CONSTANT, 0, 0, NPU_DT_I8);
    expect_logged_tiling("pad", "512 planes 1x566 -> 1x570, 64 planes per block, pads filled once");
    run_resize(3, 5, 7, 10, 14, NPU_RESIZE_NEAREST, NPU_COORD_ASYMMETRIC, NPU_NEAREST_FLOOR, NPU_DT_I8);
    expect_logged_tiling("resize", "nearest, 3 planes 5x7 -> 10x14, ");
    int64_t shape[2] = {3, 17}, slopes[2] = {3, 1};
    for (int prelu = 0; prelu <= 1; prelu++) {
        opb_reset(&B);
        npu_op_desc *d = opb_op(&B, NPU_OP_ACTIVATION, prelu ? 2 : 1);
        d->in[0] = act(0, NPU_DT_I8, 0.04f, 2, shape, 1);
        if (prelu)
            d->in[1] = act(1, NPU_DT_F32, 0, 2, slopes, 1);
        d->out = act(2, NPU_DT_I8, 0.03f, 2, shape, 0);
        d->iattr[0] = prelu ? NPU_ACT_PRELU : NPU_ACT_CLIP;
        d->fattr[0] = 0.0f;
        d->fattr[1] = 6.0f;
        expect_logged_tiling("activation", prelu ? "3 rows of 17, " : "51 elements, ");
    }
    opb_reset(&B);
    npu_op_desc *d = opb_op(&B, NPU_OP_CHANNEL_AFFINE, 3);
    d->in[0] = act(0, NPU_DT_I8, 0.05f, 2, shape, 1);
    d->in[1] = act(1, NPU_DT_F32, 0, 2, slopes, 1);
    d->in[2] = act(1, NPU_DT_F32, 0, 2, slopes, 1);
    d->out = act(2, NPU_DT_I8, 0.1f, 2, shape, 0);
    expect_logged_tiling("channel_affine", "3 rows of 17, ");
}

/* Conv with 16-bit activations (i16: the 16 x 8 mode; f16 with i8 or f16 weights: the f16
 * mode), every stride path, outputs of every type. */
static void test_conv2d_operand_types(void **state)
{
    (void)state;
    static const uint32_t pairs[][2] = {{NPU_DT_I16, NPU_DT_I8}, {NPU_DT_F16, NPU_DT_I8}, {NPU_DT_F16, NPU_DT_F16}};
    static const uint32_t outs[] = {NPU_DT_I8, NPU_DT_I16, NPU_DT_F16, NPU_DT_F32};
    for (size_t p = 0; p < 3; p++) {
        run_conv_typed(1, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, pairs[p][0], pairs[p][1], outs[p % 4]);
        run_conv_typed(2, 5, 6, 20, 17, 1, 1, 1, 1, 1, 0, pairs[p][0], pairs[p][1], outs[(p + 1) % 4]);
        run_conv_typed(1, 4, 9, 13, 16, 3, 3, 2, 2, 0, 1, pairs[p][0], pairs[p][1], outs[(p + 2) % 4]);
        run_conv_typed(1, 6, 1, 50, 8, 1, 3, 1, 2, 1, 1, pairs[p][0], pairs[p][1], outs[(p + 3) % 4]);
        run_conv_typed(1, 48, 5, 9, 40, 3, 3, 1, 1, 1, 1, pairs[p][0], pairs[p][1], NPU_DT_F32); /* k = 432 */
    }
}

/* Softmax of i16 and f16 rows runs on the vector unit in f32 (the tile reads int8 only), with and
 * without the causal mask, into every output type. */
static void test_softmax_wide_inputs(void **state)
{
    (void)state;
    static const int64_t shapes[][3] = {{1, 1, 1}, {2, 7, 16}, {4, 33, 100}, {1, 300, 700}};
    static const uint32_t outs[] = {NPU_DT_I8, NPU_DT_I16, NPU_DT_F16, NPU_DT_F32};
    for (size_t s = 0; s < 4; s++)
        for (int mask = 0; mask <= 1; mask++)
            for (uint32_t xt = NPU_DT_I16; xt <= NPU_DT_F16; xt++) {
                opb_reset(&B);
                npu_op_desc *d = opb_op(&B, NPU_OP_SOFTMAX, 1);
                d->in[0] = act(0, xt, scale_like_i8(xt, 0.08f), 3, shapes[s], 1);
                uint32_t ot = outs[(s + (size_t)mask) % 4];
                d->out = act(1, ot, scale_like_i8(ot, 1.0f / 128), 3, shapes[s], 0);
                d->iattr[0] = mask;
                d->iattr[1] = (int32_t)s - 1;
                char what[80];
                snprintf(what, sizeof what, "softmax %zu %s mask %d -> %s", s, dt_name(xt), mask, dt_name(ot));
                opb_check(&B, what);
            }
}

/* The vector families, transposes and copies read and write i16 and f16 through v.cvt. */
static void test_vector_ops_wide_types(void **state)
{
    (void)state;
    static const uint32_t types[] = {NPU_DT_I8, NPU_DT_I16, NPU_DT_F16, NPU_DT_F32};
    static const int64_t shape[2] = {33, 70}, big[2] = {2, 70000};
    for (size_t i = 0; i < 4; i++)
        for (size_t o = 0; o < 4; o++) {
            uint32_t xt = types[i], yt = types[o];
            if (xt != NPU_DT_I16 && xt != NPU_DT_F16 && yt != NPU_DT_I16 && yt != NPU_DT_F16)
                continue; /* the other pairs are the tests above */
            char what[80];
            opb_reset(&B);
            npu_op_desc *d = opb_op(&B, NPU_OP_UNARY, 1);
            d->in[0] = act(0, xt, scale_like_i8(xt, 0.04f), 2, i == o ? big : shape, 1);
            d->out = act(1, yt, scale_like_i8(yt, 0.03f), 2, i == o ? big : shape, 0);
            d->iattr[0] = ISA_UNOP_TANH;
            snprintf(what, sizeof what, "unary %s -> %s", dt_name(xt), dt_name(yt));
            opb_check(&B, what);

            opb_reset(&B);
            int64_t bd[2] = {1, shape[1]};
            d = opb_op(&B, NPU_OP_BINARY, 2);
            d->in[0] = act(0, xt, scale_like_i8(xt, 0.05f), 2, shape, 1);
            d->in[1] = act(1, yt, scale_like_i8(yt, 0.02f), 2, bd, 1);
            d->out = act(2, yt, scale_like_i8(yt, 0.08f), 2, shape, 0);
            d->iattr[0] = ISA_BINOP_ADD;
            snprintf(what, sizeof what, "binary %s + %s", dt_name(xt), dt_name(yt));
            opb_check(&B, what);

            opb_reset(&B);
            d = opb_op(&B, NPU_OP_NORM, 1);
            d->in[0] = act(0, xt, scale_like_i8(xt, 0.05f), 2, shape, 1);
            d->out = act(2, yt, scale_like_i8(yt, 0.04f), 2, shape, 0);
            d->iattr[0] = NPU_NORM_LAYER;
            d->fattr[0] = 1e-5f;
            snprintf(what, sizeof what, "norm %s -> %s", dt_name(xt), dt_name(yt));
            opb_check(&B, what);

            opb_reset(&B);
            int64_t rd[2] = {shape[0], 1};
            d = opb_op(&B, NPU_OP_REDUCE, 1);
            d->in[0] = act(0, xt, scale_like_i8(xt, 0.05f), 2, shape, 1);
            d->out = act(1, yt, scale_like_i8(yt, 0.5f), 2, rd, 0);
            d->iattr[0] = ISA_REDOP_SUM;
            snprintf(what, sizeof what, "reduce %s -> %s", dt_name(xt), dt_name(yt));
            opb_check(&B, what);

            /* a converting box copy; a transpose keeps its type */
            static const int64_t in4[4] = {2, 8, 10, 12}, box[4] = {1, 4, 3, 5};
            static const int32_t src[4] = {1, 2, 7, 3}, dst[4] = {0, 1, 0, 6};
            opb_reset(&B);
            d = opb_op(&B, NPU_OP_COPY, 1);
            d->in[0] = act(0, xt, scale_like_i8(xt, 0.1f), 4, in4, 1);
            d->out = act(1, yt, scale_like_i8(yt, 0.07f), 4, in4, 1);
            for (int k = 0; k < 4; k++) {
                d->lattr[k] = box[k];
                d->iattr[k] = src[k];
                d->iattr[4 + k] = dst[k];
            }
            snprintf(what, sizeof what, "copy %s -> %s", dt_name(xt), dt_name(yt));
            opb_check(&B, what);
            if (xt == NPU_DT_I16 || xt == NPU_DT_F16) {
                opb_reset(&B);
                static const int64_t td[4] = {3, 40, 2, 64}, tod[4] = {40, 3, 64, 2};
                static const int32_t perm[4] = {1, 0, 3, 2};
                d = opb_op(&B, NPU_OP_TRANSPOSE, 1);
                d->in[0] = act(0, xt, scale_like_i8(xt, 0.1f), 4, td, 1);
                d->out = act(1, xt, scale_like_i8(xt, 0.1f), 4, tod, 0);
                for (int k = 0; k < 4; k++)
                    d->iattr[k] = perm[k];
                snprintf(what, sizeof what, "transpose %s", dt_name(xt));
                opb_check(&B, what);
            }
        }
}

/* The output stage's epilogue by rows (a convolution's output channels are the rows of C): channel
 * tiles of the array's rows and fewer, every activation, input-channel chunks (int8 results where
 * the int32 partial sums were), strides. */
static void test_conv2d_output_stage(void **state)
{
    (void)state;
    run_conv_act(1, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, NPU_ACT_RELU);
    run_conv_act(2, 5, 6, 20, 17, 1, 1, 1, 1, 1, 0, 1, NPU_ACT_NONE);
    run_conv_act(1, 8, 9, 40, 33, 3, 3, 1, 1, 0, 1, 1, NPU_ACT_GELU);
    run_conv_act(1, 4, 9, 13, 16, 3, 3, 2, 2, 1, 1, 1, NPU_ACT_SILU);
    run_conv_act(1, 64, 6, 6, 300, 3, 3, 1, 1, 1, 1, 1, NPU_ACT_RELU);
    run_conv_act(1, 2000, 4, 4, 20, 3, 3, 1, 1, 1, 1, 1, NPU_ACT_GELU);
    run_conv_act(1, 1500, 5, 9, 18, 3, 3, 2, 2, 0, 1, 1, NPU_ACT_NONE);
    run_conv_act(1, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, NPU_ACT_CLIP);
    run_conv_act(1, 4, 9, 13, 16, 3, 3, 2, 2, 1, 1, 1, NPU_ACT_HARDSIGMOID);
    run_conv_full(1, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, NPU_DT_I16, NPU_DT_I8, NPU_DT_I8, 1, NPU_ACT_RELU);
}

/* ---------------------------------------------------------------- channels and timing */

static void chain_case(void)
{
    /* matmul -> gelu -> layernorm -> matmul as one job */
    opb_reset(&B);
    int64_t xd[2] = {20, 48}, w1d[2] = {48, 40}, hd[2] = {20, 40}, w2d[2] = {40, 24}, od[2] = {20, 24}, gd[1] = {40};
    npu_tensor_ref x = act(0, NPU_DT_I8, 0.05f, 2, xd, 1), h = act(0, NPU_DT_I8, 0.4f, 2, hd, 0);
    npu_tensor_ref g = act(0, NPU_DT_I8, 0.4f, 2, hd, 0), l = act(0, NPU_DT_I8, 0.1f, 2, hd, 0);
    npu_tensor_ref w1 = opb_tensor_bytes(&B, 1, NPU_DT_I8, 0.01f, 2, w1d, blocked_bytes(48, 40, 16, 0));
    npu_tensor_ref w2 = opb_tensor_bytes(&B, 1, NPU_DT_I4, 0.05f, 2, w2d, blocked_bytes(40, 24, 16, 1));
    opb_fill_bytes(&B, 1, 0, B.used[1]);
    npu_op_desc *d = opb_op(&B, NPU_OP_MATMUL, 2);
    d->in[0] = x;
    d->in[1] = w1;
    d->out = h;
    d->iattr[1] = NPU_LAYOUT_BLOCKED;
    d->iattr[2] = 16;
    d = opb_op(&B, NPU_OP_UNARY, 1);
    d->in[0] = h;
    d->out = g;
    d->iattr[0] = ISA_UNOP_GELU;
    d = opb_op(&B, NPU_OP_NORM, 3);
    d->in[0] = g;
    d->in[1] = act(2, NPU_DT_F32, 0, 1, gd, 1);
    d->in[2] = act(2, NPU_DT_F32, 0, 1, gd, 1);
    d->out = l;
    d->fattr[0] = 1e-5f;
    d = opb_op(&B, NPU_OP_MATMUL, 2);
    d->in[0] = l;
    d->in[1] = w2;
    d->out = act(3, NPU_DT_F32, 0, 2, od, 0);
    d->iattr[1] = NPU_LAYOUT_BLOCKED;
    d->iattr[2] = 16;
    opb_check(&B, "chain");
}

static void test_dma_channel_counts(void **state)
{
    (void)state;
    for (uint32_t ch = 1; ch <= NPU_MAX_DMA_CHANNELS; ch += 3) {
        opb_close(&B);
        npu_device_config c = base_config();
        c.dma.channels = ch;
        opb_open(&B, &c, BUF_BYTES);
        chain_case();
        mm_case t = {2, 17, 33, 50, NPU_DT_I8, 1, 1, 1, 0, 0, NPU_ACT_RELU, 0, 0, 0, 0};
        run_mm(&t, 16);
        t.stage = 1;
        run_mm(&t, 16);
        run_conv(1, 4, 9, 13, 16, 3, 3, 2, 2, 1, 1);
        attn_case a = {2, 20, 40, 16, 16, 16, 1, 1, 1, 1, 0, 0};
        run_attn(&a);
        a.bc = a.Lk;
        a.tile = 1;
        run_attn(&a);
        run_conv_act(1, 4, 9, 13, 16, 3, 3, 2, 2, 1, 1, 1, NPU_ACT_GELU);
    }
}

static void test_timing_only_takes_the_same_cycles_and_moves_nothing(void **state)
{
    (void)state;
    chain_case();
    uint64_t numeric = opb_cycles(&B);
    assert_true(numeric > 0);
    /* poison the output region on the device; a timing-only run must leave it alone */
    uint8_t poison[64];
    memset(poison, 0xA5, sizeof poison);
    npu_tensor_ref out = B.ops[B.nops - 1].out;
    memset(B.host[out.buf] + out.offset, 0xA5, sizeof poison);
    assert_int_equal(opb_run_device(&B, NPU_JOB_F_TIMING_ONLY), NPU_DRV_OK);
    assert_int_equal(opb_cycles(&B), numeric);
    uint8_t back[64];
    assert_int_equal(npu_bo_read(B.bo[out.buf], out.offset, back, sizeof back), NPU_DRV_OK);
    assert_memory_equal(back, poison, sizeof poison);
    assert_true(B.diff.v[NPU_UNIT_MM][NPU_CTR_MACS] > 0);
    assert_true(B.diff.v[NPU_UNIT_DMA0][NPU_CTR_DRAM_RD] > 0);
    /* the fused attention, both softmax modes: the same cycles without data */
    for (int tile = 0; tile <= 1; tile++) {
        attn_case a = {2, 20, 40, 16, 16, tile ? 40 : 16, 1, 1, 1, 1, 0, tile};
        run_attn(&a);
        numeric = opb_cycles(&B);
        assert_int_equal(opb_run_device(&B, NPU_JOB_F_TIMING_ONLY), NPU_DRV_OK);
        assert_int_equal(opb_cycles(&B), numeric);
    }
}

int main(void)
{
#ifdef NPU_KERNELS_RTL
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_batches),
        cmocka_unit_test(test_matmul_operand_types),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_conv2d_operand_types),
        cmocka_unit_test(test_attention_masks),
        cmocka_unit_test(test_attention_softmax_tile),
        cmocka_unit_test(test_group_conv),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_pad),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_activation),
        cmocka_unit_test(test_channel_affine),
        cmocka_unit_test(test_fused_activations_with_parameters),
        cmocka_unit_test(test_matmul_output_stage),
        cmocka_unit_test(test_conv2d_output_stage),
        cmocka_unit_test(test_timing_only_takes_the_same_cycles_and_moves_nothing),
    };
    (void)test_attention_shapes_and_key_blocks;
    (void)test_attention_row_blocks;
    (void)test_attention_refusals;
    (void)test_pool_refuses_a_max_pool_scale_not_positive;
    (void)test_cnn_kernels_log_their_tiling;
    (void)test_matmul_shapes_around_the_tile;
    (void)test_matmul_int4_weights;
    (void)test_matmul_narrow_blocks_and_long_k;
    (void)test_unary_every_function;
    (void)test_binary_broadcasts;
    (void)test_norms;
    (void)test_group_norm;
    (void)test_reduce;
    (void)test_transpose;
    (void)test_box_copy;
    (void)test_dma_channel_counts;
    (void)test_matmul_group_scales;
    (void)test_softmax_wide_inputs;
    (void)test_vector_ops_wide_types;
#else
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_shapes_around_the_tile),
        cmocka_unit_test(test_matmul_int4_weights),
        cmocka_unit_test(test_matmul_batches),
        cmocka_unit_test(test_matmul_narrow_blocks_and_long_k),
        cmocka_unit_test(test_matmul_operand_types),
        cmocka_unit_test(test_matmul_group_scales),
        cmocka_unit_test(test_conv2d_operand_types),
        cmocka_unit_test(test_softmax_wide_inputs),
        cmocka_unit_test(test_vector_ops_wide_types),
        cmocka_unit_test(test_unary_every_function),
        cmocka_unit_test(test_binary_broadcasts),
        cmocka_unit_test(test_norms),
        cmocka_unit_test(test_group_norm),
        cmocka_unit_test(test_reduce),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_box_copy),
        cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_attention_shapes_and_key_blocks),
        cmocka_unit_test(test_attention_masks),
        cmocka_unit_test(test_attention_row_blocks),
        cmocka_unit_test(test_attention_softmax_tile),
        cmocka_unit_test(test_attention_refusals),
        cmocka_unit_test(test_group_conv),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_pool_refuses_a_max_pool_scale_not_positive),
        cmocka_unit_test(test_pad),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_activation),
        cmocka_unit_test(test_channel_affine),
        cmocka_unit_test(test_fused_activations_with_parameters),
        cmocka_unit_test(test_cnn_kernels_log_their_tiling),
        cmocka_unit_test(test_matmul_output_stage),
        cmocka_unit_test(test_conv2d_output_stage),
        cmocka_unit_test(test_timing_only_takes_the_same_cycles_and_moves_nothing),
        cmocka_unit_test(test_dma_channel_counts),
    };
#endif
    return cmocka_run_group_tests(tests, setup, teardown);
}
