/* cli_io.c -- the CLI's whole-file reads (runtime/graph's rt_read_file, bounded, errors printed),
 * its output sets (rt_outputs: every file a command writes appears together or not at all), and
 * --help detection. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "m4npu_config.h"
#include "partition.h"

int cli_file_error(int code, const char *msg)
{
    fprintf(stderr, "m4npu: %s\n", msg);
    switch ((rt_status)code) {
    case RT_OK: return CLI_OK;
    case RT_ERR_ARG: return CLI_USAGE;
    case RT_ERR_LIMIT: return CLI_FAIL;
    default: return CLI_IO;
    }
}

int cli_read_file(const char *path, size_t max_bytes, const char *kind, uint8_t **data, size_t *size)
{
    rt_error e;
    rt_status s = rt_read_file(path, max_bytes, kind, data, size, &e);
    return s == RT_OK ? CLI_OK : cli_file_error(s, e.msg);
}

rt_outputs *cli_outputs_new(void)
{
    rt_outputs *o = rt_outputs_new();
    if (!o)
        fprintf(stderr, "m4npu: out of memory\n");
    return o;
}

int cli_outputs_protect(rt_outputs *o, const char *input_path)
{
    rt_error e;
    rt_status s = rt_outputs_protect(o, input_path, &e);
    return s == RT_OK ? CLI_OK : cli_file_error(s, e.msg);
}

int cli_outputs_add_data(rt_outputs *o, const char *path, const void *data, size_t size)
{
    rt_error e;
    rt_status s = rt_outputs_add_data(o, path, data, size, &e);
    return s == RT_OK ? CLI_OK : cli_file_error(s, e.msg);
}

int cli_outputs_commit(rt_outputs *o)
{
    rt_error e;
    rt_status s = rt_outputs_commit(o, &e);
    return s == RT_OK ? CLI_OK : cli_file_error(s, e.msg);
}

void cli_outputs_free(rt_outputs *o) { rt_outputs_free(o); }

int cli_load_config(const char *path, const char *const *sets, size_t nsets, m4npu_config *cfg)
{
    m4npu_config_error err;
    m4npu_config_status st = M4NPU_CONFIG_OK;
    if (path) {
        st = m4npu_config_load_overrides(path, sets, nsets, cfg, &err);
    } else {
        m4npu_config_defaults(cfg);
        for (size_t i = 0; i < nsets && st == M4NPU_CONFIG_OK; i++)
            st = m4npu_config_set_assignment(cfg, sets[i], &err);
    }
    if (st == M4NPU_CONFIG_OK)
        return CLI_OK;
    fprintf(stderr, "%s%s\n", st == M4NPU_CONFIG_E_IO ? "m4npu: " : "", err.msg);
    return st == M4NPU_CONFIG_E_IO ? CLI_IO : st == M4NPU_CONFIG_E_USAGE ? CLI_USAGE : CLI_FAIL;
}

int cli_wants_help(int argc, char **argv, const char *usage)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        }
    }
    return 0;
}

int cli_parse_partition(const char *word, bool *greedy)
{
    if (strcmp(word, "cost") == 0 || strcmp(word, "greedy") == 0) {
        *greedy = word[0] == 'g';
        return CLI_OK;
    }
    return CLI_USAGE;
}

int cli_parse_objective(const char *word, int *objective)
{
    if (strcmp(word, "latency") == 0 || strcmp(word, "energy") == 0) {
        *objective = word[0] == 'e' ? PART_ENERGY : PART_LATENCY;
        return CLI_OK;
    }
    return CLI_USAGE;
}
