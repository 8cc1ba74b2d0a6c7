//! The embedder: files (or strings) in, CLaMP 3 embeddings out.

use std::path::Path;

use candle_core::Device;
use clamp3_audio::AudioSource;
use clamp3_formats::patch::Patchilizer;
use clamp3_formats::{npy, text};
use clamp3_model::{Clamp3Model, Modality, ModelFiles, Parts, Sequence};

use crate::features::FeatureExtractor;

use crate::input::{InputCause, InputError, InputKind};
use crate::tokenizer::TextTokenizer;
use crate::Error;

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
}

/// A loaded model with its tokenizer and patchilizer.
#[derive(Debug)]
pub struct Embedder {
    model: Clamp3Model,
    tokenizer: Option<TextTokenizer>,
    patchilizer: Patchilizer,
    files: Option<ModelFiles>,
    model_id: String,
    mert: Option<FeatureExtractor>,
    /// Segments per forward pass.
    pub max_batch: usize,
}

impl Embedder {
    /// Loads the model at `model` (a directory or a weights file) with the encoders of
    /// `modalities` only (all three when empty).
    pub fn load(model: &Path, modalities: &[Modality], device: &Device) -> Result<Self, Error> {
        let files = ModelFiles::locate(model)?;
        let parts = if modalities.is_empty() {
            Parts::ALL
        } else {
            Parts::of(modalities.iter().copied())
        };
        let tokenizer = if parts.text {
            let path = files.tokenizer.clone().ok_or_else(|| Error::NoTokenizer {
                dir: files.dir.clone(),
            })?;
            Some(TextTokenizer::from_file(&path)?)
        } else {
            None
        };
        let model = files.load(parts, device)?;
        let mut e = Self::from_parts(model, tokenizer);
        e.model_id = model_id(&files.config, Some(&files.weights));
        e.files = Some(files);
        Ok(e)
    }

    /// Wraps an already built model (e.g. with synthetic weights).
    pub fn from_parts(model: Clamp3Model, tokenizer: Option<TextTokenizer>) -> Self {
        let patchilizer =
            Patchilizer::with_patch_size(model.config().patch_size).unwrap_or_default();
        let id = model_id(model.config(), None);
        Embedder {
            model,
            tokenizer,
            patchilizer,
            model_id: id,
            files: None,
            mert: None,
            max_batch: 8,
        }
    }

    /// Attaches MERT-v1-95M for audio files: from `explicit` if given, else the model
    /// directory's `mert/` folder, else the download cache (`clamp3 download mert`).
    pub fn attach_mert(&mut self, explicit: Option<&Path>, device: &Device) -> Result<(), Error> {
        let candidates: Vec<std::path::PathBuf> = match explicit {
            Some(p) => vec![p.to_path_buf()],
            None => self
                .files
                .iter()
                .map(|f| f.dir.join("mert"))
                .chain(std::iter::once(crate::hub::mert_dir()))
                .collect(),
        };
        let Some(dir) = candidates.iter().find(|p| p.exists()) else {
            return Err(Error::Input(InputError::new(
                candidates
                    .first()
                    .map_or(Path::new("mert"), |p| p.as_path()),
                InputCause::NoMert,
            )));
        };
        let extractor = FeatureExtractor::load(dir, device)?;
        self.set_mert(extractor)
    }

    /// Uses an already built feature extractor; its MERT width must be the audio encoder's.
    pub fn set_mert(&mut self, extractor: FeatureExtractor) -> Result<(), Error> {
        let dim = self.model.config().audio_config.hidden_size;
        if extractor.hidden_size() != dim {
            return Err(Error::Model(clamp3_model::ModelError::Build(format!(
                "MERT hidden_size {} does not match the audio encoder's {dim}",
                extractor.hidden_size()
            ))));
        }
        self.mert = Some(extractor);
        Ok(())
    }

    /// MERT features of a recording (see [`FeatureExtractor::extract`]).
    pub fn audio_features(&self, source: &AudioSource) -> Result<(Vec<f32>, usize), InputCause> {
        self.mert
            .as_ref()
            .ok_or(InputCause::NoMert)?
            .extract(source)
    }

    /// The model.
    pub fn model(&self) -> &Clamp3Model {
        &self.model
    }

    /// Identifies the model (configuration and weights file) whose vectors this embedder
    /// makes: vectors of different ids are not comparable.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// Overrides the model id (e.g. for models built in memory).
    pub fn set_model_id(&mut self, id: impl Into<String>) {
        self.model_id = id.into();
    }

    /// The model's files, when it was loaded from disk.
    pub fn files(&self) -> Option<&ModelFiles> {
        self.files.as_ref()
    }

    /// Token ids of a text, as the reference prepares a `.txt` file's content.
    pub fn text_sequence(&self, content: &str) -> Result<Sequence, InputCause> {
        let prepared = text::prepare_text(content);
        if prepared.is_empty() {
            return Err(InputCause::EmptyText);
        }
        let tok = self
            .tokenizer
            .as_ref()
            .ok_or_else(|| InputCause::Model("the text encoder is not loaded".into()))?;
        Ok(Sequence::Text(
            tok.encode(&prepared).map_err(InputCause::Tokenizer)?,
        ))
    }

    /// Patches of interleaved ABC or MTF text.
    pub fn symbolic_sequence(&self, content: &str) -> Result<Sequence, InputCause> {
        let patches = self.patchilizer.encode(content)?;
        Ok(Sequence::Symbolic {
            patch_size: patches.patch_size(),
            ids: patches.to_u32_vec(),
        })
    }

    /// Audio sequence from MERT features `[N, D]` (zero BOS/EOS vectors added).
    pub fn features_sequence(&self, shape: &[usize], data: &[f32]) -> Result<Sequence, InputCause> {
        let dim = self.model.config().audio_config.hidden_size;
        match shape {
            [1, n, d] if *d == dim && *n > 0 => {}
            _ => {
                return Err(InputCause::FeatureShape {
                    found: shape.to_vec(),
                    dim,
                })
            }
        }
        if data.iter().any(|v| !v.is_finite()) {
            return Err(InputCause::Invalid(
                "features contain NaN or infinite values".into(),
            ));
        }
        Ok(Sequence::audio(data, dim))
    }

    /// Reads and prepares one input file.
    pub fn prepare(&self, path: &Path) -> Result<Sequence, InputError> {
        let kind =
            InputKind::of(path).ok_or_else(|| InputError::new(path, InputCause::Unsupported))?;
        if kind == InputKind::Audio {
            // Streamed from the file (never read whole): long recordings stay in bounded memory.
            let dim = self.model.config().audio_config.hidden_size;
            return self
                .audio_features(&AudioSource::path(path))
                .map(|(f, _)| Sequence::audio(&f, dim))
                .map_err(|c| InputError::new(path, c));
        }
        let bytes = std::fs::read(path).map_err(|e| InputError::new(path, e))?;
        self.prepare_bytes(kind, &bytes)
            .map_err(|c| InputError::new(path, c))
    }

    /// Prepares the content of an input of `kind`.
    pub fn prepare_bytes(&self, kind: InputKind, bytes: &[u8]) -> Result<Sequence, InputCause> {
        match kind {
            InputKind::Text => {
                self.text_sequence(&text::read_text(bytes).map_err(InputCause::NotUtf8)?)
            }
            InputKind::Mtf => {
                self.symbolic_sequence(&text::read_text(bytes).map_err(InputCause::NotUtf8)?)
            }
            InputKind::Abc => {
                let abc = text::read_text(bytes).map_err(InputCause::NotUtf8)?;
                self.symbolic_sequence(&crate::convert::abc_for_model(&abc)?)
            }
            InputKind::Midi => self.symbolic_sequence(&clamp3_formats::mtf::midi_to_mtf(bytes)?),
            InputKind::MusicXml => {
                // An archive is recognised by content here; the reference's member rule first,
                // then the archive's container for scores the reference cannot read.
                let compressed = bytes.starts_with(b"PK\x03\x04");
                let abc = crate::convert::musicxml_to_abc(bytes, compressed, true)?;
                self.symbolic_sequence(&clamp3_formats::interleave::interleave_abc(&abc)?)
            }
            InputKind::Audio => {
                let dim = self.model.config().audio_config.hidden_size;
                let src = AudioSource::Bytes(std::sync::Arc::from(bytes), None);
                self.audio_features(&src)
                    .map(|(f, _)| Sequence::audio(&f, dim))
            }
            InputKind::Features => {
                let a = npy::read_npy(bytes)?;
                self.features_sequence(&a.shape, &a.data)
            }
        }
    }

    /// Embeds prepared sequences (any mix of modalities), batching their segments.
    pub fn embed_sequences(&self, seqs: &[&Sequence]) -> Result<Vec<Vec<f32>>, Error> {
        Ok(self.model.embed(seqs, self.max_batch)?)
    }

    /// Sequence-mode states of one prepared sequence.
    pub fn embed_sequence_states(&self, seq: &Sequence) -> Result<Embedding, Error> {
        let (data, dim) = self.model.embed_states(seq, self.max_batch)?;
        Ok(Embedding::Sequence {
            rows: seq.len(),
            data,
            dim,
        })
    }

    /// The global embedding of a text (content as in a `.txt` file).
    pub fn embed_text(&self, content: &str) -> Result<Vec<f32>, Error> {
        let seq = self
            .text_sequence(content)
            .map_err(|c| InputError::new(Path::new("<text>"), c))?;
        Ok(self.embed_sequences(&[&seq])?.remove(0))
    }

    /// Embeds files, returning one result per path in order. Bad files give an error for
    /// that file only. With `sequence`, returns per-item states instead of global vectors.
    pub fn embed_files(
        &self,
        paths: &[&Path],
        sequence: bool,
    ) -> Vec<Result<Embedding, InputError>> {
        use rayon::prelude::*;
        // MERT runs inside `prepare` for recordings and uses every core itself: those files are
        // prepared one at a time, the others in parallel.
        let is_audio = |p: &Path| InputKind::of(p) == Some(InputKind::Audio);
        let mut prepared: Vec<Option<Result<Sequence, InputError>>> = paths
            .par_iter()
            .map(|p| {
                if is_audio(p) {
                    None
                } else {
                    Some(self.prepare(p))
                }
            })
            .collect();
        for (slot, p) in prepared.iter_mut().zip(paths) {
            if slot.is_none() {
                *slot = Some(self.prepare(p));
            }
        }
        let prepared: Vec<Result<Sequence, InputError>> = prepared.into_iter().flatten().collect();
        let mut out: Vec<Option<Result<Embedding, InputError>>> = Vec::with_capacity(paths.len());
        let mut ok_idx = Vec::new();
        let mut ok_seqs = Vec::new();
        for (i, r) in prepared.into_iter().enumerate() {
            match r {
                Ok(s) => {
                    ok_idx.push(i);
                    ok_seqs.push(s);
                    out.push(None);
                }
                Err(e) => out.push(Some(Err(e))),
            }
        }
        if sequence {
            for (i, s) in ok_idx.iter().zip(&ok_seqs) {
                out[*i] = Some(
                    self.embed_sequence_states(s)
                        .map_err(|e| InputError::new(paths[*i], InputCause::Model(e.to_string()))),
                );
            }
        } else {
            let refs: Vec<&Sequence> = ok_seqs.iter().collect();
            match self.embed_sequences(&refs) {
                Ok(vs) => {
                    for (i, v) in ok_idx.iter().zip(vs) {
                        out[*i] = Some(Ok(Embedding::Global(v)));
                    }
                }
                // A batch failure: retry one by one so that only the culprit fails.
                Err(_) => {
                    for (i, s) in ok_idx.iter().zip(&ok_seqs) {
                        out[*i] = Some(
                            self.embed_sequences(&[s])
                                .map(|mut v| Embedding::Global(v.remove(0)))
                                .map_err(|e| {
                                    InputError::new(paths[*i], InputCause::Model(e.to_string()))
                                }),
                        );
                    }
                }
            }
        }
        out.into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(InputError::new(
                        Path::new("?"),
                        InputCause::Model("not embedded".into()),
                    ))
                })
            })
            .collect()
    }
}

/// A short identity of a model: SHA-256 over its configuration and, for weights on disk, the
/// file's name, size and first and last MiB (cheap, yet changes with any other checkpoint).
pub fn model_id(config: &clamp3_model::Clamp3Config, weights: Option<&Path>) -> String {
    use sha2::{Digest, Sha256};
    use std::io::{Read, Seek, SeekFrom};
    let mut h = Sha256::new();
    h.update(serde_json::to_string(config).unwrap_or_default().as_bytes());
    let mut kind = "memory";
    if let Some(w) = weights {
        kind = "file";
        h.update(
            w.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
                .as_bytes(),
        );
        if let Ok(mut f) = std::fs::File::open(w) {
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
    }
    let hex: String = h
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{kind}:{hex}")
}
