/* isa-doc: print the ISA reference page (isa/ISA.md) generated from isa_table.def. */
#include "isa_doc.h"

int main(void)
{
    isa_doc_write(stdout);
    return ferror(stdout) ? 1 : 0;
}
