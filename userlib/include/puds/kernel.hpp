// SPDX-License-Identifier: LGPL-2.1-or-later
// What the running kernel offers.
#pragma once

#include "puds/error.hpp"

namespace puds {

// Ok if the kernel has the UNIX_DELAY_CLOSE socket option (Linux with the
// puds patch series); otherwise one clear error, code
// operation_not_supported, that says so.  A kernel
// without it fails getsockopt(SOL_UNIX, ...) with EOPNOTSUPP on every
// AF_UNIX socket (ENOPROTOOPT from a later kernel that knows SOL_UNIX but
// not the option); a kernel with it returns 0 on a datagram socket.
Status check_kernel_feature();

} // namespace puds
