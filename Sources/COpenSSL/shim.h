#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <openssl/rand.h>

/* SSL_OP_* are macros over SSL_OP_BIT, which Swift does not import. */
static const uint64_t berth_ssl_op_cipher_server_preference = SSL_OP_CIPHER_SERVER_PREFERENCE;
static const uint64_t berth_ssl_op_no_renegotiation = SSL_OP_NO_RENEGOTIATION;
