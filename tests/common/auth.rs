//! Registries behind each authentication scheme, with `drydock token
//! serve` as the token service: the same two users everywhere.

use super::{Process, drydock_serve, free_port, spawn_listening};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The users every protected registry knows (user, password).
pub const ALICE: (&str, &str) = ("alice", "wonderland");
pub const BOB: (&str, &str) = ("bob", "builder");
pub const ISSUER: &str = "test-issuer";
pub const SERVICE: &str = "test-registry";

/// A bcrypt htpasswd file naming [`ALICE`] and [`BOB`].
pub fn htpasswd_file(dir: &Path) -> PathBuf {
    let path = dir.join("htpasswd");
    let line = |(user, password): (&str, &str)| format!("{user}:{}\n", bcrypt::hash(password, 4).unwrap());
    std::fs::write(&path, format!("{}{}", line(ALICE), line(BOB))).unwrap();
    path
}

/// `drydock serve` with `auth.htpasswd`, storing under `dir/storage`.
pub fn htpasswd_registry(dir: &Path) -> (Process, u16) {
    let htpasswd = htpasswd_file(dir);
    let config = dir.join("drydock-htpasswd.toml");
    std::fs::write(&config, format!("[auth.htpasswd]\nrealm = \"drydock test\"\npath = {htpasswd:?}\n")).unwrap();
    drydock_serve(&["--config", config.to_str().unwrap()], &dir.join("storage"))
}

/// A running `drydock token serve` and what a registry needs to trust it.
pub struct TokenService {
    pub _process: Process,
    pub realm: String,
    pub key: PathBuf,
    pub cert: PathBuf,
}

/// A fresh signing key and certificate, and a token service granting the
/// htpasswd users whatever they ask for.
pub fn token_service(dir: &Path) -> TokenService {
    let drydock = env!("CARGO_BIN_EXE_drydock");
    let (key, cert) = (dir.join("token-key.pem"), dir.join("token-cert.pem"));
    super::run(Command::new(drydock).args(["token", "keygen", "--key"]).arg(&key).arg("--cert").arg(&cert));
    let htpasswd = htpasswd_file(dir);
    let port = free_port();
    let mut service = Command::new(drydock);
    service.args(["token", "serve", "--issuer", ISSUER, "--service", SERVICE, "--key"]).arg(&key);
    service.arg("--htpasswd").arg(&htpasswd).args(["--addr", &format!("127.0.0.1:{port}")]);
    let process = spawn_listening(&mut service, port);
    TokenService { _process: process, realm: format!("http://127.0.0.1:{port}/token"), key, cert }
}

/// `drydock serve` with `auth.token` trusting `service`, storing under `dir/storage`.
pub fn token_registry(dir: &Path, service: &TokenService) -> (Process, u16) {
    let config = dir.join("drydock-token.toml");
    let body = format!(
        "[auth.token]\nrealm = {:?}\nservice = {SERVICE:?}\nissuer = {ISSUER:?}\nrootcertbundle = {:?}\n",
        service.realm, service.cert
    );
    std::fs::write(&config, body).unwrap();
    drydock_serve(&["--config", config.to_str().unwrap()], &dir.join("storage"))
}
