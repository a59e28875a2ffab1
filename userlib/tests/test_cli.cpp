// SPDX-License-Identifier: LGPL-2.1-or-later
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "puds_main.hpp"

namespace {

// Run the puds command line in this process; its status and stderr.
std::pair<int, std::string> run_puds(std::vector<std::string> args)
{
	args.insert(args.begin(), "puds");
	std::vector<char *> argv;
	for (auto &a : args)
		argv.push_back(a.data());
	argv.push_back(nullptr);

	int p[2];
	REQUIRE(pipe2(p, O_CLOEXEC) == 0);
	int saved = dup(2);
	dup2(p[1], 2);
	close(p[1]);
	int rc = puds::puds_main(static_cast<int>(args.size()), argv.data());
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	std::string err;
	char buf[4096];
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	ssize_t n;
	while ((n = read(p[0], buf, sizeof(buf))) > 0)
		err.append(buf, n);
	close(p[0]);
	return {rc, err};
}

} // namespace

TEST_CASE("puds: usage errors say what is wrong and exit non-zero")
{
	struct Case {
		std::vector<std::string> args;
		int rc;
		const char *says;
	};
	const std::vector<Case> cases = {
		{{}, 2, "usage: puds run"},
		{{"bogus"}, 2, "usage: puds run"},
		{{"run"}, 1, "--park, at least one --listen and a server are needed"},
		{{"run", "--park", "/tmp/x", "--", "true"}, 1, "at least one --listen"},
		{{"run", "--park", "/tmp/x", "--listen", "http"}, 1, "NAME=ADDR"},
		{{"run", "--park", "/tmp/x", "--listen", "http=example.com:80", "--", "true"}, 1,
		 "not resolved"},
		{{"run", "--park", "/tmp/x", "--listen", "a:b=127.0.0.1:1", "--", "true"}, 1,
		 "without ':'"},
		{{"run", "--park", "/tmp/x", "--frobnicate", "1"}, 1, "unknown option --frobnicate"},
		{{"run", "--park"}, 1, "--park needs a value"},
	};
	for (const auto &c : cases) {
		std::string line;
		for (const auto &a : c.args)
			line += a + " ";
		INFO("puds " << line);
		auto [rc, err] = run_puds(c.args);
		CHECK(rc == c.rc);
		CHECK(err.find(c.says) != std::string::npos);
	}
}

TEST_CASE("puds --help is written for operators")
{
	auto [rc, err] = run_puds({"--help"});
	CHECK(rc == 0);
	CHECK(err.empty());
}
