/* graph_file.c -- whole files in and out, for every layer that reads a model, a tensor, a
 * configuration or a program, or writes a result: a read bounded by a size limit, and a write
 * through a temporary file beside the target that is renamed over it, so a failed write never
 * leaves half a file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph.h"

rt_status rt_read_file(const char *path, size_t max_bytes, const char *kind, uint8_t **buf, size_t *len,
                       rt_error *e)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rt_error_set(e, RT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap + 1); /* + 1: the terminating NUL */
    rt_status s = RT_OK;
    while (b) {
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (max_bytes && n > max_bytes) {
            s = rt_error_set(e, RT_ERR_LIMIT, "%s: larger than %zu bytes; not %s", path, max_bytes,
                             kind ? kind : "a file this program reads");
            break;
        }
        if (got == 0)
            break;
        if (n == cap) {
            uint8_t *nb = realloc(b, 2 * cap + 1);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    if (s == RT_OK && !b)
        s = rt_error_set(e, RT_ERR_NOMEM, "%s: out of memory", path);
    else if (s == RT_OK && ferror(f))
        s = rt_error_set(e, RT_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    fclose(f);
    if (s != RT_OK) {
        free(b);
        return s;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return RT_OK;
}

rt_status rt_write_file(const char *path, const void *buf, size_t len, rt_error *e)
{
    size_t tlen = strlen(path) + 32;
    char *tmp = malloc(tlen);
    if (!tmp)
        return rt_error_set(e, RT_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
    rt_status s = RT_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        s = rt_error_set(e, RT_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    } else {
        bool bad = len && fwrite(buf, 1, len, f) != len;
        bad |= fflush(f) != 0;
        bad |= fclose(f) != 0;
        if (bad || rename(tmp, path) != 0) {
            s = rt_error_set(e, RT_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
            remove(tmp);
        }
    }
    free(tmp);
    return s;
}
