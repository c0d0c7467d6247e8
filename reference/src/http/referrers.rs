//! `GET /v2/<name>/referrers/<digest>`: the OCI 1.1 referrers API.

use super::blobs::parse_digest;
use super::response;
use super::{Ctx, HandlerResult};
use drydock_spec::media_type::OCI_INDEX;
use http::StatusCode;

pub(crate) async fn get(ctx: &Ctx<'_>, digest: &str) -> HandlerResult {
    let subject = parse_digest(digest)?;
    let filter = ctx.query.get("artifactType").map(String::as_str);
    let manifests = ctx.repository().referrers(&subject, filter).await?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": manifests,
    });
    let mut r = response::json(StatusCode::OK, &index);
    response::set(&mut r, "content-type", OCI_INDEX);
    if filter.is_some() {
        response::set(&mut r, "oci-filters-applied", "artifactType");
    }
    Ok(r)
}
