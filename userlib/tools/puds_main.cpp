// SPDX-License-Identifier: LGPL-2.1-or-later
// The `puds` command: crash-safe listeners for servers that cannot be
// changed.  `puds run` reclaims or creates the listeners, parks them at the
// rendezvous, and execs the server in its own place (same pid) with systemd
// socket-activation variables; the server keeps its listeners, and the
// connections waiting on them, across a restart or a crash.
#include "puds_main.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "puds/diag.hpp"
#include "puds/handoff.hpp"
#include "puds/kernel.hpp"
#include "puds/listener.hpp"

namespace puds {

namespace {

const char kUsage[] =
	"usage: puds run --park PATH --listen NAME=ADDR [--listen ...] [--delay MS]\n"
	"                [--nginx] -- SERVER [ARGS...]\n"
	"       puds status\n"
	"       puds check\n"
	"       puds --help\n";

const char kHelp[] =
	"puds: keep a server's listening sockets, and the connections waiting on\n"
	"them, across a restart or a crash, with no process holding them between.\n"
	"\n"
	"puds run --park PATH --listen NAME=ADDR ... [--delay MS] [--nginx] -- SERVER ARGS\n"
	"  Takes the listeners NAME=ADDR (ADDR: HOST:PORT or [V6]:PORT for TCP,\n"
	"  udp:HOST:PORT, unix:/path) that the previous server left parked at PATH\n"
	"  (a socket file, in a directory only this user can write to), or binds\n"
	"  them afresh; parks them again; and execs SERVER in its place (same pid)\n"
	"  with the listeners as fds 3, 4, ... and LISTEN_FDS, LISTEN_FDNAMES and\n"
	"  LISTEN_PID set as sd_listen_fds(3) expects.  When the server exits or\n"
	"  crashes, the kernel keeps the listeners for MS milliseconds (default\n"
	"  10000, at most net.unix.delay_close_max_ms): clients keep connecting,\n"
	"  and the next `puds run` with the same PATH hands the waiting\n"
	"  connections to the new server.  Restarting is the job of systemd,\n"
	"  Docker or a shell loop: puds does not supervise.\n"
	"  --nginx also sets NGINX=\"3;4;...;\" (nginx inherits listeners that way;\n"
	"  run it with -g 'daemon off;').  HAProxy: `bind fd@3`.\n"
	"  Started by systemd socket activation, puds takes the fds it was given\n"
	"  (LISTEN_FDNAMES) for the listeners nothing was parked for.\n"
	"  The server must keep fd PUDS_RENDEZVOUS_FD open (it is the parked\n"
	"  queue's owner while the server runs); a server that closes every fd it\n"
	"  does not know at start-up loses the handoff: puds says so on the next\n"
	"  start.\n"
	"\n"
	"puds status\n"
	"  Lists, from the kernel (sock_diag), the sockets of this network\n"
	"  namespace that will park their queue (armed: a server running under\n"
	"  puds; \"(unbound)\": armed, not bound yet) and the queues parked now:\n"
	"  path, time left, datagrams, fds, uid.\n"
	"\n"
	"puds check\n"
	"  Says whether this kernel can park fds (UNIX_DELAY_CLOSE).\n";

struct Listen {
	std::string name;
	Address addr;
};

int fail(const std::string &msg, const char *hint = nullptr)
{
	std::fprintf(stderr, "puds: %s\n", msg.c_str());
	if (hint)
		std::fprintf(stderr, "puds: %s\n", hint);
	return 1;
}

const char *hint_for(const Error &e)
{
	if (e.code == std::errc::operation_not_supported)
		return "run a kernel with the puds series, or run the server without puds";
	if (e.code == std::errc::address_in_use)
		return "if the previous server is still shutting down, wait for it; if it "
		       "is a different program, choose another --park path";
	if (e.code == std::errc::operation_not_permitted)
		return "the parked listeners belong to another user (or the socket file's "
		       "permissions or a security module refuse them); run as that user, "
		       "or wait for them to expire";
	if (e.code == std::error_code(EDQUOT, std::generic_category()))
		return "this user has too many armed sockets and parked queues "
		       "(net.unix.delay_close_max_per_user)";
	return nullptr;
}

// Listeners systemd passed to puds itself, by name.
std::map<std::string, Fd> systemd_fds()
{
	std::map<std::string, Fd> out;
	const char *pid = std::getenv("LISTEN_PID"), *n = std::getenv("LISTEN_FDS");

	if (!pid || !n || std::atoi(pid) != getpid())
		return out;
	std::string names = std::getenv("LISTEN_FDNAMES") ? std::getenv("LISTEN_FDNAMES") : "";
	int count = std::atoi(n);
	for (int i = 0; i < count; i++) {
		std::string name;
		auto colon = names.find(':');
		name = names.substr(0, colon);
		names = colon == std::string::npos ? "" : names.substr(colon + 1);
		int fd = ::fcntl(3 + i, F_DUPFD_CLOEXEC, 100);
		::close(3 + i);
		out.emplace(name.empty() ? "unknown" : name, Fd::adopt(fd));
	}
	::unsetenv("LISTEN_PID");
	::unsetenv("LISTEN_FDS");
	::unsetenv("LISTEN_FDNAMES");
	return out;
}

int cmd_run(int argc, char **argv)
{
	std::string park;
	std::vector<Listen> listens;
	int delay = 10000, i;
	bool nginx = false;

	for (i = 2; i < argc; i++) {
		std::string_view a = argv[i];
		if (a == "--") {
			i++;
			break;
		}
		if (a == "--nginx") {
			nginx = true;
			continue;
		}
		if (i + 1 >= argc)
			return fail(std::string(a) + " needs a value\n" + kUsage);
		std::string v = argv[++i];
		if (a == "--park") {
			park = v;
		} else if (a == "--delay") {
			delay = std::atoi(v.c_str());
		} else if (a == "--listen") {
			auto eq = v.find('=');
			if (eq == std::string::npos)
				return fail("--listen " + v + ": NAME=ADDR");
			auto addr = parse_address(v.substr(eq + 1));
			if (!addr)
				return fail(addr.error().message);
			if (auto st = check_name(v.substr(0, eq)); !st)
				return fail(st.error().message);
			listens.push_back({v.substr(0, eq), std::move(addr).value()});
		} else {
			return fail("unknown option " + std::string(a) + "\n" + kUsage);
		}
	}
	if (park.empty() || listens.empty() || i >= argc)
		return fail(std::string("--park, at least one --listen and a server are needed\n") +
			    kUsage);

	auto sd = systemd_fds();
	auto rv = Rendezvous::open(park, delay);
	if (!rv)
		return fail(rv.error().message, hint_for(rv.error()));
	auto parcel = rv->reclaim();
	if (!parcel)
		return fail("reclaiming " + park + ": " + parcel.error().message);
	if (!rv->adopted())
		std::fprintf(stderr, "puds: nothing parked at %s: binding the listeners afresh "
			     "(first start, or the previous server closed fd %s or was gone for "
			     "longer than %d ms)\n", park.c_str(), "PUDS_RENDEZVOUS_FD", delay);

	Parcel next;
	std::vector<Fd> fds;
	for (auto &l : listens) {
		if (auto it = sd.find(l.name); it != sd.end() &&
		    std::none_of(parcel->fds.begin(), parcel->fds.end(),
				 [&](const NamedFd &nf) { return nf.name == l.name; }))
			parcel->fds.push_back({l.name, std::move(it->second)});
		auto fd = take_listener(*parcel, l.name, l.addr, false);
		if (!fd)
			return fail(fd.error().message);
		auto copy = fd->dup();
		if (!copy)
			return fail(copy.error().message);
		next.fds.push_back({l.name, std::move(copy).value()});
		fds.push_back(std::move(fd).value());
	}
	for (const auto &left : parcel->fds)
		std::fprintf(stderr, "puds: dropping parked fd \"%s\": no --listen asks for it\n",
			     left.name.c_str());
	if (auto st = rv->park(next); !st)
		return fail(st.error().message, hint_for(st.error()));

	// fds 3.. for the server, without close-on-exec, in --listen order.
	std::vector<int> high;
	for (auto &fd : fds)
		high.push_back(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 100));
	fds.clear();
	std::string names, nginx_env;
	for (std::size_t k = 0; k < high.size(); k++) {
		if (high[k] < 0 || ::dup2(high[k], 3 + static_cast<int>(k)) < 0)
			return fail("dup2 of listener \"" + listens[k].name + "\": " +
				    std::strerror(errno));
		::close(high[k]);
		names += (k ? ":" : "") + listens[k].name;
		nginx_env += std::to_string(3 + k) + ";";
	}
	// The rendezvous stays open in the server: while it runs, the queue is
	// its; when it dies, the kernel parks the queue.
	int rfd = ::fcntl(rv->fd(), F_DUPFD, 3 + static_cast<int>(high.size()) + 64);
	if (rfd < 0)
		return fail(std::string("keeping the rendezvous open: ") + std::strerror(errno));

	::setenv("LISTEN_FDS", std::to_string(high.size()).c_str(), 1);
	::setenv("LISTEN_FDNAMES", names.c_str(), 1);
	::setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
	::setenv("PUDS_RENDEZVOUS_FD", std::to_string(rfd).c_str(), 1);
	if (nginx)
		::setenv("NGINX", nginx_env.c_str(), 1);
	::execvp(argv[i], argv + i);
	return fail(std::string("exec ") + argv[i] + ": " + std::strerror(errno));
}

} // namespace

int puds_main(int argc, char **argv)
{
	if (argc < 2)
		return fail(kUsage), 2;
	std::string_view cmd = argv[1];
	if (cmd == "--help" || cmd == "-h" || cmd == "help") {
		std::fputs(kHelp, stdout);
		return 0;
	}
	if (cmd == "check") {
		auto st = check_kernel_feature();
		if (!st)
			return fail(st.error().message, hint_for(st.error()));
		std::puts("puds: this kernel can park fds (UNIX_DELAY_CLOSE)");
		return 0;
	}
	if (cmd == "run")
		return cmd_run(argc, argv);
	if (cmd == "status") {
		auto list = list_delay_close();
		if (!list)
			return fail(list.error().message, hint_for(list.error()));
		std::printf("%-9s %10s %8s %5s %6s %10s  %s\n", "STATE", "LEFT_MS", "QUEUED",
			    "FDS", "UID", "INODE", "PATH");
		for (const auto &e : *list)
			std::printf("%-9s %10s %8u %5u %6u %10u  %s\n", e.state_name(),
				    e.state == DelayCloseEntry::State::armed
					    ? "-" : std::to_string(e.remaining_ms).c_str(),
				    e.queued, e.fds, e.uid, e.ino,
				    e.path.empty() ? "(unbound)" : e.path.c_str());
		if (list->empty())
			std::puts("(no socket with UNIX_DELAY_CLOSE, nothing parked)");
		return 0;
	}
	std::fprintf(stderr, "%s", kUsage);
	return 2;
}

} // namespace puds
