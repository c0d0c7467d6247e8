use crate::check;
use crate::harness::{Check, Ctx, Verdict, expect_header_eq, expect_status};

pub fn checks() -> Vec<Check> {
    vec![
        check!("base/v2-200", "spec §Determining support (end-1)", Oci10, "GET /v2/ answers 200", v2_ok),
        check!(
            "base/api-version-header",
            "Docker Registry HTTP API v2 §API Version Check",
            Oci10,
            "/v2/ carries Docker-Distribution-API-Version: registry/2.0",
            api_version
        ),
    ]
}

async fn v2_ok(ctx: &Ctx) -> Verdict {
    let r = ctx.get("/v2/").await?;
    expect_status(&r, &[200])
}

async fn api_version(ctx: &Ctx) -> Verdict {
    let r = ctx.get("/v2/").await?;
    expect_header_eq(&r, "docker-distribution-api-version", "registry/2.0")
}
