// SPDX-License-Identifier: LGPL-2.1-or-later
// libFuzzer target for the parcel decoder.  The input is a list of
// datagrams as a receiver would get them:
//
//   u8 count, then per datagram: u16 length (LE), u8 number of fds (0..8),
//   then that many bytes
//
// Each datagram gets real fds (of /dev/null).  Whatever the input,
// decode_parcel() must not crash (ASan, UBSan), and once its result is gone
// every one of those fds must be closed: none leaks, on any path.
//
// PUDS_FUZZ_SEEDS=DIR writes valid parcels in this format to DIR and exits.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "puds/parcel.hpp"

using namespace puds;

namespace {

void write_seed(const std::string &path, const std::vector<Datagram> &dgrams)
{
	std::ofstream f(path, std::ios::binary);

	f.put(static_cast<char>(dgrams.size()));
	for (const auto &d : dgrams) {
		f.put(static_cast<char>(d.data.size() & 0xff));
		f.put(static_cast<char>(d.data.size() >> 8));
		f.put(static_cast<char>(std::min<std::size_t>(d.fds.size(), 8)));
		f.write(reinterpret_cast<const char *>(d.data.data()), d.data.size());
	}
}

void write_seeds(const char *dir)
{
	const std::size_t shapes[][2] = {{0, 0}, {1, 0}, {2, 5}, {3, 40}, {8, 300}};
	int n = 0;

	for (const auto &s : shapes) {
		Parcel p;
		for (std::size_t i = 0; i < s[0]; i++)
			p.fds.push_back({"fd" + std::to_string(i), Fd::adopt(::open("/dev/null", O_RDONLY))});
		p.state.assign(s[1], std::byte{'s'});
		auto d = encode_parcel(p, 1234 + n);
		if (d)
			write_seed(std::string(dir) + "/seed" + std::to_string(n++), *d);
	}
	std::exit(0);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
	if (const char *dir = std::getenv("PUDS_FUZZ_SEEDS"))
		write_seeds(dir);
	return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	std::vector<int> made;

	std::size_t pos = 0;
	if (size < 1)
		return 0;
	std::size_t count = data[pos++] % 5;
	std::vector<Message> msgs;
	for (std::size_t i = 0; i < count && pos + 3 <= size; i++) {
		std::size_t len = data[pos] | (data[pos + 1] << 8);
		std::size_t nfds = data[pos + 2] % 9;
		pos += 3;
		len = std::min(len, size - pos);
		Message m;
		m.data.assign(reinterpret_cast<const std::byte *>(data + pos),
			      reinterpret_cast<const std::byte *>(data + pos + len));
		pos += len;
		for (std::size_t k = 0; k < nfds; k++) {
			m.fds.push_back(Fd::adopt(::open("/dev/null", O_RDONLY | O_CLOEXEC)));
			made.push_back(m.fds.back().get());
		}
		msgs.push_back(std::move(m));
	}
	{
		auto p = decode_parcel(std::move(msgs));
		if (p && p->fds.size() > kMaxParcelFds)
			std::abort();
	}
	for (int fd : made) {
		if (::fcntl(fd, F_GETFD) >= 0) {
			std::fprintf(stderr, "parcel_fuzz: fd %d leaked\n", fd);
			std::abort();
		}
	}
	return 0;
}
