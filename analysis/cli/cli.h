/* cli.h -- the m4npu command: subcommand entry points and the helpers they share.
 *
 * Exit codes of every subcommand: 0 success; 1 the input was processed and found bad (an
 * assembly error, a device fault, a failed check); 2 usage error (bad option); 3 an input or
 * output file could not be read or written.
 */
#ifndef M4NPU_CLI_H
#define M4NPU_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_IO = 3 };

struct m4npu_config;

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
} cli_command;

int cmd_whatif(int argc, char **argv);
int cmd_asm(int argc, char **argv);
int cmd_disasm(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_conformance(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_ops(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_fit(int argc, char **argv);

/* The command called name, or NULL (main.c's table). */
const cli_command *cli_find_command(const char *name);

/* Read a whole file of at most max_bytes (kind names what it is, for the message: "a program");
 * on failure prints "m4npu: PATH: reason" and returns CLI_IO (unreadable) or CLI_FAIL (over the
 * limit, which the message states). */
int cli_read_file(const char *path, size_t max_bytes, const char *kind, uint8_t **data, size_t *size);

/* The files a command writes go through one output set (runtime/graph's rt_outputs): written
 * beside their targets, renamed into place together at cli_outputs_commit, removed if the
 * command fails. cli_outputs_new returns NULL after printing why; the others print the error and
 * return CLI_OK, CLI_IO (a file could not be written) or CLI_USAGE (an output path names an
 * input, or twice the same file). cli_outputs_free undoes a set that was not committed. */
struct rt_outputs;
struct rt_outputs *cli_outputs_new(void);
int cli_outputs_protect(struct rt_outputs *o, const char *input_path);
int cli_outputs_add_data(struct rt_outputs *o, const char *path, const void *data, size_t size);
int cli_outputs_commit(struct rt_outputs *o);
/* Print an rt_outputs error (or any runtime file error) and return its exit code. */
int cli_file_error(int rt_status_code, const char *msg);
void cli_outputs_free(struct rt_outputs *o);

/* Load the configuration at path (NULL: the built-in defaults) with the --set assignments
 * applied, into *cfg. On failure prints the error (an unreadable file as "m4npu: PATH: reason",
 * like every other file) and returns the exit code: CLI_IO, CLI_USAGE for an assignment that is
 * not KEY=VALUE, CLI_FAIL for a bad value. */
int cli_load_config(const char *path, const char *const *sets, size_t nsets, struct m4npu_config *cfg);

/* --trace FILE [--trace-level job|insn] of exec, run and whatif (cmd_trace.c): start recording
 * the driver/device boundary into path (NULL: the file `m4npu trace record` asked for, if any;
 * else nothing) with cfg in the trace's header; argv is the command's. Call after the
 * configuration is loaded and before the device opens; returns an exit code. cli_trace_end
 * stops the recording (the devices must be closed) and returns rc, or CLI_IO if the trace could
 * not be written. */
int cli_trace_begin(const char *path, const char *level, const struct m4npu_config *cfg, int argc, char **argv);
int cli_trace_end(int rc);

/* --partition cost|greedy and --objective latency|energy of run and whatif (cli_io.c): CLI_OK, or
 * CLI_USAGE for another word. The objective is a part_objective (runtime/partition). */
int cli_parse_partition(const char *word, bool *greedy);
int cli_parse_objective(const char *word, int *objective);

/* Is argv[i] --help or -h anywhere? Then print usage and return 1. */
int cli_wants_help(int argc, char **argv, const char *usage);

#endif
