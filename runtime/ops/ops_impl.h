/* ops_impl.h -- private to runtime/ops and runtime/cpu: declares every inference, kernel and
 * cost function named in ops_table.def (so the table is the only list of them). */
#ifndef M4NPU_RT_OPS_IMPL_H
#define M4NPU_RT_OPS_IMPL_H

#include "ops.h"

#define RT_OP(name, m4, mods, infer, kernel, cost)                                              \
    rt_status infer(rt_op_ctx *c);                                                               \
    rt_status kernel(rt_op_ctx *c);                                                              \
    rt_status cost(const rt_op_ctx *c, rt_cost *out);
#include "ops_table.def"
#undef RT_OP

/* Output shape helpers shared by inference functions. */
static inline rt_status ops_same_as_input(const rt_op_ctx *c, int out, int in)
{
    const rt_tensor *t = c->in[in];
    return ops_set_output(c, out, t->dtype, t->rank, t->dims);
}

#endif
