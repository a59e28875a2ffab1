// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

namespace puds {

// The `puds` command line; its exit status.
int puds_main(int argc, char **argv);

} // namespace puds
