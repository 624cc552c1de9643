/* graph.h -- the runtime's graph IR: tensors, nodes, attributes, the builder and the passes.
 *
 * Everything above the ONNX file format speaks this IR: the importer fills it, the exporter
 * writes it, the CPU executor runs it, the partitioner splits it and the M4 module builders
 * construct it programmatically. A tensor may carry NO data at all (a weight with a shape and a
 * type only): shape inference, byte sizes and FLOP counts still work, which is how LLaMA-7B is
 * described in timing-only mode without materialising 6.6 GB of weights.
 *
 * Conventions: tensors and nodes are referred to by index (int). An empty optional input of a
 * node is index -1. A dimension that is not known yet is RT_DIM_UNKNOWN; a rank that is not
 * known yet is -1. Functions that can fail return an rt_status and fill an rt_error whose
 * message names the node, tensor or field and what was expected. Builder calls that return an
 * index return -1 on failure and record the error in the graph (graph_last_error), so a module
 * builder can chain many calls and check once.
 */
#ifndef M4NPU_RT_GRAPH_H
#define M4NPU_RT_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---------------------------------------------------------------------------------------- */
/* Status codes                                                                               */

typedef enum rt_status {
    RT_OK = 0,
    RT_ERR_NOMEM,          /* out of memory */
    RT_ERR_ARG,            /* invalid argument to an API call */
    RT_ERR_IO,             /* a file could not be read or written */
    RT_ERR_PARSE,          /* not a valid (or a truncated) protobuf / model file */
    RT_ERR_DATA_SIZE,      /* a tensor's data does not match its shape and type */
    RT_ERR_CYCLE,          /* the graph has a cycle */
    RT_ERR_MISSING_INPUT,  /* a node reads a tensor nothing produces */
    RT_ERR_UNKNOWN_OP,     /* an op type with no kernel in the registry */
    RT_ERR_SHAPE,          /* shapes that do not fit the op */
    RT_ERR_DTYPE,          /* a data type the op or the IR does not support */
    RT_ERR_ATTR,           /* a missing or invalid attribute */
    RT_ERR_UNSUPPORTED,    /* a valid construct this runtime does not support */
    RT_ERR_DUPLICATE,      /* a name defined twice */
    RT_ERR_LIMIT,          /* beyond a limit (rank, element count, bytes) or an overflow */
    RT_ERR_NO_DATA,        /* a value was needed but the tensor has no data */
    RT_ERR_NOT_FOUND,      /* no tensor or node of that name */
    RT_ERR_MISMATCH,       /* results differ from the expected values (conformance) */
    RT_STATUS_COUNT
} rt_status;

#define RT_ERROR_MSG_BYTES 512

typedef struct rt_error {
    rt_status code;
    char msg[RT_ERROR_MSG_BYTES]; /* "what went wrong, naming node/tensor/field" */
} rt_error;

/* The fixed one-line meaning of a status ("cycle in graph"). */
const char *rt_status_str(rt_status s);
/* Fill *e (may be NULL) with code and a printf-style message; returns code. */
rt_status rt_error_set(rt_error *e, rt_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix an existing message: "prefix: old message". */
void rt_error_prefix(rt_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whole files (graph_file.c). Read all of path into a malloc'd, NUL-terminated *buf. A file over
 * max_bytes (0: RT_READ_DEFAULT_MAX_BYTES) is RT_ERR_LIMIT, "PATH: N bytes, larger than the
 * M-byte limit for <kind>": a regular file is refused before it is read, a pipe or a device
 * (/dev/zero) once max_bytes have been read. A directory is RT_ERR_IO. */
#define RT_READ_DEFAULT_MAX_BYTES ((size_t)2 << 30) /* 2 GiB: protobuf's, so ONNX's, largest message */
rt_status rt_read_file(const char *path, size_t max_bytes, const char *kind, uint8_t **buf, size_t *len,
                       rt_error *e);

/* Output sets: the files one command writes, all or nothing. Each file is written to a
 * temporary beside its target (".NAME.tmp-PID-N" in the target's directory); no target changes
 * until rt_outputs_commit renames every temporary into place. If a write or a rename fails, or
 * the set is freed without a commit, every temporary, every target already renamed and every
 * directory rt_outputs_mkdir created are removed again: a failed command leaves none of its
 * files and never half a file. (Atomic against failures of this process, not fsync'd against a
 * power cut.)
 *
 * A target that is a symbolic link is written through, as a shell redirection or `cc -o` does:
 * the link stays and its final target is replaced, or created if the link dangles (its
 * directory must exist). A target that is a device, a pipe or a socket (/dev/null, /dev/stdout)
 * is opened and written in place: nothing can be renamed over it or undone. A target that is an existing directory, a target named twice, and a
 * target that is the same file (device and inode) as an input given to rt_outputs_protect are
 * refused before anything is written. A new file gets mode 0666 & ~umask; a replaced file keeps
 * its mode. Errors name the path as the caller gave it: "PATH: cannot create: the directory D
 * does not exist", "PATH: cannot write: No space left on device" ... (RT_ERR_IO; RT_ERR_ARG for
 * an input named as an output). */
typedef struct rt_outputs rt_outputs;
rt_outputs *rt_outputs_new(void); /* NULL: out of memory */
/* Remember input_path (if it exists) as an input of the command: no output may replace it. */
rt_status rt_outputs_protect(rt_outputs *o, const char *input_path, rt_error *e);
/* Create dir and its missing parents now; they are removed again if the set fails. */
rt_status rt_outputs_mkdir(rt_outputs *o, const char *dir, rt_error *e);
/* A target with its whole content. */
rt_status rt_outputs_add_data(rt_outputs *o, const char *path, const void *buf, size_t len, rt_error *e);
/* A target written as a stream: *f stays the set's (do not close it); commit checks and closes. */
rt_status rt_outputs_open(rt_outputs *o, const char *path, FILE **f, rt_error *e);
/* A target that another writer fills (a child process, a library): *tmp_path names its
 * temporary, created empty, valid until the set is freed. */
rt_status rt_outputs_add(rt_outputs *o, const char *path, const char **tmp_path, rt_error *e);
/* Rename every file into place; on failure, undo as above. The set is spent either way. */
rt_status rt_outputs_commit(rt_outputs *o, rt_error *e);
/* Free the set; one not committed is undone. */
void rt_outputs_free(rt_outputs *o);

/* One file, all or nothing: a set of one (rt_outputs_add_data, then commit). */
rt_status rt_write_file(const char *path, const void *buf, size_t len, rt_error *e);

/* ---------------------------------------------------------------------------------------- */
/* Data types: numbered as ONNX's TensorProto.DataType so conversion is the identity.          */

typedef enum rt_dtype {
    RT_DT_UNDEFINED = 0,
    RT_DT_F32 = 1,
    RT_DT_U8 = 2,
    RT_DT_I8 = 3,
    RT_DT_U16 = 4,
    RT_DT_I16 = 5,
    RT_DT_I32 = 6,
    RT_DT_I64 = 7,
    RT_DT_STRING = 8, /* recognised only to be rejected with a clear message */
    RT_DT_BOOL = 9,
    RT_DT_F16 = 10,
    RT_DT_F64 = 11,
    RT_DT_U32 = 12,
    RT_DT_U64 = 13,
    RT_DT_BF16 = 16,
    RT_DT_I4 = 22, /* packed two per byte, low nibble first (ONNX INT4) */
} rt_dtype;

/* Bits per element; 0 if the IR cannot store this type (undefined, string, complex, unknown). */
unsigned rt_dtype_bits(rt_dtype t);
bool rt_dtype_storable(int t);
const char *rt_dtype_name(rt_dtype t); /* "f32", "i64", ... ; "?" for unknown */
bool rt_dtype_is_float(rt_dtype t);    /* f16, bf16, f32, f64 */
bool rt_dtype_is_int(rt_dtype t);      /* signed or unsigned integer (not bool) */
bool rt_dtype_is_signed(rt_dtype t);
/* Bytes for n elements (rounded up for sub-byte types); UINT64_MAX on overflow. */
uint64_t rt_dtype_bytes(rt_dtype t, uint64_t n);

/* A float value as int64: truncated toward zero, saturated at INT64_MIN/INT64_MAX, NaN as 0
 * (a plain cast of a NaN or an out-of-range value is undefined behaviour). */
int64_t rt_f64_to_i64(double v);

float rt_f16_to_f32(uint16_t h);
uint16_t rt_f32_to_f16(float f); /* round to nearest even */
float rt_bf16_to_f32(uint16_t h);
uint16_t rt_f32_to_bf16(float f); /* round to nearest even */

/* ---------------------------------------------------------------------------------------- */
/* Tensors                                                                                    */

#define RT_MAX_RANK 8
#define RT_DIM_UNKNOWN (-1)
/* Largest element count a shape may describe (2^48): keeps byte sizes far from overflow. */
#define RT_MAX_ELEMENTS (INT64_C(1) << 48)

typedef enum rt_tensor_kind {
    RT_TENSOR_CONSTANT = 0, /* initializer / weight (with or without data) */
    RT_TENSOR_INPUT,        /* graph input */
    RT_TENSOR_ACTIVATION,   /* produced by a node, consumed inside the graph */
    RT_TENSOR_OUTPUT,       /* produced by a node and a graph output */
} rt_tensor_kind;

typedef enum rt_quant_scheme {
    RT_QUANT_NONE = 0,
    RT_QUANT_PER_TENSOR,
    RT_QUANT_PER_CHANNEL,
} rt_quant_scheme;

typedef struct rt_quant {
    rt_quant_scheme scheme;
    int axis;              /* per channel: the channel axis */
    int64_t count;         /* 1 per tensor; dims[axis] per channel */
    float *scales;         /* count entries (owned) */
    int32_t *zero_points;  /* count entries (owned) */
} rt_quant;

typedef struct rt_tensor {
    char *name;
    rt_dtype dtype;
    int rank;                   /* -1: not known yet */
    int64_t dims[RT_MAX_RANK];  /* RT_DIM_UNKNOWN where not known yet */
    rt_tensor_kind kind;
    rt_quant quant;
    void *data;                 /* NULL: no data (a shape-only weight, or not computed) */
    uint64_t data_bytes;        /* size of data when present */
    int producer;               /* index of the producing node, or -1 */
    bool graph_output;          /* listed in its graph's outputs (graph_mark_output) */
} rt_tensor;

/* Element count of a fully known shape; -1 if rank or a dim is unknown; RT_MAX_ELEMENTS+1
 * never happens: shapes are checked when set. */
int64_t rt_tensor_numel(const rt_tensor *t);
bool rt_tensor_shape_known(const rt_tensor *t);
/* Byte size from shape and type (whether or not data is present); 0 if unknown. */
uint64_t rt_tensor_nbytes(const rt_tensor *t);
/* Check a shape (rank 0..RT_MAX_RANK, dims >= 0 or unknown, product <= RT_MAX_ELEMENTS). */
rt_status rt_shape_check(int rank, const int64_t *dims, const char *what, rt_error *e);
/* "[1,16,64]" (unknown dims as '?') into buf. */
const char *rt_shape_str(const rt_tensor *t, char *buf, size_t size);

/* A free-standing value tensor (used by the executor, folding and the conformance runner). */
rt_tensor *rt_tensor_new(const char *name, rt_dtype dtype, int rank, const int64_t *dims);
/* Allocate zeroed data for the (fully known) shape; refuses more than RT_MAX_ALLOC_BYTES. */
#define RT_MAX_ALLOC_BYTES (UINT64_C(4) << 30) /* 4 GiB: no CPU reference tensor is larger */
rt_status rt_tensor_alloc(rt_tensor *t, rt_error *e);
/* Copy name, type, shape and (if present) data. */
rt_tensor *rt_tensor_clone(const rt_tensor *t);
void rt_tensor_free(rt_tensor *t); /* frees name, quant, data and the struct */
/* Element i of an integer or float tensor with data, as int64 / double. */
int64_t rt_tensor_get_i64(const rt_tensor *t, int64_t i);
double rt_tensor_get_f64(const rt_tensor *t, int64_t i);

/* ---------------------------------------------------------------------------------------- */
/* Attributes and nodes                                                                       */

typedef enum rt_attr_type {
    RT_ATTR_FLOAT = 1,
    RT_ATTR_INT = 2,
    RT_ATTR_STRING = 3,
    RT_ATTR_TENSOR = 4,
    RT_ATTR_GRAPH = 5, /* a subgraph: If's branches, Loop's and Scan's body */
    RT_ATTR_FLOATS = 6,
    RT_ATTR_INTS = 7,
    RT_ATTR_STRINGS = 8,
} rt_attr_type; /* numbered as ONNX's AttributeProto.AttributeType */

typedef struct rt_attr {
    char *name;
    rt_attr_type type;
    float f;
    int64_t i;
    char *s;          /* STRING (NUL-terminated copy) */
    size_t n;         /* FLOATS / INTS / STRINGS count */
    float *floats;
    int64_t *ints;
    char **strings;
    rt_tensor *t;     /* TENSOR */
    struct rt_graph *g; /* GRAPH (owned; see "Subgraphs" below) */
} rt_attr;

#define RT_OP_NONE (-1)

typedef struct rt_node {
    char *name;
    char *op_type;
    char *domain;   /* "" for the default ONNX domain */
    int op;         /* resolved id from runtime/ops (rt_op_id), or RT_OP_NONE */
    int n_inputs;
    int *inputs;    /* tensor indices; -1 for an empty optional input */
    int n_outputs;
    int *outputs;   /* tensor indices; -1 for an unused optional output */
    int n_attrs;
    rt_attr *attrs;
    /* The last n_captures inputs are the outer-scope tensors its subgraphs read (implicit
     * inputs: not written to ONNX). 0 for a node without subgraphs. */
    int n_captures;
} rt_node;

const rt_attr *rt_node_attr(const rt_node *n, const char *name);
int64_t rt_node_attr_int(const rt_node *n, const char *name, int64_t dflt);
float rt_node_attr_float(const rt_node *n, const char *name, float dflt);
const char *rt_node_attr_string(const rt_node *n, const char *name, const char *dflt);
/* INTS (or a single INT) attribute; returns count (0 if absent or of another type) and sets
 * *vals (never NULL, also when the count is 0). */
size_t rt_node_attr_ints(const rt_node *n, const char *name, const int64_t **vals);
size_t rt_node_attr_floats(const rt_node *n, const char *name, const float **vals);
/* A GRAPH attribute's subgraph, or NULL. */
struct rt_graph *rt_node_attr_graph(const rt_node *n, const char *name);
/* Inputs of the node that the ONNX file lists (n_inputs - n_captures). */
static inline int rt_node_explicit_inputs(const rt_node *n)
{
    return n->n_inputs - n->n_captures;
}

/* ---------------------------------------------------------------------------------------- */
/* Graph                                                                                      */

typedef struct rt_opset {
    char *domain;  /* "" is the default ONNX domain */
    int64_t version;
} rt_opset;

/* The default-domain opset that the builder assumes unless told otherwise. */
#define RT_DEFAULT_OPSET 17

/* A symbolic dimension of a graph input ("batch" for dimension 0 of 'x'). */
typedef struct rt_dim_param {
    char *tensor;
    int axis;
    char *name;
} rt_dim_param;

/* A slot of the tensor-name index: the tensor's index + 1 (0: empty) and its name's hash, kept so
 * that a probe passes other names without reading them and the index grows without rehashing
 * every name (each a cache miss in a large graph). */
typedef struct rt_name_slot {
    int tensor_plus_1;
    uint32_t hash;
} rt_name_slot;

typedef struct rt_graph {
    char *name;
    rt_tensor **tensors;
    int n_tensors, cap_tensors;
    rt_node *nodes;
    int n_nodes, cap_nodes;
    int *inputs;
    int n_inputs, cap_inputs;
    int *outputs;
    int n_outputs, cap_outputs;
    rt_opset *opsets;
    int n_opsets;
    int64_t ir_version;     /* of the imported file; 0 if built */
    rt_name_slot *name_index; /* open-addressing hash of tensor names -> index */
    int name_index_cap;
    struct rt_graph_users *users; /* who reads each tensor (graph_tensor_users): a cache, built on
                                     demand and dropped whenever nodes change */
    rt_error last_error;    /* first builder error; code RT_OK if none */
    /* A subgraph only: its tensors bound from the enclosing scope, in the order of the owning
     * node's capture inputs (input-kind tensors named like the outer ones, not in inputs[]). */
    int *captures;
    int n_captures;
    rt_dim_param *dim_params; /* symbolic dimensions of the inputs, as the file named them */
    int n_dim_params, cap_dim_params;
    int *dim_param_index;     /* open-addressing hash of (tensor, axis) -> dim_params index (+1) */
    int dim_param_index_cap;
    /* A subgraph only: a digest of the input and capture types, shapes and constant values it was
     * last prepared for by its node's inference (0: none), so that preparing it again for the same
     * binding is skipped -- nested subgraphs would otherwise be prepared a power of their depth
     * times. */
    uint64_t prepared_for;
} rt_graph;

rt_graph *graph_create(const char *name);
void graph_free(rt_graph *g);
/* The first error any builder call recorded (code RT_OK if none). */
const rt_error *graph_last_error(const rt_graph *g);

rt_status graph_set_opset(rt_graph *g, const char *domain, int64_t version);
/* Version for a domain ("" or "ai.onnx" = default); RT_DEFAULT_OPSET for the default domain
 * if none was set; 0 for another domain that was not set. */
int64_t graph_opset(const rt_graph *g, const char *domain);

/* Room for n_tensors tensors and n_nodes nodes in all, so that a builder that knows its size (the
 * importer) adds them without growing the arrays and the name index step by step. Only a hint:
 * more may be added. RT_OK, or the error (also recorded in the graph). */
rt_status graph_reserve(rt_graph *g, int n_tensors, int n_nodes);

/* Tensors. Each returns the new tensor's index, or -1 (error in graph_last_error). Names must
 * be unique; dims are copied. */
int graph_add_tensor(rt_graph *g, const char *name, rt_dtype dtype, int rank, const int64_t *dims,
                     rt_tensor_kind kind);
int graph_add_input(rt_graph *g, const char *name, rt_dtype dtype, int rank, const int64_t *dims);
/* A weight with shape and type but NO data (timing-only models). */
int graph_add_weight(rt_graph *g, const char *name, rt_dtype dtype, int rank, const int64_t *dims);
/* A constant with data (copied; bytes must equal the shape's byte size). */
int graph_add_constant(rt_graph *g, const char *name, rt_dtype dtype, int rank, const int64_t *dims,
                       const void *data, uint64_t bytes);
/* Give an existing tensor data (copied), checking the size; makes it a constant. */
rt_status graph_set_tensor_data(rt_graph *g, int t, const void *data, uint64_t bytes, rt_error *e);
/* Take ownership of malloc'd data instead of copying it. */
rt_status graph_set_tensor_data_owned(rt_graph *g, int t, void *data, uint64_t bytes, rt_error *e);
rt_status graph_set_quant(rt_graph *g, int t, int axis, int64_t count, const float *scales,
                          const int32_t *zero_points, rt_error *e); /* axis -1: per tensor */
rt_status graph_mark_output(rt_graph *g, int t);
int graph_find_tensor(const rt_graph *g, const char *name);
/* A hint, no effect on the graph: start loading the name index's slot for `name` into the cache.
 * The index of a large graph is larger than the cache and each new name lands in a random slot,
 * so a builder that knows the names it will look up a few nodes ahead (the ONNX importer) names
 * them here and the cache misses overlap instead of coming one after another. */
void graph_prefetch_name(const rt_graph *g, const char *name);
/* Is tensor t one of the graph's outputs? O(1). */
bool graph_is_output(const rt_graph *g, int t);
/* The nodes that read tensor t, each once and in node order, into *nodes (valid until the graph
 * changes); returns their count, or -1 if out of memory. The index behind it is built for the
 * whole graph on the first call, in O(nodes + tensors), and kept until a node is added, removed
 * or moved, so a pass asks for every tensor's readers in linear time in all. */
int graph_tensor_users(const rt_graph *g, int t, const int **nodes);
/* Find or create (as a placeholder activation of unknown type and shape) a tensor by name. */
int graph_tensor_ref(rt_graph *g, const char *name);

/* Nodes. Inputs and outputs are tensor names; "" (or NULL) is an empty optional input. An
 * input name not yet defined creates a placeholder (so nodes may be added out of order; a
 * placeholder nothing ever produces is reported by graph_validate as a missing input). Output
 * tensors are created as activations, or must be placeholders nothing produces yet. The op
 * type is resolved against runtime/ops; an unknown type is recorded as RT_OP_NONE and reported
 * by graph_validate. Returns the node index or -1. */
int graph_add_node(rt_graph *g, const char *op_type, const char *name, int n_inputs,
                   const char *const *inputs, int n_outputs, const char *const *outputs);
int graph_add_node_domain(rt_graph *g, const char *domain, const char *op_type, const char *name,
                          int n_inputs, const char *const *inputs, int n_outputs,
                          const char *const *outputs);
rt_status graph_node_set_int(rt_graph *g, int node, const char *attr, int64_t v);
rt_status graph_node_set_float(rt_graph *g, int node, const char *attr, float v);
rt_status graph_node_set_string(rt_graph *g, int node, const char *attr, const char *v);
rt_status graph_node_set_ints(rt_graph *g, int node, const char *attr, size_t n, const int64_t *v);
rt_status graph_node_set_floats(rt_graph *g, int node, const char *attr, size_t n, const float *v);
rt_status graph_node_set_strings(rt_graph *g, int node, const char *attr, size_t n,
                                 const char *const *v);
/* Takes ownership of t. */
rt_status graph_node_set_tensor(rt_graph *g, int node, const char *attr, rt_tensor *t);
int graph_find_node(const rt_graph *g, const char *name);
/* Symbolic dimension `axis` of input `tensor` is called `name` (the ONNX dim_param). */
rt_status graph_set_dim_param(rt_graph *g, const char *tensor, int axis, const char *name);
/* Its name, or NULL if the dimension has none. */
const char *graph_dim_param(const rt_graph *g, const char *tensor, int axis);
/* The printable name of a node: its name, or "#INDEX (OpType)" if it has none. */
const char *graph_node_label(const rt_graph *g, int node, char *buf, size_t size);

/* ---------------------------------------------------------------------------------------- */
/* Subgraphs (graph_subgraph.c)                                                               */
/*
 * If, Loop and Scan carry subgraphs in GRAPH attributes. A subgraph is an rt_graph of its own:
 * its inputs are the body's formal parameters (Loop: iteration number, condition, carried
 * values; Scan: states, then one slice per scanned input; If: none) and its outputs what it
 * returns. A name it reads but does not define comes from an enclosing graph (outer scope): the
 * subgraph holds an input-kind tensor of that name, listed in its captures[], and the owning
 * node reads the outer tensor as a capture input at the same position. Every pass that follows
 * node inputs (sorting, dead-node removal, liveness, crossings, constness) therefore sees the
 * dependency, and nesting works one level at a time: a subgraph's own control-flow nodes capture
 * from it, and what they need from further out is one of its captures in turn.
 */

/* Attach `body` as GRAPH attribute `attr` of node `node` (taking ownership), then link the
 * captures of every subgraph of the node: the names they read from outside, in first-use order
 * (the then-branch's before the else-branch's), become the node's capture inputs (tensors of g,
 * placeholders when not defined yet) and each subgraph's captures[] (a subgraph that does not
 * read one of them gets an unused input-kind placeholder, so positions agree). Attach nested
 * subgraphs first: a body's captures are computed when it is attached. */
rt_status graph_node_set_graph(rt_graph *g, int node, const char *attr, rt_graph *body);
/* Number of nodes in g and, recursively, in all its subgraphs. */
int graph_count_nodes_deep(const rt_graph *g);
/* A deep copy of g (tensors with their data, nodes, attributes, subgraphs); NULL if out of
 * memory. For work that must not change g, such as inferring a subgraph for one run's shapes. */
rt_graph *graph_clone(const rt_graph *g);

/* ---------------------------------------------------------------------------------------- */
/* Passes (runtime/graph/graph_*.c)                                                           */

/* Structural checks: every op known, in g and in every subgraph (RT_ERR_UNKNOWN_OP lists every
 * unknown op at once: its name, how many nodes use it and the first of them), every input
 * produced by a node, a graph input or a constant (RT_ERR_MISSING_INPUT names node and input),
 * no tensor produced twice, every graph output produced or given. */
rt_status graph_validate(const rt_graph *g, rt_error *e);
/* Like graph_validate but unknown ops are allowed (for listing and costing). */
rt_status graph_validate_structure(const rt_graph *g, rt_error *e);
/* Reorder nodes so each comes after the producers of its inputs (stable: already-ordered
 * graphs keep their order). A cycle is RT_ERR_CYCLE naming a node on it. */
rt_status graph_topo_sort(rt_graph *g, rt_error *e);
/* Infer dtype and shape of every node output, in node order (call graph_topo_sort first).
 * Data is used where present (shape tensors that are constants); otherwise dims stay unknown.
 * Never needs weight data. */
rt_status graph_infer_shapes(rt_graph *g, rt_error *e);
/* Evaluate, with the CPU kernels, every node whose inputs are all constants with data and whose
 * outputs have at most max_bytes each; the outputs become constants and the nodes are removed.
 * This folds shape-computation chains (Shape -> Gather -> Concat -> Reshape ...). Shape is
 * folded from a known shape even when its input has no data. */
#define RT_FOLD_MAX_BYTES_DEFAULT (UINT64_C(64) << 10) /* 64 KiB: shape math, not weights */
rt_status graph_fold_constants(rt_graph *g, uint64_t max_bytes, int *n_folded, rt_error *e);
/* Fold each inference-mode BatchNormalization whose input only it reads, made by a Conv,
 * ConvTranspose or Gemm with float constant weights, into that layer (weights and bias scaled
 * per output channel; graph_bnfold.c says when exactly). */
rt_status graph_fold_batchnorm(rt_graph *g, int *n_folded, rt_error *e);
/* Remove nodes whose outputs reach no graph output, and tensors no longer referenced. */
rt_status graph_remove_dead(rt_graph *g, int *n_removed, rt_error *e);
/* Replace every If whose condition is a constant with data by the nodes of the branch it
 * selects (graph_inline.c): the branch's tensors join g (renamed only on a clash), its outputs
 * become the If's outputs, its nested subgraphs come along. The graph must be sorted again. */
rt_status graph_inline_constant_ifs(rt_graph *g, int *n_inlined, rt_error *e);
/* validate + topo sort + fold + inline constant Ifs (repeated while any is inlined) +
 * BatchNormalization folding + dead-node removal + infer: what import and the module builders
 * call before running or costing a graph, and again after input dimensions were bound. Inference
 * of If, Loop and Scan prepares their subgraphs for the types and shapes their inputs have. */
rt_status graph_prepare(rt_graph *g, rt_error *e);

/* Cost of one node from shapes alone (no data needed). */
typedef struct rt_cost {
    double macs;          /* multiply-accumulates (MatMul, Gemm, Conv, ConvTranspose, ...) */
    double flops;         /* 2*macs + elementwise/other operations */
    uint64_t bytes_in;    /* activations and weights read */
    uint64_t bytes_out;   /* outputs written */
    uint64_t bytes_weights; /* the part of bytes_in that is constants */
} rt_cost;

rt_status graph_node_cost(const rt_graph *g, int node, rt_cost *c, rt_error *e);
/* Sum over all nodes (first..last-1 if last > first, else all). */
rt_status graph_cost(const rt_graph *g, rt_cost *total, rt_error *e);

#endif
