/* m4npu run: one inference of an ONNX model on the simulated NPU and the CPU, as a phone's
 * runtime would split it, with the numbers that say what the split costs (runtime/run). */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <jansson.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "m4npu_config.h"
#include "npy.h"
#include "onnx_io.h"
#include "run.h"

static const char usage[] =
    "usage: m4npu run MODEL.onnx --config FILE [--set KEY=VALUE ...] [--input NAME=FILE.npy ...]\n"
    "                 [--dim NAME=VALUE ...] [--timing-only] [--output-dir DIR] [--json]\n"
    "                 [--timeline FILE.json] [--seed N] [--weights int8|int4]\n"
    "       m4npu run MODEL.onnx --reference-only [--input NAME=FILE.npy ...] [--dim NAME=VALUE ...]\n"
    "                 [--output-dir DIR] [--json] [--seed N]\n"
    "\n"
    "Import MODEL (ONNX), compute the FP32 reference on the CPU kernels, calibrate int8 scales of the\n"
    "activations on the same input, partition the graph (the configuration's capability set `ops:` and\n"
    "what the firmware can run), and run it: CPU nodes on the CPU kernels, each NPU segment as one job\n"
    "on the simulated NPU. Prints per-node placement (and why a node is on the CPU), the segments, the\n"
    "modelled latency (NPU + CPU + boundary transfers + job submission; the CPU from the cpu section),\n"
    "CPU-side energy, the host's own wall time apart, and the max absolute and relative error of every\n"
    "output against the FP32 reference (relative to the output's largest |reference value|).\n"
    "An input not given is generated: floats uniform in [-1, 1) from --seed, integers and bools 0.\n"
    "Unknown input dimensions are bound from the given inputs and --dim, and shapes inferred again,\n"
    "before anything runs. If, Loop and Scan run on the CPU; what their subgraphs run is partitioned\n"
    "and costed like a graph (docs/run.md).\n"
    "\n"
    "  -c, --config FILE         the configuration (e.g. configs/mobile-default.yaml); required\n"
    "  -s, --set KEY=VALUE       override a key, e.g. --set ops.Softmax=off\n"
    "  -i, --input NAME=FILE.npy the value of graph input NAME (.npy, float inputs converted to the\n"
    "                            input's type); repeatable\n"
    "  -d, --dim NAME=VALUE      a symbolic input dimension by its name in the model (--dim batch=1),\n"
    "                            or an unnamed one as INPUT:AXIS (--dim x:2=224); repeatable\n"
    "      --timing-only         placement, segments, latency and energy only: no reference, no numbers,\n"
    "                            no input files (shapes from the model and --dim); weights are never\n"
    "                            read, so host memory stays small for models of any size\n"
    "  -o, --output-dir DIR      write each output as DIR/NAME.npy (characters outside [A-Za-z0-9._-]\n"
    "                            become '_'); DIR is created if missing\n"
    "  -j, --json                one JSON object: inputs, counts, placement, segments, transfers,\n"
    "                            breakdown, energy, host, errors, max_abs_error, max_rel_error\n"
    "  -t, --timeline FILE.json  a Chrome/Perfetto trace-event timeline of the modelled schedule (a\n"
    "                            track per NPU unit, DMA channel, the firmware, the CPU, boundary copies)\n"
    "      --seed N              seed of generated inputs (default 0x6d346e7075)\n"
    "      --weights int8|int4   NPU weight format (default int8, per output channel)\n"
    "      --trace FILE          record the driver/device traffic into FILE (m4npu trace --help)\n"
    "      --trace-level LEVEL   job (default) or insn: also every instruction per unit\n"
    "      --reference-only      only the FP32 reference on the CPU kernels (activations freed after\n"
    "                            their last use): the outputs, the model's GMAC and GFLOP, the host wall\n"
    "                            time and GFLOP/s; no configuration, calibration, partition or NPU\n"
    "  -h, --help                this help\n"
    "\n"
    "The files written (outputs, timeline) appear together or, if one cannot be written, not at all.\n"
    "\n"
    "Exit: 0 ran, 1 the model, an input or the configuration is invalid (the message names the\n"
    "problem and the node or tensor), 2 usage, 3 a file cannot be read or written.\n";

enum { OPT_SEED = 256, OPT_WEIGHTS, OPT_TRACE, OPT_TRACE_LEVEL, OPT_REFERENCE_ONLY, OPT_TIMING_ONLY };

typedef struct run_args {
    const char *model, *config, *outdir, *timeline, *trace, *trace_level;
    const char **sets;
    size_t nsets;
    char **in_names;
    const char **in_files;
    int n_in;
    run_dim *dims;
    char **dim_names;
    int n_dims;
    int json;
    int argc;
    char **argv;
    bool reference_only;
    bool timing_only;
    uint64_t seed;
    npu_weight_type weights;
} run_args;

static int parse_args(int argc, char **argv, run_args *a)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"set", required_argument, NULL, 's'},
                                         {"input", required_argument, NULL, 'i'},
                                         {"output-dir", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"timeline", required_argument, NULL, 't'},
                                         {"seed", required_argument, NULL, OPT_SEED},
                                         {"weights", required_argument, NULL, OPT_WEIGHTS},
                                         {"trace", required_argument, NULL, OPT_TRACE},
                                         {"trace-level", required_argument, NULL, OPT_TRACE_LEVEL},
                                         {"reference-only", no_argument, NULL, OPT_REFERENCE_ONLY},
                                         {"dim", required_argument, NULL, 'd'},
                                         {"timing-only", no_argument, NULL, OPT_TIMING_ONLY},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:s:i:o:jt:d:", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->config = optarg;
            break;
        case 's':
            if (!strchr(optarg, '=') || optarg[0] == '=') {
                fprintf(stderr, "m4npu run: --set %s: expected KEY=VALUE\n", optarg);
                return CLI_USAGE;
            }
            a->sets[a->nsets++] = optarg;
            break;
        case 'i': {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1]) {
                fprintf(stderr, "m4npu run: --input %s: expected NAME=FILE.npy\n", optarg);
                return CLI_USAGE;
            }
            a->in_names[a->n_in] = strndup(optarg, (size_t)(eq - optarg));
            if (!a->in_names[a->n_in]) {
                fprintf(stderr, "m4npu run: out of memory\n");
                return CLI_FAIL;
            }
            a->in_files[a->n_in++] = eq + 1;
            break;
        }
        case 'd': {
            const char *eq = strchr(optarg, '=');
            char *end;
            errno = 0;
            long long v = eq ? strtoll(eq + 1, &end, 10) : -1;
            if (!eq || eq == optarg || !eq[1] || *end || errno || v < 1) {
                fprintf(stderr, "m4npu run: --dim %s: expected NAME=VALUE with a positive integer VALUE\n", optarg);
                return CLI_USAGE;
            }
            if (!(a->dim_names[a->n_dims] = strndup(optarg, (size_t)(eq - optarg)))) {
                fprintf(stderr, "m4npu run: out of memory\n");
                return CLI_FAIL;
            }
            a->dims[a->n_dims] = (run_dim){a->dim_names[a->n_dims], v};
            a->n_dims++;
            break;
        }
        case OPT_TIMING_ONLY:
            a->timing_only = true;
            break;
        case 'o':
            a->outdir = optarg;
            break;
        case 'j':
            a->json = 1;
            break;
        case 't':
            a->timeline = optarg;
            break;
        case OPT_SEED: {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 0);
            if (!optarg[0] || *end || errno || optarg[0] == '-') {
                fprintf(stderr, "m4npu run: --seed %s: expected an unsigned integer\n", optarg);
                return CLI_USAGE;
            }
            a->seed = v;
            break;
        }
        case OPT_TRACE:
            a->trace = optarg;
            break;
        case OPT_TRACE_LEVEL:
            a->trace_level = optarg;
            break;
        case OPT_WEIGHTS:
            if (strcmp(optarg, "int8") == 0) {
                a->weights = NPU_WEIGHTS_INT8;
            } else if (strcmp(optarg, "int4") == 0) {
                a->weights = NPU_WEIGHTS_INT4;
            } else {
                fprintf(stderr, "m4npu run: --weights %s: expected int8 or int4\n", optarg);
                return CLI_USAGE;
            }
            break;
        case OPT_REFERENCE_ONLY:
            a->reference_only = true;
            break;
        default:
            return CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "m4npu run: expected one model file\n");
        return CLI_USAGE;
    }
    a->model = argv[optind];
    if (a->reference_only) {
        if (a->config || a->nsets || a->timeline || a->trace) {
            fprintf(stderr,
                    "m4npu run: --reference-only takes no --config, --set, --timeline or --trace (it runs no NPU)\n");
            return CLI_USAGE;
        }
        if (a->timing_only) {
            fprintf(stderr, "m4npu run: --reference-only computes values, --timing-only none: give one of them\n");
            return CLI_USAGE;
        }
        return CLI_OK;
    }
    if (!a->config) {
        fprintf(stderr, "m4npu run: --config FILE is required\n");
        return CLI_USAGE;
    }
    if (a->timing_only && (a->n_in || a->outdir)) {
        fprintf(stderr, "m4npu run: --timing-only computes no values: it takes no --input (give shapes with --dim) "
                        "and writes no --output-dir\n");
        return CLI_USAGE;
    }
    return CLI_OK;
}

static int exit_of(rt_status s)
{
    return s == RT_ERR_IO ? CLI_IO : s == RT_ERR_ARG ? CLI_USAGE : CLI_FAIL;
}

/* The output set: no output may replace the model, an input or the configuration. */
static rt_status protect_inputs(const run_args *a, rt_outputs *out, rt_error *e)
{
    rt_status s = rt_outputs_protect(out, a->model, e);
    if (s == RT_OK && a->config)
        s = rt_outputs_protect(out, a->config, e);
    for (int i = 0; s == RT_OK && i < a->n_in; i++)
        s = rt_outputs_protect(out, a->in_files[i], e);
    return s;
}

/* A reference run allocates and frees an activation per op, most of them larger than glibc's
 * mmap threshold: each would be mapped fresh (a page fault per 4 KiB, zeroed by the kernel) and
 * unmapped on free, which cost a quarter of a 1024x1024 U-Net's reference time. This process
 * keeps them in its heap instead, so freed memory is reused (the peak is the same). */
static void reuse_freed_memory(void)
{
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
}

static int run(run_args *a)
{
    m4npu_config *cfg = malloc(sizeof *cfg);
    rt_graph *g = NULL;
    rt_tensor **values = calloc((size_t)a->n_in + 1, sizeof *values);
    run_input *inputs = calloc((size_t)a->n_in + 1, sizeof *inputs);
    run_result *r = NULL;
    json_t *written = json_array(), *report = NULL;
    rt_outputs *out = rt_outputs_new();
    rt_error e = {0};
    int rc = CLI_OK;
    if (!cfg || !values || !inputs || !written || !out) {
        fprintf(stderr, "m4npu run: out of memory\n");
        rc = CLI_FAIL;
        goto done;
    }
    if (a->reference_only)
        reuse_freed_memory();
    else if ((rc = cli_load_config(a->config, a->sets, a->nsets, cfg)) != CLI_OK)
        goto done;
    onnx_import_opts io = {.no_weight_data = a->timing_only}; /* timing only: weights are never read */
    rt_status s = onnx_import_file(a->model, &io, &g, &e);
    if (s != RT_OK) {
        fprintf(stderr, "m4npu run: %s\n", e.msg);
        rc = exit_of(s);
        goto done;
    }
    for (int i = 0; i < a->n_in; i++) {
        if ((s = npy_read_file(a->in_files[i], a->in_names[i], &values[i], &e)) != RT_OK) {
            fprintf(stderr, "m4npu run: --input %s: %s\n", a->in_names[i], e.msg);
            rc = exit_of(s);
            goto done;
        }
        inputs[i] = (run_input){a->in_names[i], values[i]};
    }
    run_options o = {.cfg = cfg, .inputs = inputs, .n_inputs = a->n_in, .seed = a->seed, .weights = a->weights,
                     .dims = a->dims, .n_dims = a->n_dims, .timing_only = a->timing_only};
    if (a->reference_only) {
        s = run_reference(g, &o, &r, &e);
    } else {
        if ((rc = cli_trace_begin(a->trace, a->trace_level, cfg, a->argc, a->argv)) != CLI_OK)
            goto done;
        s = run_model(g, &o, &r, &e);
        rc = cli_trace_end(CLI_OK); /* run_model closed its device */
        if (rc != CLI_OK)
            goto done;
    }
    if (s != RT_OK) {
        fprintf(stderr, "m4npu run: %s: %s\n", a->model, e.msg);
        rc = exit_of(s);
        goto done;
    }
    /* every file into one set, committed once all are written: none appears if one fails */
    if ((s = protect_inputs(a, out, &e)) != RT_OK ||
        (a->outdir && (s = run_write_outputs(g, r, a->outdir, out, written, &e)) != RT_OK) ||
        (a->timeline && (s = run_write_timeline(g, cfg, r, a->timeline, out, &e)) != RT_OK) ||
        (s = rt_outputs_commit(out, &e)) != RT_OK) {
        fprintf(stderr, "m4npu run: %s\n", e.msg);
        rc = exit_of(s);
        goto done;
    }
    if (a->json) {
        report = a->reference_only ? run_reference_json(g, r) : run_result_json(g, cfg, r);
        if (!report || json_object_set(report, "outputs_written", written) != 0 ||
            json_object_set_new(report, "timeline", a->timeline ? json_string(a->timeline) : json_null()) != 0 ||
            json_dumpf(report, stdout, JSON_INDENT(2)) != 0) {
            fprintf(stderr, "m4npu run: cannot print JSON\n");
            rc = CLI_FAIL;
            goto done;
        }
        fputc('\n', stdout);
    } else {
        if (a->reference_only)
            run_reference_print(stdout, g, r);
        else
            run_print_report(stdout, g, cfg, r);
        for (size_t i = 0; i < json_array_size(written); i++)
            printf("%s %s\n", i ? "      " : "wrote", json_string_value(json_array_get(written, i)));
        if (a->timeline)
            printf("timeline: %s (open in ui.perfetto.dev or chrome://tracing)\n", a->timeline);
    }
    if (fflush(stdout) != 0)
        rc = CLI_IO;
done:
    rt_outputs_free(out);
    json_decref(report);
    json_decref(written);
    run_result_free(r);
    for (int i = 0; i < a->n_in; i++)
        rt_tensor_free(values[i]);
    free(values);
    free(inputs);
    graph_free(g);
    free(cfg);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    run_args a = {0};
    a.sets = calloc((size_t)argc + 1, sizeof *a.sets);
    a.in_names = calloc((size_t)argc + 1, sizeof *a.in_names);
    a.in_files = calloc((size_t)argc + 1, sizeof *a.in_files);
    a.dims = calloc((size_t)argc + 1, sizeof *a.dims);
    a.dim_names = calloc((size_t)argc + 1, sizeof *a.dim_names);
    int rc;
    if (!a.sets || !a.in_names || !a.in_files || !a.dims || !a.dim_names) {
        fprintf(stderr, "m4npu run: out of memory\n");
        rc = CLI_FAIL;
    } else {
        a.argc = argc;
        a.argv = argv;
        rc = parse_args(argc, argv, &a);
        if (rc == CLI_USAGE)
            fputs(usage, stderr);
        else if (rc == CLI_OK)
            rc = run(&a);
    }
    for (int i = 0; a.in_names && i < a.n_in; i++)
        free(a.in_names[i]);
    free(a.in_names);
    free(a.in_files);
    for (int i = 0; a.dim_names && i < a.n_dims; i++)
        free(a.dim_names[i]);
    free(a.dim_names);
    free(a.dims);
    free(a.sets);
    return rc;
}
