/* Internal: reading and writing safetensors files.
 *
 * Format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 *   {"__metadata__": {str: str, ...},            (optional)
 *    NAME: {"dtype": D, "shape": [..], "data_offsets": [BEGIN, END]}, ...}
 * then the data section: every tensor's bytes, little-endian, row-major, at
 * [BEGIN, END) relative to the start of the data section.
 *
 * The reader validates as the format's reference implementation does: N at
 * most 100 MB and within the file; the header valid UTF-8, starting with '{',
 * one JSON object; known dtypes; shapes and offsets non-negative integers;
 * tensor names unique; sorted by offset the tensors start at 0 and follow one
 * another without hole or overlap; each span is exactly shape × dtype size;
 * the file ends exactly where the last tensor does.  Any failure is one line
 * naming the tensor and the problem.  Unknown fields inside a tensor entry
 * are ignored (as the reference does).  Names containing a NUL character are
 * refused (they cannot be C strings).
 *
 * The writer writes float32 tensors in the order they were added, the header
 * padded with spaces to a multiple of 8 bytes, atomically (see io/file.h). */
#ifndef LAMINA_IO_SAFETENSORS_H
#define LAMINA_IO_SAFETENSORS_H

#include "lamina.h"

#include <stddef.h>
#include <stdint.h>

#define LAM_ST_MAX_HEADER 100000000ULL

/* Every dtype the format lists, in the reference's order. */
typedef enum {
    LAM_DT_BOOL, LAM_DT_F4, LAM_DT_F6_E2M3, LAM_DT_F6_E3M2, LAM_DT_U8, LAM_DT_I8, LAM_DT_F8_E5M2,
    LAM_DT_F8_E4M3, LAM_DT_F8_E8M0, LAM_DT_I16, LAM_DT_U16, LAM_DT_F16, LAM_DT_BF16, LAM_DT_I32,
    LAM_DT_U32, LAM_DT_F32, LAM_DT_C64, LAM_DT_F64, LAM_DT_I64, LAM_DT_U64,
    LAM_DT_COUNT
} lam_dtype;

const char *lam_dtype_name(lam_dtype t);
/* Bits per element (4 for F4, 6 for F6_*, 64 for C64, ...). */
unsigned lam_dtype_bits(lam_dtype t);
/* The dtype named s, or -1. */
int lam_dtype_parse(const char *s);

typedef struct lam_st_tensor {
    const char *name;
    lam_dtype dtype;
    size_t ndim;
    const uint64_t *shape;   /* ndim entries (none for a scalar) */
    uint64_t numel;          /* product of shape (1 for a scalar) */
    uint64_t begin, end;     /* byte span in the data section */
} lam_st_tensor;

typedef struct lam_st lam_st;

/* Opens and validates a file: reads the header, keeps the file open to read
 * tensors on demand.  LAM_ERR_IO for a missing/unreadable file or a
 * directory, LAM_ERR_FORMAT for an invalid one. */
lam_status lam_st_open(lam_st **st, const char *path, lam_error *e);
/* The same over a buffer holding a whole file (borrowed, must outlive st). */
lam_status lam_st_open_mem(lam_st **st, const void *data, size_t len, lam_error *e);
void lam_st_close(lam_st *st);

uint64_t lam_st_header_len(const lam_st *st);   /* N */
uint64_t lam_st_data_len(const lam_st *st);     /* bytes of the data section */

/* Tensors sorted by offset (file order). */
size_t lam_st_count(const lam_st *st);
const lam_st_tensor *lam_st_at(const lam_st *st, size_t i);
const lam_st_tensor *lam_st_find(const lam_st *st, const char *name);

/* Metadata: count, i-th pair (in header order), and lookup (NULL if absent). */
size_t lam_st_metadata_count(const lam_st *st);
void lam_st_metadata_at(const lam_st *st, size_t i, const char **key, const char **value);
const char *lam_st_metadata(const lam_st *st, const char *key);

/* Reads tensor `name` as float32 into dst (numel floats), converting F16 and
 * BF16 exactly.  expected_shape has ndim entries; a missing tensor, another
 * shape or another dtype is an LAM_ERR_FORMAT naming the tensor. */
lam_status lam_st_read_f32(lam_st *st, const char *name, float *dst, const size_t *expected_shape, size_t ndim,
                           lam_error *e);
/* The raw bytes of tensor t (end - begin bytes) into dst. */
lam_status lam_st_read_raw(lam_st *st, const lam_st_tensor *t, void *dst, lam_error *e);

/* Exact conversions to float32 (denormals, ±0, ±inf and NaN payloads kept). */
float lam_f16_to_f32(uint16_t h);
float lam_bf16_to_f32(uint16_t b);

/* ---- writer */
typedef struct lam_st_writer lam_st_writer;

lam_st_writer *lam_st_writer_new(void);   /* NULL when out of memory */
void lam_st_writer_free(lam_st_writer *w);
/* Adds a float32 tensor (data borrowed until the write).  Errors: duplicate
 * or invalid name (empty is allowed; "__metadata__", NUL or invalid UTF-8 are
 * not), a shape whose size overflows. */
lam_status lam_st_writer_add(lam_st_writer *w, const char *name, const size_t *shape, size_t ndim,
                             const float *data, lam_error *e);
/* Adds a metadata pair (key unique, both valid UTF-8). */
lam_status lam_st_writer_meta(lam_st_writer *w, const char *key, const char *value, lam_error *e);
/* Writes the file atomically. */
lam_status lam_st_writer_write(const lam_st_writer *w, const char *path, lam_error *e);
/* Serializes into a malloc'd buffer (*out, *len). */
lam_status lam_st_writer_serialize(const lam_st_writer *w, unsigned char **out, size_t *len, lam_error *e);

#endif
