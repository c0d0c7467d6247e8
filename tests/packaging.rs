//! The example systemd unit and its configuration: `systemd-analyze verify`
//! accepts the unit (its binary, its man page), `systemd-analyze security`
//! rates its exposure at most 1.5 ("OK"), and `drydock serve` starts with
//! the unit's arguments and the packaged configuration.

mod common;

use common::*;
use std::process::Command;

const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/systemd/drydock.service");
const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/drydock.toml");

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    if !require(&["systemd-analyze"]) {
        return;
    }
    let scratch = Scratch::new("packaging-unit");
    let unit = std::fs::read_to_string(UNIT).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/drydock serve "), "{unit}");
    // The unit as installed, but with this build's binary where it runs from.
    let installed = scratch.0.join("drydock.service");
    std::fs::write(&installed, unit.replace("/usr/local/bin/drydock", env!("CARGO_BIN_EXE_drydock"))).unwrap();
    let man = scratch.0.join("man");
    run(Command::new(env!("CARGO_BIN_EXE_drydock")).args(["generate", "man", "--dir"]).arg(man.join("man1")));
    let verify = Command::new("systemd-analyze").arg("verify").arg(&installed).env("MANPATH", &man).output().unwrap();
    let said = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success() && said.trim().is_empty(), "systemd-analyze verify: {said}");
    // Exposure is reported ×10 to --threshold: 15 is 1.5, within "OK".
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--threshold=15"])
        .arg(&installed)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout);
    assert!(security.status.success(), "exposure above 1.5:\n{report}");
    for hardening in ["DynamicUser=yes", "ProtectSystem=strict", "StateDirectory=drydock", "NoNewPrivileges=yes"] {
        assert!(unit.contains(hardening), "{hardening} missing");
    }
}

#[test]
fn the_packaged_configuration_serves() {
    let scratch = Scratch::new("packaging-config");
    let (_server, port) = drydock_serve(&["--config", CONFIG], &scratch.0.join("storage"));
    assert_eq!(http(port, "GET", "/v2/", "x", b"").0, 200);
    let digest = push_blob(port, "packaged/app", b"served from the packaged configuration");
    assert_eq!(http(port, "DELETE", &format!("/v2/packaged/app/blobs/{digest}"), "x", b"").0, 202, "delete = true");
}
