/*
 * fn_digest.c - the SHA-256 built-ins (DESIGN.md section 5): sha256 of a
 * string, possibly iterated, and file_sha256 of a file under data_dir, which
 * must never read anything outside data_dir.
 */
#include "builtin.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SHA256_LEN 32
#define SHA256_HEX_LEN (2 * SHA256_LEN)
#define SHA256_MAX_DATA (16 * 1024 * 1024)
/* Rounds between two cancel polls: a round is one 64-byte block, ~0.3 us. */
#define SHA256_POLL_ROUNDS 4096
#define FILE_READ_SIZE (64 * 1024)
#define FILE_MAX_PATH 4096

atomic_bool fn_file_force_fallback;

/* Writes n bytes as lowercase hex and a NUL into out (2n + 1 bytes). */
static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- base64 ---- */

static int b64_sextet(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/*
 * Decodes standard base64 (RFC 4648 section 4; padding optional, no
 * whitespace). dst may be NULL to only check the syntax; else it must hold
 * len / 4 * 3 + 2 bytes. Returns the decoded length, or -1 for bad syntax.
 */
static ptrdiff_t b64_decode(const char *src, size_t len, unsigned char *dst)
{
    size_t pad = 0, out = 0;
    uint32_t acc = 0;

    while (pad < 2 && len > pad && src[len - 1 - pad] == '=')
        pad++;
    if (pad > 0 && len % 4 != 0)
        return -1;
    len -= pad;
    if (len % 4 == 1)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int v = b64_sextet((unsigned char)src[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        if (i % 4 == 3) {
            if (dst) {
                dst[out] = (unsigned char)(acc >> 16);
                dst[out + 1] = (unsigned char)(acc >> 8);
                dst[out + 2] = (unsigned char)acc;
            }
            out += 3;
            acc = 0;
        }
    }
    if (len % 4 == 2) {
        if (dst)
            dst[out] = (unsigned char)(acc >> 4);
        out += 1;
    } else if (len % 4 == 3) {
        if (dst) {
            dst[out] = (unsigned char)(acc >> 10);
            dst[out + 1] = (unsigned char)(acc >> 2);
        }
        out += 2;
    }
    return (ptrdiff_t)out;
}

/* ---- sha256 ---- */

static const char *const sha256_encodings[] = {"utf8", "base64", NULL};

static const fn_arg sha256_args[] = {
    {.name = "data", .type = FN_ARG_STRING, .required = true, .max = SHA256_MAX_DATA,
     .doc = "the data to hash"},
    {.name = "encoding", .type = FN_ARG_ENUM, .def_str = "utf8", .choices = sha256_encodings,
     .doc = "utf8: hash data's UTF-8 bytes; base64: hash the bytes data decodes to"},
    {.name = "rounds", .type = FN_ARG_INT, .min = 1, .max = 1000000, .def_int = 1,
     .doc = "rounds after the first hash the previous round's 32-byte digest"},
};

static bool is_base64(json_t *args)
{
    return strcmp(fn_arg_str(args, "encoding"), "base64") == 0;
}

static const char *sha256_check(json_t *args, char *err, size_t errlen)
{
    json_t *data = json_object_get(args, "data");
    if (is_base64(args) && b64_decode(json_string_value(data), json_string_length(data), NULL) < 0) {
        snprintf(err, errlen, "data: invalid base64");
        return "data";
    }
    return NULL;
}

/* One whole hash with a reused EVP context; 0 or -1. in and out may alias. */
static int digest_once(EVP_MD_CTX *md, const void *in, size_t len, unsigned char *out)
{
    /* A NULL type reuses the context's digest and skips a provider fetch. */
    if (EVP_DigestInit_ex(md, NULL, NULL) != 1 || EVP_DigestUpdate(md, in, len) != 1 ||
        EVP_DigestFinal_ex(md, out, NULL) != 1)
        return -1;
    return 0;
}

static fn_status sha256_rounds(const void *data, size_t len, int64_t rounds, fn_ctx *ctx,
                               char *hex)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    fn_status st = FN_OK;

    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
        digest_once(md, data, len, digest) != 0) {
        st = fn_fail(ctx, "sha256: OpenSSL digest failed");
        goto done;
    }
    for (int64_t r = 1; r < rounds; r++) {
        if (r % SHA256_POLL_ROUNDS == 0) {
            st = fn_ctx_check(ctx);
            if (st != FN_OK)
                goto done;
            fn_set_progress(ctx, r);
        }
        if (digest_once(md, digest, SHA256_LEN, digest) != 0) {
            st = fn_fail(ctx, "sha256: OpenSSL digest failed");
            goto done;
        }
    }
    hex_encode(digest, SHA256_LEN, hex);

done:
    EVP_MD_CTX_free(md);
    return st;
}

static fn_status sha256_run(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result)
{
    json_t *data = json_object_get(args, "data");
    const void *bytes = json_string_value(data);
    size_t len = json_string_length(data);
    unsigned char *decoded = NULL;
    char hex[SHA256_HEX_LEN + 1];
    fn_status st;

    if (is_base64(args)) {
        decoded = malloc(len / 4 * 3 + 3);
        if (decoded == NULL)
            return fn_fail(ctx, "out of memory");
        ptrdiff_t n = b64_decode(bytes, len, decoded);
        if (n < 0) {
            free(decoded);
            return fn_fail(ctx, "data: invalid base64");
        }
        bytes = decoded;
        len = (size_t)n;
    }
    st = sha256_rounds(bytes, len, fn_arg_int(args, "rounds"), ctx, hex);
    free(decoded);
    if (st != FN_OK)
        return st;
    *result = json_string(hex);
    return *result ? FN_OK : fn_fail(ctx, "out of memory");
}

/* ~4 ns a byte for the first round, ~256 ns for each 32-byte round after. */
static int64_t sha256_cost(json_t *args)
{
    int64_t len = (int64_t)json_string_length(json_object_get(args, "data"));
    return (len + 64 * fn_arg_int(args, "rounds")) * 4;
}

const fn_desc fn_builtin_sha256 = {
    .name = "sha256",
    .kind = FN_CPU,
    .args = sha256_args,
    .nargs = sizeof(sha256_args) / sizeof(sha256_args[0]),
    .doc = "lowercase hex SHA-256 of data, iterated rounds times",
    .run = sha256_run,
    .cost_ns = sha256_cost,
    .check = sha256_check,
};

/* ---- file_sha256 ---- */

static const fn_arg file_sha256_args[] = {
    {.name = "path", .type = FN_ARG_STRING, .required = true, .max = FILE_MAX_PATH,
     .doc = "file to hash, relative to data_dir; no .. and no symlink out of data_dir"},
};

/* Returns why path may not be used (a lexical check only: symlinks are the
 * kernel's business, see open_beneath()), or NULL. */
static const char *path_problem(const char *path)
{
    if (path[0] == '\0')
        return "must not be empty";
    if (path[0] == '/')
        return "must be relative to data_dir";
    for (const char *p = path; *p != '\0';) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return "must not contain a .. component";
        p += n;
        p += *p == '/';
    }
    return NULL;
}

static const char *file_sha256_check(json_t *args, char *err, size_t errlen)
{
    const char *why = path_problem(fn_arg_str(args, "path"));
    if (why == NULL)
        return NULL;
    snprintf(err, errlen, "path: %s", why);
    return "path";
}

/* O_NONBLOCK: opening a FIFO planted in data_dir must not hang the thread;
 * the fd is checked to be a regular file, where the flag means nothing. */
#define FILE_OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

/*
 * Opens path beneath dirfd. The kernel refuses any resolution that leaves
 * dirfd: "..", absolute symlinks, symlinks pointing out, /proc magic links.
 * Returns an fd, or -1 with errno set (EXDEV for an escape, ENOSYS before
 * Linux 5.6).
 */
static int open_beneath(int dirfd, const char *path)
{
    struct open_how how = {
        .flags = FILE_OPEN_FLAGS,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd;
    int tries = 0;

    /* EAGAIN: a concurrent rename made the kernel unsure; it asks for a retry. */
    do
        fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    while (fd < 0 && (errno == EAGAIN || errno == EINTR) && ++tries < 16);
    return (int)fd;
}

/*
 * For kernels without openat2: resolves both names with realpath() and
 * requires the file to lie under data_dir. Unlike openat2 this is racy: a
 * rename inside data_dir between the check and the open could swap in a
 * symlink; O_NOFOLLOW at least refuses one at the last component.
 */
static int open_beneath_fallback(const char *dir, const char *path)
{
    char *root = NULL, *full = NULL, *real = NULL;
    int fd = -1, saved;

    root = realpath(dir, NULL);
    if (root == NULL)
        goto done;
    if (asprintf(&full, "%s/%s", root, path) < 0) {
        full = NULL;
        errno = ENOMEM;
        goto done;
    }
    real = realpath(full, NULL);
    if (real == NULL)
        goto done;
    size_t n = strlen(root);
    bool beneath = strncmp(real, root, n) == 0 &&
                   (real[n] == '/' || real[n] == '\0' || strcmp(root, "/") == 0);
    if (!beneath) {
        errno = EXDEV;
        goto done;
    }
    fd = open(real, FILE_OPEN_FLAGS | O_NOFOLLOW);

done:
    saved = errno;
    free(root);
    free(full);
    free(real);
    errno = saved;
    return fd;
}

/* Opens path under data_dir (open as dirfd) by whichever means the kernel
 * offers; returns an fd or -1 with errno set. */
static int open_in_dir(int dirfd, const char *dir, const char *path)
{
    int fd;
    if (atomic_load(&fn_file_force_fallback)) {
        fd = -1;
        errno = ENOSYS;
    } else {
        fd = open_beneath(dirfd, path);
    }
    if (fd < 0 && errno == ENOSYS)
        fd = open_beneath_fallback(dir, path);
    return fd;
}

/* Turns a failed open's errno into ctx->message; returns FN_FAILED. */
static fn_status open_failed(fn_ctx *ctx, int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR: return fn_fail(ctx, "path: no such file in data_dir");
    case EXDEV: return fn_fail(ctx, "path: leads outside data_dir");
    case ELOOP: return fn_fail(ctx, "path: a symlink loop, a magic link or a symlink out of data_dir");
    case EACCES:
    case EPERM: return fn_fail(ctx, "path: permission denied");
    default: return fn_fail(ctx, "path: cannot open: %s", strerror(err));
    }
}

/* Opens ctx->data_dir/path as a regular file; returns the fd, or -1 with
 * ctx->message set. */
static int open_data_file(fn_ctx *ctx, const char *path)
{
    int dirfd = -1, fd = -1;
    struct stat st;

    if (ctx->data_dir == NULL || ctx->data_dir[0] == '\0') {
        fn_fail(ctx, "no data_dir is configured");
        return -1;
    }
    dirfd = open(ctx->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        fn_fail(ctx, "open(\"%s\") failed: %s", ctx->data_dir, strerror(errno));
        return -1;
    }
    fd = open_in_dir(dirfd, ctx->data_dir, path);
    if (fd < 0) {
        open_failed(ctx, errno);
    } else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fn_fail(ctx, "path: not a regular file");
        close(fd);
        fd = -1;
    }
    close(dirfd);
    return fd;
}

/* Streams fd into a SHA-256; *total gets the byte count. */
static fn_status hash_fd(int fd, fn_ctx *ctx, char *hex, int64_t *total)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned char *buf = malloc(FILE_READ_SIZE);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    fn_status st = FN_OK;

    *total = 0;
    if (buf == NULL || md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        st = fn_fail(ctx, "sha256: out of memory or OpenSSL failure");
        goto done;
    }
    for (;;) {
        st = fn_ctx_check(ctx);
        if (st != FN_OK)
            goto done;
        ssize_t n = read(fd, buf, FILE_READ_SIZE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            st = fn_fail(ctx, "path: read failed: %s", strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
            st = fn_fail(ctx, "sha256: OpenSSL digest failed");
            goto done;
        }
        *total += n;
        fn_set_progress(ctx, *total);
    }
    if (EVP_DigestFinal_ex(md, digest, NULL) != 1) {
        st = fn_fail(ctx, "sha256: OpenSSL digest failed");
        goto done;
    }
    hex_encode(digest, SHA256_LEN, hex);

done:
    EVP_MD_CTX_free(md);
    free(buf);
    return st;
}

static fn_status file_sha256_run(const fn_desc *self, json_t *args, fn_ctx *ctx, json_t **result)
{
    const char *path = fn_arg_str(args, "path");
    const char *why = path_problem(path);
    char hex[SHA256_HEX_LEN + 1];
    int64_t total;
    fn_status st;

    /* Validation already refused these; checked again because run() is
     * where a mistake would read outside data_dir. */
    if (why != NULL)
        return fn_fail(ctx, "path: %s", why);
    int fd = open_data_file(ctx, path);
    if (fd < 0)
        return FN_FAILED;
    st = hash_fd(fd, ctx, hex, &total);
    close(fd);
    if (st != FN_OK)
        return st;
    *result = json_pack("{s:s, s:I, s:s}", "path", path, "bytes", (json_int_t)total, "sha256", hex);
    return *result ? FN_OK : fn_fail(ctx, "out of memory");
}

const fn_desc fn_builtin_file_sha256 = {
    .name = "file_sha256",
    .kind = FN_IO,
    .args = file_sha256_args,
    .nargs = sizeof(file_sha256_args) / sizeof(file_sha256_args[0]),
    .doc = "{\"path\", \"bytes\", \"sha256\"} of a file under data_dir, read in 64 KiB pieces",
    .run = file_sha256_run,
    .check = file_sha256_check,
};

int fn_digest_register(fn_registry *r, char *err, size_t errlen)
{
    static const fn_desc *const table[] = {&fn_builtin_sha256, &fn_builtin_file_sha256};
    return fn_builtin_add_all(r, table, sizeof(table) / sizeof(table[0]), err, errlen);
}
