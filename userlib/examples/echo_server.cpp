// SPDX-License-Identifier: LGPL-2.1-or-later
// A line echo server that keeps its listener, and every connection that
// arrives while it is down, across a crash, a restart or an upgrade: the
// whole of what puds asks of a server is the Handoff::start() call below.
//
//   echo_server [--park PATH] [--listen ADDR] [--delay MS] [--rebind] [--ready FILE]
//
//   --park PATH    the rendezvous (default /run/echo/handoff); its
//                  directory should be mode 0700
//   --listen ADDR  default 127.0.0.1:7777
//   --delay MS     how long the listener stays parked once this process is
//                  gone (default 10000; clamped to net.unix.delay_close_max_ms)
//   --rebind       if the parked listener is bound to another address than
//                  --listen (a new version listens elsewhere), drop it and
//                  the connections waiting on it and bind afresh, instead of
//                  failing
//   --ready FILE   written once serving: "<pid> adopted|fresh|no-handoff"
//
// Signals: SIGTERM (an upgrade or a restart) stops accepting and exits: the
// listener stays parked, and the next echo_server serves what queued
// meanwhile.  SIGQUIT (stopping for good) retires the rendezvous: the
// listener and its waiting connections are dropped.  SIGKILL or a crash is
// a SIGTERM that nobody asked for: nothing is lost either.
//
// Built with -DPUDS_EXAMPLES=ON (on in the guest build); run in the guest
// by tests/guest/echo_check.cpp.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "puds/server.hpp"

namespace {

volatile sig_atomic_t stop_signal = 0;

void on_signal(int sig)
{
	stop_signal = sig;
}

int usage()
{
	std::fputs("usage: echo_server [--park PATH] [--listen ADDR] [--delay MS] [--rebind] "
		   "[--ready FILE]\n", stderr);
	return 2;
}

} // namespace

int main(int argc, char **argv)
{
	std::string park = "/run/echo/handoff", listen = "127.0.0.1:7777", ready;
	puds::HandoffOptions opt{.delay_ms = 10000, .blocking = puds::Blocking::nonblocking};
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		bool has_value = i + 1 < argc;
		if (a == "--park" && has_value)
			park = argv[++i];
		else if (a == "--listen" && has_value)
			listen = argv[++i];
		else if (a == "--delay" && has_value) {
			// Whole and in range, never atoi's 0 for "foo": Handoff::start
			// clamps it to net.unix.delay_close_max_ms.
			std::string_view v = argv[++i];
			auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), opt.delay_ms);
			if (ec != std::errc() || end != v.data() + v.size() || opt.delay_ms < 1) {
				std::fprintf(stderr, "echo_server: --delay %s: give milliseconds, 1 or more\n",
					     argv[i]);
				return 2;
			}
		}
		else if (a == "--ready" && has_value)
			ready = argv[++i];
		else if (a == "--rebind")
			opt.on_address_change = puds::AddressChange::rebind;
		else
			return usage();
	}

	// Signals first: a SIGTERM during start-up must not kill us before the
	// listener is parked (it would be parked anyway; this only makes the
	// exit a clean one).
	struct sigaction sa {};
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, nullptr);
	sigaction(SIGQUIT, &sa, nullptr);
	sigaction(SIGINT, &sa, nullptr);
	signal(SIGPIPE, SIG_IGN);

	// Take the parked listener (and the connections that waited on it), or
	// bind one; park it at once.  From here a crash loses nothing.
	auto h = puds::Handoff::start(park, {{"echo", listen}}, opt);
	if (!h) {
		std::fprintf(stderr, "echo_server: %s\n", h.error().message.c_str());
		return 1;
	}
	int lfd = h->listener("echo");

	if (!ready.empty()) {
		std::string tmp = ready + ".tmp";
		if (std::FILE *f = std::fopen(tmp.c_str(), "w")) {
			std::fprintf(f, "%d %s\n", getpid(),
				     !h->handing_off() ? "no-handoff" : h->adopted() ? "adopted" : "fresh");
			std::fclose(f);
			std::rename(tmp.c_str(), ready.c_str());
		}
	}

	std::vector<pollfd> fds{{lfd, POLLIN, 0}};
	while (!stop_signal) {
		if (poll(fds.data(), fds.size(), -1) < 0)
			continue;	// EINTR: a signal, checked above
		if (fds[0].revents & POLLIN) {
			for (;;) {
				int c = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
				if (c < 0)
					break;
				fds.push_back({c, POLLIN, 0});
			}
		}
		for (std::size_t i = 1; i < fds.size();) {
			bool done = false;
			if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				char buf[4096];
				ssize_t n = read(fds[i].fd, buf, sizeof(buf));
				if (n > 0) {
					// Echo what came (the lines as they arrive); a
					// slow reader gets the rest after a short wait.
					for (ssize_t off = 0; off < n;) {
						ssize_t w = write(fds[i].fd, buf + off, n - off);
						if (w > 0)
							off += w;
						else if (w < 0 && errno == EAGAIN)
							poll(&fds[i], 1, 100);
						else {
							done = true;
							break;
						}
					}
				} else if (n == 0 || errno != EAGAIN) {
					done = true;
				}
			}
			if (done) {
				close(fds[i].fd);
				fds[i] = fds.back();
				fds.pop_back();
			} else {
				i++;
			}
		}
	}

	for (std::size_t i = 1; i < fds.size(); i++)
		close(fds[i].fd);
	if (stop_signal == SIGQUIT) {
		// Stopping for good: nothing to hand over.
		if (auto s = h->retire(); !s) {
			std::fprintf(stderr, "echo_server: retire: %s\n", s.error().message.c_str());
			return 1;
		}
		return 0;
	}
	// An upgrade or a restart: exit with the rendezvous armed (destroying
	// the Handoff does it): the listener stays parked for the next one.
	h->park_and_close();
	return 0;
}
