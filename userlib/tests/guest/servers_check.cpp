// SPDX-License-Identifier: LGPL-2.1-or-later
// Unmodified servers from Debian's packages under `puds run` (guest, make
// check), each SIGKILLed while clients keep sending HTTP requests, then
// started again by `puds run`: every request of the gap must be answered.
// While each runs, `puds status` must show its rendezvous armed (it kept
// fd PUDS_RENDEZVOUS_FD).
//   - lighttpd 1.4.69: takes its listener from LISTEN_FDS with
//     server.systemd-socket-activation = "enable", run with -D;
//   - nginx 1.22.1: `puds run --nginx` sets NGINX="3;", nginx's own way of
//     inheriting listeners; run with daemon off.  Its master (the process
//     puds execs) forks a worker, so a crash is modelled as systemd's
//     KillMode=control-group does it: SIGKILL to the whole process group.
//     (With master_process off, nginx 1.22.1 crashes on inherited sockets.)
//   - haproxy 2.6.12: `bind fd@3`, master-worker mode (-W) in the
//     foreground (-db).  The master and its worker both keep fd 3 and the
//     rendezvous (PUDS_RENDEZVOUS_FD): haproxy closes no fd it did not
//     open (on the host, both also survived the master's re-exec of a
//     SIGUSR2 reload; not tested here).  It answers by itself
//     (`http-request return`, no backend), with the page the others serve;
//     its own log goes to stderr, which goes to error.log.
// The binaries are Debian's, unpacked into the initramfs at /opt
// (tests/guest/extra.sh).
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "guest_util.hpp"
#include "puds_main.hpp"
#include "server_conf.hpp"

namespace {

struct Server {
	const char *name;
	const char *binary;
	int port;
	bool nginx;
	bool stderr_log;	// the server logs to stderr: send it to @dir/error.log
	// The config file for @dir (document root @dir/www), and the argv tail.
	std::string (*config)(const std::string &dir, int port);
	std::vector<std::string> (*args)(const std::string &dir);
};

const Server kServers[] = {
	{"lighttpd", "/opt/lighttpd/lighttpd", 8081, false, false,
	 [](const std::string &dir, int port) {
		 return guest::lighttpd_conf(dir, dir + "/www", port, true);
	 },
	 guest::lighttpd_args},
	{"nginx", "/opt/nginx/nginx", 8082, true, false,
	 [](const std::string &dir, int port) { return guest::nginx_conf(dir, dir + "/www", port); },
	 guest::nginx_args},
	{"haproxy", "/opt/haproxy/haproxy", 8083, false, true,
	 [](const std::string &, int) { return guest::haproxy_conf("fd@3", "parked by puds"); },
	 guest::haproxy_args},
};

int kPort;
std::string dir;

void check(bool ok, const char *what)
{
	tap_result(ok, "%s", what);
}

int request()
{
	return guest::http_get(kPort);
}

// A "200 OK" with the page, within 10 s.
bool answered(int fd)
{
	return guest::http_ok(fd, "parked by puds", 10000);
}

// Whether `puds status` lists the rendezvous armed: while the server runs,
// only if it kept fd PUDS_RENDEZVOUS_FD open.  (A server that closed it
// would still pass the gap within --delay of its start, its queue parked
// early; it would lose the handoff once it had run longer than that.)
bool rendezvous_armed(const char *self)
{
	std::string out = dir + "/status";
	pid_t pid = fork();
	if (!pid) {
		int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		execl(self, self, "puds", "status", (char *)nullptr);
		_exit(127);
	}
	waitpid(pid, nullptr, 0);
	bool armed = false;
	if (std::FILE *f = std::fopen(out.c_str(), "r")) {
		char line[512];
		while (std::fgets(line, sizeof(line), f)) {
			std::string l = line;
			if (l.find("armed") != std::string::npos &&
			    l.find(dir + "/rendezvous") != std::string::npos)
				armed = true;
			else if (l.find(dir + "/rendezvous") != std::string::npos)
				std::printf("# puds status: %s", line);
		}
		std::fclose(f);
	}
	return armed;
}

pid_t start(const char *self, const Server &srv)
{
	pid_t pid = fork();
	if (!pid) {
		std::vector<std::string> a = {self, "puds", "run", "--park", dir + "/rendezvous",
					      "--listen", "http=127.0.0.1:" + std::to_string(kPort)};
		if (srv.nginx)
			a.push_back("--nginx");
		a.push_back("--");
		a.push_back(srv.binary);
		for (auto &x : srv.args(dir))
			a.push_back(x);
		std::vector<char *> argv;
		for (auto &x : a)
			argv.push_back(x.data());
		argv.push_back(nullptr);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		if (srv.stderr_log) {
			int log = open((dir + "/error.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
			dup2(log, 2);
			close(log);
		}
		setpgid(0, 0);
		execv(self, argv.data());
		_exit(127);
	}
	return guest::wait_ready(pid, 5000, [] {
		int fd = request();
		return fd >= 0 && answered(fd);
	});
}

void run_server(const char *self, const Server &srv)
{
	char tmpl[] = "/tmp/puds-server.XXXXXX";
	std::string n = srv.name;

	kPort = srv.port;
	dir = mkdtemp(tmpl);
	chmod(dir.c_str(), 0755);	// nginx's worker runs as nobody
	mkdir((dir + "/www").c_str(), 0755);
	std::FILE *f = std::fopen((dir + "/www/index.html").c_str(), "w");
	std::fputs("parked by puds\n", f);
	std::fclose(f);
	f = std::fopen((dir + "/server.conf").c_str(), "w");
	std::fputs(srv.config(dir, srv.port).c_str(), f);
	std::fclose(f);

	pid_t pid = start(self, srv);
	check(pid > 0, (n + " runs under puds run and serves from the listener it was given").c_str());
	if (pid <= 0) {
		if (std::FILE *e = std::fopen((dir + "/error.log").c_str(), "r")) {
			char line[256];
			while (std::fgets(line, sizeof(line), e))
				std::printf("# %s", line);
			std::fclose(e);
		}
		for (int i = 0; i < 5; i++)
			check(false, (n + ": not reached").c_str());
		return;
	}
	check(rendezvous_armed(self),
	      (n + " keeps the rendezvous (puds status: armed, not parked)").c_str());
	kill(-pid, SIGKILL);
	int st;
	waitpid(pid, &st, 0);
	check(WIFSIGNALED(st), (n + " is SIGKILLed, with every process it forked").c_str());

	std::vector<int> gap;
	for (int i = 0; i < 20; i++) {
		int fd = request();
		if (fd >= 0)
			gap.push_back(fd);
		usleep(5000);
	}
	check(gap.size() == 20, (n + ": 20 HTTP requests are sent while nothing runs").c_str());

	pid = start(self, srv);
	check(pid > 0, ("puds run starts " + n + " again").c_str());
	int ok = 0;
	for (int fd : gap)
		ok += answered(fd);
	std::printf("# %s: %d of %zu requests of the gap answered\n", srv.name, ok, gap.size());
	check(ok == 20, (n + ": every request of the gap gets 200 OK").c_str());
	if (pid > 0) {
		kill(-pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
}

} // namespace

int main(int argc, char **argv)
{
	if (argc > 1 && !std::strcmp(argv[1], "puds"))
		return puds::puds_main(argc - 1, argv + 1);

	tap_plan(6 * std::size(kServers));
	for (const auto &srv : kServers)
		if (access(srv.binary, X_OK))
			tap_bail("%s: %s", srv.binary, std::strerror(errno));
	if (unshare(CLONE_NEWNET))
		tap_bail("unshare: %s", std::strerror(errno));
	lo_up();
	signal(SIGPIPE, SIG_IGN);

	char exe[4096] = {};
	const char *self = readlink("/proc/self/exe", exe, sizeof(exe) - 1) > 0 ? exe : argv[0];
	for (const auto &srv : kServers)
		run_server(self, srv);
	return tap_finish();
}
