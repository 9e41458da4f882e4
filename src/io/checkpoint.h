/* Internal: training checkpoints in safetensors files.
 *
 * A checkpoint directory holds
 *   model.safetensors      every model tensor, float32, Hugging Face GPT-2
 *                          names and Conv1D shapes; __metadata__: "format"
 *                          "lamina", "config" (the model config as JSON),
 *                          "step" (optimizer steps taken).  sample and eval
 *                          need only this file.
 *   optimizer.safetensors  "NAME.exp_avg" and "NAME.exp_avg_sq" for every
 *                          trained tensor (same layout as NAME);
 *                          __metadata__: "config", "train" (the training
 *                          config as JSON), "step", "rng" (the batch
 *                          generator, 4 × 16 hex digits).
 *   state.json             the same step, rng and configs, for people and
 *                          scripts (resume reads the safetensors files).
 *
 * Writing is ordered so that one rename commits a checkpoint: the optimizer
 * file is written (atomically) as optimizer.next.safetensors, then
 * model.safetensors is replaced atomically (the commit point), then
 * optimizer.next is renamed over optimizer.safetensors and state.json is
 * written.  A crash at any moment leaves either the previous checkpoint or
 * the new one whole: resume takes the model's step and the optimizer file
 * (next or current) whose step matches it. */
#ifndef LAMINA_IO_CHECKPOINT_H
#define LAMINA_IO_CHECKPOINT_H

#include "io/json.h"
#include "lamina.h"

#include <stdint.h>

/* JSON objects for the configs (keys as lam_model_config_set spells them). */
void lam_ckpt_model_json(lam_strbuf *b, const lam_model_config *c);
void lam_ckpt_train_json(lam_strbuf *b, const lam_train_config *t);

/* Writes a model file (atomically). */
lam_status lam_ckpt_save_model(const char *path, const lam_model *m, uint64_t step, lam_error *e);
/* Reads the model config (and step, may be NULL) from a model file. */
lam_status lam_ckpt_read_config(const char *path, lam_model_config *c, uint64_t *step, lam_error *e);
/* Loads every tensor of m from a model file; its config must equal m's;
 * a missing, extra or misshapen tensor is an error naming it. */
lam_status lam_ckpt_load_model(const char *path, lam_model *m, uint64_t *step, lam_error *e);

/* The whole training state, in dir, with the commit protocol above. */
lam_status lam_ckpt_save(const char *dir, lam_model *m, lam_trainer *tr, const lam_train_config *t, lam_error *e);
/* Restores model, moments and trainer state from dir; the training config
 * must equal t (the flag that differs is named).  LAM_ERR_IO when dir holds
 * no checkpoint. */
lam_status lam_ckpt_resume(const char *dir, lam_model *m, lam_trainer *tr, const lam_train_config *t,
                           uint64_t *step, lam_error *e);
/* 1 when dir holds a model.safetensors. */
int lam_ckpt_exists(const char *dir);

#endif
