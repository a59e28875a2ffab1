// SPDX-License-Identifier: LGPL-2.1-or-later
// What the real-systemd guest's programs share (tests/systemd,
// tests/systemd-eval): systemctl, a unit's properties, PID 1's name.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "guest_util.hpp"

namespace guest {

// systemctl ARGS...: its exit status; its standard output goes to @out
// when given (trailing newlines cut), else to ours, as its messages do.
inline int systemctl(std::vector<std::string> args, std::string *out = nullptr)
{
	int pipefd[2];
	if (out && pipe(pipefd))
		return -1;
	std::fflush(stdout);
	pid_t pid = fork();
	if (!pid) {
		std::vector<char *> argv{const_cast<char *>("systemctl")};
		for (auto &a : args)
			argv.push_back(a.data());
		argv.push_back(nullptr);
		if (out) {
			dup2(pipefd[1], 1);
			close(pipefd[0]);
		}
		execv("/bin/systemctl", argv.data());
		_exit(127);
	}
	if (out) {
		close(pipefd[1]);
		char buf[256];
		ssize_t n;
		while ((n = read(pipefd[0], buf, sizeof(buf))) > 0)
			out->append(buf, n);
		close(pipefd[0]);
		while (!out->empty() && out->back() == '\n')
			out->pop_back();
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// `systemctl show -P @name @unit`: the property's value ("" if unknown).
inline std::string property(const std::string &unit, const char *name)
{
	std::string v;
	systemctl({"show", "-P", name, unit}, &v);
	return v;
}

// Bails out (TAP) unless systemd is PID 1; returns the first line of
// `systemctl --version`, e.g. "systemd 252 (252.39-1~deb12u2)".
inline std::string require_systemd()
{
	std::string pid1 = read_file("/proc/1/comm");
	if (pid1 != "systemd\n")
		tap_bail("PID 1 is \"%s\", not systemd: run me in the real-systemd guest",
			 pid1.c_str());
	std::string version;
	systemctl({"--version"}, &version);
	return version.substr(0, version.find('\n'));
}

} // namespace guest
