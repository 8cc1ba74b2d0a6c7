//! Model weights from a `.pth` (release layout) or `.safetensors` file, memory-mapped and
//! checked tensor by tensor against the shapes the model expects.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Shape, Tensor};
use memmap2::Mmap;

use candle_core::quantized::GgmlDType;
use clamp3_pth::{PthError, TensorRef, TorchArchive};

/// Why weights could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a valid checkpoint.
    #[error("{}: {msg}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// A tensor the model needs is not in the file.
    #[error("{}: missing tensor `{key}`", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// The state-dict key.
        key: String,
    },
    /// A tensor has another shape than the model configuration implies.
    #[error("{}: tensor `{key}` has shape {found:?}, expected {expected:?} (does config.json match the weights?)", path.display())]
    Shape {
        /// The file.
        path: PathBuf,
        /// The state-dict key.
        key: String,
        /// Shape implied by the configuration.
        expected: Vec<usize>,
        /// Shape stored in the file.
        found: Vec<usize>,
    },
    /// A tensor has an element type that cannot be used as model weights.
    #[error("{}: tensor `{key}` has unsupported type {dtype:?}", path.display())]
    Dtype {
        /// The file.
        path: PathBuf,
        /// The state-dict key.
        key: String,
        /// Its element type.
        dtype: Dtype,
    },
    /// The torch checkpoint could not be read.
    #[error(transparent)]
    Pth(#[from] PthError),
    /// A tensor could not be created.
    #[error("tensor `{key}`: {source}")]
    Candle {
        /// The state-dict key.
        key: String,
        /// The underlying error.
        source: candle_core::Error,
    },
}

/// Element types of stored tensors.
pub use clamp3_pth::Dtype;

/// How a tensor is stored: plain elements, or GGML blocks (a quantised GGUF tensor, see
/// [`crate::quant`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredType {
    /// One element after another, of this type.
    Plain(Dtype),
    /// GGML quantisation blocks (`Q8_0`, `Q4K`, ...) along the last axis.
    Block(GgmlDType),
}

impl std::fmt::Display for StoredType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoredType::Plain(d) => write!(f, "{d:?}"),
            StoredType::Block(g) => write!(f, "{g:?}"),
        }
    }
}

trait SafetensorsDtype: Sized {
    fn from_safetensors(d: safetensors::Dtype) -> Option<Self>;
    fn to_safetensors(self) -> safetensors::Dtype;
}

impl SafetensorsDtype for Dtype {
    fn from_safetensors(d: safetensors::Dtype) -> Option<Self> {
        use safetensors::Dtype as S;
        Some(match d {
            S::F32 => Dtype::F32,
            S::F16 => Dtype::F16,
            S::BF16 => Dtype::BF16,
            S::F64 => Dtype::F64,
            S::I64 => Dtype::I64,
            S::I32 => Dtype::I32,
            S::I16 => Dtype::I16,
            S::I8 => Dtype::I8,
            S::U8 => Dtype::U8,
            S::BOOL => Dtype::Bool,
            _ => return None,
        })
    }

    fn to_safetensors(self) -> safetensors::Dtype {
        use safetensors::Dtype as S;
        match self {
            Dtype::F32 => S::F32,
            Dtype::F16 => S::F16,
            Dtype::BF16 => S::BF16,
            Dtype::F64 => S::F64,
            Dtype::I64 => S::I64,
            Dtype::I32 => S::I32,
            Dtype::I16 => S::I16,
            Dtype::I8 => S::I8,
            Dtype::U8 => S::U8,
            Dtype::Bool => S::BOOL,
        }
    }
}

struct StInfo {
    dtype: Dtype,
    shape: Vec<usize>,
    range: (usize, usize),
}

struct GgufInfo {
    stored: StoredType,
    shape: Vec<usize>,
    range: (usize, usize),
}

enum Source {
    Gguf {
        mmap: Mmap,
        tensors: BTreeMap<String, GgufInfo>,
        metadata: Vec<(String, String)>,
    },
    Pth {
        archive: TorchArchive,
        tensors: BTreeMap<String, TensorRef>,
    },
    Safetensors {
        mmap: Mmap,
        tensors: BTreeMap<String, StInfo>,
    },
}

/// A set of named tensors, read lazily from a memory-mapped checkpoint.
pub struct Weights {
    path: PathBuf,
    source: Source,
}

impl std::fmt::Debug for Weights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Weights")
            .field("path", &self.path)
            .field("tensors", &self.len())
            .finish()
    }
}

impl Weights {
    /// Opens a `.pth`/`.bin` (torch zip), `.safetensors` or `.gguf` file, told apart by content.
    ///
    /// For torch files the state dict is the `model` entry when there is one (the CLaMP 3
    /// release layout; optimizer and other entries are ignored), else `state_dict`, else the
    /// top-level dict itself (e.g. a Hugging Face `pytorch_model.bin`).
    pub fn open(path: &Path) -> Result<Self, WeightsError> {
        let mut head = [0u8; 4];
        {
            use std::io::Read;
            let mut f = File::open(path).map_err(|e| WeightsError::Io {
                path: path.to_path_buf(),
                source: e,
            })?;
            let n = f.read(&mut head).map_err(|e| WeightsError::Io {
                path: path.to_path_buf(),
                source: e,
            })?;
            if n < 4 {
                return Err(WeightsError::Invalid {
                    path: path.to_path_buf(),
                    msg: "file is too short to be a checkpoint".into(),
                });
            }
        }
        if &head == b"GGUF" {
            return Self::open_gguf(path);
        }
        if &head == b"PK\x03\x04" {
            let archive = TorchArchive::open(path)?;
            let key = ["model", "state_dict"]
                .into_iter()
                .find(|k| archive.root().get(k).and_then(|v| v.as_dict()).is_some());
            let tensors = archive.state_dict(key)?;
            Ok(Weights {
                path: path.to_path_buf(),
                source: Source::Pth { archive, tensors },
            })
        } else {
            Self::open_safetensors(path)
        }
    }

    fn open_safetensors(path: &Path) -> Result<Self, WeightsError> {
        let file = File::open(path).map_err(|e| WeightsError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        // SAFETY: read-only mapping; the file must not be truncated while in use.
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| WeightsError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let (header_len, meta) =
            safetensors::SafeTensors::read_metadata(&mmap).map_err(|e| WeightsError::Invalid {
                path: path.to_path_buf(),
                msg: format!("neither a torch zip archive nor a valid safetensors file ({e})"),
            })?;
        let base = 8 + header_len;
        let mut tensors = BTreeMap::new();
        for (name, info) in meta.tensors() {
            let dtype =
                Dtype::from_safetensors(info.dtype).ok_or_else(|| WeightsError::Invalid {
                    path: path.to_path_buf(),
                    msg: format!("tensor `{name}` has unsupported type {:?}", info.dtype),
                })?;
            let (s, e) = info.data_offsets;
            tensors.insert(
                name.clone(),
                StInfo {
                    dtype,
                    shape: info.shape.clone(),
                    range: (base + s, base + e),
                },
            );
        }
        Ok(Weights {
            path: path.to_path_buf(),
            source: Source::Safetensors { mmap, tensors },
        })
    }

    fn open_gguf(path: &Path) -> Result<Self, WeightsError> {
        let invalid = |msg: String| WeightsError::Invalid {
            path: path.to_path_buf(),
            msg,
        };
        let file = File::open(path).map_err(|e| WeightsError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        // SAFETY: read-only mapping; the file must not be truncated while in use.
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| WeightsError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let content =
            candle_core::quantized::gguf_file::Content::read(&mut std::io::Cursor::new(&mmap[..]))
                .map_err(|e| {
                    // candle attaches a backtrace when RUST_BACKTRACE is set: the message is the cause.
                    let e = match e {
                        candle_core::Error::WithBacktrace { inner, .. } => *inner,
                        e => e,
                    };
                    invalid(format!("not a valid GGUF file ({e})"))
                })?;
        let base = usize::try_from(content.tensor_data_offset)
            .map_err(|_| invalid("GGUF data offset out of range".into()))?;
        let mut tensors = BTreeMap::new();
        for (name, info) in &content.tensor_infos {
            let shape = info.shape.dims().to_vec();
            let numel = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            let block = info.ggml_dtype.block_size();
            let (stored, size) = match (numel, info.ggml_dtype) {
                (None, _) => {
                    return Err(invalid(format!(
                        "tensor `{name}`: shape {shape:?} overflows"
                    )))
                }
                (Some(n), GgmlDType::F32) => (StoredType::Plain(Dtype::F32), n.checked_mul(4)),
                (Some(n), GgmlDType::F16) => (StoredType::Plain(Dtype::F16), n.checked_mul(2)),
                (Some(n), GgmlDType::BF16) => (StoredType::Plain(Dtype::BF16), n.checked_mul(2)),
                (Some(n), g) => {
                    if shape.last().is_none_or(|&c| c % block != 0) {
                        return Err(invalid(format!(
                            "tensor `{name}`: shape {shape:?} does not split into {g:?} blocks of {block}"
                        )));
                    }
                    (StoredType::Block(g), (n / block).checked_mul(g.type_size()))
                }
            };
            let start = usize::try_from(info.offset)
                .ok()
                .and_then(|o| base.checked_add(o));
            let range = match (start, size) {
                (Some(s), Some(n)) => s.checked_add(n).map(|e| (s, e)),
                _ => None,
            };
            let range = match range {
                Some(r) if r.1 <= mmap.len() => r,
                _ => {
                    return Err(invalid(format!(
                        "tensor `{name}` lies outside the file (truncated?)"
                    )))
                }
            };
            tensors.insert(
                name.clone(),
                GgufInfo {
                    stored,
                    shape,
                    range,
                },
            );
        }
        let mut metadata: Vec<(String, String)> = content
            .metadata
            .iter()
            .filter_map(|(k, v)| match v {
                candle_core::quantized::gguf_file::Value::String(s) => Some((k.clone(), s.clone())),
                candle_core::quantized::gguf_file::Value::U32(n) => {
                    Some((k.clone(), n.to_string()))
                }
                _ => None,
            })
            .collect();
        metadata.sort();
        Ok(Weights {
            path: path.to_path_buf(),
            source: Source::Gguf {
                mmap,
                tensors,
                metadata,
            },
        })
    }

    /// The file the weights come from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        match &self.source {
            Source::Pth { tensors, .. } => tensors.len(),
            Source::Safetensors { tensors, .. } => tensors.len(),
            Source::Gguf { tensors, .. } => tensors.len(),
        }
    }

    /// True when the file holds no tensors.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All tensor names, sorted.
    pub fn names(&self) -> Vec<&str> {
        match &self.source {
            Source::Pth { tensors, .. } => tensors.keys().map(String::as_str).collect(),
            Source::Safetensors { tensors, .. } => tensors.keys().map(String::as_str).collect(),
            Source::Gguf { tensors, .. } => tensors.keys().map(String::as_str).collect(),
        }
    }

    /// Whether a tensor is present.
    pub fn contains(&self, name: &str) -> bool {
        self.info(name).is_some()
    }

    /// Element type and shape of a tensor; a block-quantised tensor reports `F32`, the type it
    /// loads as ([`Self::stored_type`] tells how it is stored).
    pub fn info(&self, name: &str) -> Option<(Dtype, &[usize])> {
        self.stored(name).map(|(s, shape)| match s {
            StoredType::Plain(d) => (d, shape),
            StoredType::Block(_) => (Dtype::F32, shape),
        })
    }

    /// How a tensor is stored in the file.
    pub fn stored_type(&self, name: &str) -> Option<StoredType> {
        self.stored(name).map(|(s, _)| s)
    }

    fn stored(&self, name: &str) -> Option<(StoredType, &[usize])> {
        match &self.source {
            Source::Pth { tensors, .. } => tensors
                .get(name)
                .map(|t| (StoredType::Plain(t.dtype), t.shape.as_slice())),
            Source::Safetensors { tensors, .. } => tensors
                .get(name)
                .map(|t| (StoredType::Plain(t.dtype), t.shape.as_slice())),
            Source::Gguf { tensors, .. } => {
                tensors.get(name).map(|t| (t.stored, t.shape.as_slice()))
            }
        }
    }

    /// The string and integer metadata of a GGUF file, sorted by key (empty for other formats).
    pub fn metadata(&self) -> &[(String, String)] {
        match &self.source {
            Source::Gguf { metadata, .. } => metadata,
            _ => &[],
        }
    }

    /// The top-level entries of a release `.pth` besides the weights (`epoch`, `min_eval_loss`...),
    /// if any, as `(key, python repr-like string)` pairs.
    pub fn checkpoint_info(&self) -> Vec<(String, String)> {
        let Source::Pth { archive, .. } = &self.source else {
            return Vec::new();
        };
        let Some(items) = archive.root().as_dict() else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|(k, v)| {
                let k = k.as_str()?;
                let v = match v {
                    clamp3_pth::pickle::Value::Int(i) => i.to_string(),
                    clamp3_pth::pickle::Value::Float(f) => f.to_string(),
                    clamp3_pth::pickle::Value::Str(s) => s.clone(),
                    _ => return None,
                };
                Some((k.to_string(), v))
            })
            .collect()
    }

    /// A tensor's stored type, shape and bytes (memory-mapped).
    pub(crate) fn raw(&self, name: &str) -> Result<(StoredType, &[usize], &[u8]), WeightsError> {
        match &self.source {
            Source::Gguf { mmap, tensors, .. } => {
                let t = tensors.get(name).ok_or_else(|| self.missing(name))?;
                // In bounds: checked when the file was opened.
                Ok((t.stored, &t.shape, &mmap[t.range.0..t.range.1]))
            }
            Source::Pth { archive, tensors } => {
                let t = tensors.get(name).ok_or_else(|| self.missing(name))?;
                Ok((
                    StoredType::Plain(t.dtype),
                    &t.shape,
                    archive.tensor_bytes(name, t)?,
                ))
            }
            Source::Safetensors { mmap, tensors } => {
                let t = tensors.get(name).ok_or_else(|| self.missing(name))?;
                let (s, e) = t.range;
                let bytes = mmap.get(s..e).ok_or_else(|| WeightsError::Invalid {
                    path: self.path.clone(),
                    msg: format!("tensor `{name}` lies outside the file (truncated?)"),
                })?;
                Ok((StoredType::Plain(t.dtype), &t.shape, bytes))
            }
        }
    }

    /// Drops the mapped pages of tensor bytes already copied out (see `clamp3_pth::release_mapped`).
    pub(crate) fn release(&self, bytes: &[u8]) {
        match &self.source {
            #[cfg(unix)]
            Source::Gguf { mmap, .. } => clamp3_pth::release_mapped(mmap, bytes),
            #[cfg(not(unix))]
            Source::Gguf { .. } => {}
            Source::Pth { archive, .. } => archive.release(bytes),
            #[cfg(unix)]
            Source::Safetensors { mmap, .. } => clamp3_pth::release_mapped(mmap, bytes),
            #[cfg(not(unix))]
            Source::Safetensors { .. } => {}
        }
    }

    fn missing(&self, name: &str) -> WeightsError {
        WeightsError::Missing {
            path: self.path.clone(),
            key: name.to_string(),
        }
    }

    /// Loads a tensor as float32 on `device`, failing with the key and both shapes when its
    /// shape is not `expected`.
    pub fn tensor(
        &self,
        name: &str,
        expected: &[usize],
        device: &Device,
    ) -> Result<Tensor, WeightsError> {
        let (dtype, shape, bytes) = self.raw(name)?;
        if shape != expected {
            return Err(WeightsError::Shape {
                path: self.path.clone(),
                key: name.to_string(),
                expected: expected.to_vec(),
                found: shape.to_vec(),
            });
        }
        let data = match dtype {
            StoredType::Plain(dtype) => {
                to_f32(bytes, dtype).ok_or_else(|| WeightsError::Dtype {
                    path: self.path.clone(),
                    key: name.to_string(),
                    dtype,
                })?
            }
            StoredType::Block(g) => crate::quant::dequantize(bytes, g, shape.iter().product())
                .map_err(|e| WeightsError::Invalid {
                    path: self.path.clone(),
                    msg: format!("tensor `{name}`: cannot dequantise {g:?} blocks ({e})"),
                })?,
        };
        self.release(bytes);
        Tensor::from_vec(data, shape, device).map_err(|e| WeightsError::Candle {
            key: name.to_string(),
            source: e,
        })
    }

    /// A fingerprint of the tensors themselves (SHA-256 hex over every tensor's name, type,
    /// shape, size and a sample of its bytes: the first and last 4 KiB and 16 slices spread
    /// between), independent of the file format: a `.pth` and the `.safetensors` converted from
    /// it have the same fingerprint, while any retrained or other checkpoint differs. Cheap: it
    /// reads a few pages per tensor.
    pub fn fingerprint(&self) -> Result<String, WeightsError> {
        use sha2::{Digest, Sha256};
        let mut names = self.names();
        names.sort_unstable();
        let mut h = Sha256::new();
        for name in names {
            let (dtype, shape, bytes) = self.raw(name)?;
            // Plain types keep the form every earlier id was computed with ("F32", ...);
            // block types are named apart ("gguf:Q8_0").
            let dtype = match dtype {
                StoredType::Plain(d) => format!("{d:?}"),
                StoredType::Block(g) => format!("gguf:{g:?}"),
            };
            h.update(format!("{name}\0{dtype}\0{shape:?}\0{}\0", bytes.len()).as_bytes());
            const EDGE: usize = 4096;
            const SLICE: usize = 256;
            if bytes.len() <= 2 * EDGE + 16 * SLICE {
                h.update(bytes);
            } else {
                h.update(&bytes[..EDGE]);
                let span = bytes.len() - 2 * EDGE - SLICE;
                for k in 0..16 {
                    let at = EDGE + span * k / 15;
                    h.update(&bytes[at..at + SLICE]);
                }
                h.update(&bytes[bytes.len() - EDGE..]);
            }
            self.release(bytes);
        }
        Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Writes every tensor, unchanged in type and shape, to a `.safetensors` file (via a temp
    /// file and a rename, so an existing file is replaced only when the new one is complete).
    pub fn save_safetensors(&self, out: &Path) -> Result<(), WeightsError> {
        let io = |e: std::io::Error| WeightsError::Io {
            path: out.to_path_buf(),
            source: e,
        };
        let mut views = Vec::new();
        for name in self.names() {
            let (dtype, shape, bytes) = self.raw(name)?;
            let StoredType::Plain(dtype) = dtype else {
                return Err(WeightsError::Invalid {
                    path: self.path.clone(),
                    msg: format!(
                        "tensor `{name}` is quantised ({dtype}); safetensors holds plain tensors only"
                    ),
                });
            };
            views.push((
                name.to_string(),
                RawView {
                    dtype,
                    shape: shape.to_vec(),
                    bytes,
                },
            ));
        }
        let mut failed = None;
        let written = clamp3_util::fs::write_atomic_via_path(out, |tmp| {
            safetensors::serialize_to_file(views, None, tmp).map_err(|e| {
                let msg = format!("cannot write safetensors: {e}");
                failed = Some(msg.clone());
                std::io::Error::other(msg)
            })
        });
        match (written, failed) {
            (Ok(()), _) => Ok(()),
            (Err(_), Some(msg)) => Err(WeightsError::Invalid {
                path: out.to_path_buf(),
                msg,
            }),
            (Err(e), None) => Err(io(e)),
        }
    }
}

struct RawView<'a> {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: &'a [u8],
}

impl safetensors::View for RawView<'_> {
    fn dtype(&self) -> safetensors::Dtype {
        self.dtype.to_safetensors()
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Decodes little-endian floating-point bytes into f32 (None for non-float types).
pub(crate) fn to_f32(bytes: &[u8], dtype: Dtype) -> Option<Vec<f32>> {
    Some(match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                f64::from_le_bytes(a) as f32
            })
            .collect(),
        _ => return None,
    })
}

/// Lets candle-nn's `VarBuilder` draw checked float32 tensors from [`Weights`].
impl candle_nn::var_builder::SimpleBackend for Weights {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let t = self
            .tensor(name, s.dims(), dev)
            .map_err(candle_core::Error::wrap)?;
        t.to_dtype(dtype)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let shape = self
            .info(name)
            .map(|(_, s)| s.to_vec())
            .ok_or_else(|| candle_core::Error::wrap(self.missing(name)))?;
        self.get(
            Shape::from(shape),
            name,
            candle_nn::Init::Const(0.),
            dtype,
            dev,
        )
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.contains(name)
    }
}
