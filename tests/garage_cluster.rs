//! The three-node Garage cluster the object-storage tests run on
//! (`scripts/garage-cluster`): it starts from nothing, and what one node
//! acknowledges the others serve.

mod common;

use common::Scratch;
use common::garage::{Cluster, available};

#[test]
fn an_object_written_through_one_node_reads_back_through_every_node() {
    if !available() {
        return;
    }
    let scratch = Scratch::new("garage-cluster");
    let cluster = Cluster::start(&scratch.0);
    assert_eq!(cluster.endpoints.len(), 3);
    let body: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let (status, answer) = cluster.s3(0, "PUT", "probe/one", &[], Some(&body));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    for node in 0..3 {
        let (status, got) = cluster.s3(node, "GET", "probe/one", &[], None);
        assert_eq!(status, 200, "node {node}");
        assert!(got == body, "node {node} served {} bytes unlike the {} written", got.len(), body.len());
    }
    // Listed through another node, and gone everywhere once deleted.
    let (status, listing) = cluster.s3(2, "GET", "?list-type=2&prefix=probe%2F", &[], None);
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&listing).contains("<Key>probe/one</Key>"));
    assert_eq!(cluster.s3(1, "DELETE", "probe/one", &[], None).0, 204);
    for node in 0..3 {
        assert_eq!(cluster.s3(node, "GET", "probe/one", &[], None).0, 404, "node {node}");
    }
}
