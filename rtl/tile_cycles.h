/* tile_cycles.h -- how many NPU cycles one instruction takes on each RTL tile, as built.
 *
 * These formulas describe the RTL in this folder exactly (rtl/README.md derives them from each
 * tile's cycle-by-cycle schedule). The simulator's fast model uses them as its latency, and the
 * tiles' testbenches (tests/rtl) and `m4npu calibrate` check the RTL against them, cycle for
 * cycle. Change the RTL and these together.
 */
#ifndef M4NPU_TILE_CYCLES_H
#define M4NPU_TILE_CYCLES_H

#include <stdint.h>

/* ---- matmul tile: an R x C systolic array; instruction m x n x k (see isa/ISA.md `mm`).
 * rtl/mm_tile.sv; rtl/README.md has the cycle-by-cycle schedule. Cycles count from the cycle
 * the tile accepts the instruction to the cycle its last result row is accepted, both included,
 * with operands always available and the result port always ready.
 *
 * Output-stationary (os; m <= R, n <= C): beat t (t < k) carries column t of A and row t of B;
 * the array skews them at its edges, so PE(i,j) multiplies A[i][t] * B[t][j] in step t + i + j
 * and the array computes for k + m + n - 2 cycles; the m result rows then leave through row 0,
 * one per cycle; one cycle of issue.
 *     T_os = 1 + (k + m + n - 2) + m = k + 2m + n - 1
 * Weight-stationary (ws; k <= R, n <= C): k weight rows are shifted down the columns (k cycles;
 * the first row of A rides in the last weight beat, as the top-left PE multiplies with the
 * weight arriving that cycle); the m rows of A stream through, partial sums flow down, and the
 * last result leaves the bottom of column n-1 (row k-1) after m + k + n - 2 more cycles, the
 * columns deskewed so that each row of C leaves whole; one cycle of issue.
 *     T_ws = 1 + k + (m + k + n - 2) = 2k + m + n - 1
 * INT4 weights take the same cycles (they are unpacked at the array's edge); 16-bit operands
 * twice the cycles per step (tile_mm_cycles_typed).
 *
 * The output stage (rtl/mm_out_stage.sv, P lanes) takes each result row as it leaves the array.
 * Accumulation into C and the bias vector are added at the array's full width (no cycles); with
 * rq the row is requantised P columns per step while the array waits, so each of the m rows
 * stays ceil(n / P) steps instead of one:
 *     T_rq = T_os or T_ws + m * (ceil(n / P) - 1)       (no term when P >= n)
 * (with a 16-bit operand every one of those steps is two cycles, as the array's). The float mode
 * (an f16 operand) has no rq, and its accumulation into C (an f32 add) is the driver's.
 * mm.cfg writes the stage's per-tensor registers in its issue cycle. mm.out loads n records, P
 * per cycle, then with lut the 256-entry table, P entries per cycle:
 *     T_out = 1 + ceil(n / P) + (lut ? ceil(256 / P) : 0)
 */
#define TILE_MM_ISSUE_CYCLES 1
#define TILE_MM_CFG_CYCLES 1 /* mm.cfg writes the output stage's registers */
#define TILE_MM_WIDE_CYCLES_PER_STEP 2 /* a 16-bit operand (int16, f16): the array steps every other cycle */
#define TILE_MM_OUT_TABLE_ENTRIES 256

/* The array's steps after issue (T - issue for 8-bit operands). */
static inline uint64_t tile_mm_steps(int weight_stationary, uint64_t m, uint64_t n, uint64_t k)
{
    if (weight_stationary)
        return k + (m + k + n - 2);
    return (k + m + n - 2) + m;
}

static inline uint64_t tile_mm_cycles(int weight_stationary, uint64_t m, uint64_t n, uint64_t k)
{
    return TILE_MM_ISSUE_CYCLES + tile_mm_steps(weight_stationary, m, n, k);
}

/* With a 16-bit operand (at or bt i16 or f16) every step takes two cycles: the 16 x 16 multiplier
 * and the f32 adder of a PE are two-cycle paths, so the array runs at half rate:
 *     T_wide = 1 + 2 * steps   (os: 2k + 4m + 2n - 3, ws: 4k + 2m + 2n - 3) */
static inline uint64_t tile_mm_cycles_typed(int weight_stationary, int wide, uint64_t m, uint64_t n, uint64_t k)
{
    uint64_t per_step = wide ? TILE_MM_WIDE_CYCLES_PER_STEP : 1;
    return TILE_MM_ISSUE_CYCLES + per_step * tile_mm_steps(weight_stationary, m, n, k);
}

/* An mm whose results go through the output stage's requantisation (lanes = P), or not (lanes 0),
 * with a 16-bit operand (wide) or not. */
static inline uint64_t tile_mm_rq_cycles_typed(int weight_stationary, int wide, uint64_t m, uint64_t n, uint64_t k,
                                               uint64_t lanes)
{
    uint64_t per_step = wide ? TILE_MM_WIDE_CYCLES_PER_STEP : 1;
    uint64_t steps = tile_mm_steps(weight_stationary, m, n, k);
    if (lanes)
        steps += m * ((n + lanes - 1) / lanes - 1);
    return TILE_MM_ISSUE_CYCLES + per_step * steps;
}

/* The same with 8-bit operands. */
static inline uint64_t tile_mm_rq_cycles(int weight_stationary, uint64_t m, uint64_t n, uint64_t k, uint64_t lanes)
{
    return tile_mm_rq_cycles_typed(weight_stationary, 0, m, n, k, lanes);
}

/* ---- the fast model's full-array GEMV (npu.matmul.full_array_gemv; no RTL tile builds it).
 * An os mm of m rows on an array of R rows, m < R, splits k into s = min(floor(R / m), k) slices:
 * row group g (rows g*m .. g*m + m - 1) is fed columns of A and rows of B of slice g at its own
 * edge, so the groups run side by side, each over ceil(k / s) beats with the skew of m rows and
 * n columns; then the s partial sums of each result are added down the columns by an adder tree
 * (ceil(log2 s) cycles) and the m rows leave as in T_os. Idle: the R - m*s rows below the last
 * group and the C - n columns right of n (they cost no cycles, as in the rtl tile).
 *     T_split = 1 + (ceil(k / s) + m + n - 2) + ceil(log2 s) + m     (T_os when s = 1)
 * With rq the output stage's term is unchanged; with a 16-bit operand every step is two cycles. */
static inline uint64_t tile_mm_split_groups(uint64_t m, uint64_t k, uint64_t array_rows)
{
    uint64_t s = m < array_rows ? array_rows / m : 1;
    return s < k ? s : k;
}

static inline uint64_t tile_mm_split_rq_cycles_typed(int wide, uint64_t m, uint64_t n, uint64_t k, uint64_t array_rows,
                                                     uint64_t lanes)
{
    uint64_t s = tile_mm_split_groups(m, k, array_rows), tree = 0;
    while ((UINT64_C(1) << tree) < s)
        tree++;
    uint64_t steps = ((k + s - 1) / s + m + n - 2) + tree + m;
    if (lanes)
        steps += m * ((n + lanes - 1) / lanes - 1);
    return TILE_MM_ISSUE_CYCLES + (wide ? TILE_MM_WIDE_CYCLES_PER_STEP : 1) * steps;
}

static inline uint64_t tile_mm_split_rq_cycles(uint64_t m, uint64_t n, uint64_t k, uint64_t array_rows, uint64_t lanes)
{
    return tile_mm_split_rq_cycles_typed(0, m, n, k, array_rows, lanes);
}

static inline uint64_t tile_mm_out_cycles(uint64_t n, int lut, uint64_t lanes)
{
    return TILE_MM_ISSUE_CYCLES + (n + lanes - 1) / lanes +
           (lut ? (TILE_MM_OUT_TABLE_ENTRIES + lanes - 1) / lanes : 0);
}

/* ---- softmax tile: P lanes; instruction rows x len (see isa/ISA.md `sm`). rtl/sm_tile.sv.
 *
 * Each row, with B = ceil(len / P) beats:
 *   IN   B cycles: one input beat per cycle into the row buffer; the running max is updated in
 *        the same cycle (no fill)
 *   SUM  B + 3 cycles: read, scale ((x - max) * scale) and exp2 stages, then the sum
 *   DIV  41 cycles: the reciprocal 2^40 / sum, one quotient bit per cycle
 *   OUT  B + 3 cycles: the same read, scale and exp2 stages; the normalised beat goes straight
 *        to the result port
 * Rows are processed one after another; masked elements take their cycles like any other.
 *     T_sm = TILE_SM_ISSUE_CYCLES + rows * (3 * ceil(len / P) + TILE_SM_RECIP_CYCLES + TILE_SM_ROW_CYCLES)
 */
#define TILE_SM_ISSUE_CYCLES 1
#define TILE_SM_RECIP_CYCLES 41 /* 41 quotient bits of 2^40 / sum */
#define TILE_SM_ROW_CYCLES 6    /* pipeline fill: 3 in SUM, 3 in OUT */

static inline uint64_t tile_sm_cycles(uint64_t rows, uint64_t len, uint64_t lanes)
{
    uint64_t beats = (len + lanes - 1) / lanes;
    return TILE_SM_ISSUE_CYCLES + rows * (3 * beats + TILE_SM_RECIP_CYCLES + TILE_SM_ROW_CYCLES);
}

#endif
