/* isa_asm.h -- assembler and disassembler for the m4npu ISA.
 *
 * Assembly syntax (one statement per line; `;` or `#` starts a comment):
 *
 *     .equ NAME, EXPR          define a symbolic constant (also: NAME = EXPR)
 *     MNEMONIC OP, OP, ...     one instruction; operands in the order of isa/ISA.md
 *     .insn 0xHEX              a raw 128-bit word (up to 32 hex digits), not checked
 *
 * Operands are expressions over decimal, hex (0x) and binary (0b) integers, float literals
 * (for f32 fields), symbols, ( ), unary - ~, and binary * / % + - << >> & | with C precedence.
 * Enum fields also take their names (os, ws, add, gelu, ...); f32 fields take bits(EXPR) for
 * a raw bit pattern. Symbols must be defined before use.
 *
 * Every error is reported as "FILE:LINE:COL: error: what was expected"; assembly goes on with
 * the next line so that one run reports every bad line, but no output is produced.
 *
 * Limits (so that no input can exhaust the stack, memory or time; isa/README.md):
 * expressions nest at most ISA_ASM_MAX_NESTING levels; a program is at most ISA_MAX_PROGRAM_BYTES;
 * tools read at most ISA_ASM_MAX_SOURCE_BYTES of assembly text.
 */
#ifndef M4NPU_ISA_ASM_H
#define M4NPU_ISA_ASM_H

#include "isa.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parentheses, unary operators and bits(...) nested inside one another in one expression. C
 * requires compilers to take 63; hand-written and generated programs use a handful. */
#define ISA_ASM_MAX_NESTING 256
/* The longest program: 4 Mi instructions (64 MiB). The assembler refuses to produce more, and
 * `m4npu disasm` and `m4npu exec` refuse to read more. */
#define ISA_MAX_PROGRAM_BYTES (64ull * 1024 * 1024)
/* The most assembly text the tools read: 256 MiB, far beyond any program of the size above. */
#define ISA_ASM_MAX_SOURCE_BYTES (256ull * 1024 * 1024)

typedef struct isa_asm_result {
    uint8_t *bytes;    /* the program (NULL when errors > 0) */
    size_t size;       /* bytes */
    int errors;        /* number of error lines */
    char *diagnostics; /* every "FILE:LINE:COL: error: ..." line, or NULL */
    /* the first error, for callers and tests that need its parts */
    isa_status first_status;
    int first_line, first_col;
} isa_asm_result;

/* Assemble src (len bytes, need not be NUL-terminated). filename is used in diagnostics.
 * Returns ISA_OK, the status of the first error, or ISA_E_NOMEM. Free with isa_asm_result_free. */
isa_status isa_assemble(const char *src, size_t len, const char *filename, isa_asm_result *out);
void isa_asm_result_free(isa_asm_result *r);

/* Disassemble a program: one line of assembly per instruction on out; every word that is not a
 * valid instruction is written as `.insn 0x...` (so the listing still re-assembles to the same
 * bytes) and reported on err as "FILE:+0xOFFSET: error: ..."; trailing bytes that do not make a
 * whole instruction are reported the same way. verbose adds each instruction's offset as a
 * comment. Returns the number of problems reported (0 for a valid program). */
int isa_disassemble(const uint8_t *bytes, size_t len, const char *filename, FILE *out, FILE *err,
                    int verbose);

#ifdef __cplusplus
}
#endif
#endif
