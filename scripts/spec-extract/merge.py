"""Merge the per-version dump of extract.py into layered registry data, with diagnostics.

    python3 scripts/spec-extract/extract.py /work/specs > /tmp/raw.json
    python3 scripts/spec-extract/merge.py /tmp/raw.json src/kmip/spec

Facts the HTML does not give (or gives wrongly) are in overrides.py, each with a reason.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
from normalize import normalize  # noqa: E402
import overrides as OV  # noqa: E402

VERSIONS = ["1.0", "1.1", "1.2", "1.3", "1.4", "2.0", "2.1"]
TYPE_PATTERNS = [
    ("DateTimeExtended", r"Date[- ]?Time[- ]Extended"),
    ("DateTime", r"Date[- ]?Time(?![- ]Extended)"),
    ("LongInteger", r"Long Integer"),
    ("BigInteger", r"Big Integer"),
    ("Integer", r"(?<!Long )(?<!Big )Integer"),
    ("Enumeration", r"Enumeration"),
    ("Boolean", r"Boolean"),
    ("TextString", r"Text ?[Ss]tring|^Text$"),
    ("ByteString", r"Byte ?String|^Byte$"),
    ("Interval", r"Interval"),
    ("Structure", r"Structure|^RNG Parameters"),
]
TYPE_ORDER = [t for t, _ in TYPE_PATTERNS]


def log(*a):
    print(*a, file=sys.stderr)


def parse_types(enc):
    enc1 = re.sub(r"\s+", " ", enc).strip()
    found = []
    for t, pat in TYPE_PATTERNS:
        if re.search(pat, enc1):
            found.append(t)
    return found


def enum_title(title):
    m = re.match(r"(.*?) Enumeration\b", title)
    return (m.group(1) if m else title).strip()


def main(raw_path, out_dir):
    raw = json.load(open(raw_path))

    # ---------------------------------------------------------------- tags
    tags = {}  # value -> record
    for v in VERSIONS:
        d = raw[v]
        present = {}
        for t in d["tags"]:
            name = t["name"]
            if name.startswith("(") or name == "Reserved":
                continue  # (Reserved)/(Unused)
            name = OV.TAG_SPEC_NAME_FIX.get((v, name), name)
            present[t["value"]] = (name, t["note"])
        for val, (name, note) in present.items():
            rec = tags.get(val)
            if rec is None:
                rec = tags[val] = {"specName": name, "tag": val, "added": v, "ref": f"KMIP {v} {d['tagTable']}"}
            else:
                if rec.get("removed"):
                    log("tag re-added", hex(val), name, v)
                if rec["specName"] != name:
                    log(f"tag renamed {hex(val)} {rec['specName']!r} -> {name!r} in {v}")
                    rec["specName"] = name
            if "deprecated" in note and "deprecated" not in rec:
                m = re.search(r"version (\d\.\d)", note)
                rec["deprecated"] = m.group(1) if m else v
        for val, rec in tags.items():
            if val not in present and "removed" not in rec:
                rec["removed"] = v

    by_norm = {}
    for rec in tags.values():
        rec["name"] = normalize(rec["specName"])
        if rec["name"] in by_norm:
            log("DUP tag name", rec["name"])
        by_norm[rec["name"]] = rec

    # ---------------------------------------------------------------- enums & masks
    def merge_tables(kind):
        out = {}  # name -> rec
        for v in VERSIONS:
            d = raw[v]
            seen = set()
            for e in d[kind]:
                spec_name = enum_title(e["title"]) if kind == "enums" else e["title"].strip()
                spec_name = OV.ENUM_SPEC_NAME_FIX.get(spec_name, spec_name)
                name = normalize(spec_name)
                seen.add(name)
                rec = out.get(name)
                if rec is None:
                    rec = out[name] = {"name": name, "specName": spec_name, "added": v,
                                       "ref": f"KMIP {v} {e['ref']}", "values": {}, "sections": {}}
                rec["sections"][v] = e["section"]
                rec["lastRef"] = f"KMIP {v} {e['ref']}"
                vals = {}
                for x in e["values"]:
                    vname = OV.VALUE_SPEC_NAME_FIX.get((name, x["name"]), x["name"])
                    raw_v = x["raw"]
                    m = re.fullmatch(r"(?:0x)?([0-9A-Fa-f]{8})(?:\s*\((deprecated)\))?", raw_v)
                    if not m:
                        if raw_v not in ("8XXXXXXX", "XXX00000", "XXXXXXX0") and not vname.startswith("("):
                            log(kind, v, name, "unparsed value", x)
                        continue
                    if vname.startswith("(") or vname == "Extensions":
                        continue
                    num = int(m.group(1), 16)
                    if num in vals:
                        log(kind, v, name, "dup value", hex(num), vals[num], vname)
                    vals[num] = (vname, bool(m.group(2)))
                for num, (vname, dep) in vals.items():
                    vr = rec["values"].get(num)
                    if vr is None:
                        vr = rec["values"][num] = {"specName": vname, "value": num, "added": v}
                    else:
                        if vr.get("removed"):
                            log(kind, name, "value re-added", hex(num), vname, v)
                            del vr["removed"]
                        if vr["specName"] != vname:
                            if normalize(vr["specName"]) != normalize(vname):
                                log(f"{kind} {name} value {hex(num)} renamed {vr['specName']!r} -> {vname!r} in {v}")
                            vr.setdefault("formerSpecNames", []).append(vr["specName"])
                            vr["specName"] = vname
                    if dep and "deprecated" not in vr:
                        vr["deprecated"] = v
                for num, vr in rec["values"].items():
                    if num not in vals and "removed" not in vr:
                        vr["removed"] = v
            for name, rec in out.items():
                if name not in seen and "removed" not in rec:
                    rec["removed"] = v
        return out

    enums = merge_tables("enums")
    masks = merge_tables("masks")
    for name, rec in list(enums.items()):
        if name in OV.ENUM_DROP:
            del enums[name]
    for name, add in OV.EXTRA_ENUMS.items():
        enums[name] = add

    # section -> enum name, per version (for "Enumeration, see 9.1.3.2.N")
    sec_to_enum = {v: {} for v in VERSIONS}
    for name, rec in enums.items():
        for v, s in rec.get("sections", {}).items():
            sec_to_enum[v][s] = name

    # ---------------------------------------------------------------- item types from encoding tables
    types = {}  # tag name -> {type: first ref}
    enum_of = {}
    unmatched = {}
    for v in VERSIONS:
        for e in raw[v]["encodings"]:
            nm = re.sub(r",? see .*$", "", e["name"]).strip()
            nm = re.sub(r"\s*\(.*\)$", "", nm).strip()
            n = normalize(nm) if nm else ""
            n = OV.ENCODING_NAME_ALIAS.get(n, n)
            if n not in by_norm:
                unmatched.setdefault(n, f"{v} {e['ref']} {e['enc'][:40]!r}")
                continue
            ts = parse_types(e["enc"])
            for t in ts:
                types.setdefault(n, {}).setdefault(t, f"KMIP {v} {e['ref']}")
            m = re.search(r"Enumeration,? see (9\.1\.3\.2\.\d+)", re.sub(r"\s+", " ", e["enc"]))
            if m:
                en = sec_to_enum[v].get(m.group(1))
                if en:
                    enum_of.setdefault(n, set()).add(en)
                else:
                    log("no enum for section", v, m.group(1), n)
        for e in raw[v]["enumRefs"]:
            n = OV.ENCODING_NAME_ALIAS.get(normalize(e["name"]), normalize(e["name"]))
            en = sec_to_enum[v].get(e["section"])
            if n not in by_norm or not en:
                unmatched.setdefault(n, f"{v} {e['ref']} enum ref {e['section']}")
                continue
            types.setdefault(n, {}).setdefault("Enumeration", f"KMIP {v} {e['ref']}")
            enum_of.setdefault(n, set()).add(en)
    xref = {}  # fallback: the non-normative Tag Cross-reference appendix of 1.x
    for v in VERSIONS:
        for e in raw[v]["crossref"]:
            n = OV.ENCODING_NAME_ALIAS.get(normalize(e["name"]), normalize(e["name"]))
            if n not in by_norm:
                unmatched.setdefault(n, f"{v} {e['ref']} crossref")
                continue
            for t in parse_types(e["enc"]):
                xref.setdefault(n, {}).setdefault(t, f"KMIP {v} {e['ref']} (non-normative)")
    for n, ts in xref.items():
        if n not in types:
            types[n] = ts
        elif set(ts) - set(types[n]):
            log("crossref disagrees:", n, ts, types[n])
    for n, where in sorted(unmatched.items()):
        log("encoding row not a tag:", n, where)

    # ---------------------------------------------------------------- KMIP 3.0 additions (kmip30.json)
    k30 = json.load(open(os.path.join(os.path.dirname(__file__), "kmip30.json")))
    r30 = k30["ref"]
    for t in k30["tags"]:
        val = int(t["tag"], 16)
        assert val not in tags, t
        n = normalize(t["specName"])
        tags[val] = {"specName": t["specName"], "tag": val, "added": "3.0", "ref": r30, "name": n}
        by_norm[n] = tags[val]
        OV.TAG_TYPES[n] = t["types"]
        if "enum" in t:
            OV.TAG_ENUM[n] = t["enum"]
    type_added = {}
    for n, ts in k30["tagTypes"].items():
        base = OV.TAG_TYPES.get(n) or list(types.get(n, {}))
        OV.TAG_TYPES[n] = base + [t for t in ts if t not in base]
        type_added[n] = {t: "3.0" for t in ts if t not in base}
    for n in k30["removedTags"]:
        rec = by_norm[n]
        assert "removed" not in rec, n
        rec["removed"] = "3.0"
        rec["removedRef"] = r30
    for e in k30["enums"]:
        n = normalize(e["specName"])
        enums[n] = {"name": n, "specName": e["specName"], "added": "3.0", "ref": r30,
                    "values": {int(v, 16): {"specName": vn, "value": int(v, 16), "added": "3.0"} for vn, v in e["values"]}}
    for en, vals in k30["enumValues"].items():
        for vn, v in vals:
            num = int(v, 16)
            assert num not in enums[en]["values"], (en, vn)
            enums[en]["values"][num] = {"specName": vn, "value": num, "added": "3.0"}

    # ---------------------------------------------------------------- assemble tags
    out_tags = []
    for val in sorted(tags):
        rec = tags[val]
        n = rec["name"]
        ts = dict(types.get(n, {}))
        if n in OV.TAG_TYPES:
            ts = {t: "override" for t in OV.TAG_TYPES[n]}
        tlist = sorted(ts, key=lambda t: TYPE_ORDER.index(t) if t in TYPE_ORDER else 99)
        if not tlist and n not in OV.TAG_NO_TYPE:
            log("tag without type:", n, rec["added"], rec.get("removed"))
        if len(tlist) > 1 and n not in OV.TAG_TYPES:
            log("tag with several types:", n, ts)
        entry = {"name": n, "specName": rec["specName"], "tag": "0x%06X" % val, "types": tlist}
        if "Enumeration" in tlist:
            en = OV.TAG_ENUM.get(n)
            cands = enum_of.get(n, set())
            if en is None:
                if len(cands) == 1:
                    en = next(iter(cands))
                elif n in enums:
                    en = n
            if en is None:
                log("enumeration tag without enum:", n, cands)
            elif cands and en not in cands:
                log("enum override differs from spec reference:", n, en, cands)
            if en is not None:
                entry["enum"] = en
        if n in OV.TAG_MASK:
            entry["mask"] = OV.TAG_MASK[n]
        entry["added"] = rec["added"]
        if "deprecated" in rec:
            entry["deprecated"] = rec["deprecated"]
        if n in type_added and type_added[n]:
            entry["typesAdded"] = type_added[n]
        if "removed" in rec:
            entry["removed"] = rec["removed"]
        entry["ref"] = rec["ref"]
        if "removedRef" in rec:
            entry["removedRef"] = rec["removedRef"]
        out_tags.append(entry)

    def table_out(recs):
        res = []
        for name in sorted(recs):
            rec = recs[name]
            e = {"name": rec["name"], "specName": rec["specName"], "added": rec["added"]}
            if "removed" in rec:
                e["removed"] = rec["removed"]
            e["ref"] = rec["ref"]
            vals = []
            for num in sorted(rec["values"]):
                vr = rec["values"][num]
                x = {"name": normalize(vr["specName"]), "specName": vr["specName"], "value": "0x%08X" % num,
                     "added": vr["added"]}
                if "deprecated" in vr:
                    x["deprecated"] = vr["deprecated"]
                aliases = [normalize(f) for f in vr.get("formerSpecNames", []) if normalize(f) != x["name"]]
                aliases += OV.VALUE_ALIASES.get((rec["name"], x["name"]), [])
                if aliases:
                    x["aliases"] = sorted(set(aliases))
                if "removed" in vr:
                    x["removed"] = vr["removed"]
                vals.append(x)
            e["values"] = vals
            res.append(e)
        return res

    return out_tags, table_out(enums), table_out(masks)


def dump_list(key, items, comment):
    lines = ["{", f'  "$comment": {json.dumps(comment)},', f'  "{key}": [']
    for i, it in enumerate(items):
        sep = "," if i < len(items) - 1 else ""
        if "values" in it:
            head = {k: v for k, v in it.items() if k != "values"}
            h = json.dumps(head, ensure_ascii=False)[:-1]
            lines.append(f'    {h}, "values": [')
            for j, x in enumerate(it["values"]):
                s2 = "," if j < len(it["values"]) - 1 else ""
                lines.append("      " + json.dumps(x, ensure_ascii=False) + s2)
            lines.append(f"    ]}}{sep}")
        else:
            lines.append("    " + json.dumps(it, ensure_ascii=False) + sep)
    lines += ["  ]", "}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    t, e, m = main(sys.argv[1], sys.argv[2])
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    src = "Extracted from the OASIS KMIP 1.0-2.1 specification HTML by scripts/spec-extract (see README there)."
    with open(os.path.join(out, "tags.json"), "w") as f:
        f.write(dump_list("tags", t, src + " One entry per tag; types = every item type the spec gives it; "
                          "added/removed = first version that lists it / first that no longer does (Reserved)."))
    with open(os.path.join(out, "enums.json"), "w") as f:
        f.write(dump_list("enums", e, src + " One entry per enumeration, one line per value (value as 8 hex digits). "
                          "Extensions (8XXXXXXX) are not listed: any value with the high bit set is a vendor value."))
    with open(os.path.join(out, "masks.json"), "w") as f:
        f.write(dump_list("masks", m, src + " One entry per bit mask, one line per bit."))
