/*
 * notify: tells the kernel to drop what it cached about paths the daemon
 * changed (after a write), from a thread of its own: libfuse's
 * doc/README.notifications warns against notifying from inside a request
 * handler. A handler queues paths and may wait, with a bound, until the
 * thread has sent them, so that close() returns only after the kernel
 * forgot the old content.
 */
#ifndef BOTTLEFS_FS_NOTIFY_H
#define BOTTLEFS_FS_NOTIFY_H

#include "util/check.h"
#include <stddef.h>
#include <stdint.h>

struct fuse;
struct notifier;

/* 0 and *out, or -errno. */
MUST_CHECK int notifier_start(struct fuse *fuse, struct notifier **out);
/* Stops the thread (pending paths are dropped) and frees. NULL-safe. */
void notifier_stop(struct notifier *n);
/* Queues paths (copied); returns a ticket for notifier_wait, 0 on failure. */
uint64_t notifier_push(struct notifier *n, const char *const *paths, size_t count);
/* Waits until the ticket was processed or timeout_ms passed. */
void notifier_wait(struct notifier *n, uint64_t ticket, unsigned timeout_ms);

#endif
