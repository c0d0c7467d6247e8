//! Docker's tarsum test vectors.
//!
//! Two sets: vectors whose tars are built here (they run everywhere), and the
//! upstream tar files under `../shared/fixtures/tarsum/` (read in place, never
//! copied). Without `../shared` — a user's fresh clone — the file vectors are
//! listed as ignored so the skip is visible; under CI (`CI` set) a missing
//! `../shared` fails instead, so it can never be skipped silently there.

use drydock_spec::tarsum::{self, Hash, Options, Version};
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};

fn main() {
    let args = Arguments::from_args();
    let mut trials = generated_vectors();
    trials.extend(file_vectors());
    libtest_mimic::run(&args, trials).exit();
}

struct Entry {
    name: &'static str,
    mode: u32,
    uid: u64,
    gid: u64,
    uname: &'static str,
    gname: &'static str,
    xattrs: &'static [(&'static str, &'static str)],
    body: Vec<u8>,
}

impl Entry {
    fn plain(name: &'static str) -> Entry {
        Entry { name, mode: 0, uid: 0, gid: 0, uname: "", gname: "", xattrs: &[], body: Vec::new() }
    }
    fn owned(name: &'static str, xattrs: &'static [(&'static str, &'static str)]) -> Entry {
        Entry {
            name,
            mode: 0,
            uid: 1000,
            gid: 1000,
            uname: "slartibartfast",
            gname: "users",
            xattrs,
            body: b"test".to_vec(),
        }
    }
}

/// One PAX record: `"<len> <key>=<value>\n"`, where `<len>` counts itself.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let rest = format!(" {key}={value}\n");
    let mut len = rest.len() + 1;
    while format!("{len}{rest}").len() != len {
        len += 1;
    }
    format!("{len}{rest}").into_bytes()
}

fn build_tar(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        if !e.xattrs.is_empty() {
            let records: Vec<u8> =
                e.xattrs.iter().flat_map(|(k, v)| pax_record(&format!("SCHILY.xattr.{k}"), v)).collect();
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::XHeader);
            h.set_path(format!("PaxHeaders.0/{}", e.name)).unwrap();
            h.set_size(records.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_cksum();
            b.append(&h, &records[..]).unwrap();
        }
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        // set_path refuses absolute paths; write the raw name field instead.
        h.as_old_mut().name[..e.name.len()].copy_from_slice(e.name.as_bytes());
        h.set_mode(e.mode);
        h.set_uid(e.uid);
        h.set_gid(e.gid);
        h.set_username(e.uname).unwrap();
        h.set_groupname(e.gname).unwrap();
        h.set_size(e.body.len() as u64);
        h.set_mtime(0);
        h.set_cksum();
        b.append(&h, &e.body[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn check(input: &[u8], extra: Option<&[u8]>, options: Options, expected: &str) -> Result<(), Failed> {
    let got = tarsum::sum(input, extra, options).map_err(|e| e.to_string())?;
    if got.to_string() == expected { Ok(()) } else { Err(format!("expected {expected}\n     got {got}").into()) }
}

fn legacy(version: Version) -> Options {
    Options { legacy_owner_names: true, ..Options::new(version, Hash::Sha256) }
}

fn generated_vectors() -> Vec<Trial> {
    let v0 = Options::new(Version::V0, Hash::Sha256);
    let dev = Options::new(Version::Dev, Hash::Sha256);
    let sized = || {
        let mut e = Entry::plain("/testdata0");
        e.mode = 0o755;
        e.body = vec![0; 1024 * 1024];
        build_tar(&[e])
    };
    let mut trials = Vec::new();
    for (hash, hex) in [
        (Hash::Sha256, "75258b2c5dcd9adfe24ce71eeca5fc5019c7e669912f15703ede92b1a60cb11f"),
        (Hash::Md5, "3a6cdb475d90459ac0d3280703d17be2"),
        (Hash::Sha1, "14b5e0d12a0c50a4281e86e92153fa06d55d00c6"),
        (Hash::Sha224, "dd8925b7a4c71b13f3a68a0f9428a757c76b93752c398f272a9062d5"),
        (
            Hash::Sha384,
            "e39e82f40005134bed13fb632d1a5f2aa4675c9ddb4a136fbcec202797e68d2f635e1200dee2e3a8d7f69d54d3f2fd27",
        ),
        (
            Hash::Sha512,
            "7c56de40b2d1ed3863ff25d83b59cdc8f53e67d1c01c3ee8f201f8e4dec3107da976d0c0ec9109c962a152b32699fe329b2dab13966020e400c32878a0761a7e",
        ),
    ] {
        trials.push(Trial::test(format!("generated::sized_1mib_zeros::{}", hash.name()), move || {
            check(&sized(), None, Options::new(Version::V0, hash), &format!("tarsum+{}:{hex}", hash.name()))
        }));
    }
    let cases: Vec<(&str, Vec<Entry>, Options, &str)> = vec![
        (
            "iteration::file_txt::v0",
            vec![Entry::plain("file.txt")],
            v0,
            "tarsum+sha256:626c4a2e9a467d65c33ae81f7f3dedd4de8ccaee72af73223c4bc4718cbc7bbd",
        ),
        (
            "iteration::file_txt::dev",
            vec![Entry::plain("file.txt")],
            dev,
            "tarsum.dev+sha256:6ffd43a1573a9913325b4918e124ee982a99c0f3cba90fc032a65f5e20bdd465",
        ),
        (
            "iteration::another_txt::dev",
            vec![Entry::owned("another.txt", &[])],
            dev,
            "tarsum.dev+sha256:862964db95e0fa7e42836ae4caab3576ab1df8d275720a45bdd01a5a3730cc63",
        ),
        (
            "iteration::xattrs::dev",
            vec![Entry::owned("xattrs.txt", &[("user.key1", "value1"), ("user.key2", "value2")])],
            dev,
            "tarsum.dev+sha256:4b1ba03544b49d96a32bacc77f8113220bd2f6a77e7e6d1e7b33cd87117d88e7",
        ),
        (
            "iteration::xattrs_upper_key::dev",
            vec![Entry::owned("xattrs.txt", &[("user.KEY1", "value1"), ("user.key2", "value2")])],
            dev,
            "tarsum.dev+sha256:410b602c898bd4e82e800050f89848fc2cf20fd52aa59c1ce29df76b878b84a6",
        ),
        (
            "iteration::xattrs_ignored_by_v0",
            vec![Entry::owned("xattrs.txt", &[("user.NOT", "CALCULATED")])],
            v0,
            "tarsum+sha256:b1f97eab73abd7593c245e51070f9fbdb1824c6b00a0b7a3d7f0015cd05e9e86",
        ),
        (
            "iteration::pre2018::another_txt::dev",
            vec![Entry::owned("another.txt", &[])],
            legacy(Version::Dev),
            "tarsum.dev+sha256:b38166c059e11fb77bef30bf16fba7584446e80fcc156ff46d47e36c5305d8ef",
        ),
        (
            "iteration::pre2018::xattrs::dev",
            vec![Entry::owned("xattrs.txt", &[("user.key1", "value1"), ("user.key2", "value2")])],
            legacy(Version::Dev),
            "tarsum.dev+sha256:4cc2e71ac5d31833ab2be9b4f7842a14ce595ec96a37af4ed08f87bc374228cd",
        ),
        (
            "iteration::pre2018::xattrs_ignored_by_v0",
            vec![Entry::owned("xattrs.txt", &[("user.NOT", "CALCULATED")])],
            legacy(Version::V0),
            "tarsum+sha256:c12bb6f1303a9ddbf4576c52da74973c00d14c109bcfa76b708d5da1154a07fa",
        ),
    ];
    for (name, entries, options, expected) in cases {
        let tar = build_tar(&entries);
        trials.push(Trial::test(format!("generated::{name}"), move || check(&tar, None, options, expected)));
    }
    trials.push(Trial::test("generated::empty_tar", move || {
        check(&[0u8; 1024], None, v0, "tarsum+sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }));
    trials
}

/// Where `../shared` is: `DRYDOCK_SHARED`, or beside the workspace.
fn shared_dir() -> PathBuf {
    std::env::var_os("DRYDOCK_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

const D46AF: &str = "46af0962ab5afeb5ce6740d4d91652e69206fc991fd5328c1a94d364ad00e457";
const D5111: &str = "511136ea3c5a64f264b78b5433614aec563103b4d4702f3ba7d4d2698e22c158";

#[derive(Clone, Copy)]
enum Compression {
    None,
    /// Gzip the file in memory, then sum through the gzip path.
    Gzip,
}

fn file_vectors() -> Vec<Trial> {
    use Compression::{Gzip, None as Plain};
    use Version::{Dev, V0, V1};
    let cur = |v| Options::new(v, Hash::Sha256);
    // (name, directory, tar file, with json extra, options, compression, expected)
    let table: Vec<(&str, &str, &str, bool, Options, Compression, &str)> = vec![
        (
            "46af::v0",
            D46AF,
            "layer.tar",
            true,
            cur(V0),
            Plain,
            "tarsum+sha256:4095cc12fa5fdb1ab2760377e1cd0c4ecdd3e61b4f9b82319d96fcea6c9a41c6",
        ),
        (
            "46af::dev",
            D46AF,
            "layer.tar",
            true,
            cur(Dev),
            Plain,
            "tarsum.dev+sha256:db56e35eec6ce65ba1588c20ba6b1ea23743b59e81fb6b7f358ccbde5580345c",
        ),
        (
            "46af::v0::gzip",
            D46AF,
            "layer.tar",
            true,
            cur(V0),
            Gzip,
            "tarsum+sha256:4095cc12fa5fdb1ab2760377e1cd0c4ecdd3e61b4f9b82319d96fcea6c9a41c6",
        ),
        (
            "xattr::v0",
            "xattr",
            "layer.tar",
            true,
            cur(V0),
            Plain,
            "tarsum+sha256:07e304a8dbcb215b37649fde1a699f8aeea47e60815707f1cdf4d55d25ff6ab4",
        ),
        (
            "xattr::dev",
            "xattr",
            "layer.tar",
            true,
            cur(Dev),
            Plain,
            "tarsum.dev+sha256:6c58917892d77b3b357b0f9ad1e28e1f4ae4de3a8006bd3beb8beda214d8fd16",
        ),
        (
            "511136::v0",
            D5111,
            "layer.tar",
            true,
            cur(V0),
            Plain,
            "tarsum+sha256:c66bd5ec9f87b8f4c6135ca37684618f486a3dd1d113b138d0a177bfa39c2571",
        ),
        (
            "collision0::v0",
            "collision",
            "collision-0.tar",
            false,
            cur(V0),
            Plain,
            "tarsum+sha256:7cabb5e9128bb4a93ff867b9464d7c66a644ae51ea2e90e6ef313f3bef93f077",
        ),
        (
            "collision1::v0",
            "collision",
            "collision-1.tar",
            false,
            cur(V0),
            Plain,
            "tarsum+sha256:805fd393cfd58900b10c5636cf9bab48b2406d9b66523122f2352620c85dc7f9",
        ),
        (
            "collision2::v0",
            "collision",
            "collision-2.tar",
            false,
            cur(V0),
            Plain,
            "tarsum+sha256:85d2b8389f077659d78aca898f9e632ed9161f553f144aef100648eac540147b",
        ),
        (
            "collision3::v0",
            "collision",
            "collision-3.tar",
            false,
            cur(V0),
            Plain,
            "tarsum+sha256:cbe4dee79fe979d69c16c2bccd032e3205716a562f4a3c1ca1cbeed7b256eb19",
        ),
        // Values from before moby a422774e59, when uname/gname were hashed.
        (
            "pre2018::collision0::v0",
            "collision",
            "collision-0.tar",
            false,
            legacy(V0),
            Plain,
            "tarsum+sha256:08653904a68d3ab5c59e65ef58c49c1581caa3c34744f8d354b3f575ea04424a",
        ),
        (
            "pre2018::collision1::v0",
            "collision",
            "collision-1.tar",
            false,
            legacy(V0),
            Plain,
            "tarsum+sha256:b51c13fbefe158b5ce420d2b930eef54c5cd55c50a2ee4abdddea8fa9f081e0d",
        ),
        (
            "pre2018::collision2::v0",
            "collision",
            "collision-2.tar",
            false,
            legacy(V0),
            Plain,
            "tarsum+sha256:381547080919bb82691e995508ae20ed33ce0f6948d41cafbeb70ce20c73ee8e",
        ),
        (
            "pre2018::collision3::v0",
            "collision",
            "collision-3.tar",
            false,
            legacy(V0),
            Plain,
            "tarsum+sha256:f886e431c08143164a676805205979cd8fa535dfcef714db5515650eea5a7c0f",
        ),
        // Derived values (no upstream vector exists for tarsum.v1).
        (
            "derived::46af::v1",
            D46AF,
            "layer.tar",
            true,
            cur(V1),
            Plain,
            "tarsum.v1+sha256:db56e35eec6ce65ba1588c20ba6b1ea23743b59e81fb6b7f358ccbde5580345c",
        ),
        (
            "derived::xattr::v1",
            "xattr",
            "layer.tar",
            true,
            cur(V1),
            Plain,
            "tarsum.v1+sha256:6c58917892d77b3b357b0f9ad1e28e1f4ae4de3a8006bd3beb8beda214d8fd16",
        ),
        (
            "derived::511136::v1",
            D5111,
            "layer.tar",
            true,
            cur(V1),
            Plain,
            "tarsum.v1+sha256:2db1079d2a7f6cd7836712c95b8961d96fb1e222128dbef251a74c312cdf43ba",
        ),
        (
            "derived::46af::v0::no_extra",
            D46AF,
            "layer.tar",
            false,
            cur(V0),
            Plain,
            "tarsum+sha256:5e2c2a5b29c91f5ae3323f6cd74d1274c99de342669cb2e0c2b99f5e69c15598",
        ),
        (
            "derived::46af::v1::no_extra",
            D46AF,
            "layer.tar",
            false,
            cur(V1),
            Plain,
            "tarsum.v1+sha256:41cd5c911333ee394776e432fc5a27cc82dfea313e5feff965e31c0fddd9213d",
        ),
        (
            "derived::xattr::v0::no_extra",
            "xattr",
            "layer.tar",
            false,
            cur(V0),
            Plain,
            "tarsum+sha256:c4c85576835bb02f053d33ef691d7c92a889ef8365481c608e6c33769d519ddf",
        ),
        (
            "derived::xattr::v1::no_extra",
            "xattr",
            "layer.tar",
            false,
            cur(V1),
            Plain,
            "tarsum.v1+sha256:e77e6c36c4bc32c0795ca8a8c086bbaa6cb83b0d785522182d45d770cc5eeb6f",
        ),
        (
            "derived::511136::v0::no_extra",
            D5111,
            "layer.tar",
            false,
            cur(V0),
            Plain,
            "tarsum+sha256:2a7812e636235448785062100bb9103096aa6655a8f6bb9ac9b13fe8290f66df",
        ),
        (
            "derived::511136::v1::no_extra",
            D5111,
            "layer.tar",
            false,
            cur(V1),
            Plain,
            "tarsum.v1+sha256:324d4cf44ee7daa46266c1df830c61a7df615c0632176a339e7310e34723d67a",
        ),
        (
            "derived::collision0::v1",
            "collision",
            "collision-0.tar",
            false,
            cur(V1),
            Plain,
            "tarsum.v1+sha256:f58c88e8bec1a3f43ec5f0af0f02e4b8e9bf3730282d515cd31086a99e43f50a",
        ),
        (
            "derived::collision1::v1",
            "collision",
            "collision-1.tar",
            false,
            cur(V1),
            Plain,
            "tarsum.v1+sha256:ac77bf939e533e883cea7b88db2519aa5e4c9014ec0154e86f17b6df3c9b65cc",
        ),
        (
            "derived::collision2::v1",
            "collision",
            "collision-2.tar",
            false,
            cur(V1),
            Plain,
            "tarsum.v1+sha256:0a707b1a5384e71318173f3bbb78f9603ead51f33872095856d0ef882507dc50",
        ),
        (
            "derived::collision3::v1",
            "collision",
            "collision-3.tar",
            false,
            cur(V1),
            Plain,
            "tarsum.v1+sha256:5487308f0d81a59788c566049dd7228b93825c11376486aa93301a7da2b31362",
        ),
    ];
    let root = shared_dir().join("fixtures/tarsum");
    let present = root.is_dir();
    let in_ci = std::env::var_os("CI").is_some();
    if !present {
        eprintln!(
            "note: {} not found: the {} upstream tarsum file vectors are ignored (set DRYDOCK_SHARED to run them)",
            root.display(),
            table.len()
        );
    }
    table
        .into_iter()
        .map(|(name, dir, file, with_extra, options, compression, expected)| {
            let dir = root.join(dir);
            let trial = Trial::test(format!("file::{name}"), move || {
                if !present {
                    return Err(format!("{} is missing, and CI must run every vector", dir.display()).into());
                }
                let tar = std::fs::read(dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
                let extra =
                    if with_extra { Some(std::fs::read(dir.join("json")).map_err(|e| e.to_string())?) } else { None };
                let got = match compression {
                    Compression::None => tarsum::sum(&tar[..], extra.as_deref(), options),
                    Compression::Gzip => {
                        use std::io::Write;
                        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                        gz.write_all(&tar).unwrap();
                        let gz = gz.finish().unwrap();
                        tarsum::sum_detect(&gz[..], extra.as_deref(), options)
                    }
                }
                .map_err(|e| e.to_string())?;
                if got.to_string() == expected {
                    Ok(())
                } else {
                    Err(format!("expected {expected}\n     got {got}").into())
                }
            });
            trial.with_ignored_flag(!present && !in_ci)
        })
        .collect()
}
