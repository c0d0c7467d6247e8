use crate::check;
use crate::harness::{Check, Ctx, Verdict, expect_header, expect_header_eq, expect_status, fail, image_manifest};
use drydock_spec::{Algorithm, Digest};

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "discovery/tags/list",
            "spec §Listing tags (end-8a)",
            Oci10,
            "tags list names every pushed tag, sorted",
            tags_list
        ),
        check!(
            "discovery/tags/pagination",
            "spec §Listing tags (end-8b)",
            Oci10,
            "n and last page the tag list; Link points at the next page",
            tags_pagination
        ),
        check!("discovery/tags/n-0", "spec §Listing tags (end-8b)", Oci11, "n=0 answers an empty list", tags_n0),
        check!(
            "discovery/referrers/empty",
            "spec §Listing referrers (end-12a)",
            Oci11,
            "referrers of a digest without any: 200 and an empty index",
            referrers_empty
        ),
        check!(
            "discovery/referrers/subject",
            "spec §Pushing manifests with subject, §Listing referrers",
            Oci11,
            "a manifest with subject: OCI-Subject, listed as a referrer, filterable by artifactType",
            referrers_subject
        ),
    ]
}

async fn tags_list(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("tags");
    let (body, _) = ctx.push_image(&repo, "b-tag").await?;
    for tag in ["a-tag", "c-tag"] {
        let r = ctx.put_manifest(&repo, tag, drydock_spec::media_type::OCI_MANIFEST, &body).await?;
        expect_status(&r, &[201])?;
    }
    let r = ctx.get(&format!("/v2/{repo}/tags/list")).await?;
    expect_status(&r, &[200])?;
    let json = r.json().ok_or_else(|| fail(&r, "tag list is not JSON"))?;
    if json["name"] != repo.as_str() || json["tags"] != serde_json::json!(["a-tag", "b-tag", "c-tag"]) {
        return Err(fail(&r, format!("expected name {repo} and tags [a-tag, b-tag, c-tag]")));
    }
    Ok(())
}

async fn tags_pagination(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("tags-pages");
    let (body, _) = ctx.push_image(&repo, "t1").await?;
    for tag in ["t2", "t3"] {
        expect_status(&ctx.put_manifest(&repo, tag, drydock_spec::media_type::OCI_MANIFEST, &body).await?, &[201])?;
    }
    let r = ctx.get(&format!("/v2/{repo}/tags/list?n=2")).await?;
    expect_status(&r, &[200])?;
    if r.json().map(|j| j["tags"].clone()) != Some(serde_json::json!(["t1", "t2"])) {
        return Err(fail(&r, "n=2 should answer the first two tags, [t1, t2]"));
    }
    let link = expect_header(&r, "link")?;
    if !link.contains("rel=\"next\"") || !link.contains("last=t2") {
        return Err(fail(&r, "Link should point at the next page (last=t2, rel=\"next\")"));
    }
    let r = ctx.get(&format!("/v2/{repo}/tags/list?n=2&last=t2")).await?;
    if r.json().map(|j| j["tags"].clone()) != Some(serde_json::json!(["t3"])) {
        return Err(fail(&r, "n=2&last=t2 should answer [t3]"));
    }
    Ok(())
}

async fn tags_n0(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("tags-n0");
    ctx.push_image(&repo, "t1").await?;
    let r = ctx.get(&format!("/v2/{repo}/tags/list?n=0")).await?;
    expect_status(&r, &[200])?;
    let tags = r.json().map(|j| j["tags"].clone());
    if tags != Some(serde_json::json!([])) && tags != Some(serde_json::Value::Null) {
        return Err(fail(&r, "n=0 should answer an empty tag list"));
    }
    Ok(())
}

async fn referrers_empty(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("referrers-empty");
    let (_, d) = ctx.push_image(&repo, "v1").await?;
    let r = ctx.get(&format!("/v2/{repo}/referrers/{d}")).await?;
    expect_status(&r, &[200])?;
    expect_header_eq(&r, "content-type", drydock_spec::media_type::OCI_INDEX)?;
    if r.json().map(|j| j["manifests"].clone()) != Some(serde_json::json!([])) {
        return Err(fail(&r, "expected an index with an empty manifests list"));
    }
    Ok(())
}

async fn referrers_subject(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("referrers");
    let (subject_body, subject) = ctx.push_image(&repo, "v1").await?;
    let empty = ctx.push_blob(&repo, b"{}").await?;
    let mut artifact: serde_json::Value =
        serde_json::from_slice(&image_manifest(&empty, 2, &[(empty.clone(), 2)], Some((&subject, subject_body.len()))))
            .unwrap();
    artifact["artifactType"] = "application/vnd.drydock.check+json".into();
    artifact["config"]["mediaType"] = drydock_spec::media_type::OCI_EMPTY.into();
    let body = serde_json::to_vec(&artifact).unwrap();
    let d = Digest::of(Algorithm::Sha256, &body);
    let r = ctx.put_manifest(&repo, d.as_str(), drydock_spec::media_type::OCI_MANIFEST, &body).await?;
    expect_status(&r, &[201])?;
    expect_header_eq(&r, "oci-subject", subject.as_str())?;
    let r = ctx.get(&format!("/v2/{repo}/referrers/{subject}")).await?;
    expect_status(&r, &[200])?;
    let listed = r.json().map(|j| j["manifests"].clone()).unwrap_or_default();
    let entry = listed.as_array().and_then(|a| a.iter().find(|m| m["digest"] == d.as_str()).cloned());
    match entry {
        Some(e) if e["artifactType"] == "application/vnd.drydock.check+json" && e["size"] == body.len() => {}
        Some(_) => return Err(fail(&r, "the referrer is listed with the wrong artifactType or size")),
        None => return Err(fail(&r, format!("{d} is not listed as a referrer of {subject}"))),
    }
    let r = ctx.get(&format!("/v2/{repo}/referrers/{subject}?artifactType=application/vnd.other")).await?;
    expect_status(&r, &[200])?;
    if r.json().map(|j| j["manifests"].clone()) != Some(serde_json::json!([])) {
        return Err(fail(&r, "filtering by another artifactType should leave no referrers"));
    }
    Ok(())
}
