/* isa.h -- the m4npu instruction set: descriptors, encode, decode, validate.
 *
 * Everything here is derived from isa_table.def, the single table of the instruction set.
 * A decoded instruction is an op (an index into that table, not the opcode byte) and the values
 * of its fields in table order. Field values are held as int64_t; F (float) fields hold the raw
 * binary32 bit pattern. Access fields by name with ISA_GET/ISA_SET:
 *
 *     isa_insn in = isa_insn_make(ISA_OP_MM);
 *     ISA_SET(&in, MM, M, 16);
 *
 * Nothing in this module allocates except the assembler (isa_asm.h); no state is shared.
 */
#ifndef M4NPU_ISA_H
#define M4NPU_ISA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ISA_VERSION_MAJOR 1
#define ISA_VERSION_MINOR 1 /* 1.1: mm.out, the output stage's per-channel form */
#define ISA_VERSION_STRING "1.1"

#define ISA_INSN_BYTES 16 /* every instruction is 128 bits */
#define ISA_INSN_BITS 128
#define ISA_OPCODE_BITS 8
#define ISA_MAX_FIELDS 13 /* most fields any instruction has (mm: 13) */
#define ISA_MAX_SRAM_RANGES 4
/* The matmul tile's output stage (mm.out): a record is int32 bias, int32 mult, int32 shift; the
 * stage holds up to the n field's maximum of them, and a 256-entry int8 table. */
#define ISA_MM_OUT_RECORD_BYTES 12
#define ISA_MM_OUT_MAX_RECORDS 4095
#define ISA_MM_OUT_LUT_ENTRIES 256

/* The ops, in table order. */
typedef enum isa_op {
#define ISA_INSN(ID, MN, OPC, UNIT, CHECK, SEM) ISA_OP_##ID,
#include "isa_table.def"
    ISA_OP_COUNT,
    ISA_OP_NONE = -1
} isa_op;

/* Every enum value of the table as a constant: ISA_UNIT_MM, ISA_DF_WS, ISA_UNOP_GELU, ... */
enum {
#define ISA_ENUM(SET, NAME, VAL, STR, DOC) ISA_##SET##_##NAME = VAL,
#include "isa_table.def"
    ISA_ENUM_END_
};

/* The enum sets, for descriptors. */
typedef enum isa_enumset {
    ISA_ENUMSET_NONE = 0,
#define ISA_ENUMSET(SET, DOC) ISA_ENUMSET_##SET,
#include "isa_table.def"
    ISA_ENUMSET_COUNT
} isa_enumset;

/* A running sequence over INSN and FIELD rows; ISA_F() turns it into a field's index. */
enum isa_field_seq_ {
#define ISA_INSN(ID, MN, OPC, UNIT, CHECK, SEM) ISA_FSEQ_##ID##_BASE_,
#define ISA_FIELD(ID, FLD, NAME, LSB, W, KIND, ESET, U, MIN, MAX, AL, DOC) ISA_FSEQ_##ID##_##FLD,
#include "isa_table.def"
    ISA_FSEQ_END_
};

/* Index of field FLD within instruction ID, e.g. ISA_F(MM, K) == 7. A compile-time constant. */
#define ISA_F(ID, FLD) ((int)(ISA_FSEQ_##ID##_##FLD - ISA_FSEQ_##ID##_BASE_ - 1))
#define ISA_GET(in, ID, FLD) ((in)->f[ISA_F(ID, FLD)])
#define ISA_SET(in, ID, FLD, v) ((in)->f[ISA_F(ID, FLD)] = (int64_t)(v))

typedef enum isa_kind { ISA_KIND_U, ISA_KIND_S, ISA_KIND_F, ISA_KIND_E } isa_kind;

/* Which queue executes an instruction. */
typedef enum isa_exec_unit {
    ISA_EXEC_CTRL, /* the control core's dispatcher */
    ISA_EXEC_SYNC, /* the queue named by the instruction's `unit` field */
    ISA_EXEC_DMA,  /* the DMA channel named by `q` */
    ISA_EXEC_MM,
    ISA_EXEC_SM,
    ISA_EXEC_VEC
} isa_exec_unit;

typedef enum isa_status {
    ISA_OK = 0,
    ISA_E_OPCODE,     /* unknown opcode byte */
    ISA_E_RESERVED,   /* a reserved bit is set */
    ISA_E_RANGE,      /* a field value outside its range */
    ISA_E_ALIGN,      /* a field value not a multiple of its alignment */
    ISA_E_CONSTRAINT, /* a cross-field constraint of the instruction */
    ISA_E_LIMIT,      /* beyond a limit of the configured device (tile, SRAM, channels) */
    ISA_E_TRUNCATED,  /* a program whose length is not a multiple of 16 bytes */
    ISA_E_MNEMONIC,   /* assembler: unknown mnemonic or directive */
    ISA_E_OPERANDS,   /* assembler: wrong operand count */
    ISA_E_SYNTAX,     /* assembler: malformed line or expression */
    ISA_E_SYMBOL,     /* assembler: undefined or redefined symbol */
    ISA_E_IO,         /* a file could not be read or written */
    ISA_E_NOMEM,
    ISA_STATUS_COUNT
} isa_status;

typedef struct isa_field_desc {
    const char *name;
    uint8_t lsb, width;
    isa_kind kind;
    isa_enumset enumset; /* for ISA_KIND_E */
    const char *unit;    /* "byte", "elem", ... or "" */
    int64_t min, max;    /* inclusive; ignored for ISA_KIND_F */
    int64_t align;
    const char *doc;
} isa_field_desc;

typedef struct isa_insn isa_insn;
typedef struct isa_error isa_error;

typedef struct isa_insn_desc {
    const char *mnemonic;
    uint8_t opcode;
    isa_exec_unit unit;
    const char *semantics;
    const char *check_name; /* "NONE" or the cross-field check in isa_check.c */
    isa_status (*check)(const isa_insn *in, isa_error *err);
    int nfields;
    const isa_field_desc *fields; /* nfields entries, in operand order */
} isa_insn_desc;

typedef struct isa_enum_desc {
    isa_enumset set;
    int64_t value;
    const char *name;
    const char *doc;
} isa_enum_desc;

struct isa_insn {
    isa_op op;
    int64_t f[ISA_MAX_FIELDS];
};

struct isa_error {
    isa_status status;
    int field;     /* index of the offending field, or -1 */
    char msg[200]; /* what was wrong and what was expected */
};

/* Device limits that isa_validate() checks; 0 in a member means "do not check". */
typedef struct isa_limits {
    uint32_t sram_bytes;
    uint32_t dma_channels;
    uint32_t buffers;       /* entries in the job's buffer table */
    uint32_t mm_rows;       /* matmul tile geometry */
    uint32_t mm_cols;
    uint32_t sm_max_len;    /* softmax tile's longest row */
} isa_limits;

typedef struct isa_sram_range {
    uint32_t addr;
    uint64_t len;
    int write; /* 1 if the instruction writes it */
} isa_sram_range;

/* ---- descriptors */
const isa_insn_desc *isa_desc(isa_op op);                 /* NULL if op is out of range */
isa_op isa_op_by_opcode(unsigned opcode);                 /* ISA_OP_NONE if unknown */
isa_op isa_op_by_mnemonic(const char *mn, size_t len);    /* ISA_OP_NONE if unknown */
int isa_enum_count(void);
const isa_enum_desc *isa_enum_at(int i);
const char *isa_enumset_name(isa_enumset set);
const char *isa_enum_name(isa_enumset set, int64_t value); /* NULL if not a value of set */
int isa_enum_lookup(isa_enumset set, const char *name, size_t len, int64_t *value); /* 0 if found */
const char *isa_status_str(isa_status st);
const char *isa_exec_unit_name(isa_exec_unit u);

/* ---- instructions */
isa_insn isa_insn_make(isa_op op); /* every field at its minimum */
float isa_get_f32(const isa_insn *in, int field);
void isa_set_f32(isa_insn *in, int field, float v);

/* Field ranges, alignment and the instruction's cross-field constraints; no device limits. */
isa_status isa_check(const isa_insn *in, isa_error *err);
/* isa_check() plus the limits of a configured device (any member 0 is not checked). */
isa_status isa_validate(const isa_insn *in, const isa_limits *lim, isa_error *err);
/* The device limits alone, for an instruction that has just passed isa_check() (isa_decode()
 * returned it): isa_validate() without checking its fields a second time. */
isa_status isa_validate_limits(const isa_insn *in, const isa_limits *lim, isa_error *err);

/* Encode a checked instruction into 16 bytes. */
isa_status isa_encode(const isa_insn *in, uint8_t out[ISA_INSN_BYTES], isa_error *err);
/* Decode 16 bytes: the opcode must be known, reserved bits zero, and isa_check() must pass. */
isa_status isa_decode(const uint8_t in[ISA_INSN_BYTES], isa_insn *out, isa_error *err);
/* The fields of 16 bytes that isa_decode() has accepted before, without checking them again: the
 * same instruction as isa_decode() gives, for a second decode of bytes known to be unchanged
 * (the firmware's dispatch of the program it has validated). ISA_E_OPCODE if the opcode is
 * unknown; other bytes decode to an instruction nobody has checked. */
isa_status isa_decode_unchecked(const uint8_t in[ISA_INSN_BYTES], isa_insn *out);

/* SRAM bytes the instruction reads and writes; returns the number of ranges (<= 4). For mm with
 * a bias, mm_bias_addr points at the bias address of the last mm.cfg (NULL: leave it out). */
int isa_sram_ranges(const isa_insn *in, const uint32_t *mm_bias_addr,
                    isa_sram_range out[ISA_MAX_SRAM_RANGES]);
/* For dma.ld/dma.st: the DRAM span [first, end) relative to the buffer's base. */
void isa_dma_span(const isa_insn *in, uint64_t *first, uint64_t *end);

/* ---- text form (shared by the assembler and disassembler) */
/* Writes "mnemonic op1, op2, ..." into buf; returns the length (like snprintf). */
int isa_format(const isa_insn *in, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
