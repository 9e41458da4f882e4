/* lamina inspect FILE: the tensors, dtypes, shapes and metadata of any
 * safetensors file. */
#include "cli/args.h"
#include "cli/cli.h"
#include "io/json.h"
#include "io/safetensors.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: lamina inspect FILE\n"
            "\n"
            "Prints every tensor of a safetensors file in file order (name, dtype, shape,\n"
            "element count, byte range in the data section), the totals and the\n"
            "__metadata__ entries.  Exit status 2 for an invalid file, 1 for an I/O error.\n");
}

/* Names are printed as they are unless they hold control characters or
 * spaces (which would break the columns): then as a JSON string. */
static void put_name(lam_strbuf *b, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7F) {
            lam_sb_json_string(b, s, strlen(s));
            return;
        }
    if (!*s) lam_sb_puts(b, "\"\"");
    else lam_sb_puts(b, s);
}

int cli_inspect(int argc, char **argv) {
    cli_flag flags[1];
    const char *pos[1];
    size_t npos = 0;
    int rc = cli_parse("inspect", flags, 0, argc, argv, pos, 1, &npos);
    if (rc == CLI_HELP) {
        usage(stdout);
        return 0;
    }
    if (rc) return rc;
    if (npos != 1) {
        fprintf(stderr, "lamina inspect: expects one FILE (see lamina inspect --help)\n");
        return 2;
    }
    const char *path = pos[0];
    lam_st *st;
    lam_error err;
    lam_status s = lam_st_open(&st, path, &err);
    if (s) {
        fprintf(stderr, "lamina inspect: %s: %s\n", path, err.msg);
        return s == LAM_ERR_FORMAT ? 2 : 1;
    }
    size_t n = lam_st_count(st);
    /* column widths */
    lam_strbuf cell = {0};
    size_t wname = 4, wshape = 5;
    unsigned long long total_elems = 0;
    for (size_t i = 0; i < n; i++) {
        const lam_st_tensor *t = lam_st_at(st, i);
        cell.len = 0;
        put_name(&cell, t->name);
        if (cell.len > wname) wname = cell.len;
        cell.len = 0;
        lam_sb_puts(&cell, "[");
        for (size_t k = 0; k < t->ndim; k++) lam_sb_printf(&cell, "%s%llu", k ? ", " : "", (unsigned long long)t->shape[k]);
        lam_sb_puts(&cell, "]");
        if (cell.len > wshape) wshape = cell.len;
        total_elems += t->numel;
    }
    if (wname > 60) wname = 60;
    printf("file: %s\n", path);
    printf("header: %llu bytes, data: %llu bytes, tensors: %zu\n", (unsigned long long)lam_st_header_len(st),
           (unsigned long long)lam_st_data_len(st), n);
    if (n) printf("%-*s  %-7s  %-*s  %12s  %s\n", (int)wname, "name", "dtype", (int)wshape, "shape", "elements", "bytes");
    for (size_t i = 0; i < n; i++) {
        const lam_st_tensor *t = lam_st_at(st, i);
        cell.len = 0;
        put_name(&cell, t->name);
        printf("%-*s  ", (int)wname, cell.oom ? "?" : cell.p);
        cell.len = 0;
        lam_sb_puts(&cell, "[");
        for (size_t k = 0; k < t->ndim; k++) lam_sb_printf(&cell, "%s%llu", k ? ", " : "", (unsigned long long)t->shape[k]);
        lam_sb_puts(&cell, "]");
        printf("%-7s  %-*s  %12llu  [%llu, %llu)\n", lam_dtype_name(t->dtype), (int)wshape, cell.oom ? "?" : cell.p,
               (unsigned long long)t->numel, (unsigned long long)t->begin, (unsigned long long)t->end);
    }
    printf("total: %zu tensors, %llu elements, %llu bytes\n", n, total_elems, (unsigned long long)lam_st_data_len(st));
    size_t nm = lam_st_metadata_count(st);
    printf("metadata: %zu entr%s\n", nm, nm == 1 ? "y" : "ies");
    for (size_t i = 0; i < nm; i++) {
        const char *k, *v;
        lam_st_metadata_at(st, i, &k, &v);
        cell.len = 0;
        put_name(&cell, k);
        printf("  %s = %s\n", cell.oom ? "?" : cell.p, v);
    }
    lam_sb_free(&cell);
    lam_st_close(st);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "lamina inspect: writing the output failed\n");
        return 1;
    }
    return 0;
}
