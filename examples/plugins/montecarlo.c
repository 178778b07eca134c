/*
 * montecarlo.c - an example crunchd plugin: a Monte-Carlo estimate of pi.
 *
 *   POST /v1/fn/mc_pi {"samples": 10000000, "seed": 42}
 *   -> {"result": {"pi": 3.1414..., "samples": 10000000, "inside": 7853..., "seed": 42}, ...}
 *
 * It draws `samples` points in the unit square from a generator seeded with
 * `seed` (the same seed gives the same estimate, on any worker) and counts
 * those inside the quarter circle. It is long-running CPU work, so it checks
 * for cancel and the deadline every 65536 samples (well under a millisecond)
 * and reports its progress.
 *
 * Build: cc -shared -fPIC -O2 -o libmontecarlo.so montecarlo.c \
 *            $(pkg-config --cflags --libs crunchd-plugin)
 */
#include <crunchd/plugin.h>
#include <stdint.h>

#define CHECK_EVERY 65536 /* samples between two crunchd_check() calls */

static const crunchd_arg mc_pi_args[] = {
    {.name = "samples", .type = CRUNCHD_ARG_INT, .min = 1, .max = INT64_C(100000000000),
     .def_int = 1000000, .doc = "points to draw (default 1 000 000; at most 10^11)"},
    {.name = "seed", .type = CRUNCHD_ARG_INT, .min = 0, .max = INT64_MAX, .def_int = 1,
     .doc = "seed of the generator: the same seed gives the same estimate"},
};

/* splitmix64: a small, fast, well-mixed generator; its state is local to a
 * call, so concurrent calls never share it. */
static uint64_t next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* A uniform double in [0, 1) from the top 53 bits. */
static double unit(uint64_t *state)
{
    return (double)(next(state) >> 11) * (1.0 / 9007199254740992.0);
}

static int mc_pi_run(json_t *args, crunchd_call *call, json_t **result)
{
    int64_t samples = crunchd_arg_int(args, "samples");
    int64_t seed = crunchd_arg_int(args, "seed");
    uint64_t state = (uint64_t)seed;
    int64_t inside = 0;

    for (int64_t done = 0; done < samples;) {
        int64_t end = samples - done > CHECK_EVERY ? done + CHECK_EVERY : samples;
        for (; done < end; done++) {
            double x = unit(&state), y = unit(&state);
            inside += x * x + y * y < 1.0;
        }
        crunchd_progress(call, done);
        int st = crunchd_check(call);
        if (st != CRUNCHD_OK)
            return st; /* cancelled, or past the deadline: stop now */
    }
    *result = json_pack("{s:f, s:I, s:I, s:I}", "pi", 4.0 * (double)inside / (double)samples,
                        "samples", (json_int_t)samples, "inside", (json_int_t)inside, "seed",
                        (json_int_t)seed);
    return *result ? CRUNCHD_OK : crunchd_fail(call, "out of memory");
}

static const crunchd_function functions[] = {
    {.name = "mc_pi", .kind = CRUNCHD_KIND_CPU, .args = mc_pi_args,
     .nargs = CRUNCHD_COUNT(mc_pi_args),
     .doc = "{\"pi\", \"samples\", \"inside\", \"seed\"}: pi estimated from random points",
     .run = mc_pi_run},
};

CRUNCHD_PLUGIN_DEFINE("montecarlo", "1.0", functions)
