#include "http_resp.h"

#include <string.h>

#include "wire.h"

/* Only the loop thread of this process writes or reads it. */
static char date_line[64] = "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n";
static size_t date_len = 37;

const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

void http_resp_set_date(time_t now)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    struct tm tm;
    gmtime_r(&now, &tm);
    /* Called once a second, off the per-request path: strftime is fine here. */
    char tmp[48];
    size_t n = strftime(tmp, sizeof(tmp), "%d %b %Y %H:%M:%S GMT", &tm);
    memcpy(date_line, "Date: ", 6);
    memcpy(date_line + 6, days[tm.tm_wday], 3);
    memcpy(date_line + 9, ", ", 2);
    memcpy(date_line + 11, tmp, n);
    memcpy(date_line + 11 + n, "\r\n", 2);
    date_len = 13 + n;
}

static void append_status_line(buf *out, int status)
{
    char code[4] = {(char)('0' + status / 100), (char)('0' + status / 10 % 10),
                    (char)('0' + status % 10), ' '};
    buf_append(out, "HTTP/1.1 ", 9);
    buf_append(out, code, 4);
    buf_append_str(out, http_reason(status));
    buf_append(out, "\r\n", 2);
}

void http_resp_write(buf *out, const http_resp *r, const char *body, size_t len)
{
    static const char server[] = "Server: " SERVER_NAME "\r\n";
    buf_reserve(out, 160 + len);
    append_status_line(out, r->status);
    buf_append(out, server, sizeof(server) - 1);
    buf_append(out, date_line, date_len);
    if (r->content_type) {
        buf_append(out, "Content-Type: ", 14);
        buf_append_str(out, r->content_type);
        buf_append(out, "\r\n", 2);
    }
    if (r->status != 204) {
        buf_append(out, "Content-Length: ", 16);
        buf_append_u64(out, len);
        buf_append(out, "\r\n", 2);
    }
    if (!r->keep_alive)
        buf_append(out, "Connection: close\r\n", 19);
    else if (r->http10)
        buf_append(out, "Connection: keep-alive\r\n", 24);
    if (r->extra)
        buf_append_str(out, r->extra);
    if (r->req_extra)
        buf_append_str(out, r->req_extra);
    buf_append(out, "\r\n", 2);
    if (!r->head_only && r->status != 204)
        buf_append(out, body, len);
}

void http_resp_error(buf *out, const http_resp *r, const char *code, const char *message,
                     const char *arg)
{
    buf body = BUF_INIT; /* errors are off the hot path: a heap buffer is fine */
    buf_append_str(&body, "{\"error\":{\"code\":");
    buf_append_json_str(&body, code, strlen(code));
    buf_append_str(&body, ",\"message\":");
    buf_append_json_str(&body, message, strlen(message));
    if (arg) {
        buf_append_str(&body, ",\"arg\":");
        buf_append_json_str(&body, arg, strlen(arg));
    }
    buf_append_str(&body, "}}");
    http_resp r2 = *r;
    r2.content_type = CT_JSON;
    http_resp_write(out, &r2, body.p, body.len);
    buf_release(&body);
}

void http_resp_continue(buf *out)
{
    buf_append_str(out, "HTTP/1.1 100 Continue\r\n\r\n");
}
