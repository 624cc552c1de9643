/* whatif_report_util.c -- the helpers the what-if report's forms share: number and memory cells,
 * the configuration's label, a module run's parameters in words, the TS-model summary, and
 * running gnuplot. */
#include "whatif_report_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define GNUPLOT_NOT_FOUND_STATUS 127 /* the shell's exit status for a command it cannot find */
#define GNUPLOT_MESSAGE_BYTES 512

const char *whatif_fmt_s(double s, char *buf, size_t n)
{
    if (s <= 0.0)
        snprintf(buf, n, "-");
    else if (s < 1e-3)
        snprintf(buf, n, "%.3g ms", s * 1e3);
    else if (s < 1.0)
        snprintf(buf, n, "%.1f ms", s * 1e3);
    else
        snprintf(buf, n, "%.2f s", s);
    return buf;
}

const char *whatif_fmt_mem(uint64_t bytes, char *buf, size_t n)
{
    if (bytes == 0)
        snprintf(buf, n, "-");
    else if ((double)bytes >= GIB_BYTES)
        snprintf(buf, n, "%.2f GiB", (double)bytes / GIB_BYTES);
    else
        snprintf(buf, n, "%.1f MiB", (double)bytes / MIB_BYTES);
    return buf;
}

const char *whatif_paper_cell(double once, double per_token, char *buf, size_t n)
{
    char a[WHATIF_TIME_CELL], b[WHATIF_TIME_CELL];
    if (once <= 0.0)
        snprintf(buf, n, "-");
    else if (per_token > 0.0)
        snprintf(buf, n, "%s + %s/tok", whatif_fmt_s(once, a, sizeof a), whatif_fmt_s(per_token, b, sizeof b));
    else
        snprintf(buf, n, "%s", whatif_fmt_s(once, a, sizeof a));
    return buf;
}

double whatif_npu_fraction(const whatif_task_result *t) { return t->latency_s > 0 ? t->npu_s / t->latency_s : 0.0; }

int whatif_count_failed(const whatif_task_result *tasks, int n)
{
    int f = 0;
    for (int i = 0; i < n; i++)
        f += tasks[i].failed;
    return f;
}

const char *whatif_config_label(const whatif_view *v, char *buf, size_t n)
{
    return m4npu_config_label(v->cfg, &v->source, buf, n);
}

const char *whatif_params_str(const whatif_module_run *m, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < m4_module_param_count() && k < n; i++)
        if (m4_module_takes_param(m->id, i))
            k += (size_t)snprintf(buf + k, n - k, "%s%s %d", k ? ", " : "", m4_module_param_name(i),
                                  m4_module_param_value(&m->params, i));
    char targets[16];
    if (k < n && m4_module_takes_lora(m->id))
        k += (size_t)(m->params.lora_rank ? snprintf(buf + k, n - k, "%sLoRA rank %d (%s)", k ? "; " : "",
                                                     m->params.lora_rank,
                                                     m4_lora_targets_str(m->params.lora_targets, targets, sizeof targets))
                                          : snprintf(buf + k, n - k, "%sno LoRA", k ? "; " : ""));
    if (k < n)
        snprintf(buf + k, n - k, "%sweights %s", k ? "; " : "", m4_format_name(m->params.format));
    return buf;
}

bool whatif_all_tasks(const whatif_view *v) { return v->selected >= M4_TASK_COUNT; }

whatif_ts_summary whatif_ts_summarise(const whatif_task_result *tasks, int n)
{
    whatif_ts_summary s = {0};
    for (int i = 0; i < n; i++) {
        const whatif_task_result *t = &tasks[i];
        if (!t->ts_run || t->failed)
            continue;
        s.n++;
        s.m4_lat += t->latency_s;
        s.m4_j += energy_total(&t->energy);
        s.ts_lat += t->ts_run->r->total_s;
        s.ts_j += energy_total(&t->ts_run->r->energy);
    }
    return s;
}

rt_status whatif_plot_dir(char *dir, size_t n, rt_error *e)
{
    snprintf(dir, n, "/tmp/m4npu-plot-XXXXXX");
    if (!mkdtemp(dir))
        return rt_error_set(e, RT_ERR_IO, "cannot create a temporary directory: %s", strerror(errno));
    return RT_OK;
}

rt_status whatif_gnuplot(const char *script, rt_error *e)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "gnuplot '%s' 2>&1", script);
    FILE *p = popen(cmd, "r");
    char msg[GNUPLOT_MESSAGE_BYTES] = "";
    size_t got = p ? fread(msg, 1, sizeof msg - 1, p) : 0;
    msg[got] = '\0';
    int rc = p ? pclose(p) : -1;
    if (rc == -1 || (WIFEXITED(rc) && WEXITSTATUS(rc) == GNUPLOT_NOT_FOUND_STATUS))
        return rt_error_set(e, RT_ERR_IO, "cannot run gnuplot (is it installed? scripts/setup.sh installs it)%s%s",
                            msg[0] ? ": " : "", msg);
    if (rc != 0)
        return rt_error_set(e, RT_ERR_IO, "gnuplot failed: %s", msg[0] ? msg : "no output");
    return RT_OK;
}
