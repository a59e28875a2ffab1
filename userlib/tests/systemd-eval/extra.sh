#!/usr/bin/env bash
# Files make eval-systemd's guest program needs besides itself, as lines of
# "<path in the guest> <path here> [mode]" for qemu/mkinitramfs.sh: the
# `puds` command (the puds-run anchor).  The servers and systemd come from
# Debian's packages (qemu/systemd/mkroot.py, the Makefile's
# SD_EVAL_PACKAGES); anchors_eval writes the units and configs itself.
#   extra.sh WORKDIR   (WORKDIR: userlib's CMake build directory)
set -euo pipefail
work=$1
cmake --build "$work" -j"$(nproc)" --target puds_cmd >/dev/null
echo "/usr/bin/puds $work/puds"
