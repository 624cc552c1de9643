/* The table itself: unique opcodes and mnemonics, fields inside the word and not overlapping,
 * ranges that fit the widths, enum fields whose every value has a name. */
#include "test_util.h"

#include "isa.h"

static void test_opcodes_and_mnemonics_unique(void **state)
{
    (void)state;
    for (int a = 0; a < ISA_OP_COUNT; a++) {
        const isa_insn_desc *da = isa_desc((isa_op)a);
        assert_non_null(da);
        assert_int_not_equal(da->opcode, 0); /* an all-zero word must never decode */
        assert_int_equal(isa_op_by_opcode(da->opcode), a);
        assert_int_equal(isa_op_by_mnemonic(da->mnemonic, strlen(da->mnemonic)), a);
        for (int b = a + 1; b < ISA_OP_COUNT; b++) {
            const isa_insn_desc *db = isa_desc((isa_op)b);
            assert_int_not_equal(da->opcode, db->opcode);
            assert_string_not_equal(da->mnemonic, db->mnemonic);
        }
    }
}

static void test_fields_fit_and_do_not_overlap(void **state)
{
    (void)state;
    for (int op = 0; op < ISA_OP_COUNT; op++) {
        const isa_insn_desc *d = isa_desc((isa_op)op);
        uint8_t used[ISA_INSN_BITS] = {0};
        for (int b = 0; b < ISA_OPCODE_BITS; b++)
            used[b] = 1;
        for (int i = 0; i < d->nfields; i++) {
            const isa_field_desc *f = &d->fields[i];
            assert_non_null(f->name);
            assert_true(f->width >= 1 && f->lsb + f->width <= ISA_INSN_BITS);
            for (int b = f->lsb; b < f->lsb + f->width; b++) {
                if (used[b])
                    fail_msg("%s.%s overlaps bit %d", d->mnemonic, f->name, b);
                used[b] = 1;
            }
            if (f->kind == ISA_KIND_U || f->kind == ISA_KIND_E) {
                assert_true(f->min >= 0 && f->min <= f->max);
                assert_true((uint64_t)f->max < (1ull << f->width));
            } else if (f->kind == ISA_KIND_S) {
                assert_true(f->min >= -(1ll << (f->width - 1)) && f->max < (1ll << (f->width - 1)));
            } else {
                assert_int_equal(f->width, 32);
            }
            assert_true(f->align >= 1);
            for (int j = 0; j < i; j++)
                assert_string_not_equal(f->name, d->fields[j].name);
        }
    }
}

static void test_enum_fields_fully_named(void **state)
{
    (void)state;
    for (int op = 0; op < ISA_OP_COUNT; op++) {
        const isa_insn_desc *d = isa_desc((isa_op)op);
        for (int i = 0; i < d->nfields; i++) {
            const isa_field_desc *f = &d->fields[i];
            if (f->kind != ISA_KIND_E)
                continue;
            assert_int_not_equal(f->enumset, ISA_ENUMSET_NONE);
            for (int64_t v = f->min; v <= f->max; v++)
                if (!isa_enum_name(f->enumset, v))
                    fail_msg("%s.%s value %lld has no name", d->mnemonic, f->name, (long long)v);
        }
    }
    /* names are unique within a set and parse back */
    for (int i = 0; i < isa_enum_count(); i++) {
        const isa_enum_desc *e = isa_enum_at(i);
        int64_t v = -1;
        assert_int_equal(isa_enum_lookup(e->set, e->name, strlen(e->name), &v), 0);
        assert_int_equal(v, e->value);
    }
}

static void test_field_index_macro_matches_table(void **state)
{
    (void)state;
    const isa_insn_desc *mm = isa_desc(ISA_OP_MM);
    assert_string_equal(mm->fields[ISA_F(MM, K)].name, "k");
    assert_string_equal(mm->fields[ISA_F(MM, C)].name, "c");
    assert_string_equal(isa_desc(ISA_OP_DMA_ST)->fields[ISA_F(DMA_ST, SSTRIDE)].name, "sstride");
    assert_string_equal(isa_desc(ISA_OP_VUN)->fields[ISA_F(VUN, IMM)].name, "imm");
    assert_int_equal(mm->nfields, 13);
    assert_string_equal(mm->fields[ISA_F(MM, BT)].name, "bt");
    assert_int_equal(isa_desc(ISA_OP_END)->nfields, 0);
}

/* The decoder's opcode table and reserved-bit masks (built at compile time from the table rows):
 * every opcode byte that names no instruction is refused as ISA_E_OPCODE (by isa_decode_unchecked
 * too), and for every instruction a word with one bit set beyond its opcode is refused as
 * ISA_E_RESERVED exactly when no field covers that bit (a field's bit may give a range error,
 * never a reserved one). */
static void test_decode_opcodes_and_reserved_bits(void **state)
{
    (void)state;
    isa_insn out;
    isa_error err;
    for (unsigned opc = 0; opc < (1u << ISA_OPCODE_BITS); opc++) {
        uint8_t w[ISA_INSN_BYTES] = {(uint8_t)opc};
        isa_op op = isa_op_by_opcode(opc);
        int named = 0;
        for (int a = 0; a < ISA_OP_COUNT; a++)
            named |= isa_desc((isa_op)a)->opcode == opc;
        assert_int_equal(op != ISA_OP_NONE, named);
        if (!named) {
            assert_int_equal(isa_decode(w, &out, &err), ISA_E_OPCODE);
            assert_int_equal(isa_decode_unchecked(w, &out), ISA_E_OPCODE);
        }
    }
    for (int op = 0; op < ISA_OP_COUNT; op++) {
        const isa_insn_desc *d = isa_desc((isa_op)op);
        for (int b = ISA_OPCODE_BITS; b < ISA_INSN_BITS; b++) {
            uint8_t w[ISA_INSN_BYTES] = {d->opcode};
            w[b / 8] |= (uint8_t)(1u << (b % 8));
            int in_field = 0;
            for (int i = 0; i < d->nfields; i++)
                in_field |= b >= d->fields[i].lsb && b < d->fields[i].lsb + d->fields[i].width;
            isa_status st = isa_decode(w, &out, &err);
            if (in_field ? st == ISA_E_RESERVED : st != ISA_E_RESERVED)
                fail_msg("%s bit %d: decode gave %s", d->mnemonic, b, isa_status_str(st));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opcodes_and_mnemonics_unique),
        cmocka_unit_test(test_fields_fit_and_do_not_overlap),
        cmocka_unit_test(test_enum_fields_fully_named),
        cmocka_unit_test(test_field_index_macro_matches_table),
        cmocka_unit_test(test_decode_opcodes_and_reserved_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
