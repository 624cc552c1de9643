/* config_print.c -- the effective configuration as YAML (for people and for reloading) and as a
 * JSON object (reports embed it), both walking the schema rows so that a new row is printed
 * without new code. The YAML reads back to the same struct bit for bit (tests/config). */
#include "config_internal.h"

#include <string.h>

#define YAML_INDENT 2 /* spaces per nesting level */
#define MAX_COMPONENTS 8

/* Split a dotted path into its components (pointers into path, with lengths). */
static size_t split_path(const char *path, const char **comp, size_t *len, size_t max)
{
    size_t n = 0;
    while (n < max) {
        const char *dot = strchr(path, '.');
        comp[n] = path;
        len[n] = dot ? (size_t)(dot - path) : strlen(path);
        n++;
        if (!dot)
            break;
        path = dot + 1;
    }
    return n;
}

int m4npu_config_write_yaml(const m4npu_config *cfg, FILE *out)
{
    const char *open[MAX_COMPONENTS];
    size_t open_len[MAX_COMPONENTS], nopen = 0;
    fprintf(out, "# m4npu configuration (every key: docs/configs.md)\n");
    for (size_t i = 0, rows = config_key_count(); i < rows; i++) {
        const m4npu_cfg_key *k = config_key_at(i);
        const char *comp[MAX_COMPONENTS];
        size_t len[MAX_COMPONENTS];
        size_t n = split_path(k->path, comp, len, MAX_COMPONENTS);
        size_t common = 0;
        while (common < nopen && common + 1 < n && open_len[common] == len[common] &&
               memcmp(open[common], comp[common], len[common]) == 0)
            common++;
        if (common == 0 && (nopen > 0 || n > 1))
            fputc('\n', out); /* a blank line before each top-level section */
        for (size_t d = common; d + 1 < n; d++) {
            fprintf(out, "%*s%.*s:\n", (int)(d * YAML_INDENT), "", (int)len[d], comp[d]);
            open[d] = comp[d];
            open_len[d] = len[d];
        }
        nopen = n - 1;
        if (k->kind == M4NPU_CFG_OPS) { /* a mapping of its own, always a top-level section */
            if (n != 1 || config_ops_write_yaml(cfg, k->path, out) != 0)
                return -1;
            continue;
        }
        char value[4 * M4NPU_CONFIG_DESC_LEN + 16]; /* each byte may become \xNN */
        if (config_value_format(k, cfg, value, sizeof value) < 0)
            return -1;
        fprintf(out, "%*s%.*s: %s\n", (int)((n - 1) * YAML_INDENT), "", (int)len[n - 1], comp[n - 1], value);
    }
    return ferror(out) ? -1 : 0;
}

json_t *m4npu_config_to_json(const m4npu_config *cfg)
{
    json_t *root = json_object();
    for (size_t i = 0, rows = config_key_count(); root && i < rows; i++) {
        const m4npu_cfg_key *k = config_key_at(i);
        const char *comp[MAX_COMPONENTS];
        size_t len[MAX_COMPONENTS];
        size_t n = split_path(k->path, comp, len, MAX_COMPONENTS);
        json_t *obj = root;
        for (size_t d = 0; obj && d + 1 < n; d++) {
            char name[M4NPU_CONFIG_KEY_LEN];
            snprintf(name, sizeof name, "%.*s", (int)len[d], comp[d]);
            json_t *child = json_object_get(obj, name);
            if (!child) {
                child = json_object();
                if (json_object_set_new(obj, name, child) != 0)
                    child = NULL;
            }
            obj = child;
        }
        char leaf[M4NPU_CONFIG_KEY_LEN];
        snprintf(leaf, sizeof leaf, "%.*s", (int)len[n - 1], comp[n - 1]);
        json_t *v = config_value_json(k, cfg);
        if (!obj || !v) {
            json_decref(v);
            json_decref(root);
            return NULL;
        }
        if (json_object_set_new(obj, leaf, v) != 0) {
            json_decref(root);
            return NULL;
        }
    }
    return root;
}
