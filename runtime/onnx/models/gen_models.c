/* gen_models.c -- m4npu-gen-models OUTDIR: writes the test models at build time.
 *
 *   encoder_block.onnx   the transformer encoder block (encoder_block.h), fixed-seed weights
 *   mobilenet_v2_bn.onnx a MobileNet-v2-class CNN with explicit BatchNormalization (cnn_models.h)
 *   resnet_bn.onnx       a ResNet-class CNN with explicit BatchNormalization (cnn_models.h)
 *   typed_fields.onnx    valid; initializers in float_data / int64_data instead of raw_data
 *   constant_nodes.onnx  valid; constants as Constant nodes (value, value_float, value_ints)
 *   external_data.onnx   valid; a weight in external_data.bin beside it
 *   truncated.onnx       the encoder block cut in half
 *   garbage.onnx         bytes that are no protobuf
 *   wrong_size.onnx      initializer 'W' with 4 bytes less raw_data than its shape needs
 *   bad_dims.onnx        initializer 'W' with a negative dimension
 *   huge_dims.onnx       initializer 'W' whose element count overflows
 *   cycle.onnx           nodes 'relu_a' and 'add_b' feeding each other
 *   unknown_op.onnx      node 'fancy1' of op 'FancyOp'
 *   unknown_ops3.onnx    three ops without a kernel: FancyOp (two nodes), com.example's Frobnicate
 *                        and, inside an If's then_branch, Mystery: one error names all three
 *   missing_input.onnx   node 'add_ghost' reading 'ghost', which nothing defines
 *
 * The corrupted files start from valid exports and are altered message by message with the
 * generated protobuf-c code, so each carries exactly one defect. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_models.h"
#include "encoder_block.h"
#include "onnx.pb-c.h"
#include "onnx_io.h"

#define GARBAGE_BYTES 4096
#define GARBAGE_SEED UINT64_C(0x6761726261676521)
#define HUGE_DIM (INT64_C(1) << 40)

static const char *outdir;

static int fail(const char *what, const rt_error *e)
{
    fprintf(stderr, "m4npu-gen-models: %s: %s\n", what, e->msg);
    return 1;
}

static void path_of(char *buf, size_t n, const char *file)
{
    snprintf(buf, n, "%s/%s", outdir, file);
}

static int write_bytes(const char *file, const uint8_t *b, size_t len)
{
    char p[4096];
    rt_error e;
    path_of(p, sizeof p, file);
    return rt_write_file(p, b, len, &e) == RT_OK ? 0 : fail(file, &e);
}

static int write_graph(const char *file, const rt_graph *g)
{
    char p[4096];
    rt_error e;
    path_of(p, sizeof p, file);
    return onnx_export_file(g, p, &e) == RT_OK ? 0 : fail(file, &e);
}

/* y = MatMul(x, W) + b, x [2,3], W [3,4], b [4] (with data) */
static rt_graph *small_linear(void)
{
    rt_graph *g = graph_create("small_linear");
    float w[12], b[4];
    for (int i = 0; i < 12; i++)
        w[i] = (float)(i - 6) * 0.25f;
    for (int i = 0; i < 4; i++)
        b[i] = (float)i;
    graph_add_input(g, "x", RT_DT_F32, 2, (int64_t[]){2, 3});
    graph_add_constant(g, "W", RT_DT_F32, 2, (int64_t[]){3, 4}, w, sizeof w);
    graph_add_constant(g, "b", RT_DT_F32, 1, (int64_t[]){4}, b, sizeof b);
    graph_add_node(g, "MatMul", "mm", 2, (const char *[]){"x", "W"}, 1, (const char *[]){"xw"});
    graph_add_node(g, "Add", "add", 2, (const char *[]){"xw", "b"}, 1, (const char *[]){"y"});
    graph_mark_output(g, graph_find_tensor(g, "y"));
    return g;
}

/* Export g, let `mutate` change the message, write it. */
static int write_mutated(const char *file, const rt_graph *g, void (*mutate)(Onnx__ModelProto *))
{
    uint8_t *buf;
    size_t len;
    rt_error e;
    if (onnx_export_buffer(g, &buf, &len, &e) != RT_OK)
        return fail(file, &e);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
    free(buf);
    if (!m) {
        fprintf(stderr, "m4npu-gen-models: %s: cannot re-read the export\n", file);
        return 1;
    }
    mutate(m);
    size_t n = onnx__model_proto__get_packed_size(m);
    uint8_t *out = malloc(n);
    int rc = 1;
    if (out) {
        onnx__model_proto__pack(m, out);
        rc = write_bytes(file, out, n);
    }
    free(out);
    onnx__model_proto__free_unpacked(m, NULL);
    return rc;
}

static Onnx__TensorProto *initializer(Onnx__ModelProto *m, const char *name)
{
    for (size_t i = 0; i < m->graph->n_initializer; i++)
        if (strcmp(m->graph->initializer[i]->name, name) == 0)
            return m->graph->initializer[i];
    return NULL;
}

static void shorten_w(Onnx__ModelProto *m)
{
    initializer(m, "W")->raw_data.len -= 4;
}

static void negative_dim_w(Onnx__ModelProto *m)
{
    initializer(m, "W")->dims[0] = -3;
}

static void huge_dims_w(Onnx__ModelProto *m)
{
    Onnx__TensorProto *w = initializer(m, "W");
    w->dims[0] = HUGE_DIM;
    w->dims[1] = HUGE_DIM;
}

/* Mutations allocate with malloc: protobuf-c's free_unpacked frees every field it finds. */
static void *dup_bytes(const void *p, size_t n)
{
    void *q = malloc(n);
    if (q)
        memcpy(q, p, n);
    return q;
}

/* raw_data -> float_data for W and b */
static void to_typed_fields(Onnx__ModelProto *m)
{
    Onnx__TensorProto *w = initializer(m, "W"), *b = initializer(m, "b");
    w->float_data = dup_bytes(w->raw_data.data, 12 * sizeof(float));
    w->n_float_data = w->float_data ? 12 : 0;
    b->float_data = dup_bytes(b->raw_data.data, 4 * sizeof(float));
    b->n_float_data = b->float_data ? 4 : 0;
    w->has_raw_data = b->has_raw_data = 0; /* raw_data.data is still freed with the message */
}

/* typed_fields also needs an int64_data initializer: a Reshape target */
static rt_graph *reshape_linear(void)
{
    rt_graph *g = small_linear();
    int64_t shape[2] = {4, 2};
    graph_add_constant(g, "target", RT_DT_I64, 1, (int64_t[]){2}, shape, sizeof shape);
    graph_add_node(g, "Reshape", "reshape", 2, (const char *[]){"y", "target"}, 1, (const char *[]){"z"});
    g->n_outputs = 0;
    graph_mark_output(g, graph_find_tensor(g, "z"));
    return g;
}

static void to_typed_fields_i64(Onnx__ModelProto *m)
{
    to_typed_fields(m);
    Onnx__TensorProto *t = initializer(m, "target");
    t->int64_data = dup_bytes(t->raw_data.data, 2 * sizeof(int64_t));
    t->n_int64_data = t->int64_data ? 2 : 0;
    t->has_raw_data = 0;
}

/* W into external_data.bin */
static void to_external(Onnx__ModelProto *m)
{
    Onnx__TensorProto *w = initializer(m, "W");
    write_bytes("external_data.bin", w->raw_data.data, w->raw_data.len);
    Onnx__StringStringEntryProto *loc = malloc(sizeof *loc);
    Onnx__StringStringEntryProto **kv = malloc(sizeof *kv);
    if (!loc || !kv) {
        free(loc);
        free(kv);
        return;
    }
    onnx__string_string_entry_proto__init(loc);
    loc->key = strdup("location");
    loc->value = strdup("external_data.bin");
    kv[0] = loc;
    w->has_raw_data = 0;
    w->n_external_data = 1;
    w->external_data = kv;
    w->has_data_location = 1;
    w->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
}

/* y = (x * c_float + c_tensor) reshaped by c_ints: three kinds of Constant node */
static rt_graph *constant_nodes(void)
{
    rt_graph *g = graph_create("constant_nodes");
    graph_add_input(g, "x", RT_DT_F32, 2, (int64_t[]){2, 3});
    int n = graph_add_node(g, "Constant", "c_float", 0, NULL, 1, (const char *[]){"two"});
    graph_node_set_float(g, n, "value_float", 2.0f);
    float bias[3] = {1, 2, 3};
    rt_tensor *t = rt_tensor_new("bias", RT_DT_F32, 1, (int64_t[]){3});
    rt_tensor_alloc(t, NULL);
    memcpy(t->data, bias, sizeof bias);
    n = graph_add_node(g, "Constant", "c_tensor", 0, NULL, 1, (const char *[]){"bias"});
    graph_node_set_tensor(g, n, "value", t);
    n = graph_add_node(g, "Constant", "c_ints", 0, NULL, 1, (const char *[]){"shape"});
    graph_node_set_ints(g, n, "value_ints", 2, (int64_t[]){3, 2});
    graph_add_node(g, "Mul", "mul", 2, (const char *[]){"x", "two"}, 1, (const char *[]){"x2"});
    graph_add_node(g, "Add", "add", 2, (const char *[]){"x2", "bias"}, 1, (const char *[]){"x2b"});
    graph_add_node(g, "Reshape", "reshape", 2, (const char *[]){"x2b", "shape"}, 1, (const char *[]){"y"});
    graph_mark_output(g, graph_find_tensor(g, "y"));
    return g;
}

static rt_graph *cycle(void)
{
    rt_graph *g = graph_create("cycle");
    graph_add_input(g, "x", RT_DT_F32, 1, (int64_t[]){4});
    graph_add_node(g, "Relu", "relu_a", 1, (const char *[]){"b_out"}, 1, (const char *[]){"a_out"});
    graph_add_node(g, "Add", "add_b", 2, (const char *[]){"x", "a_out"}, 1, (const char *[]){"b_out"});
    graph_add_node(g, "Neg", "neg_c", 1, (const char *[]){"b_out"}, 1, (const char *[]){"y"});
    graph_mark_output(g, graph_find_tensor(g, "y"));
    return g;
}

static rt_graph *unknown_op(void)
{
    rt_graph *g = graph_create("unknown_op");
    graph_add_input(g, "x", RT_DT_F32, 1, (int64_t[]){4});
    graph_add_node(g, "Relu", "relu", 1, (const char *[]){"x"}, 1, (const char *[]){"r"});
    graph_add_node(g, "FancyOp", "fancy1", 1, (const char *[]){"r"}, 1, (const char *[]){"y"});
    graph_mark_output(g, graph_find_tensor(g, "y"));
    return g;
}

/* three unknown ops, one of them in a subgraph */
static rt_graph *unknown_ops3(void)
{
    rt_graph *g = graph_create("unknown_ops3");
    graph_add_input(g, "x", RT_DT_F32, 1, (int64_t[]){4});
    graph_add_input(g, "c", RT_DT_BOOL, 0, NULL);
    graph_add_node(g, "FancyOp", "fancy1", 1, (const char *[]){"x"}, 1, (const char *[]){"f1"});
    graph_add_node_domain(g, "com.example", "Frobnicate", "frob", 1, (const char *[]){"f1"}, 1, (const char *[]){"f2"});
    graph_add_node(g, "FancyOp", "fancy2", 1, (const char *[]){"f2"}, 1, (const char *[]){"f3"});
    rt_graph *then_b = graph_create("then_b"), *else_b = graph_create("else_b");
    graph_add_node(then_b, "Mystery", "mystery", 1, (const char *[]){"f3"}, 1, (const char *[]){"t"});
    graph_mark_output(then_b, graph_find_tensor(then_b, "t"));
    graph_add_node(else_b, "Relu", "relu", 1, (const char *[]){"f3"}, 1, (const char *[]){"e"});
    graph_mark_output(else_b, graph_find_tensor(else_b, "e"));
    int n = graph_add_node(g, "If", "branch", 1, (const char *[]){"c"}, 1, (const char *[]){"y"});
    graph_node_set_graph(g, n, "then_branch", then_b);
    graph_node_set_graph(g, n, "else_branch", else_b);
    graph_mark_output(g, graph_find_tensor(g, "y"));
    graph_set_opset(g, "", RT_DEFAULT_OPSET);
    graph_set_opset(g, "com.example", 1);
    return g;
}

static rt_graph *missing_input(void)
{
    rt_graph *g = graph_create("missing_input");
    graph_add_input(g, "x", RT_DT_F32, 1, (int64_t[]){4});
    graph_add_node(g, "Add", "add_ghost", 2, (const char *[]){"x", "ghost"}, 1, (const char *[]){"y"});
    graph_mark_output(g, graph_find_tensor(g, "y"));
    return g;
}

static int write_and_free(const char *file, rt_graph *g)
{
    if (!g || graph_last_error(g)->code != RT_OK) {
        fprintf(stderr, "m4npu-gen-models: %s: %s\n", file, g ? graph_last_error(g)->msg : "out of memory");
        graph_free(g);
        return 1;
    }
    int rc = write_graph(file, g);
    graph_free(g);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: m4npu-gen-models OUTDIR\n");
        return 2;
    }
    outdir = argv[1];
    rt_error e;
    encoder_block_cfg cfg = ENCODER_BLOCK_DEFAULT;
    rt_graph *enc = model_encoder_block(&cfg, true, &e);
    if (!enc)
        return fail("encoder block", &e);
    uint8_t *buf;
    size_t len;
    if (onnx_export_buffer(enc, &buf, &len, &e) != RT_OK)
        return fail("encoder block", &e);
    graph_free(enc);
    int rc = write_bytes("encoder_block.onnx", buf, len);
    rc |= write_bytes("truncated.onnx", buf, len / 2);
    free(buf);

    uint8_t garbage[GARBAGE_BYTES];
    uint64_t s = GARBAGE_SEED;
    for (size_t i = 0; i < sizeof garbage; i++) {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        garbage[i] = (uint8_t)(z >> 56);
    }
    garbage[0] = 0x0f; /* field 1 with wire type 7, which does not exist: never a valid message */
    rc |= write_bytes("garbage.onnx", garbage, sizeof garbage);

    rt_graph *lin = small_linear();
    rc |= write_mutated("wrong_size.onnx", lin, shorten_w);
    rc |= write_mutated("bad_dims.onnx", lin, negative_dim_w);
    rc |= write_mutated("huge_dims.onnx", lin, huge_dims_w);
    rc |= write_mutated("external_data.onnx", lin, to_external);
    graph_free(lin);
    rt_graph *rl = reshape_linear();
    rc |= write_mutated("typed_fields.onnx", rl, to_typed_fields_i64);
    graph_free(rl);
    rc |= write_and_free("constant_nodes.onnx", constant_nodes());
    rc |= write_and_free("cycle.onnx", cycle());
    rc |= write_and_free("unknown_op.onnx", unknown_op());
    rc |= write_and_free("unknown_ops3.onnx", unknown_ops3());
    rc |= write_and_free("missing_input.onnx", missing_input());
    rt_graph *cnn = model_mobilenet_v2_bn(true, &e);
    rc |= cnn ? write_and_free("mobilenet_v2_bn.onnx", cnn) : fail("mobilenet_v2_bn.onnx", &e);
    cnn = model_resnet_bn(true, &e);
    rc |= cnn ? write_and_free("resnet_bn.onnx", cnn) : fail("resnet_bn.onnx", &e);
    return rc;
}
