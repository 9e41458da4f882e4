/* The strict JSON parser: valid documents parse to the right tree, invalid
 * ones are refused with a message, and escaping round-trips. */
#include "check.h"
#include "io/json.h"

static lam_json *parse(const char *s) {
    lam_json *v = NULL;
    lam_error e;
    if (lam_json_parse(&v, s, strlen(s), &e) != LAM_OK) return NULL;
    return v;
}

static int rejects(const char *s, size_t n, const char *why) {
    lam_json *v = NULL;
    lam_error e = {0};
    lam_status st = lam_json_parse(&v, s, n, &e);
    int ok = st == LAM_ERR_FORMAT && v == NULL && strstr(e.msg, "JSON error at byte") != NULL &&
             (!why || strstr(e.msg, why) != NULL);
    if (!ok) fprintf(stderr, "  document %.*s: status %d, message '%s'\n", (int)n, s, st, e.msg);
    lam_json_free(v);
    return ok;
}
#define REJECT(lit, why) CHECK(rejects(lit, sizeof(lit) - 1, why), "should be rejected")

int main(void) {
    /* ---- valid documents */
    lam_json *v = parse(" {\"a\": [1, -2, 3.5e2, 0, true, false, null], \"b\": {\"c\": \"d\"}, \"\": 18446744073709551615} ");
    CHECK(v && v->type == LAM_JSON_OBJECT && v->n == 3, "object");
    if (v) {
        const lam_json *a = lam_json_get(v, "a");
        CHECK(a && a->type == LAM_JSON_ARRAY && a->n == 7, "array");
        if (a && a->n == 7) {
            CHECK(a->items[0].is_uint && a->items[0].u == 1, "1");
            CHECK(!a->items[1].is_uint && a->items[1].num == -2.0, "-2");
            CHECK(!a->items[2].is_uint && a->items[2].num == 350.0 && !strcmp(a->items[2].str, "3.5e2"), "3.5e2");
            CHECK(a->items[3].is_uint && a->items[3].u == 0, "0");
            CHECK(a->items[4].type == LAM_JSON_TRUE && a->items[5].type == LAM_JSON_FALSE &&
                      a->items[6].type == LAM_JSON_NULL, "literals");
        }
        const lam_json *c = lam_json_get(lam_json_get(v, "b"), "c");
        CHECK(c && c->type == LAM_JSON_STRING && !strcmp(c->str, "d"), "nested");
        const lam_json *big = lam_json_get(v, "");
        CHECK(big && big->is_uint && big->u == UINT64_MAX, "uint64 max");
        CHECK(lam_json_get(v, "zz") == NULL, "absent key");
    }
    lam_json_free(v);

    v = parse("18446744073709551616");   /* 2^64: a number, but not a uint64 */
    CHECK(v && v->type == LAM_JSON_NUMBER && !v->is_uint && v->num == 18446744073709551616.0, "2^64");
    lam_json_free(v);

    /* escapes, \u with surrogate pairs -> UTF-8 */
    v = parse("\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9 \\u20AC \\ud83d\\ude00 \\u0000x\"");
    const char want[] = "q\" b\\ s/ \b\f\n\r\t \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \0x";
    CHECK(v && v->type == LAM_JSON_STRING && v->len == sizeof want - 1 && !memcmp(v->str, want, sizeof want - 1),
          "escapes decode");
    lam_json_free(v);
    v = parse("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");   /* raw UTF-8 kept */
    CHECK(v && v->len == 10 && !memcmp(v->str, "caf\xc3\xa9 \xf0\x9f\x98\x80", 10), "raw UTF-8");
    lam_json_free(v);
    v = parse("[]");
    CHECK(v && v->type == LAM_JSON_ARRAY && v->n == 0, "empty array");
    lam_json_free(v);
    v = parse("{}");
    CHECK(v && v->type == LAM_JSON_OBJECT && v->n == 0, "empty object");
    lam_json_free(v);

    /* depth: LAM_JSON_MAX_DEPTH nested arrays parse, one more does not */
    {
        char deep[2 * LAM_JSON_MAX_DEPTH + 8];
        size_t d = LAM_JSON_MAX_DEPTH;
        for (size_t k = 0; k < d; k++) deep[k] = '[';
        for (size_t k = 0; k < d; k++) deep[d + k] = ']';
        v = NULL;
        lam_error e;
        CHECK(lam_json_parse(&v, deep, 2 * d, &e) == LAM_OK, "depth %zu accepted", d);
        lam_json_free(v);
        d++;
        for (size_t k = 0; k < d; k++) deep[k] = '[';
        for (size_t k = 0; k < d; k++) deep[d + k] = ']';
        CHECK(rejects(deep, 2 * d, "nesting too deep"), "depth %zu rejected", d);
    }

    /* ---- invalid documents */
    REJECT("", "value expected");
    REJECT("   ", "value expected");
    REJECT("{", NULL);
    REJECT("[1,]", NULL);
    REJECT("[1 2]", NULL);
    REJECT("{\"a\":1,}", "object key");
    REJECT("{\"a\" 1}", "':' expected");
    REJECT("{a:1}", "object key");
    REJECT("{\"a\":1} x", "trailing");
    REJECT("{\"a\":1}{}", "trailing");
    REJECT("{\"a\":1,\"b\":2,\"a\":3}", "duplicate key \"a\"");
    REJECT("{\"x\":{\"k\":1,\"k\":1}}", "duplicate key");
    REJECT("01", "leading zero");
    REJECT("-", "invalid number");
    REJECT("+1", "unexpected character");
    REJECT("1.", "digit expected");
    REJECT(".5", "unexpected character");
    REJECT("1e", "exponent");
    REJECT("NaN", "unexpected character");
    REJECT("Infinity", "unexpected character");
    REJECT("tru", "unexpected character");
    REJECT("nulll", "trailing");
    REJECT("'a'", "unexpected character");
    REJECT("\"abc", "unterminated string");
    REJECT("\"a\tb\"", "control character");
    REJECT("\"a\nb\"", "control character");
    REJECT("\"\\x\"", "invalid escape");
    REJECT("\"\\u12\"", "invalid \\u escape");
    REJECT("\"\\u12G4\"", "invalid \\u escape");
    REJECT("\"\\ud83d\"", "lone high surrogate");
    REJECT("\"\\ud83dx\"", "lone high surrogate");
    REJECT("\"\\ud83d\\u0041\"", "lone high surrogate");
    REJECT("\"\\ude00\"", "lone low surrogate");
    REJECT("\"\xff\"", "invalid UTF-8");
    REJECT("\"\xc0\xaf\"", "invalid UTF-8");          /* overlong '/' */
    REJECT("\"\xe0\x80\xaf\"", "invalid UTF-8");      /* overlong, 3 bytes */
    REJECT("\"\xed\xa0\x80\"", "invalid UTF-8");      /* UTF-8-encoded surrogate */
    REJECT("\"\xf4\x90\x80\x80\"", "invalid UTF-8");  /* above U+10FFFF */
    REJECT("\"\xe2\x82\"", "invalid UTF-8");          /* truncated sequence */
    REJECT("\"\x80\"", "invalid UTF-8");              /* stray continuation byte */
    REJECT("[1]\0", "trailing");                       /* an embedded NUL after the value */
    {
        /* NUL inside a document is not whitespace */
        const char doc[] = {'[', '1', ',', '\0', '2', ']'};
        CHECK(rejects(doc, sizeof doc, NULL), "NUL in document");
    }

    /* ---- UTF-8 validator directly */
    size_t bad = 99;
    CHECK(lam_utf8_valid((const unsigned char *)"ok \xc3\xa9", 5, &bad), "valid utf8");
    CHECK(!lam_utf8_valid((const unsigned char *)"ab\xc3", 3, &bad) && bad == 2, "truncated at the end: %zu", bad);

    /* ---- escaping round trip: random valid UTF-8 strings incl. control chars */
    unsigned long long seed = 42;
    for (int it = 0; it < 2000; it++) {
        char s[64];
        size_t n = 0;
        size_t len = check_rng_next(&seed) % 20;
        for (size_t k = 0; k < len; k++) {
            unsigned r = (unsigned)(check_rng_next(&seed) % 6);
            if (r == 0) s[n++] = (char)(check_rng_next(&seed) % 0x20);      /* control, incl. NUL */
            else if (r == 1) s[n++] = "\"\\/"[check_rng_next(&seed) % 3];
            else if (r == 2) { memcpy(s + n, "\xc3\xa9", 2); n += 2; }
            else if (r == 3) { memcpy(s + n, "\xf0\x9f\x98\x80", 4); n += 4; }
            else s[n++] = (char)(0x20 + check_rng_next(&seed) % 95);
        }
        lam_strbuf b = {0};
        lam_sb_json_string(&b, s, n);
        lam_json *r = NULL;
        lam_error e;
        int ok = !b.oom && lam_json_parse(&r, b.p, b.len, &e) == LAM_OK && r->type == LAM_JSON_STRING &&
                 r->len == n && !memcmp(r->str, s, n);
        CHECK(ok, "escape round trip %d: %s", it, b.p ? b.p : "(oom)");
        lam_json_free(r);
        lam_sb_free(&b);
        if (!ok) break;
    }

    /* ---- fuzz: random mutations never crash, and either parse or fail with a message */
    const char *base = "{\"__metadata__\":{\"k\":\"v\\u00e9\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";
    size_t bl = strlen(base);
    char buf[256];
    int fuzz_ok = 1;
    for (int it = 0; it < 20000 && fuzz_ok; it++) {
        memcpy(buf, base, bl);
        size_t n = bl;
        int flips = 1 + (int)(check_rng_next(&seed) % 4);
        for (int f = 0; f < flips; f++) buf[check_rng_next(&seed) % n] = (char)(check_rng_next(&seed) & 0xFF);
        if (check_rng_next(&seed) % 4 == 0) n = (size_t)(check_rng_next(&seed) % (n + 1));
        lam_json *r = NULL;
        lam_error e = {0};
        lam_status st = lam_json_parse(&r, buf, n, &e);
        if (!(st == LAM_OK ? r != NULL : (r == NULL && st == LAM_ERR_FORMAT && e.msg[0]))) fuzz_ok = 0;
        lam_json_free(r);
    }
    CHECK(fuzz_ok, "fuzzed documents parse or fail cleanly");
    return check_done("json");
}
