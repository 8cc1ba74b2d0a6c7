//! PyTorch checkpoints (`torch.save` zip archives) read without Python.
//!
//! The archive is memory-mapped; only the small `data.pkl` is parsed (with the restricted
//! [`crate::pickle`] reader) and tensor bytes are read from the mapping when asked for, so a
//! checkpoint that also holds optimizer state costs no more than the tensors actually used.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::pickle::{self, Value};

/// Why a checkpoint could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PthError {
    /// The file could not be opened or mapped.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a valid `torch.save` archive.
    #[error("{}: {msg}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
}

/// Element types found in checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// float32
    F32,
    /// float16
    F16,
    /// bfloat16
    BF16,
    /// float64
    F64,
    /// int64
    I64,
    /// int32
    I32,
    /// int16
    I16,
    /// int8
    I8,
    /// uint8
    U8,
    /// bool
    Bool,
}

impl Dtype {
    /// Bytes per element.
    pub fn size_in_bytes(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F16 | Dtype::BF16 | Dtype::I16 => 2,
            Dtype::I8 | Dtype::U8 | Dtype::Bool => 1,
        }
    }

    /// The type of a torch storage class name such as `FloatStorage`.
    pub fn from_torch_storage(name: &str) -> Option<Self> {
        Some(match name {
            "FloatStorage" => Dtype::F32,
            "HalfStorage" => Dtype::F16,
            "BFloat16Storage" => Dtype::BF16,
            "DoubleStorage" => Dtype::F64,
            "LongStorage" => Dtype::I64,
            "IntStorage" => Dtype::I32,
            "ShortStorage" => Dtype::I16,
            "CharStorage" => Dtype::I8,
            "ByteStorage" => Dtype::U8,
            "BoolStorage" => Dtype::Bool,
            _ => return None,
        })
    }
}

/// Where one tensor's data lives in a checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    /// Element type.
    pub dtype: Dtype,
    /// Shape, outermost first.
    pub shape: Vec<usize>,
    /// Strides in elements.
    pub stride: Vec<usize>,
    /// Offset of the first element in its storage, in elements.
    pub storage_offset: usize,
    /// Name of the storage record (`data/<key>` in the archive).
    pub storage_key: String,
    /// Number of elements in the storage.
    pub storage_numel: usize,
}

/// The archive's bytes: a read-only mapping of the file, or a buffer.
enum Bytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// A `torch.save` zip archive, mapped into memory.
pub struct TorchArchive {
    path: PathBuf,
    mmap: Bytes,
    /// `data/<key>` records: byte offset and length in the file.
    records: BTreeMap<String, (usize, usize)>,
    root: Value,
}

impl std::fmt::Debug for TorchArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorchArchive")
            .field("path", &self.path)
            .field("records", &self.records.len())
            .finish()
    }
}

fn invalid(path: &Path, msg: impl Into<String>) -> PthError {
    PthError::Invalid {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

impl TorchArchive {
    /// Opens a checkpoint written by `torch.save` (the zip format of torch >= 1.6).
    pub fn open(path: &Path) -> Result<Self, PthError> {
        let file = File::open(path).map_err(|e| PthError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        // SAFETY: the file is opened read-only; like every mmap-based loader we assume it is
        // not truncated by another process while mapped.
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| PthError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Self::parse(path, Bytes::Mapped(mmap))
    }

    /// Reads an archive held in memory (`name` is used in error messages).
    pub fn from_bytes(name: &Path, bytes: Vec<u8>) -> Result<Self, PthError> {
        Self::parse(name, Bytes::Owned(bytes))
    }

    fn parse(path: &Path, mmap: Bytes) -> Result<Self, PthError> {
        if !mmap.starts_with(b"PK\x03\x04") {
            return Err(invalid(
                path,
                "not a torch.save zip archive (legacy pre-1.6 torch files are not supported)",
            ));
        }
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&mmap[..]))
            .map_err(|e| invalid(path, format!("corrupt or truncated zip archive: {e}")))?;

        let mut pkl: Option<(usize, usize)> = None;
        let mut records = BTreeMap::new();
        let mut byteorder: Option<(usize, usize)> = None;
        for i in 0..zip.len() {
            let f = zip
                .by_index_raw(i)
                .map_err(|e| invalid(path, format!("corrupt zip entry {i}: {e}")))?;
            let name = f
                .name()
                .map_err(|e| invalid(path, format!("bad zip entry name: {e}")))?
                .to_string();
            let start = f
                .data_start()
                .ok_or_else(|| invalid(path, format!("zip entry {name} has no data offset")))?;
            let (start, size) = (start as usize, f.compressed_size() as usize);
            if start.checked_add(size).is_none_or(|end| end > mmap.len()) {
                return Err(invalid(
                    path,
                    format!("zip entry {name} runs past the end of the file (truncated?)"),
                ));
            }
            let stored = f.compression() == zip::CompressionMethod::Stored;
            // Records are `<archive>/data.pkl`, `<archive>/data/<key>`, `<archive>/byteorder`.
            let rel = name.split_once('/').map(|(_, r)| r).unwrap_or(&name);
            if rel == "data.pkl" {
                if !stored {
                    return Err(invalid(
                        path,
                        "data.pkl is compressed; torch writes it stored",
                    ));
                }
                pkl = Some((start, size));
            } else if rel == "byteorder" {
                byteorder = Some((start, size));
            } else if let Some(key) = rel.strip_prefix("data/") {
                if !stored {
                    return Err(invalid(
                        path,
                        format!("tensor record {name} is compressed; torch writes records stored"),
                    ));
                }
                records.insert(key.to_string(), (start, size));
            }
        }
        if let Some((s, n)) = byteorder {
            if &mmap[s..s + n] != b"little" {
                return Err(invalid(path, "big-endian checkpoints are not supported"));
            }
        }
        let (s, n) =
            pkl.ok_or_else(|| invalid(path, "no data.pkl record: not a torch.save archive"))?;
        let root = pickle::read(&mmap[s..s + n])
            .map_err(|e| invalid(path, format!("cannot read data.pkl: {e}")))?;
        Ok(TorchArchive {
            path: path.to_path_buf(),
            mmap,
            records,
            root,
        })
    }

    /// The unpickled top-level object (for the release files: a dict with `model`, `epoch`...).
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// The tensors of a state dict: the top-level object itself when `key` is `None`, else the
    /// dict stored under `key` (e.g. `"model"` in the CLaMP 3 release files). Entries that are
    /// not tensors are skipped.
    pub fn state_dict(&self, key: Option<&str>) -> Result<BTreeMap<String, TensorRef>, PthError> {
        let dict = match key {
            None => &self.root,
            Some(k) => self
                .root
                .get(k)
                .ok_or_else(|| invalid(&self.path, format!("the checkpoint has no `{k}` entry")))?,
        };
        let items = dict
            .as_dict()
            .ok_or_else(|| invalid(&self.path, "the state dict is not a dict"))?;
        let mut out = BTreeMap::new();
        for (k, v) in items {
            let Some(name) = k.as_str() else { continue };
            if let Some(t) =
                tensor_ref(v).map_err(|m| invalid(&self.path, format!("tensor `{name}`: {m}")))?
            {
                out.insert(name.to_string(), t);
            }
        }
        Ok(out)
    }

    /// Releases the pages of bytes obtained from [`TorchArchive::tensor_bytes`] once they have
    /// been copied, keeping resident memory at the size of the loaded tensors.
    pub fn release(&self, bytes: &[u8]) {
        release_pages(&self.mmap, bytes);
    }

    /// The raw little-endian bytes of a tensor's elements, in row-major order when the tensor
    /// is contiguous (the only layout state dicts use; others are rejected).
    pub fn tensor_bytes(&self, name: &str, t: &TensorRef) -> Result<&[u8], PthError> {
        let &(start, size) = self.records.get(&t.storage_key).ok_or_else(|| {
            invalid(
                &self.path,
                format!(
                    "tensor `{name}`: storage record data/{} is missing",
                    t.storage_key
                ),
            )
        })?;
        let el = t.dtype.size_in_bytes();
        if size < t.storage_numel.saturating_mul(el) {
            return Err(invalid(
                &self.path,
                format!("tensor `{name}`: storage record is truncated"),
            ));
        }
        let numel: usize = t.shape.iter().product();
        let mut expected = 1usize;
        for (d, s) in t.shape.iter().zip(&t.stride).rev() {
            if *d > 1 && *s != expected {
                return Err(invalid(
                    &self.path,
                    format!("tensor `{name}` is not contiguous"),
                ));
            }
            expected = expected.saturating_mul(*d);
        }
        let begin = t.storage_offset.checked_mul(el);
        let end = begin.and_then(|b| numel.checked_mul(el).and_then(|n| b.checked_add(n)));
        match (begin, end) {
            (Some(b), Some(e)) if e <= size => Ok(&self.mmap[start + b..start + e]),
            _ => Err(invalid(
                &self.path,
                format!("tensor `{name}` lies outside its storage"),
            )),
        }
    }
}

/// Tells the kernel that the mapped pages holding `bytes` (a slice returned by this archive)
/// will not be read again, so a loader that copies tensors out does not keep the file's pages
/// resident as well. Only whole pages inside the slice are released; a no-op for in-memory
/// archives and on platforms without `madvise`.
fn release_pages(map: &Bytes, bytes: &[u8]) {
    #[cfg(unix)]
    if let Bytes::Mapped(m) = map {
        release_mapped(m, bytes);
    }
    #[cfg(not(unix))]
    let _ = (map, bytes);
}

/// See [`release_pages`]; shared with other memory-mapped weight formats.
#[cfg(unix)]
pub fn release_mapped(map: &Mmap, bytes: &[u8]) {
    const PAGE: usize = 4096;
    let base = map.as_ptr() as usize;
    let start = bytes.as_ptr() as usize;
    if start < base || start + bytes.len() > base + map.len() {
        return;
    }
    let from = (start - base).div_ceil(PAGE) * PAGE;
    let to = (start - base + bytes.len()) / PAGE * PAGE;
    if to > from {
        // SAFETY: the mapping is read-only and file-backed, so dropped pages are read back
        // from the file if they are touched again; no data is lost.
        let _ = unsafe {
            map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from)
        };
    }
}

/// Recognises `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` and
/// `_rebuild_parameter(tensor, ...)`. Returns `Ok(None)` for values that are not tensors.
fn tensor_ref(v: &Value) -> Result<Option<TensorRef>, String> {
    let Value::Call { func, args, .. } = v else {
        return Ok(None);
    };
    match func.as_global() {
        Some(("torch._utils", "_rebuild_parameter"))
        | Some(("torch._utils", "_rebuild_parameter_with_state")) => {
            let inner = args
                .as_seq()
                .and_then(|a| a.first())
                .ok_or("bad parameter record")?;
            tensor_ref(inner)
        }
        Some(("torch._utils", "_rebuild_tensor_v2"))
        | Some(("torch._utils", "_rebuild_tensor")) => {
            let a = args.as_seq().ok_or("bad tensor record")?;
            if a.len() < 4 {
                return Err("tensor record has too few fields".into());
            }
            let Value::PersistentId(pid) = &a[0] else {
                return Err("tensor storage is not a persistent id".into());
            };
            let pid = pid.as_seq().ok_or("bad storage id")?;
            if pid.len() < 5 || pid[0].as_str() != Some("storage") {
                return Err("bad storage id".into());
            }
            let dtype = match pid[1].as_global() {
                Some((_, name)) => Dtype::from_torch_storage(name)
                    .ok_or_else(|| format!("unsupported storage type {name}"))?,
                None => return Err("bad storage type".into()),
            };
            let storage_key = pid[2].as_str().ok_or("bad storage key")?.to_string();
            let storage_numel = to_usize(&pid[4]).ok_or("bad storage size")?;
            let storage_offset = to_usize(&a[1]).ok_or("bad storage offset")?;
            let shape = usize_seq(&a[2]).ok_or("bad shape")?;
            let stride = usize_seq(&a[3]).ok_or("bad stride")?;
            if shape.len() != stride.len() {
                return Err("shape and stride differ in rank".into());
            }
            Ok(Some(TensorRef {
                dtype,
                shape,
                stride,
                storage_offset,
                storage_key,
                storage_numel,
            }))
        }
        _ => Ok(None),
    }
}

fn to_usize(v: &Value) -> Option<usize> {
    v.as_int().and_then(|i| usize::try_from(i).ok())
}

fn usize_seq(v: &Value) -> Option<Vec<usize>> {
    v.as_seq()?.iter().map(to_usize).collect()
}
