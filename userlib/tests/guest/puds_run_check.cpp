// SPDX-License-Identifier: LGPL-2.1-or-later
// `puds run` on the patched kernel (guest, make check): an unmodified
// socket-activated server (it only knows sd_listen_fds' protocol) run under
// puds is SIGKILLed and started again after a gap, and every connection a
// client attempted during the gap completes.  Then the failures of a
// restart after which the next `puds run` must still hand over every
// connection that waited (issue 15): puds run SIGKILLed right after its
// bind() of the rendezvous, a lowered net.unix.delay_close_max_ms, a full
// per-user cap (EDQUOT), and a server that fails to exec.  One multi-call
// binary: "puds" runs the command, "serve" is the server, no argument runs
// the test (TAP).
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/un_delay_close.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "guest_util.hpp"
#include "json_mini.hpp"
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

// `puds status` (with @opt: `puds status --json`), as an operator would read it.
std::string puds_status(const char *self, const char *opt = nullptr)
{
	std::string out = dir + "/status";
	pid_t pid = fork();
	if (!pid) {
		int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		execl(self, self, "puds", "status", opt, (char *)nullptr);
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

// One `puds run` of the failure scenarios: the test's server on @port,
// parked at @park with @delay ms, as @uid (0: root), its stderr into @err.
struct Run {
	std::string park, ready, err;
	int port = 0, delay = 20000;
	uid_t uid = 0;
	std::string server;	// "": the test's own server
};

// Fork the `puds run` of @r; with @traced, stopped for ptrace before exec.
pid_t spawn_puds(const char *self, const Run &r, bool traced = false)
{
	unlink(r.ready.c_str());
	pid_t pid = fork();
	if (pid)
		return pid;
	int null = open("/dev/null", O_WRONLY);
	dup2(null, 1);
	if (!r.err.empty()) {
		int e = open(r.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(e, 2);
	}
	if (r.uid && (setgroups(0, nullptr) || setgid(r.uid) || setuid(r.uid)))
		_exit(126);
	if (traced) {
		ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
		raise(SIGSTOP);
	}
	std::string listen = "http=127.0.0.1:" + std::to_string(r.port);
	std::string delay = std::to_string(r.delay);
	if (r.server.empty())
		execl(self, self, "puds", "run", "--park", r.park.c_str(), "--listen",
		      listen.c_str(), "--delay", delay.c_str(), "--", self, "serve",
		      r.ready.c_str(), (char *)nullptr);
	else
		execl(self, self, "puds", "run", "--park", r.park.c_str(), "--listen",
		      listen.c_str(), "--delay", delay.c_str(), "--", r.server.c_str(),
		      (char *)nullptr);
	_exit(127);
}

// `puds run` as @r until its server is ready: the pid, or -1.
pid_t start_run(const char *self, const Run &r)
{
	return guest::wait_ready(spawn_puds(self, r), 2000, [&] {
		struct stat st;
		return !stat(r.ready.c_str(), &st) && st.st_size > 0;
	});
}

int wait_exit(pid_t pid)
{
	int status = 0;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// @text (puds's stderr) as TAP comments, line by line.
void diag_lines(const std::string &text)
{
	std::size_t at = 0;
	while (at < text.size()) {
		std::size_t end = text.find('\n', at);
		if (end == std::string::npos)
			end = text.size();
		tap_diag("  %s", text.substr(at, end - at).c_str());
		at = end + 1;
	}
}

bool write_sysctl(const char *name, int value)
{
	std::string path = std::string("/proc/sys/net/unix/") + name, v = std::to_string(value);
	int fd = open(path.c_str(), O_WRONLY);
	bool ok = fd >= 0 && write(fd, v.data(), v.size()) == static_cast<ssize_t>(v.size());
	if (fd >= 0)
		close(fd);
	return ok;
}

std::vector<int> connect_clients(int port, int n)
{
	std::vector<int> fds;
	for (int i = 0; i < n; i++) {
		int fd = guest::tcp_connect(port, "GET\n");
		if (fd >= 0)
			fds.push_back(fd);
	}
	return fds;
}

int count_replied(const std::vector<int> &fds)
{
	int ok = 0;
	for (int fd : fds)
		ok += replied(fd);
	return ok;
}

// The server of @r started under puds run and SIGKILLed: its listener and
// the rendezvous parked.
bool start_and_kill(const char *self, const Run &r)
{
	pid_t pid = start_run(self, r);
	if (pid < 0)
		return false;
	kill(pid, SIGKILL);
	return wait_exit(pid) == 128 + SIGKILL;
}

// Run the traced @pid until its first bind() returns 0 (puds run's first
// is the rendezvous's: the listeners come from the parked queue), then
// SIGKILL it there, before its next instruction.  True if it was killed so.
bool kill_after_first_bind(pid_t pid)
{
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status))
		return false;
	ptrace(PTRACE_SETOPTIONS, pid, nullptr, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL);
	int sig = 0;
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, pid, nullptr, sig))
			return false;
		sig = 0;
		if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status))
			return false;
		if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
			user_regs_struct regs {};
			ptrace(PTRACE_GETREGS, pid, nullptr, &regs);
			// At the entry rax is -ENOSYS: 0 only at the exit of a bind() that worked.
			if (regs.orig_rax == SYS_bind && regs.rax == 0) {
				kill(pid, SIGKILL);
				return wait_exit(pid) == 128 + SIGKILL;
			}
		} else if (WSTOPSIG(status) != SIGTRAP && WSTOPSIG(status) != SIGSTOP) {
			sig = WSTOPSIG(status);
		}
	}
}

// The end of each failure: `puds run` with a good setup hands every
// connection that waited to the new server.
void served_by_next_run(const char *self, const Run &r, const std::vector<int> &waiting,
			const char *what)
{
	pid_t pid = start_run(self, r);
	int ok = count_replied(waiting);
	tap_diag("%s: %d of %zu waiting connections served", what, ok, waiting.size());
	tap_result(pid > 0 && ok == static_cast<int>(waiting.size()) && waiting.size() == 10,
		   "%s: the next puds run hands every waiting connection over", what);
	if (pid > 0) {
		kill(pid, SIGKILL);
		wait_exit(pid);
	}
}

// SIGKILL between bind() and anything after it: the socket was armed
// before bind(), so the queue it adopted parks again, unread.
void killed_after_bind(const char *self, Run r)
{
	const char *what = "SIGKILL right after bind()";
	bool parked = start_and_kill(self, r);
	bool killed = parked && kill_after_first_bind(spawn_puds(self, r, true));
	tap_result(killed, "%s: puds run adopts the parked rendezvous and is SIGKILLed at "
		   "bind()'s return", what);
	served_by_next_run(self, r, connect_clients(r.port, 10), what);
}

// net.unix.delay_close_max_ms lowered while the server was down: puds run
// with the old --delay clamps it, says so, and adopts.
void lowered_maximum(const char *self, Run r)
{
	const char *what = "a lowered net.unix.delay_close_max_ms";
	bool parked = start_and_kill(self, r);
	bool lowered = write_sysctl("delay_close_max_ms", r.delay / 2);
	auto waiting = connect_clients(r.port, 10);
	r.err = dir + "/lowered.err";
	served_by_next_run(self, r, waiting, what);
	std::string err = guest::read_file(r.err);
	diag_lines(err);
	tap_result(parked && lowered &&
			   err.find("above net.unix.delay_close_max_ms") != std::string::npos &&
			   err.find("parking for " + std::to_string(r.delay / 2)) != std::string::npos,
		   "%s: --delay %d is clamped to %d with a warning naming the sysctl", what,
		   r.delay, r.delay / 2);
	write_sysctl("delay_close_max_ms", 60000);
}

// The user at net.unix.delay_close_max_per_user, its credit taken by
// another socket: puds run fails with EDQUOT before adopting anything;
// once there is room, the next one adopts the queue that stayed parked.
void full_cap(const char *self, Run r)
{
	const char *what = "a full per-user cap (EDQUOT)";
	bool parked = start_and_kill(self, r);
	bool capped = write_sysctl("delay_close_max_per_user", 1);
	// Another socket of the user, armed on the credit of the parked queue.
	int to_hog[2], from_hog[2];
	(void)!pipe(to_hog);
	(void)!pipe(from_hog);
	pid_t hog = fork();
	if (!hog) {
		close(to_hog[1]);
		if (setgroups(0, nullptr) || setgid(r.uid) || setuid(r.uid))
			_exit(1);
		int s = socket(AF_UNIX, SOCK_DGRAM, 0), ms = 10000;
		char ok = setsockopt(s, SOL_UNIX, UNIX_DELAY_CLOSE, &ms, sizeof(ms)) ? 'n' : 'y';
		(void)!write(from_hog[1], &ok, 1);
		(void)!read(to_hog[0], &ok, 1);	// until the test closes it
		_exit(0);
	}
	close(to_hog[0]);
	close(from_hog[1]);
	char armed = 0;
	(void)!read(from_hog[0], &armed, 1);
	close(from_hog[0]);

	Run failing = r;
	failing.err = dir + "/cap.err";
	int rc = wait_exit(spawn_puds(self, failing));
	std::string err = guest::read_file(failing.err);
	diag_lines(err);
	tap_result(parked && capped && armed == 'y' && rc == 1 &&
			   err.find("net.unix.delay_close_max_per_user") != std::string::npos,
		   "%s: puds run fails, naming the cap, and adopts nothing", what);
	auto waiting = connect_clients(r.port, 10);
	close(to_hog[1]);
	wait_exit(hog);
	served_by_next_run(self, r, waiting, what);
	write_sysctl("delay_close_max_per_user", 64);
}

// The server fails to exec after puds run adopted and parked (its binary
// gone after an upgrade: here a script whose interpreter is missing, which
// passes puds's check and fails execv() with ENOENT): the listeners stay
// parked.
void failed_exec(const char *self, Run r)
{
	const char *what = "a server that fails to exec";
	bool parked = start_and_kill(self, r);
	Run failing = r;
	failing.server = dir + "/upgraded-server";
	failing.err = dir + "/exec.err";
	if (std::FILE *f = std::fopen(failing.server.c_str(), "w")) {
		std::fputs("#!/nonexistent/interpreter\n", f);
		std::fclose(f);
	}
	chmod(failing.server.c_str(), 0755);
	int rc = wait_exit(spawn_puds(self, failing));
	std::string err = guest::read_file(failing.err);
	diag_lines(err);
	tap_result(parked && rc == 1 && err.find("execv(") != std::string::npos &&
			   err.find("stay parked") != std::string::npos,
		   "%s: puds run adopts, execv() fails, puds exits 1 saying the listeners "
		   "stay parked", what);
	served_by_next_run(self, r, connect_clients(r.port, 10), what);
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
	tap_plan(22);
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

	// What an operator sees in the gap, read back from `puds status --json`:
	// the parked queue, its fd, the listener it holds and the 20 waiting.
	{
		std::string json = puds_status(self, "--json"), err;
		auto doc = json_mini::parse(json, &err);
		if (!doc)
			std::printf("# puds status --json does not parse: %s\n", err.c_str());
		const json_mini::Value *queue = nullptr, *entries = doc ? doc->get("entries") : nullptr;
		for (std::size_t i = 0; entries && i < entries->arr.size(); i++) {
			const auto *path = entries->arr[i].get("path");
			if (path && path->str == park)
				queue = &entries->arr[i];
		}
		auto num = [](const json_mini::Value *v, const char *k) {
			const auto *m = v ? v->get(k) : nullptr;
			return m && m->type == json_mini::Value::Type::number ? m->num : -1.0;
		};
		const auto *ls = queue ? queue->get("listeners") : nullptr;
		const json_mini::Value *l = ls && ls->arr.size() == 1 ? &ls->arr[0] : nullptr;
		const auto *match = doc ? doc->get("listener_match") : nullptr;
		const auto *attribution = match ? match->get("attribution") : nullptr;
		double age = num(queue, "age_ms"), left = num(queue, "remaining_ms");
		std::printf("# queue: fds %.0f, age_ms %.0f, remaining_ms %.0f; listener %s waiting "
			    "%.0f of %.0f; attribution %s\n", num(queue, "fds"), age, left,
			    l && l->get("address") ? l->get("address")->str.c_str() : "(none)",
			    num(l, "waiting"), num(l, "backlog"),
			    attribution ? attribution->str.c_str() : "(none)");
		check(queue && queue->get("state") && queue->get("state")->str == "parked" &&
			      num(queue, "fds") == 1 && num(queue, "datagrams") == 1 && age >= 0 &&
			      left > 0 && age + left == num(queue, "delay_ms"),
		      "puds status --json shows the parked queue: state, 1 datagram, 1 fd, age + "
		      "time left = delay");
		std::string addr = "127.0.0.1:";
		addr += std::to_string(kPort);
		check(l && l->get("address") && l->get("address")->str == addr &&
			      num(l, "waiting") == static_cast<double>(gap.size()) &&
			      l->get("backlog_nearly_full") && !l->get("backlog_nearly_full")->b &&
			      attribution && attribution->str == "only-parked-queue",
		      "and its listener with as many connections waiting as clients connected");
	}

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

	// Each failure on a port and a rendezvous of its own.
	auto run_at = [&](const char *name, int port) {
		Run r;
		r.park = dir + "/" + name;
		r.ready = dir + "/" + name + ".ready";
		r.port = port;
		return r;
	};
	killed_after_bind(self, run_at("killed", 18090));
	lowered_maximum(self, run_at("lowered", 18091));
	{
		// As a user of its own, whose count of armed sockets and parked
		// queues is the test's alone.
		char utmpl[] = "/tmp/puds-cap.XXXXXX";
		std::string udir = mkdtemp(utmpl);
		Run r;
		r.uid = 4242;
		(void)!chown(udir.c_str(), r.uid, r.uid);
		r.park = udir + "/cap";
		r.ready = udir + "/cap.ready";
		r.port = 18092;
		full_cap(self, r);
	}
	failed_exec(self, run_at("exec", 18093));
	return tap_finish();
}
