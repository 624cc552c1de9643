/* Table-driven round trips over every instruction with random valid field values (fixed seed):
 * encode -> decode -> encode, and asm -> bin -> disasm -> asm, both byte-identical. */
#include "test_util.h"

#include "isa.h"
#include "isa_asm.h"

#define CASES 20000 /* >= 10,000 required; 20,000 gives every instruction > 1,000 cases */
#define PROGRAM_INSNS 250

static const uint32_t special_floats[] = {
    0x00000000u, 0x80000000u, 0x3f800000u, 0xbf800000u, 0x7f800000u, 0xff800000u,
    0x7fc00000u, 0x7fa00001u, 0x00000001u, 0x7f7fffffu, 0x3dcccccdu, 0x00800000u,
};

static int64_t random_field(test_rng *r, const isa_field_desc *f)
{
    if (f->kind == ISA_KIND_F) {
        if (test_rng_next(r) % 4 == 0)
            return special_floats[test_rng_next(r) % (sizeof special_floats / sizeof special_floats[0])];
        return (int64_t)(uint32_t)test_rng_next(r);
    }
    int64_t v;
    switch (test_rng_next(r) % 8) { /* the edges of every range get their share */
    case 0: v = f->min; break;
    case 1: v = f->max; break;
    default: v = test_rng_range(r, f->min, f->max); break;
    }
    if (f->align > 1)
        v -= (v - f->min) % f->align;
    return v;
}

/* A random instruction of op that passes isa_check (rejection sampling over the cross-field
 * constraints, which only a few combinations violate). */
static isa_insn random_insn(test_rng *r, isa_op op)
{
    const isa_insn_desc *d = isa_desc(op);
    for (int attempt = 0; attempt < 1000; attempt++) {
        isa_insn in = isa_insn_make(op);
        for (int i = 0; i < d->nfields; i++)
            in.f[i] = random_field(r, &d->fields[i]);
        if (isa_check(&in, NULL) == ISA_OK)
            return in;
    }
    fail_msg("could not draw a valid %s", d->mnemonic);
    return isa_insn_make(op);
}

static void assert_same_insn(const isa_insn *a, const isa_insn *b)
{
    assert_int_equal(a->op, b->op);
    for (int i = 0; i < isa_desc(a->op)->nfields; i++)
        if (a->f[i] != b->f[i])
            fail_msg("%s field %s: %lld != %lld", isa_desc(a->op)->mnemonic, isa_desc(a->op)->fields[i].name,
                     (long long)a->f[i], (long long)b->f[i]);
}

static void test_binary_round_trip(void **state)
{
    (void)state;
    test_rng r = {0x5eed0001};
    int per_op[ISA_OP_COUNT] = {0};
    for (int n = 0; n < CASES; n++) {
        isa_op op = (isa_op)(n % ISA_OP_COUNT);
        isa_insn in = random_insn(&r, op), back;
        uint8_t w1[ISA_INSN_BYTES], w2[ISA_INSN_BYTES];
        isa_error err;
        assert_int_equal(isa_encode(&in, w1, &err), ISA_OK);
        if (isa_decode(w1, &back, &err) != ISA_OK)
            fail_msg("case %d: decode failed: %s", n, err.msg);
        assert_same_insn(&in, &back);
        isa_insn again; /* what the firmware's dispatch decodes from the same bytes */
        assert_int_equal(isa_decode_unchecked(w1, &again), ISA_OK);
        assert_same_insn(&back, &again);
        assert_int_equal(isa_encode(&back, w2, &err), ISA_OK);
        assert_memory_equal(w1, w2, ISA_INSN_BYTES);
        per_op[op]++;
    }
    for (int op = 0; op < ISA_OP_COUNT; op++)
        assert_true(per_op[op] >= CASES / ISA_OP_COUNT);
}

static void test_text_round_trip_per_instruction(void **state)
{
    (void)state;
    test_rng r = {0x5eed0002};
    char text[512];
    for (int n = 0; n < CASES; n++) {
        isa_insn in = random_insn(&r, (isa_op)(n % ISA_OP_COUNT));
        uint8_t w[ISA_INSN_BYTES];
        assert_int_equal(isa_encode(&in, w, NULL), ISA_OK);
        int len = isa_format(&in, text, sizeof text);
        assert_true(len > 0 && len < (int)sizeof text);
        isa_asm_result res;
        if (isa_assemble(text, (size_t)len, "case.s", &res) != ISA_OK)
            fail_msg("case %d: '%s' does not assemble: %s", n, text, res.diagnostics);
        assert_int_equal(res.size, ISA_INSN_BYTES);
        if (memcmp(res.bytes, w, ISA_INSN_BYTES) != 0)
            fail_msg("case %d: '%s' assembles to different bytes", n, text);
        isa_asm_result_free(&res);
    }
}

/* Whole programs: asm -> bin -> disasm -> asm must give the same bytes. */
static void test_program_round_trip(void **state)
{
    (void)state;
    test_rng r = {0x5eed0003};
    for (int p = 0; p < 40; p++) {
        uint8_t *bin = malloc(PROGRAM_INSNS * ISA_INSN_BYTES);
        assert_non_null(bin);
        for (int i = 0; i < PROGRAM_INSNS; i++) {
            isa_insn in = random_insn(&r, (isa_op)test_rng_range(&r, 0, ISA_OP_COUNT - 1));
            assert_int_equal(isa_encode(&in, bin + i * ISA_INSN_BYTES, NULL), ISA_OK);
        }
        char *listing = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&listing, &len);
        assert_non_null(mem);
        assert_int_equal(isa_disassemble(bin, PROGRAM_INSNS * ISA_INSN_BYTES, "p.bin", mem, NULL, p % 2), 0);
        fclose(mem);
        isa_asm_result res;
        if (isa_assemble(listing, len, "p.s", &res) != ISA_OK)
            fail_msg("program %d does not re-assemble: %s", p, res.diagnostics);
        assert_int_equal(res.size, PROGRAM_INSNS * ISA_INSN_BYTES);
        assert_memory_equal(res.bytes, bin, res.size);
        isa_asm_result_free(&res);
        free(listing);
        free(bin);
    }
}

/* Invalid words are listed as .insn, which re-assembles to the very same bytes. */
static void test_invalid_words_round_trip_as_raw(void **state)
{
    (void)state;
    test_rng r = {0x5eed0004};
    uint8_t bin[64 * ISA_INSN_BYTES];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (uint8_t)test_rng_next(&r);
    char *listing = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&listing, &len);
    int problems = isa_disassemble(bin, sizeof bin, "x.bin", mem, NULL, 0);
    fclose(mem);
    assert_true(problems > 0);
    isa_asm_result res;
    assert_int_equal(isa_assemble(listing, len, "x.s", &res), ISA_OK);
    assert_int_equal(res.size, sizeof bin);
    assert_memory_equal(res.bytes, bin, sizeof bin);
    isa_asm_result_free(&res);
    free(listing);
}

static void test_float_fields_keep_their_bits(void **state)
{
    (void)state;
    /* -0.0, NaN payloads and infinities survive the text form */
    for (size_t i = 0; i < sizeof special_floats / sizeof special_floats[0]; i++) {
        isa_insn in = isa_insn_make(ISA_OP_VUN);
        ISA_SET(&in, VUN, FN, ISA_UNOP_MULI);
        ISA_SET(&in, VUN, DT, ISA_DT_F32);
        in.f[ISA_F(VUN, IMM)] = special_floats[i];
        char text[256];
        int len = isa_format(&in, text, sizeof text);
        isa_asm_result res;
        assert_int_equal(isa_assemble(text, (size_t)len, "f.s", &res), ISA_OK);
        isa_insn back;
        assert_int_equal(isa_decode(res.bytes, &back, NULL), ISA_OK);
        assert_int_equal(back.f[ISA_F(VUN, IMM)], special_floats[i]);
        isa_asm_result_free(&res);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_round_trip),
        cmocka_unit_test(test_text_round_trip_per_instruction),
        cmocka_unit_test(test_program_round_trip),
        cmocka_unit_test(test_invalid_words_round_trip_as_raw),
        cmocka_unit_test(test_float_fields_keep_their_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
