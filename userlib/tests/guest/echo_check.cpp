// SPDX-License-Identifier: LGPL-2.1-or-later
// examples/echo_server (Handoff::start) on the patched kernel: SIGKILLed
// while clients keep connecting, every line sent during the gap is echoed
// once it is started again; the same after a SIGTERM (park and exit); a new
// version on another address fails without --rebind (the parked listener
// stays parked, nothing lost) and with --rebind drops the old listener and
// its waiting connections; SIGQUIT retires: the listener is gone.  The
// server is /opt/puds/echo_server (tests/guest/extra.sh puts it there);
// then its C twin (examples/echo_server_c.c, on puds.h): a SIGKILL gap and
// retire.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "guest_util.hpp"

namespace {

constexpr int kPort = 7777, kNewPort = 7778;
const char *server = "/opt/puds/echo_server";
const char *server_c = "/opt/puds/echo_server_c";	// examples/echo_server_c.c, on puds.h
const char *park_name = "handoff";
std::string dir;

void check(bool ok, const char *what)
{
	tap_result(ok, "%s", what);
}

// Start echo_server listening on @port (@extra: one more option or
// nullptr); wait until its --ready file says how it started.  The pid and
// that word ("fresh", "adopted"), or -1 if it exited first (then *status).
pid_t start(int port, const char *extra, std::string &how, int *status = nullptr)
{
	std::string ready = dir + "/ready", park = dir + "/" + park_name, err = dir + "/stderr";
	std::string listen = "127.0.0.1:" + std::to_string(port);
	unlink(ready.c_str());
	pid_t pid = fork();
	if (!pid) {
		int fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		dup2(fd, 1);
		execl(server, server, "--park", park.c_str(), "--listen", listen.c_str(), "--delay",
		      "20000", "--ready", ready.c_str(), extra, (char *)nullptr);
		_exit(127);
	}
	for (int i = 0; i < 5000; i++) {
		std::string text = guest::read_file(ready);
		if (!text.empty()) {
			how = text.substr(text.find(' ') + 1);
			if (!how.empty() && how.back() == '\n')
				how.pop_back();
			return pid;
		}
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			if (status)
				*status = st;
			tap_diag("echo_server exited: %s", guest::read_file(err).c_str());
			return -1;
		}
		usleep(2000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, nullptr, 0);
	return -1;
}

// A client: connected, its line sent.  -1 if either failed.
int send_line(int port, int i)
{
	std::string line = "line " + std::to_string(i) + "\n";
	return guest::tcp_connect(port, line.c_str());
}

// Does @fd echo line @i within 5 s?  Closes @fd.
bool echoed(int fd, int i)
{
	if (fd < 0)
		return false;
	std::string want = "line " + std::to_string(i) + "\n", got;
	while (got.size() < want.size()) {
		pollfd p{fd, POLLIN, 0};
		char buf[64];
		if (poll(&p, 1, 5000) != 1)
			break;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		got.append(buf, n);
	}
	// The servers forked after this client connected hold a copy of its
	// fd: shutdown() sends the FIN that close() alone would not (the C
	// twin serves one client at a time, until it sees EOF).
	shutdown(fd, SHUT_RDWR);
	close(fd);
	return got == want;
}

// Echo for @n clients of @port, numbered from @base, one after the other.
int serve_count(int port, int base, int n)
{
	int ok = 0;
	for (int i = 0; i < n; i++)
		ok += echoed(send_line(port, base + i), base + i);
	return ok;
}

int stop(pid_t pid, int sig)
{
	int status = 0;
	kill(pid, sig);
	waitpid(pid, &status, 0);
	return status;
}

// @n clients connect to @port and send lines @base.. while nothing may
// serve: their fds (-1 where connect() failed).
std::vector<int> send_lines(int port, int base, int n)
{
	std::vector<int> fds;
	for (int i = 0; i < n; i++)
		fds.push_back(send_line(port, base + i));
	return fds;
}

// How many of the clients send_lines(..., @base, ...) made get their echo.
int echoed_all(const std::vector<int> &fds, int base)
{
	int ok = 0;
	for (std::size_t i = 0; i < fds.size(); i++)
		ok += echoed(fds[i], base + static_cast<int>(i));
	return ok;
}

} // namespace

int main()
{
	std::setvbuf(stdout, nullptr, _IOLBF, 0);
	tap_plan(25);
	if (unshare(CLONE_NEWNET))
		tap_bail("unshare(CLONE_NEWNET): %s", std::strerror(errno));
	lo_up();
	signal(SIGPIPE, SIG_IGN);
	if (access(server, X_OK))
		tap_bail("%s: %s", server, std::strerror(errno));
	char tmpl[] = "/tmp/echo-check.XXXXXX";
	dir = mkdtemp(tmpl);	// mode 0700

	// A malformed --delay is a usage error of both examples, never atoi's 0.
	for (const char *bin : {server, server_c}) {
		bool all = true;
		for (const char *bad : {"foo", "10x", "-1", "0", "", "99999999999"}) {
			pid_t c = fork();
			if (!c) {
				int null = open("/dev/null", O_WRONLY);
				dup2(null, 2);
				execl(bin, bin, "--delay", bad, static_cast<char *>(nullptr));
				_exit(127);
			}
			int st;
			waitpid(c, &st, 0);
			all &= WIFEXITED(st) && WEXITSTATUS(st) == 2;
		}
		check(all, (std::string(bin) + ": --delay foo, 10x, -1, 0, \"\" and an overflow exit 2").c_str());
	}

	// First start, then a SIGKILL with 20 clients in the gap.
	std::string how;
	pid_t pid = start(kPort, nullptr, how);
	check(pid > 0 && how == "fresh", "echo_server starts fresh");
	check(serve_count(kPort, 0, 5) == 5, "5 clients get their echo");
	int status = stop(pid, SIGKILL);
	std::vector<int> gap = send_lines(kPort, 100, 20);
	int connected = 0;
	for (int fd : gap)
		connected += fd >= 0;
	check(WIFSIGNALED(status) && connected == 20,
	      "SIGKILLed: 20 clients connect and send a line while nothing runs");
	pid = start(kPort, nullptr, how);
	check(pid > 0 && how == "adopted", "started again: the parked listener adopted");
	int ok = echoed_all(gap, 100);
	tap_diag("%d of 20 gap clients echoed after SIGKILL", ok);
	check(ok == 20, "every client of the gap gets its echo (20 of 20)");
	check(serve_count(kPort, 200, 5) == 5, "and the clients after it");

	// SIGTERM: an upgrade.  Park and exit.
	status = stop(pid, SIGTERM);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "SIGTERM: exits 0, the listener parked");
	gap = send_lines(kPort, 300, 10);
	pid = start(kPort, nullptr, how);
	check(pid > 0 && how == "adopted", "the next one adopts it");
	ok = echoed_all(gap, 300);
	check(ok == 10, "every client of the SIGTERM gap gets its echo (10 of 10)");

	// A new version listens on another port: without --rebind it fails,
	// and what was parked stays parked.
	stop(pid, SIGKILL);
	int waiting = send_line(kPort, 400);
	status = 0;
	pid = start(kNewPort, nullptr, how, &status);
	std::string err = guest::read_file(dir + "/stderr");
	check(pid < 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1 &&
		      err.find("AddressChange::rebind") != std::string::npos,
	      "another address without --rebind: an error that names AddressChange::rebind");
	pid = start(kPort, nullptr, how);
	check(pid > 0 && how == "adopted" && echoed(waiting, 400),
	      "... nothing lost: the old address adopted again, its waiting client echoed");

	// With --rebind: the old listener and its waiting connection dropped.
	stop(pid, SIGKILL);
	waiting = send_line(kPort, 500);
	pid = start(kNewPort, "--rebind", how);
	err = guest::read_file(dir + "/stderr");
	check(pid > 0 && how == "adopted", "another address with --rebind: starts");
	check(err.find("AddressChange::rebind dropped it") != std::string::npos,
	      "... and warns what it dropped");
	tap_diag("%s", err.c_str());
	check(!echoed(waiting, 500), "the connection that waited on the old address is dropped");
	int old = guest::tcp_connect(kPort);
	check(old < 0, "the old address is closed");
	if (old >= 0)
		close(old);
	check(serve_count(kNewPort, 600, 5) == 5, "the new address echoes");

	// A SIGKILL on the new address: handed over as before.
	stop(pid, SIGKILL);
	gap = send_lines(kNewPort, 700, 5);
	pid = start(kNewPort, nullptr, how);
	ok = echoed_all(gap, 700);
	check(pid > 0 && how == "adopted" && ok == 5, "the new address survives a SIGKILL too (5 of 5)");

	// SIGQUIT: stopping for good.  retire() drops the queue: no listener.
	status = stop(pid, SIGQUIT);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "SIGQUIT: retires and exits 0");
	int after = guest::tcp_connect(kNewPort);
	check(after < 0, "nothing listens after retire()");
	if (after >= 0)
		close(after);
	pid = start(kNewPort, nullptr, how);
	check(pid > 0 && how == "fresh", "the next start is a fresh one (the stale path cleaned up)");
	stop(pid, SIGQUIT);

	// The C twin, on puds.h: a SIGKILL gap, then retire.
	const int kCPort = 7779;
	server = server_c;
	park_name = "handoff-c";
	pid = start(kCPort, nullptr, how);
	check(pid > 0 && how == "fresh" && serve_count(kCPort, 800, 3) == 3,
	      "echo_server_c (puds.h) starts fresh and echoes");
	stop(pid, SIGKILL);
	gap = send_lines(kCPort, 900, 10);
	pid = start(kCPort, nullptr, how);
	ok = echoed_all(gap, 900);
	tap_diag("echo_server_c restarted: pid %d, %s, %d of 10 echoed; its stderr: %s", pid,
		 how.c_str(), ok, guest::read_file(dir + "/stderr").c_str());
	check(pid > 0 && how == "adopted" && ok == 10,
	      "echo_server_c: every client of a SIGKILL gap echoed (10 of 10)");
	status = stop(pid, SIGQUIT);
	after = guest::tcp_connect(kCPort);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0 && after < 0,
	      "echo_server_c: SIGQUIT retires (puds_handoff_retire): nothing listens");
	if (after >= 0)
		close(after);
	return tap_finish();
}
