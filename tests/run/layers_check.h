/* layers_check.h -- the check the run suites share on `m4npu run --layers --json`: the per-layer
 * rows add up to the run's totals (docs/layers.md): NPU cycles to its segments' cycles exactly,
 * seconds to its latency and energy to its energy (each part too) within floating-point rounding,
 * and every op descriptor of every segment is a row. Tests only. */
#ifndef M4NPU_TESTS_LAYERS_CHECK_H
#define M4NPU_TESTS_LAYERS_CHECK_H

#include <jansson.h>
#include <math.h>
#include <string.h>

#include "test_util.h"

#define LAYERS_REL_TOL 1e-9

static inline void layers_near(double got, double want, const char *what)
{
    if (!(fabs(got - want) <= LAYERS_REL_TOL * fabs(want) + 1e-15))
        fail_msg("--layers: the rows' %s add up to %.12g, the run's is %.12g", what, got, want);
}

static inline void assert_layers_add_up(json_t *report)
{
    json_t *layers = json_object_get(report, "layers"), *l;
    assert_true(json_is_array(layers) && json_array_size(layers) > 0);
    static const char *const parts[] = {"macs", "vector", "sram", "dram", "control", "static", "cpu", "transfer"};
    double seconds = 0, energy = 0, part[8] = {0};
    json_int_t cycles = 0, ops = 0;
    size_t i;
    json_array_foreach(layers, i, l)
    {
        seconds += json_real_value(json_object_get(l, "seconds"));
        energy += json_real_value(json_object_get(l, "energy_j"));
        for (int k = 0; k < 8; k++)
            part[k] += json_real_value(json_object_get(json_object_get(l, "energy"), parts[k]));
        if (json_is_integer(json_object_get(l, "cycles")))
            cycles += json_integer_value(json_object_get(l, "cycles"));
        ops += strcmp(json_string_value(json_object_get(l, "kind")), "npu-op") == 0;
    }
    json_int_t seg_cycles = 0, descriptors = 0;
    json_t *s;
    json_array_foreach(json_object_get(report, "segments"), i, s)
    {
        seg_cycles += json_integer_value(json_object_get(s, "cycles"));
        descriptors += json_integer_value(json_object_get(s, "op_descriptors"));
    }
    assert_int_equal(cycles, seg_cycles);
    assert_int_equal(ops, descriptors);
    layers_near(seconds, json_real_value(json_object_get(json_object_get(report, "breakdown"), "total_s")), "seconds");
    json_t *e = json_object_get(report, "energy");
    layers_near(energy, json_real_value(json_object_get(e, "total")), "energy");
    for (int k = 0; k < 8; k++)
        layers_near(part[k], json_real_value(json_object_get(e, parts[k])), parts[k]);
    json_t *sums = json_object_get(report, "layer_sums");
    layers_near(json_real_value(json_object_get(sums, "seconds")), seconds, "layer_sums.seconds");
}

#endif
