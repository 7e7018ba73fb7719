#include "berth_shims.h"

#include <openssl/bio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/// What a TLS session reads its ciphertext from: the bytes just read from the socket, read where they lie
/// (a memory BIO would first copy them, and zero the memory it grows by), then, once the caller has to give
/// that memory back, whatever of it OpenSSL had not taken yet, kept in a copy.
typedef struct {
    const unsigned char *lent;
    size_t lent_length;
    size_t lent_offset;
    unsigned char *kept;
    size_t kept_length;
    size_t kept_offset;
    size_t kept_capacity;
} slice_state;

static size_t take(const unsigned char *from, size_t length, size_t *offset, char *out, size_t want) {
    size_t count = length - *offset < want ? length - *offset : want;
    memcpy(out, from + *offset, count);
    *offset += count;
    return count;
}

static int slice_read(BIO *bio, char *out, size_t want, size_t *got) {
    slice_state *state = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    size_t done = take(state->kept, state->kept_length, &state->kept_offset, out, want);
    done += take(state->lent, state->lent_length, &state->lent_offset, out + done, want - done);
    *got = done;
    if (done > 0) return 1;
    BIO_set_retry_read(bio);
    return 0;
}

static long slice_ctrl(BIO *bio, int command, long number, void *pointer) {
    (void)number;
    (void)pointer;
    slice_state *state = BIO_get_data(bio);
    switch (command) {
    case BIO_CTRL_PENDING:
        return (long)(state->kept_length - state->kept_offset + state->lent_length - state->lent_offset);
    case BIO_CTRL_FLUSH:
        return 1;
    default:
        return 0;
    }
}

static int slice_create(BIO *bio) {
    slice_state *state = calloc(1, sizeof(slice_state));
    if (state == NULL) return 0;
    BIO_set_data(bio, state);
    BIO_set_init(bio, 1);
    return 1;
}

static int slice_destroy(BIO *bio) {
    slice_state *state = BIO_get_data(bio);
    if (state != NULL) {
        free(state->kept);
        free(state);
    }
    BIO_set_data(bio, NULL);
    return 1;
}

static BIO_METHOD *slice_method;
static pthread_once_t slice_method_once = PTHREAD_ONCE_INIT;

static void make_slice_method(void) {
    BIO_METHOD *method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "berth ciphertext slice");
    if (method == NULL) return;
    BIO_meth_set_read_ex(method, slice_read);
    BIO_meth_set_ctrl(method, slice_ctrl);
    BIO_meth_set_create(method, slice_create);
    BIO_meth_set_destroy(method, slice_destroy);
    slice_method = method;
}

struct bio_st *berth_slice_bio_new(void) {
    pthread_once(&slice_method_once, make_slice_method);
    return slice_method == NULL ? NULL : BIO_new(slice_method);
}

void berth_slice_bio_lend(struct bio_st *bio, const void *bytes, size_t count) {
    slice_state *state = BIO_get_data(bio);
    state->lent = bytes;
    state->lent_length = count;
    state->lent_offset = 0;
}

int berth_slice_bio_keep_unread(struct bio_st *bio) {
    slice_state *state = BIO_get_data(bio);
    size_t rest = state->lent_length - state->lent_offset;
    const unsigned char *from = state->lent + state->lent_offset;
    state->lent = NULL;
    state->lent_length = state->lent_offset = 0;
    if (rest == 0) return 0;
    size_t unread = state->kept_length - state->kept_offset;
    if (state->kept_offset > 0) {
        memmove(state->kept, state->kept + state->kept_offset, unread);
        state->kept_offset = 0;
        state->kept_length = unread;
    }
    if (unread + rest > state->kept_capacity) {
        size_t capacity = (unread + rest) * 2;
        unsigned char *grown = realloc(state->kept, capacity);
        if (grown == NULL) return -1;
        state->kept = grown;
        state->kept_capacity = capacity;
    }
    memcpy(state->kept + unread, from, rest);
    state->kept_length = unread + rest;
    return 0;
}
