// SPDX-License-Identifier: LGPL-2.1-or-later
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "puds_cli.hpp"
#include "puds_main.hpp"

using namespace puds;

namespace {

struct Ran {
	int rc;
	std::string out, err;
};

std::string drain(int fd)
{
	std::string s;
	char buf[4096];
	ssize_t n;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		s.append(buf, n);
	close(fd);
	return s;
}

// Run the puds command line in this process; its status, stdout and stderr.
Ran run_puds(std::vector<std::string> args)
{
	args.insert(args.begin(), "puds");
	std::vector<char *> argv;
	for (auto &a : args)
		argv.push_back(a.data());
	argv.push_back(nullptr);

	int out[2], err[2];
	REQUIRE(pipe2(out, O_CLOEXEC) == 0);
	REQUIRE(pipe2(err, O_CLOEXEC) == 0);
	std::fflush(stdout);
	std::fflush(stderr);
	int saved_out = dup(1), saved_err = dup(2);
	dup2(out[1], 1);
	dup2(err[1], 2);
	close(out[1]);
	close(err[1]);
	int rc = puds::puds_main(static_cast<int>(args.size()), argv.data());
	std::fflush(stdout);
	std::fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	return {rc, drain(out[0]), drain(err[0])};
}

// The socket-activation variables for the life of one test; "self" is
// this process's pid, nullptr unset.
struct ListenEnv {
	ListenEnv(const char *pid, const char *fds, const char *names)
	{
		set("LISTEN_PID", pid && std::string(pid) == "self"
				? std::to_string(getpid()).c_str() : pid);
		set("LISTEN_FDS", fds);
		set("LISTEN_FDNAMES", names);
	}
	~ListenEnv()
	{
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
	}
	static void set(const char *k, const char *v)
	{
		if (v)
			setenv(k, v, 1);
		else
			unsetenv(k);
	}
};

// A private directory, removed with what is in it.
struct TempDir {
	std::string path;
	TempDir()
	{
		char tmpl[] = "/tmp/puds-cli-XXXXXX";
		REQUIRE(mkdtemp(tmpl));
		path = tmpl;
	}
	~TempDir()
	{
		chmod(path.c_str(), 0700);
		std::string cmd = "rm -rf '" + path + "'";
		CHECK(std::system(cmd.c_str()) == 0);
	}
};

// A unix stream listener bound at @path.
Fd unix_listener(const std::string &path)
{
	auto a = parse_address("unix:" + path);
	REQUIRE(a);
	auto fd = bind_listener(*a);
	REQUIRE(fd);
	return std::move(fd).value();
}

cli::Listen want(const std::string &name, const std::string &addr)
{
	auto a = parse_address(addr);
	REQUIRE(a);
	return {name, std::move(a).value()};
}

} // namespace

TEST_CASE("puds: every usage error exits 2 and says what to do")
{
	const std::string park = "/tmp/puds-cli-test/rv", l = "a=127.0.0.1:1";
	const std::string long_park = "/tmp/" + std::string(120, 'p');
	struct Case {
		std::vector<std::string> args;
		const char *says;
		const char *pid = nullptr, *fds = nullptr, *names = nullptr;	// LISTEN_*
	};
	const std::vector<Case> cases = {
		// The command.
		{{}, "no command: give one of run, status, check"},
		{{"bogus"}, "unknown command \"bogus\": the commands are run, status and check"},
		{{"--bogus"}, "unknown option \"--bogus\""},
		{{"status", "now"}, "puds status takes no arguments (\"now\" given): run puds status, "
				    "or puds status --json"},
		{{"status", "--json", "now"}, "puds status takes no arguments (\"now\" given)"},
		{{"status", "--jsn"}, "unknown option \"--jsn\" for puds status: its only option is --json"},
		{{"status", "-j"}, "unknown option \"-j\" for puds status"},
		{{"status", "--json", "--json"}, "--json given twice to puds status: give it once"},
		{{"status", "--json=yes"}, "--json takes no value (\"--json=yes\" given): give --json alone"},
		{{"status", ""}, "puds status takes no arguments (\"\" given)"},
		{{"check", "-v"}, "puds check takes no arguments"},
		// What run needs.
		{{"run"}, "missing --park PATH, --listen NAME=ADDR and -- SERVER: e.g. puds run"},
		{{"run", "--park", park, "--", "true"}, "missing --listen NAME=ADDR: e.g."},
		{{"run", "--listen", l, "--", "true"}, "missing --park PATH: e.g."},
		{{"run", "--park", park, "--listen", l}, "missing -- SERVER: e.g."},
		{{"run", "--park", park, "--listen", l, "--"}, "missing -- SERVER"},
		{{"run", "--park", park, "--listen", l, "/bin/true"},
		 "the server \"/bin/true\" must come after \"--\": puds run --park PATH"},
		{{"run", "--park", park, "--listen", l, "true", "--", "x"},
		 "the server \"true\" must come after \"--\""},
		{{"run", "--park", park, "--frobnicate", "1"},
		 "unknown option --frobnicate: puds run takes --park"},
		{{"run", "-x"}, "unknown option -x"},
		// Options without their value.
		{{"run", "--park"}, "--park needs a value: the rendezvous socket's path, e.g."},
		{{"run", "--park", "--listen", l}, "--park needs a value"},
		{{"run", "--listen"}, "--listen needs a value: NAME=ADDR, e.g. --listen http="},
		{{"run", "--park", park, "--delay"}, "--delay needs a value: milliseconds, e.g."},
		{{"run", "--delay", "--park", park}, "--delay needs a value"},
		// --listen.
		{{"run", "--park", park, "--listen", "http"}, "--listen http: not NAME=ADDR; NAME=ADDR, e.g."},
		{{"run", "--park", park, "--listen", "http=example.com:80", "--", "true"},
		 "not resolved"},
		{{"run", "--park", park, "--listen", "http=127.0.0.1", "--", "true"}, "no :PORT"},
		{{"run", "--park", park, "--listen", "a:b=127.0.0.1:1", "--", "true"},
		 "without ':' only: choose another NAME"},
		{{"run", "--park", park, "--listen", "=127.0.0.1:1", "--", "true"},
		 "1 to 255 characters: choose another NAME"},
		{{"run", "--park", park, "--listen", l, "--listen", "a=127.0.0.1:2", "--", "true"},
		 "--listen a given twice: each listener needs a NAME of its own"},
		// --delay: positive milliseconds in range, every byte a digit.
		{{"run", "--delay", "foo"}, "--delay \"foo\" is not a decimal integer: give a decimal "
		 "integer from 1 to 3600000 (milliseconds, e.g. --delay 10000)"},
		{{"run", "--delay", "10x"}, "--delay \"10x\" is not a decimal integer"},
		{{"run", "--delay", " 10"}, "--delay \" 10\" is not a decimal integer"},
		{{"run", "--delay", "+10"}, "--delay \"+10\" is not a decimal integer"},
		{{"run", "--delay", "0x10"}, "--delay \"0x10\" is not a decimal integer"},
		{{"run", "--delay", "1.5"}, "--delay \"1.5\" is not a decimal integer"},
		{{"run", "--delay", ""}, "--delay is empty: give a decimal integer from 1 to 3600000"},
		{{"run", "--delay", "-1"}, "--delay \"-1\" is out of range: give a decimal integer "
		 "from 1 to 3600000"},
		{{"run", "--delay", "0"}, "--delay \"0\" is out of range"},
		{{"run", "--delay", "3600001"}, "--delay \"3600001\" is out of range"},
		{{"run", "--delay", "4294967297"}, "--delay \"4294967297\" is out of range"},
		{{"run", "--delay", "99999999999999999999999"}, "is out of range"},
		// --park.
		{{"run", "--park", long_park, "--listen", l, "--", "true"},
		 "at most 107 bytes (a unix socket's path); choose a shorter one"},
		{{"run", "--park", "/nonexistent-puds-dir/rv", "--listen", l, "--", "true"},
		 "the park directory /nonexistent-puds-dir of --park /nonexistent-puds-dir/rv does "
		 "not exist: create it, e.g. install -d -m 0700 /nonexistent-puds-dir"},
		{{"run", "--park", "/etc/passwd/rv", "--listen", l, "--", "true"},
		 "/etc/passwd in --park /etc/passwd/rv is not a directory: park in a directory of its own"},
		// The server, looked up before the kernel is asked or anything bound.
		{{"run", "--park", park, "--listen", l, "--", "/nonexistent/server"},
		 "server /nonexistent/server: stat(/nonexistent/server): No such file or directory: "
		 "give the path of an executable file"},
		{{"run", "--park", park, "--listen", l, "--", "/etc/passwd"},
		 "server /etc/passwd: access(/etc/passwd, X_OK): Permission denied"},
		{{"run", "--park", park, "--listen", l, "--", "/"},
		 "server /: / is not a regular file"},
		{{"run", "--park", park, "--listen", l, "--", "puds-no-such-server"},
		 "server \"puds-no-such-server\" is not an executable file in PATH="},
		{{"run", "--park", park, "--listen", l, "--", ""}, "the server after \"--\" is empty"},
		// systemd's variables, malformed: not taken for 0.
		{{"run", "--park", park, "--listen", l, "--", "true"},
		 "LISTEN_PID \"abc\" is not a decimal integer: give a decimal integer from 1 to",
		 "abc", "1"},
		{{"run", "--park", park, "--listen", l, "--", "true"},
		 "LISTEN_PID is empty", "", "1"},
		{{"run", "--park", park, "--listen", l, "--", "true"},
		 "LISTEN_PID \"0\" is out of range", "0", "1"},
		{{"run", "--park", park, "--listen", l, "--", "true"},
		 "LISTEN_FDS \"1x\" is not a decimal integer", "self", "1x"},
		{{"run", "--park", park, "--listen", l, "--", "true"},
		 "LISTEN_FDS \"0\" is out of range: give a decimal integer from 1 to", "self", "0"},
		{{"run", "--park", park, "--listen", l, "--", "true"},
		 "LISTEN_FDS \"-2\" is out of range", "self", "-2"},
		{{"run", "--park", park, "--listen", l, "--", "true"},
		 "LISTEN_FDS \"99999999999999999999\" is out of range", "self",
		 "99999999999999999999"},
		{{"run", "--park", park, "--listen", l, "--", "true"},
		 "LISTEN_FDNAMES \"a:b\" has 2 names for LISTEN_FDS=1 fds", "self", "1", "a:b"},
	};
	for (const auto &c : cases) {
		std::string line;
		for (const auto &a : c.args)
			line += "'" + a + "' ";
		INFO("puds " << line << " LISTEN_PID=" << (c.pid ? c.pid : "(unset)")
			     << " LISTEN_FDS=" << (c.fds ? c.fds : "(unset)"));
		ListenEnv env(c.pid, c.fds, c.names);
		auto r = run_puds(c.args);
		INFO("stderr: " << r.err);
		CHECK(r.rc == 2);
		CHECK(r.err.find(c.says) != std::string::npos);
		// ... and says where to read more.
		CHECK(r.err.find("--help explains every option") != std::string::npos);
		CHECK(r.out.empty());
		CHECK(!getenv("LISTEN_PID"));
	}
}

TEST_CASE("puds: --help and run --help print help and --version the version")
{
	auto help = run_puds({"--help"});
	CHECK(help.rc == 0);
	CHECK(help.err.empty());
	CHECK(help.out.find("puds run --park PATH") != std::string::npos);
	CHECK(help.out.find("puds status [--json]") != std::string::npos);
	CHECK(help.out.find("must be mode 0700") != std::string::npos);
	CHECK(help.out.find("chmod 0700 DIR") != std::string::npos);
	CHECK(help.out.find("Exit status") != std::string::npos);

	for (const char *h : {"--help", "-h"}) {
		auto run = run_puds({"run", "--park", "/x", h});
		CHECK(run.rc == 0);
		CHECK(run.err.empty());
		CHECK(run.out.find("puds run --park PATH --listen NAME=ADDR") == 0);
		CHECK(run.out.find("1 to\n  3600000") != std::string::npos);
		CHECK(run.out.find("Exit status") != std::string::npos);
		CHECK(run.out.find("puds check\n") == std::string::npos);
	}
	auto status = run_puds({"status", "--help"});
	CHECK(status.rc == 0);
	CHECK(status.out.find("puds status [--json]\n") != std::string::npos);
	CHECK(status.out.find("--json prints the same as one JSON object") != std::string::npos);
	CHECK(status.out.find("WARNING line when 80% of a backlog") != std::string::npos);
	for (const char *h : {"--help", "-h"}) {
		auto json_help = run_puds({"status", "--json", h});
		CHECK(json_help.rc == 0);
		CHECK(json_help.out == status.out);
	}

	auto version = run_puds({"--version"});
	CHECK(version.rc == 0);
	CHECK(version.out.starts_with("puds "));
	CHECK(version.out.find('.') != std::string::npos);
	CHECK(version.err.empty());
}

TEST_CASE("numbers: the whole text as a decimal integer in range (std::from_chars)")
{
	struct Case {
		const char *text;
		long long min, max;
		bool ok;
		long long value;
		const char *says;
	};
	const Case cases[] = {
		{"10", 1, 100, true, 10, ""},
		{"1", 1, 100, true, 1, ""},
		{"100", 1, 100, true, 100, ""},
		{"007", 1, 100, true, 7, ""},
		{"-5", -10, 10, true, -5, ""},
		{"9223372036854775807", 0, LLONG_MAX, true, LLONG_MAX, ""},
		{"0", 1, 100, false, 0, "\"0\" is out of range: give a decimal integer from 1 to 100"},
		{"101", 1, 100, false, 0, "is out of range"},
		{"-1", 1, 100, false, 0, "is out of range"},
		{"9223372036854775808", 0, LLONG_MAX, false, 0, "is out of range"},
		{"-9223372036854775809", LLONG_MIN, 0, false, 0, "is out of range"},
		{"", 1, 100, false, 0, "n is empty: give a decimal integer from 1 to 100"},
		{"foo", 1, 100, false, 0, "\"foo\" is not a decimal integer"},
		{"10x", 1, 100, false, 0, "\"10x\" is not a decimal integer"},
		{"10 ", 1, 100, false, 0, "is not a decimal integer"},
		{" 10", 1, 100, false, 0, "is not a decimal integer"},
		{"+10", 1, 100, false, 0, "is not a decimal integer"},
		{"0x1", 1, 100, false, 0, "is not a decimal integer"},
		{"-", 1, 100, false, 0, "is not a decimal integer"},
		{"1e2", 1, 1000, false, 0, "is not a decimal integer"},
	};
	for (const auto &c : cases) {
		INFO("\"" << c.text << "\" in " << c.min << ".." << c.max);
		auto v = cli::parse_integer("n", c.text, c.min, c.max);
		REQUIRE(bool(v) == c.ok);
		if (c.ok)
			CHECK(*v == c.value);
		else
			CHECK(v.error().message.find(c.says) != std::string::npos);
	}
	// A value past long long is out of range, not garbage.
	auto big = cli::parse_integer("n", "99999999999999999999", 0, 10);
	REQUIRE_FALSE(big);
	CHECK(big.error().code == std::errc::result_out_of_range);

	CHECK(*cli::parse_delay("1") == 1);
	CHECK(*cli::parse_delay("10000") == 10000);
	CHECK(*cli::parse_delay("3600000") == 3600000);
	for (const char *bad : {"0", "-1", "3600001", "2147483648", "", "10ms", "1,000"}) {
		INFO(bad);
		auto d = cli::parse_delay(bad);
		REQUIRE_FALSE(d);
		CHECK(d.error().message.starts_with("--delay"));
		CHECK(d.error().message.find("e.g. --delay 10000") != std::string::npos);
	}
}

TEST_CASE("LISTEN_PID and LISTEN_FDS are read as sd_listen_fds() reads them")
{
	const pid_t self = 4242;
	struct Case {
		const char *pid, *fds;
		bool ok;
		int n;
		const char *says;
	};
	const Case cases[] = {
		{nullptr, nullptr, true, 0, ""},
		{nullptr, "2", true, 0, ""},		// no LISTEN_PID: not for us
		{"4242", nullptr, true, 0, ""},		// no LISTEN_FDS: nothing passed
		{"4242", "2", true, 2, ""},
		{"4242", "1", true, 1, ""},
		{"1", "2", true, 0, ""},		// another process's
		{"4243", "2", true, 0, ""},
		{"1", "junk", true, 0, ""},		// another process's: not looked at
		{"abc", "2", false, 0, "LISTEN_PID \"abc\" is not a decimal integer"},
		{"4242x", "2", false, 0, "LISTEN_PID \"4242x\" is not a decimal integer"},
		{"", "2", false, 0, "LISTEN_PID is empty"},
		{"0", "2", false, 0, "LISTEN_PID \"0\" is out of range"},
		{"-4242", "2", false, 0, "LISTEN_PID \"-4242\" is out of range"},
		{"99999999999", "2", false, 0, "is out of range"},
		{"4242", "two", false, 0, "LISTEN_FDS \"two\" is not a decimal integer"},
		{"4242", "", false, 0, "LISTEN_FDS is empty"},
		{"4242", "0", false, 0, "LISTEN_FDS \"0\" is out of range"},
		{"4242", "-1", false, 0, "LISTEN_FDS \"-1\" is out of range"},
		{"4242", "2147483647", false, 0, "is out of range"},
		{"4242", "2 ", false, 0, "is not a decimal integer"},
	};
	for (const auto &c : cases) {
		INFO("LISTEN_PID=" << (c.pid ? c.pid : "(unset)")
				   << " LISTEN_FDS=" << (c.fds ? c.fds : "(unset)"));
		auto n = cli::listen_fds_count(c.pid, c.fds, self);
		REQUIRE(bool(n) == c.ok);
		if (c.ok) {
			CHECK(*n == c.n);
		} else {
			CHECK(n.error().message.find(c.says) != std::string::npos);
			CHECK(n.error().message.find("socket activation") != std::string::npos);
		}
	}
}

TEST_CASE("LISTEN_FDNAMES: a name per fd with repeats kept and unknown where one is missing")
{
	using V = std::vector<std::string>;
	struct Case {
		const char *names;
		int count;
		bool ok;
		V want;
	};
	const Case cases[] = {
		{nullptr, 2, true, {"unknown", "unknown"}},
		{"web", 1, true, {"web"}},
		{"web:web", 2, true, {"web", "web"}},
		{"web", 3, true, {"web", "unknown", "unknown"}},
		{"a::b", 3, true, {"a", "unknown", "b"}},
		{"", 1, true, {"unknown"}},
		{"a:b:c", 2, false, {}},
		{"a:", 1, false, {}},
	};
	for (const auto &c : cases) {
		INFO("LISTEN_FDNAMES=" << (c.names ? c.names : "(unset)") << " for " << c.count);
		auto n = cli::listen_fds_names(c.names, c.count);
		REQUIRE(bool(n) == c.ok);
		if (c.ok)
			CHECK(*n == c.want);
		else
			CHECK(n.error().message.find("names for LISTEN_FDS=") != std::string::npos);
	}
}

TEST_CASE("LISTEN_FDS: every fd passed is taken (two of one name too) or none is")
{
	TempDir d;
	constexpr int first = 700;	// where "systemd" put them
	REQUIRE_FALSE(test::is_open(first));
	REQUIRE_FALSE(test::is_open(first + 1));
	REQUIRE_FALSE(test::is_open(first + 2));
	int base = test::open_fds();
	Fd a = unix_listener(d.path + "/a"), b = unix_listener(d.path + "/b");
	auto pass = [&] {
		REQUIRE(dup2(a.get(), first) == first);
		REQUIRE(dup2(b.get(), first + 1) == first + 1);
	};
	auto unpass = [&] {
		close(first);
		close(first + 1);
	};
	struct Closer {	// whatever a failed REQUIRE left there
		~Closer()
		{
			close(first);
			close(first + 1);
		}
	} closer;

	SECTION("one socket unit: both fds named after it, both kept")
	{
		pass();
		ListenEnv env("self", "2", "web:web");
		auto fds = cli::take_listen_fds(first);
		REQUIRE(fds);
		REQUIRE(fds->size() == 2);
		CHECK((*fds)[0].name == "web");
		CHECK((*fds)[1].name == "web");
		CHECK(test::same_file((*fds)[0].fd.get(), a.get()));
		CHECK(test::same_file((*fds)[1].fd.get(), b.get()));
		for (const auto &f : *fds) {
			CHECK(f.fd.get() >= 100);
			CHECK(fcntl(f.fd.get(), F_GETFD) == FD_CLOEXEC);
		}
		// Freed for the server's listeners; the variables are gone.
		CHECK_FALSE(test::is_open(first));
		CHECK_FALSE(test::is_open(first + 1));
		CHECK(!getenv("LISTEN_PID"));
		CHECK(!getenv("LISTEN_FDS"));
		CHECK(!getenv("LISTEN_FDNAMES"));
	}
	SECTION("no LISTEN_FDNAMES, or too few names: \"unknown\"")
	{
		for (const char *names : {(const char *)nullptr, "x"}) {
			pass();
			ListenEnv env("self", "2", names);
			auto fds = cli::take_listen_fds(first);
			REQUIRE(fds);
			REQUIRE(fds->size() == 2);
			CHECK((*fds)[0].name == (names ? "x" : "unknown"));
			CHECK((*fds)[1].name == "unknown");
		}
	}
	SECTION("LISTEN_PID of another process: nothing taken, nothing closed")
	{
		pass();
		ListenEnv env(std::to_string(getpid() + 1).c_str(), "2", "web:web");
		auto fds = cli::take_listen_fds(first);
		INFO((fds ? "" : fds.error().message));
		REQUIRE(fds);
		CHECK(fds->empty());
		CHECK(test::is_open(first));
		CHECK(test::is_open(first + 1));
		CHECK(!getenv("LISTEN_PID"));
		unpass();
	}
	SECTION("malformed: an error, not 0 fds, and nothing taken")
	{
		struct Bad {
			const char *pid, *fds, *names, *says;
		};
		const Bad bad[] = {
			{"self", "2x", nullptr, "LISTEN_FDS \"2x\" is not a decimal integer"},
			{"self", "0", nullptr, "LISTEN_FDS \"0\" is out of range"},
			{"pid", "2", nullptr, "LISTEN_PID \"pid\" is not a decimal integer"},
			{"self", "2", "a:b:c", "has 3 names for LISTEN_FDS=2"},
			{"self", "3", nullptr, "fd 702 is not open"},
		};
		pass();
		for (const auto &c : bad) {
			INFO(c.says);
			ListenEnv env(c.pid, c.fds, c.names);
			auto fds = cli::take_listen_fds(first);
			REQUIRE_FALSE(fds);
			CHECK(fds.error().message.find(c.says) != std::string::npos);
			CHECK(test::is_open(first));
			CHECK(test::is_open(first + 1));
			CHECK(!getenv("LISTEN_PID"));
		}
		unpass();
	}
	a.reset();
	b.reset();
	CHECK(test::open_fds() == base);
}

TEST_CASE("passed fds go to the --listen of their name and then of their address")
{
	TempDir d;
	const std::string pa = d.path + "/a", pb = d.path + "/b";
	Fd a = unix_listener(pa), b = unix_listener(pb);
	auto given = [&](const char *na, const char *nb) {
		std::vector<NamedFd> g;
		g.push_back({na, std::move(a.dup()).value()});
		g.push_back({nb, std::move(b.dup()).value()});
		return g;
	};

	SECTION("two fds of one name (the unit's), --listen names of their own: by address")
	{
		auto g = given("web", "web");
		auto m = cli::match_listen_fds(g, {want("https", "unix:" + pb),
						   want("http", "unix:" + pa)});
		REQUIRE(m);
		REQUIRE(m->size() == 2);
		CHECK(test::same_file((*m)[0].get(), b.get()));
		CHECK(test::same_file((*m)[1].get(), a.get()));
		CHECK(g.empty());
	}
	SECTION("two fds of one name: the --listen of that name gets the one of its address")
	{
		auto g = given("web", "web");
		auto m = cli::match_listen_fds(g, {want("web", "unix:" + pb),
						   want("other", "unix:" + pa)});
		REQUIRE(m);
		CHECK(test::same_file((*m)[0].get(), b.get()));
		CHECK(test::same_file((*m)[1].get(), a.get()));
		CHECK(g.empty());
	}
	SECTION("an fd without a name goes by address, a named one by name")
	{
		auto g = given("unknown", "b");
		auto m = cli::match_listen_fds(g, {want("x", "unix:" + pa), want("b", "unix:" + pb)});
		REQUIRE(m);
		CHECK(test::same_file((*m)[0].get(), a.get()));
		CHECK(test::same_file((*m)[1].get(), b.get()));
	}
	SECTION("an fd no --listen asks for is left over; a --listen without one gets none")
	{
		auto g = given("unknown", "unknown");
		auto m = cli::match_listen_fds(g, {want("a", "unix:" + pa),
						   want("c", "unix:" + d.path + "/c")});
		REQUIRE(m);
		CHECK(test::same_file((*m)[0].get(), a.get()));
		CHECK_FALSE((*m)[1]);
		REQUIRE(g.size() == 1);
		CHECK(test::same_file(g[0].fd.get(), b.get()));
	}
	SECTION("an fd of the --listen's name bound elsewhere, and no other: an error")
	{
		auto g = given("web", "unknown");
		auto m = cli::match_listen_fds(g, {want("web", "unix:" + d.path + "/c")});
		REQUIRE_FALSE(m);
		CHECK(m.error().message.find("systemd passed an fd named \"web\" for --listen web=") !=
		      std::string::npos);
		CHECK(m.error().message.find("is bound to another path") != std::string::npos);
	}
}

TEST_CASE("the park directory is mode 0700 or puds warns and says what to run")
{
	TempDir d;
	const std::string park = d.path + "/rv";

	auto ok = cli::check_park_dir(park);
	REQUIRE(ok);
	CHECK(ok->empty());

	for (mode_t m : {0750, 0711, 0701, 0755, 0770}) {
		INFO(std::oct << m);
		REQUIRE(chmod(d.path.c_str(), m) == 0);
		auto w = cli::check_park_dir(park);
		REQUIRE(w);
		char mode[8];
		std::snprintf(mode, sizeof(mode), "%04o", m);
		CHECK(w->find("the park directory " + d.path + " is mode " + mode) !=
		      std::string::npos);
		CHECK(w->find("run: chmod 0700 " + d.path) != std::string::npos);
	}
	// A shared directory such as /tmp is not for chmod: a directory of its own.
	REQUIRE(chmod(d.path.c_str(), 01777) == 0);
	auto shared = cli::check_park_dir(park);
	REQUIRE(shared);
	CHECK(shared->find("install -d -m 0700 " + d.path + "/puds") != std::string::npos);
	REQUIRE(chmod(d.path.c_str(), 0700) == 0);

	auto missing = cli::check_park_dir(d.path + "/no/rv");
	REQUIRE_FALSE(missing);
	CHECK(missing.error().message.find("install -d -m 0700 " + d.path + "/no") !=
	      std::string::npos);

	// puds run says it on stderr and goes on.  The listener cannot be bound
	// (no such directory): the run fails at the kernel check on a kernel
	// without the feature, at bind() on one with it, and never execs.
	REQUIRE(chmod(d.path.c_str(), 0755) == 0);
	auto r = run_puds({"run", "--park", park, "--listen",
			   "a=unix:" + d.path + "/no/such/dir/sock", "--", "true"});
	INFO(r.err);
	CHECK(r.rc == 1);
	CHECK(r.err.find("puds: warning: the park directory " + d.path + " is mode 0755") !=
	      std::string::npos);
	CHECK(r.err.find("run: chmod 0700 " + d.path) != std::string::npos);
}

TEST_CASE("the server is looked up as execvp() would before anything is bound")
{
	TempDir d;
	const std::string x = d.path + "/x", y = d.path + "/y";
	REQUIRE(mkdir(x.c_str(), 0700) == 0);
	REQUIRE(mkdir(y.c_str(), 0700) == 0);
	auto make = [](const std::string &file, mode_t mode) {
		int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, mode);
		REQUIRE(fd >= 0);
		close(fd);
		REQUIRE(chmod(file.c_str(), mode) == 0);
	};
	make(x + "/srv", 0644);		// not executable: passed over
	make(y + "/srv", 0755);
	REQUIRE(mkdir((x + "/dir").c_str(), 0755) == 0);	// a directory: passed over

	CHECK(*cli::find_program("srv", (x + ":" + y).c_str()) == y + "/srv");
	CHECK(*cli::find_program("srv", ("/nonexistent::" + y).c_str()) == y + "/srv");
	CHECK(*cli::find_program("sh", "/nonexistent:/bin") == "/bin/sh");
	CHECK(*cli::find_program("/bin/sh", "/nonexistent") == "/bin/sh");
	CHECK(*cli::find_program(y + "/srv", nullptr) == y + "/srv");

	auto none = cli::find_program("srv", x.c_str());
	REQUIRE_FALSE(none);
	CHECK(none.error().message == "server \"srv\" is not an executable file in PATH=" + x +
					      ": give its full path, or add its directory to PATH");
	CHECK_FALSE(cli::find_program("dir", x.c_str()));
	CHECK_FALSE(cli::find_program(x + "/srv", nullptr));
	CHECK_FALSE(cli::find_program(x + "/dir", nullptr));
	CHECK_FALSE(cli::find_program("", "/bin"));
}

TEST_CASE("run's options: what parse_run_options reads from a good command line")
{
	std::vector<std::string> args = {"puds", "run", "--park", "/run/srv/handoff", "--listen",
					 "http=0.0.0.0:80", "--nginx", "--listen",
					 "admin=unix:/run/srv/admin", "--delay", "2500", "--",
					 "/usr/sbin/nginx", "-g", "daemon off;"};
	std::vector<char *> argv;
	for (auto &a : args)
		argv.push_back(a.data());
	argv.push_back(nullptr);
	auto o = cli::parse_run_options(static_cast<int>(args.size()), argv.data());
	REQUIRE(o);
	CHECK_FALSE(o->help);
	CHECK(o->park == "/run/srv/handoff");
	REQUIRE(o->listens.size() == 2);
	CHECK(o->listens[0].name == "http");
	CHECK(o->listens[0].addr.str() == "0.0.0.0:80");
	CHECK(o->listens[1].name == "admin");
	CHECK(o->listens[1].addr.str() == "unix:/run/srv/admin");
	CHECK(o->delay_ms == 2500);
	CHECK(o->nginx);
	CHECK(o->server_argv == std::vector<std::string>{"/usr/sbin/nginx", "-g", "daemon off;"});

	// The defaults, and --help read before whatever follows it.
	std::vector<std::string> small = {"puds", "run", "--park", "p", "--listen", "a=1.2.3.4:5",
					  "--", "srv"};
	argv.clear();
	for (auto &a : small)
		argv.push_back(a.data());
	auto d = cli::parse_run_options(static_cast<int>(small.size()), argv.data());
	REQUIRE(d);
	CHECK(d->delay_ms == cli::kDefaultDelayMs);
	CHECK_FALSE(d->nginx);
	CHECK(d->server_argv == std::vector<std::string>{"srv"});
	std::vector<std::string> help = {"puds", "run", "--help", "--bogus"};
	argv.clear();
	for (auto &a : help)
		argv.push_back(a.data());
	auto h = cli::parse_run_options(static_cast<int>(help.size()), argv.data());
	REQUIRE(h);
	CHECK(h->help);

	std::vector<std::string> bad = {"puds", "run", "--park", "p", "--delay", "0"};
	argv.clear();
	for (auto &a : bad)
		argv.push_back(a.data());
	auto e = cli::parse_run_options(static_cast<int>(bad.size()), argv.data());
	REQUIRE_FALSE(e);
	CHECK(e.error().code == std::errc::result_out_of_range);
	CHECK(e.error().message.find("--delay \"0\" is out of range") == 0);
}

TEST_CASE("systemd's fds: taken, matched to --listen, the rest named as unmatched")
{
	TempDir d;
	constexpr int first = 710;
	REQUIRE_FALSE(test::is_open(first));
	REQUIRE_FALSE(test::is_open(first + 1));
	Fd a = unix_listener(d.path + "/a"), b = unix_listener(d.path + "/b");
	REQUIRE(dup2(a.get(), first) == first);
	REQUIRE(dup2(b.get(), first + 1) == first + 1);
	ListenEnv env("self", "2", "web:junk");
	auto sd = cli::take_systemd_fds({want("web", "unix:" + d.path + "/a"),
					 want("other", "unix:" + d.path + "/c")}, first);
	REQUIRE(sd);
	REQUIRE(sd->for_listen.size() == 2);
	CHECK(test::same_file(sd->for_listen[0].get(), a.get()));
	CHECK_FALSE(sd->for_listen[1]);
	CHECK(sd->unmatched == std::vector<std::string>{"junk"});
	CHECK_FALSE(test::is_open(first));
	CHECK_FALSE(test::is_open(first + 1));
}

TEST_CASE("before exec: the listeners become fds first.. in order, the rendezvous above them")
{
	TempDir d;
	constexpr int first = 720;
	Fd a = unix_listener(d.path + "/a"), b = unix_listener(d.path + "/b");
	auto [r, w] = test::pipe();
	// Whatever held those numbers is replaced; the listeners may sit there.
	REQUIRE(dup2(b.get(), first) == first);
	std::vector<Fd> listeners;
	listeners.push_back(std::move(a.dup()).value());
	listeners.push_back(Fd::adopt(first));
	int base = test::open_fds();

	auto rfd = cli::renumber_for_exec(std::move(listeners), r.get(), first);
	REQUIRE(rfd);
	CHECK(test::same_file(first, a.get()));
	CHECK(test::same_file(first + 1, b.get()));
	CHECK(fcntl(first, F_GETFD) == 0);	// no close-on-exec: for the server
	CHECK(fcntl(first + 1, F_GETFD) == 0);
	CHECK(*rfd >= first + 2 + 64);
	CHECK(test::same_file(*rfd, r.get()));
	CHECK(fcntl(*rfd, F_GETFD) == 0);
	// The moved-in Fds (two) closed; fds first, first+1 and the
	// rendezvous's copy open: nothing else left behind.
	CHECK(test::open_fds() == base + 1);
	close(first);
	close(first + 1);
	close(*rfd);
}
