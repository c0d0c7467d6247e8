//! Two `drydock serve` processes over one storage directory (as instances
//! sharing a network filesystem): a conditional tag update (`If-Match`)
//! holds across them, not just within one.

mod common;

use common::{Scratch, drydock_serve, exchange, push_blob};
use drydock_spec::{Algorithm, Digest};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const ROUNDS: usize = 40;

fn manifest(config: &str, config_size: usize, note: &str) -> String {
    format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"{OCI_MANIFEST}\",\"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"{config}\",\"size\":{config_size}}},\"layers\":[],\"annotations\":{{\"note\":\"{note}\"}}}}"
    )
}

fn put(port: u16, body: &str, if_match: &str) -> u16 {
    let quoted = format!("\"{if_match}\"");
    let headers = [("Content-Type", OCI_MANIFEST), ("If-Match", quoted.as_str())];
    exchange(port, "PUT", "/v2/shared/cas/manifests/latest", &headers, body.as_bytes()).0
}

#[test]
fn a_conditional_tag_update_holds_across_instances_sharing_a_filesystem() {
    let scratch = Scratch::new("shared-cas");
    let root = scratch.0.join("storage");
    let (_a, a) = drydock_serve(&[], &root);
    let (_b, b) = drydock_serve(&[], &root);
    let config = b"{\"architecture\":\"amd64\",\"os\":\"linux\"}";
    let config_digest = push_blob(a, "shared/cas", config);
    let first = manifest(&config_digest, config.len(), "start");
    let (status, answer) =
        exchange(a, "PUT", "/v2/shared/cas/manifests/latest", &[("Content-Type", OCI_MANIFEST)], first.as_bytes());
    assert_eq!(status, 201, "{answer}");
    let mut current = Digest::of(Algorithm::Sha256, first.as_bytes()).to_string();
    for round in 0..ROUNDS {
        let (via_a, via_b) = (
            manifest(&config_digest, config.len(), &format!("a{round}")),
            manifest(&config_digest, config.len(), &format!("b{round}")),
        );
        let (sa, sb) = std::thread::scope(|s| {
            let ta = s.spawn(|| put(a, &via_a, &current));
            let tb = s.spawn(|| put(b, &via_b, &current));
            (ta.join().unwrap(), tb.join().unwrap())
        });
        let mut answers = [sa, sb];
        answers.sort();
        assert_eq!(answers, [201, 412], "round {round}: both updates of one tag version were answered {sa} and {sb}");
        let winner = if sa == 201 { &via_a } else { &via_b };
        current = Digest::of(Algorithm::Sha256, winner.as_bytes()).to_string();
        // Both instances now serve the winner under the tag.
        for port in [a, b] {
            let (status, answer) =
                exchange(port, "GET", "/v2/shared/cas/manifests/latest", &[("Accept", OCI_MANIFEST)], b"");
            assert_eq!(status, 200);
            assert!(answer.ends_with(winner.as_str()), "round {round}: {port} serves another manifest");
        }
    }
}
