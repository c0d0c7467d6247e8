//! distribution's `config.yml`, read into typed structs.
//!
//! Every key lands in one of three places: a field below (drydock does what
//! it says), the list of keys that change nothing about who may access what
//! or where data lives (ignored, each named in a warning), or an error that
//! stops startup. A key drydock does not know at all is an error too, so
//! "unknown" never means "silently unused" — `serde_ignored` names every key
//! the structs did not take.
//!
//! `REGISTRY_…` environment variables override the file as in distribution:
//! `REGISTRY_HTTP_ADDR` sets `http.addr`, `REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY`
//! sets `storage.filesystem.rootdirectory`; the value is read as YAML.

use super::{Config, Endpoint, HeaderValues, Ignore, StorageKind, Tls, Validation};
use anyhow::{Context, bail};
use serde::Deserialize;
use serde_norway::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Keys drydock knows and may ignore: they tune logging, reporting, caches
/// or health reporting, never access or where data lives. A key matches
/// when it equals an entry or lies below it.
const HARMLESS: &[&str] = &[
    "version",
    "log",
    "loglevel",
    "reporting",
    "health",
    "compatibility",
    "catalog",
    "http.host",
    "http.relativeurls",
    "http.draintimeout",
    "http.http2",
    "http.h2c",
    "storage.cache",
    "storage.redirect",
    "storage.tag",
    "storage.filesystem.maxthreads",
    // Tuning of distribution's own S3 client (drydock streams commits
    // through its own multipart writer) and its log output.
    "storage.s3.multipartcopychunksize",
    "storage.s3.multipartcopymaxconcurrency",
    "storage.s3.multipartcopythresholdsize",
    "storage.s3.useragent",
    "storage.s3.loglevel",
    "storage.maintenance.uploadpurging.dryrun",
    "notifications.events",
    "validation.enabled",
    "validation.disabled",
];

/// Keys that would change who may access what or where data lives, which
/// drydock does not implement: each stops startup, with why.
const REFUSED: &[(&str, &str)] = &[
    ("auth.silly", "the `silly` auth scheme is not implemented"),
    ("auth", "this authentication scheme is not implemented (drydock has htpasswd and token)"),
    ("proxy", "pull-through caching (proxy) is not implemented"),
    ("redis", "redis is not implemented"),
    ("middleware", "registry, repository and storage middleware (e.g. CDN redirects) are not implemented"),
    ("http.tls.clientcas", "TLS client authentication is not implemented"),
    ("http.tls.clientauth", "TLS client authentication is not implemented"),
    ("http.tls.letsencrypt", "Let's Encrypt certificates are not implemented"),
    ("http.tls.minimumtls", "choosing the minimum TLS version is not implemented"),
    ("http.tls.ciphersuites", "choosing TLS cipher suites is not implemented"),
    ("http.prefix", "serving under a path prefix is not implemented"),
];

#[derive(Deserialize, Default)]
struct File {
    #[serde(default)]
    storage: Storage,
    #[serde(default)]
    http: Http,
    #[serde(default)]
    notifications: Notifications,
    #[serde(default)]
    validation: ValidationSection,
    #[serde(default)]
    auth: AuthSection,
    #[serde(default)]
    log: LogSection,
}

#[derive(Deserialize, Default)]
struct LogSection {
    /// `text`, `json` (`logstash` is refused: drydock has no such format).
    formatter: Option<String>,
}

#[derive(Deserialize, Default)]
struct DebugSection {
    addr: Option<String>,
    prometheus: Option<PrometheusSection>,
}

#[derive(Deserialize, Default)]
struct PrometheusSection {
    #[allow(dead_code)] // drydock always serves /metrics on the debug listener
    enabled: Option<bool>,
    path: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthSection {
    htpasswd: Option<super::HtpasswdAuth>,
    token: Option<super::TokenAuthConfig>,
}

#[derive(Deserialize, Default)]
struct Storage {
    filesystem: Option<Filesystem>,
    s3: Option<S3Section>,
    #[serde(default, deserialize_with = "present")]
    inmemory: bool,
    delete: Option<Delete>,
    maintenance: Option<Maintenance>,
}

/// `true` when the key is there at all (`inmemory:` has no value).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Value::deserialize(d).map(|_| true)
}

#[derive(Deserialize, Default)]
struct Filesystem {
    rootdirectory: Option<PathBuf>,
}

/// distribution's `storage.s3` (its `s3aws` driver).
#[derive(Deserialize, Default)]
struct S3Section {
    bucket: Option<String>,
    region: Option<String>,
    regionendpoint: Option<String>,
    rootdirectory: Option<String>,
    accesskey: Option<String>,
    secretkey: Option<String>,
    sessiontoken: Option<String>,
    forcepathstyle: Option<Loose<bool>>,
    secure: Option<Loose<bool>>,
    skipverify: Option<Loose<bool>>,
    chunksize: Option<Loose<usize>>,
    encrypt: Option<Loose<bool>>,
    keyid: Option<String>,
    v4auth: Option<Loose<bool>>,
    storageclass: Option<String>,
    objectacl: Option<String>,
    usedualstack: Option<Loose<bool>>,
    accelerate: Option<Loose<bool>>,
}

/// A value distribution also takes as a string (`secure: "false"`,
/// `chunksize: "10485760"`).
struct Loose<T>(T);

impl<'de, T: std::str::FromStr + Deserialize<'de>> Deserialize<'de> for Loose<T>
where
    T::Err: std::fmt::Display,
{
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Loose<T>, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => {
                s.trim().parse().map(Loose).map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
            }
            other => T::deserialize(other).map(Loose).map_err(|e| serde::de::Error::custom(e.to_string())),
        }
    }
}

impl S3Section {
    /// drydock's S3 settings; what it cannot honour stops startup.
    fn to_config(&self) -> anyhow::Result<drydock_reference::storage::s3::S3Config> {
        use drydock_reference::storage::s3::S3Config;
        let flag = |v: &Option<Loose<bool>>| v.as_ref().map(|l| l.0);
        if flag(&self.v4auth) == Some(false) {
            bail!("storage.s3.v4auth: false: drydock signs requests with AWS Signature Version 4 only");
        }
        if flag(&self.usedualstack) == Some(true) {
            bail!("storage.s3.usedualstack: dual-stack endpoints are not implemented");
        }
        if flag(&self.accelerate) == Some(true) {
            bail!("storage.s3.accelerate: transfer acceleration endpoints are not implemented");
        }
        // Who may read the objects, and which storage tier holds them.
        if let Some(acl) = self.objectacl.as_deref().filter(|a| *a != "private") {
            bail!(
                "storage.s3.objectacl: {acl:?}: drydock writes objects private (the bucket's policy decides the rest)"
            );
        }
        if let Some(class) = self.storageclass.as_deref().filter(|c| !matches!(*c, "STANDARD" | "NONE")) {
            bail!("storage.s3.storageclass: {class:?}: drydock stores objects in the bucket's default class only");
        }
        let bucket = self.bucket.clone().context("storage.s3.bucket is required")?;
        let region = self.region.clone().context("storage.s3.region is required")?;
        let defaults = S3Config::new(bucket, region);
        let config = S3Config {
            endpoint: self.regionendpoint.clone().filter(|e| !e.is_empty()),
            root: self.rootdirectory.clone().unwrap_or_default(),
            access_key: self.accesskey.clone().filter(|k| !k.is_empty()),
            secret_key: self.secretkey.clone().filter(|k| !k.is_empty()),
            session_token: self.sessiontoken.clone().filter(|k| !k.is_empty()),
            path_style: flag(&self.forcepathstyle).unwrap_or(defaults.path_style),
            secure: flag(&self.secure).unwrap_or(defaults.secure),
            skip_verify: flag(&self.skipverify).unwrap_or(defaults.skip_verify),
            chunk_size: self.chunksize.as_ref().map_or(defaults.chunk_size, |c| c.0),
            encrypt: flag(&self.encrypt).unwrap_or(defaults.encrypt),
            key_id: self.keyid.clone().filter(|k| !k.is_empty()),
            ..defaults
        };
        config.check().map_err(anyhow::Error::msg)?;
        Ok(config)
    }
}

#[derive(Deserialize)]
struct Delete {
    enabled: bool,
}

#[derive(Deserialize, Default)]
struct Maintenance {
    uploadpurging: Option<UploadPurging>,
    readonly: Option<ReadOnly>,
}

#[derive(Deserialize, Default)]
struct UploadPurging {
    enabled: Option<bool>,
    age: Option<GoDuration>,
    interval: Option<GoDuration>,
}

#[derive(Deserialize)]
struct ReadOnly {
    enabled: bool,
}

#[derive(Deserialize, Default)]
struct Http {
    addr: Option<String>,
    /// `tcp` is all drydock listens on.
    net: Option<String>,
    secret: Option<String>,
    tls: Option<TlsSection>,
    #[serde(default)]
    headers: BTreeMap<String, HeaderValues>,
    debug: Option<DebugSection>,
}

#[derive(Deserialize, Default)]
struct TlsSection {
    certificate: Option<PathBuf>,
    key: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
struct Notifications {
    #[serde(default)]
    endpoints: Vec<EndpointSection>,
}

#[derive(Deserialize)]
struct EndpointSection {
    name: String,
    url: String,
    #[serde(default)]
    disabled: bool,
    #[serde(default)]
    headers: BTreeMap<String, HeaderValues>,
    timeout: Option<GoDuration>,
    threshold: Option<u32>,
    backoff: Option<GoDuration>,
    #[serde(default)]
    ignoredmediatypes: Vec<String>,
    #[serde(default)]
    ignore: IgnoreSection,
    /// drydock's own: `v1`, `v2` or `cloudevents`.
    format: Option<String>,
    /// drydock's own: rejections before an event is dead-lettered.
    maxattempts: Option<u32>,
}

#[derive(Deserialize, Default)]
struct IgnoreSection {
    #[serde(default)]
    mediatypes: Vec<String>,
    #[serde(default)]
    actions: Vec<String>,
}

#[derive(Deserialize, Default)]
struct ValidationSection {
    #[serde(default)]
    manifests: super::ManifestValidation,
}

/// A Go duration (`10s`, `168h`, `1h30m`).
struct GoDuration(Duration);

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<GoDuration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map(GoDuration).map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
    }
}

/// What a key the structs did not take means.
#[derive(Debug, PartialEq, Eq)]
enum Unused {
    Harmless,
    Refused(&'static str),
    Unknown,
}

fn under(key: &str, prefix: &str) -> bool {
    key == prefix || key.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.'))
}

fn classify(key: &str) -> Unused {
    // Endpoint options drydock does not have only tune delivery.
    let endpoint_option = key.starts_with("notifications.endpoints.");
    if endpoint_option || HARMLESS.iter().any(|h| under(key, h)) {
        return Unused::Harmless;
    }
    if key.strip_prefix("storage.").is_some_and(|driver| !driver.contains('.')) {
        return Unused::Refused("this storage driver is not implemented (drydock has filesystem, inmemory and s3)");
    }
    match REFUSED.iter().find(|(prefix, _)| under(key, prefix)) {
        Some((_, why)) => Unused::Refused(why),
        None => Unused::Unknown,
    }
}

/// The keys an unused path stands for: `serde_ignored` reports the first
/// level the structs did not take (`auth`), the operator wrote the
/// settings beneath it (`auth.htpasswd`): name each child of a mapping.
/// `?` (serde_ignored's mark for an `Option`) is not part of a key.
fn named_keys(doc: &Value, path: &str) -> Vec<String> {
    let segments: Vec<&str> = path.split('.').filter(|s| *s != "?").collect();
    let key = segments.join(".");
    let mut node = doc;
    for segment in &segments {
        node = match node {
            Value::Mapping(m) => m.get(*segment).unwrap_or(&Value::Null),
            Value::Sequence(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)).unwrap_or(&Value::Null),
            _ => &Value::Null,
        };
    }
    match node {
        Value::Mapping(m) if !m.is_empty() => {
            m.keys().map(|k| format!("{key}.{}", k.as_str().unwrap_or("?"))).collect()
        }
        _ => vec![key],
    }
}

/// Applies `REGISTRY_…` overrides to the document.
fn apply_env(doc: &mut Value, vars: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<()> {
    let mut vars: Vec<(String, String)> = vars.into_iter().filter(|(k, _)| k.starts_with("REGISTRY_")).collect();
    vars.sort();
    for (name, raw) in vars {
        let path: Vec<String> = name["REGISTRY_".len()..].split('_').map(str::to_ascii_lowercase).collect();
        if path.iter().any(String::is_empty) {
            bail!("environment variable {name} does not name a configuration key");
        }
        let value: Value = serde_norway::from_str(&raw).unwrap_or(Value::String(raw.clone()));
        let mut node = &mut *doc;
        for (i, segment) in path.iter().enumerate() {
            if !node.is_mapping() {
                *node = Value::Mapping(Default::default());
            }
            let map = node.as_mapping_mut().expect("made a mapping just above");
            let key = Value::String(segment.clone());
            if i + 1 == path.len() {
                map.insert(key, value.clone());
                break;
            }
            node = map.entry(key).or_insert(Value::Null);
        }
    }
    Ok(())
}

/// Reads a `config.yml`, with the process's `REGISTRY_…` overrides.
pub fn read(text: &str) -> anyhow::Result<super::Loaded> {
    read_with_env(text, std::env::vars())
}

pub fn read_with_env(text: &str, env: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<super::Loaded> {
    let mut doc: Value = serde_norway::from_str(text).context("parsing YAML")?;
    if doc.is_null() {
        doc = Value::Mapping(Default::default());
    }
    if !doc.is_mapping() {
        bail!("the document is not a mapping");
    }
    apply_env(&mut doc, env)?;
    let mut unused = Vec::new();
    let file: File = serde_ignored::deserialize(doc.clone(), |path| unused.push(path.to_string()))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut ignored = Vec::new();
    let mut refused = Vec::new();
    let keys = unused.iter().flat_map(|path| {
        let plain = path.split('.').filter(|s| *s != "?").collect::<Vec<_>>().join(".");
        if classify(&plain) == Unused::Harmless { vec![plain] } else { named_keys(&doc, path) }
    });
    for key in keys {
        match classify(&key) {
            Unused::Harmless => ignored.push(key),
            Unused::Refused(why) => refused.push(format!("{key}: {why}")),
            Unused::Unknown => refused.push(format!("{key}: not a key drydock knows")),
        }
    }
    if !refused.is_empty() {
        bail!(
            "drydock will not start with settings it cannot honour (they could change who may access what, or where data lives):\n  {}",
            refused.join("\n  ")
        );
    }
    Ok(super::Loaded { config: apply(file)?, ignored })
}

fn apply(file: File) -> anyhow::Result<Config> {
    let mut c = Config::default();
    let s = file.storage;
    let named = [s.filesystem.is_some(), s.inmemory, s.s3.is_some()].iter().filter(|n| **n).count();
    if named > 1 {
        bail!("storage names more than one driver (filesystem, inmemory, s3): name one");
    }
    if let Some(s3) = &s.s3 {
        c.storage = StorageKind::S3;
        c.s3 = Some(s3.to_config()?);
    }
    match (&s.filesystem, s.inmemory) {
        (Some(_), true) => bail!("storage names two drivers, filesystem and inmemory"),
        (_, true) => c.storage = StorageKind::Memory,
        (Some(fs), false) => {
            c.storage = StorageKind::Filesystem;
            if let Some(root) = &fs.rootdirectory {
                c.root = root.clone();
            }
        }
        (None, false) => {}
    }
    if let Some(d) = s.delete {
        c.delete = d.enabled;
    }
    if let Some(m) = s.maintenance {
        if let Some(p) = m.uploadpurging {
            c.upload_purge.enabled = p.enabled.unwrap_or(c.upload_purge.enabled);
            c.upload_purge.age = p.age.map_or(c.upload_purge.age, |d| d.0);
            c.upload_purge.interval = p.interval.map_or(c.upload_purge.interval, |d| d.0);
        }
        if let Some(r) = m.readonly {
            c.read_only = r.enabled;
        }
    }
    let h = file.http;
    if let Some(net) = h.net.filter(|n| n != "tcp") {
        bail!("http.net: {net:?}: drydock listens on tcp only");
    }
    if let Some(addr) = h.addr {
        c.addr = addr;
    }
    c.secret = h.secret;
    c.headers = h.headers;
    if let Some(debug) = h.debug {
        if let Some(path) = debug.prometheus.and_then(|p| p.path).filter(|p| p != "/metrics") {
            bail!("http.debug.prometheus.path: {path:?}: drydock serves metrics at /metrics");
        }
        c.debug_addr = debug.addr;
    }
    c.log_format = match file.log.formatter.as_deref() {
        None | Some("text") => super::LogFormat::Text,
        Some("json") => super::LogFormat::Json,
        Some(other) => bail!("log.formatter: {other:?}: drydock writes text or json"),
    };
    match h.tls.map(|t| (t.certificate, t.key)) {
        Some((Some(certificate), Some(key))) => c.tls = Some(Tls { certificate, key }),
        Some((None, None)) | None => {}
        Some(_) => bail!("http.tls needs both certificate and key"),
    }
    for e in file.notifications.endpoints {
        c.notifications.endpoints.push(Endpoint {
            name: e.name,
            url: e.url,
            disabled: e.disabled,
            headers: e.headers,
            timeout: e.timeout.map_or_else(super::default_timeout, |d| d.0),
            threshold: e.threshold.unwrap_or_else(super::default_threshold),
            backoff: e.backoff.map_or_else(super::default_backoff, |d| d.0),
            ignore: Ignore {
                media_types: e.ignoredmediatypes.into_iter().chain(e.ignore.mediatypes).collect(),
                actions: e.ignore.actions,
            },
            format: e.format.unwrap_or_else(super::default_format),
            max_attempts: e.maxattempts,
        });
    }
    c.validation = Validation { manifests: file.validation.manifests };
    c.auth.htpasswd = file.auth.htpasswd;
    c.auth.token = file.auth.token;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> anyhow::Result<super::super::Loaded> {
        read_with_env(text, [])
    }

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
        let loaded = read(yaml).unwrap();
        let c = loaded.config;
        assert_eq!(c.root, PathBuf::from("/var/lib/registry"));
        assert_eq!(c.storage, StorageKind::Filesystem);
        assert!(!c.delete && !c.read_only);
        assert_eq!(c.addr, "127.0.0.1:5001");
        assert_eq!(c.secret.as_deref(), Some("s3cret"));
        assert_eq!(c.upload_purge.age, Duration::from_secs(48 * 3600));
        assert_eq!(c.upload_purge.interval, Duration::from_secs(3600));
        assert_eq!(c.tls, Some(Tls { certificate: "/c.pem".into(), key: "/k.pem".into() }));
        assert_eq!(c.headers["X-Content-Type-Options"], HeaderValues::Many(vec!["nosniff".into()]));
        assert_eq!(
            loaded.ignored,
            [
                "version",
                "log.fields",
                "storage.cache",
                "storage.maintenance.uploadpurging.dryrun",
                "notifications.events",
                "notifications.endpoints.0.queuepolicy"
            ]
        );
        let endpoints = c.endpoints().unwrap();
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
    fn settings_it_cannot_honour_stop_startup_and_are_named() {
        for (yaml, named) in [
            ("auth:\n  silly:\n    realm: r\n", "auth.silly"),
            ("auth:\n  token:\n    realm: r\n    autoredirect: true\n", "autoredirect"),
            ("auth:\n  token:\n    realm: r\n    jwks: /etc/keys.json\n", "jwks"),
            ("storage:\n  s3:\n    bucket: b\n", "storage.s3.region"),
            ("storage:\n  s3:\n    bucket: b\n    region: r\n    v4auth: false\n", "v4auth"),
            ("storage:\n  s3:\n    bucket: b\n    region: r\n    objectacl: public-read\n", "objectacl"),
            ("storage:\n  s3:\n    bucket: b\n    region: r\n    storageclass: GLACIER\n", "storageclass"),
            ("storage:\n  s3:\n    bucket: b\n    region: r\n    accelerate: true\n", "accelerate"),
            ("storage:\n  s3:\n    bucket: b\n    region: r\n    chunksize: 1024\n", "chunk size"),
            ("storage:\n  s3:\n    bucket: b\n    region: r\n    accesskey: a\n", "secret key"),
            ("storage:\n  s3:\n    bucket: b\n    region: r\n    sse: true\n", "storage.s3.sse"),
            ("storage:\n  s3:\n    bucket: b\n    region: r\n  filesystem: {}\n", "more than one driver"),
            ("storage:\n  azure:\n    accountname: a\n", "storage.azure"),
            ("proxy:\n  remoteurl: https://registry-1.docker.io\n", "proxy"),
            ("redis:\n  addr: localhost:6379\n", "redis"),
            ("middleware:\n  storage:\n    - name: cloudfront\n", "middleware"),
            ("http:\n  tls:\n    certificate: /c\n    key: /k\n    clientcas: [/ca]\n", "http.tls.clientcas"),
            ("http:\n  prefix: /registry\n", "http.prefix"),
            ("htpasswd: {}\n", "htpasswd"),
            ("storage:\n  filesystem:\n    rootdirectroy: /typo\n", "storage.filesystem.rootdirectroy"),
        ] {
            let err = format!("{:#}", read(yaml).err().unwrap_or_else(|| panic!("{named} must refuse to start")));
            assert!(err.contains(named), "{named}: {err}");
        }
        assert!(read("http:\n  net: unix\n").is_err());
        assert!(read("storage:\n  filesystem: {}\n  inmemory:\n").is_err());
    }

    #[test]
    fn debug_listener_and_log_format() {
        let c = read("http:\n  debug:\n    addr: 127.0.0.1:5001\n    prometheus:\n      enabled: true\n      path: /metrics\nlog:\n  level: info\n  formatter: json\n").unwrap();
        assert_eq!(c.config.debug_addr.as_deref(), Some("127.0.0.1:5001"));
        assert_eq!(c.config.log_format, super::super::LogFormat::Json);
        assert_eq!(c.ignored, ["log.level"]);
        assert!(read("log:\n  formatter: logstash\n").is_err());
        assert!(read("http:\n  debug:\n    prometheus:\n      path: /prom\n").is_err());
    }

    #[test]
    fn reads_distributions_s3_settings() {
        let yaml = "storage:\n  s3:\n    accesskey: GKabc\n    secretkey: sekrit\n    region: garage\n    regionendpoint: http://127.0.0.1:3900\n    forcepathstyle: true\n    secure: \"false\"\n    bucket: registry\n    rootdirectory: /team/a\n    chunksize: \"10485760\"\n    v4auth: true\n    storageclass: STANDARD\n    objectacl: private\n    multipartcopychunksize: 33554432\n";
        let loaded = read(yaml).unwrap();
        let c = loaded.config;
        assert_eq!(c.storage, StorageKind::S3);
        let s3 = c.s3.unwrap();
        assert_eq!((s3.bucket.as_str(), s3.region.as_str()), ("registry", "garage"));
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:3900"));
        assert_eq!((s3.root.as_str(), s3.path_style, s3.secure, s3.chunk_size), ("/team/a", true, false, 10 << 20));
        assert_eq!((s3.access_key.as_deref(), s3.secret_key.as_deref()), (Some("GKabc"), Some("sekrit")));
        assert_eq!(loaded.ignored, ["storage.s3.multipartcopychunksize"]);
        // The environment, as distribution reads it.
        let env = [("REGISTRY_STORAGE_S3_BUCKET".to_owned(), "other".to_owned())];
        assert_eq!(read_with_env(yaml, env).unwrap().config.s3.unwrap().bucket, "other");
    }

    #[test]
    fn read_only_and_inmemory() {
        let c = read("storage:\n  inmemory:\n  maintenance:\n    readonly:\n      enabled: true\n").unwrap().config;
        assert_eq!(c.storage, StorageKind::Memory);
        assert!(c.read_only);
    }

    #[test]
    fn environment_overrides_the_file() {
        let yaml = "http:\n  addr: :5000\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\n";
        let env = [
            ("REGISTRY_HTTP_ADDR".to_owned(), "127.0.0.1:6000".to_owned()),
            ("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY".to_owned(), "/srv/r".to_owned()),
            ("REGISTRY_STORAGE_DELETE_ENABLED".to_owned(), "false".to_owned()),
            ("HOME".to_owned(), "/root".to_owned()),
        ];
        let c = read_with_env(yaml, env).unwrap().config;
        assert_eq!((c.addr.as_str(), c.root.to_str().unwrap(), c.delete), ("127.0.0.1:6000", "/srv/r", false));
        // An override is held to the same rules as the file.
        let err = read_with_env("", [("REGISTRY_AUTH_SILLY_REALM".to_owned(), "r".to_owned())]).unwrap_err();
        assert!(format!("{err:#}").contains("auth.silly"), "{err:#}");
        let with_auth = [
            ("REGISTRY_AUTH_HTPASSWD_REALM".to_owned(), "registry".to_owned()),
            ("REGISTRY_AUTH_HTPASSWD_PATH".to_owned(), "/etc/registry/htpasswd".to_owned()),
        ];
        let c = read_with_env("", with_auth).unwrap().config;
        assert_eq!(c.auth.htpasswd.unwrap().path, PathBuf::from("/etc/registry/htpasswd"));
        assert!(read_with_env("", [("REGISTRY_".to_owned(), "x".to_owned())]).is_err());
    }

    #[test]
    fn debians_stock_file_reads_and_its_htpasswd_path_must_be_a_usable_file() {
        let stock = "version: 0.1\nlog:\n  fields:\n    service: registry\nstorage:\n  cache:\n    blobdescriptor: inmemory\n  filesystem:\n    rootdirectory: /var/lib/docker-registry\n  delete:\n    enabled: true\nhttp:\n  addr: :5000\n  headers:\n    X-Content-Type-Options: [nosniff]\nauth:\n  htpasswd:\n    realm: basic-realm\n    path: /etc/docker/registry\nhealth:\n  storagedriver:\n    enabled: true\n    interval: 10s\n    threshold: 3\n";
        let loaded = read(stock).unwrap();
        assert_eq!(loaded.config.auth.htpasswd.as_ref().unwrap().realm, "basic-realm");
        // Its path is a directory: the registry would be unusable, so it does not start.
        let err = format!("{:#}", loaded.config.auth.access().err().unwrap());
        assert!(err.contains("auth.htpasswd") && err.contains("/etc/docker/registry"), "{err}");
        let without_auth =
            stock.replace("auth:\n  htpasswd:\n    realm: basic-realm\n    path: /etc/docker/registry\n", "");
        let loaded = read(&without_auth).unwrap();
        assert_eq!(loaded.config.addr, ":5000");
        assert!(loaded.ignored.contains(&"health".to_owned()));
    }

    #[test]
    fn manifest_validation() {
        use drydock_reference::registry::validation::IndexChildren;
        let yaml = "validation:\n  disabled: false\n  manifests:\n    urls:\n      allow: ['^https://mcr\\.example/']\n      deny: ['/private/']\n    indexes:\n      platforms: list\n      platformlist:\n        - architecture: amd64\n          os: linux\n";
        let loaded = read(yaml).unwrap();
        assert_eq!(loaded.ignored, ["validation.disabled"]);
        let rules = loaded.config.validation.to_rules().unwrap();
        assert!(rules.urls_allow[0].is_match("https://mcr.example/layer"));
        assert!(rules.urls_deny[0].is_match("https://mcr.example/private/x"));
        assert!(matches!(&rules.index_children, IndexChildren::Platforms(p) if p.len() == 1));
        let bad = read("validation:\n  manifests:\n    urls:\n      allow: ['(']\n").unwrap();
        assert!(bad.config.validation.to_rules().is_err());
        assert!(read("validation:\n  manifests:\n    urlz: {}\n").is_err());
    }
}
