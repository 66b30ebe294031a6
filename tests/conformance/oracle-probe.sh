#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# oracle-probe.sh PRELOAD RECORDED PROBE.c [SANITIZE]
#
# Compiles the kernel oracle's probe (not part of this project: skipped,
# exit 77, when it is not there), unmodified, and checks it against its
# recording.  SANITIZE is meson's b_sanitize, so that a sanitized shim is
# preloaded into a program built with the same runtime.
set -eu
preload=$1 recorded=$2 src=$3 sanitize=${4:-none}
[ -f "$src" ] || { echo "no $src: skipped"; exit 77; }
# Only AddressSanitizer must come first in a program the sanitized shim is
# preloaded into; the probe itself is not ours to check for UB.
flags=
case $sanitize in *address*) flags=-fsanitize=address ;; esac
exe=$(mktemp)
trap 'rm -f "$exe"' EXIT
# shellcheck disable=SC2086
${CC:-cc} -O2 $flags -o "$exe" "$src"
"$(dirname "$0")/run-probe.sh" "$preload" "$exe" "$recorded" VFIOSIM_NEEDS_ROOT=1
