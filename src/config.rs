//! `drydock serve` configuration: drydock's own TOML file, or distribution's
//! `config.yml` as it is (the keys drydock supports are applied; every other
//! key is named at startup as ignored).

use anyhow::{Context, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    Filesystem,
    Memory,
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
    pub delete: bool,
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
    pub fn driver(&self) -> anyhow::Result<std::sync::Arc<dyn drydock_reference::storage::StorageDriver>> {
        use drydock_reference::storage::{FilesystemDriver, InMemoryDriver};
        Ok(match self.storage {
            StorageKind::Filesystem => {
                std::fs::create_dir_all(&self.root).with_context(|| format!("creating {}", self.root.display()))?;
                std::sync::Arc::new(FilesystemDriver::new(&self.root))
            }
            StorageKind::Memory => std::sync::Arc::new(InMemoryDriver::new()),
        })
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
            delete: true,
            automatic_mount: true,
            secret: None,
            shutdown_grace: Duration::from_secs(30),
            tls: None,
            upload_purge: UploadPurge::default(),
            gc: Gc::default(),
            notifications: Notifications::default(),
            validation: Validation::default(),
        }
    }
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
    Ok(config)
}

pub fn load(path: &Path) -> anyhow::Result<Loaded> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let yaml = matches!(path.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"));
    if yaml {
        from_distribution_yaml(&text).with_context(|| format!("{} (distribution configuration)", path.display()))
    } else {
        let config = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        Ok(Loaded { config, ignored: Vec::new() })
    }
}

/// Reads distribution's `config.yml`. Supported: `storage.filesystem.rootdirectory`,
/// `storage.inmemory`, `storage.delete.enabled`,
/// `storage.maintenance.uploadpurging.{enabled,age,interval}`, `http.addr`,
/// `http.secret`, `http.tls.{certificate,key}`, `notifications.endpoints`;
/// `version` is accepted.
pub fn from_distribution_yaml(text: &str) -> anyhow::Result<Loaded> {
    use serde_norway::Value;
    let doc: Value = serde_norway::from_str(text).context("parsing YAML")?;
    let mut config = Config::default();
    let mut ignored = Vec::new();
    let Value::Mapping(top) = doc else { bail!("the document is not a mapping") };
    let text_of = |v: &Value, key: &str| -> anyhow::Result<String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => bail!("{key} must be a scalar"),
        }
    };
    let duration = |v: &Value, key: &str| -> anyhow::Result<Duration> {
        let s = text_of(v, key)?;
        humantime::parse_duration(&s).with_context(|| format!("{key}: {s:?} is not a duration"))
    };
    let boolean = |v: &Value, key: &str| -> anyhow::Result<bool> {
        match v {
            Value::Bool(b) => Ok(*b),
            _ => bail!("{key} must be true or false"),
        }
    };
    for (k, v) in &top {
        let key = text_of(k, "key")?;
        match key.as_str() {
            "version" => {}
            "storage" => {
                let Value::Mapping(storage) = v else { bail!("storage must be a mapping") };
                for (k, v) in storage {
                    let driver = text_of(k, "storage key")?;
                    match driver.as_str() {
                        "filesystem" => {
                            config.storage = StorageKind::Filesystem;
                            for (k, v) in v.as_mapping().into_iter().flatten() {
                                match text_of(k, "key")?.as_str() {
                                    "rootdirectory" => config.root = PathBuf::from(text_of(v, "rootdirectory")?),
                                    other => ignored.push(format!("storage.filesystem.{other}")),
                                }
                            }
                        }
                        "inmemory" => config.storage = StorageKind::Memory,
                        "delete" => {
                            for (k, v) in v.as_mapping().into_iter().flatten() {
                                match text_of(k, "key")?.as_str() {
                                    "enabled" => config.delete = boolean(v, "storage.delete.enabled")?,
                                    other => ignored.push(format!("storage.delete.{other}")),
                                }
                            }
                        }
                        "maintenance" => {
                            for (k, v) in v.as_mapping().into_iter().flatten() {
                                match text_of(k, "key")?.as_str() {
                                    "uploadpurging" => {
                                        for (k, v) in v.as_mapping().into_iter().flatten() {
                                            let key = text_of(k, "key")?;
                                            let full = format!("storage.maintenance.uploadpurging.{key}");
                                            let p = &mut config.upload_purge;
                                            match key.as_str() {
                                                "enabled" => p.enabled = boolean(v, &full)?,
                                                "age" => p.age = duration(v, &full)?,
                                                "interval" => p.interval = duration(v, &full)?,
                                                _ => ignored.push(full),
                                            }
                                        }
                                    }
                                    other => ignored.push(format!("storage.maintenance.{other}")),
                                }
                            }
                        }
                        other => ignored.push(format!("storage.{other}")),
                    }
                }
            }
            "http" => {
                for (k, v) in v.as_mapping().into_iter().flatten() {
                    match text_of(k, "key")?.as_str() {
                        "addr" => config.addr = text_of(v, "http.addr")?,
                        "secret" => config.secret = Some(text_of(v, "http.secret")?),
                        "tls" => {
                            let mut certificate = None;
                            let mut key = None;
                            for (k, v) in v.as_mapping().into_iter().flatten() {
                                match text_of(k, "key")?.as_str() {
                                    "certificate" => {
                                        certificate = Some(PathBuf::from(text_of(v, "http.tls.certificate")?))
                                    }
                                    "key" => key = Some(PathBuf::from(text_of(v, "http.tls.key")?)),
                                    other => ignored.push(format!("http.tls.{other}")),
                                }
                            }
                            match (certificate, key) {
                                (Some(certificate), Some(key)) => config.tls = Some(Tls { certificate, key }),
                                (None, None) => {}
                                _ => bail!("http.tls needs both certificate and key"),
                            }
                        }
                        other => ignored.push(format!("http.{other}")),
                    }
                }
            }
            "validation" => config.validation = yaml_validation(v, &mut ignored)?,
            "notifications" => {
                for (k, v) in v.as_mapping().into_iter().flatten() {
                    match text_of(k, "key")?.as_str() {
                        "endpoints" => {
                            for (i, e) in v.as_sequence().into_iter().flatten().enumerate() {
                                let endpoint = yaml_endpoint(e, i, &mut ignored)?;
                                config.notifications.endpoints.push(endpoint);
                            }
                        }
                        other => ignored.push(format!("notifications.{other}")),
                    }
                }
            }
            other => ignored.push(other.to_owned()),
        }
    }
    Ok(Loaded { config, ignored })
}

/// Distribution's `validation` section. Its `enabled`/`disabled` switches
/// (which only ever governed URL checks) are named as ignored; everything
/// under `manifests` is read into the typed [`Validation`].
fn yaml_validation(v: &serde_norway::Value, ignored: &mut Vec<String>) -> anyhow::Result<Validation> {
    let mut validation = Validation::default();
    for (k, v) in v.as_mapping().into_iter().flatten() {
        match k.as_str() {
            Some("manifests") => {
                validation.manifests = serde_norway::from_value(v.clone()).context("validation.manifests")?;
            }
            Some(other) => ignored.push(format!("validation.{other}")),
            None => bail!("validation keys must be strings"),
        }
    }
    Ok(validation)
}

/// One entry of distribution's `notifications.endpoints`. drydock's own
/// `format` and `maxattempts` are read too.
fn yaml_endpoint(v: &serde_norway::Value, index: usize, ignored: &mut Vec<String>) -> anyhow::Result<Endpoint> {
    use serde_norway::Value;
    let Value::Mapping(m) = v else { bail!("notifications.endpoints[{index}] must be a mapping") };
    let mut e = Endpoint {
        name: String::new(),
        url: String::new(),
        disabled: false,
        headers: Default::default(),
        timeout: default_timeout(),
        threshold: default_threshold(),
        backoff: default_backoff(),
        ignore: Ignore::default(),
        format: default_format(),
        max_attempts: None,
    };
    let string = |v: &Value, key: &str| -> anyhow::Result<String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            _ => bail!("notifications.endpoints[{index}].{key} must be a string"),
        }
    };
    let strings = |v: &Value, key: &str| -> anyhow::Result<Vec<String>> {
        v.as_sequence().into_iter().flatten().map(|s| string(s, key)).collect()
    };
    let duration = |v: &Value, key: &str| -> anyhow::Result<Duration> {
        let s = string(v, key)?;
        humantime::parse_duration(&s).with_context(|| format!("notifications.endpoints[{index}].{key}: {s:?}"))
    };
    let number = |v: &Value, key: &str| -> anyhow::Result<u32> {
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .with_context(|| format!("notifications.endpoints[{index}].{key} must be a whole number"))
    };
    for (k, v) in m {
        let key = string(k, "key")?;
        match key.as_str() {
            "name" => e.name = string(v, "name")?,
            "url" => e.url = string(v, "url")?,
            "disabled" => e.disabled = v.as_bool().unwrap_or(false),
            "headers" => {
                for (hk, hv) in v.as_mapping().into_iter().flatten() {
                    let values = if hv.is_sequence() { strings(hv, "headers")? } else { vec![string(hv, "headers")?] };
                    e.headers.insert(string(hk, "headers")?, HeaderValues::Many(values));
                }
            }
            "timeout" => e.timeout = duration(v, "timeout")?,
            "threshold" => e.threshold = number(v, "threshold")?,
            "backoff" => e.backoff = duration(v, "backoff")?,
            "ignoredmediatypes" => e.ignore.media_types.extend(strings(v, "ignoredmediatypes")?),
            "ignore" => {
                for (ik, iv) in v.as_mapping().into_iter().flatten() {
                    match string(ik, "ignore")?.as_str() {
                        "mediatypes" => e.ignore.media_types.extend(strings(iv, "ignore.mediatypes")?),
                        "actions" => e.ignore.actions.extend(strings(iv, "ignore.actions")?),
                        other => ignored.push(format!("notifications.endpoints[{index}].ignore.{other}")),
                    }
                }
            }
            "format" => e.format = string(v, "format")?,
            "maxattempts" => e.max_attempts = Some(number(v, "maxattempts")?),
            other => ignored.push(format!("notifications.endpoints[{index}].{other}")),
        }
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_distribution_config_and_names_what_it_ignores() {
        let yaml = r#"
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: false
  maintenance:
    uploadpurging:
      enabled: true
      age: 48h
      interval: 1h
      dryrun: false
http:
  addr: 127.0.0.1:5001
  secret: s3cret
  headers:
    X-Content-Type-Options: [nosniff]
  tls:
    certificate: /c.pem
    key: /k.pem
notifications:
  events:
    includereferences: true
  endpoints:
    - name: ci
      url: http://127.0.0.1:9000/events
      headers:
        Authorization: [Bearer abc]
      timeout: 2s
      threshold: 4
      backoff: 3s
      ignoredmediatypes: [application/octet-stream]
      ignore:
        actions: [pull]
      format: cloudevents
      maxattempts: 7
      queuepolicy: drop
"#;
        let loaded = from_distribution_yaml(yaml).unwrap();
        let c = loaded.config;
        assert_eq!(c.root, PathBuf::from("/var/lib/registry"));
        assert_eq!(c.storage, StorageKind::Filesystem);
        assert!(!c.delete);
        assert_eq!(c.addr, "127.0.0.1:5001");
        assert_eq!(c.secret.as_deref(), Some("s3cret"));
        assert_eq!(c.upload_purge.age, Duration::from_secs(48 * 3600));
        assert_eq!(c.upload_purge.interval, Duration::from_secs(3600));
        assert_eq!(c.tls, Some(Tls { certificate: "/c.pem".into(), key: "/k.pem".into() }));
        assert_eq!(
            loaded.ignored,
            [
                "log",
                "storage.cache",
                "storage.maintenance.uploadpurging.dryrun",
                "http.headers",
                "notifications.events",
                "notifications.endpoints[0].queuepolicy"
            ]
        );
        let endpoints = c.endpoints().unwrap();
        assert_eq!(endpoints.len(), 1);
        let e = &endpoints[0];
        assert_eq!((e.name.as_str(), e.url.to_string().as_str()), ("ci", "http://127.0.0.1:9000/events"));
        assert_eq!(e.headers, [("Authorization".to_owned(), "Bearer abc".to_owned())]);
        assert_eq!((e.timeout, e.threshold, e.backoff), (Duration::from_secs(2), 4, Duration::from_secs(3)));
        assert_eq!(e.ignored_media_types, ["application/octet-stream"]);
        assert_eq!(e.ignored_actions, [drydock_spec::notification::Action::Pull]);
        assert_eq!(e.format, drydock_spec::notification::Format::CloudEvents);
        assert_eq!(e.max_attempts, Some(7));
    }

    #[test]
    fn manifest_validation_from_either_format() {
        use drydock_reference::registry::validation::IndexChildren;
        let yaml = "validation:\n  disabled: false\n  manifests:\n    urls:\n      allow: ['^https://mcr\\.example/']\n      deny: ['/private/']\n    indexes:\n      platforms: list\n      platformlist:\n        - architecture: amd64\n          os: linux\n";
        let loaded = from_distribution_yaml(yaml).unwrap();
        assert_eq!(loaded.ignored, ["validation.disabled"]);
        let rules = loaded.config.validation.to_rules().unwrap();
        assert!(rules.urls_allow[0].is_match("https://mcr.example/layer"));
        assert!(rules.urls_deny[0].is_match("https://mcr.example/private/x"));
        assert!(
            matches!(&rules.index_children, IndexChildren::Platforms(p) if p.len() == 1 && p[0].architecture == "amd64")
        );
        assert!(!rules.sparse_layers);
        let toml_text =
            "[validation.manifests]\nlayers = \"none\"\n[validation.manifests.indexes]\nplatforms = \"none\"\n";
        let sparse = toml::from_str::<Config>(toml_text).unwrap().validation.to_rules().unwrap();
        assert!(sparse.sparse_layers);
        assert!(matches!(sparse.index_children, IndexChildren::None));
        let defaults = Config::default().validation.to_rules().unwrap();
        assert!(matches!(defaults.index_children, IndexChildren::All) && !defaults.sparse_layers);
        assert!(defaults.urls_allow.is_empty() && defaults.urls_deny.is_empty());
        // Mistakes stop startup rather than loosening or tightening silently.
        let bad_regex = from_distribution_yaml("validation:\n  manifests:\n    urls:\n      allow: ['(']\n").unwrap();
        assert!(bad_regex.config.validation.to_rules().is_err());
        let empty_list = toml::from_str::<Config>("[validation.manifests.indexes]\nplatforms = \"list\"\n").unwrap();
        assert!(empty_list.validation.to_rules().is_err());
        assert!(toml::from_str::<Config>("[validation.manifests]\nlayers = \"some\"\n").is_err());
        assert!(from_distribution_yaml("validation:\n  manifests:\n    urlz: {}\n").is_err());
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
        assert!(from_distribution_yaml("http:\n  tls:\n    key: /k\n").is_err());
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
}
