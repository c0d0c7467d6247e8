//! `drydock digest`: print the content digest or tarsum of files.

use anyhow::Context;
use drydock_spec::tarsum;
use drydock_spec::{Algorithm, Digester};
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum AlgorithmArg {
    Sha256,
    Sha512,
}

impl From<AlgorithmArg> for Algorithm {
    fn from(a: AlgorithmArg) -> Algorithm {
        match a {
            AlgorithmArg::Sha256 => Algorithm::Sha256,
            AlgorithmArg::Sha512 => Algorithm::Sha512,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum TarsumArg {
    V0,
    V1,
    Dev,
}

impl From<TarsumArg> for tarsum::Version {
    fn from(v: TarsumArg) -> tarsum::Version {
        match v {
            TarsumArg::V0 => tarsum::Version::V0,
            TarsumArg::V1 => tarsum::Version::V1,
            TarsumArg::Dev => tarsum::Version::Dev,
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// Hash algorithm.
    #[arg(long, short, value_enum, default_value = "sha256")]
    algorithm: AlgorithmArg,
    /// Compute docker's tarsum of each (optionally gzip-compressed) tar instead
    /// of the digest of its bytes.
    #[arg(long, value_enum)]
    tarsum: Option<TarsumArg>,
    /// With --tarsum: the "extra" payload hashed first (a v1 image's json).
    #[arg(long, requires = "tarsum")]
    extra: Option<PathBuf>,
    /// Files to digest; `-` reads standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Read size for plain digests: large enough that syscalls are noise.
const READ_CHUNK: usize = 1024 * 1024;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let extra = match &args.extra {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("reading {}", p.display()))?),
        None => None,
    };
    let mut failed = false;
    for path in &args.files {
        match digest_one(&args, extra.as_deref(), path) {
            Ok(line) => println!("{line}  {}", path.display()),
            Err(e) => {
                eprintln!("drydock digest: {}: {e:#}", path.display());
                failed = true;
            }
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn digest_one(args: &Args, extra: Option<&[u8]>, path: &PathBuf) -> anyhow::Result<String> {
    let input: Box<dyn Read + Send> =
        if path.as_os_str() == "-" { Box::new(io::stdin()) } else { Box::new(File::open(path).context("opening")?) };
    match args.tarsum {
        Some(version) => {
            let options = tarsum::Options::new(version.into(), Algorithm::from(args.algorithm).into());
            Ok(tarsum::sum_detect(input, extra, options)?.to_string())
        }
        None => Ok(digest_stream(input, args.algorithm.into())?.to_string()),
    }
}

fn digest_stream(mut input: impl Read, algorithm: Algorithm) -> io::Result<drydock_spec::Digest> {
    let mut d = Digester::new(algorithm);
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match input.read(&mut buf) {
            Ok(0) => return Ok(d.finish()),
            Ok(n) => d.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
