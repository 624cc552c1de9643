/* isa_text.c -- the text form of one instruction, shared by the disassembler and by anything
 * that prints instructions (firmware log, traces). The assembler (isa_asm.c) reads it back:
 * enum fields by name, addresses in hex, floats so that they parse to the same bits. */
#include "isa.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A float operand that reads back to exactly the same bits: %.9g is enough for binary32, a
 * decimal point keeps the assembler from reading it as an integer (which would lose -0.0), and
 * values with no decimal form (inf, nan) are written as their bit pattern. */
static int format_f32(uint32_t bits, char *buf, size_t size)
{
    float v;
    memcpy(&v, &bits, sizeof v);
    if (!isfinite(v))
        return snprintf(buf, size, "bits(0x%08x)", bits);
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.9g", (double)v);
    if (!strpbrk(tmp, ".en"))
        strcat(tmp, ".0");
    return snprintf(buf, size, "%s", tmp);
}

static int format_field(const isa_field_desc *f, int64_t v, char *buf, size_t size)
{
    switch (f->kind) {
    case ISA_KIND_E: {
        const char *name = isa_enum_name(f->enumset, v);
        return name ? snprintf(buf, size, "%s", name) : snprintf(buf, size, "%lld", (long long)v);
    }
    case ISA_KIND_F:
        return format_f32((uint32_t)v, buf, size);
    case ISA_KIND_S:
        return snprintf(buf, size, "%lld", (long long)v);
    case ISA_KIND_U:
    default:
        if (strcmp(f->unit, "byte") == 0 && f->width >= 24)
            return snprintf(buf, size, "0x%llx", (unsigned long long)v);
        return snprintf(buf, size, "%llu", (unsigned long long)v);
    }
}

int isa_format(const isa_insn *in, char *buf, size_t size)
{
    const isa_insn_desc *d = isa_desc(in->op);
    if (!d)
        return snprintf(buf, size, "<invalid op %d>", (int)in->op);
    size_t used = 0;
    char field[64];
    int n = snprintf(buf, size, "%s", d->mnemonic);
    used = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < d->nfields; i++) {
        format_field(&d->fields[i], in->f[i], field, sizeof field);
        n = snprintf(used < size ? buf + used : NULL, used < size ? size - used : 0, "%s%s",
                     i == 0 ? " " : ", ", field);
        used += n > 0 ? (size_t)n : 0;
    }
    return (int)used;
}
