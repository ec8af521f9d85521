#!/usr/bin/env python3
"""dmsgs.py - the daemon's message formats, for unionctl to translate.

uniond speaks English (its logs stay English); unionctl matches each
message it shows against the formats the daemon builds them from
(cli/dmsg.c) and translates the format with gettext. This script finds
those formats in daemon/ and proto/:

  - xgettext with the message builders as keywords (uerr_set, ctl_reply_error,
    the validators' refuse/fail, config_fail), marked c-format;
  - snprintf into an error buffer (err, msg, why, sync_error, last_error, of
    a struct or not) with a literal
    format, which xgettext cannot tell from other snprintf calls;
  - a few glue formats that compose messages ("%s: %s", problem groups);
  - the words put into messages as their arguments: the rules and
    expectations of the checkers (static const char rule[] / expect[]) and
    the several-word names they are given ("peer address").

Formats with fewer than three letters of text are dropped ("%s", "%s/%s"):
they would match anything and say nothing; so are formats of several lines
(commit messages: an error is one line, a list may follow it).

  tools/dmsgs.py POT C     write the formats as a .pot (for msgcat into
                           po/uniond.pot) and the table cli/dmsgs.c
  tools/dmsgs.py --check C exit 1 when C is not what the sources give now
"""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYWORDS = ["uerr_set:4", "ctl_reply_error:3", "refuse:3", "fail:5", "config_fail:3"]
# snprintf(BUF, SIZE, "format"...) where BUF is an error message buffer
SNPRINTF = re.compile(
    r'\bsnprintf\(\s*(?:\w+(?:->|\.))*(?:err|msg|why|sync_error|last_error)\s*(?:\+\s*\w+\s*)?,[^,;]+,\s*((?:"(?:[^"\\\n]|\\.)*"\s*)+)[,)]')
GLUE = [
    ("proto/schema.c (refuse: FIELD: message)", "%s: %s"),
    ("proto/problem.c", "line %zu: %s"),
    ("proto/problem.c", "%s (%zu rows: lines %s)"),
    ("proto/problem.c", "%s (%zu rows: lines %s, ...)"),
    # words daemon/ctl/op_import.c puts into "the same person as line %zu (%s)"
    ("daemon/ctl/op_import.c", "the same record"),
    ("daemon/ctl/op_import.c", "same ID number"),
    ("daemon/ctl/op_import.c", "same name and phone"),
    # proto/schema_row.c: "(its 17th digit is %s)"
    ("proto/schema_row.c", "odd"),
    ("proto/schema_row.c", "even"),
]
# static const char rule[] = "..." "...";  (a checker's rule, a message's tail)
RULE = re.compile(r'static const char (?:rule|expect)\[\]\s*=\s*((?:"(?:[^"\\\n]|\\.)*"\s*)+);')
# config_address_check(x, "peer address", ...): the name a checker shows
WHAT = re.compile(r'\b\w+_check\([^,;()]*,\s*"([a-z]+(?: [a-z]+)+)"\s*,')
CONV = re.compile(r"%(?:\d+\$)?[-+ #0']*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlLqjzt]*[sdiuxXocfgeEp%]")


def sources():
    out = []
    for top in ("daemon", "proto"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            out += [os.path.relpath(os.path.join(d, f), ROOT) for f in files if f.endswith(".c")]
    return sorted(out)


def unquote(c_literals):
    """The text of adjacent C string literals, still C-escaped (as a .po has it)."""
    return "".join(re.findall(r'"((?:[^"\\\n]|\\.)*)"', c_literals))


def worth(msgid):
    if "\\n" in msgid:
        return False  # commit messages; an error is one line (lists follow it)
    text = CONV.sub("", msgid.replace("%%", "%"))
    return len(re.findall(r"[A-Za-z]", text)) >= 3


def xgettext_entries(files):
    """[(comment lines, msgid)] from xgettext on files, msgids C-escaped."""
    with tempfile.TemporaryDirectory() as tmp:
        pot = os.path.join(tmp, "d.pot")
        cmd = ["xgettext", "--from-code=UTF-8", "--language=C", "--keyword", "--no-wrap",
               "-o", pot]  # (with --omit-header it would write ASCII only)
        for k in KEYWORDS:
            cmd += ["--keyword=" + k, "--flag=%s:%s:c-format" % (k.split(":")[0], k.split(":")[1])]
        # xgettext warns about the non-ASCII msgids (男/女): expected here
        # a UTF-8 locale, or xgettext drops the non-ASCII characters
        env = dict(os.environ, LC_ALL="C.UTF-8")
        run = subprocess.run(cmd + files, cwd=ROOT, stderr=subprocess.PIPE, text=True, env=env)
        if run.returncode != 0:
            sys.stderr.write(run.stderr)
            raise SystemExit("xgettext failed")
        if not os.path.exists(pot):
            return []
        text = open(pot, encoding="utf-8").read()
    entries = []
    for block in text.strip().split("\n\n"):
        lines = block.split("\n")
        comments = [l for l in lines if l.startswith("#")]
        ids = [l for l in lines if l.startswith("msgid ")]
        if len(ids) != 1 or ids[0] == 'msgid ""':
            continue  # the header
        entries.append((comments, ids[0][len('msgid "'):-1]))
    return entries


def snprintf_entries(files):
    found = {}
    for f in files:
        src = open(os.path.join(ROOT, f), encoding="utf-8").read()
        for m in SNPRINTF.finditer(src):
            line = src.count("\n", 0, m.start()) + 1
            found.setdefault(unquote(m.group(1)), []).append("%s:%d" % (f, line))
    return [(["#: " + " ".join(refs)], msgid) for msgid, refs in found.items()]


def argument_entries(files):
    """The checkers' rules and the names they show, which messages carry as arguments."""
    found = {}
    for f in files:
        src = open(os.path.join(ROOT, f), encoding="utf-8").read()
        for rx, text in ((RULE, lambda m: unquote(m.group(1))), (WHAT, lambda m: m.group(1))):
            for m in rx.finditer(src):
                line = src.count("\n", 0, m.start()) + 1
                found.setdefault(text(m), []).append("%s:%d" % (f, line))
    return [(["#: " + " ".join(refs)], msgid) for msgid, refs in found.items()]


def formats():
    files = sources()
    entries = xgettext_entries(files) + snprintf_entries(files) + argument_entries(files)
    glue = [(["#: " + where], msgid) for where, msgid in GLUE]
    kept, seen = [], set()
    for comments, msgid in entries + glue:
        if msgid in seen or not (worth(msgid) or (comments, msgid) in glue):
            continue
        seen.add(msgid)
        if "%" in msgid and not any("c-format" in c for c in comments):
            comments = comments + ["#, c-format"]
        kept.append((comments, msgid))
    return kept


def c_table(kept):
    ids = sorted(m for _, m in kept)
    out = ["/* dmsgs.c - GENERATED by tools/dmsgs.py (`make pot`); do not edit.",
           " * The formats of uniond's messages (daemon/, proto/), which unionctl",
           " * matches and translates (cli/dmsg.c). tests check it is current. */",
           '#include "cli/dmsg.h"', "",
           "/* generated: `make format` must leave it as it is */", "/* clang-format off */",
           "const char *const dmsg_templates[] = {"]
    out += ['    "%s",' % m for m in ids]
    out += ["};", "const size_t dmsg_ntemplates = sizeof dmsg_templates / sizeof dmsg_templates[0];",
            "/* clang-format on */", ""]
    return "\n".join(out)


def pot(kept):
    out = ['msgid ""', 'msgstr ""', '"Content-Type: text/plain; charset=UTF-8\\n"', ""]
    for comments, msgid in kept:
        out += comments + ['msgid "%s"' % msgid, 'msgstr ""', ""]
    return "\n".join(out)


def main(argv):
    kept = formats()
    if len(argv) == 3 and argv[1] == "--check":
        have = open(argv[2], encoding="utf-8").read()
        if have != c_table(kept):
            sys.stderr.write("%s is stale: run make pot\n" % argv[2])
            return 1
        return 0
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], "w", encoding="utf-8") as f:
        f.write(pot(kept))
    with open(argv[2], "w", encoding="utf-8") as f:
        f.write(c_table(kept))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
