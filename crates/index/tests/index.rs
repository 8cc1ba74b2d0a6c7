//! The index store and its searchers on synthetic vectors.

use clamp3_index::{AnnParams, AnnSearcher, ExactSearcher, Index, IndexError, IndexMeta, NewItem};

fn meta(dim: usize) -> IndexMeta {
    IndexMeta {
        model_id: "test-model".into(),
        dim,
    }
}

/// Deterministic pseudo-random vectors around `centres` cluster centres.
fn vectors(n: usize, dim: usize, centres: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut s = seed;
    let mut rnd = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / 16_777_216.0) - 0.5
    };
    let c: Vec<Vec<f32>> = (0..centres)
        .map(|_| (0..dim).map(|_| rnd()).collect())
        .collect();
    (0..n)
        .map(|i| c[i % centres].iter().map(|x| x + 0.3 * rnd()).collect())
        .collect()
}

fn item(i: usize, v: Vec<f32>, modality: &str) -> NewItem {
    NewItem {
        path: format!("/music/{i}.abc"),
        hash: format!("h{i}"),
        modality: modality.into(),
        metadata: serde_json::json!({"n": i}),
        vector: v,
    }
}

#[test]
fn store_upsert_prune_and_generation() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = Index::open_or_create(dir.path(), &meta(4)).unwrap();
    assert_eq!(ix.len().unwrap(), 0);
    let g0 = ix.generation().unwrap();
    ix.upsert(&[
        item(0, vec![1.0, 0.0, 0.0, 0.0], "symbolic"),
        item(1, vec![0.0, 1.0, 0.0, 0.0], "text"),
    ])
    .unwrap();
    assert_eq!(ix.len().unwrap(), 2);
    assert!(ix.generation().unwrap() > g0);
    assert_eq!(ix.hash_of("/music/0.abc").unwrap().as_deref(), Some("h0"));
    // Same path again: replaced, not duplicated.
    let mut again = item(0, vec![0.0, 0.0, 1.0, 0.0], "symbolic");
    again.hash = "new".into();
    ix.upsert(&[again]).unwrap();
    assert_eq!(ix.len().unwrap(), 2);
    assert_eq!(ix.hash_of("/music/0.abc").unwrap().as_deref(), Some("new"));
    assert_eq!(ix.prune(|p| p.ends_with("1.abc")).unwrap(), 1);
    assert_eq!(ix.len().unwrap(), 1);
    assert_eq!(ix.integrity_check().unwrap(), "ok");
    // Wrong dimension is refused and changes nothing.
    assert!(matches!(
        ix.upsert(&[item(5, vec![1.0; 3], "text")]),
        Err(IndexError::Dimension { .. })
    ));
    assert_eq!(ix.len().unwrap(), 1);
    drop(ix);
    // Another model cannot write into it.
    let other = IndexMeta {
        model_id: "other".into(),
        dim: 4,
    };
    assert!(matches!(
        Index::open_or_create(dir.path(), &other),
        Err(IndexError::ModelMismatch { .. })
    ));
    assert!(matches!(
        Index::open(&dir.path().join("none")),
        Err(IndexError::NotAnIndex { .. })
    ));
}

#[test]
fn exact_search_is_brute_force_cosine_and_cache_follows_changes() {
    let dir = tempfile::tempdir().unwrap();
    let dim = 24;
    let mut ix = Index::open_or_create(dir.path(), &meta(dim)).unwrap();
    let vs = vectors(500, dim, 10, 1);
    let items: Vec<NewItem> = vs
        .iter()
        .enumerate()
        .map(|(i, v)| item(i, v.clone(), if i % 3 == 0 { "audio" } else { "symbolic" }))
        .collect();
    ix.upsert(&items).unwrap();
    let ex = ExactSearcher::load(&ix).unwrap();
    assert_eq!(ex.len(), 500);
    let q = &vs[7];
    let hits = ex.search(q, 5, None);
    // Brute force in f64.
    let mut all: Vec<(usize, f32)> = vs
        .iter()
        .enumerate()
        .map(|(i, v)| (i, clamp3_index::cosine(q, v)))
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    let items_by_id = ix
        .items(&hits.iter().map(|h| h.id).collect::<Vec<_>>())
        .unwrap();
    for ((h, it), (i, s)) in hits.iter().zip(&items_by_id).zip(&all) {
        assert_eq!(it.path, format!("/music/{i}.abc"));
        assert!((h.score - s).abs() < 1e-5);
    }
    assert_eq!(hits[0].score.round(), 1.0);
    let audio = ex.search(q, 5, Some("audio"));
    let audio_items = ix
        .items(&audio.iter().map(|h| h.id).collect::<Vec<_>>())
        .unwrap();
    assert!(audio_items.iter().all(|i| i.modality == "audio"));
    // The cache is reused, then rebuilt after a change.
    let again = ExactSearcher::load(&ix).unwrap();
    assert_eq!(again.matrix, ex.matrix);
    ix.prune(|p| p != "/music/7.abc").unwrap();
    assert_eq!(ExactSearcher::load(&ix).unwrap().len(), 499);
}

#[test]
fn hnsw_recall_at_10_on_clustered_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let dim = 64;
    let mut ix = Index::open_or_create(dir.path(), &meta(dim)).unwrap();
    let vs = vectors(5000, dim, 50, 2);
    let items: Vec<NewItem> = vs
        .iter()
        .enumerate()
        .map(|(i, v)| item(i, v.clone(), "audio"))
        .collect();
    ix.upsert(&items).unwrap();
    let ex = ExactSearcher::load(&ix).unwrap();
    let ann = AnnSearcher::load_or_build(&ix, &ex, &AnnParams::default()).unwrap();
    let queries = vectors(100, dim, 50, 3);
    let recall = |ann: &AnnSearcher| {
        let mut found = 0;
        for q in &queries {
            let truth: Vec<i64> = ex.search(q, 10, None).iter().map(|h| h.id).collect();
            let got: Vec<i64> = ann
                .search(q, 10, None)
                .unwrap()
                .iter()
                .map(|h| h.id)
                .collect();
            found += got.iter().filter(|id| truth.contains(id)).count();
        }
        found as f64 / 1000.0
    };
    for ef in [16, 32, 64, 128, 256] {
        ann.set_expansion_search(ef);
        eprintln!("ef {ef}: recall@10 = {}", recall(&ann));
    }
    ann.set_expansion_search(AnnParams::default().expansion_search);
    let r = recall(&ann);
    assert!(r >= 0.95, "recall@10 {r} at the default ef");
    // Reloaded from its cache, it answers the same.
    let cached = AnnSearcher::load_or_build(&ix, &ex, &AnnParams::default()).unwrap();
    assert_eq!(
        cached.search(&queries[0], 10, None).unwrap(),
        ann.search(&queries[0], 10, None).unwrap()
    );
}
