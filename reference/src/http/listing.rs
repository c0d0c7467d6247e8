//! Tag lists and the catalog, with `n`/`last` pagination and `Link` headers.

use super::query::Query;
use super::response;
use super::{Ctx, HandlerResult};
use crate::registry::Registry;
use crate::registry::catalog;
use drydock_spec::ErrorCode;
use http::StatusCode;

/// Largest page served, whatever `n` asks for.
pub const PAGE_MAX: usize = 10_000;

/// One page of `all` (sorted) after `last`, and whether more follow.
fn page<'a>(all: &'a [String], query: &Query) -> Result<(&'a [String], Option<usize>), String> {
    let n = match query.get("n") {
        None => None,
        Some(v) => Some(v.parse::<usize>().map_err(|_| format!("n={v:?} is not a non-negative integer"))?),
    };
    let start = match query.get("last") {
        Some(last) => all.partition_point(|x| x.as_str() <= last.as_str()),
        None => 0,
    };
    let rest = &all[start..];
    let n = n.unwrap_or(PAGE_MAX).min(PAGE_MAX);
    if rest.len() > n { Ok((&rest[..n], Some(n))) } else { Ok((rest, None)) }
}

fn link(base: &str, n: usize, last: &str) -> String {
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("n", &n.to_string())
        .append_pair("last", last)
        .finish();
    format!("<{base}?{q}>; rel=\"next\"")
}

pub(crate) async fn tags(ctx: &Ctx<'_>) -> HandlerResult {
    let all = ctx.repository().tags().await?;
    let (items, more) = match page(&all, &ctx.query) {
        Ok(p) => p,
        Err(msg) => return Ok(response::error(ErrorCode::PaginationNumberInvalid, msg)),
    };
    let mut r = response::json(StatusCode::OK, &serde_json::json!({"name": ctx.repo.as_str(), "tags": items}));
    if let (Some(n), Some(last)) = (more, items.last()) {
        response::set(&mut r, "link", link(&format!("/v2/{}/tags/list", ctx.repo), n, last));
    }
    Ok(r)
}

pub(crate) async fn catalog(registry: &Registry, query: &Query) -> HandlerResult {
    let n = match query.get("n").map(|v| v.parse::<usize>().map_err(|_| v)) {
        None => PAGE_MAX,
        Some(Ok(n)) => n.min(PAGE_MAX),
        Some(Err(v)) => {
            let msg = format!("n={v:?} is not a non-negative integer");
            return Ok(response::error(ErrorCode::PaginationNumberInvalid, msg));
        }
    };
    let last = query.get("last").map(String::as_str);
    #[cfg(feature = "sim-mutants")]
    if registry.mutants.catalog_skips_below_last() {
        let (items, more) = catalog::page_skipping_below_last(registry.driver.as_ref(), last, n).await?;
        return Ok(catalog_page(items, more, n));
    }
    let (items, more) = catalog::page(registry.driver.as_ref(), last, n).await?;
    Ok(catalog_page(items, more, n))
}

fn catalog_page(items: Vec<String>, more: bool, n: usize) -> http::Response<response::Body> {
    let mut r = response::json(StatusCode::OK, &serde_json::json!({"repositories": items}));
    if let (true, Some(last)) = (more, items.last()) {
        response::set(&mut r, "link", link("/v2/_catalog", n, last));
    }
    r
}
