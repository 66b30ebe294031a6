#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# abi-headers: every public header compiles on its own, as C11 and as C++17.
#
# usage: check-headers.sh --incdir DIR --cc CC [ARGS...] [--cxx CXX [ARGS...]]
#
# Each DIR/libvfiosim/**/*.h (found at run time, so new headers are covered
# without touching the build files) is included, twice to exercise its include
# guard, by an otherwise empty translation unit that is syntax-checked with
#   CC  -std=c11   -Wall -Wextra -Werror -Wstrict-prototypes
#   CXX -std=c++17 -Wall -Wextra -Werror
# Headers that include <check.h> also get "pkg-config --cflags check".

set -u

prog=abi-headers
incdir=
cc=()
cxx=()
mode=
for arg in "$@"; do
	case $arg in
	--incdir | --cc | --cxx) mode=$arg ;;
	*)
		case $mode in
		--incdir) incdir=$arg ;;
		--cc) cc+=("$arg") ;;
		--cxx) cxx+=("$arg") ;;
		*)
			echo "$prog: unexpected argument '$arg'" >&2
			exit 2
			;;
		esac
		;;
	esac
done
if [ -z "$incdir" ] || [ ${#cc[@]} -eq 0 ]; then
	sed -n '6s/^# //p' "$0" >&2
	exit 2
fi

mapfile -t headers < <(cd "$incdir" && find libvfiosim -name '*.h' | LC_ALL=C sort)
if [ ${#headers[@]} -eq 0 ]; then
	echo "$prog: no headers under $incdir/libvfiosim"
	exit 1
fi

check_cflags=
check_found=0
if ${PKG_CONFIG:-pkg-config} --exists check 2>/dev/null; then
	check_cflags=$(${PKG_CONFIG:-pkg-config} --cflags check)
	check_found=1
fi

failed=()
skipped=()
ok=0

# try LANG HEADER COMPILER-AND-FLAGS...
try()
{
	local lang=$1 hdr=$2 out
	shift 2
	if out=$(printf '#include <%s>\n#include <%s>\n' "$hdr" "$hdr" |
		"$@" -fsyntax-only - 2>&1); then
		printf 'ok    %-5s %s\n' "$lang" "$hdr"
		ok=$((ok + 1))
	else
		printf 'FAIL  %-5s %s\n' "$lang" "$hdr"
		printf '%s\n' "$out" | sed 's/^/      /'
		failed+=("$hdr ($lang)")
	fi
}

for hdr in "${headers[@]}"; do
	extra=()
	if grep -q '^[[:space:]]*#[[:space:]]*include[[:space:]]*<check\.h>' \
		"$incdir/$hdr"; then
		if [ "$check_found" = 0 ]; then
			printf 'SKIP  %-5s %s (Check not found by pkg-config)\n' \
				'' "$hdr"
			skipped+=("$hdr")
			continue
		fi
		# shellcheck disable=SC2206 # split the flags on purpose
		extra=($check_cflags)
	fi
	try C "$hdr" "${cc[@]}" -x c -std=c11 -Wall -Wextra -Werror \
		-Wstrict-prototypes -I "$incdir" "${extra[@]}"
	if [ ${#cxx[@]} -gt 0 ]; then
		try C++ "$hdr" "${cxx[@]}" -x c++ -std=c++17 -Wall -Wextra \
			-Werror -I "$incdir" "${extra[@]}"
	fi
done

echo
if [ ${#failed[@]} -gt 0 ]; then
	echo "$prog: FAILED: these headers do not compile on their own:"
	printf '    %s\n' "${failed[@]}"
	exit 1
fi
echo "$prog: ok: ${#headers[@]} headers, $ok compilations${skipped[*]:+ (skipped: ${skipped[*]})}"
exit 0
