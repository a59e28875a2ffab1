// SPDX-License-Identifier: LGPL-2.1-or-later
// The `puds` command: crash-safe listeners for servers that cannot be
// changed.  `puds run` reclaims or creates the listeners, parks them at the
// rendezvous, and execs the server in its own place (same pid) with systemd
// socket-activation variables; the server keeps its listeners, and the
// connections waiting on them, across a restart or a crash.
#include "puds_main.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "puds_cli.hpp"

#include "puds/diag.hpp"
#include "puds/handoff.hpp"
#include "puds/kernel.hpp"
#include "puds/listener.hpp"

namespace puds {

namespace {

const char kUsage[] =
	"usage: puds run --park PATH --listen NAME=ADDR [--listen ...] [--delay MS]\n"
	"                [--nginx] -- SERVER [ARGS...]\n"
	"       puds status [--json]\n"
	"       puds check\n"
	"       puds --help | --version\n";

const char kIntro[] =
	"puds: keep a server's listening sockets, and the connections waiting on\n"
	"them, across a restart or a crash, with no process holding them between.\n"
	"\n";

const char kRunHelp[] =
	"puds run --park PATH --listen NAME=ADDR ... [--delay MS] [--nginx] -- SERVER ARGS\n"
	"  Takes the listeners NAME=ADDR (ADDR: HOST:PORT or [V6]:PORT for TCP,\n"
	"  udp:HOST:PORT, unix:/path; each NAME once) that the previous server\n"
	"  left parked at PATH, or binds them afresh; parks them again; and execs\n"
	"  SERVER (a path, or a name looked up in $PATH) in its place (same pid)\n"
	"  with the listeners as fds 3, 4, ... and LISTEN_FDS, LISTEN_FDNAMES and\n"
	"  LISTEN_PID set as sd_listen_fds(3) expects.  When the server exits or\n"
	"  crashes, the kernel keeps the listeners for MS milliseconds (1 to\n"
	"  3600000, default 10000, at most net.unix.delay_close_max_ms): clients\n"
	"  keep connecting, and the next `puds run` with the same PATH hands the\n"
	"  waiting connections to the new server.  Restarting is the job of\n"
	"  systemd, Docker or a shell loop: puds does not supervise.\n"
	"  The directory of PATH must be mode 0700: sending to a socket needs only\n"
	"  search permission on its directory, so whoever has it can reach the\n"
	"  rendezvous.  puds warns otherwise and says what to run (chmod 0700 DIR;\n"
	"  `install -d -m 0700 /run/srv` makes one).\n"
	"  --nginx also sets NGINX=\"3;4;...;\" (nginx inherits listeners that way;\n"
	"  run it with -g 'daemon off;').  HAProxy: `bind fd@3`, run with -W -db\n"
	"  (master and worker both keep fd 3 and the rendezvous).\n"
	"  Started by systemd socket activation, puds takes every fd it was given\n"
	"  (LISTEN_FDS, LISTEN_FDNAMES; \"unknown\" for an fd without a name) and\n"
	"  uses it for the --listen of its name, else for the --listen of its\n"
	"  address, wherever nothing was parked; it says which fds matched none.\n"
	"  The server must keep fd PUDS_RENDEZVOUS_FD open (it is the parked\n"
	"  queue's owner while the server runs); a server that closes every fd it\n"
	"  does not know at start-up loses the handoff: puds says so on the next\n"
	"  start.\n";

const char kMoreHelp[] =
	"\n"
	"puds status [--json]\n"
	"  Lists, from the kernel (sock_diag), the sockets of this network\n"
	"  namespace that will park their queue (armed: a server running under\n"
	"  puds; \"(unbound)\": armed, not bound yet) and the queues parked now:\n"
	"  path, time left, datagrams, fds, uid, inode.  Under a parked queue, its\n"
	"  TCP listeners with the connections waiting in their accept queue and\n"
	"  the backlog; a WARNING line when 80% of a backlog or more waits.  The\n"
	"  kernel does not say which sockets a queue holds: the listeners shown\n"
	"  are those no process has open (inet_diag, /proc/PID/fd), given to the\n"
	"  queue when only one queue is parked with fds (else listed apart).\n"
	"  --json prints the same as one JSON object (userlib/README.md), with\n"
	"  age_ms (delay_ms - remaining_ms) and how the listeners were matched.\n"
	"\n"
	"puds check\n"
	"  Says whether this kernel can park fds (UNIX_DELAY_CLOSE).\n"
	"\n"
	"puds --version\n"
	"  Prints puds's version.\n";

const char kExitHelp[] =
	"\n"
	"Exit status: 0 (status, check, --help, --version); 2 for a usage error\n"
	"(an option, a variable of socket activation, the park directory or the\n"
	"server is wrong: checked before anything is bound, and before the kernel\n"
	"is asked for its feature); 1 if the rest fails.  `puds run` execs the\n"
	"server, whose exit status is its own.\n";

// A failure of the work itself.
int fail(const std::string &msg, const char *hint = nullptr)
{
	std::fprintf(stderr, "puds: %s\n", msg.c_str());
	if (hint)
		std::fprintf(stderr, "puds: %s\n", hint);
	return 1;
}

// A mistake in what puds was asked to do: @msg says what is wrong and what
// to do instead.
int usage_error(const std::string &msg, const char *help = "puds --help")
{
	std::fprintf(stderr, "puds: %s\n(%s explains every option)\n", msg.c_str(), help);
	return 2;
}

int run_usage_error(const std::string &msg)
{
	return usage_error(msg, "puds run --help");
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

std::string quoted(std::string_view s)
{
	// Appended, not "\"" + std::string(s) + "\"": GCC 12's -Wrestrict
	// takes that for an overlapping memcpy at -O2 (GCC bug 105651).
	std::string q;
	q.reserve(s.size() + 2);
	q += '"';
	q += s;
	q += '"';
	return q;
}

} // namespace

namespace cli {

Result<long long> parse_integer(std::string_view what, std::string_view text, long long min,
				long long max)
{
	std::string range = "give a decimal integer from " + std::to_string(min) + " to " +
			    std::to_string(max);
	long long v = 0;
	auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);

	if (text.empty())
		return Error::invalid(std::string(what) + " is empty: " + range);
	if (ec == std::errc::result_out_of_range ||
	    (ec == std::errc() && end == text.data() + text.size() && (v < min || v > max)))
		return Error(std::errc::result_out_of_range,
			     std::string(what) + " " + quoted(text) + " is out of range: " +
			     range);
	if (ec != std::errc() || end != text.data() + text.size())
		return Error::invalid(std::string(what) + " " + quoted(text) +
				      " is not a decimal integer: " + range);
	return v;
}

Result<int> parse_delay(std::string_view text)
{
	auto v = parse_integer("--delay", text, 1, kMaxDelayMs);
	if (!v)
		return Error{v.error().code, v.error().message + " (milliseconds, e.g. --delay " +
				 std::to_string(kDefaultDelayMs) + ")"};
	return static_cast<int>(*v);
}

Result<int> listen_fds_count(const char *listen_pid, const char *listen_fds, pid_t self)
{
	const char *fix = " (socket activation: the service manager sets it; fix the "
			  "unit's Environment= or whatever starts puds)";

	if (!listen_pid)
		return 0;
	auto pid = parse_integer("LISTEN_PID", listen_pid, 1, std::numeric_limits<pid_t>::max());
	if (!pid)
		return Error{pid.error().code, pid.error().message + fix};
	if (*pid != self || !listen_fds)
		return 0;
	auto n = parse_integer("LISTEN_FDS", listen_fds, 1, INT_MAX - kListenFdsStart);
	if (!n)
		return Error{n.error().code, n.error().message + fix};
	return static_cast<int>(*n);
}

Result<std::vector<std::string>> listen_fds_names(const char *listen_fdnames, int count)
{
	std::vector<std::string> names;
	if (listen_fdnames) {
		std::string_view s = listen_fdnames;
		for (;;) {
			auto colon = s.find(':');
			names.emplace_back(s.substr(0, colon));
			if (colon == s.npos)
				break;
			s.remove_prefix(colon + 1);
		}
	}
	if (names.size() > static_cast<std::size_t>(count))
		return Error::invalid("LISTEN_FDNAMES " + quoted(listen_fdnames) + " has " +
				      std::to_string(names.size()) + " names for LISTEN_FDS=" +
				      std::to_string(count) + " fds: the service manager's "
				      "variables disagree; fix what sets them");
	names.resize(count);
	for (auto &n : names)
		if (n.empty())
			n = "unknown";
	return names;
}

Result<std::vector<NamedFd>> take_listen_fds(int first)
{
	const char *pid = std::getenv("LISTEN_PID"), *n = std::getenv("LISTEN_FDS");
	const char *names_env = std::getenv("LISTEN_FDNAMES");
	auto count = listen_fds_count(pid, n, getpid());
	Result<std::vector<std::string>> names = std::vector<std::string>{};
	if (count && *count > 0)
		names = listen_fds_names(names_env, *count);
	// Unset whatever they say: the server must not take them for its own.
	::unsetenv("LISTEN_PID");
	::unsetenv("LISTEN_FDS");
	::unsetenv("LISTEN_FDNAMES");
	int nfds = PUDS_TRY(std::move(count));
	std::vector<std::string> fd_names = PUDS_TRY(std::move(names));

	for (int i = 0; i < nfds; i++)
		if (::fcntl(first + i, F_GETFD) < 0)
			return Error::from_errno("fcntl(fd " + std::to_string(first + i) +
						 ", F_GETFD): LISTEN_FDS=" + std::to_string(nfds) +
						 " passes fds " + std::to_string(first) + " to " +
						 std::to_string(first + nfds - 1) + ", but fd " +
						 std::to_string(first + i) + " is not open");
	std::vector<NamedFd> out;
	for (int i = 0; i < nfds; i++) {
		Fd fd = Fd::adopt(::fcntl(first + i, F_DUPFD_CLOEXEC, 100));
		if (!fd)
			return Error::from_errno("fcntl(fd " + std::to_string(first + i) +
						 ", F_DUPFD_CLOEXEC)");
		out.push_back({std::move(fd_names[i]), std::move(fd)});
	}
	for (int i = 0; i < nfds; i++)
		::close(first + i);
	return out;
}

Result<std::vector<Fd>> match_listen_fds(std::vector<NamedFd> &given,
					 const std::vector<Listen> &listens)
{
	std::vector<Fd> out(listens.size());
	std::vector<std::string> mismatch(listens.size());

	// By name: a socket unit names all its fds after itself, so of the
	// fds with the --listen's name, the one bound to its address.
	for (std::size_t k = 0; k < listens.size(); k++)
		for (auto &g : given) {
			if (!g.fd || g.name != listens[k].name)
				continue;
			auto st = check_listener(g.fd.get(), listens[k].addr);
			if (st) {
				out[k] = std::move(g.fd);
				break;
			}
			if (mismatch[k].empty())
				mismatch[k] = st.error().message;
		}
	// Then by address, among the fds left.
	for (std::size_t k = 0; k < listens.size(); k++)
		for (auto &g : given) {
			if (out[k] || !g.fd)
				continue;
			if (check_listener(g.fd.get(), listens[k].addr))
				out[k] = std::move(g.fd);
		}
	for (std::size_t k = 0; k < listens.size(); k++)
		if (!out[k] && !mismatch[k].empty())
			return Error::invalid(
				"systemd passed an fd named " + quoted(listens[k].name) +
				" for --listen " + listens[k].name + "=" + listens[k].addr.str() +
				", but " + mismatch[k] + ": make the socket unit's Listen...= "
				"and the --listen address the same");
	std::erase_if(given, [](const NamedFd &g) { return !g.fd; });
	return out;
}

Result<std::string> check_park_dir(const std::string &park)
{
	auto slash = park.rfind('/');
	std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : park.substr(0, slash);
	struct stat st {};

	if (::stat(dir.c_str(), &st)) {
		if (errno == ENOENT)
			return Error(std::errc::no_such_file_or_directory,
				     "the park directory " + dir + " of --park " + park +
				     " does not exist: create it, e.g. install -d -m 0700 " +
				     dir);
		return Error::from_errno("stat(" + dir + ")");
	}
	if (!S_ISDIR(st.st_mode))
		return Error(std::errc::not_a_directory,
			     dir + " in --park " + park + " is not a directory: park in a "
			     "directory of its own, e.g. install -d -m 0700 /run/srv");
	if (!(st.st_mode & 077))
		return std::string();

	char mode[8];
	std::snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
	std::string w = "warning: the park directory " + dir + " is mode " + mode +
			": other users can reach the rendezvous " + park +
			" (sending to a socket needs only search permission on its directory); ";
	if (st.st_mode & S_ISVTX)	// shared, like /tmp: not ours to close
		return w + "park in a directory of its own: install -d -m 0700 " +
		       (dir == "/" ? "" : dir) + "/puds";
	return w + "run: chmod 0700 " + dir;
}

Result<RunOptions> parse_run_options(int argc, char **argv)
{
	RunOptions o;
	int i;

	for (i = 2; i < argc; i++) {
		std::string_view a = argv[i];
		if (a == "--") {
			i++;
			break;
		}
		if (a == "--help" || a == "-h") {
			o.help = true;
			return o;
		}
		if (a == "--nginx") {
			o.nginx = true;
			continue;
		}
		const char *example = a == "--park" ? "the rendezvous socket's path, e.g. --park "
						      "/run/srv/handoff"
				    : a == "--listen" ? "NAME=ADDR, e.g. --listen http=0.0.0.0:80"
				    : a == "--delay" ? "milliseconds, e.g. --delay 10000"
				    : nullptr;
		if (!example) {
			if (a.starts_with("-"))
				return Error::invalid("unknown option " + std::string(a) +
						      ": puds run takes --park, --listen, --delay, "
						      "--nginx and --help, then -- SERVER ARGS");
			return Error::invalid("the server " + quoted(a) + " must come after "
					      "\"--\": puds run --park PATH --listen NAME=ADDR "
					      "-- " + std::string(a) + " ARGS...");
		}
		if (i + 1 >= argc || std::string_view(argv[i + 1]).starts_with("--"))
			return Error::invalid(std::string(a) + " needs a value: " + example);
		std::string v = argv[++i];
		if (a == "--park") {
			o.park = v;
		} else if (a == "--delay") {
			o.delay_ms = PUDS_TRY(parse_delay(v));
		} else {
			auto eq = v.find('=');
			if (eq == std::string::npos)
				return Error::invalid("--listen " + v + ": not NAME=ADDR; " + example);
			std::string name = v.substr(0, eq);
			if (auto st = check_name(name); !st)
				return Error::invalid("--listen " + v + ": " + st.error().message +
						      ": choose another NAME");
			auto addr = parse_address(v.substr(eq + 1));
			if (!addr)
				return Error::invalid("--listen " + v + ": " + addr.error().message);
			if (std::any_of(o.listens.begin(), o.listens.end(),
					[&](const Listen &l) { return l.name == name; }))
				return Error::invalid("--listen " + name + " given twice: each "
						      "listener needs a NAME of its own");
			o.listens.push_back({name, *std::move(addr)});
		}
	}
	std::vector<std::string> missing;
	if (o.park.empty())
		missing.push_back("--park PATH");
	if (o.listens.empty())
		missing.push_back("--listen NAME=ADDR");
	if (i >= argc)
		missing.push_back("-- SERVER");
	if (!missing.empty()) {
		std::string m = missing[0];
		for (std::size_t k = 1; k < missing.size(); k++)
			m += (k + 1 == missing.size() ? " and " : ", ") + missing[k];
		return Error::invalid("missing " + m + ": e.g. puds run --park /run/srv/handoff "
				      "--listen http=0.0.0.0:80 -- /usr/sbin/server ARGS");
	}
	if (o.park.size() >= sizeof(sockaddr_un::sun_path))
		return Error::invalid("--park " + o.park + ": at most " +
				      std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
				      " bytes (a unix socket's path); choose a shorter one");
	o.server_argv.assign(argv + i, argv + argc);
	return o;
}

Result<SystemdFds> take_systemd_fds(const std::vector<Listen> &listens, int first)
{
	std::vector<NamedFd> given = PUDS_TRY(take_listen_fds(first));
	SystemdFds out;
	out.for_listen = PUDS_TRY(match_listen_fds(given, listens));
	for (const auto &left : given)
		out.unmatched.push_back(left.name);
	return out;
}

Result<int> renumber_for_exec(std::vector<Fd> listeners, int rendezvous, int first)
{
	// Out of the way first: fds first.. may be any of them.
	std::vector<Fd> high;
	for (auto &fd : listeners) {
		Fd h = Fd::adopt(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 100));
		if (!h)
			return Error::from_errno("fcntl(fd " + std::to_string(fd.get()) +
						 ", F_DUPFD_CLOEXEC, 100)");
		high.push_back(std::move(h));
	}
	listeners.clear();
	int n = static_cast<int>(high.size());
	// Above the listeners, with room for fds the server opens first.
	int r = ::fcntl(rendezvous, F_DUPFD, first + n + 64);
	if (r < 0)
		return Error::from_errno("fcntl(rendezvous fd " + std::to_string(rendezvous) +
					 ", F_DUPFD)");
	for (int k = 0; k < n; k++)
		if (::dup2(high[k].get(), first + k) < 0)
			return Error::from_errno("dup2(fd " + std::to_string(high[k].get()) + ", " +
						 std::to_string(first + k) + ")");
	return r;
}

Result<std::string> find_program(const std::string &name, const char *path)
{
	auto usable = [](const std::string &file) -> Status {
		struct stat st {};
		if (::stat(file.c_str(), &st))
			return Error::from_errno("stat(" + file + ")");
		if (!S_ISREG(st.st_mode))
			return Error(std::errc::permission_denied, file + " is not a regular file");
		if (::access(file.c_str(), X_OK))
			return Error::from_errno("access(" + file + ", X_OK)");
		return Ok{};
	};

	if (name.empty())
		return Error::invalid("the server after \"--\" is empty: give its path or its name "
				      "in PATH");
	if (name.find('/') != std::string::npos) {
		if (auto st = usable(name); !st)
			return Error{st.error().code, "server " + name + ": " + st.error().message +
				     ": give the path of an executable file"};
		return name;
	}
	std::string dirs = path ? path : "/bin:/usr/bin";
	std::string_view rest = dirs;
	for (;;) {
		auto colon = rest.find(':');
		std::string dir(rest.substr(0, colon));
		std::string file = (dir.empty() ? "." : dir) + "/" + name;
		if (usable(file))
			return file;
		if (colon == rest.npos)
			break;
		rest.remove_prefix(colon + 1);
	}
	return Error(std::errc::no_such_file_or_directory,
		     "server " + quoted(name) + " is not an executable file in PATH=" +
		     dirs + ": give its full path, or add its directory to PATH");
}

} // namespace cli

namespace {

using cli::Listen;

// Parked first: its queue holds the connections that waited; systemd's
// fd serves where nothing was; else a fresh listener.  What is handed to
// the server, in --listen order, and the parcel to park (copies).
struct Listeners {
	std::vector<Fd> fds;
	Parcel next;
};

Result<Listeners> take_listeners(const cli::RunOptions &o, Parcel &parked,
				 std::vector<Fd> &from_systemd)
{
	Listeners out;
	for (std::size_t k = 0; k < o.listens.size(); k++) {
		const auto &l = o.listens[k];
		if (Fd &given = from_systemd[k];
		    given && std::none_of(parked.fds.begin(), parked.fds.end(),
					  [&](const NamedFd &nf) { return nf.name == l.name; }))
			parked.fds.push_back({l.name, std::move(given)});
		Fd fd = PUDS_TRY(take_listener(parked, l.name, l.addr));
		out.next.fds.push_back({l.name, PUDS_TRY(fd.dup())});
		out.fds.push_back(std::move(fd));
	}
	return out;
}

int cmd_run(int argc, char **argv)
{
	// Every argument is checked before anything is bound, and before the
	// kernel is asked for its feature (which would hide the rest).
	auto opts = cli::parse_run_options(argc, argv);
	if (!opts)
		return run_usage_error(opts.error().message);
	if (opts->help) {
		std::fputs(kRunHelp, stdout);
		std::fputs(kExitHelp, stdout);
		return 0;
	}
	const cli::RunOptions &o = *opts;
	const std::string &park = o.park;
	int delay = o.delay_ms;
	auto server = cli::find_program(o.server_argv[0], std::getenv("PATH"));
	if (!server)
		return run_usage_error(server.error().message);
	auto sd = cli::take_systemd_fds(o.listens);
	if (!sd)
		return run_usage_error(sd.error().message);
	for (const auto &name : sd->unmatched)
		std::fprintf(stderr, "puds: closing the fd systemd passed as \"%s\": no --listen "
			     "has its name or its address\n", name.c_str());
	auto dir = cli::check_park_dir(park);
	if (!dir)
		return run_usage_error(dir.error().message);
	if (!dir->empty())
		std::fprintf(stderr, "puds: %s\n", dir->c_str());

	// The delay the kernel takes, decided before anything is adopted: a
	// setsockopt() that fails must fail on a socket that holds nothing.
	// (Unreadable: a kernel without the feature, which open() reports.)
	if (auto max = delay_close_max_ms()) {
		auto chosen = choose_delay(delay, *max);
		if (!chosen)
			return fail(chosen.error().message);
		if (!chosen->warning.empty())
			std::fprintf(stderr, "puds: %s\n", chosen->warning.c_str());
		delay = chosen->delay_ms;
	}

	// From the moment open() adopts, every failure below exits with the
	// rendezvous armed: closing it parks the queue again, listeners and
	// waiting connections included, for the next `puds run`.  Nothing
	// here disarms it (set_delay(0)) or unlinks its path.
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

	auto listeners = take_listeners(o, *parcel, sd->for_listen);
	if (!listeners)
		return fail(listeners.error().message);
	sd->for_listen.clear();
	for (const auto &left : parcel->fds)
		std::fprintf(stderr, "puds: dropping parked fd \"%s\": no --listen asks for it\n",
			     left.name.c_str());
	if (auto st = rv->park(listeners->next); !st)
		return fail(st.error().message, hint_for(st.error()));

	// fds 3.. for the server, in --listen order; the rendezvous stays open
	// in the server: while it runs, the queue is its; when it dies, the
	// kernel parks the queue.
	std::size_t n = listeners->fds.size();
	auto rfd = cli::renumber_for_exec(std::move(listeners->fds), rv->fd());
	if (!rfd)
		return fail("handing the listeners to the server: " + rfd.error().message);
	std::string names, nginx_env;
	for (std::size_t k = 0; k < n; k++) {
		names += (k ? ":" : "") + o.listens[k].name;
		nginx_env += std::to_string(cli::kListenFdsStart + k) + ";";
	}
	::setenv("LISTEN_FDS", std::to_string(n).c_str(), 1);
	::setenv("LISTEN_FDNAMES", names.c_str(), 1);
	::setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
	::setenv("PUDS_RENDEZVOUS_FD", std::to_string(*rfd).c_str(), 1);
	if (o.nginx)
		::setenv("NGINX", nginx_env.c_str(), 1);

	std::vector<char *> args;
	for (const auto &a : o.server_argv)
		args.push_back(const_cast<char *>(a.c_str()));
	args.push_back(nullptr);
	::execv(server->c_str(), args.data());
	int err = errno;
	// Exiting closes the rendezvous armed: the kernel parks the listeners
	// (and the connections waiting on them) again.
	return fail("execv(" + *server + "): " + std::strerror(err) + ": the listeners stay "
		    "parked at " + park + " for " + std::to_string(delay) + " ms",
		    "fix the server and run puds again: the connections waiting now are "
		    "handed to it");
}

// puds status [--json]: usage errors first, then the kernel.
int cmd_status(int argc, char **argv)
{
	bool json = false;
	for (int i = 2; i < argc; i++) {
		std::string_view a = argv[i];
		if (a == "--help" || a == "-h") {
			std::fputs(kMoreHelp, stdout);
			return 0;
		}
		if (a == "--json") {
			if (json)
				return usage_error("--json given twice to puds status: give it once");
			json = true;
		} else if (a.starts_with("--json=")) {
			return usage_error("--json takes no value (" + quoted(a) +
					   " given): give --json alone");
		} else if (a.starts_with("-") && a != "-") {
			return usage_error("unknown option " + quoted(a) +
					   " for puds status: its only option is --json");
		} else {
			return usage_error("puds status takes no arguments (" + quoted(a) +
					   " given): run puds status, or puds status --json");
		}
	}
	auto list = list_delay_close();
	if (!list)
		return fail(list.error().message, hint_for(list.error()));
	// The listeners are extra: without them the queues are still worth seeing.
	auto listeners = list_tcp_listeners();
	if (!listeners)
		std::fprintf(stderr, "puds: the TCP listeners are not shown: %s\n",
			     listeners.error().message.c_str());
	auto report = StatusReport::make(std::move(*list),
					 listeners ? *listeners : std::vector<TcpListener>{},
					 scan_socket_owners());
	std::fputs((json ? status_json(report) : status_text(report)).c_str(), stdout);
	return 0;
}

} // namespace

int puds_main(int argc, char **argv)
{
	if (argc < 2) {
		std::fputs(kUsage, stderr);
		return usage_error("no command: give one of run, status, check");
	}
	std::string_view cmd = argv[1];
	if (cmd == "--help" || cmd == "-h" || cmd == "help") {
		std::fputs(kIntro, stdout);
		std::fputs(kRunHelp, stdout);
		std::fputs(kMoreHelp, stdout);
		std::fputs(kExitHelp, stdout);
		return 0;
	}
	if (cmd == "--version") {
		std::puts("puds " PUDS_VERSION);
		return 0;
	}
	if (cmd == "status")
		return cmd_status(argc, argv);
	if (cmd == "check" && argc > 2) {
		std::string_view a = argv[2];
		if (a == "--help" || a == "-h") {
			std::fputs(kMoreHelp, stdout);
			return 0;
		}
		return usage_error("puds " + std::string(cmd) + " takes no arguments (" +
				   quoted(a) + " given): run puds " + std::string(cmd) + " alone");
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
	return usage_error((cmd.starts_with("-") ? "unknown option " : "unknown command ") +
			   quoted(cmd) + ": the commands are run, status and check");
}

} // namespace puds
