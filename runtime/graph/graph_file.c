/* graph_file.c -- whole files in and out, for every layer that reads a model, a tensor, a
 * configuration or a program, or writes a result.
 *
 * Reading is bounded: a size limit per kind of file (a regular file over it is refused before a
 * byte is read; a pipe or device is read up to the limit and refused past it), directories are
 * refused. Writing goes through an output set (rt_outputs): every file a command writes is
 * first written to a temporary beside its target, and only when all of them are complete are
 * they renamed into place, so a failure leaves none of the command's files and never half a
 * file. Targets that are symbolic links are written through (the link stays; its target is
 * replaced or created, as a shell redirection or a compiler's -o does), a device or a pipe
 * (/dev/null, /dev/stdout) is written in place, and a target that is one of the command's inputs
 * (the same device and inode) is refused.
 */
#define _GNU_SOURCE /* fopencookie: streams that remember why a write failed */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph.h"

/* ---------------------------------------------------------------------------------------- */
/* Reading                                                                                    */

#define READ_FIRST_CHUNK_BYTES (1u << 16)

rt_status rt_read_file(const char *path, size_t max_bytes, const char *kind, uint8_t **buf, size_t *len,
                       rt_error *e)
{
    *buf = NULL;
    *len = 0;
    if (max_bytes == 0)
        max_bytes = RT_READ_DEFAULT_MAX_BYTES;
    const char *what = kind ? kind : "a file this program reads";
    FILE *f = fopen(path, "rb");
    if (!f)
        return rt_error_set(e, RT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int err = errno;
        fclose(f);
        return rt_error_set(e, RT_ERR_IO, "%s: cannot read: %s", path, strerror(err));
    }
    if (S_ISDIR(st.st_mode)) {
        fclose(f);
        return rt_error_set(e, RT_ERR_IO, "%s: is a directory; expected %s", path, what);
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return rt_error_set(e, RT_ERR_LIMIT, "%s: %llu bytes, larger than the %zu-byte limit for %s", path,
                            (unsigned long long)st.st_size, max_bytes, what);
    }
    size_t cap = READ_FIRST_CHUNK_BYTES, n = 0;
    if (S_ISREG(st.st_mode) && (size_t)st.st_size + 1 > cap)
        cap = (size_t)st.st_size + 1; /* one allocation; + 1 to see the end of file */
    uint8_t *b = malloc(cap + 1); /* + 1: the terminating NUL */
    rt_status s = RT_OK;
    while (b) {
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (n > max_bytes) {
            s = rt_error_set(e, RT_ERR_LIMIT, "%s: more than %zu bytes, the limit for %s", path, max_bytes, what);
            break;
        }
        if (got == 0)
            break;
        if (n == cap) {
            size_t grown = cap > max_bytes / 2 ? max_bytes + 1 : 2 * cap; /* never far past the limit */
            uint8_t *nb = realloc(b, grown + 1);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap = grown;
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

/* ---------------------------------------------------------------------------------------- */
/* Writing: output sets                                                                       */

#define SYMLINK_HOPS_MAX 40       /* as the kernel's own limit on a path's symbolic links */
#define TMP_BASE_CHARS 64         /* of the target's name kept in its temporary's name */
#define DEFAULT_FILE_MODE 0666    /* before the umask, as open(O_CREAT) gives a new file */
#define TMP_ATTEMPTS 100          /* names tried before giving up (another process took them) */

/* What a stream of rt_outputs_open writes to: its temporary's descriptor and the reason of the
 * first failed write (stdio keeps only a flag). */
typedef struct stream_sink {
    int fd;
    int err;
} stream_sink;

typedef struct rt_output {
    char *path;   /* as the caller named it (messages) */
    char *target; /* path with its symbolic links followed: what is replaced */
    char *tmp;    /* the temporary beside target */
    FILE *stream; /* rt_outputs_open: flushed and closed at commit */
    stream_sink *sink;
    int direct;   /* a device or a pipe (/dev/null, /dev/stdout): written in place, never renamed */
    int renamed;
} rt_output;

typedef struct rt_file_id {
    dev_t dev;
    ino_t ino;
    char *path;
} rt_file_id;

struct rt_outputs {
    rt_output *files;
    size_t n, cap;
    rt_file_id *inputs;
    size_t ninputs, capinputs;
    char **dirs; /* directories rt_outputs_mkdir created, outermost first */
    size_t ndirs, capdirs;
    int committed;
};

static int grow_array(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? 2 * *cap : 8;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np)
        return -1;
    *p = np;
    *cap = nc;
    return 0;
}

rt_outputs *rt_outputs_new(void) { return calloc(1, sizeof(rt_outputs)); }

/* The directory part of path ("." if none) and the last component, as new strings. */
static int split_path(const char *path, char **dir, char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *dir = strdup(".");
        *base = strdup(path);
    } else {
        size_t dlen = slash == path ? 1 : (size_t)(slash - path);
        *dir = strndup(path, dlen);
        *base = strdup(slash + 1);
    }
    if (!*dir || !*base) {
        free(*dir);
        free(*base);
        return -1;
    }
    return 0;
}

/* path with every symbolic link of its last component followed (a relative link is relative
 * to the link's directory), also when the final target does not exist yet. */
static rt_status follow_links(const char *path, char **out, rt_error *e)
{
    char *cur = strdup(path);
    if (!cur)
        return rt_error_set(e, RT_ERR_NOMEM, "%s: out of memory", path);
    for (int hop = 0;; hop++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) {
            *out = cur;
            return RT_OK;
        }
        if (hop == SYMLINK_HOPS_MAX) {
            free(cur);
            return rt_error_set(e, RT_ERR_IO, "%s: more than %d symbolic links in a chain", path, SYMLINK_HOPS_MAX);
        }
        char link[PATH_MAX];
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0) {
            int err = errno;
            free(cur);
            return rt_error_set(e, RT_ERR_IO, "%s: cannot read the symbolic link: %s", path, strerror(err));
        }
        link[n] = '\0';
        char *next;
        if (link[0] == '/') {
            next = strdup(link);
        } else {
            char *dir, *base;
            if (split_path(cur, &dir, &base) != 0) {
                free(cur);
                return rt_error_set(e, RT_ERR_NOMEM, "%s: out of memory", path);
            }
            size_t len = strlen(dir) + strlen(link) + 2;
            next = malloc(len);
            if (next)
                snprintf(next, len, "%s/%s", dir, link);
            free(dir);
            free(base);
        }
        free(cur);
        if (!next)
            return rt_error_set(e, RT_ERR_NOMEM, "%s: out of memory", path);
        cur = next;
    }
}

rt_status rt_outputs_protect(rt_outputs *o, const char *input_path, rt_error *e)
{
    struct stat st;
    if (stat(input_path, &st) != 0)
        return RT_OK; /* not a file (yet): nothing an output could overwrite */
    if (grow_array((void **)&o->inputs, &o->capinputs, o->ninputs + 1, sizeof *o->inputs) != 0)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
    char *copy = strdup(input_path);
    if (!copy)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
    o->inputs[o->ninputs++] = (rt_file_id){st.st_dev, st.st_ino, copy};
    return RT_OK;
}

/* Create a new, unique temporary "DIR/.BASE.tmp-PID-N" (mode 0666 less the umask, as any new
 * file). Returns its descriptor, or -1 with errno set. */
static int create_temporary(const char *dir, const char *base, char *tmp, size_t size)
{
    for (int attempt = 0; attempt < TMP_ATTEMPTS; attempt++) { /* O_EXCL: a name in use is skipped */
        snprintf(tmp, size, "%s/.%.*s.tmp-%ld-%d", dir, TMP_BASE_CHARS, base, (long)getpid(), attempt);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, DEFAULT_FILE_MODE);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

/* The output is an input of the command? */
static rt_status check_not_input(const rt_outputs *o, const char *path, const struct stat *st, rt_error *e)
{
    for (size_t i = 0; i < o->ninputs; i++)
        if (o->inputs[i].dev == st->st_dev && o->inputs[i].ino == st->st_ino)
            return rt_error_set(e, RT_ERR_ARG, "%s: is the input %s; refusing to overwrite an input with an output",
                                path, o->inputs[i].path);
    return RT_OK;
}

/* A device, a pipe or a socket (/dev/null, /dev/stdout): nothing to rename, written in place. */
static rt_status add_direct(rt_outputs *o, const char *path, const struct stat *st, int *fd, rt_error *e)
{
    rt_status s = check_not_input(o, path, st, e);
    if (s != RT_OK)
        return s;
    char *name = strdup(path), *target = strdup(path), *tmp = strdup(path);
    if (!name || !target || !tmp || grow_array((void **)&o->files, &o->cap, o->n + 1, sizeof *o->files) != 0) {
        free(name);
        free(target);
        free(tmp);
        return rt_error_set(e, RT_ERR_NOMEM, "%s: out of memory", path);
    }
    *fd = open(path, O_WRONLY | O_CLOEXEC);
    if (*fd < 0) {
        int err = errno;
        free(name);
        free(target);
        free(tmp);
        return rt_error_set(e, RT_ERR_IO, "%s: cannot open: %s", path, strerror(err));
    }
    o->files[o->n++] = (rt_output){name, target, tmp, NULL, NULL, 1, 0};
    return RT_OK;
}

/* Check the target, create its temporary (returned open in *fd) and record both. */
static rt_status add_output(rt_outputs *o, const char *path, int *fd, rt_error *e)
{
    *fd = -1;
    if (o->committed)
        return rt_error_set(e, RT_ERR_ARG, "%s: the output set was already committed", path);
    if (!path || !*path)
        return rt_error_set(e, RT_ERR_ARG, "an output path is empty");
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return add_direct(o, path, &st, fd, e);
    char *target = NULL, *dir = NULL, *base = NULL, *tmp = NULL, *name = NULL;
    rt_status s = follow_links(path, &target, e);
    if (s != RT_OK)
        return s;
    int exists = stat(target, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        s = rt_error_set(e, RT_ERR_IO, "%s: is a directory; expected a file name", path);
        goto done;
    }
    if (exists && (s = check_not_input(o, path, &st, e)) != RT_OK)
        goto done;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->files[i].target, target) == 0) {
            s = rt_error_set(e, RT_ERR_ARG, "%s: named twice as an output", path);
            goto done;
        }
    if (split_path(target, &dir, &base) != 0) {
        s = rt_error_set(e, RT_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    struct stat dst;
    int dir_errno = stat(dir, &dst) != 0 ? errno : !S_ISDIR(dst.st_mode) ? ENOTDIR : 0;
    if (dir_errno) {
        const char *why = dir_errno == ENOENT ? "does not exist"
                          : dir_errno == ENOTDIR ? "is not a directory"
                                                 : strerror(dir_errno);
        if (strcmp(target, path) == 0)
            s = rt_error_set(e, RT_ERR_IO, "%s: cannot create: the directory %s %s", path, dir, why);
        else
            s = rt_error_set(e, RT_ERR_IO, "%s: cannot create the symbolic link's target %s: the directory %s %s",
                             path, target, dir, why);
        goto done;
    }
    size_t tlen = strlen(dir) + TMP_BASE_CHARS + 64;
    tmp = malloc(tlen);
    name = strdup(path);
    if (!tmp || !name || grow_array((void **)&o->files, &o->cap, o->n + 1, sizeof *o->files) != 0) {
        s = rt_error_set(e, RT_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    *fd = create_temporary(dir, base, tmp, tlen);
    if (*fd < 0) {
        s = rt_error_set(e, RT_ERR_IO, "%s: cannot create a file in %s: %s", path, dir, strerror(errno));
        goto done;
    }
    if (exists && fchmod(*fd, st.st_mode & 07777) != 0) { /* a replaced file keeps its mode */
        s = rt_error_set(e, RT_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        close(*fd);
        *fd = -1;
        remove(tmp);
        goto done;
    }
    o->files[o->n++] = (rt_output){name, target, tmp, NULL, NULL, 0, 0};
    name = target = tmp = NULL;
done:
    free(name);
    free(target);
    free(tmp);
    free(dir);
    free(base);
    return s;
}

rt_status rt_outputs_add(rt_outputs *o, const char *path, const char **tmp_path, rt_error *e)
{
    int fd;
    rt_status s = add_output(o, path, &fd, e);
    if (s != RT_OK)
        return s;
    close(fd); /* the other writer opens the file itself */
    *tmp_path = o->files[o->n - 1].tmp;
    return RT_OK;
}

rt_status rt_outputs_add_data(rt_outputs *o, const char *path, const void *buf, size_t len, rt_error *e)
{
    int fd;
    rt_status s = add_output(o, path, &fd, e);
    if (s != RT_OK)
        return s;
    const uint8_t *p = buf;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            close(fd);
            return rt_error_set(e, RT_ERR_IO, "%s: cannot write: %s", path, strerror(err));
        }
        p += n;
        left -= (size_t)n;
    }
    if (close(fd) != 0)
        return rt_error_set(e, RT_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    return RT_OK;
}

static ssize_t sink_write(void *cookie, const char *buf, size_t len)
{
    stream_sink *k = cookie;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(k->fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (!k->err)
                k->err = n < 0 ? errno : EIO;
            return done ? (ssize_t)done : -1;
        }
        done += (size_t)n;
    }
    return (ssize_t)done;
}

static int sink_close(void *cookie)
{
    stream_sink *k = cookie;
    int rc = close(k->fd);
    if (rc != 0 && !k->err)
        k->err = errno;
    return rc;
}

rt_status rt_outputs_open(rt_outputs *o, const char *path, FILE **f, rt_error *e)
{
    int fd;
    rt_status s = add_output(o, path, &fd, e);
    if (s != RT_OK)
        return s;
    rt_output *out = &o->files[o->n - 1];
    out->sink = calloc(1, sizeof *out->sink);
    if (out->sink) {
        out->sink->fd = fd;
        *f = fopencookie(out->sink, "wb", (cookie_io_functions_t){.write = sink_write, .close = sink_close});
    }
    if (!out->sink || !*f) {
        close(fd);
        return rt_error_set(e, RT_ERR_NOMEM, "%s: out of memory", path);
    }
    out->stream = *f;
    return RT_OK;
}

rt_status rt_outputs_mkdir(rt_outputs *o, const char *dir, rt_error *e)
{
    if (!dir || !*dir)
        return rt_error_set(e, RT_ERR_ARG, "an output directory is empty");
    char *p = strdup(dir);
    if (!p)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
    size_t len = strlen(p);
    while (len > 1 && p[len - 1] == '/')
        p[--len] = '\0';
    rt_status s = RT_OK;
    /* each prefix ending before a '/', then the whole path */
    for (size_t i = 1; i <= len && s == RT_OK; i++) {
        if (i < len && p[i] != '/')
            continue;
        char saved = p[i];
        p[i] = '\0';
        struct stat st;
        if (stat(p, &st) == 0) {
            if (!S_ISDIR(st.st_mode))
                s = rt_error_set(e, RT_ERR_IO, "%s: %s is not a directory", dir, p);
        } else if (errno != ENOENT) {
            s = rt_error_set(e, RT_ERR_IO, "%s: %s: %s", dir, p, strerror(errno));
        } else if (mkdir(p, 0777) != 0) {
            s = rt_error_set(e, RT_ERR_IO, "%s: cannot create the directory %s: %s", dir, p, strerror(errno));
        } else {
            char *made = strdup(p);
            if (!made || grow_array((void **)&o->dirs, &o->capdirs, o->ndirs + 1, sizeof *o->dirs) != 0) {
                rmdir(p);
                free(made);
                s = rt_error_set(e, RT_ERR_NOMEM, "out of memory");
            } else {
                o->dirs[o->ndirs++] = made;
            }
        }
        p[i] = saved;
    }
    free(p);
    return s;
}

/* Undo everything: temporaries, targets already renamed, directories created (innermost first). */
static void abort_outputs(rt_outputs *o)
{
    for (size_t i = 0; i < o->n; i++) {
        rt_output *f = &o->files[i];
        if (f->stream) {
            fclose(f->stream);
            f->stream = NULL;
        }
        if (!f->direct)
            remove(f->renamed ? f->target : f->tmp);
    }
    for (size_t i = o->ndirs; i-- > 0;)
        rmdir(o->dirs[i]);
}

rt_status rt_outputs_commit(rt_outputs *o, rt_error *e)
{
    rt_status s = RT_OK;
    for (size_t i = 0; i < o->n && s == RT_OK; i++) {
        rt_output *f = &o->files[i];
        if (!f->stream)
            continue;
        int bad = ferror(f->stream) != 0;
        bad |= fflush(f->stream) != 0;
        bad |= fclose(f->stream) != 0;
        f->stream = NULL;
        if (bad)
            s = rt_error_set(e, RT_ERR_IO, "%s: cannot write: %s", f->path, strerror(f->sink->err ? f->sink->err : EIO));
    }
    for (size_t i = 0; i < o->n && s == RT_OK; i++) {
        rt_output *f = &o->files[i];
        if (f->direct)
            continue;
        if (rename(f->tmp, f->target) != 0)
            s = rt_error_set(e, RT_ERR_IO, "%s: cannot write: %s", f->path, strerror(errno));
        else
            f->renamed = 1;
    }
    if (s != RT_OK)
        abort_outputs(o);
    o->committed = 1; /* done either way: rt_outputs_free undoes nothing more */
    return s;
}

void rt_outputs_free(rt_outputs *o)
{
    if (!o)
        return;
    if (!o->committed)
        abort_outputs(o);
    for (size_t i = 0; i < o->n; i++) {
        free(o->files[i].path);
        free(o->files[i].target);
        free(o->files[i].tmp);
        free(o->files[i].sink);
    }
    for (size_t i = 0; i < o->ninputs; i++)
        free(o->inputs[i].path);
    for (size_t i = 0; i < o->ndirs; i++)
        free(o->dirs[i]);
    free(o->files);
    free(o->inputs);
    free(o->dirs);
    free(o);
}

rt_status rt_write_file(const char *path, const void *buf, size_t len, rt_error *e)
{
    rt_outputs *o = rt_outputs_new();
    if (!o)
        return rt_error_set(e, RT_ERR_NOMEM, "%s: out of memory", path);
    rt_status s = rt_outputs_add_data(o, path, buf, len, e);
    if (s == RT_OK)
        s = rt_outputs_commit(o, e);
    rt_outputs_free(o);
    return s;
}
