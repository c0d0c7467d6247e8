//! The checks, grouped as the spec groups its workflows.

mod algorithms;
mod base;
mod catalogue;
mod concurrency;
mod consistency;
mod content;
mod content_sets;
mod content_steps;
mod discovery;
mod errors;
mod management;
mod pull;
mod push;
mod races;
mod robustness;

use crate::harness::Check;

/// The checks as Markdown: what `docs/checks.md` holds.
pub fn markdown() -> String {
    catalogue::markdown(&all())
}

/// Every check, in the order they run.
pub fn all() -> Vec<Check> {
    let mut v = Vec::new();
    v.extend(base::checks());
    v.extend(pull::checks());
    v.extend(push::checks());
    v.extend(algorithms::checks());
    v.extend(discovery::checks());
    v.extend(management::checks());
    v.extend(content::checks());
    v.extend(content_steps::checks());
    v.extend(errors::checks());
    v.extend(robustness::checks());
    v.extend(consistency::checks());
    v.extend(concurrency::checks());
    v.extend(races::checks());
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for c in super::all() {
            assert!(seen.insert(c.id.clone()), "duplicate check id {}", c.id);
            assert!(
                c.id.split('/').count() >= 2
                    && c.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"/-".contains(&b)),
                "{}",
                c.id
            );
            assert!(!c.section.is_empty() && !c.title.is_empty());
        }
    }
}
