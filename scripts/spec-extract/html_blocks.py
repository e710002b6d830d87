"""Turn an MS-Word-exported OASIS KMIP spec HTML into a flat list of blocks.

Provenance tooling only (not run in CI; the spec HTML is not in the repo).
Blocks: {"k": "h", "level": n, "text": ...}, {"k": "p", "cls": ..., "text": ...},
{"k": "table", "rows": [[cell text, ...], ...]}.
"""
import html
import json
import re
import sys
from html.parser import HTMLParser


def clean(s: str) -> str:
    s = s.replace("\u00a0", " ").replace("\u200b", "")
    s = s.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    s = s.replace("\u2013", "-").replace("\u2011", "-").replace("\u2010", "-").replace("\u2014", "-")
    return re.sub(r"\s+", " ", s).strip()


class P(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks = []
        self.tables = []  # stack of tables: list of rows
        self.cell = None
        self.buf = None  # current heading/para text buffer
        self.bufinfo = None
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("style", "script"):
            self.skip += 1
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self.cell = []
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6", "p") and not self.tables:
            self.buf = []
            self.bufinfo = (tag, a.get("class", ""))
        elif tag == "br":
            if self.cell is not None:
                self.cell.append("\n")
        elif tag == "p" and self.cell is not None:
            if self.cell:
                self.cell.append("\n")

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self.skip -= 1
        elif tag == "table" and self.tables:
            rows = self.tables.pop()
            self.blocks.append({"k": "table", "rows": rows})
        elif tag in ("td", "th") and self.tables and self.cell is not None:
            txt = "".join(self.cell)
            lines = [clean(x) for x in txt.split("\n")]
            if self.tables[-1]:
                self.tables[-1][-1].append("\n".join(l for l in lines if l))
            self.cell = None
        elif self.buf is not None and tag == self.bufinfo[0]:
            t = clean("".join(self.buf))
            if t:
                if tag == "p":
                    self.blocks.append({"k": "p", "cls": self.bufinfo[1], "text": t})
                else:
                    self.blocks.append({"k": "h", "level": int(tag[1]), "text": t})
            self.buf = None

    def handle_data(self, data):
        if self.skip:
            return
        if self.cell is not None:
            self.cell.append(data)
        elif self.buf is not None:
            self.buf.append(data)


def blocks(path):
    raw = open(path, "rb").read().decode("cp1252", errors="replace")
    p = P()
    p.feed(raw)
    return p.blocks


if __name__ == "__main__":
    json.dump(blocks(sys.argv[1]), sys.stdout, indent=0)
