// SPDX-License-Identifier: GPL-2.0
/*
 * adopt: what UNIX_DELAY_CLOSE costs when it is used.  Patched kernel only;
 * run in the guest by `make bench` (scripts/bench.py).  Each line:
 * "# bench: <name> <value>", times the fastest of REPEAT runs (ns per op).
 *
 *   adopt_N             socket() + setsockopt(UNIX_DELAY_CLOSE) + bind() that
 *                       adopts a parked queue of one datagram with N fds +
 *                       recvmsg() of them (only an armed socket adopts, so
 *                       arming is part of it; parking the queue before each
 *                       op and disarming the adopter after it are not timed)
 *   live_N              socket() + bind() of a fresh path + recvmsg() of N
 *                       fds from a live socket: the same work, no adoption
 *   adopt_1_parked_K    adopt_1 while K other queues are parked
 *   mem_per_parked_queue  bytes of slab (/proc/meminfo Slab) per parked
 *                       empty queue, its path's inode included, over 1000
 *   mem_per_live_socket the same for a live bound socket, for comparison
 *                       (in bytes, not times)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/un_delay_close.h>

#include "selftest.h"

#define REPEAT		5
#define SCM_MAX_FD	253
#define DELAY_MS	60000

static long iter = 200;

static void die(const char *what)
{
	printf("# adopt: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A socket bound to @path, armed with @ms before bind() unless 0. */
static int bound(const char *path, int ms)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	if (fd < 0 || (ms && setsockopt(fd, SOL_UNIX, UNIX_DELAY_CLOSE, &ms, sizeof(ms))) ||
	    bind(fd, (struct sockaddr *)&sun, unix_addr(&sun, path)))
		return -1;
	return fd;
}

/* @n fresh eventfds to @path, in one datagram from @fd. */
static void send_eventfds(int fd, const char *path, int n)
{
	int fds[SCM_MAX_FD] = {}, i;

	for (i = 0; i < n; i++)
		if ((fds[i] = eventfd(0, 0)) < 0)
			die("eventfd");
	if (send_fds(fd, path, "x", 1, fds, n, 0))
		die("sendmsg");
	for (i = 0; i < n; i++)
		close(fds[i]);
}

/* Receive one datagram and its fds into @fds; the number of fds. */
static int recv_all(int fd, int *fds)
{
	char c;
	int n;

	if (recv_fds(fd, &c, 1, fds, SCM_MAX_FD, &n, MSG_DONTWAIT, -1) < 0)
		die("recvmsg");
	return n;
}

static void close_all(int *fds, int n)
{
	while (n--)
		close(fds[n]);
}

/* Park a queue of one datagram with @n fds at @path. */
static void park(const char *path, int n)
{
	int fd = bound(path, DELAY_MS);

	if (fd < 0)
		die("park");
	if (n)
		send_eventfds(fd, path, n);
	close(fd);
}

/* Adopting a queue of @n fds, or (@live) doing the same work without. */
static long long one_op(int n, int live, int lfd)
{
	int fds[SCM_MAX_FD], fd, got, off = 0;
	long long t;

	if (!live)
		park("adopt.sock", n);
	else
		send_eventfds(lfd, "live.sock", n);

	t = now_ns();
	fd = live ? bound("fresh.sock", 0) : bound("adopt.sock", DELAY_MS);
	if (fd < 0)
		die(live ? "bind" : "bind (adopt)");
	got = recv_all(live ? lfd : fd, fds);
	t = now_ns() - t;

	if (got != n)
		die("fds lost");
	close_all(fds, got);
	/* The adopter is armed: disarmed, its close parks nothing. */
	if (!live && setsockopt(fd, SOL_UNIX, UNIX_DELAY_CLOSE, &off, sizeof(off)))
		die("disarm the adopter");
	close(fd);
	unlink(live ? "fresh.sock" : "adopt.sock");
	return t;
}

static void run(const char *name, int n, int live, int lfd)
{
	long long t[REPEAT];
	int r;
	long i;

	for (i = 0; i < iter / 10; i++)
		one_op(n, live, lfd);
	for (r = 0; r < REPEAT; r++) {
		t[r] = 0;
		for (i = 0; i < iter; i++)
			t[r] += one_op(n, live, lfd);
		t[r] /= iter;
	}
	printf("# bench: %s %lld\n", name, fastest(t, REPEAT));
	fflush(stdout);
}

static long slab_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* Park @k empty queues at q/<i>, from @from on. */
static void park_many(int from, int k)
{
	char path[32];
	int i;

	for (i = from; i < from + k; i++) {
		snprintf(path, sizeof(path), "q/%d", i);
		park(path, 0);
	}
}

int main(int argc, char **argv)
{
	static const int sizes[] = { 1, 16, 253 };
	static const int others[] = { 1, 100, 10000 };
	struct rlimit rl = { 4096, 4096 };
	char name[64];
	int lfd, i, parked = 0;
	long before, after;

	if (argc > 1)
		iter = atol(argv[1]);
	setrlimit(RLIMIT_NOFILE, &rl);
	if (write_file("/proc/sys/net/unix/delay_close_max_per_user", "20000"))
		die("net.unix.delay_close_max_per_user");
	mkdir("q", 0755);
	unlink("adopt.sock");
	unlink("live.sock");
	lfd = bound("live.sock", 0);
	if (lfd < 0)
		die("live socket");

	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "adopt_%d", sizes[i]);
		run(name, sizes[i], 0, -1);
		snprintf(name, sizeof(name), "live_%d", sizes[i]);
		run(name, sizes[i], 1, lfd);
	}

	for (i = 0; i < 2; i++) {
		park_many(parked, others[i] - parked);
		parked = others[i];
		snprintf(name, sizeof(name), "adopt_1_parked_%d", others[i]);
		run(name, 1, 0, -1);
	}

	/* Kernel memory per parked queue (its path's inode and dentry
	 * included), beside that of a live bound socket: slab, over 1000.
	 */
	before = slab_kb();
	park_many(parked, 1000);
	after = slab_kb();
	parked += 1000;
	printf("# bench: mem_per_parked_queue %ld\n", (after - before) * 1024 / 1000);
	before = slab_kb();
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "q/live%d", i);
		if (bound(name, 0) < 0)
			die("live sockets");
	}
	after = slab_kb();
	printf("# bench: mem_per_live_socket %ld\n", (after - before) * 1024 / 1000);

	park_many(parked, others[2] - parked);
	snprintf(name, sizeof(name), "adopt_1_parked_%d", others[2]);
	run(name, 1, 0, -1);
	fflush(stdout);
	return 0;
}
