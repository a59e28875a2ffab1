// SPDX-License-Identifier: LGPL-2.1-or-later
// make eval-systemd: what each systemd "anchor" of a listener keeps when its
// server restarts, crashes or is stopped, measured with unmodified servers
// (Debian 12's lighttpd, nginx, haproxy) under Debian 12's systemd 252 as
// PID 1 (the real-systemd guest, qemu/systemd/).  README.md says what runs.
//
// Anchors (one service unit each, written to /etc/systemd/system here):
//   naive              the server binds its own listener; Restart=always
//   socket-activation  a .socket unit (Accept=no) binds it, the server takes
//                      fd 3: lighttpd server.systemd-socket-activation,
//                      nginx Environment=NGINX=3;, haproxy bind fd@3
//   fdstore            fdstore-server (this program, "fdstore-server PORT"):
//                      binds, then hands its listener to systemd's fd store
//                      (sd_notify FDSTORE=1 with the fd, Type=notify,
//                      FileDescriptorStoreMax=); takes it back from
//                      LISTEN_FDS when systemd passes it
//   puds-run           `puds run --delay 10000` under systemd, as
//                      userlib/contrib/systemd/puds-lighttpd.service
// Every service: Restart=always, RestartSec=500ms, StartLimitIntervalSec=0.
//
// Events, each under a steady load (kRate HTTP/1.0 GETs a second, one
// connection each; each request's outcome and latency recorded):
//   restart            systemctl restart SERVICE
//   sigkill            systemctl kill -s KILL SERVICE (every process of it),
//                      with one request in progress (a partial request sent
//                      kHoldMs before); systemd restarts it (Restart=always)
//   stop-start         systemctl stop SERVICE, kPauseMs, systemctl start SERVICE
//   stop-start-socket  socket-activation only: the operator stops the
//                      .socket too (systemctl stop SOCKET SERVICE, pause,
//                      systemctl start SOCKET SERVICE)
//
// gap_ms: the longest time no reply arrived, from the last reply before the
// event to the end of the load (steady state: 1000 / kRate ms).
// in_hand: the server's accepted, unanswered connections at the SIGKILL
// (ESTABLISHED on the server port with an inode in /proc/net/tcp: a
// connection still in the accept queue has none); 0 for the other events.
//
// One "PUDS-EVAL-SD {json}" line per anchor x server x event (format:
// scripts/eval_report.py), one "# [k/N] ..." progress line, one TAP result
// each (ok: the measurement ran: the systemctl commands succeeded, the
// server answered before and after, and a SIGKILL found the partial request
// accepted and made systemd restart the service; a lost request is a
// number, not a failure).  puds.eval=quick on the kernel command line: lighttpd only.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "server_conf.hpp"
#include "systemd_util.hpp"

namespace {

constexpr int kRate = 100;		// requests a second
constexpr int kTimeoutMs = 5000;	// a request unanswered this long: "timeout"
constexpr int kBeforeMs = 600;		// load before the event
constexpr int kAfterMs = 600;		// load after the first answer to a request sent after it
constexpr int kRecoverMs = 15000;	// ... which must come within this long
constexpr int kPauseMs = 2000;		// stop-start: between the stop and the start
constexpr int kHoldMs = 300;		// sigkill: the partial request is sent this long before
constexpr int kRestartSecMs = 500;	// RestartSec= of every service
constexpr int kDelayMs = 10000;		// puds run --delay
constexpr const char *kPage = "puds eval page";
constexpr const char *kRun = "/run/puds-eval";
constexpr const char *kRequest = "GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n";

enum Outcome { kCompleted, kRefused, kReset, kTimeout, kError, kOutcomes };
const char *const kOutcomeName[] = {"completed", "refused", "reset", "timeout", "error"};

enum class Anchor { naive, socket, fdstore, puds };

const char *anchor_name(Anchor a)
{
	switch (a) {
	case Anchor::naive:
		return "naive";
	case Anchor::socket:
		return "socket-activation";
	case Anchor::fdstore:
		return "fdstore";
	case Anchor::puds:
		return "puds-run";
	}
	return "?";
}

// --- the servers -------------------------------------------------------------

struct Server {
	const char *name;
	bool nginx;	// takes inherited listeners from NGINX="3;"
	// The config in @dir for a listener on @port; @inherit: the server
	// takes fd 3 (from systemd or puds run) instead of binding.
	std::string (*config)(const std::string &dir, int port, bool inherit);
	std::string (*command)(const std::string &dir);
	// KillSignal=: the server's graceful stop (it stops accepting and
	// answers what it accepted), as a careful operator sets it (Debian's
	// nginx.service stops with QUIT; its lighttpd and haproxy units use
	// the default SIGTERM, an immediate stop that drops what is in hand).
	const char *stop_signal;
};

// "@binary @args...", a unit's ExecStart=.
std::string command_line(const char *binary, const std::vector<std::string> &args)
{
	std::string cmd = binary;
	for (const auto &a : args)
		cmd += " " + a;
	return cmd;
}

std::string lighttpd_conf(const std::string &dir, int port, bool inherit)
{
	return guest::lighttpd_conf(dir, "/var/www/eval", port, inherit);
}

std::string lighttpd_command(const std::string &dir)
{
	return command_line("/usr/sbin/lighttpd", guest::lighttpd_args(dir));
}

// nginx binds the address unless NGINX="3;" passes it a listener of it.
std::string nginx_conf(const std::string &dir, int port, bool)
{
	return guest::nginx_conf(dir, "/var/www/eval", port);
}

std::string nginx_command(const std::string &dir)
{
	return command_line("/usr/sbin/nginx", guest::nginx_args(dir));
}

std::string haproxy_conf(const std::string &, int port, bool inherit)
{
	return guest::haproxy_conf(inherit ? "fd@3" : "127.0.0.1:" + std::to_string(port), kPage);
}

std::string haproxy_command(const std::string &dir)
{
	return command_line("/usr/sbin/haproxy", guest::haproxy_args(dir));
}

const Server kLighttpd{"lighttpd", false, lighttpd_conf, lighttpd_command, "SIGINT"};
const Server kNginx{"nginx", true, nginx_conf, nginx_command, "SIGQUIT"};
const Server kHaproxy{"haproxy", false, haproxy_conf, haproxy_command, "SIGUSR1"};
const Server kFdstoreServer{"fdstore-server", false, nullptr, nullptr, "SIGTERM"};

// --- fdstore-server: a tiny HTTP server that keeps its listener in systemd's fd store

// sd_notify(@state) from the main process, with @fd attached unless -1,
// in one sendmsg() (as sd_pid_notify_with_fds does).  0, or -1.
int notify(const std::string &state, int fd)
{
	const char *path = std::getenv("NOTIFY_SOCKET");
	sockaddr_un sun{};
	if (!path || !*path || std::strlen(path) >= sizeof(sun.sun_path))
		return -1;
	sun.sun_family = AF_UNIX;
	std::size_t len = std::strlen(path);
	std::memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	else
		len++;
	iovec iov{const_cast<char *>(state.data()), state.size()};
	msghdr mh{};
	mh.msg_name = &sun;
	mh.msg_namelen = offsetof(sockaddr_un, sun_path) + len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
	if (fd >= 0) {
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ssize_t n = s < 0 ? -1 : sendmsg(s, &mh, MSG_NOSIGNAL);
	if (s >= 0)
		close(s);
	return n < 0 ? -1 : 0;
}

volatile sig_atomic_t g_stopping;

void on_stop(int)
{
	g_stopping = 1;
}

// fdstore-server PORT STATEFILE: serves the page on 127.0.0.1:PORT, one
// reply per request (HTTP/1.0, then close).  SIGTERM is its graceful
// stop: it accepts no more (what waits stays queued on the listener the fd
// store keeps), answers what it accepted, and exits 0.  Its listener is
// fd 3 when systemd passes one back (LISTEN_PID, LISTEN_FDS); else it
// binds one and stores it (FDSTORE=1, FDNAME=http).  STATEFILE gets "inherited" or
// "bound" and the pid, for the measuring side.
int fdstore_server(int port, const char *statefile)
{
	const char *lpid = std::getenv("LISTEN_PID"), *lfds = std::getenv("LISTEN_FDS");
	bool inherited = lpid && lfds && std::atoi(lpid) == getpid() && std::atoi(lfds) >= 1;
	int lfd = 3;
	if (!inherited) {
		sockaddr_in sin{};
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int one = 1;
		lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(lfd, reinterpret_cast<sockaddr *>(&sin), sizeof(sin)) || listen(lfd, 4096)) {
			std::fprintf(stderr, "fdstore-server: bind/listen 127.0.0.1:%d: %s\n", port,
				     std::strerror(errno));
			return 1;
		}
		if (notify("FDSTORE=1\nFDNAME=http", lfd))
			std::fprintf(stderr, "fdstore-server: FDSTORE=1: %s\n", std::strerror(errno));
	}
	fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
	if (std::FILE *f = std::fopen(statefile, "w")) {
		std::fprintf(f, "%s %d\n", inherited ? "inherited" : "bound", getpid());
		std::fclose(f);
	}
	signal(SIGPIPE, SIG_IGN);
	// SIGTERM blocked but inside ppoll(): no stop is missed between the
	// check and the wait.
	sigset_t term, waitmask;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	struct sigaction sa{};
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, nullptr);
	notify("READY=1", -1);

	std::string body = std::string(kPage) + "\n";
	std::string reply = "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: " +
			    std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
	std::vector<pollfd> pfds{{lfd, POLLIN, 0}};
	std::vector<std::string> got{""};
	for (;;) {
		if (g_stopping && pfds[0].fd >= 0) {
			notify("STOPPING=1", -1);
			pfds[0].fd = -1;	// poll() skips it; the fd store keeps it
		}
		if (g_stopping && pfds.size() == 1)
			return 0;
		if (ppoll(pfds.data(), pfds.size(), nullptr, &waitmask) < 0) {
			if (errno != EINTR)
				return 1;
			continue;
		}
		for (std::size_t i = pfds.size(); i-- > 1;) {
			if (!pfds[i].revents)
				continue;
			char buf[1024];
			ssize_t n = read(pfds[i].fd, buf, sizeof(buf));
			if (n > 0) {
				got[i].append(buf, n);
				if (got[i].find("\r\n\r\n") == std::string::npos)
					continue;
				(void)!write(pfds[i].fd, reply.data(), reply.size());
			} else if (n < 0 && errno == EAGAIN) {
				continue;
			}
			close(pfds[i].fd);
			pfds.erase(pfds.begin() + i);
			got.erase(got.begin() + i);
		}
		if (pfds[0].revents) {
			int c;
			while ((c = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
				pfds.push_back({c, POLLIN, 0});
				got.emplace_back();
			}
		}
	}
}

// --- the load ----------------------------------------------------------------

struct Conn {
	int64_t start_us = 0;	// from the load's start
	int64_t end_us = 0;
	int outcome = -1;
	int fd = -1;
	bool sent = false;
	std::string got;
};

int errno_outcome(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return kRefused;
	case ECONNRESET:
	case EPIPE:
		return kReset;
	case ETIMEDOUT:
		return kTimeout;
	default:
		return kError;
	}
}

bool reply_ok(const std::string &got)
{
	return got.starts_with("HTTP/1.") && got.find(" 200 ") != std::string::npos &&
	       got.find(kPage) != std::string::npos;
}

// kRate connections a second to 127.0.0.1:@port, each an HTTP GET seen
// through to its outcome; pump() drives it, never blocking long.
class Load {
public:
	explicit Load(int port) : ep_(epoll_create1(EPOLL_CLOEXEC)), t0_(now_us()), next_(t0_)
	{
		sin_.sin_family = AF_INET;
		sin_.sin_port = htons(port);
		sin_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	~Load()
	{
		for (auto &c : conns)
			if (c.fd >= 0)
				close(c.fd);
		close(ep_);
	}
	Load(const Load &) = delete;
	Load &operator=(const Load &) = delete;

	int64_t ms() const { return (now_us() - t0_) / 1000; }
	int active() const { return active_; }

	// Opens the connections now due (if @issue), handles what is ready
	// (waiting at most 5 ms), times out the requests too old.
	void pump(bool issue)
	{
		int64_t now = now_us();
		while (issue && now >= next_) {
			open(now);
			next_ += 1000000 / kRate;
		}
		int64_t wait = issue ? std::clamp<int64_t>((next_ - now) / 1000, 0, 5) : 5;
		epoll_event ev[64];
		int n = epoll_wait(ep_, ev, 64, static_cast<int>(wait));
		for (int i = 0; i < n; i++)
			handle(ev[i].data.u32);
		now = now_us();
		while (first_ < conns.size() && conns[first_].fd < 0)
			first_++;
		for (std::size_t i = first_; i < conns.size(); i++)
			if (conns[i].fd >= 0 && now - t0_ - conns[i].start_us > kTimeoutMs * 1000LL)
				finish(i, kTimeout);
	}

	std::vector<Conn> conns;

private:
	void open(int64_t now)
	{
		std::size_t i = conns.size();
		conns.emplace_back();
		Conn &c = conns.back();
		c.start_us = now - t0_;
		c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c.fd < 0) {
			c.outcome = kError;
			c.end_us = c.start_us;
			return;
		}
		active_++;
		if (connect(c.fd, reinterpret_cast<sockaddr *>(&sin_), sizeof(sin_)) &&
		    errno != EINPROGRESS) {
			finish(i, errno_outcome(errno));
			return;
		}
		epoll_event e{};
		e.events = EPOLLOUT;
		e.data.u32 = static_cast<uint32_t>(i);
		epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &e);
	}

	void handle(std::size_t i)
	{
		Conn &c = conns[i];
		if (c.fd < 0)
			return;
		if (!c.sent) {
			int err = 0;
			socklen_t len = sizeof(err);
			getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
			std::size_t n = std::strlen(kRequest);
			if (err || write(c.fd, kRequest, n) != static_cast<ssize_t>(n)) {
				finish(i, errno_outcome(err ? err : errno));
				return;
			}
			c.sent = true;
			epoll_event e{};
			e.events = EPOLLIN;
			e.data.u32 = static_cast<uint32_t>(i);
			epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &e);
			return;
		}
		char buf[2048];
		for (;;) {
			ssize_t r = read(c.fd, buf, sizeof(buf));
			if (r > 0) {
				c.got.append(buf, r);
				continue;
			}
			if (r < 0 && errno == EAGAIN)
				return;
			// EOF: the whole reply, or a close with none ("reset").
			if (r == 0)
				finish(i, reply_ok(c.got) ? kCompleted : c.got.empty() ? kReset : kError);
			else
				finish(i, reply_ok(c.got) ? kCompleted : errno_outcome(errno));
			return;
		}
	}

	void finish(std::size_t i, int outcome)
	{
		Conn &c = conns[i];
		c.outcome = outcome;
		c.end_us = now_us() - t0_;
		epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
		close(c.fd);
		c.fd = -1;
		c.got.clear();
		active_--;
	}

	sockaddr_in sin_{};
	int ep_;
	int64_t t0_, next_;
	int active_ = 0;
	std::size_t first_ = 0;
};

// --- the events: systemctl steps run while the load goes on ------------------

struct Step {
	std::vector<std::string> args;	// systemctl ARGS; empty: a pause
	int pause_ms = 0;
	bool expect_ok = true;		// exit status 0 expected
	int rc = -1;
	std::string out;		// its output (stdout and stderr)
};

// Runs @steps one after the other in children, polled from the load loop.
class Steps {
public:
	explicit Steps(std::vector<Step> steps) : steps(std::move(steps)) {}

	// Call repeatedly; true once every step is done.
	bool poll()
	{
		while (cur_ < steps.size()) {
			Step &s = steps[cur_];
			if (s.args.empty()) {
				if (!until_us_)
					until_us_ = now_us() + s.pause_ms * 1000LL;
				if (now_us() < until_us_)
					return false;
				until_us_ = 0;
				s.rc = 0;
				cur_++;
				continue;
			}
			if (pid_ <= 0 && !start(s))
				return false;
			int st;
			if (waitpid(pid_, &st, WNOHANG) != pid_)
				return false;
			s.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			s.out = guest::read_file(out_path());
			while (!s.out.empty() && s.out.back() == '\n')
				s.out.pop_back();
			pid_ = 0;
			cur_++;
		}
		return true;
	}

	// "" if every step exited as expected, else what went wrong.
	std::string failure() const
	{
		for (const auto &s : steps) {
			if (s.args.empty() || !s.expect_ok || s.rc == 0)
				continue;
			std::string cmd = "systemctl";
			for (const auto &a : s.args)
				cmd += " " + a;
			return cmd + ": exit status " + std::to_string(s.rc) + ": " + s.out;
		}
		return "";
	}

	std::vector<Step> steps;

private:
	std::string out_path() const { return std::string(kRun) + "/step.out"; }

	bool start(Step &s)
	{
		std::fflush(stdout);
		pid_ = fork();
		if (pid_ < 0) {
			s.rc = -1;
			cur_++;
			pid_ = 0;
			return false;
		}
		if (!pid_) {
			int fd = ::open(out_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
			dup2(fd, 1);
			dup2(fd, 2);
			std::vector<char *> argv{const_cast<char *>("systemctl")};
			for (auto &a : s.args)
				argv.push_back(a.data());
			argv.push_back(nullptr);
			execv("/bin/systemctl", argv.data());
			_exit(127);
		}
		return true;
	}

	std::size_t cur_ = 0;
	pid_t pid_ = 0;
	int64_t until_us_ = 0;
};

// --- one anchor x server -----------------------------------------------------

struct Case {
	Anchor anchor;
	const Server *srv;
	int port;
	std::string base;	// eval-<anchor>-<server>: the units' name

	std::string service() const { return base + ".service"; }
	std::string socket() const { return base + ".socket"; }
	std::string dir() const { return std::string(kRun) + "/" + base; }
	std::string statefile() const { return dir() + "/state"; }
};

// Writes @text to @path; @show: also to our output, as "# " lines (the
// units, so that the stored run says what ran).
bool write_text(const std::string &path, const std::string &text, bool show = false)
{
	if (show) {
		std::printf("# %s:\n", path.c_str());
		std::size_t at = 0;
		while (at < text.size()) {
			std::size_t nl = std::min(text.find('\n', at), text.size());
			std::string line = text.substr(at, nl - at);
			std::printf("#%s%s\n", line.empty() ? "" : "   ", line.c_str());
			at = nl + 1;
		}
	}
	std::FILE *f = std::fopen(path.c_str(), "w");
	if (!f)
		return false;
	bool ok = std::fputs(text.c_str(), f) >= 0;
	return std::fclose(f) == 0 && ok;
}

// The units (and the server's config) of @c, into /etc/systemd/system.
bool install(const Case &c, const std::string &self)
{
	mkdir(c.dir().c_str(), 0755);
	chmod(c.dir().c_str(), 0755);	// nginx's worker runs as nobody
	std::string port = std::to_string(c.port);
	std::string cmd;
	if (c.anchor == Anchor::fdstore) {
		cmd = self + " fdstore-server " + port + " " + c.statefile();
	} else {
		bool inherit = c.anchor != Anchor::naive;
		if (!write_text(c.dir() + "/server.conf", c.srv->config(c.dir(), c.port, inherit)))
			return false;
		cmd = c.srv->command(c.dir());
	}
	if (c.anchor == Anchor::puds)
		cmd = "/usr/bin/puds run --park /run/" + c.base + "/park --listen http=127.0.0.1:" +
		      port + " --delay " + std::to_string(kDelayMs) +
		      (c.srv->nginx ? " --nginx" : "") + " -- " + cmd;

	std::string what = std::string(c.srv->name) + " (" + anchor_name(c.anchor) + ")";
	std::string unit = "# make eval-systemd (anchors_eval): " + what + "\n"
			   "[Unit]\nDescription=puds eval: " + what + "\n"
			   "StartLimitIntervalSec=0\n";
	if (c.anchor == Anchor::socket)
		unit += "Requires=" + c.socket() + "\nAfter=" + c.socket() + "\n";
	unit += "\n[Service]\n";
	unit += c.anchor == Anchor::fdstore ? "Type=notify\nFileDescriptorStoreMax=4\n"
					    : "Type=simple\n";
	unit += "ExecStart=" + cmd + "\n";
	unit += "Restart=always\nRestartSec=" + std::to_string(kRestartSecMs) + "ms\nTimeoutStopSec=10s\n";
	unit += std::string("KillSignal=") + c.srv->stop_signal + "\n";
	if (c.anchor == Anchor::socket && c.srv->nginx)
		unit += "Environment=\"NGINX=3;\"\n";
	if (c.anchor == Anchor::puds)
		unit += "RuntimeDirectory=" + c.base + "\nRuntimeDirectoryMode=0700\n"
			"RuntimeDirectoryPreserve=yes\n";
	if (!write_text("/etc/systemd/system/" + c.service(), unit, true))
		return false;
	if (c.anchor != Anchor::socket)
		return true;
	return write_text("/etc/systemd/system/" + c.socket(),
			  "# make eval-systemd (anchors_eval): " + what + "\n"
			  "[Unit]\nDescription=puds eval: the listener of " + c.service() + "\n"
			  "\n[Socket]\nListenStream=127.0.0.1:" + port + "\nAccept=no\n"
			  "FileDescriptorName=http\n",
			  true);
}

// One good answer on @port within @ms.
bool serving(int port, int ms)
{
	int64_t end = now_us() + ms * 1000LL;
	while (now_us() < end) {
		int fd = guest::http_get(port);
		if (fd >= 0 && guest::http_ok(fd, kPage, 5000))
			return true;
		usleep(50000);
	}
	return false;
}

// The server's accepted, not yet closed connections on @port: lines of
// /proc/net/tcp with local port @port, state ESTABLISHED (01) and an
// inode (a connection still in the accept queue has none).
int accepted_open(int port)
{
	std::string text = guest::read_file("/proc/net/tcp");
	int n = 0;
	std::size_t pos = text.find('\n');
	while (pos != std::string::npos && pos + 1 < text.size()) {
		std::size_t next = text.find('\n', pos + 1);
		std::string line = text.substr(pos + 1, next - pos - 1);
		pos = next;
		unsigned lport = 0, st = 0;
		unsigned long inode = 0;
		if (std::sscanf(line.c_str(), " %*d: %*8x:%x %*8x:%*x %x %*x:%*x %*x:%*x %*x %*u %*d %lu",
				&lport, &st, &inode) == 3 &&
		    static_cast<int>(lport) == port && st == 1 && inode)
			n++;
	}
	return n;
}

const char *const kEvents[] = {"restart", "sigkill", "stop-start", "stop-start-socket"};

std::vector<std::string> events_of(const Case &c)
{
	if (c.anchor == Anchor::socket)
		return {std::begin(kEvents), std::end(kEvents)};
	return {std::begin(kEvents), std::end(kEvents) - 1};
}

// systemctl @args, its exit status expected to be 0 if @must_succeed.
Step cmd(std::vector<std::string> args, bool must_succeed = true)
{
	Step s;
	s.args = std::move(args);
	s.expect_ok = must_succeed;
	return s;
}

Step pause(int ms)
{
	Step s;
	s.pause_ms = ms;
	return s;
}

std::vector<Step> steps_of(const Case &c, const std::string &event)
{
	std::string svc = c.service(), sock = c.socket();
	if (event == "restart")
		return {cmd({"restart", svc})};
	if (event == "sigkill")
		return {cmd({"kill", "-s", "KILL", svc})};
	// The pause, with a look at the service in its middle.
	Step look = cmd({"show", "-p", "ActiveState", "-p", "Result", "-p", "ExecMainCode", "-p",
			 "ExecMainStatus", svc},
			false);
	if (event == "stop-start") {
		std::vector<Step> s{cmd({"stop", svc}), pause(kPauseMs / 2), look};
		if (c.anchor == Anchor::fdstore)
			s.push_back(cmd({"show", "-P", "NFileDescriptorStore", svc}, false));
		s.push_back(pause(kPauseMs / 2));
		s.push_back(cmd({"start", svc}));
		return s;
	}
	return {cmd({"stop", sock, svc}), pause(kPauseMs / 2), look, pause(kPauseMs / 2),
		cmd({"start", sock, svc})};
}

std::string json_escape(const std::string &s)
{
	std::string o;
	for (char ch : s) {
		if (ch == '"' || ch == '\\') {
			o += '\\';
			o += ch;
		} else if (static_cast<unsigned char>(ch) < 0x20) {
			char b[8];
			std::snprintf(b, sizeof(b), "\\u%04x", ch);
			o += b;
		} else {
			o += ch;
		}
	}
	return o;
}

struct Result {
	int attempted = 0;
	int count[kOutcomes] = {};
	int in_hand = 0;
	double gap_ms = 0, p50_ms = 0, p99_ms = 0, max_ms = 0;
	bool ok = true;
	std::string error, note;
};

void fail(Result &r, const std::string &why)
{
	if (r.ok)
		r.error = why;
	r.ok = false;
}

void add_note(Result &r, const std::string &s)
{
	r.note += (r.note.empty() ? "" : "; ") + s;
}

// The figures of a load whose event began @event_ms after its start.
void summarise(const Load &load, int64_t event_ms, int64_t end_ms, Result &r)
{
	std::vector<int64_t> lat, replies;
	r.attempted = static_cast<int>(load.conns.size());
	for (const auto &c : load.conns) {
		r.count[c.outcome < 0 ? kError : c.outcome]++;
		if (c.outcome == kCompleted) {
			lat.push_back(c.end_us - c.start_us);
			replies.push_back(c.end_us);
		}
	}
	std::sort(lat.begin(), lat.end());
	std::sort(replies.begin(), replies.end());
	if (!lat.empty()) {
		r.p50_ms = lat[lat.size() / 2] / 1000.0;
		r.p99_ms = lat[std::min(lat.size() - 1, lat.size() * 99 / 100)] / 1000.0;
		r.max_ms = lat.back() / 1000.0;
	}
	// The longest stretch without a reply, from the last reply before the
	// event to the end of the load.
	int64_t ev = event_ms * 1000, prev = -1, gap = 0;
	for (int64_t t : replies) {
		if (t < ev) {
			prev = t;
			continue;
		}
		gap = std::max(gap, t - (prev < 0 ? ev : prev));
		prev = t;
	}
	gap = std::max(gap, end_ms * 1000 - (prev < 0 ? ev : prev));
	r.gap_ms = gap / 1000.0;
}

// What the held (partial) request's connection got after the SIGKILL.
std::string held_fate(int fd)
{
	pollfd p{fd, POLLIN, 0};
	if (poll(&p, 1, 2000) != 1)
		return "still open 2 s after the kill";
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n > 0)
		return "got data";
	return n == 0 ? "closed without a reply (EOF)"
		      : std::string("reset (") + std::strerror(errno) + ")";
}

Result measure(const Case &c, const std::string &event)
{
	Result r;
	if (!serving(c.port, 30000)) {
		fail(r, "not serving before the event");
		return r;
	}
	std::string svc = c.service();
	std::string restarts = guest::property(svc, "NRestarts");
	int hold = -1;

	Load load(c.port);
	Steps steps(steps_of(c, event));
	while (load.ms() < kBeforeMs) {
		if (event == "sigkill" && hold < 0 && load.ms() >= kBeforeMs - kHoldMs)
			hold = guest::tcp_connect(c.port, "GET /index.html HTTP/1.0\r\n");
		load.pump(true);
	}
	int64_t event_ms = load.ms();
	if (event == "sigkill")
		r.in_hand = accepted_open(c.port);
	while (!steps.poll())
		load.pump(true);
	int64_t done_ms = load.ms();

	// Until a request sent after the event is answered, and kAfterMs more.
	int64_t served_ms = -1;
	while (load.ms() < done_ms + kRecoverMs &&
	       (served_ms < 0 || load.ms() < served_ms + kAfterMs)) {
		load.pump(true);
		if (served_ms >= 0)
			continue;
		for (auto it = load.conns.rbegin(); it != load.conns.rend(); ++it) {
			if (it->start_us < done_ms * 1000)
				break;
			if (it->outcome == kCompleted) {
				served_ms = load.ms();
				break;
			}
		}
	}
	int64_t end_ms = load.ms();
	while (load.active())
		load.pump(false);
	summarise(load, event_ms, end_ms, r);

	std::string failed = steps.failure();
	if (!failed.empty())
		fail(r, failed);
	if (served_ms < 0)
		fail(r, "no answer within " + std::to_string(kRecoverMs) + " ms of the event's end");
	int before = 0;
	for (const auto &x : load.conns)
		before += x.outcome == kCompleted && x.start_us < event_ms * 1000;
	if (!before)
		fail(r, "no answer before the event");

	// What was measured besides the load.
	add_note(r, "event took " + std::to_string(done_ms - event_ms) + " ms (systemctl)");
	if (hold >= 0) {
		add_note(r, "held partial request: " + held_fate(hold));
		close(hold);
	}
	if (event == "sigkill" || event == "restart") {
		std::string now = guest::property(svc, "NRestarts");
		add_note(r, "NRestarts " + restarts + " -> " + now);
		if (event == "sigkill" && now == restarts)
			fail(r, "systemd did not restart it (NRestarts stayed " + now + ")");
	}
	// The SIGKILL must have come with the partial request in the server's hands.
	if (event == "sigkill" && !r.in_hand)
		fail(r, "no accepted connection at the kill (the partial request was not accepted)");
	for (auto s : steps.steps) {
		if (s.expect_ok)
			continue;
		std::replace(s.out.begin(), s.out.end(), '\n', ' ');
		if (s.args[1] == "-P")	// one property, value only
			s.out = s.args[2] + "=" + s.out;
		add_note(r, "in the pause: " + s.out);
	}
	if (c.anchor == Anchor::fdstore && serving(c.port, 10000)) {
		std::string state = guest::read_file(c.statefile());
		add_note(r, "listener after the event: " +
				    std::string(state.starts_with("inherited")
							? "passed back from the fd store (LISTEN_FDS)"
							: "bound anew (the fd store was empty)"));
	}
	return r;
}

void print(const Case &c, const std::string &event, const Result &r, int k, int n)
{
	std::printf("# [%d/%d] %-17s %-14s %-17s %3d attempted, %3d completed, %3d refused, %3d reset, %3d timeout, in_hand %d, gap %.0f ms, p99 %.0f ms%s%s\n",
		    k, n, anchor_name(c.anchor), c.srv->name, event.c_str(), r.attempted,
		    r.count[kCompleted], r.count[kRefused], r.count[kReset], r.count[kTimeout],
		    r.in_hand, r.gap_ms, r.p99_ms, r.ok ? "" : "; error: ", r.error.c_str());
	std::string outcomes;
	for (int i = 0; i < kOutcomes; i++)
		outcomes += std::string(i ? "," : "") + "\"" + kOutcomeName[i] +
			    "\":" + std::to_string(r.count[i]);
	std::printf("PUDS-EVAL-SD {\"anchor\":\"%s\",\"server\":\"%s\",\"event\":\"%s\",\"unit\":\"%s\","
		    "\"gap_ms\":%.1f,\"pause_ms\":%d,\"rate\":%d,\"timeout_ms\":%d,\"restart_sec_ms\":%d,"
		    "\"attempted\":%d,\"outcomes\":{%s},\"in_hand\":%d,"
		    "\"p50_ms\":%.1f,\"p99_ms\":%.1f,\"max_ms\":%.1f,\"ok\":%s,\"error\":\"%s\",\"note\":\"%s\"}\n",
		    anchor_name(c.anchor), c.srv->name, event.c_str(), c.service().c_str(), r.gap_ms,
		    event.starts_with("stop-start") ? kPauseMs : 0, kRate, kTimeoutMs, kRestartSecMs, r.attempted,
		    outcomes.c_str(), r.in_hand, r.p50_ms, r.p99_ms, r.max_ms, r.ok ? "true" : "false",
		    json_escape(r.error).c_str(), json_escape(r.note).c_str());
	tap_result(r.ok, "%s %s %s: measured", anchor_name(c.anchor), c.srv->name, event.c_str());
}

// Starts the case's units and waits for an answer: "" or what failed.
std::string bring_up(const Case &c)
{
	std::vector<std::string> args{"start"};
	if (c.anchor == Anchor::socket)
		args.push_back(c.socket());
	args.push_back(c.service());
	std::string out;
	if (guest::systemctl(args, &out))
		return "systemctl start " + c.service() + " failed";
	if (!serving(c.port, 30000))
		return c.service() + " does not answer on 127.0.0.1:" + std::to_string(c.port);
	return "";
}

void bring_down(const Case &c)
{
	std::string out;
	guest::systemctl({"stop", c.service()}, &out);
	if (c.anchor == Anchor::socket)
		guest::systemctl({"stop", c.socket()}, &out);
}

void dump_journal(const Case &c)
{
	std::fflush(stdout);
	pid_t pid = fork();
	if (!pid) {
		execl("/bin/journalctl", "journalctl", "--no-pager", "-o", "cat", "-n", "20", "-u",
		      c.service().c_str(), static_cast<char *>(nullptr));
		_exit(127);
	}
	waitpid(pid, nullptr, 0);
}

} // namespace

int main(int argc, char **argv)
{
	if (argc == 4 && !std::strcmp(argv[1], "fdstore-server"))
		return fdstore_server(std::atoi(argv[2]), argv[3]);

	signal(SIGPIPE, SIG_IGN);
	char mode[32] = "";
	bool quick = cmdline_value("puds.eval", mode, sizeof(mode)) && !std::strcmp(mode, "quick");
	char exe[4096] = {};
	std::string self = readlink("/proc/self/exe", exe, sizeof(exe) - 1) > 0 ? exe : argv[0];

	std::vector<Case> cases;
	const Anchor anchors[] = {Anchor::naive, Anchor::socket, Anchor::fdstore, Anchor::puds};
	const Server *servers[] = {&kLighttpd, &kNginx, &kHaproxy};
	int a = 0;
	for (Anchor an : anchors) {
		int s = 0;
		for (const Server *srv : servers) {
			if (an == Anchor::fdstore)
				srv = &kFdstoreServer;
			cases.push_back({an, srv, 8100 + 10 * a + s,
					 std::string("eval-") + anchor_name(an) + "-" + srv->name});
			s++;
			if (quick || an == Anchor::fdstore)
				break;
		}
		a++;
	}
	int total = 0;
	for (const auto &c : cases)
		total += static_cast<int>(events_of(c).size());
	tap_plan(total);

	std::string version = guest::require_systemd();
	std::printf("# eval-sd: systemd %s\n", version.substr(version.find(' ') + 1).c_str());
	std::printf("# eval-sd: mode %s: %zu anchor x server, %d measurements; %d requests/s, timeout %d ms, %d ms before the event, %d ms after the first answer after it, stop-start pause %d ms, RestartSec=%d ms, puds run --delay %d\n",
		    quick ? "quick" : "full", cases.size(), total, kRate, kTimeoutMs, kBeforeMs,
		    kAfterMs, kPauseMs, kRestartSecMs, kDelayMs);
	// The same as keyed lines ("# eval-sd: key N", qemu/harness.py keyed()).
	std::printf("# eval-sd: quick %d\n# eval-sd: measurements %d\n# eval-sd: rate %d\n"
		    "# eval-sd: timeout_ms %d\n# eval-sd: pause_ms %d\n# eval-sd: restart_sec_ms %d\n"
		    "# eval-sd: delay_ms %d\n",
		    quick, total, kRate, kTimeoutMs, kPauseMs, kRestartSecMs, kDelayMs);

	mkdir(kRun, 0755);
	mkdir("/var/www", 0755);
	mkdir("/var/www/eval", 0755);
	if (!write_text("/var/www/eval/index.html", std::string(kPage) + "\n"))
		tap_bail("cannot write /var/www/eval/index.html");
	for (const auto &c : cases)
		if (!install(c, self))
			tap_bail("cannot write the units of %s", c.base.c_str());
	if (guest::systemctl({"daemon-reload"}))
		tap_bail("systemctl daemon-reload failed");

	int k = 0;
	int64_t t0 = now_us();
	for (const auto &c : cases) {
		std::string up = bring_up(c);
		if (!up.empty())
			dump_journal(c);
		for (const auto &event : events_of(c)) {
			Result r;
			if (up.empty())
				r = measure(c, event);
			else
				fail(r, up);
			print(c, event, r, ++k, total);
			if (!r.ok)
				dump_journal(c);
		}
		bring_down(c);
	}
	std::printf("# eval-sd: seconds %lld\n", static_cast<long long>((now_us() - t0) / 1000000));
	return tap_finish();
}
