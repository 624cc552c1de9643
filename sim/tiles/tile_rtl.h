/* tile_rtl.h -- the Verilated RTL tiles (rtl/) as C functions: run one matmul or softmax
 * instruction cycle by cycle on the SystemVerilog model, on the bytes of an isa_exec_ctx.
 *
 * Why a C API: the tests and tools of this project are C11; the simulator (C++17) may use the
 * classes in mm_tile_rtl.h / sm_tile_rtl.h directly. Both give exactly isa_exec()'s results and
 * the cycle count measured on the RTL (tile_cycles.h states it; the testbenches check it).
 * Each handle owns its own Verilated model and context: handles share no state, but one handle
 * must not be used from two threads at once.
 */
#ifndef M4NPU_TILE_RTL_H
#define M4NPU_TILE_RTL_H

#include <stddef.h>
#include <stdint.h>

#include "isa_exec.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tile_rtl_status {
    TILE_RTL_OK = 0,
    TILE_RTL_E_GEOMETRY, /* no model of the requested size was compiled into this build */
    TILE_RTL_E_INSN,     /* not an instruction of this tile, or one that fails isa_check() */
    TILE_RTL_E_SHAPE,    /* the instruction's shape does not fit the tile */
    TILE_RTL_E_SRAM,     /* an operand or result lies outside the SRAM */
    TILE_RTL_E_RTL,      /* the RTL broke its protocol or did not finish in time (an RTL bug) */
    TILE_RTL_E_TRACE,    /* the VCD file could not be opened, or tracing was already on */
    TILE_RTL_E_NOMEM,
    TILE_RTL_STATUS_COUNT
} tile_rtl_status;

const char *tile_rtl_status_str(tile_rtl_status st);

/* Test hook: withhold in_valid / out_ready on a pseudo-random fraction of cycles (per mille),
 * to exercise the tiles' handshakes. Results are unchanged; cycles grow by the stalls. The
 * default (all zero) is no stalls: the cycles are then exactly tile_cycles.h's. */
typedef struct tile_rtl_stalls {
    uint32_t in_per_mille;  /* cycles on which an available operand beat is not offered */
    uint32_t out_per_mille; /* cycles on which the result port is not ready */
    uint64_t seed;
} tile_rtl_stalls;

/* Comma-separated sizes compiled into this build: "16x16/8" (rows x cols / output-stage lanes) and
 * "4 lanes/512" (softmax lanes / longest row). */
const char *tile_rtl_mm_sizes(void);
const char *tile_rtl_sm_sizes(void);

/* ---- matmul tile: mm, mm.cfg and mm.out */
typedef struct tile_mm_rtl tile_mm_rtl;

/* A rows x cols tile with the first output-stage lane count compiled for it. err (may be NULL)
 * receives a message naming the sizes that were compiled. */
tile_rtl_status tile_mm_rtl_create(uint32_t rows, uint32_t cols, tile_mm_rtl **out, char *err, size_t errlen);
/* The same with an output stage of exactly `lanes` elements per cycle. */
tile_rtl_status tile_mm_rtl_create_lanes(uint32_t rows, uint32_t cols, uint32_t lanes, tile_mm_rtl **out, char *err,
                                         size_t errlen);
uint32_t tile_mm_rtl_lanes(const tile_mm_rtl *t);
void tile_mm_rtl_destroy(tile_mm_rtl *t);
/* Run one instruction: on success *cycles is the measured cycle count and ctx->sram (and for
 * mm.cfg / mm.out the ctx's mm_* fields) changed exactly as isa_exec() would change them; on failure
 * nothing was written and err says why. */
tile_rtl_status tile_mm_rtl_run(tile_mm_rtl *t, const isa_insn *in, isa_exec_ctx *ctx, uint64_t *cycles,
                                char *err, size_t errlen);
/* Dump the tile's signals into a VCD file from now on (closed by destroy, or by a call with
 * vcd_path NULL, which returns TILE_RTL_E_TRACE if a write failed meanwhile: a full disk, a
 * file-size limit). One file per handle. VCD time is in picoseconds ($timescale 1ps) of a clock of
 * TILE_RTL_DEFAULT_CLOCK_MHZ (or tile_*_rtl_set_clock's), from the model's creation, with two dumps
 * per cycle (the low phase and the rising edge). */
#define TILE_RTL_DEFAULT_CLOCK_MHZ 1000.0
tile_rtl_status tile_mm_rtl_trace(tile_mm_rtl *t, const char *vcd_path, char *err, size_t errlen);
void tile_mm_rtl_set_clock(tile_mm_rtl *t, double mhz);
void tile_mm_rtl_set_stalls(tile_mm_rtl *t, const tile_rtl_stalls *stalls);

/* ---- softmax tile: sm */
typedef struct tile_sm_rtl tile_sm_rtl;

/* A tile of `lanes` lanes refusing rows longer than max_len: the compiled tile of that lane count
 * with the shortest rows that hold max_len. */
tile_rtl_status tile_sm_rtl_create(uint32_t lanes, uint32_t max_len, tile_sm_rtl **out, char *err, size_t errlen);
void tile_sm_rtl_destroy(tile_sm_rtl *t);
tile_rtl_status tile_sm_rtl_run(tile_sm_rtl *t, const isa_insn *in, isa_exec_ctx *ctx, uint64_t *cycles,
                                char *err, size_t errlen);
tile_rtl_status tile_sm_rtl_trace(tile_sm_rtl *t, const char *vcd_path, char *err, size_t errlen);
void tile_sm_rtl_set_clock(tile_sm_rtl *t, double mhz);
void tile_sm_rtl_set_stalls(tile_sm_rtl *t, const tile_rtl_stalls *stalls);

/* ---- the softmax tile's exponential unit (rtl/sm_exp2.sv) on its own, for testbenches:
 * e[i] = the unit's output for u[i]. Every u must fit the unit's 26-bit signed input
 * (TILE_RTL_E_SHAPE otherwise, nothing written). */
#define TILE_RTL_SM_EXP2_U_BITS 26
tile_rtl_status tile_rtl_sm_exp2(const int32_t *u, uint32_t *e, size_t n, char *err, size_t errlen);

/* ---- the matmul array's float units on their own, for testbenches (sim/tiles/fp_units_rtl.cpp):
 * rtl/fp32_add.sv (y[i] = a[i] + b[i], binary32 bits), rtl/f16_mul.sv (y[i] = a[i] * b[i] of
 * binary16 bits, exact in binary32) and rtl/i8_to_f16.sv (h[i] = the binary16 of int8 v[i]). */
tile_rtl_status tile_rtl_fp32_add(const uint32_t *a, const uint32_t *b, uint32_t *y, size_t n, char *err,
                                  size_t errlen);
tile_rtl_status tile_rtl_f16_mul(const uint16_t *a, const uint16_t *b, uint32_t *y, size_t n, char *err,
                                 size_t errlen);
tile_rtl_status tile_rtl_i8_to_f16(const int8_t *v, uint16_t *h, size_t n, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
