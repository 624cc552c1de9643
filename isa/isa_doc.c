/* isa_doc.c -- writes the reference page isa/ISA.md from the table. The committed page is
 * checked against this output by a test, so the page can never drift from the encoding. */
#include "isa_doc.h"

#include <string.h>

static void field_bits(const isa_field_desc *f, char *buf, size_t size)
{
    if (f->width == 1)
        snprintf(buf, size, "%u", f->lsb);
    else
        snprintf(buf, size, "%u..%u", f->lsb + f->width - 1, f->lsb);
}

static void field_range(const isa_field_desc *f, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    switch (f->kind) {
    case ISA_KIND_F:
        snprintf(buf, size, "binary32");
        return;
    case ISA_KIND_E:
        for (int i = 0; i < isa_enum_count(); i++) {
            const isa_enum_desc *e = isa_enum_at(i);
            if (e->set == f->enumset && used < size)
                used += (size_t)snprintf(buf + used, size - used, "%s%s=%lld", used ? ", " : "", e->name,
                                         (long long)e->value);
        }
        return;
    default:
        if (f->max > 4095 && f->min == 0 && f->kind == ISA_KIND_U)
            snprintf(buf, size, "0..0x%llx", (unsigned long long)f->max);
        else
            snprintf(buf, size, "%lld..%lld", (long long)f->min, (long long)f->max);
        if (f->align > 1) {
            used = strlen(buf);
            snprintf(buf + used, size - used, ", multiple of %lld", (long long)f->align);
        }
    }
}

static const char *kind_name(isa_kind k)
{
    switch (k) {
    case ISA_KIND_U: return "unsigned";
    case ISA_KIND_S: return "signed";
    case ISA_KIND_F: return "f32";
    default: return "enum";
    }
}

/* Reserved bit runs of one instruction, e.g. "123..127". */
static void reserved_bits(const isa_insn_desc *d, char *buf, size_t size)
{
    int used_bits[ISA_INSN_BITS] = {0};
    for (int b = 0; b < ISA_OPCODE_BITS; b++)
        used_bits[b] = 1;
    for (int i = 0; i < d->nfields; i++)
        for (int b = 0; b < d->fields[i].width; b++)
            used_bits[d->fields[i].lsb + b] = 1;
    size_t used = 0;
    buf[0] = '\0';
    for (int b = 0; b < ISA_INSN_BITS;) {
        if (used_bits[b]) {
            b++;
            continue;
        }
        int start = b;
        while (b < ISA_INSN_BITS && !used_bits[b])
            b++;
        if (used < size)
            used += (size_t)snprintf(buf + used, size - used, "%s%d..%d", used ? ", " : "", b - 1, start);
    }
    if (!used)
        snprintf(buf, size, "none");
}

void isa_doc_write(FILE *out)
{
    fprintf(out, "# m4npu ISA %s reference\n\n", ISA_VERSION_STRING);
    fprintf(out, "<!-- Generated from isa/isa_table.def by `build/bin/isa-doc > isa/ISA.md`. Do not edit: "
                 "the isa_doc test fails when this page and the table disagree. -->\n\n");
    fprintf(out, "Every instruction is %d bits (%d bytes, little-endian: bit i is bit i%%8 of byte i/8). "
                 "Bits 7..0 hold the opcode. Bits no field covers are reserved and must be zero; the decoder "
                 "rejects a word with a reserved bit set. Field values are checked against the ranges below, "
                 "and each instruction's cross-field constraints (its semantics line) by its check in "
                 "isa/isa_check.c. Limits that depend on the device (tile size, SRAM size, DMA channels, "
                 "buffer-table size) are checked by firmware when a job is validated.\n\n",
            ISA_INSN_BITS, ISA_INSN_BYTES);
    fprintf(out, "Assembly: `MNEMONIC OPERAND, ...` with the operands in field order; enum fields take "
                 "their names. See isa/README.md for the assembler syntax.\n\n");

    fprintf(out, "## Summary\n\n| mnemonic | opcode | unit | operands |\n|---|---|---|---|\n");
    for (int op = 0; op < ISA_OP_COUNT; op++) {
        const isa_insn_desc *d = isa_desc((isa_op)op);
        fprintf(out, "| `%s` | 0x%02x | %s | ", d->mnemonic, d->opcode, isa_exec_unit_name(d->unit));
        for (int i = 0; i < d->nfields; i++)
            fprintf(out, "%s%s", i ? ", " : "", d->fields[i].name);
        fprintf(out, "%s |\n", d->nfields ? "" : "-");
    }

    fprintf(out, "\n## Instructions\n");
    char bits[32], range[400], res[200];
    for (int op = 0; op < ISA_OP_COUNT; op++) {
        const isa_insn_desc *d = isa_desc((isa_op)op);
        fprintf(out, "\n### `%s` (opcode 0x%02x, unit %s)\n\n%s\n\n", d->mnemonic, d->opcode,
                isa_exec_unit_name(d->unit), d->semantics);
        fprintf(out, "Assembly: `%s", d->mnemonic);
        for (int i = 0; i < d->nfields; i++)
            fprintf(out, "%s%s", i ? ", " : " ", d->fields[i].name);
        reserved_bits(d, res, sizeof res);
        fprintf(out, "`. Cross-field check: %s. Reserved bits: %s.\n", d->check_name, res);
        if (!d->nfields)
            continue;
        fprintf(out, "\n| bits | field | kind | unit | values | meaning |\n|---|---|---|---|---|---|\n");
        for (int i = 0; i < d->nfields; i++) {
            const isa_field_desc *f = &d->fields[i];
            field_bits(f, bits, sizeof bits);
            field_range(f, range, sizeof range);
            fprintf(out, "| %s | `%s` | %s | %s | %s | %s |\n", bits, f->name, kind_name(f->kind), f->unit, range,
                    f->doc);
        }
    }

    fprintf(out, "\n## Enumerations\n");
    for (int set = 1; set < ISA_ENUMSET_COUNT; set++) {
        fprintf(out, "\n### %s\n\n| name | value | meaning |\n|---|---|---|\n", isa_enumset_name((isa_enumset)set));
        for (int i = 0; i < isa_enum_count(); i++) {
            const isa_enum_desc *e = isa_enum_at(i);
            if ((int)e->set == set)
                fprintf(out, "| `%s` | %lld | %s |\n", e->name, (long long)e->value, e->doc);
        }
    }
}
