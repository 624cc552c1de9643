/* m4npu ops: every operator the runtime has a kernel for, whether it is in the M4 operator set
 * (and which M4 modules use it), and whether the configured NPU runs it (the capability set of
 * the configuration's `ops:` section, with its data types and limits). */
#include "cli.h"
#include "cli_common.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "m4npu_config.h"
#include "ops.h"

#define PERCENT 100.0

static const char usage[] =
    "usage: m4npu ops [--config FILE [--set KEY=VALUE ...]] [--json]\n"
    "\n"
    "List every op with a CPU kernel (runtime/ops): whether it is in the M4 operator set and which\n"
    "M4 modules use it (docs/ops.md), and, with --config, whether the configured NPU runs it (the\n"
    "capability set, `ops:` in the configuration, with its data types and limits; the firmware's own\n"
    "limits apply on top when a model is partitioned).\n"
    "\n"
    "  -c, --config FILE     the configuration (e.g. configs/mobile-default.yaml)\n"
    "  -s, --set KEY=VALUE   override a key, e.g. --set ops.Softmax=off\n"
    "  -j, --json            one JSON object: {\"ops\": [{\"name\", \"in_m4_set\", \"npu\", \"dtypes\",\n"
    "                        \"limits\", \"modules\"}], \"ops_count\", \"m4_set\", \"m4_on_npu\",\n"
    "                        \"m4_on_npu_fraction\", \"npu_ops\", \"config\"}\n"
    "  -h, --help            this help\n"
    "\n"
    "Exit: 0 listed, 1 the configuration is invalid, 2 usage, 3 FILE cannot be read.\n";

static void modules_text(uint32_t mods, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int b = 0; b < RT_MOD_COUNT && o < size; b++)
        if (mods & (1u << b))
            o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? ", " : "", ops_module_name(b));
    if (!o)
        snprintf(buf, size, "-");
}

/* "f32; max_axis 4096" */
static void cap_text(const m4npu_op_cap *c, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int t = 0; t < 32 && o < size; t++)
        if (c->dtypes & (1u << t))
            o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? "," : "", rt_dtype_name((rt_dtype)t));
    for (int l = 0; l < M4NPU_LIMIT_COUNT && o < size; l++) {
        uint64_t v = m4npu_op_cap_limit(c, (m4npu_op_limit)l);
        if (v)
            o += (size_t)snprintf(buf + o, size - o, "; %s %llu", m4npu_op_limit_name((m4npu_op_limit)l),
                                  (unsigned long long)v);
    }
}

static int set(json_t *obj, const char *key, json_t *v)
{
    return v && json_object_set_new(obj, key, v) == 0 ? 0 : -1;
}

static json_t *op_json(int id, const m4npu_config *cfg)
{
    const rt_op_def *d = ops_get(id);
    json_t *o = json_object(), *mods = json_array();
    int bad = !o || !mods;
    for (int b = 0; !bad && b < RT_MOD_COUNT; b++)
        if (d->modules & (1u << b))
            bad = json_array_append_new(mods, json_string(ops_module_name(b)));
    bad = bad || set(o, "name", json_string(d->name)) || set(o, "in_m4_set", json_boolean(d->in_m4)) ||
          set(o, "modules", mods);
    if (!bad && cfg) {
        const m4npu_op_cap *c = m4npu_config_op(cfg, id);
        bad = set(o, "npu", json_boolean(c->npu));
        if (!bad && c->npu) {
            json_t *types = json_array(), *lims = json_object();
            bad = !types || !lims;
            for (int t = 0; !bad && t < 32; t++)
                if (c->dtypes & (1u << t))
                    bad = json_array_append_new(types, json_string(rt_dtype_name((rt_dtype)t)));
            for (int l = 0; !bad && l < M4NPU_LIMIT_COUNT; l++) {
                uint64_t v = m4npu_op_cap_limit(c, (m4npu_op_limit)l);
                if (v)
                    bad = set(lims, m4npu_op_limit_name((m4npu_op_limit)l), json_integer((json_int_t)v));
            }
            if (bad) {
                json_decref(types);
                json_decref(lims);
            } else {
                bad = set(o, "dtypes", types) || set(o, "limits", lims);
            }
        }
    } else if (!bad) {
        bad = set(o, "npu", json_null());
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int print_json(const m4npu_config *cfg, const m4npu_config_source *src)
{
    json_t *root = json_object(), *list = json_array();
    int bad = !root || !list || set(root, "ops", list);
    int m4 = 0, m4_on = 0, on = 0;
    for (int id = 0; !bad && id < ops_count(); id++) {
        const rt_op_def *d = ops_get(id);
        int npu = cfg && m4npu_config_op(cfg, id)->npu;
        m4 += d->in_m4;
        m4_on += d->in_m4 && npu;
        on += npu;
        bad = json_array_append_new(list, op_json(id, cfg));
    }
    bad = bad || set(root, "ops_count", json_integer(ops_count())) || set(root, "m4_set", json_integer(m4)) ||
          set(root, "config", cfg ? json_string(cfg->npu.name) : json_null()) ||
          set(root, "configuration", cfg ? m4npu_config_source_json(cfg, src) : json_null()) ||
          set(root, "m4_on_npu", cfg ? json_integer(m4_on) : json_null()) ||
          set(root, "m4_on_npu_fraction", cfg && m4 ? json_real((double)m4_on / m4) : json_null()) ||
          set(root, "npu_ops", cfg ? json_integer(on) : json_null());
    bad = bad || json_dumpf(root, stdout, JSON_INDENT(2)) != 0;
    json_decref(root);
    if (bad) {
        fprintf(stderr, "m4npu ops: cannot print JSON\n");
        return CLI_FAIL;
    }
    fputc('\n', stdout);
    return fflush(stdout) == 0 ? CLI_OK : CLI_IO;
}

static int print_table(const m4npu_config *cfg, const m4npu_config_source *src)
{
    int m4 = 0, m4_on = 0, on = 0;
    if (cfg)
        printf("%-24s %-7s %-5s %-40s %s\n", "op", "M4 set", "NPU", "NPU data types; limits", "M4 modules");
    else
        printf("%-24s %-7s %s\n", "op", "M4 set", "M4 modules");
    for (int id = 0; id < ops_count(); id++) {
        const rt_op_def *d = ops_get(id);
        char mods[256], cap[160] = "";
        modules_text(d->modules, mods, sizeof mods);
        m4 += d->in_m4;
        if (!cfg) {
            printf("%-24s %-7s %s\n", d->name, d->in_m4 ? "yes" : "no", mods);
            continue;
        }
        const m4npu_op_cap *c = m4npu_config_op(cfg, id);
        m4_on += d->in_m4 && c->npu;
        on += c->npu != 0;
        if (c->npu)
            cap_text(c, cap, sizeof cap);
        printf("%-24s %-7s %-5s %-40s %s\n", d->name, d->in_m4 ? "yes" : "no", c->npu ? "yes" : "no", cap, mods);
    }
    printf("\n%d ops have a kernel; %d are in the M4 operator set (docs/ops.md).\n", ops_count(), m4);
    char label[1024];
    if (cfg)
        printf("%s runs %d ops on the NPU, %d of the M4 set (%.0f%%); the rest run on the CPU.\n",
               m4npu_config_label(cfg, src, label, sizeof label), on, m4_on, m4 ? PERCENT * m4_on / m4 : 0.0);
    return fflush(stdout) == 0 ? CLI_OK : CLI_IO;
}

int cmd_ops(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    static const struct option opts[] = {CLI_OPTION_CONFIG, CLI_OPTION_SET, CLI_OPTION_JSON, {NULL, 0, NULL, 0}};
    cli_common common;
    cli_common_init(&common, "ops");
    int c, rc = CLI_OK;
    optind = 1;
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "c:s:j", opts, NULL)) != -1)
        if (cli_common_parse(&common, c, optarg) <= 0)
            rc = CLI_USAGE;
    if (rc == CLI_OK && optind != argc) {
        fprintf(stderr, "m4npu ops: unexpected argument '%s'\n", argv[optind]);
        rc = CLI_USAGE;
    }
    if (rc == CLI_OK && common.nsets && !common.config) {
        fprintf(stderr, "m4npu ops: --set needs --config\n");
        rc = CLI_USAGE;
    }
    if (rc == CLI_USAGE) {
        fputs(usage, stderr);
        return rc;
    }
    m4npu_config *cfg = NULL;
    if (common.config) {
        cfg = malloc(sizeof *cfg);
        if (!cfg)
            fprintf(stderr, "m4npu ops: out of memory\n");
        rc = cfg ? cli_common_load(&common, common.config, cfg) : CLI_FAIL;
        if (rc != CLI_OK) {
            free(cfg);
            return rc;
        }
    }
    int json = common.json;
    m4npu_config_source src = cli_common_source(&common, common.config);
    rc = json ? print_json(cfg, &src) : print_table(cfg, &src);
    free(cfg);
    return rc;
}
