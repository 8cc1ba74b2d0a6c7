#!/usr/bin/env python3
"""Reference oracle for MusicXML -> ABC (docs/reference.md §5.2).

    xml2abc_oracle.py IN_ROOT OUT_ROOT [-j JOBS] [--xml2abc PATH]

Runs Wim Vree's xml2abc.py (VERSION 143, the copy shipped in abctoolkit 0.0.4) exactly as the
reference's preprocessing/abc/batch_xml2abc.py does: one subprocess per file,
`<python> xml2abc.py -d 8 -x "<file>"` through the shell, stdout captured and decoded as UTF-8,
an empty stdout counted as a failure. Every .xml, .mxl and .musicxml file under IN_ROOT is
converted and the tree is mirrored under OUT_ROOT:

  <name>.abc    the ABC text, byte for byte what the reference saves
  <name>.error  the reference logged the file as an error (empty output or an exception);
                holds the oracle's stderr, for information only

<name> is the input file name *with* its extension (e.g. `foo.mxl.abc`), because the corpus has
one `foo.xml` / `foo.mxl` pair that the reference's `<stem>.abc` naming would collide on.

Prints per-collection counts and, on the last line, `ORACLE_SECONDS <s>`: the summed wall time of
the per-file subprocesses (what the reference pays per file, interpreter start included).
Also writes OUT_ROOT/timings.tsv (path, status, seconds).

    xml2abc_oracle.py IN_ROOT OUT_ROOT --inproc-seconds

instead loads xml2abc.py once into this process and times only its conversion of each file
(reading the file or archive member, parsing, converting; no interpreter start), with the
options `-d 8 -x` sets; checks that every output equals the stored OUT_ROOT/<name>.abc (or
that the file failed where OUT_ROOT has an .error) and prints the summed seconds.
"""
import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from multiprocessing import Pool

EXTS = (".mxl", ".xml", ".musicxml")


def default_xml2abc() -> str:
    import abctoolkit  # the oracle interpreter has abctoolkit==0.0.4

    return os.path.join(os.path.dirname(abctoolkit.__file__), "xml2abc.py")


def convert(job):
    """Run the reference command on one file; write <name>.abc or <name>.error."""
    in_root, out_root, rel, xml2abc = job
    src = os.path.join(in_root, rel)
    dst = os.path.join(out_root, rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    for suffix in (".abc", ".error"):
        if os.path.exists(dst + suffix):
            os.remove(dst + suffix)
    # Same command line as the reference (shell, double-quoted path).
    cmd = sys.executable + " " + xml2abc + " -d 8 -x " + '"' + src + '"'
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, shell=True)
    out, err = p.communicate()
    secs = time.perf_counter() - t0
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError as e:  # the reference logs `file + ' ' + str(e)`
        with open(dst + ".error", "w", encoding="utf-8") as f:
            f.write("decode error: %s\n" % e)
        return rel, "error", secs
    if text == "":
        with open(dst + ".error", "w", encoding="utf-8") as f:
            f.write(err.decode("utf-8", "replace"))
        return rel, "error", secs
    with open(dst + ".abc", "w", encoding="utf-8") as f:  # as the reference writes it
        f.write(text)
    return rel, "ok", secs


def inproc_seconds(in_root, out_root, xml2abc):
    """Summed in-process conversion time over IN_ROOT (see the module notes)."""
    import importlib.util
    import io
    import zipfile

    spec = importlib.util.spec_from_file_location("xml2abc_v143", xml2abc)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    class Options:  # what `-d 8 -x` leaves in optparse's values
        u = None; m = 0; c = 0; d = 8; n = 0; b = 0; o = ""; v = 0; x = True; p = []
        j = None; t = None; s = None; v1 = None; ped = True; stm = False; i = None

    def convert_one(path):
        fnm, ext = os.path.splitext(path)
        if ext.lower() == ".mxl":
            z = zipfile.ZipFile(path)
            fobj = None
            for n in z.namelist():
                if n[:4] != "META" and n[-4:].lower() == ".xml":
                    fobj = z.open(n)
                    break
            if fobj is None:
                return ""
        else:
            fobj = open(path, "rb")
        buf = io.StringIO()
        mod.abcOut = mod.ABCoutput(fnm + ".abc", "", 0, Options())
        mod.abcOut.outfile = buf
        err, sys.stderr = sys.stderr, io.StringIO()
        try:
            mod.Parser(Options()).parse(fobj)
        except Exception:
            pass
        finally:
            sys.stderr = err
            fobj.close()
        return buf.getvalue()

    total, bad, n = 0.0, 0, 0
    for root, _dirs, names in os.walk(in_root):
        for name in sorted(names):
            if not name.endswith(EXTS):
                continue
            path = os.path.join(root, name)
            t0 = time.perf_counter()
            out = convert_one(path)
            total += time.perf_counter() - t0
            n += 1
            stored = os.path.join(out_root, os.path.relpath(path, in_root)) + ".abc"
            if os.path.exists(stored):
                with open(stored, "rb") as f:
                    if f.read().decode("utf-8") != out:
                        bad += 1
            elif out:
                bad += 1
    if bad:
        print("in-process outputs differing from the stored ones: %d of %d" % (bad, n), file=sys.stderr)
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("in_root")
    ap.add_argument("out_root")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--xml2abc", default=None)
    ap.add_argument("--inproc-seconds", action="store_true")
    args = ap.parse_args()
    xml2abc = args.xml2abc or default_xml2abc()
    if args.inproc_seconds:
        print("%.3f" % inproc_seconds(args.in_root, args.out_root, xml2abc))
        return
    files = []
    for root, _dirs, names in os.walk(args.in_root):
        for name in names:
            if name.endswith(EXTS):
                files.append(os.path.relpath(os.path.join(root, name), args.in_root))
    files.sort()
    jobs = [(args.in_root, args.out_root, rel, xml2abc) for rel in files]
    results = []
    with Pool(processes=args.jobs) as pool:
        for r in pool.imap_unordered(convert, jobs, chunksize=4):
            results.append(r)
    results.sort()
    per = Counter()
    ok = Counter()
    total_s = 0.0
    os.makedirs(args.out_root, exist_ok=True)
    with open(os.path.join(args.out_root, "timings.tsv"), "w", encoding="utf-8") as f:
        for rel, status, secs in results:
            coll = rel.split(os.sep)[0]
            per[coll] += 1
            if status == "ok":
                ok[coll] += 1
            total_s += secs
            f.write("%s\t%s\t%.6f\n" % (rel, status, secs))
    for coll in sorted(per):
        print("%-20s %4d files, %4d converted, %3d errors" % (coll, per[coll], ok[coll], per[coll] - ok[coll]))
    print("TOTAL %d files, %d converted" % (sum(per.values()), sum(ok.values())))
    print("ORACLE_SECONDS %.3f" % total_s)


if __name__ == "__main__":
    main()
