/* onnx_export.c -- graph IR -> ModelProto, packed with the same generated protobuf-c code the
 * importer uses. The messages point into the graph (names, data); only the message structs are
 * allocated, from a small arena freed after packing. Subgraphs are written as GRAPH attributes
 * (their captures by name, as ONNX reads them) and symbolic input dimensions as dim_params. */
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

#define EXPORT_IR_VERSION 8 /* ONNX 1.12 (libonnx-dev) writes IR version 8 */

typedef struct arena {
    void **blocks;
    size_t n, cap;
    bool failed;
} arena;

static void *arena_alloc(arena *a, size_t size)
{
    if (a->failed)
        return NULL;
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        void **nb = realloc(a->blocks, nc * sizeof *nb);
        if (!nb) {
            a->failed = true;
            return NULL;
        }
        a->blocks = nb;
        a->cap = nc;
    }
    void *p = calloc(1, size ? size : 1);
    if (!p) {
        a->failed = true;
        return NULL;
    }
    a->blocks[a->n++] = p;
    return p;
}

static void arena_free(arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->blocks[i]);
    free(a->blocks);
}

static Onnx__ValueInfoProto *value_info(arena *a, const rt_graph *g, const rt_tensor *t)
{
    Onnx__ValueInfoProto *vi = arena_alloc(a, sizeof *vi);
    Onnx__TypeProto *tp = arena_alloc(a, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = arena_alloc(a, sizeof *tt);
    if (!vi || !tp || !tt)
        return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    vi->name = t->name;
    vi->type = tp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    if (t->dtype != RT_DT_UNDEFINED) {
        tt->has_elem_type = 1;
        tt->elem_type = (int32_t)t->dtype;
    }
    if (t->rank >= 0) {
        Onnx__TensorShapeProto *sp = arena_alloc(a, sizeof *sp);
        Onnx__TensorShapeProto__Dimension **dims = arena_alloc(a, (size_t)(t->rank + 1) * sizeof *dims);
        if (!sp || !dims)
            return NULL;
        onnx__tensor_shape_proto__init(sp);
        sp->n_dim = (size_t)t->rank;
        sp->dim = dims;
        for (int i = 0; i < t->rank; i++) {
            dims[i] = arena_alloc(a, sizeof **dims);
            if (!dims[i])
                return NULL;
            onnx__tensor_shape_proto__dimension__init(dims[i]);
            const char *param = graph_dim_param(g, t->name, i);
            if (t->dims[i] >= 0) {
                dims[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                dims[i]->dim_value = t->dims[i];
            } else if (param) {
                dims[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                dims[i]->dim_param = (char *)param;
            }
        }
        tt->shape = sp;
    }
    return vi;
}

static rt_status build_graph(arena *a, const rt_graph *g, Onnx__GraphProto *gp, rt_error *e);

static rt_status export_attr(arena *a, const rt_attr *src, Onnx__AttributeProto *dst, rt_error *e)
{
    onnx__attribute_proto__init(dst);
    dst->name = src->name;
    dst->has_type = 1;
    dst->type = (Onnx__AttributeProto__AttributeType)src->type;
    switch (src->type) {
    case RT_ATTR_FLOAT: dst->has_f = 1; dst->f = src->f; break;
    case RT_ATTR_INT: dst->has_i = 1; dst->i = src->i; break;
    case RT_ATTR_STRING:
        dst->has_s = 1;
        dst->s.data = (uint8_t *)src->s;
        dst->s.len = strlen(src->s);
        break;
    case RT_ATTR_FLOATS: dst->n_floats = src->n; dst->floats = src->floats; break;
    case RT_ATTR_INTS: dst->n_ints = src->n; dst->ints = src->ints; break;
    case RT_ATTR_STRINGS: {
        ProtobufCBinaryData *v = arena_alloc(a, (src->n + 1) * sizeof *v);
        if (!v)
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < src->n; i++) {
            v[i].data = (uint8_t *)src->strings[i];
            v[i].len = strlen(src->strings[i]);
        }
        dst->n_strings = src->n;
        dst->strings = v;
        break;
    }
    case RT_ATTR_TENSOR: {
        Onnx__TensorProto *tp = arena_alloc(a, sizeof *tp);
        int64_t *dims = arena_alloc(a, RT_MAX_RANK * sizeof *dims);
        if (!tp || !dims)
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
        rt_status s = onnx_tensor_to_proto(src->t, tp, dims, e);
        if (s != RT_OK)
            return s;
        dst->t = tp;
        break;
    }
    case RT_ATTR_GRAPH: {
        Onnx__GraphProto *gp = arena_alloc(a, sizeof *gp);
        if (!gp)
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
        rt_status s = build_graph(a, src->g, gp, e);
        if (s != RT_OK)
            return s;
        dst->g = gp;
        break;
    }
    default:
        return rt_error_set(e, RT_ERR_UNSUPPORTED, "attribute '%s' of type %d cannot be exported", src->name,
                            (int)src->type);
    }
    return RT_OK;
}

static bool is_capture(const rt_graph *g, int t)
{
    for (int k = 0; k < g->n_captures; k++)
        if (g->captures[k] == t)
            return true;
    return false;
}

/* A graph or a subgraph: a subgraph's captures are outer-scope names, not its own tensors. */
static rt_status build_graph(arena *a, const rt_graph *g, Onnx__GraphProto *gp, rt_error *e)
{
    static char empty[] = "";
    onnx__graph_proto__init(gp);
    gp->name = g->name;
    /* initializers: every constant with data */
    gp->initializer = arena_alloc(a, (size_t)(g->n_tensors + 1) * sizeof *gp->initializer);
    gp->input = arena_alloc(a, (size_t)(g->n_inputs + 1) * sizeof *gp->input);
    gp->output = arena_alloc(a, (size_t)(g->n_outputs + 1) * sizeof *gp->output);
    gp->value_info = arena_alloc(a, (size_t)(g->n_tensors + 1) * sizeof *gp->value_info);
    gp->node = arena_alloc(a, (size_t)(g->n_nodes + 1) * sizeof *gp->node);
    if (!gp->initializer || !gp->input || !gp->output || !gp->value_info || !gp->node)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
    for (int t = 0; t < g->n_tensors; t++) {
        const rt_tensor *ts = g->tensors[t];
        if (ts->kind != RT_TENSOR_CONSTANT || is_capture(g, t))
            continue;
        Onnx__TensorProto *tp = arena_alloc(a, sizeof *tp);
        int64_t *dims = arena_alloc(a, RT_MAX_RANK * sizeof *dims);
        if (!tp || !dims)
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
        rt_status s = onnx_tensor_to_proto(ts, tp, dims, e);
        if (s != RT_OK)
            return s;
        gp->initializer[gp->n_initializer++] = tp;
    }
    for (int k = 0; k < g->n_inputs; k++)
        if (!(gp->input[gp->n_input++] = value_info(a, g, g->tensors[g->inputs[k]])))
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
    for (int k = 0; k < g->n_outputs; k++)
        if (!(gp->output[gp->n_output++] = value_info(a, g, g->tensors[g->outputs[k]])))
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
    for (int t = 0; t < g->n_tensors; t++) { /* intermediate types and shapes that are known */
        const rt_tensor *ts = g->tensors[t];
        if (ts->kind == RT_TENSOR_ACTIVATION && ts->dtype != RT_DT_UNDEFINED)
            if (!(gp->value_info[gp->n_value_info++] = value_info(a, g, ts)))
                return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const rt_node *n = &g->nodes[i];
        Onnx__NodeProto *np = arena_alloc(a, sizeof *np);
        char **ins = arena_alloc(a, (size_t)(n->n_inputs + 1) * sizeof *ins);
        char **outs = arena_alloc(a, (size_t)(n->n_outputs + 1) * sizeof *outs);
        Onnx__AttributeProto **attrs = arena_alloc(a, (size_t)(n->n_attrs + 1) * sizeof *attrs);
        if (!np || !ins || !outs || !attrs)
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
        onnx__node_proto__init(np);
        np->name = n->name;
        np->op_type = n->op_type;
        np->domain = n->domain;
        int n_in = rt_node_explicit_inputs(n); /* captures are read by name inside the subgraphs */
        for (int k = 0; k < n_in; k++)
            ins[k] = n->inputs[k] >= 0 ? g->tensors[n->inputs[k]]->name : empty;
        for (int k = 0; k < n->n_outputs; k++)
            outs[k] = n->outputs[k] >= 0 ? g->tensors[n->outputs[k]]->name : empty;
        np->n_input = (size_t)n_in;
        np->input = ins;
        np->n_output = (size_t)n->n_outputs;
        np->output = outs;
        for (int k = 0; k < n->n_attrs; k++) {
            attrs[k] = arena_alloc(a, sizeof **attrs);
            if (!attrs[k])
                return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
            rt_status s = export_attr(a, &n->attrs[k], attrs[k], e);
            if (s != RT_OK)
                return s;
        }
        np->n_attribute = (size_t)n->n_attrs;
        np->attribute = attrs;
        gp->node[gp->n_node++] = np;
    }
    return a->failed ? rt_error_set(e, RT_ERR_NOMEM, "out of memory") : RT_OK;
}

static rt_status build_model(arena *a, const rt_graph *g, Onnx__ModelProto *m, rt_error *e)
{
    static char producer[] = "m4npu";
    onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = EXPORT_IR_VERSION;
    m->producer_name = producer;
    Onnx__GraphProto *gp = arena_alloc(a, sizeof *gp);
    int n_ops = g->n_opsets ? g->n_opsets : 1;
    Onnx__OperatorSetIdProto **ops = arena_alloc(a, (size_t)n_ops * sizeof *ops);
    if (!gp || !ops)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
    static char empty[] = "";
    for (int i = 0; i < n_ops; i++) {
        ops[i] = arena_alloc(a, sizeof **ops);
        if (!ops[i])
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
        onnx__operator_set_id_proto__init(ops[i]);
        ops[i]->domain = g->n_opsets ? g->opsets[i].domain : empty;
        ops[i]->has_version = 1;
        ops[i]->version = g->n_opsets ? g->opsets[i].version : RT_DEFAULT_OPSET;
    }
    m->n_opset_import = (size_t)n_ops;
    m->opset_import = ops;
    m->graph = gp;
    return build_graph(a, g, gp, e);
}

rt_status onnx_export_buffer(const rt_graph *g, uint8_t **buf, size_t *len, rt_error *e)
{
    arena a = {0};
    Onnx__ModelProto m;
    rt_status s = build_model(&a, g, &m, e);
    if (s == RT_OK) {
        size_t n = onnx__model_proto__get_packed_size(&m);
        *buf = malloc(n ? n : 1);
        if (!*buf)
            s = rt_error_set(e, RT_ERR_NOMEM, "out of memory (%zu bytes)", n);
        else
            *len = onnx__model_proto__pack(&m, *buf);
    }
    arena_free(&a);
    return s;
}

rt_status onnx_export_file(const rt_graph *g, const char *path, rt_error *e)
{
    uint8_t *buf;
    size_t len;
    rt_status s = onnx_export_buffer(g, &buf, &len, e);
    if (s != RT_OK) {
        rt_error_prefix(e, "%s", path);
        return s;
    }
    s = rt_write_file(path, buf, len, e);
    free(buf);
    return s;
}
