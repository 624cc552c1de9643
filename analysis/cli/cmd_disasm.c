/* m4npu disasm: disassemble a program. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>

#include "isa_asm.h"

static const char usage[] =
    "usage: m4npu disasm FILE.bin [-v]\n"
    "\n"
    "Print a program as assembly that re-assembles to the same bytes. A 16-byte word that is not a\n"
    "valid instruction is printed as `.insn 0x...` and reported on stderr with its offset as\n"
    "FILE:+0xOFFSET: error: ...; so are trailing bytes that are not a whole instruction.\n"
    "\n"
    "  -v, --verbose   add each instruction's byte offset as a comment\n"
    "  -h, --help      this help\n"
    "\n"
    "A program is at most 64 MiB (4 Mi instructions); a larger file is refused.\n"
    "\n"
    "Exit: 0 every word is valid, 1 some are not (or the file is too large), 2 usage, 3 file not\n"
    "readable or standard output not writable.\n";

int cmd_disasm(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    static const struct option opts[] = {{"verbose", no_argument, NULL, 'v'}, {NULL, 0, NULL, 0}};
    int verbose = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
        if (c == 'v')
            verbose = 1;
        else {
            fputs(usage, stderr);
            return CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "m4npu disasm: expected one input file\n%s", usage);
        return CLI_USAGE;
    }
    uint8_t *bytes;
    size_t len;
    int rc = cli_read_file(argv[optind], ISA_MAX_PROGRAM_BYTES, "a program", &bytes, &len);
    if (rc != CLI_OK)
        return rc;
    int problems = isa_disassemble(bytes, len, argv[optind], stdout, stderr, verbose);
    free(bytes);
    return problems ? CLI_FAIL : CLI_OK;
}
