"""Extract tags, enumerations, bit masks and item types from the OASIS KMIP spec HTML.

Provenance tooling only: run by hand as
    python3 scripts/spec-extract/extract.py /work/specs > /tmp/raw.json
It is not run in CI (the spec HTML is not in the repository). Output is a raw per-version
dump that merge.py turns into src/kmip/spec/*.json.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
from html_blocks import blocks  # noqa: E402

FILES = {
    "1.0": "kmip-spec-1.0-os.html",
    "1.1": "kmip-spec-v1.1-os.html",
    "1.2": "kmip-spec-v1.2-os.html",
    "1.3": "kmip-spec-v1.3-os.html",
    "1.4": "kmip-spec-v1.4-os.html",
    "2.0": "kmip-spec-v2.0-os.html",
    "2.1": "kmip-spec-v2.1-os.html",
}

HEX = r"(?:0x)?([0-9A-Fa-f]{8})"


def one_line(s):
    return re.sub(r"\s+", " ", s).strip()


def extract(path):
    bl = blocks(path)
    sec, title = "", ""
    out = {"tags": [], "tagTable": None, "enums": [], "masks": [], "encodings": [], "enumRefs": [], "crossref": []}
    for i, x in enumerate(bl):
        if x["k"] == "h":
            m = re.match(r"(\d+(?:\.\d+)*)\s+(.*)", x["text"])
            if m:
                sec, title = m.group(1), m.group(2)
            continue
        if x["k"] != "table":
            continue
        rows = x["rows"]
        caption = None
        for y in bl[i + 1:i + 3]:
            if y["k"] == "p" and re.match(r"Table \d+:", y["text"]):
                caption = re.match(r"Table (\d+)", y["text"]).group(0)
                break
            if y["k"] == "table" or y["k"] == "h":
                break
        ref = "§" + sec + (" " + caption if caption else "")
        # Tag table
        if rows and rows[0] == ["Tag"] and len(rows) > 100:
            out["tagTable"] = ref
            for r in rows[2:]:
                if len(r) < 2:
                    continue
                m = re.fullmatch(r"(?:0x)?(42[0-9A-Fa-f]{4})\s*(\(.*\))?", r[1].strip())
                if not m:
                    continue
                out["tags"].append({"name": one_line(r[0]), "value": int(m.group(1), 16),
                                    "note": m.group(2) or ""})
            continue
        # Enumeration / mask tables: a title row, then Name | Value
        if len(rows) >= 2 and len(rows[1]) >= 2 and one_line(rows[1][0]) == "Name" and one_line(rows[1][1]) == "Value":
            kind = None
            if re.match(r"9\.1\.3\.2\.|11\.", sec) and "Enumeration" in title:
                kind = "enums"
            elif re.match(r"9\.1\.3\.3\.|12\.", sec):
                kind = "masks"
            if kind:
                vals = []
                for r in rows[2:]:
                    if len(r) < 2:
                        continue
                    name, v = one_line(r[0]), one_line(r[1])
                    m = re.fullmatch(HEX, v)
                    vals.append({"name": name, "value": int(m.group(1), 16) if m else None, "raw": v})
                out[kind].append({"section": sec, "title": title, "ref": ref, "values": vals})
                continue
        # Non-normative "Tag Cross-reference" appendix (1.x): Object | Defined | Type | Notes
        if rows and [one_line(c) for c in rows[0]] == ["Object", "Defined", "Type", "Notes"]:
            for r in rows[1:]:
                if len(r) >= 3 and r[0].strip():
                    out["crossref"].append({"name": one_line(r[0]), "enc": one_line(r[2]), "note": one_line(r[3]) if len(r) > 3 else "", "ref": ref})
            continue
        # "Name, see 9.1.3.2.N" in payload tables (1.x): an Enumeration from that section
        for r in rows:
            if r and re.search(r",\s*see\s+9\.1\.3\.2\.\d+\s*$", one_line(r[0])):
                m = re.match(r"(.*?),\s*see\s+(9\.1\.3\.2\.\d+)", one_line(r[0]))
                out["enumRefs"].append({"name": m.group(1), "section": m.group(2), "ref": ref})
        # Encoding tables
        for j, r in enumerate(rows[:3]):
            cells = [one_line(c) for c in r]
            if "Encoding" in cells and ("Object" in cells or "Item" in cells):
                ci = cells.index("Encoding")
                for r2 in rows[j + 1:]:
                    if len(r2) > ci and r2[0].strip():
                        out["encodings"].append({"name": one_line(r2[0]), "enc": r2[ci], "ref": ref,
                                                 "title": title})
                break
    return out


if __name__ == "__main__":
    d = sys.argv[1]
    json.dump({v: extract(os.path.join(d, f)) for v, f in FILES.items()}, sys.stdout, indent=1)
