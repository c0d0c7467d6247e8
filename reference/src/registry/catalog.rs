//! The repository list: every directory under `repositories/` that holds
//! registry data (`_layers`, `_manifests` or `_uploads`), in lexical order.

use super::error::Result;
use super::paths;
use crate::storage::StorageDriver;

/// Walks the repositories tree. Depth is bounded by the name grammar (a
/// 255-byte name has at most 128 components).
pub async fn repositories(driver: &dyn StorageDriver) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(prefix) = stack.pop() {
        let dir = if prefix.is_empty() { paths::repositories() } else { format!("{}/{prefix}", paths::repositories()) };
        let children = match driver.list(&dir).await {
            Ok(c) => c,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        };
        if children.iter().any(|c| c.starts_with('_')) && !prefix.is_empty() {
            out.push(prefix.clone());
        }
        for child in children.iter().rev().filter(|c| !c.starts_with('_')) {
            stack.push(if prefix.is_empty() { child.clone() } else { format!("{prefix}/{child}") });
        }
    }
    out.sort();
    Ok(out)
}
