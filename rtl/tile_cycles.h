/* tile_cycles.h -- how many NPU cycles one instruction takes on each RTL tile, as built.
 *
 * These formulas describe the RTL in this folder exactly (rtl/README.md derives them from each
 * tile's cycle-by-cycle schedule). The simulator's fast model uses them as its latency, and the
 * tiles' testbenches and `m4npu calibrate` check the RTL against them. Change the RTL and these
 * together.
 */
#ifndef M4NPU_TILE_CYCLES_H
#define M4NPU_TILE_CYCLES_H

#include <stdint.h>

/* ---- matmul tile: an R x C systolic array; instruction m x n x k (see isa/ISA.md `mm`).
 *
 * Output-stationary (os; m <= R, n <= C): A enters skewed from the left, B from the top; PE(i,j)
 * sees its last operand pair at cycle (k-1) + i + j, so the array computes for k + m + n - 2
 * cycles; the m result rows are then read out one per cycle; one cycle of issue.
 *     T_os = 1 + (k + m + n - 2) + m = k + 2m + n - 1
 * Weight-stationary (ws; k <= R, n <= C): k weight rows are shifted in (k cycles); the m rows of
 * A stream through, and the last result leaves the bottom of column n-1 after
 * m + k + n - 2 cycles; one cycle of issue.
 *     T_ws = 1 + k + (m + k + n - 2) = 2k + m + n - 1
 * INT4 weights take the same cycles (they are unpacked at the array's edge). Bias, accumulation
 * and requantisation are applied in the output stage as rows leave the array: no extra cycles.
 */
#define TILE_MM_ISSUE_CYCLES 1
#define TILE_MM_CFG_CYCLES 1 /* mm.cfg writes the output stage's registers */

static inline uint64_t tile_mm_cycles(int weight_stationary, uint64_t m, uint64_t n, uint64_t k)
{
    if (weight_stationary)
        return TILE_MM_ISSUE_CYCLES + k + (m + k + n - 2);
    return TILE_MM_ISSUE_CYCLES + (k + m + n - 2) + m;
}

/* ---- softmax tile: P lanes; instruction rows x len (see isa/ISA.md `sm`).
 *
 * Each row takes three passes of ceil(len / P) cycles (max; exp2 and sum; exp2 and normalise),
 * a reciprocal 2^40 / sum computed one quotient bit per cycle, and a fixed pipeline overhead per
 * row (pipeline fill of the passes). Rows are processed one after another; masked elements take
 * their cycles like any other.
 *     T_sm = TILE_SM_ISSUE_CYCLES + rows * (3 * ceil(len / P) + TILE_SM_RECIP_CYCLES + TILE_SM_ROW_CYCLES)
 */
#define TILE_SM_ISSUE_CYCLES 1
#define TILE_SM_RECIP_CYCLES 41 /* 41 quotient bits of 2^40 / sum */
#define TILE_SM_ROW_CYCLES 6    /* pipeline fill over the three passes */

static inline uint64_t tile_sm_cycles(uint64_t rows, uint64_t len, uint64_t lanes)
{
    uint64_t beats = (len + lanes - 1) / lanes;
    return TILE_SM_ISSUE_CYCLES + rows * (3 * beats + TILE_SM_RECIP_CYCLES + TILE_SM_ROW_CYCLES);
}

#endif
