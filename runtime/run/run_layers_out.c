/* run_layers_out.c -- the per-layer report's forms: a JSON object per row, CSV rows, and the
 * table for people (run_layers.h; docs/layers.md names every column). */
#include "run_layers.h"

#include <string.h>

#define US_PER_S 1e6
#define GIGA 1e9
#define LAYER_WHY_BYTES 1024

static const char *const unit_keys[NPU_UNIT_COUNT] = {
    [NPU_UNIT_DMA0] = "dma0", [NPU_UNIT_DMA1] = "dma1", [NPU_UNIT_DMA2] = "dma2", [NPU_UNIT_DMA3] = "dma3",
    [NPU_UNIT_MM] = "mm",     [NPU_UNIT_SM] = "sm",     [NPU_UNIT_VEC] = "vec",   [NPU_UNIT_CTRL] = "ctrl",
};

static double intensity(const run_layer *l) { return l->dram_bytes ? l->flops / (double)l->dram_bytes : 0.0; }
static double throughput(const run_layer *l) { return l->seconds > 0.0 ? l->flops / l->seconds : 0.0; }

json_t *run_layer_json(const rt_graph *g, const run_result *r, const run_layer *l)
{
    char name[300], why[LAYER_WHY_BYTES];
    json_t *o = json_object(), *busy = json_object();
    if (!o || !busy) {
        json_decref(o);
        json_decref(busy);
        return NULL;
    }
    for (int u = 0; u < NPU_UNIT_COUNT; u++)
        if (l->busy[u])
            json_object_set_new(busy, unit_keys[u], json_integer((json_int_t)l->busy[u]));
    bool npu = l->kind == RUN_LAYER_OP || l->kind == RUN_LAYER_JOB;
    json_object_set_new(o, "kind", json_string(run_layer_kind_name(l->kind)));
    json_object_set_new(o, "name", json_string(run_layer_name(g, l, name, sizeof name)));
    json_object_set_new(o, "node", l->node >= 0 ? json_string(name) : json_null());
    json_object_set_new(o, "op_type", l->node >= 0 ? json_string(g->nodes[l->node].op_type) : json_null());
    json_object_set_new(o, "kernel", json_string(l->kernel ? l->kernel : ""));
    json_object_set_new(o, "segment", l->segment >= 0 ? json_integer(l->segment) : json_null());
    json_object_set_new(o, "op", l->op >= 0 ? json_integer(l->op) : json_null());
    json_object_set_new(o, "place", json_string(run_layer_place(r, l)));
    json_object_set_new(o, "why", json_string(run_layer_why(g, r, l, why, sizeof why)));
    json_object_set_new(o, "seconds", json_real(l->seconds));
    json_object_set_new(o, "cycles", npu ? json_integer((json_int_t)l->cycles) : json_null());
    json_object_set_new(o, "macs", json_real(l->macs));
    json_object_set_new(o, "flops", json_real(l->flops));
    json_object_set_new(o, "dram_bytes", json_integer((json_int_t)l->dram_bytes));
    json_object_set_new(o, "sram_bytes", npu ? json_integer((json_int_t)l->sram_bytes) : json_null());
    json_object_set_new(o, "array_utilisation", l->kind == RUN_LAYER_OP ? json_real(l->array_util) : json_null());
    json_object_set_new(o, "bandwidth_gb_s", json_real(l->bandwidth_bytes_s / GIGA));
    json_object_set_new(o, "arithmetic_intensity", l->dram_bytes && l->flops > 0 ? json_real(intensity(l)) : json_null());
    json_object_set_new(o, "throughput_gops", json_real(throughput(l) / GIGA));
    json_object_set_new(o, "bound", json_string(run_bound_name(l->bound)));
    json_object_set_new(o, "busy_cycles", busy);
    json_object_set_new(o, "energy_j", json_real(energy_total(&l->energy)));
    json_object_set_new(o, "energy", energy_to_json(&l->energy));
    return o;
}

void run_csv_quoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

void run_layers_csv_header(FILE *out)
{
    fprintf(out, "kind,name,op_type,kernel,segment,op,place,why,seconds,cycles,macs,flops,dram_bytes,sram_bytes,"
                 "array_utilisation,bandwidth_gb_s,arithmetic_intensity,throughput_gops,bound");
    for (int u = 0; u < NPU_UNIT_COUNT; u++)
        fprintf(out, ",busy_%s", unit_keys[u]);
    fprintf(out, ",energy_j,e_macs_j,e_vector_j,e_sram_j,e_dram_j,e_control_j,e_static_j,e_cpu_j,e_transfer_j");
}

void run_layer_csv(FILE *out, const rt_graph *g, const run_result *r, const run_layer *l)
{
    char name[300], why[LAYER_WHY_BYTES];
    fprintf(out, "%s,", run_layer_kind_name(l->kind));
    run_csv_quoted(out, run_layer_name(g, l, name, sizeof name));
    fprintf(out, ",%s,%s,", l->node >= 0 ? g->nodes[l->node].op_type : "", l->kernel ? l->kernel : "");
    if (l->segment >= 0)
        fprintf(out, "%d", l->segment);
    fputc(',', out);
    if (l->op >= 0)
        fprintf(out, "%d", l->op);
    fprintf(out, ",%s,", run_layer_place(r, l));
    run_csv_quoted(out, run_layer_why(g, r, l, why, sizeof why));
    bool npu = l->kind == RUN_LAYER_OP || l->kind == RUN_LAYER_JOB;
    fprintf(out, ",%.9g,", l->seconds);
    if (npu)
        fprintf(out, "%llu", (unsigned long long)l->cycles);
    fprintf(out, ",%.9g,%.9g,%llu,", l->macs, l->flops, (unsigned long long)l->dram_bytes);
    if (npu)
        fprintf(out, "%llu", (unsigned long long)l->sram_bytes);
    fputc(',', out);
    if (l->kind == RUN_LAYER_OP)
        fprintf(out, "%.6f", l->array_util);
    fprintf(out, ",%.9g,", l->bandwidth_bytes_s / GIGA);
    if (l->dram_bytes && l->flops > 0)
        fprintf(out, "%.9g", intensity(l));
    fprintf(out, ",%.9g,%s", throughput(l) / GIGA, run_bound_name(l->bound));
    for (int u = 0; u < NPU_UNIT_COUNT; u++)
        fprintf(out, ",%llu", (unsigned long long)l->busy[u]);
    const energy_breakdown *e = &l->energy;
    fprintf(out, ",%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g", energy_total(e), e->macs_j, e->vector_j, e->sram_j,
            e->dram_j, e->control_j, e->static_j, e->cpu_j, e->transfer_j);
}

void run_layers_print(FILE *out, const rt_graph *g, const run_result *r, const run_layer *rows, int n)
{
    char name[300], why[LAYER_WHY_BYTES];
    fprintf(out, "  %-4s %-32s %-10s %-8s %11s %12s %9s %6s %11s %8s %-8s %11s  %s\n", "#", "layer", "kernel", "place",
            "time us", "cycles", "GMAC", "util", "DRAM KiB", "GB/s", "bound", "energy uJ", "why");
    run_layer_totals t = {0};
    for (int i = 0; i < n; i++) {
        const run_layer *l = &rows[i];
        char cyc[24] = "-", util[16] = "-";
        if (l->kind == RUN_LAYER_OP || l->kind == RUN_LAYER_JOB)
            snprintf(cyc, sizeof cyc, "%llu", (unsigned long long)l->cycles);
        if (l->kind == RUN_LAYER_OP)
            snprintf(util, sizeof util, "%.1f%%", 100.0 * l->array_util);
        fprintf(out, "  %-4d %-32.32s %-10.10s %-8s %11.3f %12s %9.4f %6s %11.1f %8.2f %-8s %11.3f  %s\n", i,
                run_layer_name(g, l, name, sizeof name), l->kernel ? l->kernel : "", run_layer_place(r, l),
                l->seconds * US_PER_S, cyc, l->macs / GIGA, util, (double)l->dram_bytes / 1024.0,
                l->bandwidth_bytes_s / GIGA, run_bound_name(l->bound), energy_total(&l->energy) * US_PER_S,
                run_layer_why(g, r, l, why, sizeof why));
    }
    run_layers_sum(rows, n, 1.0, &t);
    fprintf(out, "  %-4s %-32s %-10s %-8s %11.3f %12.0f %9.4f %6s %11.1f %8s %-8s %11.3f\n", "", "total", "", "",
            t.seconds * US_PER_S, t.cycles, t.macs / GIGA, "", t.dram_bytes / 1024.0, "", "",
            energy_total(&t.energy) * US_PER_S);
}
