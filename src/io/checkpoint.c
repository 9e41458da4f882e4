/* Training checkpoints; see checkpoint.h. */
#define _POSIX_C_SOURCE 200809L
#include "io/checkpoint.h"
#include "base/error.h"
#include "io/file.h"
#include "io/safetensors.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The shortest decimal that reads back as the same float (JSON number). */
static const char *ftoa(char *buf, float v) {
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, 32, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return buf;
}

void lam_ckpt_model_json(lam_strbuf *b, const lam_model_config *c) {
    char f1[32], f2[32];
    lam_sb_printf(b,
                  "{\"layers\":%zu,\"heads\":%zu,\"dim\":%zu,\"ctx\":%zu,\"hidden\":%zu,\"norm\":\"%s\","
                  "\"placement\":\"%s\",\"act\":\"%s\",\"eps\":%s,\"bn_momentum\":%s}",
                  c->layers, c->heads, c->dim, c->ctx, c->hidden, lam_norm_name(c->norm),
                  lam_placement_name(c->placement), lam_mlp_name(c->act), ftoa(f1, c->eps), ftoa(f2, c->bn_momentum));
}

void lam_ckpt_train_json(lam_strbuf *b, const lam_train_config *t) {
    char f[7][32];
    lam_sb_printf(b,
                  "{\"steps\":%zu,\"batch\":%zu,\"accum\":%zu,\"warmup\":%zu,\"lr\":%s,\"min_lr\":%s,"
                  "\"weight_decay\":%s,\"clip\":%s,\"beta1\":%s,\"beta2\":%s,\"adam_eps\":%s,"
                  "\"seed\":%" PRIu64 "}",
                  t->steps, t->batch, t->accum, t->warmup, ftoa(f[0], t->lr), ftoa(f[1], t->min_lr),
                  ftoa(f[2], t->weight_decay), ftoa(f[3], t->clip), ftoa(f[4], t->beta1), ftoa(f[5], t->beta2),
                  ftoa(f[6], t->adam_eps), t->seed);
}

static void path_join(char *out, size_t n, const char *dir, const char *name) {
    size_t dl = strlen(dir);
    snprintf(out, n, "%s%s%s", dir, (dl && dir[dl - 1] == '/') ? "" : "/", name);
}

/* ---- configs from metadata */

static lam_status parse_meta_json(const char *text, const char *what, lam_json **out, lam_error *e) {
    lam_error pe;
    if (!text) return lam_fail(e, LAM_ERR_FORMAT, "no \"%s\" in the file's metadata (not a lamina checkpoint?)", what);
    if (lam_json_parse(out, text, strlen(text), &pe) != LAM_OK || (*out)->type != LAM_JSON_OBJECT) {
        if (*out) lam_json_free(*out);
        *out = NULL;
        return lam_fail(e, LAM_ERR_FORMAT, "metadata \"%s\" is not a JSON object", what);
    }
    return LAM_OK;
}

static lam_status config_from_json(const char *text, lam_model_config *c, lam_error *e) {
    lam_json *j = NULL;
    lam_status s = parse_meta_json(text, "config", &j, e);
    if (s) return s;
    lam_model_config_default(c);
    lam_error ce;
    for (size_t i = 0; i < j->n && s == LAM_OK; i++) {
        const lam_json *v = &j->items[i];
        if (v->type != LAM_JSON_NUMBER && v->type != LAM_JSON_STRING) {
            s = lam_fail(e, LAM_ERR_FORMAT, "metadata config: \"%s\" is a %s", j->keys[i], lam_json_type_name(v->type));
        } else if (lam_model_config_set(c, j->keys[i], v->str, &ce) != LAM_OK) {
            s = lam_fail(e, LAM_ERR_FORMAT, "metadata config: %s", ce.msg);
        }
    }
    lam_json_free(j);
    if (s) return s;
    if (lam_model_config_check(c, &ce) != LAM_OK) return lam_fail(e, LAM_ERR_FORMAT, "metadata config: %s", ce.msg);
    return LAM_OK;
}

static lam_status parse_u64(const char *text, const char *what, uint64_t *out, lam_error *e) {
    if (!text) return lam_fail(e, LAM_ERR_FORMAT, "no \"%s\" in the file's metadata", what);
    char *end;
    if (*text < '0' || *text > '9') return lam_fail(e, LAM_ERR_FORMAT, "metadata \"%s\" is not a number", what);
    unsigned long long v = strtoull(text, &end, 10);
    if (*end) return lam_fail(e, LAM_ERR_FORMAT, "metadata \"%s\" is not a number", what);
    *out = v;
    return LAM_OK;
}

/* Names the first field where two config JSON objects differ. */
static lam_status compare_json(const char *stored, const char *current, const char *what, lam_error *e) {
    if (!stored) return lam_fail(e, LAM_ERR_FORMAT, "no \"%s\" in the checkpoint's metadata", what);
    if (!strcmp(stored, current)) return LAM_OK;
    lam_json *a = NULL, *b = NULL;
    lam_status s = parse_meta_json(stored, what, &a, e);
    if (s) return s;
    if (lam_json_parse(&b, current, strlen(current), NULL) != LAM_OK) {
        lam_json_free(a);
        return lam_fail(e, LAM_ERR_NOMEM, "out of memory");
    }
    s = lam_fail(e, LAM_ERR_ARG, "the %s config differs from the checkpoint's", what);
    for (size_t i = 0; i < b->n; i++) {
        const lam_json *va = lam_json_get(a, b->keys[i]);
        if (!va || !va->str || !b->items[i].str || strcmp(va->str, b->items[i].str)) {
            s = lam_fail(e, LAM_ERR_ARG, "%s setting '%s' is %s here but %s in the checkpoint", what, b->keys[i],
                         b->items[i].str ? b->items[i].str : "?", va && va->str ? va->str : "absent");
            break;
        }
    }
    lam_json_free(a);
    lam_json_free(b);
    return s;
}

/* ---- model file */

/* Exports every tensor (data or an AdamW moment) into one buffer and adds it to w. */
static lam_status add_tensors(lam_st_writer *w, const lam_model *m, lam_trainer *tr, float **buf, lam_error *e) {
    size_t n = lam_model_tensor_count(m), total = 0;
    lam_tensor t;
    for (size_t i = 0; i < n; i++) {
        lam_model_tensor(m, i, &t);
        if (tr && !t.grad) continue;
        total += tr ? 2 * t.numel : t.numel;
    }
    *buf = malloc((total ? total : 1) * sizeof(float));
    if (!*buf) return lam_fail(e, LAM_ERR_NOMEM, "out of memory (%zu floats for a checkpoint)", total);
    float *p = *buf;
    char name[512];
    for (size_t i = 0; i < n; i++) {
        lam_model_tensor(m, i, &t);
        size_t shape[2] = {t.shape[0], t.shape[1]};
        if (!tr) {
            lam_tensor_export(&t, p, t.data);
            lam_status s = lam_st_writer_add(w, t.name, shape, t.ndim, p, e);
            if (s) return s;
            p += t.numel;
            continue;
        }
        if (!t.grad) continue;
        for (int which = 0; which < 2; which++) {
            lam_tensor_export(&t, p, lam_trainer_moment(tr, i, which));
            snprintf(name, sizeof name, "%s.%s", t.name, which ? "exp_avg_sq" : "exp_avg");
            lam_status s = lam_st_writer_add(w, name, shape, t.ndim, p, e);
            if (s) return s;
            p += t.numel;
        }
    }
    return LAM_OK;
}

lam_status lam_ckpt_save_model(const char *path, const lam_model *m, uint64_t step, lam_error *e) {
    lam_st_writer *w = lam_st_writer_new();
    if (!w) return lam_fail(e, LAM_ERR_NOMEM, "out of memory");
    float *buf = NULL;
    lam_strbuf cfg = {0};
    char stepbuf[32];
    snprintf(stepbuf, sizeof stepbuf, "%" PRIu64, step);
    lam_ckpt_model_json(&cfg, lam_model_get_config(m));
    lam_status s = cfg.oom ? lam_fail(e, LAM_ERR_NOMEM, "out of memory") : LAM_OK;
    if (!s) s = lam_st_writer_meta(w, "format", "lamina", e);
    if (!s) s = lam_st_writer_meta(w, "config", cfg.p, e);
    if (!s) s = lam_st_writer_meta(w, "step", stepbuf, e);
    if (!s) s = add_tensors(w, m, NULL, &buf, e);
    if (!s) s = lam_st_writer_write(w, path, e);
    lam_st_writer_free(w);
    lam_sb_free(&cfg);
    free(buf);
    return s;
}

lam_status lam_ckpt_read_config(const char *path, lam_model_config *c, uint64_t *step, lam_error *e) {
    lam_st *st;
    lam_status s = lam_st_open(&st, path, e);
    if (s) return s;
    s = config_from_json(lam_st_metadata(st, "config"), c, e);
    uint64_t k = 0;
    if (!s) s = parse_u64(lam_st_metadata(st, "step"), "step", &k, e);
    if (!s && step) *step = k;
    lam_st_close(st);
    return s;
}

/* Reads every tensor of m (or, with tr, its moments) from st; tensors that
 * the file has and m does not are errors too. */
static lam_status read_tensors(lam_st *st, lam_model *m, lam_trainer *tr, lam_error *e) {
    size_t n = lam_model_tensor_count(m), expected = 0;
    float *tmp = NULL;
    size_t cap = 0;
    lam_status s = LAM_OK;
    char name[512];
    lam_tensor t;
    for (size_t i = 0; i < n && s == LAM_OK; i++) {
        lam_model_tensor(m, i, &t);
        if (tr && !t.grad) continue;
        if (t.numel > cap) {
            free(tmp);
            cap = t.numel;
            tmp = malloc(cap * sizeof(float));
            if (!tmp) return lam_fail(e, LAM_ERR_NOMEM, "out of memory");
        }
        size_t shape[2] = {t.shape[0], t.shape[1]};
        for (int which = 0; which < (tr ? 2 : 1) && s == LAM_OK; which++) {
            if (tr) snprintf(name, sizeof name, "%s.%s", t.name, which ? "exp_avg_sq" : "exp_avg");
            else snprintf(name, sizeof name, "%s", t.name);
            s = lam_st_read_f32(st, name, tmp, shape, t.ndim, e);
            if (!s) lam_tensor_import(&t, tr ? lam_trainer_moment(tr, i, which) : t.data, tmp);
            expected++;
        }
    }
    free(tmp);
    if (s) return s;
    if (lam_st_count(st) != expected) {
        for (size_t i = 0; i < lam_st_count(st); i++) {
            const char *fname = lam_st_at(st, i)->name;
            int known = 0;
            for (size_t k = 0; k < n && !known; k++) {
                lam_model_tensor(m, k, &t);
                size_t l = strlen(t.name);
                if (!tr) known = !strcmp(fname, t.name);
                else if (t.grad && !strncmp(fname, t.name, l))
                    known = !strcmp(fname + l, ".exp_avg") || !strcmp(fname + l, ".exp_avg_sq");
            }
            if (!known) return lam_fail(e, LAM_ERR_FORMAT, "tensor '%s' is not part of this model", fname);
        }
    }
    return LAM_OK;
}

static int config_equal(const lam_model_config *a, const lam_model_config *b) {
    return a->layers == b->layers && a->heads == b->heads && a->dim == b->dim && a->ctx == b->ctx &&
           a->hidden == b->hidden && a->norm == b->norm && a->placement == b->placement && a->act == b->act &&
           a->eps == b->eps && a->bn_momentum == b->bn_momentum;
}

lam_status lam_ckpt_load_model(const char *path, lam_model *m, uint64_t *step, lam_error *e) {
    lam_st *st;
    lam_status s = lam_st_open(&st, path, e);
    if (s) return s;
    lam_model_config c;
    uint64_t k = 0;
    s = config_from_json(lam_st_metadata(st, "config"), &c, e);
    if (!s && !config_equal(&c, lam_model_get_config(m)))
        s = lam_fail(e, LAM_ERR_FORMAT, "the file's model config differs from the model's");
    if (!s) s = parse_u64(lam_st_metadata(st, "step"), "step", &k, e);
    if (!s) s = read_tensors(st, m, NULL, e);
    if (!s && step) *step = k;
    lam_st_close(st);
    return s;
}

/* ---- the whole training state */

static void rng_text(char *out, size_t n, const lam_trainer_state *ts) {
    snprintf(out, n, "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64, ts->rng[0], ts->rng[1], ts->rng[2],
             ts->rng[3]);
}

static lam_status parse_rng(const char *text, lam_trainer_state *ts, lam_error *e) {
    if (!text || strlen(text) != 4 * 16 + 3) return lam_fail(e, LAM_ERR_FORMAT, "metadata \"rng\" is missing or malformed");
    for (int i = 0; i < 4; i++) {
        const char *p = text + i * 17;
        uint64_t v = 0;
        for (int k = 0; k < 16; k++) {
            char ch = p[k];
            int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
            if (d < 0) return lam_fail(e, LAM_ERR_FORMAT, "metadata \"rng\" is malformed");
            v = v << 4 | (uint64_t)d;
        }
        if (i < 3 && p[16] != ' ') return lam_fail(e, LAM_ERR_FORMAT, "metadata \"rng\" is malformed");
        ts->rng[i] = v;
    }
    return LAM_OK;
}

int lam_ckpt_exists(const char *dir) {
    char path[4096];
    struct stat sb;
    path_join(path, sizeof path, dir, "model.safetensors");
    return stat(path, &sb) == 0;
}

lam_status lam_ckpt_save(const char *dir, lam_model *m, lam_trainer *tr, const lam_train_config *t, lam_error *e) {
    char model_path[4096], opt_path[4096], next_path[4096], state_path[4096], rng[80], stepbuf[32];
    path_join(model_path, sizeof model_path, dir, "model.safetensors");
    path_join(opt_path, sizeof opt_path, dir, "optimizer.safetensors");
    path_join(next_path, sizeof next_path, dir, "optimizer.next.safetensors");
    path_join(state_path, sizeof state_path, dir, "state.json");
    lam_trainer_state ts;
    lam_trainer_get_state(tr, &ts);
    rng_text(rng, sizeof rng, &ts);
    snprintf(stepbuf, sizeof stepbuf, "%" PRIu64, ts.step);

    lam_strbuf mj = {0}, tj = {0}, state = {0};
    lam_ckpt_model_json(&mj, lam_model_get_config(m));
    lam_ckpt_train_json(&tj, t);
    lam_st_writer *w = lam_st_writer_new();
    float *buf = NULL;
    lam_status s = (!w || mj.oom || tj.oom) ? lam_fail(e, LAM_ERR_NOMEM, "out of memory") : LAM_OK;
    if (!s) s = lam_st_writer_meta(w, "format", "lamina", e);
    if (!s) s = lam_st_writer_meta(w, "config", mj.p, e);
    if (!s) s = lam_st_writer_meta(w, "train", tj.p, e);
    if (!s) s = lam_st_writer_meta(w, "step", stepbuf, e);
    if (!s) s = lam_st_writer_meta(w, "rng", rng, e);
    if (!s) s = add_tensors(w, m, tr, &buf, e);
    /* 1. the new optimizer state beside the current one */
    if (!s) s = lam_st_writer_write(w, next_path, e);
    lam_st_writer_free(w);
    free(buf);
    /* 2. the commit point */
    if (!s) s = lam_ckpt_save_model(model_path, m, ts.step, e);
    /* 3. tidy up: the committed optimizer state under its own name */
    if (!s) s = lam_file_rename(next_path, opt_path, e);
    if (!s) {
        lam_sb_printf(&state, "{\n  \"step\": %s,\n  \"rng\": \"%s\",\n  \"config\": %s,\n  \"train\": %s\n}\n", stepbuf,
                      rng, mj.p, tj.p);
        s = state.oom ? lam_fail(e, LAM_ERR_NOMEM, "out of memory")
                      : lam_file_write_atomic_buf(state_path, state.p, state.len, e);
    }
    lam_sb_free(&mj);
    lam_sb_free(&tj);
    lam_sb_free(&state);
    return s;
}

/* Opens the optimizer file whose step is `step`: optimizer.next (a save that
 * committed its model but did not finish) or optimizer. */
static lam_status open_optimizer(const char *dir, uint64_t step, lam_st **out, lam_error *e) {
    char next_path[4096], opt_path[4096];
    path_join(next_path, sizeof next_path, dir, "optimizer.next.safetensors");
    path_join(opt_path, sizeof opt_path, dir, "optimizer.safetensors");
    const char *paths[2] = {next_path, opt_path};
    lam_status last = LAM_OK;
    for (int i = 0; i < 2; i++) {
        struct stat sb;
        if (stat(paths[i], &sb) != 0) continue;
        lam_st *st;
        lam_error oe;
        last = lam_st_open(&st, paths[i], &oe);
        if (last) {
            if (i == 1) return lam_fail(e, last, "%s: %s", paths[i], oe.msg);
            continue;   /* a half-written next file: the crash came before its rename */
        }
        uint64_t k = 0;
        if (parse_u64(lam_st_metadata(st, "step"), "step", &k, &oe) == LAM_OK && k == step) {
            if (i == 0) {
                lam_st_close(st);
                lam_status s = lam_file_rename(next_path, opt_path, e);   /* finish the interrupted save */
                if (s) return s;
                return lam_st_open(out, opt_path, e);
            }
            *out = st;
            return LAM_OK;
        }
        lam_st_close(st);
    }
    return lam_fail(e, LAM_ERR_FORMAT, "%s: no optimizer state for step %" PRIu64 " (the checkpoint is incomplete)", opt_path,
                    step);
}

lam_status lam_ckpt_resume(const char *dir, lam_model *m, lam_trainer *tr, const lam_train_config *t,
                           uint64_t *step, lam_error *e) {
    char model_path[4096];
    path_join(model_path, sizeof model_path, dir, "model.safetensors");
    if (!lam_ckpt_exists(dir)) return lam_fail(e, LAM_ERR_IO, "%s: no checkpoint to resume from", model_path);
    uint64_t k = 0;
    lam_error le;
    lam_status s = lam_ckpt_load_model(model_path, m, &k, &le);
    if (s) return lam_fail(e, s, "%s: %s", model_path, le.msg);
    lam_st *st;
    s = open_optimizer(dir, k, &st, e);
    if (s) return s;
    lam_strbuf tj = {0};
    lam_ckpt_train_json(&tj, t);
    lam_trainer_state ts;
    s = tj.oom ? lam_fail(e, LAM_ERR_NOMEM, "out of memory") : LAM_OK;
    if (!s) s = compare_json(lam_st_metadata(st, "train"), tj.p, "training", e);
    if (!s) s = parse_rng(lam_st_metadata(st, "rng"), &ts, e);
    if (!s) s = read_tensors(st, m, tr, e);
    if (s && s != LAM_ERR_ARG && s != LAM_ERR_NOMEM) {
        lam_error inner = *e;
        s = lam_fail(e, s, "%s/optimizer.safetensors: %s", dir, inner.msg);
    }
    if (!s) {
        ts.step = k;
        lam_trainer_set_state(tr, &ts);
        if (step) *step = k;
    }
    lam_sb_free(&tj);
    lam_st_close(st);
    return s;
}
