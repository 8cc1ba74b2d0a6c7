#!/usr/bin/env bash
# (Re)build the committed MIDI -> MTF goldens in fixtures/mtf/ from the corpora.
#
#   scripts/conformance/make_mtf_fixtures.sh
#
# Needs the corpora (scripts/conformance/build_midi_corpora.sh) and mido 1.3.0
# (PYTHON, default /work/venv-oracle/bin/python). Copies the selected files to
# fixtures/mtf/<name>.mid (accepted by the reference) and fixtures/mtf/errors/<name>.mid
# (rejected), then writes the oracle's <name>.mtf / errors/<name>.error, and for the files
# whose text-like meta messages matter, all_meta/<name>.mtf (m3_compatible = False).
# Licences of the sources: fixtures/mtf/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
C="$REPO/testdata/corpora/midi"
F="$REPO/fixtures/mtf"
PYTHON="${PYTHON:-/work/venv-oracle/bin/python}"

rm -rf "$F"/*.mid "$F"/*.mtf "$F/errors" "$F/all_meta"
mkdir -p "$F/errors" "$F/all_meta"

# name=source (relative to the corpora root)
ACCEPTED=(
    m21_test01=music21/midi/testPrimitive/test01.mid
    m21_test02=music21/midi/testPrimitive/test02.mid
    m21_test05=music21/midi/testPrimitive/test05.mid
    m21_test06=music21/midi/testPrimitive/test06.mid
    m21_test07=music21/midi/testPrimitive/test07.mid
    m21_test08=music21/midi/testPrimitive/test08.mid
    m21_test10=music21/midi/testPrimitive/test10.mid
    m21_test11=music21/midi/testPrimitive/test11.mid
    m21_test13=music21/midi/testPrimitive/test13.mid
    m21_test14=music21/midi/testPrimitive/test14.mid
    m21_test15=music21/midi/testPrimitive/test15.mid
    m21_test16=music21/midi/testPrimitive/test16.mid
    m21_test17=music21/midi/testPrimitive/test17.mid
    m21_k525short=music21/omr/k525short.mid
    deb_solfege_fanfare=debian/solfege/fanfare.midi
    deb_pianobooster_start_with_middle_c=debian/pianobooster/01-StartWithMiddleC.mid
    deb_pianobooster_lavenders_blue=debian/pianobooster/02-LavendersBlue.mid
    deb_timidity_test_sample=debian/timidity/test_sample.mid
    deb_openmsx_train_filled_with_cash=debian/openttd-openmsx/train_filled_with_cash.mid
    deb_openmsx_modern_motion=debian/openttd-openmsx/modern_motion.mid
    essen_han1_0001=essen/han1/han1_0001.mid
    essen_altdeu10_0001=essen/altdeu10/altdeu10_0001.mid
    essen_lux_0007=essen/lux/lux_0007.mid
    random_r02610=random/r02610.mid
    random_r02302=random/r02302.mid
    random_r00020=random/r00020.mid
)
for s in basic_format0 all_channel_messages system_common running_status \
         running_status_after_sysex running_status_after_f7 sysex_variants meta_text_types \
         meta_sequence_number meta_channel_prefix meta_midi_port meta_end_of_track_with_data \
         meta_set_tempo meta_smpte meta_key_signature_all meta_sequencer_specific meta_unknown \
         meta_at_limit meta_time_signature_den_064 meta_time_signature_den_255 eot_mid_track \
         eot_then_unknown no_eot empty_tracks ties_across_tracks vlq_long_zero_padded \
         vlq_huge_delta vlq_u64_overflow_sum vlq_giant big_meta_length_vlq header_long \
         header_negative_tracks header_huge_size_no_tracks type3 type_negative type0_two_tracks \
         division_smpte foreign_chunk_after trailing_garbage track_size_short_but_aligned \
         digits_4300 digits_4301_dropped_text digits_huge_abs_small_deltas; do
    ACCEPTED+=("syn_$s=synthetic/$s.mid")
done

REJECTED=()
for s in data_byte_over_127 running_status_at_start running_status_next_track \
         running_status_clock undefined_status_f4 sysex_high_byte sysex_too_long meta_too_long \
         meta_truncated meta_sequence_number_len1 meta_channel_prefix_empty meta_set_tempo_short \
         meta_smpte_rate_4 meta_smpte_minutes_60 meta_smpte_subframes_100 \
         meta_time_signature_den_029 meta_time_signature_short meta_key_signature_bad_8_0 \
         meta_key_signature_short type2 type2_empty header_short header_huge_size_one_track \
         missing_track foreign_chunk_first track_size_too_big track_size_too_small riff_rmid \
         empty_file not_midi_text vlq_unterminated track_header_truncated \
         digits_4301 digits_4301_end_of_track; do
    REJECTED+=("syn_$s=synthetic/$s.mid")
done

for pair in "${ACCEPTED[@]}"; do cp "$C/${pair#*=}" "$F/${pair%%=*}.mid"; done
for pair in "${REJECTED[@]}"; do cp "$C/${pair#*=}" "$F/errors/${pair%%=*}.mid"; done

"$PYTHON" "$HERE/mtf_oracle.py" "$F" "$F"
# Keep-all-meta goldens for the small files whose text-like meta messages change the text.
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
"$PYTHON" "$HERE/mtf_oracle.py" --all-meta "$F" "$tmp" >/dev/null
for m in "$tmp"/*.mtf; do
    b="$(basename "$m")"
    if ! cmp -s "$m" "$F/$b" && [[ $(stat -c %s "$m") -le 16384 ]]; then cp "$m" "$F/all_meta/$b"; fi
done

# Every accepted file must convert and every rejected one must fail.
bad=0
for pair in "${ACCEPTED[@]}"; do [[ -f "$F/${pair%%=*}.mtf" ]] || { echo "reference rejects ${pair%%=*}" >&2; bad=1; }; done
for pair in "${REJECTED[@]}"; do [[ -f "$F/errors/${pair%%=*}.error" ]] || { echo "reference accepts ${pair%%=*}" >&2; bad=1; }; done
echo "fixtures: ${#ACCEPTED[@]} accepted, ${#REJECTED[@]} rejected, $(ls "$F/all_meta" | wc -l) all-meta; $(du -sb "$F" | cut -f1) bytes"
exit $bad
