/* safetensors: round trips, exact F16/BF16 conversion, rejection of
 * corrupted files with the right message, a fuzz loop, and atomic writes. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "base/error.h"
#include "io/file.h"
#include "io/json.h"
#include "io/safetensors.h"

#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* A file: 8-byte little-endian N (declared, or the header's length when
 * declared == ~0), the header, then data_len bytes (byte i = i * 7). */
static unsigned char *mkfile(const char *hdr, uint64_t declared, size_t data_len, size_t *len) {
    size_t h = strlen(hdr);
    if (declared == ~(uint64_t)0) declared = h;
    *len = 8 + h + data_len;
    unsigned char *p = check_alloc(*len);
    for (int k = 0; k < 8; k++) p[k] = (unsigned char)(declared >> (8 * k));
    memcpy(p + 8, hdr, h);
    for (size_t i = 0; i < data_len; i++) p[8 + h + i] = (unsigned char)(i * 7);
    return p;
}

/* Opens hdr + data_len bytes; expects status want and (if want != OK) a
 * message containing each of the given substrings. */
static int expect_mem(const char *what, const char *hdr, uint64_t declared, size_t data_len, lam_status want,
                      const char *sub1, const char *sub2) {
    size_t len;
    unsigned char *p = mkfile(hdr, declared, data_len, &len);
    lam_st *st = NULL;
    lam_error e = {0};
    lam_status s = lam_st_open_mem(&st, p, len, &e);
    int ok = s == want && (s != LAM_OK ? st == NULL : st != NULL);
    if (ok && s != LAM_OK) {
        ok = (!sub1 || strstr(e.msg, sub1)) && (!sub2 || strstr(e.msg, sub2)) && !strchr(e.msg, '\n');
    }
    if (!ok) fprintf(stderr, "  case '%s': status %d (want %d), message '%s'\n", what, s, want, e.msg);
    lam_st_close(st);
    free(p);
    return ok;
}
#define BAD(what, hdr, dlen, s1, s2) CHECK(expect_mem(what, hdr, ~(uint64_t)0, dlen, LAM_ERR_FORMAT, s1, s2), "%s", what)
#define GOOD(what, hdr, dlen) CHECK(expect_mem(what, hdr, ~(uint64_t)0, dlen, LAM_OK, NULL, NULL), "%s", what)

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Independent reference: the value of a binary16 / bfloat16 bit pattern in
 * float64 from the IEEE formula (NaN handled by the caller). */
static double half_ref(unsigned h, int ebits, int mbits) {
    int bias = (1 << (ebits - 1)) - 1;
    unsigned s = h >> (ebits + mbits), ex = (h >> mbits) & ((1u << ebits) - 1), m = h & ((1u << mbits) - 1);
    double v;
    if (ex == 0) v = ldexp((double)m, 1 - bias - mbits);
    else if (ex == (1u << ebits) - 1) v = INFINITY;
    else v = ldexp(1.0 + ldexp((double)m, -mbits), (int)ex - bias);
    return s ? -v : v;
}

static int write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

static unsigned char *slurp(const char *path, size_t *n) {
    unsigned char *p = NULL;
    lam_error e;
    if (lam_file_read(path, (size_t)1 << 30, &p, n, &e) != LAM_OK) return NULL;
    return p;
}

/* A producer that writes half of its buffer and then fails (a crash or a
 * full disk mid-write). */
typedef struct {
    const char *data;
    size_t len;
} half_ctx;
static lam_status fail_midway(void *ctx, lam_file_sink *sink, lam_error *e) {
    half_ctx *c = ctx;
    lam_status s = lam_file_sink_write(sink, c->data, c->len / 2, e);
    if (s) return s;
    return lam_fail(e, LAM_ERR_IO, "simulated failure after %zu bytes", c->len / 2);
}

int main(void) {
    char dir[] = "/tmp/lamina_test_st_XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char path[512], path2[512];
    lam_error e;

    /* ---- atomic writes: temp-name collisions first, while the counter is fresh */
    {
        snprintf(path, sizeof path, "%s/coll.bin", dir);
        for (int k = 0; k < 5; k++) {   /* directories named like the first temporaries */
            snprintf(path2, sizeof path2, "%s/.coll.bin.tmp.%ld.%d", dir, (long)getpid(), k);
            CHECK(mkdir(path2, 0700) == 0, "mkdir %s", path2);
        }
        CHECK(lam_file_write_atomic_buf(path, "hello", 5, &e) == LAM_OK, "write past taken temp names: %s", e.msg);
        size_t n;
        unsigned char *p = slurp(path, &n);
        CHECK(p && n == 5 && !memcmp(p, "hello", 5), "content after collisions");
        free(p);
        CHECK(count_entries(dir) == 6, "5 directories + the file, no temporaries left: %d", count_entries(dir));
        for (int k = 0; k < 5; k++) {
            snprintf(path2, sizeof path2, "%s/.coll.bin.tmp.%ld.%d", dir, (long)getpid(), k);
            rmdir(path2);
        }
        unlink(path);
    }

    /* ---- round trip through the writer */
    float a[6] = {1.5f, -2.0f, 0.0f, -0.0f, 3.25e-39f /* subnormal */, 1e30f};
    float b[5] = {INFINITY, -INFINITY, 7.0f, 1.0f / 3.0f, -1e-7f};
    float c[1] = {42.0f};
    {
        lam_st_writer *w = lam_st_writer_new();
        size_t sa[2] = {2, 3}, sb[1] = {5};
        CHECK(lam_st_writer_add(w, "layer.0.w \"quoted\"\n", sa, 2, a, &e) == LAM_OK, "add a");
        CHECK(lam_st_writer_add(w, "b", sb, 1, b, &e) == LAM_OK, "add b");
        CHECK(lam_st_writer_add(w, "scalar", NULL, 0, c, &e) == LAM_OK, "add scalar");
        CHECK(lam_st_writer_add(w, "b", sb, 1, b, &e) == LAM_ERR_ARG && strstr(e.msg, "duplicate"), "dup name: %s", e.msg);
        CHECK(lam_st_writer_add(w, "__metadata__", sb, 1, b, &e) == LAM_ERR_ARG, "reserved name");
        CHECK(lam_st_writer_add(w, "bad\xff", sb, 1, b, &e) == LAM_ERR_ARG, "invalid UTF-8 name");
        CHECK(lam_st_writer_meta(w, "config", "{\"dim\": 8, \"norm\": \"rms\"}", &e) == LAM_OK, "meta");
        CHECK(lam_st_writer_meta(w, "tab\tkey", "line1\nline2 \xc3\xa9", &e) == LAM_OK, "meta with escapes");
        CHECK(lam_st_writer_meta(w, "config", "x", &e) == LAM_ERR_ARG, "dup meta");
        unsigned char *buf;
        size_t len;
        CHECK(lam_st_writer_serialize(w, &buf, &len, &e) == LAM_OK, "serialize");
        uint64_t n = 0;
        for (int k = 7; k >= 0; k--) n = (n << 8) | buf[k];
        CHECK(n % 8 == 0 && len == 8 + n + 4 * (6 + 5 + 1), "padded header %llu, length %zu", (unsigned long long)n, len);
        CHECK(buf[8 + n - 1] == ' ' || buf[8 + n - 1] == '}', "padding with spaces");
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        CHECK(lam_st_writer_write(w, path, &e) == LAM_OK, "write: %s", e.msg);
        size_t flen;
        unsigned char *fbuf = slurp(path, &flen);
        CHECK(fbuf && flen == len && !memcmp(fbuf, buf, len), "file bytes == serialized bytes");
        free(fbuf);
        lam_st_writer_free(w);

        for (int from_file = 0; from_file < 2; from_file++) {
            lam_st *st = NULL;
            lam_status s = from_file ? lam_st_open(&st, path, &e) : lam_st_open_mem(&st, buf, len, &e);
            CHECK(s == LAM_OK, "open (%s): %s", from_file ? "file" : "memory", e.msg);
            if (s) continue;
            CHECK(lam_st_count(st) == 3, "3 tensors");
            const lam_st_tensor *t0 = lam_st_at(st, 0), *t2 = lam_st_at(st, 2);
            CHECK(!strcmp(t0->name, "layer.0.w \"quoted\"\n") && t0->dtype == LAM_DT_F32 && t0->ndim == 2 &&
                      t0->shape[0] == 2 && t0->shape[1] == 3 && t0->numel == 6 && t0->begin == 0 && t0->end == 24,
                  "tensor 0 info in file order");
            CHECK(!strcmp(t2->name, "scalar") && t2->ndim == 0 && t2->numel == 1 && t2->begin == 44 && t2->end == 48,
                  "scalar");
            CHECK(lam_st_find(st, "b") == lam_st_at(st, 1) && lam_st_find(st, "nope") == NULL, "find");
            CHECK(lam_st_metadata_count(st) == 2, "2 metadata");
            const char *cfg = lam_st_metadata(st, "config"), *tk = lam_st_metadata(st, "tab\tkey");
            CHECK(cfg && !strcmp(cfg, "{\"dim\": 8, \"norm\": \"rms\"}"), "metadata value");
            CHECK(tk && !strcmp(tk, "line1\nline2 \xc3\xa9"), "escaped metadata value");
            float ra[6], rb[5], rc[1];
            size_t sa2[2] = {2, 3}, sb2[1] = {5};
            CHECK(lam_st_read_f32(st, "layer.0.w \"quoted\"\n", ra, sa2, 2, &e) == LAM_OK, "read a: %s", e.msg);
            CHECK(lam_st_read_f32(st, "b", rb, sb2, 1, &e) == LAM_OK, "read b");
            CHECK(lam_st_read_f32(st, "scalar", rc, NULL, 0, &e) == LAM_OK, "read scalar");
            int same = 1;
            for (int i = 0; i < 6; i++) same &= fbits(ra[i]) == fbits(a[i]);
            for (int i = 0; i < 5; i++) same &= fbits(rb[i]) == fbits(b[i]);
            same &= fbits(rc[0]) == fbits(c[0]);
            CHECK(same, "bit-exact round trip");
            /* mismatches name the tensor and both shapes */
            size_t wrong[2] = {3, 2};
            CHECK(lam_st_read_f32(st, "b", rb, wrong, 2, &e) == LAM_ERR_FORMAT && strstr(e.msg, "'b'") &&
                      strstr(e.msg, "[5]") && strstr(e.msg, "[3, 2]"), "wrong shape: %s", e.msg);
            CHECK(lam_st_read_f32(st, "missing.w", rb, sb2, 1, &e) == LAM_ERR_FORMAT && strstr(e.msg, "'missing.w'") &&
                      strstr(e.msg, "missing"), "missing tensor: %s", e.msg);
            lam_st_close(st);
        }
        free(buf);
    }

    /* ---- empty writer: "{}" padded to 8 */
    {
        lam_st_writer *w = lam_st_writer_new();
        unsigned char *buf;
        size_t len;
        CHECK(lam_st_writer_serialize(w, &buf, &len, &e) == LAM_OK && len == 16 && !memcmp(buf + 8, "{}      ", 8),
              "empty file layout");
        lam_st *st;
        CHECK(lam_st_open_mem(&st, buf, len, &e) == LAM_OK && lam_st_count(st) == 0, "empty file opens");
        lam_st_close(st);
        free(buf);
        lam_st_writer_free(w);
    }

    /* ---- exact F16 / BF16 conversion over all 65536 patterns */
    {
        int bad16 = 0, badbf = 0;
        for (unsigned h = 0; h < 65536; h++) {
            float g = lam_f16_to_f32((uint16_t)h);
            int nan = ((h >> 10) & 0x1F) == 0x1F && (h & 0x3FF);
            if (nan) {
                /* NaN: sign and payload kept (quiet bit stays where it was) */
                if (!isnan(g) || fbits(g) != (((uint32_t)(h >> 15) << 31) | 0x7F800000u | ((uint32_t)(h & 0x3FF) << 13))) bad16++;
            } else {
                double r = half_ref(h, 5, 10);
                if ((double)g != r || !signbit(g) != !signbit(r)) bad16++;
            }
            float gb = lam_bf16_to_f32((uint16_t)h);
            int nanb = ((h >> 7) & 0xFF) == 0xFF && (h & 0x7F);
            if (nanb) {
                if (!isnan(gb) || fbits(gb) != (uint32_t)h << 16) badbf++;
            } else {
                double r = half_ref(h, 8, 7);
                if ((double)gb != r || !signbit(gb) != !signbit(r)) badbf++;
            }
        }
        CHECK(bad16 == 0, "F16 mismatches: %d", bad16);
        CHECK(badbf == 0, "BF16 mismatches: %d", badbf);
        /* spot values */
        CHECK(lam_f16_to_f32(0x0001) == 0x1p-24f && lam_f16_to_f32(0x03FF) == 1023 * 0x1p-24f &&
                  lam_f16_to_f32(0x3C00) == 1.0f && lam_f16_to_f32(0x7BFF) == 65504.0f &&
                  lam_f16_to_f32(0xC000) == -2.0f && isinf(lam_f16_to_f32(0x7C00)) && signbit(lam_f16_to_f32(0x8000)),
              "F16 spot values");
        CHECK(lam_bf16_to_f32(0x3F80) == 1.0f && lam_bf16_to_f32(0x0001) == 0x1p-133f, "BF16 spot values");
    }

    /* ---- reading F16/BF16 tensors (odd and even counts), other dtypes refused */
    {
        uint16_t h16[7] = {0x3C00, 0x0001, 0xFC00, 0x7E00, 0x8000, 0x3555, 0x7BFF};
        uint16_t hbf[4] = {0x3F80, 0xC2F7, 0x0001, 0x7F80};
        char hdr[512];
        snprintf(hdr, sizeof hdr,
                 "{\"h\":{\"dtype\":\"F16\",\"shape\":[7],\"data_offsets\":[0,14]},"
                 "\"bf\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[14,22]},"
                 "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[22,30]}}");
        size_t len;
        unsigned char *p = mkfile(hdr, ~(uint64_t)0, 30, &len);
        size_t h = strlen(hdr);
        memcpy(p + 8 + h, h16, 14);
        memcpy(p + 8 + h + 14, hbf, 8);
        snprintf(path, sizeof path, "%s/half.safetensors", dir);
        CHECK(write_bytes(path, p, len) == 0, "write half file");
        for (int from_file = 0; from_file < 2; from_file++) {
            lam_st *st = NULL;
            lam_status s = from_file ? lam_st_open(&st, path, &e) : lam_st_open_mem(&st, p, len, &e);
            CHECK(s == LAM_OK, "open halves: %s", e.msg);
            if (s) continue;
            float out[7];
            size_t s7 = 7, s22[2] = {2, 2}, s1 = 1;
            CHECK(lam_st_read_f32(st, "h", out, &s7, 1, &e) == LAM_OK, "read F16");
            int ok = 1;
            for (int i = 0; i < 7; i++) ok &= fbits(out[i]) == fbits(lam_f16_to_f32(h16[i]));
            CHECK(ok && out[0] == 1.0f && out[1] == 0x1p-24f && out[6] == 65504.0f && isnan(out[3]), "F16 values");
            CHECK(lam_st_read_f32(st, "bf", out, s22, 2, &e) == LAM_OK, "read BF16");
            CHECK(out[0] == 1.0f && out[1] == -123.5f && out[2] == 0x1p-133f && isinf(out[3]), "BF16 values");
            CHECK(lam_st_read_f32(st, "i", out, &s1, 1, &e) == LAM_ERR_FORMAT && strstr(e.msg, "'i'") &&
                      strstr(e.msg, "I64"), "I64 refused: %s", e.msg);
            lam_st_close(st);
        }
        free(p);
    }

    /* ---- every dtype the format lists is accepted, with its size */
    GOOD("all dtypes",
         "{\"a\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]},"
         "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[3,4]},"
         "\"c\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[4,5]},"
         "\"d\":{\"dtype\":\"F8_E5M2\",\"shape\":[1],\"data_offsets\":[5,6]},"
         "\"e\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[6,7]},"
         "\"f\":{\"dtype\":\"F8_E8M0\",\"shape\":[1],\"data_offsets\":[7,8]},"
         "\"g\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[8,10]},"
         "\"h\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[10,12]},"
         "\"i\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[12,16]},"
         "\"j\":{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[16,20]},"
         "\"k\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[20,28]},"
         "\"l\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[28,36]},"
         "\"m\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[36,44]},"
         "\"n\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[44,52]},"
         "\"o\":{\"dtype\":\"F4\",\"shape\":[2, 3],\"data_offsets\":[52,55]},"
         "\"p\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[55,58]},"
         "\"q\":{\"dtype\":\"F6_E3M2\",\"shape\":[4],\"data_offsets\":[58,61]}}",
         61);
    GOOD("tensors listed out of offset order, unknown field ignored, padding",
         "{\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}   ",
         8);
    GOOD("zero-size tensor", "{\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[0,0]}}", 0);

    /* ---- corrupted files, each with its message */
    const char *ok1 = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";
    GOOD("baseline", ok1, 24);
    CHECK(expect_mem("header length > file", ok1, 1000, 24, LAM_ERR_FORMAT, "header length 1000", "past the end"), "len > file");
    CHECK(expect_mem("header length > 100 MB", ok1, 100000001ULL, 24, LAM_ERR_FORMAT, "100 MB", NULL), "> 100 MB");
    CHECK(expect_mem("header length 2^64-2", ok1, ~(uint64_t)0 - 1, 24, LAM_ERR_FORMAT, "100 MB", NULL), "huge");
    BAD("not JSON", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}", 24, "not valid JSON", NULL);
    BAD("not an object", "[1, 2, 3]                                         ", 0, "not a JSON object", NULL);
    BAD("leading space", " {}", 0, "does not start with '{'", NULL);
    BAD("truncated data", ok1, 20, "'w'", "truncated");
    BAD("trailing bytes", ok1, 30, "6 trailing bytes", NULL);
    BAD("overlapping offsets",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "'b'", "overlap");
    BAD("hole between tensors",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20, "'b'", "hole of 4 bytes");
    BAD("not starting at 0", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "'a'", "hole");
    BAD("offsets reversed", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "'b'", NULL);
    BAD("offsets beyond the data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "'a'", "truncated");
    BAD("shape x dtype != span", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20, "'a'",
        "span 20 bytes but shape [2, 3] of F32 needs 24");
    BAD("F16 span", "{\"a\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,12]}}", 12, "'a'", "needs 6");
    BAD("negative shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2,3],\"data_offsets\":[0,24]}}", 24, "'a'",
        "shape entry 0 is not a non-negative integer");
    BAD("non-integer shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0,3],\"data_offsets\":[0,24]}}", 24, "'a'", "shape entry 0");
    BAD("string shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, "'a'", "shape entry 0");
    BAD("shape not an array", "{\"a\":{\"dtype\":\"F32\",\"shape\":6,\"data_offsets\":[0,24]}}", 24, "'a'", "not an array");
    BAD("shape overflow", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, "'a'", "overflow");
    BAD("shape overflow x dtype", "{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}", 8, "'a'", "overflow");
    BAD("negative offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, "'a'", "data_offsets");
    BAD("three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8, "'a'", "data_offsets");
    BAD("unknown dtype", "{\"a\":{\"dtype\":\"F24\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "'a'", "unknown dtype 'F24'");
    BAD("lower-case dtype", "{\"a\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "'a'", "unknown dtype");
    BAD("missing dtype", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "'a'", "missing \"dtype\"");
    BAD("missing offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "'a'", "missing \"data_offsets\"");
    BAD("entry not an object", "{\"a\":[1,2]}", 0, "'a'", "not an object");
    BAD("duplicate name",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate key \"a\"", NULL);
    BAD("metadata not a map", "{\"__metadata__\":[\"a\"]}", 0, "__metadata__", "string-to-string");
    BAD("metadata value not a string", "{\"__metadata__\":{\"epoch\":3}}", 0, "__metadata__", "'epoch'");
    BAD("metadata value an object", "{\"__metadata__\":{\"cfg\":{\"dim\":8}}}", 0, "'cfg'", "object");
    BAD("invalid UTF-8 in header", "{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "UTF-8", NULL);
    BAD("invalid UTF-8 (surrogate)", "{\"\xed\xa0\x80\":1}", 0, "UTF-8", NULL);
    BAD("F4 odd bits", "{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2, "'a'", "whole number of bytes");
    BAD("NUL in name", "{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "NUL", NULL);
    {
        lam_st *st = NULL;
        CHECK(lam_st_open_mem(&st, "", 0, &e) == LAM_ERR_FORMAT && strstr(e.msg, "empty file"), "empty: %s", e.msg);
        CHECK(lam_st_open_mem(&st, "\x08\0\0\0\0\0\0", 7, &e) == LAM_ERR_FORMAT && strstr(e.msg, "7 bytes"),
              "7-byte file: %s", e.msg);
        CHECK(lam_st_open_mem(&st, "\0\0\0\0\0\0\0\0", 8, &e) == LAM_ERR_FORMAT, "zero-length header");
        /* files on disk: empty, 7 bytes, missing, a directory */
        snprintf(path, sizeof path, "%s/empty.safetensors", dir);
        write_bytes(path, "", 0);
        CHECK(lam_st_open(&st, path, &e) == LAM_ERR_FORMAT && strstr(e.msg, "empty file"), "empty on disk: %s", e.msg);
        snprintf(path, sizeof path, "%s/seven.safetensors", dir);
        write_bytes(path, "\x08\0\0\0\0\0\0", 7);
        CHECK(lam_st_open(&st, path, &e) == LAM_ERR_FORMAT && strstr(e.msg, "too short"), "7 bytes on disk: %s", e.msg);
        snprintf(path, sizeof path, "%s/nope.safetensors", dir);
        CHECK(lam_st_open(&st, path, &e) == LAM_ERR_IO && strstr(e.msg, "No such file"), "missing: %s", e.msg);
        CHECK(lam_st_open(&st, dir, &e) == LAM_ERR_IO && strstr(e.msg, "directory"), "directory: %s", e.msg);
        CHECK(st == NULL, "no handle on failure");
    }

    /* ---- fuzz: byte flips and truncations of a valid file never crash */
    {
        lam_st_writer *w = lam_st_writer_new();
        size_t sa[2] = {2, 3}, sb[1] = {5};
        lam_st_writer_add(w, "a", sa, 2, a, &e);
        lam_st_writer_add(w, "bb", sb, 1, b, &e);
        lam_st_writer_meta(w, "k", "v", &e);
        unsigned char *good;
        size_t len;
        lam_st_writer_serialize(w, &good, &len, &e);
        lam_st_writer_free(w);
        unsigned char *m = check_alloc(len);
        unsigned long long seed = 7;
        int clean = 1, opened = 0;
        for (int it = 0; it < 30000 && clean; it++) {
            memcpy(m, good, len);
            size_t n = len;
            int flips = 1 + (int)(check_rng_next(&seed) % 3);
            for (int f = 0; f < flips; f++) {
                size_t at = check_rng_next(&seed) % (it % 3 == 0 ? 8 + 40 : len);   /* often the prefix/header */
                m[at] = (unsigned char)check_rng_next(&seed);
            }
            if (it % 5 == 0) n = (size_t)(check_rng_next(&seed) % (len + 1));
            lam_st *st = NULL;
            lam_error fe = {0};
            lam_status s = lam_st_open_mem(&st, m, n, &fe);
            if (s == LAM_OK) {
                opened++;
                for (size_t k = 0; k < lam_st_count(st); k++) {
                    const lam_st_tensor *t = lam_st_at(st, k);
                    if (t->dtype != LAM_DT_F32 && t->dtype != LAM_DT_F16 && t->dtype != LAM_DT_BF16) continue;
                    if (t->numel > 1024) { clean = 0; break; }   /* validated spans lie inside the file */
                    float out[1024];
                    size_t shp[8];
                    if (t->ndim > 8) continue;
                    for (size_t d = 0; d < t->ndim; d++) shp[d] = (size_t)t->shape[d];
                    if (lam_st_read_f32(st, t->name, out, shp, t->ndim, &fe) != LAM_OK) clean = 0;
                }
                lam_st_close(st);
            } else if (s != LAM_ERR_FORMAT || st != NULL || !fe.msg[0]) {
                clean = 0;
            }
        }
        CHECK(clean, "fuzzed files open cleanly or fail with a message");
        CHECK(opened > 0, "some mutations stay valid (%d)", opened);
        free(m);
        free(good);
    }

    /* ---- atomic writes keep the old file when anything fails */
    {
        snprintf(path, sizeof path, "%s/ckpt.bin", dir);
        const char *old = "the previous good checkpoint";
        CHECK(lam_file_write_atomic_buf(path, old, strlen(old), &e) == LAM_OK, "write old");
        int before = count_entries(dir);
        const char *neu = "a new checkpoint that will not be finished .............";
        half_ctx hc = {neu, strlen(neu)};
        CHECK(lam_file_write_atomic(path, fail_midway, &hc, &e) == LAM_ERR_IO && strstr(e.msg, "simulated"),
              "producer failure is reported: %s", e.msg);
        size_t n;
        unsigned char *p = slurp(path, &n);
        CHECK(p && n == strlen(old) && !memcmp(p, old, n), "old file intact after a failed write");
        free(p);
        CHECK(count_entries(dir) == before, "temporary removed (%d entries, %d before)", count_entries(dir), before);
        /* the target is a directory: refused, directory untouched */
        snprintf(path2, sizeof path2, "%s/adir", dir);
        mkdir(path2, 0700);
        CHECK(lam_file_write_atomic_buf(path2, "x", 1, &e) == LAM_ERR_IO && strstr(e.msg, "directory"),
              "directory target: %s", e.msg);
        CHECK(lam_file_is_dir(path2), "directory still there");
        rmdir(path2);
        /* the directory does not exist */
        snprintf(path2, sizeof path2, "%s/no/such/dir/f.bin", dir);
        CHECK(lam_file_write_atomic_buf(path2, "x", 1, &e) == LAM_ERR_IO, "missing directory: %s", e.msg);
        /* success replaces the content, and leaves no temporary */
        CHECK(lam_file_write_atomic_buf(path, neu, strlen(neu), &e) == LAM_OK, "replace");
        p = slurp(path, &n);
        CHECK(p && n == strlen(neu) && !memcmp(p, neu, n), "new content");
        free(p);
        CHECK(count_entries(dir) == before, "no temporaries after success");
        /* lam_file_read: cap, directory */
        CHECK(lam_file_read(path, 4, &p, &n, &e) == LAM_ERR_FORMAT && strstr(e.msg, "too large"), "read cap: %s", e.msg);
        CHECK(lam_file_read(dir, 1 << 20, &p, &n, &e) == LAM_ERR_IO && strstr(e.msg, "directory"), "read dir");
        /* a writer whose temporary cannot be created (missing dir) leaves nothing */
        lam_st_writer *w = lam_st_writer_new();
        size_t s1 = 1;
        lam_st_writer_add(w, "x", &s1, 1, c, &e);
        CHECK(lam_st_writer_write(w, path2, &e) == LAM_ERR_IO, "st writer to a missing dir");
        lam_st_writer_free(w);
    }

    /* clean up */
    {
        DIR *d = opendir(dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
        if (d) closedir(d);
        rmdir(dir);
    }
    return check_done("safetensors");
}
