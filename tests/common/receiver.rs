//! A webhook receiver for tests: a thread answering every POST on a port.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A webhook receiver: answers every POST with `status` and keeps the bodies.
pub struct Receiver {
    pub bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    pub status: Arc<AtomicU16>,
}

impl Receiver {
    pub fn start(port: u16, status: u16) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(status));
        let (b, s) = (bodies.clone(), status.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let _ = Self::serve(conn, &b, &s);
            }
        });
        Receiver { bodies, status }
    }

    fn serve(conn: TcpStream, bodies: &Mutex<Vec<serde_json::Value>>, status: &AtomicU16) -> std::io::Result<()> {
        let mut reader = BufReader::new(conn.try_clone()?);
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let code = status.load(Ordering::SeqCst);
        if code == 200 {
            bodies.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
        }
        write!(&conn, "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    }

    pub fn digests(&self) -> Vec<String> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .map(|b| b["events"][0]["target"]["digest"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// Waits (up to 20 s) until `cond` holds.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}
