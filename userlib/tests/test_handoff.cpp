// SPDX-License-Identifier: LGPL-2.1-or-later
// The pieces of Rendezvous::reclaim() that need no kernel feature: the
// peek loop (peek_queue) on a socketpair, and the choice of the newest
// complete parcel.
#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <optional>
#include <vector>

#include "helpers.hpp"
#include "puds/handoff.hpp"
#include "puds/parcel.hpp"

using namespace puds;

namespace {

using Queue = std::vector<std::optional<ParcelPosition>>;

std::optional<ParcelPosition> at(std::uint64_t id, std::uint32_t seq, std::uint32_t count)
{
	return ParcelPosition{id, seq, count};
}

int peek_off(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);
	return ::getsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &v, &len) ? -2 : v;
}

} // namespace

TEST_CASE("the newest complete parcel of a queue")
{
	struct Row {
		const char *what;
		Queue queue;
		std::optional<std::pair<std::size_t, std::size_t>> want;	// first, count
	};
	const std::vector<Row> rows = {
		{"empty queue", {}, std::nullopt},
		{"one parcel of one datagram", {at(1, 0, 1)}, std::pair{0, 1}},
		{"one parcel of three", {at(1, 0, 3), at(1, 1, 3), at(1, 2, 3)}, std::pair{0, 3}},
		{"old, then new (SIGKILL before dropping the old)",
		 {at(1, 0, 2), at(1, 1, 2), at(2, 0, 1)}, std::pair{2, 1}},
		{"whole old, then a new one cut short (SIGKILL while sending)",
		 {at(1, 0, 1), at(2, 0, 3), at(2, 1, 3)}, std::pair{0, 1}},
		{"only a partial parcel", {at(2, 0, 2)}, std::nullopt},
		{"a tail without its head", {at(2, 1, 2), at(3, 0, 1)}, std::pair{1, 1}},
		{"not a parcel in between", {at(1, 0, 1), std::nullopt, at(2, 0, 1)}, std::pair{2, 1}},
		{"datagrams of another parcel interleaved",
		 {at(1, 0, 2), at(2, 0, 1), at(1, 1, 2)}, std::pair{1, 1}},
		{"out of order", {at(1, 1, 2), at(1, 0, 2)}, std::nullopt},
		{"a count of 0", {at(1, 0, 0)}, std::nullopt},
		{"nothing but junk", {std::nullopt, std::nullopt}, std::nullopt},
	};
	for (const auto &r : rows) {
		DYNAMIC_SECTION(r.what) {
			auto got = newest_complete_parcel(r.queue);
			REQUIRE(got.has_value() == r.want.has_value());
			if (got) {
				CHECK(got->first == r.want->first);
				CHECK(got->count == r.want->second);
			}
		}
	}
}

TEST_CASE("parcels encoded and read back are found as the newest complete one")
{
	Parcel p;
	for (int i = 0; i < 300; i++)
		p.fds.push_back({"fd" + std::to_string(i),
				 Fd::adopt(::open("/dev/null", O_RDONLY | O_CLOEXEC))});
	auto old_one = encode_parcel(Parcel{}, 1), new_one = encode_parcel(p, 2);
	REQUIRE(old_one);
	REQUIRE(new_one);
	REQUIRE(new_one->size() == 2);
	Queue q;
	for (const auto &d : *old_one)
		q.push_back(parcel_position(d.data));
	for (const auto &d : *new_one)
		q.push_back(parcel_position(d.data));
	auto whole = newest_complete_parcel(q);
	REQUIRE(whole);
	CHECK(whole->first == 1);
	CHECK(whole->count == 2);
	q.pop_back();
	auto cut = newest_complete_parcel(q);
	REQUIRE(cut);
	CHECK(cut->first == 0);
	CHECK(cut->count == 1);
}

TEST_CASE("peek_queue reads the whole queue, leaves it queued, and turns SO_PEEK_OFF off")
{
	auto [a, b] = test::socketpair(SOCK_DGRAM);
	auto [r, w] = test::pipe();
	int fds[] = {r.get(), w.get()};
	REQUIRE(send_message(a.get(), std::as_bytes(std::span("one", 3)), fds));
	REQUIRE(send_message(a.get(), std::as_bytes(std::span("two", 3)), {}));
	CHECK(peek_off(b.get()) == -1);

	int base = test::open_fds();
	for (int round = 0; round < 2; round++) {
		auto all = peek_queue(b.get(), "test");
		REQUIRE(all);
		REQUIRE(all->size() == 2);
		CHECK(std::string(reinterpret_cast<const char *>((*all)[0].data.data()), 3) == "one");
		CHECK((*all)[0].fds.size() == 2);
		CHECK(test::same_file((*all)[0].fds[0].get(), r.get()));
		CHECK(std::string(reinterpret_cast<const char *>((*all)[1].data.data()), 3) == "two");
		CHECK(peek_off(b.get()) == -1);
	}
	CHECK(test::open_fds() == base);

	// Still queued, in order, for a plain recvmsg() from the head.
	auto first = recv_message(b.get());
	REQUIRE(first);
	CHECK(first->fds.size() == 2);
	auto empty_after = recv_message(b.get());
	REQUIRE(empty_after);
	auto none = peek_queue(b.get(), "test");
	REQUIRE(none);
	CHECK(none->empty());
	CHECK(peek_off(b.get()) == -1);
}

TEST_CASE("peek_queue's error names the socket, and SO_PEEK_OFF is off after it")
{
	auto [a, b] = test::socketpair(SOCK_DGRAM);
	auto [r, w] = test::pipe();
	int fds[] = {r.get()};
	REQUIRE(send_message(a.get(), std::as_bytes(std::span("x", 1)), fds));
	// Datagrams too long for a parcel's buffer: MSG_TRUNC, an error.
	std::vector<std::byte> big(kParcelHeaderSize + kMaxPayloadPerMessage + 1);
	REQUIRE(send_message(a.get(), big, {}));
	auto got = peek_queue(b.get(), "/run/test/handoff");
	REQUIRE_FALSE(got);
	CHECK(peek_off(b.get()) == -1);

	Fd not_a_socket = Fd::adopt(::open("/dev/null", O_RDONLY | O_CLOEXEC));
	auto bad = peek_queue(not_a_socket.get(), "/run/test/handoff");
	REQUIRE_FALSE(bad);
	CHECK(bad.error().message.find("setsockopt(/run/test/handoff, SO_PEEK_OFF, 0)") == 0);
}
