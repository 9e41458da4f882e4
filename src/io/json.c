/* A small strict JSON parser and a string builder; see json.h. */
#include "io/json.h"
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- UTF-8 */

/* Length of the well-formed UTF-8 sequence at s[0..n), or 0 when it is not
 * one (RFC 3629 table: no overlongs, no surrogates, max U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) { len = 3; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) len = 3;
    else if (c == 0xED) { len = 3; hi = 0x9F; }
    else if (c >= 0xEE && c <= 0xEF) len = 3;
    else if (c == 0xF0) { len = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) { len = 4; hi = 0x8F; }
    else return 0;
    if (n < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if (s[k] < 0x80 || s[k] > 0xBF) return 0;
    return len;
}

int lam_utf8_valid(const unsigned char *s, size_t n, size_t *bad) {
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq(s + i, n - i);
        if (!k) {
            if (bad) *bad = i;
            return 0;
        }
        i += k;
    }
    return 1;
}

/* ---------------------------------------------------------- string builder */

static int sb_reserve(lam_strbuf *b, size_t extra) {
    if (b->oom) return 0;
    if (extra > (size_t)-1 / 2 - b->len) { b->oom = 1; return 0; }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) { b->oom = 1; return 0; }
    b->p = p;
    b->cap = cap;
    return 1;
}

void lam_sb_put(lam_strbuf *b, const char *s, size_t n) {
    if (!sb_reserve(b, n)) return;
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void lam_sb_puts(lam_strbuf *b, const char *s) { lam_sb_put(b, s, strlen(s)); }

void lam_sb_printf(lam_strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) { b->oom = 1; return; }
    if (!sb_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void lam_sb_json_string(lam_strbuf *b, const char *s, size_t n) {
    lam_sb_put(b, "\"", 1);
    size_t run = 0;   /* start of the pending run of bytes copied as they are */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '\n') esc = "\\n";
        else if (c == '\r') esc = "\\r";
        else if (c == '\t') esc = "\\t";
        else if (c == '\b') esc = "\\b";
        else if (c == '\f') esc = "\\f";
        else if (c < 0x20) { snprintf(u, sizeof u, "\\u%04x", c); esc = u; }
        if (esc) {
            lam_sb_put(b, s + run, i - run);
            lam_sb_puts(b, esc);
            run = i + 1;
        }
    }
    lam_sb_put(b, s + run, n - run);
    lam_sb_put(b, "\"", 1);
}

void lam_sb_free(lam_strbuf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

/* ------------------------------------------------------------------ parser */

typedef struct {
    const unsigned char *s;
    size_t n, i;
    lam_error *e;
    lam_status st;
} parser;

static lam_status perr(parser *p, size_t at, const char *what) {
    if (p->st == LAM_OK) p->st = lam_fail(p->e, LAM_ERR_FORMAT, "JSON error at byte %zu: %s", at, what);
    return p->st;
}
static lam_status poom(parser *p) {
    if (p->st == LAM_OK) p->st = lam_fail(p->e, LAM_ERR_NOMEM, "out of memory while parsing JSON");
    return p->st;
}

static void skip_ws(parser *p) {
    while (p->i < p->n) {
        unsigned char c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->i++;
    }
}

static int hex4(const unsigned char *s, unsigned *out) {
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = s[k], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

static void put_utf8(lam_strbuf *b, unsigned cp) {
    char o[4];
    size_t k;
    if (cp < 0x80) { o[0] = (char)cp; k = 1; }
    else if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); k = 2; }
    else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)); k = 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F)); k = 4;
    }
    lam_sb_put(b, o, k);
}

/* Parses a string literal at p->i (which is '"'); on success the decoded
 * bytes are in *out (malloc'd, NUL-terminated) and *len. */
static lam_status parse_string(parser *p, char **out, size_t *len) {
    lam_strbuf b = {0};
    size_t start = p->i;
    p->i++;   /* opening quote */
    for (;;) {
        if (p->i >= p->n) { lam_sb_free(&b); return perr(p, start, "unterminated string"); }
        unsigned char c = p->s[p->i];
        if (c == '"') { p->i++; break; }
        if (c < 0x20) { lam_sb_free(&b); return perr(p, p->i, "control character in string"); }
        if (c == '\\') {
            if (p->i + 1 >= p->n) { lam_sb_free(&b); return perr(p, p->i, "unterminated escape"); }
            unsigned char x = p->s[p->i + 1];
            char ch = 0;
            switch (x) {
            case '"': ch = '"'; break;
            case '\\': ch = '\\'; break;
            case '/': ch = '/'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'n': ch = '\n'; break;
            case 'r': ch = '\r'; break;
            case 't': ch = '\t'; break;
            case 'u': break;
            default: lam_sb_free(&b); return perr(p, p->i, "invalid escape in string");
            }
            if (x != 'u') {
                lam_sb_put(&b, &ch, 1);
                p->i += 2;
                continue;
            }
            unsigned cp;
            if (p->n - p->i < 6 || !hex4(p->s + p->i + 2, &cp)) {
                lam_sb_free(&b);
                return perr(p, p->i, "invalid \\u escape");
            }
            size_t at = p->i;
            p->i += 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF) { lam_sb_free(&b); return perr(p, at, "lone low surrogate in \\u escape"); }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (p->n - p->i < 6 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u' || !hex4(p->s + p->i + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF) {
                    lam_sb_free(&b);
                    return perr(p, at, "lone high surrogate in \\u escape");
                }
                p->i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            put_utf8(&b, cp);
            continue;
        }
        size_t k = utf8_seq(p->s + p->i, p->n - p->i);
        if (!k) { lam_sb_free(&b); return perr(p, p->i, "invalid UTF-8 in string"); }
        lam_sb_put(&b, (const char *)p->s + p->i, k);
        p->i += k;
    }
    if (!b.p) lam_sb_put(&b, "", 0);
    if (b.oom) { lam_sb_free(&b); return poom(p); }
    *out = b.p;
    *len = b.len;
    return LAM_OK;
}

static lam_status parse_number(parser *p, lam_json *v) {
    size_t start = p->i, i = p->i;
    const unsigned char *s = p->s;
    int plain = 1;
    if (i < p->n && s[i] == '-') { i++; plain = 0; }
    if (i >= p->n || s[i] < '0' || s[i] > '9') return perr(p, start, "invalid number");
    if (s[i] == '0') {
        i++;
        if (i < p->n && s[i] >= '0' && s[i] <= '9') return perr(p, start, "leading zero in number");
    } else {
        while (i < p->n && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < p->n && s[i] == '.') {
        plain = 0;
        i++;
        if (i >= p->n || s[i] < '0' || s[i] > '9') return perr(p, start, "digit expected after '.' in number");
        while (i < p->n && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < p->n && (s[i] == 'e' || s[i] == 'E')) {
        plain = 0;
        i++;
        if (i < p->n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= p->n || s[i] < '0' || s[i] > '9') return perr(p, start, "digit expected in exponent");
        while (i < p->n && s[i] >= '0' && s[i] <= '9') i++;
    }
    size_t len = i - start;
    char *t = malloc(len + 1);
    if (!t) return poom(p);
    memcpy(t, s + start, len);
    t[len] = '\0';
    v->type = LAM_JSON_NUMBER;
    v->str = t;
    v->len = len;
    v->num = strtod(t, NULL);
    if (plain) {
        uint64_t u = 0;
        int ok = 1;
        for (size_t k = 0; k < len; k++) {
            unsigned d = (unsigned)(t[k] - '0');
            if (u > (UINT64_MAX - d) / 10) { ok = 0; break; }
            u = u * 10 + d;
        }
        v->is_uint = ok;
        v->u = ok ? u : 0;
    }
    p->i = i;
    return LAM_OK;
}

static lam_status parse_value(parser *p, lam_json *v, int depth);
static lam_status parse_members(parser *p, lam_json *v, int depth, int obj, char close, size_t open_at,
                                size_t *capp, size_t **key_atp);

typedef struct {
    const char *k;
    size_t len, at;
} keyref;

static int keyref_cmp(const void *a, const void *b) {
    const keyref *x = a, *y = b;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->k, y->k, m);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->at < y->at ? -1 : (x->at > y->at);
}

/* Duplicate keys, found by sorting (O(n log n) even for huge headers);
 * reports the later occurrence of the first duplicate in document order. */
static lam_status check_dup_keys(parser *p, const lam_json *v, const size_t *key_at) {
    if (v->n < 2) return LAM_OK;
    keyref *r = malloc(v->n * sizeof *r);
    if (!r) return poom(p);
    for (size_t k = 0; k < v->n; k++) r[k] = (keyref){v->keys[k], v->key_lens[k], key_at[k]};
    qsort(r, v->n, sizeof *r, keyref_cmp);
    size_t worst = (size_t)-1;
    const char *wk = NULL;
    for (size_t k = 1; k < v->n; k++)
        if (r[k].len == r[k - 1].len && !memcmp(r[k].k, r[k - 1].k, r[k].len) && r[k].at < worst) {
            worst = r[k].at;
            wk = r[k].k;
        }
    free(r);
    if (!wk) return LAM_OK;
    char what[200];
    snprintf(what, sizeof what, "duplicate key \"%.120s\" in object", wk);
    return perr(p, worst, what);
}

static lam_status parse_container(parser *p, lam_json *v, int depth) {
    int obj = p->s[p->i] == '{';
    char close = obj ? '}' : ']';
    size_t open_at = p->i;
    if (depth >= LAM_JSON_MAX_DEPTH) return perr(p, p->i, "nesting too deep");
    v->type = obj ? LAM_JSON_OBJECT : LAM_JSON_ARRAY;
    p->i++;
    size_t cap = 0, *key_at = NULL;
    lam_status st = parse_members(p, v, depth, obj, close, open_at, &cap, &key_at);
    if (st == LAM_OK && obj) st = check_dup_keys(p, v, key_at);
    free(key_at);
    return st;
}

static lam_status parse_members(parser *p, lam_json *v, int depth, int obj, char close, size_t open_at,
                                size_t *capp, size_t **key_atp) {
    size_t cap = *capp;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == close) { p->i++; return LAM_OK; }
    for (;;) {
        if (v->n == cap) {
            size_t nc = cap ? cap * 2 : 4;
            lam_json *it = realloc(v->items, nc * sizeof *it);
            if (!it) return poom(p);
            v->items = it;
            if (obj) {
                char **ks = realloc(v->keys, nc * sizeof *ks);
                if (!ks) return poom(p);
                v->keys = ks;
                size_t *kl = realloc(v->key_lens, nc * sizeof *kl);
                if (!kl) return poom(p);
                v->key_lens = kl;
                size_t *ka = realloc(*key_atp, nc * sizeof *ka);
                if (!ka) return poom(p);
                *key_atp = ka;
            }
            cap = nc;
            *capp = cap;
        }
        lam_json *item = &v->items[v->n];
        memset(item, 0, sizeof *item);
        if (obj) {
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != '"') return perr(p, p->i, "object key (a string) expected");
            size_t kat = p->i;
            char *k;
            size_t klen;
            if (parse_string(p, &k, &klen)) return p->st;
            (*key_atp)[v->n] = kat;
            v->keys[v->n] = k;
            v->key_lens[v->n] = klen;
            v->n++;   /* counted now so the key is freed with the tree */
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') return perr(p, p->i, "':' expected after object key");
            p->i++;
        } else {
            v->n++;
        }
        if (parse_value(p, item, depth + 1)) return p->st;
        skip_ws(p);
        if (p->i >= p->n) return perr(p, open_at, obj ? "unterminated object" : "unterminated array");
        if (p->s[p->i] == ',') { p->i++; continue; }
        if (p->s[p->i] == close) { p->i++; return LAM_OK; }
        return perr(p, p->i, obj ? "',' or '}' expected in object" : "',' or ']' expected in array");
    }
}

static lam_status parse_value(parser *p, lam_json *v, int depth) {
    skip_ws(p);
    if (p->i >= p->n) return perr(p, p->i, "value expected");
    unsigned char c = p->s[p->i];
    if (c == '{' || c == '[') return parse_container(p, v, depth);
    if (c == '"') {
        v->type = LAM_JSON_STRING;
        return parse_string(p, &v->str, &v->len);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, v);
    static const struct { const char *w; lam_json_type t; } lit[] = {
        {"null", LAM_JSON_NULL}, {"true", LAM_JSON_TRUE}, {"false", LAM_JSON_FALSE}};
    for (size_t k = 0; k < 3; k++) {
        size_t L = strlen(lit[k].w);
        if (p->n - p->i >= L && !memcmp(p->s + p->i, lit[k].w, L)) {
            v->type = lit[k].t;
            p->i += L;
            return LAM_OK;
        }
    }
    return perr(p, p->i, "unexpected character");
}

static void json_clear(lam_json *v) {
    free(v->str);
    for (size_t k = 0; k < v->n; k++) {
        json_clear(&v->items[k]);
        if (v->keys) free(v->keys[k]);
    }
    free(v->items);
    free(v->keys);
    free(v->key_lens);
}

void lam_json_free(lam_json *v) {
    if (!v) return;
    json_clear(v);
    free(v);
}

lam_status lam_json_parse(lam_json **out, const char *text, size_t len, lam_error *e) {
    *out = NULL;
    lam_json *v = calloc(1, sizeof *v);
    if (!v) return lam_fail(e, LAM_ERR_NOMEM, "out of memory while parsing JSON");
    parser p = {(const unsigned char *)text, len, 0, e, LAM_OK};
    if (parse_value(&p, v, 0) == LAM_OK) {
        skip_ws(&p);
        if (p.i != p.n) perr(&p, p.i, "trailing characters after the JSON value");
    }
    if (p.st != LAM_OK) {
        lam_json_free(v);
        return p.st;
    }
    *out = v;
    return LAM_OK;
}

const lam_json *lam_json_get(const lam_json *v, const char *key) {
    if (!v || v->type != LAM_JSON_OBJECT) return NULL;
    size_t klen = strlen(key);
    for (size_t k = 0; k < v->n; k++)
        if (v->key_lens[k] == klen && !memcmp(v->keys[k], key, klen)) return &v->items[k];
    return NULL;
}

const char *lam_json_type_name(lam_json_type t) {
    switch (t) {
    case LAM_JSON_NULL: return "null";
    case LAM_JSON_FALSE:
    case LAM_JSON_TRUE: return "boolean";
    case LAM_JSON_NUMBER: return "number";
    case LAM_JSON_STRING: return "string";
    case LAM_JSON_ARRAY: return "array";
    case LAM_JSON_OBJECT: return "object";
    }
    return "?";
}
