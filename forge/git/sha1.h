/*
 * git/sha1: SHA-1 (FIPS 180-4), for the one thing the bundle checker needs
 * it for: telling whether a pack's trailer matches the bytes before it, so
 * that "complete" means what git means by it. Not collision-detecting (git
 * uses SHA-1DC): the objects themselves are verified by `git index-pack`,
 * which is; this hash only decides where a pack ends.
 *
 * A context is a plain value: copy it to hash a prefix and keep going.
 * Not thread-safe per context; no global state.
 */
#ifndef BOTTLEFS_FORGE_GIT_SHA1_H
#define BOTTLEFS_FORGE_GIT_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN 20

struct sha1_ctx {
	uint32_t h[5];
	uint64_t len; /* bytes hashed so far */
	unsigned char block[64];
	size_t fill; /* bytes waiting in block */
};

void sha1_init(struct sha1_ctx *c);
void sha1_update(struct sha1_ctx *c, const void *p, size_t n);
/* Writes the digest; c is left finished (init it again to reuse). */
void sha1_final(struct sha1_ctx *c, unsigned char out[SHA1_LEN]);

/* Lower-case hex of 20 bytes into out (41 bytes with the NUL). */
void sha1_hex(const unsigned char in[SHA1_LEN], char out[2 * SHA1_LEN + 1]);

#endif
