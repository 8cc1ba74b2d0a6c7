//! What every index backend stores and answers, whatever holds it: a directory with a SQLite
//! file ([`crate::Index`]) or a PostgreSQL database with pgvector ([`crate::PgIndex`]).
//!
//! Searching differs by backend (the embedded index searches in memory, a server index in the
//! server), so it is not part of the trait.

use std::collections::BTreeMap;

use crate::{IndexError, IndexMeta, Item, NewItem, Upserted};

/// Whether `location` names a PostgreSQL database (`postgresql://...` or `postgres://...`)
/// rather than an index directory.
pub fn is_server_location(location: &str) -> bool {
    let l = location.trim_start();
    l.starts_with("postgresql://") || l.starts_with("postgres://")
}

/// The operations both backends share: items with their raw vectors and content hashes, the
/// model identity, a change counter and free-form settings.
pub trait Store: Send {
    /// Where the index lives, fit to print (a directory, or a URL without its password).
    fn location(&self) -> String;
    /// Model id and dimension.
    fn meta(&self) -> &IndexMeta;
    /// A counter bumped by every committed change.
    fn generation(&mut self) -> Result<u64, IndexError>;
    /// Number of stored items.
    fn count(&mut self) -> Result<usize, IndexError>;
    /// Number of stored items per modality.
    fn count_by_modality(&mut self) -> Result<BTreeMap<String, usize>, IndexError>;
    /// The content hash stored for `path`, if any.
    fn stored_hash(&mut self, path: &str) -> Result<Option<String>, IndexError>;
    /// The stored content hashes of those of `paths` that are stored.
    fn stored_hashes(
        &mut self,
        paths: &[String],
    ) -> Result<std::collections::HashMap<String, String>, IndexError> {
        let mut out = std::collections::HashMap::new();
        for p in paths {
            if let Some(h) = self.stored_hash(p)? {
                out.insert(p.clone(), h);
            }
        }
        Ok(out)
    }
    /// Inserts items, or replaces those stored (by path) whose content hash changed, in one
    /// transaction: all of them or none. Returns what it changed.
    fn put(&mut self, items: &[NewItem]) -> Result<Upserted, IndexError>;
    /// Removes the items whose path `keep` rejects, in one transaction; returns how many.
    fn remove_unless(&mut self, keep: &dyn Fn(&str) -> bool) -> Result<usize, IndexError>;
    /// Items by id, in the order of `ids`.
    fn items_by_id(&mut self, ids: &[i64]) -> Result<Vec<Item>, IndexError>;
    /// A free-form index-wide setting, if set.
    fn get_setting(&mut self, key: &str) -> Result<Option<String>, IndexError>;
    /// Stores a free-form index-wide setting.
    fn put_setting(&mut self, key: &str, value: &str) -> Result<(), IndexError>;
    /// The backend's consistency check ("ok" when sound).
    fn check(&mut self) -> Result<String, IndexError>;
}

impl Store for crate::Index {
    fn location(&self) -> String {
        self.dir().display().to_string()
    }
    fn meta(&self) -> &IndexMeta {
        crate::Index::meta(self)
    }
    fn generation(&mut self) -> Result<u64, IndexError> {
        crate::Index::generation(self)
    }
    fn count(&mut self) -> Result<usize, IndexError> {
        self.len()
    }
    fn count_by_modality(&mut self) -> Result<BTreeMap<String, usize>, IndexError> {
        let mut by = BTreeMap::new();
        self.for_each_vector(|_, m, _| *by.entry(m.to_string()).or_default() += 1)?;
        Ok(by)
    }
    fn stored_hash(&mut self, path: &str) -> Result<Option<String>, IndexError> {
        self.hash_of(path)
    }
    fn put(&mut self, items: &[NewItem]) -> Result<Upserted, IndexError> {
        self.upsert(items)
    }
    fn remove_unless(&mut self, keep: &dyn Fn(&str) -> bool) -> Result<usize, IndexError> {
        self.prune(keep)
    }
    fn items_by_id(&mut self, ids: &[i64]) -> Result<Vec<Item>, IndexError> {
        self.items(ids)
    }
    fn get_setting(&mut self, key: &str) -> Result<Option<String>, IndexError> {
        self.setting(key)
    }
    fn put_setting(&mut self, key: &str, value: &str) -> Result<(), IndexError> {
        self.set_setting(key, value)
    }
    fn check(&mut self) -> Result<String, IndexError> {
        self.integrity_check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_server_locations_and_directories_are_not() {
        assert!(is_server_location("postgresql://u@localhost/db"));
        assert!(is_server_location("postgres://localhost:5432/db"));
        assert!(!is_server_location("lib/"));
        assert!(!is_server_location("/data/postgres/index"));
        assert!(!is_server_location("postgresql"));
    }
}
