/* config_doc.c -- docs/configs.md, generated from the schema so that the page and the loader
 * never disagree (build/bin/config-doc > docs/configs.md; tests/config/test_config_doc.c fails
 * when the committed page differs). */
#include "config_internal.h"

#include <string.h>

static const char *kind_name(const m4npu_cfg_key *k)
{
    switch (k->kind) {
    case M4NPU_CFG_U32:
    case M4NPU_CFG_U64:
        return "integer";
    case M4NPU_CFG_BYTES:
        return "size";
    case M4NPU_CFG_F64:
        return "number";
    case M4NPU_CFG_ENUM:
        return "name";
    case M4NPU_CFG_STR:
        return "string";
    case M4NPU_CFG_OPS:
        return "mapping";
    }
    return "?";
}

static void range_text(const m4npu_cfg_key *k, char *buf, size_t size)
{
    switch (k->kind) {
    case M4NPU_CFG_U32:
    case M4NPU_CFG_U64:
    case M4NPU_CFG_BYTES:
    case M4NPU_CFG_F64:
        config_range_text(k, buf, size);
        return;
    case M4NPU_CFG_ENUM: {
        size_t o = 0;
        buf[0] = '\0';
        for (size_t i = 0; k->names[i] && o < size; i++)
            o += (size_t)snprintf(buf + o, size - o, "%s`%s`", i ? ", " : "", k->names[i]);
        return;
    }
    case M4NPU_CFG_OPS:
        snprintf(buf, size, "op names of runtime/ops");
        return;
    case M4NPU_CFG_STR:
        if (k->min)
            snprintf(buf, size, "%llu .. %llu bytes", (unsigned long long)k->min, (unsigned long long)k->max);
        else
            snprintf(buf, size, "at most %llu bytes", (unsigned long long)k->max);
        return;
    }
    snprintf(buf, size, "?");
}

/* Text for a table cell: '|' escaped, newlines as spaces. */
static void cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '\n')
            fputc(' ', out);
        else
            fputc(*s, out);
    }
}

void m4npu_config_doc_write(FILE *out)
{
    m4npu_config example;
    m4npu_config_defaults(&example);
    fputs("# Configuration reference\n"
          "\n"
          "<!-- Generated from runtime/config/config_schema.c by build/bin/config-doc; do not edit.\n"
          "     tests/config/test_config_doc.c fails when this page and the schema differ. -->\n"
          "\n"
          "One YAML file describes the simulated NPU and the CPU beside it; presets live in `configs/`\n"
          "(`test.yaml`: small and fast, for tests; `mobile-default.yaml`: Pixel-7-Pro-class, every value\n"
          "with its source). `m4npu config FILE [--set KEY=VALUE ...] [--json]` validates a file and prints\n"
          "the effective configuration.\n"
          "\n"
          "## Rules\n"
          "\n"
          "- **Strict.** Every key below is required; an unknown key, a duplicate key, a wrong type, an\n"
          "  impossible value, malformed YAML, an empty file or a document that is not a mapping is an error\n"
          "  `FILE:LINE:COL: KEY: reason`, e.g.\n"
          "  `configs/x.yaml:14:15: npu.sram.banks: expected an unsigned integer, got \"eight\"`.\n"
          "  Anchors, aliases, explicit tags and multiple documents are not accepted.\n"
          "- **Sizes** (keys ending in `_bytes`) are integers or take a binary suffix: `B`, `KiB`, `MiB`,\n"
          "  `GiB`, `TiB` (`8 MiB`, `256KiB`, `\"12 GiB\"`). Decimal suffixes (`MB`) are refused as ambiguous.\n"
          "- **Rates and times** are plain numbers with the unit in the key name (`_mhz`, `_gb_s`, `_ns`,\n"
          "  `_us`, `_w`). Integers are unquoted decimal; numbers are unquoted decimal or exponent form.\n"
          "- **Overrides.** `--set npu.matmul.rows=32` sets one key as if the file said so (the value is\n"
          "  read like an unquoted YAML scalar); overrides apply in order, before the checks.\n"
          "- **Ranges.** Every number has a physically meaningful range (below, inclusive), so that a\n"
          "  value that passes means something; one outside is an error at its value, stating the range:\n"
          "  `x.yaml:23:21: npu.dram.bandwidth_gb_s: 1e-320 is outside 0.1..10000 GB/s`. A number where an\n"
          "  integer is expected is held to the range too (`rows: 1e23` is outside 1..4095 PEs).\n"
          "- **Checks.** After every key has a value, each section's own check runs. For `npu:` it is the\n"
          "  device's `npu_config_check()` (sim/config/npu_config.c), whose ranges the `npu` table states,\n"
          "  then whether this host can map `npu.dram.size_bytes` as the device does when it opens, so\n"
          "  that `m4npu config` refuses what `m4npu exec` would; the message is reported at the line (or\n"
          "  the `--set`) that set the key it names.\n"
          "\n"
          "Columns: *type* (integer, size, number, name, string), *unit*, *range* (inclusive), *test.yaml*\n"
          "(the value in `configs/test.yaml`, which equals `m4npu_config_defaults()`), and the meaning.\n",
          out);
    for (size_t s = 0; s < m4npu_config_section_count(); s++) {
        const m4npu_cfg_section *sec = m4npu_config_section_at(s);
        fprintf(out, "\n## %s\n\n%s\n\n", sec->title, sec->doc);
        fputs("| key | type | unit | range | test.yaml | meaning |\n", out);
        fputs("|---|---|---|---|---|---|\n", out);
        for (size_t i = 0; i < sec->nkeys; i++) {
            const m4npu_cfg_key *k = &sec->keys[i];
            char range[128], value[4 * M4NPU_CONFIG_DESC_LEN + 16];
            range_text(k, range, sizeof range);
            if (k->kind == M4NPU_CFG_OPS)
                snprintf(value, sizeof value, "%d ops (below)", m4npu_config_ops_on(&example));
            else if (config_value_format(k, &example, value, sizeof value) < 0)
                snprintf(value, sizeof value, "?");
            fprintf(out, "| `%s` | %s | %s | ", k->path, kind_name(k), k->unit);
            cell(out, range);
            fputs(" | ", out);
            cell(out, value);
            fputs(" | ", out);
            cell(out, k->doc);
            fputs(" |\n", out);
            if (k->kind == M4NPU_CFG_OPS)
                config_ops_doc(&example, out);
        }
    }
    fputs("\n## Adding a section\n"
          "\n"
          "A new section is a member of `m4npu_config` and a table of rows in `runtime/config/config_schema.c`;\n"
          "this page is regenerated from the rows (`build/bin/config-doc > docs/configs.md`).\n",
          out);
}
