/* energy.c -- the energy model's arithmetic (see energy.h and docs/energy.md). */
#include "energy.h"

#include <string.h>

static double pj(double count, double pj_each) { return count * pj_each * ENERGY_PJ_TO_J; }

void energy_add_npu(energy_breakdown *e, const m4npu_config *cfg, const npu_counters *d)
{
    const m4npu_energy_config *t = &cfg->energy;
    const uint64_t *mm = d->v[NPU_UNIT_MM], *vec = d->v[NPU_UNIT_VEC], *sm = d->v[NPU_UNIT_SM];
    double int4 = (double)mm[NPU_CTR_MACS_INT4], int8 = (double)mm[NPU_CTR_MACS] - int4;
    e->macs_j += pj(int8, t->mac_int8_pj) + pj(int4, t->mac_int4_pj);
    e->vector_j += pj((double)vec[NPU_CTR_BUSY] * cfg->npu.vector.lanes, t->vector_pj_per_lane_cycle) +
                   pj((double)sm[NPU_CTR_BUSY] * cfg->npu.softmax.lanes, t->softmax_pj_per_lane_cycle) +
                   pj((double)mm[NPU_CTR_ELEMS], t->output_stage_pj_per_elem);
    double sram = 0.0, dram = 0.0;
    for (int u = 0; u < NPU_UNIT_COUNT; u++) {
        sram += (double)d->v[u][NPU_CTR_SRAM_RD] + (double)d->v[u][NPU_CTR_SRAM_WR];
        dram += (double)d->v[u][NPU_CTR_DRAM_RD] + (double)d->v[u][NPU_CTR_DRAM_WR];
    }
    e->sram_j += pj(sram, t->sram_pj_per_byte);
    e->dram_j += pj(dram * ENERGY_BITS_PER_BYTE, t->dram_pj_per_bit);
    e->control_j += pj((double)d->v[NPU_UNIT_CTRL][NPU_CTR_BUSY], t->control_pj_per_cycle);
}

void energy_add_static(energy_breakdown *e, const m4npu_config *cfg, double seconds)
{
    e->static_j += (cfg->energy.npu_static_w + cfg->energy.platform_w) * seconds;
}

void energy_add_cpu(energy_breakdown *e, const m4npu_config *cfg, double active_s, double idle_s)
{
    e->cpu_j += cfg->cpu.active_power_w * active_s + cfg->cpu.idle_power_w * idle_s;
}

void energy_add_transfer(energy_breakdown *e, const m4npu_config *cfg, double bytes, double cpu_s)
{
    const double read_and_write = 2.0;
    e->transfer_j += pj(bytes * read_and_write * ENERGY_BITS_PER_BYTE, cfg->energy.dram_pj_per_bit) +
                     cfg->cpu.active_power_w * cpu_s;
}

void energy_accumulate(energy_breakdown *into, const energy_breakdown *e, double times)
{
    into->macs_j += e->macs_j * times;
    into->vector_j += e->vector_j * times;
    into->sram_j += e->sram_j * times;
    into->dram_j += e->dram_j * times;
    into->control_j += e->control_j * times;
    into->static_j += e->static_j * times;
    into->cpu_j += e->cpu_j * times;
    into->transfer_j += e->transfer_j * times;
}

double energy_total(const energy_breakdown *e)
{
    return e->macs_j + e->vector_j + e->sram_j + e->dram_j + e->control_j + e->static_j + e->cpu_j + e->transfer_j;
}

json_t *energy_to_json(const energy_breakdown *e)
{
    json_t *j = json_object();
    if (!j)
        return NULL;
    json_object_set_new(j, "macs", json_real(e->macs_j));
    json_object_set_new(j, "vector", json_real(e->vector_j));
    json_object_set_new(j, "sram", json_real(e->sram_j));
    json_object_set_new(j, "dram", json_real(e->dram_j));
    json_object_set_new(j, "control", json_real(e->control_j));
    json_object_set_new(j, "static", json_real(e->static_j));
    json_object_set_new(j, "cpu", json_real(e->cpu_j));
    json_object_set_new(j, "transfer", json_real(e->transfer_j));
    json_object_set_new(j, "total", json_real(energy_total(e)));
    return j;
}
