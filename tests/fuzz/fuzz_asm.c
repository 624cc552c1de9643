/* fuzz_asm.c -- fuzz harness: the assembler and the disassembler (isa/isa_asm.c).
 *
 * The input is assembled as source text; a program that assembles is disassembled and the
 * listing must assemble to the same bytes. The input is also taken as a binary: its listing (with
 * `.insn` for every word that does not decode) must assemble back to its whole 16-byte words, and
 * the count of problems must be positive exactly when some word is invalid or bytes trail. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "isa_asm.h"

/* The listing of bytes, as isa_disassemble writes it, in a malloc'd buffer. */
static char *listing(const uint8_t *bytes, size_t len, int verbose, int *problems, size_t *text_len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, text_len);
    FUZZ_CHECK(f != NULL, "open_memstream failed");
    *problems = isa_disassemble(bytes, len, "fuzz.bin", f, NULL, verbose);
    FUZZ_CHECK(fclose(f) == 0, "writing the listing failed");
    return text;
}

/* The listing of bytes[0..len) assembles back to exactly those bytes. */
static void check_listing_reassembles(const uint8_t *bytes, size_t len, int verbose)
{
    int problems;
    size_t text_len;
    char *text = listing(bytes, len, verbose, &problems, &text_len);
    isa_asm_result r;
    isa_status st = isa_assemble(text, text_len, "listing.s", &r);
    FUZZ_CHECK(st == ISA_OK, "a listing does not assemble: %s\n%s", r.diagnostics ? r.diagnostics : "", text);
    size_t whole = len - len % ISA_INSN_BYTES;
    FUZZ_CHECK(r.size == whole && (whole == 0 || memcmp(r.bytes, bytes, whole) == 0),
               "a listing assembles to other bytes (%zu, expected %zu)\n%s", r.size, whole, text);
    isa_asm_result_free(&r);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    isa_asm_result r;
    isa_status st = isa_assemble((const char *)data, size, "fuzz.s", &r);
    if (st == ISA_OK) {
        FUZZ_CHECK(r.errors == 0 && r.size % ISA_INSN_BYTES == 0, "%d errors, %zu bytes", r.errors, r.size);
        check_listing_reassembles(r.bytes, r.size, 0);
    } else {
        FUZZ_CHECK(r.errors > 0 && r.bytes == NULL && r.diagnostics != NULL, "failed (%d) with %d errors, %s output",
                   (int)st, r.errors, r.bytes ? "some" : "no");
    }
    isa_asm_result_free(&r);

    /* the input as a binary program */
    check_listing_reassembles(data, size, (int)(size & 1));
    return 0;
}
