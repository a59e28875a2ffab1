// SPDX-License-Identifier: LGPL-2.1-or-later
// The example units of userlib/contrib/systemd under a real systemd (Debian
// 12's systemd 252 as PID 1 in the guest, qemu/systemd/): lighttpd under
// `puds run`, as a plain service and socket-activated.  For each:
//   - `systemctl kill -s KILL`, then `-s TERM`, the service while clients
//     keep sending HTTP requests: systemd restarts it (Restart=always,
//     RestartSec=1) and every request of the gap is answered;
//   - `systemctl stop`, requests for 2 s, `systemctl start`: every request
//     of the gap is answered.  (systemd's fd store, FDSTORE=1, drops the
//     fds of a stopped service; a parked queue stays for --delay.)
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "systemd_util.hpp"

namespace {

struct Variant {
	const char *name;
	const char *start_unit;	// what `systemctl start` is given first
	const char *service;	// the service that runs puds and lighttpd
	int port;
};

const Variant kVariants[] = {
	{"service", "puds-lighttpd.service", "puds-lighttpd.service", 8080},
	{"socket", "puds-lighttpd-socket.socket", "puds-lighttpd-socket.service", 8081},
};

const int kGapRequests = 20;

using guest::property;
using guest::systemctl;

int request(int port)
{
	return guest::http_get(port);
}

// A "200 OK" with the page, within 15 s.
bool answered(int fd)
{
	return guest::http_ok(fd, "served by puds", 15000);
}

bool serving(int port)
{
	for (int i = 0; i < 300; i++) {
		int fd = request(port);
		if (fd >= 0 && answered(fd))
			return true;
		usleep(100000);
	}
	return false;
}

// kGapRequests requests, one every @spacing_us, while nothing serves: their
// fds.  Every connect() must succeed: the listener is never closed.
std::vector<int> send_gap_requests(int port, int spacing_us, const char *what)
{
	std::vector<int> fds;
	for (int i = 0; i < kGapRequests; i++) {
		int fd = request(port);
		if (fd >= 0)
			fds.push_back(fd);
		else
			std::printf("# %s: request %d: connect: %s\n", what, i, std::strerror(errno));
		usleep(spacing_us);
	}
	return fds;
}

// How many of @fds got their page, once a server runs again.
int answered_all(const std::vector<int> &fds, const char *what)
{
	int ok = 0;
	for (int fd : fds)
		ok += answered(fd);
	std::printf("# %s: %d of %d requests of the gap answered\n", what, ok, kGapRequests);
	return ok;
}

void run_quiet(const char *path, std::vector<const char *> argv)
{
	std::fflush(stdout);
	argv.push_back(nullptr);
	pid_t pid = fork();
	if (!pid) {
		execv(path, const_cast<char **>(argv.data()));
		_exit(127);
	}
	waitpid(pid, nullptr, 0);
}

// What an operator would look at when a handoff failed: the journal of the
// service, and what the kernel holds (puds status, its counters).
void dump_state(const Variant &v)
{
	std::printf("# journal of %s, puds status, /proc/net/unix_delay_close:\n", v.service);
	run_quiet("/bin/journalctl", {"journalctl", "--no-pager", "-o", "cat", "-n", "30", "-u",
				      v.service});
	run_quiet("/usr/bin/puds", {"puds", "status"});
	run_quiet("/bin/cat", {"cat", "/proc/net/unix_delay_close"});
}

void run(const Variant &v)
{
	std::string n = v.name;

	int rc = systemctl({"start", v.start_unit});
	if (v.start_unit != std::string(v.service) && !rc)
		rc = systemctl({"start", v.service});
	bool up = !rc && serving(v.port);
	tap_result(up, "%s: systemctl start %s; lighttpd serves under puds run", v.name,
		   v.start_unit);
	if (!up) {
		dump_state(v);
		tap_result(false, "%s: SIGKILL: not reached", v.name);
		tap_result(false, "%s: SIGTERM: not reached", v.name);
		tap_result(false, "%s: stop, then start: not reached", v.name);
		return;
	}

	// A crash (SIGKILL), then a plain exit (SIGTERM), of every process of
	// the service; systemd restarts it one second later (Restart=always,
	// RestartSec=1), and puds run hands the waiting queue over.  The
	// second round re-parks a queue that was adopted once.
	for (const char *sig : {"KILL", "TERM"}) {
		std::string what = n + ": SIG" + sig;
		std::string pid = property(v.service, "MainPID");
		std::string restarts = property(v.service, "NRestarts");
		rc = systemctl({"kill", "-s", sig, v.service});
		auto fds = send_gap_requests(v.port, 50000, what.c_str());
		int ok = answered_all(fds, what.c_str());
		bool restarted = serving(v.port) && property(v.service, "MainPID") != pid &&
				 property(v.service, "NRestarts") != restarts;
		tap_result(!rc && restarted && ok == kGapRequests,
			   "%s: systemctl kill -s %s; systemd restarts it; %d of %d requests of the gap answered",
			   v.name, sig, ok, kGapRequests);
		if (!restarted || ok != kGapRequests)
			dump_state(v);
	}

	// Stopped for 2 s, then started; the answers are read once it runs
	// (reading them before would wait out the delay: nothing serves).
	std::string what = n + ": stop, 2 s, start";
	rc = systemctl({"stop", v.service});
	auto fds = send_gap_requests(v.port, 2000000 / kGapRequests, what.c_str());
	rc |= systemctl({"start", v.service});
	int ok = answered_all(fds, what.c_str());
	tap_result(!rc && serving(v.port) && ok == kGapRequests,
		   "%s: systemctl stop, 2 s, systemctl start: %d of %d requests of the gap answered",
		   v.name, ok, kGapRequests);
	if (ok != kGapRequests)
		dump_state(v);

	systemctl({"stop", v.service});
	if (v.start_unit != std::string(v.service))
		systemctl({"stop", v.start_unit});
}

} // namespace

int main()
{
	signal(SIGPIPE, SIG_IGN);
	tap_plan(4 * std::size(kVariants));
	std::printf("# %s\n", guest::require_systemd().c_str());
	mkdir("/var/www", 0755);
	mkdir("/var/www/html", 0755);
	if (std::FILE *f = std::fopen("/var/www/html/index.html", "w")) {
		std::fputs("served by puds\n", f);
		std::fclose(f);
	}
	for (const auto &v : kVariants)
		run(v);
	return tap_finish();
}
