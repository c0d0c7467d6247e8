//! Header values as Go's `archive/tar` presents them, and the per-version
//! selection of which of them a tarsum hashes.

use super::{Options, Version};
use std::collections::BTreeMap;
use std::io::Read;

/// PAX key prefix under which extended attributes are stored.
const XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";

/// The header fields tarsum reads, with PAX overrides applied.
pub(super) struct GoHeader {
    name: Vec<u8>,
    mode: i64,
    uid: i64,
    gid: i64,
    size: i64,
    mtime: i64,
    typeflag: u8,
    linkname: Vec<u8>,
    uname: Vec<u8>,
    gname: Vec<u8>,
    devmajor: i64,
    devminor: i64,
    /// Sorted by key, as tarsum v1 hashes them.
    xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl GoHeader {
    pub(super) fn read<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<GoHeader, String> {
        let raw = entry.header().as_bytes();
        let num = |range: std::ops::Range<usize>, what: &str| {
            parse_numeric(&raw[range]).ok_or_else(|| format!("{what} field is not a number"))
        };
        // ustar and GNU headers carry owner names and device numbers; v7 ones do not.
        let has_ustar_fields = &raw[257..262] == b"ustar";
        let mut h = GoHeader {
            name: entry.path_bytes().into_owned(),
            mode: num(100..108, "mode")?,
            uid: num(108..116, "uid")?,
            gid: num(116..124, "gid")?,
            size: num(124..136, "size")?,
            mtime: num(136..148, "mtime")?,
            typeflag: raw[156],
            linkname: entry.link_name_bytes().map(|c| c.into_owned()).unwrap_or_default(),
            uname: if has_ustar_fields { c_string(&raw[265..297]).to_vec() } else { Vec::new() },
            gname: if has_ustar_fields { c_string(&raw[297..329]).to_vec() } else { Vec::new() },
            devmajor: if has_ustar_fields { num(329..337, "devmajor")? } else { 0 },
            devminor: if has_ustar_fields { num(337..345, "devminor")? } else { 0 },
            xattrs: BTreeMap::new(),
        };
        if let Some(pax) = entry.pax_extensions().map_err(|e| format!("PAX records: {e}"))? {
            for ext in pax {
                let ext = ext.map_err(|e| format!("PAX record: {e}"))?;
                h.apply_pax(ext.key_bytes(), ext.value_bytes())?;
            }
        }
        // Legacy archives mark regular files with NUL and directories with a trailing slash.
        if h.typeflag == 0 {
            h.typeflag = if h.name.ends_with(b"/") { b'5' } else { b'0' };
        }
        Ok(h)
    }

    fn apply_pax(&mut self, key: &[u8], value: &[u8]) -> Result<(), String> {
        let decimal = || {
            std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| format!("PAX {} is not a number", String::from_utf8_lossy(key)))
        };
        match key {
            b"uid" => self.uid = decimal()?,
            b"gid" => self.gid = decimal()?,
            b"size" => self.size = decimal()?,
            b"uname" => self.uname = value.to_vec(),
            b"gname" => self.gname = value.to_vec(),
            b"mtime" => self.mtime = pax_seconds(value).ok_or("PAX mtime is not a time")?,
            // path and linkpath are already applied by the tar reader.
            _ => {
                if let Some(attr) = key.strip_prefix(XATTR_PREFIX) {
                    self.xattrs.insert(attr.to_vec(), value.to_vec());
                }
            }
        }
        Ok(())
    }

    /// The path as docker compares entries for duplicates: rooted, cleaned
    /// of `.`/`..`/repeated separators, then made relative (`./a//b` → `a/b`).
    pub(super) fn clean_name(&self) -> Vec<u8> {
        let mut parts: Vec<&[u8]> = Vec::new();
        for part in self.name.split(|&b| b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        if parts.is_empty() {
            return b".".to_vec();
        }
        parts.join(&b'/')
    }

    /// Appends the `key ‖ value` pairs the version selects.
    pub(super) fn select(&self, options: Options, out: &mut Vec<u8>) {
        let mut put = |k: &[u8], v: &[u8]| {
            out.extend_from_slice(k);
            out.extend_from_slice(v);
        };
        let mut num = itoa::Buffer::new();
        put(b"name", &self.name);
        put(b"mode", num.format(self.mode).as_bytes());
        put(b"uid", num.format(self.uid).as_bytes());
        put(b"gid", num.format(self.gid).as_bytes());
        put(b"size", num.format(self.size).as_bytes());
        if options.version == Version::V0 {
            put(b"mtime", num.format(self.mtime).as_bytes());
        }
        put(b"typeflag", &[self.typeflag]);
        put(b"linkname", &self.linkname);
        let (uname, gname): (&[u8], &[u8]) =
            if options.legacy_owner_names { (&self.uname, &self.gname) } else { (b"", b"") };
        put(b"uname", uname);
        put(b"gname", gname);
        put(b"devmajor", num.format(self.devmajor).as_bytes());
        put(b"devminor", num.format(self.devminor).as_bytes());
        if options.version != Version::V0 {
            for (k, v) in &self.xattrs {
                put(k, v);
            }
        }
    }
}

/// The bytes up to the first NUL.
fn c_string(field: &[u8]) -> &[u8] {
    field.iter().position(|&b| b == 0).map_or(field, |n| &field[..n])
}

/// A numeric header field: octal text padded with spaces or NULs, or GNU
/// base-256 (high bit of the first byte set). An empty field is zero.
fn parse_numeric(field: &[u8]) -> Option<i64> {
    if let Some(&first) = field.first()
        && first & 0x80 != 0
    {
        // Two's complement big-endian after the marker bit; negative values
        // are stored inverted so the same loop reads both signs.
        let invert = if first & 0x40 != 0 { 0xff } else { 0 };
        let mut magnitude: u64 = 0;
        for (i, &b) in field.iter().enumerate() {
            let b = if i == 0 { (b ^ invert) & 0x7f } else { b ^ invert };
            if magnitude >> 56 != 0 {
                return None;
            }
            magnitude = magnitude << 8 | u64::from(b);
        }
        let v = i64::try_from(magnitude).ok()?;
        return Some(if invert == 0 { v } else { !v });
    }
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c| c == ' ' || c == '\0');
    let text = c_str_prefix(text);
    if text.is_empty() {
        return Some(0);
    }
    i64::from_str_radix(text, 8).ok()
}

fn c_str_prefix(s: &str) -> &str {
    s.split('\0').next().unwrap_or("")
}

/// Whole seconds of a PAX time such as `1409861938.123456789` or `-1.5`,
/// rounded toward negative infinity as Go's `Time.Unix` does.
fn pax_seconds(value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?;
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = if whole == "-" || whole.is_empty() { 0 } else { whole.parse().ok()? };
    let has_fraction = frac.bytes().any(|b| b != b'0');
    Some(if whole.starts_with('-') && has_fraction { secs - 1 } else { secs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_fields() {
        assert_eq!(parse_numeric(b"0000644\0"), Some(0o644));
        assert_eq!(parse_numeric(b"   755 \0"), Some(0o755));
        assert_eq!(parse_numeric(b"\0\0\0\0\0\0\0\0"), Some(0));
        assert_eq!(parse_numeric(b"        "), Some(0));
        assert_eq!(parse_numeric(b"0009"), None);
        assert_eq!(parse_numeric(&[0x80, 0, 0, 0, 0, 0, 1, 0]), Some(256));
        assert_eq!(parse_numeric(&[0xff; 8]), Some(-1));
    }

    #[test]
    fn pax_times() {
        assert_eq!(pax_seconds(b"1409861938"), Some(1409861938));
        assert_eq!(pax_seconds(b"1409861938.999"), Some(1409861938));
        assert_eq!(pax_seconds(b"-1.5"), Some(-2));
        assert_eq!(pax_seconds(b"-1.0"), Some(-1));
        assert_eq!(pax_seconds(b"x"), None);
    }
}
