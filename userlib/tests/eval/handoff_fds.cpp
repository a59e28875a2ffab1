// SPDX-License-Identifier: LGPL-2.1-or-later
// make eval: many fds in one parcel (guest, minimal).  An old server opens
// N TCP listeners, a UDP socket, a unix stream listener and a memfd holding
// 4 KiB of state, parks them in one parcel (Rendezvous + Parcel, as a
// server author would) and exits, or is SIGKILLed (the runs alternate).
// In the gap a client connects to every TCP listener and sends a request,
// sends a datagram, connects to the unix listener.  Then the new server
// starts (fork + exec of this program: a new binary's whole start-up),
// reclaims the parcel, checks the state, parks again and serves everything
// that waited.  Per N (1 .. 64) R runs; one PUDS-EVAL-FDS line (handoff_ms:
// its first accept minus its start, the instant after fork; reclaim_ms:
// open + reclaim done minus that start) and one TAP line: ok only if every
// run served everything.  puds.eval=quick: N = 1, 16, 64, 3 runs each.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "guest_util.hpp"
#include "puds/handoff.hpp"
#include "puds/listener.hpp"

using namespace puds;

namespace {

constexpr std::size_t kStateBytes = 4096;
constexpr int kDelayMs = 10000;
constexpr int kReportFd = 3;	// the new server's report pipe, across exec
constexpr int kIoTimeoutMs = 10000;
constexpr std::size_t kErrorSize = 200;	// a child's error text, in its report

// One run's setting: everything both servers and the client need to agree on.
struct RunSpec {
	int listeners;
	int port_base;		// TCP ports port_base .. +listeners-1, UDP port_base + 99
	std::string rv_path, unix_path;

	std::string tcp_name(int i) const { return "tcp" + std::to_string(i); }
	std::string tcp_addr(int i) const { return "127.0.0.1:" + std::to_string(port_base + i); }
	int udp_port() const { return port_base + 99; }
	std::string udp_addr() const { return "udp:127.0.0.1:" + std::to_string(udp_port()); }
	std::string unix_addr() const { return "unix:" + unix_path; }
};

// What the new server tells the runner (through kReportFd).
struct NewReport {
	// CLOCK_MONOTONIC ns: the instant after fork, main() after exec,
	// open + reclaim done, the first accept() returned.
	std::int64_t t_start, t_main, t_reclaimed, t_first_accept;
	int tcp_answered;
	bool adopted, udp, unix_ok, state;
	char error[kErrorSize];
};

std::uint64_t fnv1a(const unsigned char *p, std::size_t n)
{
	std::uint64_t h = 14695981039346656037ull;
	for (std::size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

std::string request_of(int i)
{
	return "req " + std::to_string(i) + "\n";
}

std::string reply_of(int i)
{
	return "ok " + std::to_string(i) + "\n";
}

void set_error(char (&buf)[kErrorSize], const std::string &what)
{
	if (!buf[0])
		std::snprintf(buf, sizeof(buf), "%s", what.c_str());
}

// --- the old server: a forked child -----------------------------------------

// Open everything, park it in one parcel; "" or what failed.
std::string old_server(const RunSpec &rs)
{
	auto rv = Rendezvous::open(rs.rv_path, kDelayMs);
	if (!rv)
		return "old: " + rv.error().message;
	Parcel p;
	std::vector<std::pair<std::string, std::string>> specs;
	for (int i = 0; i < rs.listeners; i++)
		specs.emplace_back(rs.tcp_name(i), rs.tcp_addr(i));
	specs.emplace_back("udp", rs.udp_addr());
	specs.emplace_back("unix", rs.unix_addr());
	for (auto &[name, spec] : specs) {
		auto a = parse_address(spec);
		if (!a)
			return "old: " + a.error().message;
		auto fd = bind_listener(*a, 128);
		if (!fd)
			return "old: " + name + ": " + fd.error().message;
		p.fds.push_back({name, std::move(fd).value()});
	}
	// The state: 4 KiB of random bytes in a memfd, their checksum in the blob.
	unsigned char buf[kStateBytes];
	if (getrandom(buf, sizeof(buf), 0) != sizeof(buf))
		return std::string("old: getrandom: ") + std::strerror(errno);
	Fd mem = Fd::adopt(memfd_create("puds-state", MFD_CLOEXEC));
	if (!mem || write(mem.get(), buf, sizeof(buf)) != sizeof(buf))
		return std::string("old: memfd: ") + std::strerror(errno);
	p.fds.push_back({"state", std::move(mem)});
	char blob[64];
	int n = std::snprintf(blob, sizeof(blob), "%zu %016" PRIx64, kStateBytes, fnv1a(buf, sizeof(buf)));
	p.state.assign(reinterpret_cast<const std::byte *>(blob),
		       reinterpret_cast<const std::byte *>(blob) + n);
	if (auto s = rv->park(p); !s)
		return "old: park: " + s.error().message;
	return "";	// the Rendezvous is closed armed on return: parked
}

// --- the new server: this program exec'd with --new-server -------------------

// Is the memfd of @p what the blob says?
bool state_intact(Parcel &p, std::string &err)
{
	auto it = std::find_if(p.fds.begin(), p.fds.end(), [](auto &f) { return f.name == "state"; });
	if (it == p.fds.end()) {
		err = "no memfd \"state\" in the parcel";
		return false;
	}
	unsigned char buf[kStateBytes + 1];
	ssize_t n = pread(it->fd.get(), buf, sizeof(buf), 0);
	char blob[64];
	std::snprintf(blob, sizeof(blob), "%zd %016" PRIx64, n, fnv1a(buf, n > 0 ? n : 0));
	std::string want(reinterpret_cast<const char *>(p.state.data()), p.state.size());
	if (want != blob) {
		err = "state: the parcel says \"" + want + "\", the memfd holds \"" + blob + "\"";
		return false;
	}
	return true;
}

void new_server(const RunSpec &rs, NewReport &r)
{
	auto rv = Rendezvous::open(rs.rv_path, kDelayMs);
	if (!rv)
		return set_error(r.error, "new: " + rv.error().message);
	r.adopted = rv->adopted();
	auto p = rv->reclaim();
	r.t_reclaimed = now_ns();
	if (!p)
		return set_error(r.error, "new: reclaim: " + p.error().message);

	// Take every listener (checked against its address), as a server does.
	Parcel next;
	auto take = [&](const std::string &name, const std::string &spec) {
		auto a = parse_address(spec);
		auto t = a ? take_listener_ex(*p, name, *a) : Result<TakenListener>(a.error());
		if (!t) {
			set_error(r.error, "new: " + name + ": " + t.error().message);
			return -1;
		}
		if (t->source != TakenListener::Source::handed_over)
			set_error(r.error, "new: " + name + ": not in the parcel, bound afresh");
		next.fds.push_back({name, std::move(t->fd)});
		return next.fds.back().fd.get();
	};
	std::vector<int> tcp;
	for (int i = 0; i < rs.listeners; i++)
		tcp.push_back(take(rs.tcp_name(i), rs.tcp_addr(i)));
	int udp = take("udp", rs.udp_addr());
	int ux = take("unix", rs.unix_addr());
	std::string err;
	r.state = state_intact(*p, err);
	if (!r.state)
		set_error(r.error, "new: " + err);
	// Park again at once, as Handoff::start does: crash-safe from here.
	for (auto &f : p->fds)
		if (f.name == "state")
			next.fds.push_back(std::move(f));
	next.state = p->state;
	if (auto s = rv->park(next); !s)
		set_error(r.error, "new: park: " + s.error().message);

	for (int i = 0; i < rs.listeners; i++) {
		if (tcp[i] < 0)
			continue;
		if (wait_fd(tcp[i], POLLIN, kIoTimeoutMs, "accept")) {
			set_error(r.error, "new: " + rs.tcp_name(i) + ": nothing waiting");
			continue;
		}
		int c = accept4(tcp[i], nullptr, nullptr, SOCK_CLOEXEC);
		if (!r.t_first_accept)
			r.t_first_accept = now_ns();
		if (c < 0) {
			set_error(r.error, "new: accept " + rs.tcp_name(i) + ": " + std::strerror(errno));
			continue;
		}
		std::string want = request_of(i), reply = reply_of(i);
		if (read_expect(c, want.c_str(), kIoTimeoutMs) == 0 &&
		    write(c, reply.data(), reply.size()) == static_cast<ssize_t>(reply.size()))
			r.tcp_answered++;
		else
			set_error(r.error, "new: " + rs.tcp_name(i) + ": " + g_err);
		close(c);
	}
	if (udp >= 0 && wait_fd(udp, POLLIN, kIoTimeoutMs, "udp") == 0) {
		char buf[64];
		sockaddr_storage from{};
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(udp, buf, sizeof(buf), 0, reinterpret_cast<sockaddr *>(&from), &len);
		r.udp = n == 5 && !std::memcmp(buf, "dgram", 5) &&
			sendto(udp, "udp-ok", 6, 0, reinterpret_cast<sockaddr *>(&from), len) == 6;
	}
	if (ux >= 0 && wait_fd(ux, POLLIN, kIoTimeoutMs, "unix accept") == 0) {
		int c = accept4(ux, nullptr, nullptr, SOCK_CLOEXEC);
		r.unix_ok = c >= 0 && read_expect(c, "unix\n", kIoTimeoutMs) == 0 &&
			    write(c, "unix-ok\n", 8) == 8;
		if (c >= 0)
			close(c);
	}
	if (!r.udp)
		set_error(r.error, "new: no datagram served");
	if (!r.unix_ok)
		set_error(r.error, "new: unix connection not served");
	// Stopping for good: nothing more to hand over.
	if (auto s = rv->set_delay(0); !s)
		set_error(r.error, "new: set_delay(0): " + s.error().message);
}

int new_server_main(char **argv)
{
	NewReport r{};
	r.t_main = now_ns();
	r.t_start = std::atoll(argv[6]);
	RunSpec rs{std::atoi(argv[2]), std::atoi(argv[3]), argv[4], argv[5]};
	new_server(rs, r);
	return write(kReportFd, &r, sizeof(r)) == sizeof(r) ? 0 : 1;
}

// --- the runner: old server, gap, new server -------------------------------

struct RunResult {
	double handoff_ms = -1, reclaim_ms = -1, exec_ms = -1;	// -1: no first accept
	int tcp = 0;
	bool udp = false, unix_ok = false, state = false;
	std::string error;

	bool ok() const { return error.empty(); }
};

// The report of the child @pid (@size bytes into @report, from the pipe
// @pfd, both ends closed here), then reap it: "" if it reported, the
// error text of its report (@err, kErrorSize bytes in @report) is empty
// and it ended as it should (SIGKILL if @sigkill, else exit 0); else what
// went wrong.
std::string reap(const std::string &who, pid_t pid, int pfd[2], void *report, std::size_t size,
		 char *err, bool sigkill)
{
	close(pfd[1]);
	bool got = read_exact(pfd[0], report, size, 60000) == 0;
	close(pfd[0]);
	int status;
	wait_child(pid, 30000, &status);
	char how[128];
	if (!got)
		return who + " sent no report";
	err[kErrorSize - 1] = 0;
	if (err[0])
		return err;
	if (!ended_as(status, sigkill, how, sizeof(how)))
		return who + " " + how;
	return "";
}

// Fork the old server; it ends by exit (@sigkill false) or SIGKILL once
// everything is parked.  "" or what failed.
std::string run_old(const RunSpec &rs, bool sigkill)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC))
		return std::string("pipe2: ") + std::strerror(errno);
	std::fflush(stdout);
	pid_t pid = fork();
	if (!pid) {
		close(pfd[0]);
		std::string err = old_server(rs);
		char buf[kErrorSize] = {};
		std::snprintf(buf, sizeof(buf), "%s", err.c_str());
		if (write(pfd[1], buf, sizeof(buf)) != sizeof(buf))
			_exit(1);
		if (sigkill && err.empty())
			raise(SIGKILL);
		_exit(err.empty() ? 0 : 1);
	}
	char buf[kErrorSize] = {};
	return reap("old server", pid, pfd, buf, sizeof(buf), buf, sigkill);
}

// The gap: one client per TCP listener (with its request), a datagram, a
// unix connection.  Every fd close-on-exec: the new server inherits none.
struct Clients {
	std::vector<int> tcp;
	int udp = -1, ux = -1;

	~Clients()
	{
		for (int &fd : tcp)
			close_fd(&fd);
		close_fd(&udp);
		close_fd(&ux);
	}
};

// A TCP connection that fails is an error but not the end of the run (-1
// in c.tcp): the new server still serves the others.
std::string connect_all(const RunSpec &rs, Clients &c)
{
	std::string err;
	for (int i = 0; i < rs.listeners; i++) {
		int fd = guest::tcp_connect(rs.port_base + i, request_of(i).c_str());
		if (fd < 0 && err.empty())
			err = "client: connect to " + rs.tcp_addr(i) + ": " + std::strerror(errno);
		if (fd >= 0)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
		c.tcp.push_back(fd);
	}
	sockaddr_in sin{};
	sin.sin_family = AF_INET;
	sin.sin_port = htons(rs.udp_port());
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c.udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (connect(c.udp, reinterpret_cast<sockaddr *>(&sin), sizeof(sin)) ||
	    send(c.udp, "dgram", 5, 0) != 5)
		return std::string("client: udp: ") + std::strerror(errno);
	c.ux = unix_socket(SOCK_STREAM, rs.unix_path.c_str(), 0, true);
	if (c.ux < 0 || write(c.ux, "unix\n", 5) != 5)
		return std::string("client: unix: ") + g_err;
	return err;
}

// Fork + exec the new server; its report, or the error.
std::string run_new(const RunSpec &rs, NewReport &r)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC))
		return std::string("pipe2: ") + std::strerror(errno);
	std::string n = std::to_string(rs.listeners), base = std::to_string(rs.port_base);
	std::fflush(stdout);
	pid_t pid = fork();
	if (!pid) {
		std::int64_t t0 = now_ns();	// the new server's start
		std::string ts = std::to_string(t0);
		dup2(pfd[1], kReportFd);	// without close-on-exec
		execl("/proc/self/exe", "handoff_fds", "--new-server", n.c_str(), base.c_str(),
		      rs.rv_path.c_str(), rs.unix_path.c_str(), ts.c_str(), static_cast<char *>(nullptr));
		_exit(127);
	}
	return reap("new server", pid, pfd, &r, sizeof(r), r.error, false);
}

RunResult one_run(const RunSpec &rs, bool sigkill)
{
	RunResult res;
	res.error = run_old(rs, sigkill);
	if (!res.ok())
		return res;
	Clients c;
	std::string client_err = connect_all(rs, c);
	if (c.ux < 0)
		return res.error = client_err, res;
	NewReport r{};
	res.error = run_new(rs, r);
	if (!client_err.empty())
		res.error = client_err;
	// The client's side: every reply arrived (the server has exited).
	for (int i = 0; i < rs.listeners; i++)
		res.tcp += c.tcp[i] >= 0 && read_expect(c.tcp[i], reply_of(i).c_str(), kIoTimeoutMs) == 0;
	res.udp = wait_fd(c.udp, POLLIN, kIoTimeoutMs, "udp reply") == 0 && [&] {
		char buf[16];
		return recv(c.udp, buf, sizeof(buf), 0) == 6 && !std::memcmp(buf, "udp-ok", 6);
	}();
	res.unix_ok = read_expect(c.ux, "unix-ok\n", kIoTimeoutMs) == 0;
	res.state = r.state;
	if (res.ok() && !r.adopted)
		res.error = "new server did not adopt the parked queue";
	if (res.ok() && (res.tcp != rs.listeners || !res.udp || !res.unix_ok))
		res.error = "client: " + std::to_string(res.tcp) + " of " +
			    std::to_string(rs.listeners) + " TCP replies" +
			    (res.udp ? "" : ", no UDP reply") + (res.unix_ok ? "" : ", no unix reply");
	unlink(rs.unix_path.c_str());
	unlink(rs.rv_path.c_str());
	if (!r.t_first_accept)
		return res;
	res.handoff_ms = (r.t_first_accept - r.t_start) / 1e6;
	res.reclaim_ms = (r.t_reclaimed - r.t_start) / 1e6;
	res.exec_ms = (r.t_main - r.t_start) / 1e6;
	return res;
}

// The median of @v; NaN if it is empty.
double median(std::vector<double> v)
{
	if (v.empty())
		return NAN;
	std::sort(v.begin(), v.end());
	std::size_t m = v.size() / 2;
	return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// @v milliseconds as JSON: 3 decimals, null for NaN.
std::string ms(double v)
{
	if (std::isnan(v))
		return "null";
	char buf[32];
	std::snprintf(buf, sizeof(buf), "%.3f", v);
	return buf;
}

std::string json_string(const std::string &s)
{
	std::string out = "\"";
	for (unsigned char ch : s) {
		if (ch == '"' || ch == '\\')
			out += '\\', out += ch;
		else if (ch < 0x20)
			out += ' ';
		else
			out += ch;
	}
	return out + "\"";
}

} // namespace

int main(int argc, char **argv)
{
	if (argc == 7 && !std::strcmp(argv[1], "--new-server"))
		return new_server_main(argv);
	std::setvbuf(stdout, nullptr, _IOLBF, 0);

	char mode[32];
	bool quick = cmdline_value("puds.eval", mode, sizeof(mode)) && !std::strcmp(mode, "quick");
	std::vector<int> counts = quick ? std::vector<int>{1, 16, 64}
					: std::vector<int>{1, 2, 4, 8, 16, 32, 64};
	int runs = quick ? 3 : 5;
	tap_plan(counts.size());
	tap_time_limit(quick ? 240 : 540);
	if (unshare(CLONE_NEWNET))
		tap_bail("unshare(CLONE_NEWNET): %s", std::strerror(errno));
	lo_up();
	signal(SIGPIPE, SIG_IGN);
	// The new server holds 64 listeners, their connections and the
	// client's ends besides: well under any default, checked anyway.
	rlimit rl{};
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 512)
		tap_bail("RLIMIT_NOFILE %ju: 512 needed", static_cast<uintmax_t>(rl.rlim_cur));
	// Under a loaded host the guest may not calibrate its TSC and keep
	// jiffies: every time below is then a multiple of a tick (4 ms).
	std::string cs =
		guest::read_file("/sys/devices/system/clocksource/clocksource0/current_clocksource");
	tap_diag("fds: clocksource %s", cs.empty() ? "unknown" : cs.substr(0, cs.find('\n')).c_str());
	char tmpl[] = "/tmp/handoff-fds.XXXXXX";
	std::string dir = mkdtemp(tmpl);

	long long t_begin = now_ms();
	int seq = 0;
	for (std::size_t k = 0; k < counts.size(); k++) {
		int n = counts[k];
		std::vector<double> handoff, reclaim, exec, after_exec;
		std::vector<RunResult> results;
		int tcp_min = n, sigkilled = 0;
		bool udp = true, ux = true, state = true;
		std::string error;
		for (int r = 0; r < runs; r++, seq++) {
			// Fresh ports and paths per run: a failed run's parked
			// queue (10 s) cannot disturb the next.
			RunSpec rs{n, 20000 + 100 * seq, dir + "/rv" + std::to_string(seq),
				   dir + "/unix" + std::to_string(seq)};
			bool sigkill = r % 2;	// exit, SIGKILL, exit, ...
			sigkilled += sigkill;
			RunResult res = one_run(rs, sigkill);
			if (res.handoff_ms >= 0) {
				handoff.push_back(res.handoff_ms);
				reclaim.push_back(res.reclaim_ms);
				exec.push_back(res.exec_ms);
				after_exec.push_back(res.handoff_ms - res.exec_ms);
			}
			tcp_min = std::min(tcp_min, res.tcp);
			udp &= res.udp;
			ux &= res.unix_ok;
			state &= res.state;
			if (!res.ok() && error.empty())
				error = "run " + std::to_string(r + 1) + (sigkill ? " (SIGKILL)" : " (exit)") +
					": " + res.error;
		}
		bool ok = error.empty();
		std::string samples;
		for (double v : handoff) {
			if (!samples.empty())
				samples += ',';
			samples += ms(v);
		}
		std::printf("# [%zu/%zu] fds: %d listeners + udp + unix + memfd, %d runs (%d SIGKILL): "
			    "handoff %s ms (exec %s, main() to first accept %s), reclaim %s ms%s\n",
			    k + 1, counts.size(), n, runs, sigkilled, ms(median(handoff)).c_str(),
			    ms(median(exec)).c_str(), ms(median(after_exec)).c_str(),
			    ms(median(reclaim)).c_str(), ok ? "" : ", FAILED");
		std::printf("PUDS-EVAL-FDS {\"listeners\":%d,\"fds\":%d,\"state_bytes\":%zu,\"runs\":%d,"
			    "\"handoff_ms\":%s,\"reclaim_ms\":%s,\"samples_ms\":[%s],"
			    "\"served\":{\"tcp\":%d,\"udp\":%s,\"unix\":%s,\"state\":%s},"
			    "\"ok\":%s,\"error\":%s}\n",
			    n, n + 3, kStateBytes, runs, ms(median(handoff)).c_str(),
			    ms(median(reclaim)).c_str(), samples.c_str(), tcp_min, udp ? "true" : "false",
			    ux ? "true" : "false", state ? "true" : "false", ok ? "true" : "false",
			    json_string(error).c_str());
		tap_result(ok, "%d TCP listeners + UDP + unix + memfd in one parcel, %d runs: %s",
			   n, runs, ok ? "all served" : error.c_str());
	}
	tap_diag("fds: %lld ms in all", now_ms() - t_begin);
	rmdir(dir.c_str());
	return tap_finish();
}
