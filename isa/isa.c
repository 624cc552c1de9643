/* isa.c -- descriptors, encode, decode, check and validate, all driven by isa_table.def.
 *
 * The descriptor table is built at compile time from the table rows with designated
 * initialisers; a FIELD row also sets its instruction's field count (a later initialiser of the
 * same member overrides an earlier one, C11 6.7.9p19), so no count is written by hand.
 */
#include "isa.h"
#include "isa_check.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#define isa_check_NONE NULL

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static const isa_field_desc field_table[ISA_OP_COUNT][ISA_MAX_FIELDS] = {
#define ISA_FIELD(ID, FLD, NAME, LSB, W, KIND, ESET, U, MIN, MAX, AL, DOC)                          \
    [ISA_OP_##ID][ISA_F(ID, FLD)] = {NAME, LSB, W, ISA_KIND_##KIND, ISA_ENUMSET_##ESET, U,           \
                                     (int64_t)(MIN), (int64_t)(MAX), AL, DOC},
#include "isa_table.def"
};

static const isa_insn_desc insn_table[ISA_OP_COUNT] = {
#define ISA_INSN(ID, MN, OPC, UNIT, CHECK, SEM)                                                    \
    [ISA_OP_##ID].mnemonic = MN, [ISA_OP_##ID].opcode = OPC, [ISA_OP_##ID].unit = ISA_EXEC_##UNIT,  \
    [ISA_OP_##ID].semantics = SEM, [ISA_OP_##ID].check_name = #CHECK,                              \
    [ISA_OP_##ID].check = isa_check_##CHECK, [ISA_OP_##ID].fields = field_table[ISA_OP_##ID],      \
    [ISA_OP_##ID].nfields = 0,
#define ISA_FIELD(ID, FLD, NAME, LSB, W, KIND, ESET, U, MIN, MAX, AL, DOC)                          \
    [ISA_OP_##ID].nfields = ISA_F(ID, FLD) + 1,
#include "isa_table.def"
};

/* Each instruction with every field at its default (isa_insn_make): the minimum, 0.0 for an F
 * field. Built at compile time like the descriptors: the firmware makes an instruction for every
 * one it emits. */
static const isa_insn insn_template[ISA_OP_COUNT] = {
#define ISA_INSN(ID, MN, OPC, UNIT, CHECK, SEM) [ISA_OP_##ID].op = ISA_OP_##ID,
#define ISA_FIELD(ID, FLD, NAME, LSB, W, KIND, ESET, U, MIN, MAX, AL, DOC)                          \
    [ISA_OP_##ID].f[ISA_F(ID, FLD)] = ISA_KIND_##KIND == ISA_KIND_F ? 0 : (int64_t)(MIN),
#include "isa_table.def"
};
#pragma GCC diagnostic pop

/* Opcode -> op + 1 (0: no instruction), built at compile time: the decoder looks every fetched
 * word's opcode up here instead of scanning the descriptors. Outside the -Woverride-init pragma on
 * purpose: two instructions given the same opcode are a -Woverride-init warning (an error with
 * -Werror), and test_isa_table checks every opcode. */
#define ISA_OPCODE_COUNT (1u << ISA_OPCODE_BITS)
static const uint8_t op_of_opcode[ISA_OPCODE_COUNT] = {
#define ISA_INSN(ID, MN, OPC, UNIT, CHECK, SEM) [OPC] = ISA_OP_##ID + 1,
#include "isa_table.def"
};
_Static_assert(ISA_OP_COUNT < UINT8_MAX, "op_of_opcode holds op + 1 in a byte");

/* Enum values are below ENUM_KEY_SPAN: enum_valid() keys a switch on set * span + value. */
#define ENUM_KEY_SPAN 64
#define ISA_ENUM(SET, NAME, VAL, STR, DOC)                                                          \
    _Static_assert((VAL) >= 0 && (VAL) < ENUM_KEY_SPAN, "enum " #SET "." #NAME " beyond ENUM_KEY_SPAN");
#include "isa_table.def"

/* Is value one of set's? The check of every instruction's enum fields asks it; a switch the
 * compiler turns into a table, not a scan of the whole enum table per field. */
static int enum_valid(isa_enumset set, int64_t value)
{
    if (value < 0 || value >= ENUM_KEY_SPAN)
        return 0;
    switch ((int64_t)set * ENUM_KEY_SPAN + value) {
#define ISA_ENUM(SET, NAME, VAL, STR, DOC) case (int64_t)ISA_ENUMSET_##SET * ENUM_KEY_SPAN + (VAL):
#include "isa_table.def"
        return 1;
    default:
        return 0;
    }
}

/* Every field index is a compile-time constant that must fit the decoded form. */
#define ISA_FIELD(ID, FLD, NAME, LSB, W, KIND, ESET, U, MIN, MAX, AL, DOC)                          \
    _Static_assert(ISA_F(ID, FLD) >= 0 && ISA_F(ID, FLD) < ISA_MAX_FIELDS,                          \
                   "field " #ID "." #FLD " out of ISA_MAX_FIELDS");                               \
    _Static_assert((LSB) >= ISA_OPCODE_BITS && (LSB) + (W) <= ISA_INSN_BITS && (W) <= 32,         \
                   "field " #ID "." #FLD " outside the word");
#include "isa_table.def"

static const isa_enum_desc enum_table[] = {
#define ISA_ENUM(SET, NAME, VAL, STR, DOC) {ISA_ENUMSET_##SET, VAL, STR, DOC},
#include "isa_table.def"
};

static const char *const enumset_names[ISA_ENUMSET_COUNT] = {
    [ISA_ENUMSET_NONE] = "",
#define ISA_ENUMSET(SET, DOC) [ISA_ENUMSET_##SET] = #SET,
#include "isa_table.def"
};

static const char *const status_names[ISA_STATUS_COUNT] = {
    [ISA_OK] = "ok",
    [ISA_E_OPCODE] = "unknown opcode",
    [ISA_E_RESERVED] = "reserved bits set",
    [ISA_E_RANGE] = "field out of range",
    [ISA_E_ALIGN] = "field misaligned",
    [ISA_E_CONSTRAINT] = "constraint violated",
    [ISA_E_LIMIT] = "beyond a device limit",
    [ISA_E_TRUNCATED] = "truncated program",
    [ISA_E_MNEMONIC] = "unknown mnemonic",
    [ISA_E_OPERANDS] = "wrong operand count",
    [ISA_E_SYNTAX] = "syntax error",
    [ISA_E_SYMBOL] = "bad symbol",
    [ISA_E_IO] = "i/o error",
    [ISA_E_NOMEM] = "out of memory",
};

static const char *const exec_unit_names[] = {
    [ISA_EXEC_CTRL] = "ctrl", [ISA_EXEC_SYNC] = "sync", [ISA_EXEC_DMA] = "dma",
    [ISA_EXEC_MM] = "mm",     [ISA_EXEC_SM] = "sm",     [ISA_EXEC_VEC] = "vec",
};

/* ------------------------------------------------------------------ descriptors */

const isa_insn_desc *isa_desc(isa_op op)
{
    if ((int)op < 0 || op >= ISA_OP_COUNT)
        return NULL;
    return &insn_table[op];
}

isa_op isa_op_by_opcode(unsigned opcode)
{
    if (opcode >= ISA_OPCODE_COUNT || op_of_opcode[opcode] == 0)
        return ISA_OP_NONE;
    return (isa_op)(op_of_opcode[opcode] - 1);
}

isa_op isa_op_by_mnemonic(const char *mn, size_t len)
{
    for (int op = 0; op < ISA_OP_COUNT; op++) {
        const char *m = insn_table[op].mnemonic;
        if (strlen(m) == len && memcmp(m, mn, len) == 0)
            return (isa_op)op;
    }
    return ISA_OP_NONE;
}

int isa_enum_count(void) { return (int)(sizeof enum_table / sizeof enum_table[0]); }

const isa_enum_desc *isa_enum_at(int i)
{
    return (i >= 0 && i < isa_enum_count()) ? &enum_table[i] : NULL;
}

const char *isa_enumset_name(isa_enumset set)
{
    return ((int)set >= 0 && set < ISA_ENUMSET_COUNT) ? enumset_names[set] : "?";
}

const char *isa_enum_name(isa_enumset set, int64_t value)
{
    for (int i = 0; i < isa_enum_count(); i++)
        if (enum_table[i].set == set && enum_table[i].value == value)
            return enum_table[i].name;
    return NULL;
}

int isa_enum_lookup(isa_enumset set, const char *name, size_t len, int64_t *value)
{
    for (int i = 0; i < isa_enum_count(); i++) {
        const isa_enum_desc *e = &enum_table[i];
        if (e->set == set && strlen(e->name) == len && memcmp(e->name, name, len) == 0) {
            *value = e->value;
            return 0;
        }
    }
    return -1;
}

const char *isa_status_str(isa_status st)
{
    return ((int)st >= 0 && st < ISA_STATUS_COUNT) ? status_names[st] : "unknown status";
}

const char *isa_exec_unit_name(isa_exec_unit u)
{
    return ((int)u >= 0 && u <= ISA_EXEC_VEC) ? exec_unit_names[u] : "?";
}

/* ------------------------------------------------------------------ errors */

isa_status isa_fail(isa_error *err, isa_status st, int field, const char *fmt, ...)
{
    if (err) {
        err->status = st;
        err->field = field;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

static void ok(isa_error *err)
{
    if (err) {
        err->status = ISA_OK;
        err->field = -1;
        err->msg[0] = '\0';
    }
}

/* ------------------------------------------------------------------ instructions */

isa_insn isa_insn_make(isa_op op)
{
    if (isa_desc(op))
        return insn_template[op];
    isa_insn in;
    memset(&in, 0, sizeof in);
    in.op = op;
    return in;
}

float isa_get_f32(const isa_insn *in, int field)
{
    uint32_t bits = (uint32_t)in->f[field];
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

void isa_set_f32(isa_insn *in, int field, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    in->f[field] = bits;
}

static isa_status check_field(const isa_insn_desc *d, int i, int64_t v, isa_error *err)
{
    const isa_field_desc *f = &d->fields[i];
    if (f->kind == ISA_KIND_F) {
        if (v < 0 || v > (int64_t)UINT32_MAX)
            return isa_fail(err, ISA_E_RANGE, i, "%s: field '%s' = %lld is not a 32-bit pattern",
                            d->mnemonic, f->name, (long long)v);
        return ISA_OK;
    }
    if (f->kind == ISA_KIND_E && !enum_valid(f->enumset, v)) {
        char names[120] = "";
        size_t used = 0;
        for (int e = 0; e < isa_enum_count(); e++)
            if (enum_table[e].set == f->enumset)
                used += (size_t)snprintf(names + used, used < sizeof names ? sizeof names - used : 0,
                                         "%s%s", used ? ", " : "", enum_table[e].name);
        return isa_fail(err, ISA_E_RANGE, i, "%s: field '%s' = %lld is not one of %s", d->mnemonic,
                        f->name, (long long)v, names);
    }
    if (v < f->min || v > f->max)
        return isa_fail(err, ISA_E_RANGE, i, "%s: field '%s' = %lld is out of range; expected %lld..%lld",
                        d->mnemonic, f->name, (long long)v, (long long)f->min, (long long)f->max);
    if (f->align > 1 && v % f->align != 0)
        return isa_fail(err, ISA_E_ALIGN, i, "%s: field '%s' = %lld is not a multiple of %lld",
                        d->mnemonic, f->name, (long long)v, (long long)f->align);
    return ISA_OK;
}

/* The values of an enum set as bits (bit v: v is one of the set's; every value is below
 * ENUM_KEY_SPAN = 64); a constant when set is. */
static inline uint64_t enum_bits(isa_enumset set)
{
    return 0
#define ISA_ENUM(SET, NAME, VAL, STR, DOC) | (set == ISA_ENUMSET_##SET ? 1ull << (VAL) : 0)
#include "isa_table.def"
        ;
}

/* One field against its row's constants, as check_field() decides it; the compiler folds the
 * constants (a full-width unsigned field is one comparison). */
static inline int field_in_range(int64_t v, isa_kind kind, isa_enumset set, int64_t min, int64_t max,
                                  int64_t align)
{
    if (kind == ISA_KIND_F)
        return v >= 0 && v <= (int64_t)UINT32_MAX;
    if (kind == ISA_KIND_E && (v < 0 || v >= ENUM_KEY_SPAN || !((enum_bits(set) >> v) & 1)))
        return 0;
    return v >= min && v <= max && (align <= 1 || v % align == 0);
}

/* Whether every field of the instruction is in range: the table's rows compiled into one test per
 * instruction, so that the firmware's check of every instruction it emits reads no descriptor.
 * The same decision as check_field() over the fields (tests/isa/test_isa_errors.c checks every field at its bounds); isa_check
 * walks the descriptors only for an instruction this refuses, to say which field and why. */
static int fields_in_range(const isa_insn *in)
{
    const int64_t *f = in->f;
    switch (in->op) {
    default:
        return 0;
#define ISA_INSN(ID, MN, OPC, UNIT, CHECK, SEM)                                                    \
    return 1;                                                                                   \
    case ISA_OP_##ID:
#define ISA_FIELD(ID, FLD, NAME, LSB, W, KIND, ESET, U, MIN, MAX, AL, DOC)                          \
    if (!field_in_range(f[ISA_F(ID, FLD)], ISA_KIND_##KIND, ISA_ENUMSET_##ESET, (int64_t)(MIN), (int64_t)(MAX), AL)) \
        return 0;
#include "isa_table.def"
        return 1;
    }
}

isa_status isa_check(const isa_insn *in, isa_error *err)
{
    const isa_insn_desc *d = isa_desc(in->op);
    if (!d)
        return isa_fail(err, ISA_E_OPCODE, -1, "op %d is not an instruction", (int)in->op);
    if (!fields_in_range(in))
        for (int i = 0; i < d->nfields; i++) { /* the refusal's field and message */
            isa_status st = check_field(d, i, in->f[i], err);
            if (st != ISA_OK)
                return st;
        }
    if (d->check) {
        isa_status st = d->check(in, err);
        if (st != ISA_OK)
            return st;
    }
    ok(err);
    return ISA_OK;
}

/* ------------------------------------------------------------------ bit packing */

static void word_load(const uint8_t w[ISA_INSN_BYTES], uint64_t *lo, uint64_t *hi)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(lo, w, sizeof *lo); /* the word is little-endian, like the host */
    memcpy(hi, w + sizeof *lo, sizeof *hi);
#else
    *lo = *hi = 0;
    for (int i = 7; i >= 0; i--) {
        *lo = (*lo << 8) | w[i];
        *hi = (*hi << 8) | w[i + 8];
    }
#endif
}

static void word_store(uint8_t w[ISA_INSN_BYTES], uint64_t lo, uint64_t hi)
{
    for (int i = 0; i < 8; i++) {
        w[i] = (uint8_t)(lo >> (8 * i));
        w[i + 8] = (uint8_t)(hi >> (8 * i));
    }
}

static uint64_t mask_bits(unsigned width) { return width >= 64 ? ~0ull : ((1ull << width) - 1); }

static uint64_t bits_get(uint64_t lo, uint64_t hi, unsigned lsb, unsigned width)
{
    uint64_t v;
    if (lsb >= 64)
        v = hi >> (lsb - 64);
    else if (lsb + width <= 64)
        v = lo >> lsb;
    else
        v = (lo >> lsb) | (hi << (64 - lsb));
    return v & mask_bits(width);
}

static void bits_set(uint64_t *lo, uint64_t *hi, unsigned lsb, unsigned width, uint64_t v)
{
    v &= mask_bits(width);
    if (lsb >= 64) {
        *hi |= v << (lsb - 64);
    } else {
        *lo |= v << lsb;
        if (lsb + width > 64)
            *hi |= v >> (64 - lsb);
    }
}

isa_status isa_encode(const isa_insn *in, uint8_t out[ISA_INSN_BYTES], isa_error *err)
{
    isa_status st = isa_check(in, err);
    if (st != ISA_OK)
        return st;
    const isa_insn_desc *d = isa_desc(in->op);
    uint64_t lo = d->opcode, hi = 0;
    for (int i = 0; i < d->nfields; i++)
        bits_set(&lo, &hi, d->fields[i].lsb, d->fields[i].width, (uint64_t)in->f[i]);
    word_store(out, lo, hi);
    return ISA_OK;
}

/* The bits of the 128-bit word a field occupies, as (low 64, high 64) masks. Every field lies in
 * bits 8..127 and is at most 32 bits wide (asserted above), so no shift count is out of range. */
#define FIELD_MASK(W) ((1ull << (W)) - 1)
#define FIELD_MASK_LO(LSB, W) ((LSB) >= 64 ? 0ull : FIELD_MASK(W) << ((LSB) % 64))
#define FIELD_MASK_HI(LSB, W)                                                                       \
    ((LSB) >= 64 ? FIELD_MASK(W) << ((LSB) % 64) : (LSB) + (W) > 64 ? FIELD_MASK(W) >> ((64 - (LSB)) % 64) : 0ull)

/* A field's value from the word, sign-extended for an S field; with constant arguments the
 * compiler folds it to a shift and a mask. */
static inline int64_t field_value(uint64_t lo, uint64_t hi, unsigned lsb, unsigned width, isa_kind kind)
{
    uint64_t raw = bits_get(lo, hi, lsb, width);
    if (kind == ISA_KIND_S && (raw >> (width - 1)) & 1)
        return (int64_t)(raw | ~mask_bits(width));
    return (int64_t)raw;
}

/* Every field of an instruction of `op` from the word into f, and the bits its opcode and fields
 * occupy into used: the table's rows compiled into one straight sequence per instruction (the
 * firmware decodes every instruction it fetches), not a walk over the field descriptors; inlined
 * into both decoders, so that isa_decode_unchecked() drops the masks and range tests it does not
 * need. *in_range: whether every field is in range (fields_in_range()'s decision, fused into the
 * decode: each value tested as it is extracted, with no second switch over the fields). */
static inline __attribute__((always_inline)) void decode_fields(isa_op op, uint64_t lo, uint64_t hi, int64_t *f,
                                                              uint64_t used[2], int *in_range)
{
    used[0] = FIELD_MASK(ISA_OPCODE_BITS);
    used[1] = 0;
    *in_range = 1;
    switch (op) {
    default:
        return;
#define ISA_INSN(ID, MN, OPC, UNIT, CHECK, SEM)                                                    \
    return;                                                                                     \
    case ISA_OP_##ID:
#define ISA_FIELD(ID, FLD, NAME, LSB, W, KIND, ESET, U, MIN, MAX, AL, DOC)                          \
    f[ISA_F(ID, FLD)] = field_value(lo, hi, LSB, W, ISA_KIND_##KIND);                              \
    *in_range &= field_in_range(f[ISA_F(ID, FLD)], ISA_KIND_##KIND, ISA_ENUMSET_##ESET, (int64_t)(MIN), \
                                (int64_t)(MAX), AL);                                             \
    used[0] |= FIELD_MASK_LO(LSB, W);                                                            \
    used[1] |= FIELD_MASK_HI(LSB, W);
#include "isa_table.def"
        return;
    }
}

/* An instruction with every field 0, copied over a decoder's output first: a copy from memory
 * compiles to a few vector moves, a memset of the struct to `rep stos`, whose start-up cost was
 * about a third of a decode's time (perf). */
static const isa_insn zero_insn;

isa_status isa_decode_unchecked(const uint8_t w[ISA_INSN_BYTES], isa_insn *out)
{
    uint64_t lo, hi;
    word_load(w, &lo, &hi);
    isa_op op = isa_op_by_opcode((unsigned)(lo & 0xFF));
    if (op == ISA_OP_NONE)
        return ISA_E_OPCODE;
    *out = zero_insn;
    out->op = op;
    uint64_t used[2];
    int in_range; /* not needed here: dropped, with its tests, from this inlined copy */
    decode_fields(op, lo, hi, out->f, used, &in_range);
    return ISA_OK;
}

isa_status isa_decode(const uint8_t w[ISA_INSN_BYTES], isa_insn *out, isa_error *err)
{
    uint64_t lo, hi;
    word_load(w, &lo, &hi);
    unsigned opcode = (unsigned)(lo & 0xFF);
    isa_op op = isa_op_by_opcode(opcode);
    if (op == ISA_OP_NONE)
        return isa_fail(err, ISA_E_OPCODE, -1, "unknown opcode 0x%02x", opcode);
    *out = zero_insn;
    out->op = op;
    uint64_t used[2];
    int in_range;
    decode_fields(op, lo, hi, out->f, used, &in_range);
    uint64_t res_lo = lo & ~used[0], res_hi = hi & ~used[1];
    if (res_lo || res_hi) {
        int bit = res_lo ? __builtin_ctzll(res_lo) : 64 + __builtin_ctzll(res_hi);
        return isa_fail(err, ISA_E_RESERVED, -1, "%s: reserved bit %d is set; reserved bits must be zero",
                        insn_table[op].mnemonic, bit);
    }
    if (!in_range) /* isa_check names the field and the reason */
        return isa_check(out, err);
    isa_status (*check)(const isa_insn *, isa_error *) = insn_table[op].check; /* in range: isa_check's next step */
    if (check) {
        isa_status st = check(out, err);
        if (st != ISA_OK)
            return st;
    }
    ok(err);
    return ISA_OK;
}

/* ------------------------------------------------------------------ device limits */

/* Not inlined: its range array would give isa_validate_limits() a stack frame for every
 * instruction, also for a caller that checks SRAM bounds itself (lim->sram_bytes 0: the firmware). */
static __attribute__((noinline)) int ranges_fit(const isa_insn *in, uint32_t sram_bytes, isa_error *err)
{
    isa_sram_range r[ISA_MAX_SRAM_RANGES];
    int n = isa_sram_ranges(in, NULL, r);
    for (int i = 0; i < n; i++)
        if ((uint64_t)r[i].addr + r[i].len > sram_bytes) {
            isa_fail(err, ISA_E_LIMIT, -1,
                     "%s: SRAM %s [0x%x, 0x%llx) exceeds the %u-byte SRAM", isa_desc(in->op)->mnemonic,
                     r[i].write ? "write" : "read", r[i].addr,
                     (unsigned long long)(r[i].addr + r[i].len), sram_bytes);
            return 0;
        }
    return 1;
}

isa_status isa_validate(const isa_insn *in, const isa_limits *lim, isa_error *err)
{
    isa_status st = isa_check(in, err);
    if (st != ISA_OK || !lim)
        return st;
    return isa_validate_limits(in, lim, err);
}

isa_status isa_validate_limits(const isa_insn *in, const isa_limits *lim, isa_error *err)
{
    if ((unsigned)in->op >= ISA_OP_COUNT) /* isa_desc()'s test, inline: this runs for every instruction */
        return isa_fail(err, ISA_E_OPCODE, -1, "op %d is not an instruction", (int)in->op);
    ok(err);
    if (!lim)
        return ISA_OK;
    const char *mn = insn_table[in->op].mnemonic;
    switch (in->op) {
    case ISA_OP_SIGNAL:
    case ISA_OP_WAIT: {
        int64_t unit = in->f[ISA_F(SIGNAL, UNIT)];
        if (lim->dma_channels && unit <= ISA_UNIT_DMA3 && unit >= (int64_t)lim->dma_channels)
            return isa_fail(err, ISA_E_LIMIT, ISA_F(SIGNAL, UNIT),
                            "%s: unit dma%lld does not exist; the device has %u DMA channels", mn,
                            (long long)unit, lim->dma_channels);
        break;
    }
    case ISA_OP_DMA_LD:
    case ISA_OP_DMA_ST:
        if (lim->dma_channels && ISA_GET(in, DMA_LD, Q) >= lim->dma_channels)
            return isa_fail(err, ISA_E_LIMIT, ISA_F(DMA_LD, Q),
                            "%s: channel q = %lld does not exist; the device has %u DMA channels", mn,
                            (long long)ISA_GET(in, DMA_LD, Q), lim->dma_channels);
        if (lim->buffers && ISA_GET(in, DMA_LD, BUF) >= lim->buffers)
            return isa_fail(err, ISA_E_LIMIT, ISA_F(DMA_LD, BUF),
                            "%s: buffer %lld is not in the job's %u-entry buffer table", mn,
                            (long long)ISA_GET(in, DMA_LD, BUF), lim->buffers);
        break;
    case ISA_OP_MM: {
        int ws = ISA_GET(in, MM, DF) == ISA_DF_WS;
        int64_t rows_dim = ws ? ISA_GET(in, MM, K) : ISA_GET(in, MM, M);
        int rows_field = ws ? ISA_F(MM, K) : ISA_F(MM, M);
        if (lim->mm_rows && rows_dim > lim->mm_rows)
            return isa_fail(err, ISA_E_LIMIT, rows_field,
                            "mm: %s = %lld exceeds the %u-row matmul tile (%s dataflow)",
                            ws ? "k" : "m", (long long)rows_dim, lim->mm_rows, ws ? "ws" : "os");
        if (lim->mm_cols && ISA_GET(in, MM, N) > lim->mm_cols)
            return isa_fail(err, ISA_E_LIMIT, ISA_F(MM, N), "mm: n = %lld exceeds the %u-column matmul tile",
                            (long long)ISA_GET(in, MM, N), lim->mm_cols);
        break;
    }
    case ISA_OP_MM_OUT: {
        uint32_t records = lim->mm_rows > lim->mm_cols ? lim->mm_rows : lim->mm_cols;
        if (records && ISA_GET(in, MM_OUT, N) > records)
            return isa_fail(err, ISA_E_LIMIT, ISA_F(MM_OUT, N),
                            "mm.out: n = %lld exceeds the output stage's %u records (max of the tile's rows and "
                            "columns)", (long long)ISA_GET(in, MM_OUT, N), records);
        break;
    }
    case ISA_OP_SM:
        if (lim->sm_max_len && ISA_GET(in, SM, LEN) > lim->sm_max_len)
            return isa_fail(err, ISA_E_LIMIT, ISA_F(SM, LEN),
                            "sm: len = %lld exceeds the softmax tile's maximum row of %u",
                            (long long)ISA_GET(in, SM, LEN), lim->sm_max_len);
        break;
    default:
        break;
    }
    if (lim->sram_bytes && !ranges_fit(in, lim->sram_bytes, err))
        return ISA_E_LIMIT;
    (void)mn;
    return ISA_OK;
}

void isa_dma_span(const isa_insn *in, uint64_t *first, uint64_t *end)
{
    uint64_t off = (uint64_t)ISA_GET(in, DMA_LD, OFF);
    uint64_t rows = (uint64_t)ISA_GET(in, DMA_LD, ROWS), cols = (uint64_t)ISA_GET(in, DMA_LD, COLS);
    uint64_t stride = (uint64_t)ISA_GET(in, DMA_LD, DSTRIDE);
    *first = off;
    *end = off + (rows - 1) * stride + cols;
}
