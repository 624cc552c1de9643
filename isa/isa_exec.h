/* isa_exec.h -- the functional semantics of the compute instructions: what each one does to the
 * bytes of the on-chip SRAM, bit for bit.
 *
 * This is the reference every implementation must match exactly: the simulator's fast
 * (transaction-level) units call it, the RTL tiles' testbenches compare against it, and the
 * firmware's operator kernels are tested against it. DMA and synchronisation instructions move
 * data between memories or order units; they are executed by the device, not here.
 *
 * Numeric conventions (also in isa/ISA.md): little-endian multi-byte elements; int32 arithmetic
 * wraps (two's complement); a right shift of a negative value rounds toward minus infinity;
 * f32 results are IEEE binary32 computed with the C library on the host.
 */
#ifndef M4NPU_ISA_EXEC_H
#define M4NPU_ISA_EXEC_H

#include "isa.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Softmax fixed-point constants (see isa_sm_row). */
#define ISA_SM_SCALE_FRAC_BITS 12  /* `scale` is s * log2(e) in Q4.12 */
#define ISA_SM_EXP_FRAC_BITS 14    /* exponentials are Q1.14: 1.0 = 16384 */
#define ISA_SM_LUT_BITS 5          /* 2^(i/32) table: 33 entries */
#define ISA_SM_RECIP_BITS 40       /* reciprocal = floor(2^40 / sum) */
#define ISA_SM_OUT_FRAC_BITS 7     /* output is Q0.7: 1.0 saturates to 127 */

/* One record of the matmul tile's output stage (mm.out). */
typedef struct isa_mm_out_record {
    int32_t bias, mult;
    uint32_t shift; /* 0..63 (the low 6 bits of the record's word) */
} isa_mm_out_record;

/* The output stage's registers: which form rq takes, and mm.out's records and table. */
typedef struct isa_mm_stage {
    uint32_t per_channel; /* 0: mm.cfg's per-tensor scale and shift; 1: the records below */
    uint32_t axis;        /* ISA_AXIS_COL or ISA_AXIS_ROW */
    uint32_t lut;         /* ISA_LUT_OFF or ISA_LUT_ON */
    int32_t lo, hi;       /* clamp bounds */
    isa_mm_out_record rec[ISA_MM_OUT_MAX_RECORDS]; /* records past mm.out's n are zero */
    int8_t tab[ISA_MM_OUT_LUT_ENTRIES];
} isa_mm_stage;

/* The state a compute unit keeps between instructions plus the memory it works on. */
typedef struct isa_exec_ctx {
    uint8_t *sram;
    uint32_t sram_bytes;
    /* matmul tile configuration, set by mm.cfg */
    uint32_t mm_bias;
    uint32_t mm_scale;
    uint32_t mm_shift;
    /* and by mm.out (a zeroed ctx is the per-tensor form with scale 0) */
    isa_mm_stage mm_out;
} isa_exec_ctx;

/* Execute one mm, mm.cfg, sm or v.* instruction on ctx->sram. Every SRAM byte the instruction
 * touches must be inside the SRAM (else ISA_E_LIMIT and nothing is written). Other instructions
 * return ISA_E_CONSTRAINT. The instruction must have passed isa_check(). */
isa_status isa_exec(isa_exec_ctx *ctx, const isa_insn *in, isa_error *err);

/* ---- the pieces of the softmax algorithm, for RTL testbenches and documentation */

/* 2^(u / 4096) in Q1.14 for u <= 0: the integer part of u/4096 is a right shift, the fraction
 * is looked up in a 33-entry table of 2^(i/32) (Q1.14) with linear interpolation over the low
 * 7 bits. */
uint32_t isa_sm_exp2(int32_t u);
/* The table entry i (0..32). */
uint32_t isa_sm_lut(int i);
/* One row: x[len] int8 in, y[len] int8 Q0.7 out. Element j is masked (excluded, written 0) when
 * mask && j > row + moff. */
void isa_sm_row(const int8_t *x, int8_t *y, uint32_t len, uint32_t row, uint32_t scale, int mask, int32_t moff);

/* Requantisation of one int32 accumulator (mm with rq, per-tensor form of mm.cfg). */
int8_t isa_mm_requant(int32_t acc, uint32_t scale, uint32_t shift);

/* ---- IEEE binary16 and the float mode of mm (the RTL array and the twins use these) */

#define ISA_F16_MAX 65504.0f          /* the largest finite binary16 */
#define ISA_F16_QNAN 0x7e00u          /* the NaN v.cvt writes */
#define ISA_F32_QNAN_BITS 0x7fc00000u /* the NaN mm's float mode writes */

/* binary16 bits to f32, exactly (subnormals, infinities and NaN payloads included). */
float isa_f16_to_f32(uint16_t h);
/* f32 to binary16, round to nearest (ties to even), saturated to +-65504; NaN to ISA_F16_QNAN. */
uint16_t isa_f32_to_f16_sat(float x);
/* Any NaN becomes the canonical 0x7fc00000; everything else is returned unchanged. */
float isa_f32_canon(float x);
/* One step of mm's float mode: canon(acc + canon(a * b)), a and b exact in f16 (so a * b is exact). */
float isa_mm_f16_mac(float acc, float a, float b);

/* ---- the output stage's per-channel form (mm.out), for the RTL drivers and the runtime's twin */

/* Load mm.out's records (and table) from sram into st, as the instruction does; the instruction
 * must have passed isa_check() and its SRAM ranges must lie inside the SRAM. */
void isa_mm_out_load(isa_mm_stage *st, const isa_insn *in, const uint8_t *sram);
/* One record read from 12 little-endian bytes (shift keeps its low 6 bits). */
isa_mm_out_record isa_mm_out_record_at(const uint8_t *p);
/* y = x + bias, rounded x * mult / 2^shift (half up), saturated to int8, clamped to [lo, hi]
 * (and through tab when given: NULL for no table), exactly as mm.out specifies. */
int8_t isa_mm_out_apply(const isa_mm_out_record *r, int32_t x, int32_t lo, int32_t hi, const int8_t *tab);

#ifdef __cplusplus
}
#endif
#endif
