/* rt_read_file, rt_write_file and output sets: the one place every layer reads and writes whole
 * files. A read returns the bytes NUL-terminated and stops at the size limit with a message naming
 * the file (before reading a regular file, at the limit for a device); a write is all or nothing:
 * on failure the old file is untouched and no temporary is left, and a set of files is committed
 * together or not at all. Symbolic links are written through; an input is never overwritten. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "test_util.h"

#include "graph.h"

/* Number of entries in dir whose name starts with prefix. */
static int count_prefixed(const char *dir, const char *prefix);

/* Temporaries of the output sets: ".NAME.tmp-PID-N". */
static int count_temporaries(const char *dir)
{
    return count_prefixed(dir, ".") - 2; /* "." and ".." */
}

static char *read_text(const char *path)
{
    rt_error e;
    uint8_t *buf;
    size_t len;
    if (rt_read_file(path, 0, NULL, &buf, &len, &e) != RT_OK)
        fail_msg("%s", e.msg);
    return (char *)buf;
}

/* A fresh, empty directory below the test's temporary directory. */
static void fresh_dir(char *buf, size_t size, const char *name)
{
    test_path(buf, size, name);
    assert_int_equal(mkdir(buf, 0700), 0);
}

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
    snprintf(want, sizeof want, "%s: 10 bytes, larger than the 9-byte limit for a test input", p);
    assert_string_equal(e.msg, want);
    assert_null(buf);
    assert_int_equal(len, 0);

    assert_int_equal(rt_read_file("/nonexistent/f.bin", 0, NULL, &buf, &len, &e), RT_ERR_IO);
    assert_string_equal(e.msg, "/nonexistent/f.bin: cannot open: No such file or directory");
    assert_null(buf);
    assert_int_equal(rt_read_file(test_tmpdir(), 0, "a test input", &buf, &len, &e), RT_ERR_IO);
    snprintf(want, sizeof want, "%s: is a directory; expected a test input", test_tmpdir());
    assert_string_equal(e.msg, want);
}

/* Regression (issue 9): an endless device (/dev/zero) was read until memory ran out. It stops
 * one byte past the limit, and the default limit applies when the caller gives none. */
static void test_read_of_an_endless_device_stops_at_the_limit(void **state)
{
    (void)state;
    rt_error e;
    uint8_t *buf;
    size_t len;
    assert_int_equal(rt_read_file("/dev/zero", 100000, "a program", &buf, &len, &e), RT_ERR_LIMIT);
    assert_string_equal(e.msg, "/dev/zero: more than 100000 bytes, the limit for a program");
    assert_null(buf);
    /* a pipe is read like a file, within the limit */
    assert_int_equal(rt_read_file("/dev/null", 10, "a program", &buf, &len, &e), RT_OK);
    assert_int_equal(len, 0);
    free(buf);
}

/* A set of files appears all together, or none of it does. */
static void test_output_set_is_all_or_nothing(void **state)
{
    (void)state;
    char dir[512], a[600], b[600], c[600];
    fresh_dir(dir, sizeof dir, "set");
    snprintf(a, sizeof a, "%s/a.txt", dir);
    snprintf(b, sizeof b, "%s/b.txt", dir);
    snprintf(c, sizeof c, "%s/c.txt", dir);
    rt_error e;

    /* nothing appears before the commit; everything after it */
    rt_outputs *o = rt_outputs_new();
    assert_non_null(o);
    assert_int_equal(rt_outputs_add_data(o, a, "A", 1, &e), RT_OK);
    FILE *f;
    assert_int_equal(rt_outputs_open(o, b, &f, &e), RT_OK);
    fputs("B stream", f);
    const char *tmp;
    assert_int_equal(rt_outputs_add(o, c, &tmp, &e), RT_OK);
    test_write_file(tmp, "C by another writer", 19);
    assert_int_equal(access(a, F_OK), -1);
    assert_int_equal(count_temporaries(dir), 3);
    assert_int_equal(rt_outputs_commit(o, &e), RT_OK);
    rt_outputs_free(o);
    char *t = read_text(a);
    assert_string_equal(t, "A");
    free(t);
    t = read_text(b);
    assert_string_equal(t, "B stream");
    free(t);
    t = read_text(c);
    assert_string_equal(t, "C by another writer");
    free(t);
    assert_int_equal(count_temporaries(dir), 0);

    /* a set freed without a commit (a later step failed) leaves the old files and no temporary */
    o = rt_outputs_new();
    assert_int_equal(rt_outputs_add_data(o, a, "new A", 5, &e), RT_OK);
    char missing[700];
    snprintf(missing, sizeof missing, "%s/no/such/dir/d.txt", dir);
    assert_int_equal(rt_outputs_add_data(o, missing, "D", 1, &e), RT_ERR_IO);
    char want[1600];
    snprintf(want, sizeof want, "%s: cannot create: the directory %s/no/such/dir does not exist", missing, dir);
    assert_string_equal(e.msg, want);
    rt_outputs_free(o);
    t = read_text(a);
    assert_string_equal(t, "A");
    free(t);
    assert_int_equal(count_temporaries(dir), 0);

}

/* Regression (issue 9): a write that runs out of room (a full disk, a file-size limit) left the
 * earlier files of a multi-file output behind. Run in a child with RLIMIT_FSIZE so that the
 * second file cannot be written; neither file may appear. */
static void test_a_full_disk_leaves_no_file(void **state)
{
    (void)state;
    char dir[512], a[600], b[600];
    fresh_dir(dir, sizeof dir, "full");
    snprintf(a, sizeof a, "%s/first.bin", dir);
    snprintf(b, sizeof b, "%s/second.bin", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {4096, 4096};
        setrlimit(RLIMIT_FSIZE, &lim);
        static char big[3 * 8192];
        rt_error e;
        /* the whole content at once: the write fails, the set is freed */
        rt_outputs *o = rt_outputs_new();
        int ok = rt_outputs_add_data(o, a, "small", 5, &e) == RT_OK &&
                 rt_outputs_add_data(o, b, big, sizeof big, &e) == RT_ERR_IO &&
                 strstr(e.msg, "second.bin: cannot write: File too large") != NULL;
        rt_outputs_free(o);
        /* a stream: the failure shows at the commit, which undoes the first file too */
        FILE *f;
        o = rt_outputs_new();
        ok = ok && rt_outputs_add_data(o, a, "small", 5, &e) == RT_OK && rt_outputs_open(o, b, &f, &e) == RT_OK;
        if (ok)
            fwrite(big, 1, sizeof big, f);
        ok = ok && rt_outputs_commit(o, &e) == RT_ERR_IO && strstr(e.msg, "second.bin: cannot write: File too large");
        rt_outputs_free(o);
        if (!ok)
            fprintf(stderr, "child: %s\n", e.msg);
        _exit(ok ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(access(a, F_OK), -1);
    assert_int_equal(access(b, F_OK), -1);
    assert_int_equal(count_temporaries(dir), 0);
}

/* Regression (issue 9): a dangling symbolic link given as an output was replaced by a plain
 * file. Links are written through: the link stays and its target is created (or replaced). */
static void test_symbolic_links_are_written_through(void **state)
{
    (void)state;
    char dir[512], link[600], target[600], want[1400];
    fresh_dir(dir, sizeof dir, "links");
    snprintf(link, sizeof link, "%s/out.bin", dir);
    snprintf(target, sizeof target, "%s/real.bin", dir);
    assert_int_equal(symlink("real.bin", link), 0); /* relative: to the link's directory */
    rt_error e;
    assert_int_equal(rt_write_file(link, "first", 5, &e), RT_OK);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    char *t = read_text(target);
    assert_string_equal(t, "first");
    free(t);
    /* an existing target is replaced, the link still stays */
    assert_int_equal(rt_write_file(link, "second", 6, &e), RT_OK);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    t = read_text(target);
    assert_string_equal(t, "second");
    free(t);
    /* a link to a chain of links */
    char link2[600];
    snprintf(link2, sizeof link2, "%s/out2.bin", dir);
    assert_int_equal(symlink(link, link2), 0);
    assert_int_equal(rt_write_file(link2, "third", 5, &e), RT_OK);
    t = read_text(target);
    assert_string_equal(t, "third");
    free(t);
    /* a dangling link into a directory that does not exist: an error naming both */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/bad.bin", dir);
    assert_int_equal(symlink("/nonexistent-dir/x.bin", bad), 0);
    assert_int_equal(rt_write_file(bad, "x", 1, &e), RT_ERR_IO);
    snprintf(want, sizeof want, "%s: cannot create the symbolic link's target /nonexistent-dir/x.bin: the "
             "directory /nonexistent-dir does not exist", bad);
    assert_string_equal(e.msg, want);
    assert_int_equal(lstat(bad, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    /* a loop of links */
    char loop[600];
    snprintf(loop, sizeof loop, "%s/loop.bin", dir);
    assert_int_equal(symlink("loop.bin", loop), 0);
    assert_int_equal(rt_write_file(loop, "x", 1, &e), RT_ERR_IO);
    snprintf(want, sizeof want, "%s: more than 40 symbolic links in a chain", loop);
    assert_string_equal(e.msg, want);
    assert_int_equal(count_temporaries(dir), 0);
}

/* Regression (issue 9): `asm x.s -o x.s` replaced its own source. An input given to
 * rt_outputs_protect cannot be an output, whatever the spelling (./x, a symlink, a hard link). */
static void test_an_input_is_never_an_output(void **state)
{
    (void)state;
    char dir[512], src[600], alias[600], hard[600], want[1400];
    fresh_dir(dir, sizeof dir, "inputs");
    snprintf(src, sizeof src, "%s/prog.s", dir);
    snprintf(alias, sizeof alias, "%s/./alias.s", dir);
    snprintf(hard, sizeof hard, "%s/hard.s", dir);
    test_write_file(src, "nop\n", 4);
    assert_int_equal(symlink("prog.s", alias), 0);
    assert_int_equal(link(src, hard), 0);
    const char *outs[] = {src, alias, hard};
    for (int i = 0; i < 3; i++) {
        rt_error e;
        rt_outputs *o = rt_outputs_new();
        assert_int_equal(rt_outputs_protect(o, src, &e), RT_OK);
        assert_int_equal(rt_outputs_add_data(o, outs[i], "bin", 3, &e), RT_ERR_ARG);
        snprintf(want, sizeof want, "%s: is the input %s; refusing to overwrite an input with an output", outs[i], src);
        assert_string_equal(e.msg, want);
        rt_outputs_free(o);
    }
    char *t = read_text(src);
    assert_string_equal(t, "nop\n");
    free(t);
    /* the same target twice in one set */
    rt_error e;
    char other[600];
    snprintf(other, sizeof other, "%s/other.bin", dir);
    rt_outputs *o = rt_outputs_new();
    assert_int_equal(rt_outputs_add_data(o, other, "1", 1, &e), RT_OK);
    assert_int_equal(rt_outputs_add_data(o, other, "2", 1, &e), RT_ERR_ARG);
    rt_outputs_free(o);
    assert_int_equal(access(other, F_OK), -1);
    assert_int_equal(count_temporaries(dir), 0);
}

/* Missing directories are created, and removed again when the set fails. */
static void test_mkdir_is_undone_with_the_set(void **state)
{
    (void)state;
    char dir[512], deep[700], file[800];
    fresh_dir(dir, sizeof dir, "mk");
    snprintf(deep, sizeof deep, "%s/a/b/", dir);
    snprintf(file, sizeof file, "%s/a/b/out.npy", dir);
    rt_error e;
    rt_outputs *o = rt_outputs_new();
    assert_int_equal(rt_outputs_mkdir(o, deep, &e), RT_OK);
    assert_int_equal(rt_outputs_add_data(o, file, "x", 1, &e), RT_OK);
    rt_outputs_free(o); /* not committed */
    char a[700];
    snprintf(a, sizeof a, "%s/a", dir);
    assert_int_equal(access(a, F_OK), -1);
    o = rt_outputs_new();
    assert_int_equal(rt_outputs_mkdir(o, deep, &e), RT_OK);
    assert_int_equal(rt_outputs_add_data(o, file, "x", 1, &e), RT_OK);
    assert_int_equal(rt_outputs_commit(o, &e), RT_OK);
    rt_outputs_free(o);
    assert_int_equal(access(file, F_OK), 0);
    /* a file in the way of a directory */
    char in_way[800];
    snprintf(in_way, sizeof in_way, "%s/a/b/out.npy/sub", dir);
    o = rt_outputs_new();
    assert_int_equal(rt_outputs_mkdir(o, in_way, &e), RT_ERR_IO);
    char want[2000];
    snprintf(want, sizeof want, "%s: %s is not a directory", in_way, file);
    assert_string_equal(e.msg, want);
    /* an empty name would put the outputs in / */
    assert_int_equal(rt_outputs_mkdir(o, "", &e), RT_ERR_ARG);
    assert_string_equal(e.msg, "an output directory is empty");
    rt_outputs_free(o);
}

static void test_failed_write_leaves_old_file_and_no_temporary(void **state)
{
    (void)state;
    char dir[512], p[600], want[1400];
    fresh_dir(dir, sizeof dir, "keep");
    snprintf(p, sizeof p, "%s/keep.txt", dir);
    test_write_file(p, "old", 3);
    assert_int_equal(chmod(p, 0640), 0);
    rt_error e;
    /* a directory where the output should go: refused before anything is written */
    char d[600];
    snprintf(d, sizeof d, "%s/adir", dir);
    assert_int_equal(mkdir(d, 0700), 0);
    assert_int_equal(rt_write_file(d, "x", 1, &e), RT_ERR_IO);
    snprintf(want, sizeof want, "%s: is a directory; expected a file name", d);
    assert_string_equal(e.msg, want);
    /* a directory that cannot be written: the target stays as it was */
    if (geteuid() != 0) { /* root writes anyway */
        assert_int_equal(chmod(dir, 0500), 0);
        assert_int_equal(rt_write_file(p, "new content", 11, &e), RT_ERR_IO);
        snprintf(want, sizeof want, "%s: cannot create a file in %s: Permission denied", p, dir);
        assert_string_equal(e.msg, want);
        assert_int_equal(chmod(dir, 0700), 0);
        char *t = read_text(p);
        assert_string_equal(t, "old");
        free(t);
    }
    /* a successful write replaces the content, keeps the mode and leaves no temporary */
    assert_int_equal(rt_write_file(p, "new", 3, &e), RT_OK);
    assert_int_equal(count_temporaries(dir), 0);
    char *t = read_text(p);
    assert_string_equal(t, "new");
    free(t);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_across_buffer_growth),
        cmocka_unit_test(test_read_limit_and_missing_file),
        cmocka_unit_test(test_read_of_an_endless_device_stops_at_the_limit),
        cmocka_unit_test(test_output_set_is_all_or_nothing),
        cmocka_unit_test(test_a_full_disk_leaves_no_file),
        cmocka_unit_test(test_symbolic_links_are_written_through),
        cmocka_unit_test(test_an_input_is_never_an_output),
        cmocka_unit_test(test_mkdir_is_undone_with_the_set),
        cmocka_unit_test(test_failed_write_leaves_old_file_and_no_temporary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
