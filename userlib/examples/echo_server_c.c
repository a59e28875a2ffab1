/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * examples/echo_server.cpp in C, on puds.h: the same options but --rebind
 * (PUDS_REBIND), the same signals (SIGTERM parks and exits, SIGQUIT
 * retires).  One client at a time, for brevity.
 *
 *   echo_server_c [--park PATH] [--listen ADDR] [--delay MS] [--rebind] [--ready FILE]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "puds/puds.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void echo(int c)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(c, buf, sizeof(buf))) > 0 && !stop_signal)
		if (write(c, buf, (size_t)n) != n)
			break;
}

int main(int argc, char **argv)
{
	const char *park = "/run/echo/handoff", *listen = "127.0.0.1:7777", *ready = NULL;
	struct puds_handoff_options o = PUDS_HANDOFF_OPTIONS_INIT;
	struct puds_handoff *h;
	struct sigaction sa;
	int i, lfd;

	for (i = 1; i < argc; i++) {
		int more = i + 1 < argc;
		if (!strcmp(argv[i], "--park") && more)
			park = argv[++i];
		else if (!strcmp(argv[i], "--listen") && more)
			listen = argv[++i];
		else if (!strcmp(argv[i], "--delay") && more) {
			char *end;
			long v;

			errno = 0;
			v = strtol(argv[++i], &end, 10);
			if (errno || *end || end == argv[i] || v < 1 || v > INT_MAX) {
				fprintf(stderr, "echo_server_c: --delay %s: give milliseconds, 1 or more\n",
					argv[i]);
				return 2;
			}
			o.delay_ms = (int)v;
		}
		else if (!strcmp(argv[i], "--ready") && more)
			ready = argv[++i];
		else if (!strcmp(argv[i], "--rebind"))
			o.flags |= PUDS_REBIND;
		else {
			fputs("usage: echo_server_c [--park PATH] [--listen ADDR] [--delay MS] "
			      "[--rebind] [--ready FILE]\n", stderr);
			return 2;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: accept() returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	{
		struct puds_listen l[] = {{"echo", listen}};
		if (puds_handoff_start(park, l, 1, &o, &h) < 0) {
			fprintf(stderr, "echo_server_c: %s\n", puds_strerror());
			return 1;
		}
	}
	lfd = puds_handoff_listener(h, "echo");
	if (ready) {
		FILE *f = fopen(ready, "w");
		if (f) {
			fprintf(f, "%d %s\n", getpid(),
				!puds_handoff_handing_off(h) ? "no-handoff" :
				puds_handoff_adopted(h) ? "adopted" : "fresh");
			fclose(f);
		}
	}
	while (!stop_signal) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		echo(c);
		close(c);
	}
	if (stop_signal == SIGQUIT) {
		if (puds_handoff_retire(h) < 0) {
			fprintf(stderr, "echo_server_c: %s\n", puds_strerror());
			return 1;
		}
		return 0;
	}
	puds_handoff_close(h);	/* closed armed: the listener stays parked */
	return 0;
}
