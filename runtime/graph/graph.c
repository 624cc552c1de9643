/* graph.c -- the graph builder: creating tensors and nodes by name, attributes, opsets, the
 * name index, and freeing. Used by the ONNX importer and by programmatic model builders. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "graph_internal.h"
#include "ops.h"

#define INDEX_MIN_CAP 64

static rt_status record(rt_graph *g, rt_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static rt_status record(rt_graph *g, rt_status code, const char *fmt, ...)
{
    if (g->last_error.code == RT_OK) {
        g->last_error.code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->last_error.msg, sizeof g->last_error.msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

const rt_error *graph_last_error(const rt_graph *g)
{
    return &g->last_error;
}

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

static void index_insert_hashed(rt_name_slot *idx, int cap, int t, uint32_t hash)
{
    uint32_t mask = (uint32_t)cap - 1, i = hash & mask;
    while (idx[i].tensor_plus_1)
        i = (i + 1) & mask;
    idx[i] = (rt_name_slot){t + 1, hash};
}

static rt_name_slot *index_alloc(rt_graph *g, int n_tensors, int *cap)
{
    *cap = INDEX_MIN_CAP;
    while (*cap < 2 * (n_tensors + 1))
        *cap *= 2;
    rt_name_slot *idx = calloc((size_t)*cap, sizeof *idx);
    if (!idx)
        record(g, RT_ERR_NOMEM, "out of memory (name index)");
    return idx;
}

rt_status graph_rebuild_index(rt_graph *g)
{
    int cap;
    rt_name_slot *idx = index_alloc(g, g->n_tensors, &cap);
    if (!idx)
        return RT_ERR_NOMEM;
    free(g->name_index);
    g->name_index = idx;
    g->name_index_cap = cap;
    for (int t = 0; t < g->n_tensors; t++)
        index_insert_hashed(idx, cap, t, name_hash(g->tensors[t]->name));
    return RT_OK;
}

/* Room in the index for n_tensors names: a larger table filled from the old one's slots (their
 * hashes are kept, so no name is read). */
static rt_status index_reserve(rt_graph *g, int n_tensors)
{
    if (2 * (n_tensors + 1) <= g->name_index_cap)
        return RT_OK;
    int cap;
    rt_name_slot *idx = index_alloc(g, n_tensors, &cap);
    if (!idx)
        return RT_ERR_NOMEM;
    for (int i = 0; i < g->name_index_cap; i++)
        if (g->name_index[i].tensor_plus_1)
            index_insert_hashed(idx, cap, g->name_index[i].tensor_plus_1 - 1, g->name_index[i].hash);
    free(g->name_index);
    g->name_index = idx;
    g->name_index_cap = cap;
    return RT_OK;
}

int graph_find_tensor(const rt_graph *g, const char *name)
{
    if (!name || !g->name_index)
        return -1;
    uint32_t hash = name_hash(name), mask = (uint32_t)g->name_index_cap - 1, i = hash & mask;
    while (g->name_index[i].tensor_plus_1) {
        int t = g->name_index[i].tensor_plus_1 - 1;
        if (g->name_index[i].hash == hash && strcmp(g->tensors[t]->name, name) == 0)
            return t;
        i = (i + 1) & mask;
    }
    return -1;
}

void graph_prefetch_name(const rt_graph *g, const char *name)
{
    if (name && g->name_index)
        __builtin_prefetch(&g->name_index[name_hash(name) & ((uint32_t)g->name_index_cap - 1)]);
}

rt_graph *graph_create(const char *name)
{
    rt_graph *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->name = strdup(name ? name : "graph");
    if (!g->name || graph_rebuild_index(g) != RT_OK) {
        free(g->name);
        free(g);
        return NULL;
    }
    return g;
}

void graph_attr_clear(rt_attr *a)
{
    free(a->name);
    free(a->s);
    free(a->floats);
    free(a->ints);
    for (size_t i = 0; a->strings && i < a->n; i++)
        free(a->strings[i]);
    free(a->strings);
    rt_tensor_free(a->t);
    graph_free(a->g);
    memset(a, 0, sizeof *a);
}

void graph_node_clear(rt_node *n)
{
    free(n->name);
    free(n->op_type);
    free(n->domain);
    free(n->inputs);
    free(n->outputs);
    for (int i = 0; i < n->n_attrs; i++)
        graph_attr_clear(&n->attrs[i]);
    free(n->attrs);
    memset(n, 0, sizeof *n);
}

void graph_free(rt_graph *g)
{
    if (!g)
        return;
    for (int t = 0; t < g->n_tensors; t++)
        rt_tensor_free(g->tensors[t]);
    free(g->tensors);
    for (int i = 0; i < g->n_nodes; i++)
        graph_node_clear(&g->nodes[i]);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    for (int i = 0; i < g->n_opsets; i++)
        free(g->opsets[i].domain);
    free(g->opsets);
    free(g->name_index);
    free(g->captures);
    for (int i = 0; i < g->n_dim_params; i++) {
        free(g->dim_params[i].tensor);
        free(g->dim_params[i].name);
    }
    free(g->dim_params);
    free(g->dim_param_index);
    graph_users_drop(g);
    free(g->name);
    free(g);
}

static bool is_default_domain(const char *d)
{
    return !d || !*d || strcmp(d, "ai.onnx") == 0;
}

rt_status graph_set_opset(rt_graph *g, const char *domain, int64_t version)
{
    const char *d = is_default_domain(domain) ? "" : domain;
    for (int i = 0; i < g->n_opsets; i++)
        if (strcmp(g->opsets[i].domain, d) == 0) {
            g->opsets[i].version = version;
            return RT_OK;
        }
    rt_opset *o = realloc(g->opsets, (size_t)(g->n_opsets + 1) * sizeof *o);
    if (!o)
        return record(g, RT_ERR_NOMEM, "out of memory (opsets)");
    g->opsets = o;
    o[g->n_opsets].domain = strdup(d);
    if (!o[g->n_opsets].domain)
        return record(g, RT_ERR_NOMEM, "out of memory (opsets)");
    o[g->n_opsets++].version = version;
    return RT_OK;
}

int64_t graph_opset(const rt_graph *g, const char *domain)
{
    bool dflt = is_default_domain(domain);
    for (int i = 0; i < g->n_opsets; i++)
        if (dflt ? g->opsets[i].domain[0] == '\0' : strcmp(g->opsets[i].domain, domain) == 0)
            return g->opsets[i].version;
    return dflt ? RT_DEFAULT_OPSET : 0;
}

static int grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 0;
    int nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

rt_status graph_reserve(rt_graph *g, int n_tensors, int n_nodes)
{
    if (n_tensors < 0 || n_nodes < 0)
        return record(g, RT_ERR_ARG, "graph_reserve: %d tensors, %d nodes", n_tensors, n_nodes);
    if (grow((void **)&g->tensors, &g->cap_tensors, n_tensors, sizeof *g->tensors) != 0 ||
        grow((void **)&g->nodes, &g->cap_nodes, n_nodes, sizeof *g->nodes) != 0)
        return record(g, RT_ERR_NOMEM, "out of memory (%d tensors, %d nodes)", n_tensors, n_nodes);
    return index_reserve(g, n_tensors);
}

int graph_add_tensor(rt_graph *g, const char *name, rt_dtype dtype, int rank, const int64_t *dims,
                     rt_tensor_kind kind)
{
    if (!name || !*name) {
        record(g, RT_ERR_ARG, "a tensor needs a non-empty name");
        return -1;
    }
    if (graph_find_tensor(g, name) >= 0) {
        record(g, RT_ERR_DUPLICATE, "tensor '%s' is defined twice", name);
        return -1;
    }
    if (rank >= 0) {
        rt_error e;
        char what[300];
        snprintf(what, sizeof what, "tensor '%s'", name);
        if (rt_shape_check(rank, dims, what, &e) != RT_OK) {
            record(g, e.code, "%s", e.msg);
            return -1;
        }
    } else if (rank < -1) {
        record(g, RT_ERR_ARG, "tensor '%s': rank %d is invalid", name, rank);
        return -1;
    }
    if (grow((void **)&g->tensors, &g->cap_tensors, g->n_tensors + 1, sizeof *g->tensors) != 0) {
        record(g, RT_ERR_NOMEM, "out of memory (tensor '%s')", name);
        return -1;
    }
    rt_tensor *t = rt_tensor_new(name, dtype, rank < 0 ? 0 : rank, dims);
    if (!t) {
        record(g, RT_ERR_NOMEM, "out of memory (tensor '%s')", name);
        return -1;
    }
    t->rank = rank;
    t->kind = kind;
    if (index_reserve(g, g->n_tensors + 1) != RT_OK) {
        rt_tensor_free(t);
        return -1;
    }
    int idx = g->n_tensors++;
    g->tensors[idx] = t;
    index_insert_hashed(g->name_index, g->name_index_cap, idx, name_hash(name));
    return idx;
}

int graph_add_input(rt_graph *g, const char *name, rt_dtype dtype, int rank, const int64_t *dims)
{
    int t = graph_add_tensor(g, name, dtype, rank, dims, RT_TENSOR_INPUT);
    if (t < 0)
        return -1;
    if (grow((void **)&g->inputs, &g->cap_inputs, g->n_inputs + 1, sizeof *g->inputs) != 0) {
        record(g, RT_ERR_NOMEM, "out of memory (inputs)");
        return -1;
    }
    g->inputs[g->n_inputs++] = t;
    return t;
}

int graph_add_weight(rt_graph *g, const char *name, rt_dtype dtype, int rank, const int64_t *dims)
{
    return graph_add_tensor(g, name, dtype, rank, dims, RT_TENSOR_CONSTANT);
}

static rt_status check_data_size(const rt_tensor *t, uint64_t bytes, rt_error *e)
{
    if (!rt_tensor_shape_known(t))
        return rt_error_set(e, RT_ERR_SHAPE, "tensor '%s': data given but its shape is not known", t->name);
    if (!rt_dtype_storable(t->dtype))
        return rt_error_set(e, RT_ERR_DTYPE, "tensor '%s': data type %s (%d) cannot be stored", t->name,
                            rt_dtype_name(t->dtype), (int)t->dtype);
    uint64_t want = rt_tensor_nbytes(t);
    if (bytes != want) {
        char sh[128];
        return rt_error_set(e, RT_ERR_DATA_SIZE,
                            "tensor '%s': %llu bytes of data, but shape %s of %s needs %llu", t->name,
                            (unsigned long long)bytes, rt_shape_str(t, sh, sizeof sh),
                            rt_dtype_name(t->dtype), (unsigned long long)want);
    }
    if (bytes > RT_MAX_ALLOC_BYTES)
        return rt_error_set(e, RT_ERR_LIMIT, "tensor '%s': %llu bytes exceeds the %llu-byte limit", t->name,
                            (unsigned long long)bytes, (unsigned long long)RT_MAX_ALLOC_BYTES);
    return RT_OK;
}

rt_status graph_set_tensor_data_owned(rt_graph *g, int ti, void *data, uint64_t bytes, rt_error *e)
{
    if (ti < 0 || ti >= g->n_tensors)
        return rt_error_set(e, RT_ERR_ARG, "tensor index %d out of range", ti);
    rt_tensor *t = g->tensors[ti];
    rt_status s = check_data_size(t, bytes, e);
    if (s != RT_OK)
        return s;
    free(t->data);
    t->data = data;
    t->data_bytes = bytes;
    if (t->kind == RT_TENSOR_ACTIVATION && t->producer < 0)
        t->kind = RT_TENSOR_CONSTANT;
    return RT_OK;
}

rt_status graph_set_tensor_data(rt_graph *g, int ti, const void *data, uint64_t bytes, rt_error *e)
{
    if (ti < 0 || ti >= g->n_tensors)
        return rt_error_set(e, RT_ERR_ARG, "tensor index %d out of range", ti);
    rt_status s = check_data_size(g->tensors[ti], bytes, e);
    if (s != RT_OK)
        return s;
    void *copy = malloc(bytes ? bytes : 1);
    if (!copy)
        return rt_error_set(e, RT_ERR_NOMEM, "tensor '%s': out of memory", g->tensors[ti]->name);
    if (bytes)
        memcpy(copy, data, bytes);
    return graph_set_tensor_data_owned(g, ti, copy, bytes, e);
}

int graph_add_constant(rt_graph *g, const char *name, rt_dtype dtype, int rank, const int64_t *dims,
                       const void *data, uint64_t bytes)
{
    int t = graph_add_tensor(g, name, dtype, rank, dims, RT_TENSOR_CONSTANT);
    if (t < 0)
        return -1;
    rt_error e;
    if (graph_set_tensor_data(g, t, data, bytes, &e) != RT_OK) {
        record(g, e.code, "%s", e.msg);
        return -1;
    }
    return t;
}

rt_status graph_set_quant(rt_graph *g, int ti, int axis, int64_t count, const float *scales,
                          const int32_t *zero_points, rt_error *e)
{
    if (ti < 0 || ti >= g->n_tensors)
        return rt_error_set(e, RT_ERR_ARG, "tensor index %d out of range", ti);
    rt_tensor *t = g->tensors[ti];
    if (count < 1 || (axis < 0 && count != 1) || !scales)
        return rt_error_set(e, RT_ERR_ARG, "tensor '%s': quantisation needs 1 scale per tensor or one per channel",
                            t->name);
    if (axis >= 0 && (t->rank < 0 || axis >= t->rank || (t->dims[axis] >= 0 && t->dims[axis] != count)))
        return rt_error_set(e, RT_ERR_SHAPE, "tensor '%s': %lld per-channel scales do not fit axis %d", t->name,
                            (long long)count, axis);
    float *s = malloc((size_t)count * sizeof *s);
    int32_t *z = calloc((size_t)count, sizeof *z);
    if (!s || !z) {
        free(s);
        free(z);
        return rt_error_set(e, RT_ERR_NOMEM, "tensor '%s': out of memory", t->name);
    }
    memcpy(s, scales, (size_t)count * sizeof *s);
    if (zero_points)
        memcpy(z, zero_points, (size_t)count * sizeof *z);
    free(t->quant.scales);
    free(t->quant.zero_points);
    t->quant = (rt_quant){axis < 0 ? RT_QUANT_PER_TENSOR : RT_QUANT_PER_CHANNEL, axis < 0 ? 0 : axis, count, s, z};
    return RT_OK;
}

rt_status graph_mark_output(rt_graph *g, int t)
{
    if (t < 0 || t >= g->n_tensors)
        return record(g, RT_ERR_ARG, "graph output: tensor index %d out of range", t);
    if (g->tensors[t]->graph_output)
        return RT_OK;
    if (grow((void **)&g->outputs, &g->cap_outputs, g->n_outputs + 1, sizeof *g->outputs) != 0)
        return record(g, RT_ERR_NOMEM, "out of memory (outputs)");
    g->outputs[g->n_outputs++] = t;
    g->tensors[t]->graph_output = true;
    if (g->tensors[t]->kind == RT_TENSOR_ACTIVATION)
        g->tensors[t]->kind = RT_TENSOR_OUTPUT;
    return RT_OK;
}

int graph_tensor_ref(rt_graph *g, const char *name)
{
    int t = graph_find_tensor(g, name);
    if (t >= 0)
        return t;
    return graph_add_tensor(g, name, RT_DT_UNDEFINED, -1, NULL, RT_TENSOR_ACTIVATION);
}

int graph_add_node_domain(rt_graph *g, const char *domain, const char *op_type, const char *name,
                          int n_inputs, const char *const *inputs, int n_outputs,
                          const char *const *outputs)
{
    if (!op_type || !*op_type) {
        record(g, RT_ERR_ARG, "node '%s': empty op type", name ? name : "");
        return -1;
    }
    if (n_inputs < 0 || n_outputs < 0 || (n_inputs && !inputs) || (n_outputs && !outputs)) {
        record(g, RT_ERR_ARG, "node '%s': bad input/output lists", name ? name : "");
        return -1;
    }
    if (grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes) != 0) {
        record(g, RT_ERR_NOMEM, "out of memory (nodes)");
        return -1;
    }
    graph_users_drop(g);
    int ni = g->n_nodes;
    rt_node *n = &g->nodes[ni];
    memset(n, 0, sizeof *n);
    n->name = strdup(name ? name : "");
    n->op_type = strdup(op_type);
    n->domain = strdup(is_default_domain(domain) ? "" : domain);
    n->inputs = malloc((size_t)(n_inputs ? n_inputs : 1) * sizeof(int));
    n->outputs = malloc((size_t)(n_outputs ? n_outputs : 1) * sizeof(int));
    if (!n->name || !n->op_type || !n->domain || !n->inputs || !n->outputs) {
        graph_node_clear(n);
        record(g, RT_ERR_NOMEM, "out of memory (node)");
        return -1;
    }
    n->op = ops_lookup(n->domain, op_type);
    g->n_nodes++; /* from here the node is owned by the graph even if a step below fails */
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i] || !*inputs[i]) {
            g->nodes[ni].inputs[g->nodes[ni].n_inputs++] = -1;
            continue;
        }
        int t = graph_tensor_ref(g, inputs[i]);
        if (t < 0)
            return -1;
        g->nodes[ni].inputs[g->nodes[ni].n_inputs++] = t;
    }
    for (int i = 0; i < n_outputs; i++) {
        rt_node *nn = &g->nodes[ni];
        if (!outputs[i] || !*outputs[i]) {
            nn->outputs[nn->n_outputs++] = -1;
            continue;
        }
        int t = graph_find_tensor(g, outputs[i]);
        if (t >= 0) {
            rt_tensor *ot = g->tensors[t];
            if (ot->producer >= 0 || ot->kind == RT_TENSOR_INPUT || ot->kind == RT_TENSOR_CONSTANT) {
                char lbl[300];
                graph_node_label(g, ni, lbl, sizeof lbl);
                record(g, RT_ERR_DUPLICATE, "node %s: output '%s' is already defined (%s)", lbl, outputs[i],
                       ot->producer >= 0 ? "by another node" : ot->kind == RT_TENSOR_INPUT ? "as a graph input" : "as an initializer");
                return -1;
            }
        } else {
            t = graph_add_tensor(g, outputs[i], RT_DT_UNDEFINED, -1, NULL, RT_TENSOR_ACTIVATION);
            if (t < 0)
                return -1;
        }
        nn = &g->nodes[ni];
        g->tensors[t]->producer = ni;
        nn->outputs[nn->n_outputs++] = t;
    }
    return ni;
}

int graph_add_node(rt_graph *g, const char *op_type, const char *name, int n_inputs,
                   const char *const *inputs, int n_outputs, const char *const *outputs)
{
    return graph_add_node_domain(g, "", op_type, name, n_inputs, inputs, n_outputs, outputs);
}

rt_attr *graph_attr_slot(rt_graph *g, int node, const char *name)
{
    if (node < 0 || node >= g->n_nodes || !name || !*name) {
        record(g, RT_ERR_ARG, "attribute '%s': bad node index %d", name ? name : "", node);
        return NULL;
    }
    rt_node *n = &g->nodes[node];
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) {
            char *keep = n->attrs[i].name;
            n->attrs[i].name = NULL;
            graph_attr_clear(&n->attrs[i]);
            n->attrs[i].name = keep;
            return &n->attrs[i];
        }
    rt_attr *a = realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *a);
    if (!a) {
        record(g, RT_ERR_NOMEM, "out of memory (attribute '%s')", name);
        return NULL;
    }
    n->attrs = a;
    memset(&a[n->n_attrs], 0, sizeof *a);
    a[n->n_attrs].name = strdup(name);
    if (!a[n->n_attrs].name) {
        record(g, RT_ERR_NOMEM, "out of memory (attribute '%s')", name);
        return NULL;
    }
    return &a[n->n_attrs++];
}

rt_status graph_node_set_int(rt_graph *g, int node, const char *attr, int64_t v)
{
    rt_attr *a = graph_attr_slot(g, node, attr);
    if (!a)
        return g->last_error.code;
    a->type = RT_ATTR_INT;
    a->i = v;
    return RT_OK;
}

rt_status graph_node_set_float(rt_graph *g, int node, const char *attr, float v)
{
    rt_attr *a = graph_attr_slot(g, node, attr);
    if (!a)
        return g->last_error.code;
    a->type = RT_ATTR_FLOAT;
    a->f = v;
    return RT_OK;
}

rt_status graph_node_set_string(rt_graph *g, int node, const char *attr, const char *v)
{
    rt_attr *a = graph_attr_slot(g, node, attr);
    if (!a)
        return g->last_error.code;
    a->type = RT_ATTR_STRING;
    a->s = strdup(v ? v : "");
    return a->s ? RT_OK : record(g, RT_ERR_NOMEM, "out of memory");
}

rt_status graph_node_set_ints(rt_graph *g, int node, const char *attr, size_t n, const int64_t *v)
{
    rt_attr *a = graph_attr_slot(g, node, attr);
    if (!a)
        return g->last_error.code;
    a->type = RT_ATTR_INTS;
    a->ints = malloc((n ? n : 1) * sizeof *a->ints);
    if (!a->ints)
        return record(g, RT_ERR_NOMEM, "out of memory");
    if (n)
        memcpy(a->ints, v, n * sizeof *a->ints);
    a->n = n;
    return RT_OK;
}

rt_status graph_node_set_floats(rt_graph *g, int node, const char *attr, size_t n, const float *v)
{
    rt_attr *a = graph_attr_slot(g, node, attr);
    if (!a)
        return g->last_error.code;
    a->type = RT_ATTR_FLOATS;
    a->floats = malloc((n ? n : 1) * sizeof *a->floats);
    if (!a->floats)
        return record(g, RT_ERR_NOMEM, "out of memory");
    if (n)
        memcpy(a->floats, v, n * sizeof *a->floats);
    a->n = n;
    return RT_OK;
}

rt_status graph_node_set_strings(rt_graph *g, int node, const char *attr, size_t n, const char *const *v)
{
    rt_attr *a = graph_attr_slot(g, node, attr);
    if (!a)
        return g->last_error.code;
    a->type = RT_ATTR_STRINGS;
    a->strings = calloc(n ? n : 1, sizeof *a->strings);
    if (!a->strings)
        return record(g, RT_ERR_NOMEM, "out of memory");
    a->n = n;
    for (size_t i = 0; i < n; i++)
        if (!(a->strings[i] = strdup(v[i] ? v[i] : "")))
            return record(g, RT_ERR_NOMEM, "out of memory");
    return RT_OK;
}

rt_status graph_node_set_tensor(rt_graph *g, int node, const char *attr, rt_tensor *t)
{
    rt_attr *a = graph_attr_slot(g, node, attr);
    if (!a) {
        rt_tensor_free(t);
        return g->last_error.code;
    }
    a->type = RT_ATTR_TENSOR;
    a->t = t;
    return RT_OK;
}

int graph_find_node(const rt_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0)
            return i;
    return -1;
}

/* Symbolic dimensions are found through a hash of (tensor, axis), like tensors by name: a model
 * may declare one for each of many thousands of inputs. */
static uint32_t dim_param_hash(const char *tensor, int axis)
{
    return name_hash(tensor) ^ ((uint32_t)axis * 0x9E3779B9u);
}

static int dim_param_find(const rt_graph *g, const char *tensor, int axis)
{
    if (!g->dim_param_index)
        return -1;
    uint32_t mask = (uint32_t)g->dim_param_index_cap - 1, i = dim_param_hash(tensor, axis) & mask;
    while (g->dim_param_index[i]) {
        const rt_dim_param *d = &g->dim_params[g->dim_param_index[i] - 1];
        if (d->axis == axis && strcmp(d->tensor, tensor) == 0)
            return g->dim_param_index[i] - 1;
        i = (i + 1) & mask;
    }
    return -1;
}

/* Room for one more symbolic dimension, in the array and its index (rebuilt when it grows). */
static rt_status dim_param_reserve(rt_graph *g)
{
    if (grow((void **)&g->dim_params, &g->cap_dim_params, g->n_dim_params + 1, sizeof *g->dim_params) != 0)
        return record(g, RT_ERR_NOMEM, "out of memory (dim_param)");
    if (2 * (g->n_dim_params + 1) <= g->dim_param_index_cap)
        return RT_OK;
    int cap = INDEX_MIN_CAP;
    while (cap < 2 * (g->n_dim_params + 1))
        cap *= 2;
    int *idx = calloc((size_t)cap, sizeof *idx);
    if (!idx)
        return record(g, RT_ERR_NOMEM, "out of memory (dim_param)");
    free(g->dim_param_index);
    g->dim_param_index = idx;
    g->dim_param_index_cap = cap;
    uint32_t mask = (uint32_t)cap - 1;
    for (int k = 0; k < g->n_dim_params; k++) {
        uint32_t i = dim_param_hash(g->dim_params[k].tensor, g->dim_params[k].axis) & mask;
        while (idx[i])
            i = (i + 1) & mask;
        idx[i] = k + 1;
    }
    return RT_OK;
}

rt_status graph_set_dim_param(rt_graph *g, const char *tensor, int axis, const char *name)
{
    if (!tensor || !name || !*name || axis < 0 || axis >= RT_MAX_RANK)
        return record(g, RT_ERR_ARG, "dim_param: bad tensor, axis %d or name", axis);
    int found = dim_param_find(g, tensor, axis);
    if (found >= 0) {
        rt_dim_param *d = &g->dim_params[found];
        char *nm = strdup(name);
        if (!nm)
            return record(g, RT_ERR_NOMEM, "out of memory (dim_param)");
        free(d->name);
        d->name = nm;
        return RT_OK;
    }
    rt_status rs = dim_param_reserve(g);
    if (rs != RT_OK)
        return rs;
    rt_dim_param *d = &g->dim_params[g->n_dim_params];
    d->tensor = strdup(tensor);
    d->name = strdup(name);
    d->axis = axis;
    if (!d->tensor || !d->name) {
        free(d->tensor);
        free(d->name);
        return record(g, RT_ERR_NOMEM, "out of memory (dim_param)");
    }
    uint32_t mask = (uint32_t)g->dim_param_index_cap - 1, i = dim_param_hash(tensor, axis) & mask;
    while (g->dim_param_index[i])
        i = (i + 1) & mask;
    g->dim_param_index[i] = ++g->n_dim_params;
    return RT_OK;
}

const char *graph_dim_param(const rt_graph *g, const char *tensor, int axis)
{
    int i = tensor ? dim_param_find(g, tensor, axis) : -1;
    return i >= 0 ? g->dim_params[i].name : NULL;
}

const char *graph_node_label(const rt_graph *g, int node, char *buf, size_t size)
{
    if (node < 0 || node >= g->n_nodes)
        snprintf(buf, size, "#%d", node);
    else if (g->nodes[node].name[0])
        snprintf(buf, size, "'%s' (%s)", g->nodes[node].name, g->nodes[node].op_type);
    else
        snprintf(buf, size, "#%d (%s)", node, g->nodes[node].op_type);
    return buf;
}

/* ---- attribute getters ---- */

const rt_attr *rt_node_attr(const rt_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

int64_t rt_node_attr_int(const rt_node *n, const char *name, int64_t dflt)
{
    const rt_attr *a = rt_node_attr(n, name);
    if (!a)
        return dflt;
    if (a->type == RT_ATTR_INT)
        return a->i;
    if (a->type == RT_ATTR_FLOAT)
        return rt_f64_to_i64(a->f);
    return dflt;
}

float rt_node_attr_float(const rt_node *n, const char *name, float dflt)
{
    const rt_attr *a = rt_node_attr(n, name);
    if (!a)
        return dflt;
    if (a->type == RT_ATTR_FLOAT)
        return a->f;
    if (a->type == RT_ATTR_INT)
        return (float)a->i;
    return dflt;
}

const char *rt_node_attr_string(const rt_node *n, const char *name, const char *dflt)
{
    const rt_attr *a = rt_node_attr(n, name);
    return a && a->type == RT_ATTR_STRING ? a->s : dflt;
}

/* What *vals points at when a list attribute is absent or empty: a valid pointer, so that a
 * caller's memcpy of 0 values is defined. */
static const int64_t no_ints[1];
static const float no_floats[1];

size_t rt_node_attr_ints(const rt_node *n, const char *name, const int64_t **vals)
{
    *vals = no_ints;
    const rt_attr *a = rt_node_attr(n, name);
    if (!a)
        return 0;
    if (a->type == RT_ATTR_INTS) {
        *vals = a->ints;
        return a->n;
    }
    if (a->type == RT_ATTR_INT) {
        *vals = &a->i;
        return 1;
    }
    return 0;
}

rt_graph *rt_node_attr_graph(const rt_node *n, const char *name)
{
    const rt_attr *a = rt_node_attr(n, name);
    return a && a->type == RT_ATTR_GRAPH ? a->g : NULL;
}

size_t rt_node_attr_floats(const rt_node *n, const char *name, const float **vals)
{
    *vals = no_floats;
    const rt_attr *a = rt_node_attr(n, name);
    if (!a)
        return 0;
    if (a->type == RT_ATTR_FLOATS) {
        *vals = a->floats;
        return a->n;
    }
    if (a->type == RT_ATTR_FLOAT) {
        *vals = &a->f;
        return 1;
    }
    return 0;
}

/* ---- compaction (used by folding and dead-node removal) ---- */

void graph_relink_producers(rt_graph *g)
{
    for (int t = 0; t < g->n_tensors; t++)
        g->tensors[t]->producer = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int o = 0; o < g->nodes[i].n_outputs; o++)
            if (g->nodes[i].outputs[o] >= 0)
                g->tensors[g->nodes[i].outputs[o]]->producer = i;
}

rt_status graph_compact(rt_graph *g, const bool *remove_node, const bool *remove_tensor)
{
    graph_users_drop(g);
    if (remove_node) {
        int w = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            if (remove_node[i])
                graph_node_clear(&g->nodes[i]);
            else
                g->nodes[w++] = g->nodes[i];
        }
        g->n_nodes = w;
    }
    if (remove_tensor) {
        int *map = malloc((size_t)(g->n_tensors ? g->n_tensors : 1) * sizeof *map);
        if (!map)
            return record(g, RT_ERR_NOMEM, "out of memory (compaction)");
        int w = 0;
        for (int t = 0; t < g->n_tensors; t++) {
            if (remove_tensor[t]) {
                rt_tensor_free(g->tensors[t]);
                map[t] = -1;
            } else {
                map[t] = w;
                g->tensors[w++] = g->tensors[t];
            }
        }
        g->n_tensors = w;
        for (int i = 0; i < g->n_nodes; i++) {
            rt_node *n = &g->nodes[i];
            for (int k = 0; k < n->n_inputs; k++)
                if (n->inputs[k] >= 0)
                    n->inputs[k] = map[n->inputs[k]];
            for (int k = 0; k < n->n_outputs; k++)
                if (n->outputs[k] >= 0)
                    n->outputs[k] = map[n->outputs[k]];
        }
        int wi = 0;
        for (int k = 0; k < g->n_inputs; k++)
            if (map[g->inputs[k]] >= 0)
                g->inputs[wi++] = map[g->inputs[k]];
        g->n_inputs = wi;
        int wo = 0;
        for (int k = 0; k < g->n_outputs; k++)
            if (map[g->outputs[k]] >= 0)
                g->outputs[wo++] = map[g->outputs[k]];
        g->n_outputs = wo;
        for (int k = 0; k < g->n_captures; k++)
            g->captures[k] = map[g->captures[k]]; /* kept: dead-node removal never removes them */
        free(map);
        if (graph_rebuild_index(g) != RT_OK)
            return RT_ERR_NOMEM;
    }
    graph_relink_producers(g);
    return RT_OK;
}
