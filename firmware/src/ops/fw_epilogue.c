/* fw_epilogue.c -- what the kernels apply to their results on the vector unit: the activation
 * vocabulary (enum npu_act), fused into MATMUL, CONV2D, GROUP_CONV2D and CHANNEL_AFFINE or run
 * alone by ACTIVATION, and the per-channel epilogue of the convolutions (products to f32,
 * per-channel scales and bias as column broadcasts, activation, conversion to the output's
 * type). One place, so that the convolutions cannot drift apart and a later epilogue on the
 * matmul tile replaces one function. The arithmetic is specified in README.md.
 */
#include "fw_ops.h"

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
