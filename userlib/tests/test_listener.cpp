// SPDX-License-Identifier: LGPL-2.1-or-later
#include <catch2/catch.hpp>

#include <netinet/in.h>

#include "helpers.hpp"
#include "puds/handoff.hpp"
#include "puds/kernel.hpp"
#include "puds/listener.hpp"

using namespace puds;

TEST_CASE("addresses: TCP, [V6], udp: and unix:, and what is wrong with bad ones")
{
	struct Case {
		const char *spec;
		bool ok;
		Address::Kind kind;
		const char *host;
		int port;
		const char *says;
	};
	const Case cases[] = {
		{"127.0.0.1:8080", true, Address::Kind::tcp, "127.0.0.1", 8080, ""},
		{"*:80", true, Address::Kind::tcp, "*", 80, ""},
		{":80", true, Address::Kind::tcp, "", 80, ""},
		{"[::1]:443", true, Address::Kind::tcp, "::1", 443, ""},
		{"udp:0.0.0.0:53", true, Address::Kind::udp, "0.0.0.0", 53, ""},
		{"udp:[::]:53", true, Address::Kind::udp, "::", 53, ""},
		{"unix:/run/x.sock", true, Address::Kind::unix_stream, "", 0, ""},
		{"127.0.0.1", false, {}, "", 0, "no :PORT"},
		{"::1:80", false, {}, "", 0, "in brackets"},
		{"[::1]80", false, {}, "", 0, "followed by :PORT"},
		{"1.2.3.4:65536", false, {}, "", 0, "0 to 65535"},
		{"1.2.3.4:http", false, {}, "", 0, "0 to 65535"},
		{"example.com:80", false, {}, "", 0, "not resolved"},
		{"unix:relative", false, {}, "", 0, "absolute"},
	};
	for (const auto &c : cases) {
		INFO(c.spec);
		auto a = parse_address(c.spec);
		REQUIRE(bool(a) == c.ok);
		if (!c.ok) {
			CHECK(a.error().message.find(c.says) != std::string::npos);
			continue;
		}
		CHECK(a->kind == c.kind);
		if (c.kind != Address::Kind::unix_stream) {
			CHECK(a->host == c.host);
			CHECK(a->port == c.port);
		}
	}
}

TEST_CASE("a listener is checked against the address it is taken for")
{
	auto a = parse_address("127.0.0.1:0");
	REQUIRE(a);
	auto fd = bind_listener(*a);
	REQUIRE(fd);
	sockaddr_in sin{};
	socklen_t len = sizeof(sin);
	REQUIRE(::getsockname(fd->get(), reinterpret_cast<sockaddr *>(&sin), &len) == 0);
	int port = ntohs(sin.sin_port);

	auto same = parse_address("127.0.0.1:" + std::to_string(port));
	CHECK(check_listener(fd->get(), *same));
	auto other_port = parse_address("127.0.0.1:" + std::to_string(port == 1 ? 2 : 1));
	auto st = check_listener(fd->get(), *other_port);
	REQUIRE_FALSE(st);
	CHECK(st.error().message.find("another address or port") != std::string::npos);
	auto udp = parse_address("udp:127.0.0.1:" + std::to_string(port));
	CHECK(check_listener(fd->get(), *udp).error().message.find("another socket type") !=
	      std::string::npos);
	auto v6 = parse_address("[::1]:" + std::to_string(port));
	CHECK(check_listener(fd->get(), *v6).error().message.find("another address family") !=
	      std::string::npos);

	auto [r, w] = test::pipe();
	CHECK_FALSE(check_listener(r.get(), *same));
}

TEST_CASE("take_listener: the handed-over one if it matches, with the O_NONBLOCK asked for")
{
	auto a0 = parse_address("127.0.0.1:0");
	auto orig = bind_listener(*a0);
	REQUIRE(orig);
	sockaddr_in sin{};
	socklen_t len = sizeof(sin);
	::getsockname(orig->get(), reinterpret_cast<sockaddr *>(&sin), &len);
	auto a = parse_address("127.0.0.1:" + std::to_string(ntohs(sin.sin_port)));

	// Its previous holder left it non-blocking: the flag is the file's.
	::fcntl(orig->get(), F_SETFL, ::fcntl(orig->get(), F_GETFL) | O_NONBLOCK);
	Parcel p;
	p.fds.push_back({"http", std::move(orig->dup().value())});
	auto fd = take_listener(p, "http", *a, {.blocking = Blocking::blocking});
	REQUIRE(fd);
	CHECK(p.fds.empty());
	CHECK(test::same_file(fd->get(), orig->get()));
	CHECK_FALSE(::fcntl(fd->get(), F_GETFL) & O_NONBLOCK);
	CHECK_FALSE(::fcntl(orig->get(), F_GETFL) & O_NONBLOCK);	// shared

	// Not handed over: bound afresh (the port is busy here, so EADDRINUSE
	// shows that it really tried).
	auto fresh = take_listener(p, "http", *a, {.blocking = Blocking::nonblocking});
	REQUIRE_FALSE(fresh);
	CHECK(fresh.error().message.find("bind(127.0.0.1:") == 0);

	// Handed over but not what was asked for: refused, left in the parcel.
	p.fds.push_back({"http", std::move(fd).value()});
	auto other = parse_address("127.0.0.2:1");
	auto wrong = take_listener(p, "http", *other, {.blocking = Blocking::nonblocking});
	REQUIRE_FALSE(wrong);
	CHECK(wrong.error().message.find("listener \"http\"") == 0);
	CHECK(p.fds.size() == 1);
}

TEST_CASE("a rendezvous on a kernel without the feature fails with one clear error")
{
	if (check_kernel_feature())
		SUCCEED("this kernel has the feature: see the guest tests");
	else {
		auto rv = Rendezvous::open("/tmp/puds-test-rendezvous", 1000);
		REQUIRE_FALSE(rv);
		CHECK(rv.error().code == std::errc::operation_not_supported);
		CHECK(rv.error().message.find("this kernel has no UNIX_DELAY_CLOSE") == 0);
		struct stat st;
		CHECK(::lstat("/tmp/puds-test-rendezvous", &st) == -1);	// nothing created
	}
}
