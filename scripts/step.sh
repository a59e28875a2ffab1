#!/usr/bin/env bash
# step.sh NAME CMD...: run a build step of `make check`; when it fails, record
# it in build/results/NAME.json as one failure, so that the closing line
# counts it, and exit with its status.
set -uo pipefail
name=$1
shift
"$@"
rc=$?
if [ $rc -ne 0 ]; then
	mkdir -p build/results
	python3 "$(dirname "$0")/results.py" "build/results/$name.json" "$name" \
		"$name: exit status $rc ($*)"
fi
exit $rc
