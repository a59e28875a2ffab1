// SPDX-License-Identifier: GPL-2.0
/*
 * fastpath: the cost of the AF_UNIX paths the UNIX_DELAY_CLOSE series
 * touches, for sockets that never set the option.  Run in the guest on the
 * patched and on the unpatched kernel by `make bench` (scripts/bench.py),
 * which prints the ratio.  Each line: "# bench: <name> <ns per operation>",
 * the fastest of REPEAT runs of ITER operations: under emulation the host's
 * other work only ever adds time, so the minimum is the least noisy.
 *
 *   bind_close   socket() + bind(path) + close() + unlink(): bind's success
 *                path and release (one flag test added)
 *   bind_inuse   bind() of a path a live socket owns: the EADDRINUSE path
 *                (one counter read added while nothing is parked)
 *   pair_close   socketpair(SOCK_DGRAM) + close() x2: release alone
 *   send_recv    sendto(path) + recv() of 64 bytes: the datagram send path
 *                (one flag test added)
 *   dgram_pingpong, stream_pingpong
 *                64 bytes there and back over a socketpair of the type:
 *                what a request/response over AF_UNIX pays
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "selftest.h"

#define REPEAT 7

static long iter = 10000;

static void die(const char *what)
{
	printf("# fastpath: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void bind_close(void)
{
	struct sockaddr_un sun;
	socklen_t len = unix_addr(&sun, "bench.sock");
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, len))
		die("bind");
	close(fd);
	unlink("bench.sock");
}

static int owner = -1;

static void bind_inuse(void)
{
	struct sockaddr_un sun;
	socklen_t len = unix_addr(&sun, "owned.sock");
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	if (fd < 0 || !bind(fd, (struct sockaddr *)&sun, len) || errno != EADDRINUSE)
		die("bind of an owned path");
	close(fd);
}

static void pair_close(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
		die("socketpair");
	close(sv[0]);
	close(sv[1]);
}

static int rx = -1, tx = -1;

static void send_recv(void)
{
	struct sockaddr_un sun;
	socklen_t len = unix_addr(&sun, "rx.sock");
	char buf[64] = {};

	if (sendto(tx, buf, sizeof(buf), 0, (struct sockaddr *)&sun, len) != sizeof(buf) ||
	    recv(rx, buf, sizeof(buf), 0) != sizeof(buf))
		die("send_recv");
}

static int dg[2] = { -1, -1 }, st[2] = { -1, -1 };

static void pingpong(const int *sv)
{
	char buf[64] = {};

	if (send(sv[0], buf, sizeof(buf), 0) != sizeof(buf) ||
	    recv(sv[1], buf, sizeof(buf), MSG_WAITALL) != sizeof(buf) ||
	    send(sv[1], buf, sizeof(buf), 0) != sizeof(buf) ||
	    recv(sv[0], buf, sizeof(buf), MSG_WAITALL) != sizeof(buf))
		die("pingpong");
}

static void dgram_pingpong(void)
{
	pingpong(dg);
}

static void stream_pingpong(void)
{
	pingpong(st);
}

static void run(const char *name, void (*op)(void))
{
	long long t[REPEAT];
	int r;
	long i;

	for (i = 0; i < iter / 10; i++)		/* warm up */
		op();
	for (r = 0; r < REPEAT; r++) {
		long long start = now_ns();

		for (i = 0; i < iter; i++)
			op();
		t[r] = (now_ns() - start) / iter;
	}
	printf("# bench: %s %lld\n", name, fastest(t, REPEAT));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sun;

	if (argc > 1)
		iter = atol(argv[1]);

	unlink("owned.sock");
	unlink("rx.sock");
	owner = socket(AF_UNIX, SOCK_DGRAM, 0);
	rx = socket(AF_UNIX, SOCK_DGRAM, 0);
	tx = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (bind(owner, (struct sockaddr *)&sun, unix_addr(&sun, "owned.sock")) ||
	    bind(rx, (struct sockaddr *)&sun, unix_addr(&sun, "rx.sock")) ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) || socketpair(AF_UNIX, SOCK_STREAM, 0, st))
		die("setup");

	run("bind_close", bind_close);
	run("bind_inuse", bind_inuse);
	run("pair_close", pair_close);
	run("send_recv", send_recv);
	run("dgram_pingpong", dgram_pingpong);
	run("stream_pingpong", stream_pingpong);
	return 0;
}
