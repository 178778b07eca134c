#include "route_admin.h"

#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "metrics.h"
#include "request.h"
#include "wire.h"

static const char BODY_HEALTHY[] = "{\"status\":\"ok\"}";
static const char BODY_READY[] = "{\"status\":\"ready\"}";

/* GET /v1/functions, built once (loop thread only). */
static char *functions_json;
static size_t functions_len;

int route_admin_init(const engine *e)
{
    json_t *v = fn_list_json(e->cfg->debug_functions);
    if (!v)
        return -1;
    functions_json = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!functions_json)
        return -1;
    functions_len = strlen(functions_json);
    return 0;
}

void route_admin_release(void)
{
    free(functions_json);
    functions_json = NULL;
}

void route_admin_healthz(conn *c, const http_request *req, const svc_caller *who, const char *body,
                         size_t len)
{
    conn_reply(c, 200, CT_JSON, BODY_HEALTHY, sizeof(BODY_HEALTHY) - 1, NULL);
}

void route_admin_readyz(conn *c, const http_request *req, const svc_caller *who, const char *body,
                        size_t len)
{
    if (conn_engine(c)->draining)
        conn_reply_error(c, 503, ERR_DRAINING, "this worker is draining", NULL);
    else
        conn_reply(c, 200, CT_JSON, BODY_READY, sizeof(BODY_READY) - 1, NULL);
}

void route_admin_metrics(conn *c, const http_request *req, const svc_caller *who, const char *body,
                         size_t len)
{
    const engine *e = conn_engine(c);
    char *text;
    size_t n;
    if (metrics_render(e->shm, e->cfg->debug_functions, &text, &n) < 0) {
        conn_reply_error(c, 500, ERR_INTERNAL, "rendering the metrics failed", NULL);
        return;
    }
    conn_reply(c, 200, CT_PROMETHEUS, text, n, NULL);
    free(text);
}

void route_admin_functions(conn *c, const http_request *req, const svc_caller *who,
                           const char *body, size_t len)
{
    conn_reply(c, 200, CT_JSON, functions_json, functions_len, NULL);
}

static json_t *worker_slot_json(const shm_worker *s, int slot)
{
    char started[32];
    job_format_time(atomic_load(&s->started_at_ms) * 1000, started);
    int code = atomic_load(&s->last_exit_code), sig = atomic_load(&s->last_exit_signal);
    unsigned restarts = atomic_load(&s->restarts);
    json_t *last =
        (restarts == 0 && code <= 0 && sig == 0 && atomic_load(&s->state) != SHM_W_DEAD)
            ? json_null()
            : json_pack("{s:o, s:o}", "code", code >= 0 ? json_integer(code) : json_null(),
                        "signal", sig ? json_integer(sig) : json_null());
    return json_pack("{s:i, s:i, s:I, s:s, s:I, s:I, s:s, s:I, s:o, s:i}", "slot", slot, "pid",
                     atomic_load(&s->pid), "incarnation", (json_int_t)atomic_load(&s->incarnation),
                     "started_at", started, "requests", (json_int_t)atomic_load(&s->requests),
                     "jobs", (json_int_t)atomic_load(&s->jobs), "state",
                     shm_state_name(atomic_load(&s->state)), "restarts", (json_int_t)restarts,
                     "last_exit", last, "connections", atomic_load(&s->connections));
}

void route_admin_workers(conn *c, const http_request *req, const svc_caller *who, const char *body,
                         size_t len)
{
    const shm_region *shm = conn_engine(c)->shm;
    json_t *slots = json_array();
    int n = atomic_load(&shm->nslots);
    for (int i = 0; i < n && i < SHM_MAX_WORKERS; i++)
        json_array_append_new(slots, worker_slot_json(&shm->w[i], i));
    char started[32];
    job_format_time(atomic_load(&shm->started_at_ms) * 1000, started);
    json_t *v = json_pack("{s:i, s:s, s:o}", "master_pid", atomic_load(&shm->master_pid),
                          "started_at", started, "workers", slots);
    if (!v) {
        conn_reply_error(c, 500, ERR_INTERNAL, "building the worker list failed", NULL);
        return;
    }
    request_reply_json(c, 200, v);
    json_decref(v);
}
