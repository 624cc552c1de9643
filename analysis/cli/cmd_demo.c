/* m4npu demo: the main job until the what-if report exists. Assembles a small attention-score
 * program, disassembles it and checks that the listing re-assembles to the same bytes. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "isa_asm.h"

static const char usage[] =
    "usage: m4npu demo\n\n"
    "Demonstrate the parts of m4npu that exist today: assemble a small attention-score program\n"
    "(DMA in, matmul, softmax, DMA out), print its listing, and check the round trip\n"
    "assembly -> binary -> disassembly -> binary.\n";

static const char program[] =
    "; attention scores for 16 queries x 16 keys, head dimension 64\n"
    ".equ Q, 0x0000            ; SRAM: Q, 16 x 64 int8\n"
    ".equ KT, 0x0400           ; SRAM: K transposed, 64 x 16 int8\n"
    ".equ S, 0x0800            ; SRAM: scores, 16 x 16 int8\n"
    ".equ P, 0x0c00            ; SRAM: probabilities, 16 x 16 int8 Q0.7\n"
    "dma.ld 0, 0, Q, 0, 16, 64, 64, 64\n"
    "dma.ld 1, 1, KT, 0, 64, 16, 16, 16\n"
    "signal dma0, 0\n"
    "signal dma1, 1\n"
    "wait mm, 0\n"
    "wait mm, 1\n"
    "mm.cfg 0x0, 1, 6           ; requantise: x * 1 >> 6\n"
    "mm os, set, i8, nobias, rq, 16, 16, 64, Q, KT, S\n"
    "signal mm, 2\n"
    "wait sm, 2\n"
    "sm causal, S, P, 16, 16, 740, 0   ; scale 0.125 * log2(e) in Q4.12\n"
    "signal sm, 3\n"
    "wait dma0, 3\n"
    "dma.st 0, 2, P, 0, 16, 16, 16, 16\n"
    "end\n";

int cmd_demo(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    if (argc != 1) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    printf("m4npu demo: the what-if report is not built yet; this shows the ISA tool chain.\n\n");
    printf("--- source\n%s", program);
    isa_asm_result first, second;
    if (isa_assemble(program, strlen(program), "demo.s", &first) != ISA_OK) {
        fputs(first.diagnostics ? first.diagnostics : "demo: assembly failed\n", stderr);
        isa_asm_result_free(&first);
        return CLI_FAIL;
    }
    printf("\n--- assembled: %zu instructions, %zu bytes\n--- disassembly\n", first.size / ISA_INSN_BYTES,
           first.size);
    char *listing = NULL;
    size_t listing_len = 0;
    FILE *mem = open_memstream(&listing, &listing_len);
    if (!mem) {
        isa_asm_result_free(&first);
        return CLI_FAIL;
    }
    isa_disassemble(first.bytes, first.size, "demo.bin", mem, stderr, 0);
    fclose(mem);
    fputs(listing, stdout);
    isa_status st = isa_assemble(listing, listing_len, "demo.dis.s", &second);
    int same = st == ISA_OK && second.size == first.size && memcmp(second.bytes, first.bytes, first.size) == 0;
    printf("\n--- round trip asm -> bin -> disasm -> asm: %s\n", same ? "byte-identical" : "DIFFERENT");
    free(listing);
    isa_asm_result_free(&first);
    isa_asm_result_free(&second);
    return same ? CLI_OK : CLI_FAIL;
}
