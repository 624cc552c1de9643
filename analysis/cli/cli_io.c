/* cli_io.c -- the CLI's whole-file reads and atomic writes (runtime/graph's rt_read_file and
 * rt_write_file, errors printed), and --help detection. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "m4npu_config.h"

int cli_read_file(const char *path, uint8_t **data, size_t *size)
{
    rt_error e;
    if (rt_read_file(path, 0, NULL, data, size, &e) != RT_OK) {
        fprintf(stderr, "m4npu: %s\n", e.msg);
        return -1;
    }
    return 0;
}

int cli_write_file(const char *path, const void *data, size_t size)
{
    rt_error e;
    if (rt_write_file(path, data, size, &e) != RT_OK) {
        fprintf(stderr, "m4npu: %s\n", e.msg);
        return -1;
    }
    return 0;
}

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
