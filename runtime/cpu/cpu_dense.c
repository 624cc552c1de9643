/* cpu_dense.c -- whole-tensor conversion to and from the dense kernels' working type, and the
 * checked cblas calls (see cpu_dense.h for the why and the determinism argument). Each
 * conversion chooses its loop once per tensor; the loops themselves are type-free. */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "cpu_dense.h"
#include "cpu_exec.h"
#include "cpu_util.h"

/* ---- bulk f16 <-> f32: the F16C instructions 8 at a time where the processor has them (both
 * round to nearest even and keep NaN quiet, as rt_f32_to_f16 does), else the scalar forms. */

#define F16C_LANES 8
#define F16_BLOCK 256 /* f16 -> f64 goes through f32 blocks of this many elements */

#if defined(__x86_64__)
__attribute__((target("avx,f16c"))) static int64_t f16_to_f32_f16c(const uint16_t *src, float *dst, int64_t n)
{
    int64_t i = 0;
    for (; i + F16C_LANES <= n; i += F16C_LANES)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    return i;
}

__attribute__((target("avx,f16c"))) static int64_t f32_to_f16_f16c(const float *src, uint16_t *dst, int64_t n)
{
    int64_t i = 0;
    for (; i + F16C_LANES <= n; i += F16C_LANES)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    return i;
}

/* __builtin_cpu_supports knows "avx" in gcc and clang, "f16c" only in gcc and clang >= 15 (the
 * fuzz build uses clang 14): cpuid leaf 1 says it (ECX bit_F16C) to both. */
static bool have_f16c(void)
{
    unsigned eax, ebx, ecx, edx;
    return __builtin_cpu_supports("avx") && __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C);
}
#endif

void cpu_f16_to_f32_n(const uint16_t *src, float *dst, int64_t n)
{
    int64_t i = 0;
#if defined(__x86_64__)
    if (have_f16c())
        i = f16_to_f32_f16c(src, dst, n);
#endif
    for (; i < n; i++)
        dst[i] = rt_f16_to_f32(src[i]);
}

void cpu_f32_to_f16_n(const float *src, uint16_t *dst, int64_t n)
{
    int64_t i = 0;
#if defined(__x86_64__)
    if (have_f16c())
        i = f32_to_f16_f16c(src, dst, n);
#endif
    for (; i < n; i++)
        dst[i] = rt_f32_to_f16(src[i]);
}

/* Every working buffer is written in full before it is read, so it is not zeroed. */
static void *alloc_elems(const rt_op_ctx *c, int64_t n, size_t elem)
{
    void *p = malloc((size_t)(n > 0 ? n : 1) * elem);
    if (!p)
        ops_err(c, RT_ERR_NOMEM, "out of memory (%lld-element working buffer)", (long long)n);
    return p;
}

float *cpu_dense_read_f32(const rt_op_ctx *c, const rt_tensor *t, bool *owned)
{
    *owned = false;
    if (t->dtype == RT_DT_F32)
        return (float *)t->data;
    int64_t n = rt_tensor_numel(t);
    float *p = alloc_elems(c, n, sizeof *p);
    if (!p)
        return NULL;
    *owned = true;
    const void *src = t->data;
    switch (t->dtype) {
    case RT_DT_F16:
        cpu_f16_to_f32_n(src, p, n);
        break;
    case RT_DT_BF16:
        for (int64_t i = 0; i < n; i++)
            p[i] = rt_bf16_to_f32(((const uint16_t *)src)[i]);
        break;
    case RT_DT_F64:
        for (int64_t i = 0; i < n; i++)
            p[i] = (float)((const double *)src)[i];
        break;
    case RT_DT_U8:
        for (int64_t i = 0; i < n; i++)
            p[i] = ((const uint8_t *)src)[i];
        break;
    case RT_DT_I8:
        for (int64_t i = 0; i < n; i++)
            p[i] = ((const int8_t *)src)[i];
        break;
    default: /* the rarer integer types */
        for (int64_t i = 0; i < n; i++)
            p[i] = (float)cpu_ld(t->dtype, src, i);
        break;
    }
    return p;
}

double *cpu_dense_read_f64(const rt_op_ctx *c, const rt_tensor *t, bool *owned)
{
    *owned = false;
    if (t->dtype == RT_DT_F64)
        return (double *)t->data;
    int64_t n = rt_tensor_numel(t);
    double *p = alloc_elems(c, n, sizeof *p);
    if (!p)
        return NULL;
    *owned = true;
    const void *src = t->data;
    switch (t->dtype) {
    case RT_DT_F32:
        for (int64_t i = 0; i < n; i++)
            p[i] = ((const float *)src)[i];
        break;
    case RT_DT_F16:
        for (int64_t i = 0; i < n; i += F16_BLOCK) { /* through a small f32 block, vectorised */
            float block[F16_BLOCK];
            int64_t k = n - i < F16_BLOCK ? n - i : F16_BLOCK;
            cpu_f16_to_f32_n((const uint16_t *)src + i, block, k);
            for (int64_t j = 0; j < k; j++)
                p[i + j] = block[j];
        }
        break;
    case RT_DT_BF16:
        for (int64_t i = 0; i < n; i++)
            p[i] = rt_bf16_to_f32(((const uint16_t *)src)[i]);
        break;
    case RT_DT_U8:
        for (int64_t i = 0; i < n; i++)
            p[i] = ((const uint8_t *)src)[i];
        break;
    case RT_DT_I8:
        for (int64_t i = 0; i < n; i++)
            p[i] = ((const int8_t *)src)[i];
        break;
    case RT_DT_I32:
        for (int64_t i = 0; i < n; i++)
            p[i] = ((const int32_t *)src)[i];
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            p[i] = cpu_ld(t->dtype, src, i);
        break;
    }
    return p;
}

float *cpu_dense_out_f32(const rt_op_ctx *c, rt_tensor *t, bool *owned)
{
    *owned = t->dtype != RT_DT_F32;
    return *owned ? alloc_elems(c, rt_tensor_numel(t), sizeof(float)) : (float *)t->data;
}

double *cpu_dense_out_f64(const rt_op_ctx *c, rt_tensor *t, bool *owned)
{
    *owned = t->dtype != RT_DT_F64;
    return *owned ? alloc_elems(c, rt_tensor_numel(t), sizeof(double)) : (double *)t->data;
}

void cpu_dense_commit_f32(rt_tensor *t, float *buf, bool owned)
{
    if (!owned)
        return;
    int64_t n = rt_tensor_numel(t);
    void *dst = t->data;
    switch (t->dtype) {
    case RT_DT_F16:
        cpu_f32_to_f16_n(buf, dst, n);
        break;
    case RT_DT_BF16:
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)dst)[i] = rt_f32_to_bf16(buf[i]);
        break;
    case RT_DT_F64:
        for (int64_t i = 0; i < n; i++)
            ((double *)dst)[i] = buf[i];
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            cpu_st(t->dtype, dst, i, buf[i]);
        break;
    }
    free(buf);
}

void cpu_dense_commit_f64(rt_tensor *t, double *buf, bool owned)
{
    if (!owned)
        return;
    int64_t n = rt_tensor_numel(t);
    void *dst = t->data;
    switch (t->dtype) {
    case RT_DT_F32:
        for (int64_t i = 0; i < n; i++)
            ((float *)dst)[i] = (float)buf[i];
        break;
    case RT_DT_F16:
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)dst)[i] = rt_f32_to_f16((float)buf[i]);
        break;
    case RT_DT_BF16:
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)dst)[i] = rt_f32_to_bf16((float)buf[i]);
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            cpu_st(t->dtype, dst, i, buf[i]);
        break;
    }
    free(buf);
}

void cpu_dense_release(const void *buf, bool owned)
{
    if (owned)
        free((void *)buf);
}

/* ---- OpenBLAS, loaded on the first matrix product: linking it made every process (a what-if
 * that never multiplies on the CPU, `m4npu --help`) resolve its 12,000 symbol relocations and
 * start its thread pool at load, some 1.5 ms at best and several on a loaded machine. The
 * library is the one the build found (M4NPU_OPENBLAS_LIBRARY, from pkg-config's libdir). */

typedef struct blas_api {
    __typeof__(cblas_sgemm) *sgemm;
    __typeof__(cblas_dgemm) *dgemm;
    __typeof__(openblas_get_num_threads) *num_threads;
    char why[256]; /* empty when loaded */
} blas_api;

static blas_api BLAS;
static pthread_once_t BLAS_ONCE = PTHREAD_ONCE_INIT;

static void blas_load(void)
{
    void *h = dlopen(M4NPU_OPENBLAS_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *err = dlerror();
        snprintf(BLAS.why, sizeof BLAS.why, "cannot load OpenBLAS: %s", err ? err : M4NPU_OPENBLAS_LIBRARY);
        return;
    }
    /* dlsym returns void *; a function pointer is taken from it through memcpy (ISO C) */
    void *sym[3] = {dlsym(h, "cblas_sgemm"), dlsym(h, "cblas_dgemm"), dlsym(h, "openblas_get_num_threads")};
    if (!sym[0] || !sym[1] || !sym[2]) {
        snprintf(BLAS.why, sizeof BLAS.why, "%s lacks cblas_sgemm, cblas_dgemm or openblas_get_num_threads",
                 M4NPU_OPENBLAS_LIBRARY);
        return;
    }
    memcpy(&BLAS.sgemm, &sym[0], sizeof BLAS.sgemm);
    memcpy(&BLAS.dgemm, &sym[1], sizeof BLAS.dgemm);
    memcpy(&BLAS.num_threads, &sym[2], sizeof BLAS.num_threads);
}

static const blas_api *blas(void)
{
    pthread_once(&BLAS_ONCE, blas_load);
    return BLAS.why[0] ? NULL : &BLAS;
}

static rt_status blas_missing(const rt_op_ctx *c)
{
    return ops_err(c, RT_ERR_IO, "%s", BLAS.why);
}

/* cblas takes int sizes: refuse what does not fit rather than wrap. */
static rt_status check_blas_sizes(const rt_op_ctx *c, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb,
                                  int64_t ldc)
{
    const int64_t v[] = {M, N, K, lda, ldb, ldc};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i] > INT_MAX)
            return ops_err(c, RT_ERR_LIMIT, "matrix product of [%lld x %lld] x [%lld x %lld] is too large for BLAS",
                           (long long)M, (long long)K, (long long)K, (long long)N);
    return RT_OK;
}

/* Row stride for BLAS: at least 1 (BLAS rejects 0 even for empty matrices). */
static int ld_of(int64_t ld)
{
    return ld > 0 ? (int)ld : 1;
}

rt_status cpu_gemm_f32(const rt_op_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0)
        return RT_OK;
    rt_status s = check_blas_sizes(c, M, N, K, lda, ldb, ldc);
    if (s != RT_OK)
        return s;
    if (K <= 0) {
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++)
                C[m * ldc + n] = beta == 0.0f ? 0.0f : beta * C[m * ldc + n];
        return RT_OK;
    }
    const blas_api *api = blas();
    if (!api)
        return blas_missing(c);
    api->sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N,
               (int)K, alpha, A, ld_of(lda), B, ld_of(ldb), beta, C, ld_of(ldc));
    return RT_OK;
}

rt_status cpu_gemm_f64(const rt_op_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                       const double *A, int64_t lda, const double *B, int64_t ldb, double beta, double *C,
                       int64_t ldc)
{
    if (M <= 0 || N <= 0)
        return RT_OK;
    rt_status s = check_blas_sizes(c, M, N, K, lda, ldb, ldc);
    if (s != RT_OK)
        return s;
    if (K <= 0) {
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++)
                C[m * ldc + n] = beta == 0.0 ? 0.0 : beta * C[m * ldc + n];
        return RT_OK;
    }
    const blas_api *api = blas();
    if (!api)
        return blas_missing(c);
    api->dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N,
               (int)K, alpha, A, ld_of(lda), B, ld_of(ldb), beta, C, ld_of(ldc));
    return RT_OK;
}

int cpu_exec_blas_threads(void)
{
    const blas_api *api = blas();
    return api ? api->num_threads() : 0;
}
