//! Training data pipeline (`clamp3_train::data`): JSONL records, the reference's text and
//! music sampling rules, `remove_instrument_info` against the reference function, conversion
//! of every symbolic file kind, crops, batches, splits and determinism.
//!
//! The text tests need the XLM-R tokenizer: run `scripts/fetch-test-data.sh`.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use clamp3_formats::patch::Patchilizer;
use clamp3_input::TextTokenizer;
use clamp3_model::Modality;
use clamp3_train::data::*;
use serde_json::json;
use sha2::{Digest, Sha256};

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn tokenizer() -> TextTokenizer {
    let p = repo("testdata/xlm-roberta/tokenizer.json");
    assert!(
        p.is_file(),
        "missing {}: run scripts/fetch-test-data.sh",
        p.display()
    );
    TextTokenizer::from_file(&p).unwrap()
}

fn record(v: serde_json::Value) -> Record {
    serde_json::from_value(v).unwrap()
}

fn read_fixture(rel: &str) -> String {
    clamp3_formats::text::read_text(&std::fs::read(repo(rel)).unwrap()).unwrap()
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Parts of a sampled text.
fn parts(text: &str) -> Vec<&str> {
    text.split("</s>").collect()
}

// ---------------------------------------------------------------------------------------
// Records and JSONL

fn m4rag_example() -> serde_json::Value {
    json!({
        "filepaths": ["audio/--/---aL9TdeI4.npy"],
        "id": "---aL9TdeI4",
        "title": "Sample Song",
        "artists": ["Artist One", "Artist Two"],
        "region": "United Kingdom",
        "language": "en",
        "genres": ["Rock"],
        "tags": ["guitar", "live"],
        "background": "Recorded in 1999.",
        "analysis": "A driving rock song.\nThe chorus repeats.",
        "description": "Loud guitars.",
        "scene": "A stadium at night.",
        "translations": {
            "language": "fr",
            "background": "Enregistré en 1999.",
            "analysis": "Une chanson rock.",
            "description": "Guitares fortes.",
            "scene": "Un stade la nuit."
        },
        "mood": "energetic",
        "year": 1999
    })
}

#[test]
fn record_parses_the_schema_and_keeps_unknown_fields() {
    let r = record(m4rag_example());
    assert_eq!(r.id.as_deref(), Some("---aL9TdeI4"));
    assert_eq!(r.filepaths, ["audio/--/---aL9TdeI4.npy"]);
    assert_eq!(r.title, Some(Field::Text("Sample Song".into())));
    assert_eq!(
        r.artists,
        Some(Field::List(vec!["Artist One".into(), "Artist Two".into()]))
    );
    assert_eq!(r.language, Some(Field::Text("en".into())));
    let t = r.translations.as_ref().unwrap();
    assert_eq!(t.get("language"), Some(&Field::Text("fr".into())));
    assert_eq!(t.len(), 5);
    assert_eq!(r.extra.get("mood"), Some(&json!("energetic")));
    assert_eq!(r.extra.get("year"), Some(&json!(1999)));
    // Round trip through serde.
    let back: Record = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back, r);
}

#[test]
fn ill_typed_fields_are_kept_aside_not_fatal() {
    let r = record(json!({
        "id": 17,
        "filepaths": "a.abc",
        "title": 5,
        "tags": ["ok", 3],
        "genres": ["Folk", null],
        "analysis": null,
        "translations": "none"
    }));
    assert_eq!(r.id, None);
    assert_eq!(r.extra.get("id"), Some(&json!(17)));
    assert!(r.filepaths.is_empty());
    assert_eq!(r.extra.get("filepaths"), Some(&json!("a.abc")));
    assert_eq!(r.title, None);
    assert_eq!(r.extra.get("title"), Some(&json!(5)));
    assert_eq!(r.tags, None);
    assert_eq!(r.genres, Some(Field::List(vec!["Folk".into()])));
    assert_eq!(r.analysis, None);
    assert_eq!(r.translations, None);
    // Only the well-typed text is sampled.
    assert_eq!(r.text_candidates(), ["Folk"]);
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn read_jsonl_numbers_lines_and_skips_blank_ones() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "train.jsonl",
        "\u{feff}{\"id\": \"a\", \"title\": \"A\"}\n\n  \r\n{\"id\": \"b\", \"title\": \"B\"}\r\n{\"id\": \"c\"}"
            .as_bytes(),
    );
    let recs = read_jsonl(&p).unwrap();
    let got: Vec<(usize, Option<&str>)> = recs.iter().map(|r| (r.line, r.id.as_deref())).collect();
    assert_eq!(got, [(1, Some("a")), (4, Some("b")), (5, Some("c"))]);
}

#[test]
fn read_jsonl_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "bad.jsonl",
        b"{\"id\": \"a\"}\n{\"id\": \"b\"}\n{\"id\": \n",
    );
    match read_jsonl(&p) {
        Err(DataError::Json { path, line, .. }) => {
            assert_eq!(path, p);
            assert_eq!(line, 3);
        }
        other => panic!("expected a JSON error, got {other:?}"),
    }
    let msg = read_jsonl(&p).unwrap_err().to_string();
    assert!(msg.contains("bad.jsonl:3:"), "{msg}");

    let p = write(dir.path(), "array.jsonl", b"{}\n[1, 2]\n");
    match read_jsonl(&p) {
        Err(DataError::NotObject { line, found, .. }) => {
            assert_eq!(line, 2);
            assert_eq!(found, "an array");
        }
        other => panic!("expected NotObject, got {other:?}"),
    }

    let p = write(
        dir.path(),
        "latin1.jsonl",
        b"{}\n{}\n{\"title\": \"caf\xe9\"}\n",
    );
    match read_jsonl(&p) {
        Err(DataError::NotUtf8 { line, .. }) => assert_eq!(line, 3),
        other => panic!("expected NotUtf8, got {other:?}"),
    }

    // The earliest bad line is reported even when a later chunk line is bad too.
    let mut many = String::new();
    for i in 0..40_000 {
        many.push_str(if i == 20_000 || i == 30_000 {
            "{oops\n"
        } else {
            "{}\n"
        });
    }
    let p = write(dir.path(), "many.jsonl", many.as_bytes());
    match read_jsonl(&p) {
        Err(DataError::Json { line, .. }) => assert_eq!(line, 20_001),
        other => panic!("expected a JSON error, got {other:?}"),
    }

    match read_jsonl(&dir.path().join("missing.jsonl")) {
        Err(DataError::Io { path, .. }) => assert!(path.ends_with("missing.jsonl")),
        other => panic!("expected Io, got {other:?}"),
    }
}

#[test]
fn screen_reports_records_without_text_or_music() {
    let recs = vec![
        record(json!({"id": "ok", "title": "T", "filepaths": ["a.abc", "a.npy"]})),
        record(json!({"id": "blank", "title": "\n\n", "tags": [""], "filepaths": ["b.abc"]})),
        record(json!({"id": "audio-only", "title": "T", "filepaths": ["c.npy"]})),
        record(json!({"id": "wav", "title": "T", "filepaths": ["d.wav", "d.txt"]})),
        record(
            json!({"id": "tr-only", "translations": {"language": "de", "analysis": "x"}, "filepaths": ["e.mtf"]}),
        ),
    ];
    let s = screen(recs.clone(), Modality::Symbolic);
    let ok: Vec<_> = s.records.iter().map(|r| r.id.clone().unwrap()).collect();
    assert_eq!(ok, ["ok"]);
    let skipped: Vec<_> = s
        .skipped
        .iter()
        .map(|k| (k.id.clone().unwrap(), k.reason))
        .collect();
    assert_eq!(
        skipped,
        [
            ("blank".to_string(), SkipReason::NoText),
            ("audio-only".to_string(), SkipReason::NoMusicFile),
            ("wav".to_string(), SkipReason::NoMusicFile),
            ("tr-only".to_string(), SkipReason::NoText),
        ]
    );
    let s = screen(recs, Modality::Audio);
    let ok: Vec<_> = s.records.iter().map(|r| r.id.clone().unwrap()).collect();
    assert_eq!(ok, ["ok", "audio-only"]);
}

// ---------------------------------------------------------------------------------------
// Text sampling

#[test]
fn translation_branch_is_taken_about_half_the_time() {
    let r = record(json!({
        "title": "EN title",
        "analysis": "EN analysis",
        "translations": {"language": "fr", "analysis": "FR analyse", "scene": "FR scène"}
    }));
    let mut rng = Rng::new(1);
    let n = 20_000;
    let mut fr = 0;
    for _ in 0..n {
        let t = sample_text(&r, &mut rng).unwrap();
        let ps = parts(&t);
        let french = ps.iter().all(|p| p.starts_with("FR"));
        let english = ps.iter().all(|p| p.starts_with("EN"));
        assert!(french ^ english, "branches mixed: {t:?}");
        // The translations' `language` value is never text.
        assert!(!ps.contains(&"fr"), "{t:?}");
        fr += usize::from(french);
    }
    let share = fr as f64 / n as f64;
    // Binomial sd = 0.0035; 0.5 +- 0.02 is > 5 sd.
    assert!((share - 0.5).abs() < 0.02, "translation share {share}");
}

#[test]
fn excluded_fields_are_never_sampled_and_unknown_text_fields_are() {
    let r = record(json!({
        "id": "IDX",
        "filepaths": ["FP.abc"],
        "language": "LANGX",
        "title": "T",
        "mood": "MOOD",
        "year": 1999,
        "translations": {"language": "de"}
    }));
    let mut rng = Rng::new(2);
    let mut seen = BTreeSet::new();
    for _ in 0..2_000 {
        let t = sample_text(&r, &mut rng).unwrap();
        for p in parts(&t) {
            seen.insert(p.to_string());
        }
    }
    // An empty translation branch falls back to the main fields.
    let expected: BTreeSet<String> = ["T", "MOOD"].iter().map(|s| s.to_string()).collect();
    assert_eq!(seen, expected);
}

#[test]
fn candidates_are_deduplicated_but_lines_are_not() {
    let r = record(json!({
        "title": "Same",
        "tags": ["Same", "Other"],
        "genres": ["Same"],
        "analysis": "Line\nLine"
    }));
    let mut rng = Rng::new(3);
    let mut max_line = 0;
    for _ in 0..5_000 {
        let t = sample_text(&r, &mut rng).unwrap();
        let ps = parts(&t);
        assert!(ps.iter().filter(|p| **p == "Same").count() <= 1, "{t:?}");
        max_line = max_line.max(ps.iter().filter(|p| **p == "Line").count());
    }
    // The two equal lines of one field are separate lines (the reference de-duplicates
    // whole field values, then splits into lines).
    assert_eq!(max_line, 2);
}

#[test]
fn line_dropout_keeps_half_and_falls_back_to_all_lines_with_empty_ones() {
    // Lines: "a", "", "b". Each non-empty line survives with p = 0.5; when none does (p =
    // 1/4), all three lines are kept, the empty one included, and shuffled.
    let r = record(json!({"analysis": "a\n\nb"}));
    let mut rng = Rng::new(4);
    let n = 20_000;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..n {
        *counts
            .entry(sample_text(&r, &mut rng).unwrap())
            .or_default() += 1;
    }
    let share = |keys: &[&str]| {
        keys.iter()
            .map(|k| counts.get(*k).copied().unwrap_or(0))
            .sum::<usize>() as f64
            / n as f64
    };
    let fallback = [
        "a</s></s>b",
        "a</s>b</s>",
        "</s>a</s>b",
        "b</s></s>a",
        "b</s>a</s>",
        "</s>b</s>a",
    ];
    let all: Vec<&str> = ["a", "b", "a</s>b", "b</s>a"]
        .into_iter()
        .chain(fallback)
        .collect();
    assert_eq!(
        counts.keys().filter(|k| !all.contains(&k.as_str())).count(),
        0,
        "{counts:?}"
    );
    assert!((share(&["a"]) - 0.25).abs() < 0.02);
    assert!((share(&["b"]) - 0.25).abs() < 0.02);
    assert!((share(&["a</s>b", "b</s>a"]) - 0.25).abs() < 0.02);
    assert!((share(&fallback) - 0.25).abs() < 0.02);
    // Shuffled: both orders and all six fallback orders occur.
    for k in ["a</s>b", "b</s>a"].iter().chain(fallback.iter()) {
        assert!(counts.contains_key(*k), "{k} never drawn");
    }
    // Mean number of kept lines for ten distinct lines: 5 + 10/1024 (the keep-all case).
    let r = record(
        json!({"analysis": (0..10).map(|i| format!("l{i}")).collect::<Vec<_>>().join("\n")}),
    );
    let mut total = 0usize;
    for _ in 0..n {
        total += parts(&sample_text(&r, &mut rng).unwrap()).len();
    }
    let mean = total as f64 / n as f64;
    assert!(
        (mean - (5.0 + 10.0 / 1024.0)).abs() < 0.05,
        "mean kept lines {mean}"
    );
}

#[test]
fn records_without_text_give_none() {
    let mut rng = Rng::new(5);
    let empty = record(json!({"id": "x", "title": "", "tags": [], "filepaths": ["a.abc"]}));
    assert!(!empty.has_text());
    let newlines = record(json!({"title": "\n", "analysis": "\n\n"}));
    assert!(!newlines.has_text());
    let tr_only = record(json!({"translations": {"language": "de", "analysis": "Nur Deutsch"}}));
    let (mut some, mut none) = (0, 0);
    for _ in 0..1_000 {
        assert_eq!(sample_text(&empty, &mut rng), None);
        assert_eq!(sample_text(&newlines, &mut rng), None);
        match sample_text(&tr_only, &mut rng) {
            Some(t) => {
                assert_eq!(t, "Nur Deutsch");
                some += 1
            }
            None => none += 1,
        }
    }
    assert!(some > 400 && none > 400, "{some} {none}");
}

#[test]
fn eval_text_is_the_analysis_as_is() {
    let r = record(m4rag_example());
    assert_eq!(
        eval_text(&r).as_deref(),
        Some("A driving rock song.\nThe chorus repeats.")
    );
    assert!(r.has_eval_text());
    assert_eq!(eval_text(&record(json!({"title": "t"}))), None);
    assert_eq!(eval_text(&record(json!({"analysis": ""}))), None);
    assert_eq!(eval_text(&record(json!({"analysis": ["a", "b"]}))), None);
}

// ---------------------------------------------------------------------------------------
// Crops

#[test]
fn short_sequences_are_not_cropped_and_draw_nothing() {
    let mut rng = Rng::new(6);
    let before = rng.state();
    assert_eq!(crop_range(128, 128, &mut rng, CropMode::Random), 0..128);
    assert_eq!(
        crop_ids(vec![0, 5, 2], 128, &mut rng, CropMode::Random),
        [0, 5, 2]
    );
    assert_eq!(rng.state(), before);
}

#[test]
fn random_crops_are_head_tail_or_middle_a_third_each() {
    let (len, max) = (10, 4);
    let mut rng = Rng::new(7);
    let n = 30_000;
    let mut starts = [0usize; 7];
    for _ in 0..n {
        let r = crop_range(len, max, &mut rng, CropMode::Random);
        assert_eq!(r.len(), max);
        starts[r.start] += 1;
    }
    // Head: 1/3 at start 0. Middle: 1/3 spread over 1..=6. Tail: 1/3 at 6.
    let f = |k: usize| starts[k] as f64 / n as f64;
    assert!((f(0) - 1.0 / 3.0).abs() < 0.02, "{starts:?}");
    assert!((f(6) - (1.0 / 3.0 + 1.0 / 18.0)).abs() < 0.02, "{starts:?}");
    for (k, _) in starts.iter().enumerate().take(6).skip(1) {
        assert!((f(k) - 1.0 / 18.0).abs() < 0.01, "{starts:?}");
    }
    for _ in 0..100 {
        assert_eq!(crop_range(len, max, &mut rng, CropMode::Head), 0..4);
    }
    let ids: Vec<u32> = (0..10).collect();
    let c = crop_ids(ids.clone(), 4, &mut Rng::new(8), CropMode::Random);
    assert_eq!(c.len(), 4);
    assert!(ids.windows(4).any(|w| w == c.as_slice()));
}

// ---------------------------------------------------------------------------------------
// Text ids with the real tokenizer

/// The text ids of a training or evaluation pair of `r` (given an MTF file to pair with), as the
/// trainer samples them.
fn pair_text(r: serde_json::Value, tok: &TextTokenizer, rng: &mut Rng, train: bool) -> Vec<u32> {
    let mut r = r;
    r["filepaths"] = json!(["fixtures/model/inputs/essen_han1_tune3.mtf"]);
    let store = MusicStore::new(repo(""));
    sample_pair(
        &record(r),
        Modality::Symbolic,
        &store,
        tok,
        &SampleConfig::default(),
        rng,
        train,
    )
    .unwrap()
    .text
}

#[test]
fn eval_text_ids_are_a_head_crop_of_the_tokenized_analysis() {
    let tok = tokenizer();
    let long: String = (0..200).map(|i| format!("word{i} ")).collect();
    let full = tok.encode(&long).unwrap();
    assert!(full.len() > 128);
    let mut rng = Rng::new(9);
    let before = rng.state();
    let ids = pair_text(
        json!({"analysis": long, "title": "t"}),
        &tok,
        &mut rng,
        false,
    );
    assert_eq!(ids, full[..128]);
    assert_eq!(ids[0], 0);
    assert_eq!(rng.state(), before, "evaluation draws nothing");
    // A short analysis is kept whole, <s> ... </s>.
    assert_eq!(
        pair_text(json!({"analysis": "Hello world"}), &tok, &mut rng, false),
        [0, 35378, 8999, 2]
    );
}

#[test]
fn train_text_ids_tokenize_the_sampled_text_with_separators() {
    let tok = tokenizer();
    let r = json!({"title": "Hello", "analysis": "world"});
    let mut rng = Rng::new(10);
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        let ids = pair_text(r.clone(), &tok, &mut rng, true);
        assert_eq!(ids.first(), Some(&0));
        assert_eq!(ids.last(), Some(&2));
        seen.insert(ids);
    }
    let hello = tok.encode("Hello").unwrap();
    let world = tok.encode("world").unwrap();
    let both = tok.encode("Hello</s>world").unwrap();
    assert!(seen.contains(&hello) && seen.contains(&world) && seen.contains(&both));
    // The separator is the special token, id 2, between the two lines.
    assert_eq!(both.iter().filter(|&&i| i == 2).count(), 2);
    assert_eq!(seen.len(), 4, "{seen:?}");

    // Long texts: exactly what crop_ids does to the tokenized sample, same generator (the
    // text is drawn first, before the music).
    let lines: Vec<String> = (0..60)
        .map(|i| format!("line number {i} of the analysis"))
        .collect();
    let r = json!({"analysis": lines.join("\n")});
    let mut crops = [0usize; 3];
    for seed in 0..300 {
        let mut a = Rng::new(seed);
        let mut b = Rng::new(seed);
        let got = pair_text(r.clone(), &tok, &mut a, true);
        let full = tok
            .encode(&sample_text(&record(r.clone()), &mut b).unwrap())
            .unwrap();
        let want = crop_ids(full.clone(), 128, &mut b, CropMode::Random);
        assert_eq!(got, want);
        if full.len() > 128 {
            assert_eq!(got.len(), 128);
            match (got[0] == 0, got[127] == 2) {
                (true, false) => crops[0] += 1,
                (false, true) => crops[1] += 1,
                _ => crops[2] += 1,
            }
        }
    }
    assert!(
        crops.iter().all(|&c| c > 0),
        "head/tail/middle counts {crops:?}"
    );
}

// ---------------------------------------------------------------------------------------
// remove_instrument_info against the reference function
//
// sha256 of the reference `remove_instrument_info` (code/utils.py, run by an oracle script
// under the reference's Python 3 with the file read by `open(path, encoding="utf-8")`) on
// each fixture, and whether it changed the text.
#[rustfmt::skip]
const RII_GOLDENS: &[(&str, &str, bool)] = &[
    ("fixtures/model/inputs/bach_bwv66_6.abc", "149ac6a1d9e7049b1b809f5dc2f63d050fb46f74092ba17d4bb01c6c566d9e07", true),
    ("fixtures/model/inputs/bach_nonascii.abc", "fce0dae8ea1ea419bea8970568957cffe3c0640edfea19e69bf9196e55226509", true),
    ("fixtures/model/inputs/beethoven_op18no1_mvmt1.abc", "a88c1751b43237310a7f25412807b72138ea215f88ef4c87e749c1019b14e269", true),
    ("fixtures/model/inputs/essen_han1_tune3.abc", "fa0749dbc1c7efc48e20b88194902a61c263368336cdc512e3dea27898ed0a35", false),
    ("fixtures/model/inputs/essen_han1_tune3.mtf", "17ee73398b048b67b40c7c33f2b835f60f78412d28a7b2816de53c4f8d00f204", false),
    ("fixtures/model/inputs/openttd_boogi_marabi.mtf", "45704cf5536f138fa893c94f4e5519cf834b52ae128511aa1af99c4f5feb11c4", true),
    ("fixtures/abc/abcm2ps_deco.abc", "0f24e1f8e7d796aa6a586977c5d94015ee680264717718547e3d3f7a9fa42637", false),
    ("fixtures/abc/abcm2ps_deco.interleaved.abc", "78b0b4b22e1d8b04760bc189707f787d5778272bae92341562d2cdd5237a73fa", false),
    ("fixtures/abc/abcm2ps_sample4.abc", "71c816819b5cea11d82dc133014ee430864d09672cb2550c73c01c2065216510", false),
    ("fixtures/abc/abcm2ps_sample4.interleaved.abc", "2d7819aa08cd8d4009038683bfb46a037566204b56a6c026b5955b3ceaace037", false),
    ("fixtures/abc/abcm2ps_voices.abc", "c8fad36acf1232a46f20d9a4587d4eb78b60e9fdc86a759072437702bc39e339", true),
    ("fixtures/abc/abcm2ps_voices.interleaved.abc", "9b95698621bc1ccea071a8d1edb64b44492b785dad0839e034019f56e89462da", true),
    ("fixtures/abc/abcmidi_demo.abc", "20a553eeeee97a9652e46472aca8ed3acaacd3a3bd645efd41a72ed8f8b8bf2c", false),
    ("fixtures/abc/abcmidi_demo.interleaved.abc", "089dc1b17e21afd3aeb3d6ffabedd9c0303bb00022ac65e95fb175d3d9ff86df", false),
    ("fixtures/abc/abcmidi_example.abc", "854961f32b3f6248780d3a0a61b26641247855d94928ee56ec80da864333c205", false),
    ("fixtures/abc/abcmidi_example.interleaved.abc", "3a46e1653baff3ac07f0da6a92975ba6d8b322b04cdf34a4fcfaea6ee66c7c95", false),
    ("fixtures/abc/airds_v1_broken_rhythm.abc", "fea2c37cdfc5052dcbb82bb8969970380c7e5e5bcf32fe688c6ef2ad246910f5", false),
    ("fixtures/abc/airds_v1_broken_rhythm.interleaved.abc", "24bd34edbe659bdf25c5fe993acb6beabdc02303e3b4813d5fc5f6f71b70b342", false),
    ("fixtures/abc/airds_v1_triplets.abc", "6dfac47da4a2dcd4bf9420a6f0fcee2218709c94fb680e4a4bd20320c0f92ca5", false),
    ("fixtures/abc/airds_v1_triplets.interleaved.abc", "b82cf4ab5602c3f5b2e478067321c83266f5e265ef1b0975b91331be602dbb1e", false),
    ("fixtures/abc/bach_chorale_a.abc", "cc7c05ccc9f11ed0bb1d389aabb3dd144a660cec932e8417dc0dd481db36086d", true),
    ("fixtures/abc/bach_chorale_a.interleaved.abc", "6155827136feb44ce0cf399634816390afb3a873be7ac5210d9b797f127238c1", true),
    ("fixtures/abc/bach_chorale_volta.abc", "dae4c53bf848762be542b928b2719acf97a971df41dc27afbfe1620707af8503", true),
    ("fixtures/abc/bach_chorale_volta.interleaved.abc", "d5d4114e93923422a09df3a5642ac03cc3714548c6fe7b6110b3fda9358a9105", true),
    ("fixtures/abc/bach_chorale_warnings.abc", "ab0385781a927df46d92ea8139ee0bf8aeee853bb2ca1b5af37f3a7e291b7e84", true),
    ("fixtures/abc/bach_chorale_warnings.interleaved.abc", "df73706a80450f6f30cee3ef751d8f9c12345a878dee0362f15253882836a74d", true),
    ("fixtures/abc/essen_v1_china.abc", "201df68f5612054faa610afde510c9de800f1e264d65ea84a87fb3b74627706c", false),
    ("fixtures/abc/essen_v1_china.interleaved.abc", "fb74624f02fd5fc4970555f524fcdac183bbd784c9a336490dfdac1d5c7a8265", false),
    ("fixtures/abc/essen_v1_last_bar_unterminated.abc", "2ee3e907a7ecb25d602729a3b11a8fce30716070f47258ae5cc6c45b29fd5e79", false),
    ("fixtures/abc/essen_v1_last_bar_unterminated.interleaved.abc", "a6c33f95f366940e4b22c23eecfeb861741aff0f604c2f2c1c1fc9276b144425", false),
    ("fixtures/abc/josquin_v1.abc", "f91c522f98caedb3e9188921e05ef281452ffd5b598781252723bd09e7c974b6", false),
    ("fixtures/abc/josquin_v1.interleaved.abc", "af5ad80b86c2943bd87fb166943949ed67f959e36a1f3d9f30b4ecb3789a59ea", false),
    ("fixtures/abc/miscfolk_fife_two_voices.abc", "1022cabb62dd34ab4d84f15f7d37de89761f70cf5feb016405ed847b7fd6594e", false),
    ("fixtures/abc/miscfolk_fife_two_voices.interleaved.abc", "95d0d7b65d710d613712e0176563c10315139aa21e6f7886e044be96580e06f8", false),
    ("fixtures/abc/miscfolk_v1_two_voices.abc", "1022cabb62dd34ab4d84f15f7d37de89761f70cf5feb016405ed847b7fd6594e", false),
    ("fixtures/abc/miscfolk_v1_two_voices.interleaved.abc", "95d0d7b65d710d613712e0176563c10315139aa21e6f7886e044be96580e06f8", false),
    ("fixtures/abc/mutant_arabic_digit.abc", "ee32ff8da520bd8f68b353d502c5b46e73fda24d6337c8ae44b74812b2380634", false),
    ("fixtures/abc/mutant_arabic_digit.interleaved.abc", "c8f0d696925068e3e4a3179cb7083e19c3d7f54569a2bdd583ddc697a1a88330", false),
    ("fixtures/abc/mutant_bar_number_comment.abc", "a1967d96dfdbd60fbe877bcb48119e1b567175ba09e1233e0f2b1c2831153410", true),
    ("fixtures/abc/mutant_bar_number_comment.interleaved.abc", "e632914489f3304dddb654de390a91aa5feb0dea785e129a9e2fdd8370800e52", true),
    ("fixtures/abc/mutant_bom.abc", "af5e1b2cb49aaa2b8b59190edacb7f078e0b8c6d418302e638a0826ffab43cbd", false),
    ("fixtures/abc/mutant_bom.interleaved.abc", "ce938cef603f9e48fc6de7d6c8642b6c779f38e60c0489203caafa1da6c21a42", false),
    ("fixtures/abc/mutant_cr.abc", "932e6c08f954f0dbcd2ba332b82407b467d8ef296f6bb783659ee8da84e5cdb2", false),
    ("fixtures/abc/mutant_cr.interleaved.abc", "3f1fc34616f1048abbd213d4f999c5ad7ab152cfe8214f7e619d750995963872", false),
    ("fixtures/abc/mutant_crlf.abc", "48ff651758a88ce6407fa9655fa61faf10692ed3dfb65aeb99a3d27f01e5c58e", false),
    ("fixtures/abc/mutant_crlf.interleaved.abc", "56a32048591bb1e7d4e0518388262ce15b019424472ac482b9083cf1dfedfc38", false),
    ("fixtures/abc/mutant_escaped_quote.abc", "511d72f897c59aa0cdc811e7743bb037a36f9bac54e6af0f6d0400743604b030", false),
    ("fixtures/abc/mutant_escaped_quote.interleaved.abc", "d3fa6dd99a4c61fa9a0202a73148e6eddf1a2b60716ae7e698c1681f8742dde0", false),
    ("fixtures/abc/mutant_info_separator.abc", "1525f6526952728584197cc7749aeb173120e8116ce1d34b40b380745bc69880", false),
    ("fixtures/abc/mutant_info_separator.interleaved.abc", "fed3da5b168bd631714f9cd422025e201c13ab75ed0b5f67305ce27fbbb27e77", false),
    ("fixtures/abc/mutant_quote_with_barline.abc", "ba792223a868f0dbc04de4c417676138cb01a6f9bb23e8a91a62379b5b2dc871", false),
    ("fixtures/abc/mutant_quote_with_barline.interleaved.abc", "80f6c41a4100159436fcb171ec1a3be5dd357dd89d1cbd3d298b0acab168f027", false),
    ("fixtures/abc/mutant_repeated_voice.abc", "3f0b1989c3c02af2e6f30acb4f16854119b7254e9bd8f5e2ef8458814f798943", true),
    ("fixtures/abc/mutant_repeated_voice.interleaved.abc", "15627271927b55c801ac43a4e07fc9db64a2b58a22df4b64f239f9ca33c50913", true),
    ("fixtures/abc/mutant_tuplet_spec.abc", "7d4d960324982c4d705a2243220af2adb59526330d09e8cbec7607c9a3cb86d4", false),
    ("fixtures/abc/mutant_tuplet_spec.interleaved.abc", "e30b12658d1c471753bda1a1dabe2857679a4019b93bb0f0c4c1607776f88c2c", false),
    ("fixtures/abc/mutant_unicode_space.abc", "f5212683ad091ccce202c46f19b6cbb25cb520ea5b52a545d1c6e8bc6a1cc891", false),
    ("fixtures/abc/mutant_unicode_space.interleaved.abc", "0808ac052961ba94e5fb7afa2ff6ee90bc8c34ecce76ee81ce3d5542de3aa3c9", false),
    ("fixtures/abc/oneills_v1_repeats.abc", "30483b6571bc26595ece37f1090f243a79def0bf143804ade90f7a5b4492cd96", false),
    ("fixtures/abc/oneills_v1_repeats.interleaved.abc", "5da528240cf8a9e369e19371294fac23b5d44c1554f1de1e3f0c47590b7c8e6d", false),
    ("fixtures/abc/oneills_v1_voltas.abc", "fc975fc0d090e75fe86ef7ff859bf191a5981ad7ec2926635bd4c77655870aea", false),
    ("fixtures/abc/oneills_v1_voltas.interleaved.abc", "2dd04f0230bdb3a3c5b04cf8ddc40049178fc75b7d719cd097f0077f063e77ab", false),
    ("fixtures/abc/ryans_v1_chords.abc", "da545242b436a8fff0c9319dcd013316430eb34a6189772c1a80accc58176cb6", false),
    ("fixtures/abc/ryans_v1_chords.interleaved.abc", "6701f6cb9949b38efe44f31e2aff3e27fef403c9bd7c3dea681231aaa9f53cf0", false),
    ("fixtures/abc/ryans_v1_decorations.abc", "d064675e53bd870d2fe444fa0c2c94f759bd06be52224ae493f55da8492d18bf", false),
    ("fixtures/abc/ryans_v1_decorations.interleaved.abc", "23504f93b6ed5cfcd41ed9d93e494ca9005dfb17d83a5c5558fbcf93bcfca7ac", false),
    ("fixtures/abc/ryans_v1_unparsable_duration.abc", "de9699bbff29baecffe679e8ccbb820e93e70bdbb5b3aabbe54b5d83a6cdff4a", false),
    ("fixtures/abc/ryans_v1_unparsable_duration.interleaved.abc", "bc077a54d948cbb75e3d66d722a734cb8ad1d508f898d1b3ee22899e473058bc", false),
    ("fixtures/abc/xml2abc_annotation.abc", "927b45e0de18d3d1531862faaa6cedeb2c46dbb56e5f803a520fa97d9c1ac694", true),
    ("fixtures/abc/xml2abc_annotation.interleaved.abc", "cccbeeb25bd0e43645f4025aea17174acb2d9f344892c1c9dc8c1ee29f798428", true),
    ("fixtures/abc/xml2abc_decorations.abc", "7d5786a1c52495c744ed97f7cc0ef17ff32f27b6ca74dafcec7790023d9f8d61", true),
    ("fixtures/abc/xml2abc_decorations.interleaved.abc", "1b88cd7216bf30721fb0627b4b16cdd0127f5d21da30ab45c6eb2bbc1cb38f63", true),
    ("fixtures/abc/xml2abc_grace_notes.abc", "55a6c7950e910f22bdea5dd9564590ff543512ab8cb683bc8cf1b78787766d31", true),
    ("fixtures/abc/xml2abc_grace_notes.interleaved.abc", "c876f3e45a078d302f871080e187c95bfe9b4bcbf995180794eca5ca5194d71e", true),
    ("fixtures/abc/xml2abc_inline_key_change.abc", "784f958ed05784966c4db368377117d1bfaaa6f47b8087a7b52205f674050fb8", true),
    ("fixtures/abc/xml2abc_inline_key_change.interleaved.abc", "6fd8092aad5a5ab251a787de50a9a7e2a96815343125f665a49e86bfb2169753", true),
    ("fixtures/abc/xml2abc_leadsheet_chords.abc", "a9258ba1eef906fffe9c3718f97d0bf91c397b5642f6617b8cb0b3aa02715ac6", true),
    ("fixtures/abc/xml2abc_leadsheet_chords.interleaved.abc", "3045c0447f131b0ded70c9b7ef993ff0b68d82ea13b2da5c2af5c8bb5ae1fd70", true),
    ("fixtures/abc/xml2abc_monteverdi.abc", "15b1f860c12f9f4769631ea65d8ff75abba761c1bd112799a4bc812db896e82e", true),
    ("fixtures/abc/xml2abc_monteverdi.interleaved.abc", "9bde6f3ebffcca4cda8e5fd090328e0257ff6985183a178f5625ad61ad6fff04", true),
    ("fixtures/abc/xml2abc_mozart.abc", "ca834a2f1a56138f816cb164e92df963aff216f3411802bcfc9a12b48dc01ed0", true),
    ("fixtures/abc/xml2abc_mozart.interleaved.abc", "3c7d4b92271be578e1bcccde792e0285be077d4ab386cc8e58a4092639768d29", true),
    ("fixtures/abc/xml2abc_trecento.abc", "8fb1bdaa6b3ee5b27dc359f56064727410076a6af45cf2ea64acbd665b89df3d", true),
    ("fixtures/abc/xml2abc_trecento.interleaved.abc", "6c920211cd3c933ad11b6943d18b52a079b3cb52a9866249a1a55bd7798bab16", true),
    ("fixtures/abc/xml2abc_tuplets.abc", "2fe6eded8a8ddba15aeb3a32c4a1b15ea76cc27538fc7e9263850f28e565e45d", true),
    ("fixtures/abc/xml2abc_tuplets.interleaved.abc", "ee55fb4dee44b7a448d88cfe3773d05938d07baa961ddfacc62acd2e17094e84", true),
    ("fixtures/abc/xml2abc_unequal_duration.abc", "27df01c50966efdfc905d5446d3dfd72db33b1fb3ebf8cae612b1910626835e9", true),
    ("fixtures/abc/xml2abc_unequal_duration.interleaved.abc", "37bd1d65f3d244ee8569319b4bd0b50164ee0ec2c564060dfcd9a6e4541ad1a3", true),
    ("fixtures/mtf/deb_openmsx_modern_motion.mtf", "1d253492ac91c493699b5d9fdd44faa89c8558c2b3f4b9166fd20283e7f1827c", true),
    ("fixtures/mtf/deb_openmsx_train_filled_with_cash.mtf", "08c42dbebfb8e4998bcfb26289ff31b2db934bfe0c1bfbadabc52e4678bc8395", true),
    ("fixtures/mtf/deb_pianobooster_lavenders_blue.mtf", "b0cd600171e24e429d2e5a8119111e6bf56204c32b2662e127add9649720bb7a", true),
    ("fixtures/mtf/deb_pianobooster_start_with_middle_c.mtf", "d1b7da34d627452f69ef97d93805da86c8c868fb0f324f35b558b15b72363948", true),
    ("fixtures/mtf/deb_solfege_fanfare.mtf", "07a4d635702ca3d197df1368d608d93026041978a2daa3871cc0321a78b28430", false),
    ("fixtures/mtf/deb_timidity_test_sample.mtf", "28b23b6b9217dbff7ae884c35fd7e37693892d6a7476f3c078668a1bf1d964c6", true),
    ("fixtures/mtf/essen_altdeu10_0001.mtf", "dad6e51b0cb5bd7e005495ad5b1275ac5a0837fa97430a904275d9aa8ecba0c4", false),
    ("fixtures/mtf/essen_han1_0001.mtf", "25773977e6a71810357541d81f91ac517d67d76c767000c09cb7f4fd72d5d8ba", false),
    ("fixtures/mtf/essen_lux_0007.mtf", "8734725322d4444c66898308d6947a0bf94c40855a85e143702de5298f5731e6", false),
    ("fixtures/mtf/m21_k525short.mtf", "fb159225c8de4c54e74bc53222e55ba938cd6ec184d2f53a11c8716b81eac640", true),
    ("fixtures/mtf/m21_test01.mtf", "c9f0d853051ca84f290475702ad5e663e9f1bc024cae4f16865b27c58f370e75", false),
    ("fixtures/mtf/m21_test02.mtf", "2fc4c467307fd19cf0bdd5786b130e51a36149fdab904695480bc442c093fcbc", false),
    ("fixtures/mtf/m21_test05.mtf", "173aba260b90fe880e566464a5b952ef61c0454cdbd1305e28bc16c4ec87e10a", false),
    ("fixtures/mtf/m21_test06.mtf", "cdcc1f4508dfb13d1fd6e5fc7c671fca25eaf91f8d92d31b13ed1156b9147bd2", false),
    ("fixtures/mtf/m21_test07.mtf", "ff261821abac4569e4c59a3da5fc15bdaf9fa5c3a40b894bada95dc36579ecd5", false),
    ("fixtures/mtf/m21_test08.mtf", "613662aafcfc06732cf4daaf10f037a4c75ba0b1cf9cea6b6ec639a2189ade2b", false),
    ("fixtures/mtf/m21_test10.mtf", "97471deb5911bf6a36d4c0b99d529b990b93d08c22f7daea23dfc9b1d31f62d4", false),
    ("fixtures/mtf/m21_test11.mtf", "6039105dd79029d2457c013ad4749849512920ed824f2558ef2fdafaa2a3a790", false),
    ("fixtures/mtf/m21_test13.mtf", "c3199cc603efa08104b5c74a3618f66805b19a47232a4e44c819d762a183c242", false),
    ("fixtures/mtf/m21_test14.mtf", "ce5cb21edc95b5744c4d5a3fd2a0df302aa7bece174d16a43619c9e958868d41", false),
    ("fixtures/mtf/m21_test15.mtf", "777312edc8ecf4448e344f9756188a43ff1a0d43abf7ba818424601ddd733afb", false),
    ("fixtures/mtf/m21_test16.mtf", "8b64b9d2916885646d90969f0303ae2473433d06dfe7289f084a3650f84b5925", false),
    ("fixtures/mtf/m21_test17.mtf", "00a1cdeaa9cefa41be9ddd0a8f708f055d6a8a6d3bea752f03f1569d0f60c19c", false),
    ("fixtures/mtf/random_r00020.mtf", "48d650571b61787a5c973a3e9482eb8b65f8793632bc3ee8748c03291ae7b497", true),
    ("fixtures/mtf/random_r02302.mtf", "fdc7b428e244adb0a8f58ed7600f01f04554c1189287dcbb88f542a66928953b", true),
    ("fixtures/mtf/random_r02610.mtf", "9de4b99339d89f14ba19e027536cffb5384c1422f5857e5c2330f1c40295d88b", true),
    ("fixtures/mtf/syn_all_channel_messages.mtf", "450b8c60eafc7b39a4d52e234d37c00bf800b4200f9eb6d54f3127efa544bb07", true),
    ("fixtures/mtf/syn_basic_format0.mtf", "af3c340a48509874447a534a7e73377ee5bfa274d2cb5f6331365f731edb49eb", false),
    ("fixtures/mtf/syn_big_meta_length_vlq.mtf", "85786ec7aaa946a57bb8bcb926d3da5ce22f89c77dde1ca1482042cddc73c573", false),
    ("fixtures/mtf/syn_digits_4300.mtf", "37289c2555ebf9385e77dccf3b06ba2ec3f0e7d5355d7be3a36b26976dd5bfdd", false),
    ("fixtures/mtf/syn_digits_4301_dropped_text.mtf", "337c9e4049a7eeb9a28d0e473f40bb6b4342874144d77cf72f6fe209dde02e06", false),
    ("fixtures/mtf/syn_digits_huge_abs_small_deltas.mtf", "9adf2edef19c4c78e7ee58045846796d838d29402ba4b1008d0ea64ec93520ad", false),
    ("fixtures/mtf/syn_division_smpte.mtf", "808d77be9161f237c2ab8a9a7940d59411dea6b7c45ac688b6cd2691978590bf", false),
    ("fixtures/mtf/syn_empty_tracks.mtf", "f532e254cea3d597bb101c9e859e0ad5a45c52632ae3db4220c24f34af951b3d", false),
    ("fixtures/mtf/syn_eot_mid_track.mtf", "a3ec706e167c2ce846064460394093384cc7d1ae2197358da763ccd51c62e3f0", false),
    ("fixtures/mtf/syn_eot_then_unknown.mtf", "6a29cac071ef4f82281babb622995e62fb1c6743767b28c72601b56e1c424b15", false),
    ("fixtures/mtf/syn_foreign_chunk_after.mtf", "198edbf3f31362c4c13d651e0ef96cbc003aafa18f9591003e60d182168bb311", false),
    ("fixtures/mtf/syn_header_huge_size_no_tracks.mtf", "17f098ccabec2dfa54dda085a1dac64e0feb5b32c8364f2fec7307a33610fb5f", false),
    ("fixtures/mtf/syn_header_long.mtf", "198edbf3f31362c4c13d651e0ef96cbc003aafa18f9591003e60d182168bb311", false),
    ("fixtures/mtf/syn_header_negative_tracks.mtf", "17f098ccabec2dfa54dda085a1dac64e0feb5b32c8364f2fec7307a33610fb5f", false),
    ("fixtures/mtf/syn_meta_at_limit.mtf", "66c549578abde4f8e2fb61a9bf104bcec9f460b9ae3462b50ae963f9597bc2f8", false),
    ("fixtures/mtf/syn_meta_channel_prefix.mtf", "9241656aa2493c5eb98e83676c563d7bb79015d843d9706e373a9cc115c4f877", false),
    ("fixtures/mtf/syn_meta_end_of_track_with_data.mtf", "b370cbff43e550f3c116cd5e1c5c9307b152465db6b260db739c596595860671", false),
    ("fixtures/mtf/syn_meta_key_signature_all.mtf", "5eaf92facba346c851d372352f60eab6cadbea6ba58e08209a2080546fd5e9eb", false),
    ("fixtures/mtf/syn_meta_midi_port.mtf", "8dea6af1706e7d263375fa106b13770b5875a143814cdb5f65f80c525868d7a4", false),
    ("fixtures/mtf/syn_meta_sequence_number.mtf", "c2b5bb30058f76bd5fb2e8a81104fb69db3cda171175b098fa41bf87b2f6b62c", false),
    ("fixtures/mtf/syn_meta_sequencer_specific.mtf", "10529e8c04a2e1c457cf578d0ae7b1e46dafe122df1420ec38e882f133041799", false),
    ("fixtures/mtf/syn_meta_set_tempo.mtf", "e671f52c167da5f9cf1ae08b20fdcfc01ba9cbf072539549afd5727f4584757b", false),
    ("fixtures/mtf/syn_meta_smpte.mtf", "bf064486ddd332a5d53a8f1ca33ccbe8fe4ac251959b2ce088a021c5892b594f", false),
    ("fixtures/mtf/syn_meta_text_types.mtf", "66257f58ef7ada5a552cb080869da93b20d58b85235e12de3d30d4dc25658832", false),
    ("fixtures/mtf/syn_meta_time_signature_den_064.mtf", "0baed3b46aa942a36e553dd587e14e5a69349a07f1b61c448143e4beb1781b1a", false),
    ("fixtures/mtf/syn_meta_time_signature_den_255.mtf", "cc93c1168f699225823944287c5fcc2befbc2ca2872fec1c50d7be9aadb5cd88", false),
    ("fixtures/mtf/syn_meta_unknown.mtf", "34ae76b8a6bc0a8959652a655ba0ffab7c0503ce7e09f97c6de9ede5904a915a", false),
    ("fixtures/mtf/syn_no_eot.mtf", "f140d4a39313816bc2b2a6b80a985a2c8acd7daa4b280d1be90d019f85037ac7", true),
    ("fixtures/mtf/syn_running_status.mtf", "c4c7672b82082267463eae75de68ce09128392bc3acf48e3a292e8ca4d6209d3", false),
    ("fixtures/mtf/syn_running_status_after_f7.mtf", "741bdab3f8324208d35e52f2b57552969849b7563dc58717ffc59dc903c17c0a", false),
    ("fixtures/mtf/syn_running_status_after_sysex.mtf", "3493c3fe81f862d719b1e5eb07d3bb8d5e547c8e3ba727705ab7fa16f0baec91", false),
    ("fixtures/mtf/syn_sysex_variants.mtf", "133dead92b324049a6cb938bbd76cfe076c70c4552f848b4a0adcba3a666ac53", false),
    ("fixtures/mtf/syn_system_common.mtf", "2dd8cba273d9c44022badd315d1e07229c4c88ad30b3afcd2d3d65f7599bb252", false),
    ("fixtures/mtf/syn_ties_across_tracks.mtf", "bdbbf3218e15c54d97bef55656b05f74be964770930c7d1b4fc82f0f4556a71c", false),
    ("fixtures/mtf/syn_track_size_short_but_aligned.mtf", "198edbf3f31362c4c13d651e0ef96cbc003aafa18f9591003e60d182168bb311", false),
    ("fixtures/mtf/syn_trailing_garbage.mtf", "198edbf3f31362c4c13d651e0ef96cbc003aafa18f9591003e60d182168bb311", false),
    ("fixtures/mtf/syn_type0_two_tracks.mtf", "77096dfde06956b9167d6bd981e9ce90d1ca1f84e949aa9eaabb5485b3ff798f", false),
    ("fixtures/mtf/syn_type3.mtf", "198edbf3f31362c4c13d651e0ef96cbc003aafa18f9591003e60d182168bb311", false),
    ("fixtures/mtf/syn_type_negative.mtf", "198edbf3f31362c4c13d651e0ef96cbc003aafa18f9591003e60d182168bb311", false),
    ("fixtures/mtf/syn_vlq_giant.mtf", "31fc0e925f4308cbbc1a0d20d9485caf770aca6fb928f5e396ee6cc76a8f9cb8", false),
    ("fixtures/mtf/syn_vlq_huge_delta.mtf", "4d6d44751201fb53e0180447a3b67540eff3221558b99b9c96ff5deab71285eb", false),
    ("fixtures/mtf/syn_vlq_long_zero_padded.mtf", "0dda773cac0aa65711b02d8b56f65907b0c91d44a5f9c02e00c583d052d73380", false),
    ("fixtures/mtf/syn_vlq_u64_overflow_sum.mtf", "1ee899b115f94b0c66b58c538ffd2d5f68cf4780ddd2686bce722c16d5420493", false),
];

#[test]
fn remove_instrument_info_matches_the_reference_on_fixtures() {
    let mut changed = 0;
    for (rel, sha, was_changed) in RII_GOLDENS {
        let text = read_fixture(rel);
        let out = remove_instrument_info(&text);
        assert_eq!(sha256_hex(&out), *sha, "{rel}");
        assert_eq!(out != text, *was_changed, "{rel}");
        changed += usize::from(*was_changed);
    }
    assert_eq!(RII_GOLDENS.len(), 157);
    assert_eq!(changed, 47);
    // What changes, spelled out on two fixtures.
    let abc = remove_instrument_info(&read_fixture("fixtures/model/inputs/bach_bwv66_6.abc"));
    let v: Vec<&str> = abc.lines().filter(|l| l.starts_with("V:")).collect();
    assert_eq!(v, ["V:1 treble", "V:2 treble", "V:3 bass", "V:4 bass"]);
    let mtf = remove_instrument_info(&read_fixture(
        "fixtures/model/inputs/openttd_boogi_marabi.mtf",
    ));
    assert!(mtf
        .lines()
        .filter(|l| l.starts_with("program_change"))
        .all(|l| l.ends_with(" 0")));
}

#[test]
fn remove_instrument_info_edge_cases_match_the_reference() {
    // (input, the reference function's output)
    let cases = [
        (
            "X:1\nV:1 snm=\"S\" nm=\"Sop\"\nV:2 treble snm=\"A\"",
            "X:1\nV:1 snm=\"S\"\nV:2 treble\n",
        ),
        (
            "X:1\nV:1 treble nm=\"Sop\" snm=\"S\"\r\n[V:1] nm=\"x\" abc|\n",
            "X:1\nV:1 treble\n[V:1] nm=\"x\" abc|\n",
        ),
        (
            "V:1 nm=\nV:2 bass\n%%score nm=\"x\"\nV:3nm=\"y\"\n",
            "V:1\nV:2 bass\n%%score nm=\"x\"\nV:3nm=\"y\"\n",
        ),
        (
            "ticks_per_beat 480\nprogram_change 0 0 5\nprogram_change 10 3 127",
            "ticks_per_beat 480\nprogram_change 0 0 0\nprogram_change 10 3 0\n",
        ),
        (
            "ticks_per_beat 480\nprogram_change\nprogram_change  0 1  \nnote_on 0 0 60 80\n",
            "ticks_per_beat 480\n 0\nprogram_change  0 1  0\nnote_on 0 0 60 80\n",
        ),
        (
            "ticks_per_beat\nprogram_change 0 0 5\nV:1 nm=\"a\"\n",
            "ticks_per_beat\nprogram_change 0 0 5\nV:1\n",
        ),
        ("\nV:1 nm=\"a\"\n", "\nV:1\n"),
        ("ticks_per_beat 96\n", "ticks_per_beat 96\n"),
        (
            "V:1 nm=\"Sopran für Stimme – ñ 中文\" snm=\"S.\"\n",
            "V:1\n",
        ),
        // The reference raises IndexError here; the text is returned unchanged.
        ("", ""),
    ];
    for (input, want) in cases {
        assert_eq!(remove_instrument_info(input), want, "{input:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Symbolic and audio samples

fn patch_strings(s: &SymbolicSample) -> Vec<String> {
    s.ids
        .chunks(s.patch_size)
        .map(|p| {
            let b: Vec<u8> = p.iter().map(|&i| i as u8).collect();
            clamp3_formats::patch::patch_to_bar(&b)
        })
        .collect()
}

#[test]
fn symbolic_eval_is_the_plain_encoding_and_training_removes_instruments_nine_times_in_ten() {
    let text = read_fixture("fixtures/model/inputs/bach_bwv66_6.abc");
    let full = Patchilizer::new().encode(&text).unwrap();
    let mut rng = Rng::new(11);
    let before = rng.state();
    let s = sample_symbolic(&text, 64, 512, &mut rng, false).unwrap();
    assert_eq!(rng.state(), before);
    assert_eq!(s.patches, full.len());
    assert_eq!(s.ids, full.to_u32_vec());

    let stripped = Patchilizer::new()
        .encode(&remove_instrument_info(&text))
        .unwrap()
        .to_u32_vec();
    let n = 5_000;
    let mut removed = 0;
    for _ in 0..n {
        let s = sample_symbolic(&text, 64, 512, &mut rng, true).unwrap();
        if s.ids == stripped {
            removed += 1;
        } else {
            assert_eq!(s.ids, full.to_u32_vec());
        }
    }
    let share = removed as f64 / n as f64;
    assert!((share - 0.9).abs() < 0.02, "removal share {share}");

    // MTF: the program numbers become 0.
    let mtf = read_fixture("fixtures/model/inputs/openttd_boogi_marabi.mtf");
    let mut rng = Rng::new(12);
    let mut zeroed = 0;
    for _ in 0..50 {
        let s = sample_symbolic(&mtf, 64, usize::MAX, &mut rng, true).unwrap();
        let pc: Vec<String> = patch_strings(&s)
            .into_iter()
            .filter(|p| p.starts_with("program_change"))
            .collect();
        assert!(!pc.is_empty());
        if pc
            .iter()
            .all(|p| p.trim_end().split('\t').all(|m| m.ends_with(" 0")))
        {
            zeroed += 1;
        }
    }
    assert!(zeroed > 30 && zeroed < 50, "{zeroed}");
}

/// Interleaved ABC with 4 header patches (`L:1/8` is dropped) and `bars` bar patches.
fn long_abc(bars: usize) -> String {
    let mut s = String::from("X:1\nL:1/8\nM:4/4\nK:C\nV:1 treble nm=\"Flute\"\n");
    for i in 0..bars {
        s.push_str(&format!("[V:1]C{}D|\n", i % 7 + 1));
    }
    s
}

#[test]
fn symbolic_crops_come_after_the_special_patches() {
    let text = long_abc(700);
    let full = Patchilizer::new().encode(&text).unwrap();
    assert_eq!(full.len(), 4 + 700 + 2);
    let full_rows: Vec<Vec<u32>> = full
        .iter()
        .map(|p| p.iter().map(|&b| u32::from(b)).collect())
        .collect();
    let bos = vec![1u32; 64];
    let mut eos = vec![2u32; 64];
    eos[0] = 1;
    assert_eq!(full_rows[0], bos);
    assert_eq!(full_rows[full_rows.len() - 1], eos);

    // Evaluation: the first 512 patches (BOS kept, EOS cut off).
    let s = sample_symbolic(&text, 64, 512, &mut Rng::new(0), false).unwrap();
    assert_eq!(s.patches, 512);
    assert_eq!(s.ids, full_rows[..512].concat());

    // Training: a window of 512 of the *stripped* patches; head keeps BOS, tail keeps EOS,
    // middle keeps neither.
    let stripped = Patchilizer::new()
        .encode(&remove_instrument_info(&text))
        .unwrap();
    let stripped_rows: Vec<Vec<u32>> = stripped
        .iter()
        .map(|p| p.iter().map(|&b| u32::from(b)).collect())
        .collect();
    let mut rng = Rng::new(13);
    let mut kinds = [0usize; 3];
    for _ in 0..600 {
        let s = sample_symbolic(&text, 64, 512, &mut rng, true).unwrap();
        assert_eq!(s.patches, 512);
        assert_eq!(s.ids.len(), 512 * 64);
        let rows: Vec<Vec<u32>> = s.ids.chunks(64).map(<[u32]>::to_vec).collect();
        let source = if stripped_rows.windows(512).any(|w| w == rows.as_slice()) {
            &stripped_rows
        } else {
            &full_rows
        };
        let start = source
            .windows(512)
            .position(|w| w == rows.as_slice())
            .expect("a contiguous window of the encoding");
        match (rows[0] == bos, rows[511] == eos) {
            (true, false) => {
                assert_eq!(start, 0);
                kinds[0] += 1
            }
            (false, true) => {
                assert_eq!(start, source.len() - 512);
                kinds[1] += 1
            }
            (false, false) => {
                assert!(start >= 1 && start < source.len() - 512);
                kinds[2] += 1
            }
            (true, true) => panic!("706 patches cannot fit in 512"),
        }
    }
    // Middle starts are uniform in 1..=194, so 1 in 194 lands on the tail position.
    for k in kinds {
        assert!((150..260).contains(&k), "head/tail/middle {kinds:?}");
    }
}

#[test]
fn symbolic_errors_are_reported() {
    let mut rng = Rng::new(14);
    assert!(matches!(
        sample_symbolic("", 64, 512, &mut rng, true),
        Err(DataError::Patch(_))
    ));
    assert!(matches!(
        sample_symbolic("X:1\n", 0, 512, &mut rng, true),
        Err(DataError::Patch(_))
    ));
    assert!(matches!(
        sample_symbolic("X:1\n", 64, 0, &mut rng, true),
        Err(DataError::Invalid(_))
    ));
}

#[test]
fn audio_samples_add_zero_vectors_and_crop() {
    let dim = 4;
    let feats: Vec<f32> = (1..=3 * dim).map(|v| v as f32).collect();
    let mut rng = Rng::new(15);
    let s = sample_audio(&feats, dim, 128, &mut rng, true).unwrap();
    assert_eq!((s.rows, s.dim), (5, 4));
    assert_eq!(&s.data[..4], &[0.0; 4]);
    assert_eq!(&s.data[4..16], feats.as_slice());
    assert_eq!(&s.data[16..], &[0.0; 4]);

    // 200 vectors + 2 zero vectors, cropped to 128.
    let n = 200;
    let feats: Vec<f32> = (0..n * dim).map(|v| (v / dim + 1) as f32).collect();
    let row_id = |s: &AudioSample, r: usize| s.data[r * dim];
    let e = sample_audio(&feats, dim, 128, &mut rng, false).unwrap();
    assert_eq!(e.rows, 128);
    assert_eq!(row_id(&e, 0), 0.0);
    assert_eq!(row_id(&e, 1), 1.0);
    assert_eq!(row_id(&e, 127), 127.0);
    let mut kinds = [0usize; 3];
    for _ in 0..600 {
        let s = sample_audio(&feats, dim, 128, &mut rng, true).unwrap();
        assert_eq!((s.rows, s.data.len()), (128, 128 * dim));
        // Rows are consecutive vectors (zero stand-ins at 0 and at n + 1).
        let first = row_id(&s, 0) as usize;
        for r in 0..128 {
            let want = if first + r == n + 1 {
                0.0
            } else {
                (first + r) as f32
            };
            assert_eq!(row_id(&s, r), want);
        }
        match (row_id(&s, 0) == 0.0, row_id(&s, 127) == 0.0) {
            (true, false) => kinds[0] += 1,
            (false, true) => kinds[1] += 1,
            (false, false) => kinds[2] += 1,
            (true, true) => panic!("202 vectors cannot fit in 128"),
        }
    }
    for k in kinds {
        assert!((150..260).contains(&k), "head/tail/middle {kinds:?}");
    }
    assert!(sample_audio(&[], dim, 128, &mut rng, true).is_err());
    assert!(sample_audio(&[1.0; 5], dim, 128, &mut rng, true).is_err());
    assert!(sample_audio(&[1.0; 4], 0, 128, &mut rng, true).is_err());
}

// ---------------------------------------------------------------------------------------
// MusicStore: every symbolic file kind, features, caches, failures

fn fixture_files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some(ext))
        .collect();
    v.sort();
    v
}

#[test]
fn store_converts_midi_to_the_golden_mtf() {
    let store = MusicStore::new(repo("fixtures/mtf"));
    let mut n = 0;
    for mid in fixture_files("fixtures/mtf", "mid") {
        let name = mid.file_name().unwrap().to_str().unwrap();
        let want = std::fs::read_to_string(mid.with_extension("mtf")).unwrap();
        let got = store.symbolic_text(name).unwrap();
        assert_eq!(&*got, want, "{name}");
        n += 1;
    }
    assert!(n >= 60, "{n} MIDI fixtures");
    let bad = MusicStore::new(repo("fixtures/mtf/errors"));
    for mid in fixture_files("fixtures/mtf/errors", "mid") {
        let name = mid.file_name().unwrap().to_str().unwrap();
        assert!(bad.symbolic_text(name).is_err(), "{name}");
    }
    assert!(bad.stats().failures > 0);
    assert_eq!(bad.failures().len() as u64, bad.stats().failures);
}

#[test]
fn store_interleaves_standard_abc_and_keeps_model_formats() {
    let store = MusicStore::new(repo("fixtures"));
    let mut n = 0;
    for abc in fixture_files("fixtures/abc", "abc") {
        let name = abc.file_name().unwrap().to_str().unwrap().to_string();
        if name.ends_with(".interleaved.abc") {
            continue;
        }
        let golden = PathBuf::from(abc.to_str().unwrap().replace(".abc", ".interleaved.abc"));
        let want = clamp3_formats::text::read_text(&std::fs::read(&golden).unwrap()).unwrap();
        let got = store.symbolic_text(&format!("abc/{name}")).unwrap();
        assert_eq!(&*got, want, "{name}");
        // Already interleaved ABC is used as is.
        let inter = format!("abc/{}", golden.file_name().unwrap().to_str().unwrap());
        assert_eq!(&*store.symbolic_text(&inter).unwrap(), want, "{inter}");
        n += 1;
    }
    assert!(n >= 40, "{n} ABC fixtures");
    for rel in [
        "model/inputs/essen_han1_tune3.mtf",
        "model/inputs/openttd_boogi_marabi.mtf",
        "model/inputs/bach_bwv66_6.abc",
    ] {
        let want = read_fixture(&format!("fixtures/{rel}"));
        assert_eq!(&*store.symbolic_text(rel).unwrap(), want, "{rel}");
    }
}

#[test]
fn store_converts_musicxml_like_the_reference_pipeline() {
    let store = MusicStore::new(repo("fixtures/xml2abc/inputs"));
    let (mut ok, mut failed, mut lenient) = (0, 0, 0);
    for entry in walk(&repo("fixtures/xml2abc/inputs")) {
        let rel = entry
            .strip_prefix(repo("fixtures/xml2abc/inputs"))
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let expected = repo(&format!("fixtures/xml2abc/expected/{rel}.abc"));
        let got = store.symbolic_text(&rel);
        if expected.is_file() {
            let standard = std::fs::read_to_string(&expected).unwrap();
            match clamp3_formats::interleave::interleave_abc(&standard) {
                Ok(want) => {
                    assert_eq!(&*got.unwrap(), want, "{rel}");
                    ok += 1;
                }
                Err(_) => {
                    assert!(got.is_err(), "{rel}");
                    failed += 1;
                }
            }
        } else if rel.ends_with(".mxl") {
            // The reference reads nothing from these archives (`.error` goldens); the store
            // reads them through the archive's container, as the embedder does.
            let path = repo(&format!("fixtures/xml2abc/inputs/{rel}"));
            let via_container =
                clamp3_musicxml::file_to_abc_with(&path, clamp3_musicxml::MxlSelection::Container)
                    .ok()
                    .and_then(|abc| clamp3_formats::interleave::interleave_abc(&abc).ok());
            match via_container {
                Some(want) => {
                    assert_eq!(&*got.unwrap(), want, "{rel}");
                    lenient += 1;
                }
                None => assert!(got.is_err(), "{rel}"),
            }
        } else {
            // The reference's xml2abc fails on these (`.error` goldens); so does the store.
            assert!(got.is_err(), "{rel}");
            failed += 1;
        }
    }
    assert!(lenient > 0, "no archive read through its container");
    assert!(ok >= 50, "{ok} converted");
    assert!(failed > 0);
    let s = store.stats();
    assert!(s.failures >= failed as u64);
    assert!(s.conversions >= ok as u64);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn store_caches_in_memory_and_on_disk_and_remembers_failures() {
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mid = std::fs::read(repo("fixtures/mtf/m21_test05.mid")).unwrap();
    write(data.path(), "a/song.MID", &mid);
    write(data.path(), "broken.mid", b"MThd garbage");
    let want = std::fs::read_to_string(repo("fixtures/mtf/m21_test05.mtf")).unwrap();

    let store = MusicStore::new(data.path()).with_cache_dir(cache.path());
    assert_eq!(&*store.symbolic_text("a/song.MID").unwrap(), want);
    assert_eq!(&*store.symbolic_text("a/song.MID").unwrap(), want);
    let s = store.stats();
    assert_eq!(
        (s.conversions, s.memory_hits, s.disk_hits, s.reads),
        (1, 1, 0, 1)
    );
    assert_eq!((s.cached_texts, s.cached_bytes), (1, want.len()));

    // A fresh store finds the conversion in the cache directory.
    let again = MusicStore::new(data.path()).with_cache_dir(cache.path());
    assert_eq!(&*again.symbolic_text("a/song.MID").unwrap(), want);
    let s = again.stats();
    assert_eq!((s.conversions, s.disk_hits), (0, 1));
    assert_eq!(walk(cache.path()).len(), 1);

    // No memory budget: nothing is kept, every request reads the file again.
    let lean = MusicStore::new(data.path()).with_memory_budget(0);
    for _ in 0..3 {
        assert_eq!(&*lean.symbolic_text("a/song.MID").unwrap(), want);
    }
    let s = lean.stats();
    assert_eq!(
        (s.reads, s.conversions, s.memory_hits, s.cached_texts),
        (3, 3, 0, 0)
    );

    // Failures are counted once and not retried.
    for _ in 0..3 {
        let e = store.symbolic_text("broken.mid").unwrap_err();
        assert!(e.to_string().contains("broken.mid"), "{e}");
    }
    assert!(store.symbolic_text("missing.abc").is_err());
    assert!(store.load("notes.txt").is_err());
    let s = store.stats();
    assert_eq!(s.failures, 2);
    assert_eq!(s.reads, 2);
    let f: Vec<String> = store.failures().into_iter().map(|(p, _)| p).collect();
    assert_eq!(f, ["broken.mid", "missing.abc"]);
}

#[test]
fn store_reads_and_checks_audio_features() {
    let store = MusicStore::new(repo("fixtures/model/inputs"));
    let f = store.audio_features("features_official.npy").unwrap();
    assert_eq!((f.rows, f.dim, f.data.len()), (40, 768, 40 * 768));
    assert!(matches!(
        store.load("features_official.npy"),
        Ok(MusicFile::Audio(_))
    ));
    // Wrong feature size.
    match store.audio_features("features_short.npy") {
        Err(DataError::FeatureShape { found, dim, .. }) => {
            assert_eq!(found, [1, 40, 32]);
            assert_eq!(dim, 768);
        }
        other => panic!("expected FeatureShape, got {other:?}"),
    }
    // Remembered: the second attempt fails without reading.
    let reads = store.stats().reads;
    assert!(store.audio_features("features_short.npy").is_err());
    assert_eq!(store.stats().reads, reads);
    let small = MusicStore::new(repo("fixtures/model/inputs")).with_audio_dim(32);
    let f = small.audio_features("features_long.npy").unwrap();
    assert_eq!((f.rows, f.dim), (300, 32));

    let dir = tempfile::tempdir().unwrap();
    let npy = |shape: &str, n: usize, fill: f32| {
        let header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
        let mut h = header.into_bytes();
        while (h.len() + 11) % 64 != 0 {
            h.push(b' ');
        }
        h.push(b'\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(&h);
        for _ in 0..n {
            b.extend_from_slice(&fill.to_le_bytes());
        }
        b
    };
    write(dir.path(), "ok.npy", &npy("(1, 2, 4)", 8, 0.5));
    write(dir.path(), "layers.npy", &npy("(13, 2, 4)", 104, 0.5));
    write(dir.path(), "flat.npy", &npy("(2, 4)", 8, 0.5));
    write(dir.path(), "empty.npy", &npy("(1, 0, 4)", 0, 0.5));
    write(dir.path(), "nan.npy", &npy("(1, 2, 4)", 8, f32::NAN));
    write(dir.path(), "garbage.npy", b"not numpy");
    let store = MusicStore::new(dir.path()).with_audio_dim(4);
    assert_eq!(store.audio_features("ok.npy").unwrap().data, [0.5; 8]);
    for bad in [
        "layers.npy",
        "flat.npy",
        "empty.npy",
        "nan.npy",
        "garbage.npy",
    ] {
        let e = store.audio_features(bad).unwrap_err();
        assert!(e.to_string().contains(bad), "{e}");
    }
    assert_eq!(store.stats().failures, 5);
}

#[test]
fn files_are_picked_within_the_stage_modality() {
    let r = record(json!({"filepaths": ["x.mtf", "x.abc", "x.npy", "y.npy", "x.wav"]}));
    assert_eq!(music_modality("a/b.MXL"), Some(Modality::Symbolic));
    assert_eq!(music_modality("a/b.npy"), Some(Modality::Audio));
    assert_eq!(music_modality("a/b.wav"), None);
    let mut rng = Rng::new(16);
    assert_eq!(
        pick_file(&r, Modality::Symbolic, &mut rng, false),
        Some("x.abc")
    );
    assert_eq!(
        pick_file(&r, Modality::Audio, &mut rng, false),
        Some("x.npy")
    );
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for _ in 0..4_000 {
        *counts
            .entry(pick_file(&r, Modality::Symbolic, &mut rng, true).unwrap())
            .or_default() += 1;
    }
    assert_eq!(counts.len(), 2);
    assert!(
        counts.values().all(|&c| (1_800..2_200).contains(&c)),
        "{counts:?}"
    );
    let mtf_only = record(json!({"filepaths": ["x.mtf", "y.mid"]}));
    assert_eq!(
        pick_file(&mtf_only, Modality::Symbolic, &mut rng, false),
        Some("x.mtf")
    );
    assert_eq!(pick_file(&mtf_only, Modality::Audio, &mut rng, true), None);
}

// ---------------------------------------------------------------------------------------
// Pairs, batches, determinism, splits

fn data_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let bach = std::fs::read(repo("fixtures/model/inputs/bach_bwv66_6.abc")).unwrap();
    write(dir.path(), "sym/bach.abc", &bach);
    let mtf = std::fs::read(repo("fixtures/model/inputs/openttd_boogi_marabi.mtf")).unwrap();
    write(dir.path(), "sym/boogie.mtf", &mtf);
    write(dir.path(), "sym/long.abc", long_abc(700).as_bytes());
    let npy = std::fs::read(repo("fixtures/model/inputs/features_official.npy")).unwrap();
    write(dir.path(), "audio/a.npy", &npy);
    dir
}

fn records() -> Vec<Record> {
    vec![
        record(
            json!({"id": "bach", "title": "Chorale", "analysis": "Four voices.\nF# minor.",
                      "translations": {"language": "de", "analysis": "Vier Stimmen."},
                      "filepaths": ["sym/bach.abc", "audio/a.npy"]}),
        ),
        record(
            json!({"id": "boogie", "title": "Boogie", "tags": ["piano", "fast"],
                      "analysis": (0..80).map(|i| format!("sentence {i}")).collect::<Vec<_>>().join("\n"),
                      "filepaths": ["sym/boogie.mtf", "sym/long.abc", "audio/a.npy"]}),
        ),
    ]
}

#[test]
fn pairs_are_deterministic_per_seed_and_form_batches_of_one_modality() {
    let dir = data_root();
    let tok = tokenizer();
    let store = MusicStore::new(dir.path());
    let cfg = SampleConfig::default();
    let recs = records();
    // As the trainer samples: one generator threaded through the items of a batch.
    let run = |seed: u64, kind: Modality| -> Vec<Pair> {
        let mut rng = Rng::new(seed);
        recs.iter()
            .map(|r| sample_pair(r, kind, &store, &tok, &cfg, &mut rng, true).unwrap())
            .collect()
    };
    for kind in [Modality::Symbolic, Modality::Audio] {
        let a: Vec<Vec<Pair>> = (0..8).map(|s| run(s, kind)).collect();
        let b: Vec<Vec<Pair>> = (0..8).map(|s| run(s, kind)).collect();
        assert_eq!(a, b, "same seed, same samples");
        assert!(a.windows(2).any(|w| w[0] != w[1]), "seeds differ");
    }

    let pairs = run(3, Modality::Symbolic);
    for p in &pairs {
        assert!(p.text.len() <= 128 && !p.text.is_empty());
        let Music::Patches(ids) = &p.music else {
            panic!("symbolic pair expected")
        };
        assert!(ids.len() % 64 == 0 && (64..=512 * 64).contains(&ids.len()));
    }
    let audio = run(3, Modality::Audio);
    for p in &audio {
        let Music::Features(f) = &p.music else {
            panic!("audio pair expected")
        };
        // 40 vectors + the 2 zero vectors (no crop below 128).
        assert_eq!(f.len(), 42 * 768);
        assert!(f[..768].iter().all(|&v| v == 0.0));
        assert!(f[768..2 * 768].iter().any(|&v| v != 0.0));
        assert!(f[41 * 768..].iter().all(|&v| v == 0.0));
    }
    let batch = clamp3_train::step::Batch::new(pairs.clone(), Modality::Symbolic).unwrap();
    assert_eq!(batch.len(), 2);
    let mut mixed = pairs;
    mixed.push(audio[0].clone());
    assert!(clamp3_train::step::Batch::new(mixed, Modality::Symbolic).is_err());
}

#[test]
fn evaluation_pairs_draw_nothing_and_use_analysis_and_the_abc_file() {
    let dir = data_root();
    let tok = tokenizer();
    let store = MusicStore::new(dir.path());
    let cfg = SampleConfig::default();
    let recs = records();
    let mut rng = Rng::new(99);
    let p = sample_pair(
        &recs[0],
        Modality::Symbolic,
        &store,
        &tok,
        &cfg,
        &mut rng,
        false,
    )
    .unwrap();
    assert_eq!(rng, Rng::new(99));
    assert_eq!(p.text, tok.encode("Four voices.\nF# minor.").unwrap());
    let bach = read_fixture("fixtures/model/inputs/bach_bwv66_6.abc");
    let Music::Patches(ids) = &p.music else {
        panic!()
    };
    assert_eq!(*ids, Patchilizer::new().encode(&bach).unwrap().to_u32_vec());
    // The second record's first .abc file is the long one: head crop of 512 patches.
    let p = sample_pair(
        &recs[1],
        Modality::Symbolic,
        &store,
        &tok,
        &cfg,
        &mut rng,
        false,
    )
    .unwrap();
    let Music::Patches(ids) = &p.music else {
        panic!()
    };
    let full = Patchilizer::new()
        .encode(&long_abc(700))
        .unwrap()
        .to_u32_vec();
    assert_eq!(*ids, full[..512 * 64]);
    assert_eq!(p.text.len(), 128);
    assert_eq!(p.text[0], 0);

    // Per-item errors.
    let no_text = record(json!({"id": "n", "filepaths": ["sym/bach.abc"]}));
    assert!(matches!(
        sample_pair(
            &no_text,
            Modality::Symbolic,
            &store,
            &tok,
            &cfg,
            &mut rng,
            true
        ),
        Err(DataError::NoText { .. })
    ));
    let no_file = record(json!({"id": "f", "title": "t", "analysis": "a", "filepaths": ["x.npy"]}));
    assert!(matches!(
        sample_pair(
            &no_file,
            Modality::Symbolic,
            &store,
            &tok,
            &cfg,
            &mut rng,
            true
        ),
        Err(DataError::NoMusicFile { .. })
    ));
    let missing = record(json!({"title": "t", "filepaths": ["sym/none.abc"]}));
    assert!(matches!(
        sample_pair(
            &missing,
            Modality::Symbolic,
            &store,
            &tok,
            &cfg,
            &mut rng,
            true
        ),
        Err(DataError::Music { .. })
    ));
}

#[test]
fn splits_hold_out_a_share_with_at_least_one_item() {
    assert_eq!(eval_count(1_000, EVAL_SPLIT), 10);
    assert_eq!(eval_count(1_099, EVAL_SPLIT), 10);
    assert_eq!(eval_count(50, EVAL_SPLIT), 1);
    assert_eq!(eval_count(2, 0.99), 1);
    assert_eq!(eval_count(1, EVAL_SPLIT), 0);
    assert_eq!(eval_count(100, 0.0), 0);
    let (train, eval) = split_indices(1_000, EVAL_SPLIT, &mut Rng::new(42));
    assert_eq!((train.len(), eval.len()), (990, 10));
    let mut all: Vec<usize> = train.iter().chain(&eval).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..1_000).collect::<Vec<_>>());
    assert_eq!(
        split_indices(1_000, EVAL_SPLIT, &mut Rng::new(42)),
        (train, eval.clone())
    );
    assert_ne!(split_indices(1_000, EVAL_SPLIT, &mut Rng::new(43)).1, eval);
    let items: Vec<String> = (0..300).map(|i| format!("r{i}")).collect();
    let (tr, ev) = split(items.clone(), EVAL_SPLIT, &mut Rng::new(1));
    let (_, ev_idx) = split_indices(300, EVAL_SPLIT, &mut Rng::new(1));
    assert_eq!(
        ev,
        ev_idx.iter().map(|&i| items[i].clone()).collect::<Vec<_>>()
    );
    assert_eq!(tr.len() + ev.len(), 300);
}

#[test]
fn epoch_orders_are_reproducible_permutations() {
    let o = epoch_order(100, 42, 1);
    assert_eq!(o, epoch_order(100, 42, 1));
    assert_ne!(o, epoch_order(100, 42, 2));
    let mut s = o.clone();
    s.sort_unstable();
    assert_eq!(s, (0..100).collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------------------
// Robustness: random inputs never panic

fn random_text(rng: &mut Rng, pieces: &[&str], n: usize) -> String {
    (0..rng.below(n) + 1)
        .map(|_| *rng.choose(pieces).unwrap())
        .collect()
}

fn random_value(rng: &mut Rng, depth: usize) -> serde_json::Value {
    let strings = [
        "", "a", "a\nb", "\n", "\n\nx", "é中", "x.abc", "y.npy", "z.mid", "</s>",
    ];
    match rng.below(if depth > 2 { 4 } else { 6 }) {
        0 => json!(null),
        1 => json!(rng.below(100)),
        2 | 3 => json!(*rng.choose(&strings).unwrap()),
        4 => (0..rng.below(4))
            .map(|_| random_value(rng, depth + 1))
            .collect::<Vec<_>>()
            .into(),
        _ => random_object(rng, depth + 1),
    }
}

fn random_object(rng: &mut Rng, depth: usize) -> serde_json::Value {
    let keys = [
        "id",
        "filepaths",
        "title",
        "artists",
        "region",
        "language",
        "genres",
        "tags",
        "background",
        "analysis",
        "description",
        "scene",
        "translations",
        "mood",
    ];
    let mut m = serde_json::Map::new();
    for _ in 0..rng.below(10) {
        m.insert(
            rng.choose(&keys).unwrap().to_string(),
            random_value(rng, depth),
        );
    }
    m.into()
}

#[test]
fn random_records_and_texts_never_panic() {
    let mut rng = Rng::new(2024);
    let mut parsed = 0;
    for i in 0..20_000 {
        let mut line = random_object(&mut rng, 0).to_string();
        if rng.chance(0.2) {
            // A damaged line: cut anywhere (on a character boundary).
            let cut = rng.below(line.len() + 1);
            let cut = (0..=cut)
                .rev()
                .find(|&c| line.is_char_boundary(c))
                .unwrap_or(0);
            line.truncate(cut);
        }
        match read_jsonl_from(line.as_bytes(), Path::new("fuzz.jsonl")) {
            Ok(recs) => {
                for r in &recs {
                    parsed += 1;
                    if r.has_text() {
                        assert!(sample_text(r, &mut rng).is_some(), "line {i}: {line}");
                    } else {
                        let _ = sample_text(r, &mut rng);
                    }
                    let _ = eval_text(r);
                    for kind in [Modality::Symbolic, Modality::Audio] {
                        let _ = pick_file(r, kind, &mut rng, true);
                        let _ = pick_file(r, kind, &mut rng, false);
                    }
                    let back: Record =
                        serde_json::from_str(&serde_json::to_string(r).unwrap()).unwrap();
                    assert_eq!(back.title, r.title, "line {i}: {line}");
                    assert_eq!(
                        back.text_candidates(),
                        r.text_candidates(),
                        "line {i}: {line}"
                    );
                }
                let _ = screen(recs, Modality::Symbolic);
            }
            Err(e) => assert!(e.to_string().starts_with("fuzz.jsonl:1:"), "{e}"),
        }
    }
    assert!(parsed > 10_000, "{parsed}");

    let music_pieces = [
        "V:",
        "V:1",
        " nm=",
        " snm=",
        "\"x\"",
        "\n",
        "\r",
        "|",
        "|:",
        "::",
        ":|",
        "[|",
        "]",
        "ticks_per_beat",
        "program_change",
        " ",
        "0",
        "480",
        "L:1/8\n",
        "%%",
        "X:1",
        "ñ",
        "中",
        "\t",
    ];
    for _ in 0..20_000 {
        let t = random_text(&mut rng, &music_pieces, 40);
        let stripped = remove_instrument_info(&t);
        assert!(stripped.len() <= t.len() + t.matches('\n').count() + 3 + 2 * t.len());
        for train in [true, false] {
            if let Ok(s) = sample_symbolic(&t, 64, 8, &mut rng, train) {
                assert!(s.patches <= 8 && s.ids.len() == s.patches * 64);
                assert!(s.ids.iter().all(|&i| i < 128));
            }
        }
    }
}

#[test]
fn store_and_errors_can_cross_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<MusicStore>();
    shared::<DataError>();
    shared::<Record>();
    // Loading from several threads gives the same texts and consistent counters.
    let store = MusicStore::new(repo("fixtures/mtf"));
    let texts: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| store.symbolic_text("m21_test05.mid").unwrap().to_string()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(texts.windows(2).all(|w| w[0] == w[1]));
    let st = store.stats();
    assert_eq!(st.conversions + st.memory_hits, 4);
    assert_eq!(st.cached_texts, 1);
}
