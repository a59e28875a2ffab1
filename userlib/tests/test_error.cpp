// SPDX-License-Identifier: LGPL-2.1-or-later
// Error plumbing: PUDS_TRY, value() on an Error, Error's constructors,
// Fd::socket.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/resource.h>

#include <string>

#include "helpers.hpp"
#include "puds/error.hpp"
#include "puds/fd.hpp"

using namespace puds;

namespace {

Result<Fd> make(bool ok)
{
	if (!ok)
		return Error::from_errno("open(/nowhere)", ENOENT);
	return Fd::adopt(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

Status check(bool ok)
{
	if (!ok)
		return Error(std::errc::bad_message, "malformed");
	return Ok{};
}

int reached;

// Passes on the first Error; else the values, moved out (Fd is move-only).
Result<int> both(bool first, bool second)
{
	reached = 0;
	Fd fd = PUDS_TRY(make(first));
	reached = 1;
	PUDS_TRY(check(second));
	reached = 2;
	return fd.get() >= 0 ? 7 : -1;
}

} // namespace

TEST_CASE("PUDS_TRY returns the first Error and yields the values")
{
	int base = test::open_fds();
	auto ok = both(true, true);
	REQUIRE(ok);
	CHECK(*ok == 7);
	CHECK(reached == 2);

	auto first = both(false, true);
	REQUIRE_FALSE(first);
	CHECK(reached == 0);
	CHECK(first.error().code == std::errc::no_such_file_or_directory);
	CHECK(first.error().message == "open(/nowhere): No such file or directory");

	auto second = both(true, false);
	REQUIRE_FALSE(second);
	CHECK(reached == 1);
	CHECK(second.error().code == std::errc::bad_message);
	CHECK(test::open_fds() == base);
}

TEST_CASE("value() of an Error throws BadResultAccess carrying it")
{
	Result<int> r = Error(std::errc::address_in_use, "another process owns /run/x");
	try {
		(void)r.value();
		FAIL("no exception");
	} catch (const BadResultAccess &e) {
		CHECK(std::string(e.what()) == "another process owns /run/x");
		CHECK(e.error().code == std::errc::address_in_use);
	}
	CHECK_THROWS_AS(std::move(r).value(), BadResultAccess);
	const Result<int> &cr = r;
	CHECK_THROWS_WITH(cr.value(), "another process owns /run/x");

	Result<int> good = 3;
	CHECK(good.value() == 3);
}

TEST_CASE("Error::invalid is EINVAL, other codes are constructed")
{
	auto inv = Error::invalid("--delay \"x\" is not a decimal integer");
	CHECK(inv.code == std::errc::invalid_argument);
	CHECK(inv.message == "--delay \"x\" is not a decimal integer");

	Error quota(std::errc(EDQUOT), "at the cap");
	CHECK(quota.code == std::error_code(EDQUOT, std::generic_category()));
	Error ec(std::make_error_code(std::errc::io_error), "dropping");
	CHECK(ec.code == std::errc::io_error);
	CHECK(Error::from_errno("bind(/x)", EPERM).message == "bind(/x): Operation not permitted");
}

TEST_CASE("Fd::socket makes a close-on-exec socket, or an error naming the call")
{
	auto s = Fd::socket(AF_UNIX, SOCK_DGRAM);
	REQUIRE(s);
	CHECK((::fcntl(s->get(), F_GETFD) & FD_CLOEXEC));
	int type = 0;
	socklen_t len = sizeof(type);
	REQUIRE(::getsockopt(s->get(), SOL_SOCKET, SO_TYPE, &type, &len) == 0);
	CHECK(type == SOCK_DGRAM);

	auto nb = Fd::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK);
	REQUIRE(nb);
	CHECK((::fcntl(nb->get(), F_GETFL) & O_NONBLOCK));

	auto bad = Fd::socket(AF_UNIX, SOCK_STREAM, 7);
	REQUIRE_FALSE(bad);
	CHECK(bad.error().message.find("socket(AF_UNIX, SOCK_STREAM, 7): ") == 0);

	// Out of fds: EMFILE, named.
	rlimit old{};
	REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
	rlimit low = old;
	int lowest = ::dup(0);	// the fd socket() would get
	REQUIRE(lowest >= 0);
	::close(lowest);
	low.rlim_cur = static_cast<rlim_t>(lowest);
	REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
	auto none = Fd::socket(AF_INET6, SOCK_DGRAM);
	REQUIRE(::setrlimit(RLIMIT_NOFILE, &old) == 0);
	REQUIRE_FALSE(none);
	CHECK(none.error().code == std::errc::too_many_files_open);
	CHECK(none.error().message.find("socket(AF_INET6, SOCK_DGRAM): ") == 0);
}
