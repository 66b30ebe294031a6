#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# preload-run.sh PRELOAD PROGRAM [ARGS...]
#
# Runs PROGRAM with LD_PRELOAD=PRELOAD.  When the shim was built with a
# sanitizer, its runtime must be loaded first, so it is preloaded too.
set -eu
preload=$1
shift
runtime=$(ldd "$preload" 2>/dev/null | awk '/lib(asan|tsan)\.so/ { print $3; exit }')
LD_PRELOAD="${runtime:+$runtime }$preload" exec "$@"
