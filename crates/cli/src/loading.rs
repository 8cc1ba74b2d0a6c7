//! Loading the model for a batch job, by the exit-status rule: a model part that some inputs
//! need but that cannot be found (the tokenizer for texts, MERT for recordings) fails only those
//! inputs; when every input needs it, the job stops before doing anything.

use std::path::Path;

use anyhow::Result;
use clamp3::{Embedder, InputKind};

use crate::Ctx;

/// The embedder for inputs of the kinds `inputs` (one entry per input), from the model argument
/// `model` and the MERT folder `mert`.
pub fn embedder_for(
    ctx: &Ctx,
    model: &str,
    inputs: &[InputKind],
    mert: Option<&Path>,
) -> Result<Embedder> {
    let path = clamp3::hub::resolve_model(model)?;
    let mut kinds = inputs.to_vec();
    kinds.sort();
    kinds.dedup();
    let (embedder, missing) = Embedder::for_kinds_partial(&path, &kinds, mert, &ctx.device)?;
    for m in missing {
        let affected = inputs.iter().filter(|k| m.kinds.contains(k)).count();
        if affected == inputs.len() {
            return Err(m.error.into());
        }
        eprintln!(
            "warning: {} input(s) cannot be embedded: {}",
            affected,
            crate::report::describe_error(m.error)
        );
    }
    Ok(embedder)
}
