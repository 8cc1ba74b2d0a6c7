#!/usr/bin/env python3
"""End-to-end benchmark: the built `clamp3 embed` / `clamp3 features` binary (a black box)
against the official CLaMP 3 scripts (`extract_clamp3.py`, `extract_mert.py`, unchanged, from
the reference repository) on the same inputs, with the same random official-size weights.

    python3 scripts/bench/e2e.py --clamp3 target/release/clamp3 --reference REF \\
        --pth model.pth --python PY [--work DIR] [--rounds 3] [--jobs text,abc,...]

REF is a checkout of sanderwood/clamp3 at commit 9016d2b (never committed here). PY is a
Python with torch, transformers 4.40, accelerate, samplings, tqdm, requests and a working
`torchaudio.load` (torchcodec + FFmpeg). The .pth is a release-layout checkpoint with random
weights (`scripts/golden/gen_model_goldens.py --official-only --testdata DIR` writes
DIR/official-random/model.pth). Everything else — a Hugging Face cache with a random
`FacebookAI/xlm-roberta-base`, a random MERT-v1-95M folder, the inputs — is built under
WORK by this script (`setup_reference.py`).

Per job, per round, in interleaved order (official, ours, reference engine, ours at batch 1):
wall time of the whole process, the time it spent loading (the official scripts' own
progress output marks it; for this project, a run of the same command on one trivial input),
peak RSS (wait4), and the other processes' CPU use during the run (from /proc/stat minus the
run's own CPU time, as a fraction of the machine). Two ratios, medians over the rounds:

- default: items/s of each as it runs by default (the official scripts pad every segment to
  the full segment length, batch 1; `clamp3 embed` batches by length), whole processes;
- equal work: the same segments, unpadded, batch 1, engine against engine
  (`reference_engine.py`: the official model code without padding, against
  `clamp3 embed --batch 1`), loading excluded.

Jobs: text (32 texts), text-short (32 one-line texts), text-long (16 multi-segment texts),
abc (interleaved ABC from MusicXML of the music21 corpus), mtf (MIDI-derived MTF),
features (MERT features -> audio encoder), mert (audio -> MERT features:
extract_mert.py --mean_features vs clamp3 features), audio (audio end to end: decode,
resample, MERT, audio encoder; the official side is extract_mert.py then
extract_clamp3.py on its output).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WEIGHTS_NAME = ("weights_clamp3_saas_h_size_768_t_model_FacebookAI_xlm-roberta-base_t_length_128_"
                "a_size_768_a_layers_12_a_length_128_s_size_768_s_layers_12_p_size_64_p_length_512.pth")
JOBS = ["text", "text-short", "text-long", "abc", "mtf", "features", "mert", "audio"]


def cpu_times():
    v = list(map(int, open("/proc/stat").readline().split()[1:]))
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(v) / ticks, (v[3] + v[4]) / ticks


def top_others(n=5):
    """The busiest processes right now (a `top -bn1` snapshot), for the record."""
    try:
        out = subprocess.run(["top", "-bn1", "-w", "200"], capture_output=True, text=True).stdout
    except OSError:
        return []
    rows = []
    lines = out.splitlines()
    start = next((i for i, l in enumerate(lines) if l.strip().startswith("PID")), None)
    if start is None:
        return []
    for l in lines[start + 1:]:
        f = l.split()
        if len(f) >= 12:
            try:
                cpu = float(f[8])
            except ValueError:
                continue
            if cpu > 5:
                rows.append(f"{f[11]}:{cpu:.0f}%")
    return rows[:n]


def run(cmd, cwd=None, env=None, marker=None):
    """Runs `cmd`; returns wall seconds, seconds until `marker` (a byte string in its output)
    first appeared (or None), peak RSS in MB, the other processes' CPU share, and the output."""
    ncpu = os.cpu_count() or 1
    tot0, idle0 = cpu_times()
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = {}
    chunks = {"out": [], "err": []}

    def reader(stream, key):
        buf = b""
        while True:
            b = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not b:
                break
            chunks[key].append(b)
            buf = (buf + b)[-4096:]
            if marker and "t" not in seen and marker in buf:
                seen["t"] = time.monotonic() - t0

    threads = [threading.Thread(target=reader, args=(p.stdout, "out")),
               threading.Thread(target=reader, args=(p.stderr, "err"))]
    for t in threads:
        t.start()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    for t in threads:
        t.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    tot1, idle1 = cpu_times()
    busy = (tot1 - tot0) - (idle1 - idle0)
    own = ru.ru_utime + ru.ru_stime
    others = max(0.0, busy - own) / (ncpu * wall) if wall > 0 else 0.0
    out = b"".join(chunks["out"]).decode(errors="replace")
    err = b"".join(chunks["err"]).decode(errors="replace")
    return {
        "wall": wall,
        "marker": seen.get("t"),
        "rss_mb": ru.ru_maxrss / 1024,
        "cpu_s": own,
        "others": others,
        "rc": p.returncode,
        "out": out[-2000:],
        "err": err[-2000:],
    }


def setup(a, w):
    """Model folders, the reference environment and the inputs under WORK."""
    py = a.python
    hf = os.path.join(w, "hf")
    mert = os.path.join(w, "mert")
    tok = os.path.join(ROOT, "testdata", "xlm-roberta", "tokenizer.json")
    subprocess.run([py, os.path.join(ROOT, "scripts", "bench", "setup_reference.py"), "--reference",
                    a.reference, "--tokenizer", tok, "--hf", hf, "--mert", mert], check=True)
    ours = os.path.join(w, "model")
    os.makedirs(ours, exist_ok=True)
    for name, src in (("model.pth", os.path.abspath(a.pth)), ("tokenizer.json", tok), ("mert", mert)):
        dst = os.path.join(ours, name)
        if not os.path.lexists(dst):
            os.symlink(src, dst)
    official = os.path.join(w, "official")
    os.makedirs(official, exist_ok=True)
    link = os.path.join(official, WEIGHTS_NAME)
    if not os.path.lexists(link):
        os.symlink(os.path.abspath(a.pth), link)
    make_inputs(a, os.path.join(w, "inputs"))


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def make_inputs(a, d):
    import numpy as np

    if os.path.exists(os.path.join(d, ".done")):
        return
    inputs = os.path.join(ROOT, "fixtures", "model", "inputs")
    lines = [l for l in open(os.path.join(inputs, "multilingual.txt"), encoding="utf-8").read().splitlines() if l]
    titles = [l for l in open(os.path.join(inputs, "essen_titles_long.txt"), encoding="utf-8").read().splitlines() if l]
    pool = lines + titles
    # text: 24 one-liners and 8 multi-line texts (about 1-4 segments each).
    for i in range(24):
        write(os.path.join(d, "text", f"t{i:02}.txt"), pool[(i * 7) % len(pool)] + "\n")
    for i in range(8):
        write(os.path.join(d, "text", f"long{i}.txt"), "\n".join(titles[i * 13:i * 13 + 10 + 12 * i]) + "\n")
    for i in range(32):
        write(os.path.join(d, "text-short", f"s{i:02}.txt"), pool[(i * 5 + 3) % len(pool)] + "\n")
    for i in range(16):
        write(os.path.join(d, "text-long", f"l{i:02}.txt"), "\n".join(titles[i * 9:i * 9 + 40]) + "\n")
    # abc: interleaved ABC from MusicXML scores of the music21 corpus, via this project's
    # converter (byte-identical to the reference's xml2abc + interleaving).
    corpus = os.path.join(ROOT, "testdata", "music21", "corpus")
    scores = []
    for root, _, fs in os.walk(corpus):
        scores += [os.path.join(root, f) for f in fs if f.endswith((".mxl", ".xml", ".musicxml"))]
    scores.sort()
    pick = scores[:: max(1, len(scores) // 40)][:40]
    tmp = os.path.join(d, "_abc")
    subprocess.run([a.clamp3, "convert", "--to", "abc", "--out", tmp] + pick,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    made = []
    for root, _, fs in os.walk(tmp):
        made += [os.path.join(root, f) for f in fs if f.endswith(".abc")]
    made.sort()
    for i, f in enumerate(made[:24]):
        os.makedirs(os.path.join(d, "abc"), exist_ok=True)
        shutil.copy(f, os.path.join(d, "abc", f"a{i:02}.abc"))
    shutil.rmtree(tmp, ignore_errors=True)
    # mtf: the real-MIDI MTF fixtures (converted by the reference's midi2mtf).
    mtf_dir = os.path.join(ROOT, "fixtures", "mtf")
    mtfs = sorted(f for f in os.listdir(mtf_dir) if f.endswith(".mtf") and not f.startswith("syn_"))
    for f in mtfs:
        os.makedirs(os.path.join(d, "mtf"), exist_ok=True)
        shutil.copy(os.path.join(mtf_dir, f), os.path.join(d, "mtf", f))
    # features: MERT-like features [1, N, 768] of 5-400 windows.
    rng = np.random.default_rng(0)
    for i, n in enumerate([5, 10, 16, 24, 26, 30, 33, 40, 50, 60, 64, 75, 90, 100, 110, 126, 127,
                           128, 140, 180, 200, 250, 300, 400]):
        os.makedirs(os.path.join(d, "features"), exist_ok=True)
        np.save(os.path.join(d, "features", f"f{i:02}.npy"),
                rng.standard_normal((1, n, 768)).astype(np.float32) * 0.5)
    # audio: MIDI fixtures rendered to 44.1 kHz stereo WAV (fluidsynth), else synthetic tones.
    audio = os.path.join(d, "audio")
    os.makedirs(audio, exist_ok=True)
    sf2 = next((p for p in ["/usr/share/sounds/sf2/default-GM.sf2", "/usr/share/sounds/sf2/FluidR3_GM.sf2",
                            "/usr/share/sounds/sf2/TimGM6mb.sf2"] if os.path.exists(p)), None)
    mids = sorted(f for f in os.listdir(mtf_dir) if f.endswith(".mid") and not f.startswith("syn_"))
    total = 0.0
    if sf2 and shutil.which("fluidsynth"):
        for f in mids:
            out = os.path.join(audio, os.path.splitext(f)[0] + ".wav")
            subprocess.run(["fluidsynth", "-ni", "-q", "-F", out, "-r", "44100", sf2, os.path.join(mtf_dir, f)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if os.path.exists(out):
                sec = (os.path.getsize(out) - 44) / (44100 * 4)
                if sec < 2 or sec > 60:
                    os.remove(out)
                    continue
                total += sec
            if total > 130:
                break
    if total < 20:
        import wave
        for i, sec in enumerate([31, 47, 23, 36]):
            t = np.arange(int(sec * 44100)) / 44100
            x = 0.3 * np.sin(2 * np.pi * (220 + 40 * i) * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
            pcm = (np.stack([x, 0.8 * x], 1) * 32767).astype(np.int16)
            with wave.open(os.path.join(audio, f"tone{i}.wav"), "wb") as wv:
                wv.setnchannels(2)
                wv.setsampwidth(2)
                wv.setframerate(44100)
                wv.writeframes(pcm.tobytes())
    # One trivial input per kind: a run on it measures this project's start-up and loading.
    write(os.path.join(d, "_load", "text", "empty.txt"), "")
    write(os.path.join(d, "_load", "abc", "tiny.abc"), "X:1\nL:1/8\nM:4/4\nK:C\nC|\n")
    os.makedirs(os.path.join(d, "_load", "features"), exist_ok=True)
    np.save(os.path.join(d, "_load", "features", "one.npy"), np.zeros((1, 1, 768), np.float32))
    os.makedirs(os.path.join(d, "_load", "audio"), exist_ok=True)
    with open(os.path.join(d, "_load", "audio", "bad.wav"), "wb") as f:
        f.write(b"not a wave file")
    open(os.path.join(d, ".done"), "w").close()


def count(d, exts):
    return sum(1 for _, _, fs in os.walk(d) for f in fs if f.endswith(exts))


def job_plan(job, w, a):
    """The commands of one job: (name, cmd, cwd, env, marker) for each side."""
    inp = os.path.join(w, "inputs")
    out = os.path.join(w, "out")
    ref_code = os.path.join(a.reference, "code")
    ref_audio = os.path.join(a.reference, "preprocessing", "audio")
    official = os.path.join(w, "official")
    env = dict(os.environ, HF_HOME=os.path.join(w, "hf"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               PYTHONHASHSEED="0", PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    model = os.path.join(w, "model")
    mert = os.path.join(w, "mert")
    src = {"text": "text", "text-short": "text-short", "text-long": "text-long", "abc": "abc", "mtf": "mtf",
           "features": "features", "mert": "audio", "audio": "audio"}[job]
    data = os.path.join(inp, src)
    load_kind = {"text": "text", "text-short": "text", "text-long": "text", "abc": "abc", "mtf": "abc",
                 "features": "features", "mert": "audio", "audio": "audio"}[job]
    load_in = os.path.join(inp, "_load", load_kind)

    def fresh(name):
        p = os.path.join(out, job, name)
        shutil.rmtree(p, ignore_errors=True)
        os.makedirs(p, exist_ok=True)
        return p

    def ours(batch, name):
        if job == "mert":
            return lambda: [a.clamp3, "features", "--mert", mert, "--out", fresh(name)] + ([] if batch is None else ["--batch", str(batch)]) + [data]
        cmd = [a.clamp3, "embed", "--model", model, "--out"]
        return lambda: cmd + [fresh(name)] + ([] if batch is None else ["--batch", str(batch)]) + [data]

    def ours_load():
        if job == "mert":
            return [a.clamp3, "features", "--mert", mert, "--out", fresh("load"), load_in]
        return [a.clamp3, "embed", "--model", model, "--out", fresh("load"), load_in]

    clamp_official = lambda src_dir, name: [a.python, os.path.join(ref_code, "extract_clamp3.py"), src_dir,  # noqa: E731
                                           fresh(name), "--get_global"]
    mert_official = lambda name: [a.python, os.path.join(ref_audio, "extract_mert.py"), "--input_path", data,  # noqa: E731
                                  "--output_path", fresh(name), "--model_path", mert, "--mean_features"]
    engine = lambda src_dir, name: [a.python, os.path.join(ROOT, "scripts", "bench", "reference_engine.py"),  # noqa: E731
                                    ref_code, src_dir, fresh(name)]
    loaded = b"Successfully Loaded CLaMP 3 Checkpoint"
    started = b"| 0/"  # tqdm's first line: the loop has begun
    steps = {}
    if job == "mert":
        steps["official"] = [(lambda: mert_official("official"), official, started)]
        steps["engine"] = steps["official"]  # MERT is not padded: the official run is the equal-work run
    elif job == "audio":
        feats = os.path.join(out, job, "official_mert")
        steps["official"] = [(lambda: mert_official("official_mert"), official, started),
                             (lambda: clamp_official(feats, "official"), official, loaded)]
        steps["engine"] = [(lambda: mert_official("official_mert"), official, started),
                           (lambda: engine(feats, "engine"), official, b"LOADED")]
    else:
        steps["official"] = [(lambda: clamp_official(data, "official"), official, loaded)]
        steps["engine"] = [(lambda: engine(data, "engine"), official, b"LOADED")]
    items = count(data, (".wav",)) if job in ("mert", "audio") else count(data, (".txt", ".abc", ".mtf", ".npy"))
    return {"items": items, "env": env, "steps": steps, "ours": ours(None, "ours"), "ours_b1": ours(1, "ours_b1"),
            "ours_load": ours_load, "out": os.path.join(out, job)}


def run_steps(steps, env):
    """Runs a side's processes in order; sums their times, keeps the largest RSS."""
    total = {"wall": 0.0, "load": 0.0, "rss_mb": 0.0, "others": 0.0, "rc": 0, "cpu_s": 0.0}
    for cmd, cwd, marker in steps:
        r = run(cmd(), cwd=cwd, env=env, marker=marker)
        if r["rc"] != 0 or r["marker"] is None:
            print(f"    step failed (rc {r['rc']}, marker {r['marker']}): {r['err'][-600:]}", file=sys.stderr)
            total["rc"] = r["rc"] or 1
        total["wall"] += r["wall"]
        total["load"] += r["marker"] if r["marker"] is not None else r["wall"]
        total["rss_mb"] = max(total["rss_mb"], r["rss_mb"])
        total["others"] = max(total["others"], r["others"])
        total["cpu_s"] += r["cpu_s"]
    return total


def cosines(dir_a, dir_b, skip=lambda name: False):
    """Worst cosine between the .npy outputs of the same input (matched by name up to the
    first dot: `extract_mert.py` writes `song.npy` where `clamp3 features` writes
    `song.wav.npy`), leaving out names for which `skip` is true."""
    import numpy as np

    def index(d):
        out = {}
        for root, _, fs in os.walk(d):
            for f in fs:
                if f.endswith(".npy"):
                    rel = os.path.relpath(os.path.join(root, f), d)
                    out[rel.split(".")[0]] = os.path.join(root, f)
        return out

    a, b = index(dir_a), index(dir_b)
    worst, n = 1.0, 0
    for key, pa in sorted(a.items()):
        if key not in b or skip(key):
            continue
        x, y = np.load(pa).ravel().astype(np.float64), np.load(b[key]).ravel().astype(np.float64)
        if x.shape != y.shape:
            continue
        worst = min(worst, float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y))))
        n += 1
    return worst, n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clamp3", required=True)
    ap.add_argument("--reference", required=True)
    ap.add_argument("--pth", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--work", default="/tmp/clamp3-e2e")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jobs", default=",".join(JOBS))
    ap.add_argument("--skip-engine", action="store_true", help="no equal-work runs")
    a = ap.parse_args()
    a.clamp3 = os.path.abspath(a.clamp3)
    a.reference = os.path.abspath(a.reference)
    w = os.path.abspath(a.work)
    os.makedirs(w, exist_ok=True)
    setup(a, w)
    jobs = [j for j in a.jobs.split(",") if j]
    results = os.path.join(w, "results.jsonl")
    recs = []
    for rnd in range(a.rounds):
        for job in jobs:
            plan = job_plan(job, w, a)
            env = plan["env"]
            order = [("official", lambda: run_steps(plan["steps"]["official"], env)),
                     ("ours", lambda: run(plan["ours"](), env=env)),
                     ("ours_load", lambda: run(plan["ours_load"](), env=env))]
            if not a.skip_engine:
                order += [("engine", lambda: run_steps(plan["steps"]["engine"], env)),
                          ("ours_b1", lambda: run(plan["ours_b1"](), env=env))]
            for side, fn in order:
                if side == "engine" and job == "mert":
                    continue
                snapshot = top_others()
                load = open("/proc/loadavg").read().split()[0]
                r = fn()
                rec = {"round": rnd, "job": job, "side": side, "items": plan["items"], "wall": r["wall"],
                       "load_s": r.get("load", r.get("marker")), "rss_mb": r["rss_mb"], "others": r["others"],
                       "loadavg_before": load, "top_before": snapshot, "rc": r["rc"]}
                if side in ("ours", "ours_b1", "ours_load") and r["rc"] != 0 and side != "ours_load":
                    print(f"    {job} {side} failed: {r['err'][-600:]}", file=sys.stderr)
                recs.append(rec)
                with open(results, "a") as f:
                    f.write(json.dumps(rec) + "\n")
                print(f"round {rnd} {job:<10} {side:<9} {r['wall']:8.2f} s  rss {r['rss_mb']:6.0f} MB  "
                      f"others {100 * r['others']:4.0f} %  (load avg {load})", flush=True)
            if rnd == 0:
                o = plan["out"]
                for x, y in (("official", "ours"), ("engine", "ours_b1")):
                    if os.path.isdir(os.path.join(o, x)) and os.path.isdir(os.path.join(o, y)):
                        # Multi-line texts: the reference joins a text's lines in Python's set
                        # order, which differs from process to process.
                        multi = (lambda k: k.startswith(("long", "l"))) if job.startswith("text") else (lambda k: False)
                        c, n = cosines(os.path.join(o, x), os.path.join(o, y), multi)
                        print(f"    agreement {x} vs {y}: worst cosine {c:.7f} over {n} outputs", flush=True)
    summary(recs, jobs, os.path.join(w, "summary.md"))


def summary(recs, jobs, path):
    def med(job, side, key="wall"):
        v = [r[key] for r in recs if r["job"] == job and r["side"] == side and r.get(key) is not None]
        return statistics.median(v) if v else float("nan")

    rows = ["| job | items | official s | ours s | default ratio | engine s (no load) | ours b1 s (no load) "
            "| equal-work ratio | ours default vs b1 | RSS official / ours MB | others' CPU % (max) |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for job in jobs:
        items = next((r["items"] for r in recs if r["job"] == job), 0)
        off, ours, load = med(job, "official"), med(job, "ours"), med(job, "ours_load")
        eng_wall, eng_load = med(job, "engine"), med(job, "engine", "load_s")
        b1 = med(job, "ours_b1")
        if job == "mert":
            eng_wall, eng_load = off, med(job, "official", "load_s")
        eng = eng_wall - eng_load
        ours_c, b1_c = ours - load, b1 - load
        others = max((r["others"] for r in recs if r["job"] == job), default=float("nan"))
        rows.append(
            f"| {job} | {items} | {off:.2f} | {ours:.2f} | {off / ours:.2f}x | {eng:.2f} | "
            f"{(b1_c if job != 'mert' else ours_c):.2f} | {eng / (b1_c if job != 'mert' else ours_c):.2f}x | "
            f"{b1 / ours:.2f}x | {med(job, 'official', 'rss_mb'):.0f} / {med(job, 'ours', 'rss_mb'):.0f} | "
            f"{100 * others:.0f} |")
    text = "\n".join(rows)
    print("\n" + text)
    with open(path, "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
