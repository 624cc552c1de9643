/* onnx_import.c -- ModelProto -> graph IR. Builds the graph with the builder API (which checks
 * names and shapes), turns Constant nodes into constant tensors, imports subgraphs (If, Loop,
 * Scan bodies, nested) as graphs of their own linked to the scope around them, records opsets
 * and symbolic dimensions, then runs graph_prepare. A file is mapped and skimmed (onnx_skim.c)
 * so that large embedded tensor bytes are copied once, only when needed. Every failure names
 * the problem and the node or tensor. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx_internal.h"
#include "ops.h"

#define ONNX_IR_MIN_TYPED_ATTRS 2 /* from IR version 2 on, AttributeProto.type is mandatory */
/* No ONNX op has more than a dozen attributes and no model imports more than a few opsets: these
 * bounds keep the builder's by-name checks (a scan per attribute, per opset) linear in the file. */
#define ONNX_MAX_NODE_ATTRS 64
#define ONNX_MAX_OPSET_IMPORTS 64
/* A graph's tensors and nodes are reserved up front up to this many (beyond it, an index would
 * overflow an int: such a graph fails in the builder, as before, not in the reservation). */
#define ONNX_MAX_RESERVED (INT32_MAX / 4)
/* Names are prefetched this many nodes before the node that looks them up (enough to cover a
 * memory latency with the work of the nodes between), at most this many inputs and outputs each. */
#define ONNX_PREFETCH_NODES_AHEAD 8
#define ONNX_PREFETCH_NAMES_PER_NODE 4

/* What every level of one import shares. */
typedef struct import_ctx {
    const Onnx__ModelProto *m;
    const onnx_import_opts *opts;
    onnx_data_src src;
} import_ctx;

static rt_status import_graph(const import_ctx *x, const Onnx__GraphProto *gp, bool subgraph, int depth, rt_graph **out,
                              rt_error *e);

/* The type and shape a ValueInfoProto declares. */
static rt_status value_info_type(const Onnx__ValueInfoProto *vi, const char *what, rt_dtype *dt, int *rank,
                                 int64_t *dims, const char **params, rt_error *e)
{
    *dt = RT_DT_UNDEFINED;
    *rank = -1;
    const char *name = vi->name ? vi->name : "";
    if (!vi->type)
        return RT_OK;
    if (vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !vi->type->tensor_type)
        return rt_error_set(e, RT_ERR_UNSUPPORTED, "%s '%s': only tensor types are supported (not sequences, maps or optionals)",
                            what, name);
    const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    if (tt->has_elem_type) {
        if (!rt_dtype_storable(tt->elem_type))
            return rt_error_set(e, RT_ERR_DTYPE, "%s '%s': element type %d is not supported", what, name, tt->elem_type);
        *dt = (rt_dtype)tt->elem_type;
    }
    if (!tt->shape)
        return RT_OK;
    if (tt->shape->n_dim > RT_MAX_RANK)
        return rt_error_set(e, RT_ERR_LIMIT, "%s '%s': rank %zu exceeds %d", what, name, tt->shape->n_dim, RT_MAX_RANK);
    *rank = (int)tt->shape->n_dim;
    for (int i = 0; i < *rank; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (d->dim_value < 0)
                return rt_error_set(e, RT_ERR_SHAPE, "%s '%s': dimension %d is negative (%lld)", what, name, i,
                                    (long long)d->dim_value);
            dims[i] = d->dim_value;
        } else {
            dims[i] = RT_DIM_UNKNOWN; /* symbolic or absent */
            if (params && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && d->dim_param &&
                d->dim_param[0])
                params[i] = d->dim_param;
        }
    }
    char label[300];
    snprintf(label, sizeof label, "%s '%s'", what, name);
    return rt_shape_check(*rank, dims, label, e);
}

static rt_status from_builder(const rt_graph *g, rt_error *e)
{
    const rt_error *le = graph_last_error(g);
    return rt_error_set(e, le->code, "%s", le->msg);
}

/* Constant node -> a constant tensor named as its output. */
static rt_status import_constant(const import_ctx *x, rt_graph *g, const Onnx__NodeProto *np, const char *label,
                                 rt_error *e)
{
    if (np->n_output != 1 || !np->output[0] || !np->output[0][0])
        return rt_error_set(e, RT_ERR_ATTR, "Constant node %s must have exactly one output", label);
    if (np->n_attribute != 1)
        return rt_error_set(e, RT_ERR_ATTR, "Constant node %s must have exactly one value attribute (has %zu)", label,
                            np->n_attribute);
    const char *out = np->output[0];
    const Onnx__AttributeProto *a = np->attribute[0];
    const char *an = a->name ? a->name : "";
    rt_tensor *t = NULL;
    rt_status s = RT_OK;
    char what[300];
    snprintf(what, sizeof what, "Constant node %.250s value", label);
    if (strcmp(an, "value") == 0 && a->t) {
        s = onnx_tensor_from_proto(a->t, out, what, &x->src, &t, e);
    } else if (strcmp(an, "value_float") == 0) {
        t = rt_tensor_new(out, RT_DT_F32, 0, NULL);
        if (t && rt_tensor_alloc(t, e) == RT_OK)
            *(float *)t->data = a->f;
    } else if (strcmp(an, "value_int") == 0) {
        t = rt_tensor_new(out, RT_DT_I64, 0, NULL);
        if (t && rt_tensor_alloc(t, e) == RT_OK)
            *(int64_t *)t->data = a->i;
    } else if (strcmp(an, "value_floats") == 0 || strcmp(an, "value_ints") == 0) {
        bool f = an[6] == 'f';
        int64_t n = (int64_t)(f ? a->n_floats : a->n_ints);
        t = rt_tensor_new(out, f ? RT_DT_F32 : RT_DT_I64, 1, &n);
        if (t && rt_tensor_alloc(t, e) == RT_OK && n)
            memcpy(t->data, f ? (const void *)a->floats : (const void *)a->ints, (size_t)n * (f ? 4 : 8));
    } else {
        return rt_error_set(e, RT_ERR_UNSUPPORTED, "Constant node %s: attribute '%s' is not supported "
                            "(value, value_float(s), value_int(s); not strings or sparse)", label, an);
    }
    if (s != RT_OK)
        return s;
    if (!t || (!t->data && rt_tensor_nbytes(t) <= ONNX_WEIGHT_MIN_BYTES)) { /* a large one may be shape-only */
        rt_tensor_free(t);
        return rt_error_set(e, RT_ERR_NOMEM, "Constant node %s: out of memory", label);
    }
    int ti = graph_add_tensor(g, out, t->dtype, t->rank, t->dims, RT_TENSOR_CONSTANT);
    if (ti < 0) {
        rt_tensor_free(t);
        return from_builder(g, e);
    }
    if (!t->data) {
        rt_tensor_free(t);
        return RT_OK;
    }
    s = graph_set_tensor_data_owned(g, ti, t->data, t->data_bytes, e);
    if (s == RT_OK)
        t->data = NULL;
    rt_tensor_free(t);
    return s;
}

static rt_status import_attr(const import_ctx *x, rt_graph *g, int ni, const Onnx__AttributeProto *a, const char *label,
                             int depth, rt_error *e)
{
    const char *an = a->name ? a->name : "";
    if (!*an)
        return rt_error_set(e, RT_ERR_ATTR, "node %s: an attribute has no name", label);
    if (a->ref_attr_name && *a->ref_attr_name)
        return rt_error_set(e, RT_ERR_UNSUPPORTED, "node %s: attribute '%s' refers to a function attribute", label, an);
    int type = a->has_type ? (int)a->type : 0;
    if (type == 0) { /* IR version 1: infer the type from the field present */
        type = a->has_f ? RT_ATTR_FLOAT : a->has_i ? RT_ATTR_INT : a->has_s ? RT_ATTR_STRING : a->t ? RT_ATTR_TENSOR
             : a->g ? RT_ATTR_GRAPH : a->n_floats ? RT_ATTR_FLOATS : a->n_ints ? RT_ATTR_INTS
             : a->n_strings ? RT_ATTR_STRINGS : 0;
    }
    rt_status s;
    switch (type) {
    case RT_ATTR_FLOAT: s = graph_node_set_float(g, ni, an, a->f); break;
    case RT_ATTR_INT: s = graph_node_set_int(g, ni, an, a->i); break;
    case RT_ATTR_STRING: {
        char *str = malloc(a->s.len + 1);
        if (!str)
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
        if (a->s.len)
            memcpy(str, a->s.data, a->s.len);
        str[a->s.len] = '\0';
        s = graph_node_set_string(g, ni, an, str);
        free(str);
        break;
    }
    case RT_ATTR_FLOATS: s = graph_node_set_floats(g, ni, an, a->n_floats, a->floats); break;
    case RT_ATTR_INTS: s = graph_node_set_ints(g, ni, an, a->n_ints, a->ints); break;
    case RT_ATTR_STRINGS: {
        char **v = calloc(a->n_strings + 1, sizeof *v);
        s = v ? RT_OK : RT_ERR_NOMEM;
        for (size_t i = 0; s == RT_OK && i < a->n_strings; i++) {
            v[i] = malloc(a->strings[i].len + 1);
            if (!v[i]) {
                s = RT_ERR_NOMEM;
                break;
            }
            if (a->strings[i].len)
                memcpy(v[i], a->strings[i].data, a->strings[i].len);
            v[i][a->strings[i].len] = '\0';
        }
        if (s == RT_OK)
            s = graph_node_set_strings(g, ni, an, a->n_strings, (const char *const *)v);
        for (size_t i = 0; v && i < a->n_strings; i++)
            free(v[i]);
        free(v);
        if (s == RT_ERR_NOMEM)
            return rt_error_set(e, s, "out of memory");
        break;
    }
    case RT_ATTR_TENSOR: {
        if (!a->t)
            return rt_error_set(e, RT_ERR_ATTR, "node %s: tensor attribute '%s' has no tensor", label, an);
        rt_tensor *t;
        char what[300];
        snprintf(what, sizeof what, "node %.250s attribute", label);
        s = onnx_tensor_from_proto(a->t, an, what, &x->src, &t, e);
        if (s != RT_OK)
            return s;
        s = graph_node_set_tensor(g, ni, an, t);
        break;
    }
    case RT_ATTR_GRAPH: {
        if (!a->g)
            return rt_error_set(e, RT_ERR_ATTR, "node %s: graph attribute '%s' has no graph", label, an);
        rt_graph *body;
        if ((s = import_graph(x, a->g, true, depth + 1, &body, e)) != RT_OK) {
            rt_error_prefix(e, "node %s: %s", label, an);
            return s;
        }
        s = graph_node_set_graph(g, ni, an, body);
        break;
    }
    default:
        /* lists of graphs, sparse tensors, type protos: none of our kernels takes them; an op
         * that needs them has no kernel and is reported as such. */
        if (g->nodes[ni].op != RT_OP_NONE)
            return rt_error_set(e, RT_ERR_UNSUPPORTED, "node %s: attribute '%s' of type %d is not supported", label, an,
                                type);
        return RT_OK;
    }
    return s == RT_OK ? RT_OK : from_builder(g, e);
}

static rt_status import_node(const import_ctx *x, rt_graph *g, const Onnx__NodeProto *np, size_t index, int depth,
                             rt_error *e)
{
    char label[300];
    const char *op = np->op_type ? np->op_type : "";
    if (np->name && *np->name)
        snprintf(label, sizeof label, "'%s' (%s)", np->name, op);
    else
        snprintf(label, sizeof label, "#%zu (%s)", index, op);
    if (!*op)
        return rt_error_set(e, RT_ERR_PARSE, "node %s has no op_type", label);
    bool default_domain = !np->domain || !*np->domain || strcmp(np->domain, "ai.onnx") == 0;
    if (default_domain && strcmp(op, "Constant") == 0)
        return import_constant(x, g, np, label, e);
    for (size_t i = 0; i < np->n_input; i++)
        if (!np->input[i])
            return rt_error_set(e, RT_ERR_PARSE, "node %s: input %zu has no name", label, i);
    if (np->n_input > INT32_MAX / 2 || np->n_output > INT32_MAX / 2)
        return rt_error_set(e, RT_ERR_LIMIT, "node %s: too many inputs or outputs", label);
    if (np->n_attribute > ONNX_MAX_NODE_ATTRS)
        return rt_error_set(e, RT_ERR_LIMIT, "node %s: %zu attributes; no op takes more than %d", label,
                            np->n_attribute, ONNX_MAX_NODE_ATTRS);
    int ni = graph_add_node_domain(g, np->domain, op, np->name, (int)np->n_input, (const char *const *)np->input,
                                   (int)np->n_output, (const char *const *)np->output);
    if (ni < 0)
        return from_builder(g, e);
    for (size_t k = 0; k < np->n_attribute; k++) {
        rt_status s = import_attr(x, g, ni, np->attribute[k], label, depth, e);
        if (s != RT_OK)
            return s;
    }
    return RT_OK;
}

/* The name index slots a node's inputs and outputs will be looked up in: a model of 100k nodes
 * has an index larger than the cache, and a new name's slot is a cache miss. */
static void prefetch_node_names(const rt_graph *g, const Onnx__NodeProto *np)
{
    for (size_t k = 0; k < np->n_input && k < ONNX_PREFETCH_NAMES_PER_NODE; k++)
        graph_prefetch_name(g, np->input[k]);
    for (size_t k = 0; k < np->n_output && k < ONNX_PREFETCH_NAMES_PER_NODE; k++)
        graph_prefetch_name(g, np->output[k]);
}

typedef struct declared_output {
    int tensor;
    rt_dtype dtype;
    int rank;
    int64_t dims[RT_MAX_RANK];
} declared_output;

/* After inference: what the file declares for its outputs must match what the ops produce. */
static rt_status check_declared(const rt_graph *g, const declared_output *d, size_t n, rt_error *e)
{
    for (size_t i = 0; i < n; i++) {
        const rt_tensor *t = g->tensors[d[i].tensor];
        if (d[i].dtype != RT_DT_UNDEFINED && t->dtype != RT_DT_UNDEFINED && d[i].dtype != t->dtype)
            return rt_error_set(e, RT_ERR_DTYPE, "graph output '%s' is declared %s but computes %s", t->name,
                                rt_dtype_name(d[i].dtype), rt_dtype_name(t->dtype));
        if (d[i].rank >= 0 && t->rank >= 0) {
            bool ok = d[i].rank == t->rank;
            for (int k = 0; ok && k < t->rank; k++)
                ok = d[i].dims[k] < 0 || t->dims[k] < 0 || d[i].dims[k] == t->dims[k];
            if (!ok) {
                rt_tensor decl = {0};
                decl.rank = d[i].rank;
                memcpy(decl.dims, d[i].dims, sizeof decl.dims);
                char s1[96], s2[96];
                return rt_error_set(e, RT_ERR_SHAPE, "graph output '%s' is declared %s but computes %s", t->name,
                                    rt_shape_str(&decl, s1, sizeof s1), rt_shape_str(t, s2, sizeof s2));
            }
        }
    }
    return RT_OK;
}

/* A GraphProto -> a graph: the model's (checked against the declared outputs and prepared by
 * the caller) or a subgraph's (inputs are its formal parameters; names it does not define are
 * outer-scope names, linked when it is attached to its node). */
static rt_status import_graph(const import_ctx *x, const Onnx__GraphProto *gp, bool subgraph, int depth, rt_graph **out,
                              rt_error *e)
{
    *out = NULL;
    if (depth > ONNX_SKIM_MAX_DEPTH)
        return rt_error_set(e, RT_ERR_LIMIT, "subgraphs nest deeper than %d levels", ONNX_SKIM_MAX_DEPTH);
    rt_graph *g = graph_create(gp->name && *gp->name ? gp->name : subgraph ? "subgraph" : "graph");
    if (!g)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
    const Onnx__ModelProto *m = x->m;
    g->ir_version = m->has_ir_version ? m->ir_version : 0;
    rt_status s = RT_OK;
    bool have_default = false;
    if (m->n_opset_import > ONNX_MAX_OPSET_IMPORTS)
        s = rt_error_set(e, RT_ERR_LIMIT, "the model imports %zu opsets; at most %d are accepted", m->n_opset_import,
                         ONNX_MAX_OPSET_IMPORTS);
    for (size_t i = 0; i < m->n_opset_import && s == RT_OK; i++) { /* subgraphs share the model's opsets */
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        s = graph_set_opset(g, o->domain, o->has_version ? o->version : 1);
        if (!o->domain || !*o->domain || strcmp(o->domain, "ai.onnx") == 0)
            have_default = true;
    }
    bool uses_default = false;
    for (size_t i = 0; i < gp->n_node; i++) {
        const char *d = gp->node[i]->domain;
        uses_default |= !d || !*d || strcmp(d, "ai.onnx") == 0;
    }
    if (s == RT_OK && !have_default && g->ir_version >= 3 && uses_default)
        s = rt_error_set(e, RT_ERR_PARSE, "the model imports no opset of the default ONNX domain");
    if (s == RT_OK && !have_default) /* IR versions before 3 had no opset_import: opset 1 */
        s = graph_set_opset(g, "", 1);
    /* every initializer, input and node output is a tensor: make room for them at once */
    size_t want_tensors = gp->n_initializer + gp->n_input;
    for (size_t i = 0; i < gp->n_node; i++)
        want_tensors += gp->node[i]->n_output;
    if (s == RT_OK && want_tensors <= ONNX_MAX_RESERVED && gp->n_node <= ONNX_MAX_RESERVED &&
        graph_reserve(g, (int)want_tensors, (int)gp->n_node) != RT_OK)
        s = from_builder(g, e);
    if (s == RT_OK && gp->n_sparse_initializer)
        s = rt_error_set(e, RT_ERR_UNSUPPORTED, "sparse initializer '%s' is not supported",
                         gp->sparse_initializer[0]->values && gp->sparse_initializer[0]->values->name
                             ? gp->sparse_initializer[0]->values->name : "");
    for (size_t i = 0; i < gp->n_initializer && s == RT_OK; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !*tp->name) {
            s = rt_error_set(e, RT_ERR_PARSE, "initializer %zu has no name", i);
            break;
        }
        rt_tensor *t;
        s = onnx_tensor_from_proto(tp, NULL, "initializer", &x->src, &t, e);
        if (s != RT_OK)
            break;
        int ti = graph_add_tensor(g, t->name, t->dtype, t->rank, t->dims, RT_TENSOR_CONSTANT);
        if (ti < 0)
            s = from_builder(g, e);
        else if (t->data && (s = graph_set_tensor_data_owned(g, ti, t->data, t->data_bytes, e)) == RT_OK)
            t->data = NULL; /* without data: a timing-only import's weight */
        rt_tensor_free(t);
    }
    for (size_t i = 0; i < gp->n_input && s == RT_OK; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || !*vi->name) {
            s = rt_error_set(e, RT_ERR_PARSE, "graph input %zu has no name", i);
            break;
        }
        int t = graph_find_tensor(g, vi->name);
        if (!subgraph && t >= 0 && g->tensors[t]->kind == RT_TENSOR_CONSTANT)
            continue; /* an initializer also listed as an input (IR < 4): a constant with a default */
        rt_dtype dt;
        int rank;
        int64_t dims[RT_MAX_RANK];
        const char *params[RT_MAX_RANK] = {0};
        if ((s = value_info_type(vi, "graph input", &dt, &rank, dims, params, e)) != RT_OK)
            break;
        if (graph_add_input(g, vi->name, dt, rank, dims) < 0)
            s = from_builder(g, e);
        for (int d = 0; d < rank && s == RT_OK; d++)
            if (params[d])
                s = graph_set_dim_param(g, vi->name, d, params[d]);
    }
    for (size_t i = 0; i < gp->n_node && s == RT_OK; i++) {
        if (i + ONNX_PREFETCH_NODES_AHEAD < gp->n_node)
            prefetch_node_names(g, gp->node[i + ONNX_PREFETCH_NODES_AHEAD]);
        s = import_node(x, g, gp->node[i], i, depth, e);
    }
    declared_output *decl = calloc(gp->n_output + 1, sizeof *decl);
    if (!decl && s == RT_OK)
        s = rt_error_set(e, RT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < gp->n_output && s == RT_OK; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        if (!vi->name || !*vi->name) {
            s = rt_error_set(e, RT_ERR_PARSE, "graph output %zu has no name", i);
            break;
        }
        /* a subgraph may return an outer-scope value: a placeholder, linked as a capture */
        int t = subgraph ? graph_tensor_ref(g, vi->name) : graph_find_tensor(g, vi->name);
        if (t < 0) {
            s = subgraph ? from_builder(g, e)
                         : rt_error_set(e, RT_ERR_MISSING_INPUT, "graph output '%s' is not produced by any node", vi->name);
            break;
        }
        if ((s = value_info_type(vi, "graph output", &decl[i].dtype, &decl[i].rank, decl[i].dims, NULL, e)) != RT_OK)
            break;
        decl[i].tensor = t;
        if (graph_mark_output(g, t) != RT_OK)
            s = from_builder(g, e);
    }
    if (s == RT_OK && gp->n_output == 0)
        s = rt_error_set(e, RT_ERR_PARSE, "the graph has no outputs");
    if (s == RT_OK && subgraph)
        s = graph_topo_sort(g, e); /* prepared when its node's inference binds its inputs */
    if (s == RT_OK && !subgraph && !(x->opts && x->opts->no_prepare)) {
        if (x->opts && x->opts->allow_unknown_ops) {
            s = graph_validate_structure(g, e);
            if (s == RT_OK)
                s = graph_topo_sort(g, e);
        } else {
            s = graph_prepare(g, e);
            if (s == RT_OK) /* outputs may have been renumbered: find them again by name */
                for (size_t i = 0; i < gp->n_output; i++)
                    decl[i].tensor = graph_find_tensor(g, gp->output[i]->name);
            if (s == RT_OK)
                s = check_declared(g, decl, gp->n_output, e);
        }
    }
    free(decl);
    if (s != RT_OK) {
        if (subgraph)
            rt_error_prefix(e, "subgraph '%s'", g->name);
        graph_free(g);
        return s;
    }
    *out = g;
    return RT_OK;
}

/* Parse and import bytes[0..len): the skim first, so that large raw_data stays in bytes. */
static rt_status import_bytes(const uint8_t *bytes, size_t len, const char *base_dir, const onnx_import_opts *opts,
                              rt_graph **out, rt_error *e)
{
    *out = NULL;
    if (len == 0)
        return rt_error_set(e, RT_ERR_PARSE, "not an ONNX model: the file is empty");
    onnx_skim sk;
    bool skimmed = onnx_skim_model(bytes, len, &sk);
    Onnx__ModelProto *m = skimmed ? onnx__model_proto__unpack(NULL, sk.len, sk.bytes) : NULL;
    if (skimmed)
        free(sk.bytes);
    if (!m) /* the skim gave up, or protobuf-c refuses its output: the original decides */
        m = onnx__model_proto__unpack(NULL, len, bytes), skimmed = false;
    if (!m)
        return rt_error_set(e, RT_ERR_PARSE, "not an ONNX model: protobuf parse failed (truncated or corrupt file)");
    import_ctx x = {.m = m, .opts = opts,
                    .src = {.base_dir = base_dir, .bytes = bytes, .len = len, .skimmed = skimmed,
                            .no_weight_data = opts && opts->no_weight_data}};
    rt_status s = m->graph ? import_graph(&x, m->graph, false, 0, out, e)
                           : rt_error_set(e, RT_ERR_PARSE, "not an ONNX model: no graph");
    onnx__model_proto__free_unpacked(m, NULL);
    return s;
}

rt_status onnx_import_buffer(const uint8_t *buf, size_t len, const char *base_dir, const onnx_import_opts *opts,
                             rt_graph **out, rt_error *e)
{
    return import_bytes(buf, len, base_dir, opts, out, e);
}

/* The file's bytes, mapped (only the pages read are resident: a timing-only import touches the
 * weights' bytes never), or read when it cannot be mapped (a pipe). *mapped says which. */
static rt_status model_bytes(const char *path, uint8_t **bytes, size_t *len, bool *mapped, rt_error *e)
{
    *mapped = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size <= SIZE_MAX) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (p != MAP_FAILED) {
            *bytes = p;
            *len = (size_t)st.st_size;
            *mapped = true;
            return RT_OK;
        }
    } else if (fd >= 0) {
        close(fd);
    }
    return rt_read_file(path, 0, NULL, bytes, len, e);
}

rt_status onnx_import_file(const char *path, const onnx_import_opts *opts, rt_graph **out, rt_error *e)
{
    *out = NULL;
    uint8_t *buf;
    size_t len;
    bool mapped;
    rt_status s = model_bytes(path, &buf, &len, &mapped, e);
    if (s != RT_OK)
        return s;
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash && (size_t)(slash - path) < sizeof dir) {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
        if (!dir[0])
            strcpy(dir, "/");
    } else {
        strcpy(dir, ".");
    }
    s = import_bytes(buf, len, dir, opts, out, e);
    if (mapped)
        munmap(buf, len);
    else
        free(buf);
    if (s != RT_OK)
        rt_error_prefix(e, "%s", path);
    return s;
}

rt_status onnx_model_op_types(const char *path, char ***types, int *n, rt_error *e)
{
    *types = NULL;
    *n = 0;
    uint8_t *buf;
    size_t len;
    rt_status s = rt_read_file(path, 0, NULL, &buf, &len, e);
    if (s != RT_OK)
        return s;
    Onnx__ModelProto *m = len ? onnx__model_proto__unpack(NULL, len, buf) : NULL;
    free(buf);
    if (!m || !m->graph) {
        if (m)
            onnx__model_proto__free_unpacked(m, NULL);
        return rt_error_set(e, RT_ERR_PARSE, "%s: not an ONNX model", path);
    }
    const Onnx__GraphProto *gp = m->graph;
    char **v = calloc(gp->n_node + 1, sizeof *v);
    int cnt = 0;
    for (size_t i = 0; v && i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        const char *d = np->domain && strcmp(np->domain, "ai.onnx") ? np->domain : "";
        const char *op = np->op_type ? np->op_type : "";
        size_t l = strlen(d) + strlen(op) + 2;
        char *t = malloc(l);
        if (!t)
            break;
        snprintf(t, l, "%s%s%s", d, *d ? ":" : "", op);
        v[cnt++] = t;
    }
    size_t want = gp->n_node;
    onnx__model_proto__free_unpacked(m, NULL);
    if (!v || cnt != (int)want) {
        for (int i = 0; v && i < cnt; i++)
            free(v[i]);
        free(v);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
    }
    *types = v;
    *n = cnt;
    return RT_OK;
}
