/* What train, sample and eval share: reading a data file and loading a
 * trained model, each failure one line and an exit status (2 for a user
 * mistake, 1 for an I/O or runtime failure). */
#define _POSIX_C_SOURCE 200809L
#include "cli/cli.h"
#include "io/checkpoint.h"
#include "io/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CLI_MAX_DATA ((size_t)8 << 30)   /* 8 GiB of bytes */

int cli_read_data(const char *cmd, const char *path, size_t min_len, unsigned char **data, size_t *len) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "lamina %s: %s: %s\n", cmd, path, strerror(errno));
        return errno == ENOENT || errno == ENOTDIR ? 2 : 1;
    }
    if (S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "lamina %s: %s is a directory, expected a data file\n", cmd, path);
        return 2;
    }
    if (!S_ISREG(sb.st_mode)) {
        fprintf(stderr, "lamina %s: %s is not a regular file\n", cmd, path);
        return 2;
    }
    lam_error e;
    lam_status s = lam_file_read(path, CLI_MAX_DATA, data, len, &e);
    if (s) {
        fprintf(stderr, "lamina %s: %s: %s\n", cmd, path, e.msg);
        return s == LAM_ERR_FORMAT ? 2 : 1;
    }
    if (*len == 0 || *len < min_len) {
        fprintf(stderr, "lamina %s: %s is %s (%zu bytes); it needs at least %zu bytes\n", cmd, path,
                *len ? "too short" : "empty", *len, min_len);
        free(*data);
        *data = NULL;
        return 2;
    }
    return 0;
}

void cli_model_path(char *out, size_t n, const char *dir_or_file) {
    if (lam_file_is_dir(dir_or_file)) {
        size_t dl = strlen(dir_or_file);
        snprintf(out, n, "%s%smodel.safetensors", dir_or_file, dl && dir_or_file[dl - 1] == '/' ? "" : "/");
    } else {
        snprintf(out, n, "%s", dir_or_file);
    }
}

int cli_load_model(const char *cmd, const char *dir_or_file, size_t max_batch, lam_model **out) {
    char path[4096];
    cli_model_path(path, sizeof path, dir_or_file);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "lamina %s: %s: %s\n", cmd, path, strerror(errno));
        return errno == ENOENT || errno == ENOTDIR ? 2 : 1;
    }
    lam_model_config c;
    lam_error e;
    lam_status s = lam_ckpt_read_config(path, &c, NULL, &e);
    if (s) {
        fprintf(stderr, "lamina %s: %s: %s\n", cmd, path, e.msg);
        return s == LAM_ERR_IO || s == LAM_ERR_NOMEM ? 1 : 2;
    }
    s = lam_model_create(out, &c, max_batch, 0, &e);
    if (s) {
        fprintf(stderr, "lamina %s: %s: %s\n", cmd, path, e.msg);
        return s == LAM_ERR_NOMEM ? 1 : 2;
    }
    s = lam_ckpt_load_model(path, *out, NULL, &e);
    if (s) {
        fprintf(stderr, "lamina %s: %s: %s\n", cmd, path, e.msg);
        lam_model_free(*out);
        *out = NULL;
        return s == LAM_ERR_IO || s == LAM_ERR_NOMEM ? 1 : 2;
    }
    return 0;
}

/* mkdir -p for the parents of dir (not dir itself); 0 or -1 with errno. */
static int make_parents(const char *dir) {
    char path[4096];
    size_t n = strlen(dir);
    if (n >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(path, dir, n + 1);
    while (n > 1 && path[n - 1] == '/') path[--n] = 0;   /* trailing slashes */
    for (size_t i = 1; i < n; i++) {
        if (path[i] != '/') continue;
        path[i] = 0;
        struct stat sb;
        if (stat(path, &sb) != 0 && mkdir(path, 0777) != 0 && errno != EEXIST) return -1;
        path[i] = '/';
    }
    return 0;
}

/* Creates dir, and its missing parents, when missing; 0 or an exit status. */
int cli_ensure_dir(const char *cmd, const char *flag, const char *dir) {
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "lamina %s: %s %s exists and is not a directory\n", cmd, flag, dir);
            return 2;
        }
        return 0;
    }
    /* another process (an MPI rank) may create it at the same moment */
    if (make_parents(dir) != 0 || (mkdir(dir, 0777) != 0 && !(errno == EEXIST && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)))) {
        fprintf(stderr, "lamina %s: cannot create %s %s: %s\n", cmd, flag, dir, strerror(errno));
        return errno == ENOENT || errno == ENOTDIR ? 2 : 1;
    }
    return 0;
}
