/* Whole-file reads and atomic writes; see file.h. */
#define _POSIX_C_SOURCE 200809L
#include "io/file.h"
#include "base/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

lam_status lam_file_read(const char *path, size_t max_bytes, unsigned char **data, size_t *len, lam_error *e) {
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return lam_fail(e, LAM_ERR_IO, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int err = errno;
        close(fd);
        return lam_fail(e, LAM_ERR_IO, "cannot stat: %s", strerror(err));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return lam_fail(e, LAM_ERR_IO, "is a directory, not a file");
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return lam_fail(e, LAM_ERR_IO, "not a regular file");
    }
    if (sb.st_size < 0 || (unsigned long long)sb.st_size > (unsigned long long)max_bytes) {
        close(fd);
        return lam_fail(e, LAM_ERR_FORMAT, "file too large (%lld bytes, at most %zu)", (long long)sb.st_size,
                        max_bytes);
    }
    size_t n = (size_t)sb.st_size;
    unsigned char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return lam_fail(e, LAM_ERR_NOMEM, "out of memory reading %zu bytes", n);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int err = errno;
            free(buf);
            close(fd);
            return lam_fail(e, LAM_ERR_IO, "read failed: %s", strerror(err));
        }
        if (r == 0) break;   /* shrank meanwhile */
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return LAM_OK;
}

int lam_file_is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

struct lam_file_sink {
    int fd;
};

lam_status lam_file_sink_write(lam_file_sink *s, const void *buf, size_t n, lam_error *e) {
    const unsigned char *p = buf;
    while (n) {
        size_t chunk = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n;
        ssize_t w = write(s->fd, p, chunk);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return lam_fail(e, LAM_ERR_IO, "write failed: %s", w < 0 ? strerror(errno) : "no progress");
        p += w;
        n -= (size_t)w;
    }
    return LAM_OK;
}

/* dir: the directory part of path ("." when none); base: the last part. */
static int split_path(const char *path, char **dir, const char **base) {
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) : 1;
    *dir = malloc(dlen + 1);
    if (!*dir) return -1;
    if (!slash) memcpy(*dir, ".", 1);
    else if (dlen == 0) { memcpy(*dir, "/", 1); dlen = 1; }
    else memcpy(*dir, path, dlen);
    (*dir)[dlen] = '\0';
    *base = slash ? slash + 1 : path;
    return 0;
}

/* Makes a rename inside dir durable. */
static lam_status sync_dir(const char *dir, lam_error *e) {
    int dfd = open(dir, O_RDONLY | O_CLOEXEC);
    if (dfd < 0) return LAM_OK;
    lam_status st = LAM_OK;
    /* Some file systems refuse fsync on a directory (EINVAL): the rename is
     * then as durable as they make it. */
    if (fsync(dfd) != 0 && errno != EINVAL && errno != EBADF)
        st = lam_fail(e, LAM_ERR_IO, "fsync of the directory failed: %s", strerror(errno));
    close(dfd);
    return st;
}

lam_status lam_file_rename(const char *from, const char *to, lam_error *e) {
    if (rename(from, to) != 0) return lam_fail(e, LAM_ERR_IO, "cannot rename %s to %s: %s", from, to, strerror(errno));
    char *dir;
    const char *base;
    if (split_path(to, &dir, &base) != 0) return lam_fail(e, LAM_ERR_NOMEM, "out of memory");
    lam_status st = sync_dir(dir, e);
    free(dir);
    return st;
}

static atomic_ulong temp_counter;   /* unique temporary names across threads */

lam_status lam_file_write_atomic(const char *path, lam_file_producer fn, void *ctx, lam_error *e) {
    char *dir;
    const char *base;
    if (!*path) return lam_fail(e, LAM_ERR_ARG, "empty file name");
    if (split_path(path, &dir, &base) != 0) return lam_fail(e, LAM_ERR_NOMEM, "out of memory");
    if (!*base) {
        free(dir);
        return lam_fail(e, LAM_ERR_ARG, "file name ends with '/'");
    }
    if (lam_file_is_dir(path)) {
        free(dir);
        return lam_fail(e, LAM_ERR_IO, "is a directory, not a file");
    }
    size_t tlen = strlen(path) + 64;
    char *tmp = malloc(tlen);
    if (!tmp) {
        free(dir);
        return lam_fail(e, LAM_ERR_NOMEM, "out of memory");
    }
    int fd = -1, err = 0;
    int prefix = (int)(base - path);   /* "dir/" part of path, possibly empty */
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(tmp, tlen, "%.*s.%s.tmp.%ld.%lu", prefix, path, base, (long)getpid(),
                 (unsigned long)atomic_fetch_add(&temp_counter, 1));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        err = errno;
        if (fd < 0 && err != EEXIST && err != EISDIR) break;   /* EEXIST: taken (a file or directory), next name */
    }
    if (fd < 0) {
        free(tmp);
        free(dir);
        return lam_fail(e, LAM_ERR_IO, "cannot create a temporary file beside it: %s", strerror(err));
    }
    lam_file_sink sink = {fd};
    lam_status st = fn(ctx, &sink, e);
    if (st == LAM_OK && fsync(fd) != 0) st = lam_fail(e, LAM_ERR_IO, "fsync failed: %s", strerror(errno));
    if (close(fd) != 0 && st == LAM_OK) st = lam_fail(e, LAM_ERR_IO, "close failed: %s", strerror(errno));
    if (st == LAM_OK && rename(tmp, path) != 0) st = lam_fail(e, LAM_ERR_IO, "rename failed: %s", strerror(errno));
    if (st != LAM_OK) unlink(tmp);
    else st = sync_dir(dir, e);
    free(tmp);
    free(dir);
    return st;
}

typedef struct {
    const void *data;
    size_t len;
} buf_ctx;

static lam_status buf_producer(void *ctx, lam_file_sink *sink, lam_error *e) {
    buf_ctx *b = ctx;
    return lam_file_sink_write(sink, b->data, b->len, e);
}

lam_status lam_file_write_atomic_buf(const char *path, const void *data, size_t len, lam_error *e) {
    buf_ctx b = {data, len};
    return lam_file_write_atomic(path, buf_producer, &b, e);
}
