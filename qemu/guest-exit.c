// SPDX-License-Identifier: GPL-2.0
/*
 * guest-exit: end the QEMU guest with a status the host can read.
 *
 * QEMU's isa-debug-exit device (iobase 0xf4) exits QEMU with status
 * (value << 1) | 1 when a byte is written to its port.  A kernel panic with
 * panic=-1 -no-reboot ends QEMU with status 0, so the host runner tells a
 * finished guest (odd status) from a panicked one.  Needs
 * CONFIG_X86_IOPL_IOPERM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>

int main(int argc, char **argv)
{
	int value = argc > 1 ? atoi(argv[1]) : 0;

	if (ioperm(0xf4, 1, 1)) {
		perror("guest-exit: ioperm(0xf4)");
		return 1;
	}
	outb(value, 0xf4);
	/* Not reached when the device is present. */
	fprintf(stderr, "guest-exit: no isa-debug-exit device at 0xf4\n");
	return 1;
}
