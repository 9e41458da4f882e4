/* safetensors reader and writer; see safetensors.h. */
#define _POSIX_C_SOURCE 200809L
#include "io/safetensors.h"
#include "base/error.h"
#include "io/file.h"
#include "io/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "lamina's safetensors I/O assumes a little-endian host"
#endif

/* ---------------------------------------------------------------- dtypes */

static const struct { const char *name; unsigned bits; } dtypes[LAM_DT_COUNT] = {
    [LAM_DT_BOOL] = {"BOOL", 8},       [LAM_DT_F4] = {"F4", 4},
    [LAM_DT_F6_E2M3] = {"F6_E2M3", 6}, [LAM_DT_F6_E3M2] = {"F6_E3M2", 6},
    [LAM_DT_U8] = {"U8", 8},           [LAM_DT_I8] = {"I8", 8},
    [LAM_DT_F8_E5M2] = {"F8_E5M2", 8}, [LAM_DT_F8_E4M3] = {"F8_E4M3", 8},
    [LAM_DT_F8_E8M0] = {"F8_E8M0", 8}, [LAM_DT_I16] = {"I16", 16},
    [LAM_DT_U16] = {"U16", 16},        [LAM_DT_F16] = {"F16", 16},
    [LAM_DT_BF16] = {"BF16", 16},      [LAM_DT_I32] = {"I32", 32},
    [LAM_DT_U32] = {"U32", 32},        [LAM_DT_F32] = {"F32", 32},
    [LAM_DT_C64] = {"C64", 64},        [LAM_DT_F64] = {"F64", 64},
    [LAM_DT_I64] = {"I64", 64},        [LAM_DT_U64] = {"U64", 64},
};

const char *lam_dtype_name(lam_dtype t) { return (unsigned)t < LAM_DT_COUNT ? dtypes[t].name : "?"; }
unsigned lam_dtype_bits(lam_dtype t) { return (unsigned)t < LAM_DT_COUNT ? dtypes[t].bits : 0; }
int lam_dtype_parse(const char *s) {
    for (int k = 0; k < LAM_DT_COUNT; k++)
        if (!strcmp(s, dtypes[k].name)) return k;
    return -1;
}

float lam_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu, bits;
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exact in float32 */
        float v = (float)mant * 0x1p-24f;
        memcpy(&bits, &v, 4);
        bits |= sign;
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (mant << 13);   /* inf, or NaN with its payload */
    } else {
        bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float lam_bf16_to_f32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* ---------------------------------------------------------------- reader */

typedef struct {
    char *key, *value;
} st_meta;

struct lam_st {
    int fd;                       /* file, or -1 for a memory buffer */
    const unsigned char *mem;
    uint64_t header_len, data_len, data_start;
    size_t count;
    lam_st_tensor *t;             /* sorted by offset */
    const lam_st_tensor **by_name;   /* into t, sorted by name */
    uint64_t *shapes;             /* every tensor's dims, back to back */
    char **names;
    size_t nmeta;
    st_meta *meta;
};

void lam_st_close(lam_st *st) {
    if (!st) return;
    if (st->fd >= 0) close(st->fd);
    for (size_t k = 0; k < st->count; k++) free(st->names[k]);
    for (size_t k = 0; k < st->nmeta; k++) {
        free(st->meta[k].key);
        free(st->meta[k].value);
    }
    free(st->names);
    free(st->t);
    free(st->by_name);
    free(st->shapes);
    free(st->meta);
    free(st);
}

uint64_t lam_st_header_len(const lam_st *st) { return st->header_len; }
uint64_t lam_st_data_len(const lam_st *st) { return st->data_len; }
size_t lam_st_count(const lam_st *st) { return st->count; }
const lam_st_tensor *lam_st_at(const lam_st *st, size_t i) { return i < st->count ? &st->t[i] : NULL; }
size_t lam_st_metadata_count(const lam_st *st) { return st->nmeta; }
void lam_st_metadata_at(const lam_st *st, size_t i, const char **key, const char **value) {
    *key = st->meta[i].key;
    *value = st->meta[i].value;
}
const char *lam_st_metadata(const lam_st *st, const char *key) {
    for (size_t k = 0; k < st->nmeta; k++)
        if (!strcmp(st->meta[k].key, key)) return st->meta[k].value;
    return NULL;
}

static int cmp_offsets(const void *a, const void *b) {
    const lam_st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp((*(const lam_st_tensor *const *)a)->name, (*(const lam_st_tensor *const *)b)->name);
}

const lam_st_tensor *lam_st_find(const lam_st *st, const char *name) {
    size_t lo = 0, hi = st->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->by_name[mid]->name, name);
        if (!c) return st->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* Writes "[2, 3]" into buf. */
static void fmt_shape(char *buf, size_t cap, const uint64_t *shape, size_t ndim) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (size_t k = 0; k < ndim && o < cap; k++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%llu", k ? ", " : "", (unsigned long long)shape[k]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

/* Names in messages: at most 160 bytes of them. */
#define NM "'%.160s'"

static lam_status bad(lam_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static lam_status bad(lam_error *e, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->status = LAM_ERR_FORMAT;
    }
    return LAM_ERR_FORMAT;
}

/* A JSON value that must be a non-negative integer (usize in the reference). */
static int get_uint(const lam_json *v, uint64_t *out) {
    if (v->type != LAM_JSON_NUMBER || !v->is_uint) return 0;
    *out = v->u;
    return 1;
}

/* Parses and validates the header; file_len is the whole file's length. */
static lam_status parse_header(lam_st *st, const unsigned char *hdr, uint64_t n, uint64_t file_len, lam_error *e) {
    size_t badat;
    if (!lam_utf8_valid(hdr, (size_t)n, &badat)) return bad(e, "header is not valid UTF-8 (byte %zu of the header)", badat);
    if (n == 0 || hdr[0] != '{') return bad(e, "header does not start with '{' (not a JSON object)");
    lam_json *root;
    lam_error je;
    lam_status s = lam_json_parse(&root, (const char *)hdr, (size_t)n, &je);
    if (s == LAM_ERR_NOMEM) return lam_fail(e, s, "%s", je.msg);
    if (s) return bad(e, "header is not valid JSON: %s", je.msg);
    if (root->type != LAM_JSON_OBJECT) {
        lam_json_free(root);
        return bad(e, "header is not a JSON object");
    }
    size_t ntensors = root->n, ndims = 0;
    const lam_json *meta = NULL;
    /* first pass: structure, counts */
    for (size_t k = 0; k < root->n; k++) {
        const char *name = root->keys[k];
        const lam_json *v = &root->items[k];
        if (!strcmp(name, "__metadata__") && root->key_lens[k] == 12) {
            meta = v;
            ntensors--;
            if (v->type != LAM_JSON_OBJECT) {
                s = bad(e, "__metadata__ is not a string-to-string map (it is a %s)", lam_json_type_name(v->type));
                goto out;
            }
            for (size_t j = 0; j < v->n; j++) {
                if (v->items[j].type != LAM_JSON_STRING) {
                    s = bad(e, "__metadata__ is not a string-to-string map (value of " NM " is a %s)", v->keys[j],
                            lam_json_type_name(v->items[j].type));
                    goto out;
                }
                if (strlen(v->keys[j]) != v->key_lens[j] || strlen(v->items[j].str) != v->items[j].len) {
                    s = bad(e, "__metadata__ entry " NM " contains a NUL character", v->keys[j]);
                    goto out;
                }
            }
            continue;
        }
        if (strlen(name) != root->key_lens[k]) {
            s = bad(e, "tensor name " NM "... contains a NUL character", name);
            goto out;
        }
        if (v->type != LAM_JSON_OBJECT) {
            s = bad(e, "tensor " NM ": entry is a %s, not an object", name, lam_json_type_name(v->type));
            goto out;
        }
        const lam_json *dt = lam_json_get(v, "dtype"), *sh = lam_json_get(v, "shape"),
                       *off = lam_json_get(v, "data_offsets");
        if (!dt || !sh || !off) {
            s = bad(e, "tensor " NM ": missing \"%s\"", name, !dt ? "dtype" : !sh ? "shape" : "data_offsets");
            goto out;
        }
        if (dt->type != LAM_JSON_STRING) {
            s = bad(e, "tensor " NM ": dtype is a %s, not a string", name, lam_json_type_name(dt->type));
            goto out;
        }
        if (lam_dtype_parse(dt->str) < 0) {
            s = bad(e, "tensor " NM ": unknown dtype '%.40s'", name, dt->str);
            goto out;
        }
        if (sh->type != LAM_JSON_ARRAY) {
            s = bad(e, "tensor " NM ": shape is a %s, not an array", name, lam_json_type_name(sh->type));
            goto out;
        }
        for (size_t j = 0; j < sh->n; j++) {
            uint64_t d;
            if (!get_uint(&sh->items[j], &d)) {
                s = bad(e, "tensor " NM ": shape entry %zu is not a non-negative integer (%.40s)", name, j,
                        sh->items[j].type == LAM_JSON_NUMBER ? sh->items[j].str
                                                             : lam_json_type_name(sh->items[j].type));
                goto out;
            }
        }
        ndims += sh->n;
        uint64_t a, b;
        if (off->type != LAM_JSON_ARRAY || off->n != 2 || !get_uint(&off->items[0], &a) ||
            !get_uint(&off->items[1], &b)) {
            s = bad(e, "tensor " NM ": data_offsets is not a pair of non-negative integers", name);
            goto out;
        }
    }
    st->t = calloc(ntensors ? ntensors : 1, sizeof *st->t);
    st->by_name = malloc((ntensors ? ntensors : 1) * sizeof *st->by_name);
    st->names = calloc(ntensors ? ntensors : 1, sizeof *st->names);
    st->shapes = malloc((ndims ? ndims : 1) * sizeof *st->shapes);
    size_t nm = meta ? meta->n : 0;
    st->meta = calloc(nm ? nm : 1, sizeof *st->meta);
    if (!st->t || !st->by_name || !st->names || !st->shapes || !st->meta) goto oom;
    /* second pass: fill */
    size_t ti = 0, di = 0;
    for (size_t k = 0; k < root->n; k++) {
        const lam_json *v = &root->items[k];
        if (v == meta) continue;
        lam_st_tensor *t = &st->t[ti];
        st->names[ti] = strdup(root->keys[k]);
        if (!st->names[ti]) goto oom;
        ti++;
        st->count = ti;
        t->name = st->names[ti - 1];
        t->dtype = (lam_dtype)lam_dtype_parse(lam_json_get(v, "dtype")->str);
        const lam_json *sh = lam_json_get(v, "shape"), *off = lam_json_get(v, "data_offsets");
        t->ndim = sh->n;
        t->shape = st->shapes + di;
        uint64_t numel = 1;
        int overflow = 0;
        for (size_t j = 0; j < sh->n; j++) {
            uint64_t d = sh->items[j].u;
            st->shapes[di++] = d;
            if (d && numel > UINT64_MAX / d) overflow = 1;
            else numel *= d;
        }
        for (size_t j = 0; j < sh->n; j++)
            if (sh->items[j].u == 0) { numel = 0; overflow = 0; }
        t->numel = numel;
        t->begin = off->items[0].u;
        t->end = off->items[1].u;
        if (overflow || numel > UINT64_MAX / 64) {
            char sbuf[160];
            fmt_shape(sbuf, sizeof sbuf, t->shape, t->ndim);
            s = bad(e, "tensor " NM ": shape %s overflows", t->name, sbuf);
            goto out;
        }
    }
    for (size_t j = 0; j < nm; j++) {
        st->meta[j].key = strdup(meta->keys[j]);
        st->meta[j].value = strdup(meta->items[j].str);
        st->nmeta = j + 1;
        if (!st->meta[j].key || !st->meta[j].value) goto oom;
    }
    /* tensor names unique: the JSON parser refuses duplicate keys */
    qsort(st->t, st->count, sizeof *st->t, cmp_offsets);
    uint64_t pos = 0;
    for (size_t k = 0; k < st->count; k++) {
        const lam_st_tensor *t = &st->t[k];
        if (t->end < t->begin) {
            s = bad(e, "tensor " NM ": data_offsets [%llu, %llu] end before they begin", t->name,
                    (unsigned long long)t->begin, (unsigned long long)t->end);
            goto out;
        }
        if (t->begin < pos) {
            s = bad(e, "tensor " NM ": data_offsets [%llu, %llu] overlap the previous tensor (which ends at %llu)",
                    t->name, (unsigned long long)t->begin, (unsigned long long)t->end, (unsigned long long)pos);
            goto out;
        }
        if (t->begin > pos) {
            s = bad(e, "tensor " NM ": data_offsets [%llu, %llu] leave a hole of %llu bytes before it", t->name,
                    (unsigned long long)t->begin, (unsigned long long)t->end, (unsigned long long)(t->begin - pos));
            goto out;
        }
        unsigned bits = lam_dtype_bits(t->dtype);
        uint64_t nbits = t->numel * bits;   /* numel <= UINT64_MAX / 64 was checked */
        char sbuf[160];
        fmt_shape(sbuf, sizeof sbuf, t->shape, t->ndim);
        if (nbits % 8) {
            s = bad(e, "tensor " NM ": shape %s of %s is not a whole number of bytes", t->name, sbuf,
                    lam_dtype_name(t->dtype));
            goto out;
        }
        if (t->end - t->begin != nbits / 8) {
            s = bad(e, "tensor " NM ": data_offsets [%llu, %llu] span %llu bytes but shape %s of %s needs %llu",
                    t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                    (unsigned long long)(t->end - t->begin), sbuf, lam_dtype_name(t->dtype),
                    (unsigned long long)(nbits / 8));
            goto out;
        }
        pos = t->end;
    }
    st->data_start = 8 + n;
    st->data_len = pos;
    if (file_len - st->data_start != pos) {
        if (file_len - st->data_start > pos)
            s = bad(e, "%llu trailing bytes after the last tensor's data",
                    (unsigned long long)(file_len - st->data_start - pos));
        else
            s = bad(e, "tensor " NM ": data ends at byte %llu of the data section but the file holds only %llu bytes "
                       "of data (truncated?)",
                    st->count ? st->t[st->count - 1].name : "?", (unsigned long long)pos,
                    (unsigned long long)(file_len - st->data_start));
        goto out;
    }
    for (size_t k = 0; k < st->count; k++) st->by_name[k] = &st->t[k];
    qsort(st->by_name, st->count, sizeof *st->by_name, cmp_names);
    s = LAM_OK;
    goto out;
oom:
    s = lam_fail(e, LAM_ERR_NOMEM, "out of memory reading the header");
out:
    lam_json_free(root);
    return s;
}

static lam_status st_new(lam_st **out, lam_error *e) {
    *out = calloc(1, sizeof **out);
    if (!*out) return lam_fail(e, LAM_ERR_NOMEM, "out of memory");
    (*out)->fd = -1;
    return LAM_OK;
}

/* Checks the 8-byte prefix: returns N or fails. */
static lam_status check_prefix(const unsigned char *p8, uint64_t file_len, uint64_t *n, lam_error *e) {
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--) v = (v << 8) | p8[k];
    if (v > LAM_ST_MAX_HEADER) return bad(e, "header length %llu exceeds the 100 MB limit", (unsigned long long)v);
    if (v > file_len - 8)
        return bad(e, "header length %llu runs past the end of the file (%llu bytes)", (unsigned long long)v,
                   (unsigned long long)file_len);
    *n = v;
    return LAM_OK;
}

static lam_status short_file(uint64_t len, lam_error *e) {
    if (len == 0) return bad(e, "empty file (not a safetensors file)");
    return bad(e, "file too short for a safetensors header (%llu bytes, need at least 8)", (unsigned long long)len);
}

lam_status lam_st_open_mem(lam_st **out, const void *data, size_t len, lam_error *e) {
    *out = NULL;
    if (len < 8) return short_file(len, e);
    const unsigned char *p = data;
    uint64_t n = 0;
    lam_status s = check_prefix(p, len, &n, e);
    if (s) return s;
    lam_st *st;
    if ((s = st_new(&st, e))) return s;
    st->mem = p;
    st->header_len = n;
    if ((s = parse_header(st, p + 8, n, len, e))) {
        lam_st_close(st);
        return s;
    }
    *out = st;
    return LAM_OK;
}

static lam_status pread_all(int fd, void *dst, size_t n, uint64_t off, lam_error *e) {
    unsigned char *p = dst;
    while (n) {
        size_t chunk = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n;
        ssize_t r = pread(fd, p, chunk, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return lam_fail(e, LAM_ERR_IO, "read failed: %s", strerror(errno));
        if (r == 0) return lam_fail(e, LAM_ERR_IO, "read failed: the file shrank while being read");
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return LAM_OK;
}

lam_status lam_st_open(lam_st **out, const char *path, lam_error *e) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lam_fail(e, LAM_ERR_IO, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int err = errno;
        close(fd);
        return lam_fail(e, LAM_ERR_IO, "cannot stat: %s", strerror(err));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        if (S_ISDIR(sb.st_mode)) return lam_fail(e, LAM_ERR_IO, "is a directory, not a file");
        return lam_fail(e, LAM_ERR_IO, "not a regular file");
    }
    uint64_t len = (uint64_t)sb.st_size;
    lam_status s;
    unsigned char p8[8], *hdr = NULL;
    uint64_t n = 0;
    lam_st *st = NULL;
    if (len < 8) { s = short_file(len, e); goto fail; }
    if ((s = pread_all(fd, p8, 8, 0, e))) goto fail;
    if ((s = check_prefix(p8, len, &n, e))) goto fail;
    hdr = malloc(n ? (size_t)n : 1);
    if (!hdr) { s = lam_fail(e, LAM_ERR_NOMEM, "out of memory for a %llu-byte header", (unsigned long long)n); goto fail; }
    if ((s = pread_all(fd, hdr, (size_t)n, 8, e))) goto fail;
    if ((s = st_new(&st, e))) goto fail;
    st->header_len = n;
    if ((s = parse_header(st, hdr, n, len, e))) goto fail;
    free(hdr);
    st->fd = fd;
    *out = st;
    return LAM_OK;
fail:
    free(hdr);
    lam_st_close(st);
    close(fd);
    return s;
}

lam_status lam_st_read_raw(lam_st *st, const lam_st_tensor *t, void *dst, lam_error *e) {
    size_t n = (size_t)(t->end - t->begin);
    if (st->fd < 0) {
        if (n) memcpy(dst, st->mem + st->data_start + t->begin, n);
        return LAM_OK;
    }
    lam_error re;
    lam_status s = pread_all(st->fd, dst, n, st->data_start + t->begin, &re);
    if (s) return lam_fail(e, s, "tensor " NM ": %s", t->name, re.msg);
    return LAM_OK;
}

lam_status lam_st_read_f32(lam_st *st, const char *name, float *dst, const size_t *expected_shape, size_t ndim,
                           lam_error *e) {
    const lam_st_tensor *t = lam_st_find(st, name);
    if (!t) return bad(e, "tensor " NM " is missing", name);
    int same = t->ndim == ndim;
    for (size_t k = 0; same && k < ndim; k++) same = t->shape[k] == (uint64_t)expected_shape[k];
    if (!same) {
        char got[160], want[160];
        uint64_t w[64];
        size_t nd = ndim < 64 ? ndim : 64;
        for (size_t k = 0; k < nd; k++) w[k] = expected_shape[k];
        fmt_shape(got, sizeof got, t->shape, t->ndim);
        fmt_shape(want, sizeof want, w, nd);
        return bad(e, "tensor " NM " has shape %s, expected %s", name, got, want);
    }
    if (t->dtype == LAM_DT_F32) return lam_st_read_raw(st, t, dst, e);
    if (t->dtype != LAM_DT_F16 && t->dtype != LAM_DT_BF16)
        return bad(e, "tensor " NM " has dtype %s; only F32, F16 and BF16 can be loaded", name,
                   lam_dtype_name(t->dtype));
    /* 16-bit: read into the upper half of dst, then widen front to back
     * (element i's source bytes sit at or beyond where element i lands). */
    size_t n = (size_t)t->numel;
    uint16_t *src = (uint16_t *)(void *)dst + n;   /* halves n..2n-1 of dst's 2n halves */
    lam_status s = lam_st_read_raw(st, t, src, e);
    if (s) return s;
    int bf = t->dtype == LAM_DT_BF16;
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + i, 2);   /* dst[i] is halves 2i and 2i+1: never a later source half n+j, j > i */
        dst[i] = bf ? lam_bf16_to_f32(h) : lam_f16_to_f32(h);
    }
    return LAM_OK;
}

/* ---------------------------------------------------------------- writer */

typedef struct {
    char *name;
    size_t ndim;
    size_t *shape;
    uint64_t numel;
    const float *data;
} wt;

struct lam_st_writer {
    size_t n, cap;
    wt *t;
    size_t nmeta, capmeta;
    st_meta *meta;
};

lam_st_writer *lam_st_writer_new(void) { return calloc(1, sizeof(lam_st_writer)); }

void lam_st_writer_free(lam_st_writer *w) {
    if (!w) return;
    for (size_t k = 0; k < w->n; k++) {
        free(w->t[k].name);
        free(w->t[k].shape);
    }
    for (size_t k = 0; k < w->nmeta; k++) {
        free(w->meta[k].key);
        free(w->meta[k].value);
    }
    free(w->t);
    free(w->meta);
    free(w);
}

static int valid_text(const char *s) { return lam_utf8_valid((const unsigned char *)s, strlen(s), NULL); }

lam_status lam_st_writer_add(lam_st_writer *w, const char *name, const size_t *shape, size_t ndim,
                             const float *data, lam_error *e) {
    if (!strcmp(name, "__metadata__")) return lam_fail(e, LAM_ERR_ARG, "tensor name '__metadata__' is reserved");
    if (!valid_text(name)) return lam_fail(e, LAM_ERR_ARG, "tensor name " NM " is not valid UTF-8", name);
    for (size_t k = 0; k < w->n; k++)
        if (!strcmp(w->t[k].name, name)) return lam_fail(e, LAM_ERR_ARG, "duplicate tensor name " NM, name);
    uint64_t numel = 1;
    for (size_t k = 0; k < ndim; k++) {
        if (shape[k] && numel > (UINT64_MAX / 4) / shape[k])
            return lam_fail(e, LAM_ERR_ARG, "tensor " NM ": shape too large", name);
        numel *= shape[k];
    }
    if (w->n == w->cap) {
        size_t nc = w->cap ? 2 * w->cap : 16;
        wt *t = realloc(w->t, nc * sizeof *t);
        if (!t) return lam_fail(e, LAM_ERR_NOMEM, "out of memory");
        w->t = t;
        w->cap = nc;
    }
    wt *t = &w->t[w->n];
    t->name = strdup(name);
    t->shape = malloc((ndim ? ndim : 1) * sizeof *t->shape);
    if (!t->name || !t->shape) {
        free(t->name);
        free(t->shape);
        return lam_fail(e, LAM_ERR_NOMEM, "out of memory");
    }
    if (ndim) memcpy(t->shape, shape, ndim * sizeof *shape);
    t->ndim = ndim;
    t->numel = numel;
    t->data = data;
    w->n++;
    return LAM_OK;
}

lam_status lam_st_writer_meta(lam_st_writer *w, const char *key, const char *value, lam_error *e) {
    if (!valid_text(key) || !valid_text(value))
        return lam_fail(e, LAM_ERR_ARG, "metadata " NM " is not valid UTF-8", key);
    for (size_t k = 0; k < w->nmeta; k++)
        if (!strcmp(w->meta[k].key, key)) return lam_fail(e, LAM_ERR_ARG, "duplicate metadata key " NM, key);
    if (w->nmeta == w->capmeta) {
        size_t nc = w->capmeta ? 2 * w->capmeta : 8;
        st_meta *m = realloc(w->meta, nc * sizeof *m);
        if (!m) return lam_fail(e, LAM_ERR_NOMEM, "out of memory");
        w->meta = m;
        w->capmeta = nc;
    }
    st_meta *m = &w->meta[w->nmeta];
    m->key = strdup(key);
    m->value = strdup(value);
    if (!m->key || !m->value) {
        free(m->key);
        free(m->value);
        return lam_fail(e, LAM_ERR_NOMEM, "out of memory");
    }
    w->nmeta++;
    return LAM_OK;
}

/* The header, padded with spaces so the data starts at a multiple of 8. */
static lam_status build_header(const lam_st_writer *w, lam_strbuf *b, lam_error *e) {
    lam_sb_puts(b, "{");
    if (w->nmeta) {
        lam_sb_puts(b, "\"__metadata__\":{");
        for (size_t k = 0; k < w->nmeta; k++) {
            if (k) lam_sb_puts(b, ",");
            lam_sb_json_string(b, w->meta[k].key, strlen(w->meta[k].key));
            lam_sb_puts(b, ":");
            lam_sb_json_string(b, w->meta[k].value, strlen(w->meta[k].value));
        }
        lam_sb_puts(b, "}");
    }
    uint64_t off = 0;
    for (size_t k = 0; k < w->n; k++) {
        const wt *t = &w->t[k];
        if (k || w->nmeta) lam_sb_puts(b, ",");
        lam_sb_json_string(b, t->name, strlen(t->name));
        lam_sb_puts(b, ":{\"dtype\":\"F32\",\"shape\":[");
        for (size_t j = 0; j < t->ndim; j++) lam_sb_printf(b, "%s%zu", j ? "," : "", t->shape[j]);
        uint64_t end = off + 4 * t->numel;
        lam_sb_printf(b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)end);
        off = end;
    }
    lam_sb_puts(b, "}");
    while (!b->oom && b->len % 8) lam_sb_puts(b, " ");
    if (b->oom) return lam_fail(e, LAM_ERR_NOMEM, "out of memory building the header");
    if (b->len > LAM_ST_MAX_HEADER) return lam_fail(e, LAM_ERR_ARG, "header larger than 100 MB");
    return LAM_OK;
}

typedef struct {
    const lam_st_writer *w;
    const lam_strbuf *hdr;
} wctx;

static lam_status produce(void *ctx, lam_file_sink *sink, lam_error *e) {
    const wctx *c = ctx;
    unsigned char p8[8];
    uint64_t n = c->hdr->len;
    for (int k = 0; k < 8; k++) p8[k] = (unsigned char)(n >> (8 * k));
    lam_status s = lam_file_sink_write(sink, p8, 8, e);
    if (!s) s = lam_file_sink_write(sink, c->hdr->p, c->hdr->len, e);
    for (size_t k = 0; !s && k < c->w->n; k++)
        s = lam_file_sink_write(sink, c->w->t[k].data, (size_t)(4 * c->w->t[k].numel), e);
    return s;
}

lam_status lam_st_writer_write(const lam_st_writer *w, const char *path, lam_error *e) {
    lam_strbuf hdr = {0};
    lam_status s = build_header(w, &hdr, e);
    if (!s) {
        wctx c = {w, &hdr};
        s = lam_file_write_atomic(path, produce, &c, e);
    }
    lam_sb_free(&hdr);
    return s;
}

lam_status lam_st_writer_serialize(const lam_st_writer *w, unsigned char **out, size_t *len, lam_error *e) {
    *out = NULL;
    *len = 0;
    lam_strbuf hdr = {0};
    lam_status s = build_header(w, &hdr, e);
    if (s) {
        lam_sb_free(&hdr);
        return s;
    }
    size_t total = 8 + hdr.len;
    for (size_t k = 0; k < w->n; k++) total += (size_t)(4 * w->t[k].numel);
    unsigned char *p = malloc(total);
    if (!p) {
        lam_sb_free(&hdr);
        return lam_fail(e, LAM_ERR_NOMEM, "out of memory (%zu bytes)", total);
    }
    for (int k = 0; k < 8; k++) p[k] = (unsigned char)((uint64_t)hdr.len >> (8 * k));
    memcpy(p + 8, hdr.p, hdr.len);
    size_t o = 8 + hdr.len;
    for (size_t k = 0; k < w->n; k++) {
        size_t nb = (size_t)(4 * w->t[k].numel);
        if (nb) memcpy(p + o, w->t[k].data, nb);
        o += nb;
    }
    lam_sb_free(&hdr);
    *out = p;
    *len = total;
    return LAM_OK;
}
