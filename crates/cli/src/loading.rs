//! Loading the model for a batch job, by the exit-status rule: a model part that some inputs
//! need but that cannot be found (the tokenizer for texts, MERT for recordings) fails only those
//! inputs; when every input needs it, the job stops before doing anything.

use anyhow::Result;
use clamp3::{Companions, Embedder, InputKind};

use crate::Ctx;

/// The embedder for inputs of the kinds `inputs` (one entry per input), from the model argument
/// `model` and the companion models' folders.
pub fn embedder_for(
    ctx: &Ctx,
    model: &str,
    inputs: &[InputKind],
    companions: &Companions,
) -> Result<Embedder> {
    let path = clamp3::hub::resolve_model(model)?;
    let mut kinds = inputs.to_vec();
    kinds.sort();
    kinds.dedup();
    let (embedder, missing) =
        Embedder::for_kinds_partial_with(&path, &kinds, companions, &ctx.device)?;
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
