// SPDX-License-Identifier: LGPL-2.1-or-later
// `puds run` on the patched kernel (guest, make check): an unmodified
// socket-activated server (it only knows sd_listen_fds' protocol) run under
// puds is SIGKILLed and started again after a gap, and every connection a
// client attempted during the gap completes.  One multi-call binary: "puds"
// runs the command, "serve" is the server, no argument runs the test (TAP).
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
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "guest_util.hpp"
#include "puds_main.hpp"

namespace {

constexpr int kPort = 18080;
void check(bool ok, const char *what)
{
	tap_result(ok, "%s", what);
}

// The server: sd_listen_fds(3) semantics, nothing else.
int serve(const char *ready)
{
	const char *pid = std::getenv("LISTEN_PID"), *n = std::getenv("LISTEN_FDS");
	const char *names = std::getenv("LISTEN_FDNAMES");
	if (!pid || std::atoi(pid) != getpid() || !n || std::atoi(n) != 1)
		return 10;
	int acc = 0;
	socklen_t len = sizeof(acc);
	if (getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) || !acc ||
	    (fcntl(3, F_GETFD) & FD_CLOEXEC))
		return 11;
	struct stat st;
	fstat(3, &st);
	std::FILE *f = std::fopen(ready, "w");
	std::fprintf(f, "%d %s %lu", getpid(), names ? names : "", (unsigned long)st.st_ino);
	std::fclose(f);
	for (;;) {
		int c = accept(3, nullptr, nullptr);
		char req[16];
		if (c < 0)
			continue;
		if (read(c, req, sizeof(req)) > 0)
			(void)!write(c, "OK\n", 3);
		close(c);
	}
}

std::string dir;

pid_t start_server(const char *self)
{
	std::string ready = dir + "/ready";
	unlink(ready.c_str());
	pid_t pid = fork();
	if (!pid) {
		std::string park = dir + "/rendezvous", listen = "http=127.0.0.1:" + std::to_string(kPort);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);	// the server's output is not TAP
		execl(self, self, "puds", "run", "--park", park.c_str(), "--listen", listen.c_str(),
		      "--", self, "serve", ready.c_str(), (char *)nullptr);
		_exit(127);
	}
	return guest::wait_ready(pid, 2000, [&] {
		struct stat st;
		return !stat(ready.c_str(), &st) && st.st_size > 0;
	});
}

int client(bool wait_reply)
{
	int fd = guest::tcp_connect(kPort, "GET\n");
	if (fd < 0)
		return -1;
	if (wait_reply) {
		char buf[8] = {};
		pollfd p{fd, POLLIN, 0};
		bool ok = poll(&p, 1, 5000) == 1 && read(fd, buf, sizeof(buf)) > 0 && !strncmp(buf, "OK", 2);
		close(fd);
		return ok ? 0 : -1;
	}
	return fd;
}

// `puds status`, as an operator would read it.
std::string puds_status(const char *self)
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
	std::string text;
	if (std::FILE *f = std::fopen(out.c_str(), "r")) {
		char line[512];
		while (std::fgets(line, sizeof(line), f))
			text += line;
		std::fclose(f);
	}
	return text;
}

bool has_line(const std::string &text, const char *state, const std::string &path)
{
	std::size_t pos = 0;
	while ((pos = text.find(state, pos)) != std::string::npos) {
		std::size_t end = text.find('\n', pos);
		if (text.substr(pos, end - pos).find(path) != std::string::npos)
			return true;
		pos = end;
	}
	return false;
}

bool replied(int fd)
{
	char buf[8] = {};
	pollfd p{fd, POLLIN, 0};
	bool ok = poll(&p, 1, 10000) == 1 && read(fd, buf, sizeof(buf)) > 0 && !strncmp(buf, "OK", 2);
	close(fd);
	return ok;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc > 1 && !std::strcmp(argv[1], "puds"))
		return puds::puds_main(argc - 1, argv + 1);
	if (argc > 2 && !std::strcmp(argv[1], "serve"))
		return serve(argv[2]);

	char tmpl[] = "/tmp/puds-run.XXXXXX";
	std::setvbuf(stdout, nullptr, _IOLBF, 0);
	tap_plan(12);
	if (unshare(CLONE_NEWNET)) {
		tap_bail("unshare(CLONE_NEWNET): %s", std::strerror(errno));
	}
	lo_up();
	signal(SIGPIPE, SIG_IGN);
	dir = mkdtemp(tmpl);
	const char *self = "/proc/self/exe";
	char exe[4096] = {};
	if (readlink(self, exe, sizeof(exe) - 1) > 0)
		self = exe;

	pid_t pid = start_server(self);
	check(pid > 0, "puds run starts the server with its listener as fd 3 (sd_listen_fds)");
	int ok = 0;
	for (int i = 0; i < 5; i++)
		ok += client(true) == 0;
	check(ok == 5, "the server answers");

	// A second puds run on the same rendezvous: the live server's path is not touched.
	std::string park = dir + "/rendezvous";
	pid_t second = fork();
	if (!second) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		execl(self, self, "puds", "run", "--park", park.c_str(), "--listen",
		      ("http=127.0.0.1:" + std::to_string(kPort)).c_str(), "--", "/bin/true",
		      (char *)nullptr);
		_exit(127);
	}
	int status = 0;
	waitpid(second, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 1 && client(true) == 0,
	      "a second puds run refuses the live server's rendezvous, which keeps serving");

	std::string st = puds_status(self);
	check(has_line(st, "armed", park), "puds status shows the running server's rendezvous armed");

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	check(WIFSIGNALED(status), "the server is SIGKILLed");
	st = puds_status(self);
	unsigned queued = 0, nfds = 0;
	std::size_t at = st.find("\nparked");
	if (at != std::string::npos)
		std::sscanf(st.c_str() + at + 1, "%*s %*s %u %u", &queued, &nfds);
	check(has_line(st, "parked", park) && queued == 1 && nfds == 1,
	      "puds status shows the parked queue, 1 datagram with 1 fd");

	// The gap: nobody runs, the clients connect and wait.
	std::vector<int> gap;
	for (int i = 0; i < 20; i++) {
		int fd = client(false);
		if (fd >= 0)
			gap.push_back(fd);
		usleep(5000);
	}
	check(gap.size() == 20, "20 clients connect while no server runs");

	pid = start_server(self);
	std::FILE *f = std::fopen((dir + "/ready").c_str(), "r");
	char names[64] = {};
	int spid = 0;
	if (f) {
		(void)!std::fscanf(f, "%d %63s", &spid, names);
		std::fclose(f);
	}
	check(pid > 0 && spid == pid && !std::strcmp(names, "http"),
	      "puds run again: same pid as puds, LISTEN_FDNAMES=http");
	ok = 0;
	for (int fd : gap)
		ok += replied(fd);
	std::printf("# %d of %zu connections of the gap completed\n", ok, gap.size());
	check(ok == 20, "every connection attempted during the gap completes");
	check(client(true) == 0, "and new ones too");

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);

	// Started by systemd socket activation: puds takes the listener it was
	// given (a second one on the same port could not even be bound).
	{
		constexpr int kPort2 = 18081;
		sockaddr_in sin{};
		sin.sin_family = AF_INET;
		sin.sin_port = htons(kPort2);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int lfd = socket(AF_INET, SOCK_STREAM, 0);
		int one = 1;
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		bool ok = !bind(lfd, reinterpret_cast<sockaddr *>(&sin), sizeof(sin)) && !listen(lfd, 16);
		struct stat lst;
		fstat(lfd, &lst);
		std::string ready = dir + "/ready2", park2 = dir + "/rendezvous2";
		pid_t sd = fork();
		if (!sd) {
			int null = open("/dev/null", O_WRONLY);
			dup2(null, 1);
			dup2(lfd, 3);
			setenv("LISTEN_FDS", "1", 1);
			setenv("LISTEN_FDNAMES", "web", 1);
			setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
			execl(self, self, "puds", "run", "--park", park2.c_str(), "--listen",
			      ("web=127.0.0.1:" + std::to_string(kPort2)).c_str(), "--", self, "serve",
			      ready.c_str(), (char *)nullptr);
			_exit(127);
		}
		close(lfd);
		unsigned long ino = 0;
		char names2[64] = {};
		for (int i = 0; i < 5000 && !ino; i++) {
			if (std::FILE *r = std::fopen(ready.c_str(), "r")) {
				int p2;
				if (std::fscanf(r, "%d %63s %lu", &p2, names2, &ino) != 3)
					ino = 0;
				std::fclose(r);
			}
			if (!ino)
				usleep(2000);
		}
		check(ok && ino == lst.st_ino && !std::strcmp(names2, "web"),
		      "started by systemd socket activation, puds hands the server the listener systemd gave it");
		int c = -1;
		for (int i = 0; i < 100 && c < 0; i++)
			c = guest::tcp_connect(kPort2, "GET\n");
		char buf[8] = {};
		pollfd p{c, POLLIN, 0};
		check(c >= 0 && poll(&p, 1, 5000) == 1 && read(c, buf, sizeof(buf)) > 0 &&
			      !strncmp(buf, "OK", 2),
		      "and the server answers on it");
		close(c);
		kill(sd, SIGKILL);
		waitpid(sd, &status, 0);
	}
	return tap_finish();
}
