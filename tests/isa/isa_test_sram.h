/* isa_test_sram.h -- the SRAM the ISA's functional tests execute on, an execution context over
 * it, and little-endian reads and writes of its elements. Static functions, so that each test
 * program takes only what it uses. */
#ifndef M4NPU_ISA_TEST_SRAM_H
#define M4NPU_ISA_TEST_SRAM_H

#include <stdint.h>
#include <string.h>

#include "isa_exec.h"

#define SRAM_BYTES 65536
static uint8_t sram[SRAM_BYTES];

static inline isa_exec_ctx ctx(void)
{
    isa_exec_ctx c = {.sram = sram, .sram_bytes = SRAM_BYTES};
    return c;
}

static inline int32_t rd_i32(uint32_t addr)
{
    int32_t v;
    memcpy(&v, sram + addr, 4);
    return v;
}

static inline uint32_t rd_bits(uint32_t addr)
{
    uint32_t v;
    memcpy(&v, sram + addr, 4);
    return v;
}

static inline float rd_f32(uint32_t addr)
{
    float v;
    memcpy(&v, sram + addr, 4);
    return v;
}

static inline uint16_t rd_u16(uint32_t addr)
{
    uint16_t v;
    memcpy(&v, sram + addr, 2);
    return v;
}

static inline void wr_i32(uint32_t addr, int32_t v) { memcpy(sram + addr, &v, 4); }
static inline void wr_f32(uint32_t addr, float v) { memcpy(sram + addr, &v, 4); }
static inline void wr_i16(uint32_t addr, int16_t v) { memcpy(sram + addr, &v, 2); }
static inline void wr_u16(uint32_t addr, uint16_t v) { memcpy(sram + addr, &v, 2); }

#endif
