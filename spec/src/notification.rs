//! The notification envelope: what a registry POSTs to webhook endpoints.
//!
//! The event shape is distribution's (`{"events":[…]}` with `id`,
//! `timestamp`, `action`, `target`, `request`, `actor`, `source`), sent as
//! `…events.v1+json` (distribution 2.x) or `…events.v2+json` (distribution
//! 3's name for the same envelope). A third format wraps each event in a
//! CloudEvents 1.0 JSON envelope. Field order and omission rules follow
//! distribution, so receivers written for it parse drydock's events as they are.

use serde::{Deserialize, Serialize};

/// `application/vnd.docker.distribution.events.v1+json`
pub const EVENTS_V1: &str = "application/vnd.docker.distribution.events.v1+json";
/// `application/vnd.docker.distribution.events.v2+json`
pub const EVENTS_V2: &str = "application/vnd.docker.distribution.events.v2+json";
/// CloudEvents 1.0, structured mode, one event per request.
pub const CLOUDEVENTS_JSON: &str = "application/cloudevents+json";
/// The media type distribution reports for blobs in events.
pub const BLOB_MEDIA_TYPE: &str = "application/octet-stream";

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Push,
    Pull,
    Mount,
    Delete,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::Push, Action::Pull, Action::Mount, Action::Delete];

    pub const fn name(self) -> &'static str {
        match self {
            Action::Push => "push",
            Action::Pull => "pull",
            Action::Mount => "mount",
            Action::Delete => "delete",
        }
    }

    pub fn from_name(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == s)
    }
}

/// What the event is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Same as `size`; kept because distribution sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub repository: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_repository: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// The request that caused the event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub addr: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    pub method: String,
    #[serde(default)]
    pub useragent: String,
}

/// Who initiated it (the authenticated user, when there is one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Which registry instance generated it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub addr: String,
    #[serde(rename = "instanceID", default, skip_serializing_if = "String::is_empty")]
    pub instance_id: String,
}

/// One registry event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unique and stable across redeliveries, so receivers can deduplicate.
    pub id: String,
    /// RFC 3339 with nanoseconds, UTC.
    pub timestamp: String,
    pub action: Action,
    pub target: Target,
    pub request: RequestRecord,
    pub actor: ActorRecord,
    pub source: SourceRecord,
}

/// `{"events":[…]}`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub events: Vec<Event>,
}

/// How events are put on the wire for one endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// distribution's envelope, `…events.v1+json`.
    V1,
    /// The same envelope as `…events.v2+json`.
    V2,
    /// Each event as a CloudEvents 1.0 structured-mode JSON document.
    CloudEvents,
}

impl Format {
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::V1 => EVENTS_V1,
            Format::V2 => EVENTS_V2,
            Format::CloudEvents => CLOUDEVENTS_JSON,
        }
    }

    pub fn from_name(s: &str) -> Option<Format> {
        match s {
            "v1" => Some(Format::V1),
            "v2" => Some(Format::V2),
            "cloudevents" => Some(Format::CloudEvents),
            _ => None,
        }
    }

    /// The request body for one event in this format. distribution indents
    /// its envelope with three spaces; so does drydock, byte for byte.
    pub fn render(self, event: &Event) -> Vec<u8> {
        match self {
            Format::V1 | Format::V2 => indented(&Envelope { events: vec![event.clone()] }),
            Format::CloudEvents => indented(&cloud_event(event)),
        }
    }
}

fn indented(value: &impl Serialize) -> Vec<u8> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"   ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    value.serialize(&mut ser).expect("events always serialize");
    out
}

/// A CloudEvents 1.0 document (structured mode) carrying one event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudEvent {
    pub specversion: String,
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub subject: String,
    pub time: String,
    pub datacontenttype: String,
    pub data: Event,
}

/// The CloudEvents document for an event: `type` is
/// `drydock.registry.<action>`, `source` names the instance, `subject` the
/// repository (with `:tag` or `@digest`), and `data` is the event itself.
pub fn cloud_event(event: &Event) -> CloudEvent {
    let t = &event.target;
    let subject = match (&t.tag, &t.digest) {
        (Some(tag), _) => format!("{}:{tag}", t.repository),
        (None, Some(d)) => format!("{}@{d}", t.repository),
        (None, None) => t.repository.clone(),
    };
    CloudEvent {
        specversion: "1.0".into(),
        id: event.id.clone(),
        source: format!("drydock://{}/{}", event.source.addr, event.source.instance_id),
        kind: format!("drydock.registry.{}", event.action.name()),
        subject,
        time: event.timestamp.clone(),
        datacontenttype: "application/json".into(),
        data: event.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event {
            id: "e1".into(),
            timestamp: "2026-01-01T00:00:00.000000001Z".into(),
            action: Action::Delete,
            target: Target { repository: "a/b".into(), tag: Some("v1".into()), ..Target::default() },
            request: RequestRecord { id: "r".into(), method: "DELETE".into(), ..RequestRecord::default() },
            actor: ActorRecord::default(),
            source: SourceRecord { addr: "host:5000".into(), instance_id: "i".into() },
        }
    }

    #[test]
    fn omits_what_distribution_omits() {
        let v: serde_json::Value = serde_json::from_slice(&Format::V1.render(&event())).unwrap();
        assert_eq!(v["events"][0]["target"], serde_json::json!({"repository": "a/b", "tag": "v1"}));
        assert_eq!(v["events"][0]["actor"], serde_json::json!({}));
        assert_eq!(v["events"][0]["request"], serde_json::json!({"id": "r", "method": "DELETE", "useragent": ""}));
    }

    #[test]
    fn round_trips_and_cloudevents_subject() {
        let e = event();
        let back: Envelope = serde_json::from_slice(&Format::V2.render(&e)).unwrap();
        assert_eq!(back.events, std::slice::from_ref(&e));
        let ce = cloud_event(&e);
        assert_eq!(ce.subject, "a/b:v1");
        assert_eq!(ce.kind, "drydock.registry.delete");
        let back: CloudEvent = serde_json::from_slice(&Format::CloudEvents.render(&e)).unwrap();
        assert_eq!(back.data, e);
    }
}
