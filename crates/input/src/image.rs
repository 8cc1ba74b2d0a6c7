//! Images (the reference's image route, docs/reference.md §8.4): image bytes → a BLIP caption → the
//! text path, as a `.txt` file holding the caption would be embedded.

use clamp3_blip::{BlipError, Captioner, Fault};

use crate::error::InputCause;

/// Why an image could not be captioned.
#[derive(Debug, thiserror::Error)]
pub enum CaptionError {
    /// The image's fault (undecodable, truncated, too large, unsupported format).
    #[error(transparent)]
    Input(InputCause),
    /// The captioner's (its model or the computation).
    #[error("captioning failed: {0}")]
    System(#[source] Box<BlipError>),
}

/// The caption BLIP writes for image bytes (PNG, JPEG, WebP).
pub fn caption(captioner: &Captioner, bytes: &[u8]) -> Result<String, CaptionError> {
    match captioner.caption(bytes) {
        Ok(c) => Ok(c.text),
        Err(e) if e.fault() == Fault::Input => {
            Err(CaptionError::Input(InputCause::Image(Box::new(e))))
        }
        Err(e) => Err(CaptionError::System(Box::new(e))),
    }
}
