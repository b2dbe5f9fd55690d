/*
 * sw_checkpoint: where a worker keeps each partition's detection state
 * (sw_engine_save) together with the Kafka offset it corresponds to. Both
 * go into one Redis value, so they are written and read atomically: after
 * a crash, the next owner of the partition loads the state and resumes
 * consuming at exactly that offset.
 *
 * Key: PREFIX:ckpt:TOPIC:PARTITION. Value: "SWCP", a format version, the
 * offset (the next one to consume), the save time, then the engine state.
 */
#ifndef SW_CHECKPOINT_H
#define SW_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

typedef struct sw_checkpoint_store sw_checkpoint_store_t;

/* Connects (see sw_redis.h for the URL). Returns NULL with errstr set. */
sw_checkpoint_store_t *sw_checkpoint_store_new(const char *url,
                                               const char *prefix,
                                               int timeout_ms, char *errstr,
                                               size_t errstr_size);

/* Closes the connection (NULL is fine) and sets *self_p to NULL. */
void sw_checkpoint_store_destroy(sw_checkpoint_store_t **self_p);

/* Stores state (len bytes) with the offset to resume from and the save
 * time, replacing the partition's previous checkpoint in one write.
 * Returns 0, or SW_ERR_REDIS / SW_ERR_NOMEM with errstr set. */
int sw_checkpoint_save(sw_checkpoint_store_t *self, const char *topic,
                       int32_t partition, int64_t offset, int64_t saved_ms,
                       const void *state, size_t len, char *errstr,
                       size_t errstr_size);

/* Loads the partition's checkpoint: returns 1 with *state (malloc'd, the
 * caller frees it), *len, *offset and *saved_ms set; 0 when there is none;
 * or SW_ERR_REDIS / SW_ERR_PARSE (not a checkpoint of this format) with
 * errstr set. */
int sw_checkpoint_load(sw_checkpoint_store_t *self, const char *topic,
                       int32_t partition, int64_t *offset, int64_t *saved_ms,
                       void **state, size_t *len, char *errstr,
                       size_t errstr_size);

#endif
