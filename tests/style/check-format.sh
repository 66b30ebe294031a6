#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: check-format.sh [SRCROOT]
#
# Runs "clang-format --dry-run --Werror" (clang-format: $CLANG_FORMAT or the
# one in PATH) with SRCROOT/.clang-format over
#   src/**/*.[ch] include/**/*.h tools/*.[ch] tests/**/*.[ch] bench/*.c
#   examples/*.c
# (directories that do not exist are skipped), lists the files that would
# change and shows the start of the change for each.
# Exit status: 0 clean, 1 some file would change, 77 clang-format missing.

set -u

root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cf=${CLANG_FORMAT:-}
if [ -z "$cf" ]; then
	cf=$(command -v clang-format || true)
fi
if [ -z "$cf" ] || [ ! -x "$cf" ]; then
	echo "check-format: SKIP: clang-format not installed" \
		"(apt-get install clang-format)"
	exit 77
fi
cd "$root" || exit 1
if [ ! -f .clang-format ]; then
	echo "check-format: error: $root/.clang-format is missing"
	exit 1
fi
# A bad or too-new .clang-format must not look like badly formatted code.
if ! err=$("$cf" --style=file --assume-filename="$root/x.c" \
	--dump-config 2>&1 >/dev/null); then
	echo "check-format: error: $("$cf" --version): cannot use .clang-format:"
	printf '%s\n' "$err"
	exit 1
fi

files=()
add()
{
	local dir=$1
	shift
	[ -d "$dir" ] || return 0
	local f
	while IFS= read -r -d '' f; do
		files+=("$f")
	done < <(find "$dir" "$@" -type f -print0 | LC_ALL=C sort -z)
}
add src \( -name '*.c' -o -name '*.h' \)
add include -name '*.h'
add tools -maxdepth 1 \( -name '*.c' -o -name '*.h' \)
add tests \( -name '*.c' -o -name '*.h' \)
add bench -maxdepth 1 -name '*.c'
add examples -maxdepth 1 -name '*.c'

if [ ${#files[@]} -eq 0 ]; then
	echo "check-format: no source files found under $root"
	exit 0
fi

bad=()
for f in "${files[@]}"; do
	if ! "$cf" --style=file --dry-run --Werror "$f" >/dev/null 2>&1; then
		bad+=("$f")
	fi
done

if [ ${#bad[@]} -eq 0 ]; then
	echo "check-format: ok: ${#files[@]} files"
	exit 0
fi

for f in "${bad[@]}"; do
	echo "==== $f"
	"$cf" --style=file "$f" | diff -u --label "$f" --label "$f (formatted)" \
		"$f" - | sed -n '3,40p'
done
echo
echo "check-format: ${#bad[@]} of ${#files[@]} files are not formatted" \
	"($("$cf" --version | sed 's/.*version //')):"
printf '    %s\n' "${bad[@]}"
echo "Fix with: clang-format -i ${bad[*]}"
exit 1
