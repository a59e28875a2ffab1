// SPDX-License-Identifier: LGPL-2.1-or-later
#include <catch2/catch.hpp>

#include <cstring>
#include <span>
#include <stdexcept>

#include "helpers.hpp"

using puds::Fd;

TEST_CASE("Fd owns, moves and closes")
{
	int base = test::open_fds();
	int raw;
	{
		auto [r, w] = test::pipe();
		raw = r.get();
		REQUIRE(test::is_open(raw));

		Fd moved = std::move(r);
		CHECK_FALSE(r);
		CHECK(moved.get() == raw);

		Fd assigned;
		assigned = std::move(moved);
		CHECK(assigned.get() == raw);
	}
	CHECK_FALSE(test::is_open(raw));
	CHECK(test::open_fds() == base);
}

TEST_CASE("Fd::release gives the fd up, Fd::reset closes the old one")
{
	auto [r, w] = test::pipe();
	int raw = r.release();
	CHECK_FALSE(r);
	CHECK(test::is_open(raw));
	r.reset(raw);
	CHECK(r.get() == raw);
	r.reset();
	CHECK_FALSE(test::is_open(raw));
}

TEST_CASE("Fd::dup is close-on-exec and the same file")
{
	auto [r, w] = test::pipe();
	auto d = r.dup();
	REQUIRE(d);
	CHECK(d->get() != r.get());
	CHECK(test::same_file(d->get(), r.get()));
	CHECK((fcntl(d->get(), F_GETFD) & FD_CLOEXEC));
}

TEST_CASE("Fd::dup of a closed fd names the call")
{
	Fd none;
	auto d = none.dup();
	REQUIRE_FALSE(d);
	CHECK(d.error().code == std::errc::bad_file_descriptor);
	CHECK(d.error().message.find("fcntl(fd -1, F_DUPFD_CLOEXEC)") == 0);
}
