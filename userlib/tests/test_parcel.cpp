// SPDX-License-Identifier: LGPL-2.1-or-later
#include <catch2/catch.hpp>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "puds/parcel.hpp"

using namespace puds;

namespace {

Parcel sample(std::size_t nfds, std::size_t state_bytes)
{
	Parcel p;

	for (std::size_t i = 0; i < nfds; i++)
		p.fds.push_back({"fd" + std::to_string(i),
				 Fd::adopt(::open("/dev/null", O_RDONLY | O_CLOEXEC))});
	for (std::size_t i = 0; i < state_bytes; i++)
		p.state.push_back(std::byte(i * 7));
	return p;
}

// What a receiver gets for @d: the bytes, and its own copies of the fds.
std::vector<Message> as_received(const std::vector<Datagram> &dgrams)
{
	std::vector<Message> out;

	for (const auto &d : dgrams) {
		Message m;
		m.data = d.data;
		for (int fd : d.fds)
			m.fds.push_back(Fd::adopt(::fcntl(fd, F_DUPFD_CLOEXEC, 0)));
		out.push_back(std::move(m));
	}
	return out;
}

namespace h = parcel_header;

// The u32 at @off of the payload (after the header).
void put_payload32(std::vector<std::byte> &b, std::size_t off, std::uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[kParcelHeaderSize + off + i] = std::byte(v >> (8 * i));
}

void set(std::vector<std::byte> &d, HeaderField f, std::uint64_t v)
{
	write_field(d, f, v);
}

} // namespace

TEST_CASE("a parcel goes over a socket and comes back: names, fds, state")
{
	int base = test::open_fds();
	{
		auto [a, b] = test::socketpair(SOCK_DGRAM);
		auto [r, w] = test::pipe();
		Parcel p;
		p.fds.push_back({"http", std::move(r)});
		p.fds.push_back({"log writer", std::move(w)});
		p.state = {std::byte{1}, std::byte{2}, std::byte{3}};

		REQUIRE(send_parcel(a.get(), p));
		auto got = recv_parcel(b.get());
		REQUIRE(got);
		REQUIRE(got->fds.size() == 2);
		CHECK(got->fds[0].name == "http");
		CHECK(got->fds[1].name == "log writer");
		CHECK(got->state == p.state);
		CHECK(::write(got->fds[1].fd.get(), "z", 1) == 1);
		char c = 0;
		CHECK(::read(p.fds[0].fd.get(), &c, 1) == 1);
		CHECK(c == 'z');
	}
	CHECK(test::open_fds() == base);
}

TEST_CASE("1000 fds and 100 KB of state span several datagrams and come back whole")
{
	int base = test::open_fds();
	{
		auto [a, b] = test::socketpair(SOCK_DGRAM);
		int sz = 1 << 20;
		setsockopt(a.get(), SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		Parcel p = sample(1000, 100 * 1024);

		auto d = encode_parcel(p, 42);
		REQUIRE(d);
		CHECK(d->size() == 4);		/* 253 + 253 + 253 + 241 fds */
		for (const auto &dg : *d)
			CHECK(dg.fds.size() <= kMaxFdsPerMessage);

		REQUIRE(send_parcel(a.get(), p));
		auto got = recv_parcel(b.get());
		REQUIRE(got);
		REQUIRE(got->fds.size() == 1000);
		for (std::size_t i = 0; i < 1000; i++) {
			CHECK(got->fds[i].name == "fd" + std::to_string(i));
			CHECK(test::same_file(got->fds[i].fd.get(), p.fds[i].fd.get()));
		}
		CHECK(got->state == p.state);
	}
	CHECK(test::open_fds() == base);
}

TEST_CASE("an empty parcel is one datagram")
{
	auto d = encode_parcel(Parcel{}, 1);
	REQUIRE(d);
	CHECK(d->size() == 1);
	auto p = decode_parcel(as_received(*d));
	REQUIRE(p);
	CHECK(p->fds.empty());
	CHECK(p->state.empty());
}

TEST_CASE("fd names are those $LISTEN_FDNAMES allows")
{
	CHECK(check_name("http"));
	CHECK(check_name(std::string(255, 'a')));
	CHECK_FALSE(check_name(""));
	CHECK_FALSE(check_name(std::string(256, 'a')));
	CHECK_FALSE(check_name("a:b"));
	CHECK_FALSE(check_name("tab\there"));
	CHECK_FALSE(check_name("\x80"));

	Parcel p = sample(1, 0);
	p.fds[0].name = "bad:name";
	auto d = encode_parcel(p, 1);
	REQUIRE_FALSE(d);
	CHECK(d.error().message.find("without ':'") != std::string::npos);
}

// Each way a parcel can be malformed, applied to a valid 2-datagram parcel
// (300 fds): an error that says so, and every fd closed.
TEST_CASE("malformed parcels are refused and leak no fd")
{
	struct Variant {
		const char *name;
		std::function<void(std::vector<Message> &)> mutate;
		const char *says;
	};
	const std::vector<Variant> variants = {
		{"no datagram", [](auto &m) { m.clear(); }, "no datagram"},
		{"bad magic", [](auto &m) { m[0].data[0] = std::byte{'X'}; }, "no PUDS magic"},
		{"newer version", [](auto &m) { set(m[0].data, h::version, 2); }, "wire version 2"},
		{"header length", [](auto &m) { set(m[0].data, h::header_size, 41); },
		 "header of 41 bytes"},
		{"short datagram", [](auto &m) { m[1].data.resize(20); }, "shorter than the 40-byte"},
		{"payload length", [](auto &m) { m[0].data.push_back(std::byte{0}); }, "payload length"},
		{"fd missing", [](auto &m) { m[0].fds.pop_back(); }, "fds, 252 came with it"},
		{"datagram missing", [](auto &m) { m.pop_back(); }, "1 datagrams of 2"},
		{"datagrams swapped", [](auto &m) { std::swap(m[0], m[1]); }, "where 0 was due"},
		{"another parcel", [](auto &m) { set(m[1].data, h::id, 0x55); }, "another parcel"},
		{"fd index", [](auto &m) { set(m[1].data, h::fd_index, 7); }, "out of order"},
		{"names count", [](auto &m) { put_payload32(m[0].data, 0, 299); }, "names table"},
		{"name past the end", [](auto &m) {
			m[0].data.resize(kParcelHeaderSize + 100);
			set(m[0].data, h::payload_size, 100);
		}, "runs past the payload"},
		// The first name, "fd0", after the names count and its u16 length.
		{"name with ':'", [](auto &m) { m[0].data[kParcelHeaderSize + 6] = std::byte{':'}; },
		 "without ':'"},
		{"trailing bytes", [](auto &m) {
			m[1].data.push_back(std::byte{0});
			set(m[1].data, h::payload_size, m[1].data.size() - kParcelHeaderSize);
		}, "bytes after the state"},
	};

	Parcel p = sample(300, 16);
	auto enc = encode_parcel(p, 99);
	REQUIRE(enc);
	REQUIRE(enc->size() == 2);
	int base = test::open_fds();

	for (const auto &v : variants) {
		DYNAMIC_SECTION(v.name) {
			{
				auto msgs = as_received(*enc);
				v.mutate(msgs);
				auto got = decode_parcel(std::move(msgs));
				REQUIRE_FALSE(got);
				CHECK(got.error().message.find(v.says) != std::string::npos);
			}
			CHECK(test::open_fds() == base);
		}
	}
}

TEST_CASE("a truncated parcel on a socket is an error, not a hang")
{
	auto [a, b] = test::socketpair(SOCK_DGRAM);
	Parcel p = sample(300, 0);
	auto enc = encode_parcel(p, 5);
	REQUIRE(enc);
	REQUIRE(send_message(a.get(), (*enc)[0].data, (*enc)[0].fds));
	int base = test::open_fds();
	{
		auto got = recv_parcel(b.get());
		REQUIRE_FALSE(got);
		CHECK(got.error().message.find("datagram 1 of 2 missing") != std::string::npos);
	}
	CHECK(test::open_fds() == base);
}

TEST_CASE("the header table describes what the writer writes and the readers read")
{
	Parcel p = sample(300, 40000);
	auto enc = encode_parcel(p, 0x1122334455667788);
	REQUIRE(enc);
	REQUIRE(enc->size() == 2);
	const auto &d = (*enc)[1].data;

	CHECK(std::memcmp(d.data() + h::magic.offset, "PUDS", h::magic.size) == 0);
	CHECK(read_field(d, h::version) == kParcelVersion);
	CHECK(read_field(d, h::header_size) == kParcelHeaderSize);
	CHECK(read_field(d, h::id) == 0x1122334455667788);
	CHECK(read_field(d, h::seq) == 1);
	CHECK(read_field(d, h::count) == 2);
	CHECK(read_field(d, h::nfds_total) == 300);
	CHECK(read_field(d, h::fd_index) == kMaxFdsPerMessage);
	CHECK(read_field(d, h::nfds) == 300 - kMaxFdsPerMessage);
	CHECK(read_field(d, h::payload_size) == d.size() - kParcelHeaderSize);

	auto pos = parcel_position(d);
	REQUIRE(pos);
	CHECK(pos->id == 0x1122334455667788);
	CHECK(pos->seq == 1);
	CHECK(pos->count == 2);

	// Each field on its own: a write shows in that field and no other.
	for (const auto &f : h::all) {
		std::vector<std::byte> copy = d;
		write_field(copy, f, 0xA5A5A5A5A5A5A5A5);
		for (const auto &g : h::all)
			if (&g != &f)
				CHECK(read_field(copy, g) == read_field(d, g));
	}
	// And a header too short for the table is no parcel.
	CHECK_FALSE(parcel_position(std::span(d).first(kParcelHeaderSize - 1)));
}
