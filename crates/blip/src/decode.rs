//! Image bytes to 8-bit RGB pixels, as `PIL.Image.open(path).convert("RGB")` gives them.
//!
//! PNG and WebP are decoded by the `image` crate (png, image-webp), whose output equals Pillow's
//! (libpng, libwebp) on every fixture. JPEG is decoded by libjpeg-turbo's decoder (MozJPEG's
//! copy, through the `mozjpeg` crate) with Pillow's settings (accurate integer IDCT, fancy
//! upsampling, conversion to RGB inside libjpeg): the pure-Rust zune-jpeg rounds its IDCT and
//! chroma upsampling differently, up to 4 levels on 12% of a photo's pixels, which changes
//! captions near a tie. The conversion to RGB follows Pillow's, mode by mode, because the
//! reference converts with PIL before its processor:
//!
//! | decoded as | Pillow mode | to RGB |
//! |---|---|---|
//! | gray 1/2/4/8 bit (PNG), gray JPEG | `1` / `L` | the gray value in all three channels |
//! | gray + alpha 8 bit | `LA` | gray replicated, alpha dropped (no compositing) |
//! | RGB, palette (PNG), YCbCr JPEG, WebP | `RGB` / `P` | as decoded / the palette colour |
//! | RGBA, palette + tRNS | `RGBA` / `P` | alpha dropped |
//! | gray 16 bit (PNG) | `I;16` | `min(v, 255)`: Pillow clips, so most 16-bit gray images turn white |
//! | gray + alpha, RGB, RGBA 16 bit (PNG) | `LA` / `RGB` / `RGBA` (raw modes `*;16B`) | the high byte |
//! | CMYK / YCCK JPEG | `CMYK` (raw mode `CMYK;I`) | `c·k/255` rounded, on libjpeg's (Adobe, inverted) CMYK |
//!
//! EXIF orientation is ignored, as by Pillow's `open` and transformers' processor.
//!
//! Memory: the dimensions are read from the header first and checked against
//! [`DecodeLimits`]; the PNG and WebP decoders then run with the `image` crate's allocation
//! limit, and libjpeg's buffers are bounded by the checked dimensions.

use std::fmt;
use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use image::{DynamicImage, ImageError, ImageReader};

use crate::error::{BlipError, Result};

/// The accepted container formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// PNG.
    Png,
    /// JPEG (baseline, progressive, arithmetic-coded; gray, YCbCr, RGB, CMYK, YCCK).
    Jpeg,
    /// WebP (lossy, lossless, with or without alpha).
    WebP,
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImageFormat::Png => "PNG",
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::WebP => "WebP",
        })
    }
}

impl ImageFormat {
    /// Recognises the format from the first bytes (the file name plays no part).
    pub fn detect(bytes: &[u8]) -> Result<Self> {
        match image::guess_format(bytes) {
            Ok(image::ImageFormat::Png) => Ok(ImageFormat::Png),
            Ok(image::ImageFormat::Jpeg) => Ok(ImageFormat::Jpeg),
            Ok(image::ImageFormat::WebP) => Ok(ImageFormat::WebP),
            Ok(other) => Err(BlipError::UnsupportedFormat {
                detected: Some(format!("{other:?}")),
            }),
            Err(_) => Err(BlipError::UnsupportedFormat { detected: None }),
        }
    }

    fn to_image(self) -> image::ImageFormat {
        match self {
            ImageFormat::Png => image::ImageFormat::Png,
            ImageFormat::Jpeg => image::ImageFormat::Jpeg,
            ImageFormat::WebP => image::ImageFormat::WebP,
        }
    }
}

/// Bounds on what a decoder may be asked to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest accepted width or height in pixels.
    pub max_side: u32,
    /// Largest accepted width x height.
    pub max_pixels: u64,
    /// Most bytes the PNG and WebP decoders may allocate (the decoded buffer included).
    pub max_alloc: u64,
}

impl Default for DecodeLimits {
    /// 16384 pixels a side, 64 megapixels (an 8-bit RGBA buffer of 256 MiB), 512 MiB of decoder
    /// allocations. Pillow's own "decompression bomb" error starts at about 179 megapixels.
    fn default() -> Self {
        DecodeLimits {
            max_side: 16_384,
            max_pixels: 64 * 1024 * 1024,
            max_alloc: 512 * 1024 * 1024,
        }
    }
}

/// An 8-bit RGB image, rows top to bottom, pixels interleaved (`R G B R G B ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes.
    pub data: Vec<u8>,
}

/// Decodes PNG, JPEG or WebP bytes to RGB as Pillow's `convert("RGB")` does (module docs).
pub fn decode_rgb(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage> {
    let format = ImageFormat::detect(bytes)?;
    let run = || decode_checked(bytes, format, limits);
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(r) => r,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(BlipError::DecoderPanic { format, message })
        }
    }
}

/// A reader with the allocation limit, and the dimension limits when `check_dims` (off for the
/// header read, so that a too-large image is reported with its dimensions).
fn reader<'a>(
    bytes: &'a [u8],
    format: ImageFormat,
    limits: &DecodeLimits,
    check_dims: bool,
) -> ImageReader<Cursor<&'a [u8]>> {
    let mut r = ImageReader::with_format(Cursor::new(bytes), format.to_image());
    let mut l = image::Limits::default();
    if check_dims {
        l.max_image_width = Some(limits.max_side);
        l.max_image_height = Some(limits.max_side);
    }
    l.max_alloc = Some(limits.max_alloc);
    r.limits(l);
    r
}

fn decode_checked(bytes: &[u8], format: ImageFormat, limits: &DecodeLimits) -> Result<RgbImage> {
    if format == ImageFormat::Jpeg {
        return decode_jpeg(bytes, limits);
    }
    // Header first: refuse before allocating anything pixel-sized.
    let (width, height) = reader(bytes, format, limits, false)
        .into_dimensions()
        .map_err(|e| map_error(e, format, limits, (0, 0)))?;
    check_size(width, height, limits)?;
    if format == ImageFormat::WebP {
        check_webp_complete(bytes)?;
    }
    let img = reader(bytes, format, limits, true)
        .decode()
        .map_err(|e| map_error(e, format, limits, (width, height)))?;
    if img.width() != width || img.height() != height {
        return Err(BlipError::Corrupt {
            format,
            reason: format!(
                "header says {width}x{height} but {}x{} was decoded",
                img.width(),
                img.height()
            ),
        });
    }
    pil_rgb(img, format)
}

fn check_size(width: u32, height: u32, limits: &DecodeLimits) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(BlipError::Empty { width, height });
    }
    if width > limits.max_side
        || height > limits.max_side
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(BlipError::TooLarge {
            width,
            height,
            max_side: limits.max_side,
            max_pixels: limits.max_pixels,
        });
    }
    Ok(())
}

/// JPEG through libjpeg (see the module docs). libjpeg reports fatal errors by unwinding (the
/// `mozjpeg` crate's error manager); they are caught here and become [`BlipError::Corrupt`].
/// Its warnings (e.g. extraneous bytes) are ignored, as Pillow ignores them.
fn decode_jpeg(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage> {
    let format = ImageFormat::Jpeg;
    let run = || -> Result<RgbImage> {
        let libjpeg = |e: std::io::Error| BlipError::Corrupt {
            format,
            reason: e.to_string(),
        };
        // Reads the headers only.
        let d = mozjpeg::Decompress::new_mem(bytes).map_err(libjpeg)?;
        let (w, h) = d.size();
        let (width, height) = (
            u32::try_from(w).unwrap_or(u32::MAX),
            u32::try_from(h).unwrap_or(u32::MAX),
        );
        check_size(width, height, limits)?;
        check_jpeg_complete(bytes)?;
        let (data, channels) = match d.image().map_err(libjpeg)? {
            mozjpeg::decompress::Format::RGB(mut s) => {
                let px = s.read_scanlines::<u8>().map_err(libjpeg)?;
                s.finish().map_err(libjpeg)?;
                (px, 3)
            }
            mozjpeg::decompress::Format::Gray(mut s) => {
                let px = s.read_scanlines::<u8>().map_err(libjpeg)?;
                s.finish().map_err(libjpeg)?;
                (px.iter().flat_map(|&v| [v, v, v]).collect(), 1)
            }
            mozjpeg::decompress::Format::CMYK(mut s) => {
                let px = s.read_scanlines::<u8>().map_err(libjpeg)?;
                s.finish().map_err(libjpeg)?;
                (cmyk_to_rgb(&px), 4)
            }
        };
        if data.len() != w * h * 3 {
            return Err(BlipError::Corrupt {
                format,
                reason: format!(
                    "decoded {} bytes for {w}x{h} pixels of {channels} channels",
                    data.len()
                ),
            });
        }
        Ok(RgbImage {
            width,
            height,
            data,
        })
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(match msg.strip_prefix("libjpeg fatal error: ") {
                Some(reason) => BlipError::Corrupt {
                    format,
                    reason: reason.to_string(),
                },
                None => BlipError::DecoderPanic {
                    format,
                    message: msg,
                },
            })
        }
    }
}

/// Pillow's CMYK → RGB on libjpeg's output. libjpeg delivers Adobe's inverted CMYK; Pillow
/// un-inverts it on reading (raw mode `CMYK;I`) and computes `255 − k − c(255 − k)/255`
/// (`cmyk2rgb`, `MULDIV255`), which equals `round(c'·k'/255)` on the inverted values `c'`,
/// `k'`: computed here with the same exact-rounding integer formula.
fn cmyk_to_rgb(px: &[u8]) -> Vec<u8> {
    let mul_div_255 = |a: u8, b: u8| {
        let t = u32::from(a) * u32::from(b) + 128;
        (((t >> 8) + t) >> 8) as u8
    };
    px.chunks_exact(4)
        .flat_map(|p| {
            let k = p[3];
            [
                mul_div_255(p[0], k),
                mul_div_255(p[1], k),
                mul_div_255(p[2], k),
            ]
        })
        .collect()
}

/// Pillow refuses a JPEG whose entropy-coded data stops before the end-of-image marker
/// ("image file is truncated"); libjpeg would warn and fill the missing blocks with gray. So an
/// EOI marker (`FF D9`) must follow the last start-of-scan marker (`FF DA`; progressive files
/// have several). Inside entropy-coded data a literal `FF` is stuffed as `FF 00`, so neither
/// marker can appear there; a thumbnail embedded in the headers comes before the main scans.
fn check_jpeg_complete(bytes: &[u8]) -> Result<()> {
    let Some(sos) = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]) else {
        // No scan at all: libjpeg reports what is missing.
        return Ok(());
    };
    if bytes[sos..].windows(2).any(|w| w == [0xFF, 0xD9]) {
        Ok(())
    } else {
        Err(BlipError::Truncated {
            format: ImageFormat::Jpeg,
            reason: "the image data stops before the end-of-image marker".into(),
        })
    }
}

/// A WebP file is one RIFF chunk whose header gives its length: fewer bytes than that means the
/// file was cut (image-webp would report a corrupt bitstream).
fn check_webp_complete(bytes: &[u8]) -> Result<()> {
    if bytes.len() >= 12 {
        let riff = u64::from(u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]));
        if (bytes.len() as u64) < riff + 8 {
            return Err(BlipError::Truncated {
                format: ImageFormat::WebP,
                reason: format!(
                    "the RIFF header announces {} bytes, the file has {}",
                    riff + 8,
                    bytes.len()
                ),
            });
        }
    }
    Ok(())
}

fn map_error(
    e: ImageError,
    format: ImageFormat,
    limits: &DecodeLimits,
    (width, height): (u32, u32),
) -> BlipError {
    match e {
        ImageError::Limits(l) => match l.kind() {
            image::error::LimitErrorKind::InsufficientMemory => BlipError::OutOfMemoryLimit {
                format,
                max_alloc: limits.max_alloc,
            },
            _ => BlipError::TooLarge {
                width,
                height,
                max_side: limits.max_side,
                max_pixels: limits.max_pixels,
            },
        },
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            BlipError::Truncated {
                format,
                reason: io.to_string(),
            }
        }
        ImageError::Unsupported(u) => BlipError::Corrupt {
            format,
            reason: format!("uses a feature the decoder does not support: {u}"),
        },
        other => {
            let reason = other.to_string();
            let low = reason.to_ascii_lowercase();
            if low.contains("eof") || low.contains("end of file") || low.contains("unexpected end")
            {
                BlipError::Truncated { format, reason }
            } else {
                BlipError::Corrupt { format, reason }
            }
        }
    }
}

/// Converts a decoded image to RGB8 the way Pillow's `convert("RGB")` does (module docs).
fn pil_rgb(img: DynamicImage, format: ImageFormat) -> Result<RgbImage> {
    let (width, height) = (img.width(), img.height());
    let gray = |v: u8| [v, v, v];
    let data: Vec<u8> = match img {
        DynamicImage::ImageRgb8(b) => b.into_raw(),
        DynamicImage::ImageRgba8(b) => b
            .as_raw()
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        DynamicImage::ImageLuma8(b) => b.as_raw().iter().flat_map(|&v| gray(v)).collect(),
        DynamicImage::ImageLumaA8(b) => b
            .as_raw()
            .chunks_exact(2)
            .flat_map(|p| gray(p[0]))
            .collect(),
        // Pillow opens 16-bit gray PNGs as mode "I;16" and converts to RGB by clipping at 255.
        DynamicImage::ImageLuma16(b) => b
            .as_raw()
            .iter()
            .flat_map(|&v| gray(v.min(255) as u8))
            .collect(),
        // The other 16-bit PNGs are read with raw modes "LA;16B", "RGB;16B", "RGBA;16B": the
        // high byte of each sample.
        DynamicImage::ImageLumaA16(b) => b
            .as_raw()
            .chunks_exact(2)
            .flat_map(|p| gray((p[0] >> 8) as u8))
            .collect(),
        DynamicImage::ImageRgb16(b) => b.as_raw().iter().map(|&v| (v >> 8) as u8).collect(),
        DynamicImage::ImageRgba16(b) => b
            .as_raw()
            .chunks_exact(4)
            .flat_map(|p| [(p[0] >> 8) as u8, (p[1] >> 8) as u8, (p[2] >> 8) as u8])
            .collect(),
        other => {
            return Err(BlipError::UnsupportedPixels {
                format,
                layout: format!("{:?}", other.color()),
            })
        }
    };
    Ok(RgbImage {
        width,
        height,
        data,
    })
}
