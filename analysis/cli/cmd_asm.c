/* m4npu asm: assemble a program. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "isa_asm.h"

static const char usage[] =
    "usage: m4npu asm FILE.s -o FILE.bin\n"
    "\n"
    "Assemble an m4npu ISA program (syntax: isa/README.md, instructions: isa/ISA.md).\n"
    "Errors are printed as FILE:LINE:COL: error: ...; nothing is written when there is one.\n"
    "The output is written whole or not at all; a symbolic link is written through; the input\n"
    "itself is refused as the output.\n"
    "\n"
    "  -o, --output FILE   where to write the program (required)\n"
    "  -h, --help          this help\n"
    "\n"
    "Exit: 0 assembled, 1 assembly errors, 2 usage, 3 file not readable/writable.\n";

int cmd_asm(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
    const char *output = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == 'o')
            output = optarg;
        else {
            fputs(usage, stderr);
            return CLI_USAGE;
        }
    }
    if (optind != argc - 1 || !output) {
        fprintf(stderr, "m4npu asm: expected one input file and -o OUTPUT\n%s", usage);
        return CLI_USAGE;
    }
    const char *input = argv[optind];
    rt_outputs *out = cli_outputs_new();
    if (!out)
        return CLI_FAIL;
    /* the output may not be the input: refused before the input is even assembled */
    int rc = cli_outputs_protect(out, input);
    uint8_t *src = NULL;
    size_t len = 0;
    if (rc == CLI_OK)
        rc = cli_read_file(input, ISA_ASM_MAX_SOURCE_BYTES, "assembly text", &src, &len);
    isa_asm_result r = {0};
    if (rc == CLI_OK) {
        isa_status st = isa_assemble((const char *)src, len, input, &r);
        if (st != ISA_OK) {
            if (r.diagnostics)
                fputs(r.diagnostics, stderr);
            else
                fprintf(stderr, "m4npu asm: %s: %s\n", input, isa_status_str(st));
            rc = CLI_FAIL;
        }
    }
    if (rc == CLI_OK)
        rc = cli_outputs_add_data(out, output, r.bytes, r.size);
    if (rc == CLI_OK)
        rc = cli_outputs_commit(out);
    free(src);
    isa_asm_result_free(&r);
    cli_outputs_free(out);
    return rc;
}
