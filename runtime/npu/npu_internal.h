/* npu_internal.h -- what the files of runtime/npu share: the backend, segment and memory-plan
 * structures and the lowering context. Not part of the API (npu_backend.h is).
 *
 * A segment's device memory is a handful of buffers (the ISA addresses at most 16 per job, and a
 * DMA reaches 4 GiB into one): buffer 0 holds the activations (placed by liveness, reused after
 * their last reader), buffer 1 the small constants (per-channel scales, biases, gamma/beta, f32
 * operands, zero-bordered padding buffers), buffer 2 the resident tensors it touches (the KV
 * cache: a window on the plan's resident region), buffers 3.. the quantised weights, as many
 * 4 GiB arenas as they need. Each buffer is a window on one of the memory plan's buffer objects
 * (npu_memplan.c): every segment's activations share one arena, the constants of all segments
 * lie side by side in one region, the resident tensors in another.
 */
#ifndef M4NPU_NPU_INTERNAL_H
#define M4NPU_NPU_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "isa_exec.h"
#include "npu_backend.h"

#define NPU_BUF_ACT 0u
#define NPU_BUF_PARAM 1u
#define NPU_BUF_RESIDENT 2u
#define NPU_BUF_WEIGHT0 3u
#define NPU_MAX_WEIGHT_ARENAS (NPU_MAX_BUFFERS - NPU_BUF_WEIGHT0)
#define NPU_ARENA_ALIGN_BYTES 64u
#define NPU_ARENA_MAX_BYTES ((UINT64_C(1) << 32) - NPU_ARENA_ALIGN_BYTES) /* a DMA's 32-bit offset */

struct npu_memo_entry;
struct npu_memo_pending;

struct npu_backend {
    m4npu_config cfg;
    npu_dev *dev;
    npu_act_format act_format; /* npu_backend_set_format */
    uint32_t group_size;
    /* timing-only segment results by their descriptors (npu_memo.c) */
    bool memo_on;
    struct npu_memo_entry *memo;
    size_t memo_len, memo_cap;
    uint64_t memo_hits;
    struct npu_memo_pending *memo_pending; /* the last lookup's key, for the store after a miss */
    /* jobs carry a per-op profile (npu_backend_set_profile) */
    bool profile_on;
    /* where the firmware log of each job goes (npu_backend_set_log); NULL: nowhere */
    npu_log_fn log_fn;
    void *log_ctx;
};

/* npu_memo.c */
bool npu_memo_lookup(npu_backend *b, npu_segment *s, npu_segment_stats *st);
void npu_memo_store(npu_backend *b, const npu_segment *s, const npu_segment_stats *st);
void npu_memo_free(npu_backend *b);

/* PARAM: small constants (buffer 1); WEIGHT: quantised weights (buffers 3..); SCRATCH: a buffer a
 * node's descriptors write whole and read back within that node (the padded copy a PAD writes
 * before a Conv or pool reads it): an activation live at that node's step only, placed in the
 * arena with the others, not a constant (it holds nothing between runs). */
typedef enum npu_blob_kind { NPU_BLOB_PARAM = 0, NPU_BLOB_WEIGHT, NPU_BLOB_SCRATCH } npu_blob_kind;

/* A window on one of the memory plan's buffer objects (not owned). */
typedef struct npu_window {
    npu_bo *bo;
    uint64_t offset, bytes;
} npu_window;

/* A constant the segment uploads at build time (weights, scales, biases, padding buffers). */
typedef struct npu_blob {
    npu_blob_kind kind;
    uint32_t buf;
    uint64_t offset, bytes;
    int pos; /* SCRATCH: the position of the node that writes and reads it */
} npu_blob;

/* Where a graph tensor the segment touches lives, and how it is quantised. */
typedef struct npu_tinfo {
    bool used;          /* read or written by a descriptor */
    bool produced;      /* written by a node of the segment */
    int root;           /* storage: the tensor whose bytes these are (aliases: Reshape ...) */
    int scale_root;     /* tensors that must share a scale (aliases, pure data movement) */
    bool scale_set;
    float scale;        /* at scale_root */
    float lo, hi;       /* at scale_root: the range a kernel accepts for the scale (softmax input) */
    int def, last;      /* first writer and last reader (segment positions), at root */
    bool resident;      /* at root: lives in the resident region (a KV cache), not the arena */
    uint32_t buf;       /* at root: NPU_BUF_ACT or NPU_BUF_RESIDENT */
    uint64_t offset;    /* in that buffer, at root */
} npu_tinfo;

/* A map from a graph index (node or tensor) to a position in the segment's own arrays: a lookup
 * is O(1) and touches one or two cache lines, where a binary search over a 100k-entry segment
 * misses the cache at every step. Slots hold position + 1 (0: empty). When the keys are dense
 * (their range at most NPU_INDEX_DENSE_SPAN times their count: a segment of consecutive nodes)
 * the slot is the key minus the lowest key, so neighbouring keys share cache lines; otherwise
 * open addressing with linear probing (key != NULL), whose hash scatters neighbours. */
typedef struct npu_index {
    int *key, *pos; /* key: NULL in the dense form */
    int base;       /* dense: the lowest key */
    uint32_t mask;  /* dense: span - 1; hashed: slot count - 1 (2^bits, at least twice the entries) */
    unsigned bits;
} npu_index;

/* A segment keeps what it knows per node and per tensor for its own nodes and tensors only (found
 * through a hash of their graph indices), never in arrays the size of the graph: building every
 * segment of a graph then costs O(graph log graph) in all (one sort of its tensors), not
 * O(graph x segments). */
struct npu_segment {
    npu_backend *b;
    rt_graph *g;
    int *nodes, n_nodes;
    npu_index node_pos;   /* graph node index -> position in nodes (npu_seg_pos) */
    bool *fused;          /* position -> folded into another node's descriptor */
    int *into;            /* position -> the graph node whose descriptors carry its work (itself
                             unless fused) */
    bool *attention;      /* position -> the last node of a fused attention (NPU_OP_ATTENTION) */
    bool timing_only;
    npu_weight_type wtype;
    npu_act_format afmt;  /* the activations' format (the backend's when the segment was planned) */
    uint32_t group;       /* per-group weight scales: rows of K per group (0: per channel) */
    npu_tinfo *t;         /* per tensor the segment's nodes read or write (npu_seg_tinfo) */
    int *t_graph;         /* t[i] is graph tensor t_graph[i]; ascending */
    int n_t;
    npu_index t_pos;      /* graph tensor index -> i (npu_seg_tinfo) */
    npu_tinfo t_stray;    /* what a lookup of any other tensor gets (lowering never asks one) */
    bool stray;           /* t_stray was handed out: an internal error, reported by the build */
    npu_blob *blobs;
    int n_blobs, cap_blobs;
    npu_op_desc *ops;
    int *op_node;         /* descriptor -> graph node */
    uint32_t n_ops, cap_ops;
    bool oom;             /* a descriptor could not be appended */
    uint64_t buf_bytes[NPU_MAX_BUFFERS];
    uint32_t nbufs;
    /* device memory (npu_memplan.c): each buffer a window on the plan's buffer objects, set when
     * the plan is committed */
    npu_mem_plan *plan;
    bool owns_plan;       /* built alone (npu_segment_build): the plan is the segment's */
    uint64_t const_off;   /* the segment's constants in the plan's constant region */
    uint64_t buf_off[NPU_MAX_BUFFERS]; /* each constant buffer's offset from const_off */
    uint64_t res_base;    /* the resident window: [res_base, res_base + buf_bytes[NPU_BUF_RESIDENT]) */
    uint64_t prog_off;    /* the descriptors, then their profile records, in the plan's program region */
    npu_window win[NPU_MAX_BUFFERS], prog, prof;
    npu_op_profile *profile; /* per descriptor: the last run's (or the memo's), host copy; NULL before */
    uint8_t *param_host, **weight_host; /* build-time images (freed after upload) */
    int *ins, n_ins;      /* boundary inputs (storage roots) */
    int *outs, n_outs;    /* boundary outputs (graph tensors) */
    uint64_t weight_bytes;
};

/* ---------------------------------------------------------------- memory plans (npu_memplan.c) */

struct npu_mem_plan {
    npu_backend *b;
    rt_graph *g;
    npu_resident_fn resident;
    void *resident_ctx;
    npu_segment **segs;
    int n_segs, cap_segs;
    /* the resident region: graph tensor -> offset (NPU_MEMPLAN_UNPLACED until a segment places it);
     * NULL without a resident predicate */
    uint64_t *res_off;
    uint64_t res_bytes, const_bytes, act_bytes, prog_bytes;
    /* A device with on-chip memory (npu_dev_onchip_bytes): the segments' small constants (their
     * NPU_BUF_PARAM: scales, biases, the padded copies written every run) get a region of their
     * own, so that commit can place the arena, then them, then the weights in the on-chip memory */
    bool onchip;
    uint64_t param_bytes;
    npu_bo *const_bo, *res_bo, *act_bo, *prog_bo, *param_bo;
    bool committed;
};
#define NPU_MEMPLAN_UNPLACED UINT64_MAX

/* A buffer to place in an arena: `bytes`, live from step `first` to step `last` (inclusive). */
typedef struct npu_live_buf {
    uint64_t bytes;
    int first, last;
} npu_live_buf;
/* Offsets for bufs[0..n-1] such that no two buffers live at a common step overlap, each a
 * multiple of `align`; greedy by size (largest first, each into the smallest gap that holds it
 * among the buffers already placed that it meets in time, else above them). *peak: the arena's
 * bytes. */
rt_status npu_arena_plan(const npu_live_buf *bufs, int n, uint64_t align, uint64_t *offsets, uint64_t *peak,
                         rt_error *e);
/* v[0..n-1] sorted ascending with repeats dropped, in place (linear time when the values span
 * a range not much larger than n): the distinct count, or -1 out of memory. */
int npu_sort_distinct(int *v, int n);
/* Place resident tensor t (a storage root) in the plan's resident region (once); its offset. */
uint64_t npu_mem_plan_resident(npu_mem_plan *p, int t, uint64_t bytes);
/* Is graph tensor t resident (the plan's predicate)? */
bool npu_mem_plan_is_resident(const npu_mem_plan *p, int t);

/* Bytes a segment of n_ops descriptors takes in the plan's program region: the descriptors and
 * the profile records the firmware writes for them (ABI 1.4), each rounded up to the alignment. */
static inline uint64_t npu_program_region_bytes(uint32_t n_ops)
{
    uint64_t d = n_ops ? (uint64_t)n_ops * sizeof(npu_op_desc) : 1, p = (uint64_t)n_ops * sizeof(npu_op_profile);
    return (d + NPU_ARENA_ALIGN_BYTES - 1) / NPU_ARENA_ALIGN_BYTES * NPU_ARENA_ALIGN_BYTES +
           (p + NPU_ARENA_ALIGN_BYTES - 1) / NPU_ARENA_ALIGN_BYTES * NPU_ARENA_ALIGN_BYTES;
}

/* npu_segment.c: a segment planned and emitted into p (no device memory yet), and its upload once
 * the plan's buffer objects exist. */
npu_segment *npu_segment_plan(npu_mem_plan *p, const int *nodes, int n_nodes, npu_weight_type weights,
                              bool timing_only, rt_error *e);
rt_status npu_segment_upload(npu_segment *s, rt_error *e);
void npu_segment_destroy(npu_segment *s);

/* npu_segment.c: tensor t's entry (t_stray, flagged, if the segment's nodes do not touch t), and
 * the position of graph node n in the segment (-1 if it is not one of its nodes). */
npu_tinfo *npu_seg_tinfo(npu_segment *s, int t);
int npu_seg_pos(const npu_segment *s, int node);

/* ---------------------------------------------------------------- lowering (npu_lower.c) */

typedef enum npu_lower_mode {
    NPU_LOWER_CHECK = 0, /* can the kernels run the node? (no segment) */
    NPU_LOWER_PLAN,      /* record tensor uses, aliases, scales and constants */
    NPU_LOWER_EMIT,      /* write the descriptors and the constants' data */
} npu_lower_mode;

typedef struct npu_lower {
    npu_lower_mode mode;
    const npu_device_config *dev;
    const m4npu_config *cfg; /* the capability set, for patterns that fuse several nodes */
    const rt_graph *g;
    npu_segment *s;  /* NULL when checking */
    int node, pos;   /* graph node, its position in the segment */
    int blob_next;   /* constants are numbered in lowering order, the same in PLAN and EMIT */
    npu_act_format afmt; /* the activations' format (the backend's) */
    uint32_t group;      /* per-group weight scales (the backend's group size), 0: per channel */
    char *why;
    size_t whylen;
} npu_lower;

/* Node `node` of segment s is folded into the descriptors of node `into` (it gets none of its own). */
static inline void npu_fuse_into(npu_segment *s, int node, int into)
{
    int pos = npu_seg_pos(s, node);
    s->fused[pos] = true;
    s->into[pos] = into;
}

/* The device scale of an activation whose int8 scale (the calibrated range / 127) is s8: s8 for
 * int8, s8 * 127 / 32767 for int16, 1 for f16 (which has none). */
float npu_act_device_scale(npu_act_format f, float s8);

/* Lower node L->node; 0, or -1 with the reason in L->why. */
int npu_lower_node(npu_lower *L);
/* npu_lower_attn.c: mark the attention patterns wholly inside L->s that can run fused (their
 * nodes fused, the last one lowering as NPU_OP_ATTENTION); runs before planning. */
void npu_attn_fuse(npu_lower *L);

/* ---------------------------------------------------------------- weights (npu_weights.c) */

/* Bytes of a BLOCKED [K, N] weight with block width nb. */
uint64_t npu_blocked_bytes(uint64_t k, uint64_t n, uint64_t nb, bool int4);
/* Quantise w (element (k, n) at w[k * ks + n * ns], times alpha) into the BLOCKED layout at dst
 * (npu_blocked_bytes; twice that for f16): int8 or int4 per column n, scales[N] = max|w| / qmax
 * (1 for an all-zero column), or with group > 0 per group of `group` rows of K and column,
 * scales[ceil(K / group)][N]; f16 as w / max|w| of the column, scales[N] = max|w| (no groups). */
void npu_pack_blocked(const float *w, int64_t ks, int64_t ns, uint64_t k, uint64_t n, float alpha, uint64_t nb,
                      npu_weight_type wt, uint64_t group, uint8_t *dst, float *scales);
/* Conv weights [CO, C, KH, KW] -> OHWI int8 (or f16, normalised) with scales[CO]. */
void npu_pack_ohwi(const float *w, uint64_t co, uint64_t c, uint64_t kh, uint64_t kw, bool f16, uint8_t *dst,
                   float *scales);
/* Already quantised weights (an i8 or packed i4 rt_tensor with data): the same layouts, values
 * unchanged (int4 into int8 for conv, whose weights are the array's int8 A operand). */
void npu_pack_blocked_int(const rt_tensor *w, uint64_t k, uint64_t n, uint64_t nb, bool int4, uint8_t *dst);
void npu_pack_ohwi_int(const rt_tensor *w, uint64_t co, uint64_t c, uint64_t kh, uint64_t kw, uint8_t *dst);

/* ---------------------------------------------------------------- output stage (npu_out_stage.c)
 * The records and table of mm.out (firmware/src/ops/README.md, "Output stage"). */

/* One channel: the int32 accumulator has scale acc_scale, the int8 result out_scale; bias is the
 * channel's f32 bias (0 without one) and k the products summed per result. false when the stage
 * cannot express it (then the op keeps the vector unit's epilogue). */
bool npu_out_stage_channel(double acc_scale, double out_scale, double bias, uint64_t k, isa_mm_out_record *r);
/* The record's 12 bytes (little-endian bias, mult, shift) at dst. */
void npu_out_stage_put(uint8_t *dst, const isa_mm_out_record *r);
/* The table of a fused activation act other than none and relu (its parameters prm, the
 * descriptor's fattr): entry i maps the int8 i - 128 at in_scale to the int8
 * round_half_even(act(x) / out_scale), in double. */
void npu_out_stage_table(int8_t tab[ISA_MM_OUT_LUT_ENTRIES], int32_t act, const float prm[2], double in_scale,
                         double out_scale);
bool npu_out_stage_uses_table(int32_t act);

#endif
