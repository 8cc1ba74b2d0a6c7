#!/usr/bin/env python3
"""Audio fixtures and goldens for crates/audio (docs/reference.md §5.6).

Renders short real audio (Essen folk tunes of the music21 corpus -> abc2midi -> fluidsynth with
the FluidR3 GM soundfont) at several sample rates, stores it as WAV (16/24/32-bit, float, 8-bit),
FLAC, MP3 (lame), Ogg Vorbis (oggenc) and M4A/AAC (ffmpeg), and computes with the reference
libraries what the reference pipeline makes of it:

  decode     soundfile (libsndfile) float32, as torchaudio.load's soundfile backend (the
             reference environment: Windows, torchaudio 2.4, no FFmpeg); M4A: ffmpeg (libsndfile
             cannot read it; the reference never sees M4A)
  mono       torch.mean(waveform, dim=0, keepdim=True)
  resample   torchaudio.transforms.Resample(sr, 24000) (CPU)
  normalise  transformers.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True)
             called on the (1, N) torch tensor, exactly as hf_pretrains.process_wav
  windows    wav[:, i:i+120000] for i in range(0, N, 120000), last one dropped if < 24000

plus synthetic cases generated from a counter hash that the Rust tests regenerate bit for bit
(kernels, channel means, numpy statistics, normalised windows, resampled noise).

Oracle environment: /work/venv/bin/python (torch 2.15, torchaudio 2.11, transformers 4.40,
numpy 1.26, soundfile 0.14 with libsndfile 1.2.2). torchaudio 2.11 refuses to import when the
CUDA version of torch differs from its own; only its pure-PyTorch CPU resampler is used here, so
the check is satisfied by setting torch.version.cuda before the import.

Outputs:
  fixtures/audio/*.{wav,flac,mp3,ogg,m4a}   the committed audio excerpts
  fixtures/audio/goldens.json               the goldens (float arrays as base64 little-endian f32)
  with --corpus N: testdata/audio/ (git-ignored): N full-length tunes x rates x formats with full
  oracle outputs, for crates/audio/tests/corpus.rs.

Usage: /work/venv/bin/python scripts/golden/gen_audio_goldens.py [--corpus N]
Tools: abc2midi, fluidsynth (+ fluid-soundfont-gm), lame, oggenc (vorbis-tools), flac, ffmpeg.
"""

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

# torchaudio 2.11 checks that its CUDA build matches torch's; only the CPU resampler is used.
torch.version.cuda = "13.0"
import torchaudio  # noqa: E402
import soundfile as sf  # noqa: E402
from transformers import Wav2Vec2FeatureExtractor  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "fixtures/audio")
CORPUS = os.path.join(ROOT, "testdata/audio")
ESSEN = "/tmp/data/music21/corpus/essenFolksong"
SF2 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
F32 = np.float32


# ---------------------------------------------------------------------------------------------
# helpers


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def sha(a):
    return hashlib.sha256(np.ascontiguousarray(a, dtype="<f4").tobytes()).hexdigest()


def bits(x):
    return int(np.array([x], dtype="<f4").view("<u4")[0])


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def hash_u32(n, seed):
    """Counter hash, mirrored in crates/audio/tests/common/mod.rs: for i in 0..n,
    x = (i + seed) * 0x9E3779B1; x ^= x >> 16; x *= 0x85EBCA6B; x ^= x >> 13;
    x *= 0xC2B2AE35; x ^= x >> 16   (all mod 2^32)."""
    m = np.uint64(0xFFFFFFFF)
    x = (np.arange(n, dtype=np.uint64) + np.uint64(seed)) & m
    x = (x * np.uint64(0x9E3779B1)) & m
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x85EBCA6B)) & m
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(0xC2B2AE35)) & m
    x ^= x >> np.uint64(16)
    return x.astype(np.uint32)


def hash_signal(n, seed, amp, dc):
    """float32 noise in [-1, 1) from the counter hash, scaled and shifted in float32:
    v = ((x >> 8) - 2^23) / 2^23 (exact), then v * f32(amp) + f32(dc)."""
    x = hash_u32(n, seed)
    v = ((x >> np.uint32(8)).astype(np.float32) - F32(8388608.0)) / F32(8388608.0)
    return (v * F32(amp) + F32(dc)).astype(np.float32)


def oracle_decode(path):
    """(C, N) float32 as torchaudio.load returns it."""
    if path.endswith(".m4a") or path.endswith(".mp4"):
        info = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
             "stream=channels,sample_rate", "-of", "json", path],
            check=True, capture_output=True).stdout
        st = json.loads(info)["streams"][0]
        ch, sr = int(st["channels"]), int(st["sample_rate"])
        raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "f32le", "-c:a",
                              "pcm_f32le", "-"], check=True, capture_output=True).stdout
        x = np.frombuffer(raw, dtype="<f4").reshape(-1, ch)
        return np.ascontiguousarray(x.T), sr
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    return np.ascontiguousarray(x.T), sr


def torch_mono(x):
    t = torch.from_numpy(x)
    if t.shape[0] > 1:
        t = torch.mean(t, dim=0, keepdim=True)
    return t


def torch_resample(t, sr):
    if sr == 24000:
        return t
    return torchaudio.transforms.Resample(sr, 24000)(t)


def hf_normalise(t):
    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=24000, padding_value=0.0,
                                  return_attention_mask=True, do_normalize=True)
    return fe(t, return_tensors="pt", sampling_rate=24000, padding=True).input_values[0]


def reference_windows(wav):
    """extract_mert.py's slicing of the normalised (1, N) tensor."""
    wavs = []
    for i in range(0, wav.shape[-1], 120000):
        wavs.append(wav[:, i:i + 120000])
    if wavs and wavs[-1].shape[-1] < 24000:
        wavs = wavs[:-1]
    return wavs


def numpy_stats(x):
    """The statistics zero_mean_unit_var_norm uses, on a (1, N) float32 array."""
    v = x.reshape(1, -1)
    return v.mean(), v.var()


def segments(a, seg=1024):
    n = len(a)
    mid = max(0, n // 2 - seg // 2)
    return {"len": n, "head": b64(a[:seg]), "mid_start": mid, "mid": b64(a[mid:mid + seg]),
            "tail": b64(a[max(0, n - seg):]),
            "sumsq": float(np.sum(a.astype(np.float64) ** 2))}


# ---------------------------------------------------------------------------------------------
# rendering


def render(abc_file, tune, rate, out_wav, fmt="s16", program=None):
    with tempfile.TemporaryDirectory() as td:
        src = os.path.join(ESSEN, abc_file)
        mid = os.path.join(td, "t.mid")
        abc = src
        if program is not None:
            # Prepend a MIDI program directive to the selected tune only.
            lines = open(src, encoding="latin-1").read().split("\n")
            out, cur = [], None
            for ln in lines:
                out.append(ln)
                if ln.startswith("X:"):
                    cur = ln[2:].strip()
                if ln.startswith("K:") and cur == str(tune):
                    out.append("%%MIDI program %d" % program)
            abc = os.path.join(td, "t.abc")
            open(abc, "w", encoding="latin-1").write("\n".join(out))
        run(["abc2midi", abc, str(tune), "-o", mid])
        run(["fluidsynth", "-ni", "-g", "1.0", "-r", str(rate), "-O", fmt, "-F", out_wav, SF2,
             mid])


def cut(src_wav, dst, start_s, dur_s, mono, subtype):
    """Excerpt of a rendered WAV, sample-exact (integer or float data copied as is)."""
    info = sf.info(src_wav)
    dtype = {"PCM_16": "int16", "PCM_24": "int32", "PCM_32": "int32", "FLOAT": "float32",
             "PCM_U8": "int16"}[subtype]
    x, sr = sf.read(src_wav, dtype=dtype, always_2d=True)
    a = int(start_s * sr)
    b = a + int(dur_s * sr)
    if b > len(x):
        raise SystemExit("%s is only %.2f s long" % (src_wav, len(x) / sr))
    x = x[a:b]
    if mono:
        x = x[:, :1]
    if subtype == "PCM_U8":
        # 8-bit: keep the top byte so the container conversion is exact.
        x = (x.astype(np.int32) >> 8).astype(np.int16) << 8
    sf.write(dst, x, sr, subtype=subtype, format="WAV")
    return sr


# name, tune file, tune no, rate, mono, start, duration, container, program
FIXTURES = [
    ("wav16_44100_stereo.wav", "han1.abc", 1, 44100, False, 2.0, 0.30, "PCM_16", None),
    ("wav16_16000_mono.wav", "han1.abc", 2, 16000, True, 1.5, 1.00, "PCM_16", None),
    ("wav16_8000_mono.wav", "han1.abc", 3, 8000, True, 1.0, 1.00, "PCM_16", 40),
    ("wav16_24000_mono.wav", "han1.abc", 4, 24000, True, 1.0, 0.50, "PCM_16", None),
    ("wav16_11025_stereo.wav", "han1.abc", 5, 11025, False, 1.0, 0.60, "PCM_16", 73),
    ("wav24_48000_mono.wav", "han1.abc", 6, 48000, True, 1.0, 0.30, "PCM_24", None),
    ("wav32_22050_mono.wav", "han1.abc", 7, 22050, True, 1.0, 0.30, "PCM_32", None),
    ("wavf32_16000_stereo.wav", "han1.abc", 8, 16000, False, 1.0, 0.25, "FLOAT", None),
    ("wav8_8000_mono.wav", "han1.abc", 9, 8000, True, 1.0, 0.30, "PCM_U8", None),
    ("flac_44100_stereo.flac", "han1.abc", 10, 44100, False, 2.0, 0.80, "flac", None),
    ("flac_48000_mono.flac", "han1.abc", 11, 48000, True, 2.0, 1.00, "flac", 0),
    ("flac_22050_stereo.flac", "han1.abc", 12, 22050, False, 1.0, 1.00, "flac", 40),
    ("flac_8000_mono_long.flac", "han1.abc", 1, 8000, True, 12.0, 11.5, "flac", 0),
    ("mp3_44100_stereo.mp3", "han1.abc", 14, 44100, False, 1.0, 1.50, "mp3", None),
    ("mp3_22050_mono.mp3", "han1.abc", 15, 22050, True, 1.0, 1.50, "mp3", 40),
    ("ogg_44100_stereo.ogg", "han1.abc", 16, 44100, False, 1.0, 1.50, "ogg", None),
    ("m4a_44100_stereo.m4a", "han1.abc", 17, 44100, False, 1.0, 1.50, "m4a", None),
    ("alac_44100_stereo.m4a", "han1.abc", 18, 44100, False, 1.0, 0.20, "alac", None),
    ("aiff16_8000_mono.aiff", "han1.abc", 19, 8000, True, 1.0, 0.10, "aiff", None),
]

# Files the decoder must reject: name, expected error variant (crates/audio/tests/decode.rs).
ERROR_FIXTURES = [("err_opus_48000_mono.ogg", "UnsupportedCodec"),
                  ("err_video_only.mp4", "NoAudioTrack")]


def make_file(spec, outdir, td):
    name, abcf, tune, rate, mono, start, dur, kind, program = spec
    path = os.path.join(outdir, name)
    fmt = {"PCM_24": "s24", "PCM_32": "s32", "FLOAT": "float"}.get(kind, "s16")
    rendered = os.path.join(td, "render_%s.wav" % name)
    render(abcf, tune, rate, rendered, fmt=fmt, program=program)
    if kind.startswith("PCM") or kind == "FLOAT":
        cut(rendered, path, start, dur, mono, kind)
        return path
    wav = os.path.join(td, "cut_%s.wav" % name)
    cut(rendered, wav, start, dur, mono, "PCM_16")
    if kind == "flac":
        run(["flac", "-8", "-s", "-f", "-o", path, wav])
    elif kind == "mp3":
        run(["lame", "--quiet", "-b", "128", wav, path])
    elif kind == "ogg":
        run(["oggenc", "-Q", "-q", "4", "-o", path, wav])
    elif kind == "m4a":
        run(["ffmpeg", "-v", "error", "-y", "-i", wav, "-c:a", "aac", "-b:a", "128k",
             "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", path])
    elif kind == "alac":
        run(["ffmpeg", "-v", "error", "-y", "-i", wav, "-c:a", "alac", "-map_metadata", "-1",
             "-fflags", "+bitexact", path])
    elif kind == "aiff":
        x, sr = sf.read(wav, dtype="int16", always_2d=True)
        sf.write(path, x, sr, subtype="PCM_16", format="AIFF")
    return path


def error_fixtures(td):
    wav = os.path.join(td, "e.wav")
    render("han1.abc", 1, 48000, wav)
    run(["ffmpeg", "-v", "error", "-y", "-i", wav, "-t", "0.3", "-ac", "1", "-c:a", "libopus",
         "-b:a", "16k", "-map_metadata", "-1", "-fflags", "+bitexact",
         os.path.join(FIX, "err_opus_48000_mono.ogg")])
    run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=16x16:rate=5",
         "-frames:v", "3", "-c:v", "mpeg4", "-map_metadata", "-1", "-fflags", "+bitexact",
         os.path.join(FIX, "err_video_only.mp4")])
    return [{"name": n, "error": e} for n, e in ERROR_FIXTURES]


def file_golden(path, lossy):
    x, sr = oracle_decode(path)
    inter = np.ascontiguousarray(x.T).reshape(-1)  # frame-major interleaved
    g = {"name": os.path.basename(path), "rate": sr, "channels": int(x.shape[0]),
         "frames": int(x.shape[1]), "lossy": lossy,
         "oracle": "ffmpeg 5.1" if path.endswith(".m4a") else "libsndfile %s" %
         sf.__libsndfile_version__,
         "decoded_sha256": sha(inter), "decoded_head": b64(inter[:512])}
    n = x.shape[1]
    if lossy:
        # the whole decode of a lossy file is too large to commit: a 2048-frame middle segment
        s0 = max(0, n // 2 - 1024)
        g["segment"] = {"start_frame": s0, "data": b64(np.ascontiguousarray(
            x[:, s0:s0 + 2048].T).reshape(-1))}
    mono = torch_mono(x)
    g["mono_sha256"] = sha(mono.numpy()[0])
    r = torch_resample(mono, sr)
    g["resampled"] = segments(r.numpy()[0])
    return g, r


def mert_golden(r):
    """Normalisation + windows of a (1, N) 24 kHz tensor, as the reference."""
    normed = hf_normalise(r)
    mean, var = numpy_stats(r.numpy())
    wins = reference_windows(normed)
    return {"n": int(r.shape[-1]), "mean_bits": bits(mean), "var_bits": bits(var),
            "n_windows": len(wins),
            "windows": [{"len": int(w.shape[-1]), "head": b64(w.numpy()[0, :256]),
                         "tail": b64(w.numpy()[0, -256:]), "sha256": sha(w.numpy()[0])}
                        for w in wins]}


# ---------------------------------------------------------------------------------------------
# synthetic goldens

KERNEL_RATES = [44100, 48000, 22050, 16000, 8000, 11025, 32000, 96000, 88200, 12000, 37800,
                44056, 7350, 192000, 1000, 2999]


def kernel_goldens():
    out = []
    for sr in KERNEL_RATES:
        rs = torchaudio.transforms.Resample(sr, 24000)
        k = rs.kernel.numpy()[:, 0, :]  # (new, taps) float32
        los, lens, vals = [], [], []
        for row in k:
            nz = np.nonzero(row)[0]
            lo, hi = (int(nz[0]), int(nz[-1]) + 1) if len(nz) else (0, 0)
            los.append(lo)
            lens.append(hi - lo)
            vals.append(row[lo:hi])
        allv = np.concatenate(vals)
        g = {"orig": sr, "new": 24000, "width": int(rs.width), "taps": int(k.shape[1]),
             "phases": int(k.shape[0]),
             # spans: sha256 of the little-endian u32 pairs (lo, len) and of the f32 values
             "spans_sha256": hashlib.sha256(np.array([los, lens], dtype="<u4").T.tobytes())
             .hexdigest(), "vals_sha256": sha(allv),
             # signs of the zero taps outside the spans (torch has -0.0 there)
             "neg_zero_count": int(np.sum(np.signbit(k) & (k == 0)))}
        if len(allv) <= 20000:
            g.update({"lo": los, "len": lens, "vals": b64(allv)})
        out.append(g)
    return out


def mono_goldens():
    torch.set_num_threads(1)
    out = []
    n = 256
    for c in [2, 3, 4, 5, 6, 8, 15, 16, 17, 24, 33]:
        x = hash_signal(c * n, 1000 + c, 0.7, 0.0).reshape(n, c)  # interleaved frames
        t = torch.mean(torch.from_numpy(np.ascontiguousarray(x.T)), dim=0, keepdim=True)
        out.append({"channels": c, "frames": n, "seed": 1000 + c, "amp": 0.7, "dc": 0.0,
                    "mean": b64(t.numpy()[0]),
                    "cpu_capability": torch.backends.cpu.get_cpu_capability()})
    torch.set_num_threads(os.cpu_count() or 1)
    return out


STATS_CASES = [(1, 1, 0.5, 0.0), (7, 2, 0.5, 0.1), (8, 3, 0.5, 0.0), (128, 4, 0.3, 0.01),
               (129, 5, 0.3, 0.01), (1000, 6, 0.2, -0.05), (8191, 7, 0.9, 0.0),
               (65537, 8, 0.1, 0.2), (1234567, 9, 0.25, 0.003), (1 << 24, 10, 0.5, 0.0),
               ((1 << 24) + 3, 11, 0.3, 0.02)]


def stats_goldens():
    out = []
    for n, seed, amp, dc in STATS_CASES:
        x = hash_signal(n, seed, amp, dc)
        mean, var = numpy_stats(x)
        out.append({"n": n, "seed": seed, "amp": amp, "dc": dc, "sum_bits": bits(np.sum(x)),
                    "mean_bits": bits(mean), "var_bits": bits(var)})
    return out


NORM_CASES = [(276000, 21, 0.4, 0.01), (252000, 22, 0.3, -0.02), (24000, 23, 0.5, 0.0),
              (120000, 24, 0.2, 0.0), (144001, 25, 0.6, 0.1)]


def norm_goldens():
    out = []
    for n, seed, amp, dc in NORM_CASES:
        x = hash_signal(n, seed, amp, dc)
        g = mert_golden(torch.from_numpy(x).reshape(1, -1))
        g.update({"seed": seed, "amp": amp, "dc": dc})
        out.append(g)
    return out


RESAMPLE_CASES = [(44100, 31), (48000, 32), (22050, 33), (16000, 34), (8000, 35), (11025, 36),
                  (32000, 37), (96000, 38), (44056, 39), (1000, 40)]


def resample_goldens():
    out = []
    for sr, seed in RESAMPLE_CASES:
        n = sr + 17  # about one second, not a multiple of the block size
        x = hash_signal(n, seed, 0.9, 0.0)
        r = torch_resample(torch.from_numpy(x).reshape(1, -1), sr).numpy()[0]
        g = {"orig": sr, "n_in": n, "seed": seed, "amp": 0.9, "dc": 0.0,
             "threads": torch.get_num_threads()}
        g.update(segments(r))
        out.append(g)
    return out


# ---------------------------------------------------------------------------------------------


def fixtures():
    os.makedirs(FIX, exist_ok=True)
    goldens = {"generator": "scripts/golden/gen_audio_goldens.py",
               "versions": {"torch": torch.__version__, "torchaudio": torchaudio.__version__,
                            "numpy": np.__version__, "libsndfile": sf.__libsndfile_version__,
                            "transformers": __import__("transformers").__version__},
               "files": []}
    with tempfile.TemporaryDirectory() as td:
        for spec in FIXTURES:
            path = make_file(spec, FIX, td)
            lossy = spec[7] in ("mp3", "ogg", "m4a")  # ALAC is lossless
            g, r = file_golden(path, lossy)
            if spec[0] == "flac_8000_mono_long.flac":
                g["mert"] = mert_golden(r)
            goldens["files"].append(g)
            print("fixture", spec[0], os.path.getsize(path), "bytes", file=sys.stderr)
        goldens["errors"] = error_fixtures(td)
    goldens["kernels"] = kernel_goldens()
    goldens["mono"] = mono_goldens()
    goldens["stats"] = stats_goldens()
    goldens["norm"] = norm_goldens()
    goldens["resample"] = resample_goldens()
    with open(os.path.join(FIX, "goldens.json"), "w") as f:
        json.dump(goldens, f, separators=(",", ":"))
        f.write("\n")


CORPUS_RATES = [44100, 48000, 22050, 16000, 8000, 11025, 24000, 32000]
CORPUS_KINDS = ["wav", "flac", "mp3", "ogg", "m4a"]


def corpus(n_tunes):
    """testdata/audio/corpus: full-length renders (tunes 20.. of han1.abc) cycling through
    8 rates x 5 containers, every third one mono, with the oracle outputs as raw little-endian
    f32 files: <name>.decoded.f32 (lossy only: interleaved decode), <name>.r24.f32 (mono 24 kHz),
    <name>.norm.f32 (normalised 24 kHz signal before windowing)."""
    out = os.path.join(CORPUS, "corpus")
    os.makedirs(out, exist_ok=True)
    manifest = []
    with tempfile.TemporaryDirectory() as td:
        for ti in range(n_tunes):
            tune = 20 + ti
            rate = CORPUS_RATES[ti % len(CORPUS_RATES)]
            kind = CORPUS_KINDS[(ti // len(CORPUS_RATES) + ti) % len(CORPUS_KINDS)]
            mono = ti % 3 == 0
            rendered = os.path.join(td, "r.wav")
            render("han1.abc", tune, rate, rendered, program=[0, 40, 73, 24, 52][ti % 5])
            wav = os.path.join(td, "c.wav")
            x16, sr = sf.read(rendered, dtype="int16", always_2d=True)
            sf.write(wav, x16[:, :1] if mono else x16, sr, subtype="PCM_16")
            name = "tune%02d_%d_%s.%s" % (tune, rate, "mono" if mono else "stereo", kind)
            path = os.path.join(out, name)
            if kind == "wav":
                shutil.copy(wav, path)
            elif kind == "flac":
                run(["flac", "-5", "-s", "-f", "-o", path, wav])
            elif kind == "mp3":
                run(["lame", "--quiet", "-V", "2", wav, path])
            elif kind == "ogg":
                run(["oggenc", "-Q", "-q", "5", "-o", path, wav])
            elif kind == "m4a":
                run(["ffmpeg", "-v", "error", "-y", "-i", wav, "-c:a", "aac", "-b:a", "160k",
                     path])
            x, sr = oracle_decode(path)
            lossy = kind in ("mp3", "ogg", "m4a")
            inter = np.ascontiguousarray(x.T).reshape(-1)
            if lossy:
                inter.astype("<f4").tofile(path + ".decoded.f32")
            m = torch_mono(x)
            r = torch_resample(m, sr)
            r.numpy()[0].astype("<f4").tofile(path + ".r24.f32")
            normed = hf_normalise(r)
            normed.numpy()[0].astype("<f4").tofile(path + ".norm.f32")
            mean, var = numpy_stats(r.numpy())
            manifest.append({"name": name, "rate": sr, "channels": int(x.shape[0]),
                             "frames": int(x.shape[1]), "lossy": lossy,
                             "oracle": "ffmpeg" if kind == "m4a" else "libsndfile",
                             "decoded_sha256": sha(inter), "mono_sha256": sha(m.numpy()[0]),
                             "n24": int(r.shape[-1]), "mean_bits": bits(mean),
                             "var_bits": bits(var),
                             "n_windows": len(reference_windows(normed))})
            print("corpus", name, file=sys.stderr)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"files": manifest, "torch_threads": torch.get_num_threads(),
                   "versions": {"torch": torch.__version__,
                                "torchaudio": torchaudio.__version__,
                                "libsndfile": sf.__libsndfile_version__}}, f, indent=1)


def bench(minutes):
    """testdata/audio/bench_<m>min_44100_stereo.{wav,mp3}: a tune repeated to the length, and the
    reference's wall time for the same steps (soundfile float32 read as torchaudio's soundfile
    backend, torch.mean over channels, torchaudio Resample(44100, 24000) on the CPU)."""
    import time
    os.makedirs(CORPUS, exist_ok=True)
    stem = os.path.join(CORPUS, "bench_%dmin_44100_stereo" % minutes)
    if not os.path.exists(stem + ".wav"):
        with tempfile.TemporaryDirectory() as td:
            r = os.path.join(td, "r.wav")
            render("han1.abc", 1, 44100, r, program=0)
            x, sr = sf.read(r, dtype="int16", always_2d=True)
            reps = int(np.ceil(minutes * 60 * sr / len(x)))
            y = np.tile(x, (reps, 1))[:minutes * 60 * sr]
            sf.write(stem + ".wav", y, sr, subtype="PCM_16")
        run(["lame", "--quiet", "-b", "192", stem + ".wav", stem + ".mp3"])
    result = {}
    for ext in ("wav", "mp3"):
        for threads in (1, os.cpu_count() or 1):
            torch.set_num_threads(threads)
            t0 = time.perf_counter()
            x, sr = sf.read(stem + "." + ext, dtype="float32", always_2d=True)
            t = torch.from_numpy(x.T.copy())
            m = torch.mean(t, dim=0, keepdim=True)
            out = torchaudio.transforms.Resample(sr, 24000)(m)
            dt = time.perf_counter() - t0
            result["%s_threads%d" % (ext, threads)] = dt
            print("torch %s, %d thread(s): %.2f s for %d samples" % (ext, threads, dt,
                                                                     out.shape[-1]))
    json.dump(result, open(stem + ".torch_seconds.json", "w"), indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=int, default=0,
                    help="also build testdata/audio with this many full-length tunes")
    ap.add_argument("--skip-fixtures", action="store_true")
    ap.add_argument("--bench", type=int, default=0, metavar="MINUTES",
                    help="build testdata/audio/bench_<MINUTES>min_44100_stereo.{wav,mp3} and "
                    "time the reference steps on them")
    a = ap.parse_args()
    if not a.skip_fixtures:
        fixtures()
    if a.corpus:
        corpus(a.corpus)
    if a.bench:
        bench(a.bench)


if __name__ == "__main__":
    main()
