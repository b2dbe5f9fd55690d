/*
 * sw_ring: hands batches from one producing thread to one consuming
 * thread. The ring only counts: the caller owns an array of `size` batch
 * buffers and uses the index the ring gives it. The writer blocks while
 * every buffer is full, the reader while none is; the writer says when it
 * is done. One writer and one reader.
 */
#ifndef SW_RING_H
#define SW_RING_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sw_ring {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t w, r; /* batches written, read */
    size_t size;
    int done;
} sw_ring_t;

/* Prepares a ring of `size` buffers. Returns 0, or SW_ERR_NOMEM. */
int sw_ring_init(sw_ring_t *self, size_t size);

/* Frees the ring's lock; no thread may be using it. */
void sw_ring_deinit(sw_ring_t *self);

/* Writer: waits for a free buffer and returns its index. */
size_t sw_ring_write_begin(sw_ring_t *self);

/* Writer: the buffer from sw_ring_write_begin() is ready (commit 1) or
 * unused (commit 0); done 1 says nothing follows. */
void sw_ring_write_end(sw_ring_t *self, int commit, int done);

/* Reader: waits for a ready buffer and returns 1 with its index, or 0 when
 * the writer is done and everything was read. */
int sw_ring_read_begin(sw_ring_t *self, size_t *index);

/* Reader: the buffer from sw_ring_read_begin() may be reused. */
void sw_ring_read_end(sw_ring_t *self);

/* Reader giving up: marks everything written as read, until the writer is
 * done, so that a writer waiting for room can finish. */
void sw_ring_discard_until_done(sw_ring_t *self);

#endif
