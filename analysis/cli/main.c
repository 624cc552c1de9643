/* m4npu: the one command-line program. Dispatches to a subcommand; see `m4npu --help`. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "isa.h"

#ifndef M4NPU_VERSION
#define M4NPU_VERSION "unknown"
#endif

static const cli_command commands[] = {
    {"whatif", "how fast and at what energy M4 runs on this NPU, per task (the main job)", cmd_whatif},
    {"asm", "assemble an ISA program: m4npu asm FILE.s -o FILE.bin", cmd_asm},
    {"disasm", "disassemble an ISA program: m4npu disasm FILE.bin", cmd_disasm},
    {"exec", "run an ISA program on the simulated NPU: m4npu exec PROGRAM --config FILE", cmd_exec},
    {"bench", "measure the simulator's speed (simulated instructions and cycles per second)", cmd_bench},
    {"calibrate", "compare the fast model with the RTL tiles: m4npu calibrate --config FILE", cmd_calibrate},
    {"conformance", "run the ONNX backend node tests on the CPU kernels: m4npu conformance [--json]", cmd_conformance},
    {"config", "validate a configuration and print it: m4npu config FILE [--set K=V] [--json]", cmd_config},
    {"ops", "list the ops, the M4 set and what the configured NPU runs: m4npu ops [--config FILE] [--json]", cmd_ops},
    {"run", "run an ONNX model split between the NPU and the CPU: m4npu run MODEL.onnx --config FILE", cmd_run},
    {"trace", "record, replay, diff, dump and draw traces of the driver/device boundary: m4npu trace --help", cmd_trace},
    {"sweep", "design-space sweeps, local or on Slurm, and their report: m4npu sweep SPEC --out DIR", cmd_sweep},
    {"fit", "calibrate presets to measured latencies and energies: m4npu fit --measurements FILE.csv", cmd_fit},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

const cli_command *cli_find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0)
            return &commands[i];
    return NULL;
}

static void print_usage(FILE *out)
{
    fprintf(out, "usage: m4npu [--version] [--help] COMMAND [ARGS]\n\n"
                 "m4npu simulates an NPU running the M4 foundation model. Commands:\n\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`m4npu COMMAND --help` describes each command.\n");
}

/* Standard output carries most commands' results, and stdio reports a failed write only through
 * ferror() or the final flush: check both once, here, for every command, so that a full disk or
 * a closed descriptor is exit 3 with a message, never a silent success. */
static int finish_stdout(int rc)
{
    int failed_before = ferror(stdout) != 0, reason = 0;
    errno = 0;
    if (fflush(stdout) != 0)
        reason = errno;
    if (fclose(stdout) != 0 && !reason)
        reason = errno;
    if (!failed_before && !reason)
        return rc;
    /* stdio keeps no reason for a write that failed earlier, only that it did */
    fprintf(stderr, "m4npu: cannot write standard output: %s\n", reason ? strerror(reason) : "a write failed");
    return CLI_IO;
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("m4npu %s (ISA %s)\n", M4NPU_VERSION, ISA_VERSION_STRING);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return CLI_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "m4npu: unknown command '%s'\n\n", argv[1]);
    print_usage(stderr);
    return CLI_USAGE;
}

int main(int argc, char **argv)
{
    return finish_stdout(dispatch(argc, argv));
}
