/* rt_read_file / rt_write_file: the one place every layer reads and writes whole files. A read
 * returns the bytes NUL-terminated and stops at the size limit with a message naming the file; a
 * write is all or nothing: on failure the old file is untouched and no temporary is left. */
#include <dirent.h>
#include <sys/stat.h>

#include "test_util.h"

#include "graph.h"

/* Number of entries in dir whose name starts with prefix. */
static int count_prefixed(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *de; (de = readdir(d));)
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void test_round_trip_across_buffer_growth(void **state)
{
    (void)state;
    /* 200,000 bytes crosses the reader's 64 KiB first buffer twice */
    size_t n = 200000;
    uint8_t *data = malloc(n);
    assert_non_null(data);
    test_rng r = {42};
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)test_rng_next(&r);
    char p[512];
    test_path(p, sizeof p, "big.bin");
    rt_error e;
    assert_int_equal(rt_write_file(p, data, n, &e), RT_OK);
    uint8_t *back;
    size_t len;
    assert_int_equal(rt_read_file(p, 0, NULL, &back, &len, &e), RT_OK);
    assert_int_equal(len, n);
    assert_memory_equal(back, data, n);
    assert_int_equal(back[n], 0);
    free(back);
    free(data);

    test_path(p, sizeof p, "empty.bin");
    assert_int_equal(rt_write_file(p, "", 0, &e), RT_OK);
    assert_int_equal(rt_read_file(p, 0, NULL, &back, &len, &e), RT_OK);
    assert_int_equal(len, 0);
    assert_int_equal(back[0], 0);
    free(back);
}

static void test_read_limit_and_missing_file(void **state)
{
    (void)state;
    char p[512], want[700];
    test_path(p, sizeof p, "limit.txt");
    test_write_file(p, "0123456789", 10);
    rt_error e;
    uint8_t *buf = (uint8_t *)"not touched";
    size_t len = 99;
    assert_int_equal(rt_read_file(p, 10, "a test input", &buf, &len, &e), RT_OK); /* exactly the limit */
    assert_int_equal(len, 10);
    free(buf);
    assert_int_equal(rt_read_file(p, 9, "a test input", &buf, &len, &e), RT_ERR_LIMIT);
    snprintf(want, sizeof want, "%s: larger than 9 bytes; not a test input", p);
    assert_string_equal(e.msg, want);
    assert_null(buf);
    assert_int_equal(len, 0);

    assert_int_equal(rt_read_file("/nonexistent/f.bin", 0, NULL, &buf, &len, &e), RT_ERR_IO);
    assert_string_equal(e.msg, "/nonexistent/f.bin: cannot open: No such file or directory");
    assert_null(buf);
}

static void test_failed_write_leaves_old_file_and_no_temporary(void **state)
{
    (void)state;
    char p[512];
    test_path(p, sizeof p, "keep.txt");
    test_write_file(p, "old", 3);
    rt_error e;
    /* a directory where the temporary should go: creating it fails, the target stays as it was */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)getpid());
    assert_int_equal(mkdir(tmp, 0700), 0);
    assert_int_equal(rt_write_file(p, "new content", 11, &e), RT_ERR_IO);
    char want[700];
    snprintf(want, sizeof want, "%s: cannot create: Is a directory", p);
    assert_string_equal(e.msg, want);
    assert_int_equal(rmdir(tmp), 0);
    uint8_t *buf;
    size_t len;
    assert_int_equal(rt_read_file(p, 0, NULL, &buf, &len, &e), RT_OK);
    assert_string_equal((char *)buf, "old");
    free(buf);

    /* renaming over a directory fails: the temporary is removed again */
    char d[512];
    test_path(d, sizeof d, "adir");
    assert_int_equal(mkdir(d, 0700), 0);
    assert_int_equal(rt_write_file(d, "x", 1, &e), RT_ERR_IO);
    snprintf(want, sizeof want, "%s: cannot write: ", d);
    assert_int_equal(strncmp(e.msg, want, strlen(want)), 0);
    assert_int_equal(count_prefixed(test_tmpdir(), "adir.tmp."), 0);

    /* a successful write replaces the content and leaves no temporary */
    assert_int_equal(rt_write_file(p, "new", 3, &e), RT_OK);
    assert_int_equal(count_prefixed(test_tmpdir(), "keep.txt.tmp."), 0);
    assert_int_equal(rt_read_file(p, 0, NULL, &buf, &len, &e), RT_OK);
    assert_string_equal((char *)buf, "new");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_across_buffer_growth),
        cmocka_unit_test(test_read_limit_and_missing_file),
        cmocka_unit_test(test_failed_write_leaves_old_file_and_no_temporary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
