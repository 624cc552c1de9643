/* graph_status.c -- the runtime's status codes: their fixed meanings and the rt_error helpers
 * that every runtime module uses to say what went wrong and where. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "graph.h"

static const char *const status_text[RT_STATUS_COUNT] = {
    [RT_OK] = "ok",
    [RT_ERR_NOMEM] = "out of memory",
    [RT_ERR_ARG] = "invalid argument",
    [RT_ERR_IO] = "cannot read or write file",
    [RT_ERR_PARSE] = "not a valid model file",
    [RT_ERR_DATA_SIZE] = "tensor data does not match its shape",
    [RT_ERR_CYCLE] = "cycle in graph",
    [RT_ERR_MISSING_INPUT] = "missing input",
    [RT_ERR_UNKNOWN_OP] = "unknown op (no kernel)",
    [RT_ERR_SHAPE] = "shape mismatch",
    [RT_ERR_DTYPE] = "unsupported data type",
    [RT_ERR_ATTR] = "invalid attribute",
    [RT_ERR_UNSUPPORTED] = "unsupported",
    [RT_ERR_DUPLICATE] = "duplicate name",
    [RT_ERR_LIMIT] = "size limit exceeded",
    [RT_ERR_NO_DATA] = "tensor has no data",
    [RT_ERR_NOT_FOUND] = "not found",
    [RT_ERR_MISMATCH] = "result mismatch",
};

const char *rt_status_str(rt_status s)
{
    if ((int)s < 0 || s >= RT_STATUS_COUNT || !status_text[s])
        return "unknown status";
    return status_text[s];
}

rt_status rt_error_set(rt_error *e, rt_status code, const char *fmt, ...)
{
    if (e) {
        e->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void rt_error_prefix(rt_error *e, const char *fmt, ...)
{
    if (!e)
        return;
    char prefix[RT_ERROR_MSG_BYTES], old[RT_ERROR_MSG_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    /* both parts fit in the message; a long pair is cut, which is fine for a message */
    size_t n = strnlen(prefix, sizeof e->msg - 1);
    memcpy(e->msg, prefix, n);
    size_t left = sizeof e->msg - n;
    if (left > 3) {
        memcpy(e->msg + n, ": ", 2);
        size_t m = strnlen(old, left - 3);
        memcpy(e->msg + n + 2, old, m);
        e->msg[n + 2 + m] = '\0';
    } else {
        e->msg[n] = '\0';
    }
}
