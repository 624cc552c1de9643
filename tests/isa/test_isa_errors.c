/* Every class of invalid input gets the exact error and location: unknown mnemonic, field out of
 * range, reserved bits set, truncated binary, wrong operand count, and the rest of the
 * assembler's and validator's errors. */
#include "test_util.h"

#include "isa.h"
#include "isa_asm.h"

/* Assemble src; expect failure with this status, line, col and exact first diagnostic line. */
static void expect_asm_error(const char *src, isa_status st, int line, int col, const char *diag)
{
    isa_asm_result r;
    assert_int_equal(isa_assemble(src, strlen(src), "t.s", &r), st);
    assert_null(r.bytes);
    assert_int_equal(r.first_status, st);
    assert_int_equal(r.first_line, line);
    assert_int_equal(r.first_col, col);
    assert_non_null(r.diagnostics);
    const char *nl = strchr(r.diagnostics, '\n');
    assert_non_null(nl);
    char first[600];
    snprintf(first, sizeof first, "%.*s", (int)(nl - r.diagnostics), r.diagnostics);
    assert_string_equal(first, diag);
    isa_asm_result_free(&r);
}

static void test_unknown_mnemonic(void **state)
{
    (void)state;
    expect_asm_error("nop\n  frob 1, 2\n", ISA_E_MNEMONIC, 2, 3,
                     "t.s:2:3: error: unknown mnemonic 'frob'; expected an instruction of isa/ISA.md "
                     "(nop, dma.ld, mm, sm, v.bin, ...)");
    expect_asm_error("\t.align 4\n", ISA_E_MNEMONIC, 1, 2,
                     "t.s:1:2: error: unknown directive '.align'; expected .equ or .insn");
}

static void test_field_out_of_range(void **state)
{
    (void)state;
    expect_asm_error("mm os, set, i8, nobias, i32, 5000, 16, 64, 0, 0, 0, i8, i8\n", ISA_E_RANGE, 1, 30,
                     "t.s:1:30: error: mm: field 'm' = 5000 is out of range; expected 1..4095");
    expect_asm_error("dma.ld 0, 16, 0, 0, 1, 1, 0, 0\n", ISA_E_RANGE, 1, 11,
                     "t.s:1:11: error: dma.ld: field 'buf' = 16 is out of range; expected 0..15");
    expect_asm_error("sm nomask, 0, 0, 8, 1, 100, -40000\n", ISA_E_RANGE, 1, 29,
                     "t.s:1:29: error: sm: field 'moff' = -40000 is out of range; expected -32768..32767");
    expect_asm_error("mm xs, set, i8, nobias, i32, 1, 1, 1, 0, 0, 0, i8, i8\n", ISA_E_RANGE, 1, 4,
                     "t.s:1:4: error: mm: 'xs' is not a value of 'df'; expected one of os, ws");
    /* decoding: a value the bits can hold but the field forbids (rows = 0) */
    isa_insn in = isa_insn_make(ISA_OP_DMA_LD);
    uint8_t w[ISA_INSN_BYTES];
    assert_int_equal(isa_encode(&in, w, NULL), ISA_OK);
    w[70 / 8] &= (uint8_t)~(1u << (70 % 8)); /* rows was 1: clear bit 70 -> rows = 0 */
    isa_insn out;
    isa_error err;
    assert_int_equal(isa_decode(w, &out, &err), ISA_E_RANGE);
    assert_int_equal(err.field, ISA_F(DMA_LD, ROWS));
    assert_string_equal(err.msg, "dma.ld: field 'rows' = 0 is out of range; expected 1..4095");
    /* an enum field whose bits name no value: signal unit = 7 */
    in = isa_insn_make(ISA_OP_SIGNAL);
    assert_int_equal(isa_encode(&in, w, NULL), ISA_OK);
    w[1] |= 0x7;
    assert_int_equal(isa_decode(w, &out, &err), ISA_E_RANGE);
    assert_int_equal(err.field, ISA_F(SIGNAL, UNIT));
    assert_string_equal(err.msg, "signal: field 'unit' = 7 is not one of dma0, dma1, dma2, dma3, mm, sm, vec");
}

static void test_reserved_bits_set(void **state)
{
    (void)state;
    isa_insn in = isa_insn_make(ISA_OP_MM);
    uint8_t prog[3 * ISA_INSN_BYTES];
    for (int i = 0; i < 3; i++)
        assert_int_equal(isa_encode(&in, prog + i * ISA_INSN_BYTES, NULL), ISA_OK);
    prog[ISA_INSN_BYTES + 127 / 8] |= (uint8_t)(1u << (127 % 8)); /* second word, bit 127 */
    isa_insn out;
    isa_error err;
    assert_int_equal(isa_decode(prog + ISA_INSN_BYTES, &out, &err), ISA_E_RESERVED);
    assert_string_equal(err.msg, "mm: reserved bit 127 is set; reserved bits must be zero");
    /* the disassembler names the offset */
    char *errs = NULL, *listing = NULL;
    size_t elen = 0, llen = 0;
    FILE *ef = open_memstream(&errs, &elen), *lf = open_memstream(&listing, &llen);
    assert_int_equal(isa_disassemble(prog, sizeof prog, "p.bin", lf, ef, 0), 1);
    fclose(ef);
    fclose(lf);
    assert_string_equal(errs, "p.bin:+0x10: error: mm: reserved bit 127 is set; reserved bits must be zero\n");
    assert_non_null(strstr(listing, ".insn 0x8")); /* bit 127 leads the hex word */
    free(errs);
    free(listing);
    /* nop has no fields: any bit above the opcode is reserved */
    uint8_t w[ISA_INSN_BYTES] = {0x01};
    w[15] = 0x80;
    assert_int_equal(isa_decode(w, &out, &err), ISA_E_RESERVED);
    assert_string_equal(err.msg, "nop: reserved bit 127 is set; reserved bits must be zero");
}

static void test_unknown_opcode(void **state)
{
    (void)state;
    uint8_t w[ISA_INSN_BYTES] = {0};
    isa_insn out;
    isa_error err;
    assert_int_equal(isa_decode(w, &out, &err), ISA_E_OPCODE); /* all zero is never valid */
    assert_string_equal(err.msg, "unknown opcode 0x00");
    w[0] = 0xff;
    assert_int_equal(isa_decode(w, &out, &err), ISA_E_OPCODE);
    assert_string_equal(err.msg, "unknown opcode 0xff");
}

static void test_truncated_binary(void **state)
{
    (void)state;
    isa_insn in = isa_insn_make(ISA_OP_NOP);
    uint8_t prog[2 * ISA_INSN_BYTES + 8];
    memset(prog, 0, sizeof prog);
    assert_int_equal(isa_encode(&in, prog, NULL), ISA_OK);
    assert_int_equal(isa_encode(&in, prog + ISA_INSN_BYTES, NULL), ISA_OK);
    char *errs = NULL, *listing = NULL;
    size_t elen = 0, llen = 0;
    FILE *ef = open_memstream(&errs, &elen), *lf = open_memstream(&listing, &llen);
    assert_int_equal(isa_disassemble(prog, sizeof prog, "t.bin", lf, ef, 0), 1);
    fclose(ef);
    fclose(lf);
    assert_string_equal(errs, "t.bin:+0x20: error: truncated instruction: 8 trailing bytes; instructions are 16 bytes\n");
    assert_string_equal(listing, "    nop\n    nop\n    ; +0x0020: 8 trailing bytes are not a whole instruction\n");
    free(errs);
    free(listing);
}

static void test_wrong_operand_count(void **state)
{
    (void)state;
    expect_asm_error("nop\nnop\n   signal mm\n", ISA_E_OPERANDS, 3, 4,
                     "t.s:3:4: error: 'signal' takes 2 operands (unit, sem), got 1");
    expect_asm_error("signal mm, 1, 2\n", ISA_E_OPERANDS, 1, 15,
                     "t.s:1:15: error: 'signal' takes 2 operands (unit, sem), got 3");
    expect_asm_error("end 0\n", ISA_E_OPERANDS, 1, 5, "t.s:1:5: error: 'end' takes 0 operands (), got 1");
    expect_asm_error(".equ X\n", ISA_E_OPERANDS, 1, 1, "t.s:1:1: error: .equ takes 2 operands (NAME, VALUE), got 1");
}

static void test_symbols_and_syntax(void **state)
{
    (void)state;
    expect_asm_error("wait mm, SEM\n", ISA_E_SYMBOL, 1, 10,
                     "t.s:1:10: error: undefined symbol 'SEM'; expected a number or a symbol defined earlier with .equ");
    expect_asm_error(".equ A, 1\nA = 2\n", ISA_E_SYMBOL, 2, 1, "t.s:2:1: error: symbol 'A' is already defined at line 1");
    expect_asm_error("wait mm, (1 + 2\n", ISA_E_SYNTAX, 1, 16, "t.s:1:16: error: expected ')'");
    expect_asm_error("wait mm, 12abc\n", ISA_E_SYNTAX, 1, 12, "t.s:1:12: error: unexpected 'a' in a number");
    expect_asm_error("wait mm, 1.5\n", ISA_E_SYNTAX, 1, 10, "t.s:1:10: error: wait: operand 'sem' needs an integer");
    expect_asm_error(".insn 0x1g\n", ISA_E_SYNTAX, 1, 10, "t.s:1:10: error: unexpected 'g' in a hex word");
    /* every bad line is reported, not only the first */
    isa_asm_result r;
    const char *src = "frob\nnop\nwait mm, 99\n";
    assert_int_not_equal(isa_assemble(src, strlen(src), "t.s", &r), ISA_OK);
    assert_int_equal(r.errors, 2);
    assert_non_null(strstr(r.diagnostics, "t.s:3:10: error: wait: field 'sem' = 99 is out of range; expected 0..31"));
    isa_asm_result_free(&r);
}

static void test_symbols_expressions_and_literals(void **state)
{
    (void)state;
    const char *src = "; constants\n"
                      ".equ BASE, 0x100    # hex\n"
                      "ROWS = 2 * (3 + 1)\n"
                      "dma.ld 1, 2, BASE + 0b10000, 1 << 12, ROWS, 64, 64, 64 ; comment\n"
                      "v.un muli, f32, 0, 16, 1, 8, -2.5e-1\n";
    isa_asm_result r;
    assert_int_equal(isa_assemble(src, strlen(src), "t.s", &r), ISA_OK);
    assert_int_equal(r.size, 2 * ISA_INSN_BYTES);
    isa_insn in;
    assert_int_equal(isa_decode(r.bytes, &in, NULL), ISA_OK);
    assert_int_equal(in.op, ISA_OP_DMA_LD);
    assert_int_equal(ISA_GET(&in, DMA_LD, SRAM), 0x110);
    assert_int_equal(ISA_GET(&in, DMA_LD, OFF), 4096);
    assert_int_equal(ISA_GET(&in, DMA_LD, ROWS), 8);
    assert_int_equal(isa_decode(r.bytes + ISA_INSN_BYTES, &in, NULL), ISA_OK);
    assert_true(isa_get_f32(&in, ISA_F(VUN, IMM)) == -0.25f);
    isa_asm_result_free(&r);
}

/* A text of prefix, then n copies of open, "1", n copies of close, then suffix (caller frees). */
static char *nested(const char *prefix, const char *open, int n, const char *close, const char *suffix)
{
    size_t cap = strlen(prefix) + (size_t)n * (strlen(open) + strlen(close)) + strlen(suffix) + 2;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t o = (size_t)snprintf(s, cap, "%s", prefix);
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(s + o, cap - o, "%s", open);
    o += (size_t)snprintf(s + o, cap - o, "1");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(s + o, cap - o, "%s", close);
    snprintf(s + o, cap - o, "%s", suffix);
    return s;
}

/* Regression (issue 9): 10,000 nested parentheses overflowed the stack of the recursive-descent
 * parser. Nesting is limited to ISA_ASM_MAX_NESTING levels, with an error at the level past it. */
static void test_nesting_is_limited(void **state)
{
    (void)state;
    const int deep = 10000, limit = ISA_ASM_MAX_NESTING;
    char want[300];
    snprintf(want, sizeof want, "t.s:1:%d: error: expression nested deeper than %d levels (parentheses, unary "
             "operators, bits(...)); expected a flatter expression", 9 + limit, limit);
    char *src = nested(".equ X, ", "(", deep, ")", "\n");
    expect_asm_error(src, ISA_E_SYNTAX, 1, 9 + limit, want);
    free(src);
    src = nested(".equ X, ", "-", deep, "", "\n");
    expect_asm_error(src, ISA_E_SYNTAX, 1, 9 + limit, want);
    free(src);
    snprintf(want, sizeof want, "t.s:1:%d: error: expression nested deeper than %d levels (parentheses, unary "
             "operators, bits(...)); expected a flatter expression", 30 + 5 * (limit / 2), limit);
    src = nested("v.un muli, f32, 0, 16, 1, 8, ", "bits(", deep, ")", "\n"); /* bits + ( = 2 levels */
    expect_asm_error(src, ISA_E_SYNTAX, 1, 30 + 5 * (limit / 2), want);
    free(src);
    /* exactly the limit is fine: ((...(1)...)) with 255 pairs is 256 levels with the 1 */
    src = nested(".equ X, ", "(", limit - 1, ")", "\nwait mm, X\n");
    isa_asm_result r;
    assert_int_equal(isa_assemble(src, strlen(src), "t.s", &r), ISA_OK);
    assert_int_equal(r.size, ISA_INSN_BYTES);
    isa_asm_result_free(&r);
    free(src);
}

/* Many symbols (a hash table since issue 9): each resolves to its own value wherever it is used,
 * and a redefinition is found among all of them. */
static void test_many_symbols(void **state)
{
    (void)state;
    const int n = 20000;
    size_t cap = (size_t)n * 64 + 64, o = 0;
    char *src = malloc(cap);
    assert_non_null(src);
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(src + o, cap - o, ".equ S_%d, %d\n", i, (i * 7) % 32);
    test_rng rng = {42};
    int used[64];
    for (int k = 0; k < 64; k++) {
        used[k] = (int)test_rng_range(&rng, 0, n - 1);
        o += (size_t)snprintf(src + o, cap - o, "wait mm, S_%d\n", used[k]);
    }
    isa_asm_result r;
    assert_int_equal(isa_assemble(src, o, "t.s", &r), ISA_OK);
    assert_int_equal(r.size, 64 * ISA_INSN_BYTES);
    for (int k = 0; k < 64; k++) {
        isa_insn in;
        assert_int_equal(isa_decode(r.bytes + (size_t)k * ISA_INSN_BYTES, &in, NULL), ISA_OK);
        assert_int_equal(ISA_GET(&in, WAIT, SEM), (used[k] * 7) % 32);
    }
    isa_asm_result_free(&r);
    o += (size_t)snprintf(src + o, cap - o, "S_12345 = 1\n");
    assert_int_equal(isa_assemble(src, o, "t.s", &r), ISA_E_SYMBOL);
    char want[120];
    snprintf(want, sizeof want, "t.s:%d:1: error: symbol 'S_12345' is already defined at line 12346", n + 65);
    assert_non_null(strstr(r.diagnostics, want));
    assert_int_equal(r.errors, 1);
    isa_asm_result_free(&r);
    free(src);
}

/* A program longer than ISA_MAX_PROGRAM_BYTES is refused, once, at the line that passes it. */
static void test_program_length_is_limited(void **state)
{
    (void)state;
    size_t insns = ISA_MAX_PROGRAM_BYTES / ISA_INSN_BYTES + 2, len = insns * 4;
    char *src = malloc(len);
    assert_non_null(src);
    for (size_t i = 0; i < insns; i++)
        memcpy(src + 4 * i, "nop\n", 4);
    isa_asm_result r;
    assert_int_equal(isa_assemble(src, len, "t.s", &r), ISA_E_LIMIT);
    assert_int_equal(r.errors, 1);
    assert_int_equal(r.first_line, (int)(ISA_MAX_PROGRAM_BYTES / ISA_INSN_BYTES + 1));
    assert_non_null(strstr(r.diagnostics, "error: the program exceeds 4194304 instructions (64 MiB)"));
    isa_asm_result_free(&r);
    free(src);
}

static void test_constraints_name_the_operand(void **state)
{
    (void)state;
    expect_asm_error("dma.ld 0, 0, 0, 0, 2, 64, 64, 32\n", ISA_E_CONSTRAINT, 1, 31,
                     "t.s:1:31: error: dma.ld: sstride = 32 is less than cols = 64; rows would overlap in SRAM");
    expect_asm_error("mm os, set, i4, nobias, i32, 1, 3, 1, 0, 0, 0, i8, i8\n", ISA_E_CONSTRAINT, 1, 33,
                     "t.s:1:33: error: mm: n = 3 must be even with packed int4 weights");
    expect_asm_error("v.un exp, i32, 0, 64, 1, 4, 0\n", ISA_E_CONSTRAINT, 1, 11,
                     "t.s:1:11: error: v.un: exp needs dt = f32");
    expect_asm_error("mm.out col, nolut, 0, 4, 5, 3, 0\n", ISA_E_CONSTRAINT, 1, 29,
                     "t.s:1:29: error: mm.out: hi = 3 is below lo = 5");
}

static void test_validate_against_device_limits(void **state)
{
    (void)state;
    isa_limits lim = {.sram_bytes = 65536, .dma_channels = 2, .buffers = 4, .mm_rows = 16, .mm_cols = 16,
                      .sm_max_len = 256};
    isa_error err;
    isa_insn mm = isa_insn_make(ISA_OP_MM);
    ISA_SET(&mm, MM, M, 32);
    assert_int_equal(isa_validate(&mm, &lim, &err), ISA_E_LIMIT);
    assert_string_equal(err.msg, "mm: m = 32 exceeds the 16-row matmul tile (os dataflow)");
    /* the limits alone (after a decode): the same refusal; the fields are isa_check's */
    assert_int_equal(isa_validate_limits(&mm, &lim, &err), ISA_E_LIMIT);
    assert_string_equal(err.msg, "mm: m = 32 exceeds the 16-row matmul tile (os dataflow)");
    isa_insn wide = mm;
    ISA_SET(&wide, MM, M, 16);
    ISA_SET(&wide, MM, AT, ISA_MMT_I16);
    ISA_SET(&wide, MM, BT, ISA_MMT_I16); /* a constraint isa_check refuses, within every limit */
    assert_int_equal(isa_validate(&wide, &lim, &err), ISA_E_CONSTRAINT);
    assert_int_equal(isa_validate_limits(&wide, &lim, &err), ISA_OK);
    assert_int_equal(err.status, ISA_OK);
    ISA_SET(&mm, MM, DF, ISA_DF_WS); /* ws bounds k, not m */
    assert_int_equal(isa_validate(&mm, &lim, &err), ISA_OK);
    ISA_SET(&mm, MM, K, 17);
    assert_int_equal(isa_validate(&mm, &lim, &err), ISA_E_LIMIT);
    assert_int_equal(err.field, ISA_F(MM, K));

    isa_insn ld = isa_insn_make(ISA_OP_DMA_LD);
    ISA_SET(&ld, DMA_LD, Q, 2);
    assert_int_equal(isa_validate(&ld, &lim, &err), ISA_E_LIMIT);
    assert_string_equal(err.msg, "dma.ld: channel q = 2 does not exist; the device has 2 DMA channels");
    ISA_SET(&ld, DMA_LD, Q, 1);
    ISA_SET(&ld, DMA_LD, SRAM, 65000);
    ISA_SET(&ld, DMA_LD, COLS, 1000);
    assert_int_equal(isa_validate(&ld, &lim, &err), ISA_E_LIMIT);
    assert_string_equal(err.msg, "dma.ld: SRAM write [0xfde8, 0x101d0) exceeds the 65536-byte SRAM");

    isa_insn sm = isa_insn_make(ISA_OP_SM);
    ISA_SET(&sm, SM, LEN, 257);
    assert_int_equal(isa_validate(&sm, &lim, &err), ISA_E_LIMIT);
    assert_int_equal(err.field, ISA_F(SM, LEN));

    isa_insn out = isa_insn_make(ISA_OP_MM_OUT); /* the stage holds max(rows, cols) records */
    ISA_SET(&out, MM_OUT, N, 17);
    assert_int_equal(isa_validate(&out, &lim, &err), ISA_E_LIMIT);
    assert_string_equal(err.msg,
                        "mm.out: n = 17 exceeds the output stage's 16 records (max of the tile's rows and columns)");
    ISA_SET(&out, MM_OUT, N, 16);
    assert_int_equal(isa_validate(&out, &lim, &err), ISA_OK);

    isa_insn sig = isa_insn_make(ISA_OP_WAIT);
    ISA_SET(&sig, WAIT, UNIT, ISA_UNIT_DMA3);
    assert_int_equal(isa_validate(&sig, &lim, &err), ISA_E_LIMIT);
    assert_string_equal(err.msg, "wait: unit dma3 does not exist; the device has 2 DMA channels");
}

/* The reference for one field: check_field()'s rule written out from the public descriptors. */
static int field_valid(const isa_field_desc *f, int64_t v)
{
    if (f->kind == ISA_KIND_F)
        return v >= 0 && v <= (int64_t)UINT32_MAX;
    if (f->kind == ISA_KIND_E) {
        int named = 0;
        for (int k = 0; k < isa_enum_count(); k++)
            named |= isa_enum_at(k)->set == f->enumset && isa_enum_at(k)->value == v;
        if (!named)
            return 0;
    }
    return v >= f->min && v <= f->max && (f->align <= 1 || v % f->align == 0);
}

/* isa_check decides field ranges by a test compiled from the table (isa.c: fields_in_range) and
 * walks the descriptors only to name a refused field: every field of every instruction, at and
 * around its bounds and at each enum value, is refused exactly when the descriptor says so, with
 * that field named. */
static void test_check_every_field_at_its_bounds(void **state)
{
    (void)state;
    int probed = 0;
    for (int op = 0; op < ISA_OP_COUNT; op++) {
        const isa_insn_desc *d = isa_desc((isa_op)op);
        assert_non_null(d);
        isa_insn base = isa_insn_make((isa_op)op);
        for (int i = 0; i < d->nfields; i++)
            assert_true(field_valid(&d->fields[i], base.f[i])); /* the defaults are in range */
        for (int i = 0; i < d->nfields; i++) {
            const isa_field_desc *f = &d->fields[i];
            int64_t values[16 + 2 * 64] = {f->min - 1, f->min, f->min + 1, f->max - 1, f->max, f->max + 1,
                                           -1, 0, (int64_t)UINT32_MAX, (int64_t)UINT32_MAX + 1, INT64_MIN,
                                           INT64_MAX, f->min + f->align / 2};
            int n = 13;
            for (int k = 0; k < isa_enum_count() && n < (int)(sizeof values / sizeof values[0]); k++)
                values[n++] = isa_enum_at(k)->value;
            for (int k = 0; k < n; k++) {
                isa_insn in = base;
                in.f[i] = values[k];
                isa_error err;
                isa_status st = isa_check(&in, &err);
                if (field_valid(f, values[k])) {
                    assert_true(st == ISA_OK || st == ISA_E_CONSTRAINT);
                } else {
                    if (st != ISA_E_RANGE && st != ISA_E_ALIGN)
                        fail_msg("%s: field '%s' = %lld passed isa_check (%s)", d->mnemonic, f->name,
                                 (long long)values[k], isa_status_str(st));
                    assert_int_equal(err.field, i);
                }
                probed++;
            }
        }
    }
    assert_true(probed > 1000);
}

/* Whether v fits the bits of field f as the decoder reads them (sign-extended for an S field). */
static int fits_bits(const isa_field_desc *f, int64_t v)
{
    if (f->kind == ISA_KIND_S)
        return v >= -((int64_t)1 << (f->width - 1)) && v < ((int64_t)1 << (f->width - 1));
    return v >= 0 && v < ((int64_t)1 << f->width);
}

/* Field f of the little-endian word w set to v (its bits cleared first). */
static void set_field_bits(uint8_t w[ISA_INSN_BYTES], const isa_field_desc *f, int64_t v)
{
    for (unsigned b = 0; b < f->width; b++) {
        unsigned bit = f->lsb + b;
        w[bit / 8] = (uint8_t)(w[bit / 8] & ~(1u << (bit % 8)));
        w[bit / 8] = (uint8_t)(w[bit / 8] | ((((uint64_t)v >> b) & 1u) << (bit % 8)));
    }
}

/* isa_decode tests each field's range as it extracts it (isa.c: decode_fields' in_range) instead
 * of calling isa_check: every field of every instruction, with every probe value its bits can
 * hold, decodes with isa_check's status, field and message. */
static void test_decode_every_field_at_its_bounds(void **state)
{
    (void)state;
    int probed = 0, refused = 0;
    for (int op = 0; op < ISA_OP_COUNT; op++) {
        const isa_insn_desc *d = isa_desc((isa_op)op);
        isa_insn base = isa_insn_make((isa_op)op);
        uint8_t word[ISA_INSN_BYTES];
        if (isa_encode(&base, word, NULL) != ISA_OK)
            continue; /* defaults that break a cross-field constraint: nothing to vary from */
        for (int i = 0; i < d->nfields; i++) {
            const isa_field_desc *f = &d->fields[i];
            int64_t values[16 + 2 * 64] = {f->min - 1, f->min, f->min + 1, f->max - 1, f->max, f->max + 1,
                                           -1, 0, (int64_t)UINT32_MAX, f->min + f->align / 2};
            int n = 10;
            for (int k = 0; k < isa_enum_count() && n < (int)(sizeof values / sizeof values[0]); k++)
                values[n++] = isa_enum_at(k)->value;
            for (int k = 0; k < n; k++) {
                if (!fits_bits(f, values[k]))
                    continue;
                isa_insn in = base;
                in.f[i] = values[k];
                isa_error want, got;
                isa_status st = isa_check(&in, &want);
                uint8_t w[ISA_INSN_BYTES];
                memcpy(w, word, sizeof w);
                set_field_bits(w, f, values[k]);
                isa_insn out;
                isa_status dst = isa_decode(w, &out, &got);
                if (dst != st)
                    fail_msg("%s: field %s = %lld: decode %d, check %d (%s)", d->mnemonic, f->name, (long long)values[k], dst, st, got.msg);
                assert_int_equal(got.field, want.field);
                assert_string_equal(got.msg, want.msg);
                probed++;
                refused += st != ISA_OK;
            }
        }
    }
    assert_true(probed > 500);
    assert_true(refused > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_mnemonic),
        cmocka_unit_test(test_field_out_of_range),
        cmocka_unit_test(test_reserved_bits_set),
        cmocka_unit_test(test_unknown_opcode),
        cmocka_unit_test(test_truncated_binary),
        cmocka_unit_test(test_wrong_operand_count),
        cmocka_unit_test(test_symbols_and_syntax),
        cmocka_unit_test(test_symbols_expressions_and_literals),
        cmocka_unit_test(test_nesting_is_limited),
        cmocka_unit_test(test_many_symbols),
        cmocka_unit_test(test_program_length_is_limited),
        cmocka_unit_test(test_constraints_name_the_operand),
        cmocka_unit_test(test_validate_against_device_limits),
        cmocka_unit_test(test_check_every_field_at_its_bounds),
        cmocka_unit_test(test_decode_every_field_at_its_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
