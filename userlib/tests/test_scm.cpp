// SPDX-License-Identifier: LGPL-2.1-or-later
#include <catch2/catch.hpp>

#include <sys/un.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "puds/scm.hpp"

using namespace puds;

namespace {

std::vector<Fd> make_fds(std::size_t n)
{
	std::vector<Fd> fds;

	for (std::size_t i = 0; i < n; i++)
		fds.push_back(Fd::adopt(::open("/dev/null", O_RDONLY | O_CLOEXEC)));
	return fds;
}

std::vector<int> raw(const std::vector<Fd> &fds)
{
	std::vector<int> v;

	for (const auto &f : fds)
		v.push_back(f.get());
	return v;
}

} // namespace

TEST_CASE("a message with fds comes back whole, each fd owned and close-on-exec")
{
	int base = test::open_fds();
	{
		auto [a, b] = test::socketpair(SOCK_DGRAM);
		auto [r, w] = test::pipe();
		int fds[] = {r.get(), w.get()};

		REQUIRE(send_message(a.get(), test::bytes("hello"), fds));
		auto m = recv_message(b.get());
		REQUIRE(m);
		CHECK(std::string(reinterpret_cast<char *>(m->data.data()), m->data.size()) == "hello");
		REQUIRE(m->fds.size() == 2);
		CHECK(test::same_file(m->fds[0].get(), r.get()));
		CHECK(test::same_file(m->fds[1].get(), w.get()));
		for (auto &f : m->fds)
			CHECK((fcntl(f.get(), F_GETFD) & FD_CLOEXEC));
	}
	CHECK(test::open_fds() == base);
}

TEST_CASE("kMaxFdsPerMessage is the kernel's SCM_MAX_FD")
{
	auto [a, b] = test::socketpair(SOCK_DGRAM);
	auto fds = make_fds(kMaxFdsPerMessage + 1);
	auto v = raw(fds);

	SECTION("253 fds pass in one message") {
		REQUIRE(send_message(a.get(), test::bytes("x"),
				     std::span<const int>(v).first(kMaxFdsPerMessage)));
		auto m = recv_message(b.get());
		REQUIRE(m);
		CHECK(m->fds.size() == kMaxFdsPerMessage);
	}
	SECTION("254 are refused: by the library, and by the kernel with EINVAL") {
		auto st = send_message(a.get(), test::bytes("x"), v);
		REQUIRE_FALSE(st);
		CHECK(st.error().code == std::errc::invalid_argument);
		CHECK(st.error().message.find("at most 253 per message") != std::string::npos);

		char cbuf[CMSG_SPACE(sizeof(int) * (kMaxFdsPerMessage + 1))] = {};
		iovec iov{const_cast<char *>("x"), 1};
		msghdr msg{};
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * v.size());
		std::memcpy(CMSG_DATA(c), v.data(), sizeof(int) * v.size());
		CHECK(::sendmsg(a.get(), &msg, 0) == -1);
		CHECK(errno == EINVAL);
	}
}

TEST_CASE("more fds than expected: MSG_CTRUNC is an error and nothing leaks")
{
	int base = test::open_fds();
	{
		auto [a, b] = test::socketpair(SOCK_DGRAM);
		auto fds = make_fds(10);
		auto v = raw(fds);

		REQUIRE(send_message(a.get(), test::bytes("ten"), v));
		fds.clear();
		RecvOptions opt;
		opt.max_fds = 4;
		auto m = recv_message(b.get(), opt);
		REQUIRE_FALSE(m);
		CHECK(m.error().code == std::errc::message_size);
		CHECK(m.error().message.find("MSG_CTRUNC") != std::string::npos);
	}
	CHECK(test::open_fds() == base);
}

TEST_CASE("a message longer than expected: MSG_TRUNC is an error")
{
	auto [a, b] = test::socketpair(SOCK_DGRAM);
	std::vector<std::byte> big(100, std::byte{7});

	REQUIRE(send_message(a.get(), big, {}));
	RecvOptions opt;
	opt.max_bytes = 10;
	auto m = recv_message(b.get(), opt);
	REQUIRE_FALSE(m);
	CHECK(m.error().message.find("MSG_TRUNC") != std::string::npos);
}

TEST_CASE("nothing queued on a non-blocking receive: EAGAIN, naming the fd")
{
	auto [a, b] = test::socketpair(SOCK_DGRAM);
	RecvOptions opt;
	opt.flags = MSG_DONTWAIT;
	auto m = recv_message(b.get(), opt);
	REQUIRE_FALSE(m);
	CHECK(m.error().code == std::errc::resource_unavailable_try_again);
	CHECK(m.error().message.find("recvmsg(fd " + std::to_string(b.get()) + ")") == 0);
}

TEST_CASE("a message needs a data byte")
{
	auto [a, b] = test::socketpair(SOCK_DGRAM);
	auto st = send_message(a.get(), {}, {});
	REQUIRE_FALSE(st);
	CHECK(st.error().message.find("at least one data byte") != std::string::npos);
}

TEST_CASE("sending to a path: errors name the path")
{
	char dir[] = "/tmp/puds-test.XXXXXX";
	REQUIRE(mkdtemp(dir));
	std::string path = std::string(dir) + "/sock";
	auto s = Fd::adopt(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));

	auto st = send_message(s.get(), test::bytes("x"), {}, path);
	REQUIRE_FALSE(st);
	CHECK(st.error().code == std::errc::no_such_file_or_directory);
	CHECK(st.error().message.find(" to " + path + ")") != std::string::npos);

	auto r = Fd::adopt(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	sockaddr_un sun{};
	sun.sun_family = AF_UNIX;
	std::strcpy(sun.sun_path, path.c_str());
	REQUIRE(::bind(r.get(), reinterpret_cast<sockaddr *>(&sun), sizeof(sun)) == 0);
	CHECK(send_message(s.get(), test::bytes("x"), {}, path));
	CHECK(recv_message(r.get()));
	::unlink(path.c_str());
	::rmdir(dir);
}
