/* m4npu conformance: run the ONNX backend node tests (libonnx-testdata) on the CPU reference
 * kernels and report pass/fail per test and per op. A test is in scope when every op in its
 * model has a kernel; in-scope tests either pass, fail, or are listed in the exclusion table
 * below with a reason. Tests needing an op without a kernel are counted as "unsupported". */
#include "cli.h"

#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cpu_exec.h"
#include "onnx_io.h"
#include "ops.h"

#define DEFAULT_NODE_TEST_DIR "/usr/share/libonnx-testdata/data/node"
/* numpy.testing.assert_allclose as onnx.backend.test runs it: |actual - expected| <= atol +
 * rtol * |expected|, NaN equal to NaN; integers and bools must be equal. */
#define CONFORMANCE_RTOL 1e-3
#define CONFORMANCE_ATOL 1e-7
#define MAX_IO_FILES 64
#define MAX_DATA_SETS 16

/* The exclusions: in-scope tests this runtime deliberately does not pass, each with why.
 * A name ending in '*' matches every test with that prefix. */
static const struct exclusion {
    const char *test;
    const char *reason;
} exclusions[] = {
    {"test_cast_FLOAT_to_STRING", "string tensors are not an IR data type"},
    {"test_cast_STRING_to_FLOAT", "string tensors are not an IR data type"},
    {"test_castlike_FLOAT_to_STRING*", "string tensors are not an IR data type"},
    {"test_castlike_STRING_to_FLOAT*", "string tensors are not an IR data type"},
    {"test_batchnorm_epsilon_training_mode", "training mode (running statistics outputs) is not supported"},
    {"test_batchnorm_example_training_mode", "training mode (running statistics outputs) is not supported"},
    {"test_training_dropout*", "training-mode dropout draws random masks"},
    {"test_identity_opt", "optional types are not IR types"},
    {"test_identity_sequence", "sequence types are not IR types"},
    {"test_if_seq", "its branches return sequences: sequence types are not IR types"},
    {"test_if_opt", "its branches return optional sequences: optional and sequence types are not IR types"},
    {"test_loop13_seq", "its loop-carried value is a sequence: sequence types are not IR types"},
    {"test_loop16_seq_none", "its loop-carried value is an optional sequence: optional and sequence types are not IR types"},
    {"test_cast_BFLOAT16_to_FLOAT", "ONNX 1.12's test data stores the bfloat16 tensors as uint16"},
    {"test_cast_FLOAT_to_BFLOAT16", "ONNX 1.12's test data stores the bfloat16 tensors as uint16"},
    {"test_castlike_BFLOAT16_to_FLOAT*", "ONNX 1.12's test data stores the bfloat16 tensors as uint16"},
    {"test_castlike_FLOAT_to_BFLOAT16*", "ONNX 1.12's test data stores the bfloat16 tensors as uint16"},
};
#define N_EXCLUSIONS (sizeof exclusions / sizeof exclusions[0])

static const char usage[] =
    "usage: m4npu conformance [--dir DIR] [--op OP] [--json] [--verbose]\n"
    "\n"
    "Run the ONNX backend node tests on the CPU reference kernels. Each directory DIR/test_*\n"
    "holds model.onnx and test_data_set_*/input_*.pb, output_*.pb. A test whose ops all have\n"
    "kernels is run and compared with numpy's assert_allclose rule (rtol 1e-3, atol 1e-7; NaN\n"
    "equals NaN; integer and bool outputs exactly); shapes and types must match exactly. Tests\n"
    "listed in the exclusion table (printed with --verbose and in --json) are not run; tests\n"
    "needing an op without a kernel are counted as unsupported.\n"
    "\n"
    "  --dir DIR     test directory (default " DEFAULT_NODE_TEST_DIR ")\n"
    "  --op OP       only tests of this op (e.g. Conv)\n"
    "  --json        one JSON object: passed, failed, excluded, unsupported, by_op, tests, exclusions\n"
    "  -v, --verbose also list unsupported tests and the exclusion table\n"
    "  -h, --help    this help\n"
    "\n"
    "Exit: 0 no test failed, 1 some failed, 2 usage, 3 DIR not readable.\n";

typedef enum { R_PASS, R_FAIL, R_EXCLUDED, R_UNSUPPORTED } result_kind;
static const char *const result_names[] = {"passed", "failed", "excluded", "unsupported"};

static const char *exclusion_reason(const char *test)
{
    for (size_t i = 0; i < N_EXCLUSIONS; i++) {
        size_t n = strlen(exclusions[i].test);
        if (exclusions[i].test[n - 1] == '*' ? strncmp(test, exclusions[i].test, n - 1) == 0
                                              : strcmp(test, exclusions[i].test) == 0)
            return exclusions[i].reason;
    }
    return NULL;
}

/* lowercase without underscores, for matching test names to op names */
static void squash(const char *in, char *out, size_t n)
{
    size_t k = 0;
    for (; *in && k + 1 < n; in++)
        if (*in != '_')
            out[k++] = (char)((*in >= 'A' && *in <= 'Z') ? *in - 'A' + 'a' : *in);
    out[k] = '\0';
}

/* The op a test is about: its node's op for one-node models; for expanded (multi-node) models
 * the longest registry op name that prefixes the test name; else the first node's op. */
static void test_op(const char *test, const rt_graph *g, char *op, size_t n)
{
    if (g->n_nodes == 1 || g->n_nodes == 0) {
        snprintf(op, n, "%s", g->n_nodes ? g->nodes[0].op_type : "?");
        return;
    }
    char st[256], so[64];
    squash(test + 5, st, sizeof st); /* after "test_" */
    size_t best = 0;
    for (int i = 0; i < ops_count(); i++) {
        squash(ops_get(i)->name, so, sizeof so);
        size_t l = strlen(so);
        if (l > best && strncmp(st, so, l) == 0) {
            best = l;
            snprintf(op, n, "%s", ops_get(i)->name);
        }
    }
    if (!best)
        snprintf(op, n, "%s", g->nodes[0].op_type);
}

static bool values_close(const rt_tensor *a, const rt_tensor *x, char *why, size_t n)
{
    char s1[96], s2[96];
    if (a->dtype != x->dtype) {
        snprintf(why, n, "output '%s': type %s, expected %s", x->name, rt_dtype_name(a->dtype), rt_dtype_name(x->dtype));
        return false;
    }
    bool same_shape = a->rank == x->rank;
    for (int d = 0; same_shape && d < a->rank; d++)
        same_shape = a->dims[d] == x->dims[d];
    if (!same_shape) {
        snprintf(why, n, "output '%s': shape %s, expected %s", x->name, rt_shape_str(a, s1, sizeof s1),
                 rt_shape_str(x, s2, sizeof s2));
        return false;
    }
    int64_t count = rt_tensor_numel(x);
    bool is_f = rt_dtype_is_float(x->dtype);
    for (int64_t i = 0; i < count; i++) {
        if (is_f) {
            double av = rt_tensor_get_f64(a, i), xv = rt_tensor_get_f64(x, i);
            if (isnan(av) && isnan(xv))
                continue;
            if (isinf(xv) ? av != xv : !(fabs(av - xv) <= CONFORMANCE_ATOL + CONFORMANCE_RTOL * fabs(xv))) {
                snprintf(why, n, "output '%s'[%lld] = %.9g, expected %.9g", x->name, (long long)i, av, xv);
                return false;
            }
        } else if (rt_tensor_get_i64(a, i) != rt_tensor_get_i64(x, i)) {
            snprintf(why, n, "output '%s'[%lld] = %lld, expected %lld", x->name, (long long)i,
                     (long long)rt_tensor_get_i64(a, i), (long long)rt_tensor_get_i64(x, i));
            return false;
        }
    }
    return true;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entries of dir starting with prefix (caller frees). */
static int list_dir(const char *dir, const char *prefix, char ***out)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, (size_t)cap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name)))
            break;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, (size_t)n, sizeof *names, name_cmp);
    *out = names;
    return n;
}

static void free_list(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Run one data set; true if every output matched. */
static bool run_data_set(const rt_graph *g, const char *setdir, char *why, size_t n)
{
    rt_error e = {0};
    cpu_exec *x;
    if (cpu_exec_create(g, &x, &e) != RT_OK) {
        snprintf(why, n, "%s", e.msg);
        return false;
    }
    bool ok = true;
    char path[4096];
    for (int k = 0; k < g->n_inputs && ok; k++) {
        snprintf(path, sizeof path, "%.4000s/input_%d.pb", setdir, k);
        rt_tensor *t;
        if (onnx_load_tensor_file(path, &t, &e) != RT_OK) {
            snprintf(why, n, "%s", e.msg);
            ok = false;
            break;
        }
        if (cpu_exec_set_input(x, g->tensors[g->inputs[k]]->name, t, &e) != RT_OK) {
            snprintf(why, n, "%s", e.msg);
            ok = false;
        }
        rt_tensor_free(t);
    }
    if (ok && cpu_exec_run(x, &e) != RT_OK) {
        snprintf(why, n, "%s", e.msg);
        ok = false;
    }
    for (int k = 0; k < g->n_outputs && ok; k++) {
        snprintf(path, sizeof path, "%.4000s/output_%d.pb", setdir, k);
        rt_tensor *want;
        if (onnx_load_tensor_file(path, &want, &e) != RT_OK) {
            snprintf(why, n, "%s", e.msg);
            ok = false;
            break;
        }
        const rt_tensor *got = cpu_exec_output(x, g->tensors[g->outputs[k]]->name);
        if (!got) {
            snprintf(why, n, "output '%s' not computed", g->tensors[g->outputs[k]]->name);
            ok = false;
        } else {
            ok = values_close(got, want, why, n);
        }
        rt_tensor_free(want);
    }
    cpu_exec_free(x);
    return ok;
}

static result_kind run_test(const char *dir, const char *test, char *op, size_t opn, char *why, size_t n)
{
    char path[4096];
    snprintf(op, opn, "?");
    snprintf(path, sizeof path, "%s/%s/model.onnx", dir, test);
    rt_error e = {0};
    rt_graph *g;
    onnx_import_opts opts = {.allow_unknown_ops = true};
    if (onnx_import_file(path, &opts, &g, &e) != RT_OK) {
        /* malformed for us, or using what no kernel supports (sequences in If/Loop ...)? */
        char **types;
        int nt;
        rt_error e2;
        const char *reason = exclusion_reason(test);
        result_kind r = reason ? R_EXCLUDED : R_FAIL;
        snprintf(why, n, "%s", reason ? reason : e.msg);
        if (onnx_model_op_types(path, &types, &nt, &e2) == RT_OK) {
            if (nt == 1) /* a one-node model is about its op, even when it cannot be imported */
                snprintf(op, opn, "%s", types[0]);
            for (int i = 0; i < nt; i++) {
                if (r != R_UNSUPPORTED && ops_lookup("", types[i]) == RT_OP_NONE) {
                    snprintf(why, n, "no kernel for op '%s'", types[i]);
                    snprintf(op, opn, "%s", types[i]);
                    r = R_UNSUPPORTED;
                }
                free(types[i]);
            }
            free(types);
        }
        return r;
    }
    test_op(test, g, op, opn);
    for (int i = 0; i < g->n_nodes; i++) {
        const rt_op_def *d = ops_get(g->nodes[i].op);
        if (!d || !d->kernel) {
            snprintf(why, n, "no kernel for op '%s'", g->nodes[i].op_type);
            graph_free(g);
            return R_UNSUPPORTED;
        }
    }
    const char *reason = exclusion_reason(test);
    if (reason) {
        snprintf(why, n, "%s", reason);
        graph_free(g);
        return R_EXCLUDED;
    }
    if (graph_prepare(g, &e) != RT_OK) {
        snprintf(why, n, "%s", e.msg);
        graph_free(g);
        return R_FAIL;
    }
    snprintf(path, sizeof path, "%s/%s", dir, test);
    char **sets;
    int ns = list_dir(path, "test_data_set_", &sets);
    result_kind r = R_PASS;
    if (ns <= 0) {
        snprintf(why, n, "no test_data_set_* directory");
        r = R_FAIL;
    }
    for (int s = 0; s < ns && r == R_PASS; s++) {
        char setdir[4096];
        snprintf(setdir, sizeof setdir, "%.3000s/%.1000s", path, sets[s]);
        if (!run_data_set(g, setdir, why, n))
            r = R_FAIL;
    }
    if (ns > 0)
        free_list(sets, ns);
    graph_free(g);
    return r;
}

typedef struct op_tally {
    char op[64];
    int count[4];
} op_tally;

/* ---- --op: an op that no test is about is a mistake, not an empty run */

#define OP_NAME_BYTES 64
#define CLOSE_NAME_DISTANCE 3 /* edits between a misspelt op and the names offered instead */
#define CLOSE_NAMES_MAX 8

/* Edit distance between two short names, case-insensitively (a name longer than the buffer is
 * far from everything). */
static int distance(const char *a, const char *b)
{
    char sa[OP_NAME_BYTES], sb[OP_NAME_BYTES];
    squash(a, sa, sizeof sa);
    squash(b, sb, sizeof sb);
    size_t n = strlen(sa), m = strlen(sb);
    int row[OP_NAME_BYTES + 1];
    for (size_t j = 0; j <= m; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int up = row[j], best = diag + (sa[i - 1] != sb[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[m];
}

/* Is op a registry op, or the subject of a test in the directory (an op without a kernel)? If
 * not, say so with the registry's names closest to it; 0 if it is known. */
static int check_op(const char *op, char *const *tests, int nt)
{
    char want[OP_NAME_BYTES + 8], have[OP_NAME_BYTES + 8];
    for (int i = 0; i < ops_count(); i++)
        if (strcmp(ops_get(i)->name, op) == 0)
            return 0;
    squash(op, want, sizeof want);
    for (int i = 0; i < nt; i++) { /* test_<op>[_...]: the op's tests, kernel or not */
        squash(tests[i] + strlen("test_"), have, sizeof have);
        if (strncmp(have, want, strlen(want)) == 0)
            return 0;
    }
    fprintf(stderr, "m4npu conformance: --op %s: no such op (none in the op registry, no test about it)", op);
    int shown = 0;
    for (int d = 0; d <= CLOSE_NAME_DISTANCE && shown < CLOSE_NAMES_MAX; d++)
        for (int i = 0; i < ops_count() && shown < CLOSE_NAMES_MAX; i++)
            if (distance(ops_get(i)->name, op) == d)
                fprintf(stderr, "%s %s", shown++ ? "," : "; did you mean", ops_get(i)->name);
    fprintf(stderr, "%s\n", shown ? "?" : "; `m4npu ops` lists every op");
    return -1;
}

int cmd_conformance(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"op", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = DEFAULT_NODE_TEST_DIR, *only_op = NULL;
    bool json = false, verbose = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:o:jv", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'o': only_op = optarg; break;
        case 'j': json = true; break;
        case 'v': verbose = true; break;
        default: fputs(usage, stderr); return CLI_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "m4npu conformance: unexpected argument '%s'\n%s", argv[optind], usage);
        return CLI_USAGE;
    }
    char **tests;
    int nt = list_dir(dir, "test_", &tests);
    if (nt < 0) {
        fprintf(stderr, "m4npu conformance: %s: cannot read the test directory\n", dir);
        return CLI_IO;
    }
    if (only_op && check_op(only_op, tests, nt) != 0) {
        free_list(tests, nt);
        return CLI_USAGE;
    }
    op_tally *tally = calloc((size_t)nt + 1, sizeof *tally);
    json_t *jtests = json_array();
    if (!tally || !jtests) {
        fprintf(stderr, "m4npu conformance: out of memory\n");
        free_list(tests, nt);
        free(tally);
        json_decref(jtests);
        return CLI_FAIL;
    }
    int nops = 0, total[4] = {0};
    for (int i = 0; i < nt; i++) {
        char op[64], why[RT_ERROR_MSG_BYTES + 64] = "";
        result_kind r = run_test(dir, tests[i], op, sizeof op, why, sizeof why);
        if (only_op && strcmp(op, only_op) != 0)
            continue;
        total[r]++;
        int k = 0;
        while (k < nops && strcmp(tally[k].op, op) != 0)
            k++;
        if (k == nops)
            snprintf(tally[nops++].op, sizeof tally[0].op, "%s", op);
        tally[k].count[r]++;
        if (json) {
            json_t *jt = json_pack("{s:s, s:s, s:s}", "name", tests[i], "op", op, "result", result_names[r]);
            if (jt && why[0])
                json_object_set_new(jt, "message", json_string(why));
            json_array_append_new(jtests, jt);
        } else if (r == R_PASS) {
            printf("PASS  %s\n", tests[i]);
        } else if (r == R_FAIL) {
            printf("FAIL  %s: %s\n", tests[i], why);
        } else if (r == R_EXCLUDED) {
            printf("EXCL  %s: %s\n", tests[i], why);
        } else if (verbose) {
            printf("SKIP  %s: %s\n", tests[i], why);
        }
    }
    free_list(tests, nt);
    if (json) {
        json_t *by_op = json_object(), *jex = json_array();
        for (int k = 0; k < nops; k++)
            json_object_set_new(by_op, tally[k].op,
                                json_pack("{s:i, s:i, s:i, s:i}", "passed", tally[k].count[R_PASS], "failed",
                                          tally[k].count[R_FAIL], "excluded", tally[k].count[R_EXCLUDED],
                                          "unsupported", tally[k].count[R_UNSUPPORTED]));
        for (size_t i = 0; i < N_EXCLUSIONS; i++)
            json_array_append_new(jex, json_pack("{s:s, s:s}", "test", exclusions[i].test, "reason", exclusions[i].reason));
        json_t *root = json_pack("{s:s, s:f, s:f, s:i, s:i, s:i, s:i, s:o, s:o, s:o}", "dir", dir, "rtol",
                                 CONFORMANCE_RTOL, "atol", CONFORMANCE_ATOL, "passed", total[R_PASS], "failed",
                                 total[R_FAIL], "excluded", total[R_EXCLUDED], "unsupported", total[R_UNSUPPORTED],
                                 "by_op", by_op, "tests", jtests, "exclusions", jex);
        if (!root) {
            fprintf(stderr, "m4npu conformance: out of memory\n");
            free(tally);
            return CLI_FAIL;
        }
        json_dumpf(root, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        putchar('\n');
        json_decref(root);
    } else {
        json_decref(jtests);
        printf("\n%-24s %7s %7s %9s %12s\n", "op", "passed", "failed", "excluded", "unsupported");
        for (int k = 0; k < nops; k++)
            if (tally[k].count[R_PASS] || tally[k].count[R_FAIL] || tally[k].count[R_EXCLUDED] || verbose)
                printf("%-24s %7d %7d %9d %12d\n", tally[k].op, tally[k].count[R_PASS], tally[k].count[R_FAIL],
                       tally[k].count[R_EXCLUDED], tally[k].count[R_UNSUPPORTED]);
        if (verbose) {
            printf("\nexclusions:\n");
            for (size_t i = 0; i < N_EXCLUSIONS; i++)
                printf("  %-40s %s\n", exclusions[i].test, exclusions[i].reason);
        }
        printf("\nconformance: %d passed, %d failed, %d excluded, %d unsupported (no kernel)\n", total[R_PASS],
               total[R_FAIL], total[R_EXCLUDED], total[R_UNSUPPORTED]);
    }
    free(tally);
    return total[R_FAIL] ? CLI_FAIL : CLI_OK;
}
