//! Reading and writing `.npy` arrays: MERT features come in as `.npy`, embeddings go out as
//! `.npy`, in the layout `numpy.save` writes.
//!
//! Hand-written (the format is a short header plus raw data) so that malformed files get a
//! precise error and nothing else is pulled in.

/// Why a `.npy` file could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NpyError {
    /// The magic string `\x93NUMPY` is missing.
    #[error("not a .npy file (bad magic)")]
    BadMagic,
    /// The file ends inside the header or the data.
    #[error("truncated .npy file: {0}")]
    Truncated(&'static str),
    /// The header dictionary cannot be parsed.
    #[error("malformed .npy header: {0}")]
    BadHeader(String),
    /// The element type is not a float type this reader converts.
    #[error("unsupported .npy dtype {0:?} (expected float32, float64 or float16)")]
    Dtype(String),
}

/// A float array read from a `.npy` file, converted to f32, in row-major (C) order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values.
    pub data: Vec<f32>,
}

/// Parses a `.npy` file holding a float array (`<f4`, `<f8`, `<f2`, either byte order, C or
/// Fortran order).
pub fn read_npy(bytes: &[u8]) -> Result<NpyArray, NpyError> {
    if bytes.len() < 8 || &bytes[..6] != b"\x93NUMPY" {
        return Err(NpyError::BadMagic);
    }
    let major = bytes[6];
    let (hlen, start): (usize, usize) = match major {
        1 => {
            let b = bytes
                .get(8..10)
                .ok_or(NpyError::Truncated("header length"))?;
            (usize::from(u16::from_le_bytes([b[0], b[1]])), 10)
        }
        2 | 3 => {
            let b = bytes
                .get(8..12)
                .ok_or(NpyError::Truncated("header length"))?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        v => return Err(NpyError::BadHeader(format!("unknown format version {v}"))),
    };
    let header = bytes
        .get(start..start.saturating_add(hlen))
        .ok_or(NpyError::Truncated("header"))?;
    let header = std::str::from_utf8(header).map_err(|_| NpyError::BadHeader("not text".into()))?;
    let descr = dict_value(header, "descr")?;
    let descr = descr
        .trim()
        .strip_prefix('\'')
        .and_then(|d| d.strip_suffix('\''))
        .ok_or_else(|| NpyError::BadHeader(format!("bad descr {descr}")))?;
    let fortran = match dict_value(header, "fortran_order")?.trim() {
        "False" => false,
        "True" => true,
        other => return Err(NpyError::BadHeader(format!("bad fortran_order {other}"))),
    };
    let shape = parse_shape(dict_value(header, "shape")?)?;
    let (little, kind) = match descr.as_bytes() {
        [b'<' | b'|' | b'=', rest @ ..] => (true, rest),
        [b'>', rest @ ..] => (false, rest),
        rest => (true, rest),
    };
    let width = match kind {
        b"f4" => 4,
        b"f8" => 8,
        b"f2" => 2,
        _ => return Err(NpyError::Dtype(descr.to_string())),
    };
    let numel = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| NpyError::BadHeader("shape too large".into()))?;
    let nbytes = numel
        .checked_mul(width)
        .ok_or_else(|| NpyError::BadHeader("shape too large".into()))?;
    let body = &bytes[start + hlen..];
    if body.len() < nbytes {
        return Err(NpyError::Truncated("data"));
    }
    let body = &body[..nbytes];
    let mut data: Vec<f32> = match width {
        4 => body
            .chunks_exact(4)
            .map(|c| {
                let a = [c[0], c[1], c[2], c[3]];
                if little {
                    f32::from_le_bytes(a)
                } else {
                    f32::from_be_bytes(a)
                }
            })
            .collect(),
        8 => body
            .chunks_exact(8)
            .map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                (if little {
                    f64::from_le_bytes(a)
                } else {
                    f64::from_be_bytes(a)
                }) as f32
            })
            .collect(),
        _ => body
            .chunks_exact(2)
            .map(|c| {
                let bits = if little {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                };
                f16_to_f32(bits)
            })
            .collect(),
    };
    if fortran && shape.len() > 1 {
        data = fortran_to_c(&data, &shape);
    }
    Ok(NpyArray { shape, data })
}

/// Serialises a float32 array as `numpy.save` does (format 1.0, little-endian, C order).
pub fn write_npy(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_txt = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_txt}, }}");
    // Pad with spaces and end with '\n' so that magic + length + header is a multiple of 64.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

fn dict_value<'a>(header: &'a str, key: &str) -> Result<&'a str, NpyError> {
    let pat = format!("'{key}':");
    let at = header
        .find(&pat)
        .ok_or_else(|| NpyError::BadHeader(format!("no '{key}' entry")))?;
    let rest = &header[at + pat.len()..];
    // The value ends at the comma that closes it (commas inside a shape tuple are skipped).
    let mut depth = 0i32;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' | '}' if depth <= 0 => return Ok(&rest[..i]),
            _ => {}
        }
    }
    Err(NpyError::BadHeader(format!("unterminated '{key}' entry")))
}

fn parse_shape(s: &str) -> Result<Vec<usize>, NpyError> {
    let inner = s
        .trim()
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .ok_or_else(|| NpyError::BadHeader(format!("bad shape {s}")))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| {
            x.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| NpyError::BadHeader(format!("bad shape {s}")))
        })
        .collect()
}

fn fortran_to_c(data: &[f32], shape: &[usize]) -> Vec<f32> {
    let n = data.len();
    let mut out = vec![0f32; n];
    // Fortran strides: first axis fastest.
    let mut fstride = vec![1usize; shape.len()];
    for i in 1..shape.len() {
        fstride[i] = fstride[i - 1] * shape[i - 1];
    }
    let mut idx = vec![0usize; shape.len()];
    for o in out.iter_mut() {
        let src: usize = idx.iter().zip(&fstride).map(|(i, s)| i * s).sum();
        *o = data[src];
        for ax in (0..shape.len()).rev() {
            idx[ax] += 1;
            if idx[ax] < shape[ax] {
                break;
            }
            idx[ax] = 0;
        }
    }
    out
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let frac = u32::from(h & 0x3ff);
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: renormalise.
            let mut e = 127 - 15 + 1;
            let mut f = f;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | ((e as u32) << 23) | ((f & 0x3ff) << 13)
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let data: Vec<f32> = (0..6).map(|i| i as f32 * 0.5 - 1.0).collect();
        let bytes = write_npy(&[1, 2, 3], &data);
        assert_eq!((bytes.len() - data.len() * 4) % 64, 0);
        let a = read_npy(&bytes).unwrap();
        assert_eq!(a.shape, vec![1, 2, 3]);
        assert_eq!(a.data, data);
        let b = read_npy(&write_npy(&[4], &[1.0, 2.0, 3.0, 4.0])).unwrap();
        assert_eq!(b.shape, vec![4]);
    }

    #[test]
    fn reads_numpy_written_files() {
        // np.save of np.arange(6, dtype='<f8').reshape(2, 3), format 1.0.
        let mut f =
            b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"
                .to_vec();
        f.resize(10 + 0x76 - 1, b' ');
        f.push(b'\n');
        for i in 0..6 {
            f.extend_from_slice(&(i as f64).to_le_bytes());
        }
        let a = read_npy(&f).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    }

    /// Replaces `from` by `to` (same length) inside the header of a `.npy` byte string.
    fn patch_header(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
        assert_eq!(from.len(), to.len());
        let mut out = bytes.to_vec();
        let at = bytes
            .windows(from.len())
            .position(|w| w == from.as_bytes())
            .expect("pattern in header");
        out[at..at + to.len()].copy_from_slice(to.as_bytes());
        out
    }

    #[test]
    fn fortran_order_is_converted() {
        let bytes = write_npy(&[2, 3], &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        let bytes = patch_header(&bytes, "'fortran_order': False", "'fortran_order': True ");
        let a = read_npy(&bytes).unwrap();
        assert_eq!(a.data, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    }

    #[test]
    fn bad_files_are_errors() {
        assert_eq!(read_npy(b""), Err(NpyError::BadMagic));
        assert_eq!(
            read_npy(b"\x93NUMPY\x01\x00"),
            Err(NpyError::Truncated("header length"))
        );
        let good = write_npy(&[2, 2], &[1.0; 4]);
        assert_eq!(
            read_npy(&good[..good.len() - 1]),
            Err(NpyError::Truncated("data"))
        );
        let ints = patch_header(&good, "<f4", "<i8");
        assert!(matches!(read_npy(&ints), Err(NpyError::Dtype(_))));
        // A shape whose element count overflows, and one larger than the data.
        let huge = write_npy(&[usize::MAX / 2, 4], &[]);
        assert!(matches!(read_npy(&huge), Err(NpyError::BadHeader(_))));
        let short = patch_header(&write_npy(&[1], &[0.0]), "(1,)", "(9,)");
        assert_eq!(read_npy(&short), Err(NpyError::Truncated("data")));
    }

    #[test]
    fn half_precision() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert!(f16_to_f32(0x7e00).is_nan());
    }
}
