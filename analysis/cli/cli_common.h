/* cli_common.h -- the options most m4npu commands share, parsed and applied in one place:
 * --config FILE (-c), --set KEY=VALUE (-s, repeatable), --json (-j), --csv, and the output set
 * that every file a command writes goes through (protecting the configuration from being
 * overwritten). A command lists the ones it takes in its getopt_long table with the CLI_OPTION_*
 * rows, and hands each getopt result to cli_common_parse first. */
#ifndef M4NPU_CLI_COMMON_H
#define M4NPU_CLI_COMMON_H

#include <getopt.h>
#include <stddef.h>

#include "cli.h"
#include "m4npu_config.h"

#define CLI_MAX_SETS 64

enum cli_common_opt {
    CLI_OPT_CONFIG = 'c',
    CLI_OPT_SET = 's',
    CLI_OPT_JSON = 'j',
    CLI_OPT_CSV = 0x4000,
};

#define CLI_OPTION_CONFIG {"config", required_argument, NULL, CLI_OPT_CONFIG}
#define CLI_OPTION_SET {"set", required_argument, NULL, CLI_OPT_SET}
#define CLI_OPTION_JSON {"json", no_argument, NULL, CLI_OPT_JSON}
#define CLI_OPTION_CSV {"csv", no_argument, NULL, CLI_OPT_CSV}

typedef struct cli_common {
    const char *command;              /* "whatif": messages start "m4npu whatif: " */
    const char *config;               /* --config FILE, or NULL */
    const char *sets[CLI_MAX_SETS];   /* --set KEY=VALUE, in order */
    size_t nsets;
    int json, csv;
} cli_common;

/* A fresh state for `command` (its name in messages). */
void cli_common_init(cli_common *c, const char *command);
/* opt is a getopt_long result: 1 if it is a shared option (recorded), 0 if it is not, -1 if its
 * value is wrong (the message printed: a usage error). */
int cli_common_parse(cli_common *c, int opt, const char *arg);
/* After the last option: -1 (printed) if --json and --csv were both given. */
int cli_common_check(const cli_common *c);
/* Load the configuration (path: --config, or the command's default when NULL is meant to be the
 * built-in defaults) with the --set overrides applied; the exit code (cli_load_config's). */
int cli_common_load(const cli_common *c, const char *path, m4npu_config *cfg);
/* Where the configuration came from, for the reports (the file and the overrides). */
m4npu_config_source cli_common_source(const cli_common *c, const char *path);
/* "NAME" or "NAME + 2 overrides: K=V, K=V" into buf. */
const char *cli_common_label(const cli_common *c, const char *path, const m4npu_config *cfg, char *buf, size_t size);
/* A new output set that refuses to overwrite the configuration file `path` (NULL: none) into *out;
 * the exit code (*out NULL after printing why). */
int cli_common_outputs(const char *path, struct rt_outputs **out);
/* Reserve `path` in the set for a file another program writes (gnuplot): *tmp is where to write
 * it; `option` names the option in the message. Returns an exit code. */
int cli_outputs_reserve(struct rt_outputs *o, const char *option, const char *path, const char **tmp);

#endif
