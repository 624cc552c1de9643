/* The .npy reader and writer: round trips of every type and rank, the exact layout numpy writes,
 * big-endian, Fortran order and version 2.0 input, and every malformed file with its message
 * (run under ASan in the sanitizer build: no input crashes the reader). */
#include "test_util.h"

#include "npy.h"

/* A .npy image with the given header text, padded as numpy pads, then `data`. */
static uint8_t *image(int major, const char *dict, const void *data, size_t dlen, size_t *len)
{
    size_t pre = major == 1 ? 10 : 12, hl = strlen(dict) + 1;
    size_t total = (pre + hl + 63) / 64 * 64;
    hl = total - pre;
    uint8_t *b = malloc(total + dlen + 1);
    assert_non_null(b);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)major;
    b[7] = 0;
    if (major == 1) {
        b[8] = (uint8_t)(hl & 0xff);
        b[9] = (uint8_t)(hl >> 8);
    } else {
        b[8] = (uint8_t)(hl & 0xff);
        b[9] = (uint8_t)(hl >> 8);
        b[10] = b[11] = 0;
    }
    memset(b + pre, ' ', hl);
    memcpy(b + pre, dict, strlen(dict));
    b[total - 1] = '\n';
    if (dlen)
        memcpy(b + total, data, dlen);
    *len = total + dlen;
    return b;
}

static bool contains(const uint8_t *buf, size_t len, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, s, n) == 0)
            return true;
    return false;
}

static void expect_error(const uint8_t *buf, size_t len, rt_status code, const char *msg)
{
    rt_tensor *t = (rt_tensor *)0x1;
    rt_error e;
    rt_status s = npy_read_buffer(buf, len, "in.npy", "x", &t, &e);
    if (s != code)
        fail_msg("status %d (%s), want %d", s, s ? e.msg : "ok", code);
    assert_null(t);
    if (strcmp(e.msg, msg) != 0)
        fail_msg("\n  got  %s\n  want %s", e.msg, msg);
}

static void expect_dict_error(const char *dict, size_t dlen, rt_status code, const char *msg)
{
    static const uint8_t zeros[64];
    size_t len;
    uint8_t *b = image(1, dict, zeros, dlen, &len);
    expect_error(b, len, code, msg);
    free(b);
}

static void test_writer_layout(void **state)
{
    (void)state;
    rt_tensor *t = rt_tensor_new("y", RT_DT_F32, 2, (int64_t[]){2, 3});
    assert_int_equal(rt_tensor_alloc(t, NULL), RT_OK);
    for (int i = 0; i < 6; i++)
        ((float *)t->data)[i] = (float)i - 2.5f;
    uint8_t *buf;
    size_t len;
    rt_error e;
    assert_int_equal(npy_write_buffer(t, &buf, &len, &e), RT_OK);
    static const char want[] = "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    assert_memory_equal(buf, want, sizeof want - 1);
    assert_int_equal(len, 128 + 24); /* header padded to 128 bytes, as numpy does */
    assert_int_equal(buf[127], '\n');
    for (size_t i = sizeof want - 1; i < 127; i++)
        assert_int_equal(buf[i], ' ');
    assert_memory_equal(buf + 128, t->data, 24);
    free(buf);
    rt_tensor_free(t);

    /* one dimension: (5,); a scalar: () */
    t = rt_tensor_new("v", RT_DT_I64, 1, (int64_t[]){5});
    assert_int_equal(rt_tensor_alloc(t, NULL), RT_OK);
    assert_int_equal(npy_write_buffer(t, &buf, &len, &e), RT_OK);
    assert_true(contains(buf, len, "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }"));
    free(buf);
    rt_tensor_free(t);
    t = rt_tensor_new("s", RT_DT_U8, 0, NULL);
    assert_int_equal(rt_tensor_alloc(t, NULL), RT_OK);
    assert_int_equal(npy_write_buffer(t, &buf, &len, &e), RT_OK);
    assert_true(contains(buf, len, "{'descr': '|u1', 'fortran_order': False, 'shape': (), }"));
    assert_int_equal(len, 128 + 1);
    free(buf);
    rt_tensor_free(t);

    /* types numpy has no code for, and tensors without data */
    t = rt_tensor_new("b", RT_DT_BF16, 1, (int64_t[]){2});
    assert_int_equal(rt_tensor_alloc(t, NULL), RT_OK);
    assert_int_equal(npy_write_buffer(t, &buf, &len, &e), RT_ERR_DTYPE);
    assert_string_equal(e.msg, "tensor 'b': bf16 has no .npy type");
    rt_tensor_free(t);
    t = rt_tensor_new("n", RT_DT_F32, 1, (int64_t[]){2});
    assert_int_equal(npy_write_buffer(t, &buf, &len, &e), RT_ERR_NO_DATA);
    rt_tensor_free(t);
}

static void test_round_trips(void **state)
{
    (void)state;
    const rt_dtype types[] = {RT_DT_F32, RT_DT_F64, RT_DT_F16, RT_DT_I8,  RT_DT_I16,  RT_DT_I32,
                              RT_DT_I64, RT_DT_U8,  RT_DT_U16, RT_DT_U32, RT_DT_U64, RT_DT_BOOL};
    test_rng r = {0x4e5059};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        for (int rank = 0; rank <= 4; rank++) {
            int64_t dims[4];
            for (int d = 0; d < rank; d++)
                dims[d] = test_rng_range(&r, 0, 4);
            rt_tensor *t = rt_tensor_new("t", types[k], rank, dims);
            assert_int_equal(rt_tensor_alloc(t, NULL), RT_OK);
            for (uint64_t i = 0; i < t->data_bytes; i++)
                ((uint8_t *)t->data)[i] = types[k] == RT_DT_BOOL ? (uint8_t)(i & 1) : (uint8_t)test_rng_next(&r);
            char path[256];
            test_path(path, sizeof path, "rt.npy");
            rt_error e;
            assert_int_equal(npy_write_file(t, path, &e), RT_OK);
            rt_tensor *back;
            if (npy_read_file(path, "back", &back, &e) != RT_OK)
                fail_msg("%s", e.msg);
            assert_int_equal(back->dtype, t->dtype);
            assert_int_equal(back->rank, rank);
            assert_memory_equal(back->dims, t->dims, (size_t)rank * sizeof dims[0]);
            assert_int_equal(back->data_bytes, t->data_bytes);
            if (t->data_bytes)
                assert_memory_equal(back->data, t->data, t->data_bytes);
            assert_string_equal(back->name, "back");
            rt_tensor_free(back);
            rt_tensor_free(t);
        }
    }
}

static void test_big_endian_fortran_and_v2(void **state)
{
    (void)state;
    /* >f4 [2] = {1.0, -2.0} */
    const uint8_t be[] = {0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0};
    size_t len;
    uint8_t *b = image(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", be, sizeof be, &len);
    rt_tensor *t;
    rt_error e;
    assert_int_equal(npy_read_buffer(b, len, "be.npy", "x", &t, &e), RT_OK);
    assert_true(((float *)t->data)[0] == 1.0f && ((float *)t->data)[1] == -2.0f);
    rt_tensor_free(t);
    free(b);
    /* Fortran order [2, 3]: column-major 0 3 1 4 2 5 is row-major 0 1 2 3 4 5 */
    const int32_t col[] = {0, 3, 1, 4, 2, 5};
    b = image(1, "{'fortran_order': True, 'shape': (2, 3), 'descr': '<i4'}", col, sizeof col, &len);
    assert_int_equal(npy_read_buffer(b, len, "f.npy", "x", &t, &e), RT_OK);
    for (int i = 0; i < 6; i++)
        assert_int_equal(((int32_t *)t->data)[i], i);
    rt_tensor_free(t);
    free(b);
    /* version 2.0 (4-byte header length), double quotes, no trailing comma */
    const uint8_t one = 1;
    b = image(2, "{\"descr\": \"|b1\", \"fortran_order\": False, \"shape\": (1,)}", &one, 1, &len);
    assert_int_equal(npy_read_buffer(b, len, "v2.npy", "x", &t, &e), RT_OK);
    assert_int_equal(t->dtype, RT_DT_BOOL);
    rt_tensor_free(t);
    free(b);
}

static void test_malformed_files(void **state)
{
    (void)state;
    expect_error((const uint8_t *)"PK\x03\x04 a zip file", 17, RT_ERR_PARSE,
                 "in.npy: not a .npy file (it does not start with \\x93NUMPY)");
    expect_error((const uint8_t *)"\x93NUMPY\x01", 7, RT_ERR_PARSE,
                 "in.npy: truncated .npy file (7 bytes; the preamble alone needs 10)");
    expect_error((const uint8_t *)"\x93NUMPY\x04\x00\x10\x00{}", 12, RT_ERR_PARSE,
                 "in.npy: .npy version 4.0 is not supported (expected 1.0, 2.0 or 3.0)");
    expect_error((const uint8_t *)"\x93NUMPY\x01\x00\x40\x00{'descr'", 17, RT_ERR_PARSE,
                 "in.npy: truncated .npy file: the header claims 64 bytes, 7 remain");
    expect_dict_error("[1, 2]", 0, RT_ERR_PARSE,
                      "in.npy: .npy header: expected a dict {'descr': ..., 'fortran_order': ..., 'shape': ...} at "
                      "column 1 (near \"[1, 2]\")");
    expect_dict_error("{'descr': '<f4', 'shape': (1,), }", 4, RT_ERR_PARSE,
                      "in.npy: .npy header: the key 'fortran_order' is missing");
    expect_dict_error("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", 4, RT_ERR_PARSE,
                      "in.npy: .npy header: unknown key 'extra'; expected descr, fortran_order, shape");
    expect_dict_error("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4, RT_ERR_PARSE,
                      "in.npy: .npy header: 'descr' given twice at column 26 (near \" '<f4', 'fortran_order'\")");
    expect_dict_error("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", 4, RT_ERR_PARSE,
                      "in.npy: .npy header: fortran_order: expected True or False at column 35 (near \"0, 'shape': "
                      "(1,)}\")");
    expect_dict_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}", 4, RT_ERR_PARSE,
                      "in.npy: .npy header: shape: a negative dimension at column 55 (near \"-3)}\")");
    expect_dict_error("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", 4, RT_ERR_PARSE,
                      "in.npy: .npy header: shape: more dimensions than the IR's maximum rank 8 at column 68 (near "
                      "\"1)}\")");
    expect_dict_error("{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}", 8, RT_ERR_DTYPE,
                      "in.npy: .npy descr '<c8': complex numbers are not supported; expected f2, f4, f8, i1, i2, i4, "
                      "i8, u1, u2, u4, u8 or b1");
    expect_dict_error("{'descr': '|O', 'fortran_order': False, 'shape': (1,)}", 8, RT_ERR_DTYPE,
                      "in.npy: .npy descr '|O': Python objects are not supported; expected f2, f4, f8, i1, i2, i4, "
                      "i8, u1, u2, u4, u8 or b1");
    expect_dict_error("{'descr': '<U5', 'fortran_order': False, 'shape': (1,)}", 20, RT_ERR_DTYPE,
                      "in.npy: .npy descr '<U5': unicode strings are not supported; expected f2, f4, f8, i1, i2, i4, "
                      "i8, u1, u2, u4, u8 or b1");
    expect_dict_error("{'descr': 'f4', 'fortran_order': False, 'shape': (1,)}", 4, RT_ERR_DTYPE,
                      "in.npy: .npy descr 'f4': expected a byte order '<', '>', '|' or '='");
    expect_dict_error("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", 4, RT_ERR_PARSE,
                      "in.npy: .npy header: descr: structured arrays (a list of fields) are not supported at column "
                      "11 (near \"[('a', '<f4')], 'fortra\")");
    expect_dict_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", 20, RT_ERR_DATA_SIZE,
                      "in.npy: truncated .npy data: 20 bytes, but shape [2,3] of f32 needs 24");
    expect_dict_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", 28, RT_ERR_DATA_SIZE,
                      "in.npy: 4 bytes of data after the array (shape [2,3] of f32 needs 24)");
    expect_dict_error("{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, 1048576, 1048576)}", 0,
                      RT_ERR_LIMIT, "in.npy: the .npy shape: element count overflows (dimension 2 = 1048576; limit 2^48 elements)");
    /* a bool that is neither 0 nor 1 */
    const uint8_t two[] = {0, 2};
    size_t len;
    uint8_t *b = image(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,)}", two, 2, &len);
    expect_error(b, len, RT_ERR_PARSE, "in.npy: element 1 of a bool .npy array is 2, not 0 or 1");
    free(b);
    /* files */
    rt_tensor *t;
    rt_error e;
    assert_int_equal(npy_read_file("/nonexistent/in.npy", "x", &t, &e), RT_ERR_IO);
    assert_string_equal(e.msg, "/nonexistent/in.npy: cannot open: No such file or directory");
    rt_tensor *v = rt_tensor_new("v", RT_DT_F32, 1, (int64_t[]){1});
    assert_int_equal(rt_tensor_alloc(v, NULL), RT_OK);
    assert_int_equal(npy_write_file(v, "/nonexistent/dir/out.npy", &e), RT_ERR_IO);
    assert_string_equal(e.msg, "/nonexistent/dir/out.npy: cannot create: the directory /nonexistent/dir does not exist");
    rt_tensor_free(v);
}

/* Every prefix of a valid file, and random byte flips: an error or a tensor, never a crash. */
static void test_truncations_and_mutations(void **state)
{
    (void)state;
    rt_tensor *t = rt_tensor_new("y", RT_DT_F32, 3, (int64_t[]){1, 4, 5});
    assert_int_equal(rt_tensor_alloc(t, NULL), RT_OK);
    uint8_t *buf;
    size_t len;
    rt_error e;
    assert_int_equal(npy_write_buffer(t, &buf, &len, &e), RT_OK);
    for (size_t cut = 0; cut < len; cut++) {
        rt_tensor *x = NULL;
        assert_int_not_equal(npy_read_buffer(buf, cut, "cut.npy", "x", &x, &e), RT_OK);
        assert_null(x);
        assert_true(strncmp(e.msg, "cut.npy: ", 9) == 0);
    }
    test_rng r = {0xf11};
    uint8_t *m = malloc(len);
    assert_non_null(m);
    int ok = 0;
    for (int i = 0; i < 3000; i++) {
        memcpy(m, buf, len);
        int flips = (int)test_rng_range(&r, 1, 4);
        for (int f = 0; f < flips; f++)
            m[test_rng_range(&r, 0, 127)] = (uint8_t)test_rng_next(&r);
        rt_tensor *x = NULL;
        if (npy_read_buffer(m, len, "m.npy", "x", &x, &e) == RT_OK) {
            ok++;
            assert_true(x->data_bytes == rt_tensor_nbytes(x));
            rt_tensor_free(x);
        } else {
            assert_true(strncmp(e.msg, "m.npy: ", 7) == 0);
        }
    }
    assert_true(ok > 0); /* flips in the padding are harmless */
    free(m);
    free(buf);
    rt_tensor_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_layout),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_big_endian_fortran_and_v2),
        cmocka_unit_test(test_malformed_files),
        cmocka_unit_test(test_truncations_and_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
