// SPDX-License-Identifier: LGPL-2.1-or-later
#include <catch2/catch.hpp>

#include <sys/socket.h>
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
