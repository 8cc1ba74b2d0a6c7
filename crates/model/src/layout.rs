//! The release checkpoint's state-dict layout (docs/reference.md §3.8): every key and shape a
//! configuration implies, poolers and unused tables included.

use crate::config::{BertConfig, Clamp3Config, PATCH_VOCAB};

fn bert(prefix: &str, c: &BertConfig, out: &mut Vec<(String, Vec<usize>)>) {
    let h = c.hidden_size;
    let mut put = |k: &str, s: Vec<usize>| out.push((format!("{prefix}.{k}"), s));
    put("embeddings.word_embeddings.weight", vec![c.vocab_size, h]);
    put(
        "embeddings.position_embeddings.weight",
        vec![c.max_position_embeddings, h],
    );
    put(
        "embeddings.token_type_embeddings.weight",
        vec![c.type_vocab_size, h],
    );
    put("embeddings.LayerNorm.weight", vec![h]);
    put("embeddings.LayerNorm.bias", vec![h]);
    for i in 0..c.num_hidden_layers {
        let l = format!("encoder.layer.{i}");
        for m in ["query", "key", "value"] {
            put(&format!("{l}.attention.self.{m}.weight"), vec![h, h]);
            put(&format!("{l}.attention.self.{m}.bias"), vec![h]);
        }
        put(&format!("{l}.attention.output.dense.weight"), vec![h, h]);
        put(&format!("{l}.attention.output.dense.bias"), vec![h]);
        put(&format!("{l}.attention.output.LayerNorm.weight"), vec![h]);
        put(&format!("{l}.attention.output.LayerNorm.bias"), vec![h]);
        put(
            &format!("{l}.intermediate.dense.weight"),
            vec![c.intermediate_size, h],
        );
        put(
            &format!("{l}.intermediate.dense.bias"),
            vec![c.intermediate_size],
        );
        put(
            &format!("{l}.output.dense.weight"),
            vec![h, c.intermediate_size],
        );
        put(&format!("{l}.output.dense.bias"), vec![h]);
        put(&format!("{l}.output.LayerNorm.weight"), vec![h]);
        put(&format!("{l}.output.LayerNorm.bias"), vec![h]);
    }
    put("pooler.dense.weight", vec![h, h]);
    put("pooler.dense.bias", vec![h]);
}

/// Every tensor of a release-layout state dict for `c`, in the checkpoint's module order.
/// For the official configuration these are the 605 tensors of docs/reference.md §3.8.
pub fn release_tensors(c: &Clamp3Config) -> Vec<(String, Vec<usize>)> {
    let mut out = Vec::new();
    let p = c.projection_dim;
    bert("text_model", &c.text_config, &mut out);
    out.push((
        "text_proj.weight".into(),
        vec![p, c.text_config.hidden_size],
    ));
    out.push(("text_proj.bias".into(), vec![p]));
    let s = &c.symbolic_config;
    out.push((
        "symbolic_model.patch_embedding.weight".into(),
        vec![s.hidden_size, c.patch_size * PATCH_VOCAB],
    ));
    out.push((
        "symbolic_model.patch_embedding.bias".into(),
        vec![s.hidden_size],
    ));
    bert("symbolic_model.base", s, &mut out);
    out.push(("symbolic_proj.weight".into(), vec![p, s.hidden_size]));
    out.push(("symbolic_proj.bias".into(), vec![p]));
    bert("audio_model", &c.audio_config, &mut out);
    out.push((
        "audio_proj.weight".into(),
        vec![p, c.audio_config.hidden_size],
    ));
    out.push(("audio_proj.bias".into(), vec![p]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_layout_has_605_tensors_and_457m_parameters() {
        let t = release_tensors(&Clamp3Config::default());
        assert_eq!(t.len(), 605);
        let params: usize = t.iter().map(|(_, s)| s.iter().product::<usize>()).sum();
        assert_eq!(params, 457_896_960);
        let text = t
            .iter()
            .filter(|(k, _)| k.starts_with("text_model."))
            .count();
        let sym = t
            .iter()
            .filter(|(k, _)| k.starts_with("symbolic_model."))
            .count();
        assert_eq!((text, sym), (199, 201));
    }
}
