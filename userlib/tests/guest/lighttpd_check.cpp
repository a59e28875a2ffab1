// SPDX-License-Identifier: LGPL-2.1-or-later
// An unmodified server from Debian's packages under `puds run` (guest, make
// check): lighttpd 1.4.69, which takes its listener from LISTEN_FDS with
// server.systemd-socket-activation = "enable", is SIGKILLed; clients send
// HTTP requests while nothing runs; `puds run` starts it again and every
// request of the gap is answered.  The lighttpd binary is Debian's,
// unpacked into the initramfs at /opt/lighttpd (tests/guest/extra.sh).
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

#include "puds_main.hpp"

namespace {

constexpr int kPort = 8081;
constexpr const char *kLighttpd = "/opt/lighttpd/lighttpd";
int failed_checks, checks;
std::string dir;

void check(bool ok, const char *what)
{
	std::printf("%sok %d - %s\n", ok ? "" : "not ", ++checks, what);
	failed_checks += !ok;
}

int request()
{
	sockaddr_in sin{};
	sin.sin_family = AF_INET;
	sin.sin_port = htons(kPort);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	const char req[] = "GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n";
	if (connect(fd, reinterpret_cast<sockaddr *>(&sin), sizeof(sin)) ||
	    write(fd, req, sizeof(req) - 1) != sizeof(req) - 1) {
		close(fd);
		return -1;
	}
	return fd;
}

// A "200 OK" with the page, within 10 s.
bool answered(int fd)
{
	std::string got;
	char buf[512];
	pollfd p{fd, POLLIN, 0};
	while (poll(&p, 1, 10000) == 1) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		got.append(buf, n);
	}
	close(fd);
	return got.find(" 200 OK") != std::string::npos && got.find("parked by puds") != std::string::npos;
}

pid_t start(const char *self)
{
	pid_t pid = fork();
	if (!pid) {
		std::string park = dir + "/rendezvous", conf = dir + "/lighttpd.conf";
		std::string listen = "http=127.0.0.1:" + std::to_string(kPort);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		execl(self, self, "puds", "run", "--park", park.c_str(), "--listen", listen.c_str(),
		      "--", kLighttpd, "-D", "-f", conf.c_str(), (char *)nullptr);
		_exit(127);
	}
	for (int i = 0; i < 5000; i++) {
		int fd = request();
		if (fd >= 0 && answered(fd))
			return pid;
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			return -1;
		usleep(5000);
	}
	return -1;
}

void lo_up()
{
	ifreq ifr{};
	std::strcpy(ifr.ifr_name, "lo");
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
}

} // namespace

int main(int argc, char **argv)
{
	if (argc > 1 && !std::strcmp(argv[1], "puds"))
		return puds::puds_main(argc - 1, argv + 1);

	char tmpl[] = "/tmp/puds-lighttpd.XXXXXX";
	std::setvbuf(stdout, nullptr, _IOLBF, 0);
	std::printf("TAP version 13\n1..5\n");
	if (access(kLighttpd, X_OK) || unshare(CLONE_NEWNET)) {
		std::printf("Bail out! %s or unshare: %s\n", kLighttpd, std::strerror(errno));
		return 1;
	}
	lo_up();
	signal(SIGPIPE, SIG_IGN);
	dir = mkdtemp(tmpl);
	std::string www = dir + "/www";
	mkdir(www.c_str(), 0755);
	std::FILE *f = std::fopen((www + "/index.html").c_str(), "w");
	std::fputs("parked by puds\n", f);
	std::fclose(f);
	f = std::fopen((dir + "/lighttpd.conf").c_str(), "w");
	std::fprintf(f,
		     "server.document-root = \"%s\"\n"
		     "server.bind = \"127.0.0.1\"\n"
		     "server.port = %d\n"
		     "server.systemd-socket-activation = \"enable\"\n"
		     "server.errorlog = \"%s/error.log\"\n"
		     "server.modules = ()\n"
		     "index-file.names = ( \"index.html\" )\n",
		     www.c_str(), kPort, dir.c_str());
	std::fclose(f);

	char exe[4096] = {};
	const char *self = readlink("/proc/self/exe", exe, sizeof(exe) - 1) > 0 ? exe : argv[0];

	pid_t pid = start(self);
	check(pid > 0, "lighttpd runs under puds run and serves from the listener it was given");
	if (pid <= 0) {
		if (std::FILE *e = std::fopen((dir + "/error.log").c_str(), "r")) {
			char line[256];
			while (std::fgets(line, sizeof(line), e))
				std::printf("# %s", line);
			std::fclose(e);
		}
		return 1;
	}
	kill(pid, SIGKILL);
	int st;
	waitpid(pid, &st, 0);
	check(WIFSIGNALED(st), "lighttpd is SIGKILLed");

	std::vector<int> gap;
	for (int i = 0; i < 20; i++) {
		int fd = request();
		if (fd >= 0)
			gap.push_back(fd);
		usleep(5000);
	}
	check(gap.size() == 20, "20 HTTP requests are sent while nothing runs");

	pid = start(self);
	check(pid > 0, "puds run starts lighttpd again");
	int ok = 0;
	for (int fd : gap)
		ok += answered(fd);
	std::printf("# %d of %zu requests of the gap answered\n", ok, gap.size());
	check(ok == 20, "every request of the gap gets 200 OK");
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	return failed_checks ? 1 : 0;
}
