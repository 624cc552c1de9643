/* config_yaml.h -- a YAML document as a small tree that keeps every node's line and column, for
 * strict loaders that must say where anything is wrong: the configuration loader (config_load.c)
 * and other YAML inputs checked the same way (the sweep specs of analysis/sweep).
 *
 * Built from libyaml's events (config_yaml.c) so that features these files never need are refused
 * at their position: anchors, aliases (which expand without bound), explicit tags, keys that are
 * not scalars, further documents, nesting deeper than CONFIG_MAX_DEPTH.
 */
#ifndef M4NPU_CONFIG_YAML_H
#define M4NPU_CONFIG_YAML_H

#include <stddef.h>

#include "m4npu_config.h"

#define CONFIG_MAX_DEPTH 32 /* nesting beyond this is refused (the schema needs 3) */

typedef enum config_node_type { CONFIG_NODE_SCALAR, CONFIG_NODE_MAP, CONFIG_NODE_SEQ } config_node_type;

typedef struct config_node {
    config_node_type type;
    int line, column;            /* 1-based start of the node */
    char *text;                  /* scalar: its value (NUL-terminated; may hold NULs inside) */
    size_t len;
    int plain;                   /* scalar: written unquoted */
    struct config_node **items;  /* map: key, value, key, value ...; seq: the items */
    size_t n, cap;
} config_node;

/* Parse one YAML document. *root is NULL when the text holds no document. Errors (status
 * M4NPU_CONFIG_E_SYNTAX or _NOMEM) are "ORIGIN:LINE:COL: KEY: reason" in err->msg. */
m4npu_config_status config_yaml_parse(const char *text, size_t len, const char *origin, config_node **root,
                                      m4npu_config_error *err);
void config_node_free(config_node *node);

#endif
