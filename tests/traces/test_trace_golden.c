/* test_trace_golden.c -- the golden traces (traces/golden/NAME.trc: the programs of examples/, the
 * encoder block through `run`, whatif's IMG_enc in timing-only; all at level insn on
 * configs/mobile-default.yaml) replay clean; with one DMA setup cycle more than their preset
 * they fail, naming the first divergent job and instruction; with --retime they report each
 * job's cycles, recorded and now. A golden that no longer replays means behaviour changed: if
 * that was intended, scripts/update-golden.sh regenerates them. */
#include "test_util.h"

#include <dirent.h>

#include "m4npu_config.h"
#include "trace_internal.h"

#define GOLDEN_DIR M4NPU_SOURCE_DIR "/traces/golden"
#define MAX_GOLDENS 64
#define PRESET_SETUP_CYCLES 32 /* configs/mobile-default.yaml's npu.dma.setup_cycles */

static char goldens[MAX_GOLDENS][512];
static size_t ngoldens;

static int list_goldens(void **state)
{
    (void)state;
    DIR *d = opendir(GOLDEN_DIR);
    if (!d)
        return -1;
    struct dirent *de;
    while ((de = readdir(d)) && ngoldens < MAX_GOLDENS) {
        size_t n = strlen(de->d_name);
        if (n > 4 && strcmp(de->d_name + n - 4, ".trc") == 0)
            snprintf(goldens[ngoldens++], sizeof goldens[0], "%s/%s", GOLDEN_DIR, de->d_name);
    }
    closedir(d);
    return ngoldens >= 6 ? 0 : -1; /* 4 examples, the encoder block, IMG_enc */
}

static void test_goldens_replay_clean(void **state)
{
    (void)state;
    for (size_t i = 0; i < ngoldens; i++) {
        trace_replay_opts o = {NULL, NULL, 0, 0};
        trace_replay_result res;
        trace_err e;
        trace_status st = trace_replay(goldens[i], &o, &res, &e);
        if (st != TRACE_OK)
            fail_msg("%s no longer replays: %s\nIf this change of behaviour is intended, regenerate the goldens with "
                     "scripts/update-golden.sh (it prints what changed) and commit them.", goldens[i], e.msg);
        assert_true(res.njobs >= 1);
        assert_false(res.config_changed);
        trace_replay_result_free(&res);
    }
}

static void test_goldens_use_the_preset(void **state)
{
    (void)state;
    for (size_t i = 0; i < ngoldens; i++) {
        trace_err e;
        trace_reader *r = trace_reader_open(goldens[i], &e);
        assert_non_null(r);
        trace_record rec;
        assert_int_equal(trace_reader_next(r, &rec, &e), TRACE_OK);
        assert_int_equal(rec.level, TRACE_LEVEL_INSN);
        m4npu_config cfg;
        m4npu_config_error err;
        assert_int_equal(m4npu_config_load_text(rec.config_yaml, rec.config_len, "golden", &cfg, &err), M4NPU_CONFIG_OK);
        assert_int_equal(cfg.npu.dma.setup_cycles, PRESET_SETUP_CYCLES);
        trace_reader_close(r);
    }
}

static void test_one_more_setup_cycle_diverges(void **state)
{
    (void)state;
    const char *sets[] = {"npu.dma.setup_cycles=33"};
    for (size_t i = 0; i < ngoldens; i++) {
        trace_replay_opts o = {NULL, sets, 1, 0};
        trace_replay_result res;
        trace_err e;
        assert_int_equal(trace_replay(goldens[i], &o, &res, &e), TRACE_E_DIVERGED);
        assert_true(res.config_changed);
        const char *m = res.divergence;
        /* the record, the job, the unit and the instruction (or op descriptor), expected and got */
        if (!strstr(m, "record ") || !strstr(m, "(insn), job ") || !strstr(m, "unit dma") ||
            !(strstr(m, "instruction ") || strstr(m, "op descriptor ")) || !strstr(m, "expected") ||
            !strstr(m, "the device:"))
            fail_msg("%s: the divergence does not name the job and instruction: %s", goldens[i], m);
        trace_replay_result_free(&res);
    }
}

static void test_retime_reports_per_job_deltas(void **state)
{
    (void)state;
    const char *sets[] = {"npu.dma.setup_cycles=33"};
    for (size_t i = 0; i < ngoldens; i++) {
        trace_replay_opts o = {NULL, sets, 1, 1};
        trace_replay_result res;
        trace_err e;
        trace_status st = trace_replay(goldens[i], &o, &res, &e);
        if (st != TRACE_OK)
            fail_msg("%s --retime: %s", goldens[i], e.msg);
        assert_true(res.njobs >= 1);
        assert_true(res.timing_reads > 0);
        for (size_t j = 0; j < res.njobs; j++) {
            assert_int_equal(res.jobs[j].state, NPU_JOB_DONE);
            /* every job moves data: a slower DMA makes it slower, never faster */
            if (res.jobs[j].replayed_cycles <= res.jobs[j].recorded_cycles)
                fail_msg("%s job %zu: %llu cycles recorded, %llu now", goldens[i], j,
                         (unsigned long long)res.jobs[j].recorded_cycles,
                         (unsigned long long)res.jobs[j].replayed_cycles);
        }
        trace_replay_result_free(&res);
    }
}

static void test_retime_on_the_recorded_config_changes_nothing(void **state)
{
    (void)state;
    trace_replay_opts o = {NULL, NULL, 0, 1};
    trace_replay_result res;
    trace_err e;
    assert_int_equal(trace_replay(goldens[0], &o, &res, &e), TRACE_OK);
    assert_int_equal(res.timing_reads, 0);
    for (size_t j = 0; j < res.njobs; j++)
        assert_int_equal(res.jobs[j].replayed_cycles, res.jobs[j].recorded_cycles);
    trace_replay_result_free(&res);
}

static void test_cli_replay_messages(void **state)
{
    (void)state;
    char out[8192];
    assert_int_equal(test_run(out, sizeof out, M4NPU_BIN " trace replay %s", goldens[0]), 0);
    assert_non_null(strstr(out, "all as recorded"));
    assert_int_equal(test_run(out, sizeof out, M4NPU_BIN " trace replay %s --set npu.dma.setup_cycles=33", goldens[0]), 1);
    assert_non_null(strstr(out, "diverged at record"));
    assert_non_null(strstr(out, "--retime"));
    assert_int_equal(
        test_run(out, sizeof out, M4NPU_BIN " trace replay %s --set npu.dma.setup_cycles=33 --retime", goldens[0]), 0);
    assert_non_null(strstr(out, "recorded"));
    assert_non_null(strstr(out, "total"));
    assert_int_equal(test_run(out, sizeof out, M4NPU_BIN " trace replay %s --set npu.nope=1", goldens[0]), 1);
    assert_non_null(strstr(out, "npu.nope"));
    assert_int_equal(test_run(out, sizeof out, M4NPU_BIN " trace replay"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_goldens_replay_clean),
        cmocka_unit_test(test_goldens_use_the_preset),
        cmocka_unit_test(test_one_more_setup_cycle_diverges),
        cmocka_unit_test(test_retime_reports_per_job_deltas),
        cmocka_unit_test(test_retime_on_the_recorded_config_changes_nothing),
        cmocka_unit_test(test_cli_replay_messages),
    };
    return cmocka_run_group_tests(tests, list_goldens, NULL);
}
