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
	python3 - "$name" "$rc" "$*" <<'PY'
import json, sys
name, rc, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(f"build/results/{name}.json", "w") as f:
    json.dump({"suite": name, "passed": 0, "failed": 1, "skipped": 0,
               "failures": [f"{name}: exit status {rc} ({cmd})"]}, f)
PY
fi
exit $rc
