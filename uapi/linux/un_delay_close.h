/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The userspace-visible definitions of the UNIX_DELAY_CLOSE kernel series
 * (kernel-patches/), for programs built against any kernel's headers.
 *
 * UNIX_DELAY_CLOSE is what the series adds to include/uapi/linux/un.h.
 * SOL_UNIX is what it adds to include/linux/socket.h: socket levels are
 * not part of the kernel's uapi headers (the C library carries them), so it
 * is defined here until the C library does.
 *
 * scripts/check-uapi.py checks these values against the patched tree.
 */
#ifndef _PUDS_LINUX_UN_DELAY_CLOSE_H
#define _PUDS_LINUX_UN_DELAY_CLOSE_H

/* Socket level of the AF_UNIX-only options (include/linux/socket.h). */
#ifndef SOL_UNIX
#define SOL_UNIX		288
#endif

/* Socket options at level SOL_UNIX (include/uapi/linux/un.h) */
#ifndef UNIX_DELAY_CLOSE
#define UNIX_DELAY_CLOSE	1	/* int, ms: keep the receive queue after release */
#endif

#endif /* _PUDS_LINUX_UN_DELAY_CLOSE_H */
