/* isa_doc.h -- the ISA reference page, generated from the table. */
#ifndef M4NPU_ISA_DOC_H
#define M4NPU_ISA_DOC_H

#include <stdio.h>

#include "isa.h"

/* Write isa/ISA.md's content. */
void isa_doc_write(FILE *out);

#endif
