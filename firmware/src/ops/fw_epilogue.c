/* fw_epilogue.c -- what the kernels apply to their results on the vector unit: the activation
 * vocabulary (enum npu_act), fused into MATMUL, CONV2D, GROUP_CONV2D and CHANNEL_AFFINE or run
 * alone by ACTIVATION, and the per-channel epilogue of the convolutions (products to f32,
 * per-channel scales and bias as column broadcasts, activation, conversion to the output's
 * type), and its other form in the matmul tile's output stage (mm.out's records and table, read
 * from in2: MATMUL and CONV2D). One place, so that the kernels cannot drift apart. The arithmetic
 * is specified in README.md.
 */
#include "fw_ops.h"

#include <string.h>

/* HardSigmoid's output range [0, 1]. */
#define HARD_SIGMOID_LO 0.0f
#define HARD_SIGMOID_HI 1.0f

int fw_check_fused_act(int32_t act, char *why, size_t whylen)
{
    if (act < NPU_ACT_NONE || act >= NPU_ACT_COUNT)
        return fw_refuse(why, whylen, "activation %d is not an enum npu_act", act);
    if (act == NPU_ACT_HARDSWISH || act == NPU_ACT_PRELU)
        return fw_refuse(why, whylen, "activation %d needs a temporary or a parameter tensor: it runs as its own "
                         "ACTIVATION op, never fused", act);
    return 0;
}

void fw_activation(fw_op_ctx *c, int32_t act, const float *prm, uint32_t addr, uint64_t n)
{
    switch (act) {
    case NPU_ACT_RELU: fw_vun(c, ISA_UNOP_RELU, addr, addr, n, 0.0f); break;
    case NPU_ACT_GELU: fw_vun(c, ISA_UNOP_GELU, addr, addr, n, 0.0f); break;
    case NPU_ACT_SILU: fw_vun(c, ISA_UNOP_SILU, addr, addr, n, 0.0f); break;
    case NPU_ACT_CLIP:
        fw_vun(c, ISA_UNOP_MAXI, addr, addr, n, prm[0]);
        fw_vun(c, ISA_UNOP_MINI, addr, addr, n, prm[1]);
        break;
    case NPU_ACT_LEAKY: fw_vun(c, ISA_UNOP_LEAKY, addr, addr, n, prm[0]); break;
    case NPU_ACT_HARDSIGMOID:
        fw_vun(c, ISA_UNOP_MULI, addr, addr, n, prm[0]);
        fw_vun(c, ISA_UNOP_ADDI, addr, addr, n, prm[1]);
        fw_vun(c, ISA_UNOP_MAXI, addr, addr, n, HARD_SIGMOID_LO);
        fw_vun(c, ISA_UNOP_MINI, addr, addr, n, HARD_SIGMOID_HI);
        break;
    default: break;
    }
}

void fw_epilogue_load(fw_op_ctx *c, const fw_epilogue *ep, int64_t sdt, uint32_t dst, uint32_t src, uint64_t n)
{
    if (sdt == FW_EPILOGUE_F32_SUMS)
        fw_vcvt(c, ISA_CDT_F32, ISA_CDT_F32, dst, src, n, ep->s_deq);
    else
        fw_vdequant(c, sdt, dst, src, n, ep->s_deq);
}

void fw_epilogue_finish(fw_op_ctx *c, const fw_epilogue *ep, uint32_t dst, uint32_t prm, uint64_t rows,
                        uint64_t cols)
{
    if (ep->per_channel)
        fw_vbin_rows(c, ISA_BINOP_MUL, ISA_BC_COL, dst, dst, prm, rows, cols);
    if (ep->bias)
        fw_vbin_rows(c, ISA_BINOP_ADD, ISA_BC_COL, dst, dst, prm + ep->bias_off, rows, cols);
    fw_activation(c, ep->act, ep->act_prm, dst, rows * cols);
    fw_from_f32(c, ep->out, dst, dst, rows * cols);
}

/* ---------------------------------------------------------------- the output-stage form */

int fw_check_out_stage(const fw_op_ctx *c, const npu_op_desc *d, uint64_t channels, int32_t act, fw_out_stage *st,
                       char *why, size_t whylen)
{
    memset(st, 0, sizeof *st);
    if (d->n_inputs < 3 || d->in[2].dtype != NPU_DT_I32)
        return 0;
    const npu_tensor_ref *p = &d->in[2];
    st->on = 1;
    st->lut = act != NPU_ACT_NONE && act != NPU_ACT_RELU; /* relu is the clamp; any other is its table */
    st->lo = act == NPU_ACT_RELU ? 0 : INT8_MIN;
    st->hi = INT8_MAX;
    uint64_t rec_bytes = ISA_MM_OUT_RECORD_BYTES * channels, bytes = rec_bytes + (st->lut ? ISA_MM_OUT_LUT_ENTRIES : 0);
    st->tab_off = p->offset + rec_bytes;
    if (!c->info->mm_out_stage)
        return fw_refuse(why, whylen, "in2: output-stage parameters, but this device's output stage is switched off "
                                      "(npu.matmul.output_stage.enabled)");
    if (d->in[0].dtype == NPU_DT_F16 || d->in[1].dtype == NPU_DT_F16)
        return fw_refuse(why, whylen, "in2: output-stage parameters with an f16 operand (the f16 mode writes f32 sums)");
    if (d->out.dtype != NPU_DT_I8)
        return fw_refuse(why, whylen, "out: dtype %s (the output stage writes i8)", fw_dtype_name(d->out.dtype));
    if (fw_check_shape(p, "in2 (output-stage parameters)", why, whylen))
        return -1;
    if (p->rank != 1 || fw_numel(p) * 4 != bytes)
        return fw_refuse(why, whylen, "in2 (output-stage parameters): %llu i32 words (expected %llu: %llu records of 3%s)",
                         (unsigned long long)fw_numel(p), (unsigned long long)(bytes / 4), (unsigned long long)channels,
                         st->lut ? " and a 256-byte table" : "");
    return fw_check_ref(c, p, "in2 (output-stage parameters)", bytes, why, whylen);
}

uint32_t fw_load_table(fw_op_ctx *c, fw_pipe *tab, const npu_op_desc *d, const fw_out_stage *st)
{
    fw_pipe_init(c, tab, 1, 2, ISA_MM_OUT_LUT_ENTRIES, 1);
    unsigned q = fw_load_queue(c, 0);
    uint32_t slot = fw_pipe_begin(c, tab, 0, q);
    fw_dma_flat(c, 1, q, d->in[2].buf, slot, st->tab_off, ISA_MM_OUT_LUT_ENTRIES);
    fw_pipe_end(c, tab, 0, q);
    return fw_pipe_begin(c, tab, 1, NPU_UNIT_MM);
}
