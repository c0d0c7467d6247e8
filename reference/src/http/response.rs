//! Building responses: bodies, the protocol's error shape, common headers.

use bytes::Bytes;
use drydock_spec::{ErrorBody, ErrorCode};
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};

pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

pub fn empty() -> Body {
    full(Bytes::new())
}

/// A response with the given status and an empty body.
pub fn status(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(empty());
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

/// A JSON body with its length.
pub fn json(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    let bytes = serde_json::to_vec(value).expect("response bodies serialize");
    let mut r = Response::new(full(bytes.clone()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    r
}

/// The protocol's error response: the code's status and `{"errors":[…]}`.
pub fn error(code: ErrorCode, message: impl Into<String>) -> Response<Body> {
    error_with_status(code, code.status(), message)
}

pub fn error_with_status(code: ErrorCode, status: u16, message: impl Into<String>) -> Response<Body> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(status, &ErrorBody::single(code, message, serde_json::Value::Null))
}

pub fn set(r: &mut Response<Body>, name: &'static str, value: impl AsRef<str>) {
    if let Ok(v) = HeaderValue::from_str(value.as_ref()) {
        r.headers_mut().insert(name, v);
    }
}

/// Adds a header, keeping any value already there (for headers that repeat).
pub fn append(r: &mut Response<Body>, name: &'static str, value: impl AsRef<str>) {
    if let Ok(v) = HeaderValue::from_str(value.as_ref()) {
        r.headers_mut().append(name, v);
    }
}
