/* whatif_pinned.c -- see whatif_pinned.h. */
#include "test_util.h"

#include "m4npu_config.h"
#include "whatif.h"
#include "whatif_pinned.h"

double whatif_pinned_latency(const char *preset, const char *module, const m4_module_params *p,
                             const char *key, const char *value)
{
    m4npu_config cfg;
    m4npu_config_error err;
    if (m4npu_config_load(preset, &cfg, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s: %s", preset, err.msg);
    if (m4npu_config_set(&cfg, key, value, &err) != M4NPU_CONFIG_OK ||
        m4npu_config_validate(&cfg, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s=%s: %s", key, value, err.msg);
    rt_error e;
    whatif *w = whatif_open(&cfg, &e);
    if (!w)
        fail_msg("%s=%s: %s", key, value, e.msg);
    int id = m4_module_lookup(module);
    assert_true(id >= 0);
    const whatif_module_run *run;
    if (whatif_module(w, (m4_module_id)id, p, &run, &e) != RT_OK)
        fail_msg("%s=%s: %s: %s", key, value, module, e.msg);
    double s = run->r->total_s;
    whatif_close(w);
    return s;
}

void whatif_pinned_assert_never_slower(const char *preset, const char *module, const m4_module_params *p,
                                       const char *key, const char *const *values)
{
    double prev = whatif_pinned_latency(preset, module, p, key, values[0]);
    print_message("%s %s=%s: %.9f s\n", module, key, values[0], prev);
    for (int i = 1; values[i]; i++) {
        double cur = whatif_pinned_latency(preset, module, p, key, values[i]);
        print_message("%s %s=%s: %.9f s\n", module, key, values[i], cur);
        if (cur > prev)
            fail_msg("%s: %s %s -> %s: %.9f -> %.9f s", module, key, values[i - 1], values[i], prev, cur);
        prev = cur;
    }
}
