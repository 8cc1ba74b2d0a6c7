//! The retrieval commands end to end: index (incremental, crash-safe), search, classify,
//! score, eval and linear probes.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// A small collection of every kind: text, ABC, MTF, MIDI, MERT features.
fn collection(dir: &Path) -> PathBuf {
    let c = dir.join("collection");
    std::fs::create_dir_all(c.join("scores")).unwrap();
    for (src, dst) in [
        ("fixtures/model/inputs/bach_bwv66_6.abc", "scores/bach.abc"),
        (
            "fixtures/model/inputs/essen_han1_tune3.mtf",
            "scores/essen.mtf",
        ),
        (
            "fixtures/mtf/deb_pianobooster_lavenders_blue.mid",
            "scores/lavender.mid",
        ),
        ("fixtures/model/inputs/multilingual.txt", "notes.txt"),
        ("fixtures/model/inputs/en_reel.txt", "reel.txt"),
        ("fixtures/model/inputs/features_long.npy", "recording.npy"),
    ] {
        std::fs::copy(repo(src), c.join(dst)).unwrap();
    }
    c
}

#[test]
fn index_is_incremental_and_search_finds_items_by_example() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let col = collection(tmp.path());
    let ix = tmp.path().join("ix");
    let add = || {
        run(&[
            os("index"),
            os("add"),
            os("--index"),
            ix.as_os_str(),
            os("--model"),
            model.as_os_str(),
            col.as_os_str(),
        ])
    };
    let o = add();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("6 added, 0 updated, 0 unchanged; 6 items"),
        "{}",
        stderr(&o)
    );
    // Nothing changed: nothing re-embedded.
    let o = add();
    assert!(
        stderr(&o).contains("0 added, 0 updated, 6 unchanged"),
        "{}",
        stderr(&o)
    );
    // One file edited, one deleted.
    std::fs::write(col.join("reel.txt"), "A slow air in E minor.\n").unwrap();
    std::fs::remove_file(col.join("notes.txt")).unwrap();
    let o = add();
    assert!(
        stderr(&o).contains("0 added, 1 updated, 4 unchanged"),
        "{}",
        stderr(&o)
    );
    let o = run(&[os("index"), os("prune"), os("--index"), ix.as_os_str()]);
    assert!(stderr(&o).contains("removed 1 entry"), "{}", stderr(&o));

    // Search by example: an indexed file finds itself first, at cosine 1.
    let query = col.join("scores/bach.abc");
    for approx in [false, true] {
        let mut args = vec![
            os("search"),
            os("--index"),
            ix.as_os_str(),
            os("--json"),
            os("-k"),
            os("3"),
        ];
        if approx {
            args.push(os("--approx"));
        }
        args.push(query.as_os_str());
        let o = run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let r = v["results"].as_array().unwrap();
        assert_eq!(r.len(), 3);
        assert!(r[0]["path"].as_str().unwrap().ends_with("scores/bach.abc"));
        assert!((r[0]["score"].as_f64().unwrap() - 1.0).abs() < 1e-4);
    }
    // Text query, restricted to one modality.
    let o = run(&[
        os("search"),
        os("--index"),
        ix.as_os_str(),
        os("--json"),
        os("--modality"),
        os("symbolic"),
        os("ein Volkslied"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let r = v["results"].as_array().unwrap();
    assert_eq!(r.len(), 3);
    assert!(r.iter().all(|x| x["modality"] == "symbolic"));
    // The index remembers its model; another model is refused.
    let o = run(&[
        os("index"),
        os("add"),
        os("--index"),
        ix.as_os_str(),
        os("--model"),
        repo("fixtures/model/mini/model.pth").as_os_str(),
        query.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("another index directory"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn killed_index_add_loses_nothing_committed_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let col = tmp.path().join("texts");
    std::fs::create_dir_all(&col).unwrap();
    let n = 400;
    for i in 0..n {
        std::fs::write(
            col.join(format!("t{i:04}.txt")),
            format!("Tune number {i}, a reel in D\n"),
        )
        .unwrap();
    }
    let ix = tmp.path().join("ix");
    let mut child = clamp3()
        .args(["index", "add", "--batch", "4", "--index"])
        .arg(&ix)
        .arg("--model")
        .arg(&model)
        .arg(&col)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it (SIGKILL) once some batches are committed, before it is done.
    let db = ix.join("index.sqlite");
    let start = std::time::Instant::now();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let committed = clamp3_index::Index::open(&ix)
            .ok()
            .and_then(|i| i.len().ok())
            .unwrap_or(0);
        if committed >= 40 || start.elapsed().as_secs() > 120 {
            break;
        }
        if let Ok(Some(_)) = child.try_wait() {
            panic!("index add finished before it could be killed; make the collection larger");
        }
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(db.is_file());
    let ix_open = clamp3_index::Index::open(&ix).unwrap();
    assert_eq!(ix_open.integrity_check().unwrap(), "ok");
    let kept = ix_open.len().unwrap();
    assert!(kept >= 40 && kept < n, "{kept} items after the kill");
    drop(ix_open);
    // Resume: what was committed is skipped, the rest is added.
    let o = run(&[
        os("index"),
        os("add"),
        os("--index"),
        ix.as_os_str(),
        os("--model"),
        model.as_os_str(),
        col.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "{} added, 0 updated, {kept} unchanged; {n} items",
            n - kept
        )),
        "{}",
        stderr(&o)
    );
    // Every stored vector is the one a fresh run computes.
    let o = run(&[
        os("search"),
        os("--index"),
        ix.as_os_str(),
        os("--json"),
        os("-k"),
        os("1"),
        col.join("t0007.txt").as_os_str(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!((v["results"][0]["score"].as_f64().unwrap() - 1.0).abs() < 1e-4);
}

#[test]
fn classify_ranks_every_label() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let labels = tmp.path().join("labels.txt");
    std::fs::write(&labels, "Volkslied\n民歌\n").unwrap();
    let o = run(&[
        os("classify"),
        os("--model"),
        model.as_os_str(),
        os("--labels"),
        os("jazz, folk ,classical"),
        os("--labels-file"),
        labels.as_os_str(),
        os("--json"),
        repo("fixtures/model/inputs/bach_bwv66_6.abc").as_os_str(),
        repo("fixtures/model/inputs/en_reel.txt").as_os_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        let r = l["labels"].as_array().unwrap();
        assert_eq!(r.len(), 5);
        let scores: Vec<f64> = r.iter().map(|x| x["score"].as_f64().unwrap()).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]));
    }
}

#[test]
fn score_and_eval_on_precomputed_embeddings() {
    let tmp = tempfile::tempdir().unwrap();
    let (q, r) = (tmp.path().join("q"), tmp.path().join("r"));
    // References along the axes; queries close to their own reference, except c.
    write_vec(&r.join("a.npy"), &[1.0, 0.0, 0.0]);
    write_vec(&r.join("b.npy"), &[0.0, 1.0, 0.0]);
    write_vec(&r.join("sub/c.npy"), &[0.0, 0.0, 1.0]);
    write_vec(&q.join("a.1.npy"), &[1.0, 0.1, 0.0]);
    write_vec(&q.join("a.2.npy"), &[1.0, 0.0, 0.1]);
    write_vec(&q.join("b.npy"), &[0.1, 1.0, 0.0]);
    write_vec(&q.join("sub/c.npy"), &[1.0, 0.0, 0.5]);
    // Pairwise: a.1, a.2 -> a; b -> b; c -> c.
    let out = tmp.path().join("score");
    let o = run(&[
        os("score"),
        q.as_os_str(),
        r.as_os_str(),
        os("--out"),
        out.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let cos = |x: &[f64], y: &[f64]| {
        let d: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
        d / (x.iter().map(|a| a * a).sum::<f64>().sqrt()
            * y.iter().map(|a| a * a).sum::<f64>().sqrt())
    };
    let want = (cos(&[1.0, 0.1, 0.0], &[1.0, 0.0, 0.0]) * 2.0
        + cos(&[0.1, 1.0, 0.0], &[0.0, 1.0, 0.0])
        + cos(&[1.0, 0.0, 0.5], &[0.0, 0.0, 1.0]))
        / 4.0;
    assert!(
        stdout.contains(&format!("pairwise score: {want:.4}")),
        "{stdout} vs {want}"
    );
    let pairs = std::fs::read_to_string(out.join("pairwise_similarities.jsonl")).unwrap();
    assert_eq!(pairs.lines().count(), 4);
    // An unmatched query is listed; by the one exit-status rule it makes the status 1 only
    // with --strict (and not when --allow-unmatched allows it).
    write_vec(&q.join("zzz.npy"), &[1.0, 1.0, 1.0]);
    let o = run(&[os("score"), q.as_os_str(), r.as_os_str()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("zzz.npy"), "{}", stderr(&o));
    assert_eq!(
        run(&[os("score"), os("--strict"), q.as_os_str(), r.as_os_str()])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        run(&[
            os("score"),
            os("--strict"),
            q.as_os_str(),
            r.as_os_str(),
            os("--allow-unmatched")
        ])
        .status
        .code(),
        Some(0)
    );
    let o = run(&[os("score"), os("--group"), q.as_os_str(), r.as_os_str()]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("group score"));
    std::fs::remove_file(q.join("zzz.npy")).unwrap();
    std::fs::remove_file(q.join("a.2.npy")).unwrap();
    // Eval: ranks a -> 1, b -> 1, c -> 2 (a scores higher for it).
    let ranks = tmp.path().join("ranks.jsonl");
    let o = run(&[
        os("eval"),
        q.as_os_str(),
        r.as_os_str(),
        os("--out"),
        ranks.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        s.contains("Total query features: 3")
            && s.contains(&format!("MRR: {:.4}", (1.0 + 1.0 + 0.5) / 3.0)),
        "{s}"
    );
    assert!(s.contains("Ties: pessimistic"), "{s}");
    assert_eq!(std::fs::read_to_string(&ranks).unwrap().lines().count(), 3);
    // Ties: with b's reference moved onto a's, queries a and b each tie between two
    // references: pessimistic rank 2, the reference's optimistic rule rank 1 (c stays 3rd).
    write_vec(&r.join("b.npy"), &[1.0, 0.0, 0.0]);
    write_vec(&q.join("b.npy"), &[1.0, 0.0, 0.0]);
    let pess = String::from_utf8_lossy(&run(&[os("eval"), q.as_os_str(), r.as_os_str()]).stdout)
        .into_owned();
    let opt = String::from_utf8_lossy(
        &run(&[
            os("eval"),
            q.as_os_str(),
            r.as_os_str(),
            os("--ties"),
            os("optimistic"),
        ])
        .stdout,
    )
    .into_owned();
    assert!(
        pess.contains("Hit@1: 0.0000") && pess.contains("MRR: 0.4444"),
        "{pess}"
    );
    assert!(
        opt.contains("Hit@1: 0.6667") && opt.contains("optimistic (reference rule)"),
        "{opt}"
    );
}

#[test]
fn probe_trains_and_predicts() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut s = 1u64;
    for i in 0..120 {
        let (label, axis) = [("jazz", 0), ("folk", 1), ("rock", 2)][i % 3];
        let mut v: Vec<f32> = (0..16)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / 16_777_216.0) - 0.5
            })
            .collect();
        v[axis] += 1.5;
        write_vec(&data.join(format!("{label}_{i}.npy")), &v);
    }
    let probe = tmp.path().join("probe.json");
    let o = run(&[
        os("probe"),
        os("train"),
        os("--data"),
        data.as_os_str(),
        os("--out"),
        probe.as_os_str(),
        os("--epochs"),
        os("40"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let acc: f64 = String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("accuracy: ").map(|x| x.parse().unwrap()))
        .unwrap();
    assert!(acc >= 0.9, "accuracy {acc}");
    let one = data.join("folk_1.npy");
    let o = run(&[
        os("probe"),
        os("predict"),
        os("--probe"),
        probe.as_os_str(),
        one.as_os_str(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[one.to_string_lossy().as_ref()], "folk");
}

/// The music21 corpus fetched by scripts/fetch-test-data.sh.
fn corpus() -> PathBuf {
    let c = repo("testdata/music21/corpus");
    assert!(
        c.join("essenFolksong").is_dir(),
        "run scripts/fetch-test-data.sh (music21 corpus)"
    );
    c
}

#[test]
fn local_benchmark_slice_builds_indexes_and_evaluates() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let bm = tmp.path().join("bm");
    let o = run(&[
        os("benchmark"),
        os("build"),
        os("--corpus"),
        corpus().as_os_str(),
        os("--out"),
        bm.as_os_str(),
        os("--limit"),
        os("12"),
        os("--audio"),
        os("--sample-rate"),
        os("16000"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let records: Vec<serde_json::Value> = std::fs::read_to_string(bm.join("benchmark.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 12);
    // Text -> music retrieval over the slice, for every music form the set holds.
    let mert = repo("fixtures/mert/tiny");
    for music in ["leadsheet", "abc", "mtf", "midi", "audio"] {
        let o = run(&[
            os("eval"),
            os("--jsonl"),
            bm.join("benchmark.jsonl").as_os_str(),
            os("--model"),
            model.as_os_str(),
            os("--mert"),
            mert.as_os_str(),
            os("--text-field"),
            os("description"),
            os("--music"),
            os(music),
        ]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{music}: {}", stderr(&o));
        assert!(
            out.contains("Total query features: 12") && out.contains("MRR: "),
            "{music}: {out}"
        );
    }
    // Index the scores and recordings, then search them by text.
    let ix = tmp.path().join("ix");
    let o = run(&[
        os("index"),
        os("add"),
        os("--index"),
        ix.as_os_str(),
        os("--model"),
        model.as_os_str(),
        os("--mert"),
        mert.as_os_str(),
        bm.join("abc").as_os_str(),
        bm.join("audio").as_os_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("24 added"), "{}", stderr(&o));
    let o = run(&[
        os("search"),
        os("--index"),
        ix.as_os_str(),
        os("--mert"),
        mert.as_os_str(),
        os("--modality"),
        os("audio"),
        os("--json"),
        os("ein Volkslied aus Deutschland"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["results"].as_array().unwrap().len(), 10);
}
