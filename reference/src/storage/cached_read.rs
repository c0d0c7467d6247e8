//! Small files read in place when the kernel can answer from its caches
//! alone, so the read needs no trip to the blocking pool.
//!
//! A manifest GET by tag reads two link files of ~70 bytes. Through
//! tokio's blocking pool each read costs two thread wake-ups (there and
//! back), which were most of the request's CPU. Linux can say "only if it
//! would not block": `openat2` with `RESOLVE_CACHED` resolves the path from
//! the dentry cache or fails with `EAGAIN`, and `preadv2` with `RWF_NOWAIT`
//! reads from the page cache or fails likewise. Anything that would block —
//! a cold path, a cold page, a file larger than [`CACHED_READ_MAX`], an
//! older kernel — answers `None` and the caller takes the blocking pool.

use std::path::Path;

/// Files up to this size are tried in place.
pub const CACHED_READ_MAX: usize = 4096;

/// What an in-place read found.
pub enum Cached {
    Content(Vec<u8>),
    /// The path's absence, as the dentry cache knows it.
    NotFound,
}

#[cfg(target_os = "linux")]
pub fn read(path: &Path) -> Option<Cached> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    use rustix::io::{Errno, ReadWriteFlags};
    let fd = match rustix::fs::openat2(
        rustix::fs::CWD,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::CACHED,
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Some(Cached::NotFound),
        Err(_) => return None,
    };
    let size = usize::try_from(rustix::fs::fstat(&fd).ok()?.st_size).ok()?;
    if size > CACHED_READ_MAX {
        return None;
    }
    let mut buf = vec![0; size];
    let mut got = 0;
    while got < size {
        let mut slices = [std::io::IoSliceMut::new(&mut buf[got..])];
        match rustix::io::preadv2(&fd, &mut slices, got as u64, ReadWriteFlags::NOWAIT) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::INTR) => {}
            Err(_) => return None,
        }
    }
    buf.truncate(got);
    Some(Cached::Content(buf))
}

#[cfg(not(target_os = "linux"))]
pub fn read(_path: &Path) -> Option<Cached> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_small_file_is_read_in_place_and_a_missing_one_is_known_missing() {
        let dir = std::env::temp_dir().join(format!("drydock-cached-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("link");
        std::fs::write(&small, b"sha256:abc").unwrap();
        std::fs::read(&small).unwrap(); // surely in the caches now
        let big = dir.join("big");
        std::fs::write(&big, vec![1u8; CACHED_READ_MAX + 1]).unwrap();
        if cfg!(target_os = "linux") {
            assert!(matches!(read(&small), Some(Cached::Content(c)) if c == b"sha256:abc"));
            std::fs::read(dir.join("gone")).unwrap_err();
            assert!(matches!(read(&dir.join("gone")), Some(Cached::NotFound) | None));
        }
        assert!(read(&big).is_none(), "too big: the blocking pool reads it");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
