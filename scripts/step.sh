#!/usr/bin/env bash
# step.sh RESULT NAME CMD...: run a build step of `make check`; when it
# fails, record it in the JSON file RESULT as one failure of step NAME (the
# format is qemu/harness.py's), so that the closing line counts it, and exit
# with its status.
set -uo pipefail
result=$1 name=$2
shift 2
"$@"
rc=$?
if [ $rc -ne 0 ]; then
	python3 "$(dirname "$0")/../qemu/harness.py" fail "$result" "$name" \
		"$name: exit status $rc ($*)"
fi
exit $rc
