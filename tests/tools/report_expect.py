#!/usr/bin/env python3
"""report_expect.py - the figures of `unionctl report` counted straight from
the CSV files `genmembers fed` writes (stations.csv, unions.csv,
enterprises.csv, members.csv, benefits.csv), independently of uniond's C
code, for the integration test that compares the two (issue 11).

    report_expect.py DIR --from YYYY-MM-DD --to YYYY-MM-DD [--office O]

Prints one JSON object:
    {"from", "to",
     "unions": {"new", "new_form"},
     "members": {"new", "new_form", "active"},
     "enterprises": {"surveyed", "with_union"},
     "stations": {"opened", "total"},
     "benefits": {"count", "yuan", "members"},
     "by_office": {OFFICE: {"unions": {...}, "members": {...}, ...}},
     "by_category": {CATEGORY: {"new", "active"}}}
yuan is a JSON number written exactly as uniond stores an amount: 240 for
whole yuan, else two decimals (1234.50, never 1234.5); compare with
json.loads(..., parse_float=decimal.Decimal).

The definitions are the issue's (a period includes both ends): unions
founded in the period (new_form = yes of them); members joined in the
period whose status is not merged or void (new_form: category in the
new-employment-form list below); members active who joined on or before the
end; enterprises surveyed in the period (with_union: its union column is
not empty, or some union's enterprise column names its USCC or name);
stations opened in the period, and opened on or before the end; benefit
hand-outs dated in the period, their amounts (exact decimals), the distinct
ID numbers. A record counts under its office; a benefit under its member's
office; no office, or an unknown member: "(none)". Empty category: "(none)".
"""
import argparse
import csv
import json
import os
import sys
from decimal import Decimal

NONE = "(none)"

# The new-employment-form occupations: the issue 9 list, written out here on
# purpose rather than read from proto/vocab.c.
NEW_FORM = {"快递员", "外卖配送员", "网约车司机", "货车司机", "护工护理员",
            "家政服务员", "育婴师", "保安员", "商场信息员", "房产中介员"}

# Column headers: the field names and the Chinese headers genmembers --zh
# writes (and the common aliases a clerk's file may use).
HEADERS = {
    "stations": {"站点名称": "name", "所属区县": "office", "地址": "address",
                 "启用日期": "opened", "建站日期": "opened"},
    "unions": {"工会名称": "name", "工会类型": "type", "所属区县": "office",
               "成立日期": "founded", "新就业形态": "new_form",
               "所属企业": "enterprise", "服务站点": "station"},
    "enterprises": {"企业名称": "name", "统一社会信用代码": "uscc",
                    "所属区县": "office", "行业": "industry",
                    "职工人数": "employees", "走访日期": "surveyed",
                    "调查日期": "surveyed", "所属工会": "union"},
    "members": {"姓名": "name", "性别": "gender", "身份证号码": "id_number",
                "手机号码": "phone", "职业类别": "category",
                "工作单位": "employer", "所属工会": "union",
                "入会日期": "joined", "会籍状态": "status"},
    "benefits": {"身份证号码": "id_number", "福利类型": "kind",
                 "发放日期": "date", "金额": "amount", "服务站点": "station"},
}
YES = {"yes", "y", "true", "1", "是"}
STATUS = {"在会": "active", "有效": "active", "已合并": "merged", "作废": "void"}


def rows(d, name):
    path = os.path.join(d, name + ".csv")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8-sig", newline="") as f:
        r = csv.reader(f)
        header = [HEADERS[name].get(h.strip(), h.strip()) for h in next(r)]
        return [dict(zip(header, (v.strip() for v in row))) for row in r]


def figures():
    return {"unions": {"new": 0, "new_form": 0},
            "members": {"new": 0, "new_form": 0, "active": 0},
            "enterprises": {"surveyed": 0, "with_union": 0},
            "stations": {"opened": 0, "total": 0},
            "benefits": {"count": 0, "yuan": Decimal(0), "members": 0}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--from", dest="start", required=True)
    ap.add_argument("--to", dest="end", required=True)
    ap.add_argument("--office")
    a = ap.parse_args()

    def inside(d):
        return bool(d) and a.start <= d <= a.end

    def by_end(d):
        return bool(d) and d <= a.end

    offices = {}

    def at(o):
        o = o or NONE
        if o not in offices:
            offices[o] = figures()
        return offices[o]

    def kept(o):
        return a.office is None or (o or NONE) == a.office

    cats = {}
    for s in rows(a.dir, "stations"):
        if kept(s.get("office")) and by_end(s.get("opened")):
            f = at(s.get("office"))["stations"]
            f["total"] += 1
            f["opened"] += inside(s.get("opened"))
    unions = rows(a.dir, "unions")
    linked = {u.get("enterprise") for u in unions if u.get("enterprise")}
    for u in unions:
        if kept(u.get("office")) and inside(u.get("founded")):
            f = at(u.get("office"))["unions"]
            f["new"] += 1
            f["new_form"] += u.get("new_form", "").lower() in YES
    for e in rows(a.dir, "enterprises"):
        if kept(e.get("office")) and inside(e.get("surveyed")):
            f = at(e.get("office"))["enterprises"]
            f["surveyed"] += 1
            f["with_union"] += bool(e.get("union")) or e.get("uscc") in linked \
                or e.get("name") in linked
    office_of = {}
    for m in rows(a.dir, "members"):
        o = m.get("office") or NONE
        office_of[m["id_number"].upper()] = o
        at(o)  # an office with members shows even when nothing was new
        if not kept(o):
            continue
        status = STATUS.get(m.get("status", ""), m.get("status", ""))
        joined, cat = m.get("joined"), m.get("category") or NONE
        new = inside(joined) and status not in ("merged", "void")
        active = status == "active" and by_end(joined)
        if new or active:
            c = cats.setdefault(cat, {"new": 0, "active": 0})
            c["new"] += new
            c["active"] += active
        f = at(o)["members"]
        f["new"] += new
        f["new_form"] += new and cat in NEW_FORM
        f["active"] += active
    seen = set()
    for b in rows(a.dir, "benefits"):
        if not inside(b.get("date")):
            continue
        idn = b["id_number"].upper()
        o = office_of.get(idn, NONE)
        if not kept(o):
            continue
        f = at(o)["benefits"]
        f["count"] += 1
        f["yuan"] += Decimal(b.get("amount") or 0)
        if idn not in seen:
            seen.add(idn)
            f["members"] += 1

    by_office = {o: v for o, v in sorted(offices.items()) if kept(o)}
    total = figures()
    for v in by_office.values():
        for group, inner in v.items():
            for k, n in inner.items():
                total[group][k] += n
    out = {"from": a.start, "to": a.end, **total, "by_office": by_office,
           "by_category": dict(sorted(cats.items()))}
    sys.stdout.write(dump(out) + "\n")


def dump(x):
    """JSON with Decimal written exactly: 180.5 as 180.50, 240.00 as 240."""
    if isinstance(x, dict):
        return "{" + ", ".join(json.dumps(k, ensure_ascii=False) + ": " + dump(v)
                               for k, v in x.items()) + "}"
    if isinstance(x, Decimal):
        q = x.quantize(Decimal("0.01"))
        return str(q.quantize(Decimal(1))) if q == q.to_integral() else str(q)
    if isinstance(x, bool):
        return "true" if x else "false"
    return json.dumps(x, ensure_ascii=False)


if __name__ == "__main__":
    main()
