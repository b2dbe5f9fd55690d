/* sw_ring: a counted ring of batch buffers between two threads. */
#include "sw_ring.h"
#include "sw_err.h"

int sw_ring_init(sw_ring_t *self, size_t size)
{
    self->w = self->r = 0;
    self->size = size;
    self->done = 0;
    if (pthread_mutex_init(&self->mu, NULL) != 0)
        return SW_ERR_NOMEM;
    if (pthread_cond_init(&self->cv, NULL) != 0) {
        pthread_mutex_destroy(&self->mu);
        return SW_ERR_NOMEM;
    }
    return 0;
}

void sw_ring_deinit(sw_ring_t *self)
{
    pthread_cond_destroy(&self->cv);
    pthread_mutex_destroy(&self->mu);
}

size_t sw_ring_write_begin(sw_ring_t *self)
{
    pthread_mutex_lock(&self->mu);
    while (self->w - self->r >= self->size)
        pthread_cond_wait(&self->cv, &self->mu);
    size_t i = (size_t)(self->w % self->size);
    pthread_mutex_unlock(&self->mu);
    return i;
}

void sw_ring_write_end(sw_ring_t *self, int commit, int done)
{
    pthread_mutex_lock(&self->mu);
    if (commit)
        self->w++;
    if (done)
        self->done = 1;
    pthread_cond_broadcast(&self->cv);
    pthread_mutex_unlock(&self->mu);
}

int sw_ring_read_begin(sw_ring_t *self, size_t *index)
{
    pthread_mutex_lock(&self->mu);
    while (self->r == self->w && !self->done)
        pthread_cond_wait(&self->cv, &self->mu);
    int have = self->r < self->w;
    *index = (size_t)(self->r % self->size);
    pthread_mutex_unlock(&self->mu);
    return have;
}

void sw_ring_read_end(sw_ring_t *self)
{
    pthread_mutex_lock(&self->mu);
    self->r++;
    pthread_cond_broadcast(&self->cv);
    pthread_mutex_unlock(&self->mu);
}

void sw_ring_discard_until_done(sw_ring_t *self)
{
    pthread_mutex_lock(&self->mu);
    for (;;) {
        self->r = self->w;
        pthread_cond_broadcast(&self->cv);
        if (self->done)
            break;
        pthread_cond_wait(&self->cv, &self->mu);
    }
    pthread_mutex_unlock(&self->mu);
}
