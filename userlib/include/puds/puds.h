/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The C API of libpuds, for C servers and FFI (link with -lpuds, which is
 * C++: a C program links it with the C++ runtime, as `pkg-config --libs
 * puds` or CMake's puds::puds do).  Every call that can fail returns a
 * negative errno (-EOPNOTSUPP: a kernel without UNIX_DELAY_CLOSE; -EINVAL:
 * a bad argument; -EADDRINUSE: a live owner of the path; ...) and leaves a
 * message saying what failed in puds_strerror(), per thread, until the
 * next failing call of that thread.  Nothing here throws or aborts.
 *
 * The one-call way (see puds/server.hpp for the same in C++):
 *
 *     struct puds_listen l[] = {{"echo", "127.0.0.1:7777"}};
 *     struct puds_handoff_options o = PUDS_HANDOFF_OPTIONS_INIT;
 *     struct puds_handoff *h;
 *     o.delay_ms = 10000;
 *     if (puds_handoff_start("/run/echo/handoff", l, 1, &o, &h) < 0)
 *             errx(1, "%s", puds_strerror());
 *     int lfd = puds_handoff_listener(h, "echo");
 *     ... serve; on SIGTERM for an upgrade: puds_handoff_close(h) (or just
 *     exit): the listeners stay parked; stopping for good:
 *     puds_handoff_retire(h): the queue and the listeners are dropped.
 *
 * The pieces (puds/handoff.hpp's Rendezvous):
 *
 *     puds_open(path, delay_ms, &rv)   armed before bind: from here a crash
 *                                      parks what it adopted again
 *     puds_reclaim(rv, &parcel)        the newest parcel parked (copies)
 *     puds_take_listener(parcel, "echo", "127.0.0.1:7777", 0)  its fd, or fresh
 *     puds_parcel_add(next, "echo", fd)   (a dup of fd)
 *     puds_park(rv, next)              queued for the next incarnation
 *     puds_close(rv)                   closed armed: the queue is parked
 *     puds_retire(rv)                  closed disarmed: the queue is dropped
 *
 * Lifetime.  The rendezvous socket is armed with UNIX_DELAY_CLOSE from
 * puds_open() on: closing it, by puds_close(), exit or any signal, parks
 * its queue (the parked listeners and the connections waiting on them) for
 * delay_ms, 1 .. net.unix.delay_close_max_ms (puds_handoff_start() clamps
 * a longer delay to it with a warning; puds_open() fails with -EINVAL).
 * Upgrading or restarting (SIGTERM from a deploy): close or exit.  Stopping
 * for good: puds_retire() / puds_handoff_retire() (UNIX_DELAY_CLOSE 0, then
 * close: the queue is dropped).
 */
#ifndef PUDS_PUDS_H
#define PUDS_PUDS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct puds_rendezvous;
struct puds_parcel;
struct puds_handoff;

/* The message of the last failing call of this thread ("" if none). */
const char *puds_strerror(void);

/* 0 if the kernel has UNIX_DELAY_CLOSE, else -EOPNOTSUPP (or -errno). */
int puds_check_kernel(void);

/* Rendezvous::open: *out set on success (0). */
int puds_open(const char *path, int delay_ms, struct puds_rendezvous **out);
/* 1 if puds_open() adopted a parked queue, 0 if it created the path. */
int puds_adopted(const struct puds_rendezvous *rv);
/* The rendezvous socket's fd (owned by @rv). */
int puds_fd(const struct puds_rendezvous *rv);
/* The newest complete parcel parked (an empty one on a first start). */
int puds_reclaim(struct puds_rendezvous *rv, struct puds_parcel **out);
/* Queue @p for the next incarnation, then drop the previous parcel. */
int puds_park(struct puds_rendezvous *rv, const struct puds_parcel *p);
/* UNIX_DELAY_CLOSE to @delay_ms (0: closing drops the queue). */
int puds_set_delay(struct puds_rendezvous *rv, int delay_ms);
/* Close the armed socket: the queue is parked.  NULL is a no-op. */
void puds_close(struct puds_rendezvous *rv);
/* Stop for good: UNIX_DELAY_CLOSE 0, then close: the queue is dropped.
 * @rv is freed even on failure (then closed armed: parked). */
int puds_retire(struct puds_rendezvous *rv);

/* An empty parcel. */
int puds_parcel_new(struct puds_parcel **out);
void puds_parcel_free(struct puds_parcel *p);
/* Add a dup of @fd under @name (the caller keeps @fd). */
int puds_parcel_add(struct puds_parcel *p, const char *name, int fd);
/* Number of fds in @p. */
size_t puds_parcel_count(const struct puds_parcel *p);
/* Take the fd named @name out of @p: a fd >= 0 the caller owns, or -ENOENT. */
int puds_take(struct puds_parcel *p, const char *name);
/* The state blob: puds_parcel_state() points into @p (valid until it
 * changes); puds_parcel_set_state() copies @len bytes. */
const void *puds_parcel_state(const struct puds_parcel *p, size_t *len);
int puds_parcel_set_state(struct puds_parcel *p, const void *data, size_t len);

/* Flags of puds_take_listener() and puds_handoff_options. */
#define PUDS_NONBLOCK 0x1	/* O_NONBLOCK on the listener (else cleared) */
#define PUDS_REBIND 0x2		/* AddressChange::rebind: a parked listener bound
				 * elsewhere is dropped (and its waiting
				 * connections), a fresh one bound; else -EINVAL */

/* The listener @name of @p if it is bound to @address ("127.0.0.1:80",
 * "[::1]:80", "udp:HOST:PORT", "unix:/path"), taken out of @p, else a fresh
 * one: a fd >= 0 the caller owns, or -errno. */
int puds_take_listener(struct puds_parcel *p, const char *name, const char *address, int flags);

/* Handoff::start, for C. */
struct puds_listen {
	const char *name;
	const char *address;
};

struct puds_handoff_options {
	int delay_ms;	/* 1 .. net.unix.delay_close_max_ms (clamped) */
	int flags;	/* PUDS_NONBLOCK, PUDS_REBIND */
	int fallback_fail;	/* 0: on a kernel without the feature bind afresh and
				 * warn (no handoff); 1: fail with -EOPNOTSUPP */
	/* Each warning; NULL: stderr ("puds: warning: ..."). */
	void (*warn)(const char *message, void *arg);
	void *warn_arg;
};
#define PUDS_HANDOFF_OPTIONS_INIT {10000, 0, 0, NULL, NULL}

int puds_handoff_start(const char *path, const struct puds_listen *listeners, size_t n,
		       const struct puds_handoff_options *opt, struct puds_handoff **out);
/* The listener @name (owned by @h), or -ENOENT. */
int puds_handoff_listener(const struct puds_handoff *h, const char *name);
/* 1 if a rendezvous parks the listeners, 0 in the fallback. */
int puds_handoff_handing_off(const struct puds_handoff *h);
/* 1 if a parked queue was adopted (a restart). */
int puds_handoff_adopted(const struct puds_handoff *h);
/* Close and free: the listeners stay parked (upgrade, restart). */
void puds_handoff_close(struct puds_handoff *h);
/* Close and free, dropping the queue and the listeners (stop for good). */
int puds_handoff_retire(struct puds_handoff *h);

#ifdef __cplusplus
}
#endif

#endif /* PUDS_PUDS_H */
