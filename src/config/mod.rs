//! `drydock serve` configuration: drydock's own TOML file, or distribution's
//! `config.yml` as it is (`distribution.rs`). Either way a setting drydock
//! cannot honour stops startup; only keys with no bearing on access or on
//! where data lives may be ignored, each named in a warning.

mod distribution;

use anyhow::{Context, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    Filesystem,
    Memory,
    /// An S3 bucket, described by `[s3]`.
    S3,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// PEM certificate chain.
    pub certificate: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadPurge {
    pub enabled: bool,
    /// Uploads started longer ago than this are removed.
    #[serde(with = "humantime_serde_compat")]
    pub age: Duration,
    /// How often the purge runs.
    #[serde(with = "humantime_serde_compat")]
    pub interval: Duration,
}

impl Default for UploadPurge {
    fn default() -> UploadPurge {
        UploadPurge { enabled: true, age: Duration::from_secs(7 * 24 * 3600), interval: Duration::from_secs(24 * 3600) }
    }
}

/// `[gc]`: garbage collection while serving (off unless enabled).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Gc {
    pub enabled: bool,
    /// An unreferenced blob goes only after this long untouched; keep it far
    /// above the longest push.
    #[serde(with = "humantime_serde_compat")]
    pub grace: Duration,
    /// How often a collection runs.
    #[serde(with = "humantime_serde_compat")]
    pub interval: Duration,
    /// Also remove manifests no tag reaches.
    pub delete_untagged: bool,
}

impl Default for Gc {
    fn default() -> Gc {
        Gc {
            enabled: false,
            grace: Duration::from_secs(3600),
            interval: Duration::from_secs(24 * 3600),
            delete_untagged: false,
        }
    }
}

/// The whole configuration. Every key is optional.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub addr: String,
    pub storage: StorageKind,
    pub root: PathBuf,
    /// The bucket, with `storage = "s3"`.
    pub s3: Option<drydock_reference::storage::s3::S3Config>,
    pub delete: bool,
    /// Every write (push, mount, delete, upload) answers 405 UNSUPPORTED;
    /// reads are unaffected (distribution's `maintenance.readonly`).
    pub read_only: bool,
    /// Headers added to every response (distribution's `http.headers`).
    pub headers: std::collections::BTreeMap<String, HeaderValues>,
    /// A mount without `from` links the blob when it is stored anywhere in
    /// the registry; off, it opens an upload session instead.
    pub automatic_mount: bool,
    /// Signs upload state; instances sharing storage must share it. `None`:
    /// random per process.
    pub secret: Option<String>,
    #[serde(with = "humantime_serde_compat")]
    pub shutdown_grace: Duration,
    pub tls: Option<Tls>,
    pub upload_purge: UploadPurge,
    pub gc: Gc,
    pub notifications: Notifications,
    pub validation: Validation,
    pub auth: Auth,
    pub limits: Limits,
    /// Where `/debug/vars`, `/metrics` and `/debug/health` are served;
    /// unset, nowhere (never on the registry's own port).
    pub debug_addr: Option<String>,
    /// `text` (the default) or `json`: one JSON object per log line.
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `[limits]`: what a client may cost the server.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// A request's headers must arrive within this long; also how long a
    /// kept-alive connection may sit idle.
    #[serde(with = "humantime_serde_compat")]
    pub header_read_timeout: Duration,
    /// A request body that delivers nothing for this long is cut off
    /// (what was durably appended stays).
    #[serde(with = "humantime_serde_compat")]
    pub body_progress_timeout: Duration,
    /// Connections served at once; beyond it, new ones wait to be accepted.
    pub max_connections: usize,
    /// Upload bytes all requests together may hold in memory before
    /// appending them to storage.
    pub upload_buffer_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        let d = drydock_reference::http::limits::ConnectionLimits::DEFAULT;
        Limits {
            header_read_timeout: d.header_read_timeout,
            body_progress_timeout: d.body_progress_timeout,
            max_connections: 1024,
            upload_buffer_bytes: drydock_reference::registry::blob_writer::UPLOAD_BUFFER_BUDGET,
        }
    }
}

impl Limits {
    pub fn connection(&self) -> anyhow::Result<drydock_reference::http::limits::ConnectionLimits> {
        if self.header_read_timeout.is_zero() || self.body_progress_timeout.is_zero() || self.max_connections == 0 {
            bail!("limits: timeouts and max_connections must be above zero");
        }
        // A chunk of declared length reserves its whole length: the budget
        // must hold the largest one, or such chunks could never be taken.
        let chunk = drydock_reference::registry::blob_writer::APPEND_CHUNK;
        if self.upload_buffer_bytes < chunk {
            bail!("limits: upload_buffer_bytes must be at least {chunk} (one append chunk)");
        }
        Ok(drydock_reference::http::limits::ConnectionLimits {
            header_read_timeout: self.header_read_timeout,
            body_progress_timeout: self.body_progress_timeout,
        })
    }
}

/// `auth`: who may use the registry. None configured: anyone, for anything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    pub htpasswd: Option<HtpasswdAuth>,
    pub token: Option<TokenAuthConfig>,
}

/// `auth.token`: JWTs from a token service (distribution's names).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenAuthConfig {
    /// Where clients get tokens (named in the 401 challenge).
    pub realm: String,
    /// This registry's name: tokens must be for it (`aud`).
    pub service: String,
    /// Who signs tokens (`iss`).
    pub issuer: String,
    /// PEM certificates whose keys may sign tokens.
    pub rootcertbundle: PathBuf,
}

/// `auth.htpasswd`: basic auth against a file of bcrypt hashes; any user
/// it names may do anything.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HtpasswdAuth {
    pub realm: String,
    pub path: PathBuf,
}

impl Auth {
    /// The registry's access controller; a file that cannot be used whole
    /// stops startup.
    pub fn access(&self) -> anyhow::Result<drydock_reference::auth::AccessController> {
        use drydock_reference::auth::{AccessController, htpasswd::Htpasswd, token::TokenAuth};
        Ok(match (&self.htpasswd, &self.token) {
            (None, None) => AccessController::Open,
            (Some(_), Some(_)) => bail!("auth names two schemes, htpasswd and token; choose one"),
            (Some(h), None) => AccessController::Htpasswd(Htpasswd::load(&h.path, &h.realm).context("auth.htpasswd")?),
            (None, Some(t)) => AccessController::Token(
                TokenAuth::load(&t.realm, &t.service, &t.issuer, &t.rootcertbundle).context("auth.token")?,
            ),
        })
    }
}

/// `validation`: what a manifest push must satisfy, with distribution's
/// names (`validation.manifests.urls.{allow,deny}`,
/// `validation.manifests.indexes.{platforms,platformlist}`) and drydock's
/// `validation.manifests.layers`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Validation {
    pub manifests: ManifestValidation,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManifestValidation {
    pub urls: UrlRules,
    pub indexes: IndexRules,
    /// `all` (every layer of an image must be here, the default) or `none`
    /// (sparse images: layers may be missing; the config never may).
    pub layers: Coverage,
}

/// URL patterns (regular expressions) for descriptors' `urls`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UrlRules {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IndexRules {
    /// Which children of an index must be here: `all`, `none` or `list`.
    pub platforms: IndexCoverage,
    /// For `list`: the platforms whose children must be here.
    pub platformlist: Vec<PlatformEntry>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Coverage {
    #[default]
    All,
    None,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexCoverage {
    #[default]
    All,
    None,
    List,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformEntry {
    pub os: String,
    pub architecture: String,
}

impl Validation {
    /// The registry's form, with every pattern compiled.
    pub fn to_rules(&self) -> anyhow::Result<drydock_reference::registry::validation::ManifestRules> {
        use drydock_reference::registry::validation::{IndexChildren, ManifestRules, PlatformMatch};
        let m = &self.manifests;
        let compile = |key: &str, patterns: &[String]| -> anyhow::Result<Vec<regex::Regex>> {
            patterns
                .iter()
                .map(|p| regex::Regex::new(p).with_context(|| format!("validation.manifests.urls.{key}: {p:?}")))
                .collect()
        };
        let index_children = match m.indexes.platforms {
            IndexCoverage::All => IndexChildren::All,
            IndexCoverage::None => IndexChildren::None,
            IndexCoverage::List if m.indexes.platformlist.is_empty() => {
                bail!("validation.manifests.indexes.platforms is list, but platformlist names no platform")
            }
            IndexCoverage::List => IndexChildren::Platforms(
                m.indexes
                    .platformlist
                    .iter()
                    .map(|p| PlatformMatch { os: p.os.clone(), architecture: p.architecture.clone() })
                    .collect(),
            ),
        };
        Ok(ManifestRules {
            urls_allow: compile("allow", &m.urls.allow)?,
            urls_deny: compile("deny", &m.urls.deny)?,
            index_children,
            sparse_layers: m.layers == Coverage::None,
        })
    }
}

/// `[notifications]`: webhook endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Notifications {
    pub endpoints: Vec<Endpoint>,
    /// PEM certificates trusted for https endpoints besides the public web
    /// PKI (a private CA).
    pub ca_certificate: Option<PathBuf>,
}

/// One `[[notifications.endpoints]]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub disabled: bool,
    /// Header name → value (or values).
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, HeaderValues>,
    #[serde(default = "default_timeout", with = "humantime_serde_compat")]
    pub timeout: Duration,
    #[serde(default = "default_threshold")]
    pub threshold: u32,
    #[serde(default = "default_backoff", with = "humantime_serde_compat")]
    pub backoff: Duration,
    #[serde(default)]
    pub ignore: Ignore,
    /// `v1`, `v2` or `cloudevents`.
    #[serde(default = "default_format")]
    pub format: String,
    /// Rejections (4xx) of one event before it is dead-lettered; unset: never.
    #[serde(default)]
    pub max_attempts: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum HeaderValues {
    One(String),
    Many(Vec<String>),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ignore {
    pub media_types: Vec<String>,
    pub actions: Vec<String>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_threshold() -> u32 {
    3
}
fn default_backoff() -> Duration {
    Duration::from_secs(1)
}
fn default_format() -> String {
    "v1".into()
}

impl Endpoint {
    /// The registry's form, checked.
    pub fn to_registry(&self) -> anyhow::Result<drydock_reference::notifications::EndpointConfig> {
        use drydock_reference::notifications::EndpointConfig;
        use drydock_spec::notification::{Action, Format};
        let name = &self.name;
        if !EndpointConfig::valid_name(name) {
            bail!("notification endpoint name {name:?} must be letters, digits, '.', '_' or '-'");
        }
        let url: http::Uri = self.url.parse().with_context(|| format!("endpoint {name}: url {:?}", self.url))?;
        if !matches!(url.scheme_str(), Some("http" | "https")) || url.host().is_none() {
            bail!("endpoint {name}: url {:?} must be http(s)://host[:port]/path", self.url);
        }
        let mut c = EndpointConfig::new(name, url);
        for (k, v) in &self.headers {
            match v {
                HeaderValues::One(v) => c.headers.push((k.clone(), v.clone())),
                HeaderValues::Many(vs) => c.headers.extend(vs.iter().map(|v| (k.clone(), v.clone()))),
            }
        }
        for (k, v) in &c.headers {
            http::HeaderName::try_from(k.as_str()).with_context(|| format!("endpoint {name}: header name {k:?}"))?;
            http::HeaderValue::try_from(v.as_str()).with_context(|| format!("endpoint {name}: header {k} value"))?;
        }
        c.timeout = self.timeout;
        c.threshold = self.threshold.max(1);
        c.backoff = self.backoff;
        c.ignored_media_types = self.ignore.media_types.clone();
        c.ignored_actions = self
            .ignore
            .actions
            .iter()
            .map(|a| Action::from_name(a).with_context(|| format!("endpoint {name}: unknown action {a:?}")))
            .collect::<anyhow::Result<_>>()?;
        c.format = Format::from_name(&self.format)
            .with_context(|| format!("endpoint {name}: format {:?} is not v1, v2 or cloudevents", self.format))?;
        c.max_attempts = self.max_attempts;
        Ok(c)
    }
}

impl Config {
    /// The storage driver this configuration names (creating the root).
    /// An S3 bucket is probed first (see `S3Driver::connect`); `nonce` makes
    /// the probe's object this start's own.
    pub async fn driver(
        &self,
        nonce: [u8; 8],
    ) -> anyhow::Result<std::sync::Arc<dyn drydock_reference::storage::StorageDriver>> {
        use drydock_reference::storage::s3::S3Driver;
        use drydock_reference::storage::{FilesystemDriver, InMemoryDriver};
        if self.s3.is_some() && self.storage != StorageKind::S3 {
            bail!("[s3] is configured but storage is {:?}: say storage = \"s3\", or remove [s3]", self.storage);
        }
        Ok(match self.storage {
            StorageKind::Filesystem => {
                std::fs::create_dir_all(&self.root).with_context(|| format!("creating {}", self.root.display()))?;
                std::sync::Arc::new(FilesystemDriver::new(&self.root))
            }
            StorageKind::Memory => std::sync::Arc::new(InMemoryDriver::new()),
            StorageKind::S3 => {
                let s3 = self.s3.as_ref().context("storage = \"s3\" needs an [s3] section (bucket, region, …)")?;
                let probe: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
                let driver = S3Driver::connect(s3, &probe).await.map_err(anyhow::Error::msg)?;
                std::sync::Arc::new(driver)
            }
        })
    }

    /// `headers` as the registry adds them, checked.
    pub fn response_headers(&self) -> anyhow::Result<Vec<(http::HeaderName, http::HeaderValue)>> {
        let mut out = Vec::new();
        for (name, values) in &self.headers {
            let values = match values {
                HeaderValues::One(v) => std::slice::from_ref(v),
                HeaderValues::Many(vs) => vs.as_slice(),
            };
            for v in values {
                let n = http::HeaderName::try_from(name.as_str()).with_context(|| format!("header name {name:?}"))?;
                let v = http::HeaderValue::try_from(v.as_str()).with_context(|| format!("header {name} value"))?;
                out.push((n, v));
            }
        }
        Ok(out)
    }

    /// The enabled endpoints, checked.
    pub fn endpoints(&self) -> anyhow::Result<Vec<drydock_reference::notifications::EndpointConfig>> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for e in self.notifications.endpoints.iter().filter(|e| !e.disabled) {
            if !seen.insert(e.name.clone()) {
                bail!("two notification endpoints are named {:?}", e.name);
            }
            out.push(e.to_registry()?);
        }
        Ok(out)
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            addr: "127.0.0.1:5000".into(),
            storage: StorageKind::Filesystem,
            root: PathBuf::from("./drydock-data"),
            s3: None,
            delete: true,
            read_only: false,
            headers: Default::default(),
            automatic_mount: true,
            secret: None,
            shutdown_grace: Duration::from_secs(30),
            tls: None,
            upload_purge: UploadPurge::default(),
            gc: Gc::default(),
            notifications: Notifications::default(),
            validation: Validation::default(),
            auth: Auth::default(),
            limits: Limits::default(),
            debug_addr: None,
            log_format: LogFormat::Text,
        }
    }
}

/// An address as distribution accepts it: `:5000` is every interface.
pub fn listen_addr(addr: &str) -> String {
    if addr.starts_with(':') { format!("0.0.0.0{addr}") } else { addr.to_owned() }
}

/// Durations written the way operators write them: `30s`, `168h`, `7days`.
mod humantime_serde_compat {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

/// A loaded configuration and the keys of the file it did not apply.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub ignored: Vec<String>,
}

/// The configuration an offline command (`events`, `gc`) works on: the
/// file's, with `root` overriding its storage root; never in-memory storage.
pub fn load_offline(file: Option<&Path>, root: Option<&Path>) -> anyhow::Result<Config> {
    let mut config = match file {
        Some(path) => load(path)?.config,
        None => Config::default(),
    };
    if let Some(root) = root {
        config.root = root.to_path_buf();
    }
    if config.storage == StorageKind::Memory {
        bail!("in-memory storage lives inside the server process; there is nothing to inspect");
    }
    if config.storage == StorageKind::S3 {
        return Ok(config);
    }
    // An offline command works on a registry's storage: a root that is not
    // there is a mistake, never something to create.
    if !config.root.is_dir() {
        bail!("storage root {} does not exist (or is not a directory)", config.root.display());
    }
    Ok(config)
}

pub fn load(path: &Path) -> anyhow::Result<Loaded> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let yaml = matches!(path.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"));
    if yaml {
        distribution::read(&text).with_context(|| format!("{} (distribution configuration)", path.display()))
    } else {
        let config = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        Ok(Loaded { config, ignored: Vec::new() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_validation_in_toml() {
        use drydock_reference::registry::validation::IndexChildren;
        let toml_text =
            "[validation.manifests]\nlayers = \"none\"\n[validation.manifests.indexes]\nplatforms = \"none\"\n";
        let sparse = toml::from_str::<Config>(toml_text).unwrap().validation.to_rules().unwrap();
        assert!(sparse.sparse_layers);
        assert!(matches!(sparse.index_children, IndexChildren::None));
        let defaults = Config::default().validation.to_rules().unwrap();
        assert!(matches!(defaults.index_children, IndexChildren::All) && !defaults.sparse_layers);
        assert!(defaults.urls_allow.is_empty() && defaults.urls_deny.is_empty());
        // Mistakes stop startup rather than loosening or tightening silently.
        let empty_list = toml::from_str::<Config>("[validation.manifests.indexes]\nplatforms = \"list\"\n").unwrap();
        assert!(empty_list.validation.to_rules().is_err());
        assert!(toml::from_str::<Config>("[validation.manifests]\nlayers = \"some\"\n").is_err());
        let list = "[validation.manifests.indexes]\nplatforms = \"list\"\nplatformlist = [{ os = \"linux\", architecture = \"arm64\" }]\n";
        let rules = toml::from_str::<Config>(list).unwrap().validation.to_rules().unwrap();
        assert!(matches!(&rules.index_children, IndexChildren::Platforms(p) if p[0].architecture == "arm64"));
    }

    #[test]
    fn toml_keys_and_typos() {
        let c: Config = toml::from_str(
            "addr = \"0.0.0.0:80\"\nstorage = \"memory\"\nshutdown_grace = \"5s\"\n[upload_purge]\nage = \"2h\"\n[gc]\nenabled = true\ngrace = \"30m\"\n",
        )
        .unwrap();
        assert_eq!(c.storage, StorageKind::Memory);
        assert!(c.automatic_mount, "automatic mounts are on by default");
        assert!(!toml::from_str::<Config>("automatic_mount = false").unwrap().automatic_mount);
        assert_eq!(c.shutdown_grace, Duration::from_secs(5));
        assert_eq!(c.upload_purge.age, Duration::from_secs(7200));
        assert!(c.upload_purge.enabled);
        assert_eq!(c.gc, Gc { enabled: true, grace: Duration::from_secs(1800), ..Gc::default() });
        assert!(toml::from_str::<Config>("adr = \"x\"").is_err());
        assert!(distribution::read_with_env("http:\n  tls:\n    key: /k\n", []).is_err());
        let with_endpoint: Config = toml::from_str(
            "[[notifications.endpoints]]\nname = \"a\"\nurl = \"http://h:1/\"\nformat = \"v2\"\n[notifications.endpoints.ignore]\nactions = [\"pull\"]\n",
        )
        .unwrap();
        assert_eq!(with_endpoint.endpoints().unwrap()[0].format, drydock_spec::notification::Format::V2);
        let bad: Config =
            toml::from_str("[[notifications.endpoints]]\nname = \"../x\"\nurl = \"http://h/\"\n").unwrap();
        assert!(bad.endpoints().is_err());
        let https: Config =
            toml::from_str("[[notifications.endpoints]]\nname = \"x\"\nurl = \"https://h/\"\n").unwrap();
        assert_eq!(https.endpoints().unwrap()[0].url.scheme_str(), Some("https"));
        let ftp: Config = toml::from_str("[[notifications.endpoints]]\nname = \"x\"\nurl = \"ftp://h/\"\n").unwrap();
        assert!(ftp.endpoints().is_err());
    }

    #[test]
    fn s3_in_toml() {
        let c: Config = toml::from_str(
            "storage = \"s3\"\n[s3]\nbucket = \"registry\"\nregion = \"garage\"\nendpoint = \"http://127.0.0.1:3900\"\npath_style = true\nsecure = false\n",
        )
        .unwrap();
        assert_eq!(c.storage, StorageKind::S3);
        let s3 = c.s3.unwrap();
        assert_eq!((s3.bucket.as_str(), s3.path_style, s3.secure, s3.chunk_size), ("registry", true, false, 10 << 20));
        assert!(s3.check().is_ok());
        assert!(
            toml::from_str::<Config>("storage = \"s3\"\n[s3]\nbucket = \"b\"\nregion = \"r\"\nbukket = 1\n").is_err()
        );
    }

    #[tokio::test]
    async fn a_storage_without_its_settings_or_settings_without_their_storage_stop_startup() {
        let no_section: Config = toml::from_str("storage = \"s3\"").unwrap();
        let err = no_section.driver([0; 8]).await.err().unwrap().to_string();
        assert!(err.contains("[s3]"), "{err}");
        let stray: Config = toml::from_str("storage = \"memory\"\n[s3]\nbucket = \"b\"\nregion = \"r\"\n").unwrap();
        let err = stray.driver([0; 8]).await.err().unwrap().to_string();
        assert!(err.contains("[s3] is configured"), "{err}");
    }

    #[test]
    fn limits_have_defaults_and_refuse_what_cannot_work() {
        let c: Config = toml::from_str("").unwrap();
        assert_eq!(c.limits.upload_buffer_bytes, 256 << 20);
        assert!(c.limits.connection().is_ok());
        let small: Config = toml::from_str("[limits]\nupload_buffer_bytes = 1048576\n").unwrap();
        let err = small.limits.connection().unwrap_err().to_string();
        assert!(err.contains("upload_buffer_bytes"), "{err}");
        let zero: Config = toml::from_str("[limits]\nmax_connections = 0\n").unwrap();
        assert!(zero.limits.connection().is_err());
        assert!(toml::from_str::<Config>("[limits]\nupload_buffer = 5\n").is_err(), "a misspelt limit is refused");
    }
}
