/* Where ONNX import takes tensor bytes from, and when it does not take them: large embedded
 * raw_data is skimmed out of the parse and copied from the model's bytes (the same values as a
 * plain parse), a timing-only import (no_weight_data) gives weights no data and reads neither
 * embedded nor external bytes (but still checks them: inside the model's directory, long
 * enough), a marker field that a file brings itself is never trusted, and external data that
 * escapes the model's directory through a symbolic link is refused. */
#include <math.h>
#include <sys/stat.h>

#include "test_util.h"

#include "onnx.pb-c.h"
#include "onnx_io.h"

#define BIG_ROWS 256
#define BIG_COLS 128 /* 128 KiB of f32: over ONNX_WEIGHT_MIN_BYTES */
#define SKIM_FIELD 536870000u /* onnx_internal.h's ONNX_SKIM_FIELD */

static float *big_values(void)
{
    float *w = malloc(BIG_ROWS * BIG_COLS * sizeof *w);
    for (int i = 0; i < BIG_ROWS * BIG_COLS; i++)
        w[i] = sinf((float)i * 0.01f);
    return w;
}

/* y = MatMul(x [2, 256], W [256, 128]) with W embedded, plus a small Reshape target */
static void big_model(uint8_t **buf, size_t *len)
{
    rt_graph *g = graph_create("big");
    float *w = big_values();
    graph_add_input(g, "x", RT_DT_F32, 2, (int64_t[]){2, BIG_ROWS});
    graph_add_constant(g, "W", RT_DT_F32, 2, (int64_t[]){BIG_ROWS, BIG_COLS}, w, BIG_ROWS * BIG_COLS * sizeof *w);
    int64_t target[2] = {4, BIG_COLS / 2};
    graph_add_constant(g, "target", RT_DT_I64, 1, (int64_t[]){2}, target, sizeof target);
    graph_add_node(g, "MatMul", "mm", 2, (const char *[]){"x", "W"}, 1, (const char *[]){"xw"});
    graph_add_node(g, "Reshape", "rs", 2, (const char *[]){"xw", "target"}, 1, (const char *[]){"y"});
    graph_mark_output(g, graph_find_tensor(g, "y"));
    rt_error e;
    assert_int_equal(onnx_export_buffer(g, buf, len, &e), RT_OK);
    graph_free(g);
    free(w);
}

static void import_ok(const uint8_t *buf, size_t len, const onnx_import_opts *o, rt_graph **g)
{
    rt_error e;
    if (onnx_import_buffer(buf, len, NULL, o, g, &e) != RT_OK)
        fail_msg("import: %s", e.msg);
}

static const rt_tensor *tensor(const rt_graph *g, const char *name)
{
    int t = graph_find_tensor(g, name);
    assert_true(t >= 0);
    return g->tensors[t];
}

static void test_skimmed_weights_have_their_values(void **state)
{
    (void)state;
    uint8_t *buf;
    size_t len;
    big_model(&buf, &len);
    rt_graph *g;
    import_ok(buf, len, NULL, &g);
    float *w = big_values();
    const rt_tensor *W = tensor(g, "W");
    assert_non_null(W->data);
    assert_memory_equal(W->data, w, BIG_ROWS * BIG_COLS * sizeof *w);
    graph_free(g);
    /* timing only: the weight has its shape and no data; the small target is read (shapes need it) */
    onnx_import_opts o = {.no_weight_data = true};
    import_ok(buf, len, &o, &g);
    W = tensor(g, "W");
    assert_null(W->data);
    assert_int_equal(W->dims[0], BIG_ROWS);
    assert_int_equal(W->kind, RT_TENSOR_CONSTANT);
    assert_non_null(tensor(g, "target")->data);
    const rt_tensor *y = tensor(g, "y");
    assert_int_equal(y->rank, 2);
    assert_int_equal(y->dims[0], 4); /* inferred through the Reshape */
    graph_free(g);
    free(w);
    free(buf);
}

/* A file that carries the skim's marker field itself, pointing at other bytes, gets its own
 * raw_data: the skim drops such fields, and an unskimmed parse never reads markers. */
static void test_marker_in_a_file_is_ignored(void **state)
{
    (void)state;
    uint8_t *buf;
    size_t len;
    big_model(&buf, &len);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
    assert_non_null(m);
    Onnx__TensorProto *t = NULL;
    for (size_t i = 0; i < m->graph->n_initializer; i++)
        if (strcmp(m->graph->initializer[i]->name, "target") == 0)
            t = m->graph->initializer[i];
    assert_non_null(t);
    static uint8_t marker[17]; /* offset 0, length 16: the file's first bytes (after protobuf-c's length prefix) */
    marker[0] = 16;
    marker[9] = 16;
    ProtobufCMessageUnknownField *u = malloc(sizeof *u);
    u->tag = SKIM_FIELD;
    u->wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
    u->len = sizeof marker;
    u->data = malloc(sizeof marker);
    memcpy(u->data, marker, sizeof marker);
    t->base.n_unknown_fields = 1;
    t->base.unknown_fields = u;
    size_t n = onnx__model_proto__get_packed_size(m);
    uint8_t *crafted = malloc(n);
    assert_int_equal(onnx__model_proto__pack(m, crafted), n);
    onnx__model_proto__free_unpacked(m, NULL);
    rt_graph *g;
    import_ok(crafted, n, NULL, &g);
    const int64_t *v = tensor(g, "target")->data;
    assert_int_equal(v[0], 4);
    assert_int_equal(v[1], BIG_COLS / 2);
    graph_free(g);
    free(crafted);
    free(buf);
}

/* small_linear with W [3,4] in external_data.bin (build/models), W made big here */
static void write_external_model(const char *dir, const char *bin_location)
{
    uint8_t *buf;
    size_t len;
    big_model(&buf, &len);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
    free(buf);
    Onnx__TensorProto *w = NULL;
    for (size_t i = 0; i < m->graph->n_initializer; i++)
        if (strcmp(m->graph->initializer[i]->name, "W") == 0)
            w = m->graph->initializer[i];
    char p[700];
    snprintf(p, sizeof p, "%s/weights.bin", dir);
    test_write_file(p, w->raw_data.data, w->raw_data.len);
    Onnx__StringStringEntryProto *loc = malloc(sizeof *loc);
    onnx__string_string_entry_proto__init(loc);
    loc->key = strdup("location");
    loc->value = strdup(bin_location);
    w->external_data = malloc(sizeof *w->external_data);
    w->external_data[0] = loc;
    w->n_external_data = 1;
    w->has_raw_data = 0;
    w->has_data_location = 1;
    w->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    size_t n = onnx__model_proto__get_packed_size(m);
    uint8_t *out = malloc(n);
    onnx__model_proto__pack(m, out);
    snprintf(p, sizeof p, "%s/model.onnx", dir);
    test_write_file(p, out, n);
    free(out);
    onnx__model_proto__free_unpacked(m, NULL);
}

static void test_external_data_checked_but_not_read_when_timing_only(void **state)
{
    (void)state;
    char dir[512], model[700], bin[700];
    test_path(dir, sizeof dir, "ext");
    mkdir(dir, 0755);
    write_external_model(dir, "weights.bin");
    snprintf(model, sizeof model, "%s/model.onnx", dir);
    snprintf(bin, sizeof bin, "%s/weights.bin", dir);
    rt_graph *g;
    rt_error e;
    assert_int_equal(onnx_import_file(model, NULL, &g, &e), RT_OK);
    float *w = big_values();
    assert_memory_equal(tensor(g, "W")->data, w, BIG_ROWS * BIG_COLS * sizeof *w);
    graph_free(g);
    free(w);
    onnx_import_opts o = {.no_weight_data = true};
    assert_int_equal(onnx_import_file(model, &o, &g, &e), RT_OK);
    assert_null(tensor(g, "W")->data);
    graph_free(g);
    /* unreadable bytes do not matter when they are not read ... */
    assert_int_equal(chmod(bin, 0), 0);
    if (access(bin, R_OK) != 0) { /* (root reads anyway) */
        assert_int_equal(onnx_import_file(model, &o, &g, &e), RT_OK);
        graph_free(g);
    }
    assert_int_equal(chmod(bin, 0644), 0);
    /* ... but a file too short for the tensor is an error either way */
    assert_int_equal(truncate(bin, 1000), 0);
    assert_int_equal(onnx_import_file(model, &o, &g, &e), RT_ERR_DATA_SIZE);
    assert_non_null(strstr(e.msg, "initializer 'W': external data file"));
    assert_non_null(strstr(e.msg, "has fewer than 131072 bytes at offset 0"));
}

static void test_external_data_escaping_by_symlink(void **state)
{
    (void)state;
    char dir[512], outside[512], link[700], model[700];
    test_path(dir, sizeof dir, "esc");
    test_path(outside, sizeof outside, "outside.bin");
    mkdir(dir, 0755);
    write_external_model(dir, "link.bin");
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "mv %s/weights.bin %s", dir, outside);
    assert_int_equal(test_run(NULL, 0, "%s", cmd), 0);
    snprintf(link, sizeof link, "%s/link.bin", dir);
    assert_int_equal(symlink(outside, link), 0);
    snprintf(model, sizeof model, "%s/model.onnx", dir);
    rt_graph *g;
    rt_error e;
    onnx_import_opts o = {.no_weight_data = true};
    for (int timing = 0; timing < 2; timing++) {
        assert_int_equal(onnx_import_file(model, timing ? &o : NULL, &g, &e), RT_ERR_UNSUPPORTED);
        assert_non_null(strstr(e.msg, "initializer 'W': external data file"));
        assert_non_null(strstr(e.msg, "outside the model's directory"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skimmed_weights_have_their_values),
        cmocka_unit_test(test_marker_in_a_file_is_ignored),
        cmocka_unit_test(test_external_data_checked_but_not_read_when_timing_only),
        cmocka_unit_test(test_external_data_escaping_by_symlink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
