//! Repository names, tags and manifest references (distribution-spec grammar).
//!
//! ```text
//! <name>      [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
//! <reference> [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}   (a tag), or a digest
//! ```
//!
//! Because no component may begin with `_`, storage layouts can put their own
//! `_`-prefixed directories next to user repositories without any clash.

use crate::digest::{Digest, DigestError};
use std::fmt;

/// Longest accepted repository name, in bytes (distribution's limit).
pub const NAME_MAX_BYTES: usize = 255;
/// Longest accepted tag, in bytes (the grammar's `{0,127}` plus the first character).
pub const TAG_MAX_BYTES: usize = 128;

/// Why a repository name is invalid. Maps to `NAME_INVALID`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("repository name is empty")]
    Empty,
    #[error("repository name is {0} bytes long; the limit is {NAME_MAX_BYTES}")]
    TooLong(usize),
    #[error("repository name {name:?}: component {index} is empty (leading, trailing or doubled '/')")]
    EmptyComponent { name: String, index: usize },
    #[error("repository name {name:?}: component {component:?} {reason}")]
    InvalidComponent { name: String, component: String, reason: &'static str },
}

/// Why a tag is invalid. Maps to `TAG_INVALID` (or `MANIFEST_INVALID`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("tag is empty")]
    Empty,
    #[error("tag is {0} bytes long; the limit is {TAG_MAX_BYTES}")]
    TooLong(usize),
    #[error("tag {0:?} must start with a letter, digit or '_'")]
    BadStart(String),
    #[error("tag {0:?} may contain only letters, digits, '_', '.' and '-'")]
    BadCharacter(String),
}

/// A validated repository name such as `library/ubuntu`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryName(Box<str>);

impl RepositoryName {
    pub fn parse(name: &str) -> Result<RepositoryName, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > NAME_MAX_BYTES {
            return Err(NameError::TooLong(name.len()));
        }
        for (index, component) in name.split('/').enumerate() {
            if component.is_empty() {
                return Err(NameError::EmptyComponent { name: name.to_owned(), index });
            }
            check_component(component).map_err(|reason| NameError::InvalidComponent {
                name: name.to_owned(),
                component: component.to_owned(),
                reason,
            })?;
        }
        Ok(RepositoryName(name.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `/`-separated components.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

/// One path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn check_component(c: &str) -> Result<(), &'static str> {
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let is_sep = |b: u8| matches!(b, b'.' | b'_' | b'-');
    if let Some(&b) = bytes.iter().find(|&&b| !alnum(b) && !is_sep(b)) {
        return Err(if b.is_ascii_uppercase() {
            "contains an uppercase letter; names are lowercase"
        } else {
            "contains a character other than [a-z0-9._-]"
        });
    }
    if !alnum(bytes[0]) {
        return Err("must start with a lowercase letter or digit");
    }
    if !alnum(bytes[bytes.len() - 1]) {
        return Err("must end with a lowercase letter or digit");
    }
    // Validate each run of separators between alphanumeric runs.
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_sep(bytes[i]) {
            i += 1;
        }
        match &bytes[start..i] {
            b"." | b"_" | b"__" => {}
            run if run.iter().all(|&b| b == b'-') => {}
            b".." => return Err("contains '..'"),
            _ => return Err("has a separator other than '.', '_', '__' or a run of '-'"),
        }
    }
    Ok(())
}

impl fmt::Display for RepositoryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RepositoryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RepositoryName({})", self.0)
    }
}

impl AsRef<str> for RepositoryName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for RepositoryName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        RepositoryName::parse(s)
    }
}

/// A validated tag such as `v1.2.3` or `latest`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(Box<str>);

impl Tag {
    pub fn parse(tag: &str) -> Result<Tag, TagError> {
        let bytes = tag.as_bytes();
        let Some(&first) = bytes.first() else {
            return Err(TagError::Empty);
        };
        if bytes.len() > TAG_MAX_BYTES {
            return Err(TagError::TooLong(bytes.len()));
        }
        if !(first.is_ascii_alphanumeric() || first == b'_') {
            return Err(TagError::BadStart(tag.to_owned()));
        }
        if !bytes[1..].iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
            return Err(TagError::BadCharacter(tag.to_owned()));
        }
        Ok(Tag(tag.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({})", self.0)
    }
}

impl std::str::FromStr for Tag {
    type Err = TagError;
    fn from_str(s: &str) -> Result<Self, TagError> {
        Tag::parse(s)
    }
}

/// The `<reference>` of a manifest URL: a tag or a digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reference {
    Tag(Tag),
    Digest(Digest),
}

/// Why a manifest reference is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error(transparent)]
    Tag(#[from] TagError),
    #[error(transparent)]
    Digest(#[from] DigestError),
}

impl Reference {
    /// A reference containing `:` is a digest (tags cannot contain it).
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        if s.contains(':') { Ok(Reference::Digest(Digest::parse(s)?)) } else { Ok(Reference::Tag(Tag::parse(s)?)) }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(t) => t.fmt(f),
            Reference::Digest(d) => d.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_spec_examples() {
        for ok in ["a", "library/ubuntu", "a.b/c-d/e__f", "a---b", "0/1/2", "foo_bar.baz"] {
            RepositoryName::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn rejects_with_a_reason() {
        assert_eq!(RepositoryName::parse(""), Err(NameError::Empty));
        assert!(matches!(RepositoryName::parse("/a"), Err(NameError::EmptyComponent { index: 0, .. })));
        assert!(matches!(RepositoryName::parse("a//b"), Err(NameError::EmptyComponent { index: 1, .. })));
        assert!(matches!(RepositoryName::parse("a/"), Err(NameError::EmptyComponent { index: 1, .. })));
        for (bad, why) in [
            ("Upper", "uppercase"),
            ("a/../b", "start with"),
            ("a..b", "'..'"),
            ("a___b", "separator"),
            ("a._b", "separator"),
            ("_a", "start with"),
            ("a-", "end with"),
            ("a b", "character"),
        ] {
            let err = RepositoryName::parse(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let long = "a".repeat(NAME_MAX_BYTES + 1);
        assert_eq!(RepositoryName::parse(&long), Err(NameError::TooLong(256)));
        assert!(RepositoryName::parse(&long[1..]).is_ok());
    }

    #[test]
    fn tags() {
        assert!(Tag::parse("latest").is_ok());
        assert!(Tag::parse("_x.Y-1").is_ok());
        assert_eq!(Tag::parse(""), Err(TagError::Empty));
        assert!(matches!(Tag::parse(".a"), Err(TagError::BadStart(_))));
        assert!(matches!(Tag::parse("-a"), Err(TagError::BadStart(_))));
        assert!(matches!(Tag::parse("a/b"), Err(TagError::BadCharacter(_))));
        assert!(Tag::parse(&"t".repeat(128)).is_ok());
        assert_eq!(Tag::parse(&"t".repeat(129)), Err(TagError::TooLong(129)));
    }

    #[test]
    fn references() {
        assert!(matches!(Reference::parse("v1"), Ok(Reference::Tag(_))));
        let d = crate::Algorithm::Sha256.empty_digest();
        assert_eq!(Reference::parse(d.as_str()), Ok(Reference::Digest(d)));
        assert!(matches!(Reference::parse("sha256:zz"), Err(ReferenceError::Digest(_))));
    }
}
