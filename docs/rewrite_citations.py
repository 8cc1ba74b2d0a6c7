#!/usr/bin/env python3
"""Rewrite citations of the external specification files into citations of the project's docs.

The code, scripts and READMEs once cited specification documents kept outside the repository.
The project's own versions, with the same section numbers, are:

    CLAMP3.md      (also ../shared/spec/CLAMP3.md, /work/shared/spec/CLAMP3.md)  -> docs/reference.md
    DATA.md        (same path forms)                                            -> docs/data.md
    RUST_NOTES.md  (same path forms)                                            -> docs/rust-notes.md
    "spec §N"      (the specification named without a file)                     -> docs/reference.md §N

A citation keeps its section and item ("CLAMP3.md §5.6 step 4, §12 q14" becomes
"docs/reference.md §5.6 step 4, §12 q14"). Inside a Markdown link target the new path is made
relative to the linking file, so that the link resolves. The new names are longer, so a rewritten
comment or prose line that passes 100 columns is re-wrapped within its paragraph (never code,
tables, headings or fenced blocks; see `rewrap`). Binary files, `.git/`, `target/`,
`testdata/`, the virtual environments (`.venv`, `.venv-ci`) and this script are never touched.

Usage (from the repository root; the default is a dry run that changes nothing):

    python3 docs/rewrite_citations.py                 # report what would change, per file
    python3 docs/rewrite_citations.py --write         # rewrite the files in place
    python3 docs/rewrite_citations.py --root DIR      # work on another tree (e.g. a copy)
    python3 docs/rewrite_citations.py --docs DIR      # where reference.md/data.md live
                                                      # (default: the folder of this script)
    python3 docs/rewrite_citations.py --width 0       # never re-wrap (default: 100 columns)

After rewriting (or simulating it), the script reports:
  * the number of citations rewritten, per rule and per file;
  * the rewritten lines still over the width because no safe re-wrap exists;
  * every leftover mention of an outside document (e.g. `shared/design/REVIEW.md`, `/work/`
    paths) that it does not know how to rewrite;
  * every citation of docs/reference.md, docs/data.md or docs/rust-notes.md whose section
    (§N or §N.M) does not exist there, or whose item ("step N", "#N", "qN": a top-level
    numbered step, a table row numbered N, or question N of that section) does not.
Exit status: 0 when nothing is left over and every cited section exists, 1 otherwise.
"""

import argparse
import os
import re
import sys

SKIP_DIRS = {".git", "target", "testdata", "node_modules", "__pycache__", ".venv", ".venv-ci"}

# (name, external file name, project document path relative to the repository root)
DOCS = [
    ("reference", "CLAMP3.md", "docs/reference.md"),
    ("data", "DATA.md", "docs/data.md"),
    ("rust-notes", "RUST_NOTES.md", "docs/rust-notes.md"),
]

# An optional directory prefix that points at the outside spec folder:
# "/work/shared/spec/", "shared/spec/", "../shared/spec/", "../../shared/spec/", "./shared/spec/".
SPEC_DIR = r"(?:(?:/work/|(?:\.\.?/)+)?shared/spec/)"

# Anything that still names a document outside the repository after the rewrite.
LEFTOVER = re.compile(
    r"(?<![\w/.-])(?:CLAMP3|DATA|RUST_NOTES|REVIEW)\.md"
    r"|shared/(?:spec|design)\b"
    r"|/work/(?:shared|notes|main|wt)\b"
)


def rules():
    """The ordered rewrite rules: (label, compiled regex, replacement function factory)."""
    out = []
    for _, ext, new in DOCS:
        name = re.escape(ext)
        # Markdown link target: ](path/CLAMP3.md#anchor) -> ](relative/docs/reference.md#anchor)
        out.append((f"link {ext}", re.compile(r"\]\(" + SPEC_DIR + "?" + name + r"(#[^)]*)?\)"),
                    ("link", new)))
        # A path or a bare name, not part of a longer name (FOO_DATA.md, docs/data.md, x/DATA.md
        # where x is not the spec folder).
        out.append((f"{ext}", re.compile(r"(?<![\w/.-])" + SPEC_DIR + "?" + name + r"(?![\w-])"),
                    ("text", new)))
    # "spec §5.3": the specification named without its file.
    out.append(("spec §", re.compile(r"(?<![\w/.-])spec (?=§)"), ("text", "docs/reference.md ")))
    return out


def is_text(data):
    if b"\0" in data[:8192]:
        return False
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def walk(root, skip_files):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not os.path.islink(
            os.path.join(dirpath, d)))
        for f in sorted(filenames):
            if f in SKIP_DIRS:  # a worktree's `.git` is a file
                continue
            p = os.path.join(dirpath, f)
            if os.path.islink(p) or os.path.realpath(p) in skip_files:
                continue
            yield p


def rewrite(text, path, root, rule_list, counts):
    """Applies every rule to `text`, line by line (no rule spans lines); returns the new text
    and the indices of the lines that changed."""
    lines = text.split("\n")
    changed = []
    for i, line in enumerate(lines):
        new = line
        for label, rx, (kind, target) in rule_list:
            def repl(m, kind=kind, target=target, label=label):
                counts[label] = counts.get(label, 0) + 1
                if kind == "link":
                    rel = os.path.relpath(os.path.join(root, target), os.path.dirname(path))
                    return "](" + rel.replace(os.sep, "/") + (m.group(1) or "") + ")"
                return target
            new = rx.sub(repl, new)
        if new != line:
            lines[i] = new
            changed.append(i)
    return "\n".join(lines), changed


# --- Re-wrapping the lines that a rewrite made longer than the project's width -------------
#
# "docs/reference.md" is 8 characters longer than "CLAMP3.md", so some comment and prose lines
# pass the 100-column width. Such a line is re-wrapped only where that is safe: a comment line
# of code (`//!`, `///`, `//`, `#`), a line of a Python docstring, or a prose line of a Markdown
# or text file, outside fenced code blocks and never a table row or a heading. The words past
# the width move to the start of the next line of the same paragraph (same comment marker,
# plain text), cascading down the paragraph; at the paragraph's end a new line is inserted with
# the same marker and indentation. A line that cannot be wrapped safely is left long and
# reported.

CODE_EXT = {".rs", ".py", ".sh", ".toml", ".yml", ".yaml", ""}
PROSE_EXT = {".md", ".txt"}
MARKER = re.compile(r"^(\s*)(//!|///|//|#)?")
LIST_START = re.compile(r"^(?:[-*+] |\d+[.)] |\|)")
HEADING = re.compile(r"^#{1,6}(?:\s|$)")


def split_marker(line, code):
    """(marker prefix incl. one following space, indentation of the text, text)."""
    m = MARKER.match(line)
    marker = m.group(0)
    if code and not m.group(2):
        return None
    rest = line[len(marker):]
    if m.group(2) and rest.startswith(" "):
        marker, rest = marker + " ", rest[1:]
    text = rest.lstrip(" ")
    return marker, rest[:len(rest) - len(text)], text


def fence_state(lines, code, is_py):
    """For every line: True when it may be re-wrapped (prose/comment, outside code fences)."""
    ok = [False] * len(lines)
    fences = {}
    in_doc = False
    for i, line in enumerate(lines):
        quotes = line.count('\"\"\"') + line.count("'''")
        if is_py and quotes % 2 == 1 and not in_doc:
            in_doc = True
            continue
        if is_py and in_doc and quotes:
            in_doc = quotes % 2 == 0
            continue
        parts = split_marker(line, code and not (is_py and in_doc))
        if parts is None:
            continue
        marker, indent, text = parts
        key = marker.strip()
        if text.startswith("```") or text.startswith("~~~"):
            fences[key] = not fences.get(key, False)
            continue
        if fences.get(key) or not text or text.startswith("|") or HEADING.match(text):
            continue
        ok[i] = True
    return ok


def break_at(text, limit):
    """Index of the last space outside backticks at which `text` can break within `limit`, never
    one right before "§" (a citation's name and section stay on one line)."""
    best, inside = None, False
    for j, ch in enumerate(text):
        if ch == "`":
            inside = not inside
        elif ch == " " and not inside and 0 < j <= limit and not text.startswith("§", j + 1):
            best = j  # never between a document's name and its "§N"
    return best


def rewrap(lines, changed, width, code, is_py):
    """Re-wraps the changed lines longer than `width`; returns (lines, still_long indices)."""
    still_long = []
    for start in sorted(changed, reverse=True):
        if len(lines[start]) <= width:
            continue
        ok = fence_state(lines, code, is_py)
        i = start
        cascades = 0
        while i < len(lines) and len(lines[i]) > width and ok[i] and cascades < 50:
            marker, indent, text = split_marker(lines[i], code and ok[i] and MARKER.match(
                lines[i]).group(2) is not None)
            head = marker + indent
            cut = break_at(text, width - len(head))
            if cut is None:
                break
            keep, move = text[:cut].rstrip(), text[cut + 1:].lstrip()
            lines[i] = head + keep
            nxt = i + 1
            if nxt < len(lines) and ok[nxt]:
                m2, ind2, t2 = split_marker(lines[nxt], code and MARKER.match(
                    lines[nxt]).group(2) is not None)
                # Same paragraph: the same comment marker (code), or any plain line that does
                # not start a list item (prose, where continuation lines may be indented).
                same = m2 == marker if marker.strip() else not m2.strip("\t ")
                if same and t2 and not LIST_START.match(t2):
                    lines[nxt] = m2 + ind2 + move + " " + t2
                    i, cascades = nxt, cascades + 1
                    continue
            cont = indent
            lm = LIST_START.match(text)
            if lm and not text.startswith("|"):
                cont = indent + " " * len(lm.group(0))
            lines.insert(nxt, marker + cont + move)
            ok.insert(nxt, True)
            i, cascades = nxt, cascades + 1
        if len(lines[start]) > width:
            still_long.append(start)
    return lines, still_long


def headings(doc_path):
    """Section numbers ("5", "5.4") of a project document, with its numbered items."""
    secs, items, cur = set(), {}, None
    if not os.path.exists(doc_path):
        return None, None
    for line in open(doc_path, encoding="utf-8"):
        m = re.match(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", line)
        if m:
            cur = m.group(1)
            secs.add(cur)
            continue
        if cur is None:
            continue
        m = re.match(r"^\| (\d+) \|", line) or re.match(r"^(\d+)\. ", line)
        if m:
            items.setdefault(cur, set()).add(m.group(1))
    return secs, items


# A citation is a project document's name followed, in the same parenthesis or sentence, by
# section references: "§5.6 step 4, §12 q14", "§5.2-§5.5", "§5.3/§5.4", "§4.8 #3", and also
# "§4.8\n//!    #7" when a comment wraps between the section and its item.
CITE = re.compile(r"docs/(?:reference|data|rust-notes)\.md")
SECREF = re.compile(r"§\s*(\d+(?:\.\d+)?)(?:(?:\s|//!|//|#(?=\s)|\*)*(step|steps|item|#|q)\s*(\d+))?")
WINDOW_END = re.compile(r"\)|\.\s|\n\s*\n|docs/(?:reference|data|rust-notes)\.md")


def check_sections(text, path, doc_index, problems):
    """Records every citation in `text` whose section or numbered item does not exist."""
    for m in CITE.finditer(text):
        doc = m.group(0)
        secs, items = doc_index.get(doc, (None, None))
        if secs is None:
            continue
        window = text[m.end():m.end() + 200]
        cut = WINDOW_END.search(window)
        window = window[:cut.start()] if cut else window
        line = text.count("\n", 0, m.start()) + 1
        for s in SECREF.finditer(window):
            sec, kind, num = s.group(1), s.group(2), s.group(3)
            if sec not in secs:
                problems.append(f"{path}:{line}: {doc} §{sec}: no such section")
            elif kind and num not in items.get(sec, set()):
                sep = "" if kind in ("#", "q") else " "
                problems.append(f"{path}:{line}: {doc} §{sec} {kind}{sep}{num}: no such item")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.dirname(here), help="tree to rewrite")
    ap.add_argument("--docs", default=here, help="folder holding reference.md and data.md")
    ap.add_argument("--write", action="store_true", help="rewrite the files (default: dry run)")
    ap.add_argument("--width", type=int, default=100,
                    help="re-wrap rewritten lines longer than this (0: never re-wrap)")
    a = ap.parse_args()
    root = os.path.abspath(a.root)
    doc_index = {new: headings(os.path.join(a.docs, os.path.basename(new))) for _, _, new in DOCS}
    rule_list = rules()
    counts, changed, leftovers, problems, too_long = {}, [], [], [], []
    skip = {os.path.realpath(os.path.abspath(__file__))}
    for path in walk(root, skip):
        try:
            data = open(path, "rb").read()
        except OSError as e:
            print(f"cannot read {path}: {e}", file=sys.stderr)
            continue
        if not is_text(data):
            continue
        text = data.decode("utf-8")
        before = dict(counts)
        new, changed_lines = rewrite(text, path, root, rule_list, counts)
        rel = os.path.relpath(path, root)
        if changed_lines and a.width:
            ext = os.path.splitext(path)[1]
            code = ext not in PROSE_EXT
            lines, long_ = rewrap(new.split("\n"), changed_lines, a.width, code, ext == ".py")
            new = "\n".join(lines)
            too_long.extend(f"{rel}: {lines[i].strip()[:90]}" for i in long_)
        if new != text:
            n = sum(counts.values()) - sum(before.values())
            changed.append((rel, n))
            if a.write:
                with open(path, "w", encoding="utf-8", newline="") as f:
                    f.write(new)
        for i, line in enumerate(new.split("\n"), 1):
            if LEFTOVER.search(line):
                leftovers.append(f"{rel}:{i}: {line.strip()}")
        check_sections(new, rel, doc_index, problems)
    total = sum(counts.values())
    verb = "rewrote" if a.write else "would rewrite"
    print(f"{verb} {total} citations in {len(changed)} files under {root}")
    for label, n in sorted(counts.items()):
        print(f"  {label:<20} {n}")
    for rel, n in changed:
        print(f"  {n:4}  {rel}")
    print(f"rewritten lines still longer than {a.width} columns (not safe to wrap): "
          f"{len(too_long)}")
    for l in too_long:
        print("  " + l)
    print(f"leftover mentions of outside documents: {len(leftovers)}")
    for l in leftovers:
        print("  " + l)
    print(f"citations of missing sections or items: {len(problems)}")
    for p in problems:
        print("  " + p)
    return 1 if leftovers or problems else 0


if __name__ == "__main__":
    sys.exit(main())
