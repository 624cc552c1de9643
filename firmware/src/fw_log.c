/* fw_log.c -- the firmware log: text lines in a ring in device memory that the host reads
 * (layout in npu_abi.h). Cheap enough for per-job messages; never per instruction. */
#include "fw.h"

#include <stdarg.h>
#include <stdio.h>

#define FW_LOG_LINE_BYTES 256

static const char *const fault_names[NPU_FAULT_COUNT] = {
    [NPU_FAULT_NONE] = "none",
    [NPU_FAULT_BAD_JOB] = "bad job descriptor",
    [NPU_FAULT_BAD_BUFFER] = "bad buffer",
    [NPU_FAULT_ILLEGAL_INSN] = "illegal instruction",
    [NPU_FAULT_LIMIT] = "instruction beyond device limits",
    [NPU_FAULT_SRAM_OVERFLOW] = "SRAM overflow",
    [NPU_FAULT_DMA_OOB] = "DMA out of bounds",
    [NPU_FAULT_WATCHDOG] = "watchdog: unit made no progress",
    [NPU_FAULT_UNIT] = "unit error",
    [NPU_FAULT_BAD_OP] = "unsupported op descriptor",
};

static const char *const unit_names[NPU_UNIT_COUNT] = {
    [NPU_UNIT_DMA0] = "dma0", [NPU_UNIT_DMA1] = "dma1", [NPU_UNIT_DMA2] = "dma2", [NPU_UNIT_DMA3] = "dma3",
    [NPU_UNIT_MM] = "mm",     [NPU_UNIT_SM] = "sm",     [NPU_UNIT_VEC] = "vec",   [NPU_UNIT_CTRL] = "ctrl",
};

const char *fw_fault_name(uint32_t fault) { return fault < NPU_FAULT_COUNT ? fault_names[fault] : "unknown fault"; }
const char *fw_unit_name(uint32_t unit) { return unit < NPU_UNIT_COUNT ? unit_names[unit] : "none"; }

void fw_log(fw *f, const char *fmt, ...)
{
    uint32_t size = hal_reg_read(f->hal, NPU_REG_LOG_SIZE);
    uint64_t base = (uint64_t)hal_reg_read(f->hal, NPU_REG_LOG_BASE_LO) |
                    (uint64_t)hal_reg_read(f->hal, NPU_REG_LOG_BASE_HI) << 32;
    if (size == 0)
        return;
    char line[FW_LOG_LINE_BYTES];
    int n = snprintf(line, sizeof line, "[%llu] ", (unsigned long long)hal_now(f->hal));
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    uint32_t head = hal_reg_read(f->hal, NPU_REG_LOG_HEAD);
    for (size_t i = 0; i < len; i++) {
        uint64_t at = base + (head + i) % size;
        if (hal_mem_write(f->hal, at, &line[i], 1) != 0)
            return; /* the host pointed the ring outside device memory: drop the line */
    }
    hal_reg_write(f->hal, NPU_REG_LOG_HEAD, head + (uint32_t)len);
}
