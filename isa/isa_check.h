/* isa_check.h -- internal to isa/: the cross-field checks named in isa_table.def's `check`
 * column, and the error helper they share. */
#ifndef M4NPU_ISA_CHECK_H
#define M4NPU_ISA_CHECK_H

#include "isa.h"

isa_status isa_fail(isa_error *err, isa_status st, int field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

isa_status isa_check_dma_ld(const isa_insn *in, isa_error *err);
isa_status isa_check_dma_st(const isa_insn *in, isa_error *err);
isa_status isa_check_mm(const isa_insn *in, isa_error *err);
isa_status isa_check_mm_out(const isa_insn *in, isa_error *err);
isa_status isa_check_sm(const isa_insn *in, isa_error *err);
isa_status isa_check_vbin(const isa_insn *in, isa_error *err);
isa_status isa_check_vun(const isa_insn *in, isa_error *err);
isa_status isa_check_vred(const isa_insn *in, isa_error *err);
isa_status isa_check_vnorm(const isa_insn *in, isa_error *err);
isa_status isa_check_vquant(const isa_insn *in, isa_error *err);
isa_status isa_check_vdequant(const isa_insn *in, isa_error *err);
isa_status isa_check_vmov(const isa_insn *in, isa_error *err);
isa_status isa_check_vcvt(const isa_insn *in, isa_error *err);

#endif
