//! The repository list: every directory under `repositories/` that holds
//! registry data (`_layers`, `_manifests` or `_uploads`), in lexical order.
//!
//! A page costs what it shows, not what the registry holds: the tree is
//! walked lazily in lexical order of full names, subtrees wholly before
//! `last` are never listed, and the walk stops once the page is full. Names
//! and subtrees interleave: under `a`, the sibling `a-b` sorts before the
//! subtree `a/…` (`-` < `/`), so each directory's entries are ordered by
//! the keys `child` (the repository itself) and `child/` (what is below).

use super::error::Result;
use super::paths;
use crate::storage::StorageDriver;
use std::collections::{BTreeMap, VecDeque};

/// Every repository, in lexical order (for maintenance that visits all).
pub async fn repositories(driver: &dyn StorageDriver) -> Result<Vec<String>> {
    Ok(page(driver, None, usize::MAX).await?.0)
}

/// Up to `n` repositories after `last`, in lexical order, and whether more
/// follow.
pub async fn page(driver: &dyn StorageDriver, last: Option<&str>, n: usize) -> Result<(Vec<String>, bool)> {
    walk(driver, last, n, true).await
}

/// [`page`] as the simulator's `catalog-skips-below-last` mutant has it.
#[cfg(feature = "sim-mutants")]
pub async fn page_skipping_below_last(
    driver: &dyn StorageDriver,
    last: Option<&str>,
    n: usize,
) -> Result<(Vec<String>, bool)> {
    walk(driver, last, n, false).await
}

/// The walk behind [`page`]; `below_last` is false only in the mutant.
async fn walk(
    driver: &dyn StorageDriver,
    last: Option<&str>,
    n: usize,
    below_last: bool,
) -> Result<(Vec<String>, bool)> {
    let mut out = Vec::new();
    let Some(root) = listing(driver, "").await? else { return Ok((out, false)) };
    let mut stack = vec![Frame::new(String::new(), root)];
    while let Some(frame) = stack.last_mut() {
        let Some(key) = frame.keys.pop_front() else {
            stack.pop();
            continue;
        };
        match key {
            Key::Name(child) => {
                let full = join(&frame.prefix, &child);
                if last.is_some_and(|l| wholly_before(&full, l) || (!below_last && full == l)) {
                    continue;
                }
                let entries = listing(driver, &full).await?.unwrap_or_default();
                let is_repository = entries.iter().any(|e| e.starts_with('_'));
                if is_repository && last.is_none_or(|l| full.as_str() > l) {
                    if out.len() == n {
                        return Ok((out, true));
                    }
                    out.push(full);
                }
                frame.below.insert(child, entries);
            }
            Key::Below(child) => {
                let Some(entries) = frame.below.remove(&child) else { continue };
                let full = join(&frame.prefix, &child);
                stack.push(Frame::new(full, entries));
            }
        }
    }
    Ok((out, false))
}

enum Key {
    /// The repository `child` may be (its own name).
    Name(String),
    /// The repositories below `child`.
    Below(String),
}

/// One directory being walked: its entries in the order their names sort.
struct Frame {
    prefix: String,
    keys: VecDeque<Key>,
    /// Listings of children read for their `Name`, kept for their `Below`.
    below: BTreeMap<String, Vec<String>>,
}

impl Frame {
    fn new(prefix: String, entries: Vec<String>) -> Frame {
        let mut keyed: Vec<(String, Key)> = entries
            .into_iter()
            .filter(|e| !e.starts_with('_'))
            .flat_map(|c| [(c.clone(), Key::Name(c.clone())), (format!("{c}/"), Key::Below(c))])
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        Frame { prefix, keys: keyed.into_iter().map(|(_, k)| k).collect(), below: BTreeMap::new() }
    }
}

fn join(prefix: &str, child: &str) -> String {
    if prefix.is_empty() { child.to_owned() } else { format!("{prefix}/{child}") }
}

/// Whether `name` and everything below it sort at or before `last`.
fn wholly_before(name: &str, last: &str) -> bool {
    let below = format!("{name}/");
    last > below.as_str() && !last.starts_with(&below)
}

/// A directory's entries (relative to `repositories/`), sorted; `None` if
/// it does not exist.
async fn listing(driver: &dyn StorageDriver, relative: &str) -> Result<Option<Vec<String>>> {
    let dir = if relative.is_empty() { paths::repositories() } else { format!("{}/{relative}", paths::repositories()) };
    match driver.list(&dir).await {
        Ok(mut entries) => {
            entries.sort();
            Ok(Some(entries))
        }
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::InMemoryDriver;
    use bytes::Bytes;
    use std::sync::atomic::{AtomicUsize, Ordering};

    async fn registry_with(names: &[&str]) -> InMemoryDriver {
        let driver = InMemoryDriver::new();
        for name in names {
            let link = format!("{}/{name}/_layers/sha256/00/link", paths::repositories());
            driver.put_content(&link, Bytes::from_static(b"x")).await.unwrap();
        }
        driver
    }

    #[tokio::test]
    async fn pages_in_lexical_order_whatever_the_nesting() {
        let names = ["a", "a-b", "a.c", "a/b", "a/b/c", "a/z", "a0", "b", "b/a-1", "b/a/1", "zz/top"];
        let driver = registry_with(&names).await;
        let all = repositories(&driver).await.unwrap();
        let mut sorted = names.map(str::to_owned).to_vec();
        sorted.sort();
        assert_eq!(all, sorted);
        // Every page boundary gives the rest in order.
        for (i, last) in sorted.iter().enumerate() {
            let (page2, more) = page(&driver, Some(last), 3).await.unwrap();
            let want: Vec<String> = sorted[i + 1..].iter().take(3).cloned().collect();
            assert_eq!(page2, want, "after {last}");
            assert_eq!(more, sorted.len() > i + 4, "after {last}");
        }
        let (first, more) = page(&driver, None, 2).await.unwrap();
        assert_eq!((first, more), (vec!["a".to_owned(), "a-b".to_owned()], true));
        assert_eq!(page(&driver, Some("zzz"), 5).await.unwrap(), (vec![], false));
        assert_eq!(page(&InMemoryDriver::new(), None, 5).await.unwrap(), (vec![], false));
    }

    /// Counts directory listings.
    struct Counting(InMemoryDriver, AtomicUsize);

    #[async_trait::async_trait]
    impl StorageDriver for Counting {
        fn name(&self) -> &'static str {
            "counting"
        }
        fn capabilities(&self) -> crate::storage::Capabilities {
            self.0.capabilities()
        }
        async fn put_content_new(&self, p: &str, b: Bytes) -> crate::storage::Result<()> {
            self.0.put_content_new(p, b).await
        }
        async fn replace_if(&self, p: &str, e: Option<&[u8]>, b: Bytes) -> crate::storage::Result<bool> {
            self.0.replace_if(p, e, b).await
        }
        async fn writer(&self, p: &str) -> crate::storage::Result<Box<dyn crate::storage::ObjectWriter>> {
            self.0.writer(p).await
        }
        async fn get_content(&self, p: &str) -> crate::storage::Result<Bytes> {
            self.0.get_content(p).await
        }
        async fn put_content(&self, p: &str, b: Bytes) -> crate::storage::Result<()> {
            self.0.put_content(p, b).await
        }
        async fn read_at(&self, p: &str, o: u64, l: usize) -> crate::storage::Result<Bytes> {
            self.0.read_at(p, o, l).await
        }
        async fn append(&self, p: &str, o: u64, b: Bytes) -> crate::storage::Result<u64> {
            self.0.append(p, o, b).await
        }
        async fn truncate(&self, p: &str, size: u64) -> crate::storage::Result<()> {
            self.0.truncate(p, size).await
        }
        async fn stat(&self, p: &str) -> crate::storage::Result<crate::storage::FileInfo> {
            self.0.stat(p).await
        }
        async fn list(&self, p: &str) -> crate::storage::Result<Vec<String>> {
            self.1.fetch_add(1, Ordering::Relaxed);
            self.0.list(p).await
        }
        async fn rename(&self, a: &str, b: &str) -> crate::storage::Result<()> {
            self.0.rename(a, b).await
        }
        async fn delete(&self, p: &str) -> crate::storage::Result<()> {
            self.0.delete(p).await
        }
    }

    #[tokio::test]
    async fn a_page_costs_what_it_shows_not_what_the_registry_holds() {
        let mut listings = Vec::new();
        for repos in [10usize, 100, 1000] {
            let names: Vec<String> = (0..repos).map(|i| format!("org{:04}/team/app", i)).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let counting = Counting(registry_with(&refs).await, AtomicUsize::new(0));
            let (first, more) = page(&counting, None, 1).await.unwrap();
            assert_eq!((first[0].as_str(), more), ("org0000/team/app", true));
            let (after, _) = page(&counting, Some("org0005/team/app"), 1).await.unwrap();
            assert_eq!(after, ["org0006/team/app"]);
            listings.push(counting.1.load(Ordering::Relaxed));
        }
        assert!(listings.windows(2).all(|w| w[0] == w[1]), "listings per page grew with the registry: {listings:?}");
    }
}
