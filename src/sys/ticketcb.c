/*
 * ticketcb.c -- OpenSSL's side of the session-ticket keys (ticketcb.h):
 * every handshake that makes or shows a ticket.  Part of the TLS layer;
 * the key table itself, its rotation and hand-over stay in the host
 * (ticketkeys.c), which the layer reads through tls_host.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "log.h"
#include "ticketcb.h"
#include "ticketstore.h"
#include "tlslayer.h"

/* Set up ectx and hctx for k; 0 or -1. */
static int key_init(const struct tk_key *k, unsigned char *iv,
                    EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc)
{
    const EVP_CIPHER *cipher =
        k->secret_len == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac,
                                          k->secret_len),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };

    if (EVP_MAC_CTX_set_params(hctx, params) != 1)
        return -1;
    if (enc)
        return EVP_EncryptInit_ex(ectx, cipher, NULL, k->aes, iv) == 1 ? 0 : -1;
    return EVP_DecryptInit_ex(ectx, cipher, NULL, k->aes, iv) == 1 ? 0 : -1;
}

/*
 * OpenSSL's ticket callback (SSL_CTX_set_tlsext_ticket_key_evp_cb), for
 * TLS 1.2 tickets and TLS 1.3's stateless ones alike.  Encrypting: the
 * current key; 0 (no ticket) when there is none.  Decrypting: the key of
 * that name, 1 when it is current, 2 when it is older (the client gets a
 * new ticket under the current key), 0 when it is gone (a full
 * handshake).  -1 only when OpenSSL itself fails.
 */
static int ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
                     EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc)
{
    struct tk_key k;
    int           rc;

    if (enc) {
        if (tls_host->ticket_current(&k) == -1)
            return 0;
        rc = 1;
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1)
            rc = -1;
        else
            memcpy(name, k.name, TK_NAME_LEN);
    } else {
        rc = tls_host->ticket_find(name, &k);
        if (rc == 0)
            return 0;
        /* TLS 1.3: a client uses a ticket once (RFC 8446, C.4), and
         * OpenSSL sends a new one after a resumption only when asked to
         * renew: without it, every other connection is a full handshake. */
        if (SSL_version(ssl) >= TLS1_3_VERSION)
            rc = 2;
    }
    if (rc > 0 && key_init(&k, iv, ectx, hctx, enc) == -1)
        rc = -1;
    OPENSSL_cleanse(&k, sizeof(k));
    return rc;
}

/*
 * Called by OpenSSL just before it encodes a session into a new ticket
 * (SSL_CTX_set_session_ticket_cb): the session, so its ticket, lives as
 * long as the table's current lifetime.  Read here rather than given to
 * the context when it is made, because contexts are made as a
 * configuration is read, before the master has the table (at start) or
 * has taken that configuration's lifetime (on reload).
 */
static int on_new_ticket(SSL *ssl, void *arg)
{
    SSL_SESSION *sess = SSL_get_session(ssl);
    uint32_t     lifetime;

    (void)arg;
    if (sess == NULL)
        return 1;
    lifetime = tls_host->ticket_lifetime_s();
    if (lifetime > 0)
        (void)SSL_SESSION_set_timeout(sess, (long)lifetime);
    return 1;
}

int ticketkeys_attach(SSL_CTX *ctx)
{
    if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1 ||
        SSL_CTX_set_session_ticket_cb(ctx, on_new_ticket, NULL, NULL) != 1) {
        log_error(NULL, "TLS: cannot set the session ticket callbacks");
        return -1;
    }
    return 0;
}
