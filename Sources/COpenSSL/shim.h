#ifndef WEAVE_COPENSSL_SHIM_H
#define WEAVE_COPENSSL_SHIM_H
// The system's OpenSSL (Debian: libssl-dev, 3.0). Swift cannot import OpenSSL's function-like
// macros, so the few WeaveTLS needs are wrapped here as inline functions of the same meaning.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static inline int weave_SSL_CTX_set_min_proto_version(SSL_CTX *context, int version) {
    return (int)SSL_CTX_set_min_proto_version(context, version);
}

static inline long weave_SSL_CTX_set_mode(SSL_CTX *context, long mode) {
    return SSL_CTX_set_mode(context, mode);
}

static inline long weave_SSL_CTX_set_session_cache_mode(SSL_CTX *context, long mode) {
    return SSL_CTX_set_session_cache_mode(context, mode);
}

static inline int weave_SSL_CTX_add1_chain_cert(SSL_CTX *context, X509 *certificate) {
    return (int)SSL_CTX_add1_chain_cert(context, certificate);
}

static inline int weave_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

static inline long weave_BIO_get_mem_data(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}

static inline uint64_t weave_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }

static inline uint64_t weave_SSL_OP_CIPHER_SERVER_PREFERENCE(void) { return SSL_OP_CIPHER_SERVER_PREFERENCE; }
static inline uint64_t weave_SSL_OP_PRIORITIZE_CHACHA(void) { return SSL_OP_PRIORITIZE_CHACHA; }

static inline unsigned long weave_XN_FLAG_RFC2253(void) { return XN_FLAG_RFC2253; }

static inline int weave_TLS1_2_VERSION(void) { return TLS1_2_VERSION; }
static inline int weave_TLS1_3_VERSION(void) { return TLS1_3_VERSION; }
#endif
