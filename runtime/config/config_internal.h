/* config_internal.h -- what the files of runtime/config share and nothing else sees: rows by
 * global index, the text form of one value, the children of a key path and error filling. */
#ifndef M4NPU_CONFIG_INTERNAL_H
#define M4NPU_CONFIG_INTERNAL_H

#include "config_yaml.h"
#include "m4npu_config.h"

/* The largest integer any key takes: sizes and cycle counts must fit a JSON integer (int64). */
#define CONFIG_INT_MAX ((uint64_t)INT64_MAX)

#define CONFIG_KIB_BYTES 1024ull

/* Rows of every section in schema order, numbered 0 .. config_key_count()-1. */
size_t config_key_count(void);
const m4npu_cfg_key *config_key_at(size_t i);
/* Index of a row (which must come from the schema). */
size_t config_key_index(const m4npu_cfg_key *k);

/* The distinct next components below a dotted prefix ("" for the top level), in schema order:
 * below "npu.sram" they are size_bytes, banks, bank_width_bytes. Returns how many were written
 * (at most max); each names[i] points into a row's path and is name_len[i] bytes long. */
size_t config_children(const char *prefix, const char **names, size_t *name_len, size_t max);
/* "a, b, c": the children of prefix, for messages. */
void config_children_list(const char *prefix, char *buf, size_t size);
/* Is path a proper prefix of some row's path (a mapping that holds keys)? */
int config_is_mapping(const char *path);

/* The section a row belongs to. */
const m4npu_cfg_section *config_key_section(const m4npu_cfg_key *k);

/* Parse text as a value of k (plain: the YAML scalar was unquoted, as overrides are), check
 * its type and its range and store it in cfg. On error writes the reason ("1e-320 is outside
 * 0.1..10000 GB/s") and returns the status. */
m4npu_config_status config_value_parse(const m4npu_cfg_key *k, const char *text, size_t len, int plain,
                                       m4npu_config *cfg, char *reason, size_t rsize);
/* Check the value of k held in cfg: its type and its range. */
m4npu_config_status config_value_check(const m4npu_cfg_key *k, const m4npu_config *cfg, char *reason,
                                       size_t rsize);
/* "LO..HI UNIT": the range of a numeric row as messages and docs/configs.md state it. */
void config_range_text(const m4npu_cfg_key *k, char *buf, size_t size);
/* The value of k in cfg as a YAML scalar that config_value_parse reads back exactly (strings
 * double-quoted and escaped). Returns the length, or -1 if buf is too small. */
int config_value_format(const m4npu_cfg_key *k, const m4npu_config *cfg, char *buf, size_t size);
/* The value as JSON (NULL if out of memory or not valid UTF-8). */
json_t *config_value_json(const m4npu_cfg_key *k, const m4npu_config *cfg);
/* "16 MiB" when exact, else "16777217". */
void config_format_bytes(uint64_t v, char *buf, size_t size);
/* The shortest "%g" text that reads back as exactly v. */
void config_format_double(double v, char *buf, size_t size);
/* Valid UTF-8 with no NUL? */
int config_utf8_valid(const char *s, size_t len);

/* ---- the YAML document as a tree (config_yaml.c): config_yaml.h */

/* ---- the capability set, `ops:` (config_ops.c) */

/* Read the `ops` mapping (op name -> on | off | {dtypes, limits}) into cfg->ops, replacing it.
 * Errors are placed at the offending node of the file `origin`. */
m4npu_config_status config_ops_walk(const config_node *map, const char *origin, m4npu_config *cfg,
                                    m4npu_config_error *err);
/* An override below `ops.`: sub is "OP" (value on/off) or "OP.FIELD". */
m4npu_config_status config_ops_set(m4npu_config *cfg, const char *sub, const char *value, const char *origin,
                                   m4npu_config_error *err);
/* Every entry consistent (names, types, limits that apply): 0, or -1 with "KEY: reason". */
int config_ops_check(const m4npu_config *cfg, char *err, size_t errlen);
/* The set as an indented YAML block ("ops:\n  Add: on\n ..."), as JSON, and for the docs. */
int config_ops_write_yaml(const m4npu_config *cfg, const char *key, FILE *out);
json_t *config_ops_json(const m4npu_config *cfg);
void config_ops_doc(const m4npu_config *example, FILE *out);
/* configs/test.yaml's capability set. */
void config_ops_defaults(m4npu_ops_config *ops);

/* Fill err and compose err->msg. Any of origin/key may be NULL or "", line 0 for no position. */
m4npu_config_status config_error(m4npu_config_error *err, m4npu_config_status st, const char *origin,
                                 int line, int column, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

#endif
