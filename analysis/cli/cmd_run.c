/* m4npu run: one inference of an ONNX model on the simulated NPU and the CPU, as a phone's
 * runtime would split it, with the numbers that say what the split costs (runtime/run). */
#include "cli.h"
#include "cli_common.h"

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
#include "run_layers.h"

static const char usage[] =
    "usage: m4npu run MODEL.onnx --config FILE [--set KEY=VALUE ...] [--input NAME=FILE.npy ...]\n"
    "                 [--dim NAME=VALUE ...] [--timing-only] [--output-dir DIR] [--json]\n"
    "                 [--timeline FILE.json] [--seed N] [--weights int8|int4|f16] [--group-size G]\n"
    "                 [--activations int8|int16|f16] [--calib DIR|N] [--calib-method max|percentile|mse]\n"
    "                 [--calib-percentile P] [--class-scores OUTPUT ...] [--partition cost|greedy]\n"
    "                 [--objective latency|energy] [--layers [--csv]] [--log]\n"
    "       m4npu run MODEL.onnx --reference-only [--input NAME=FILE.npy ...] [--dim NAME=VALUE ...]\n"
    "                 [--output-dir DIR] [--json] [--seed N]\n"
    "\n"
    "Import MODEL (ONNX), compute the FP32 reference on the CPU kernels, calibrate the activations' ranges\n"
    "(on the same input, or on a calibration set: --calib), partition the graph (the configuration's capability set `ops:` and\n"
    "what the firmware can run), and run it: CPU nodes on the CPU kernels, each NPU segment as one job\n"
    "on the simulated NPU. Prints per-node placement (and why a node is on the CPU), the segments, the\n"
    "modelled latency (NPU + CPU + boundary transfers + job submission; the CPU from the cpu section),\n"
    "CPU-side energy, the host's own wall time apart, and the accuracy of every output against the FP32\n"
    "reference: max absolute error, max relative error (of the largest |reference value|), relative L2\n"
    "error, SQNR in dB and, for class scores (last axis = classes), argmax agreement.\n"
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
    "      --weights int8|int4|f16  NPU weight format (default int8, per output channel; f16 with f16\n"
    "                            activations, where it is the default)\n"
    "      --group-size G        int8/int4 weight scales per group of G rows along K (MatMul, Gemm)\n"
    "                            instead of per output channel\n"
    "      --activations int8|int16|f16  how activations live on the device (default int8, per tensor)\n"
    "      --calib DIR|N         calibrate on a set: DIR/SAMPLE/INPUT.npy (or DIR/SAMPLE.npy for a\n"
    "                            one-input model), or N generated samples (sample i from seed + 1 + i);\n"
    "                            default: the run's own inputs\n"
    "      --calib-method max|percentile|mse  the range of each activation (default max; docs/run.md)\n"
    "      --calib-percentile P  percentile of |x| kept by --calib-method percentile (default 99.99)\n"
    "      --partition cost|greedy  cost (default): a node goes to the NPU only where that lowers the\n"
    "                            modelled objective, transfers and submissions included; greedy: every\n"
    "                            node the NPU supports runs there\n"
    "      --objective latency|energy  what the cost-aware partition minimises (default latency)\n"
    "      --class-scores OUTPUT the output's last axis is classes: report argmax agreement (outputs of a\n"
    "                            last-axis Softmax/LogSoftmax are detected); repeatable\n"
    "      --layers              per layer: every op descriptor of every NPU job, CPU node, boundary copy\n"
    "                            and submission, with time, cycles, MACs, utilisation, bytes, bandwidth,\n"
    "                            what bounds it and energy, adding up to the totals (docs/layers.md); a\n"
    "                            table, or \"layers\" in --json, or with --csv one CSV row per layer\n"
    "      --csv                 the --layers rows as CSV (with the configuration's name, hash, overrides)\n"
    "      --log                 the firmware log on stderr: a line per op descriptor (kernel, tiling,\n"
    "                            cycles) of every job\n"
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

enum {
    OPT_SEED = 256, OPT_WEIGHTS, OPT_TRACE, OPT_TRACE_LEVEL, OPT_REFERENCE_ONLY, OPT_TIMING_ONLY, OPT_LAYERS,
    OPT_LOG, OPT_GROUP_SIZE, OPT_ACTIVATIONS, OPT_CALIB, OPT_CALIB_METHOD, OPT_CALIB_PERCENTILE, OPT_CLASS_SCORES,
    OPT_PARTITION, OPT_OBJECTIVE
};

typedef struct run_args {
    cli_common common; /* --config, --set, --json, --csv */
    const char *model, *config, *outdir, *timeline, *trace, *trace_level;
    char **in_names;
    const char **in_files;
    int n_in;
    run_dim *dims;
    char **dim_names;
    int n_dims;
    int json, layers, log;
    int argc;
    char **argv;
    bool reference_only;
    bool timing_only;
    uint64_t seed;
    npu_weight_type weights;
    bool weights_given;
    uint32_t group_size;
    npu_act_format activations;
    run_calib_options calib;
    bool calib_given;
    const char **class_outputs;
    int n_class_outputs;
    bool greedy_partition, objective_given;
    part_objective objective;
} run_args;

/* A positive integer of at most max, or -1. */
static long long positive_int(const char *s, long long max)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return s[0] && !*end && !errno && v >= 1 && v <= max ? v : -1;
}

static int parse_args(int argc, char **argv, run_args *a)
{
    static const struct option opts[] = {CLI_OPTION_CONFIG,
                                         CLI_OPTION_SET,
                                         {"input", required_argument, NULL, 'i'},
                                         {"output-dir", required_argument, NULL, 'o'},
                                         CLI_OPTION_JSON,
                                         CLI_OPTION_CSV,
                                         {"layers", no_argument, NULL, OPT_LAYERS},
                                         {"log", no_argument, NULL, OPT_LOG},
                                         {"timeline", required_argument, NULL, 't'},
                                         {"seed", required_argument, NULL, OPT_SEED},
                                         {"weights", required_argument, NULL, OPT_WEIGHTS},
                                         {"trace", required_argument, NULL, OPT_TRACE},
                                         {"trace-level", required_argument, NULL, OPT_TRACE_LEVEL},
                                         {"reference-only", no_argument, NULL, OPT_REFERENCE_ONLY},
                                         {"dim", required_argument, NULL, 'd'},
                                         {"timing-only", no_argument, NULL, OPT_TIMING_ONLY},
                                         {"group-size", required_argument, NULL, OPT_GROUP_SIZE},
                                         {"activations", required_argument, NULL, OPT_ACTIVATIONS},
                                         {"calib", required_argument, NULL, OPT_CALIB},
                                         {"calib-method", required_argument, NULL, OPT_CALIB_METHOD},
                                         {"calib-percentile", required_argument, NULL, OPT_CALIB_PERCENTILE},
                                         {"class-scores", required_argument, NULL, OPT_CLASS_SCORES},
                                         {"partition", required_argument, NULL, OPT_PARTITION},
                                         {"objective", required_argument, NULL, OPT_OBJECTIVE},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    cli_common_init(&a->common, "run");
    while ((c = getopt_long(argc, argv, "c:s:i:o:jt:d:", opts, NULL)) != -1) {
        int shared = cli_common_parse(&a->common, c, optarg);
        if (shared < 0)
            return CLI_USAGE;
        if (shared > 0)
            continue;
        switch (c) {
        case OPT_LAYERS:
            a->layers = 1;
            break;
        case OPT_LOG:
            a->log = 1;
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
            } else if (strcmp(optarg, "f16") == 0) {
                a->weights = NPU_WEIGHTS_F16;
            } else {
                fprintf(stderr, "m4npu run: --weights %s: expected int8, int4 or f16\n", optarg);
                return CLI_USAGE;
            }
            a->weights_given = true;
            break;
        case OPT_GROUP_SIZE: {
            long long v = positive_int(optarg, RUN_MAX_GROUP_SIZE);
            if (v < 0) {
                fprintf(stderr, "m4npu run: --group-size %s: expected an integer in 1..%d\n", optarg,
                        RUN_MAX_GROUP_SIZE);
                return CLI_USAGE;
            }
            a->group_size = (uint32_t)v;
            break;
        }
        case OPT_ACTIVATIONS:
            if (strcmp(optarg, "int8") == 0) {
                a->activations = NPU_ACTS_INT8;
            } else if (strcmp(optarg, "int16") == 0) {
                a->activations = NPU_ACTS_INT16;
            } else if (strcmp(optarg, "f16") == 0) {
                a->activations = NPU_ACTS_F16;
            } else {
                fprintf(stderr, "m4npu run: --activations %s: expected int8, int16 or f16\n", optarg);
                return CLI_USAGE;
            }
            break;
        case OPT_CALIB: {
            bool digits = optarg[0] != '\0';
            for (const char *p = optarg; *p; p++)
                digits &= *p >= '0' && *p <= '9';
            if (digits) {
                long long v = positive_int(optarg, RUN_CALIB_MAX_SAMPLES);
                if (v < 0) {
                    fprintf(stderr, "m4npu run: --calib %s: a count of generated samples is 1..%d (a directory named "
                                    "like a number: ./%s)\n", optarg, RUN_CALIB_MAX_SAMPLES, optarg);
                    return CLI_USAGE;
                }
                a->calib.generated = (int)v;
                a->calib.dir = NULL;
            } else {
                a->calib.dir = optarg;
                a->calib.generated = 0;
            }
            a->calib_given = true;
            break;
        }
        case OPT_CALIB_METHOD:
            if (strcmp(optarg, "max") == 0) {
                a->calib.method = RUN_CALIB_MAX;
            } else if (strcmp(optarg, "percentile") == 0) {
                a->calib.method = RUN_CALIB_PERCENTILE;
            } else if (strcmp(optarg, "mse") == 0) {
                a->calib.method = RUN_CALIB_MSE;
            } else {
                fprintf(stderr, "m4npu run: --calib-method %s: expected max, percentile or mse\n", optarg);
                return CLI_USAGE;
            }
            a->calib_given = true;
            break;
        case OPT_CALIB_PERCENTILE: {
            char *end;
            errno = 0;
            double v = strtod(optarg, &end);
            if (!optarg[0] || *end || errno || !(v > 0 && v <= 100)) {
                fprintf(stderr, "m4npu run: --calib-percentile %s: expected a number in (0, 100]\n", optarg);
                return CLI_USAGE;
            }
            a->calib.percentile = v;
            a->calib_given = true;
            break;
        }
        case OPT_CLASS_SCORES:
            a->class_outputs[a->n_class_outputs++] = optarg;
            break;
        case OPT_PARTITION:
            if (cli_parse_partition(optarg, &a->greedy_partition) != CLI_OK) {
                fprintf(stderr, "m4npu run: --partition %s: expected cost or greedy\n", optarg);
                return CLI_USAGE;
            }
            break;
        case OPT_OBJECTIVE: {
            int objective;
            if (cli_parse_objective(optarg, &objective) != CLI_OK) {
                fprintf(stderr, "m4npu run: --objective %s: expected latency or energy\n", optarg);
                return CLI_USAGE;
            }
            a->objective = (part_objective)objective;
            a->objective_given = true;
            break;
        }
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
    a->config = a->common.config;
    a->json = a->common.json;
    if (cli_common_check(&a->common) != 0)
        return CLI_USAGE;
    if (a->common.csv && !a->layers) {
        fprintf(stderr, "m4npu run: --csv writes the per-layer rows: give --layers too (the report itself is a table "
                        "or --json)\n");
        return CLI_USAGE;
    }
    if (a->reference_only) {
        if (a->config || a->common.nsets || a->timeline || a->trace || a->layers || a->log) {
            fprintf(stderr, "m4npu run: --reference-only takes no --config, --set, --timeline, --trace, --layers or "
                            "--log (it runs no NPU)\n");
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
    if (a->calib.percentile > 0 && a->calib.method != RUN_CALIB_PERCENTILE) {
        fprintf(stderr, "m4npu run: --calib-percentile is for --calib-method percentile\n");
        return CLI_USAGE;
    }
    if (a->objective_given && a->greedy_partition) {
        fprintf(stderr, "m4npu run: --objective is for --partition cost (greedy places by support alone)\n");
        return CLI_USAGE;
    }
    if (!a->weights_given && a->activations == NPU_ACTS_F16)
        a->weights = NPU_WEIGHTS_F16;
    if (a->weights == NPU_WEIGHTS_F16 && a->activations != NPU_ACTS_F16) {
        fprintf(stderr, "m4npu run: --weights f16 needs --activations f16 (the array multiplies f16 by f16)\n");
        return CLI_USAGE;
    }
    if (a->group_size && a->weights == NPU_WEIGHTS_F16) {
        fprintf(stderr, "m4npu run: --group-size is for int8 and int4 weights\n");
        return CLI_USAGE;
    }
    if (a->timing_only && a->calib_given) {
        fprintf(stderr, "m4npu run: --timing-only computes no values: it takes no --calib options\n");
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

/* The firmware log of every job, as it comes (--log). */
static void log_to_stderr(void *ctx, const char *text)
{
    (void)ctx;
    fputs(text, stderr);
}

/* --layers: with --csv the rows on stdout; with --json the report (into *report) with "layers" and
 * "layer_sums"; as a table after the report (printed by the caller). */
static int print_layers(const run_args *a, const rt_graph *g, const m4npu_config *cfg, const m4npu_config_source *src,
                        const run_result *r, json_t **report)
{
    run_layer *rows;
    int n;
    rt_error e;
    if (!a->common.csv && !a->json)
        return CLI_OK;
    if (run_layers(g, cfg, r, &rows, &n, &e) != RT_OK) {
        fprintf(stderr, "m4npu run: --layers: %s\n", e.msg);
        return CLI_FAIL;
    }
    char label[1024], hash[M4NPU_CONFIG_HASH_HEX];
    m4npu_config_hash_hex(cfg, hash);
    if (a->common.csv) {
        run_layers_csv_header(stdout);
        printf(",model,config,config_hash,overrides\n");
        size_t k = 0;
        label[0] = '\0';
        for (size_t i = 0; i < src->n_overrides && k < sizeof label; i++)
            k += (size_t)snprintf(label + k, sizeof label - k, "%s%s", i ? "; " : "", src->overrides[i]);
        for (int i = 0; i < n; i++) {
            run_layer_csv(stdout, g, r, &rows[i]);
            putchar(',');
            run_csv_quoted(stdout, a->model);
            putchar(',');
            run_csv_quoted(stdout, cfg->npu.name);
            printf(",%s,", hash);
            run_csv_quoted(stdout, label);
            putchar('\n');
        }
    } else {
        json_t *arr = json_array();
        run_layer_totals t = {0};
        run_layers_sum(rows, n, 1.0, &t);
        *report = run_result_json(g, cfg, src, r);
        for (int i = 0; arr && i < n; i++)
            json_array_append_new(arr, run_layer_json(g, r, &rows[i]));
        json_t *sums = json_pack("{s:f, s:f, s:f, s:f}", "seconds", t.seconds, "npu_cycles", t.cycles, "macs", t.macs,
                                 "energy_j", energy_total(&t.energy));
        if (!*report || !arr || !sums || json_object_set_new(*report, "layers", arr) != 0 ||
            json_object_set_new(*report, "layer_sums", sums) != 0) {
            free(rows);
            fprintf(stderr, "m4npu run: out of memory\n");
            return CLI_FAIL;
        }
    }
    free(rows);
    return CLI_OK;
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
    else if ((rc = cli_common_load(&a->common, a->config, cfg)) != CLI_OK)
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
                     .dims = a->dims, .n_dims = a->n_dims, .timing_only = a->timing_only,
                     .class_outputs = a->class_outputs, .n_class_outputs = a->n_class_outputs, .calib = a->calib,
                     .activations = a->activations, .group_size = a->group_size,
                     .greedy_partition = a->greedy_partition, .objective = a->objective};
    if (a->reference_only) {
        s = run_reference(g, &o, &r, &e);
    } else {
        if ((rc = cli_trace_begin(a->trace, a->trace_level, cfg, a->argc, a->argv)) != CLI_OK)
            goto done;
        if (a->log && !(o.backend = npu_backend_open(cfg, &e))) { /* its own, to hear the firmware */
            fprintf(stderr, "m4npu run: %s: %s\n", a->config, e.msg);
            rc = cli_trace_end(CLI_FAIL);
            goto done;
        }
        if (o.backend)
            npu_backend_set_log(o.backend, log_to_stderr, NULL);
        s = run_model(g, &o, &r, &e);
        npu_backend_close(o.backend);
        rc = cli_trace_end(CLI_OK); /* the device is closed */
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
    m4npu_config_source src = cli_common_source(&a->common, a->config);
    if (a->layers && (rc = print_layers(a, g, cfg, &src, r, &report)) != CLI_OK)
        goto done;
    if (a->common.csv) {
        /* the rows were the output */
    } else if (a->json) {
        if (!report)
            report = a->reference_only ? run_reference_json(g, r) : run_result_json(g, cfg, &src, r);
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
            run_print_report(stdout, g, cfg, &src, r);
        if (a->layers) {
            run_layer *rows;
            int n;
            if (run_layers(g, cfg, r, &rows, &n, &e) == RT_OK) {
                printf("\nper layer (docs/layers.md):\n");
                run_layers_print(stdout, g, r, rows, n);
                free(rows);
            }
        }
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
    a.in_names = calloc((size_t)argc + 1, sizeof *a.in_names);
    a.in_files = calloc((size_t)argc + 1, sizeof *a.in_files);
    a.dims = calloc((size_t)argc + 1, sizeof *a.dims);
    a.dim_names = calloc((size_t)argc + 1, sizeof *a.dim_names);
    a.class_outputs = calloc((size_t)argc + 1, sizeof *a.class_outputs);
    int rc;
    if (!a.in_names || !a.in_files || !a.dims || !a.dim_names || !a.class_outputs) {
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
    free(a.class_outputs);
    return rc;
}
