//! `drydock check`: run the conformance harness against a registry.

use anyhow::Context;
use drydock_check::harness::Profile;
use drydock_check::report::{CheckResult, Status, describe};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The registry, e.g. http://127.0.0.1:5000 (not needed with --list)
    #[arg(required_unless_present = "list")]
    url: Option<String>,
    /// Repository prefix the checks may create and delete under.
    #[arg(long, default_value = "drydock-check")]
    namespace: String,
    #[arg(long, requires = "password")]
    username: Option<String>,
    #[arg(long, requires = "username")]
    password: Option<String>,
    /// Run only checks whose id matches (prefix, or `*` wildcards); repeatable.
    #[arg(long)]
    only: Vec<String>,
    /// Leave out checks whose id matches; repeatable.
    #[arg(long)]
    skip: Vec<String>,
    /// Known failures: lines of `check-id  reason`; they do not fail the run.
    #[arg(long)]
    expect_failures: Option<PathBuf>,
    /// Write the results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the results as JUnit XML.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write the results as one self-contained HTML page.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Receive the registry's webhook events on this address and check that
    /// every push, mount and delete made here produced a well-formed event.
    #[arg(long, value_name = "ADDR")]
    webhook_listen: Option<std::net::SocketAddr>,
    /// With --webhook-listen: seconds events may take to arrive after the last check.
    #[arg(long, default_value_t = drydock_check::webhook::DELIVERY_WAIT.as_secs())]
    webhook_wait: u64,
    /// Checks run at once (the steps of one content set run in order, as one).
    #[arg(long, default_value_t = 8)]
    jobs: usize,
    /// Which spec version's requirements apply: oci-1.0, oci-1.1, or oci-next
    /// (the spec's main branch).
    #[arg(long, default_value = "oci-1.1")]
    profile: String,
    /// Also push and pull many blobs at once and report throughput and
    /// latency percentiles (every byte still verified).
    #[arg(long)]
    load: bool,
    /// With --load: how many blobs.
    #[arg(long, default_value_t = 64)]
    load_blobs: usize,
    /// With --load: bytes per blob.
    #[arg(long, default_value_t = 1 << 20)]
    load_size: usize,
    /// With --load: requests at once.
    #[arg(long, default_value_t = 8)]
    load_concurrency: usize,
    /// Trust this PEM CA certificate (or bundle) too, for HTTPS registries.
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// List the checks (id, what it checks, spec section) and exit.
    #[arg(long)]
    list: bool,
    /// With --list: print the catalogue as Markdown (docs/checks.md).
    #[arg(long, requires = "list")]
    markdown: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.list {
        let text = if args.markdown {
            drydock_check::checks_markdown()
        } else {
            drydock_check::all_checks().iter().map(|c| format!("{:40} {}  [{}]\n", c.id, c.title, c.section)).collect()
        };
        use std::io::Write;
        return match std::io::stdout().lock().write_all(text.as_bytes()) {
            // A reader that stopped early (`| head`) is not an error.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing the list"),
            _ => Ok(ExitCode::SUCCESS),
        };
    }
    let url = args.url.clone().context("a registry URL is needed")?;
    let profile = Profile::parse(&args.profile)
        .with_context(|| format!("--profile {:?}: use oci-1.0, oci-1.1 or oci-next", args.profile))?;
    let expected_failures = match &args.expect_failures {
        Some(p) => drydock_check::parse_expected_failures(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        ),
        None => Default::default(),
    };
    let mut id = [0u8; 4];
    getrandom::fill(&mut id).map_err(|e| anyhow::anyhow!("reading OS entropy: {e}"))?;
    let options = drydock_check::Options {
        url,
        namespace: args.namespace.clone(),
        credentials: args.username.clone().zip(args.password.clone()),
        profile,
        only: args.only.clone(),
        skip: args.skip.clone(),
        expected_failures,
        jobs: args.jobs,
        run_id: id.iter().map(|b| format!("{b:02x}")).collect(),
        webhook_listen: args.webhook_listen,
        webhook_wait: std::time::Duration::from_secs(args.webhook_wait),
        ca_certs: match &args.ca_cert {
            None => Vec::new(),
            Some(p) => {
                use tokio_rustls::rustls::pki_types::{CertificateDer, pem::PemObject};
                CertificateDer::pem_file_iter(p)
                    .with_context(|| format!("reading {}", p.display()))?
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| format!("parsing {}", p.display()))?
            }
        },
        load: args.load.then_some(drydock_check::load::LoadOptions {
            blobs: args.load_blobs,
            size: args.load_size,
            concurrency: args.load_concurrency,
        }),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let report = match runtime.block_on(drydock_check::run(&options, print_result)) {
        Ok(report) => report,
        // One clear reason, before any check ran.
        Err(drydock_check::RunError::NotARegistry(why)) => {
            eprintln!("drydock check: {why}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(p) = &args.json {
        std::fs::write(p, report.to_json()).with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = &args.junit {
        std::fs::write(p, report.to_junit()).with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = &args.html {
        std::fs::write(p, report.to_html()).with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(load) = &report.load {
        print!("{load}");
    }
    println!("{}", report.summary());
    Ok(if report.ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn print_result(r: &CheckResult, done: usize, total: usize) {
    let width = total.to_string().len();
    let progress = format!("[{done:>width$}/{total}]");
    match r.status {
        Status::Passed => println!("{progress} PASS  {}", r.id),
        Status::Skipped => println!("{progress} SKIP  {} ({})", r.id, r.reason.as_deref().unwrap_or("")),
        Status::Expected => println!("{progress} XFAIL {} (expected: {})", r.id, r.reason.as_deref().unwrap_or("")),
        Status::Failed => {
            println!("{progress} FAIL  {}  [{}]", r.id, r.section);
            if let Some(f) = &r.failure {
                for line in describe(f).lines() {
                    println!("        {line}");
                }
            }
        }
    }
}
