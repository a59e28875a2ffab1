#!/usr/bin/env python3
"""uapi/ must carry exactly the definitions the kernel series adds.

The names come from reading the headers; the values come from the compiler.

Names: every object-like #define (not an include guard), enumerator and
struct (with its fields) that the series adds to include/uapi/ -- the lines
`git diff puds-base HEAD` adds -- and every object-like #define it adds to
include/linux/socket.h (SOL_UNIX; socket levels are not uapi).  The same
kinds of names are read from uapi/**/*.h.

Values: one C probe program prints, for every name, `value NAME N`, or for a
struct `sizeof struct NAME N` and `field struct NAME FIELD OFFSET SIZE` per
field.  It is compiled with the host's gcc and run twice: against the
series' headers (the changed include/uapi files as of HEAD, ahead of the
host's headers, plus the #define lines the series adds to
include/linux/socket.h) and against uapi/.  A name that does not compile on
one side is missing there.

Each name is one test: it fails when it is missing on either side, when the
values, a struct's size or a field's offset or size differ, or when uapi/
defines a name the series does not add.
"""
import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "qemu"))
import harness  # noqa: E402  (qemu/harness.py: the results format)

IDENT = r"[A-Za-z_]\w*"


def git(tree, *args):
    return subprocess.run(["git", "-C", tree, *args], stdout=subprocess.PIPE,
                          text=True, check=True).stdout


def strip_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


def logical_lines(text):
    return strip_comments(text).replace("\\\n", " ").splitlines()


def macros(text):
    """{name: body} of the object-like #defines of @text, include guards
    (an empty #define of a name an #ifndef tests) left out."""
    lines = logical_lines(text)
    tested = {m.group(1) for line in lines
              for m in [re.match(rf"\s*#\s*(?:ifndef\s+|if\s+!\s*defined\s*\(?\s*)({IDENT})", line)]
              if m}
    out = {}
    for line in lines:
        m = re.match(rf"\s*#\s*define\s+({IDENT})(\(?)(.*)$", line)
        if not m or m.group(2):         # function-like
            continue
        body = m.group(3).strip()
        if not body and m.group(1) in tested:
            continue
        out[m.group(1)] = body
    return out


def bodies(text, keyword):
    """(tag, body) of every `keyword [tag] { body }` in @text, braces matched."""
    text = strip_comments(text)
    for m in re.finditer(rf"\b{keyword}\b\s*({IDENT})?\s*\{{", text):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        yield m.group(1), text[m.end():i - 1]


def enumerators(text):
    """Names of every enumerator in @text."""
    return [item.partition("=")[0].strip()
            for _, body in bodies(text, "enum")
            for item in body.split(",") if item.strip()]


def split_top(body, sep):
    """@body split at every @sep outside (), [] and {}."""
    parts, depth, cur = [], 0, ""
    for c in body:
        depth += 1 if c in "([{" else -1 if c in ")]}" else 0
        if c == sep and not depth:
            parts.append(cur)
            cur = ""
        else:
            cur += c
    return parts + [cur]


def fields(body):
    """[(name, bitfield)] of the members of a struct or union body; the
    members of an anonymous struct or union are members of the outer one."""
    out = []
    for decl in split_top(body, ";"):
        decl = re.sub(r"__attribute__\s*\(\(.*?\)\)", " ", decl).strip()
        if not decl:
            continue
        inner = re.match(r"(?:struct|union)\s*(?:" + IDENT + r")?\s*\{(.*)\}\s*(.*)$", decl, re.S)
        if inner and not inner.group(2).strip():
            out += fields(inner.group(1))
            continue
        if inner:
            decl = "x " + inner.group(2)
        for i, d in enumerate(split_top(decl, ",")):
            fp = re.search(rf"\(\s*\*\s*({IDENT})\s*\)", d)
            d, _, width = d.partition(":")
            d = re.sub(r"\[.*?\]", "", d)
            names = re.findall(IDENT, d)
            if fp:
                out.append((fp.group(1), False))
            elif names and (i or len(names) > 1):
                out.append((names[-1], bool(width.strip())))
    return out


def structs(text):
    """{name: [(field, bitfield)]} of every struct defined in @text."""
    return {name: fields(body) for name, body in bodies(text, "struct") if name}


# --- the names: what the series adds, what uapi/ has -------------------------

def series_names(tree, tmp):
    """The names the series adds, and the header files that define them,
    written under @tmp: ({name: kind}, {struct: fields}, [header])."""
    names, struct_fields, headers = {}, {}, []
    diff = git(tree, "diff", "puds-base", "HEAD", "--", "include/uapi", "include/linux/socket.h")
    added = {}
    path = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            path = line[6:] if line.startswith("+++ b/") else None
        elif line.startswith("+") and path:
            added.setdefault(path, []).append(line[1:])
    kernel_defines = []
    for path, lines in sorted(added.items()):
        plus = "\n".join(lines)
        text = git(tree, "show", f"HEAD:{path}")
        if not path.startswith("include/uapi/"):
            # Not a uapi header (include/linux/socket.h): the names are the
            # #defines the series adds, compiled with the file's other
            # object-like #defines (SOL_UNIX may be written from another
            # SOL_*) but not the kernel-internal header itself.
            names.update({n: "macro" for n in macros(plus)})
            kernel_defines += [f"#undef {n}\n#define {n} {b}" for n, b in macros(text).items()]
            continue
        rel = path[len("include/uapi/"):]
        dest = tmp / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)
        headers.append(rel)
        added_idents = {m.group(1) for line in logical_lines(plus)
                        for m in [re.match(rf"\s*({IDENT})\s*(=|,|$)", line)] if m}
        defs_added = {m.group(1) for line in logical_lines(plus)
                      for m in [re.match(rf"\s*#\s*define\s+({IDENT})", line)] if m}
        names.update({n: "macro" for n in macros(text) if n in defs_added})
        names.update({n: "enum" for n in enumerators(text) if n in added_idents})
        new_structs = set(re.findall(rf"\bstruct\s+({IDENT})\s*\{{", strip_comments(plus)))
        for s, f in structs(text).items():
            if s in new_structs:
                struct_fields[s] = f
    if kernel_defines:
        (tmp / "puds-series-kernel.h").write_text("\n".join(kernel_defines) + "\n")
        headers.append("puds-series-kernel.h")
    names.update({"struct " + s: "struct" for s in struct_fields})
    return names, struct_fields, headers


def uapi_names(uapi):
    names, struct_fields, headers = {}, {}, []
    for h in sorted(pathlib.Path(uapi).rglob("*.h")):
        text = h.read_text()
        headers.append(str(h.relative_to(uapi)))
        names.update({n: "macro" for n in macros(text)})
        names.update({n: "enum" for n in enumerators(text)})
        struct_fields.update(structs(text))
    names.update({"struct " + s: "struct" for s in struct_fields})
    return names, struct_fields, headers


# --- the probe ---------------------------------------------------------------

def probe_lines(name, kind, flds):
    """[(key, C statement)] that print what the compiler knows of @name."""
    if kind != "struct":
        return [(name, f'printf("value {name} %lld\\n", (long long)({name}));')]
    s = name.split()[1]
    out = [(name, f'printf("sizeof struct {s} %zu\\n", sizeof(struct {s}));')]
    for f, bitfield in flds:
        if not bitfield:        # offsetof() and sizeof do not take bit-fields
            out.append((f"{name}.{f}", f'printf("field struct {s} {f} %zu %zu\\n", '
                        f'offsetof(struct {s}, {f}), sizeof(((struct {s} *)0)->{f}));'))
    return out


def run_probe(side, tmp, cflags, headers, items):
    """Compile and run the probe of @items [(key, statement)] in @tmp: its
    output lines by key, and for the keys that did not compile, gcc's error.
    A statement that does not compile is dropped and the probe built again."""
    errors = {}
    items = list(items)
    while True:
        src = ["#include <stdio.h>", "#include <stddef.h>"]
        src += [f"#include <{h}>" for h in headers]
        src += ["int main(void)", "{"]
        first = len(src) + 1
        src += [stmt for _, stmt in items] + ["\treturn 0;", "}"]
        (tmp / "probe.c").write_text("\n".join(src) + "\n")
        cc = subprocess.run(["gcc", "-std=gnu11", "-ftrack-macro-expansion=0",
                             "-fno-diagnostics-show-caret", *cflags, "-o", "probe", "probe.c"],
                            cwd=tmp, env=dict(os.environ, LC_ALL="C"), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if cc.returncode == 0:
            break
        bad = {}
        for m in re.finditer(r"^probe\.c:(\d+):\d+: error: (.*)$", cc.stdout, re.M):
            i = int(m.group(1)) - first
            if 0 <= i < len(items):
                bad.setdefault(items[i][0], m.group(2))
        if not bad:
            # The headers themselves do not compile: nothing can be measured.
            print(f"check-uapi: the probe of {side} does not compile:\n{cc.stdout}",
                  file=sys.stderr)
            msg = "the probe does not compile: " + next(
                (line for line in cc.stdout.splitlines() if "error:" in line), "gcc failed")
            return {}, {k: msg for k, _ in items} | errors
        errors.update(bad)
        items = [(k, s) for k, s in items if k not in bad]
    out = subprocess.run([str(tmp / "probe")], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    got = {}
    for line in out.splitlines():
        w = line.split()
        if w[0] == "value":
            got[w[1]] = int(w[2])
        elif w[0] == "sizeof":
            got["struct " + w[2]] = int(w[3])
        elif w[0] == "field":
            got[f"struct {w[2]}.{w[3]}"] = (int(w[4]), int(w[5]))
    return got, errors


def show(v):
    return f"{v} ({v:#x})" if isinstance(v, int) and v > 9 else str(v)


def compare_struct(name, want_fields, have_fields, s, u, s_err, u_err):
    """The differences of struct @name between the series (s) and uapi/ (u)."""
    diffs = []
    if s.get(name) != u.get(name):
        diffs.append(f"sizeof is {s.get(name)} in the series, {u.get(name)} in uapi/")
    seen = [f for f, _ in want_fields] + [f for f, _ in have_fields
                                          if f not in dict(want_fields)]
    for f in seen:
        key = f"{name}.{f}"
        if f not in dict(have_fields) or (key in u_err and key not in s_err):
            diffs.append(f"field {f} is in the series but not in uapi/")
        elif f not in dict(want_fields):
            diffs.append(f"field {f} is in uapi/ but not in the series")
        elif s.get(key) != u.get(key):
            (so, ss), (uo, us) = s.get(key, ("?", "?")), u.get(key, ("?", "?"))
            diffs.append(f"field {f} is at offset {so} size {ss} in the series, "
                         f"offset {uo} size {us} in uapi/")
    return diffs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", required=True)
    ap.add_argument("--uapi", default="uapi")
    ap.add_argument("--results")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="check-uapi-") as d:
        tmp = pathlib.Path(d)
        (tmp / "series").mkdir()
        (tmp / "uapi").mkdir()
        want, want_fields, s_headers = series_names(a.tree, tmp / "series")
        have, have_fields, u_headers = uapi_names(a.uapi)
        every = sorted(set(want) | set(have))
        kinds = {n: want.get(n) or have.get(n) for n in every}
        # Headers the series' files include and the host lacks come from the tree.
        s_flags = ["-I", str(tmp / "series"), "-idirafter", f"{a.tree}/include/uapi",
                   "-idirafter", f"{a.tree}/arch/x86/include/uapi"]
        s, s_err = run_probe("the series", tmp / "series", s_flags, s_headers,
                             [i for n in sorted(want)
                              for i in probe_lines(n, want[n], want_fields.get(n[7:], []))])
        u, u_err = run_probe("uapi/", tmp / "uapi", ["-I", str(pathlib.Path(a.uapi).resolve())],
                             u_headers,
                             [i for n in every
                              for i in probe_lines(n, kinds[n], have_fields.get(n[7:], []))])

    passed, failures = 0, []
    for name in every:
        if name not in want:
            msg = f"uapi: {name} is in uapi/ but the series does not define it"
        elif name in s_err:
            msg = f"uapi: {name}: the series' definition does not compile: {s_err[name]}"
        elif name in u_err or name not in u:
            msg = (f"uapi: {name} is in the series but not in uapi/"
                   + (f" ({u_err[name]})" if name in u_err else ""))
        elif kinds[name] == "struct":
            diffs = compare_struct(name, want_fields[name[7:]], have_fields.get(name[7:], []),
                                   s, u, s_err, u_err)
            msg = f"uapi: {name}: " + "; ".join(diffs) if diffs else None
        elif s[name] != u[name]:
            msg = f"uapi: {name}: the series defines {show(s[name])}, uapi/ has {show(u[name])}"
        else:
            msg = None
        if msg:
            failures.append(msg)
            print(f"not ok - {msg}")
            continue
        passed += 1
        if kinds[name] == "struct":
            layout = ", ".join(f"{f}@{s[name + '.' + f][0]}" for f, _ in want_fields[name[7:]]
                               if name + "." + f in s)
            print(f"ok - uapi: {name} = {s[name]} bytes: {layout}")
        else:
            print(f"ok - uapi: {name} = {show(s[name])}")
    harness.write_result(a.results, "uapi", passed, failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
