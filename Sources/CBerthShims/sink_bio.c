#include "berth_shims.h"

#include <openssl/bio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/// What a TLS session writes its ciphertext into: one buffer kept for the connection, which the caller writes
/// to the socket from where it lies and then empties. A memory BIO would zero what it grows by, keep a second
/// read pointer, and have to be copied out into a fresh array for every answer.
typedef struct {
    unsigned char *bytes;
    size_t length;
    size_t capacity;
} sink_state;

/// Emptying keeps the buffer for the next answer unless a file body grew it past this: an idle connection
/// holds no more than this much of it.
static const size_t sink_kept_capacity = 64 * 1024;

static int sink_write(BIO *bio, const char *data, size_t count, size_t *written) {
    sink_state *state = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    if (count > state->capacity - state->length) {
        size_t needed = state->length + count;
        size_t capacity = state->capacity == 0 ? 4096 : state->capacity;
        while (capacity < needed) capacity *= 2;
        unsigned char *grown = realloc(state->bytes, capacity);
        if (grown == NULL) return 0;
        state->bytes = grown;
        state->capacity = capacity;
    }
    memcpy(state->bytes + state->length, data, count);
    state->length += count;
    *written = count;
    return 1;
}

static long sink_ctrl(BIO *bio, int command, long number, void *pointer) {
    (void)number;
    (void)pointer;
    sink_state *state = BIO_get_data(bio);
    switch (command) {
    case BIO_CTRL_WPENDING:
        return (long)state->length;
    case BIO_CTRL_FLUSH:
        return 1;
    default:
        return 0;
    }
}

static int sink_create(BIO *bio) {
    sink_state *state = calloc(1, sizeof(sink_state));
    if (state == NULL) return 0;
    BIO_set_data(bio, state);
    BIO_set_init(bio, 1);
    return 1;
}

static int sink_destroy(BIO *bio) {
    sink_state *state = BIO_get_data(bio);
    if (state != NULL) {
        free(state->bytes);
        free(state);
    }
    BIO_set_data(bio, NULL);
    return 1;
}

static BIO_METHOD *sink_method;
static pthread_once_t sink_method_once = PTHREAD_ONCE_INIT;

static void make_sink_method(void) {
    BIO_METHOD *method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "berth ciphertext sink");
    if (method == NULL) return;
    BIO_meth_set_write_ex(method, sink_write);
    BIO_meth_set_ctrl(method, sink_ctrl);
    BIO_meth_set_create(method, sink_create);
    BIO_meth_set_destroy(method, sink_destroy);
    sink_method = method;
}

struct bio_st *berth_sink_bio_new(void) {
    pthread_once(&sink_method_once, make_sink_method);
    return sink_method == NULL ? NULL : BIO_new(sink_method);
}

const void *berth_sink_bio_bytes(struct bio_st *bio, size_t *count) {
    sink_state *state = BIO_get_data(bio);
    *count = state->length;
    return state->bytes;
}

void berth_sink_bio_empty(struct bio_st *bio) {
    sink_state *state = BIO_get_data(bio);
    state->length = 0;
    if (state->capacity > sink_kept_capacity) {
        free(state->bytes);
        state->bytes = NULL;
        state->capacity = 0;
    }
}
