/* ops.h -- the operator registry: one row per ONNX operator the runtime knows.
 *
 * Each row (ops_table.def) says whether the op is in the M4 operator set, which M4 modules use
 * it, and gives its shape/type inference function, its FP32 CPU reference kernel and its cost
 * (FLOP/byte) function. Everything that lists, places, runs or costs ops reads this one table:
 * `m4npu ops`, the partitioner, the executor, the conformance runner, docs/ops.md.
 */
#ifndef M4NPU_RT_OPS_H
#define M4NPU_RT_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "graph.h"

/* M4 modules (reference/M4.md, Table 1), as bits of rt_op_def.modules. */
enum {
    RT_MOD_IMG_ENC = 1u << 0,  /* ViT-H/14 ImageBind vision */
    RT_MOD_TXT_ENC = 1u << 1,  /* OpenCLIP ViT-H text */
    RT_MOD_AUDB_ENC = 1u << 2, /* ImageBind audio ViT-B */
    RT_MOD_AUDI_ENC = 1u << 3, /* Whisper tiny.en encoder */
    RT_MOD_IMU_ENC = 1u << 4,  /* ImageBind IMU */
    RT_MOD_BACKBONE = 1u << 5, /* LLaMA-7B decoder */
    RT_MOD_GEN_DEC = 1u << 6,  /* LLaMA output head */
    RT_MOD_TTS_DEC = 1u << 7,  /* FastSpeech2-style TTS */
    RT_MOD_IMG_DEC = 1u << 8,  /* Stable Diffusion UNet + VAE decoder */
    RT_MOD_COUNT = 9
};
#define RT_MOD_ENCODERS (RT_MOD_IMG_ENC | RT_MOD_TXT_ENC | RT_MOD_AUDB_ENC | RT_MOD_AUDI_ENC | RT_MOD_IMU_ENC)
#define RT_MOD_ALL ((1u << RT_MOD_COUNT) - 1)
const char *ops_module_name(int bit_index); /* "IMG_enc", ... */

struct rt_body_runner;

/* What an op's functions see: the node, the opset of its domain, and input/output tensors.
 * For inference, inputs carry shapes/types and data where known; outputs get dtype and shape.
 * For kernels, every present input has data and every output is allocated to its shape. A
 * missing optional input or output is NULL. */
typedef struct rt_op_ctx {
    const rt_node *node;
    /* The node's label for messages (ops_node_label): formatted into this buffer of
     * RT_OP_LABEL_BYTES on first use, "" until then. Every pass binds every node, and a label
     * is needed only for an error: formatting it at every bind cost a snprintf per node. */
    char *node_label;
    const rt_graph *graph; /* the node's graph and index, for its label */
    int node_index;
    int64_t opset;
    int n_in;
    rt_tensor *const *in;
    int n_out;
    rt_tensor *const *out;
    rt_error *err;
    /* Kernels of If, Loop and Scan: how to run a subgraph (NULL: the CPU executor). */
    const struct rt_body_runner *runner;
} rt_op_ctx;

/* How a control-flow kernel runs one of its subgraphs. args: values for the subgraph's inputs,
 * then for its captures (borrowed); results: one new value per subgraph output (the caller owns
 * them). runtime/cpu's executor is the default (cpu_exec_body); the run pipeline installs a
 * runner that also accounts the modelled cost of what the subgraph runs. */
typedef struct rt_body_runner {
    rt_status (*run)(const struct rt_body_runner *self, const rt_graph *body, rt_tensor *const *args,
                     rt_tensor **results, rt_error *e);
    void *ctx;
} rt_body_runner;

typedef rt_status (*rt_infer_fn)(rt_op_ctx *c);
typedef rt_status (*rt_kernel_fn)(rt_op_ctx *c);
typedef rt_status (*rt_costfn)(const rt_op_ctx *c, rt_cost *cost);

typedef enum rt_op_id {
#define RT_OP(name, m4, mods, infer, kernel, cost) RT_OP_##name,
#include "ops_table.def"
#undef RT_OP
    RT_OP_COUNT
} rt_op_id;

typedef struct rt_op_def {
    const char *name;
    int id;
    bool in_m4;
    uint32_t modules; /* RT_MOD_* bits */
    rt_infer_fn infer;
    rt_kernel_fn kernel;
    rt_costfn cost;
} rt_op_def;

int ops_count(void);
const rt_op_def *ops_get(int id);              /* NULL if out of range */
int ops_lookup(const char *domain, const char *op_type); /* RT_OP_NONE if unknown */
int ops_m4_count(void);
/* If, Loop, Scan: ops that run subgraphs. Their kernels size and allocate their own outputs
 * (a Loop's scan outputs are only known when it ends); their own CPU cost is one dispatch, what
 * their subgraphs run is costed where it runs (runtime/run). */
bool ops_is_control(int op);
/* A Loop's trip count from constants: M when it has data, exact when the loop's condition
 * cannot end it early (no condition input or a constant true one, and a body that passes its
 * condition through unchanged); -1 when M is absent or not a constant. m and cond are the node's
 * inputs 0 and 1 (NULL when absent). */
int64_t ops_loop_trips(const rt_node *n, const rt_tensor *m, const rt_tensor *cond, bool *exact);

/* Run inference / a kernel / costing for one node with its tensors bound (used by the graph
 * passes, the executor and the partitioner). Messages are prefixed with the node label. */
rt_status ops_infer(rt_op_ctx *c);
rt_status ops_run_kernel(rt_op_ctx *c);
rt_status ops_cost(const rt_op_ctx *c, rt_cost *cost);

/* A node bound to a tensor table (the graph's own tensors, or an executor's values). */
enum { RT_OP_LABEL_BYTES = 200 };
typedef struct rt_op_binding {
    rt_op_ctx ctx;
    rt_tensor **in;
    rt_tensor **out;
    char label[RT_OP_LABEL_BYTES]; /* ctx.node_label's buffer */
} rt_op_binding;

/* Bind node `node` of g to `values` (indexed like g->tensors; NULL means g->tensors). */
rt_status ops_bind(const rt_graph *g, int node, rt_tensor *const *values, rt_op_binding *b,
                   rt_error *e);
void ops_unbind(rt_op_binding *b);
/* The bound node's label for messages ("'name' (OpType)" or "#index (OpType)"), formatted on
 * first use. */
const char *ops_node_label(const rt_op_ctx *c);

/* Helpers for inference functions and kernels (ops_util.c). */
rt_status ops_err(const rt_op_ctx *c, rt_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Normalise axis into [0, rank) (negative counts from the end); error names the attribute. */
rt_status ops_axis(const rt_op_ctx *c, int64_t axis, int rank, const char *what, int *out);
/* Require input i present with a known rank (and data if need_data). */
rt_status ops_need_input(const rt_op_ctx *c, int i, bool need_data);
/* ops_need_input(c, i, false), and the input's element type must be known. */
rt_status ops_need_typed(const rt_op_ctx *c, int i);
/* ops_need_typed for inputs 0..n-1. */
rt_status ops_need_typed_n(const rt_op_ctx *c, int n);
/* Forget the error an inference step recorded when it falls back to unknown dims. */
void ops_clear_err(const rt_op_ctx *c);
/* Output `out` of type dt with every dim unknown; rank -1 leaves the rank unknown too. */
rt_status ops_set_unknown_dims(const rt_op_ctx *c, int out, rt_dtype dt, int rank);
/* Set output i's type and shape. rank -1 leaves shape unknown. */
rt_status ops_set_output(const rt_op_ctx *c, int i, rt_dtype dt, int rank, const int64_t *dims);
/* Multidirectional (numpy) broadcast of n input shapes; unknown dims propagate. */
rt_status ops_broadcast(const rt_op_ctx *c, int n, const rt_tensor *const *ts, int *rank,
                        int64_t *dims);
/* Read an int tensor (i32/i64) into vals (at most max); returns count or -1 if no data. */
int64_t ops_read_ints(const rt_tensor *t, int64_t *vals, int64_t max);
/* Input i exists (index in range and not an empty optional input). */
static inline bool ops_has_input(const rt_op_ctx *c, int i)
{
    return i < c->n_in && c->in[i] != NULL;
}

#endif
