#!/usr/bin/env python3
"""api-diff.py - what of one crate's public API another crate lacks, from rustdoc JSON.

Usage: scripts/api-diff.py [--exclude-async] UPSTREAM.json OURS.json

Both files come from the same toolchain:
  RUSTC_BOOTSTRAP=1 cargo rustdoc --lib [--features ...] -- \
      -Z unstable-options --output-format json

Every public path of UPSTREAM (following `pub use`, globs included) is looked up at
the same path in OURS. For a path found in both, the script compares fields, variants,
inherent methods and associated consts, trait items, trait impls (Send/Sync included),
trait items ours requires that upstream does not have, and signatures. Signatures are compared as rendered text without parameter names and
lifetimes; local types are named by their last path segment, foreign ones by crate and
name. Items only in OURS are not reported.

--exclude-async drops async-io's items (async_runtime, async_file, mpmc, the Async*
traits and anything named async_*): they are tracked separately.

The first line gives the counts per category; one section per category follows. Exit
status is 0 whatever the differences (the output is a report, not a check).
"""

import json
import signal
import sys

ASYNC_NAMES = {
    "async_runtime",
    "async_file",
    "mpmc",
    "AsyncFileSystem",
    "AsyncZeroCopyReader",
    "AsyncZeroCopyWriter",
    "AsyncFileReadWriteVolatile",
}

CATEGORIES = [
    ("missing_item", "public items missing at the same path"),
    ("kind_differs", "items of another kind (struct vs enum, ...)"),
    ("missing_field", "missing fields"),
    ("missing_variant", "missing variants"),
    ("missing_inherent", "missing inherent methods and associated consts"),
    ("missing_trait_item", "missing trait methods and associated items"),
    ("missing_impl", "missing trait impls"),
    ("extra_required", "trait items ours requires that upstream does not have"),
    ("sig_differs", "signatures, field types or values that differ"),
]

# Compiler markers that derives add: not API.
MARKERS = {"std::StructuralPartialEq", "std::Send", "std::Sync"}

SKIP_STD_CRATES = {"core": "std", "alloc": "std", "std": "std"}


def kind_of(item):
    return next(iter(item["inner"]))


class Crate:
    """One rustdoc JSON file with its public paths and a type renderer."""

    def __init__(self, path):
        with open(path) as f:
            self.doc = json.load(f)
        self.index = self.doc["index"]
        self.paths = self.doc["paths"]
        self.by_path = {}
        self.anon = False  # render generic parameters as `_` (impl keys)
        root = self.index[str(self.doc["root"])]
        self._visit_module(root, [], frozenset())

    def item(self, id_):
        return self.index.get(str(id_)) if id_ is not None else None

    # ---- public paths ----

    def _visit_module(self, module, prefix, seen):
        items = [self.item(i) for i in module["inner"]["module"]["items"]]
        items = [i for i in items if i is not None]
        globs = []
        for it in items:
            if kind_of(it) == "use" and it["inner"]["use"]["is_glob"]:
                globs.append(it)
            else:
                self._add(it, prefix, seen)
        # Names defined explicitly win over names a glob brings in.
        for it in globs:
            target = self.item(it["inner"]["use"]["id"])
            if target is not None and kind_of(target) == "module":
                if target["id"] not in seen:
                    self._visit_module(target, prefix, seen | {target["id"]})

    def _add(self, it, prefix, seen):
        if kind_of(it) == "use":
            use = it["inner"]["use"]
            target = self.item(use["id"])
            path = prefix + [use["name"]]
            if target is None:
                self._register(("extern", use["source"]), path, seen)
            else:
                self._register(target, path, seen)
            return
        if it.get("name") is None or kind_of(it) == "impl":
            return
        self._register(it, prefix + [it["name"]], seen)

    def _register(self, it, path, seen):
        key = "::".join(path)
        if key in self.by_path:
            return
        self.by_path[key] = it
        if isinstance(it, dict) and kind_of(it) == "module" and it["id"] not in seen:
            self._visit_module(it, path, seen | {it["id"]})

    def resolve(self, it):
        """Follows a local type alias to the type it names (for members)."""
        for _ in range(4):
            if not isinstance(it, dict) or kind_of(it) != "type_alias":
                return it
            ty = it["inner"]["type_alias"]["type"]
            target = self.item(ty.get("resolved_path", {}).get("id")) if isinstance(ty, dict) else None
            if target is None:
                return it
            it = target
        return it

    def is_local_type(self, ty):
        if not isinstance(ty, dict) or "resolved_path" not in ty:
            return False
        target = self.item(ty["resolved_path"]["id"])
        return target is not None and kind_of(target) in ("struct", "enum", "union", "type_alias")

    # ---- rendering ----

    def type_name(self, rp):
        """A path's name: last segment if local, crate::name (or crate::module::name)."""
        summary = self.paths.get(str(rp.get("id")))
        written = rp.get("path") or rp.get("name") or "?"
        if summary is None:
            return written.split("::")[-1]
        segs = summary["path"]
        if summary["crate_id"] == 0:
            return segs[-1]
        crate = SKIP_STD_CRATES.get(segs[0], segs[0])
        if segs[-1] in ("Result", "Error") and len(segs) > 2:
            return "%s::%s::%s" % (crate, segs[-2], segs[-1])
        return "%s::%s" % (crate, segs[-1])

    def args(self, args, selfs):
        if not args:
            return ""
        if "angle_bracketed" in args:
            ab = args["angle_bracketed"]
            parts = []
            for a in ab["args"]:
                if isinstance(a, dict) and "type" in a:
                    parts.append(self.ty(a["type"], selfs))
                elif isinstance(a, dict) and "const" in a:
                    parts.append(str(a["const"].get("expr", "_")))
                elif a == "infer":
                    parts.append("_")
            for c in ab.get("constraints", []):
                b = c.get("binding", {})
                if "equality" in b:
                    term = b["equality"]
                    val = self.ty(term["type"], selfs) if "type" in term else "_"
                    parts.append("%s = %s" % (c["name"], val))
                elif "constraint" in b:
                    parts.append("%s: %s" % (c["name"], self.bounds(b["constraint"], selfs)))
            return "<%s>" % ", ".join(parts) if parts else ""
        if "parenthesized" in args:
            p = args["parenthesized"]
            out = "(%s)" % ", ".join(self.ty(t, selfs) for t in p["inputs"])
            if p.get("output") is not None:
                out += " -> " + self.ty(p["output"], selfs)
            return out
        return ""

    def path(self, rp, selfs=None):
        return self.type_name(rp) + self.args(rp.get("args"), selfs)

    def bounds(self, bounds, selfs):
        parts = []
        for b in bounds:
            if "trait_bound" in b:
                tb = b["trait_bound"]
                pre = "?" if tb.get("modifier") == "maybe" else ""
                parts.append(pre + self.path(tb["trait"], selfs))
        return " + ".join(parts)

    def ty(self, t, selfs=None):
        if t is None:
            return "()"
        if isinstance(t, str):
            return "_" if t == "infer" else t
        k, v = next(iter(t.items()))
        if k == "resolved_path":
            alias = self.item(v.get("id"))
            if (alias is not None and kind_of(alias) == "type_alias" and not v.get("args")
                    and not alias["inner"]["type_alias"]["generics"]["params"]):
                # `type VfsIndex = u8`: the same type as u8 for a caller.
                return self.ty(alias["inner"]["type_alias"]["type"], selfs)
            s = self.path(v, selfs)
            return "Self" if selfs is not None and s == selfs else s
        if k == "generic":
            return "_" if self.anon and v != "Self" else v
        if k == "primitive":
            return v
        if k == "tuple":
            return "(%s)" % ", ".join(self.ty(x, selfs) for x in v)
        if k == "slice":
            return "[%s]" % self.ty(v, selfs)
        if k == "array":
            return "[%s; %s]" % (self.ty(v["type"], selfs), v["len"])
        if k == "borrowed_ref":
            return "&%s%s" % ("mut " if v["is_mutable"] else "", self.ty(v["type"], selfs))
        if k == "raw_pointer":
            return "*%s %s" % ("mut" if v["is_mutable"] else "const", self.ty(v["type"], selfs))
        if k == "dyn_trait":
            return "dyn " + " + ".join(self.path(p["trait"], selfs) for p in v["traits"])
        if k == "impl_trait":
            return "impl " + self.bounds(v, selfs)
        if k == "function_pointer":
            sig = v["sig"]
            ins = ", ".join(self.ty(x[1], selfs) for x in sig["inputs"])
            return "fn(%s) -> %s" % (ins, self.ty(sig.get("output"), selfs))
        if k == "qualified_path":
            base = self.ty(v["self_type"], selfs)
            if v.get("trait"):
                base = "<%s as %s>" % (base, self.path(v["trait"], selfs))
            return base + "::" + v["name"]
        if k == "pat":
            return self.ty(v["type"], selfs)
        return k

    def generics(self, g, selfs=None):
        params, where = [], []
        for p in g.get("params", []):
            kind = p["kind"]
            if "type" in kind:
                if kind["type"].get("is_synthetic"):
                    continue
                b = self.bounds(kind["type"]["bounds"], selfs)
                params.append(p["name"] + (": " + b if b else ""))
            elif "const" in kind:
                params.append("const %s: %s" % (p["name"], self.ty(kind["const"]["type"], selfs)))
        for w in g.get("where_predicates", []):
            if "bound_predicate" in w:
                bp = w["bound_predicate"]
                b = self.bounds(bp["bounds"], selfs)
                if b:
                    where.append("%s: %s" % (self.ty(bp["type"], selfs), b))
            elif "eq_predicate" in w:
                ep = w["eq_predicate"]
                rhs = ep["rhs"]
                rhs = self.ty(rhs["type"], selfs) if "type" in rhs else "_"
                where.append("%s = %s" % (self.ty(ep["lhs"], selfs), rhs))
        return ("<%s>" % ", ".join(params) if params else ""), (
            " where " + ", ".join(where) if where else ""
        )

    def fn(self, it, selfs=None, trait_item=False):
        f = it["inner"]["function"]
        h = f["header"]
        quals = "".join(
            q + " " for q, on in (("const", h["is_const"]), ("async", h["is_async"]),
                                  ("unsafe", h["is_unsafe"])) if on
        )
        params, where = self.generics(f["generics"], selfs)
        ins = ", ".join(self.ty(x[1], selfs) for x in f["sig"]["inputs"])
        out = f["sig"].get("output")
        ret = " -> " + self.ty(out, selfs) if out is not None else ""
        s = "%sfn %s%s(%s)%s%s" % (quals, it["name"], params, ins, ret, where)
        if trait_item:
            s += " {provided}" if f["has_body"] else " {required}"
        return s

    def member(self, it, selfs=None, trait_item=False):
        k = kind_of(it)
        if k == "function":
            return self.fn(it, selfs, trait_item)
        if k == "assoc_const":
            return "const %s: %s" % (it["name"], self.ty(it["inner"][k]["type"], selfs))
        if k == "assoc_type":
            v = it["inner"][k]
            s = "type " + it["name"]
            if v.get("bounds"):
                s += ": " + self.bounds(v["bounds"], selfs)
            if v.get("type") is not None:
                s += " = " + self.ty(v["type"], selfs)
            return s
        return k

    def impl_head(self, impl):
        params, where = self.generics(impl["generics"])
        return "impl%s %s%s" % (params, self.ty(impl["for"]), where)

    # ---- members of one item ----

    def fields(self, it):
        """name -> rendered type, for struct/union fields or a variant's fields."""
        k = kind_of(it)
        v = it["inner"][k]
        ids = []
        if k == "struct":
            sk = v["kind"]
            if isinstance(sk, dict) and "plain" in sk:
                ids = sk["plain"]["fields"]
            elif isinstance(sk, dict) and "tuple" in sk:
                ids = sk["tuple"]
        elif k == "union":
            ids = v["fields"]
        out = {}
        for n, i in enumerate(ids):
            f = self.item(i)
            if f is None:
                continue
            name = f["name"] if k != "struct" or "tuple" not in v["kind"] else str(n)
            out[name] = self.ty(f["inner"]["struct_field"])
        return out

    def variant(self, it):
        v = it["inner"]["variant"]["kind"]
        if v == "plain":
            return it["name"]
        if "tuple" in v:
            tys = [self.ty(self.item(i)["inner"]["struct_field"]) if i is not None else "_"
                   for i in v["tuple"]]
            return "%s(%s)" % (it["name"], ", ".join(tys))
        fs = [self.item(i) for i in v["struct"]["fields"]]
        return "%s { %s }" % (it["name"], ", ".join(
            "%s: %s" % (f["name"], self.ty(f["inner"]["struct_field"])) for f in fs if f))

    def impls(self, it):
        """(inherent members, trait impl keys) of a struct, enum or union."""
        k = kind_of(it)
        inherent, traits = {}, {}
        selfs = None
        for iid in it["inner"][k].get("impls", []):
            impl = self.item(iid)
            if impl is None:
                continue
            im = impl["inner"]["impl"]
            if im.get("blanket_impl") is not None:
                continue
            if im["trait"] is None:
                selfs = self.ty(im["for"])
                head = self.impl_head(im)
                for mid in im["items"]:
                    m = self.item(mid)
                    if m is None or m.get("name") is None or kind_of(m) == "assoc_type":
                        continue
                    inherent.setdefault(m["name"], "[%s] %s" % (head, self.member(m, selfs)))
                continue
            name = self.type_name(im["trait"])
            if name in MARKERS or im["is_synthetic"]:
                # Send/Sync count whether derived by the compiler or written out.
                if name in ("std::Send", "std::Sync") and not im["is_negative"]:
                    traits["auto " + name] = "impl %s for %s" % (name, self.ty(im["for"]))
                continue
            key = ("!" if im["is_negative"] else "") + self.path(im["trait"])
            traits.setdefault(key, "impl %s for %s" % (key, self.ty(im["for"])))
        return inherent, traits

    def trait_members(self, it):
        t = it["inner"]["trait"]
        items = {}
        for i in t["items"]:
            m = self.item(i)
            if m is not None and m.get("name"):
                items[m["name"]] = self.member(m, None, trait_item=True)
        implementors = {}
        for i in t.get("implementations", []):
            impl = self.item(i)
            if impl is None:
                continue
            im = impl["inner"]["impl"]
            if self.is_local_type(im["for"]) or im.get("blanket_impl") is not None:
                continue  # counted on the type itself
            self.anon = True  # `impl<F> .. for Arc<F>` and `impl<FS> .. for Arc<FS>` match
            key = "impl for " + self.ty(im["for"])
            self.anon = False
            implementors[key] = self.impl_head(im)
        return items, implementors

    def foreign_impls(self):
        """Impls of a foreign trait for a foreign type (e.g. From<Local> for libc type)."""
        out = {}
        for it in self.index.values():
            if it["crate_id"] != 0 or kind_of(it) != "impl":
                continue
            im = it["inner"]["impl"]
            if im["trait"] is None or im["is_synthetic"] or im.get("blanket_impl") is not None:
                continue
            if self.item(im["trait"]["id"]) is not None or self.is_local_type(im["for"]):
                continue
            key = "impl %s for %s" % (self.path(im["trait"]), self.ty(im["for"]))
            out[key] = key
        return out


def is_async(path, member=""):
    segs = path.split("::") + ([member] if member else [])
    for s in segs:
        s = s.split(" ")[-1]
        if s in ASYNC_NAMES or s.startswith("async_"):
            return True
    return False


def describe(it):
    if isinstance(it, tuple):
        return "pub use %s" % it[1]
    return kind_of(it)


def compare(up, ours, exclude_async):
    found = {c: [] for c, _ in CATEGORIES}

    def add(cat, path, member, detail):
        if exclude_async and (is_async(path, member) or "Async" in detail and
                              any(n in detail for n in ASYNC_NAMES)):
            return
        found[cat].append((path, member, detail))

    for path in sorted(up.by_path):
        u = up.by_path[path]
        if path not in ours.by_path:
            add("missing_item", path, "", describe(u))
            continue
        o = ours.by_path[path]
        if isinstance(u, tuple) or isinstance(o, tuple):
            continue  # a foreign re-export: present is all we can say
        ur, orr = up.resolve(u), ours.resolve(o)
        uk, ok = kind_of(ur), kind_of(orr)
        adts = ("struct", "enum", "union")
        if uk != ok:
            add("kind_differs", path, "", "up: %s, ours: %s" % (uk, ok))
            if uk not in adts or ok not in adts:
                continue
        oi, ot = ours.impls(orr) if ok in adts else ({}, {})
        if uk in ("struct", "union") and ok == uk:
            uf, of = up.fields(ur), ours.fields(orr)
            for name, t in uf.items():
                if name not in of:
                    add("missing_field", path, name, "%s: %s" % (name, t))
                elif of[name] != t:
                    add("sig_differs", path, "field " + name,
                        "up: %s / ours: %s" % (t, of[name]))
        if uk == "enum":
            ov = {}
            for i in orr["inner"]["enum"]["variants"] if ok == "enum" else []:
                v = ours.item(i)
                if v is not None:
                    ov[v["name"]] = ours.variant(v)
            for i in ur["inner"]["enum"]["variants"]:
                v = up.item(i)
                if v is None:
                    continue
                r = up.variant(v)
                if v["name"] not in ov:
                    if v["name"] not in oi:  # a same-named fn builds it (kind_differs)
                        add("missing_variant", path, v["name"], r)
                elif ov[v["name"]] != r:
                    add("sig_differs", path, "variant " + v["name"],
                        "up: %s / ours: %s" % (r, ov[v["name"]]))
        if uk in adts:
            ui, ut = up.impls(ur)
            for name, s in sorted(ui.items()):
                if name not in oi:
                    add("missing_inherent", path, name, s)
                elif oi[name] != s:
                    add("sig_differs", path, name, "up: %s / ours: %s" % (s, oi[name]))
            for key, s in sorted(ut.items()):
                if key not in ot:
                    add("missing_impl", path, key, s)
        elif uk == "trait":
            ui, uimp = up.trait_members(ur)
            oi, oimp = ours.trait_members(orr)
            for name, s in sorted(ui.items()):
                if name not in oi:
                    add("missing_trait_item", path, name, s)
                elif oi[name] != s:
                    add("sig_differs", path, name, "up: %s / ours: %s" % (s, oi[name]))
            for name, s in sorted(oi.items()):
                # An upstream implementor does not define it: it fails to compile here.
                if name not in ui and s.endswith("{required}"):
                    add("extra_required", path, name, s)
            for key, s in sorted(uimp.items()):
                if key not in oimp:
                    add("missing_impl", path, key, s)
        elif uk == "function":
            a, b = up.fn(ur), ours.fn(orr)
            if a != b:
                add("sig_differs", path, "", "up: %s / ours: %s" % (a, b))
        elif uk in ("constant", "static"):
            a = up.ty(ur["inner"][uk]["type"]), ur["inner"][uk].get("const", {}).get("value")
            b = ours.ty(orr["inner"][uk]["type"]), orr["inner"][uk].get("const", {}).get("value")
            if a != b:
                add("sig_differs", path, "", "up: %s = %s / ours: %s = %s" % (a + b))
        elif uk == "type_alias":
            a, b = up.ty(ur["inner"][uk]["type"]), ours.ty(orr["inner"][uk]["type"])
            if a != b:
                add("sig_differs", path, "", "up: = %s / ours: = %s" % (a, b))

    of = ours.foreign_impls()
    for key in sorted(up.foreign_impls()):
        if key not in of:
            add("missing_impl", "(foreign types)", key, key)
    return found


def main(argv):
    exclude_async = "--exclude-async" in argv
    files = [a for a in argv if not a.startswith("--")]
    if len(files) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    up, ours = Crate(files[0]), Crate(files[1])
    found = compare(up, ours, exclude_async)
    print("api-diff: %d upstream paths; " % len(up.by_path) + ", ".join(
        "%s %d" % (c, len(found[c])) for c, _ in CATEGORIES))
    for cat, title in CATEGORIES:
        if not found[cat]:
            continue
        print("\n## %s: %s (%d)\n" % (cat, title, len(found[cat])))
        for path, member, detail in found[cat]:
            where = "`%s`" % path + (" :: `%s`" % member if member else "")
            print("- %s — %s" % (where, detail))
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly
    sys.exit(main(sys.argv[1:]))
