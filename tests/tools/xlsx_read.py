#!/usr/bin/env python3
"""xlsx_read.py - read an .xlsx workbook with nothing but the standard
library (zipfile + xml.etree), the way any spreadsheet reader does: the
workbook's sheet list, its relationships, the shared strings and each
sheet's cells. For the tests of `unionctl report --xlsx` and `stats --xlsx`
(issue 11); it shares no code with uniond.

    xlsx_read.py FILE.xlsx

Prints one JSON object {SHEET NAME: [[cell, ...] per row]} in sheet order;
a string cell is a JSON string, a number cell a JSON number written as the
file stores it (the decimal text of <v>), an empty cell null. Exits 1 on a
file that is not a workbook.
"""
import json
import re
import sys
import zipfile
import xml.etree.ElementTree as ET

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
      "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
      "pr": "http://schemas.openxmlformats.org/package/2006/relationships"}


def col_index(ref):
    letters = re.match(r"[A-Z]+", ref).group(0)
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def text_of(el):
    return "".join(t.text or "" for t in el.iter("{%s}t" % NS["m"]))


class Raw(str):
    """A number cell's text, printed bare in the JSON."""


def read(path):
    z = zipfile.ZipFile(path)
    wb = ET.fromstring(z.read("xl/workbook.xml"))
    rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = {r.get("Id"): r.get("Target") for r in rels.findall("pr:Relationship", NS)}
    shared = []
    if "xl/sharedStrings.xml" in z.namelist():
        sst = ET.fromstring(z.read("xl/sharedStrings.xml"))
        shared = [text_of(si) for si in sst.findall("m:si", NS)]
    out = {}
    for sh in wb.find("m:sheets", NS).findall("m:sheet", NS):
        t = target[sh.get("{%s}id" % NS["r"])]
        t = t.lstrip("/") if t.startswith("/") else "xl/" + t
        ws = ET.fromstring(z.read(t))
        rows = []
        for row in ws.find("m:sheetData", NS).findall("m:row", NS):
            r = int(row.get("r")) - 1
            while len(rows) <= r:
                rows.append([])
            cells = rows[r]
            for c in row.findall("m:c", NS):
                i = col_index(c.get("r"))
                while len(cells) <= i:
                    cells.append(None)
                typ, v = c.get("t"), c.find("m:v", NS)
                if typ == "s":
                    cells[i] = shared[int(v.text)]
                elif typ == "inlineStr":
                    cells[i] = text_of(c.find("m:is", NS))
                elif typ == "str":
                    cells[i] = v.text or ""
                elif v is not None:
                    cells[i] = Raw(v.text)
        out[sh.get("name")] = rows
    return out


def dump(x):
    if isinstance(x, dict):
        return "{" + ", ".join(json.dumps(k, ensure_ascii=False) + ": " + dump(v)
                               for k, v in x.items()) + "}"
    if isinstance(x, list):
        return "[" + ", ".join(dump(v) for v in x) + "]"
    if isinstance(x, Raw):
        return str(x)
    return json.dumps(x, ensure_ascii=False)


if __name__ == "__main__":
    try:
        print(dump(read(sys.argv[1])))
    except (zipfile.BadZipFile, KeyError, ET.ParseError) as e:
        print("xlsx_read: %s: not a workbook (%s)" % (sys.argv[1], e), file=sys.stderr)
        sys.exit(1)
