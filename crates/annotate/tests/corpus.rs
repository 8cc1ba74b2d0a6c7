//! End to end on real data: a slice of the music21 corpus (Essen tunes from China,
//! Lorraine and Ireland, an O'Neill's 1850 tune) annotated through a real llama.cpp server
//! (SmolLM2-135M-Instruct) into M4-RAG JSONL, read by the trainer's reader unchanged, and
//! trained on for a few steps.
//!
//! The model is tiny, so under the default filters most of its answers are rejected; the
//! test checks that every item ends written or rejected with a reason, and records the
//! journal and summary (what passed and why) under the target directory. The training
//! half uses permissive filters, so that every valid answer becomes a record.

mod common;

use std::path::Path;

use clamp3_model::Modality;
use clamp3_train::data::{read_jsonl, screen};
use common::*;

const SLICE: [(&str, usize); 4] = [
    ("essenFolksong/han1.abc", 1),
    ("essenFolksong/lot.abc", 1),
    ("essenFolksong/irl.abc", 1),
    ("oneills1850/0001-0050.abc", 2),
];

fn keep(out: &Path, name: &str) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("annotate-ci");
    std::fs::create_dir_all(&dir).unwrap();
    for ext in ["", ".journal", ".summary.json"] {
        let mut from = out.as_os_str().to_owned();
        from.push(ext);
        let _ = std::fs::copy(&from, dir.join(format!("{name}.jsonl{ext}")));
    }
    eprintln!("kept {name} run in {}", dir.display());
}

#[test]
fn a_corpus_slice_becomes_m4rag_jsonl_that_trains() {
    let _g = serial();
    let llm = Llm::start();
    let proxy = Proxy::start(llm.port);
    let tmp = tempfile::tempdir().unwrap();
    let music = corpus_slice(tmp.path(), &SLICE);
    let pages = catalogue_pages(tmp.path(), &music);

    // Default filters, one German translation per record.
    let strict = tmp.path().join("strict.jsonl");
    let (o, err) = run(annotate()
        .arg(&music)
        .arg("--out")
        .arg(&strict)
        .arg("--config")
        .arg(config(tmp.path(), ""))
        .arg("--pages")
        .arg(&pages)
        .args(["--translate", "de", "--url", &proxy.url()]));
    keep(&strict, "strict");
    assert!(o.status.success(), "{err}");
    let s = summary(&strict);
    let rejected: u64 = s["rejected"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(s["written"].as_u64().unwrap() + rejected, 4, "{s}");
    assert!(s["tokens"]["prompt_tokens"].as_u64().unwrap() > 0, "{s}");
    let j = journal(&strict);
    assert_eq!(j.len(), 4);
    for e in &j {
        if e["status"] == "rejected" {
            assert!(
                e["reason"]["reason"].is_string() && e["detail"].is_string(),
                "{e}"
            );
        }
        // Every item found its saved page.
        assert_eq!(e["sources"].as_array().map(Vec::len), Some(1), "{e}");
    }
    // The page text reached the model, without the page's script.
    let bodies = proxy.chat_bodies();
    let prompts: Vec<String> = bodies
        .iter()
        .map(|b| b["messages"][1]["content"].to_string())
        .collect();
    assert!(
        prompts
            .iter()
            .any(|p| p.contains("Renmin gongshe shizai hao") && p.contains("Origin:")),
        "{prompts:?}"
    );
    assert!(prompts.iter().all(|p| !p.contains("var x=1")));
    assert!(bodies
        .iter()
        .all(|b| b["response_format"]["type"] == "json_schema"));
    let records = read_jsonl(&strict).unwrap();
    assert_eq!(records.len() as u64, s["written"].as_u64().unwrap());

    // Permissive filters: every valid answer is written; the output sits beside music/.
    let out = tmp.path().join("train.jsonl");
    let (o, err) = run(annotate()
        .arg(&music)
        .arg("--out")
        .arg(&out)
        .arg("--config")
        .arg(config(tmp.path(), PERMISSIVE))
        .arg("--pages")
        .arg(&pages)
        .args(["--translate", "de", "--url", &llm.url()]));
    keep(&out, "permissive");
    assert!(o.status.success(), "{err}");
    let records = read_jsonl(&out).unwrap();
    assert!(records.len() >= 2, "only {} records: {err}", records.len());
    for r in &records {
        let id = r.id.as_deref().unwrap_or("");
        assert!(
            ["han1_1", "lot_1", "irl_1", "0001_0050_2"].contains(&id),
            "{id}"
        );
        assert_eq!(r.files_of(Modality::Symbolic).len(), 1, "{r:?}");
        assert!(
            tmp.path().join(&r.filepaths[0]).is_file(),
            "{:?}",
            r.filepaths
        );
    }
    let han = records.iter().find(|r| r.id.as_deref() == Some("han1_1"));
    if let Some(h) = han {
        // Known facts win over the model: the title is the corpus's.
        assert_eq!(
            h.title.as_ref().and_then(|t| t.as_text()),
            Some("Renmin gongshe shizai hao")
        );
    }
    // Each record was sent for translation: it has one, or the journal says why not.
    let j = journal(&out);
    for r in &records {
        let id = r.id.as_deref().unwrap();
        let e = j.iter().find(|e| e["id"] == id).unwrap();
        let t = e["translation"].as_str().unwrap_or_else(|| panic!("{e}"));
        match &r.translations {
            Some(tr) => {
                assert_eq!(t, "German");
                assert_eq!(tr.get("language").and_then(|f| f.as_text()), Some("German"));
                assert!(!r.translation_candidates().is_empty());
            }
            None => assert!(t.starts_with("German dropped: "), "{t}"),
        }
    }
    let s = summary(&out);
    let dropped: u64 = s["translations_dropped"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        s["translated"].as_u64().unwrap() + dropped,
        records.len() as u64,
        "{s}"
    );
    let screened = screen(records, Modality::Symbolic);
    assert!(screened.records.len() >= 2, "{:?}", screened.skipped);

    // A few training steps on the output, as `clamp3 train` runs them.
    let tok = repo("testdata/xlm-roberta/tokenizer.json");
    assert!(tok.is_file(), "run scripts/fetch-test-data.sh");
    let run_dir = tmp.path().join("run");
    let toml = tmp.path().join("train.toml");
    std::fs::write(
        &toml,
        format!(
            "[model]\nconfig = \"{}\"\ntokenizer = \"{}\"\n[data]\ntrain = \"{}\"\neval = \"{}\"\n[stage]\nmodality = \"symbolic\"\n[optim]\nlr = 1e-3\nwarmup_steps = 1\n[train]\nbatch_size = 2\nmicro_batch = 2\nmax_steps = 2\neval_every = 0\ncheckpoint_every = 0\n[output]\ndir = \"{}\"\n",
            repo("fixtures/model/tiny/config.json").display(),
            tok.display(),
            out.display(),
            out.display(),
            run_dir.display()
        ),
    )
    .unwrap();
    let cfg = clamp3_train::config::TrainConfig::from_file(&toml).unwrap();
    let (mut trainer, data) = clamp3_train::source::prepare(cfg, &clamp3::Device::Cpu).unwrap();
    assert!(data.train >= 2, "{data:?}");
    let state = trainer.run(|_| {}).unwrap();
    assert_eq!(state.step, 2);
    let losses: Vec<f64> = std::fs::read_to_string(run_dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("loss").and_then(|x| x.as_f64()))
        .collect();
    assert_eq!(losses.len(), 2);
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
}
