// SPDX-License-Identifier: LGPL-2.1-or-later
#include "puds/parcel.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <random>

namespace puds {

namespace {

struct Header {
	std::uint64_t id;
	std::uint32_t seq, count, nfds_total, fd_index, nfds, payload_len;
};

// Little-endian stores into memory already sized for them.
std::byte *put(std::byte *at, std::uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		at[i] = std::byte(v >> (8 * i));
	return at + bytes;
}

bool has_magic(std::span<const std::byte> d)
{
	return !std::memcmp(d.data() + parcel_header::magic.offset, "PUDS",
			    parcel_header::magic.size);
}

std::uint64_t get(std::span<const std::byte> b, std::size_t off, int bytes)
{
	std::uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v |= std::uint64_t(b[off + i]) << (8 * i);
	return v;
}

// Reads the joined payload, never past its end.
class Reader {
public:
	explicit Reader(std::span<const std::byte> b) : b_(b) {}

	bool take(std::size_t n, std::span<const std::byte> &out)
	{
		if (b_.size() - pos_ < n)
			return false;
		out = b_.subspan(pos_, n);
		pos_ += n;
		return true;
	}

	bool u16(std::uint16_t &v)
	{
		std::span<const std::byte> s;

		if (!take(2, s))
			return false;
		v = static_cast<std::uint16_t>(get(s, 0, 2));
		return true;
	}

	bool u32(std::uint32_t &v)
	{
		std::span<const std::byte> s;

		if (!take(4, s))
			return false;
		v = static_cast<std::uint32_t>(get(s, 0, 4));
		return true;
	}

	std::size_t left() const { return b_.size() - pos_; }

private:
	std::span<const std::byte> b_;
	std::size_t pos_ = 0;
};

Error malformed(const std::string &what)
{
	return Error(std::errc::bad_message, "malformed parcel: " + what);
}

Result<Header> parse_header(std::span<const std::byte> d, std::size_t nfds_attached)
{
	if (d.size() < kParcelHeaderSize)
		return malformed("a datagram of " + std::to_string(d.size()) +
				 " bytes, shorter than the " +
				 std::to_string(kParcelHeaderSize) + "-byte header");
	if (!has_magic(d))
		return malformed("no PUDS magic: not a parcel");
	auto version = read_field(d, parcel_header::version);
	auto hlen = read_field(d, parcel_header::header_size);
	if (version != kParcelVersion)
		return Error(std::errc::protocol_not_supported,
			     "parcel of wire version " + std::to_string(version) +
			     ", this library reads version " +
			     std::to_string(kParcelVersion));
	if (hlen != kParcelHeaderSize)
		return malformed("header of " + std::to_string(hlen) + " bytes");
	auto u32 = [&](HeaderField f) { return static_cast<std::uint32_t>(read_field(d, f)); };
	namespace h_ = parcel_header;
	Header h{read_field(d, h_::id), u32(h_::seq), u32(h_::count), u32(h_::nfds_total),
		 u32(h_::fd_index), u32(h_::nfds), u32(h_::payload_size)};
	if (h.payload_len != d.size() - kParcelHeaderSize)
		return malformed("payload length " + std::to_string(h.payload_len) +
				 " in a datagram carrying " +
				 std::to_string(d.size() - kParcelHeaderSize));
	if (h.nfds != nfds_attached)
		return malformed("header says " + std::to_string(h.nfds) + " fds, " +
				 std::to_string(nfds_attached) + " came with it");
	if (h.count == 0 || h.seq >= h.count)
		return malformed("datagram " + std::to_string(h.seq) + " of " +
				 std::to_string(h.count));
	if (h.nfds_total > kMaxParcelFds)
		return malformed(std::to_string(h.nfds_total) + " fds, at most " +
				 std::to_string(kMaxParcelFds));
	return h;
}

} // namespace

std::optional<ParcelPosition> parcel_position(std::span<const std::byte> d)
{
	if (d.size() < kParcelHeaderSize || !has_magic(d))
		return std::nullopt;
	return ParcelPosition{read_field(d, parcel_header::id),
			      static_cast<std::uint32_t>(read_field(d, parcel_header::seq)),
			      static_cast<std::uint32_t>(read_field(d, parcel_header::count))};
}

std::optional<ParcelExtent>
newest_complete_parcel(std::span<const std::optional<ParcelPosition>> queue)
{
	std::optional<ParcelExtent> best;

	for (std::size_t i = 0; i < queue.size();) {
		const auto &first = queue[i];
		if (!first || first->seq != 0) {
			i++;
			continue;
		}
		std::uint32_t k = 1;
		for (; k < first->count && i + k < queue.size(); k++) {
			const auto &next = queue[i + k];
			if (!next || next->id != first->id || next->seq != k)
				break;
		}
		if (k == first->count)
			best = ParcelExtent{i, k};
		i += k;
	}
	return best;
}

namespace {

// The test of check_name(), without building an error: the hot path.
bool valid_name(std::string_view name)
{
	if (name.empty() || name.size() > kMaxNameLength)
		return false;
	for (char c : name)
		if (c < 0x20 || c > 0x7e || c == ':')
			return false;
	return true;
}

} // namespace

Status check_name(std::string_view name)
{
	if (valid_name(name))
		return Ok{};
	if (name.empty() || name.size() > kMaxNameLength)
		return Error::invalid("fd name \"" + std::string(name.substr(0, 64)) +
				      "\": 1 to " + std::to_string(kMaxNameLength) +
				      " characters");
	// Its length is right, so a character is not.
	return Error::invalid("fd name \"" + std::string(name) +
			      "\": printable ASCII without ':' only");
}

namespace {

Status check_parcel(const Parcel &p)
{
	if (p.fds.size() > kMaxParcelFds)
		return Error::invalid(std::to_string(p.fds.size()) + " fds in a parcel, at most " +
				      std::to_string(kMaxParcelFds));
	if (p.state.size() > kMaxStateSize)
		return Error::invalid("state of " + std::to_string(p.state.size()) +
				      " bytes, at most " + std::to_string(kMaxStateSize));
	for (const auto &nf : p.fds) {
		if (!valid_name(nf.name))
			PUDS_TRY(check_name(nf.name));
		if (!nf.fd)
			return Error(std::errc::bad_file_descriptor,
				     "fd \"" + nf.name + "\" is not open");
	}
	return Ok{};
}

// The payload: the names table, then the state.
std::size_t payload_size(const Parcel &p)
{
	std::size_t n = 4 + 4 + p.state.size();

	for (const auto &nf : p.fds)
		n += 2 + nf.name.size();
	return n;
}

// Also copies each fd number to @fds, when given, in the same pass.
std::byte *write_payload(std::byte *at, const Parcel &p, int *fds = nullptr)
{
	at = put(at, p.fds.size(), 4);
	for (const auto &nf : p.fds) {
		at = put(at, nf.name.size(), 2);
		std::memcpy(at, nf.name.data(), nf.name.size());
		at += nf.name.size();
		if (fds)
			*fds++ = nf.fd.get();
	}
	at = put(at, p.state.size(), 4);
	if (!p.state.empty())
		std::memcpy(at, p.state.data(), p.state.size());
	return at + p.state.size();
}

void write_header(std::byte *at, std::uint64_t id, std::size_t seq, std::size_t count,
		  std::size_t nfds_total, std::size_t fd_pos, std::size_t nfds, std::size_t nbytes)
{
	namespace h = parcel_header;
	std::span<std::byte> d(at, kParcelHeaderSize);

	std::memcpy(at + h::magic.offset, "PUDS", h::magic.size);
	write_field(d, h::version, kParcelVersion);
	write_field(d, h::header_size, kParcelHeaderSize);
	write_field(d, h::id, id);
	write_field(d, h::seq, seq);
	write_field(d, h::count, count);
	write_field(d, h::nfds_total, nfds_total);
	write_field(d, h::fd_index, fd_pos);
	write_field(d, h::nfds, nfds);
	write_field(d, h::payload_size, nbytes);
}

bool fits_one_datagram(const Parcel &p, std::size_t payload)
{
	return p.fds.size() <= kMaxFdsPerMessage && payload <= kMaxPayloadPerMessage;
}

} // namespace

Result<std::vector<Datagram>> encode_parcel(const Parcel &p, std::uint64_t id)
{
	PUDS_TRY(check_parcel(p));

	std::size_t size = payload_size(p);
	std::vector<std::byte> payload(size);
	write_payload(payload.data(), p);

	std::size_t by_fds = (p.fds.size() + kMaxFdsPerMessage - 1) / kMaxFdsPerMessage;
	std::size_t by_bytes = (size + kMaxPayloadPerMessage - 1) / kMaxPayloadPerMessage;
	std::size_t count = std::max<std::size_t>({1, by_fds, by_bytes});

	std::vector<Datagram> out(count);
	std::size_t fd_pos = 0, byte_pos = 0;
	for (std::size_t seq = 0; seq < count; seq++) {
		std::size_t nfds = std::min(kMaxFdsPerMessage, p.fds.size() - fd_pos);
		std::size_t nbytes = std::min(kMaxPayloadPerMessage, size - byte_pos);
		auto &d = out[seq].data;

		d.resize(kParcelHeaderSize + nbytes);
		write_header(d.data(), id, seq, count, p.fds.size(), fd_pos, nfds, nbytes);
		std::memcpy(d.data() + kParcelHeaderSize, payload.data() + byte_pos, nbytes);
		out[seq].fds.reserve(nfds);
		for (std::size_t i = 0; i < nfds; i++)
			out[seq].fds.push_back(p.fds[fd_pos + i].fd.get());
		fd_pos += nfds;
		byte_pos += nbytes;
	}
	return out;
}

namespace {

// One datagram of a parcel, wherever its bytes are; its fds move out.
struct View {
	std::span<const std::byte> data;
	std::span<Fd> fds;
};

Result<Parcel> decode_views(std::span<const View> msgs)
{
	if (msgs.empty())
		return malformed("no datagram");

	// The fds stay in @msgs until the names are read: each moves once.
	std::vector<std::byte> payload;
	Header first{};
	std::size_t nfds = 0, total_bytes = 0;
	for (const auto &m : msgs)
		total_bytes += m.data.size();
	// One datagram, the common case: its payload is read in place.
	if (msgs.size() > 1)
		payload.reserve(total_bytes);
	for (std::size_t i = 0; i < msgs.size(); i++) {
		Header h = PUDS_TRY(parse_header(msgs[i].data, msgs[i].fds.size()));
		if (i == 0)
			first = h;
		if (h.id != first.id || h.count != first.count ||
		    h.nfds_total != first.nfds_total)
			return malformed("datagram " + std::to_string(i) +
					 " belongs to another parcel");
		if (h.seq != i)
			return malformed("datagram " + std::to_string(h.seq) + " where " +
					 std::to_string(i) + " was due");
		if (h.fd_index != nfds || nfds + h.nfds > first.nfds_total)
			return malformed("fds " + std::to_string(h.fd_index) + ".." +
					 std::to_string(h.fd_index + h.nfds) +
					 " out of order or beyond the parcel's " +
					 std::to_string(first.nfds_total));
		nfds += h.nfds;
		if (msgs.size() > 1)
			payload.insert(payload.end(), msgs[i].data.begin() + kParcelHeaderSize,
				       msgs[i].data.end());
	}
	if (msgs.size() != first.count)
		return malformed(std::to_string(msgs.size()) + " datagrams of " +
				 std::to_string(first.count));
	if (nfds != first.nfds_total)
		return malformed(std::to_string(nfds) + " fds of " +
				 std::to_string(first.nfds_total));

	Reader r(msgs.size() > 1 ? std::span<const std::byte>(payload)
				  : msgs[0].data.subspan(kParcelHeaderSize));
	std::uint32_t nnames, state_len;
	if (!r.u32(nnames) || nnames != first.nfds_total)
		return malformed("names table does not match the " +
				 std::to_string(first.nfds_total) + " fds");
	Parcel p;
	p.fds.reserve(nnames);
	std::size_t msg = 0, at = 0;
	for (std::uint32_t i = 0; i < nnames; i++) {
		std::uint16_t len;
		std::span<const std::byte> s;

		if (!r.u16(len) || !r.take(len, s))
			return malformed("name " + std::to_string(i) + " runs past the payload");
		std::string_view name(reinterpret_cast<const char *>(s.data()), s.size());
		if (!valid_name(name))
			return malformed(check_name(name).error().message);
		while (at == msgs[msg].fds.size()) {
			msg++;
			at = 0;
		}
		p.fds.push_back({std::string(name), std::move(msgs[msg].fds[at++])});
	}
	std::span<const std::byte> state;
	if (!r.u32(state_len) || state_len > kMaxStateSize || !r.take(state_len, state))
		return malformed("state length does not match the payload");
	if (r.left())
		return malformed(std::to_string(r.left()) + " bytes after the state");
	p.state.assign(state.begin(), state.end());
	return p;
}

} // namespace

Result<Parcel> decode_parcel(std::vector<Message> msgs)
{
	std::vector<View> views;

	views.reserve(msgs.size());
	for (auto &m : msgs)
		views.push_back({m.data, m.fds});
	return decode_views(views);
}

Result<std::size_t> send_parcel(int sock, const Parcel &p, const std::string &dest)
{
	static thread_local std::mt19937_64 rng{std::random_device{}()};
	std::size_t size = payload_size(p);

	// One datagram, the common case: written straight into a buffer of
	// this thread, with no copy and no allocation once it has grown.
	if (fits_one_datagram(p, size)) {
		static thread_local std::vector<std::byte> buf;
		int fds[kMaxFdsPerMessage];

		PUDS_TRY(check_parcel(p));
		buf.resize(kParcelHeaderSize + size);
		write_payload(buf.data() + kParcelHeaderSize, p, fds);
		write_header(buf.data(), rng(), 0, 1, p.fds.size(), 0, p.fds.size(), size);
		PUDS_TRY(send_message(sock, buf, std::span<const int>(fds, p.fds.size()), dest));
		return 1;
	}

	auto dgrams = PUDS_TRY(encode_parcel(p, rng()));
	for (const auto &d : dgrams)
		PUDS_TRY(send_message(sock, d.data, d.fds, dest));
	return dgrams.size();
}

Result<Parcel> recv_parcel(int sock, int flags)
{
	RecvOptions opt;
	opt.max_bytes = kParcelHeaderSize + kMaxPayloadPerMessage;
	opt.flags = flags;

	auto first = PUDS_TRY(recv_message_view(sock, opt));
	Header h = PUDS_TRY(parse_header(first.data, first.fds.size()));
	std::uint32_t count = h.count;

	// One datagram: decoded where recvmsg() put it.
	if (count == 1) {
		View v{first.data, first.fds};

		return decode_views(std::span<const View>(&v, 1));
	}

	std::vector<Message> msgs;
	msgs.reserve(count);
	msgs.push_back({{first.data.begin(), first.data.end()}, std::move(first.fds)});

	// The rest follows at once: a sender writes a parcel in one go.
	opt.flags = flags | MSG_DONTWAIT;
	for (std::uint32_t i = 1; i < count; i++) {
		auto next = recv_message(sock, opt);
		if (!next && next.error().code == std::errc::resource_unavailable_try_again) {
			pollfd pfd{sock, POLLIN, 0};

			if (::poll(&pfd, 1, 1000) == 1)
				next = recv_message(sock, opt);
		}
		if (!next)
			return malformed("datagram " + std::to_string(i) + " of " +
					 std::to_string(count) + " missing: " +
					 next.error().message);
		msgs.push_back(std::move(next).value());
	}
	return decode_parcel(std::move(msgs));
}

} // namespace puds
