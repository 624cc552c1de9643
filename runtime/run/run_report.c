/* run_report.c -- what a run says: the table for people, the JSON object for scripts, the
 * Chrome/Perfetto trace-event timeline, and the outputs as .npy files. */
#include "run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "ops.h"
#include "run_internal.h"
#include "run_layers.h"

#define US_PER_S 1e6
#define KIB_BYTES 1024.0
#define MIB_BYTES (1024.0 * 1024.0)
#define TRACE_PID_HOST 1
#define TRACE_PID_NPU 2

/* A node's name, or "#INDEX" when it has none. */
static const char *node_name(const rt_graph *g, int n, char *buf, size_t size)
{
    if (g->nodes[n].name && g->nodes[n].name[0])
        return g->nodes[n].name;
    snprintf(buf, size, "#%d", n);
    return buf;
}

static const char *place_name(const part_node_info *ni)
{
    if (ni->place == PART_NPU)
        return "npu";
    return ni->constant ? "const" : ni->view ? "cpu-view" : "cpu";
}

/* ---- text */

/* The modelled seconds and energy of every node (an NPU node: its op descriptors', zero when it
 * was fused into another node's; a CPU node: its own): from the per-layer rows, so that the
 * placement and the layers agree. Arrays of g->n_nodes, zeroed by the caller. */
static rt_status node_costs(const rt_graph *g, const m4npu_config *cfg, const run_result *r, double *secs,
                            double *joules, rt_error *e)
{
    run_layer *rows;
    int n;
    rt_status st = run_layers(g, cfg, r, &rows, &n, e);
    if (st != RT_OK)
        return st;
    for (int i = 0; i < n; i++)
        if (rows[i].node >= 0 && (rows[i].kind == RUN_LAYER_OP || rows[i].kind == RUN_LAYER_CPU)) {
            secs[rows[i].node] += rows[i].seconds;
            joules[rows[i].node] += energy_total(&rows[i].energy);
        }
    free(rows);
    return RT_OK;
}

void run_print_report(FILE *out, const rt_graph *g, const m4npu_config *cfg, const m4npu_config_source *src,
                      const run_result *r)
{
    const part_plan *p = r->plan;
    char lbl[300], label[1024], hash[M4NPU_CONFIG_HASH_HEX];
    fprintf(out, "model %s on %s%s\n", g->name && g->name[0] ? g->name : "(unnamed)",
            m4npu_config_label(cfg, src, label, sizeof label),
            r->timing_only ? " (timing only: no reference, no values)" : "");
    fprintf(out, "configuration: %s (hash %s); NPU weights %s\n", src && src->path ? src->path : "built-in defaults",
            m4npu_config_hash_hex(cfg, hash), r->weights == NPU_WEIGHTS_INT4 ? "int4" : "int8, per output channel");
    if (r->n_generated) {
        fprintf(out, "inputs: generated (seed 0x%llx, uniform [-1, 1)) for", (unsigned long long)r->seed);
        for (int i = 0; i < r->n_generated; i++)
            fprintf(out, " %s", r->generated[i]);
        fprintf(out, "%s\n", r->calib.samples && strcmp(r->calib.source, "run input") == 0
                                  ? "; they are also the calibration input" : "");
    }
    {
        fprintf(out, "quantisation: %s activations, %s weights", npu_act_format_name(r->activations),
                npu_weight_type_name(r->weights));
        if (r->group_size)
            fprintf(out, " (scales per group of %u along K)", r->group_size);
        else if (r->weights != NPU_WEIGHTS_F16)
            fprintf(out, " (scales per output channel)");
        if (r->timing_only)
            fprintf(out, "; no calibration (timing only)\n");
        else if (r->calib.samples == 0)
            fprintf(out, "; no activation calibration (f16 needs no scales)\n");
        else {
            fprintf(out, "; activation ranges by %s", run_calib_method_name(r->calib.method));
            if (r->calib.method == RUN_CALIB_PERCENTILE)
                fprintf(out, " (%g%% of |x| kept)", r->calib.percentile);
            fprintf(out, " over %d sample%s (%s): %d tensors, %d clipped below their max |x|\n", r->calib.samples,
                    r->calib.samples == 1 ? "" : "s", r->calib.source, r->calib.tensors, r->calib.clipped);
        }
    }
    fprintf(out, "\nplacement (%d nodes: %d on the NPU in %d segment%s, %d on the CPU", p->n_nodes, p->n_npu,
            p->n_segments, p->n_segments == 1 ? "" : "s", p->n_cpu);
    if (p->n_view || p->n_constant)
        fprintf(out, ", of which %d free views and %d precomputed constants", p->n_view, p->n_constant);
    fprintf(out, "), in execution order:\n");
    fprintf(out, "  %-4s %-28s %-20s %-8s %4s %10s %10s  %s\n", "#", "node", "op", "place", "seg", "model us",
            "host us", "why on the CPU (NPU: fused into)");
    double *secs = calloc((size_t)g->n_nodes + 1, sizeof *secs), *joules = calloc((size_t)g->n_nodes + 1, sizeof *joules);
    rt_error e;
    bool costed = secs && joules && node_costs(g, cfg, r, secs, joules, &e) == RT_OK;
    for (int pos = 0; pos < p->n_nodes; pos++) {
        int n = p->order[pos];
        const part_node_info *ni = &p->node[n];
        char seg[16] = "-", model[32] = "-", host[32] = "-", why[PART_WHY_BYTES + 320];
        snprintf(why, sizeof why, "%s", ni->why);
        if (costed && !ni->constant)
            snprintf(model, sizeof model, "%.3f", secs[n] * US_PER_S);
        if (ni->place == PART_NPU) {
            snprintf(seg, sizeof seg, "%d", ni->segment);
            int into = r->nodes[n].into;
            if (into >= 0 && into != n)
                snprintf(why, sizeof why, "fused into %s", node_name(g, into, lbl, sizeof lbl));
        } else {
            snprintf(host, sizeof host, "%.3f", r->nodes[n].host_wall_s * US_PER_S);
        }
        fprintf(out, "  %-4d %-28s %-20s %-8s %4s %10s %10s  %s\n", pos, node_name(g, n, lbl, sizeof lbl),
                g->nodes[n].op_type, place_name(ni), seg, model, host, why);
    }
    free(secs);
    free(joules);
    if (p->chosen) {
        bool lat = p->objective == PART_LATENCY;
        double k = US_PER_S;
        const char *u = lat ? "us" : "uJ";
        fprintf(out, "\npartitioning: cost-aware, %s objective: chose the %s plan, %.3f %s; greedy (every supported "
                     "node on the NPU, %d segment%s) %.3f %s; everything on the CPU %.3f %s; %d supported node%s "
                     "kept on the CPU (%d segment%s simulated or taken from the memo)\n",
                lat ? "latency" : "energy", p->chosen, p->cost_chosen * k, u, p->greedy_segments,
                p->greedy_segments == 1 ? "" : "s", p->cost_greedy * k, u, p->cost_cpu * k, u, p->n_kept_on_cpu,
                p->n_kept_on_cpu == 1 ? "" : "s", p->segment_evaluations, p->segment_evaluations == 1 ? "" : "s");
    } else {
        fprintf(out, "\npartitioning: greedy (every supported node on the NPU)\n");
    }
    fprintf(out, "\nsegments:\n");
    for (int s = 0; s < p->n_segments; s++) {
        const part_segment *sg = &p->segments[s];
        const run_segment_result *sr = &r->segs[s];
        fprintf(out,
                "  %d: %d ops, %llu cycles = %.3f us on the NPU, %u op descriptors, %llu instructions; "
                "%d in (%llu B, %.3f us), %d out (%llu B, %.3f us), submit %.3f us; device memory %.1f KiB "
                "(weights %.1f, KV cache %.1f, activations %.1f)\n",
                s, sg->n_nodes, (unsigned long long)sr->stats.cycles, sr->stats.seconds * US_PER_S, sr->stats.ops,
                (unsigned long long)sr->stats.insns, sg->n_in, (unsigned long long)sg->bytes_in,
                sg->transfer_in_s * US_PER_S, sg->n_out, (unsigned long long)sg->bytes_out,
                sg->transfer_out_s * US_PER_S, sg->submit_s * US_PER_S, (double)sr->mem.peak_bytes / KIB_BYTES,
                (double)sr->mem.weight_bytes / KIB_BYTES, (double)sr->mem.kv_bytes / KIB_BYTES,
                (double)sr->mem.act_bytes / KIB_BYTES);
    }
    fprintf(out, "\ndevice memory (all segments, planned together): %.3f MiB at the peak = weights %.3f + KV cache "
                 "%.3f + activations %.3f (one arena shared by the segments) + descriptors %.3f\n",
            (double)r->mem.peak_bytes / MIB_BYTES, (double)r->mem.weight_bytes / MIB_BYTES,
            (double)r->mem.kv_bytes / MIB_BYTES, (double)r->mem.act_bytes / MIB_BYTES,
            (double)r->mem.program_bytes / MIB_BYTES);
    fprintf(out, "\ncrossings: %d tensors, %llu bytes (%.1f KiB host + device), %.3f us\n", p->n_crossings,
            (unsigned long long)p->crossing_bytes, (double)p->crossing_bytes / KIB_BYTES, p->crossing_s * US_PER_S);
    fprintf(out, "\nlatency (modelled): %.3f us = NPU %.3f + CPU %.3f + transfers %.3f + submission %.3f\n",
            r->total_s * US_PER_S, r->npu_s * US_PER_S, r->cpu_s * US_PER_S, r->transfer_s * US_PER_S,
            r->submit_s * US_PER_S);
    const energy_breakdown *en = &r->energy;
    fprintf(out,
            "energy (modelled, table v%u): %.3f uJ = MACs %.3f + vector %.3f + SRAM %.3f + DRAM %.3f + control "
            "%.3f + static %.3f + CPU %.3f + transfers %.3f\n",
            cfg->energy.version, energy_total(en) * US_PER_S, en->macs_j * US_PER_S, en->vector_j * US_PER_S,
            en->sram_j * US_PER_S, en->dram_j * US_PER_S, en->control_j * US_PER_S, en->static_j * US_PER_S,
            en->cpu_j * US_PER_S, en->transfer_j * US_PER_S);
    fprintf(out, "host wall time (this machine, not a phone): CPU kernels %.3f ms, NPU simulation %.3f ms\n",
            r->host_cpu_wall_s * 1e3, r->host_npu_wall_s * 1e3);
    if (r->timing_only) {
        fprintf(out, "\ntiming only: no values were computed (no reference, no outputs, no errors)\n");
        return;
    }
    fprintf(out, "\nerror of the NPU path against the FP32 CPU reference (device vs the CPU twin of its kernels: max "
                 "abs difference %.6g%s):\n",
            r->twin_max_abs, r->twin_max_abs == 0 ? ", bit-exact: the error is quantisation only" : "");
    fprintf(out, "  %-24s %12s %12s %12s %10s  %s\n", "output", "max abs", "max rel", "rel L2", "SQNR dB",
            "argmax agreement");
    for (int i = 0; i < r->n_outputs; i++) {
        const run_output *o = &r->outputs[i];
        char sqnr[32], agree[64] = "-";
        if (isinf(o->sqnr_db) && o->sqnr_db > 0)
            snprintf(sqnr, sizeof sqnr, "exact");
        else
            snprintf(sqnr, sizeof sqnr, "%.2f", o->sqnr_db);
        if (o->class_scores && o->argmax_rows)
            snprintf(agree, sizeof agree, "%.2f%% (%lld of %lld rows)", 100.0 * (double)o->argmax_agree / (double)o->argmax_rows,
                     (long long)o->argmax_agree, (long long)o->argmax_rows);
        fprintf(out, "  %-24s %12.6g %12.6g %12.6g %10s  %s\n", g->tensors[o->tensor]->name, o->max_abs, o->max_rel,
                o->rel_l2, sqnr, agree);
    }
    fprintf(out, "  (max rel: of the output's max |reference|; rel L2: ||npu - ref|| / ||ref||; SQNR: 10 log10 of "
                 "sum ref^2 / sum (npu - ref)^2)\n");
}

/* ---- JSON */

static int set(json_t *obj, const char *key, json_t *v)
{
    return v && json_object_set_new(obj, key, v) == 0 ? 0 : -1;
}

json_t *run_mem_json(const npu_mem_usage *m)
{
    json_t *o = json_object();
    if (!o || set(o, "weights_bytes", json_integer((json_int_t)m->weight_bytes)) ||
        set(o, "kv_cache_bytes", json_integer((json_int_t)m->kv_bytes)) ||
        set(o, "activations_bytes", json_integer((json_int_t)m->act_bytes)) ||
        set(o, "descriptors_bytes", json_integer((json_int_t)m->program_bytes)) ||
        set(o, "peak_bytes", json_integer((json_int_t)m->peak_bytes))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* JSON has no infinities or NaN: null stands for them (an exact output's SQNR is infinite). */
static json_t *real_or_null(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static json_t *counters_json(const npu_counters *c)
{
    json_t *o = json_object();
    for (int u = 0; o && u < NPU_UNIT_COUNT; u++) {
        json_t *unit = json_object();
        for (int k = 0; unit && k < NPU_CTR_COUNT; k++)
            if (set(unit, npu_counter_str((uint32_t)k), json_integer((json_int_t)c->v[u][k])) != 0) {
                json_decref(unit);
                unit = NULL;
            }
        if (set(o, npu_unit_str((uint32_t)u), unit) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* What a control-flow node's subgraphs ran (run_body_cost). */
static json_t *body_json(const run_body_cost *b)
{
    static const run_body_cost none; /* (a control-flow node's body is always set after a run) */
    if (!b)
        b = &none;
    return json_pack("{s:s, s:I, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:I}", "what", b->what, "runs", (json_int_t)b->runs,
                     "nodes", b->nodes, "npu_nodes", b->npu_nodes, "segments", b->segments, "npu_s", b->npu_s, "cpu_s",
                     b->cpu_s, "transfer_s", b->transfer_s, "submit_s", b->submit_s, "crossing_bytes",
                     (json_int_t)b->crossing_bytes);
}

json_t *run_result_json(const rt_graph *g, const m4npu_config *cfg, const m4npu_config_source *src,
                        const run_result *r)
{
    const part_plan *p = r->plan;
    json_t *root = json_object(), *placement = json_array(), *segs = json_array(), *errs = json_array();
    json_t *inputs = json_array();
    double *secs = calloc((size_t)g->n_nodes + 1, sizeof *secs), *joules = calloc((size_t)g->n_nodes + 1, sizeof *joules);
    rt_error e;
    int bad = !root || !placement || !segs || !errs || !inputs || !secs || !joules ||
              node_costs(g, cfg, r, secs, joules, &e) != RT_OK;
    char lbl[300];
    for (int pos = 0; !bad && pos < p->n_nodes; pos++) {
        int n = p->order[pos];
        const part_node_info *ni = &p->node[n];
        int into = r->nodes[n].into;
        bool fused = ni->place == PART_NPU && into >= 0 && into != n;
        json_t *o = json_object();
        /* a node's modelled time and energy: null when it is precomputed (a constant) */
        bad = !o || set(o, "node", json_string(node_name(g, n, lbl, sizeof lbl))) ||
              set(o, "op", json_string(g->nodes[n].op_type)) || set(o, "place", json_string(place_name(ni))) ||
              set(o, "segment", ni->segment >= 0 ? json_integer(ni->segment) : json_null()) ||
              set(o, "why", json_string(ni->why)) || set(o, "supported", json_boolean(ni->supported)) ||
              set(o, "kept_on_cpu", json_boolean(ni->kept_on_cpu)) ||
              set(o, "fused_into", fused ? json_string(node_name(g, into, lbl, sizeof lbl)) : json_null()) ||
              set(o, "model_s", ni->constant ? json_null() : json_real(secs[n])) ||
              set(o, "energy_j", ni->constant ? json_null() : json_real(joules[n])) ||
              set(o, "host_s", json_real(r->nodes[n].host_wall_s)) ||
              (ops_is_control(g->nodes[n].op) && !ni->constant &&
               set(o, "subgraphs", body_json(r->nodes[n].body))) ||
              json_array_append_new(placement, o);
    }
    for (int s = 0; !bad && s < p->n_segments; s++) {
        const part_segment *sg = &p->segments[s];
        const run_segment_result *sr = &r->segs[s];
        json_t *o = json_object(), *nodes = json_array();
        bad = !o || !nodes;
        for (int k = 0; !bad && k < sg->n_nodes; k++)
            bad = json_array_append_new(nodes, json_string(node_name(g, sg->nodes[k], lbl, sizeof lbl)));
        bad = bad || set(o, "id", json_integer(s)) || set(o, "nodes", nodes) ||
              set(o, "inputs", json_integer(sg->n_in)) || set(o, "outputs", json_integer(sg->n_out)) ||
              set(o, "bytes_in", json_integer((json_int_t)sg->bytes_in)) ||
              set(o, "bytes_out", json_integer((json_int_t)sg->bytes_out)) ||
              set(o, "transfer_in_s", json_real(sg->transfer_in_s)) ||
              set(o, "transfer_out_s", json_real(sg->transfer_out_s)) || set(o, "submit_s", json_real(sg->submit_s)) ||
              set(o, "npu_s", json_real(sr->stats.seconds)) ||
              set(o, "cycles", json_integer((json_int_t)sr->stats.cycles)) ||
              set(o, "op_descriptors", json_integer(sr->stats.ops)) ||
              set(o, "instructions", json_integer((json_int_t)sr->stats.insns)) ||
              set(o, "npu_bytes_in", json_integer((json_int_t)sr->stats.bytes_in)) ||
              set(o, "npu_bytes_out", json_integer((json_int_t)sr->stats.bytes_out)) ||
              set(o, "weight_bytes", json_integer((json_int_t)sr->stats.weight_bytes)) ||
              set(o, "twin_max_abs_diff", json_real(sr->twin_max_abs)) ||
              set(o, "device_memory", run_mem_json(&sr->mem)) ||
              set(o, "counters", counters_json(&sr->stats.counters)) || json_array_append_new(segs, o);
        if (bad && !o)
            json_decref(nodes);
    }
    for (int i = 0; !bad && i < r->n_outputs; i++) {
        const run_output *ro = &r->outputs[i];
        json_t *o = json_object();
        bad = !o || set(o, "output", json_string(g->tensors[ro->tensor]->name)) ||
              set(o, "max_abs", json_real(ro->max_abs)) || set(o, "max_rel", json_real(ro->max_rel)) ||
              set(o, "ref_max_abs", json_real(ro->ref_max_abs)) || set(o, "rel_l2", real_or_null(ro->rel_l2)) ||
              set(o, "sqnr_db", real_or_null(ro->sqnr_db)) || set(o, "exact", json_boolean(ro->max_abs == 0)) ||
              set(o, "class_scores", json_boolean(ro->class_scores)) ||
              set(o, "argmax_rows", ro->class_scores ? json_integer(ro->argmax_rows) : json_null()) ||
              set(o, "argmax_agreement",
                  ro->class_scores && ro->argmax_rows ? json_real((double)ro->argmax_agree / (double)ro->argmax_rows)
                                                      : json_null()) ||
              json_array_append_new(errs, o);
    }
    /* the generated inputs are a subsequence of the graph's inputs, in their order */
    for (int k = 0, next_gen = 0; !bad && k < g->n_inputs; k++) {
        const char *name = g->tensors[g->inputs[k]]->name;
        bool gen = next_gen < r->n_generated && strcmp(r->generated[next_gen], name) == 0;
        next_gen += gen;
        json_t *o = json_object();
        bad = !o || set(o, "name", json_string(name)) || set(o, "source", json_string(gen ? "random" : "given")) ||
              json_array_append_new(inputs, o);
    }
    json_t *part = json_object();
    bad = bad || !part || set(part, "strategy", json_string(p->strategy == PART_COST ? "cost" : "greedy")) ||
          set(part, "objective", json_string(p->objective == PART_ENERGY ? "energy" : "latency")) ||
          set(part, "chosen", p->chosen ? json_string(p->chosen) : json_null()) ||
          set(part, "kept_on_cpu", json_integer(p->n_kept_on_cpu));
    if (!bad && p->chosen) /* in the objective's unit: seconds or joules */
        bad = set(part, "unit", json_string(part_objective_unit(p->objective))) ||
              set(part, "chosen_cost", real_or_null(p->cost_chosen)) ||
              set(part, "greedy_cost", real_or_null(p->cost_greedy)) ||
              set(part, "all_cpu_cost", real_or_null(p->cost_cpu)) ||
              set(part, "search_cost", real_or_null(p->cost_search)) ||
              set(part, "greedy_segments", json_integer(p->greedy_segments)) ||
              set(part, "segment_evaluations", json_integer(p->segment_evaluations));
    json_t *quant = json_object(), *calib = r->calib.samples ? json_object() : json_null();
    bad = bad || !quant || !calib || set(quant, "activations", json_string(npu_act_format_name(r->activations))) ||
          set(quant, "weights", json_string(npu_weight_type_name(r->weights))) ||
          set(quant, "group_size", r->group_size ? json_integer(r->group_size) : json_null());
    if (!bad && r->calib.samples)
        bad = set(calib, "method", json_string(run_calib_method_name(r->calib.method))) ||
              set(calib, "percentile",
                  r->calib.method == RUN_CALIB_PERCENTILE ? json_real(r->calib.percentile) : json_null()) ||
              set(calib, "samples", json_integer(r->calib.samples)) || set(calib, "source", json_string(r->calib.source)) ||
              set(calib, "bins", r->calib.method == RUN_CALIB_MAX ? json_null() : json_integer(RUN_CALIB_BINS)) ||
              set(calib, "tensors", json_integer(r->calib.tensors)) || set(calib, "clipped", json_integer(r->calib.clipped));
    bad = bad || set(quant, "calibration", calib);
    json_t *counts = json_object(), *brk = json_object(), *energy = energy_to_json(&r->energy),
           *xfer = json_object(), *host = json_object();
    bad = bad || !counts || !brk || !energy || !xfer || !host;
    bad = bad || set(counts, "nodes", json_integer(p->n_nodes)) || set(counts, "npu", json_integer(p->n_npu)) ||
          set(counts, "cpu", json_integer(p->n_cpu)) || set(counts, "cpu_views", json_integer(p->n_view)) ||
          set(counts, "constants", json_integer(p->n_constant)) ||
          set(counts, "segments", json_integer(p->n_segments));
    bad = bad || set(brk, "npu_s", json_real(r->npu_s)) || set(brk, "cpu_s", json_real(r->cpu_s)) ||
          set(brk, "transfer_s", json_real(r->transfer_s)) || set(brk, "submit_s", json_real(r->submit_s)) ||
          set(brk, "total_s", json_real(r->total_s));
    bad = bad || set(energy, "table_version", json_integer(cfg->energy.version));
    bad = bad || set(xfer, "crossings", json_integer(p->n_crossings)) ||
          set(xfer, "bytes", json_integer((json_int_t)r->crossing_bytes)) || set(xfer, "seconds", json_real(r->transfer_s)) ||
          set(xfer, "npu_bytes_in", json_integer((json_int_t)r->npu_bytes_in)) ||
          set(xfer, "npu_bytes_out", json_integer((json_int_t)r->npu_bytes_out));
    bad = bad || set(host, "cpu_kernels_s", json_real(r->host_cpu_wall_s)) ||
          set(host, "npu_simulation_s", json_real(r->host_npu_wall_s));
    free(secs);
    free(joules);
    bad = bad || set(root, "model", json_string(g->name ? g->name : "")) ||
          set(root, "config", json_string(cfg->npu.name)) ||
          set(root, "configuration", m4npu_config_source_json(cfg, src)) ||
          set(root, "weights", json_string(npu_weight_type_name(r->weights))) ||
          set(root, "seed", json_integer((json_int_t)r->seed)) || set(root, "inputs", inputs) ||
          set(root, "quantisation", quant) || set(root, "partition", part) || set(root, "counts", counts) ||
          set(root, "placement", placement) ||
          set(root, "segments", segs) || set(root, "transfers", xfer) || set(root, "breakdown", brk) ||
          set(root, "energy", energy) || set(root, "host", host) || set(root, "errors", errs) ||
          set(root, "device_memory", run_mem_json(&r->mem)) ||
          set(root, "timing_only", json_boolean(r->timing_only)) ||
          set(root, "max_abs_error", r->timing_only ? json_null() : json_real(r->max_abs)) ||
          set(root, "max_rel_error", r->timing_only ? json_null() : json_real(r->max_rel)) ||
          set(root, "twin_max_abs_diff", r->timing_only ? json_null() : json_real(r->twin_max_abs));
    if (bad) {
        json_decref(root); /* whatever was attached goes with it; the rest leaks only on OOM paths */
        return NULL;
    }
    return root;
}

/* ---- the timeline */

static const char *const track_names[RUN_TRACK_COUNT] = {
    [RUN_TRACK_CPU] = "CPU (kernels, submission)",
    [RUN_TRACK_BOUNDARY] = "CPU: boundary copies (quantise / dequantise)",
    [RUN_TRACK_FIRMWARE] = "firmware (control core): jobs",
    [RUN_TRACK_DMA0] = "DMA0",
    [RUN_TRACK_DMA0 + 1] = "DMA1",
    [RUN_TRACK_DMA0 + 2] = "DMA2",
    [RUN_TRACK_DMA0 + 3] = "DMA3",
    [RUN_TRACK_MM] = "matmul array",
    [RUN_TRACK_SM] = "softmax tile",
    [RUN_TRACK_VEC] = "vector unit",
    [RUN_TRACK_OPS] = "firmware: op descriptors",
};

static int track_pid(run_track t)
{
    return t <= RUN_TRACK_BOUNDARY ? TRACE_PID_HOST : TRACE_PID_NPU;
}

/* A metadata event: a process's or thread's name, or (name NULL) its sort index (its pid or tid:
 * the tracks stay in their order). */
static json_t *meta(const char *what, int pid, int tid, const char *name)
{
    json_t *m = json_object(), *args = json_object();
    if (!m || !args ||
        (name ? set(args, "name", json_string(name)) : set(args, "sort_index", json_integer(tid >= 0 ? tid : pid))) ||
        set(m, "ph", json_string("M")) ||
        set(m, "name", json_string(what)) || set(m, "pid", json_integer(pid)) ||
        (tid >= 0 && set(m, "tid", json_integer(tid))) || set(m, "args", args)) {
        json_decref(m);
        return NULL;
    }
    return m;
}

rt_status run_timeline_names(json_t *evs, const m4npu_config *cfg)
{
    char npu_name[96];
    snprintf(npu_name, sizeof npu_name, "NPU (%s)", cfg->npu.name);
    int bad = json_array_append_new(evs, meta("process_name", TRACE_PID_HOST, -1, "host CPU")) ||
              json_array_append_new(evs, meta("process_name", TRACE_PID_NPU, -1, npu_name)) ||
              json_array_append_new(evs, meta("process_sort_index", TRACE_PID_HOST, -1, NULL)) ||
              json_array_append_new(evs, meta("process_sort_index", TRACE_PID_NPU, -1, NULL));
    for (int t = 0; !bad && t < RUN_TRACK_COUNT; t++)
        bad = json_array_append_new(evs, meta("thread_name", track_pid((run_track)t), t, track_names[t])) ||
              json_array_append_new(evs, meta("thread_sort_index", track_pid((run_track)t), t, NULL));
    return bad ? RT_ERR_NOMEM : RT_OK;
}

/* One "X" event; args may be NULL. */
static int slice(json_t *evs, const char *name, const char *cat, run_track track, double ts_s, double dur_s,
                 json_t *args)
{
    json_t *o = json_object();
    if (!args)
        args = json_object();
    int bad = !o || !args || set(o, "name", json_string(name)) || set(o, "cat", json_string(cat)) ||
              set(o, "ph", json_string("X")) || set(o, "pid", json_integer(track_pid(track))) ||
              set(o, "tid", json_integer(track)) || set(o, "ts", json_real(ts_s * US_PER_S)) ||
              set(o, "dur", json_real(dur_s * US_PER_S));
    if (!bad) {
        bad = set(o, "args", args);
        args = NULL;
    }
    json_decref(args);
    if (!bad)
        return json_array_append_new(evs, o);
    json_decref(o);
    return -1;
}

static const run_track unit_tracks[NPU_UNIT_COUNT] = {
    [NPU_UNIT_DMA0] = RUN_TRACK_DMA0,     [NPU_UNIT_DMA1] = RUN_TRACK_DMA0 + 1, [NPU_UNIT_DMA2] = RUN_TRACK_DMA0 + 2,
    [NPU_UNIT_DMA3] = RUN_TRACK_DMA0 + 3, [NPU_UNIT_MM] = RUN_TRACK_MM,         [NPU_UNIT_SM] = RUN_TRACK_SM,
    [NPU_UNIT_VEC] = RUN_TRACK_VEC,       [NPU_UNIT_CTRL] = RUN_TRACK_FIRMWARE,
};

/* A job's op descriptors one after the other on their track, from the firmware's profile (job_s:
 * the job's start), and each unit's busy time within each on the unit's track (from the op's
 * start: the counters say how long a unit worked, not when). */
static int op_slices(json_t *evs, const rt_graph *g, const m4npu_config *cfg, const run_result *r, int si,
                     double job_s)
{
    const run_segment_result *sr = &r->segs[si];
    double hz = cfg->npu.clock_mhz * 1e6;
    char name[RUN_EVENT_NAME_BYTES], lbl[RUN_EVENT_NAME_BYTES];
    for (uint32_t i = 0; i < sr->n_ops; i++) {
        const run_op *o = &sr->ops[i];
        double t0 = job_s + (double)o->prof.start_cycle / hz;
        uint64_t span = o->prof.end_cycle - o->prof.start_cycle;
        snprintf(name, sizeof name, "%s", node_name(g, o->node, lbl, sizeof lbl));
        json_t *args = json_pack("{s:s, s:s, s:i, s:i, s:I, s:I}", "op", g->nodes[o->node].op_type, "kernel",
                                 run_npu_op_name(o->kind), "segment", si, "op_descriptor", (int)i, "cycles",
                                 (json_int_t)span, "instructions", (json_int_t)o->prof.ctr[NPU_UNIT_CTRL][NPU_CTR_INSNS]);
        if (!args || slice(evs, name, "op", RUN_TRACK_OPS, t0, (double)span / hz, args) != 0)
            return -1;
        for (int u = 0; u < NPU_UNIT_COUNT; u++) {
            uint64_t busy = o->prof.ctr[u][NPU_CTR_BUSY];
            if (u == NPU_UNIT_CTRL || busy == 0)
                continue;
            char uname[RUN_EVENT_NAME_BYTES + 32];
            snprintf(uname, sizeof uname, "%s: %s busy", name, npu_unit_str((uint32_t)u));
            json_t *ua = json_pack("{s:i, s:i, s:I, s:I}", "segment", si, "op_descriptor", (int)i, "cycles",
                                   (json_int_t)busy, "instructions", (json_int_t)o->prof.ctr[u][NPU_CTR_INSNS]);
            if (!ua || slice(evs, uname, "unit", unit_tracks[u], t0, (double)busy / hz, ua) != 0)
                return -1;
        }
    }
    return 0;
}

rt_status run_timeline_events(json_t *evs, const rt_graph *g, const m4npu_config *cfg, const run_result *r,
                              double offset_s, run_timeline_detail detail)
{
    int bad = 0;
    for (int i = 0; !bad && i < r->n_events; i++) {
        const run_event *ev = &r->events[i];
        json_t *args = json_object();
        bad = !args;
        if (!bad && ev->node >= 0)
            bad = set(args, "op", json_string(g->nodes[ev->node].op_type));
        if (!bad && ev->segment >= 0)
            bad = set(args, "segment", json_integer(ev->segment));
        if (!bad && ev->tensor >= 0)
            bad = set(args, "tensor", json_string(g->tensors[ev->tensor]->name)) ||
                  set(args, "bytes", json_integer((json_int_t)ev->bytes));
        if (!bad && ev->cycles)
            bad = set(args, "cycles", json_integer((json_int_t)ev->cycles)) ||
                  set(args, "instructions", json_integer((json_int_t)ev->insns));
        if (bad) {
            json_decref(args);
            break;
        }
        bad = slice(evs, ev->name, ev->cat, ev->track, ev->start_s + offset_s, ev->dur_s, args) != 0;
        if (!bad && detail == RUN_TIMELINE_ALL && strcmp(ev->cat, "segment") == 0)
            bad = op_slices(evs, g, cfg, r, ev->segment, ev->start_s + offset_s) != 0;
    }
    return bad ? RT_ERR_NOMEM : RT_OK;
}

json_t *run_timeline_json(const rt_graph *g, const m4npu_config *cfg, const run_result *r)
{
    json_t *root = json_object(), *evs = json_array();
    int bad = !root || !evs || set(root, "traceEvents", evs);
    bad = bad || run_timeline_names(evs, cfg) != RT_OK || run_timeline_events(evs, g, cfg, r, 0.0, RUN_TIMELINE_ALL) != RT_OK;
    bad = bad || set(root, "displayTimeUnit", json_string("ns"));
    json_t *other = json_object();
    bad = bad || !other || set(other, "model", json_string(g->name ? g->name : "")) ||
          set(other, "config", json_string(cfg->npu.name)) ||
          set(other, "time", json_string("modelled (phone) time, not host time")) || set(root, "otherData", other);
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* Dump j, indented and newline-terminated, to path: into the set out, or on its own (NULL). */
static rt_status write_json_file(json_t *j, const char *path, rt_outputs *out, rt_error *e)
{
    char *text = json_dumps(j, JSON_INDENT(1));
    size_t n = text ? strlen(text) : 0;
    char *line = text ? realloc(text, n + 2) : NULL;
    if (!line) {
        free(text);
        return rt_error_set(e, RT_ERR_NOMEM, "%s: out of memory", path);
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    rt_status s = out ? rt_outputs_add_data(out, path, line, n + 1, e) : rt_write_file(path, line, n + 1, e);
    free(line);
    return s;
}

rt_status run_write_timeline(const rt_graph *g, const m4npu_config *cfg, const run_result *r, const char *path,
                             rt_outputs *out, rt_error *e)
{
    json_t *j = run_timeline_json(g, cfg, r);
    if (!j)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (timeline)");
    rt_status s = write_json_file(j, path, out, e);
    json_decref(j);
    return s;
}

/* ---- outputs */

void run_file_stem(const char *name, char *buf, size_t size)
{
    size_t o = 0;
    for (const char *c = name; *c && o + 1 < size; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
                  *c == '_' || *c == '-';
        buf[o++] = ok ? *c : '_';
    }
    if (o == 0 || (o <= 2 && buf[0] == '.')) /* never "", "." or ".." */
        buf[o++] = '_';
    buf[o] = '\0';
}

rt_status run_write_outputs(const rt_graph *g, const run_result *r, const char *dir, rt_outputs *out,
                            json_t *written, rt_error *e)
{
    rt_status s = rt_outputs_mkdir(out, dir, e);
    if (s != RT_OK)
        return s;
    char (*stems)[128] = calloc((size_t)r->n_outputs + 1, sizeof *stems);
    if (!stems)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < r->n_outputs && s == RT_OK; i++) {
        char base[100];
        run_file_stem(g->tensors[r->outputs[i].tensor]->name, base, sizeof base);
        snprintf(stems[i], sizeof stems[i], "%s", base);
        for (int k = 2;; k++) {
            bool clash = false;
            for (int j = 0; j < i && !clash; j++)
                clash = strcmp(stems[j], stems[i]) == 0;
            if (!clash)
                break;
            snprintf(stems[i], sizeof stems[i], "%s_%d", base, k);
        }
        size_t plen = strlen(dir) + strlen(stems[i]) + 8;
        char *path = malloc(plen);
        if (!path) {
            s = rt_error_set(e, RT_ERR_NOMEM, "out of memory");
            break;
        }
        snprintf(path, plen, "%s/%s.npy", dir, stems[i]);
        uint8_t *bytes;
        size_t len;
        s = npy_write_buffer(r->outputs[i].value, &bytes, &len, e);
        if (s == RT_OK) {
            s = rt_outputs_add_data(out, path, bytes, len, e);
            free(bytes);
        }
        if (s == RT_OK && written && json_array_append_new(written, json_string(path)) != 0)
            s = rt_error_set(e, RT_ERR_NOMEM, "out of memory");
        free(path);
    }
    free(stems);
    return s;
}
