/* fuzz_npy.c -- fuzz harness: the .npy reader and writer (runtime/run/npy.c).
 *
 * The input is read as a .npy image; a tensor that reads is written back and the result must read
 * to the same type, shape and bytes, and write to the same bytes again (the writer's output is
 * canonical: version 1.0, little-endian, C order). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "npy.h"

static void check_same(const rt_tensor *a, const rt_tensor *b)
{
    FUZZ_CHECK(a->dtype == b->dtype && a->rank == b->rank, "type %d rank %d read back as type %d rank %d",
               (int)a->dtype, a->rank, (int)b->dtype, b->rank);
    FUZZ_CHECK(memcmp(a->dims, b->dims, (size_t)a->rank * sizeof a->dims[0]) == 0, "the shape changed");
    FUZZ_CHECK(a->data_bytes == b->data_bytes && a->data_bytes == rt_tensor_nbytes(a), "%llu bytes read back as %llu",
               (unsigned long long)a->data_bytes, (unsigned long long)b->data_bytes);
    FUZZ_CHECK(a->data_bytes == 0 || memcmp(a->data, b->data, a->data_bytes) == 0, "the data changed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rt_tensor *t = NULL;
    rt_error e = {0};
    if (npy_read_buffer(data, size, "fuzz.npy", "x", &t, &e) != RT_OK) {
        FUZZ_CHECK(e.code != RT_OK && e.msg[0], "a read failed without a message");
        return 0;
    }
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    rt_status s = npy_write_buffer(t, &buf, &len, &e);
    FUZZ_CHECK(s == RT_OK, "a tensor that was read does not write: %s", e.msg);
    rt_tensor *back = NULL;
    s = npy_read_buffer(buf, len, "written.npy", "x", &back, &e);
    FUZZ_CHECK(s == RT_OK, "a written .npy does not read: %s", e.msg);
    check_same(t, back);
    s = npy_write_buffer(back, &buf2, &len2, &e);
    FUZZ_CHECK(s == RT_OK && len == len2 && memcmp(buf, buf2, len) == 0, "writing is not canonical");
    rt_tensor_free(t);
    rt_tensor_free(back);
    free(buf);
    free(buf2);
    return 0;
}
