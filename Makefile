# puds: persistent UNIX domain sockets.  One Makefile for the kernel series,
# the guest image, the tests and the evaluation.  `make help` lists targets.
#
# Build outputs live only under build/:
#   build/linux        git tree: the Debian source kernel-patches/BASE names
#                      (scripts/kernel-source.sh) + kernel-patches/ (git am)
#   build/kbuild       the kernel's object tree (O=), .config from qemu/guest.config
#   build/guest-tests  statically linked kselftests of selftests/guest-suites
#   build/guest        initramfs, console logs
#   build/results      one JSON per step of the last `make check`

SHELL := /bin/bash
TOP := $(CURDIR)
B := $(TOP)/build
TREE := $(B)/linux
KOBJ := $(B)/kbuild
JOBS ?= $(shell nproc)
TIMEOUT ?= 600
# The series (and its BASE): PUDS_KERNEL_PATCHES=DIR tries another one.
PATCHES := $(or $(PUDS_KERNEL_PATCHES),$(TOP)/kernel-patches)

# ccache keyed relative to the checkout, so that a fresh clone elsewhere
# (CI) still hits the cache an earlier build filled.
export CCACHE_BASEDIR := $(TOP)
export CCACHE_MAXSIZE ?= 8G
KMAKE_IN := $(MAKE) -s -C $(TREE) ARCH=x86_64 CC="ccache gcc" \
	KBUILD_BUILD_TIMESTAMP=2024-11-17 KBUILD_BUILD_USER=puds KBUILD_BUILD_HOST=puds
KMAKE := $(KMAKE_IN) O=$(KOBJ)

BZIMAGE := $(KOBJ)/arch/x86/boot/bzImage
INITRD := $(B)/guest/initramfs.cpio
RUN := python3 qemu/run.py --kernel $(BZIMAGE) --initrd $(INITRD)

.PHONY: all help deps kernel-tree kernel kernel-debug check-debug guest-tests initramfs guest check \
	check-host check-userlib fuzz check-harness check-guest checkpatch check-series eval eval-guest bench shell \
	export-patches reset-kernel-tree kernel-status clean distclean

all: guest

help:
	@echo "make eval               build, boot and compare restarts (the main job)"
	@echo "make check              every test: host, harness and guest; last line 'N passed, N failed'"
	@echo "make check-debug        the series in a KASAN/lockdep/kmemleak kernel: af_unix tests, a"
	@echo "                        STRESS_SECONDS=$(STRESS_SECONDS) stress run, kmemleak scans; 0 splats, 0 leaks"
	@echo "make shell              boot the guest with a shell on this terminal (Ctrl-A X quits)"
	@echo "make kernel             build the patched kernel (build/kbuild/arch/x86/boot/bzImage)"
	@echo "make export-patches     write build/linux's commits back to kernel-patches/"
	@echo "make reset-kernel-tree  drop build/linux's commits, re-apply kernel-patches/"
	@echo "make checkpatch         scripts/checkpatch.pl --strict on every patch, uapi/ against the series"
	@echo "make check-series       build every patch of the series on its own (slow)"
	@echo "make bench              costs, measured side by side: fast path (unpatched vs patched, in"
	@echo "                        instructions), adoption, memory per parked queue, userlib vs raw sendmsg"
	@echo "make check-userlib      userlib's host tests (Catch2 + 15 s of fuzzing), no kernel needed"
	@echo "make fuzz               the parcel decoder fuzzer for FUZZ_SECONDS (600)"
	@echo "make check-guest ONLY=userlib/servers_check   one guest program (see selftests/guest-suites)"
	@echo "variables: JOBS=$(JOBS) TIMEOUT=$(TIMEOUT) (whole guest run, s) ONLY=a/b,c/d (guest tests)"
	@echo "           PUDS_KERNEL_PATCHES=DIR (another series and BASE) GUEST_SUITES=FILE (see selftests/guest-suites)"
	@echo "           APPEND='...' (extra guest kernel command line, e.g. puds.inject=panic)"
	@echo "           EVAL_APPEND=puds.eval=quick (make eval with two gaps only)"

deps:
	@bash scripts/deps.sh

kernel-tree: deps
	@bash scripts/kernel-tree.sh prepare

# Kbuild decides what is stale; the config is replaced only when it changes.
kernel: kernel-tree
	@mkdir -p $(KOBJ)
	@bash scripts/kconfig.sh $(TREE) $(KOBJ) qemu/guest.config
	@echo "kernel: building (incremental; ccache $(CCACHE_BASEDIR))"
	@$(KMAKE) -j$(JOBS) bzImage
	@echo "kernel: $$(cat $(KOBJ)/include/config/kernel.release) $(BZIMAGE)"

# GUEST_SUITES=FILE: another list of suites (e.g. only net/af_unix, for a
# source the series does not apply to).
GUEST_SUITES ?= $(TOP)/selftests/guest-suites
guest-tests: kernel
	@bash scripts/build-guest-tests.sh $(B)/guest-tests $(GUEST_SUITES)

initramfs: guest-tests
	@mkdir -p $(B)/guest
	@bash qemu/mkinitramfs.sh $(INITRD) $(B)/guest-tests

guest: kernel initramfs

# Each step records its counts in build/results; a failing step is counted,
# not fatal, so that the closing line is always printed.  Exit status is
# non-zero on any failure.
HOST_TESTS = python3 scripts/host-tests.py --results $(B)/results/host.json
USERLIB_TESTS = python3 scripts/userlib-tests.py --results $(B)/results/userlib.json
CHECKPATCH = python3 scripts/checkpatch.py --tree $(TREE) --results $(B)/results/checkpatch.json \
	--man-pages scripts/check-manpage.sh $(PATCHES)
UAPI_CHECK = python3 scripts/check-uapi.py --tree $(TREE) --results $(B)/results/uapi.json
STRUCT_SIZE = python3 scripts/check-struct-size.py --tree $(TREE) --kobj $(KOBJ) \
	--results $(B)/results/struct-size.json
HARNESS_TESTS = python3 qemu/tests/boot_selftest.py --kernel $(BZIMAGE) --initrd $(INITRD) \
	--results $(B)/results/harness.json
GUEST_TESTS = $(RUN) --timeout $(TIMEOUT) --log $(B)/guest/console.log \
	--expect-list $(B)/guest-tests/list --allowed-skips selftests/guest-skips \
	--results $(B)/results/guest.json \
	--append "$(if $(ONLY),puds.only=$(ONLY)) $(APPEND)"

check: deps
	@rm -rf $(B)/results; mkdir -p $(B)/results
	@rc=0; \
	$(HOST_TESTS) || rc=1; \
	$(USERLIB_TESTS) || rc=1; \
	if bash scripts/step.sh build $(MAKE) -s guest; then \
		$(CHECKPATCH) || rc=1; \
		$(UAPI_CHECK) || rc=1; \
		$(STRUCT_SIZE) || rc=1; \
		$(HARNESS_TESTS) || rc=1; \
		$(GUEST_TESTS) || rc=1; \
	else rc=1; fi; \
	python3 scripts/summary.py $(B)/results || rc=1; \
	exit $$rc

check-host:
	@mkdir -p $(B)/results
	@$(HOST_TESTS)
	@$(USERLIB_TESTS)

# userlib alone (host, no kernel feature needed); make fuzz: a longer fuzz run.
check-userlib: deps
	@mkdir -p $(B)/results
	@$(USERLIB_TESTS)

fuzz: deps
	@python3 scripts/userlib-tests.py --fuzz-seconds $(or $(FUZZ_SECONDS),600)

checkpatch: kernel-tree
	@mkdir -p $(B)/results
	@$(CHECKPATCH)
	@$(UAPI_CHECK)

check-harness: guest
	@mkdir -p $(B)/results
	@$(HARNESS_TESTS)

check-guest: guest
	@mkdir -p $(B)/results
	@$(GUEST_TESTS)

# make check-debug: the same series in a debug kernel (qemu/debug.config on
# top of qemu/guest.config: KASAN, lockdep, kmemleak, UBSAN, DEBUG_OBJECTS,
# list debugging, hung-task and soft-lockup detectors), built in its own
# object tree, booted with panic_on_warn=1.  It runs selftests/debug-suites:
# the af_unix kselftests, the interface programs, a STRESS_SECONDS stress
# run, then two kmemleak scans.  Any splat or leak fails it;
# scripts/debug-report.py prints the figures and decodes a splat's stack.
DKOBJ := $(B)/kbuild-debug
DBZIMAGE := $(DKOBJ)/arch/x86/boot/bzImage
DEBUG_DIR := $(B)/debug
STRESS_SECONDS ?= 300
DEBUG_TIMEOUT ?= 5400
kernel-debug: kernel-tree
	@mkdir -p $(DKOBJ)
	@bash scripts/kconfig.sh $(TREE) $(DKOBJ) qemu/guest.config qemu/debug.config
	@echo "kernel-debug: building (incremental; a first build takes about 7 minutes on 2 cores)"
	@$(KMAKE_IN) O=$(DKOBJ) -j$(JOBS) bzImage
	@echo "kernel-debug: $$(cat $(DKOBJ)/include/config/kernel.release) $(DBZIMAGE)"

check-debug: deps kernel-debug
	@KOBJ=$(DKOBJ) bash scripts/build-guest-tests.sh $(DEBUG_DIR)/tests selftests/debug-suites
	@bash qemu/mkinitramfs.sh $(DEBUG_DIR)/initramfs.cpio $(DEBUG_DIR)/tests
	@echo "check-debug: booting the debug kernel under TCG; the stress runs $(STRESS_SECONDS) s"
	@python3 qemu/run.py --kernel $(DBZIMAGE) --initrd $(DEBUG_DIR)/initramfs.cpio --suite debug \
		--memory 2G --timeout $(DEBUG_TIMEOUT) --log $(DEBUG_DIR)/console.log \
		--expect-list $(DEBUG_DIR)/tests/list --allowed-skips selftests/guest-skips \
		--results $(DEBUG_DIR)/guest.json --quiet --progress '^(PUDS-TEST-|# unix_stress|# ran |ok |not ok )' \
		--append "panic_on_warn=1 puds.stress=$(STRESS_SECONDS) $(if $(ONLY),puds.only=$(ONLY)) $(APPEND)"; \
	rc=$$?; python3 scripts/debug-report.py --console $(DEBUG_DIR)/console.log \
		--results $(DEBUG_DIR)/guest.json --vmlinux $(DKOBJ)/vmlinux --tree $(TREE) \
		--out $(DEBUG_DIR)/report.md || rc=1; exit $$rc

# Bisectability: build each patch of the series on its own (slow, not part of check).
check-series: kernel
	@bash scripts/check-series.sh $(TREE) $(KOBJ)/.config

# make eval: every restart scenario at every gap in the booted patched
# kernel (selftests/eval, selftests/restart), then build/eval/report.md.
EVAL_DIR := $(B)/eval
EVAL_APPEND ?=
eval-guest: kernel
	@bash scripts/deps.sh eval
	@bash scripts/build-guest-tests.sh $(EVAL_DIR)/tests selftests/eval-suites
	@bash qemu/mkinitramfs.sh $(EVAL_DIR)/initramfs.cpio $(EVAL_DIR)/tests

eval: deps eval-guest
	@echo "eval: booting $(BZIMAGE) and running every scenario (progress below; about a minute under TCG)"
	@$(RUN) --timeout 3000 --log $(EVAL_DIR)/console.log --initrd $(EVAL_DIR)/initramfs.cpio \
		--expect-list $(EVAL_DIR)/tests/list --results $(EVAL_DIR)/run.json \
		--append "$(EVAL_APPEND)" --quiet --progress '^# (\[|eval|BPF)'; \
	rc=$$?; python3 scripts/eval_report.py --console $(EVAL_DIR)/console.log \
		--tree $(TREE) --kobj $(KOBJ) --out $(EVAL_DIR) || rc=1; exit $$rc

# The series' cost for sockets that never set the option: the unpatched
# base kernel against the patched one, in instructions (scripts/bench.py).
BENCH_DIR := $(B)/bench
bench: guest
	@bash scripts/build-at.sh $(TREE) $(KOBJ)/.config $(BENCH_DIR)/base puds-base
	@bash scripts/build-guest-tests.sh $(BENCH_DIR)/tests selftests/bench-suites
	@bash scripts/build-guest-tests.sh $(BENCH_DIR)/adopt selftests/bench-adopt-suites
	@bash qemu/mkinitramfs.sh $(BENCH_DIR)/initramfs.cpio $(BENCH_DIR)/tests
	@bash qemu/mkinitramfs.sh $(BENCH_DIR)/adopt.cpio $(BENCH_DIR)/adopt
	@python3 scripts/bench.py --base $(BENCH_DIR)/base/kbuild/arch/x86/boot/bzImage \
		--patched $(BZIMAGE) --initrd $(BENCH_DIR)/initramfs.cpio \
		--adopt-initrd $(BENCH_DIR)/adopt.cpio --report $(BENCH_DIR)/report.md
	@python3 scripts/userlib-bench.py

shell: guest
	@$(RUN) --interactive --append "puds.shell=1"

export-patches:
	@bash scripts/kernel-tree.sh export

reset-kernel-tree:
	@bash scripts/kernel-tree.sh reset

kernel-status:
	@bash scripts/kernel-tree.sh status

clean:
	rm -rf $(B)/guest $(B)/guest-tests $(B)/results $(B)/tools $(B)/debug

distclean:
	rm -rf $(B)
