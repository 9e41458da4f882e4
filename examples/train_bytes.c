/* Training a byte-level GPT through the public API alone.
 *
 *   train_bytes [FILE [STEPS [NORM [PLACEMENT]]]]      (FILE "" = built-in text)
 *
 * Trains a small model on FILE's bytes (default: a built-in text) and prints
 * the loss every few steps; exits 1 if the last loss is not below the first,
 * so the test suite runs it (also under the sanitizers). */
#include <lamina.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char builtin[] =
    "In the beginning God created the heaven and the earth. And the earth was without form, and void; "
    "and darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters. "
    "And God said, Let there be light: and there was light. And God saw the light, that it was good: and "
    "God divided the light from the darkness. And God called the light Day, and the darkness he called "
    "Night. And the evening and the morning were the first day. ";

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n == cap) {
            unsigned char *b = realloc(buf, cap = cap ? 2 * cap : 1 << 16);
            if (!b) { free(buf); fclose(f); return NULL; }
            buf = b;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got);
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    lam_error err;
    lam_model *m = NULL;
    lam_trainer *tr = NULL;
    lam_step_stats st;
    size_t len;
    int from_file = argc > 1 && argv[1][0];
    unsigned char *data = from_file ? read_file(argv[1], &len) : NULL;
    if (from_file && !data) { fprintf(stderr, "train_bytes: cannot read %s\n", argv[1]); return 2; }
    if (!data) {   /* the built-in text, four times */
        len = 4 * (sizeof builtin - 1);
        data = malloc(len);
        if (!data) return 1;
        for (size_t i = 0; i < 4; i++) memcpy(data + i * (sizeof builtin - 1), builtin, sizeof builtin - 1);
    }

    lam_model_config mc;
    lam_model_config_default(&mc);
    mc.layers = 2, mc.heads = 2, mc.dim = 32, mc.ctx = 32;
    lam_train_config tc;
    lam_train_config_default(&tc);
    tc.steps = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 60;
    tc.batch = 8, tc.warmup = 10, tc.lr = 3e-3f;
    if ((argc > 3 && lam_model_config_set(&mc, "norm", argv[3], &err)) ||
        (argc > 4 && lam_model_config_set(&mc, "placement", argv[4], &err)) || lam_model_config_check(&mc, &err) ||
        lam_train_config_check(&tc, &err) || lam_model_create(&m, &mc, tc.batch, 1, &err) ||
        lam_trainer_create(&tr, m, &tc, data, len, &err)) {
        fprintf(stderr, "train_bytes: %s\n", err.msg);
        lam_model_free(m);
        free(data);
        return 2;
    }
    lam_tensor t;
    lam_model_tensor(m, lam_model_tensor_count(m) - 1, &t);
    printf("%s/%s: %zu parameters in %zu tensors, the last %s (%zu)\n", lam_norm_name(mc.norm),
           lam_placement_name(mc.placement), lam_model_param_count(m), lam_model_tensor_count(m), t.name, t.shape[0]);
    float first = 0, last = 0;
    for (size_t s = 0; s < tc.steps; s++) {
        if (lam_trainer_step(tr, &st, &err)) {
            fprintf(stderr, "train_bytes: %s\n", err.msg);
            return 1;
        }
        if (s == 0) first = st.loss;
        last = st.loss;
        if (s % 10 == 0 || s + 1 == tc.steps)
            printf("step %zu loss %.4f lr %.2e grad_norm %.3f\n", st.step + 1, st.loss, st.lr, st.grad_norm);
    }
    lam_trainer_free(tr);
    lam_model_free(m);
    free(data);
    if (!(last < first)) {
        fprintf(stderr, "train_bytes: the loss did not fall (%.4f -> %.4f)\n", first, last);
        return 1;
    }
    return 0;
}
