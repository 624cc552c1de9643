/* m4npu config: validate a configuration file and print the effective configuration, so that a
 * preset or a sweep point can be checked before anything runs on it. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "m4npu_config.h"

static const char usage[] =
    "usage: m4npu config FILE [--set KEY=VALUE ...] [--json]\n"
    "\n"
    "Load FILE strictly (every key, its type and range: docs/configs.md), apply the overrides in\n"
    "order, run the device's own check and print the effective configuration as YAML (which loads\n"
    "back to the same values) or, with --json, as one JSON object. Errors are printed as\n"
    "FILE:LINE:COL: KEY: reason (or --set KEY=VALUE: KEY: reason for an override).\n"
    "\n"
    "  -s, --set KEY=VALUE   override one key, e.g. --set npu.matmul.rows=32 --set npu.sram.size_bytes=\"4 MiB\"\n"
    "  -j, --json            print JSON instead of YAML\n"
    "  -h, --help            this help\n"
    "\n"
    "Exit: 0 valid, 1 the configuration is invalid, 2 usage, 3 FILE cannot be read.\n";

int cmd_config(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    static const struct option opts[] = {
        {"set", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    const char **sets = calloc((size_t)argc, sizeof *sets);
    if (!sets) {
        fprintf(stderr, "m4npu config: out of memory\n");
        return CLI_FAIL;
    }
    size_t nsets = 0;
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:j", opts, NULL)) != -1) {
        if (c == 's' && strchr(optarg, '=') && optarg[0] != '=') {
            sets[nsets++] = optarg;
        } else if (c == 's') {
            fprintf(stderr, "m4npu config: --set %s: expected KEY=VALUE\n", optarg);
            free(sets);
            return CLI_USAGE;
        } else if (c == 'j') {
            json = 1;
        } else {
            fputs(usage, stderr);
            free(sets);
            return CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "m4npu config: expected one configuration file\n%s", usage);
        free(sets);
        return CLI_USAGE;
    }
    const char *path = argv[optind];
    m4npu_config cfg;
    int rc = cli_load_config(path, (const char *const *)sets, nsets, &cfg);
    free(sets);
    if (rc != CLI_OK)
        return rc;
    if (json) {
        json_t *obj = m4npu_config_to_json(&cfg);
        int bad = !obj || json_dumpf(obj, stdout, JSON_INDENT(2)) != 0;
        json_decref(obj);
        if (bad) {
            fprintf(stderr, "m4npu config: cannot print JSON\n");
            return CLI_FAIL;
        }
        fputc('\n', stdout);
    } else if (m4npu_config_write_yaml(&cfg, stdout) != 0) {
        fprintf(stderr, "m4npu config: cannot print the configuration\n");
        return CLI_IO;
    }
    return fflush(stdout) == 0 ? CLI_OK : CLI_IO;
}
