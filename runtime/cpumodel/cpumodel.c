/* cpumodel.c -- the roofline of a CPU node and of a boundary crossing (see cpumodel.h). */
#include "cpumodel.h"

#include "ops.h"

#define F64_RATE_FRACTION 0.5 /* f64 SIMD lanes are half of f32's */
#define BITS_PER_BYTE 8u

double cpumodel_core_speedup(uint32_t cores)
{
    double n = cores ? (double)cores : 1.0;
    return 1.0 / ((1.0 - CPUMODEL_PARALLEL_FRACTION) + CPUMODEL_PARALLEL_FRACTION / n);
}

double cpumodel_rate(const m4npu_cpu_config *cpu, rt_dtype t)
{
    double per_core;
    switch (t) {
    case RT_DT_F16:
    case RT_DT_BF16:
        per_core = cpu->gflop_s.fp16;
        break;
    case RT_DT_I8:
    case RT_DT_U8:
        per_core = cpu->gflop_s.int8;
        break;
    case RT_DT_F64:
        per_core = cpu->gflop_s.fp32 * F64_RATE_FRACTION;
        break;
    default:
        per_core = cpu->gflop_s.fp32;
        break;
    }
    return per_core * cpumodel_core_speedup(cpu->cores) * CPUMODEL_GIGA;
}

/* Ops whose weights a CPU runtime keeps quantised and multiplies with integer kernels. */
static bool has_integer_kernel(int op)
{
    return op == RT_OP_MatMul || op == RT_OP_Gemm || op == RT_OP_Conv;
}

int cpumodel_quantised_weights(const rt_graph *g, int node, uint64_t *saved_bytes)
{
    *saved_bytes = 0;
    if (node < 0 || node >= g->n_nodes || !has_integer_kernel(g->nodes[node].op))
        return 0;
    const rt_node *n = &g->nodes[node];
    int count = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        if (n->inputs[k] < 0)
            continue;
        const rt_tensor *w = g->tensors[n->inputs[k]];
        int p = w->producer;
        if (p < 0 || g->nodes[p].op != RT_OP_Cast || g->nodes[p].n_inputs < 1 || g->nodes[p].inputs[0] < 0)
            continue;
        const rt_tensor *stored = g->tensors[g->nodes[p].inputs[0]];
        if (stored->kind != RT_TENSOR_CONSTANT || !rt_dtype_is_int(stored->dtype) || !rt_dtype_is_float(w->dtype))
            continue;
        uint64_t dequantised = rt_tensor_nbytes(w), packed = rt_tensor_nbytes(stored);
        *saved_bytes += dequantised > packed ? dequantised - packed : 0;
        count++;
    }
    return count;
}

bool cpumodel_is_view(int op)
{
    return op == RT_OP_Reshape || op == RT_OP_Squeeze || op == RT_OP_Unsqueeze || op == RT_OP_Flatten ||
           op == RT_OP_Identity || op == RT_OP_Dropout;
}

void cpumodel_roofline(const m4npu_cpu_config *cpu, double flops, uint64_t bytes, rt_dtype t, bool dispatch,
                       cpumodel_cost *c)
{
    *c = (cpumodel_cost){0};
    c->flops = flops;
    c->bytes = bytes;
    c->rate_flop_s = cpumodel_rate(cpu, t);
    c->compute_s = flops / c->rate_flop_s;
    c->memory_s = (double)bytes / (cpu->memory_bandwidth_gb_s * CPUMODEL_GIGA);
    c->dispatch_s = dispatch ? cpu->dispatch_overhead_us * CPUMODEL_US_S : 0.0;
    c->memory_bound = c->memory_s > c->compute_s;
    c->seconds = (c->memory_bound ? c->memory_s : c->compute_s) + c->dispatch_s;
    c->energy_j = cpumodel_active_j(cpu, c->seconds);
}

/* The type the node computes in: its first floating-point data input, else its first input,
 * else its first output. */
static rt_dtype compute_dtype(const rt_graph *g, const rt_node *n)
{
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0 && rt_dtype_is_float(g->tensors[n->inputs[k]]->dtype))
            return g->tensors[n->inputs[k]]->dtype;
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0)
            return g->tensors[n->inputs[k]]->dtype;
    for (int k = 0; k < n->n_outputs; k++)
        if (n->outputs[k] >= 0)
            return g->tensors[n->outputs[k]]->dtype;
    return RT_DT_F32;
}

rt_status cpumodel_node(const m4npu_cpu_config *cpu, const rt_graph *g, int node, cpumodel_cost *c, rt_error *e)
{
    *c = (cpumodel_cost){0};
    if (node < 0 || node >= g->n_nodes)
        return rt_error_set(e, RT_ERR_ARG, "cpumodel: node %d out of range (graph has %d)", node, g->n_nodes);
    const rt_node *n = &g->nodes[node];
    if (cpumodel_is_view(n->op)) {
        c->view = true;
        c->rate_flop_s = cpumodel_rate(cpu, compute_dtype(g, n));
        return RT_OK;
    }
    if (ops_is_control(n->op)) { /* If, Loop, Scan: their subgraphs are costed where they run */
        cpumodel_roofline(cpu, 0, 0, compute_dtype(g, n), true, c);
        return RT_OK;
    }
    rt_cost cost;
    rt_status s = graph_node_cost(g, node, &cost, e);
    if (s != RT_OK)
        return s;
    uint64_t bytes = cost.bytes_in + cost.bytes_out, saved = 0;
    bool integer = cpumodel_quantised_weights(g, node, &saved) > 0;
    cpumodel_roofline(cpu, cost.flops, integer ? bytes - (saved < bytes ? saved : bytes) : bytes,
                      integer ? RT_DT_I8 : compute_dtype(g, n), true, c);
    c->integer_kernel = integer;
    return RT_OK;
}

void cpumodel_transfer(const m4npu_cpu_config *cpu, int64_t elements, rt_dtype host, unsigned device_bits,
                       cpumodel_dir dir, cpumodel_transfer_cost *out)
{
    *out = (cpumodel_transfer_cost){0};
    uint64_t n = elements > 0 ? (uint64_t)elements : 0;
    uint64_t host_bytes = rt_dtype_bytes(host, n);
    uint64_t dev_bytes = (n * device_bits + BITS_PER_BYTE - 1) / BITS_PER_BYTE;
    bool convert = device_bits != rt_dtype_bits(host);
    double flops = convert ? (double)n * (dir == CPUMODEL_TO_NPU ? CPUMODEL_QUANT_FLOPS : CPUMODEL_DEQUANT_FLOPS) : 0;
    cpumodel_cost c;
    cpumodel_roofline(cpu, flops, host_bytes + dev_bytes, host, false, &c);
    out->bytes = host_bytes + dev_bytes;
    out->copy_s = c.seconds;
    out->overhead_s = cpu->npu_transfer_overhead_us * CPUMODEL_US_S;
    out->seconds = out->copy_s + out->overhead_s;
    out->energy_j = cpumodel_active_j(cpu, out->seconds);
}

double cpumodel_submit_s(const m4npu_cpu_config *cpu, int n_nodes)
{
    return (cpu->npu_submit_overhead_us + cpu->npu_op_overhead_us * n_nodes) * CPUMODEL_US_S;
}

double cpumodel_active_j(const m4npu_cpu_config *cpu, double seconds)
{
    return cpu->active_power_w * seconds;
}

double cpumodel_idle_j(const m4npu_cpu_config *cpu, double seconds)
{
    return cpu->idle_power_w * seconds;
}
