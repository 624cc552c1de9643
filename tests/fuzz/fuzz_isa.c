/* fuzz_isa.c -- fuzz harness: instruction decode, validation and encode (isa/isa.c,
 * isa/isa_check.c, isa/isa_text.c).
 *
 * The first bytes are device limits for isa_validate; the rest is read two ways, 16 bytes at a
 * time: as an encoded word (decode; a decoded instruction passes isa_check, encodes back to the
 * same word, formats, and has SRAM ranges and DMA spans), and as an instruction built field by
 * field (an opcode and signed field values; one that passes isa_check encodes and decodes back
 * to the same fields). */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "isa.h"

#define FUZZ_LIMIT_BYTES 6 /* one byte per isa_limits member, scaled below */

static void check_decoded(const uint8_t *word, const isa_limits *lim)
{
    isa_insn in;
    isa_error e;
    if (isa_decode(word, &in, &e) != ISA_OK) {
        FUZZ_CHECK(e.msg[0] != '\0', "a decode error without a message");
        return;
    }
    FUZZ_CHECK(isa_check(&in, &e) == ISA_OK, "a decoded instruction fails isa_check: %s", e.msg);
    uint8_t again[ISA_INSN_BYTES];
    FUZZ_CHECK(isa_encode(&in, again, &e) == ISA_OK, "a decoded instruction does not encode: %s", e.msg);
    FUZZ_CHECK(memcmp(again, word, ISA_INSN_BYTES) == 0, "decode then encode changed the word");
    if (isa_validate(&in, lim, &e) != ISA_OK)
        FUZZ_CHECK(e.msg[0] != '\0', "a validation error without a message");
    char text[512];
    int n = isa_format(&in, text, sizeof text);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof text, "format gave %d", n);
    isa_sram_range ranges[ISA_MAX_SRAM_RANGES];
    uint32_t bias = 0;
    int nr = isa_sram_ranges(&in, &bias, ranges);
    FUZZ_CHECK(nr >= 0 && nr <= ISA_MAX_SRAM_RANGES, "%d SRAM ranges", nr);
    uint64_t first = 0, end = 0;
    isa_dma_span(&in, &first, &end);
}

static void check_built(const uint8_t *word)
{
    const isa_insn_desc *d = isa_desc((isa_op)(word[0] % ISA_OP_COUNT));
    FUZZ_CHECK(d != NULL, "no descriptor for op %d", word[0] % ISA_OP_COUNT);
    isa_insn in = isa_insn_make((isa_op)(word[0] % ISA_OP_COUNT));
    for (int f = 0; f < d->nfields && 1 + f < ISA_INSN_BYTES; f++) {
        /* field values near the interesting edges: small, negative, the top of the width */
        int8_t v = (int8_t)word[1 + f];
        const isa_field_desc *fd = &d->fields[f];
        in.f[f] = v >= 0x60 ? fd->max - (0x7f - v) : v <= -0x60 ? fd->min + (v + 0x80) : v;
        if (fd->width < 64 && (word[ISA_INSN_BYTES - 1] & 1u << (f % 8)))
            in.f[f] = (int64_t)(((uint64_t)v << (fd->width > 8 ? fd->width - 8 : 0)));
    }
    isa_error e;
    if (isa_check(&in, &e) != ISA_OK)
        return;
    uint8_t enc[ISA_INSN_BYTES];
    FUZZ_CHECK(isa_encode(&in, enc, &e) == ISA_OK, "a checked instruction does not encode: %s", e.msg);
    isa_insn back;
    FUZZ_CHECK(isa_decode(enc, &back, &e) == ISA_OK, "an encoded instruction does not decode: %s", e.msg);
    FUZZ_CHECK(back.op == in.op, "op %d decodes as %d", (int)in.op, (int)back.op);
    for (int f = 0; f < d->nfields; f++)
        FUZZ_CHECK(back.f[f] == in.f[f] || d->fields[f].kind == ISA_KIND_F, "%s field %s: %lld decodes as %lld",
                   d->mnemonic, d->fields[f].name, (long long)in.f[f], (long long)back.f[f]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < FUZZ_LIMIT_BYTES)
        return 0;
    /* limits from 0 (not checked) to sizes of real devices and beyond */
    isa_limits lim = {.sram_bytes = (uint32_t)data[0] << 14,
                      .dma_channels = data[1] % 9u,
                      .buffers = data[2] % 33u,
                      .mm_rows = data[3] % 65u,
                      .mm_cols = data[4] % 65u,
                      .sm_max_len = (uint32_t)data[5] << 4};
    data += FUZZ_LIMIT_BYTES;
    size -= FUZZ_LIMIT_BYTES;
    for (size_t off = 0; off + ISA_INSN_BYTES <= size; off += ISA_INSN_BYTES) {
        check_decoded(data + off, &lim);
        check_built(data + off);
    }
    return 0;
}
