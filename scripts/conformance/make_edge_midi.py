#!/usr/bin/env python3
"""Hand-crafted and mutated MIDI files for the MIDI -> MTF conformance suite.

    make_edge_midi.py OUT_DIR                       # synthetic edge cases
    make_edge_midi.py --mutate OUT_DIR SEED_DIR...  # deterministic mutations of seed files
    make_edge_midi.py --random OUT_DIR              # deterministic random (mostly valid) files

The files are written byte by byte (not with mido's writer, which would normalise them),
so they exercise what mido 1.3.0's *reader* does with odd input: running status, sysex
escapes, meta messages of every type and of bad lengths, unknown metas, chunk and header
quirks, huge variable-length numbers, truncation and trailing garbage. Some are accepted
by mido, some rejected; the oracle (mtf_oracle.py) decides which, never this script.
"""

import os
import random
import struct
import sys


def vlq(n):
    """MIDI variable-length quantity."""
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def chunk(name, data, size=None):
    return name + struct.pack('>L', len(data) if size is None else size) + data


def header(fmt=1, ntracks=1, division=480, size=6, extra=b''):
    return b'MThd' + struct.pack('>L', size) + struct.pack('>HHH', fmt & 0xFFFF, ntracks & 0xFFFF,
                                                           division & 0xFFFF) + extra


def meta(t, data, delta=0):
    return vlq(delta) + bytes([0xFF, t]) + vlq(len(data)) + bytes(data)


def ev(delta, *b):
    return vlq(delta) + bytes(b)


EOT = meta(0x2F, b'')


def midi(tracks, fmt=1, division=480):
    return header(fmt, len(tracks), division) + b''.join(chunk(b'MTrk', t) for t in tracks)


def cases():
    c = {}
    # --- plain messages --------------------------------------------------------------
    c['basic_format0'] = midi([
        meta(0x51, [0x07, 0xA1, 0x20]) + meta(0x58, [3, 2, 24, 8]) +
        ev(0, 0x90, 60, 100) + ev(240, 0x80, 60, 64) + ev(0, 0x90, 62, 90) +
        ev(240, 0x90, 62, 0) + EOT], fmt=0)
    c['all_channel_messages'] = midi([
        ev(0, 0xA3, 60, 10) + ev(5, 0xB4, 7, 127) + ev(0, 0xC5, 12) + ev(1, 0xD6, 99) +
        ev(2, 0xE7, 0, 0) + ev(0, 0xE7, 0x7F, 0x7F) + ev(0, 0xE7, 0, 0x40) + ev(0, 0xEF, 1, 0) +
        ev(3, 0x8F, 127, 127) + ev(0, 0x9F, 0, 0) + EOT])
    c['system_common'] = midi([
        ev(0, 0xF1, 0x7F) + ev(1, 0xF2, 0x7F, 0x7F) + ev(1, 0xF3, 5) + ev(1, 0xF6) +
        ev(1, 0xF8) + ev(1, 0xFA) + ev(1, 0xFB) + ev(1, 0xFC) + ev(1, 0xFE) +
        ev(1, 0xF1, 0x35) + ev(0, 0x21) + EOT])  # running status on quarter_frame
    c['running_status'] = midi([
        ev(0, 0x90, 60, 100) + ev(10, 61, 100) + meta(0x01, b'x', 3) + ev(0, 62, 0) +
        ev(0, 0xB0, 1, 2) + ev(1, 3, 4) + EOT])
    c['running_status_after_sysex'] = midi([
        ev(0, 0xF0, 3, 1, 2, 0xF7) + ev(4, 0x05) + b'\x02\x07\x08' + EOT])  # peek byte dropped
    c['running_status_after_f7'] = midi([
        ev(0, 0xF7, 2, 0x7E, 0x7F) + ev(1, 0x11) + b'\x00' + EOT])
    c['running_status_tune_request'] = midi([ev(0, 0xF6) + ev(0, 0x10) + EOT])
    c['running_status_clock'] = midi([ev(0, 0xF8) + ev(0, 0x10) + EOT])
    c['running_status_at_start'] = midi([ev(0, 60, 100) + EOT])
    c['running_status_next_track'] = midi([ev(0, 0x90, 60, 100) + EOT, ev(0, 61, 100) + EOT])
    for s in (0xF4, 0xF5, 0xF9, 0xFD):
        c[f'undefined_status_{s:02x}'] = midi([ev(0, s) + EOT])
    c['data_byte_over_127'] = midi([ev(0, 0x90, 0x80, 100) + EOT])
    c['data_byte_over_127_velocity'] = midi([ev(0, 0x90, 60, 0xFF) + EOT])
    c['data_byte_over_127_program'] = midi([ev(0, 0xC0, 0x90) + EOT])
    # --- sysex -----------------------------------------------------------------------
    c['sysex_variants'] = midi([
        ev(0, 0xF0, 4, 0x7E, 0x7F, 0x09, 0xF7) +      # normal
        ev(1, 0xF0, 2, 0x41, 0x10) +                  # no end byte
        ev(1, 0xF0, 0) +                              # empty
        ev(1, 0xF0, 1, 0xF7) +                        # only the end byte
        ev(1, 0xF0, 4, 0xF0, 1, 2, 0xF7) +            # leading F0 inside the data
        ev(1, 0xF7, 3, 0xF0, 0x43, 0xF7) +            # F7 escape
        ev(1, 0xF7, 2, 0xF0, 0xF7) + EOT])
    c['sysex_high_byte'] = midi([ev(0, 0xF0, 3, 0x41, 0x90, 0xF7) + EOT])
    c['sysex_too_long'] = midi([vlq(0) + b'\xF0' + vlq(1000001) + bytes(10) + EOT])
    c['sysex_truncated'] = midi([vlq(0) + b'\xF0' + vlq(50) + bytes(10)])
    # --- meta messages ---------------------------------------------------------------
    c['meta_text_types'] = midi([
        meta(0x01, b'plain text', 0) + meta(0x02, b'(c) \xa9 caf\xe9', 1) +
        meta(0x03, b'Track\tname\\ \x00\x7f\x80\xff', 2) + meta(0x04, b'Piano', 3) +
        meta(0x05, b'la\r\nla', 4) + meta(0x06, b'Marker', 5) + meta(0x07, b'Cue', 6) +
        meta(0x09, b'Device', 7) + meta(0x08, b'Program', 8) + meta(0x01, b'', 9) +
        meta(0x01, b' lead and trail ', 0) + ev(0, 0x90, 60, 1) + EOT])
    c['meta_sequence_number'] = midi([
        meta(0x00, []) + meta(0x00, [1, 2], 5) + meta(0x00, [0xFF, 0xFF, 9], 5) + EOT])
    c['meta_sequence_number_len1'] = midi([meta(0x00, [1]) + EOT])
    c['meta_channel_prefix'] = midi([meta(0x20, [0]) + meta(0x20, [255, 3], 1) + EOT])
    c['meta_channel_prefix_empty'] = midi([meta(0x20, []) + EOT])
    c['meta_midi_port'] = midi([meta(0x21, []) + meta(0x21, [200], 2) + meta(0x21, [1, 2], 2) + EOT])
    c['meta_end_of_track_with_data'] = midi([ev(0, 0x90, 60, 1) + meta(0x2F, [1, 2, 3], 7)])
    c['meta_set_tempo'] = midi([meta(0x51, [0, 0, 0]) + meta(0x51, [0xFF, 0xFF, 0xFF, 1], 3) + EOT])
    c['meta_set_tempo_short'] = midi([meta(0x51, [7, 0xA1]) + EOT])
    c['meta_smpte'] = midi([
        meta(0x54, [0x00 | 1, 2, 3, 4, 5]) + meta(0x54, [0x20 | 31, 59, 59, 255, 99], 1) +
        meta(0x54, [0x40 | 0, 0, 0, 0, 0], 1) + meta(0x54, [0x60 | 23, 0, 0, 0, 0, 7], 1) + EOT])
    for code in (4, 5, 6, 7):
        c[f'meta_smpte_rate_{code}'] = midi([meta(0x54, [code << 5, 0, 0, 0, 0]) + EOT])
    c['meta_smpte_minutes_60'] = midi([meta(0x54, [0, 60, 0, 0, 0]) + EOT])
    c['meta_smpte_seconds_60'] = midi([meta(0x54, [0, 0, 60, 0, 0]) + EOT])
    c['meta_smpte_subframes_100'] = midi([meta(0x54, [0, 0, 0, 0, 100]) + EOT])
    c['meta_smpte_short'] = midi([meta(0x54, [0, 0, 0, 0]) + EOT])
    good = b''.join(meta(0x58, [4, n, 24, 8], 1) for n in range(256))
    c['meta_time_signature_all'] = midi([good + EOT])  # bad exponents make this an error
    for n in range(256):
        c[f'meta_time_signature_den_{n:03d}'] = midi([meta(0x58, [n & 0xFF, n, 255 - n, 0]) + EOT])
    c['meta_time_signature_short'] = midi([meta(0x58, [4, 2, 24]) + EOT])
    c['meta_time_signature_long'] = midi([meta(0x58, [4, 2, 24, 8, 9]) + EOT])
    keys = b''.join(meta(0x59, [(sf + 256) % 256, mode], 1) for sf in range(-7, 8) for mode in (0, 1))
    c['meta_key_signature_all'] = midi([keys + EOT])
    for sf, mode in ((8, 0), (-8, 0), (0, 2), (127, 1), (-128, 0), (7, 255)):
        c[f'meta_key_signature_bad_{sf & 0xFF}_{mode}'] = midi([meta(0x59, [sf & 0xFF, mode]) + EOT])
    c['meta_key_signature_short'] = midi([meta(0x59, [1]) + EOT])
    c['meta_sequencer_specific'] = midi([
        meta(0x7F, []) + meta(0x7F, [5], 1) + meta(0x7F, [0, 0x41, 0xFF], 1) + EOT])
    c['meta_unknown'] = midi([
        ev(0, 0x90, 60, 1) + meta(0x08, b'prog', 50) + meta(0x0A, [1], 7) + meta(0x4B, [], 9) +
        meta(0x60, [1, 2, 3], 3) + meta(0x7E, [0xFF], 1) + meta(0x80, [], 2) + meta(0xFF, [9], 4) +
        ev(10, 0x80, 60, 0) + EOT,
        meta(0x30, [1], 100) + ev(0, 0x90, 61, 1) + meta(0x31, [], 1000) + EOT])
    c['meta_too_long'] = midi([vlq(0) + b'\xFF\x01' + vlq(1000001) + bytes(5) + EOT])
    c['meta_at_limit'] = midi([vlq(0) + b'\xFF\x7F' + vlq(3000) + bytes(range(256)) * 11 + bytes(184) + EOT])
    c['meta_truncated'] = midi([vlq(0) + b'\xFF\x01' + vlq(40) + b'abc'])
    # --- end of track handling ---------------------------------------------------------
    c['eot_mid_track'] = midi([
        ev(0, 0x90, 60, 1) + meta(0x2F, [], 30) + ev(10, 0x80, 60, 0) + meta(0x2F, [], 5) +
        meta(0x2F, [], 6) + ev(1, 0x90, 62, 5),
        ev(5, 0x90, 70, 1) + meta(0x2F, [], 100)])
    c['eot_then_unknown'] = midi([
        ev(0, 0x90, 60, 1) + meta(0x2F, [], 30) + meta(0x33, [1], 40) + ev(0, 0x80, 60, 0)])
    c['no_eot'] = midi([ev(0, 0x90, 60, 1) + ev(10, 0x80, 60, 0), ev(3, 0xC0, 5)])
    c['empty_tracks'] = midi([b'', b'', ev(0, 0x90, 1, 1)])
    c['ties_across_tracks'] = midi([
        meta(0x51, [7, 0xA1, 0x20]) + ev(0, 0x90, 1, 1) + ev(10, 0x90, 2, 1) + EOT,
        ev(0, 0x91, 3, 1) + ev(10, 0x91, 4, 1) + ev(0, 0x91, 5, 1) + EOT,
        ev(10, 0x92, 6, 1) + ev(0, 0x92, 7, 1) + meta(0x2F, [], 0),
        meta(0x2F, [], 0) + ev(5, 0x93, 8, 1)])
    # --- variable-length numbers -------------------------------------------------------
    c['vlq_long_zero_padded'] = midi([b'\x80\x80\x80\x80\x80\x80\x05' + bytes([0x90, 60, 1]) + EOT])
    c['vlq_huge_delta'] = midi([vlq(2 ** 70 + 5) + bytes([0x90, 60, 1]) + ev(3, 0x80, 60, 0) + EOT,
                                ev(7, 0x90, 1, 1) + vlq(2 ** 64) + bytes([0x90, 2, 2]) + EOT])
    c['vlq_u64_overflow_sum'] = midi([vlq(2 ** 63) + bytes([0x90, 60, 1]) + vlq(2 ** 63) +
                                      bytes([0x90, 61, 1]) + vlq(1) + bytes([0x90, 62, 1]) + EOT])
    c['vlq_giant'] = midi([vlq(3 ** 200) + bytes([0x90, 60, 1]) + meta(0x2F, [], 2 ** 140)])
    # Python's str() refuses ints of more than 4300 digits (int_max_str_digits).
    c['digits_4300'] = midi([vlq(10 ** 4299) + bytes([0x90, 60, 1]) + EOT])
    c['digits_4301'] = midi([vlq(10 ** 4300) + bytes([0x90, 60, 1]) + EOT])
    c['digits_4301_dropped_text'] = midi([meta(0x01, b'x', 10 ** 4300) + ev(1, 0x90, 60, 1) + EOT])
    c['digits_4301_end_of_track'] = midi([ev(0, 0x90, 60, 1) + meta(0x2F, b'', 10 ** 4300)])
    c['digits_huge_abs_small_deltas'] = midi([meta(0x01, b'x', 2 ** 30000) + ev(1, 0x90, 60, 1) + EOT,
                                              ev(5, 0x90, 61, 1) + EOT])
    c['vlq_unterminated'] = header(0, 1) + chunk(b'MTrk', b'\x81\x82', size=2)
    c['big_meta_length_vlq'] = midi([b'\x00\xFF\x01\x80\x80\x80\x80\x03abc' + EOT])
    # --- header quirks -----------------------------------------------------------------
    trk = ev(0, 0x90, 60, 1) + EOT
    c['header_long'] = header(1, 1, 96, size=10, extra=b'\x01\x02\x03\x04') + chunk(b'MTrk', trk)
    c['header_short'] = header(1, 1, 96, size=4) + chunk(b'MTrk', trk)
    c['header_huge_size_no_tracks'] = header(1, 0, 96, size=0xFFFFFFFF) + chunk(b'MTrk', trk)
    c['header_huge_size_one_track'] = header(1, 1, 96, size=0xFFFFFFFF) + chunk(b'MTrk', trk)
    c['header_negative_tracks'] = header(1, 0x8000, 96) + chunk(b'MTrk', trk)
    c['header_zero_tracks'] = header(1, 0, 96)
    c['type2'] = header(2, 2, 96) + chunk(b'MTrk', trk) + chunk(b'MTrk', trk)
    c['type2_empty'] = header(2, 0, 96)
    c['type3'] = header(3, 1, 96) + chunk(b'MTrk', trk)
    c['type_negative'] = header(0xFFFF, 1, 96) + chunk(b'MTrk', trk)
    c['type0_two_tracks'] = header(0, 2, 96) + chunk(b'MTrk', trk) + chunk(b'MTrk', ev(1, 0x91, 2, 3))
    c['division_smpte'] = header(1, 1, 0xE728) + chunk(b'MTrk', trk)
    c['division_zero'] = header(1, 1, 0) + chunk(b'MTrk', trk)
    c['riff_rmid'] = b'RIFF' + struct.pack('<L', 30) + b'RMIDdata' + header(0, 1, 96) + chunk(b'MTrk', trk)
    c['empty_file'] = b''
    c['only_mthd'] = b'MThd'
    c['header_truncated'] = header(1, 1, 96)[:11]
    c['not_midi_text'] = b'This is not a MIDI file at all.\n'
    # --- chunk quirks ------------------------------------------------------------------
    c['foreign_chunk_first'] = header(1, 1, 96) + chunk(b'XFIH', b'1234') + chunk(b'MTrk', trk)
    c['foreign_chunk_after'] = header(1, 1, 96) + chunk(b'MTrk', trk) + chunk(b'XFKM', b'12')
    c['trailing_garbage'] = header(1, 1, 96) + chunk(b'MTrk', trk) + b'\x00\x01garbage\xff'
    c['missing_track'] = header(1, 2, 96) + chunk(b'MTrk', trk)
    c['track_size_too_big'] = header(1, 1, 96) + chunk(b'MTrk', trk, size=len(trk) + 10)
    c['track_size_too_small'] = header(1, 1, 96) + chunk(b'MTrk', trk, size=len(trk) - 2)
    c['track_size_too_small_more'] = (header(1, 2, 96) + chunk(b'MTrk', trk, size=len(trk) - 1) +
                                      chunk(b'MTrk', trk))
    c['track_size_short_but_aligned'] = header(1, 1, 96) + chunk(b'MTrk', trk, size=4) + EOT
    c['track_size_zero_then_events'] = header(1, 1, 96) + chunk(b'MTrk', trk, size=0)
    c['track_header_truncated'] = header(1, 1, 96) + b'MTrk\x00\x00'
    return c


def write_cases(out):
    os.makedirs(out, exist_ok=True)
    for name, data in cases().items():
        with open(os.path.join(out, name + '.mid'), 'wb') as f:
            f.write(data)
    print(f'synthetic: {len(cases())} files', file=sys.stderr)


def mutate(data, rng):
    data = bytearray(data)
    kind = rng.randrange(6)
    if kind == 0 and data:                       # flip random bytes
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1 and len(data) > 1:            # truncate
        del data[rng.randrange(1, len(data)):]
    elif kind == 2:                              # insert bytes
        pos = rng.randrange(len(data) + 1)
        data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 3)))
    elif kind == 3 and len(data) > 2:            # delete bytes
        pos = rng.randrange(len(data))
        del data[pos:pos + rng.randint(1, 3)]
    elif kind == 4 and len(data) > 22:           # corrupt a chunk length or header field
        pos = rng.choice([8, 10, 12, 18, 19, 20, 21])
        data[pos] = rng.randrange(256)
    else:                                        # flip a bit in a status/data byte region
        if data:
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    return bytes(data)


def write_mutants(out, seed_dirs, per_file=6, max_seed_size=8192):
    rng = random.Random(20250511)
    seeds = []
    for d in seed_dirs:
        found = []
        for root, _, files in os.walk(d):
            for fn in files:
                if fn.endswith('.mid'):
                    p = os.path.join(root, fn)
                    if os.path.getsize(p) <= max_seed_size:
                        found.append(p)
        found.sort()
        # Keep the corpus a few thousand files: sample large seed sets (Essen).
        if len(found) > 300:
            found = sorted(rng.sample(found, 300))
        seeds.extend(found)
    os.makedirs(out, exist_ok=True)
    n = 0
    for i, p in enumerate(seeds):
        with open(p, 'rb') as f:
            data = f.read()
        for k in range(per_file):
            m = mutate(data, rng)
            if rng.random() < 0.3:
                m = mutate(m, rng)
            with open(os.path.join(out, f'm{i:04d}_{k}.mid'), 'wb') as f:
                f.write(m)
            n += 1
    print(f'mutated: {n} files from {len(seeds)} seeds', file=sys.stderr)


def random_event(rng, state):
    """One random track event (bytes), mostly valid, sometimes odd; updates running status."""
    r = rng.random()
    if r < 0.02:
        d = rng.choice([2 ** 20, 2 ** 40, 2 ** 64 - 1, 2 ** 64, 2 ** 70])
    elif r < 0.5:
        d = 0
    else:
        d = rng.choice([1, 2, 5, 10, 60, 120, 240, 480, 1000, 20000])
    out = vlq(d)
    k = rng.random()
    bad = rng.random() < 0.01
    if k < 0.45:                                   # channel voice messages
        status = rng.choice([0x80, 0x90, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0]) | rng.randrange(16)
        n = 1 if 0xC0 <= status < 0xE0 else 2
        data = bytes(rng.randrange(128) for _ in range(n))
        if bad:
            data = bytes([data[0] | 0x80]) + data[1:]
        if state.get('last') == status and rng.random() < 0.7:
            out += data                            # running status
        else:
            out += bytes([status]) + data
        state['last'] = status
    elif k < 0.52:                                 # sysex / escape
        status = rng.choice([0xF0, 0xF7])
        body = [rng.randrange(128) for _ in range(rng.randrange(6))]
        if rng.random() < 0.5:
            body = [0xF0] + body
        if rng.random() < 0.6:
            body = body + [0xF7]
        if bad:
            body.append(0x80)
        out += bytes([status]) + vlq(len(body)) + bytes(body)
        state['last'] = status
        if rng.random() < 0.1:                     # running status after sysex
            out += vlq(0) + bytes([rng.randrange(128)]) + vlq(1) + bytes([rng.randrange(128)])
    elif k < 0.57:                                 # system common / realtime
        status = rng.choice([0xF1, 0xF2, 0xF3, 0xF6, 0xF8, 0xFA, 0xFB, 0xFC, 0xFE])
        n = {0xF1: 1, 0xF2: 2, 0xF3: 1}.get(status, 0)
        out += bytes([status] + [rng.randrange(128) for _ in range(n)])
        state['last'] = status
    else:                                          # meta messages
        t = rng.choice([0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x20, 0x21,
                        0x2F, 0x51, 0x54, 0x58, 0x59, 0x7F, 0x0A, 0x4B, 0x60, 0x99])
        good = {
            0x00: lambda: [rng.randrange(256), rng.randrange(256)],
            0x20: lambda: [rng.randrange(16)],
            0x21: lambda: [rng.randrange(256)],
            0x2F: lambda: [],
            0x51: lambda: [rng.randrange(256) for _ in range(3)],
            0x54: lambda: [rng.randrange(4) << 5 | rng.randrange(24), rng.randrange(60),
                           rng.randrange(60), rng.randrange(30), rng.randrange(100)],
            0x58: lambda: [rng.randrange(1, 13), rng.choice([1, 2, 3, 4, 5]), 24, 8],
            0x59: lambda: [(rng.randrange(-7, 8)) & 0xFF, rng.randrange(2)],
        }
        if t in good and not bad:
            data = good[t]()
        else:
            data = [rng.randrange(256) for _ in range(rng.randrange(8))]
        out += bytes([0xFF, t]) + vlq(len(data)) + bytes(data)
    return out


def random_file(rng):
    fmt = rng.choice([0, 1, 1, 1, 1, 2]) if rng.random() < 0.97 else rng.randrange(65536)
    ntracks = rng.choice([0, 1, 1, 2, 3, 4, 6])
    division = rng.choice([24, 96, 120, 384, 480, 960, 0xE728, 0x7FFF])
    tracks = []
    for _ in range(ntracks):
        state = {}
        body = b''.join(random_event(rng, state) for _ in range(rng.randrange(60)))
        if rng.random() < 0.9:
            body += vlq(rng.choice([0, 0, 1, 100])) + b'\xFF\x2F\x00'
        tracks.append(body)
    data = header(fmt, ntracks, division) + b''.join(chunk(b'MTrk', t) for t in tracks)
    if rng.random() < 0.05:
        data += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20)))
    return data


def write_random(out, count=3000):
    rng = random.Random(9016)
    os.makedirs(out, exist_ok=True)
    for i in range(count):
        with open(os.path.join(out, f'r{i:05d}.mid'), 'wb') as f:
            f.write(random_file(rng))
    print(f'random: {count} files', file=sys.stderr)


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--random':
        write_random(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == '--mutate':
        write_mutants(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 2:
        write_cases(sys.argv[1])
    else:
        sys.exit(__doc__)
