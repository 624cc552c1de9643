/* m4npu asm: assemble a program. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "isa_asm.h"

static const char usage[] =
    "usage: m4npu asm FILE.s -o FILE.bin\n"
    "\n"
    "Assemble an m4npu ISA program (syntax: isa/README.md, instructions: isa/ISA.md).\n"
    "Errors are printed as FILE:LINE:COL: error: ...; nothing is written when there is one.\n"
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
    uint8_t *src;
    size_t len;
    if (cli_read_file(input, &src, &len) != 0)
        return CLI_IO;
    isa_asm_result r;
    isa_status st = isa_assemble((const char *)src, len, input, &r);
    free(src);
    if (st != ISA_OK) {
        if (r.diagnostics)
            fputs(r.diagnostics, stderr);
        else
            fprintf(stderr, "m4npu asm: %s: %s\n", input, isa_status_str(st));
        isa_asm_result_free(&r);
        return CLI_FAIL;
    }
    int rc = cli_write_file(output, r.bytes, r.size) == 0 ? CLI_OK : CLI_IO;
    isa_asm_result_free(&r);
    return rc;
}
