// SPDX-License-Identifier: LGPL-2.1-or-later
// A parcel: what a server hands to its next incarnation.  Named fds (names
// as in $LISTEN_FDNAMES: listeners, established connections, anything)
// plus an opaque state blob, in a versioned, length-checked wire format
// that spans as many datagrams as the fds and the bytes need.
//
// Wire format, version 1.  A parcel is 1..n datagrams; each starts with a
// 40-byte header (parcel_header below: offsets and sizes), all integers
// little-endian:
//
//   0  magic "PUDS"          16  seq (0..count-1)     32  nfds in this datagram
//   4  u16 version (1)       20  count of datagrams   36  payload bytes
//   6  u16 header bytes (40) 24  nfds of the parcel   40  payload ...
//   8  u64 parcel id         28  index of the first fd of this datagram
//
// The payloads, joined in seq order, are: u32 number of names (= nfds of
// the parcel), each name as u16 length + bytes, then u32 state length +
// state bytes, and nothing after.  The fds ride as SCM_RIGHTS, at most
// kMaxFdsPerMessage per datagram, in parcel order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "puds/error.hpp"
#include "puds/fd.hpp"
#include "puds/scm.hpp"

namespace puds {

inline constexpr std::uint16_t kParcelVersion = 1;
inline constexpr std::size_t kParcelHeaderSize = 40;
inline constexpr std::size_t kMaxNameLength = 255;		// as systemd's FDNAME_MAX
inline constexpr std::size_t kMaxPayloadPerMessage = 32 * 1024;
inline constexpr std::size_t kMaxStateSize = 16 * 1024 * 1024;
inline constexpr std::size_t kMaxParcelFds = 65536;

// The header, field by field: the one table that the writer, the reader,
// parcel_position() and the tests use.
struct HeaderField {
	std::uint16_t offset, size;	// bytes
};

namespace parcel_header {
inline constexpr HeaderField magic{0, 4};		// "PUDS"
inline constexpr HeaderField version{4, 2};		// kParcelVersion
inline constexpr HeaderField header_size{6, 2};	// kParcelHeaderSize
inline constexpr HeaderField id{8, 8};			// the parcel's, random
inline constexpr HeaderField seq{16, 4};		// this datagram's, 0..count-1
inline constexpr HeaderField count{20, 4};		// datagrams of the parcel
inline constexpr HeaderField nfds_total{24, 4};	// fds of the parcel
inline constexpr HeaderField fd_index{28, 4};		// its first fd's index in the parcel
inline constexpr HeaderField nfds{32, 4};		// fds of this datagram
inline constexpr HeaderField payload_size{36, 4};	// bytes after the header
inline constexpr HeaderField all[] = {magic, version, header_size, id, seq, count,
				      nfds_total, fd_index, nfds, payload_size};

// Each field where the one before it ends, the last where the header ends.
constexpr bool contiguous()
{
	std::size_t at = 0;
	for (const auto &f : all) {
		if (f.offset != at)
			return false;
		at += f.size;
	}
	return at == kParcelHeaderSize;
}
static_assert(contiguous(), "the parcel header's fields must tile its 40 bytes");
} // namespace parcel_header

// Field @f of the header at the start of @d (which is at least
// kParcelHeaderSize bytes), little-endian.
inline std::uint64_t read_field(std::span<const std::byte> d, HeaderField f)
{
	std::uint64_t v = 0;

	for (int i = 0; i < f.size; i++)
		v |= std::uint64_t(d[f.offset + i]) << (8 * i);
	return v;
}

inline void write_field(std::span<std::byte> d, HeaderField f, std::uint64_t v)
{
	for (int i = 0; i < f.size; i++)
		d[f.offset + i] = std::byte(v >> (8 * i));
}

struct NamedFd {
	std::string name;
	Fd fd;
};

struct Parcel {
	std::vector<NamedFd> fds;
	std::vector<std::byte> state;
};

// A name as $LISTEN_FDNAMES allows it: 1 to 255 printable ASCII
// characters, no ':'.
Status check_name(std::string_view name);

// One datagram of an encoded parcel; the fds are borrowed from the parcel.
struct Datagram {
	std::vector<std::byte> data;
	std::vector<int> fds;
};

// Encode @p as the datagrams that carry it.
Result<std::vector<Datagram>> encode_parcel(const Parcel &p, std::uint64_t id);

// Where @d sits in a parcel, read from its header without checking the
// rest: for a reader that groups the datagrams of a queue into parcels.
// Empty if @d does not start with a parcel header at all.
struct ParcelPosition {
	std::uint64_t id;
	std::uint32_t seq, count;
};
std::optional<ParcelPosition> parcel_position(std::span<const std::byte> d);

// Where the newest complete parcel of a queue is: @queue holds the
// position of each datagram queued, oldest first (nullopt for one that is
// not a parcel's).  A crash in the middle of park() leaves an older
// complete parcel before it, or a partial one after it; neither is the
// answer.  Empty if no parcel is whole.
struct ParcelExtent {
	std::size_t first, count;	// datagrams [first, first + count)
};
std::optional<ParcelExtent>
newest_complete_parcel(std::span<const std::optional<ParcelPosition>> queue);

// Check @msgs as the datagrams of one parcel and build it, taking their fds.
// Any malformed input is an error that says what was wrong; every fd of
// @msgs is then closed with them, none leaks.
Result<Parcel> decode_parcel(std::vector<Message> msgs);

// Send @p to the datagram socket at @dest (or the connected peer); the
// number of datagrams it took.
Result<std::size_t> send_parcel(int sock, const Parcel &p, const std::string &dest = {});

// Receive the datagrams of one parcel from @sock and decode it.  @flags as
// for recvmsg (MSG_DONTWAIT applies to the first datagram only: the rest of
// a parcel is always queued with it).
Result<Parcel> recv_parcel(int sock, int flags = 0);

} // namespace puds
