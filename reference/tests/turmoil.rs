//! The unchanged server inside a turmoil simulation: simulated network and
//! time, a seeded environment, in-memory storage. A client host pushes an
//! image (chunked layer upload, config, manifest) and pulls it back.

use bytes::Bytes;
use drydock_reference::storage::InMemoryDriver;
use drydock_reference::{Clock, Env, Instance, InstanceConfig};
use drydock_spec::{Algorithm, Digest};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::SystemTime;

struct SimClock;
impl Clock for SimClock {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000)
    }
}

type Reply = (StatusCode, http::HeaderMap, Bytes);

async fn send(method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    let stream = turmoil::net::TcpStream::connect("registry:5000").await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder().method(method).uri(path).header("host", "registry");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender.send_request(req.body(Full::new(Bytes::from(body))).unwrap()).await.unwrap();
    let (parts, body) = resp.into_parts();
    (parts.status, parts.headers, body.collect().await.unwrap().to_bytes())
}

#[test]
fn push_and_pull_through_a_simulated_network() {
    let mut sim = turmoil::Builder::new().build();
    let storage = Arc::new(InMemoryDriver::new());
    sim.host("registry", move || {
        let storage = storage.clone();
        async move {
            let instance =
                Instance::new(InstanceConfig::new(storage, Env::new(Arc::new(SimClock), [9; 32]), b"sim-secret"));
            let listener = turmoil::net::TcpListener::bind("0.0.0.0:5000").await?;
            loop {
                let (stream, peer) = listener.accept().await?;
                tokio::spawn(drydock_reference::http::serve_connection(
                    instance.clone(),
                    stream,
                    peer.to_string(),
                    std::future::pending(),
                ));
            }
        }
    });
    sim.client("client", async {
        let layer: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let layer_digest = Digest::of(Algorithm::Sha256, &layer);
        let (status, headers, _) = send(Method::POST, "/v2/sim/app/blobs/uploads/", &[], vec![]).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let mut location = headers["location"].to_str().unwrap().to_owned();
        for (i, chunk) in layer.chunks(30_000).enumerate() {
            let start = i * 30_000;
            let range = format!("{start}-{}", start + chunk.len() - 1);
            let (status, headers, _) = send(Method::PATCH, &location, &[("content-range", &range)], chunk.to_vec()).await;
            assert_eq!(status, StatusCode::ACCEPTED);
            location = headers["location"].to_str().unwrap().to_owned();
        }
        let (status, _, _) = send(Method::PUT, &format!("{location}&digest={layer_digest}"), &[], vec![]).await;
        assert_eq!(status, StatusCode::CREATED);

        let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
        let config_digest = Digest::of(Algorithm::Sha256, &config);
        let (status, _, _) =
            send(Method::POST, &format!("/v2/sim/app/blobs/uploads/?digest={config_digest}"), &[], config.clone()).await;
        assert_eq!(status, StatusCode::CREATED);
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}],
        }))
        .unwrap();
        let ct = [("content-type", "application/vnd.oci.image.manifest.v1+json")];
        let (status, _, _) = send(Method::PUT, "/v2/sim/app/manifests/v1", &ct, manifest.clone()).await;
        assert_eq!(status, StatusCode::CREATED);

        let (status, _, body) = send(Method::GET, "/v2/sim/app/manifests/v1", &[], vec![]).await;
        assert_eq!((status, &body[..]), (StatusCode::OK, &manifest[..]));
        let (status, _, body) = send(Method::GET, &format!("/v2/sim/app/blobs/{layer_digest}"), &[], vec![]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(Digest::of(Algorithm::Sha256, &body), layer_digest);
        Ok(())
    });
    sim.run().unwrap();
}
