// SPDX-License-Identifier: GPL-2.0
/* Sockets: addresses, SCM_RIGHTS, polls, exact reads, loopback, arming. */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/un_delay_close.h>

#include "selftest.h"

#define SCM_MAX_FD 253		/* the most fds one SCM_RIGHTS message carries */

socklen_t unix_addr(struct sockaddr_un *sun, const char *path)
{
	size_t plen = strlen(path);

	if (plen >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		seterr("socket path");
		return 0;
	}
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, plen + 1);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1);
}

void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int wait_fd(int fd, short events, int timeout_ms, const char *call)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int r = poll(&pfd, 1, timeout_ms);

	if (r < 0) {
		seterr("poll");
		return -1;
	}
	if (r == 0) {
		errno = ETIMEDOUT;
		seterrmsg("%s: nothing within %d ms (poll timeout)", call, timeout_ms);
		return -1;
	}
	return 0;
}

int send_fds(int sock, const char *path, const void *data, size_t len,
	     const int *fds, int nfds, int flags)
{
	union {
		char buf[CMSG_SPACE(SCM_MAX_FD * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct sockaddr_un addr;
	struct msghdr msg;
	struct cmsghdr *cmsg;
	ssize_t n;

	if (nfds < 1 || nfds > SCM_MAX_FD || len < 1) {
		errno = EINVAL;
		seterr("send_fds");
		return -1;
	}
	memset(&ctl, 0, sizeof(ctl));
	memset(&msg, 0, sizeof(msg));
	if (path) {
		msg.msg_name = &addr;
		msg.msg_namelen = unix_addr(&addr, path);
		if (!msg.msg_namelen)
			return -1;
	}
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));

	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(cmsg), fds, nfds * sizeof(int));

	n = sendmsg(sock, &msg, flags);
	if (n < 0) {
		seterr(path ? "sendmsg(SCM_RIGHTS, to path)" : "sendmsg(SCM_RIGHTS)");
		return -1;
	}
	if ((size_t)n != len) {
		seterrmsg("sendmsg(SCM_RIGHTS): sent %zd of %zu bytes", n, len);
		return -1;
	}
	return 0;
}

ssize_t recv_fds(int sock, void *buf, size_t buflen, int *fds, int maxfds,
		 int *nfds, int flags, int timeout_ms)
{
	union {
		char buf[CMSG_SPACE(SCM_MAX_FD * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = buflen };
	struct msghdr msg;
	struct cmsghdr *cmsg;
	ssize_t n;
	int count = 0, i;

	*nfds = 0;
	if (timeout_ms >= 0) {
		if (wait_fd(sock, POLLIN, timeout_ms, "recvmsg"))
			return -1;
		flags |= MSG_DONTWAIT;
	}
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);

	n = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
	if (n < 0) {
		seterr("recvmsg");
		return -1;
	}
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		size_t k, j;

		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (j = 0; j < k; j++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cmsg) + j * sizeof(int), sizeof(fd));
			if (count < maxfds)
				fds[count++] = fd;
			else
				close(fd);
		}
	}
	if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
		seterrmsg("recvmsg: %s%s set (%d fds received)",
			  msg.msg_flags & MSG_CTRUNC ? "MSG_CTRUNC " : "",
			  msg.msg_flags & MSG_TRUNC ? "MSG_TRUNC " : "", count);
		for (i = 0; i < count; i++)
			close(fds[i]);
		errno = EMSGSIZE;
		return -1;
	}
	*nfds = count;
	return n;
}

int read_exact(int fd, void *buf, size_t len, int timeout_ms)
{
	size_t got = 0;
	int tries;

	for (tries = 0; got < len && tries < 16; tries++) {
		ssize_t n;

		if (wait_fd(fd, POLLIN, timeout_ms, "read"))
			return -1;
		/* read(), not recv(): sockets and pipes alike */
		n = read(fd, (char *)buf + got, len - got);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			seterr("read");
			return -1;
		}
		if (n == 0) {
			seterrmsg("read: EOF after %zu of %zu bytes", got, len);
			return -1;
		}
		got += (size_t)n;
	}
	if (got < len) {
		seterrmsg("read: only %zu of %zu bytes", got, len);
		return -1;
	}
	return 0;
}

int read_expect(int fd, const char *want, int timeout_ms)
{
	size_t len = strlen(want);
	char got[256];

	if (len > sizeof(got)) {
		errno = EINVAL;
		seterr("read_expect");
		return -1;
	}
	if (read_exact(fd, got, len, timeout_ms))
		return -1;
	if (memcmp(got, want, len)) {
		seterrmsg("read '%.*s', expected '%s'", (int)len, got, want);
		return -1;
	}
	return 0;
}

int set_delay(int fd, int ms)
{
	if (setsockopt(fd, SOL_UNIX, UNIX_DELAY_CLOSE, &ms, sizeof(ms))) {
		char call[64];

		snprintf(call, sizeof(call), "setsockopt(SOL_UNIX, UNIX_DELAY_CLOSE, %d)", ms);
		seterr(call);
		return -1;
	}
	return 0;
}

bool delay_is(int fd, int want)
{
	socklen_t len = sizeof(int);
	int got = -1;

	if (getsockopt(fd, SOL_UNIX, UNIX_DELAY_CLOSE, &got, &len)) {
		seterr("getsockopt(SOL_UNIX, UNIX_DELAY_CLOSE)");
		return false;
	}
	if (len != sizeof(got) || got != want) {
		seterrmsg("getsockopt(SOL_UNIX, UNIX_DELAY_CLOSE) gave %d (optlen %u), expected %d",
			  got, (unsigned int)len, want);
		return false;
	}
	return true;
}

int unix_socket(int type, const char *path, int arm_ms, bool do_connect)
{
	struct sockaddr_un addr;
	socklen_t len = unix_addr(&addr, path);
	int fd, e;

	if (!len)
		return -1;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		seterr(type & SOCK_DGRAM ? "socket(AF_UNIX, SOCK_DGRAM)" : "socket(AF_UNIX)");
		return -1;
	}
	if (arm_ms && set_delay(fd, arm_ms)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (do_connect ? connect(fd, (struct sockaddr *)&addr, len) :
			 bind(fd, (struct sockaddr *)&addr, len)) {
		e = errno;
		snprintf(g_err, sizeof(g_err), "%s(%s): %s (errno %d)",
			 do_connect ? "connect" : "bind", path, strerror(e), e);
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int unix_dgram_bind(const char *path, int arm_ms)
{
	return unix_socket(SOCK_DGRAM, path, arm_ms, false);
}

void lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
}
