//! Train/evaluation split and epoch orders.

use super::Rng;

/// The number of evaluation items for `n` records and share `share` (reference
/// `int(len(data) * eval_ratio)`), raised to at least 1 when `n >= 2` and `share > 0`, and
/// kept below `n` so that training keeps at least one item. A non-positive or NaN share
/// gives 0.
pub fn eval_count(n: usize, share: f64) -> usize {
    if n < 2 || share.is_nan() || share <= 0.0 {
        return 0;
    }
    // `as` saturates and truncates toward zero, like Python's int() of a positive float.
    let k = (n as f64 * share) as usize;
    k.clamp(1, n - 1)
}

/// Deterministic split of `0..n` (reference `split_data`: shuffle, the first
/// [`eval_count`] items are the evaluation set). Returns `(train, eval)` indices, each in
/// ascending order.
pub fn split_indices(n: usize, share: f64, rng: &mut Rng) -> (Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut idx);
    let k = eval_count(n, share);
    let mut eval = idx[..k].to_vec();
    let mut train = idx[k..].to_vec();
    eval.sort_unstable();
    train.sort_unstable();
    (train, eval)
}

/// [`split_indices`] applied to `items`: `(train, eval)`, each in input order.
pub fn split<T>(items: Vec<T>, share: f64, rng: &mut Rng) -> (Vec<T>, Vec<T>) {
    let (_, eval_idx) = split_indices(items.len(), share, rng);
    let mut is_eval = vec![false; items.len()];
    for i in eval_idx {
        if let Some(flag) = is_eval.get_mut(i) {
            *flag = true;
        }
    }
    let mut train = Vec::new();
    let mut eval = Vec::new();
    for (item, e) in items.into_iter().zip(is_eval) {
        if e {
            eval.push(item);
        } else {
            train.push(item);
        }
    }
    (train, eval)
}

/// The order in which epoch `epoch` visits `n` items (the reference's `DistributedSampler`
/// reshuffles with seed + epoch): a permutation of `0..n` determined by `seed` and `epoch`.
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    Rng::new(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15)).shuffle(&mut order);
    order
}
