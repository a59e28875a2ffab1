// SPDX-License-Identifier: LGPL-2.1-or-later
#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>

#include <sys/socket.h>
#include <unistd.h>
#include <linux/un_delay_close.h>

#include "helpers.hpp"
#include "puds/kernel.hpp"

// The answer follows what the kernel itself says: the host runs one
// without the feature, the guest one with it.
TEST_CASE("the kernel feature is detected, or its absence said plainly")
{
	auto s = puds::Fd::adopt(::socket(AF_UNIX, SOCK_DGRAM, 0));
	int val = 0;
	socklen_t len = sizeof(val);
	bool has = ::getsockopt(s.get(), SOL_UNIX, UNIX_DELAY_CLOSE, &val, &len) == 0;

	auto st = puds::check_kernel_feature();
	if (has) {
		CHECK(st);
	} else {
		REQUIRE_FALSE(st);
		CHECK(st.error().code == std::errc::operation_not_supported);
		CHECK(st.error().message.find("this kernel has no UNIX_DELAY_CLOSE") == 0);
		CHECK(st.error().message.find("puds patch series") != std::string::npos);
		CHECK(st.error().message.find("puds check") != std::string::npos);
		CHECK(st.error().message.find("kernel-patches") == std::string::npos);
	}
}

TEST_CASE("net.unix.delay_close_max_ms is read whole, or the error names the file")
{
	char tmpl[] = "/tmp/puds-max.XXXXXX";
	int fd = ::mkstemp(tmpl);
	REQUIRE(fd >= 0);
	auto write_file = [&](const char *text) {
		REQUIRE(::ftruncate(fd, 0) == 0);
		REQUIRE(::pwrite(fd, text, std::strlen(text), 0) == static_cast<ssize_t>(std::strlen(text)));
	};
	write_file("5000\n");
	auto v = puds::delay_close_max_ms(tmpl);
	REQUIRE(v);
	CHECK(*v == 5000);
	for (const char *bad : {"", "x\n", "50 00\n", "-1\n"}) {
		write_file(bad);
		auto e = puds::delay_close_max_ms(tmpl);
		REQUIRE_FALSE(e);
		CHECK(e.error().message.find(tmpl) != std::string::npos);
	}
	::close(fd);
	::unlink(tmpl);
	auto missing = puds::delay_close_max_ms(tmpl);
	REQUIRE_FALSE(missing);
	CHECK(missing.error().message == std::string("open(") + tmpl + "): No such file or directory");
}

TEST_CASE("a delay above the maximum is clamped with a warning that names the sysctl")
{
	auto same = puds::choose_delay(10000, 60000);
	REQUIRE(same);
	CHECK(same->delay_ms == 10000);
	CHECK(same->warning.empty());
	auto at = puds::choose_delay(5000, 5000);
	REQUIRE(at);
	CHECK(at->delay_ms == 5000);
	CHECK(at->warning.empty());

	auto clamped = puds::choose_delay(10000, 5000);
	REQUIRE(clamped);
	CHECK(clamped->delay_ms == 5000);
	CHECK(clamped->warning.find("net.unix.delay_close_max_ms") != std::string::npos);
	CHECK(clamped->warning.find("10000") != std::string::npos);
	CHECK(clamped->warning.find("parking for 5000 ms") != std::string::npos);

	auto off = puds::choose_delay(10000, 0);
	REQUIRE_FALSE(off);
	CHECK(off.error().message.find("net.unix.delay_close_max_ms is 0") == 0);
}
