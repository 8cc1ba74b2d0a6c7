//! A deterministic split of a job into N shards by content hash, so that N machines (or
//! scheduler tasks) can share one collection without talking to each other: every input
//! belongs to exactly one shard, whatever its path, and identical files to the same one.

/// Shard `index` of `count` (0-based: `0/4` … `3/4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u64,
    /// Number of shards, at least 1.
    pub count: u64,
}

/// Why a shard could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a shard: write I/N with 0 <= I < N, e.g. 0/4")]
pub struct ShardSyntax(pub String);

impl std::str::FromStr for Shard {
    type Err = ShardSyntax;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ShardSyntax(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(err)?;
        let index: u64 = i.trim().parse().map_err(|_| err())?;
        let count: u64 = n.trim().parse().map_err(|_| err())?;
        if count == 0 || index >= count {
            return Err(err());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether the input with SHA-256 `content_hash` (hex) belongs to this shard: its first
    /// 64 bits, big-endian, modulo the shard count. (A hash that is not hex belongs to shard 0.)
    pub fn contains(&self, content_hash: &str) -> bool {
        shard_of(content_hash, self.count) == self.index
    }
}

/// The shard (of `count`) of the input with SHA-256 `content_hash` (hex).
pub fn shard_of(content_hash: &str, count: u64) -> u64 {
    let head = content_hash.get(..16).unwrap_or("");
    u64::from_str_radix(head, 16).unwrap_or(0) % count.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_every_hash_into_exactly_one() {
        assert_eq!("1/4".parse(), Ok(Shard { index: 1, count: 4 }));
        for bad in ["4/4", "1/0", "x/2", "3", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let hashes: Vec<String> = (0..1000u32)
            .map(|i| crate::library::content_hash(&i.to_le_bytes()))
            .collect();
        let mut sizes = [0usize; 4];
        for h in &hashes {
            let owners: Vec<u64> = (0..4)
                .filter(|i| {
                    Shard {
                        index: *i,
                        count: 4,
                    }
                    .contains(h)
                })
                .collect();
            assert_eq!(owners.len(), 1);
            sizes[owners[0] as usize] += 1;
        }
        // SHA-256 spreads them evenly.
        assert!(sizes.iter().all(|n| (200..300).contains(n)), "{sizes:?}");
        // The first 64 bits, big-endian.
        assert_eq!(shard_of("0000000000000007ffff", 4), 3);
    }
}
