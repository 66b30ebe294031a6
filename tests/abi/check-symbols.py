#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""abi-symbols: the library exports exactly what the version script lists.

usage: check-symbols.py LIBRARY.so MAPFILE INCLUDEDIR

Compares the defined dynamic symbols of LIBRARY.so ("nm -D --defined-only",
$NM or nm; version-node symbols such as LIBVFIOSIM_0 are left out) with the
"global:" entries of MAPFILE, and checks that every entry of MAPFILE is
declared in a public header under INCLUDEDIR ("name(" or an extern
variable).  Exit status: 0 ok, 1 mismatch, 77 (skip) if nm is missing.
"""

import os
import re
import shutil
import subprocess
import sys

PROG = "abi-symbols"


def fail(msg):
    print("%s: error: %s" % (PROG, msg))
    sys.exit(1)


def exported_symbols(lib, nm):
    out = subprocess.run([nm, "-D", "--defined-only", lib], check=True,
                         stdout=subprocess.PIPE, universal_newlines=True)
    syms = set()
    for line in out.stdout.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        kind, name = fields[-2], fields[-1].split("@")[0]
        # Version nodes show up as absolute symbols named after the node.
        if kind == "A" and re.fullmatch(r"LIBVFIOSIM_[0-9A-Za-z_.]*", name):
            continue
        syms.add(name)
    return syms


def map_symbols(path):
    """The global entries of a GNU ld version script, in order."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"#[^\n]*", " ", text)
    if "extern" in text:
        fail("%s: 'extern \"lang\" { }' blocks are not supported" % path)
    syms = []
    for body in re.findall(r"\{([^{}]*)\}", text):
        scope = "global"
        for tok in body.split(";"):
            tok = tok.strip()
            m = re.match(r"(global|local)\s*:\s*(.*)", tok, re.S)
            if m:
                scope, tok = m.group(1), m.group(2).strip()
            if not tok or scope != "global":
                continue
            if re.search(r"[*?\[]", tok):
                fail("%s: wildcard '%s' in global: list every symbol"
                     % (path, tok))
            syms.append(tok)
    return syms


def header_texts(incdir):
    texts = {}
    for root, _, files in os.walk(incdir):
        for name in sorted(files):
            if name.endswith(".h"):
                path = os.path.join(root, name)
                with open(path, encoding="utf-8", errors="replace") as f:
                    texts[os.path.relpath(path, incdir)] = f.read()
    return texts


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    lib, mapfile, incdir = argv
    nm = os.environ.get("NM") or "nm"
    if not shutil.which(nm):
        print("%s: SKIP: '%s' not found (install binutils)" % (PROG, nm))
        return 77

    exported = exported_symbols(lib, nm)
    listed = map_symbols(mapfile)
    ok = True

    dups = sorted({s for s in listed if listed.count(s) > 1})
    if dups:
        ok = False
        print("%s: listed more than once in %s:" % (PROG, mapfile))
        for s in dups:
            print("    " + s)

    lib_name = os.path.basename(lib)
    extra = sorted(exported - set(listed))
    missing = sorted(set(listed) - exported)
    if extra:
        ok = False
        print("%s: exported by %s but not listed in %s:"
              % (PROG, lib_name, mapfile))
        for s in extra:
            print("  + " + s)
    if missing:
        ok = False
        print("%s: listed in %s but not exported by %s (no definition, or "
              "not built?):" % (PROG, mapfile, lib_name))
        for s in missing:
            print("  - " + s)

    headers = header_texts(incdir)
    if not headers:
        fail("no headers found under %s" % incdir)
    undeclared = []
    for s in sorted(set(listed)):
        func = re.compile(r"\b%s\s*\(" % re.escape(s))
        var = re.compile(r"\bextern\b[^;(]*\b%s\b" % re.escape(s))
        if not any(func.search(t) or var.search(t) for t in headers.values()):
            undeclared.append(s)
    if undeclared:
        ok = False
        print("%s: listed in %s but declared in no public header under %s "
              "(stale entry?):" % (PROG, mapfile, incdir))
        for s in undeclared:
            print("  ? " + s)

    if not ok:
        print("%s: FAILED" % PROG)
        return 1
    print("%s: ok: %d symbols exported by %s, all listed in %s and declared "
          "in %d public headers" % (PROG, len(exported), lib_name,
                                    os.path.basename(mapfile), len(headers)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
