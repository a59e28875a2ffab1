// SPDX-License-Identifier: LGPL-2.1-or-later
// The pieces of the `puds` command that check its input, each testable on
// its own: numbers, systemd's socket-activation variables, the park
// directory, the server program.  All of them run before anything is bound
// or the kernel is asked for its feature.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "puds/error.hpp"
#include "puds/fd.hpp"
#include "puds/listener.hpp"
#include "puds/parcel.hpp"

namespace puds::cli {

inline constexpr int kListenFdsStart = 3;	// SD_LISTEN_FDS_START
inline constexpr int kDefaultDelayMs = 10000;
inline constexpr int kMaxDelayMs = 3600000;	// the most net.unix.delay_close_max_ms can be

// The whole of @text as a decimal integer from @min to @max
// (std::from_chars: digits after an optional '-', nothing else: no
// spaces, no '+', no base prefix).  The error quotes @what and @text and
// gives the range.
Result<long long> parse_integer(std::string_view what, std::string_view text, long long min,
				long long max);

// --delay's value: milliseconds, 1 to kMaxDelayMs.
Result<int> parse_delay(std::string_view text);

// How many fds the service manager passed to process @self, read from
// $LISTEN_PID and $LISTEN_FDS (nullptr: unset) as sd_listen_fds(3) reads
// them: 0 if LISTEN_PID or LISTEN_FDS is unset or LISTEN_PID is another
// process's (not for us); an error if either is malformed (LISTEN_FDS of
// 0 included, as sd_listen_fds() says -EINVAL).
Result<int> listen_fds_count(const char *listen_pid, const char *listen_fds, pid_t self);

// The names of @count passed fds from $LISTEN_FDNAMES (nullptr: unset),
// in order, repeats kept (a socket unit names every fd of it after
// itself): "unknown" for an fd without one (LISTEN_FDNAMES unset, shorter
// than LISTEN_FDS, or an empty name).  More names than fds is an error.
Result<std::vector<std::string>> listen_fds_names(const char *listen_fdnames, int count);

// The fds systemd passed to this process, from @first (fds @first,
// @first+1, ...), as sd_listen_fds_with_names(3) takes them: every one
// kept, under its name, moved above fd 100 with close-on-exec (fds
// @first... are closed, free for the server's listeners).  LISTEN_PID,
// LISTEN_FDS and LISTEN_FDNAMES are unset in every case.  An error if
// they are malformed or name an fd that is not open; no fd is taken then.
Result<std::vector<NamedFd>> take_listen_fds(int first = kListenFdsStart);

struct Listen {
	std::string name;
	Address addr;
};

// Which of @given (systemd's fds) serves which of @listens: one entry per
// --listen, an empty Fd where none does.  By name first (of the fds named
// as the --listen, one bound to its address: a socket unit gives all its
// fds one name), then by address (check_listener) among the fds left.
// What matched is taken out of @given; what is left matches nothing.  An
// error if an fd named as a --listen is bound to another address and no fd
// matched that --listen: systemd's socket and the --listen disagree.
Result<std::vector<Fd>> match_listen_fds(std::vector<NamedFd> &given,
					 const std::vector<Listen> &listens);

// `puds run`'s command line (@argv[0] "puds", @argv[1] "run").
struct RunOptions {
	bool help = false;		// --help: nothing else was read
	std::string park;
	std::vector<Listen> listens;	// in order, each name once
	int delay_ms = kDefaultDelayMs;
	bool nginx = false;
	std::vector<std::string> server_argv;	// after "--": at least the server
};

// Read `puds run ...`: an error (a usage error: what is wrong and what to
// write instead) for an unknown option, an option without its value, a
// malformed --listen or --delay, a --listen name given twice, a --park
// too long for a socket's path, or what is missing of --park, --listen
// and "-- SERVER".  Looks at nothing but @argv.
Result<RunOptions> parse_run_options(int argc, char **argv);

// What systemd passed (take_listen_fds) matched to @listens
// (match_listen_fds): an fd or an empty Fd per --listen, and the names of
// the fds that matched none (closed).
struct SystemdFds {
	std::vector<Fd> for_listen;
	std::vector<std::string> unmatched;
};
Result<SystemdFds> take_systemd_fds(const std::vector<Listen> &listens,
				    int first = kListenFdsStart);

// Before exec: @listeners become fds @first, @first+1, ... in order,
// without close-on-exec (whatever held those numbers is closed), and a
// copy of @rendezvous, without close-on-exec, is made above them (with
// room for 64 fds the server opens first); its number is returned.
Result<int> renumber_for_exec(std::vector<Fd> listeners, int rendezvous,
			      int first = kListenFdsStart);

// The park directory (the directory of @park) must not let anyone else
// reach the rendezvous: sending to a socket needs search permission on
// its directory.  "" if its mode is 0700 (nothing for group and others);
// else a warning that says what to run.  An error if it does not exist or
// is not a directory.
Result<std::string> check_park_dir(const std::string &park);

// The program that execv() is to run for @name: @name itself if it has a
// '/', else the first executable regular file @name in the directories of
// @path ($PATH; nullptr: unset, "/bin:/usr/bin" as execvp() takes it).  The
// error says what was looked for, and where.
Result<std::string> find_program(const std::string &name, const char *path);

} // namespace puds::cli
