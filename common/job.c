/*
 * job.c - the job value: states, ids, times, the public JSON object.
 */
#include "job.h"

#include "utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static const char *const state_names[] = {
    [JOB_QUEUED] = "queued", [JOB_RUNNING] = "running",     [JOB_SUCCEEDED] = "succeeded",
    [JOB_FAILED] = "failed", [JOB_CANCELLED] = "cancelled",
};

#define N_STATES ((int)(sizeof(state_names) / sizeof(state_names[0])))

void job_init(job *j)
{
    memset(j, 0, sizeof(*j));
    j->state = JOB_QUEUED;
    j->kind = FN_CPU;
    j->owner_slot = -1;
    j->run_us = -1;
    j->cpu_us = -1;
}

void job_release(job *j)
{
    json_decref(j->args);
    json_decref(j->result);
    job_init(j);
}

const char *job_state_name(job_state s)
{
    if ((int)s < 0 || (int)s >= N_STATES)
        return "unknown";
    return state_names[s];
}

int job_state_parse(const char *name, job_state *out)
{
    for (int i = 0; i < N_STATES; i++) {
        if (strcmp(name, state_names[i]) == 0) {
            *out = (job_state)i;
            return 0;
        }
    }
    return -1;
}

bool job_state_final(job_state s)
{
    return s == JOB_SUCCEEDED || s == JOB_FAILED || s == JOB_CANCELLED;
}

/* Fills buf with n bytes from getrandom(); -1 with errno if it fails. */
static int random_bytes(unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

/*
 * All 128 bits come from getrandom(), but the first ID_PREFIX_BYTES are
 * drawn once per ID_RUN ids of a thread: ids made close together then sit
 * next to each other in the store's index on id, and a batch of inserts
 * writes one page of it instead of one random page per job (the index of
 * 100k jobs spans ~1100 pages; measured with the async benchmark: 12.5 WAL
 * pages per commit before, see the README). Every id keeps 96 bits of its
 * own, the least DESIGN.md allows, so none can be guessed from another.
 */
#define ID_PREFIX_BYTES 4
#define ID_RUN 32

int job_new_id(char out[JOB_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    static __thread unsigned char prefix[ID_PREFIX_BYTES];
    static __thread int left; /* ids still to make with this prefix */
    unsigned char raw[JOB_ID_LEN / 2];
    _Static_assert(sizeof(raw) - ID_PREFIX_BYTES >= 12, "at least 96 bits of each id are its own");
    out[0] = '\0';
    if (left == 0) {
        if (random_bytes(prefix, sizeof(prefix)) < 0)
            return -1;
        left = ID_RUN;
    }
    if (random_bytes(raw + ID_PREFIX_BYTES, sizeof(raw) - ID_PREFIX_BYTES) < 0)
        return -1;
    memcpy(raw, prefix, sizeof(prefix));
    left--;
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[JOB_ID_LEN] = '\0';
    return 0;
}

bool job_id_valid(const char *s, size_t len)
{
    if (len != JOB_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

int64_t job_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void job_format_time(int64_t us, char out[32])
{
    time_t sec = (time_t)(us / 1000000);
    int ms = (int)(us % 1000000 / 1000);
    struct tm tm;
    if (us < 0 || !gmtime_r(&sec, &tm)) {
        snprintf(out, 32, "1970-01-01T00:00:00.000Z");
        return;
    }
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", ms);
}

/* Copies the C string src as valid UTF-8 (utf8_copy). */
static void copy_text(char *dst, size_t size, const char *src)
{
    utf8_copy(dst, size, src, strlen(src));
}

void job_set_error(job *j, const char *code, const char *message)
{
    copy_text(j->error_code, sizeof(j->error_code), code ? code : "");
    copy_text(j->error_message, sizeof(j->error_message), message ? message : "");
}

/* args as stored: NULL is {}. */
static bool args_equal(json_t *a, json_t *b)
{
    if (!a || !b) {
        json_t *x = a ? a : b;
        return !x || (json_is_object(x) && json_object_size(x) == 0);
    }
    return json_equal(a, b) != 0;
}

bool job_same_request(const job *a, const job *b)
{
    return strcmp(a->fn, b->fn) == 0 && args_equal(a->args, b->args) &&
           a->timeout_ms == b->timeout_ms && a->retries == b->retries &&
           strcmp(a->callback, b->callback) == 0;
}

static json_t *time_or_null(int64_t us)
{
    char buf[32];
    if (us == 0)
        return json_null();
    job_format_time(us, buf);
    return json_string(buf);
}

static json_t *ms_or_null(int64_t us)
{
    return us < 0 ? json_null() : json_real((double)us / 1000.0);
}

static int64_t queue_us(const job *j)
{
    if (j->started_at_us == 0 || j->created_at_us == 0)
        return -1;
    return j->started_at_us > j->created_at_us ? j->started_at_us - j->created_at_us : 0;
}

/* The error object, or null; the message is re-validated so that a job filled
 * by hand (not through job_set_error) still encodes. */
static json_t *error_json(const job *j)
{
    char code[sizeof(j->error_code)], msg[sizeof(j->error_message)];
    if (j->error_code[0] == '\0')
        return json_null();
    copy_text(code, sizeof(code), j->error_code);
    copy_text(msg, sizeof(msg), j->error_message);
    return json_pack("{s:s, s:s}", "code", code, "message", msg);
}

json_t *job_to_json(const job *j)
{
    char fn[sizeof(j->fn)];
    copy_text(fn, sizeof(fn), j->fn);
    /* "o" steals a reference: the json_incref()s pair with it, and json_pack
     * drops every stolen value when it fails. */
    return json_pack(
        "{s:s, s:s, s:o, s:s, s:o, s:o, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", j->id, "fn",
        fn, "args", j->args ? json_incref(j->args) : json_object(), "state",
        job_state_name(j->state), "result", j->result ? json_incref(j->result) : json_null(),
        "error", error_json(j), "attempts", j->attempts, "worker",
        j->worker_pid > 0 ? json_integer(j->worker_pid) : json_null(), "created_at",
        time_or_null(j->created_at_us), "started_at", time_or_null(j->started_at_us), "finished_at",
        time_or_null(j->finished_at_us), "queue_ms", ms_or_null(queue_us(j)), "run_ms",
        ms_or_null(j->run_us), "cpu_ms", ms_or_null(j->cpu_us));
}

/* ---- job_dumps: the same object, with exact milliseconds ---- */

static void put_ms(FILE *f, const char *key, int64_t us)
{
    if (us < 0)
        fprintf(f, ",\"%s\":null", key);
    else
        fprintf(f, ",\"%s\":%lld.%03d", key, (long long)(us / 1000), (int)(us % 1000));
}

static void put_time(FILE *f, const char *key, int64_t us)
{
    char buf[32];
    if (us == 0) {
        fprintf(f, ",\"%s\":null", key);
        return;
    }
    job_format_time(us, buf);
    fprintf(f, ",\"%s\":\"%s\"", key, buf);
}

/* Writes v, or null/{} when v is NULL. Returns 0 or -1. */
static int put_json(FILE *f, json_t *v, const char *if_null)
{
    if (!v)
        return fputs(if_null, f) < 0 ? -1 : 0;
    return json_dumpf(v, f, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* Writes len bytes of JSON text, or if_null when text is NULL. */
static int put_text(FILE *f, const char *text, size_t len, const char *if_null)
{
    if (!text)
        return fputs(if_null, f) < 0 ? -1 : 0;
    return fwrite(text, 1, len, f) == len ? 0 : -1;
}

/* ,"key": then the JSON text (raw) or the job's own value. */
static int put_member(FILE *f, const char *key, bool raw, const char *text, size_t len, json_t *own,
                      const char *if_null)
{
    fprintf(f, ",\"%s\":", key);
    return raw ? put_text(f, text, len, if_null) : put_json(f, own, if_null);
}

/* ,"owner":"NAME": a token name (letters, digits, '.', '_', '-'), so it
 * needs no escaping; anything else in it (a job filled by hand) is left out. */
static void put_owner(FILE *f, const char *owner)
{
    size_t n = strspn(owner, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
    fprintf(f, ",\"owner\":\"%.*s\"", (int)n, owner);
}

/* The object; text NULL: the job's own args and result. */
static int put_body(FILE *f, const job *j, unsigned fields, const job_json_text *text)
{
    char name[sizeof(j->fn)];
    json_t *fn, *err = error_json(j);
    int rc = -1;
    copy_text(name, sizeof(name), j->fn);
    fn = json_string(name);
    if (!fn || !err)
        goto done;
    fprintf(f, "{\"id\":\"%s\",\"fn\":", j->id);
    if (put_json(f, fn, "null") < 0)
        goto done;
    if (fields & JOB_VIEW_OWNER)
        put_owner(f, j->owner);
    if ((fields & JOB_VIEW_ARGS) &&
        put_member(f, "args", text, text ? text->args : NULL, text ? text->args_len : 0, j->args,
                   "{}") < 0)
        goto done;
    fprintf(f, ",\"state\":\"%s\"", job_state_name(j->state));
    if ((fields & JOB_VIEW_RESULT) &&
        put_member(f, "result", text, text ? text->result : NULL, text ? text->result_len : 0,
                   j->result, "null") < 0)
        goto done;
    fputs(",\"error\":", f);
    if (put_json(f, err, "null") < 0)
        goto done;
    fprintf(f, ",\"attempts\":%d", j->attempts);
    if (j->worker_pid > 0)
        fprintf(f, ",\"worker\":%d", j->worker_pid);
    else
        fputs(",\"worker\":null", f);
    put_time(f, "created_at", j->created_at_us);
    put_time(f, "started_at", j->started_at_us);
    put_time(f, "finished_at", j->finished_at_us);
    put_ms(f, "queue_ms", queue_us(j));
    put_ms(f, "run_ms", j->run_us);
    put_ms(f, "cpu_ms", j->cpu_us);
    fputc('}', f);
    rc = 0;
done:
    json_decref(fn);
    json_decref(err);
    return rc;
}

static char *dumps(const job *j, unsigned fields, const job_json_text *view, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    if (!f)
        return NULL;
    int rc = put_body(f, j, fields, view);
    if (ferror(f))
        rc = -1;
    if (fclose(f) != 0 || rc < 0) {
        free(text);
        return NULL;
    }
    if (len)
        *len = n;
    return text;
}

char *job_dumps(const job *j, size_t *len)
{
    return dumps(j, JOB_VIEW_ARGS | JOB_VIEW_RESULT, NULL, len);
}

char *job_dumps_fields(const job *j, unsigned fields, size_t *len)
{
    return dumps(j, fields, NULL, len);
}

char *job_dumps_view(const job *j, unsigned fields, const job_json_text *text, size_t *len)
{
    static const job_json_text none = {NULL, 0, NULL, 0};
    return dumps(j, fields, text ? text : &none, len);
}
