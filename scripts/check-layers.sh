#!/bin/sh
# Keeps the crate's module dependencies pointing one way (docs/architecture.md):
#
#   abi  <-  common, errno, sys  <-  buffer  <-  crate root items  <-  api  <-  transport
#                                                                         <-  passthrough, overlayfs
#
# Every `crate::` (or `$crate::`) path outside comments and test code is checked against
# the table below: a module may name its own layer and the layers it is allowed to use.
# Test code (files under a `tests/` directory, `tests.rs`, and items marked `#[cfg(test)]`)
# may use anything: it wires layers together on purpose. `super::` paths are not followed.
#
# Usage: scripts/check-layers.sh [SRC_DIR]   (default: src). Exits 1 on a violation.
set -eu
SRC=${1:-src}
exec python3 - "$SRC" <<'PY'
import os, re, sys

src = sys.argv[1]

# Layer of a file, from its path under src/.
def layer_of(rel):
    top = rel.split("/")[0]
    if top.endswith(".rs"):
        top = top[:-3]
    return {
        "abi": "abi", "common": "common", "errno": "common", "sys": "common",
        "buffer": "buffer", "lib": "root", "api": "api", "transport": "transport",
        "passthrough": "passthrough", "overlayfs": "overlayfs",
    }.get(top, "unknown:" + top)

# Layer a `crate::<first>` path points into. Other names are items of the crate root
# (lib.rs: Error, Result, errno_of, ...).
def target_of(first):
    return {
        "abi": "abi", "common": "common", "errno": "common", "sys": "common",
        "buffer": "buffer", "api": "api", "transport": "transport",
        "passthrough": "passthrough", "overlayfs": "overlayfs",
    }.get(first, "root")

BASE = {"abi", "common"}
ALLOWED = {
    "abi": {"abi"},
    "common": BASE,
    "buffer": BASE | {"buffer"},
    "root": BASE | {"buffer", "root"},
    "api": BASE | {"buffer", "root", "api"},
    "transport": BASE | {"buffer", "root", "transport"},
    "passthrough": BASE | {"buffer", "root", "api", "passthrough"},
    "overlayfs": BASE | {"buffer", "root", "api", "overlayfs"},
}

# Deliberate exceptions: (file, path prefix, why).
EXCEPTIONS = [
    ("api/filesystem/layer.rs", "crate::overlayfs::layer_ops",
     "Layer's provided whiteout/opaque helpers call the overlay's own format code "
     "(STYLE.md 11.6: the contract stays in api, the logic in overlayfs)"),
]

def strip_strings_and_comments(text):
    """Blanks out comments, string and char literals, keeping line breaks."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i)); i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j): depth += 1; j += 2
                elif text.startswith("*/", j): depth -= 1; j += 2
                else: j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        elif c == '"' or (c == "r" and re.match(r'r#*"', text[i:i + 8]) and
                          (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))):
            if c == "r":
                hashes = re.match(r'r(#*)"', text[i:]).group(1)
                end = text.find('"' + hashes, i + 2 + len(hashes))
                j = n if end < 0 else end + 1 + len(hashes)
            else:
                j = i + 1
                while j < n and text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                j = min(j + 1, n)
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        elif c == "'" and re.match(r"'(\\.|[^\\'\n])'", text[i:i + 4] + text[i + 4:i + 12]):
            m = re.match(r"'(\\[^']*|[^\\'\n])'", text[i:])
            j = i + (len(m.group(0)) if m else 1)
            out.append(" " * (j - i)); i = j
        else:
            out.append(c); i += 1
    return "".join(out)

def drop_test_items(text):
    """Blanks out every item that follows a `#[cfg(test)]` attribute."""
    lines = text.split("\n")
    out, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "#[cfg(test)]":
            depth, seen_brace = 0, False
            while i < len(lines):
                line = lines[i]
                out.append("")
                depth += line.count("{") - line.count("}")
                seen_brace |= "{" in line
                i += 1
                if (seen_brace and depth <= 0) or (not seen_brace and line.rstrip().endswith(";")
                                                   and not line.strip().startswith("#[")):
                    break
            continue
        out.append(lines[i]); i += 1
    return "\n".join(out)

def first_segments(text):
    """(line, full path) of every crate:: path, expanding `crate::{a, b::{c}}` groups."""
    found = []
    for m in re.finditer(r"\$?\bcrate::", text):
        line = text.count("\n", 0, m.start()) + 1
        rest = text[m.end():]
        if rest.startswith("{"):
            depth, j = 0, 0
            for j, ch in enumerate(rest):
                depth += ch == "{"
                depth -= ch == "}"
                if depth == 0:
                    break
            group = rest[1:j]
            # top-level entries of the group
            items, depth, cur = [], 0, ""
            for ch in group:
                if ch == "," and depth == 0:
                    items.append(cur); cur = ""
                    continue
                depth += ch == "{"; depth -= ch == "}"
                cur += ch
            items.append(cur)
            for it in items:
                it = it.strip()
                if it:
                    found.append((line, "crate::" + re.sub(r"\s+", " ", it)))
        else:
            p = re.match(r"[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*", rest)
            if p:
                found.append((line, "crate::" + p.group(0)))
    return found

def is_test_file(rel):
    parts = rel.split("/")
    return "tests" in parts[:-1] or parts[-1] == "tests.rs"

violations = []
for root, _, files in os.walk(src):
    for f in sorted(files):
        if not f.endswith(".rs"):
            continue
        path = os.path.join(root, f)
        rel = os.path.relpath(path, src)
        if is_test_file(rel):
            continue
        me = layer_of(rel)
        if me.startswith("unknown:"):
            violations.append(f"{path}: module '{me[8:]}' has no layer in scripts/check-layers.sh")
            continue
        text = drop_test_items(strip_strings_and_comments(open(path, encoding="utf-8").read()))
        for line, p in first_segments(text):
            first = p.split("::")[1].strip("{} ")
            if first in ("self", "*", ""):
                continue
            tgt = target_of(first)
            if tgt in ALLOWED[me]:
                continue
            if any(rel == ef and p.startswith(ep) for ef, ep, _ in EXCEPTIONS):
                continue
            violations.append(f"{path}:{line}: {me} may not use {tgt} ({p})")

if violations:
    print("layer check failed: dependencies must point down (docs/architecture.md)")
    for v in violations:
        print("  " + v)
    sys.exit(1)
print("layer check: ok")
PY
