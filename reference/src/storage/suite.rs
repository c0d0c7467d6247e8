//! The behaviour every storage driver must show. Each driver's tests call
//! [`run`]; a new driver is done when it passes.

use super::{StorageDriver, StorageError};
use bytes::Bytes;

/// Runs every check against `d`, which must start empty.
pub async fn run(d: &dyn StorageDriver) {
    contents(d).await;
    appends_and_ranges(d).await;
    listing_and_stat(d).await;
    rename_and_delete(d).await;
    empty_directories(d).await;
    invalid_paths(d).await;
}

async fn contents(d: &dyn StorageDriver) {
    assert!(d.get_content("/a/missing").await.unwrap_err().is_not_found());
    d.put_content("/a/b/c", Bytes::from_static(b"one")).await.unwrap();
    assert_eq!(d.get_content("/a/b/c").await.unwrap(), "one");
    d.put_content("/a/b/c", Bytes::from_static(b"two!")).await.unwrap();
    assert_eq!(d.get_content("/a/b/c").await.unwrap(), "two!");
    d.put_content("/a/b/empty", Bytes::new()).await.unwrap();
    assert_eq!(d.get_content("/a/b/empty").await.unwrap(), "");
    d.delete("/a").await.unwrap();
}

async fn appends_and_ranges(d: &dyn StorageDriver) {
    assert_eq!(d.append("/up/data", b"hello ").await.unwrap(), 6);
    assert_eq!(d.append("/up/data", b"world").await.unwrap(), 11);
    assert_eq!(d.append("/up/data", b"").await.unwrap(), 11);
    assert_eq!(d.read_at("/up/data", 0, 100).await.unwrap(), "hello world");
    assert_eq!(d.read_at("/up/data", 6, 3).await.unwrap(), "wor");
    assert_eq!(d.read_at("/up/data", 11, 3).await.unwrap(), "");
    assert_eq!(d.read_at("/up/data", 50, 3).await.unwrap(), "");
    assert!(d.read_at("/up/none", 0, 3).await.unwrap_err().is_not_found());
    d.truncate("/up/data", 5).await.unwrap();
    assert_eq!(d.get_content("/up/data").await.unwrap(), "hello");
    d.delete("/up").await.unwrap();
}

async fn listing_and_stat(d: &dyn StorageDriver) {
    for p in ["/l/b", "/l/a/x", "/l/a/y", "/l/c/z/deep"] {
        d.put_content(p, Bytes::from_static(b"12")).await.unwrap();
    }
    assert_eq!(d.list("/l").await.unwrap(), ["a", "b", "c"]);
    assert_eq!(d.list("/l/a").await.unwrap(), ["x", "y"]);
    assert!(d.list("/nothing").await.unwrap_err().is_not_found());
    let f = d.stat("/l/b").await.unwrap();
    assert_eq!((f.size, f.is_dir), (2, false));
    assert!(d.stat("/l/c").await.unwrap().is_dir);
    assert!(d.stat("/l/q").await.unwrap_err().is_not_found());
    // A name that is a prefix of another is not its parent.
    d.put_content("/l/ab", Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(d.list("/l/a").await.unwrap(), ["x", "y"]);
    d.delete("/l").await.unwrap();
}

async fn rename_and_delete(d: &dyn StorageDriver) {
    d.put_content("/r/src", Bytes::from_static(b"new")).await.unwrap();
    d.put_content("/r/dst", Bytes::from_static(b"old")).await.unwrap();
    d.rename("/r/src", "/r/dst").await.unwrap();
    assert_eq!(d.get_content("/r/dst").await.unwrap(), "new");
    assert!(d.get_content("/r/src").await.unwrap_err().is_not_found());
    d.rename("/r/dst", "/r/other/dir/moved").await.unwrap();
    assert_eq!(d.get_content("/r/other/dir/moved").await.unwrap(), "new");
    assert!(d.rename("/r/gone", "/r/x").await.unwrap_err().is_not_found());
    d.put_content("/r/keep", Bytes::from_static(b"k")).await.unwrap();
    d.put_content("/r/other2", Bytes::from_static(b"k")).await.unwrap();
    d.delete("/r/other").await.unwrap();
    assert!(d.stat("/r/other/dir/moved").await.unwrap_err().is_not_found());
    assert_eq!(d.get_content("/r/other2").await.unwrap(), "k");
    assert!(d.delete("/r/other").await.unwrap_err().is_not_found());
    d.delete("/r").await.unwrap();
}

async fn empty_directories(d: &dyn StorageDriver) {
    d.put_content("/e/full/x", Bytes::from_static(b"x")).await.unwrap();
    assert!(!d.remove_empty_dir("/e/full").await.unwrap(), "a directory with content stays");
    assert_eq!(d.get_content("/e/full/x").await.unwrap(), "x");
    d.delete("/e/full/x").await.unwrap();
    d.remove_empty_dir("/e/full").await.unwrap();
    // Writing into a directory that was removed as empty still works.
    d.put_content("/e/full/y", Bytes::from_static(b"y")).await.unwrap();
    assert_eq!(d.get_content("/e/full/y").await.unwrap(), "y");
    assert!(!d.remove_empty_dir("/e/absent").await.unwrap());
    d.delete("/e").await.unwrap();
}

async fn invalid_paths(d: &dyn StorageDriver) {
    for bad in ["", "relative", "/a/../b", "/a//b", "/a/./b", "/a/"] {
        let err = d.put_content(bad, Bytes::new()).await.unwrap_err();
        assert!(matches!(err, StorageError::InvalidPath(_)), "{bad:?}: {err}");
    }
}
