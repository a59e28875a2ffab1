# puds: persistent UNIX domain sockets.  One Makefile for the kernel series,
# the guest image, the tests and the evaluation.  `make help` lists targets.
#
# Build outputs live only under build/:
#   build/linux        git tree: the Debian source kernel-patches/BASE names
#                      (scripts/kernel-source.sh) + kernel-patches/ (git am)
#   build/kbuild       the kernel's object tree (O=), .config from qemu/guest.config
#   build/guest-tests  the guest programs of selftests/guest-suites
#   build/guest        initramfs; run/: console.log, tests.log, programs/*.out, run.json
#   build/results      one JSON per step of the last `make check` (qemu/harness.py)
#   build/kbuild-debug, build/debug      make check-debug
#   build/eval, build/bench              make eval, make bench (bench/base: the unpatched kernel)
#   build/userlib*                       userlib's CMake builds
# `make clean` removes all of it but the kernel trees (build/linux,
# build/kbuild*, build/bench/base, build/series-check); ccache is elsewhere.

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
KMAKE_IN := $(MAKE) --no-print-directory -C $(TREE) ARCH=x86_64 CC="ccache gcc" \
	KBUILD_BUILD_TIMESTAMP=2024-11-17 KBUILD_BUILD_USER=puds KBUILD_BUILD_HOST=puds
KMAKE := $(KMAKE_IN) O=$(KOBJ)
# A kernel build prints one progress line every 15 s (and every warning).
PROGRESS = 2>&1 | python3 scripts/kbuild-progress.py

BZIMAGE := $(KOBJ)/arch/x86/boot/bzImage
INITRD := $(B)/guest/initramfs.cpio
RUN := python3 qemu/run.py --kernel $(BZIMAGE) --initrd $(INITRD)
GUEST_TESTS_BUILD = bash scripts/build-guest-tests.sh $(TREE)
MKINITRAMFS = bash qemu/mkinitramfs.sh $(TREE)

.PHONY: all help deps kernel-tree kernel kernel-debug check-debug guest-tests initramfs guest check \
	systemd-guest check-systemd eval-systemd-guest eval-systemd eval-minimal \
	check-host check-userlib fuzz check-harness check-guest checkpatch check-series eval eval-guest bench shell \
	export-patches reset-kernel-tree kernel-status clean distclean

all: guest

help:
	@echo "Quick start:"
	@echo "  make eval               build, boot and compare restarts (the main job): build/eval/report.md"
	@echo "  make check              every test below; last line 'N passed, N failed'"
	@echo ""
	@echo "Tests on this machine (no guest):"
	@echo "  make check-host         the harness scripts' own unit tests (qemu/tests, scripts/tests)"
	@echo "  make check-userlib      userlib's host tests (Catch2 + 15 s of fuzzing), no kernel needed"
	@echo "  make checkpatch         checkpatch.pl --strict on every patch, the man page, uapi/ against the series"
	@echo "  make fuzz               the parcel decoder fuzzer for FUZZ_SECONDS (600)"
	@echo "Tests in the QEMU guest (build the kernel first if needed):"
	@echo "  make check-harness      the runner must fail on an injected failure, panic, hang and WARN"
	@echo "  make check-guest        the guest programs of selftests/guest-suites (ONLY=af_unix/diag_uid,...)"
	@echo "  make check-systemd      the real-systemd guest (Debian's systemd 252 as PID 1): contrib units"
	@echo "  make eval-minimal       make eval's minimal guest alone (restarts, sweep, many fds; build/eval/run)"
	@echo "  make eval-systemd       make eval's real-systemd guest alone: every systemd anchor (build/eval/systemd-run)"
	@echo "  make check-debug        a KASAN/lockdep/kmemleak kernel: af_unix tests, a STRESS_SECONDS=$(STRESS_SECONDS)"
	@echo "                          stress run, kmemleak scans; 0 splats, 0 leaks: build/debug/report.md"
	@echo "  make check-series       build every patch of the series on its own (slow)"
	@echo "Measurements:"
	@echo "  make bench              costs side by side: fast path (unpatched vs patched, in instructions),"
	@echo "                          adoption, memory per parked queue, userlib vs raw sendmsg"
	@echo "Kernel tree (build/linux, branch puds on tag puds-base):"
	@echo "  make kernel             build the patched kernel (build/kbuild/arch/x86/boot/bzImage)"
	@echo "  make export-patches     write build/linux's commits back to kernel-patches/"
	@echo "  make reset-kernel-tree  drop build/linux's commits, re-apply kernel-patches/"
	@echo "  make shell              boot the guest with a shell on this terminal (Ctrl-A X quits)"
	@echo "  make clean              remove every build output but the kernel trees (distclean: all of build/)"
	@echo "Variables: JOBS=$(JOBS) TIMEOUT=$(TIMEOUT) (whole guest run, s) ONLY=a/b,c/d (guest programs)"
	@echo "  PUDS_KERNEL_PATCHES=DIR (another series and BASE) GUEST_SUITES=FILE (see selftests/guest-suites)"
	@echo "  APPEND='...' (extra guest kernel command line, e.g. puds.inject=panic)"
	@echo "  EVAL_APPEND=puds.eval=quick (make eval's short form: two gaps, a small sweep, lighttpd only)"

deps:
	@bash scripts/deps.sh $(PATCHES)

kernel-tree: deps
	@bash scripts/kernel-tree.sh prepare $(TREE) $(PATCHES)

# Kbuild decides what is stale; the config is replaced only when it changes.
kernel: kernel-tree
	@mkdir -p $(KOBJ)
	@bash scripts/kconfig.sh $(TREE) $(KOBJ) qemu/guest.config
	@echo "kernel: building (incremental; ccache $(CCACHE_BASEDIR))"
	@set -o pipefail; $(KMAKE) -j$(JOBS) bzImage $(PROGRESS) kernel $(KOBJ)/.puds-steps
	@echo "kernel: $$(cat $(KOBJ)/include/config/kernel.release) $(BZIMAGE)"

# GUEST_SUITES=FILE: another list of suites (e.g. only net/af_unix, for a
# source the series does not apply to).
GUEST_SUITES ?= $(TOP)/selftests/guest-suites
guest-tests: kernel
	@$(GUEST_TESTS_BUILD) $(KOBJ) $(B)/guest-tests $(GUEST_SUITES)

initramfs: guest-tests
	@mkdir -p $(B)/guest
	@$(MKINITRAMFS) $(B)/guest-tests $(INITRD)

guest: kernel initramfs

# Each step records its counts in build/results; a failing step is counted,
# not fatal, so that the closing line is always printed.  Exit status is
# non-zero on any failure.
RESULTS := $(B)/results
HOST_TESTS = python3 scripts/host-tests.py --results $(RESULTS)/host.json
USERLIB_TESTS = python3 scripts/userlib-tests.py --results $(RESULTS)/userlib.json
CHECKPATCH = python3 scripts/checkpatch.py --tree $(TREE) --results $(RESULTS)/checkpatch.json \
	--man-pages scripts/check-manpage.sh $(PATCHES)
UAPI_CHECK = python3 scripts/check-uapi.py --tree $(TREE) --results $(RESULTS)/uapi.json
STRUCT_SIZE = python3 scripts/check-struct-size.py --tree $(TREE) --kobj $(KOBJ) \
	--results $(RESULTS)/struct-size.json
HARNESS_TESTS = python3 qemu/tests/boot_selftest.py --kernel $(BZIMAGE) --initrd $(INITRD) \
	--results $(RESULTS)/harness.json
GUEST_TESTS = $(RUN) --timeout $(TIMEOUT) --out $(B)/guest/run \
	--expect-list $(B)/guest-tests/list --allowed-skips selftests/guest-skips \
	--results $(RESULTS)/guest.json --only "$(ONLY)" --append "$(APPEND)"

# make check-systemd: the real-systemd guest.  Debian 12's systemd 252 is
# PID 1 (rdinit=), in a root made from Debian's packages without root
# privileges (qemu/systemd/mkroot.py, cached in PUDS_CACHE), under the same
# runner, test channel and splat scan; it runs selftests/systemd-suites:
# the example units of userlib/contrib/systemd, SIGKILLed and stopped.
SD_DIR := $(B)/systemd
SD_PACKAGES := systemd lighttpd
PUDS_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/puds
SYSTEMD_TESTS = $(RUN) --initrd $(SD_DIR)/initramfs.cpio --timeout $(TIMEOUT) --suite systemd \
	--out $(SD_DIR)/run --expect-list $(SD_DIR)/tests/list --allowed-skips selftests/guest-skips \
	--results $(RESULTS)/systemd.json --only "$(ONLY)" \
	--append "rdinit=/lib/systemd/systemd systemd.unit=puds-guest.target $(APPEND)"

systemd-guest: kernel
	@python3 qemu/systemd/mkroot.py $(SD_DIR)/root $(PUDS_CACHE)/debs $(SD_PACKAGES)
	@$(GUEST_TESTS_BUILD) $(KOBJ) $(SD_DIR)/tests selftests/systemd-suites
	@$(MKINITRAMFS) $(SD_DIR)/tests $(SD_DIR)/initramfs.cpio $(SD_DIR)/root

check-systemd: deps systemd-guest
	@$(SYSTEMD_TESTS)

check: deps
	@rm -rf $(RESULTS); mkdir -p $(RESULTS)
	@rc=0; \
	$(HOST_TESTS) || rc=1; \
	$(USERLIB_TESTS) || rc=1; \
	if bash scripts/step.sh $(RESULTS)/build.json build $(MAKE) --no-print-directory guest; then \
		$(CHECKPATCH) || rc=1; \
		$(UAPI_CHECK) || rc=1; \
		$(STRUCT_SIZE) || rc=1; \
		$(HARNESS_TESTS) || rc=1; \
		$(GUEST_TESTS) || rc=1; \
	else rc=1; fi; \
	if bash scripts/step.sh $(RESULTS)/systemd-build.json systemd-build \
		$(MAKE) --no-print-directory systemd-guest; then \
		$(SYSTEMD_TESTS) || rc=1; \
	else rc=1; fi; \
	python3 qemu/harness.py summary $(RESULTS) || rc=1; \
	exit $$rc

check-host:
	@$(HOST_TESTS)

# userlib alone (host, no kernel feature needed); make fuzz: a longer fuzz run.
check-userlib: deps
	@$(USERLIB_TESTS)

fuzz: deps
	@python3 scripts/userlib-tests.py --fuzz-seconds $(or $(FUZZ_SECONDS),600)

checkpatch: kernel-tree
	@$(CHECKPATCH)
	@$(UAPI_CHECK)

check-harness: guest
	@$(HARNESS_TESTS)

check-guest: guest
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
	@set -o pipefail; $(KMAKE_IN) O=$(DKOBJ) -j$(JOBS) bzImage $(PROGRESS) kernel-debug $(DKOBJ)/.puds-steps
	@echo "kernel-debug: $$(cat $(DKOBJ)/include/config/kernel.release) $(DBZIMAGE)"

check-debug: deps kernel-debug
	@$(GUEST_TESTS_BUILD) $(DKOBJ) $(DEBUG_DIR)/tests selftests/debug-suites
	@$(MKINITRAMFS) $(DEBUG_DIR)/tests $(DEBUG_DIR)/initramfs.cpio
	@echo "check-debug: booting the debug kernel under TCG; the stress runs $(STRESS_SECONDS) s"
	@python3 qemu/run.py --kernel $(DBZIMAGE) --initrd $(DEBUG_DIR)/initramfs.cpio --suite debug \
		--memory 2G --timeout $(DEBUG_TIMEOUT) --out $(DEBUG_DIR)/run \
		--expect-list $(DEBUG_DIR)/tests/list --allowed-skips selftests/guest-skips \
		--quiet --progress '^(PUDS-TEST-|# stress: seconds_asked|ok |not ok )' \
		--only "$(ONLY)" --append "panic_on_warn=1 puds.stress=$(STRESS_SECONDS) $(APPEND)"; \
	rc=$$?; python3 scripts/debug-report.py --run $(DEBUG_DIR)/run \
		--vmlinux $(DKOBJ)/vmlinux --tree $(TREE) --out $(DEBUG_DIR)/report.md || rc=1; exit $$rc

# Bisectability: build each patch of the series on its own (slow, not part of check).
check-series: kernel
	@bash scripts/check-series.sh $(TREE) $(KOBJ)/.config $(B)/series-check

# make eval: the minimal guest (selftests/eval-suites: every restart
# scenario, planned, stop-start and crash, at every gap; the load sweep; the
# many-fds handoff), then the real-systemd guest (selftests/eval-systemd-suites:
# every systemd anchor with lighttpd, nginx and haproxy), then
# build/eval/report.md from both stored runs (scripts/eval_report.py).
# EVAL_APPEND=puds.eval=quick: the short form of both (under 3 minutes).
EVAL_DIR := $(B)/eval
EVAL_APPEND ?=
EVAL_RUN = $(RUN) --timeout 3000 --out $(EVAL_DIR)/run --initrd $(EVAL_DIR)/initramfs.cpio \
	--expect-list $(EVAL_DIR)/tests/list --suite eval \
	--append "$(EVAL_APPEND)" --quiet --progress '^\# (\[|eval:|BPF)'
EVAL_SD_RUN = $(RUN) --timeout 900 --out $(EVAL_DIR)/systemd-run --initrd $(EVAL_DIR)/systemd-initramfs.cpio \
	--expect-list $(EVAL_DIR)/systemd-tests/list --suite eval-systemd \
	--append "rdinit=/lib/systemd/systemd systemd.unit=puds-guest.target $(EVAL_APPEND)" \
	--quiet --progress '^\# (\[|eval-sd: systemd)'
eval-guest: kernel
	@bash scripts/deps.sh $(PATCHES) eval
	@$(GUEST_TESTS_BUILD) $(KOBJ) $(EVAL_DIR)/tests selftests/eval-suites
	@$(MKINITRAMFS) $(EVAL_DIR)/tests $(EVAL_DIR)/initramfs.cpio

# Its own root (nginx and haproxy besides systemd and lighttpd;
# check-systemd's stays as it is).
SD_EVAL_PACKAGES := systemd lighttpd nginx haproxy zlib1g
eval-systemd-guest: kernel
	@python3 qemu/systemd/mkroot.py $(EVAL_DIR)/systemd-root $(PUDS_CACHE)/debs $(SD_EVAL_PACKAGES)
	@$(GUEST_TESTS_BUILD) $(KOBJ) $(EVAL_DIR)/systemd-tests selftests/eval-systemd-suites
	@$(MKINITRAMFS) $(EVAL_DIR)/systemd-tests $(EVAL_DIR)/systemd-initramfs.cpio $(EVAL_DIR)/systemd-root

eval: deps eval-guest eval-systemd-guest
	@rm -rf $(EVAL_DIR)/run $(EVAL_DIR)/systemd-run
	@echo "eval 1/2: the minimal guest: every restart, the load sweep, many fds (about 9 min under TCG; quick: 1)"
	@start=$$(date +%s); $(EVAL_RUN); rc=$$?; \
	echo "eval 2/2: systemd 252 as PID 1: every anchor x server x event (about 2 min; quick: 1)"; \
	$(EVAL_SD_RUN) || rc=1; \
	python3 scripts/eval_report.py --run $(EVAL_DIR)/run --sd-run $(EVAL_DIR)/systemd-run \
		--tree $(TREE) --kobj $(KOBJ) --out $(EVAL_DIR) || rc=1; \
	echo "eval: both guests and the report in $$(( $$(date +%s) - start )) s"; exit $$rc

# Either guest of make eval alone (their stored runs; no report).
eval-minimal: deps eval-guest
	@$(EVAL_RUN)
eval-systemd: deps eval-systemd-guest
	@$(EVAL_SD_RUN)

# The series' cost for sockets that never set the option: the unpatched
# base kernel against the patched one, in instructions (scripts/bench.py).
BENCH_DIR := $(B)/bench
bench: guest
	@bash scripts/build-at.sh $(TREE) $(KOBJ)/.config $(BENCH_DIR)/base puds-base
	@$(GUEST_TESTS_BUILD) $(KOBJ) $(BENCH_DIR)/tests selftests/bench-suites
	@$(GUEST_TESTS_BUILD) $(KOBJ) $(BENCH_DIR)/adopt selftests/bench-adopt-suites
	@$(MKINITRAMFS) $(BENCH_DIR)/tests $(BENCH_DIR)/initramfs.cpio
	@$(MKINITRAMFS) $(BENCH_DIR)/adopt $(BENCH_DIR)/adopt.cpio
	@python3 scripts/bench.py --base $(BENCH_DIR)/base/kbuild/arch/x86/boot/bzImage \
		--patched $(BZIMAGE) --initrd $(BENCH_DIR)/initramfs.cpio \
		--adopt-initrd $(BENCH_DIR)/adopt.cpio --report $(BENCH_DIR)/report.md
	@python3 scripts/userlib-bench.py

shell: guest
	@$(RUN) --interactive --append "puds.shell=1"

export-patches:
	@bash scripts/kernel-tree.sh export $(TREE) $(PATCHES)

reset-kernel-tree:
	@bash scripts/kernel-tree.sh reset $(TREE) $(PATCHES)

kernel-status:
	@bash scripts/kernel-tree.sh status $(TREE) $(PATCHES)

# Everything but the kernel trees: the source tree, the object trees (a
# rebuild from scratch takes minutes) and the unpatched base of make bench.
KEEP := linux kbuild kbuild-debug series-check bench
clean:
	rm -rf $(filter-out $(addprefix $(B)/,$(KEEP)),$(wildcard $(B)/*))
	rm -rf $(filter-out $(BENCH_DIR)/base,$(wildcard $(BENCH_DIR)/*))

distclean:
	rm -rf $(B)
