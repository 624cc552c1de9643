/* cli_common.c -- the shared options of the m4npu commands (cli_common.h). */
#include "cli_common.h"

#include <stdio.h>
#include <string.h>

#include "graph.h"

void cli_common_init(cli_common *c, const char *command)
{
    memset(c, 0, sizeof *c);
    c->command = command;
}

int cli_common_parse(cli_common *c, int opt, const char *arg)
{
    switch (opt) {
    case CLI_OPT_CONFIG: c->config = arg; return 1;
    case CLI_OPT_SET:
        if (!arg || !strchr(arg, '=') || arg[0] == '=') {
            fprintf(stderr, "m4npu %s: --set %s: expected KEY=VALUE\n", c->command, arg ? arg : "");
            return -1;
        }
        if (c->nsets == CLI_MAX_SETS) {
            fprintf(stderr, "m4npu %s: at most %d --set\n", c->command, CLI_MAX_SETS);
            return -1;
        }
        c->sets[c->nsets++] = arg;
        return 1;
    case CLI_OPT_JSON: c->json = 1; return 1;
    case CLI_OPT_CSV: c->csv = 1; return 1;
    default: return 0;
    }
}

int cli_common_check(const cli_common *c)
{
    if (c->json && c->csv) {
        fprintf(stderr, "m4npu %s: --json and --csv exclude each other\n", c->command);
        return -1;
    }
    return 0;
}

int cli_common_load(const cli_common *c, const char *path, m4npu_config *cfg)
{
    return cli_load_config(path, c->sets, c->nsets, cfg);
}

m4npu_config_source cli_common_source(const cli_common *c, const char *path)
{
    m4npu_config_source s = {path, c->sets, c->nsets};
    return s;
}

const char *cli_common_label(const cli_common *c, const char *path, const m4npu_config *cfg, char *buf, size_t size)
{
    m4npu_config_source s = cli_common_source(c, path);
    return m4npu_config_label(cfg, &s, buf, size);
}

int cli_common_outputs(const char *path, rt_outputs **out)
{
    rt_outputs *o = cli_outputs_new();
    int rc = o ? CLI_OK : CLI_FAIL;
    if (o && path && (rc = cli_outputs_protect(o, path)) != CLI_OK) {
        cli_outputs_free(o);
        o = NULL;
    }
    *out = o;
    return rc;
}

int cli_outputs_reserve(rt_outputs *o, const char *option, const char *path, const char **tmp)
{
    rt_error e;
    rt_status s = rt_outputs_add(o, path, tmp, &e);
    if (s == RT_OK)
        return CLI_OK;
    rt_error_prefix(&e, "%s", option);
    return cli_file_error(s, e.msg);
}
