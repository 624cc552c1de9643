/* gen_big_model.c -- m4npu-gen-big-model OUT.onnx MIB [--external]: a model with at least MIB
 * MiB of f32 weights, for measuring what a timing-only run costs in host memory (the test
 * test_timing_only_memory and the benchmark scripts/bench-timing-only-rss.sh). Nothing this
 * writes is committed.
 *
 * The model: x [batch, D] (batch symbolic) through BIG_LAYERS times MatMul by a [D, D] weight and
 * Relu, D the smallest multiple of BIG_DIM_STEP giving MIB MiB. Weights are embedded as raw_data
 * (the case protobuf-c would copy), or with --external written to OUT.onnx.bin and referenced
 * as ONNX external data. The file is packed straight to disk through a protobuf-c buffer whose
 * every layer's raw_data points at one shared pattern, so the generator itself holds one layer,
 * not the model. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onnx.pb-c.h"

#define BIG_LAYERS 8
#define BIG_DIM_STEP 64
#define BIG_OPSET 17
#define BIG_IR_VERSION 8
#define MIB_BYTES (1024.0 * 1024.0)
#define MAX_MIB (64 * 1024) /* 64 GiB */
#define PATTERN_SCALE 1e-3f

typedef struct file_buffer {
    ProtobufCBuffer base;
    FILE *f;
    int failed;
} file_buffer;

static void file_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
    file_buffer *fb = (file_buffer *)b;
    if (!fb->failed && fwrite(data, 1, len, fb->f) != len)
        fb->failed = 1;
}

static char *fmt(const char *f, int i)
{
    char buf[64];
    snprintf(buf, sizeof buf, f, i);
    return strdup(buf);
}

static Onnx__ValueInfoProto *value_info(const char *name, const char *batch, int64_t d)
{
    Onnx__ValueInfoProto *vi = malloc(sizeof *vi);
    Onnx__TypeProto *tp = malloc(sizeof *tp);
    Onnx__TypeProto__Tensor *tt = malloc(sizeof *tt);
    Onnx__TensorShapeProto *sp = malloc(sizeof *sp);
    Onnx__TensorShapeProto__Dimension **dims = malloc(2 * sizeof *dims);
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sp);
    for (int i = 0; i < 2; i++) {
        dims[i] = malloc(sizeof **dims);
        onnx__tensor_shape_proto__dimension__init(dims[i]);
    }
    dims[0]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    dims[0]->dim_param = strdup(batch);
    dims[1]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    dims[1]->dim_value = d;
    sp->n_dim = 2;
    sp->dim = dims;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->name = strdup(name);
    vi->type = tp;
    return vi;
}

static Onnx__NodeProto *node(const char *op, int i, char *in0, char *in1, char *out)
{
    Onnx__NodeProto *n = malloc(sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = strdup(op);
    n->name = fmt(op[0] == 'M' ? "matmul%d" : "relu%d", i);
    n->n_input = in1 ? 2 : 1;
    n->input = malloc(2 * sizeof *n->input);
    n->input[0] = in0;
    if (in1)
        n->input[1] = in1;
    n->n_output = 1;
    n->output = malloc(sizeof *n->output);
    n->output[0] = out;
    return n;
}

static Onnx__StringStringEntryProto *entry(const char *k, const char *v)
{
    Onnx__StringStringEntryProto *e = malloc(sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = strdup(k);
    e->value = strdup(v);
    return e;
}

int main(int argc, char **argv)
{
    int external = argc == 4 && strcmp(argv[3], "--external") == 0;
    char *end = NULL;
    long mib = argc >= 3 ? strtol(argv[2], &end, 10) : 0;
    if ((argc != 3 && !external) || !end || *end || mib < 1 || mib > MAX_MIB) {
        fprintf(stderr, "usage: m4npu-gen-big-model OUT.onnx MIB [--external]   (1 <= MIB <= %d)\n", MAX_MIB);
        return 2;
    }
    const char *out = argv[1];
    double per_layer = (double)mib * MIB_BYTES / BIG_LAYERS / sizeof(float);
    int64_t d = ((int64_t)ceil(sqrt(per_layer)) + BIG_DIM_STEP - 1) / BIG_DIM_STEP * BIG_DIM_STEP;
    size_t wbytes = (size_t)(d * d) * sizeof(float);
    float *pattern = malloc(wbytes);
    if (!pattern) {
        fprintf(stderr, "m4npu-gen-big-model: out of memory (%zu bytes)\n", wbytes);
        return 1;
    }
    for (int64_t i = 0; i < d * d; i++) /* small, varied values: a Relu MLP that stays finite */
        pattern[i] = (float)((int64_t)((uint64_t)i * 2654435761u % 2001) - 1000) * PATTERN_SCALE / (float)sqrt((double)d);

    Onnx__ModelProto m;
    Onnx__GraphProto gp;
    Onnx__OperatorSetIdProto ops;
    Onnx__OperatorSetIdProto *opp = &ops;
    onnx__model_proto__init(&m);
    onnx__graph_proto__init(&gp);
    onnx__operator_set_id_proto__init(&ops);
    ops.domain = strdup("");
    ops.has_version = 1;
    ops.version = BIG_OPSET;
    m.has_ir_version = 1;
    m.ir_version = BIG_IR_VERSION;
    m.producer_name = strdup("m4npu-gen-big-model");
    m.n_opset_import = 1;
    m.opset_import = &opp;
    m.graph = &gp;
    gp.name = strdup("big_mlp");
    gp.n_input = gp.n_output = 1;
    gp.input = malloc(sizeof *gp.input);
    gp.output = malloc(sizeof *gp.output);
    gp.input[0] = value_info("x", "batch", d);
    gp.output[0] = value_info("y", "batch", d);
    gp.n_initializer = BIG_LAYERS;
    gp.initializer = malloc(BIG_LAYERS * sizeof *gp.initializer);
    gp.n_node = 2 * BIG_LAYERS;
    gp.node = malloc(2 * BIG_LAYERS * sizeof *gp.node);
    char bin[4096];
    snprintf(bin, sizeof bin, "%s.bin", out);
    const char *bin_name = strrchr(bin, '/') ? strrchr(bin, '/') + 1 : bin;
    FILE *bf = external ? fopen(bin, "wb") : NULL;
    if (external && !bf) {
        fprintf(stderr, "m4npu-gen-big-model: %s: %s\n", bin, strerror(errno));
        return 3;
    }
    for (int i = 0; i < BIG_LAYERS; i++) {
        Onnx__TensorProto *t = malloc(sizeof *t);
        onnx__tensor_proto__init(t);
        t->name = fmt("w%d", i);
        t->n_dims = 2;
        t->dims = malloc(2 * sizeof *t->dims);
        t->dims[0] = t->dims[1] = d;
        t->has_data_type = 1;
        t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
        if (external) {
            char off[32];
            snprintf(off, sizeof off, "%zu", (size_t)i * wbytes);
            t->n_external_data = 2;
            t->external_data = malloc(2 * sizeof *t->external_data);
            t->external_data[0] = entry("location", bin_name);
            t->external_data[1] = entry("offset", off);
            t->has_data_location = 1;
            t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
            if (fwrite(pattern, 1, wbytes, bf) != wbytes) {
                fprintf(stderr, "m4npu-gen-big-model: %s: cannot write\n", bin);
                return 3;
            }
        } else {
            t->has_raw_data = 1;
            t->raw_data.len = wbytes;
            t->raw_data.data = (uint8_t *)pattern; /* shared: packed, never freed through t */
        }
        gp.initializer[i] = t;
        char *x = i ? fmt("r%d", i - 1) : strdup("x");
        gp.node[2 * i] = node("MatMul", i, x, fmt("w%d", i), fmt("m%d", i));
        gp.node[2 * i + 1] = node("Relu", i, fmt("m%d", i), NULL, i == BIG_LAYERS - 1 ? strdup("y") : fmt("r%d", i));
    }
    if (bf && fclose(bf) != 0) {
        fprintf(stderr, "m4npu-gen-big-model: %s: cannot write\n", bin);
        return 3;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", out, (int)getpid());
    file_buffer fb = {{file_append}, fopen(tmp, "wb"), 0};
    if (!fb.f) {
        fprintf(stderr, "m4npu-gen-big-model: %s: %s\n", tmp, strerror(errno));
        return 3;
    }
    onnx__model_proto__pack_to_buffer(&m, &fb.base);
    if (fclose(fb.f) != 0 || fb.failed || rename(tmp, out) != 0) {
        fprintf(stderr, "m4npu-gen-big-model: %s: cannot write\n", out);
        unlink(tmp);
        return 3;
    }
    printf("%s: %d layers of [%lld, %lld] f32 = %.1f MiB of weights%s\n", out, BIG_LAYERS, (long long)d, (long long)d,
           (double)wbytes * BIG_LAYERS / MIB_BYTES, external ? " in an external data file" : " embedded");
    for (int i = 0; i < BIG_LAYERS; i++) {
        gp.initializer[i]->raw_data.data = NULL; /* the shared pattern */
        onnx__tensor_proto__free_unpacked(gp.initializer[i], NULL);
    }
    for (size_t i = 0; i < gp.n_node; i++)
        onnx__node_proto__free_unpacked(gp.node[i], NULL);
    onnx__value_info_proto__free_unpacked(gp.input[0], NULL);
    onnx__value_info_proto__free_unpacked(gp.output[0], NULL);
    free(gp.initializer);
    free(gp.node);
    free(gp.input);
    free(gp.output);
    free(gp.name);
    free(ops.domain);
    free(m.producer_name);
    free(pattern);
    return 0;
}
