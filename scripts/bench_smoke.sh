#!/usr/bin/env bash
# The benchmark harness's smoke run, part of `make test` so that it never rots: the same script
# and harness as `make bench`, on debug binaries with 2 cold starts and 20 warm invocations per
# subject, against the stub and moto. No figure is asserted; it fails when the harness fails or
# when any function (ours, the floor, the Python baselines) fails, errs or answers wrongly.
exec "$(dirname "$0")/bench.sh" --smoke
