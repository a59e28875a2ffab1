/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * What the UNIX_DELAY_CLOSE kernel series (kernel-patches/) adds to
 * include/uapi/linux/unix_diag.h, for programs built against any kernel's
 * headers: the request flag, the attribute, its payload and its states.
 *
 * Include it after <linux/unix_diag.h>.  When those headers already come
 * from a patched kernel (UDIAG_SHOW_DELAY_CLOSE is defined), they win and
 * nothing is defined here.
 *
 * scripts/check-uapi.py checks every value and field against the patched
 * tree.
 */
#ifndef _PUDS_LINUX_UNIX_DIAG_DELAY_CLOSE_H
#define _PUDS_LINUX_UNIX_DIAG_DELAY_CLOSE_H

#include <linux/types.h>
#include <linux/unix_diag.h>

#ifndef UDIAG_SHOW_DELAY_CLOSE
#define UDIAG_SHOW_DELAY_CLOSE	0x00000080	/* show UNIX_DELAY_CLOSE, dump parked queues */

/* The next attribute after UNIX_DIAG_UID in the kernel's enum. */
enum {
	UNIX_DIAG_DELAY_CLOSE = 8,
};

/* UNIX_DIAG_DELAY_CLOSE: a socket with UNIX_DELAY_CLOSE set, or the receive
 * queue it parked when it was released.  A parked queue is reported with
 * the inode and cookie of the released socket, state TCP_CLOSE and no peer.
 */
enum {
	UDIAG_DC_ARMED = 0,	/* open, will park its queue when released */
	UDIAG_DC_PARKING = 1,	/* being released */
	UDIAG_DC_PARKED = 2,	/* waiting for a bind() of its path to adopt it */
	UDIAG_DC_ADOPTING = 3,	/* a bind() of its path is adopting it */
};

struct unix_diag_delay_close {
	__u32	udiag_dc_state;		/* UDIAG_DC_* */
	__u32	udiag_dc_delay_ms;	/* the option's value */
	__u32	udiag_dc_remaining_ms;	/* parked: time left before expiry */
	__u32	udiag_dc_qlen;		/* messages in the receive queue */
	__u32	udiag_dc_nr_fds;	/* fds passed with them */
};
#endif /* UDIAG_SHOW_DELAY_CLOSE */

#endif /* _PUDS_LINUX_UNIX_DIAG_DELAY_CLOSE_H */
