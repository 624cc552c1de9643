/* config_source.c -- what a report says about the configuration it used: its name, the file it
 * came from, the overrides applied after it and a hash of the result, so that a number can be
 * traced back to the exact configuration that produced it (issue 18: "the header must not say
 * 'on mobile-default' when overrides were applied"). */
#include "m4npu_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FNV64_OFFSET 0xcbf29ce484222325ull
#define FNV64_PRIME 0x100000001b3ull

uint64_t m4npu_config_hash(const m4npu_config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    uint64_t h = FNV64_OFFSET;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return 0;
    int bad = m4npu_config_write_yaml(cfg, mem);
    if (fclose(mem) != 0 || bad) {
        free(text);
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)text[i];
        h *= FNV64_PRIME;
    }
    free(text);
    return h;
}

const char *m4npu_config_label(const m4npu_config *cfg, const m4npu_config_source *src, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "%s", cfg->npu.name);
    size_t k = src ? src->n_overrides : 0;
    if (k == 0 || n >= size)
        return buf;
    n += (size_t)snprintf(buf + n, size - n, " + %zu override%s:", k, k == 1 ? "" : "s");
    for (size_t i = 0; i < k && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s %s", i ? "," : "", src->overrides[i]);
    return buf;
}

json_t *m4npu_config_source_json(const m4npu_config *cfg, const m4npu_config_source *src)
{
    char hex[M4NPU_CONFIG_HASH_HEX];
    json_t *o = json_object(), *ov = json_array();
    if (!o || !ov) {
        json_decref(o);
        json_decref(ov);
        return NULL;
    }
    for (size_t i = 0; src && i < src->n_overrides; i++)
        json_array_append_new(ov, json_string(src->overrides[i]));
    json_object_set_new(o, "name", json_string(cfg->npu.name));
    json_object_set_new(o, "file", src && src->path ? json_string(src->path) : json_null());
    json_object_set_new(o, "hash", json_string(m4npu_config_hash_hex(cfg, hex)));
    json_object_set_new(o, "overrides", ov);
    return o;
}

const char *m4npu_config_hash_hex(const m4npu_config *cfg, char out[M4NPU_CONFIG_HASH_HEX])
{
    snprintf(out, M4NPU_CONFIG_HASH_HEX, "%016llx", (unsigned long long)m4npu_config_hash(cfg));
    return out;
}
