/* fuzz_replay_main.c -- the main of a fuzz harness in the normal builds (gcc, and the ASan/UBSan
 * pass): feeds every file named on the command line, and every regular file under each directory
 * named there, to LLVMFuzzerTestOneInput once, in sorted order. ctest runs it on the committed
 * corpus (tests/fuzz/corpus/NAME) and the project's seed files, so every crash ever found stays a
 * regression test even where libFuzzer is not built. A harness reports a broken property by
 * aborting, so a failure is a non-zero exit (or a sanitizer report) naming the input first.
 *
 * Usage: fuzz-replay-NAME PATH...   (a path that does not exist, or no input at all, is an error:
 * a corpus that silently vanished must not pass). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT_BYTES (64u << 20) /* libFuzzer's -max_len is far below this */

typedef struct path_list {
    char **v;
    size_t n, cap;
} path_list;

static int add_path(path_list *l, const char *path)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(path)))
        return -1;
    l->n++;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file at or under path, appended to l. */
static int collect(path_list *l, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (S_ISREG(st.st_mode))
        return add_path(l, path);
    if (!S_ISDIR(st.st_mode))
        return 0;
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue; /* ".", "..", and hidden files such as a README's editor backups */
        size_t len = strlen(path) + strlen(de->d_name) + 2;
        char *child = malloc(len);
        if (!child) {
            rc = -1;
            break;
        }
        snprintf(child, len, "%s/%s", path, de->d_name);
        rc = collect(l, child);
        free(child);
    }
    closedir(d);
    return rc;
}

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t *buf = malloc(REPLAY_MAX_INPUT_BYTES);
    size_t n = buf ? fread(buf, 1, REPLAY_MAX_INPUT_BYTES, f) : 0;
    int too_long = buf && n == REPLAY_MAX_INPUT_BYTES && fgetc(f) != EOF;
    fclose(f);
    if (!buf || too_long) {
        fprintf(stderr, "replay: %s: %s\n", path, buf ? "larger than the replay limit" : "out of memory");
        free(buf);
        return -1;
    }
    /* a copy of exactly n bytes, so that ASan sees a read past the input's end */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, n);
    free(buf);
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

int main(int argc, char **argv)
{
    path_list l = {0};
    int rc = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc && rc == 0; i++)
        rc = collect(&l, argv[i]);
    if (rc == 0 && l.n == 0) {
        fprintf(stderr, "replay: no input under the paths given\n");
        rc = -1;
    }
    if (rc == 0)
        qsort(l.v, l.n, sizeof *l.v, by_name);
    for (size_t i = 0; i < l.n && rc == 0; i++)
        rc = replay_file(l.v[i]);
    if (rc == 0)
        printf("replay: %zu inputs, no crash\n", l.n);
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i]);
    free(l.v);
    return rc == 0 ? 0 : 1;
}
