//! The embedder: inputs of any kind in, CLaMP 3 embeddings out.
//!
//! A long-lived, thread-safe handle (`Send + Sync`; share it behind an `Arc`), loaded once. Its
//! work comes in two stages, so that a server can pool the inputs of many requests:
//!
//! 1. [`Embedder::prepare`]: an [`Input`] (a string, bytes of a declared kind, or a file) →
//!    [`Prepared`]; CPU work (decoding, conversion, tokenisation, patching, audio decoding and
//!    resampling) that can run on many threads at once;
//! 2. [`Embedder::embed_batch`]: many prepared inputs of any modality → embeddings, in batched
//!    model calls: the MERT windows of all recordings share forward passes, and so do the
//!    segments of all inputs of each encoder.
//!
//! [`Embedder::embed`], [`Embedder::embed_files`] and [`Embedder::embed_text`] do both.

use std::path::Path;
use std::sync::Arc;

use candle_core::Device;
use clamp3_input::{
    Input, InputCause, InputKind, InputRef, PrepareError, Prepared, Preparer, TextTokenizer,
};
use clamp3_model::{BatchLimits, Clamp3Model, Modality, ModelFiles, Parts, Sequence};
use serde::Serialize;

use crate::error::{EmbedError, Error, SystemCause};
use crate::mert::{FeatureError, FeatureExtractor};

/// What an input embeds to.
#[derive(Debug, Clone, PartialEq)]
pub enum Embedding {
    /// The global vector, `[projection_dim]`, raw (not normalised), as the reference's
    /// `--get_global`.
    Global(Vec<f32>),
    /// Sequence mode: pre-projection last hidden states, row-major `[rows, dim]`.
    Sequence {
        /// `rows * dim` values.
        data: Vec<f32>,
        /// One row per input item (token, patch or feature vector).
        rows: usize,
        /// Hidden size.
        dim: usize,
    },
}

impl Embedding {
    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        match self {
            Embedding::Global(v) => v,
            Embedding::Sequence { data, .. } => data,
        }
    }

    /// The shape written to `.npy`: (1, D) for global, (1, L, D) for sequence mode.
    pub fn npy_shape(&self) -> Vec<usize> {
        match self {
            Embedding::Global(v) => vec![1, v.len()],
            Embedding::Sequence { rows, dim, .. } => vec![1, *rows, *dim],
        }
    }

    /// The global vector, or `None` in sequence mode.
    pub fn into_global(self) -> Option<Vec<f32>> {
        match self {
            Embedding::Global(v) => Some(v),
            Embedding::Sequence { .. } => None,
        }
    }
}

/// One line of `clamp3 embed --format jsonl`: where the embedding came from and its values.
#[derive(Debug, Clone, Serialize)]
pub struct EmbeddingRecord<'a> {
    /// The input file.
    pub path: String,
    /// The encoder that read it.
    pub modality: Modality,
    /// (1, D) or (1, L, D).
    pub shape: Vec<usize>,
    /// The values: a vector, or one vector per row in sequence mode (non-finite values as
    /// `null`).
    #[serde(serialize_with = "serialize_embedding")]
    pub embedding: &'a Embedding,
    /// For an image, the caption BLIP wrote (what was embedded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<&'a str>,
}

fn serialize_embedding<S: serde::Serializer>(e: &&Embedding, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    match e {
        Embedding::Global(v) => v.serialize(s),
        Embedding::Sequence { data, dim, .. } => {
            let mut seq = s.serialize_seq(Some(data.len() / (*dim).max(1)))?;
            for row in data.chunks((*dim).max(1)) {
                seq.serialize_element(row)?;
            }
            seq.end()
        }
    }
}

/// An embedding with the caption BLIP wrote for an image input (`None` for other kinds).
pub type Captioned = (Embedding, Option<String>);

/// Per-call settings of the embedder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbedOptions {
    /// Per-position hidden states (sequence mode) instead of the global vector.
    pub sequence: bool,
    /// At most this many segments per encoder forward pass.
    pub max_batch: usize,
    /// At most this many positions (tokens, patches, feature vectors) per forward pass, padding
    /// included. Segments are grouped by length across inputs within both limits, so a short
    /// input is never padded to a long one.
    pub max_positions: usize,
    /// 5 s windows per MERT forward pass (memory grows with it: ~0.3 GB per window). One
    /// window (374 frames) already keeps the products at full speed; two measured 8 % slower.
    pub mert_batch: usize,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        EmbedOptions {
            sequence: false,
            max_batch: BatchLimits::default().max_items,
            max_positions: BatchLimits::DEFAULT_POSITIONS,
            mert_batch: 1,
        }
    }
}

/// Why one prepared input could not be embedded, before it is tied to an input name.
#[derive(Debug, thiserror::Error)]
pub enum Cause {
    /// The input's fault.
    #[error(transparent)]
    Input(#[from] InputCause),
    /// The system's fault.
    #[error(transparent)]
    System(#[from] SystemCause),
}

impl Cause {
    /// The error about `input`.
    pub fn at(self, input: InputRef) -> EmbedError {
        match self {
            Cause::Input(c) => EmbedError::input_cause(input, c),
            Cause::System(c) => EmbedError::system(input, c),
        }
    }
}

impl From<FeatureError> for Cause {
    fn from(e: FeatureError) -> Self {
        match e {
            FeatureError::Input(c) => Cause::Input(c),
            FeatureError::System(c) => Cause::System(c),
        }
    }
}

impl From<PrepareError> for Cause {
    fn from(e: PrepareError) -> Self {
        match e {
            PrepareError::Input(c) => Cause::Input(c),
            PrepareError::NoTokenizer => Cause::System(SystemCause::NoTokenizer),
            PrepareError::NoCaptioner => Cause::System(SystemCause::NoBlip),
            PrepareError::Captioner(e) => Cause::System(SystemCause::Caption(e)),
        }
    }
}

/// Where the companion models are, when not in their default places (`<model dir>/mert` or
/// `<model dir>/blip`, then the download cache).
#[derive(Debug, Clone, Copy, Default)]
pub struct Companions<'a> {
    /// MERT-v1-95M, for recordings.
    pub mert: Option<&'a Path>,
    /// BLIP, for images.
    pub blip: Option<&'a Path>,
}

/// A model part that could not be loaded, and the input kinds that need it.
#[derive(Debug)]
pub struct MissingPart {
    /// The kinds that cannot be embedded without it.
    pub kinds: Vec<InputKind>,
    /// Why it is missing.
    pub error: Error,
}

/// A loaded model with everything needed to prepare its inputs.
#[derive(Debug)]
pub struct Embedder {
    model: Clamp3Model,
    preparer: Preparer,
    mert: Option<FeatureExtractor>,
    files: Option<ModelFiles>,
    model_id: String,
    /// The id this model had before ids came from the weights (name, size and first and last
    /// MiB of the weights file), so that indexes built then are still recognised.
    legacy_model_id: Option<String>,
}

impl Embedder {
    /// Loads the model at `model` (a directory or a weights file) with the encoders of
    /// `modalities` only (all three when empty).
    pub fn load(model: &Path, modalities: &[Modality], device: &Device) -> Result<Self, Error> {
        let (e, missing) = Self::load_parts(model, modalities, device)?;
        match missing.into_iter().next() {
            Some(m) => Err(m.error),
            None => Ok(e),
        }
    }

    /// Like [`Embedder::load`], but a missing tokenizer is reported rather than fatal.
    fn load_parts(
        model: &Path,
        modalities: &[Modality],
        device: &Device,
    ) -> Result<(Self, Vec<MissingPart>), Error> {
        let files = ModelFiles::locate(model)?;
        let parts = if modalities.is_empty() {
            Parts::ALL
        } else {
            Parts::of(modalities.iter().copied())
        };
        let mut missing = Vec::new();
        let tokenizer = if parts.text {
            match &files.tokenizer {
                Some(path) => Some(TextTokenizer::from_file(path)?),
                None => {
                    missing.push(MissingPart {
                        kinds: vec![InputKind::Text, InputKind::Image],
                        error: Error::NoTokenizer {
                            dir: files.dir.clone(),
                        },
                    });
                    None
                }
            }
        } else {
            None
        };
        let weights =
            clamp3_model::Weights::open(&files.weights).map_err(clamp3_model::ModelError::from)?;
        let fingerprint = weights
            .fingerprint()
            .map_err(clamp3_model::ModelError::from)?;
        let model = clamp3_model::load::load_model(&files.config, weights, parts, device)?;
        let mut e = Self::from_parts(model, tokenizer)?;
        e.model_id = model_id(&files.config, Some(&fingerprint));
        e.legacy_model_id = Some(legacy_model_id(&files.config, &files.weights));
        e.files = Some(files);
        Ok((e, missing))
    }

    /// Loads the model with the encoders that inputs of `kinds` need, and MERT when they
    /// include recordings (found by [`crate::hub::locate_mert`] from `mert`).
    pub fn for_kinds(
        model: &Path,
        kinds: &[InputKind],
        mert: Option<&Path>,
        device: &Device,
    ) -> Result<Self, Error> {
        let (e, missing) = Self::for_kinds_partial(model, kinds, mert, device)?;
        match missing.into_iter().next() {
            Some(m) => Err(m.error),
            None => Ok(e),
        }
    }

    /// [`Embedder::for_kinds`] for a batch job: the parts that some kinds need but that cannot
    /// be found (the tokenizer for text, MERT for recordings) are returned rather than fatal,
    /// so that only the inputs needing them fail ([`Embedder::check_kind`] says why).
    pub fn for_kinds_partial(
        model: &Path,
        kinds: &[InputKind],
        mert: Option<&Path>,
        device: &Device,
    ) -> Result<(Self, Vec<MissingPart>), Error> {
        let companions = Companions { mert, blip: None };
        Self::for_kinds_partial_with(model, kinds, &companions, device)
    }

    /// [`Embedder::for_kinds_partial`] with the companion models' folders given.
    pub fn for_kinds_partial_with(
        model: &Path,
        kinds: &[InputKind],
        companions: &Companions,
        device: &Device,
    ) -> Result<(Self, Vec<MissingPart>), Error> {
        let mut modalities: Vec<Modality> = kinds.iter().map(|k| k.modality()).collect();
        modalities.sort();
        modalities.dedup();
        let (mut e, mut missing) = Self::load_parts(model, &modalities, device)?;
        let model_dir = e.files.as_ref().map(|f| f.dir.clone());
        let needing = |f: fn(InputKind) -> bool| -> Vec<InputKind> {
            kinds.iter().copied().filter(|k| f(*k)).collect()
        };
        if kinds.iter().any(|k| k.needs_mert()) {
            match crate::hub::locate_mert(companions.mert, model_dir.as_deref()) {
                Ok(dir) => e.attach_mert(&dir, device)?,
                Err(error) => missing.push(MissingPart {
                    kinds: needing(InputKind::needs_mert),
                    error,
                }),
            }
        }
        if kinds.iter().any(|k| k.needs_blip()) {
            match crate::hub::locate_blip(companions.blip, model_dir.as_deref()) {
                Ok(dir) => e.attach_blip(&dir, device)?,
                Err(error) => missing.push(MissingPart {
                    kinds: needing(InputKind::needs_blip),
                    error,
                }),
            }
        }
        Ok((e, missing))
    }

    /// [`Embedder::for_kinds`] with the companion models' folders given.
    pub fn for_kinds_with(
        model: &Path,
        kinds: &[InputKind],
        companions: &Companions,
        device: &Device,
    ) -> Result<Self, Error> {
        let (e, missing) = Self::for_kinds_partial_with(model, kinds, companions, device)?;
        match missing.into_iter().next() {
            Some(m) => Err(m.error),
            None => Ok(e),
        }
    }

    /// Loads BLIP from `dir` for images.
    pub fn attach_blip(&mut self, dir: &Path, device: &Device) -> Result<(), Error> {
        let captioner = clamp3_blip::Captioner::load(dir, device)?;
        self.preparer = self.preparer.clone().with_captioner(Arc::new(captioner));
        Ok(())
    }

    /// Whether BLIP is loaded (images can be embedded).
    pub fn has_blip(&self) -> bool {
        self.preparer.captioner().is_some()
    }

    /// Wraps an already built model (e.g. with synthetic weights).
    pub fn from_parts(model: Clamp3Model, tokenizer: Option<TextTokenizer>) -> Result<Self, Error> {
        let c = model.config();
        let preparer = Preparer::new(
            tokenizer.map(Arc::new),
            c.patch_size,
            c.audio_config.hidden_size,
        )
        .map_err(|e| clamp3_model::ModelError::Build(e.to_string()))?;
        let id = model_id(c, None);
        Ok(Embedder {
            model,
            preparer,
            model_id: id,
            legacy_model_id: None,
            files: None,
            mert: None,
        })
    }

    /// Loads MERT-v1-95M from `dir` for recordings.
    pub fn attach_mert(&mut self, dir: &Path, device: &Device) -> Result<(), Error> {
        let extractor = FeatureExtractor::load(dir, device)?;
        self.set_mert(extractor)
    }

    /// Uses an already built feature extractor; its MERT width must be the audio encoder's.
    pub fn set_mert(&mut self, extractor: FeatureExtractor) -> Result<(), Error> {
        let audio = self.model.config().audio_config.hidden_size;
        if extractor.hidden_size() != audio {
            return Err(Error::MertWidth {
                mert: extractor.hidden_size(),
                audio,
            });
        }
        self.mert = Some(extractor);
        Ok(())
    }

    /// Opens recordings with `opts` from now on: a duration limit (a longer recording fails
    /// as the input's fault as soon as decoding passes it), or how much of a signal to hold in
    /// memory. Set once, before sharing the embedder.
    pub fn set_recording_options(&mut self, opts: clamp3_audio::MertOptions) {
        self.preparer = self.preparer.clone().with_recording_options(opts);
    }

    /// The model.
    pub fn model(&self) -> &Clamp3Model {
        &self.model
    }

    /// The preparer of this model's inputs.
    pub fn preparer(&self) -> &Preparer {
        &self.preparer
    }

    /// MERT, when it is loaded.
    pub fn mert(&self) -> Option<&FeatureExtractor> {
        self.mert.as_ref()
    }

    /// Identifies the model (configuration and weights file) whose vectors this embedder
    /// makes: vectors of different ids are not comparable.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// The id indexes built before model ids came from the weights recorded for this model.
    pub fn legacy_model_id(&self) -> Option<&str> {
        self.legacy_model_id.as_deref()
    }

    /// Overrides the model id (e.g. for models built in memory).
    pub fn set_model_id(&mut self, id: impl Into<String>) {
        self.model_id = id.into();
    }

    /// The model's files, when it was loaded from disk.
    pub fn files(&self) -> Option<&ModelFiles> {
        self.files.as_ref()
    }

    /// Size of the global vectors.
    pub fn dim(&self) -> usize {
        self.model.config().projection_dim
    }

    /// Whether inputs of `kind` can be embedded, and if not, what is missing.
    pub fn check_kind(&self, kind: InputKind) -> Result<(), SystemCause> {
        let m = kind.modality();
        if !self.model.parts().has(m) {
            return Err(SystemCause::NotLoaded(m));
        }
        if kind.needs_tokenizer() && self.preparer.tokenizer().is_none() {
            return Err(SystemCause::NoTokenizer);
        }
        if kind.needs_blip() && self.preparer.captioner().is_none() {
            return Err(SystemCause::NoBlip);
        }
        if kind.needs_mert() && self.mert.is_none() {
            return Err(SystemCause::NoMert);
        }
        Ok(())
    }

    /// Stage 1: prepares one input (see the module docs). Checks first that this embedder can
    /// embed the input's kind, so a missing model part fails before any decoding.
    pub fn prepare(&self, input: &Input) -> Result<Prepared, Cause> {
        let kind = input.kind().ok_or(InputCause::Unsupported)?;
        self.check_kind(kind)?;
        Ok(self.preparer.prepare(input)?)
    }

    /// Stage 2: embeds prepared inputs (any mix of modalities), one result per input in order.
    pub fn embed_batch(
        &self,
        prepared: &[Prepared],
        opts: &EmbedOptions,
    ) -> Vec<Result<Embedding, Cause>> {
        let mut out: Vec<Option<Result<Embedding, Cause>>> =
            (0..prepared.len()).map(|_| None).collect();
        // Recordings through MERT first, all together.
        let recordings: Vec<(usize, &clamp3_input::audio::Recording)> = prepared
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match p {
                Prepared::Recording(r) => Some((i, r)),
                _ => None,
            })
            .collect();
        let mut from_mert: Vec<(usize, Sequence)> = Vec::new();
        if !recordings.is_empty() {
            match &self.mert {
                None => {
                    for (i, _) in &recordings {
                        out[*i] = Some(Err(SystemCause::NoMert.into()));
                    }
                }
                Some(mert) => {
                    let recs: Vec<&clamp3_input::audio::Recording> =
                        recordings.iter().map(|(_, r)| *r).collect();
                    for ((i, _), f) in recordings
                        .iter()
                        .zip(mert.extract_many(&recs, opts.mert_batch))
                    {
                        match f {
                            Ok(f) => from_mert.push((*i, f.into_sequence())),
                            Err(e) => out[*i] = Some(Err(e.into())),
                        }
                    }
                }
            }
        }
        let mut seqs: Vec<(usize, &Sequence)> = Vec::new();
        for (i, p) in prepared.iter().enumerate() {
            if let Some(s) = p.sequence() {
                if self.model.parts().has(s.modality()) {
                    seqs.push((i, s));
                } else {
                    out[i] = Some(Err(SystemCause::NotLoaded(s.modality()).into()));
                }
            }
        }
        seqs.extend(from_mert.iter().map(|(i, s)| (*i, s)));
        let limits = BatchLimits {
            max_items: opts.max_batch.max(1),
            max_positions: opts.max_positions.max(1),
        };
        if opts.sequence {
            for (i, s) in &seqs {
                out[*i] = Some(self.states(s, &limits));
            }
        } else {
            let refs: Vec<&Sequence> = seqs.iter().map(|(_, s)| *s).collect();
            match self.model.embed_with(&refs, &limits) {
                Ok(vs) => {
                    for ((i, _), v) in seqs.iter().zip(vs) {
                        out[*i] = Some(Ok(Embedding::Global(v)));
                    }
                }
                // A batch failure: retry one by one so that only the culprit fails.
                Err(_) => {
                    for (i, s) in &seqs {
                        out[*i] = Some(
                            self.model
                                .embed_with(&[s], &limits)
                                .map(|mut v| Embedding::Global(v.swap_remove(0)))
                                .map_err(|e| SystemCause::Compute(e).into()),
                        );
                    }
                }
            }
        }
        out.into_iter()
            .map(|r| {
                r.unwrap_or(Err(SystemCause::Compute(candle_core::Error::Msg(
                    "input was not embedded".into(),
                ))
                .into()))
            })
            .collect()
    }

    fn states(&self, s: &Sequence, limits: &BatchLimits) -> Result<Embedding, Cause> {
        let (data, dim) = self
            .model
            .embed_states_with(s, limits)
            .map_err(SystemCause::Compute)?;
        Ok(Embedding::Sequence {
            rows: s.len(),
            data,
            dim,
        })
    }

    /// Both stages for a list of inputs: preparation in parallel, then one batched embedding.
    /// One result per input, in order; errors name the file, or the input's position for
    /// strings and bytes.
    pub fn embed(
        &self,
        inputs: &[Input],
        opts: &EmbedOptions,
    ) -> Vec<Result<Embedding, EmbedError>> {
        self.embed_with_captions(inputs, opts)
            .into_iter()
            .map(|r| r.map(|(e, _)| e))
            .collect()
    }

    /// [`Embedder::embed`], with the caption BLIP wrote for each image input (`None` for the
    /// other kinds), so that a user can see why an image matched.
    pub fn embed_with_captions(
        &self,
        inputs: &[Input],
        opts: &EmbedOptions,
    ) -> Vec<Result<Captioned, EmbedError>> {
        use rayon::prelude::*;
        let refs: Vec<InputRef> = inputs
            .iter()
            .enumerate()
            .map(|(i, input)| match input {
                Input::Path(p) => InputRef::Path(p.clone()),
                _ => InputRef::Item(i),
            })
            .collect();
        let prepared: Vec<Result<Prepared, Cause>> =
            inputs.par_iter().map(|i| self.prepare(i)).collect();
        let mut out: Vec<Option<Result<Captioned, EmbedError>>> =
            (0..inputs.len()).map(|_| None).collect();
        let mut ok_idx = Vec::new();
        let mut ok = Vec::new();
        for (i, p) in prepared.into_iter().enumerate() {
            match p {
                Ok(p) => {
                    ok_idx.push(i);
                    ok.push(p);
                }
                Err(c) => out[i] = Some(Err(c.at(refs[i].clone()))),
            }
        }
        let embedded = self.embed_batch(&ok, opts);
        for ((i, r), p) in ok_idx.into_iter().zip(embedded).zip(&ok) {
            let caption = p.caption().map(str::to_string);
            out[i] = Some(r.map(|e| (e, caption)).map_err(|c| c.at(refs[i].clone())));
        }
        out.into_iter().flatten().collect()
    }

    /// Embeds files, one result per path in order; a bad file fails alone.
    pub fn embed_files(
        &self,
        paths: &[&Path],
        opts: &EmbedOptions,
    ) -> Vec<Result<Embedding, EmbedError>> {
        let inputs: Vec<Input> = paths.iter().map(|p| Input::Path(p.to_path_buf())).collect();
        self.embed(&inputs, opts)
    }

    /// The global embedding of one input.
    pub fn embed_one(&self, input: &Input) -> Result<Vec<f32>, EmbedError> {
        let opts = EmbedOptions::default();
        let r = self.embed(std::slice::from_ref(input), &opts).pop();
        match r {
            Some(Ok(e)) => Ok(e.into_global().unwrap_or_default()),
            Some(Err(e)) => Err(e),
            None => Err(EmbedError::system(
                InputRef::Item(0),
                SystemCause::Compute(candle_core::Error::Msg("input was not embedded".into())),
            )),
        }
    }

    /// The global embedding of a text (content as in a `.txt` file).
    pub fn embed_text(&self, content: &str) -> Result<Vec<f32>, EmbedError> {
        self.embed_one(&Input::Text(content.to_string()))
    }
}

/// The id ([`model_id`]) of the model in `files`, without loading it (the weights are opened
/// and fingerprinted): what [`Embedder::model_id`] gives once it is loaded.
pub fn model_id_of(files: &ModelFiles) -> Result<String, Error> {
    let weights =
        clamp3_model::Weights::open(&files.weights).map_err(clamp3_model::ModelError::from)?;
    let fingerprint = weights
        .fingerprint()
        .map_err(clamp3_model::ModelError::from)?;
    Ok(model_id(&files.config, Some(&fingerprint)))
}

/// A short identity of a model, `weights:<hex>`: SHA-256 over its configuration and the
/// fingerprint of its weights ([`clamp3_model::Weights::fingerprint`]), so the id comes from the
/// weights themselves, not from the file they are stored in (a converted checkpoint keeps it);
/// `memory:<hex>` over the configuration alone for models built in memory.
pub fn model_id(config: &clamp3_model::Clamp3Config, fingerprint: Option<&str>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(serde_json::to_string(config).unwrap_or_default().as_bytes());
    let kind = match fingerprint {
        Some(f) => {
            h.update(f.as_bytes());
            "weights"
        }
        None => "memory",
    };
    let hex: String = h
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{kind}:{hex}")
}

/// The model id of earlier versions, `file:<hex>`: SHA-256 over the configuration and the weights
/// file's name, size and first and last MiB. Only used to recognise indexes built with it.
pub fn legacy_model_id(config: &clamp3_model::Clamp3Config, weights: &Path) -> String {
    use sha2::{Digest, Sha256};
    use std::io::{Read, Seek, SeekFrom};
    let mut h = Sha256::new();
    h.update(serde_json::to_string(config).unwrap_or_default().as_bytes());
    h.update(
        weights
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .as_bytes(),
    );
    if let Ok(mut f) = std::fs::File::open(weights) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        h.update(len.to_le_bytes());
        let mut buf = vec![0u8; 1 << 20];
        let n = f.read(&mut buf).unwrap_or(0);
        h.update(&buf[..n]);
        if len > (2 << 20) && f.seek(SeekFrom::End(-(1 << 20))).is_ok() {
            let n = f.read(&mut buf).unwrap_or(0);
            h.update(&buf[..n]);
        }
    }
    let hex: String = h
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("file:{hex}")
}
