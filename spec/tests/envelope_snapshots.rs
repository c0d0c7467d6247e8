//! The exact bytes of every action in every wire format. Ids, clock and
//! addresses are fixed here, so any change to the envelope shows up as a
//! snapshot diff (`cargo insta review`).

use drydock_spec::notification::{Action, ActorRecord, Event, Format, RequestRecord, SourceRecord, Target};

const DIGEST: &str = "sha256:1f5fe6d3c5e3d0d3c1dba05b5e2b7e7d0ac9a3e5a7e4b4e5a1e4f8a2b7c9d0e1";

fn event(action: Action, target: Target) -> Event {
    Event {
        id: "6b9a0f2e-5c1d-4e8a-9f3b-2d7c8e1a0b4f".into(),
        timestamp: "2027-01-15T08:30:00.123456789Z".into(),
        action,
        target,
        request: RequestRecord {
            id: "0d1c2b3a-4f5e-4a6b-8c7d-9e0f1a2b3c4d".into(),
            addr: "10.0.0.7:51234".into(),
            host: "registry.example:5000".into(),
            method: "PUT".into(),
            useragent: "skopeo/1.9.3".into(),
        },
        actor: ActorRecord::default(),
        source: SourceRecord {
            addr: "registry-1:5000".into(),
            instance_id: "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b".into(),
        },
    }
}

fn blob(repo: &str) -> Target {
    Target {
        media_type: Some("application/octet-stream".into()),
        size: Some(1234),
        digest: Some(DIGEST.into()),
        length: Some(1234),
        repository: repo.into(),
        url: Some(format!("http://registry.example:5000/v2/{repo}/blobs/{DIGEST}")),
        ..Target::default()
    }
}

fn cases() -> Vec<(&'static str, Event)> {
    let manifest = Target {
        media_type: Some("application/vnd.oci.image.manifest.v1+json".into()),
        size: Some(394),
        digest: Some(DIGEST.into()),
        length: Some(394),
        repository: "team/app".into(),
        url: Some(format!("http://registry.example:5000/v2/team/app/manifests/{DIGEST}")),
        tag: Some("v1".into()),
        ..Target::default()
    };
    vec![
        ("push_manifest", event(Action::Push, manifest.clone())),
        ("pull_manifest", event(Action::Pull, manifest)),
        ("push_blob", event(Action::Push, blob("team/app"))),
        ("pull_blob", event(Action::Pull, blob("team/app"))),
        ("mount_blob", event(Action::Mount, Target { from_repository: Some("team/base".into()), ..blob("team/app") })),
        (
            "delete_manifest",
            event(
                Action::Delete,
                Target { digest: Some(DIGEST.into()), repository: "team/app".into(), ..Target::default() },
            ),
        ),
        (
            "delete_tag",
            event(
                Action::Delete,
                Target { tag: Some("v1".into()), repository: "team/app".into(), ..Target::default() },
            ),
        ),
    ]
}

#[test]
fn every_action_in_every_format() {
    for (name, e) in cases() {
        for (format, label) in [(Format::V1, "v1"), (Format::V2, "v2"), (Format::CloudEvents, "cloudevents")] {
            let body = String::from_utf8(format.render(&e)).unwrap();
            insta::assert_snapshot!(format!("{name}__{label}"), body);
        }
    }
}
