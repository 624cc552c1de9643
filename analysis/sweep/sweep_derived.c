/* sweep_derived.c -- what a sweep can say about a point: the metrics it measures, the quantities
 * derived from its configuration (constraints use them by name), the area model, and the
 * numeric value of any schema key. */
#include "sweep.h"

#include <math.h>
#include <string.h>

/* ---- the area model
 *
 * MAC: Google's TPU v1 (Jouppi et al., "In-Datacenter Performance Analysis of a Tensor Processing
 * Unit", ISCA 2017) holds 65,536 int8 MACs in its matrix unit, 24% of a die of at most 331 mm2
 * in 28 nm: about 1,210 um2 per MAC with its accumulator and the array's wiring. TSMC's logic
 * density grew about 6x from 28 nm to 7 nm (20SoC 1.9x of 28HPM, 16FF+ on 20 nm metal, 10FF 2x,
 * 7FF 1.6x): est. 200 um2 per MAC at 7 nm, the node of the presets' phones.
 * SRAM: TSMC's 7 nm high-density bit cell is 0.027 um2 (Wu et al., "A 7nm CMOS platform
 * technology ... with a 0.027um2 high density 6-T SRAM cell for mobile SoC applications", IEDM
 * 2016): 8 Mibit are 0.227 mm2 of cells; with half of a macro's area in periphery (decoders,
 * sense amplifiers, banking), est. 0.45 mm2 per MiB. */
#define SWEEP_AREA_MM2_PER_MAC 200e-6
#define SWEEP_AREA_MM2_PER_MIB 0.45
#define BYTES_PER_MIB (1024.0 * 1024.0)
#define TILE_OPERAND_BYTES_PER_PE 6.0 /* int8 A and B, int32 C */
#define OPS_PER_MAC 2.0
#define MHZ_TO_TERA 1e-6

void sweep_area_defaults(sweep_area *a)
{
    a->mm2_per_mac = SWEEP_AREA_MM2_PER_MAC;
    a->mm2_per_mib = SWEEP_AREA_MM2_PER_MIB;
}

/* ---- schema keys */

bool sweep_key_is_numeric(const m4npu_cfg_key *k)
{
    return k && (k->kind == M4NPU_CFG_U32 || k->kind == M4NPU_CFG_U64 || k->kind == M4NPU_CFG_BYTES ||
                 k->kind == M4NPU_CFG_F64);
}

bool sweep_key_number(const m4npu_cfg_key *k, const m4npu_config *cfg, double *out)
{
    const unsigned char *member = (const unsigned char *)cfg + k->offset;
    switch (k->kind) {
    case M4NPU_CFG_U32: {
        uint32_t v;
        memcpy(&v, member, sizeof v);
        *out = (double)v;
        return true;
    }
    case M4NPU_CFG_U64:
    case M4NPU_CFG_BYTES: {
        uint64_t v;
        memcpy(&v, member, sizeof v);
        *out = (double)v;
        return true;
    }
    case M4NPU_CFG_F64:
        memcpy(out, member, sizeof *out);
        return true;
    default:
        return false;
    }
}

/* ---- derived quantities */

static const struct {
    const char *name, *doc;
} derived[SWEEP_DERIVED_COUNT] = {
    [SWEEP_D_MAC_UNITS] = {"mac_units", "npu.matmul.rows * npu.matmul.cols"},
    [SWEEP_D_SRAM_BYTES_PER_CYCLE] = {"sram_bytes_per_cycle", "npu.sram.banks * npu.sram.bank_width_bytes"},
    [SWEEP_D_DRAM_BYTES_PER_CYCLE] = {"dram_bytes_per_cycle",
                                      "npu.dram.bandwidth_gb_s * npu.dram.efficiency * 1000 / npu.clock_mhz"},
    [SWEEP_D_PEAK_TOPS] = {"peak_tops", "2 * mac_units * npu.clock_mhz / 1e6 (int8 tera-operations per second)"},
    [SWEEP_D_TILE_OPERAND_BYTES] = {"tile_operand_bytes",
                                    "one array tile's operands: rows x cols int8 A and B and int32 C, 6 * mac_units"},
    [SWEEP_D_AREA_MM2] = {"area_mm2", "mac_units * area.mm2_per_mac + npu.sram.size_bytes / MiB * area.mm2_per_mib"},
};

const char *sweep_derived_name(sweep_derived d)
{
    return (unsigned)d < SWEEP_DERIVED_COUNT ? derived[d].name : "?";
}

const char *sweep_derived_doc(sweep_derived d)
{
    return (unsigned)d < SWEEP_DERIVED_COUNT ? derived[d].doc : "?";
}

int sweep_derived_lookup(const char *name)
{
    for (int d = 0; d < SWEEP_DERIVED_COUNT; d++)
        if (strcmp(derived[d].name, name) == 0)
            return d;
    return -1;
}

double sweep_derived_value(sweep_derived d, const m4npu_config *cfg, const sweep_area *area)
{
    const npu_device_config *n = &cfg->npu;
    double macs = (double)n->matmul.rows * (double)n->matmul.cols;
    switch (d) {
    case SWEEP_D_MAC_UNITS: return macs;
    case SWEEP_D_SRAM_BYTES_PER_CYCLE: return (double)n->sram.banks * (double)n->sram.bank_width_bytes;
    case SWEEP_D_DRAM_BYTES_PER_CYCLE: return n->dram.bandwidth_gb_s * n->dram.efficiency * 1e3 / n->clock_mhz;
    case SWEEP_D_PEAK_TOPS: return OPS_PER_MAC * macs * n->clock_mhz * MHZ_TO_TERA;
    case SWEEP_D_TILE_OPERAND_BYTES: return TILE_OPERAND_BYTES_PER_PE * macs;
    case SWEEP_D_AREA_MM2:
        return macs * area->mm2_per_mac + (double)n->sram.size_bytes / BYTES_PER_MIB * area->mm2_per_mib;
    default: return NAN;
    }
}

/* ---- metrics */

static const struct {
    const char *name, *doc;
} metrics[SWEEP_METRIC_COUNT] = {
    [SWEEP_M_LATENCY_S] = {"latency_s", "modelled latency of one inference (a task: the whole of it)"},
    [SWEEP_M_ENERGY_J] = {"energy_j", "energy of one inference, every part of the breakdown"},
    [SWEEP_M_AREA_MM2] = {"area_mm2", "area estimate of the configuration (MAC units and SRAM)"},
    [SWEEP_M_NPU_S] = {"npu_s", "the part of latency_s spent in NPU jobs"},
    [SWEEP_M_CPU_S] = {"cpu_s", "the part spent in CPU operators (the fallback)"},
    [SWEEP_M_TRANSFER_S] = {"transfer_s", "the part spent moving tensors across the CPU/NPU boundary"},
    [SWEEP_M_SUBMIT_S] = {"submit_s", "the part spent submitting NPU jobs"},
    [SWEEP_M_FIRST_TOKEN_S] = {"first_token_s", "tasks that generate: time to the first token"},
    [SWEEP_M_PER_TOKEN_S] = {"per_token_s", "tasks that generate: time per further token"},
    [SWEEP_M_SEGMENTS] = {"segments", "NPU jobs per inference"},
    [SWEEP_M_NPU_FRACTION] = {"npu_fraction", "npu_s / latency_s"},
    [SWEEP_M_E_MACS_J] = {"e_macs_j", "energy of the matmul array's MACs"},
    [SWEEP_M_E_VECTOR_J] = {"e_vector_j", "energy of the vector unit and the softmax tile"},
    [SWEEP_M_E_SRAM_J] = {"e_sram_j", "energy of SRAM reads and writes"},
    [SWEEP_M_E_DRAM_J] = {"e_dram_j", "energy of DRAM traffic"},
    [SWEEP_M_E_CONTROL_J] = {"e_control_j", "energy of the control core"},
    [SWEEP_M_E_STATIC_J] = {"e_static_j", "the NPU's static energy"},
    [SWEEP_M_E_CPU_J] = {"e_cpu_j", "the CPU's energy"},
    [SWEEP_M_E_TRANSFER_J] = {"e_transfer_j", "energy of the boundary copies"},
};

const char *sweep_metric_name(sweep_metric m)
{
    return (unsigned)m < SWEEP_METRIC_COUNT ? metrics[m].name : "?";
}

const char *sweep_metric_doc(sweep_metric m)
{
    return (unsigned)m < SWEEP_METRIC_COUNT ? metrics[m].doc : "?";
}

int sweep_metric_lookup(const char *name)
{
    for (int m = 0; m < SWEEP_METRIC_COUNT; m++)
        if (strcmp(metrics[m].name, name) == 0)
            return m;
    return -1;
}
