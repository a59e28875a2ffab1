// SPDX-License-Identifier: LGPL-2.1-or-later
// Handoff::start on the host (no UNIX_DELAY_CLOSE): the fallback, the
// checks made before anything is bound; take_listener_ex's AddressChange.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "helpers.hpp"
#include "puds/kernel.hpp"
#include "puds/server.hpp"

using namespace puds;

namespace {

int port_of(int fd)
{
	sockaddr_in sin{};
	socklen_t len = sizeof(sin);
	::getsockname(fd, reinterpret_cast<sockaddr *>(&sin), &len);
	return ntohs(sin.sin_port);
}

constexpr const char *kPath = "/tmp/puds-test-server-handoff";

} // namespace

TEST_CASE("Handoff::start on a kernel without the feature: bound afresh, one warning, no handoff")
{
	if (check_kernel_feature()) {
		SUCCEED("this kernel has the feature: see the guest tests");
		return;
	}
	int base = test::open_fds();
	std::vector<std::string> seen;
	{
		auto h = Handoff::start(kPath, {{"echo", "127.0.0.1:0"}, {"admin", "unix:/tmp/puds-test-admin.sock"}},
					{.delay_ms = 5000,
					 .blocking = Blocking::nonblocking,
					 .warn = [&](const std::string &w) { seen.push_back(w); }});
		REQUIRE(h);
		CHECK_FALSE(h->handing_off());
		CHECK_FALSE(h->adopted());
		CHECK(h->rendezvous() == nullptr);
		CHECK(h->delay_ms() == 0);
		REQUIRE(seen.size() == 1);
		CHECK(seen == h->warnings());
		CHECK(seen[0].find("this kernel has no UNIX_DELAY_CLOSE") == 0);
		CHECK(seen[0].find("no handoff") != std::string::npos);
		int fd = h->listener("echo");
		REQUIRE(fd >= 0);
		CHECK(port_of(fd) > 0);
		CHECK(::fcntl(fd, F_GETFL) & O_NONBLOCK);
		CHECK(h->listener("admin") >= 0);
		CHECK(h->listener("nope") == -1);
		CHECK(h->set_state(test::bytes("kept here")));
		CHECK(h->state().size() == 9);
		struct stat st;
		CHECK(::lstat(kPath, &st) == -1);	// no rendezvous made
		CHECK(h->retire());
		CHECK(h->listener("echo") == -1);
		CHECK_FALSE(test::is_open(fd));
	}
	::unlink("/tmp/puds-test-admin.sock");
	CHECK(test::open_fds() == base);
}

TEST_CASE("Handoff::start with Fallback::fail on a kernel without the feature")
{
	if (check_kernel_feature()) {
		SUCCEED("this kernel has the feature");
		return;
	}
	auto h = Handoff::start(kPath, {{"echo", "127.0.0.1:0"}},
				{.without_feature = Fallback::fail, .warn = [](const std::string &) {}});
	REQUIRE_FALSE(h);
	CHECK(h.error().code == std::errc::operation_not_supported);
}

TEST_CASE("Handoff::start checks what it is given before binding anything")
{
	struct Row {
		const char *what;
		std::vector<ListenSpec> listeners;
		int delay;
		const char *message;
	};
	const std::vector<Row> rows = {
		{"a delay of 0", {{"echo", "127.0.0.1:0"}}, 0, "delay_ms 0: 1 ms or more"},
		{"a negative delay", {{"echo", "127.0.0.1:0"}}, -5, "delay_ms -5"},
		{"a name given twice", {{"a", "127.0.0.1:0"}, {"a", "127.0.0.1:0"}}, 10, "\"a\" given twice"},
		{"a bad address", {{"echo", "localhost:80"}}, 10, "is not an IPv4 or IPv6 address"},
		{"a bad name", {{"a:b", "127.0.0.1:0"}}, 10, "a:b"},
	};
	for (const auto &r : rows) {
		DYNAMIC_SECTION(r.what) {
			auto h = Handoff::start(kPath, r.listeners, {.delay_ms = r.delay});
			REQUIRE_FALSE(h);
			CHECK(h.error().code == std::errc::invalid_argument);
			INFO(h.error().message);
			CHECK(h.error().message.find(r.message) != std::string::npos);
		}
	}
}

TEST_CASE("take_listener_ex: AddressChange::fail keeps the parcel's, rebind drops it and binds afresh")
{
	auto any = parse_address("127.0.0.1:0");
	auto old = bind_listener(*any);
	REQUIRE(old);
	auto want = parse_address("127.0.0.1:0");	// port 0: any port, but check_listener wants port 0
	Parcel p;
	p.fds.push_back({"echo", std::move(*old)});
	int oldfd = p.fds[0].fd.get();

	auto failed = take_listener_ex(p, "echo", *want);
	REQUIRE_FALSE(failed);
	CHECK(failed.error().message.find("listener \"echo\"") == 0);
	CHECK(failed.error().message.find("AddressChange::rebind") != std::string::npos);
	CHECK(p.fds.size() == 1);

	auto t = take_listener_ex(p, "echo", *want, {.on_address_change = AddressChange::rebind});
	REQUIRE(t);
	CHECK(t->source == TakenListener::Source::rebound);
	CHECK(t->dropped.find("listener \"echo\"") == 0);
	CHECK(t->dropped.find("bound 127.0.0.1:0 afresh") != std::string::npos);
	CHECK(p.fds.empty());
	CHECK(port_of(t->fd.get()) > 0);
	CHECK((t->fd.get() == oldfd || !test::is_open(oldfd) ||
	       !test::same_file(oldfd, t->fd.get())));

	// Matching: handed over.
	auto a = parse_address("127.0.0.1:" + std::to_string(port_of(t->fd.get())));
	p.fds.push_back({"echo", std::move(t->fd)});
	auto again = take_listener_ex(p, "echo", *a, {.on_address_change = AddressChange::rebind});
	REQUIRE(again);
	CHECK(again->source == TakenListener::Source::handed_over);
	CHECK(again->dropped.empty());

	// None in the parcel: bound.
	auto fresh = take_listener_ex(p, "other", *any);
	REQUIRE(fresh);
	CHECK(fresh->source == TakenListener::Source::bound);
}
