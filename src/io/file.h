/* Internal: whole-file reads with a size cap, and atomic writes.
 *
 * An atomic write goes to a new temporary file in the target's directory
 * (".NAME.tmp.PID.N", created exclusively), is fsync'ed, renamed over NAME and
 * the directory is fsync'ed.  Whatever fails, NAME is either its old self or
 * the complete new file, never a partial one, and the temporary is removed. */
#ifndef LAMINA_IO_FILE_H
#define LAMINA_IO_FILE_H

#include "lamina.h"

#include <stddef.h>

/* Reads the regular file at path into *data (malloc'd, with one extra NUL
 * byte after the end) and *len.  Errors: LAM_ERR_IO (missing, unreadable, a
 * directory or not a regular file), LAM_ERR_FORMAT (larger than max_bytes). */
lam_status lam_file_read(const char *path, size_t max_bytes, unsigned char **data, size_t *len, lam_error *e);

/* Where an atomic writer's producer sends its bytes. */
typedef struct lam_file_sink lam_file_sink;
/* Appends n bytes; returns LAM_OK or LAM_ERR_IO (e is filled). */
lam_status lam_file_sink_write(lam_file_sink *s, const void *buf, size_t n, lam_error *e);

/* Produces the file's content through lam_file_sink_write.  Returns LAM_OK,
 * or an error (with e filled) to abandon the write. */
typedef lam_status (*lam_file_producer)(void *ctx, lam_file_sink *sink, lam_error *e);

/* Writes path atomically with the bytes produced by fn(ctx, ...). */
lam_status lam_file_write_atomic(const char *path, lam_file_producer fn, void *ctx, lam_error *e);
/* The same for a buffer. */
lam_status lam_file_write_atomic_buf(const char *path, const void *data, size_t len, lam_error *e);

/* Renames from to to (replacing it atomically) and fsyncs to's directory. */
lam_status lam_file_rename(const char *from, const char *to, lam_error *e);

/* 1 when path names an existing directory, else 0. */
int lam_file_is_dir(const char *path);

#endif
