//! Half-precision and quantised copies of model weights (`docs/quantize.md`).
//!
//! A [`Recipe`] says, per kind of tensor, how it is stored: linear weights and the word-embedding
//! table (the bulk of the parameters) in the chosen format; LayerNorms, biases, convolutions,
//! position tables and other small tensors stay f32. Half precision alone is written as
//! safetensors (`F16`/`BF16` tensors); any block format makes a GGUF file (GGML's
//! `Q8_0`/`Q4_K` blocks along each row, candle's types and kernels), written one tensor at a
//! time so that the input (memory-mapped) and at most one tensor's conversion are in memory.
//! [`crate::Weights`] opens either, dequantising to f32 as a tensor is loaded.

use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use candle_core::quantized::{GgmlDType, QStorage, QTensor};
use candle_core::{Device, Tensor};
use rayon::prelude::*;

use crate::weights::{Dtype, StoredType, Weights, WeightsError};

/// A storage format a recipe can choose for a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// 32-bit floats (the tensor is kept as it is).
    F32,
    /// IEEE half precision.
    F16,
    /// bfloat16.
    Bf16,
    /// GGML `Q8_0`: blocks of 32 int8 with one f16 scale (8.5 bits per weight).
    Q8_0,
    /// GGML `Q4_K`: super-blocks of 256 4-bit values with 6-bit sub-block scales and minimums
    /// (4.5 bits per weight); rows whose length is not a multiple of 256 fall back to `Q4_0`
    /// (blocks of 32, 4.5 bits).
    Q4K,
    /// GGML `Q6_K`: super-blocks of 256 6-bit values with 8-bit sub-block scales (6.5625 bits
    /// per weight); rows whose length is not a multiple of 256 fall back to `Q8_0`.
    Q6K,
}

impl Format {
    /// Every format, in the order of the report.
    pub const ALL: [Format; 6] = [
        Format::F32,
        Format::F16,
        Format::Bf16,
        Format::Q8_0,
        Format::Q6K,
        Format::Q4K,
    ];

    /// The format's name as written by users: `f32`, `f16`, `bf16`, `q8_0`, `q6_k`, `q4_k`.
    pub fn name(self) -> &'static str {
        match self {
            Format::F32 => "f32",
            Format::F16 => "f16",
            Format::Bf16 => "bf16",
            Format::Q8_0 => "q8_0",
            Format::Q4K => "q4_k",
            Format::Q6K => "q6_k",
        }
    }

    /// Parses a format name (case-insensitive).
    pub fn parse(s: &str) -> Result<Format, QuantError> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| QuantError::UnknownFormat(s.to_string()))
    }

    fn is_block(self) -> bool {
        matches!(self, Format::Q8_0 | Format::Q6K | Format::Q4K)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which format each kind of tensor gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipe {
    /// Linear weights (attention, projections, MERT's feature projection, M3's patch
    /// embedding) and, unless `embeddings` says otherwise, the word-embedding table.
    pub base: Format,
    /// The feed-forward linears (intermediate and output), when they differ from `base`.
    pub ffn: Option<Format>,
    /// The word-embedding table, when it differs from `base`.
    pub embeddings: Option<Format>,
}

impl Recipe {
    /// Every eligible tensor in `format`.
    pub fn uniform(format: Format) -> Self {
        Recipe {
            base: format,
            ffn: None,
            embeddings: None,
        }
    }

    /// A name for the recipe: the base format, then `-ffn-<f>` / `-emb-<f>` for the parts that
    /// differ (`q8_0`, `q8_0-ffn-q4_k`).
    pub fn name(&self) -> String {
        let mut s = self.base.name().to_string();
        if let Some(f) = self.ffn.filter(|&f| f != self.base) {
            s += &format!("-ffn-{f}");
        }
        if let Some(f) = self.embeddings.filter(|&f| f != self.base) {
            s += &format!("-emb-{f}");
        }
        s
    }

    fn formats(&self) -> impl Iterator<Item = Format> {
        [Some(self.base), self.ffn, self.embeddings]
            .into_iter()
            .flatten()
    }

    /// Whether the result is a GGUF file (some format is a block format) rather than
    /// safetensors.
    pub fn is_gguf(&self) -> bool {
        self.formats().any(Format::is_block)
    }

    /// The weights file name the recipe writes: `model.gguf` or `model.safetensors`.
    pub fn file_name(&self) -> &'static str {
        if self.is_gguf() {
            "model.gguf"
        } else {
            "model.safetensors"
        }
    }

    /// How the tensor `name` of `shape` is stored under this recipe.
    pub fn stored_type(&self, name: &str, shape: &[usize]) -> StoredType {
        let format = match role(name, shape) {
            Role::Keep => Format::F32,
            Role::Embedding => self.embeddings.unwrap_or(self.base),
            Role::Linear { ffn: true } => self.ffn.unwrap_or(self.base),
            Role::Linear { ffn: false } => self.base,
        };
        let cols = shape.last().copied().unwrap_or(0);
        match format {
            Format::F32 => StoredType::Plain(Dtype::F32),
            Format::F16 => StoredType::Plain(Dtype::F16),
            Format::Bf16 => StoredType::Plain(Dtype::BF16),
            Format::Q8_0 if cols % 32 == 0 => StoredType::Block(GgmlDType::Q8_0),
            Format::Q4K if cols % 256 == 0 => StoredType::Block(GgmlDType::Q4K),
            Format::Q4K if cols % 32 == 0 => StoredType::Block(GgmlDType::Q4_0),
            Format::Q6K if cols % 256 == 0 => StoredType::Block(GgmlDType::Q6K),
            Format::Q6K if cols % 32 == 0 => StoredType::Block(GgmlDType::Q8_0),
            // Rows that split into no blocks: half precision.
            Format::Q8_0 | Format::Q4K | Format::Q6K => StoredType::Plain(Dtype::F16),
        }
    }
}

/// What part a tensor plays, for the recipe.
enum Role {
    Keep,
    Embedding,
    Linear { ffn: bool },
}

fn role(name: &str, shape: &[usize]) -> Role {
    if shape.len() != 2 {
        // Biases, LayerNorms, convolutions.
        return Role::Keep;
    }
    if name.ends_with("word_embeddings.weight") {
        return Role::Embedding;
    }
    // The other tables are small (positions, token types) and read a row per position.
    let table = [
        "position_embeddings",
        "token_type_embeddings",
        "LayerNorm",
        "layer_norm",
    ]
    .iter()
    .any(|t| name.contains(t));
    if table || !name.ends_with(".weight") {
        return Role::Keep;
    }
    let ffn = [
        "intermediate.dense",
        "output.dense",
        "feed_forward.intermediate_dense",
        "feed_forward.output_dense",
    ]
    .iter()
    .any(|t| name.contains(t))
        && !name.contains("attention.");
    Role::Linear { ffn }
}

/// Why weights could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum QuantError {
    /// A format name that is not one of `f32`, `f16`, `bf16`, `q8_0`, `q6_k`, `q4_k`.
    #[error("unknown format `{0}` (f32, f16, bf16, q8_0, q6_k or q4_k)")]
    UnknownFormat(String),
    /// The input weights could not be read.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// The input is already quantised: converting it again would compound the error.
    #[error("{}: tensor `{key}` is already quantised ({stored}); convert from the f32 model", path.display())]
    AlreadyQuantised {
        /// The input file.
        path: PathBuf,
        /// The tensor.
        key: String,
        /// How it is stored.
        stored: StoredType,
    },
    /// A tensor could not be converted.
    #[error("tensor `{key}`: {msg}")]
    Convert {
        /// The tensor.
        key: String,
        /// What went wrong.
        msg: String,
    },
    /// The output could not be written.
    #[error("{}: {source}", path.display())]
    Write {
        /// The output file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What a conversion wrote.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The weights file written.
    pub file: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Per stored type: number of tensors and of parameters.
    pub by_type: Vec<(String, usize, usize)>,
    /// Integer tensors left out of a GGUF file (buffers such as `position_ids`).
    pub skipped: Vec<String>,
}

/// Converts every tensor of `weights` as `recipe` says into the file `out` (GGUF or
/// safetensors, see [`Recipe::is_gguf`]), atomically: `out` appears only when complete.
/// `metadata` goes into a GGUF file's header as strings (e.g. the recipe and the source's
/// fingerprint).
pub fn convert(
    weights: &Weights,
    recipe: &Recipe,
    out: &Path,
    metadata: &[(&str, &str)],
) -> Result<Summary, QuantError> {
    let mut names: Vec<&str> = weights.names();
    names.sort_unstable();
    let mut plan = Vec::with_capacity(names.len());
    let mut skipped = Vec::new();
    for name in names {
        let (stored, shape, _) = weights.raw(name)?;
        let source = match stored {
            StoredType::Plain(d @ (Dtype::F32 | Dtype::F16 | Dtype::BF16 | Dtype::F64)) => d,
            StoredType::Plain(d) => {
                // Integer buffers (e.g. a saved `position_ids`): copied into safetensors;
                // GGUF (as candle reads it) has no integer tensors, and no model reads them.
                if recipe.is_gguf() {
                    skipped.push(name.to_string());
                } else {
                    plan.push(Planned {
                        name: name.to_string(),
                        shape: shape.to_vec(),
                        source: d,
                        target: StoredType::Plain(d),
                    });
                }
                continue;
            }
            StoredType::Block(_) => {
                return Err(QuantError::AlreadyQuantised {
                    path: weights.path().to_path_buf(),
                    key: name.to_string(),
                    stored,
                })
            }
        };
        let target = recipe.stored_type(name, shape);
        plan.push(Planned {
            name: name.to_string(),
            shape: shape.to_vec(),
            source,
            target,
        });
    }
    let write_err = |e: std::io::Error| QuantError::Write {
        path: out.to_path_buf(),
        source: e,
    };
    let mut failed: Option<QuantError> = None;
    let result = if recipe.is_gguf() {
        clamp3_util::fs::write_atomic_via_path(out, |tmp| {
            write_gguf(weights, &plan, metadata, tmp).map_err(|e| {
                let msg = e.to_string();
                failed = Some(e);
                std::io::Error::other(msg)
            })
        })
    } else {
        clamp3_util::fs::write_atomic_via_path(out, |tmp| {
            write_safetensors(weights, &plan, tmp).map_err(|e| {
                let msg = e.to_string();
                failed = Some(e);
                std::io::Error::other(msg)
            })
        })
    };
    if let Err(e) = result {
        return Err(failed.unwrap_or_else(|| write_err(e)));
    }
    let bytes = std::fs::metadata(out).map_err(write_err)?.len();
    let mut by_type: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for p in &plan {
        let e = by_type.entry(p.target.to_string()).or_default();
        e.0 += 1;
        e.1 += p.shape.iter().product::<usize>();
    }
    Ok(Summary {
        file: out.to_path_buf(),
        bytes,
        by_type: by_type.into_iter().map(|(k, (n, p))| (k, n, p)).collect(),
        skipped,
    })
}

struct Planned {
    name: String,
    shape: Vec<usize>,
    source: Dtype,
    target: StoredType,
}

impl Planned {
    fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Bytes of the converted tensor.
    fn size(&self) -> usize {
        match self.target {
            StoredType::Plain(d) => self.numel() * plain_size(d),
            StoredType::Block(g) => self.numel() / g.block_size() * g.type_size(),
        }
    }

    /// Converts the tensor, `rows` rows at a time in parallel, handing each converted run of
    /// rows to `sink` in order.
    fn convert(
        &self,
        weights: &Weights,
        mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<(), QuantError> {
        let (_, _, bytes) = weights.raw(&self.name)?;
        let cols = self.shape.last().copied().unwrap_or(1).max(1);
        let in_row = cols * plain_size(self.source);
        let err = |msg: String| QuantError::Convert {
            key: self.name.clone(),
            msg,
        };
        if bytes.len() != self.numel() * plain_size(self.source) {
            return Err(err(format!(
                "{} bytes stored for shape {:?}",
                bytes.len(),
                self.shape
            )));
        }
        // About 4 MiB of input per task, a few tasks per thread in flight.
        let rows_per_task = (4 << 20) / in_row.max(1) + 1;
        let tasks_per_round = rayon::current_num_threads() * 2;
        for round in bytes.chunks(in_row * rows_per_task * tasks_per_round) {
            if self.target == StoredType::Plain(self.source) {
                // Kept as it is (f32, or an integer buffer).
                sink(round).map_err(|e| QuantError::Write {
                    path: weights.path().to_path_buf(),
                    source: e,
                })?;
                weights.release(round);
                continue;
            }
            let parts: Vec<Result<Vec<u8>, String>> = round
                .par_chunks(in_row * rows_per_task)
                .map(|chunk| {
                    let values = crate::weights::to_f32(chunk, self.source)
                        .ok_or_else(|| format!("cannot read {:?} values", self.source))?;
                    encode(&values, self.target)
                })
                .collect();
            for part in parts {
                sink(&part.map_err(err)?).map_err(|e| QuantError::Write {
                    path: weights.path().to_path_buf(),
                    source: e,
                })?;
            }
            // The input pages of this run are no longer needed.
            weights.release(round);
        }
        weights.release(bytes);
        Ok(())
    }
}

fn plain_size(d: Dtype) -> usize {
    match d {
        Dtype::F64 | Dtype::I64 => 8,
        Dtype::F32 | Dtype::I32 => 4,
        Dtype::F16 | Dtype::BF16 | Dtype::I16 => 2,
        Dtype::I8 | Dtype::U8 | Dtype::Bool => 1,
    }
}

/// `values` (whole rows) in the stored type, little-endian.
fn encode(values: &[f32], target: StoredType) -> Result<Vec<u8>, String> {
    Ok(match target {
        StoredType::Plain(Dtype::F32) => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        StoredType::Plain(Dtype::F16) => values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect(),
        StoredType::Plain(Dtype::BF16) => values
            .iter()
            .flat_map(|&v| half::bf16::from_f32(v).to_le_bytes())
            .collect(),
        StoredType::Plain(d) => return Err(format!("cannot store as {d:?}")),
        StoredType::Block(g) => {
            let t = Tensor::from_slice(values, values.len(), &Device::Cpu)
                .map_err(|e| e.to_string())?;
            let q = QTensor::quantize(&t, g).map_err(|e| e.to_string())?;
            q.data().map_err(|e| e.to_string())?.into_owned()
        }
    })
}

/// GGML block storage from `bytes`: candle reads blocks in place and requires them aligned
/// to their type (a GGUF file with an odd `general.alignment` can leave them misaligned), so
/// misaligned bytes are first copied into an 8-byte-aligned buffer.
fn block_storage(bytes: &[u8], g: GgmlDType) -> candle_core::Result<QStorage> {
    if (bytes.as_ptr() as usize).is_multiple_of(8) {
        return QStorage::from_data(std::borrow::Cow::Borrowed(bytes), &Device::Cpu, g);
    }
    let mut words = vec![0u64; bytes.len().div_ceil(8)];
    // SAFETY: `words` owns at least `bytes.len()` bytes; u64 has no invalid bit patterns.
    let buf =
        unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), bytes.len()) };
    buf.copy_from_slice(bytes);
    QStorage::from_data(std::borrow::Cow::Borrowed(&*buf), &Device::Cpu, g)
}

/// Decodes `numel` values stored as GGML blocks of type `g` (in parallel over runs of
/// blocks).
pub fn dequantize(bytes: &[u8], g: GgmlDType, numel: usize) -> candle_core::Result<Vec<f32>> {
    let (block, size) = (g.block_size(), g.type_size());
    if !numel.is_multiple_of(block) || bytes.len() != numel / block * size {
        candle_core::bail!(
            "{} bytes of {g:?} for {numel} values (blocks of {block} in {size} bytes)",
            bytes.len()
        );
    }
    const BLOCKS_PER_TASK: usize = 1 << 14;
    let mut out = vec![0f32; numel];
    out.par_chunks_mut(block * BLOCKS_PER_TASK)
        .zip(bytes.par_chunks(size * BLOCKS_PER_TASK))
        .try_for_each(|(dst, src)| -> candle_core::Result<()> {
            let q = QTensor::new(block_storage(src, g)?, dst.len())?;
            let t = q.dequantize(&Device::Cpu)?;
            dst.copy_from_slice(&t.to_vec1::<f32>()?);
            Ok(())
        })?;
    Ok(out)
}

/// The tensors of `weights` converted into `stored` formats, as a GGUF file (version 3,
/// 32-byte alignment) at `path`. Streams: the header first (every size is known from the
/// plan), then each tensor as it is converted.
fn write_gguf(
    weights: &Weights,
    plan: &[Planned],
    metadata: &[(&str, &str)],
    path: &Path,
) -> Result<(), QuantError> {
    const ALIGN: usize = 32;
    let werr = |e: std::io::Error| QuantError::Write {
        path: path.to_path_buf(),
        source: e,
    };
    let file = std::fs::File::create(path).map_err(werr)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let string = |w: &mut std::io::BufWriter<std::fs::File>, s: &str| -> std::io::Result<()> {
        w.write_all(&(s.len() as u64).to_le_bytes())?;
        w.write_all(s.as_bytes())
    };
    let header = |w: &mut std::io::BufWriter<std::fs::File>| -> std::io::Result<()> {
        w.write_all(b"GGUF")?;
        w.write_all(&3u32.to_le_bytes())?;
        w.write_all(&(plan.len() as u64).to_le_bytes())?;
        w.write_all(&(metadata.len() as u64 + 1).to_le_bytes())?;
        string(w, "general.alignment")?;
        w.write_all(&4u32.to_le_bytes())?; // U32
        w.write_all(&(ALIGN as u32).to_le_bytes())?;
        for (k, v) in metadata {
            string(w, k)?;
            w.write_all(&8u32.to_le_bytes())?; // String
            string(w, v)?;
        }
        let mut offset = 0usize;
        for p in plan {
            string(w, &p.name)?;
            w.write_all(&(p.shape.len() as u32).to_le_bytes())?;
            for &d in p.shape.iter().rev() {
                w.write_all(&(d as u64).to_le_bytes())?;
            }
            let ggml = match p.target {
                StoredType::Plain(Dtype::F32) => GgmlDType::F32,
                StoredType::Plain(Dtype::F16) => GgmlDType::F16,
                StoredType::Plain(Dtype::BF16) => GgmlDType::BF16,
                StoredType::Plain(d) => {
                    return Err(std::io::Error::other(format!("no GGUF type for {d:?}")))
                }
                StoredType::Block(g) => g,
            };
            w.write_all(&ggml_code(ggml)?.to_le_bytes())?;
            w.write_all(&(offset as u64).to_le_bytes())?;
            offset += p.size().div_ceil(ALIGN) * ALIGN;
        }
        Ok(())
    };
    header(&mut w).map_err(werr)?;
    let pad = |w: &mut std::io::BufWriter<std::fs::File>| -> std::io::Result<()> {
        let at = w.stream_position()? as usize;
        w.write_all(&vec![0u8; at.div_ceil(ALIGN) * ALIGN - at])
    };
    pad(&mut w).map_err(werr)?;
    for p in plan {
        let mut written = 0usize;
        p.convert(weights, |b| {
            written += b.len();
            w.write_all(b)
        })?;
        if written != p.size() {
            return Err(QuantError::Convert {
                key: p.name.clone(),
                msg: format!("wrote {written} bytes, expected {}", p.size()),
            });
        }
        pad(&mut w).map_err(werr)?;
    }
    w.into_inner()
        .map_err(|e| werr(e.into_error()))?
        .sync_all()
        .map_err(werr)
}

/// GGML's type number (the GGUF tensor-info field) of the types written here.
fn ggml_code(g: GgmlDType) -> std::io::Result<u32> {
    Ok(match g {
        GgmlDType::F32 => 0,
        GgmlDType::F16 => 1,
        GgmlDType::Q4_0 => 2,
        GgmlDType::Q8_0 => 8,
        GgmlDType::Q4K => 12,
        GgmlDType::Q6K => 14,
        GgmlDType::BF16 => 30,
        other => return Err(std::io::Error::other(format!("{other:?} is not written"))),
    })
}

/// The tensors converted into plain formats, as safetensors at `path`: the header (sizes from
/// the plan), then each tensor as it is converted.
fn write_safetensors(weights: &Weights, plan: &[Planned], path: &Path) -> Result<(), QuantError> {
    let werr = |e: std::io::Error| QuantError::Write {
        path: path.to_path_buf(),
        source: e,
    };
    // safetensors wants tensors laid out in header order; a BTreeMap sorts by name, as `plan`.
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for p in plan {
        let dtype = match p.target {
            StoredType::Plain(Dtype::F32) => "F32",
            StoredType::Plain(Dtype::F16) => "F16",
            StoredType::Plain(Dtype::BF16) => "BF16",
            StoredType::Plain(Dtype::F64) => "F64",
            StoredType::Plain(Dtype::I64) => "I64",
            StoredType::Plain(Dtype::I32) => "I32",
            StoredType::Plain(Dtype::I16) => "I16",
            StoredType::Plain(Dtype::I8) => "I8",
            StoredType::Plain(Dtype::U8) => "U8",
            StoredType::Plain(Dtype::Bool) => "BOOL",
            other => {
                return Err(QuantError::Convert {
                    key: p.name.clone(),
                    msg: format!("{other} cannot be stored in safetensors"),
                })
            }
        };
        header.insert(
            p.name.clone(),
            serde_json::json!({
                "dtype": dtype,
                "shape": p.shape,
                "data_offsets": [offset, offset + p.size()],
            }),
        );
        offset += p.size();
    }
    let mut text = serde_json::Value::Object(header).to_string().into_bytes();
    // Pad the header with spaces to 8 bytes, as the safetensors writer does.
    text.resize(text.len().div_ceil(8) * 8, b' ');
    let file = std::fs::File::create(path).map_err(werr)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    w.write_all(&(text.len() as u64).to_le_bytes())
        .and_then(|()| w.write_all(&text))
        .map_err(werr)?;
    for p in plan {
        p.convert(weights, |b| w.write_all(b))?;
    }
    w.into_inner()
        .map_err(|e| werr(e.into_error()))?
        .sync_all()
        .map_err(werr)
}

thread_local! {
    /// The weights being loaded on this thread inside a [`QuantizedLoad`].
    static LOADING: std::cell::RefCell<Option<std::sync::Arc<Weights>>> =
        const { std::cell::RefCell::new(None) };
}

/// 0: not decided yet (the environment decides), 1: off, 2: on.
static QUANTIZED_MATMUL: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Turns the quantised products on or off for models loaded afterwards. Off (the default,
/// unless the environment variable `CLAMP3_QUANTIZED_MATMUL=1` is set), the layers' block-
/// quantised weights are dequantised to f32 at load and multiply at f32 GEMM speed; on, they
/// stay in their blocks and multiply through candle's quantised kernels (activations quantised
/// to 8 bits on the fly): about 1.2 GB less memory for the official model with its MERT, but
/// slower and less exact on the machines measured (docs/quantize.md). Word-embedding tables
/// stay in their blocks either way (a lookup dequantises the rows it reads: the same values).
pub fn set_quantized_matmul(on: bool) {
    QUANTIZED_MATMUL.store(if on { 2 } else { 1 }, std::sync::atomic::Ordering::Relaxed);
}

/// Whether models loaded now multiply on the quantised blocks (see [`set_quantized_matmul`]).
pub fn quantized_matmul() -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    match QUANTIZED_MATMUL.load(Relaxed) {
        0 => {
            let on = std::env::var("CLAMP3_QUANTIZED_MATMUL").is_ok_and(|v| v == "1");
            // A concurrent `set_quantized_matmul` wins.
            let _ = QUANTIZED_MATMUL.compare_exchange(0, if on { 2 } else { 1 }, Relaxed, Relaxed);
            QUANTIZED_MATMUL.load(Relaxed) == 2
        }
        v => v == 2,
    }
}

/// 0: not decided yet (the environment decides), 1: off, 2: on.
static TILE_PRODUCTS: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Turns the bf16 tile products on or off for models loaded afterwards. On (the default, unless
/// the environment variable `CLAMP3_TILE_PRODUCTS=0` is set) and on a CPU with AMX-BF16 tiles
/// ([`crate::kernels::bf16_tiles::available`]), the transformer layers' linears of a model whose
/// weights are stored in bf16 or GGML blocks (`q8_0`, `q6_k`, `q4_k`, mixed recipes) are held
/// in bf16 and multiply on the tiles, activations rounded to bf16: 2.2x the f32 model's items/s
/// end to end at the official size (docs/quantize.md). Off, or without the tiles, they are
/// dequantised to f32 as before. f32 and f16 models always multiply in f32.
/// [`quantized_matmul`], when on, takes precedence.
pub fn set_tile_products(on: bool) {
    TILE_PRODUCTS.store(if on { 2 } else { 1 }, std::sync::atomic::Ordering::Relaxed);
}

/// Whether models loaded now put their reduced-precision linears on the bf16 tiles (see
/// [`set_tile_products`]): the setting, and a CPU that has the tiles.
pub fn tile_products() -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    let on = match TILE_PRODUCTS.load(Relaxed) {
        0 => {
            let on = std::env::var("CLAMP3_TILE_PRODUCTS").map_or(true, |v| v != "0");
            // A concurrent `set_tile_products` wins.
            let _ = TILE_PRODUCTS.compare_exchange(0, if on { 2 } else { 1 }, Relaxed, Relaxed);
            TILE_PRODUCTS.load(Relaxed) == 2
        }
        v => v == 2,
    };
    on && crate::kernels::bf16_tiles::available()
}

/// Whether the weights being loaded on this thread (inside a [`QuantizedLoad`]) store `name`
/// in a format that the bf16 tiles take without losing what the format kept: GGML blocks or
/// bf16. f16 is left out: its 11-bit mantissa would be rounded to bf16's 8 (measured on the
/// official size: min cosine to f32 0.99975 on the tiles against 0.999997 in f32); a user who
/// wants the tiles' speed at half precision converts to bf16.
pub(crate) fn scoped_tile_format(name: &str) -> bool {
    LOADING.with(|l| {
        l.borrow().as_ref().is_some_and(|w| {
            matches!(
                w.stored_type(name),
                Some(StoredType::Block(_)) | Some(StoredType::Plain(Dtype::BF16))
            )
        })
    })
}

/// While alive, the word-embedding tables (and, with [`quantized_matmul`], the transformer-layer
/// linears) that the encoders load on this thread keep their GGML blocks when `weights` stores
/// them so (lookups dequantise only the rows they read; products run through candle's quantised
/// kernels), f32 word-embedding tables are read in place ([`MappedTable`]), and the linears go
/// on the bf16 tiles where [`tile_products`] says so; everything else loads as f32 through the
/// `VarBuilder` as usual. For CPU inference only.
pub struct QuantizedLoad {
    previous: Option<std::sync::Arc<Weights>>,
}

impl QuantizedLoad {
    /// Makes `weights` the source of quantised tensors on this thread until dropped.
    pub fn enter(weights: std::sync::Arc<Weights>) -> Self {
        let previous = LOADING.with(|l| l.replace(Some(weights)));
        QuantizedLoad { previous }
    }
}

impl Drop for QuantizedLoad {
    fn drop(&mut self) {
        let previous = self.previous.take();
        LOADING.with(|l| *l.borrow_mut() = previous);
    }
}

/// The tensor `name` as GGML blocks when a [`QuantizedLoad`] is active on this thread and its
/// weights store it in blocks (`None` otherwise); an error when its shape is not `expected`.
pub(crate) fn scoped_block_tensor(
    name: &str,
    expected: &[usize],
) -> candle_core::Result<Option<QTensor>> {
    scoped(name, expected)
}

/// A lookup table `[rows, cols]` read in place from memory-mapped weights, stored as f32, f16,
/// bf16 or GGML blocks along each row: a lookup decodes only the rows it reads, so the table
/// costs neither a copy at load (the XLM-R vocabulary is 768 MB in f32: most of a text model's
/// load time went into allocating and filling it; 204 MB of `Q8_0` blocks) nor resident memory
/// beyond the rows in use (file pages, shared with the page cache). Same values as the table
/// decoded into memory.
#[derive(Clone)]
pub(crate) struct MappedTable {
    weights: std::sync::Arc<Weights>,
    name: String,
    rows: usize,
    cols: usize,
    stored: StoredType,
    /// Bytes per row.
    row_bytes: usize,
}

impl std::fmt::Debug for MappedTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedTable")
            .field("name", &self.name)
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .finish_non_exhaustive()
    }
}

impl MappedTable {
    /// `[rows, cols]`.
    pub(crate) fn dims(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Rows `ids` one after another (`ids.len() · cols` values); an error for an id outside
    /// the table.
    pub(crate) fn rows(&self, ids: &[u32]) -> candle_core::Result<Vec<f32>> {
        let (_, _, bytes) = self
            .weights
            .raw(&self.name)
            .map_err(candle_core::Error::wrap)?;
        let width = self.row_bytes;
        let row = |id: u32| -> candle_core::Result<&[u8]> {
            let id = id as usize;
            match bytes.get(id * width..(id + 1) * width) {
                Some(r) if id < self.rows => Ok(r),
                _ => candle_core::bail!("{}: row {id} outside the {} rows", self.name, self.rows),
            }
        };
        let mut out = Vec::with_capacity(ids.len() * self.cols);
        match self.stored {
            StoredType::Block(g) => {
                // The rows' blocks side by side, decoded at once.
                let mut blocks = Vec::with_capacity(ids.len() * width);
                for &id in ids {
                    blocks.extend_from_slice(row(id)?);
                }
                return dequantize(&blocks, g, ids.len() * self.cols);
            }
            StoredType::Plain(d @ (Dtype::F16 | Dtype::BF16)) => {
                let decode: fn([u8; 2]) -> f32 = if d == Dtype::F16 {
                    |b| half::f16::from_le_bytes(b).to_f32()
                } else {
                    |b| half::bf16::from_le_bytes(b).to_f32()
                };
                for &id in ids {
                    out.extend(row(id)?.chunks_exact(2).map(|b| decode([b[0], b[1]])));
                }
            }
            _ => {
                for &id in ids {
                    out.extend(
                        row(id)?
                            .chunks_exact(4)
                            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    );
                }
            }
        }
        Ok(out)
    }
}

/// The table `name` read in place ([`MappedTable`]) when a [`QuantizedLoad`] is active on this
/// thread and its weights store `name` as f32, f16, bf16 or GGML blocks (little-endian, as
/// every format read here is); `None` when there is no scope or another type (the caller
/// loads it as usual); an error when its shape is not `expected` or its bytes do not match.
pub(crate) fn scoped_mapped_table(
    name: &str,
    expected: &[usize],
) -> candle_core::Result<Option<MappedTable>> {
    let Some(weights) = LOADING.with(|l| l.borrow().clone()) else {
        return Ok(None);
    };
    let Ok((stored, shape, bytes)) = weights.raw(name) else {
        // Missing: the VarBuilder reports it, naming the key.
        return Ok(None);
    };
    let &[rows, cols] = expected else {
        return Ok(None);
    };
    check_shape(&weights, name, expected, shape)?;
    let row_bytes = match stored {
        StoredType::Plain(Dtype::F32) => cols * 4,
        StoredType::Plain(Dtype::F16 | Dtype::BF16) => cols * 2,
        StoredType::Block(g) if cols.is_multiple_of(g.block_size()) => {
            cols / g.block_size() * g.type_size()
        }
        _ => return Ok(None),
    };
    if bytes.len() != rows * row_bytes {
        candle_core::bail!(
            "{}: tensor `{name}` holds {} bytes, not {rows} rows of {row_bytes}",
            weights.path().display(),
            bytes.len()
        );
    }
    Ok(Some(MappedTable {
        name: name.to_string(),
        weights: weights.clone(),
        rows,
        cols,
        stored,
        row_bytes,
    }))
}

/// An error naming the file and tensor when a scoped tensor's `shape` is not `expected`.
fn check_shape(
    weights: &Weights,
    name: &str,
    expected: &[usize],
    shape: &[usize],
) -> candle_core::Result<()> {
    if shape == expected {
        return Ok(());
    }
    Err(candle_core::Error::wrap(WeightsError::Shape {
        path: weights.path().to_path_buf(),
        key: name.to_string(),
        expected: expected.to_vec(),
        found: shape.to_vec(),
    }))
}

fn scoped(name: &str, expected: &[usize]) -> candle_core::Result<Option<QTensor>> {
    let Some(weights) = LOADING.with(|l| l.borrow().clone()) else {
        return Ok(None);
    };
    let g = match weights.stored_type(name) {
        Some(StoredType::Block(g)) => g,
        _ => return Ok(None),
    };
    let (_, shape, bytes) = weights.raw(name).map_err(candle_core::Error::wrap)?;
    check_shape(&weights, name, expected, shape)?;
    let q = QTensor::new(block_storage(bytes, g)?, shape)?;
    weights.release(bytes);
    Ok(Some(q))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks at an odd address (possible in a GGUF file with an odd alignment) decode like
    /// aligned ones instead of tripping candle's alignment assertion.
    #[test]
    fn misaligned_blocks_decode() {
        let values: Vec<f32> = (0..256).map(|i| (i as f32 - 128.0) / 100.0).collect();
        for g in [GgmlDType::Q8_0, GgmlDType::Q4K] {
            let bytes = encode(&values, StoredType::Block(g)).unwrap();
            let want = dequantize(&bytes, g, values.len()).unwrap();
            let mut shifted = vec![0u8; bytes.len() + 1];
            shifted[1..].copy_from_slice(&bytes);
            let got = dequantize(&shifted[1..], g, values.len()).unwrap();
            assert_eq!(got, want, "{g:?}");
            let err = values
                .iter()
                .zip(&got)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err < 0.1, "{g:?}: max error {err}");
        }
    }
}
