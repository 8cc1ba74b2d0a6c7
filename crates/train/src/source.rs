//! Training pairs from M4-RAG-style records: the data pipeline ([`crate::data`]) behind the
//! trainer's [`PairSource`], and the set-up of a whole run from a `train.toml`.

use std::path::Path;
use std::sync::Arc;

use candle_core::Device;
use clamp3_input::TextTokenizer;
use clamp3_model::{Clamp3Config, Modality, ModelFiles, Weights};

use crate::config::TrainConfig;
use crate::data::{read_jsonl, sample_pair, screen, split, MusicStore, Pair, Record, SampleConfig};
use crate::params::Params;
use crate::rng::Rng;
use crate::trainer::{PairSource, Trainer};
use crate::TrainError;

/// Records with everything needed to sample pairs from them.
pub struct RecordSource {
    records: Vec<Record>,
    kind: Modality,
    store: Arc<MusicStore>,
    tokenizer: Arc<TextTokenizer>,
    sample: SampleConfig,
}

impl RecordSource {
    /// Number of records.
    pub fn records(&self) -> &[Record] {
        &self.records
    }
}

impl PairSource for RecordSource {
    fn len(&self) -> usize {
        self.records.len()
    }

    fn pair(&self, index: usize, rng: &mut Rng, train: bool) -> Result<Option<Pair>, TrainError> {
        let Some(rec) = self.records.get(index) else {
            return Ok(None);
        };
        // An unusable record (unreadable file, no text...) is skipped, not fatal; the music
        // store remembers why ([`MusicStore::failures`]).
        Ok(sample_pair(
            rec,
            self.kind,
            &self.store,
            &self.tokenizer,
            &self.sample,
            rng,
            train,
        )
        .ok())
    }
}

/// What `prepare` reports about the data.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSummary {
    /// Training records used.
    pub train: usize,
    /// Evaluation records used.
    pub eval: usize,
    /// Records skipped (no text or no file of the stage's modality).
    pub skipped: usize,
}

/// Sets up a run from its configuration: the model (from the initial weights or fresh), the
/// tokenizer, the data, and the trainer (not yet resumed).
pub fn prepare(
    config: TrainConfig,
    device: &Device,
) -> Result<(Trainer<RecordSource>, DataSummary), TrainError> {
    let device = device.clone();
    let (model_cfg, params, tok_default) = match &config.model.init {
        Some(init) => {
            let files = ModelFiles::locate(init).map_err(|e| TrainError::Model(e.to_string()))?;
            let w = Weights::open(&files.weights).map_err(|e| TrainError::Model(e.to_string()))?;
            let p = Params::load(&files.config, &w, &device)?;
            (files.config.clone(), p, files.tokenizer.clone())
        }
        None => {
            let cfg = match &config.model.config {
                Some(p) => {
                    let text = std::fs::read_to_string(p).map_err(|e| TrainError::Io {
                        path: p.clone(),
                        source: e,
                    })?;
                    Clamp3Config::from_json(&text)
                        .map_err(|m| TrainError::Config(format!("{}: {m}", p.display())))?
                }
                None => Clamp3Config::default(),
            };
            let p = Params::init(&cfg, config.train.seed, &device)?;
            (cfg, p, None)
        }
    };
    let tok_path = config
        .model
        .tokenizer
        .clone()
        .or(tok_default)
        .ok_or_else(|| TrainError::Config("no tokenizer: set model.tokenizer".into()))?;
    let tokenizer = Arc::new(
        TextTokenizer::from_file(&tok_path).map_err(|e| TrainError::Model(e.to_string()))?,
    );
    let kind = config.modality()?;
    if kind == Modality::Text {
        return Err(TrainError::Config(
            "the stage's modality must be a music modality".into(),
        ));
    }
    let root = config.data.root.clone().unwrap_or_else(|| {
        config
            .data
            .train
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf()
    });
    let mut store = MusicStore::new(root).with_audio_dim(model_cfg.audio_config.hidden_size);
    if let Some(c) = &config.data.cache {
        store = store.with_cache_dir(c);
    }
    let store = Arc::new(store);
    let data_err = |e: crate::data::DataError| TrainError::Data(e.to_string());
    let train_all = screen(read_jsonl(&config.data.train).map_err(data_err)?, kind);
    let mut skipped = train_all.skipped.len();
    let (train_recs, eval_recs) = match &config.data.eval {
        Some(e) => {
            let ev = screen(read_jsonl(e).map_err(data_err)?, kind);
            skipped += ev.skipped.len();
            (train_all.records, ev.records)
        }
        None => split(
            train_all.records,
            config.data.eval_split,
            &mut Rng::new(config.train.seed),
        ),
    };
    if train_recs.len() < config.train.batch_size {
        return Err(TrainError::Data(format!(
            "{} usable training records: fewer than one batch of {}",
            train_recs.len(),
            config.train.batch_size
        )));
    }
    let sample = SampleConfig::for_model(&model_cfg);
    let summary = DataSummary {
        train: train_recs.len(),
        eval: eval_recs.len(),
        skipped,
    };
    let make = |records: Vec<Record>| RecordSource {
        records,
        kind,
        store: store.clone(),
        tokenizer: tokenizer.clone(),
        sample,
    };
    let mut trainer = Trainer::new(config, params, make(train_recs), make(eval_recs))?;
    trainer.set_tokenizer_file(tok_path);
    Ok((trainer, summary))
}
