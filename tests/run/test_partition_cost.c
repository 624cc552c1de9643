/* Cost-aware partitioning (runtime/partition/partition_cost.c) on hand-built graphs with a
 * stand-in device whose segment costs are set per node (a job costs its nodes' costs plus the
 * job overhead): what moves to the CPU and why, trimmed segment ends, the energy objective, and
 * on random graphs the guarantees — the chosen plan is never modelled slower than greedy or than
 * the CPU alone, and its modelled cost is what an independent evaluation of the plan gives. */
#include "test_util.h"

#include <math.h>

#include "m4npu_config.h"
#include "partition.h"
#include "test_graph_build.h"

#define REL_EPS 1e-9
#define US 1e-6
#define RANDOM_GRAPHS 60
#define RANDOM_NODES 24

/* The stand-in device: node v costs npu_s[v] seconds and dyn_j[v] joules in a segment, a job
 * adds the configuration's job overhead. fail_from: segments of more nodes than this fail. */
typedef struct fake_npu {
    double npu_s[256], dyn_j[256];
    double job_s;
    int calls;
    int fail_over;
    bool fail_all; /* no segment can be built */
} fake_npu;

static bool fake_segment_cost(void *ctx, const rt_graph *g, const int *nodes, int n, part_npu_cost *c,
                              part_npu_cost *per_node, rt_error *e)
{
    (void)g;
    fake_npu *f = ctx;
    f->calls++;
    if (f->fail_all || (f->fail_over && n > f->fail_over)) {
        rt_error_set(e, RT_ERR_LIMIT, "stand-in: segment too large");
        return false;
    }
    c->seconds = f->job_s;
    c->dynamic_j = 0;
    for (int i = 0; i < n; i++) {
        c->seconds += f->npu_s[nodes[i]];
        c->dynamic_j += f->dyn_j[nodes[i]];
        if (per_node)
            per_node[i] = (part_npu_cost){f->npu_s[nodes[i]], f->dyn_j[nodes[i]]};
    }
    return true;
}

static void config(m4npu_config *cfg, fake_npu *f)
{
    m4npu_config_defaults(cfg);
    memset(f, 0, sizeof *f);
    f->job_s = (double)cfg->npu.control.cycles_per_job / (cfg->npu.control.clock_mhz * 1e6);
}

static void weight(rt_graph *g, const char *name, int64_t k, int64_t n)
{
    float *v = calloc((size_t)(k * n), sizeof *v);
    assert_non_null(v);
    assert_true(graph_add_constant(g, name, RT_DT_F32, 2, (int64_t[]){k, n}, v, (uint64_t)(k * n) * sizeof *v) >= 0);
    free(v);
}

static part_plan *plan(const rt_graph *g, const m4npu_config *cfg, fake_npu *f, part_strategy s, part_objective obj)
{
    part_options o = {.strategy = s, .objective = obj, .segment_cost = fake_segment_cost, .cost_ctx = f};
    part_plan *p;
    rt_error e;
    if (partition_graph_opts(g, cfg, &o, &p, &e) != RT_OK)
        fail_msg("%s", e.msg);
    return p;
}

/* The latency of a plan, evaluated here from its parts (independently of partition_cost.c). */
static double latency_of(const part_plan *p, fake_npu *f, const rt_graph *g)
{
    double t = p->cpu_s + p->crossing_s + p->submit_s;
    for (int s = 0; s < p->n_segments; s++) {
        part_npu_cost c = {0, 0};
        assert_true(fake_segment_cost(f, g, p->segments[s].nodes, p->segments[s].n_nodes, &c, NULL, NULL));
        t += c.seconds;
    }
    return t;
}

static void assert_close(double got, double want)
{
    if (fabs(got - want) > REL_EPS * fmax(fabs(want), 1e-12))
        fail_msg("got %.17g, want %.17g", got, want);
}

/* ---- small models: submissions and transfers outweigh the NPU's speed */

static void test_tiny_chain_stays_on_the_cpu(void **state)
{
    (void)state;
    m4npu_config cfg;
    fake_npu f;
    config(&cfg, &f);
    rt_graph *g = graph_create("tiny");
    graph_add_input(g, "x", RT_DT_F32, 2, (int64_t[]){4, 16});
    int a = add2(g, "Add", "add", "x", "x", "t1");
    int r = add1(g, "Relu", "relu", "t1", "t2");
    int m = add2(g, "Mul", "mul", "t2", "x", "y");
    graph_mark_output(g, graph_find_tensor(g, "y"));
    prepare(g);
    f.npu_s[a] = f.npu_s[r] = f.npu_s[m] = 0.1 * US;
    part_plan *gr = plan(g, &cfg, &f, PART_GREEDY, PART_LATENCY), *p = plan(g, &cfg, &f, PART_COST, PART_LATENCY);
    assert_int_equal(gr->n_segments, 1);
    assert_null(gr->chosen);
    /* greedy: 0.3 us of NPU, but 20 us to submit and 2 us per crossing; the CPU: 3 x ~2 us */
    assert_int_equal(p->n_segments, 0);
    assert_int_equal(p->n_kept_on_cpu, 3);
    assert_int_equal(p->greedy_segments, 1);
    assert_close(p->cost_greedy, latency_of(gr, &f, g));
    assert_close(p->cost_cpu, p->cpu_s);
    assert_close(p->cost_chosen, latency_of(p, &f, g));
    assert_true(p->cost_chosen < p->cost_greedy);
    for (int v = 0; v < g->n_nodes; v++) {
        assert_true(p->node[v].kept_on_cpu && p->node[v].supported);
        assert_int_equal(p->node[v].place, PART_CPU);
        assert_non_null(strstr(p->node[v].why, "cost: "));
        assert_true(p->node[v].cpu.seconds > 0); /* it is priced as a CPU node now */
    }
    /* the search moved the whole segment (one run of 3 nodes), with its numbers */
    assert_string_equal(p->chosen, "cost-aware");
    assert_non_null(strstr(p->node[a].why, "cost: cheaper on the CPU: "));
    assert_non_null(strstr(p->node[a].why, "(3 nodes moved together)"));
    part_plan_free(gr);
    part_plan_free(p);
    graph_free(g);
}

/* ---- a large product keeps its NPU segment; cheap nodes around it leave */

static void test_trims_the_ends_of_a_segment(void **state)
{
    (void)state;
    m4npu_config cfg;
    fake_npu f;
    config(&cfg, &f);
    rt_graph *g = graph_create("trim");
    graph_add_input(g, "x", RT_DT_F32, 2, (int64_t[]){128, 256});
    weight(g, "W", 256, 256);
    int pre = add1(g, "Relu", "pre", "x", "a");
    int mm = add2(g, "MatMul", "mm", "a", "W", "b");
    int post = add1(g, "Tanh", "post", "b", "y");
    graph_mark_output(g, graph_find_tensor(g, "y"));
    prepare(g);
    f.npu_s[mm] = 10 * US;                 /* the CPU needs 2*128*256*256 / 50e9 = 671 us */
    f.npu_s[pre] = f.npu_s[post] = 400 * US; /* a stand-in whose elementwise ops are very slow */
    f.calls = 0;
    part_plan *p = plan(g, &cfg, &f, PART_COST, PART_LATENCY);
    /* two jobs: the greedy segment (its shares price the moves) and the trimmed one, exactly; no
     * node is simulated alone and the trimmed run is not simulated again during the search */
    assert_int_equal(f.calls, 2);
    assert_int_equal(p->segment_evaluations, 2);
    assert_int_equal(p->n_segments, 1);
    assert_int_equal(p->segments[0].n_nodes, 1);
    assert_int_equal(p->segments[0].nodes[0], mm);
    assert_int_equal(p->node[pre].place, PART_CPU);
    assert_int_equal(p->node[post].place, PART_CPU);
    assert_non_null(strstr(p->node[pre].why, "(1 node)"));
    assert_int_equal(p->n_kept_on_cpu, 2);
    assert_close(p->cost_chosen, latency_of(p, &f, g));
    assert_true(p->cost_chosen < p->cost_greedy && p->cost_chosen < p->cost_cpu);
    /* a trim that gains less than 1% of its segment is not made: the shares are not that exact */
    f.npu_s[mm] = 200 * US; /* the segment: ~260 us, the whole graph on the CPU ~390 us */
    f.npu_s[pre] = p->node[pre].on_cpu.seconds + 1 * US; /* either end gains 1 us */
    f.npu_s[post] = p->node[post].on_cpu.seconds + 1 * US;
    part_plan_free(p);
    p = plan(g, &cfg, &f, PART_COST, PART_LATENCY);
    assert_int_equal(p->n_segments, 1);
    assert_int_equal(p->segments[0].n_nodes, 3);
    assert_int_equal(p->n_kept_on_cpu, 0);
    part_plan_free(p);
    f.npu_s[mm] = 10 * US;
    /* with fast elementwise ops the whole chain stays: moving an end only adds crossings */
    f.npu_s[pre] = f.npu_s[post] = 0.5 * US;
    f.calls = 0;
    p = plan(g, &cfg, &f, PART_COST, PART_LATENCY);
    assert_int_equal(p->n_segments, 1);
    assert_int_equal(p->segments[0].n_nodes, 3);
    assert_int_equal(p->n_kept_on_cpu, 0);
    assert_close(p->cost_chosen, p->cost_greedy);
    /* the search's plan has the greedy segment: its exact evaluation reuses the greedy run's
     * cost, the device is asked once */
    assert_int_equal(f.calls, 1);
    assert_int_equal(p->segment_evaluations, 1);
    part_plan_free(p);
    graph_free(g);
}

/* ---- unsupported nodes split the greedy plan; the small segment after them is not worth a job */

static void test_drops_a_segment_not_worth_its_job(void **state)
{
    (void)state;
    m4npu_config cfg;
    fake_npu f;
    config(&cfg, &f);
    rt_graph *g = graph_create("split");
    graph_add_input(g, "x", RT_DT_F32, 2, (int64_t[]){16, 256}); /* 42 us of MatMul on the CPU, 16 KiB tensors */
    weight(g, "W", 256, 256);
    int mm = add2(g, "MatMul", "mm", "x", "W", "a");
    int sin = add1(g, "Sin", "sin", "a", "b"); /* not in test.yaml's capability set */
    int add = add2(g, "Add", "add", "b", "b", "c");
    int relu = add1(g, "Relu", "relu", "c", "y");
    graph_mark_output(g, graph_find_tensor(g, "y"));
    prepare(g);
    f.npu_s[mm] = 2 * US;
    f.npu_s[add] = f.npu_s[relu] = 1 * US; /* but 20 us to submit and ~4 us per crossing */
    part_plan *gr = plan(g, &cfg, &f, PART_GREEDY, PART_LATENCY), *p = plan(g, &cfg, &f, PART_COST, PART_LATENCY);
    assert_int_equal(gr->n_segments, 2);
    assert_int_equal(p->n_segments, 1);
    assert_int_equal(p->node[mm].place, PART_NPU);
    assert_int_equal(p->node[sin].place, PART_CPU);
    assert_false(p->node[sin].kept_on_cpu); /* it was never supported: its reason stays the rule */
    assert_string_equal(p->node[sin].why, "Sin: not in the NPU capability set");
    assert_true(p->node[add].kept_on_cpu && p->node[relu].kept_on_cpu);
    assert_true(p->cost_chosen < p->cost_greedy);
    assert_close(p->cost_chosen, latency_of(p, &f, g));
    part_plan_free(gr);
    part_plan_free(p);
    graph_free(g);
}

/* ---- the objective decides: a fast but power-hungry device loses on energy */

static void test_energy_objective(void **state)
{
    (void)state;
    m4npu_config cfg;
    fake_npu f;
    config(&cfg, &f);
    rt_graph *g = graph_create("energy");
    graph_add_input(g, "x", RT_DT_F32, 2, (int64_t[]){128, 256});
    weight(g, "W", 256, 256);
    int mm = add2(g, "MatMul", "mm", "x", "W", "y");
    graph_mark_output(g, graph_find_tensor(g, "y"));
    prepare(g);
    f.npu_s[mm] = 10 * US; /* 671 us on the CPU at 2 W: 1.3 mJ */
    f.dyn_j[mm] = 5e-3;
    part_plan *lat = plan(g, &cfg, &f, PART_COST, PART_LATENCY), *en = plan(g, &cfg, &f, PART_COST, PART_ENERGY);
    assert_int_equal(lat->node[mm].place, PART_NPU);
    assert_int_equal(en->node[mm].place, PART_CPU);
    assert_non_null(strstr(en->node[mm].why, "uJ"));
    assert_string_equal(part_objective_unit(en->objective), "J");
    /* on the CPU: active power over its time plus the NPU's static power */
    double t = en->node[mm].cpu.seconds;
    assert_close(en->cost_chosen, t * (cfg.cpu.active_power_w + cfg.energy.npu_static_w));
    assert_true(en->cost_chosen < en->cost_greedy);
    part_plan_free(lat);
    part_plan_free(en);
    graph_free(g);
}

/* ---- the guarantees on random graphs */

static const char *const unary_ops[] = {"Relu", "Tanh", "Sin", "Neg", "Sigmoid"}; /* Sin: CPU only */
static const char *const binary_ops[] = {"Add", "Mul", "Sub"};

static void test_never_slower_than_greedy_or_cpu(void **state)
{
    (void)state;
    test_rng rng = {0x5eed};
    for (int gi = 0; gi < RANDOM_GRAPHS; gi++) {
        m4npu_config cfg;
        fake_npu f;
        config(&cfg, &f);
        rt_graph *g = graph_create("random");
        int64_t rows = test_rng_range(&rng, 1, 64), cols = test_rng_range(&rng, 8, 512);
        graph_add_input(g, "x", RT_DT_F32, 2, (int64_t[]){rows, cols});
        char names[RANDOM_NODES + 1][16];
        snprintf(names[0], sizeof names[0], "x");
        for (int i = 1; i <= RANDOM_NODES; i++) {
            snprintf(names[i], sizeof names[i], "t%d", i);
            const char *a = names[test_rng_range(&rng, 0, i - 1)];
            char nm[24];
            snprintf(nm, sizeof nm, "n%d", i);
            if (test_rng_range(&rng, 0, 2) == 0)
                add2(g, binary_ops[test_rng_range(&rng, 0, 2)], nm, a, names[test_rng_range(&rng, 0, i - 1)], names[i]);
            else
                add1(g, unary_ops[test_rng_range(&rng, 0, 4)], nm, a, names[i]);
        }
        graph_mark_output(g, graph_find_tensor(g, names[RANDOM_NODES]));
        graph_mark_output(g, graph_find_tensor(g, names[test_rng_range(&rng, 1, RANDOM_NODES - 1)]));
        prepare(g);
        for (int v = 0; v < g->n_nodes; v++) /* from much faster than the CPU to much slower */
            f.npu_s[v] = (double)test_rng_range(&rng, 0, 4000) * 0.01 * US;
        for (int obj = PART_LATENCY; obj <= PART_ENERGY; obj++) {
            part_plan *p = plan(g, &cfg, &f, PART_COST, (part_objective)obj);
            assert_true(p->cost_chosen <= p->cost_greedy && p->cost_chosen <= p->cost_cpu);
            if (obj == PART_LATENCY) {
                part_plan *gr = plan(g, &cfg, &f, PART_GREEDY, PART_LATENCY);
                assert_close(p->cost_greedy, latency_of(gr, &f, g));
                assert_close(p->cost_chosen, latency_of(p, &f, g));
                part_plan_free(gr);
            }
            for (int v = 0; v < g->n_nodes; v++) { /* every supported CPU node says why */
                const part_node_info *ni = &p->node[v];
                assert_true(ni->kept_on_cpu == (ni->supported && ni->place == PART_CPU));
                if (ni->kept_on_cpu)
                    assert_true(strncmp(ni->why, "cost: ", 6) == 0);
            }
            part_plan_free(p);
        }
        graph_free(g);
    }
}

/* ---- a segment the device cannot build is not chosen; no callback is a usage error */

static void test_segments_that_cannot_be_built(void **state)
{
    (void)state;
    m4npu_config cfg;
    fake_npu f;
    config(&cfg, &f);
    rt_graph *g = graph_create("fail");
    graph_add_input(g, "x", RT_DT_F32, 2, (int64_t[]){128, 256});
    weight(g, "W", 256, 256);
    int mm = add2(g, "MatMul", "mm", "x", "W", "a");
    int relu = add1(g, "Relu", "relu", "a", "y");
    graph_mark_output(g, graph_find_tensor(g, "y"));
    prepare(g);
    f.npu_s[mm] = 10 * US;
    f.npu_s[relu] = 1 * US;
    f.fail_over = 1; /* the two-node greedy segment cannot be built; each node alone can */
    part_plan *p = plan(g, &cfg, &f, PART_COST, PART_LATENCY);
    assert_true(isinf(p->cost_greedy));
    assert_true(isfinite(p->cost_chosen));
    for (int s = 0; s < p->n_segments; s++)
        assert_int_equal(p->segments[s].n_nodes, 1);
    part_plan_free(p);
    part_options o = {.strategy = PART_COST};
    rt_error e;
    assert_int_equal(partition_graph_opts(g, &cfg, &o, &p, &e), RT_ERR_ARG);
    assert_non_null(strstr(e.msg, "needs an NPU segment cost callback"));
    graph_free(g);
}

/* ---- nothing worth moving: the search's plan is the greedy plan, node for node (greedy stands
 * for it instead of a copy made and evaluated again: the same order, segments, crossings, reasons
 * and costs as PART_GREEDY gives, and the same total as greedy's, bit for bit) */

static void test_nothing_moved_is_the_greedy_plan(void **state)
{
    (void)state;
    m4npu_config cfg;
    fake_npu f;
    config(&cfg, &f);
    rt_graph *g = graph_create("kept");
    graph_add_input(g, "x", RT_DT_F32, 2, (int64_t[]){256, 512});
    weight(g, "W1", 512, 512);
    weight(g, "W2", 512, 512);
    int m1 = add2(g, "MatMul", "mm1", "x", "W1", "a");
    int r1 = add1(g, "Relu", "relu", "a", "b");
    add1(g, "Sin", "sin", "b", "c"); /* CPU only: two segments, crossings out of one and into the other */
    int m2 = add2(g, "MatMul", "mm2", "c", "W2", "d");
    int t2 = add1(g, "Tanh", "tanh", "d", "y");
    graph_mark_output(g, graph_find_tensor(g, "y"));
    graph_mark_output(g, graph_find_tensor(g, "b"));
    prepare(g);
    f.npu_s[m1] = f.npu_s[m2] = 5 * US; /* far faster than the CPU: nothing moves */
    f.npu_s[r1] = f.npu_s[t2] = 0.1 * US;
    part_plan *gr = plan(g, &cfg, &f, PART_GREEDY, PART_LATENCY);
    f.calls = 0;
    part_plan *p = plan(g, &cfg, &f, PART_COST, PART_LATENCY);
    assert_int_equal(f.calls, 2); /* the greedy segments, once each */
    assert_string_equal(p->chosen, "cost-aware");
    assert_int_equal(p->n_kept_on_cpu, 0);
    assert_true(p->cost_search == p->cost_greedy);
    assert_true(p->cost_chosen == p->cost_greedy);
    assert_true(p->cost_chosen < p->cost_cpu);
    assert_close(p->cost_chosen, latency_of(p, &f, g));
    assert_int_equal(p->greedy_segments, 2);
    assert_int_equal(p->n_segments, gr->n_segments);
    assert_int_equal(p->n_segments, 2);
    assert_memory_equal(p->order, gr->order, (size_t)g->n_nodes * sizeof *p->order);
    for (int i = 0; i < p->n_segments; i++) {
        assert_int_equal(p->segments[i].n_nodes, gr->segments[i].n_nodes);
        assert_memory_equal(p->segments[i].nodes, gr->segments[i].nodes,
                            (size_t)p->segments[i].n_nodes * sizeof *p->segments[i].nodes);
        assert_int_equal(p->segments[i].n_in, gr->segments[i].n_in);
        assert_int_equal(p->segments[i].n_out, gr->segments[i].n_out);
    }
    assert_int_equal(p->n_crossings, gr->n_crossings);
    assert_true(p->n_crossings >= 3);
    for (int k = 0; k < p->n_crossings; k++) {
        assert_int_equal(p->crossings[k].tensor, gr->crossings[k].tensor);
        assert_int_equal(p->crossings[k].segment, gr->crossings[k].segment);
        assert_int_equal(p->crossings[k].dir, gr->crossings[k].dir);
        assert_true(p->crossings[k].cost.seconds == gr->crossings[k].cost.seconds);
    }
    for (int v = 0; v < g->n_nodes; v++) {
        assert_int_equal(p->node[v].place, gr->node[v].place);
        assert_int_equal(p->node[v].segment, gr->node[v].segment);
        assert_int_equal(p->node[v].position, gr->node[v].position);
        assert_string_equal(p->node[v].why, gr->node[v].why);
        assert_false(p->node[v].kept_on_cpu);
    }
    assert_true(p->cpu_s == gr->cpu_s && p->crossing_s == gr->crossing_s && p->submit_s == gr->submit_s);
    part_plan_free(gr);
    part_plan_free(p);
    graph_free(g);
}

/* ---- no segment can be built: the plan with every node on the CPU is chosen. That plan is made
 * only when it wins (its cost is summed without it): it is made here, complete, with its reasons. */

static void test_all_cpu_when_no_segment_builds(void **state)
{
    (void)state;
    m4npu_config cfg;
    fake_npu f;
    config(&cfg, &f);
    rt_graph *g = graph_create("all-cpu");
    graph_add_input(g, "x", RT_DT_F32, 2, (int64_t[]){64, 128});
    weight(g, "W", 128, 128);
    add2(g, "MatMul", "mm", "x", "W", "a");
    add1(g, "Relu", "relu", "a", "b");
    add1(g, "Sin", "sin", "b", "c"); /* CPU only: not supported */
    add1(g, "Tanh", "tanh", "c", "y");
    graph_mark_output(g, graph_find_tensor(g, "y"));
    prepare(g);
    f.fail_all = true;
    part_plan *p = plan(g, &cfg, &f, PART_COST, PART_LATENCY);
    assert_string_equal(p->chosen, "all-cpu");
    assert_true(isinf(p->cost_greedy) && isinf(p->cost_search));
    assert_int_equal(p->n_segments, 0);
    assert_int_equal(p->n_crossings, 0);
    assert_int_equal(p->n_npu, 0);
    assert_true(p->cost_cpu > 0);
    assert_true(p->cost_chosen == p->cost_cpu);
    assert_true(p->cost_cpu == p->cpu_s); /* the same terms in the same order: the same double */
    assert_close(p->cost_chosen, latency_of(p, &f, g));
    int kept = 0;
    for (int v = 0; v < g->n_nodes; v++) {
        const part_node_info *ni = &p->node[v];
        assert_int_equal(ni->place, PART_CPU);
        assert_true(ni->cpu.seconds > 0);
        assert_true(ni->kept_on_cpu == ni->supported);
        if (ni->supported)
            assert_non_null(strstr(ni->why, "cost: the whole graph is cheaper on the CPU"));
        kept += ni->kept_on_cpu;
    }
    assert_int_equal(kept, 3);
    assert_int_equal(p->n_kept_on_cpu, 3);
    assert_int_equal(p->order[0], 0); /* ordered: the chain as it came */
    assert_int_equal(p->order[3], 3);
    part_plan_free(p);
    graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_chain_stays_on_the_cpu),
        cmocka_unit_test(test_trims_the_ends_of_a_segment),
        cmocka_unit_test(test_drops_a_segment_not_worth_its_job),
        cmocka_unit_test(test_energy_objective),
        cmocka_unit_test(test_never_slower_than_greedy_or_cpu),
        cmocka_unit_test(test_segments_that_cannot_be_built),
        cmocka_unit_test(test_all_cpu_when_no_segment_builds),
        cmocka_unit_test(test_nothing_moved_is_the_greedy_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
