// SPDX-License-Identifier: LGPL-2.1-or-later
// How the guest programs run Debian's unmodified servers (lighttpd 1.4.69,
// nginx 1.22.1, haproxy 2.6.12): each one's config, written to
// @dir/server.conf, and its arguments.  Each serves on 127.0.0.1:@port and
// logs into @dir; lighttpd and nginx serve @root/index.html, haproxy
// answers @page itself (`http-request return`, no backend).
#pragma once

#include <string>
#include <vector>

namespace guest {

// @inherit: lighttpd takes its listener from LISTEN_FDS (systemd's socket
// activation, puds run) instead of binding; run with -D.
inline std::string lighttpd_conf(const std::string &dir, const std::string &root, int port,
				 bool inherit)
{
	return "server.document-root = \"" + root + "\"\n"
	       "server.bind = \"127.0.0.1\"\n"
	       "server.port = " + std::to_string(port) + "\n" +
	       (inherit ? "server.systemd-socket-activation = \"enable\"\n" : "") +
	       "server.errorlog = \"" + dir + "/error.log\"\n"
	       "server.modules = ()\n"
	       "index-file.names = ( \"index.html\" )\n";
}

inline std::vector<std::string> lighttpd_args(const std::string &dir)
{
	return {"-D", "-f", dir + "/server.conf"};
}

// Daemon off, master process on (with master_process off, nginx 1.22.1
// crashes on inherited sockets).  It binds 127.0.0.1:@port itself unless
// NGINX="3;" passes it a listener of that address.
inline std::string nginx_conf(const std::string &dir, const std::string &root, int port)
{
	return "daemon off;\n"
	       "error_log " + dir + "/error.log;\npid " + dir + "/nginx.pid;\n"
	       "events { worker_connections 512; }\n"
	       "http {\n access_log off;\n"
	       " client_body_temp_path " + dir + "/t1; proxy_temp_path " + dir + "/t2;\n"
	       " fastcgi_temp_path " + dir + "/t3; uwsgi_temp_path " + dir + "/t4;\n"
	       " scgi_temp_path " + dir + "/t5;\n"
	       " server { listen 127.0.0.1:" + std::to_string(port) + "; root " + root + "; }\n}\n";
}

inline std::vector<std::string> nginx_args(const std::string &dir)
{
	return {"-p", dir, "-c", dir + "/server.conf", "-e", dir + "/error.log"};
}

// @bind: "fd@3" (the listener it is given) or an address to bind.
inline std::string haproxy_conf(const std::string &bind, const std::string &page)
{
	return "global\n maxconn 512\n"
	       "defaults\n mode http\n timeout connect 5s\n timeout client 10s\n"
	       " timeout server 10s\n"
	       "frontend http\n bind " + bind + "\n"
	       " http-request return status 200 content-type text/html string \"" + page + "\\n\"\n";
}

// Master-worker mode (-W) in the foreground (-db).
inline std::vector<std::string> haproxy_args(const std::string &dir)
{
	return {"-W", "-db", "-f", dir + "/server.conf"};
}

} // namespace guest
