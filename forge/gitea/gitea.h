/*
 * gitea: the Gitea adapter of the Forge Adapter Contract (libcurl +
 * jansson), honouring ../shared/gitea/FACTS.md.
 *
 * The token is copied into the adapter and wiped on free; it is sent only
 * in the Authorization header and never appears in an error message.
 */
#ifndef BOTTLEFS_FORGE_GITEA_H
#define BOTTLEFS_FORGE_GITEA_H

#include "forge/forge.h"

struct gitea_options {
	const char *base_url;  /* e.g. "http://127.0.0.1:3000" (no /api/v1) */
	const char *token;     /* may be NULL: anonymous */
	unsigned timeout_ms;   /* bound on one whole operation, retries included */
	size_t max_body;       /* cap on one response body (0: 32 MiB) */
};

/* New adapter, or NULL with a reason in err. */
struct forge *gitea_new(const struct gitea_options *opt, struct buf *err);

#endif
