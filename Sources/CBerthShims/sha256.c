#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
#include <string.h>
#include "berth_shims.h"

_Static_assert(sizeof(SHA256_CTX) <= sizeof(berth_sha256_state), "SHA256_CTX does not fit");

static SHA256_CTX *ctx(berth_sha256_state *state) { return (SHA256_CTX *)state; }

void berth_sha256_init(berth_sha256_state *state) {
    memset(state, 0, sizeof(*state));
    SHA256_Init(ctx(state));
}

void berth_sha256_update(berth_sha256_state *state, const void *bytes, size_t count) {
    SHA256_Update(ctx(state), bytes, count);
}

void berth_sha256_peek(const berth_sha256_state *state, uint8_t out[32]) {
    SHA256_CTX copy;
    memcpy(&copy, state, sizeof(copy));
    SHA256_Final(out, &copy);
}

uint64_t berth_sha256_length(const berth_sha256_state *state) {
    const SHA256_CTX *c = (const SHA256_CTX *)state;
    return (((uint64_t)c->Nh << 32) | c->Nl) / 8;
}

static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static uint32_t get32(const uint8_t *p) { return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]; }

void berth_sha256_export(const berth_sha256_state *state, uint8_t out[BERTH_SHA256_GO_STATE_SIZE]) {
    const SHA256_CTX *c = (const SHA256_CTX *)state;
    memset(out, 0, BERTH_SHA256_GO_STATE_SIZE);
    memcpy(out, "sha\x03", 4);
    for (int i = 0; i < 8; i++) put32(out + 4 + 4 * i, c->h[i]);
    memcpy(out + 36, c->data, c->num);
    uint64_t length = berth_sha256_length(state);
    for (int i = 0; i < 8; i++) out[100 + i] = (uint8_t)(length >> (56 - 8 * i));
}

int berth_sha256_import(berth_sha256_state *state, const uint8_t *in, size_t count) {
    if (count != BERTH_SHA256_GO_STATE_SIZE || memcmp(in, "sha\x03", 4) != 0) return -1;
    berth_sha256_init(state);
    SHA256_CTX *c = ctx(state);
    for (int i = 0; i < 8; i++) c->h[i] = get32(in + 4 + 4 * i);
    uint64_t length = 0;
    for (int i = 0; i < 8; i++) length = (length << 8) | in[100 + i];
    uint64_t bits = length * 8;
    c->Nl = (uint32_t)bits;
    c->Nh = (uint32_t)(bits >> 32);
    c->num = (unsigned int)(length % 64);
    memcpy(c->data, in + 36, c->num);
    return 0;
}
