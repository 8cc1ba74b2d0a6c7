//! The PostgreSQL + pgvector backend against a real server (see `pg_server`): the same store
//! behaviour as the SQLite index, the same exact top-k, HNSW recall, the model-identity check
//! and two writers at once.

mod pg_server;

use clamp3_index::{
    AnnParams, ExactSearcher, Index, IndexError, IndexMeta, NewItem, PgIndex, Store,
};

const DIM: usize = 48;

fn meta(model: &str) -> IndexMeta {
    IndexMeta {
        model_id: model.into(),
        dim: DIM,
    }
}

/// Vectors around 50 cluster centres (like embeddings of a varied collection), unnormalised.
fn items(n: usize, seed: u64) -> Vec<NewItem> {
    let mut s = seed;
    let mut rnd = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / 16_777_216.0) - 0.5
    };
    let centres: Vec<f32> = (0..50 * DIM).map(|_| rnd()).collect();
    (0..n)
        .map(|i| {
            let c = &centres[(i % 50) * DIM..(i % 50 + 1) * DIM];
            let scale = 1.0 + (i % 7) as f32;
            NewItem {
                path: format!("/music/{i:05}.abc"),
                hash: format!("h{i}"),
                modality: ["symbolic", "audio", "text"][i % 3].into(),
                metadata: serde_json::json!({ "n": i }),
                vector: c.iter().map(|x| scale * (x + 0.4 * rnd())).collect(),
            }
        })
        .collect()
}

#[test]
fn exact_search_gives_the_embedded_index_top_k_and_hnsw_finds_most_of_it() {
    let url = pg_server::fresh_database("topk");
    let all = items(3000, 7);
    let mut pg = PgIndex::open_or_create(&url, &meta("m1")).unwrap();
    for chunk in all.chunks(500) {
        pg.put(chunk).unwrap();
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut lite = Index::open_or_create(tmp.path(), &meta("m1")).unwrap();
    lite.upsert(&all).unwrap();
    let exact = ExactSearcher::load(&lite).unwrap();
    let path_of = |store: &mut dyn Store, ids: &[i64]| -> Vec<String> {
        store
            .items_by_id(ids)
            .unwrap()
            .into_iter()
            .map(|i| i.path)
            .collect()
    };
    let (mut found, mut wanted) = (0usize, 0usize);
    for (q, modality) in [
        (3, None),
        (101, Some("text")),
        (2024, None),
        (555, Some("symbolic")),
    ]
    .into_iter()
    .chain((0..12).map(|i| (i * 211 + 5, None)))
    {
        let query = &all[q].vector;
        let a = exact.search(query, 10, modality);
        let b = pg.search_exact(query, 10, modality).unwrap();
        let ids_a: Vec<i64> = a.iter().map(|h| h.id).collect();
        let ids_b: Vec<i64> = b.iter().map(|h| h.id).collect();
        let paths_a = path_of(&mut lite, &ids_a);
        let paths_b = path_of(&mut pg, &ids_b);
        assert_eq!(paths_a, paths_b, "query {q}");
        for (x, y) in a.iter().zip(&b) {
            assert!(
                (x.score - y.score).abs() < 1e-5,
                "{} vs {}",
                x.score,
                y.score
            );
        }
        assert_eq!(
            paths_a[0], all[q].path,
            "a stored vector finds itself first"
        );
        if let Some(m) = modality {
            let items = pg.items_by_id(&ids_b).unwrap();
            assert!(items.iter().all(|i| i.modality == m));
        }
        // pgvector HNSW on the same query.
        let h = pg
            .search_hnsw(query, 10, modality, &AnnParams::default())
            .unwrap();
        assert_eq!(h.len(), 10, "the iterative scan fills k even with a filter");
        let got = path_of(&mut pg, &h.iter().map(|x| x.id).collect::<Vec<_>>());
        found += got.iter().filter(|p| paths_a.contains(p)).count();
        wanted += paths_a.len();
    }
    let recall = found as f64 / wanted as f64;
    eprintln!("pgvector HNSW recall@10 on 3000 vectors: {recall:.3}");
    assert!(recall >= 0.9, "recall@10 {recall}");
    assert_eq!(pg.hnsw_params().unwrap(), Some((16, 128)));
    // Other build parameters replace the index.
    let p = AnnParams {
        connectivity: 8,
        expansion_add: 32,
        expansion_search: 40,
    };
    assert!(pg.ensure_hnsw(&p).unwrap());
    assert!(!pg.ensure_hnsw(&p).unwrap());
    assert_eq!(pg.hnsw_params().unwrap(), Some((8, 32)));
    assert!(pg.server_version().unwrap().contains("pgvector 0.8"));
}

#[test]
fn the_store_is_incremental_like_the_embedded_one() {
    let url = pg_server::fresh_database("store");
    assert!(matches!(
        PgIndex::open(&url),
        Err(IndexError::NoIndexAt { .. })
    ));
    let mut pg = PgIndex::open_or_create(&url, &meta("m1")).unwrap();
    let mut it = items(6, 1);
    let g0 = pg.generation().unwrap();
    let u = pg.put(&it).unwrap();
    assert_eq!((u.inserted, u.updated, u.unchanged), (6, 0, 0));
    assert_eq!(pg.generation().unwrap(), g0 + 1);
    // The same content again changes nothing, not even the generation.
    let u = pg.put(&it).unwrap();
    assert_eq!((u.inserted, u.updated, u.unchanged), (0, 0, 6));
    assert_eq!(pg.generation().unwrap(), g0 + 1);
    assert_eq!(pg.count().unwrap(), 6);
    assert_eq!(
        pg.stored_hash("/music/00002.abc").unwrap().as_deref(),
        Some("h2")
    );
    assert_eq!(pg.stored_hash("/nowhere").unwrap(), None);
    // Replacing by path keeps one row and its id.
    let before = pg.search_exact(&it[2].vector, 1, None).unwrap()[0].id;
    it[2].hash = "changed".into();
    let u = pg.put(&it[2..4]).unwrap();
    assert_eq!((u.inserted, u.updated, u.unchanged), (0, 1, 1));
    assert_eq!(pg.count().unwrap(), 6);
    assert_eq!(
        pg.stored_hash("/music/00002.abc").unwrap().as_deref(),
        Some("changed")
    );
    let item = pg.items_by_id(&[before]).unwrap().remove(0);
    assert_eq!(item.hash, "changed");
    assert_eq!(item.metadata, serde_json::json!({ "n": 2 }));
    assert_eq!(
        pg.count_by_modality()
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![
            ("audio".into(), 2),
            ("symbolic".into(), 2),
            ("text".into(), 2)
        ]
    );
    // Pruning.
    let n = pg
        .remove_unless(&|p: &str| !p.ends_with("1.abc") && !p.ends_with("4.abc"))
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(pg.count().unwrap(), 4);
    assert_eq!(pg.remove_unless(&|_: &str| true).unwrap(), 0);
    // Settings, the dimension check, the consistency check.
    assert_eq!(pg.get_setting("model_path").unwrap(), None);
    pg.put_setting("model_path", "/models/saas.pth").unwrap();
    pg.put_setting("model_path", "/models/c2.pth").unwrap();
    assert_eq!(
        pg.get_setting("model_path").unwrap().as_deref(),
        Some("/models/c2.pth")
    );
    let mut bad = items(1, 2);
    bad[0].vector.pop();
    assert!(matches!(pg.put(&bad), Err(IndexError::Dimension { .. })));
    assert!(matches!(
        pg.search_exact(&[1.0; 3], 1, None),
        Err(IndexError::Dimension { .. })
    ));
    assert_eq!(pg.check().unwrap(), "ok");
    // Reopened by another client: the same state.
    let mut again = PgIndex::open(&url).unwrap();
    assert_eq!(again.count().unwrap(), 4);
    assert_eq!(Store::meta(&again), &meta("m1"));
}

#[test]
fn another_model_or_dimension_is_refused() {
    let url = pg_server::fresh_database("identity");
    drop(PgIndex::open_or_create(&url, &meta("model-a")).unwrap());
    let e = PgIndex::open_or_create(&url, &meta("model-b")).unwrap_err();
    assert!(matches!(e, IndexError::ModelMismatch { .. }), "{e}");
    let e = PgIndex::open_or_create(
        &url,
        &IndexMeta {
            model_id: "model-a".into(),
            dim: DIM + 1,
        },
    )
    .unwrap_err();
    assert!(matches!(e, IndexError::Dimension { .. }), "{e}");
    // Errors name the database without its password.
    let e = PgIndex::open("postgresql://me:secret@127.0.0.1:1/nowhere").unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("me:***@127.0.0.1:1") && !msg.contains("secret"),
        "{msg}"
    );
}

#[test]
fn two_writers_at_once_lose_nothing() {
    let url = pg_server::fresh_database("writers");
    drop(PgIndex::open_or_create(&url, &meta("m1")).unwrap());
    let all = items(600, 3);
    // Writer A stores items 0..400 front to back, writer B 200..600 back to front, in batches
    // of 10, so they overlap on 200..400 in opposite orders.
    let a: Vec<NewItem> = all[..400].to_vec();
    let mut b: Vec<NewItem> = all[200..].to_vec();
    b.reverse();
    let threads: Vec<_> = [a, b]
        .into_iter()
        .map(|part| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut pg = PgIndex::open_or_create(&url, &meta("m1")).unwrap();
                let (mut changed_batches, mut sum) = (0u64, [0usize; 3]);
                for chunk in part.chunks(10) {
                    let u = pg.put(chunk).unwrap();
                    changed_batches += u64::from(u.inserted + u.updated > 0);
                    sum[0] += u.inserted;
                    sum[1] += u.updated;
                    sum[2] += u.unchanged;
                }
                (changed_batches, sum)
            })
        })
        .collect();
    let (mut changed_batches, mut sum) = (0u64, [0usize; 3]);
    for t in threads {
        let (c, s) = t.join().unwrap();
        changed_batches += c;
        for k in 0..3 {
            sum[k] += s[k];
        }
    }
    let mut pg = PgIndex::open(&url).unwrap();
    assert_eq!(pg.count().unwrap(), 600);
    // Each of the 600 items was stored by exactly one writer; the other found it unchanged.
    assert_eq!(sum, [600, 0, 200], "inserted, updated, unchanged");
    assert_eq!(
        pg.generation().unwrap(),
        changed_batches,
        "every batch that changed something committed once"
    );
    for i in [0, 250, 399, 599] {
        let hits = pg.search_exact(&all[i].vector, 1, None).unwrap();
        let item = pg.items_by_id(&[hits[0].id]).unwrap().remove(0);
        assert_eq!(item.path, all[i].path);
        assert!((hits[0].score - 1.0).abs() < 1e-5);
    }
}
