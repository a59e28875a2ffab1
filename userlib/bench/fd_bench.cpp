// SPDX-License-Identifier: LGPL-2.1-or-later
// The library's cost over a hand-written sendmsg/recvmsg loop, passing N
// fds over a datagram socketpair and closing what arrives, in one run.
// N > 253 takes several messages either way: the library's parcel splits
// them, the raw loop sends 253 at a time.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "puds/parcel.hpp"

using namespace puds;

namespace {

struct Setup {
	int sv[2];
	std::vector<Fd> fds;

	explicit Setup(int n)
	{
		socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv);
		int sz = 4 << 20;
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		for (int i = 0; i < n; i++)
			fds.push_back(Fd::adopt(open("/dev/null", O_RDONLY | O_CLOEXEC)));
	}
	~Setup()
	{
		close(sv[0]);
		close(sv[1]);
	}
};

void raw_send(int sock, const int *fds, int n)
{
	char cbuf[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)] = {};
	char byte = 'x';
	iovec iov{&byte, 1};
	msghdr msg{};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
	cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	std::memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	sendmsg(sock, &msg, 0);
}

int raw_recv_close(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
	char byte;
	iovec iov{&byte, 1};
	msghdr msg{};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	int n = 0;
	for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *p = reinterpret_cast<int *>(CMSG_DATA(c));
		for (int i = 0; i < n; i++)
			close(p[i]);
	}
	return n;
}

void BM_raw(benchmark::State &state)
{
	int n = static_cast<int>(state.range(0));
	Setup s(n);
	std::vector<int> raw;
	for (auto &f : s.fds)
		raw.push_back(f.get());
	for (auto _ : state) {
		for (int off = 0; off < n; off += kMaxFdsPerMessage)
			raw_send(s.sv[0], raw.data() + off,
				 std::min<int>(kMaxFdsPerMessage, n - off));
		for (int got = 0; got < n;)
			got += raw_recv_close(s.sv[1]);
	}
}

void BM_library(benchmark::State &state)
{
	int n = static_cast<int>(state.range(0));
	Setup s(n);
	Parcel p;
	for (int i = 0; i < n; i++)
		p.fds.push_back({"fd", std::move(s.fds[i])});
	for (auto _ : state) {
		if (!send_parcel(s.sv[0], p)) {
			state.SkipWithError("send_parcel");
			break;
		}
		auto got = recv_parcel(s.sv[1]);
		if (!got || got->fds.size() != static_cast<std::size_t>(n)) {
			state.SkipWithError("recv_parcel");
			break;
		}
	}
}

} // namespace

BENCHMARK(BM_raw)->Arg(1)->Arg(16)->Arg(253)->Arg(1000);
BENCHMARK(BM_library)->Arg(1)->Arg(16)->Arg(253)->Arg(1000);
BENCHMARK_MAIN();
