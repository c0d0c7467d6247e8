//! Webhook endpoints over https: events reach a receiver whose certificate a
//! private CA signed once `[notifications] ca_certificate` names it, and
//! never reach it without that trust.

mod common;

use bytes::Bytes;
use common::{Process, Scratch, free_port, http, push_blob, spawn_listening, two_free_ports};
use http_body_util::{BodyExt, Full};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_rustls::rustls;

/// An https receiver on `port` keeping every body it is POSTed.
fn start_receiver(port: u16, cert: &rcgen::CertifiedKey<rcgen::KeyPair>) -> Arc<Mutex<Vec<String>>> {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let chain = vec![cert.cert.der().clone()];
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let kept = bodies.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let (acceptor, kept) = (acceptor.clone(), kept.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else { return };
                    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let kept = kept.clone();
                        async move {
                            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            kept.lock().unwrap().push(String::from_utf8_lossy(&body).into_owned());
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::new())))
                        }
                    });
                    let io = hyper_util::rt::TokioIo::new(tls);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        });
    });
    bodies
}

/// A registry and the port of its debug listener.
fn serve(dir: &Path, receiver_port: u16, ca: Option<&Path>) -> (Process, u16, u16) {
    let trust = ca.map(|ca| format!("ca_certificate = {ca:?}\n")).unwrap_or_default();
    let config = dir.join("drydock.toml");
    let (port, debug) = two_free_ports();
    std::fs::write(
        &config,
        format!(
            "root = {:?}\ndebug_addr = \"127.0.0.1:{debug}\"\n[notifications]\n{trust}[[notifications.endpoints]]\nname = \"tls\"\nurl = \"https://localhost:{receiver_port}/events\"\nthreshold = 1\nbackoff = \"100ms\"\n",
            dir.join("storage")
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_drydock"));
    cmd.args(["serve", "--config", config.to_str().unwrap(), "--addr", &format!("127.0.0.1:{port}")]);
    (spawn_listening(&mut cmd, port), port, debug)
}

fn push(port: u16, data: &[u8]) -> String {
    push_blob(port, "tls/test", data)
}

fn debug_vars(port: u16) -> serde_json::Value {
    let (_, answer) = http(port, "GET", "/debug/vars", "x", b"");
    serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

#[test]
fn events_reach_an_https_receiver_only_through_its_trusted_ca() {
    let scratch = Scratch::new("webhook-tls");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let ca = scratch.0.join("ca.pem");
    std::fs::write(&ca, cert.cert.pem()).unwrap();
    let receiver_port = free_port();
    let bodies = start_receiver(receiver_port, &cert);

    // Without the private CA the receiver's certificate is not trusted.
    let untrusting = scratch.0.join("untrusting");
    std::fs::create_dir_all(&untrusting).unwrap();
    let (server, port, debug) = serve(&untrusting, receiver_port, None);
    // Operators' endpoints are not on the registry's port.
    assert_eq!(http(port, "GET", "/debug/vars", "x", b"").0, 404);
    push(port, b"never delivered");
    let mut errors = 0;
    for _ in 0..100 {
        errors =
            debug_vars(debug)["registry"]["notifications"]["endpoints"][0]["metrics"]["errors"].as_u64().unwrap_or(0);
        if errors > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(errors > 0, "an untrusted certificate must fail the delivery: {}", debug_vars(debug));
    drop(server);
    assert!(bodies.lock().unwrap().is_empty(), "nothing may reach an untrusted receiver");

    let trusting = scratch.0.join("trusting");
    std::fs::create_dir_all(&trusting).unwrap();
    let (_server, port, _debug) = serve(&trusting, receiver_port, Some(&ca));
    let digest = push(port, b"delivered over TLS");
    for _ in 0..250 {
        if bodies.lock().unwrap().iter().any(|b| b.contains(&digest)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the push event never arrived over https: {:?}", bodies.lock().unwrap());
}
