/* m4npu config: validate a configuration file and print the effective configuration, so that a
 * preset or a sweep point can be checked before anything runs on it. */
#include "cli.h"
#include "cli_common.h"

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
    static const struct option opts[] = {CLI_OPTION_SET, CLI_OPTION_JSON, {NULL, 0, NULL, 0}};
    cli_common common;
    cli_common_init(&common, "config");
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:j", opts, NULL)) != -1) {
        int shared = cli_common_parse(&common, c, optarg);
        if (shared <= 0) {
            if (shared == 0)
                fputs(usage, stderr);
            return CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "m4npu config: expected one configuration file\n%s", usage);
        return CLI_USAGE;
    }
    const char *path = argv[optind];
    m4npu_config cfg;
    int rc = cli_common_load(&common, path, &cfg);
    if (rc != CLI_OK)
        return rc;
    int json = common.json;
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
