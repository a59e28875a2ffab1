// SPDX-License-Identifier: LGPL-2.1-or-later
#include "puds_main.hpp"

int main(int argc, char **argv)
{
	return puds::puds_main(argc, argv);
}
