/* npu_bo.c -- buffer objects: a first-fit allocator over device memory, with bounds-checked
 * access by copy (npu_sim_mem_write/read: the host holds no pointer into device memory, so an
 * observer sees every byte). Free ranges are kept sorted by address and a freed range merges with
 * both neighbours, so freeing every buffer gives back one block; the bytes and buffers in use are
 * counted for npu_dev_mem_info() and for the message of a failed allocation. Device memory is
 * materialised lazily by the device model, so a BO that is never written (the weights of a
 * timing-only run) costs no host memory. */
#include "npu_drv_internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int npu_mem_init(npu_dev *dev)
{
    dev->capfree = 16;
    dev->free = malloc(dev->capfree * sizeof *dev->free);
    if (!dev->free) {
        npu_dev_fail(dev, NPU_DRV_E_OPEN, "out of host memory");
        return -1;
    }
    dev->nfree = 1;
    dev->used_bytes = 0;
    dev->live_bos = 0;
    dev->free[0].addr = NPU_DRV_RESERVED_BYTES;
    dev->free[0].size = npu_sim_dram_size(dev->sim) - NPU_DRV_RESERVED_BYTES;
    return 0;
}

void npu_mem_fini(npu_dev *dev)
{
    free(dev->free);
    dev->free = NULL;
    dev->nfree = 0;
    free(dev->queue_bo);
    free(dev->slots_bo);
    free(dev->log_bo);
    dev->queue_bo = dev->slots_bo = dev->log_bo = NULL;
}

static uint64_t aligned_size(uint64_t size) { return (size + NPU_DRV_BO_ALIGN - 1) / NPU_DRV_BO_ALIGN * NPU_DRV_BO_ALIGN; }

static uint64_t largest_free(const npu_dev *dev)
{
    uint64_t largest = 0;
    for (size_t i = 0; i < dev->nfree; i++)
        largest = dev->free[i].size > largest ? dev->free[i].size : largest;
    return largest;
}

void npu_dev_mem_info(const npu_dev *dev, npu_mem_info *out)
{
    memset(out, 0, sizeof *out);
    out->total_bytes = npu_sim_dram_size(dev->sim) - NPU_DRV_RESERVED_BYTES;
    out->used_bytes = dev->used_bytes;
    out->free_bytes = out->total_bytes - dev->used_bytes;
    out->largest_free_bytes = largest_free(dev);
    out->live_bos = dev->live_bos;
    const npu_bo *own[] = {dev->queue_bo, dev->slots_bo, dev->log_bo};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        out->driver_bytes += own[i] ? aligned_size(own[i]->size) : 0;
}

uint64_t npu_dev_onchip_bytes(const npu_dev *dev) { return npu_sim_onchip_bytes(dev->sim); }

uint64_t npu_dev_onchip_base(const npu_dev *dev) { return npu_sim_dram_size(dev->sim) - npu_sim_onchip_bytes(dev->sim); }

/* First fit from the lowest address, or (high) last fit from the highest: the BO takes the top
 * of the highest free range that holds it. */
static npu_bo *bo_alloc(npu_dev *dev, uint64_t size, bool high)
{
    if (size == 0 || size > UINT64_MAX - NPU_DRV_BO_ALIGN) {
        npu_dev_fail(dev, NPU_DRV_E_ARG, "buffer size %llu is not allocatable", (unsigned long long)size);
        return NULL;
    }
    uint64_t need = aligned_size(size);
    for (size_t n = 0; n < dev->nfree; n++) {
        size_t i = high ? dev->nfree - 1 - n : n;
        npu_range *r = &dev->free[i];
        if (r->size < need)
            continue;
        npu_bo *bo = malloc(sizeof *bo);
        if (!bo) {
            npu_dev_fail(dev, NPU_DRV_E_NOMEM, "out of host memory");
            return NULL;
        }
        bo->dev = dev;
        bo->size = size;
        if (high) {
            bo->addr = r->addr + r->size - need;
        } else {
            bo->addr = r->addr;
            r->addr += need;
        }
        r->size -= need;
        if (r->size == 0) {
            memmove(r, r + 1, (dev->nfree - i - 1) * sizeof *r);
            dev->nfree--;
        }
        dev->used_bytes += need;
        dev->live_bos++;
        return bo;
    }
    npu_mem_info mi;
    npu_dev_mem_info(dev, &mi);
    npu_dev_fail(dev, NPU_DRV_E_NOMEM,
                 "cannot allocate %llu bytes of device memory: %llu of its %llu bytes are in %u buffers "
                 "(%llu the driver's); %llu are free, the largest free block %llu bytes",
                 (unsigned long long)size, (unsigned long long)mi.used_bytes, (unsigned long long)mi.total_bytes,
                 mi.live_bos, (unsigned long long)mi.driver_bytes, (unsigned long long)mi.free_bytes,
                 (unsigned long long)mi.largest_free_bytes);
    return NULL;
}

npu_bo *npu_bo_alloc(npu_dev *dev, uint64_t size) { return bo_alloc(dev, size, false); }

npu_bo *npu_bo_alloc_high(npu_dev *dev, uint64_t size) { return bo_alloc(dev, size, true); }

void npu_bo_free(npu_bo *bo)
{
    if (!bo)
        return;
    npu_dev *dev = bo->dev;
    uint64_t size = aligned_size(bo->size);
    size_t i = 0;
    while (i < dev->nfree && dev->free[i].addr < bo->addr)
        i++;
    /* merge with the neighbours, or insert */
    int prev = i > 0 && dev->free[i - 1].addr + dev->free[i - 1].size == bo->addr;
    int next = i < dev->nfree && bo->addr + size == dev->free[i].addr;
    if (prev && next) {
        dev->free[i - 1].size += size + dev->free[i].size;
        memmove(&dev->free[i], &dev->free[i + 1], (dev->nfree - i - 1) * sizeof *dev->free);
        dev->nfree--;
    } else if (prev) {
        dev->free[i - 1].size += size;
    } else if (next) {
        dev->free[i].addr = bo->addr;
        dev->free[i].size += size;
    } else {
        if (dev->nfree == dev->capfree) {
            npu_range *nf = realloc(dev->free, 2 * dev->capfree * sizeof *nf);
            if (!nf) { /* keep going: the range stays in use (lost to the allocator), the host loses nothing */
                free(bo);
                return;
            }
            dev->free = nf;
            dev->capfree *= 2;
        }
        memmove(&dev->free[i + 1], &dev->free[i], (dev->nfree - i) * sizeof *dev->free);
        dev->free[i].addr = bo->addr;
        dev->free[i].size = size;
        dev->nfree++;
    }
    dev->used_bytes -= size;
    dev->live_bos--;
    free(bo);
}

uint64_t npu_bo_addr(const npu_bo *bo) { return bo->addr; }
uint64_t npu_bo_size(const npu_bo *bo) { return bo->size; }

static npu_drv_status check_range(const npu_bo *bo, uint64_t offset, uint64_t len)
{
    if (offset > bo->size || len > bo->size - offset)
        return npu_dev_fail(bo->dev, NPU_DRV_E_BOUNDS,
                            "access [%llu, +%llu) is outside the %llu-byte buffer at device address 0x%llx",
                            (unsigned long long)offset, (unsigned long long)len, (unsigned long long)bo->size,
                            (unsigned long long)bo->addr);
    return NPU_DRV_OK;
}

npu_drv_status npu_bo_write(npu_bo *bo, uint64_t offset, const void *src, uint64_t len)
{
    npu_drv_status st = check_range(bo, offset, len);
    if (st == NPU_DRV_OK && len && npu_dev_mem_write(bo->dev, bo->addr + offset, src, len) != 0)
        return npu_dev_fail(bo->dev, NPU_DRV_E_DEVICE, "the device refused a write of %llu bytes at 0x%llx",
                            (unsigned long long)len, (unsigned long long)(bo->addr + offset));
    return st;
}

npu_drv_status npu_bo_read(const npu_bo *bo, uint64_t offset, void *dst, uint64_t len)
{
    npu_drv_status st = check_range(bo, offset, len);
    if (st == NPU_DRV_OK && len && npu_dev_mem_read(bo->dev, bo->addr + offset, dst, len, NPU_READ_DATA) != 0)
        return npu_dev_fail(bo->dev, NPU_DRV_E_DEVICE, "the device refused a read of %llu bytes at 0x%llx",
                            (unsigned long long)len, (unsigned long long)(bo->addr + offset));
    return st;
}
