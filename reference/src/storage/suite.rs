//! The behaviour every storage driver must show. Each driver's tests call
//! [`run`]; a new driver is done when it passes.
//!
//! Two parts: object guarantees every driver gives, and the append
//! guarantees of drivers whose [`Capabilities`](super::Capabilities) say they append (an object
//! store has no append: it must refuse one rather than pretend).

use super::{StorageDriver, StorageError};
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Runs every check against `driver`, which must start empty. Run it on a
/// multi-threaded runtime: one check races tasks against each other.
pub async fn run(driver: Arc<dyn StorageDriver>) {
    let d = driver.as_ref();
    contents(d).await;
    ranges(d).await;
    sequential_reads(driver.clone()).await;
    create_only(d).await;
    writers(d).await;
    listing_and_stat(d).await;
    rename_and_delete(d).await;
    empty_directories(d).await;
    writers_race_empty_dir_removal(driver.clone()).await;
    creators_race(driver.clone()).await;
    conditional_replacement(d).await;
    replacers_race(driver.clone()).await;
    invalid_paths(d).await;
    if d.capabilities().appends {
        appends(d).await;
        appenders_race(driver.clone()).await;
    } else {
        d.put_content("/no-append/data", Bytes::from_static(b"x")).await.unwrap();
        let refused = d.append("/no-append/data", 1, Bytes::from_static(b"y")).await.unwrap_err();
        assert!(matches!(refused, StorageError::Unsupported { .. }), "append on an object store: {refused}");
        assert_eq!(d.get_content("/no-append/data").await.unwrap(), "x");
        d.delete("/no-append").await.unwrap();
    }
}

/// Creating an object that exists: refused where the driver claims
/// conditional writes, else a replacement.
async fn create_only(d: &dyn StorageDriver) {
    d.put_content_new("/new/a", Bytes::from_static(b"first")).await.unwrap();
    let again = d.put_content_new("/new/a", Bytes::from_static(b"second")).await;
    if d.capabilities().conditional_writes {
        assert!(matches!(again, Err(StorageError::AlreadyExists(_))), "create over an object: {again:?}");
        assert_eq!(d.get_content("/new/a").await.unwrap(), "first");
    } else {
        again.unwrap();
        assert_eq!(d.get_content("/new/a").await.unwrap(), "second");
    }
    d.delete("/new").await.unwrap();
}

/// Creators racing for one name: where conditional writes are claimed,
/// exactly one wins and its content is what stays.
async fn creators_race(d: Arc<dyn StorageDriver>) {
    const CREATORS: u8 = 8;
    const ROUNDS: usize = 20;
    for round in 0..ROUNDS {
        let path = format!("/create-race/{round}");
        let tasks: Vec<_> = (0..CREATORS)
            .map(|me| {
                let (d, path) = (d.clone(), path.clone());
                tokio::spawn(async move { (me, d.put_content_new(&path, Bytes::from(vec![me; 4])).await) })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                (me, Ok(())) => winners.push(me),
                (_, Err(StorageError::AlreadyExists(_))) => {}
                (me, Err(e)) => panic!("creator {me}: {e}"),
            }
        }
        let stored = d.get_content(&path).await.unwrap();
        if d.capabilities().conditional_writes {
            assert_eq!(winners.len(), 1, "round {round}: creators told they won: {winners:?}");
            assert_eq!(stored, vec![winners[0]; 4]);
        } else {
            assert!(winners.contains(&stored[0]), "round {round}: content of a creator never acknowledged");
        }
    }
    d.delete("/create-race").await.unwrap();
}

async fn conditional_replacement(d: &dyn StorageDriver) {
    assert!(!d.replace_if("/cas/x", Some(b"v1"), Bytes::from_static(b"v2")).await.unwrap(), "replaced nothing");
    assert!(d.stat("/cas/x").await.unwrap_err().is_not_found());
    assert!(d.replace_if("/cas/x", None, Bytes::from_static(b"v1")).await.unwrap());
    assert!(!d.replace_if("/cas/x", Some(b"v0"), Bytes::from_static(b"v2")).await.unwrap());
    assert_eq!(d.get_content("/cas/x").await.unwrap(), "v1");
    assert!(d.replace_if("/cas/x", Some(b"v1"), Bytes::from_static(b"v2")).await.unwrap());
    assert_eq!(d.get_content("/cas/x").await.unwrap(), "v2");
    d.delete("/cas").await.unwrap();
}

/// Counters incremented by read-then-replace from many tasks: where the
/// driver claims conditional writes, no increment is lost.
async fn replacers_race(d: Arc<dyn StorageDriver>) {
    const REPLACERS: usize = 6;
    const INCREMENTS: usize = 12;
    if !d.capabilities().conditional_writes {
        return;
    }
    d.put_content("/cas-race/n", Bytes::from_static(b"0")).await.unwrap();
    let tasks: Vec<_> = (0..REPLACERS)
        .map(|_| {
            let d = d.clone();
            tokio::spawn(async move {
                let mut done = 0;
                while done < INCREMENTS {
                    let current = d.get_content("/cas-race/n").await.unwrap();
                    let n: usize = std::str::from_utf8(&current).unwrap().parse().unwrap();
                    if d.replace_if("/cas-race/n", Some(&current), Bytes::from((n + 1).to_string())).await.unwrap() {
                        done += 1;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let total = d.get_content("/cas-race/n").await.unwrap();
    assert_eq!(total, (REPLACERS * INCREMENTS).to_string(), "conditional replacements lost an increment");
    d.delete("/cas-race").await.unwrap();
}

/// Large objects: nothing visible before commit, replaced whole by it,
/// untouched by an abort.
async fn writers(d: &dyn StorageDriver) {
    let mut w = d.writer("/w/obj").await.unwrap();
    let piece = Bytes::from(vec![7u8; 300 << 10]);
    for _ in 0..7 {
        w.write(piece.clone()).await.unwrap();
    }
    assert!(d.stat("/w/obj").await.unwrap_err().is_not_found(), "an object visible before its commit");
    assert_eq!(w.commit().await.unwrap(), 7 * (300 << 10));
    assert_eq!(d.stat("/w/obj").await.unwrap().size, 7 * (300 << 10));
    assert_eq!(d.read_at("/w/obj", (300 << 10) * 7 - 2, 10).await.unwrap(), vec![7u8; 2]);
    let mut w = d.writer("/w/obj").await.unwrap();
    w.write(Bytes::from_static(b"replacement")).await.unwrap();
    assert_eq!(d.stat("/w/obj").await.unwrap().size, 7 * (300 << 10), "replaced before commit");
    w.commit().await.unwrap();
    assert_eq!(d.get_content("/w/obj").await.unwrap(), "replacement");
    let mut w = d.writer("/w/obj").await.unwrap();
    w.write(Bytes::from_static(b"thrown away")).await.unwrap();
    w.abort().await;
    assert_eq!(d.get_content("/w/obj").await.unwrap(), "replacement");
    let w = d.writer("/w/empty").await.unwrap();
    assert_eq!(w.commit().await.unwrap(), 0);
    assert_eq!(d.get_content("/w/empty").await.unwrap(), "");
    assert_eq!(d.list("/w").await.unwrap(), ["empty", "obj"], "a writer left debris in listings");
    d.delete("/w").await.unwrap();
}

async fn ranges(d: &dyn StorageDriver) {
    d.put_content("/rg/data", Bytes::from_static(b"hello world")).await.unwrap();
    assert_eq!(d.read_at("/rg/data", 0, 100).await.unwrap(), "hello world");
    assert_eq!(d.read_at("/rg/data", 6, 3).await.unwrap(), "wor");
    assert_eq!(d.read_at("/rg/data", 11, 3).await.unwrap(), "");
    assert_eq!(d.read_at("/rg/data", 50, 3).await.unwrap(), "");
    assert!(d.read_at("/rg/none", 0, 3).await.unwrap_err().is_not_found());
    d.delete("/rg").await.unwrap();
}

/// A large object read front to back in pieces of any size, from any
/// offset, hands out exactly its bytes: streamed where the driver streams,
/// by `read_at` where not.
async fn sequential_reads(driver: Arc<dyn StorageDriver>) {
    use super::sequential_read::SequentialRead;
    let content: Bytes =
        (0..(3u32 << 20) + 17).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<_>>().into();
    let len = content.len() as u64;
    let mut w = driver.writer("/sq/data").await.unwrap();
    w.write(content.clone()).await.unwrap();
    w.commit().await.unwrap();
    let read_all = |start: u64, end: u64, piece: usize| {
        let driver = driver.clone();
        async move {
            let mut r = SequentialRead::new(driver, "/sq/data".to_owned(), start, end);
            let mut out = Vec::new();
            loop {
                let at = r.position();
                let got = r.take(piece).await.unwrap();
                if got.is_empty() {
                    return out;
                }
                assert!(got.len() <= piece);
                assert_eq!(r.position(), at + got.len() as u64);
                out.extend_from_slice(&got);
            }
        }
    };
    for (start, end, piece) in
        [(0, len, 1 << 20), (0, len, 99_999), (5, len, 4 << 20), (1 << 20, 2 << 20, 65_536), (len - 3, len, 1)]
    {
        let got = read_all(start, end, piece).await;
        assert!(got == content[start as usize..end as usize], "{start}..{end} in pieces of {piece}");
    }
    // A read meant to go past the end stops where the object does.
    assert!(read_all(len - 10, len + 1000, 7).await == content[len as usize - 10..]);
    let mut past = SequentialRead::new(driver.clone(), "/sq/data".to_owned(), len + 5, len + 10);
    assert!(past.take(5).await.unwrap().is_empty());
    let mut missing = SequentialRead::new(driver.clone(), "/sq/none".to_owned(), 0, 10);
    assert!(missing.take(5).await.unwrap_err().is_not_found());
    driver.delete("/sq").await.unwrap();
}

/// Appenders that read the same size race to append at it: each append
/// that succeeds must have landed exactly where its caller said.
async fn appenders_race(d: Arc<dyn StorageDriver>) {
    const APPENDERS: u8 = 4;
    const ATTEMPTS: usize = 150;
    d.put_content("/append-race/data", Bytes::new()).await.unwrap();
    let tasks: Vec<_> = (0..APPENDERS)
        .map(|me| {
            let d = d.clone();
            tokio::spawn(async move {
                let mut landed = Vec::new();
                for _ in 0..ATTEMPTS {
                    let at = d.stat("/append-race/data").await.unwrap().size;
                    match d.append("/append-race/data", at, Bytes::from(vec![me])).await {
                        Ok(size) => {
                            assert_eq!(size, at + 1);
                            landed.push(at);
                        }
                        Err(StorageError::SizeMismatch { .. }) => {}
                        Err(e) => panic!("append: {e}"),
                    }
                }
                (me, landed)
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let content = d.get_content("/append-race/data").await.unwrap();
    let mut acknowledged = 0;
    for (me, landed) in results {
        acknowledged += landed.len();
        for at in landed {
            assert_eq!(content[at as usize], me, "appender {me}'s byte acknowledged at {at} is not there");
        }
    }
    assert_eq!(content.len(), acknowledged, "an append landed without being acknowledged");
    d.delete("/append-race").await.unwrap();
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

async fn appends(d: &dyn StorageDriver) {
    // Appends never create: an upload removed or moved away stays gone.
    assert!(d.append("/up/data", 0, Bytes::from_static(b"x")).await.unwrap_err().is_not_found());
    assert!(d.stat("/up/data").await.unwrap_err().is_not_found(), "a failed append created the object");
    assert!(d.stat("/up").await.unwrap_err().is_not_found(), "a failed append created a directory");
    d.put_content("/up/data", Bytes::new()).await.unwrap();
    assert_eq!(d.append("/up/data", 0, Bytes::from_static(b"hello ")).await.unwrap(), 6);
    assert_eq!(d.append("/up/data", 6, Bytes::from_static(b"world")).await.unwrap(), 11);
    assert_eq!(d.append("/up/data", 11, Bytes::new()).await.unwrap(), 11);
    // An append that expects another size writes nothing.
    for stale in [0, 6, 12] {
        match d.append("/up/data", stale, Bytes::from_static(b"again")).await {
            Err(StorageError::SizeMismatch { expected, actual: 11, .. }) => assert_eq!(expected, stale),
            other => panic!("append at {stale} of an 11-byte object: {other:?}"),
        }
    }
    assert_eq!(d.read_at("/up/data", 0, 100).await.unwrap(), "hello world");
    // Several buffers append in order, as one append: all or nothing.
    let parts = || ["!", "", " and", &"more".repeat(5000)].map(|p| Bytes::from(p.to_owned())).to_vec();
    assert!(matches!(d.append_parts("/up/data", 10, parts()).await, Err(StorageError::SizeMismatch { .. })));
    let longer = 11 + 1 + 4 + 20_000;
    assert_eq!(d.append_parts("/up/data", 11, parts()).await.unwrap(), longer);
    assert_eq!(d.append_parts("/up/data", longer, Vec::new()).await.unwrap(), longer);
    let tail = d.read_at("/up/data", 0, 20).await.unwrap();
    assert_eq!(tail, "hello world! andmore");
    assert!(d.append_parts("/up/nothing", 0, parts()).await.unwrap_err().is_not_found());
    d.truncate("/up/data", 11).await.unwrap();
    assert_eq!(d.read_at("/up/data", 0, 100).await.unwrap(), "hello world");
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
    // Sizes of the objects only, not of what is deeper.
    d.put_content("/l/a/longer", Bytes::from_static(b"12345")).await.unwrap();
    assert_eq!(d.list_sizes("/l").await.unwrap(), [("b".to_owned(), 2)], "list_sizes names objects, not directories");
    let sized = d.list_sizes("/l/a").await.unwrap();
    assert_eq!(sized, [("longer".to_owned(), 5), ("x".to_owned(), 2), ("y".to_owned(), 2)]);
    let f = d.stat("/l/b").await.unwrap();
    assert_eq!((f.size, f.is_dir), (2, false));
    assert!(d.stat("/l/c").await.unwrap().is_dir);
    assert!(d.stat("/l/q").await.unwrap_err().is_not_found());
    assert_eq!(d.size("/l/b").await.unwrap(), 2);
    assert!(d.size("/l/c").await.unwrap_err().is_not_found(), "a directory has no size of its own");
    assert!(d.size("/l/q").await.unwrap_err().is_not_found());
    // A name that is a prefix of another is not its parent.
    d.put_content("/l/ab", Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(d.list("/l/a").await.unwrap(), ["longer", "x", "y"]);
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

/// Writers that keep emptying their directory (write, delete, write…, as a
/// queue's producer and consumer do) and a remover of that directory, on
/// other threads at once: every write succeeds, and the last ones stay.
async fn writers_race_empty_dir_removal(d: Arc<dyn StorageDriver>) {
    const WRITERS: usize = 16;
    const ROUNDS: usize = 40;
    let stop = Arc::new(AtomicBool::new(false));
    let remover = {
        let (d, stop) = (d.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let _ = d.remove_empty_dir("/race/bucket").await;
                tokio::task::yield_now().await;
            }
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|i| {
            let d = d.clone();
            tokio::spawn(async move {
                let path = format!("/race/bucket/{i:03}");
                for round in 0..ROUNDS {
                    d.put_content(&path, Bytes::from(vec![i as u8; 8])).await?;
                    if round + 1 < ROUNDS {
                        d.delete(&path).await?;
                    }
                }
                Ok::<_, StorageError>(path)
            })
        })
        .collect();
    let mut written = Vec::new();
    for (i, w) in writers.into_iter().enumerate() {
        let path = w
            .await
            .expect("writer task")
            .unwrap_or_else(|e| panic!("write {i} lost to a concurrent empty-directory removal: {e}"));
        written.push((i, path));
    }
    stop.store(true, Ordering::Relaxed);
    remover.await.expect("remover task");
    for (i, path) in written {
        assert_eq!(d.get_content(&path).await.unwrap(), vec![i as u8; 8]);
    }
    d.delete("/race").await.unwrap();
}

async fn invalid_paths(d: &dyn StorageDriver) {
    for bad in ["", "relative", "/a/../b", "/a//b", "/a/./b", "/a/"] {
        let err = d.put_content(bad, Bytes::new()).await.unwrap_err();
        assert!(matches!(err, StorageError::InvalidPath(_)), "{bad:?}: {err}");
    }
}
