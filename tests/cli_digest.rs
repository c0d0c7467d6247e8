//! The `drydock` binary: `digest` output and errors.

use std::io::Write;
use std::process::{Command, Stdio};

fn drydock() -> Command {
    Command::new(env!("CARGO_BIN_EXE_drydock"))
}

#[test]
fn digest_prints_one_line_per_file_in_order() {
    let dir = std::env::temp_dir().join(format!("drydock-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = dir.join("a");
    let b = dir.join("b");
    std::fs::write(&a, b"hello").unwrap();
    std::fs::write(&b, b"").unwrap();
    let out = drydock().args(["digest", "--algorithm", "sha512"]).arg(&a).arg(&b).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        format!("{}  {}", drydock_spec::Digest::of(drydock_spec::Algorithm::Sha512, b"hello"), a.display())
    );
    assert_eq!(lines[1], format!("{}  {}", drydock_spec::Algorithm::Sha512.empty_digest(), b.display()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn digest_reports_missing_files_and_fails() {
    let out = drydock().args(["digest", "/definitely/not/here"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/definitely/not/here"));
}

#[test]
fn digest_tarsum_reads_gzip_from_stdin() {
    // A one-file tar built here; the plain and gzip forms must agree.
    let mut h = tar::Header::new_ustar();
    h.set_path("etc/motd").unwrap();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder.append(&h, &b"hi\n"[..]).unwrap();
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();

    let run = |input: &[u8]| {
        let mut child = drydock()
            .args(["digest", "--tarsum", "v1", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let plain = run(&tar);
    assert!(plain.starts_with("tarsum.v1+sha256:"), "{plain}");
    assert_eq!(plain, run(&gz));
    let expected = drydock_spec::tarsum::sum(&tar[..], None, Default::default()).unwrap();
    assert_eq!(plain, format!("{expected}  -\n"));
}
