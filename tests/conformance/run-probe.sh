#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# run-probe.sh PRELOAD PROBE RECORDED [VAR=value ...]
#
# Runs PROBE under LD_PRELOAD=PRELOAD as the kernel oracle runs probes
# ("PROBE /dev/vfio/1 0000:00:01.0", the oracle VM's machine) and compares
# its output with RECORDED, the output of the same probe on Linux 6.1,
# ignoring the closing "op=end" line (it may carry timings).  The probe must
# also exit 0: with VFIOSIM_PRELOAD_STRICT=1 the shim exits 70 when the
# model recorded a failure.  Extra VAR=value arguments go into the probe's
# environment (for example VFIOSIM_DMA_ENTRY_LIMIT=3 where the recording
# used dma_entry_limit=3); VFIOSIM_NEEDS_ROOT=1 skips (77) unless root, as
# the oracle runs probes; VFIOSIM_NEEDS_CAP_IPC_LOCK=1 skips unless
# CAP_IPC_LOCK is in the permitted set, for probes that drop and restore it
# (root in a container may lack it, a non-root user may have it).
set -u
preload=$1 probe=$2 recorded=$3
shift 3
CAP_IPC_LOCK=14
for a in "$@"; do
	if [ "$a" = VFIOSIM_NEEDS_ROOT=1 ] && [ "$(id -u)" != 0 ]; then
		echo "needs root, as the oracle runs probes: skipped"
		exit 77
	fi
	if [ "$a" = VFIOSIM_NEEDS_CAP_IPC_LOCK=1 ]; then
		prm=$(sed -n 's/^CapPrm:[[:space:]]*//p' /proc/self/status)
		if [ -z "$prm" ] ||
			[ $(((0x$prm >> CAP_IPC_LOCK) & 1)) != 1 ]; then
			echo "needs CAP_IPC_LOCK in the permitted set: skipped"
			exit 77
		fi
	fi
done
out=$(mktemp)
trap 'rm -f "$out" "$out.err" "$out.want" "$out.got"' EXIT
env "$@" VFIOSIM_PRELOAD_STRICT=1 "$(dirname "$0")/preload-run.sh" \
	"$preload" "$probe" /dev/vfio/1 0000:00:01.0 >"$out" 2>"$out.err"
status=$?
grep -v '^op=end' "$recorded" >"$out.want"
grep -v '^op=end' "$out" >"$out.got"
if ! diff -u "$out.want" "$out.got"; then
	cat "$out.err"
	exit 1
fi
if [ "$status" != 0 ]; then
	echo "output as recorded, but the probe exited with status $status:"
	cat "$out.err"
	exit 1
fi
echo "$(wc -l <"$out.want") lines as recorded on Linux 6.1"
exit 0
