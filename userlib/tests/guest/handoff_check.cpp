// SPDX-License-Identifier: LGPL-2.1-or-later
// The handoff on the patched kernel (guest, make check): park, die, reclaim,
// and accept the connections made in the gap (a socket without the option
// gets EADDRINUSE meanwhile, the adopter reports its own delay); a crash at
// each step of a handoff, right after open() included, loses nothing;
// stale, live and foreign paths are told apart; forget() lets a peer see
// close.  TAP, one line per case.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/un_delay_close.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "guest_util.hpp"
#include "puds/handoff.hpp"
#include "puds/kernel.hpp"
#include "puds/listener.hpp"

using namespace puds;

namespace {

int failed_checks;

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			std::printf("# %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			failed_checks++;                                         \
		}                                                                \
	} while (0)

#define REQUIRE_OK(r)                                                             \
	do {                                                                      \
		if (!(r)) {                                                       \
			std::printf("# %s:%d: %s: %s\n", __FILE__, __LINE__, #r,   \
				    (r).error().message.c_str());                  \
			failed_checks++;                                          \
			return;                                                   \
		}                                                                 \
	} while (0)

std::string dir;

std::string path(const char *name)
{
	return dir + "/" + name;
}

// Run @body in a child that ends as @body leaves it (exit 0, or a signal it
// raised); return its wait status.
int in_child(const std::function<void()> &body)
{
	std::fflush(stdout);
	pid_t pid = fork();
	if (!pid) {
		body();
		std::fflush(stdout);
		_exit(failed_checks ? 1 : 0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	return status;
}

Result<Fd> tcp_listener(int &port)
{
	auto a = parse_address("127.0.0.1:0");
	auto fd = bind_listener(*a, 64);
	if (fd) {
		sockaddr_in sin{};
		socklen_t len = sizeof(sin);
		getsockname(fd->get(), reinterpret_cast<sockaddr *>(&sin), &len);
		port = ntohs(sin.sin_port);
	}
	return fd;
}

Parcel parcel_of(Fd listener, const char *gen)
{
	Parcel p;
	p.fds.push_back({"http", std::move(listener)});
	p.state.assign(reinterpret_cast<const std::byte *>(gen),
		       reinterpret_cast<const std::byte *>(gen) + std::strlen(gen));
	return p;
}

std::string state_of(const Parcel &p)
{
	return std::string(reinterpret_cast<const char *>(p.state.data()), p.state.size());
}

// --- cases ----------------------------------------------------------------

void first_start_then_handoff_across_sigkill()
{
	int port = 0;
	std::string rp = path("rv1");

	int st = in_child([&] {
		auto rv = Rendezvous::open(rp, 10000);
		REQUIRE_OK(rv);
		CHECK(!rv->adopted());
		auto p = rv->reclaim();
		REQUIRE_OK(p);
		CHECK(p->fds.empty());
		auto l = tcp_listener(port);
		REQUIRE_OK(l);
		std::FILE *f = std::fopen(path("port").c_str(), "w");
		std::fprintf(f, "%d", port);
		std::fclose(f);
		REQUIRE_OK(rv->park(parcel_of(std::move(l).value(), "gen1")));
		raise(SIGKILL);
	});
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	std::FILE *f = std::fopen(path("port").c_str(), "r");
	CHECK(f && std::fscanf(f, "%d", &port) == 1);
	if (f)
		std::fclose(f);

	// No process holds the listener: connections still complete.
	std::vector<int> clients;
	for (int i = 0; i < 5; i++) {
		int c = guest::tcp_connect(port);
		CHECK(c >= 0);
		CHECK(write(c, "q", 1) == 1);
		clients.push_back(c);
	}

	// A socket without UNIX_DELAY_CLOSE never adopts: EADDRINUSE, and the
	// queue stays parked for the armed one.
	{
		sockaddr_un sun{};
		sun.sun_family = AF_UNIX;
		std::strcpy(sun.sun_path, rp.c_str());
		int s = socket(AF_UNIX, SOCK_DGRAM, 0);
		CHECK(bind(s, reinterpret_cast<sockaddr *>(&sun), sizeof(sun)) == -1 &&
		      errno == EADDRINUSE);
		close(s);
	}

	st = in_child([&] {
		auto rv = Rendezvous::open(rp, 7000);
		REQUIRE_OK(rv);
		CHECK(rv->adopted());
		// Armed since before bind(), with its own delay: nothing inherited.
		int ms = -1;
		socklen_t len = sizeof(ms);
		CHECK(getsockopt(rv->fd(), SOL_UNIX, UNIX_DELAY_CLOSE, &ms, &len) == 0 && ms == 7000);
		auto p = rv->reclaim();
		REQUIRE_OK(p);
		CHECK(state_of(*p) == "gen1");
		auto a = parse_address("127.0.0.1:" + std::to_string(port));
		auto l = take_listener(*p, "http", *a);
		REQUIRE_OK(l);
		for (int i = 0; i < 5; i++) {
			int s = accept(l->get(), nullptr, nullptr);
			char c = 0;
			CHECK(s >= 0 && read(s, &c, 1) == 1 && c == 'q');
			close(s);
		}
		REQUIRE_OK(rv->set_delay(0));	// a clean shutdown: nothing to hand over
	});
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (int c : clients)
		close(c);
	unlink(rp.c_str());
}

// The previous incarnation parked "gen1"; this one dies at @step of its own
// handoff.  The next one must find a complete parcel: gen1 or gen2.
void crash_at_each_step()
{
	const char *steps[] = {"after open", "after reclaim", "mid-send of a 2-datagram parcel",
			       "after sending, before dropping the old parcel", "after park"};
	for (int step = 0; step < 5; step++) {
		std::string rp = path("rv2");
		int port;
		unlink(rp.c_str());
		in_child([&] {
			auto rv = Rendezvous::open(rp, 10000);
			REQUIRE_OK(rv);
			auto l = tcp_listener(port);
			REQUIRE_OK(l);
			REQUIRE_OK(rv->park(parcel_of(std::move(l).value(), "gen1")));
			raise(SIGKILL);
		});
		in_child([&] {
			auto rv = Rendezvous::open(rp, 10000);
			REQUIRE_OK(rv);
			if (step == 0)
				raise(SIGKILL);
			auto p = rv->reclaim();
			REQUIRE_OK(p);
			if (step == 1)
				raise(SIGKILL);
			// gen2: the same listener and 300 more fds, so it spans 2 datagrams.
			Parcel next = parcel_of(std::move(p->fds[0].fd), "gen2");
			for (int i = 0; i < 300; i++)
				next.fds.push_back({std::string("x").append(std::to_string(i)),
						    Fd::adopt(open("/dev/null", O_RDONLY | O_CLOEXEC))});
			if (step == 2) {
				auto d = encode_parcel(next, 7);
				REQUIRE_OK(d);
				CHECK(d->size() == 2);
				REQUIRE_OK(send_message(rv->fd(), (*d)[0].data, (*d)[0].fds, rp));
				raise(SIGKILL);
			}
			if (step == 3) {
				REQUIRE_OK(send_parcel(rv->fd(), next, rp));
				raise(SIGKILL);
			}
			REQUIRE_OK(rv->park(next));
			raise(SIGKILL);
		});
		int st = in_child([&] {
			auto rv = Rendezvous::open(rp, 10000);
			REQUIRE_OK(rv);
			auto p = rv->reclaim();
			REQUIRE_OK(p);
			std::printf("# %s: reclaimed %s with %zu fds\n", steps[step],
				    state_of(*p).c_str(), p->fds.size());
			bool ok = (state_of(*p) == "gen1" && p->fds.size() == 1) ||
				  (state_of(*p) == "gen2" && p->fds.size() == 301);
			CHECK(ok);
			if (step >= 3)
				CHECK(state_of(*p) == "gen2");
			if (step <= 2)
				CHECK(state_of(*p) == "gen1");
			sockaddr_in sin{};
			socklen_t len = sizeof(sin);
			getsockname(p->fds[0].fd.get(), reinterpret_cast<sockaddr *>(&sin), &len);
			auto a = parse_address("127.0.0.1:" + std::to_string(ntohs(sin.sin_port)));
			CHECK(check_listener(p->fds[0].fd.get(), *a));
			REQUIRE_OK(rv->set_delay(0));
		});
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	unlink(path("rv2").c_str());
}

void stale_live_and_foreign_paths()
{
	std::string rp = path("rv3");
	sockaddr_un sun{};
	sun.sun_family = AF_UNIX;
	std::strcpy(sun.sun_path, rp.c_str());

	// Stale: a socket file nobody owns is cleaned up.
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(bind(s, reinterpret_cast<sockaddr *>(&sun), sizeof(sun)) == 0);
	close(s);
	{
		auto rv = Rendezvous::open(rp, 1000);
		REQUIRE_OK(rv);
		CHECK(!rv->adopted());
		REQUIRE_OK(rv->set_delay(0));
	}
	unlink(rp.c_str());

	// Live: another process's socket is never touched.
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(bind(s, reinterpret_cast<sockaddr *>(&sun), sizeof(sun)) == 0);
	{
		auto rv = Rendezvous::open(rp, 1000);
		CHECK(!rv);
		if (!rv)
			CHECK(rv.error().code == std::errc::address_in_use &&
			      rv.error().message.find("another process owns") == 0);
		struct stat st;
		CHECK(lstat(rp.c_str(), &st) == 0);
	}
	close(s);
	unlink(rp.c_str());

	// Foreign: a queue parked by another user is refused and never unlinked.
	chmod(dir.c_str(), 0777);
	int st = in_child([&] {
		CHECK(setgid(65534) == 0 && setuid(65534) == 0);
		auto rv = Rendezvous::open(rp, 10000);
		REQUIRE_OK(rv);
		REQUIRE_OK(rv->park(Parcel{}));
	});
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = in_child([&] {
		CHECK(setgid(65533) == 0 && setuid(65533) == 0);
		auto rv = Rendezvous::open(rp, 1000);
		CHECK(!rv);
		if (!rv)
			CHECK(rv.error().code == std::errc::operation_not_permitted);
		struct stat sb;
		CHECK(lstat(rp.c_str(), &sb) == 0);
	});
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = in_child([&] {
		CHECK(setgid(65534) == 0 && setuid(65534) == 0);
		auto rv = Rendezvous::open(rp, 10000);
		REQUIRE_OK(rv);
		CHECK(rv->adopted());
		REQUIRE_OK(rv->set_delay(0));
	});
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	unlink(rp.c_str());
}

void forget_lets_the_peer_see_close()
{
	std::string rp = path("rv4");
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);

	int st = in_child([&] {
		auto rv = Rendezvous::open(rp, 10000);
		REQUIRE_OK(rv);
		Parcel p;
		p.fds.push_back({"conn", Fd::adopt(dup(sv[0]))});
		REQUIRE_OK(rv->park(p));
	});
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(sv[0]);

	// The parked copy keeps the connection open: no EOF for the peer.
	pollfd pfd{sv[1], POLLIN, 0};
	CHECK(poll(&pfd, 1, 100) == 0);

	st = in_child([&] {
		auto rv = Rendezvous::open(rp, 10000);
		REQUIRE_OK(rv);
		auto p = rv->reclaim();
		REQUIRE_OK(p);
		CHECK(p->fds.size() == 1);
		REQUIRE_OK(rv->forget(*p, "conn"));
		CHECK(p->fds.empty());
		REQUIRE_OK(rv->set_delay(0));
	});
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	char c;
	CHECK(poll(&pfd, 1, 5000) == 1 && read(sv[1], &c, 1) == 0);
	close(sv[1]);
	unlink(rp.c_str());
}

} // namespace

int main()
{
	const std::pair<const char *, void (*)()> cases[] = {
		{"first start, park, SIGKILL, reclaim, accept the gap's connections",
		 first_start_then_handoff_across_sigkill},
		{"a crash at each step of a handoff loses nothing", crash_at_each_step},
		{"stale, live and foreign paths are told apart", stale_live_and_foreign_paths},
		{"forget() lets the peer of a parked connection see close",
		 forget_lets_the_peer_see_close},
	};
	char tmpl[] = "/tmp/puds-handoff.XXXXXX";

	tap_plan(std::size(cases));
	if (auto st = check_kernel_feature(); !st)
		tap_bail("%s", st.error().message.c_str());
	dir = mkdtemp(tmpl);
	for (const auto &[name, fn] : cases) {
		failed_checks = 0;
		fn();
		tap_result(failed_checks == 0, "%s", name);
	}
	return tap_finish();
}
