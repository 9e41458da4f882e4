/* Internal: a small strict JSON parser (RFC 8259) and a string builder for
 * writing JSON.  Enough for safetensors headers and lamina's config metadata.
 *
 * Strict: one value, only whitespace around it; strings must be valid UTF-8
 * without raw control characters; escapes include \uXXXX with surrogate pairs
 * (decoded to UTF-8; a lone surrogate is an error); numbers follow the JSON
 * grammar (no leading zeros, no '+', no NaN); duplicate keys in one object are
 * an error; nesting deeper than LAM_JSON_MAX_DEPTH is an error. */
#ifndef LAMINA_IO_JSON_H
#define LAMINA_IO_JSON_H

#include "lamina.h"

#include <stddef.h>
#include <stdint.h>

#define LAM_JSON_MAX_DEPTH 64

typedef enum {
    LAM_JSON_NULL,
    LAM_JSON_FALSE,
    LAM_JSON_TRUE,
    LAM_JSON_NUMBER,
    LAM_JSON_STRING,
    LAM_JSON_ARRAY,
    LAM_JSON_OBJECT
} lam_json_type;

typedef struct lam_json lam_json;
struct lam_json {
    lam_json_type type;
    /* STRING: the decoded UTF-8 bytes (NUL-terminated; len excludes the NUL,
     *         and the text may itself contain NUL bytes from \u0000).
     * NUMBER: the number as written in the source (NUL-terminated). */
    char *str;
    size_t len;
    /* NUMBER: its value as a double (may be ±inf when out of range); is_uint
     * when written as a plain non-negative integer that fits in uint64_t
     * (then u is exact). */
    double num;
    int is_uint;
    uint64_t u;
    /* ARRAY / OBJECT: n items in document order; OBJECT also has n keys
     * (decoded UTF-8, NUL-terminated, lengths in key_lens). */
    size_t n;
    lam_json *items;
    char **keys;
    size_t *key_lens;
};

/* Parses text[0..len) into a tree (*out, free with lam_json_free).  On error
 * returns LAM_ERR_FORMAT with "byte N: problem" (or LAM_ERR_NOMEM). */
lam_status lam_json_parse(lam_json **out, const char *text, size_t len, lam_error *e);
void lam_json_free(lam_json *v);

/* The member named key of an object (NULL when absent or v is not an object). */
const lam_json *lam_json_get(const lam_json *v, const char *key);
/* "null", "boolean", "number", "string", "array", "object". */
const char *lam_json_type_name(lam_json_type t);
/* Checks that s[0..n) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF); returns 1 when it is, else 0 and *bad = offset of
 * the first bad byte (bad may be NULL). */
int lam_utf8_valid(const unsigned char *s, size_t n, size_t *bad);

/* A growing byte string.  Appends after an allocation failure are no-ops and
 * leave oom set, so a sequence of appends needs one check at the end. */
typedef struct lam_strbuf {
    char *p;      /* NUL-terminated when len > 0 or after any append */
    size_t len, cap;
    int oom;
} lam_strbuf;

void lam_sb_put(lam_strbuf *b, const char *s, size_t n);
void lam_sb_puts(lam_strbuf *b, const char *s);
void lam_sb_printf(lam_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s[0..n) as a JSON string literal with quotes, escaping '"', '\\'
 * and control characters (other bytes are copied as they are). */
void lam_sb_json_string(lam_strbuf *b, const char *s, size_t n);
void lam_sb_free(lam_strbuf *b);

#endif
