//! The TensorBoard event writer against TensorBoard's own writer: the same events give the same
//! bytes (golden from `scripts/golden/gen_tensorboard_golden.py`, which also reads files back).

use std::path::PathBuf;

use clamp3_train::tensorboard::EventWriter;

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

#[test]
fn event_file_is_byte_identical_to_tensorboards() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.out.tfevents.test");
    let long_tag = format!("métrique/{}", "x".repeat(150));
    // Mirrors EVENTS in the golden script.
    let events: [(f64, i64, &str, f32); 6] = [
        (1700000001.5, 1, "train/loss", 3.25),
        (1700000002.75, 2, "train/lr", 1e-3),
        (1700000100.0, 300, "eval/mrr", 0.1425),
        (1700000100.0, 300, "eval/loss", -0.0),
        (1700000100.0, 0, "eval/zero", 0.0),
        (1700000200.125, 1 << 40, &long_tag, 1e-30),
    ];
    let mut w = EventWriter::create_file(&path, 1700000000.25).unwrap();
    for (wall, step, tag, value) in events {
        w.scalar(tag, value, step, wall).unwrap();
    }
    drop(w);
    let got = std::fs::read(&path).unwrap();
    let want = std::fs::read(repo("fixtures/train/tensorboard.tfevents")).unwrap();
    assert_eq!(got.len(), want.len(), "file sizes differ");
    assert!(got == want, "event bytes differ from TensorBoard's");
}

#[test]
fn create_names_the_file_as_tensorboard_does() {
    let dir = tempfile::tempdir().unwrap();
    let w = EventWriter::create(&dir.path().join("tb"), 1700000000.9).unwrap();
    let name = w.path().file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("events.out.tfevents.1700000000."),
        "{name}"
    );
    assert!(w.path().is_file());
}
