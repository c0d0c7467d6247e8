//! Real clients against `drydock serve`: skopeo pushes OCI layouts built by
//! umoci (one image, and a multi-platform index) and pulls them back; every
//! digest and byte must survive the round trip.

mod common;

use common::*;
use drydock_spec::{Algorithm, Digest};

#[test]
fn skopeo_round_trips_images_and_indexes() {
    if !require(&["skopeo", "umoci"]) {
        return;
    }
    let scratch = Scratch::new("real-clients");
    let layout = build_layout(&scratch.0, &["amd64", "arm64"], Some("multi"));
    let (_server, port) = drydock_serve(&[], &scratch.0.join("registry"));
    let pulled = scratch.0.join("pulled");
    for (tag, all) in [("amd64", false), ("multi", true)] {
        skopeo_push(&layout, tag, port, "drydock/test", all);
        let raw = skopeo_raw_manifest(port, "drydock/test", tag);
        let served = Digest::of(Algorithm::Sha256, raw.as_bytes());
        let parsed: serde_json::Value = serde_json::from_str(&raw).unwrap();
        if !all {
            assert_eq!(parsed["layers"].as_array().map(Vec::len), Some(2), "a multi-layer image: {raw}");
        } else {
            assert_eq!(parsed["manifests"].as_array().map(Vec::len), Some(2), "a two-platform index: {raw}");
        }
        assert_eq!(served.as_str(), digest_of(&layout, tag), "{tag}: served manifest bytes differ");
        skopeo_pull(port, "drydock/test", tag, &pulled, all);
        assert_eq!(digest_of(&pulled, tag), digest_of(&layout, tag));
    }
    assert_blobs_identical(&pulled, &layout);
}
