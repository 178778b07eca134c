/*
 * wire.h - every string that crosses the wire: routes, error codes, header
 * names, content types. One place, so a typo is a compile error, not a bug.
 */
#ifndef CRUNCHD_WIRE_H
#define CRUNCHD_WIRE_H

/* Routes. */
#define ROUTE_HEALTHZ "/healthz"
#define ROUTE_READYZ "/readyz"
#define ROUTE_METRICS "/metrics"
#define ROUTE_FUNCTIONS "/v1/functions"
#define ROUTE_WORKERS "/v1/workers"
#define ROUTE_FN_PREFIX "/v1/fn/"
#define ROUTE_JOBS "/v1/jobs"
#define ROUTE_JOBS_PREFIX "/v1/jobs/"

/* Error codes of the envelope {"error": {"code": ..., "message": ...}}. */
#define ERR_BAD_JSON "bad_json"
#define ERR_BAD_REQUEST "bad_request"
#define ERR_INVALID_ARGS "invalid_args"
#define ERR_UNKNOWN_FUNCTION "unknown_function"
#define ERR_NOT_FOUND "not_found"
#define ERR_METHOD_NOT_ALLOWED "method_not_allowed"
#define ERR_ALREADY_FINAL "already_final"
#define ERR_IDEMPOTENCY_KEY_REUSED "idempotency_key_reused"
#define ERR_PAYLOAD_TOO_LARGE "payload_too_large"
#define ERR_HEADERS_TOO_LARGE "headers_too_large"
#define ERR_UNSUPPORTED_MEDIA "unsupported_media_type"
#define ERR_QUEUE_FULL "queue_full"
#define ERR_DRAINING "draining"
#define ERR_TIMEOUT "timeout"
#define ERR_INTERNAL "internal"
#define ERR_CANCELLED "cancelled"
#define ERR_WORKER_LOST "worker_lost"
#define ERR_FUNCTION_ERROR "function_error"
#define ERR_BUSY "busy"
#define ERR_NOT_IMPLEMENTED "not_implemented"
#define ERR_VERSION "http_version_not_supported"
#define ERR_REQUEST_TIMEOUT "request_timeout"
#define ERR_UNAUTHORIZED "unauthorized" /* 401: no token, or one no table holds */
#define ERR_FORBIDDEN "forbidden"       /* 403: the token lacks the route's scope */
#define ERR_RATE_LIMITED "rate_limited" /* 429: the token is over its rps (Retry-After) */

/* Header names. */
#define HDR_ALLOW "Allow"
#define HDR_ORIGIN "Origin"
#define HDR_VARY "Vary"
#define HDR_LOCATION "Location"
#define HDR_RETRY_AFTER "Retry-After"
#define HDR_CONTENT_TYPE "Content-Type"
#define HDR_AUTHORIZATION "Authorization"
#define HDR_IDEMPOTENCY_KEY "Idempotency-Key"
#define HDR_PREFER "Prefer"
#define HDR_AC_ALLOW_ORIGIN "Access-Control-Allow-Origin"
#define HDR_AC_ALLOW_METHODS "Access-Control-Allow-Methods"
#define HDR_AC_ALLOW_HEADERS "Access-Control-Allow-Headers"
#define HDR_AC_EXPOSE_HEADERS "Access-Control-Expose-Headers"
#define HDR_AC_MAX_AGE "Access-Control-Max-Age"
#define HDR_AC_REQUEST_METHOD "Access-Control-Request-Method"
#define HDR_WWW_AUTHENTICATE "WWW-Authenticate"

/* The one authentication scheme (RFC 6750): "Authorization: Bearer <secret>",
 * and "WWW-Authenticate: Bearer" on a 401. */
#define AUTH_SCHEME_BEARER "Bearer"

/* Content types. */
#define CT_JSON "application/json"
#define CT_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"

/* The status logged (never sent) for a request whose client left before
 * its reply (nginx's "client closed request"). */
#define HTTP_CLIENT_GONE 499

#define SERVER_NAME "crunchd"

#endif
