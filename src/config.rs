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

/// The whole configuration. Every key is optional.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub addr: String,
    pub storage: StorageKind,
    pub root: PathBuf,
    pub delete: bool,
    /// Signs upload state; instances sharing storage must share it. `None`:
    /// random per process.
    pub secret: Option<String>,
    #[serde(with = "humantime_serde_compat")]
    pub shutdown_grace: Duration,
    pub tls: Option<Tls>,
    pub upload_purge: UploadPurge,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            addr: "127.0.0.1:5000".into(),
            storage: StorageKind::Filesystem,
            root: PathBuf::from("./drydock-data"),
            delete: true,
            secret: None,
            shutdown_grace: Duration::from_secs(30),
            tls: None,
            upload_purge: UploadPurge::default(),
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
/// `http.secret`, `http.tls.{certificate,key}`; `version` is accepted.
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
            other => ignored.push(other.to_owned()),
        }
    }
    Ok(Loaded { config, ignored })
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
  endpoints: []
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
            ["log", "storage.cache", "storage.maintenance.uploadpurging.dryrun", "http.headers", "notifications"]
        );
    }

    #[test]
    fn toml_keys_and_typos() {
        let c: Config = toml::from_str(
            "addr = \"0.0.0.0:80\"\nstorage = \"memory\"\nshutdown_grace = \"5s\"\n[upload_purge]\nage = \"2h\"\n",
        )
        .unwrap();
        assert_eq!(c.storage, StorageKind::Memory);
        assert_eq!(c.shutdown_grace, Duration::from_secs(5));
        assert_eq!(c.upload_purge.age, Duration::from_secs(7200));
        assert!(c.upload_purge.enabled);
        assert!(toml::from_str::<Config>("adr = \"x\"").is_err());
        assert!(from_distribution_yaml("http:\n  tls:\n    key: /k\n").is_err());
    }
}
