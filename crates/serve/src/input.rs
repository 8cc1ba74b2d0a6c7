//! An input as a request gives it: a string (embedded exactly as a `.txt` file with that
//! content), or a file's bytes in base64 with its format (any extension `clamp3 embed`
//! accepts).

use base64::Engine as _;
use clamp3::{Input, InputKind};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::ApiError;

/// One input of a request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum InputItem {
    /// A text, embedded exactly as a `.txt` file with this content.
    Text(String),
    /// A file's content.
    File(FileInput),
}

/// A file's content with its format.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileInput {
    /// The file's extension, without the dot: txt, abc, mtf, mid, midi, xml, musicxml, mxl,
    /// npy, wav, flac, mp3, ogg, m4a, ...
    pub format: String,
    /// The file's bytes, base64 (standard alphabet, padding optional).
    pub data: String,
    /// A name for the input (echoed in search's `query`, classify's `path`; the pairing key in
    /// score).
    #[serde(default)]
    pub name: Option<String>,
}

/// One input or a list of them.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single input.
    One(InputItem),
    /// Several inputs.
    Many(Vec<InputItem>),
}

impl OneOrMany {
    /// The inputs, in order.
    pub fn into_vec(self) -> Vec<InputItem> {
        match self {
            OneOrMany::One(i) => vec![i],
            OneOrMany::Many(v) => v,
        }
    }
}

/// An input decoded from its request form, with what error messages and answers say about it.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The library's input.
    pub input: Input,
    /// Its format as given (`txt` for strings), lower case.
    pub format: String,
    /// Its name, if the request gave one.
    pub name: Option<String>,
    /// Size of the content in bytes.
    pub bytes: usize,
}

impl InputItem {
    /// The library's input for the request's input named `what` (e.g. `input 2`), or why it
    /// cannot be one (the error names the input and its format).
    pub fn decode(&self, what: &str) -> Result<Decoded, ApiError> {
        match self {
            // The bytes of a `.txt` file: read as one (universal newlines), not as prepared
            // content.
            InputItem::Text(t) => Ok(Decoded {
                input: Input::bytes(InputKind::Text, t.as_bytes().to_vec()),
                format: "txt".into(),
                name: None,
                bytes: t.len(),
            }),
            InputItem::File(f) => {
                let format = f.format.trim_start_matches('.').to_ascii_lowercase();
                let kind = InputKind::from_extension(&format).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "{what}: unknown format `{}` (supported: {})",
                        f.format,
                        InputKind::extension_list()
                    ))
                })?;
                let bytes = decode_base64(&f.data).map_err(|e| {
                    ApiError::bad_request(format!(
                        "{what} (format {format}): `data` is not valid base64: {e}"
                    ))
                })?;
                Ok(Decoded {
                    bytes: bytes.len(),
                    input: Input::bytes(kind, bytes),
                    format,
                    name: f.name.clone(),
                })
            }
        }
    }

    /// The name the request gave this input, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            InputItem::Text(_) => None,
            InputItem::File(f) => f.name.as_deref(),
        }
    }
}

/// Base64 with the standard alphabet, padding optional, whitespace (line breaks of MIME-style
/// encoders) ignored.
pub fn decode_base64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    if s.bytes().any(|b| b.is_ascii_whitespace()) {
        let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        engine.decode(compact)
    } else {
        engine.decode(s)
    }
}

/// Base64 (standard, padded) of `bytes`.
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// How the inputs of a request are named in errors: `input N`.
pub fn input_n(i: usize) -> String {
    format!("input {i}")
}

/// Decodes every input of a request, checking the count against `max_inputs`; `name` says
/// how errors name the input at each position.
pub fn decode_all(
    items: &[InputItem],
    max_inputs: usize,
    name: impl Fn(usize) -> String,
) -> Result<Vec<Decoded>, ApiError> {
    if items.is_empty() {
        return Err(ApiError::bad_request("no input given"));
    }
    if items.len() > max_inputs {
        return Err(ApiError::too_large(format!(
            "{} inputs in one request; at most {max_inputs}",
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, x)| x.decode(&name(i)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_files_decode_and_bad_ones_name_the_input() {
        let items: Vec<InputItem> = serde_json::from_str(
            r#"["a reel", {"format": "ABC", "data": "WDox"}, {"format": ".mid", "data": "TVRo\nZA"}]"#,
        )
        .unwrap();
        let d = decode_all(&items, 8, input_n).unwrap();
        assert_eq!(d[0].format, "txt");
        assert_eq!(d[1].format, "abc");
        assert!(
            matches!(&d[1].input, Input::Bytes { kind: InputKind::Abc, bytes } if &bytes[..] == b"X:1")
        );
        assert!(
            matches!(&d[2].input, Input::Bytes { kind: InputKind::Midi, bytes } if &bytes[..] == b"MThd")
        );
        let bad: Vec<InputItem> =
            serde_json::from_str(r#"["x", {"format": "docx", "data": ""}]"#).unwrap();
        let e = decode_all(&bad, 8, input_n).unwrap_err();
        assert!(
            e.message.starts_with("input 1: unknown format `docx`"),
            "{e}"
        );
        let bad: Vec<InputItem> =
            serde_json::from_str(r#"[{"format": "wav", "data": "@@@"}]"#).unwrap();
        let e = decode_all(&bad, 8, input_n).unwrap_err();
        assert!(
            e.message
                .starts_with("input 0 (format wav): `data` is not valid base64"),
            "{e}"
        );
        assert_eq!(
            decode_all(&items, 2, input_n).unwrap_err().status.as_u16(),
            413
        );
        assert_eq!(
            decode_all(&[], 2, input_n).unwrap_err().status.as_u16(),
            400
        );
    }
}
