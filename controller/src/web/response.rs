//! A finished web action activation turned into the HTTP answer, and the checks around it: the
//! request's `Accept` headers, the default CORS headers and the `require-whisk-auth` annotation.
//!
//! [`render`] first picks the value to render from the activation:
//!
//! | activation status | value |
//! | --- | --- |
//! | success | the result |
//! | application error | the result's `error` field; without one, 404 `Response does not include requested property.` |
//! | developer or whisk error | none: 400 `There was an error processing your request.` |
//!
//! then renders it by extension:
//!
//! | extension | value | answer |
//! | --- | --- | --- |
//! | `.json` | object or array | 200 `application/json`, the value pretty-printed |
//! | `.json` | other | 400 `Response is not valid 'application/json'.` |
//! | `.html` | string (`body`, else `html` of an object) | 200 `text/html; charset=UTF-8` |
//! | `.html` | other | 400 `Response is not valid 'text/html'.` |
//! | `.svg` | string (`body`, else `svg` of an object) | 200 `image/svg+xml` |
//! | `.svg` | other | 400 `Response is not valid 'image/svg+xml'.` |
//! | `.text` | `body`, else `text` of an object; the value itself otherwise | 200 `text/plain; charset=UTF-8`: strings as they are, objects and arrays pretty-printed, other values as JSON text |
//! | `.text` | an object with neither field | 404 `Response does not include requested property.` |
//! | `.http` | `{statusCode?, headers?, body?}` | see below |
//! | `.http` | not an object, `headers` not an object of scalars and arrays of them, `statusCode` not a whole number (or numeric string) in 100..=599 | 400 `Response is not valid 'message/http'.` |
//!
//! An `.http` answer has the status `statusCode` (default 200, or 204 without a body) and the
//! headers of `headers` (one header per element of an array value; numbers and booleans as their
//! text; `Content-Type` and the headers the HTTP layer owns are not copied). Its body:
//!
//! | `body` | `Content-Type` (from `headers`) | entity |
//! | --- | --- | --- |
//! | absent, `null`, `""` | ignored | none |
//! | string | absent | the string, `text/html; charset=UTF-8` |
//! | string | binary type (`image/png`, `application/octet-stream`, any unregistered type without a charset) | the string base64-decoded; not base64: 400 `Response type in header did not match generated content type.` |
//! | string | JSON type (`application/json`, `*/*+json`) and the string looks like base64 | the string base64-decoded (legacy) |
//! | string | other text type | the string, `; charset=UTF-8` added to open-charset types |
//! | string | does not parse | 400 `Response did not specify a known content-type.` |
//! | other JSON | absent or `application/json` | the value pretty-printed, `application/json` |
//! | other JSON | `*/*+json` | the value pretty-printed, under that type |
//! | other JSON | other or unparsable | 400 `Response type in header did not match generated content type.` |
//!
//! A result that is not a JSON object (an array, which newer runtimes may return) is rendered like
//! any other value; upstream's handler fails on it with a 500.
//!
//! Error answers of web actions are the usual `{error, code}` envelope, pretty-printed
//! ([`error_response`]). The entity of every answer but an empty `.http` one is subject to the
//! request's `Accept` and `Accept-Charset` headers ([`negotiate`]): 406
//! `Resource representation is only available with these types:\n<type>`.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::web::Bytes;
use base64::Engine;
use owl_entity::activation::StatusCode as ActivationStatus;
use serde_json::Value;

use super::path::Extension;
use crate::error::ApiError;
use crate::messages;

// The CORS headers every web answer carries unless the action handles OPTIONS itself
// (`web-custom-options: true`); see [`cors_headers`].
/// `Access-Control-Allow-Origin`.
pub const ALLOW_ORIGIN: &str = "*";
/// `Access-Control-Allow-Methods`: the web route's methods.
pub const ALLOW_METHODS: &str = "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH";
/// `Access-Control-Allow-Headers` when the request has no `Access-Control-Request-Headers`.
pub const ALLOW_HEADERS: &str =
    "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent";
/// The request header a string or number `require-whisk-auth` annotation must be given in.
pub const REQUIRE_WHISK_AUTH_HEADER: &str = "x-require-whisk-auth";

/// A web action's answer, whole.
#[derive(Debug, Clone, PartialEq)]
pub struct WebResponse {
    pub status: StatusCode,
    /// In order; a name may repeat (`Set-Cookie`). The content type is one of them.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// What content negotiation weighs against the request's `Accept` headers ([`negotiate`]);
    /// `None` for an answer sent as it is.
    pub offer: Option<Offer>,
}

impl WebResponse {
    /// The answer to an OPTIONS request the platform handles: 200 without entity. (Its entity is
    /// still negotiated, as "no content type": only `*/*` or no `Accept` takes it.)
    pub fn options() -> WebResponse {
        WebResponse {
            status: StatusCode::OK,
            headers: Vec::new(),
            body: Bytes::new(),
            offer: Some(Offer {
                media: MediaType::registered("none", "none", Kind::Binary),
                charset: None,
                format: "none/none".into(),
            }),
        }
    }

    /// The first value of a header, by name in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn entity(
        status: StatusCode,
        content_type: &str,
        body: impl Into<Bytes>,
        offer: Offer,
    ) -> Self {
        WebResponse {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            offer: Some(offer),
        }
    }
}

/// The representation of an answer as content negotiation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    media: MediaType,
    /// The charset weighed against `Accept-Charset`; `None` when only the media type counts.
    charset: Option<String>,
    /// How a 406 names it.
    format: String,
}

impl Offer {
    /// A content type offered as it is (its charset, if it has one, counts).
    fn content_type(media: MediaType) -> Offer {
        let charset = (media.kind != Kind::Binary).then(|| "UTF-8".to_string());
        let format = match media.kind {
            Kind::Open => format!("{}; charset=UTF-8", media.value()),
            _ => media.value(),
        };
        Offer {
            media,
            charset,
            format,
        }
    }

    fn json() -> Offer {
        Offer::content_type(MediaType::application_json())
    }
}

// ------------------------------------------------------------------------------------------------
// Rendering
// ------------------------------------------------------------------------------------------------

/// Turns an activation's outcome into the web answer (see the module's tables). Errors are the
/// answers upstream terminates with; give them to [`error_response`] to send them as it does.
pub fn render(
    status: ActivationStatus,
    result: &Value,
    ext: Extension,
) -> Result<WebResponse, ApiError> {
    let value = match status {
        ActivationStatus::Success => result,
        ActivationStatus::ApplicationError => result.get("error").ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, messages::WEB_PROPERTY_NOT_FOUND)
        })?,
        ActivationStatus::DeveloperError | ActivationStatus::WhiskError => {
            return Err(ApiError::bad_request(
                messages::WEB_ERROR_PROCESSING_REQUEST,
            ));
        }
    };
    match ext {
        Extension::Http => render_http(value),
        Extension::Json => render_json(value),
        Extension::Html => render_string(value, "html", ext),
        Extension::Svg => render_string(value, "svg", ext),
        Extension::Text => render_text(value),
    }
}

fn invalid_media(ext: Extension) -> ApiError {
    ApiError::bad_request(messages::web_invalid_media(ext.media_type()))
}

fn render_json(value: &Value) -> Result<WebResponse, ApiError> {
    match value {
        Value::Object(_) | Value::Array(_) => Ok(WebResponse::entity(
            StatusCode::OK,
            "application/json",
            pretty(value),
            Offer::json(),
        )),
        _ => Err(invalid_media(Extension::Json)),
    }
}

/// `.html` and `.svg`: a string, from `body` or the extension's own field of an object.
fn render_string(value: &Value, field: &str, ext: Extension) -> Result<WebResponse, ApiError> {
    let picked = match value {
        Value::Object(o) => o.get("body").or_else(|| o.get(field)),
        other => Some(other),
    };
    let Some(Value::String(s)) = picked else {
        return Err(invalid_media(ext));
    };
    let body = Bytes::from(s.clone().into_bytes());
    Ok(match ext {
        Extension::Svg => WebResponse::entity(
            StatusCode::OK,
            "image/svg+xml",
            body,
            Offer::content_type(MediaType::registered("image", "svg+xml", Kind::Binary)),
        ),
        _ => WebResponse::entity(
            StatusCode::OK,
            "text/html; charset=UTF-8",
            body,
            Offer::content_type(MediaType::registered("text", "html", Kind::Open)),
        ),
    })
}

fn render_text(value: &Value) -> Result<WebResponse, ApiError> {
    let picked = match value {
        Value::Object(o) => o.get("body").or_else(|| o.get("text")),
        other => Some(other),
    };
    let text = match picked {
        None => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                messages::WEB_PROPERTY_NOT_FOUND,
            ));
        }
        Some(Value::String(s)) => s.clone(),
        Some(v @ (Value::Object(_) | Value::Array(_))) => pretty(v),
        Some(v) => v.to_string(),
    };
    // A string is offered as `text/plain` with whatever charset the client prefers; only the media
    // type is negotiated.
    let media = MediaType::registered("text", "plain", Kind::Open);
    Ok(WebResponse::entity(
        StatusCode::OK,
        "text/plain; charset=UTF-8",
        text,
        Offer {
            media,
            charset: None,
            format: "text/plain".into(),
        },
    ))
}

/// The headers of an `.http` result the answer never takes from it: the entity's own, and those
/// the HTTP layer writes.
const OWNED_HEADERS: [&str; 6] = [
    "content-type",
    "content-length",
    "transfer-encoding",
    "date",
    "server",
    "connection",
];

fn render_http(value: &Value) -> Result<WebResponse, ApiError> {
    let invalid = || invalid_media(Extension::Http);
    let Value::Object(fields) = value else {
        return Err(invalid());
    };
    let headers = match fields.get("headers") {
        None => Vec::new(),
        Some(Value::Object(hs)) => {
            let mut out = Vec::new();
            for (k, v) in hs {
                if !header_values(k, v, &mut out) {
                    return Err(invalid());
                }
            }
            out
        }
        Some(_) => return Err(invalid()),
    };
    let code = match fields.get("statusCode") {
        None => None,
        Some(Value::Number(n)) => Some(whole_number(n).ok_or_else(invalid)?),
        Some(Value::String(s)) => Some(s.parse::<i32>().map_err(|_| invalid())?),
        Some(_) => return Err(invalid()),
    };
    let code = code
        .map(|c| http_status(c).ok_or_else(invalid))
        .transpose()?;
    // The first `Content-Type` of the result chooses the entity's type; the header itself is not
    // copied (nor are those the HTTP layer owns, nor any that cannot be sent).
    let content_type = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone());
    let headers: Vec<(String, String)> = headers
        .into_iter()
        .filter(|(k, v)| {
            !OWNED_HEADERS.iter().any(|o| k.eq_ignore_ascii_case(o))
                && HeaderName::from_bytes(k.as_bytes()).is_ok()
                && HeaderValue::from_str(v).is_ok()
        })
        .collect();
    let mut answer = match fields.get("body") {
        Some(Value::String(s)) if !s.is_empty() => {
            string_entity(code.unwrap_or(StatusCode::OK), content_type.as_deref(), s)?
        }
        None | Some(Value::Null) | Some(Value::String(_)) => WebResponse {
            status: code.unwrap_or(StatusCode::NO_CONTENT),
            headers: Vec::new(),
            body: Bytes::new(),
            offer: None,
        },
        Some(js) => json_entity(code.unwrap_or(StatusCode::OK), content_type.as_deref(), js)?,
    };
    answer.headers.extend(headers);
    Ok(answer)
}

/// The values of one result header: scalars as their text, arrays (nested ones too) as one header
/// per element. `false` for a value that cannot be a header (null, an object).
fn header_values(name: &str, v: &Value, out: &mut Vec<(String, String)>) -> bool {
    match v {
        Value::String(s) => out.push((name.to_string(), s.clone())),
        Value::Bool(b) => out.push((name.to_string(), b.to_string())),
        Value::Number(n) => out.push((name.to_string(), n.to_string())),
        Value::Array(items) => return items.iter().all(|i| header_values(name, i, out)),
        Value::Null | Value::Object(_) => return false,
    }
    true
}

/// A JSON number that is a whole 32-bit integer (`200`, `200.0`, `2e2`).
fn whole_number(n: &serde_json::Number) -> Option<i32> {
    if let Some(i) = n.as_i64() {
        return i32::try_from(i).ok();
    }
    if let Some(u) = n.as_u64() {
        return i32::try_from(u).ok();
    }
    let f = n.as_f64()?;
    (f.is_finite() && f.fract() == 0.0 && f >= f64::from(i32::MIN) && f <= f64::from(i32::MAX))
        .then_some(f as i32)
}

/// A status an `.http` result may set: any code from 100 to 599, known or not.
fn http_status(code: i32) -> Option<StatusCode> {
    let code = u16::try_from(code)
        .ok()
        .filter(|c| (100..=599).contains(c))?;
    StatusCode::from_u16(code).ok()
}

fn string_entity(
    status: StatusCode,
    content_type: Option<&str>,
    s: &str,
) -> Result<WebResponse, ApiError> {
    let media = match content_type {
        None => MediaType::registered("text", "html", Kind::Open),
        Some(raw) => {
            ContentType::parse(raw)
                .ok_or_else(|| ApiError::bad_request(messages::WEB_UNKNOWN_CONTENT_TYPE))?
                .media
        }
    };
    let mismatch = || ApiError::bad_request(messages::WEB_CONTENT_TYPE_MISMATCH);
    let body = if media.kind == Kind::Binary
        || (media.is_json_family() && owl_entity::exec::is_binary_code(s))
    {
        Bytes::from(decode_base64(s).ok_or_else(mismatch)?)
    } else {
        Bytes::from(s.to_string().into_bytes())
    };
    let offer = Offer::content_type(media);
    let content_type = offer.format.clone();
    Ok(WebResponse::entity(status, &content_type, body, offer))
}

fn json_entity(
    status: StatusCode,
    content_type: Option<&str>,
    js: &Value,
) -> Result<WebResponse, ApiError> {
    let mismatch = || ApiError::bad_request(messages::WEB_CONTENT_TYPE_MISMATCH);
    let media = match content_type {
        None => MediaType::application_json(),
        Some(raw) => ContentType::parse(raw).ok_or_else(mismatch)?.media,
    };
    if media.is("application", "json") {
        return Ok(WebResponse::entity(
            status,
            "application/json",
            pretty(js),
            Offer::json(),
        ));
    }
    if !media.is_json_family() {
        return Err(mismatch());
    }
    // Any other JSON type is sent as its bare type, UTF-8.
    let media = MediaType::registered(&media.main, &media.sub, Kind::FixedUtf8);
    let offer = Offer::content_type(media);
    let content_type = offer.format.clone();
    Ok(WebResponse::entity(
        status,
        &content_type,
        pretty(js),
        offer,
    ))
}

/// Base64 as upstream's decoder reads it: the standard alphabet, padding optional but correct when
/// present, no whitespace.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    // Padding, when present, must complete the last group of four.
    if s.ends_with('=') && !s.len().is_multiple_of(4) {
        return None;
    }
    LENIENT.decode(s).ok()
}

/// An error as a web answer: the `{error, code}` envelope, pretty-printed as upstream's web action
/// handler prints it, `code` being the transaction id.
pub fn error_response(error: &ApiError, tid: &str) -> WebResponse {
    let mut envelope = serde_json::Map::new();
    envelope.insert(
        "error".into(),
        Value::String(error.message.trim().to_string()),
    );
    envelope.insert("code".into(), Value::String(tid.to_string()));
    WebResponse::entity(
        error.status,
        "application/json",
        pretty(&Value::Object(envelope)),
        Offer::json(),
    )
}

/// JSON pretty-printed as upstream's printer does it: objects one member a line, indented by two,
/// arrays on one line (`[1, 2]`), `{` `}` on lines of their own even when empty.
pub fn pretty(v: &Value) -> String {
    let mut out = String::new();
    pretty_into(v, &mut out, 0);
    out
}

fn pretty_into(v: &Value, out: &mut String, indent: usize) {
    match v {
        Value::Object(members) => {
            out.push_str("{\n");
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                out.extend(std::iter::repeat_n(' ', indent + 2));
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(": ");
                pretty_into(v, out, indent + 2);
            }
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', indent));
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                pretty_into(v, out, indent);
            }
            out.push(']');
        }
        leaf => out.push_str(&leaf.to_string()),
    }
}

// ------------------------------------------------------------------------------------------------
// CORS and require-whisk-auth
// ------------------------------------------------------------------------------------------------

/// The CORS headers of every web answer (unless the action has `web-custom-options: true`); the
/// allowed headers echo the request's `Access-Control-Request-Headers` when it has one.
pub fn cors_headers(request_headers: &[(String, String)]) -> Vec<(String, String)> {
    let allow_headers = request_headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("access-control-request-headers"))
        .map(|(_, v)| header_list(v))
        .unwrap_or_else(|| ALLOW_HEADERS.to_string());
    vec![
        ("Access-Control-Allow-Origin".into(), ALLOW_ORIGIN.into()),
        ("Access-Control-Allow-Methods".into(), ALLOW_METHODS.into()),
        ("Access-Control-Allow-Headers".into(), allow_headers),
    ]
}

/// A list of header names as upstream re-renders it (`a,b` as `a, b`); left as sent when it is not
/// a list of tokens.
fn header_list(v: &str) -> String {
    let v = v.trim();
    if v.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = v.split(',').map(str::trim).collect();
    if names.iter().all(|n| is_token(n)) {
        names.join(", ")
    } else {
        v.to_string()
    }
}

/// Checks the `require-whisk-auth` annotation (`None` when the action has none; a present `null`
/// is `Some(&Value::Null)`) against the request: `true` admits callers with valid credentials, a
/// string or a number admits requests whose `X-Require-Whisk-Auth` header (first one; `header_value`)
/// equals it (numbers by their decimal text), `false` admits all, any other value none. A refusal
/// is 401 with the bare 401 sentence.
pub fn require_auth(
    annotation: Option<&Value>,
    header_value: Option<&str>,
    caller_authenticated: bool,
) -> Result<(), ApiError> {
    let admitted = match annotation {
        None | Some(Value::Bool(false)) => true,
        Some(Value::Bool(true)) => caller_authenticated,
        Some(Value::String(secret)) => header_value == Some(secret.as_str()),
        Some(Value::Number(n)) => header_value == Some(n.to_string().as_str()),
        Some(Value::Null | Value::Array(_) | Value::Object(_)) => false,
    };
    if admitted {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            messages::WEB_UNAUTHORIZED,
        ))
    }
}

// ------------------------------------------------------------------------------------------------
// Media types and content negotiation
// ------------------------------------------------------------------------------------------------

/// How a media type carries text, which decides what is base64 and what is a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bytes (images, archives, `multipart/*`, and any type upstream does not know unless a charset
    /// is given).
    Binary,
    /// Text always in UTF-8 (`application/json`, forms, ...): no charset parameter is written.
    FixedUtf8,
    /// Text in a charset of the sender's choosing (`text/*`, XML, ...).
    Open,
}

/// Types upstream's HTTP model knows that are text, in UTF-8 always.
const FIXED_UTF8: &[&str] = &[
    "application/json",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/problem+json",
    "application/vnd.api+json",
    "application/x-www-form-urlencoded",
    "text/event-stream",
];

/// Types upstream's HTTP model knows that are text in any charset.
const OPEN_CHARSET: &[&str] = &[
    "application/atom+xml",
    "application/base64",
    "application/javascript",
    "application/rss+xml",
    "application/soap+xml",
    "application/vnd.google-earth.kml+xml",
    "application/x-latex",
    "application/x-vrml",
    "application/xhtml+xml",
    "application/xml-dtd",
    "application/xml",
    "application/problem+xml",
    "text/asp",
    "text/cache-manifest",
    "text/calendar",
    "text/css",
    "text/csv",
    "text/html",
    "text/markdown",
    "text/mcf",
    "text/plain",
    "text/richtext",
    "text/tab-separated-values",
    "text/uri-list",
    "text/vnd.wap.wml",
    "text/vnd.wap.wmlscript",
    "text/x-asm",
    "text/x-c",
    "text/x-component",
    "text/x-h",
    "text/x-java-source",
    "text/x-pascal",
    "text/x-script",
    "text/x-scriptcsh",
    "text/x-scriptelisp",
    "text/x-scriptksh",
    "text/x-scriptlisp",
    "text/x-scriptperl",
    "text/x-scriptperl-module",
    "text/x-scriptphyton",
    "text/x-scriptrexx",
    "text/x-scriptscheme",
    "text/x-scriptsh",
    "text/x-scripttcl",
    "text/x-scripttcsh",
    "text/x-scriptzsh",
    "text/x-server-parsed-html",
    "text/x-setext",
    "text/x-sgml",
    "text/x-speech",
    "text/x-uuencode",
    "text/x-vcalendar",
    "text/x-vcard",
    "text/xml",
];

/// Binary types upstream's HTTP model knows (they stay binary even with a charset parameter).
const KNOWN_BINARY: &[&str] = &[
    "application/cbor",
    "application/gnutar",
    "application/java-archive",
    "application/grpc+proto",
    "application/lha",
    "application/lzx",
    "application/msword",
    "application/octet-stream",
    "application/pdf",
    "application/postscript",
    "application/vnd.google-earth.kmz",
    "application/vnd.ms-excel",
    "application/vnd.ms-excel.addin.macroenabled.12",
    "application/vnd.ms-excel.sheet.binary.macroenabled.12",
    "application/vnd.ms-excel.sheet.macroenabled.12",
    "application/vnd.ms-excel.template.macroenabled.12",
    "application/vnd.ms-fontobject",
    "application/vnd.ms-powerpoint",
    "application/vnd.ms-powerpoint.addin.macroenabled.12",
    "application/vnd.ms-powerpoint.presentation.macroenabled.12",
    "application/vnd.ms-powerpoint.slideshow.macroenabled.12",
    "application/vnd.ms-word.document.macroenabled.12",
    "application/vnd.ms-word.template.macroenabled.12",
    "application/vnd.oasis.opendocument.chart",
    "application/vnd.oasis.opendocument.database",
    "application/vnd.oasis.opendocument.formula",
    "application/vnd.oasis.opendocument.graphics",
    "application/vnd.oasis.opendocument.image",
    "application/vnd.oasis.opendocument.presentation",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.text-master",
    "application/vnd.oasis.opendocument.text-web",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.openxmlformats-officedocument.presentationml.slide",
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow",
    "application/vnd.openxmlformats-officedocument.presentationml.template",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template",
    "application/x-7z-compressed",
    "application/x-ace-compressed",
    "application/x-apple-diskimage",
    "application/x-arc-compressed",
    "application/x-bzip",
    "application/x-bzip2",
    "application/x-chrome-extension",
    "application/x-compress",
    "application/x-compressed",
    "application/x-debian-package",
    "application/x-dvi",
    "application/x-font-truetype",
    "application/x-font-opentype",
    "application/x-gtar",
    "application/x-gzip",
    "application/x-rar-compressed",
    "application/x-redhat-package-manager",
    "application/x-shockwave-flash",
    "application/x-tar",
    "application/x-tex",
    "application/x-texinfo",
    "application/x-x509-ca-cert",
    "application/x-xpinstall",
    "application/zip",
    "audio/aiff",
    "audio/basic",
    "audio/midi",
    "audio/mod",
    "audio/mpeg",
    "audio/ogg",
    "audio/voc",
    "audio/vorbis",
    "audio/voxware",
    "audio/wav",
    "audio/x-pn-realaudio",
    "audio/x-psid",
    "audio/xm",
    "audio/webm",
    "font/woff",
    "font/woff2",
    "image/gif",
    "image/jpeg",
    "image/pict",
    "image/png",
    "image/svg+xml",
    "image/tiff",
    "image/x-icon",
    "image/x-ms-bmp",
    "image/x-pcx",
    "image/x-pict",
    "image/x-quicktime",
    "image/x-rgb",
    "image/x-xbitmap",
    "image/x-xpixmap",
    "image/webp",
    "message/http",
    "message/delivery-status",
    "message/rfc822",
    "video/avs-video",
    "video/divx",
    "video/gl",
    "video/mp4",
    "video/mpeg",
    "video/ogg",
    "video/quicktime",
    "video/x-dv",
    "video/x-flv",
    "video/x-motion-jpeg",
    "video/x-ms-asf",
    "video/x-msvideo",
    "video/x-sgi-movie",
    "video/webm",
];

/// The kind of a type upstream knows by name, if it does.
fn known_kind(main: &str, sub: &str) -> Option<Kind> {
    if main == "multipart" {
        return Some(Kind::Binary);
    }
    let essence = format!("{main}/{sub}");
    let has = |list: &[&str]| list.contains(&essence.as_str());
    if has(FIXED_UTF8) {
        Some(Kind::FixedUtf8)
    } else if has(OPEN_CHARSET) {
        Some(Kind::Open)
    } else if has(KNOWN_BINARY) {
        Some(Kind::Binary)
    } else {
        None
    }
}

/// A media type: `main/sub` in lower case, its parameters other than `charset`, and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    main: String,
    sub: String,
    /// Sorted by name, as upstream keeps them.
    params: Vec<(String, String)>,
    kind: Kind,
}

impl MediaType {
    fn registered(main: &str, sub: &str, kind: Kind) -> MediaType {
        MediaType {
            main: main.to_string(),
            sub: sub.to_string(),
            params: Vec::new(),
            kind,
        }
    }

    fn application_json() -> MediaType {
        MediaType::registered("application", "json", Kind::FixedUtf8)
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn is_binary(&self) -> bool {
        self.kind == Kind::Binary
    }

    /// Exactly `main/sub`, without parameters.
    pub fn is(&self, main: &str, sub: &str) -> bool {
        self.main == main && self.sub == sub && self.params.is_empty()
    }

    /// `main/sub` and its parameters, as written in a header (`text/html; level=1`).
    pub fn value(&self) -> String {
        let mut v = format!("{}/{}", self.main, self.sub);
        for (k, p) in &self.params {
            v.push_str("; ");
            v.push_str(k);
            v.push('=');
            v.push_str(&quoted_if_needed(p));
        }
        v
    }

    /// Upstream's test for a JSON body: `application/json` itself, or a type whose written value ends
    /// in `+json` (`application/hal+json`, but not when parameters follow).
    pub fn is_json_family(&self) -> bool {
        self.is("application", "json") || self.value().ends_with("+json")
    }
}

/// A `Content-Type` value: a media type and, for an open-charset type, the charset given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    pub media: MediaType,
    pub charset: Option<String>,
}

impl ContentType {
    /// Parses a `Content-Type` value as upstream's HTTP model does: `type/subtype` tokens (lower-cased)
    /// and `; name=value` parameters (tokens or quoted strings), spaces allowed around `;` and `=`
    /// and at the end. `None` when it does not parse.
    pub fn parse(s: &str) -> Option<ContentType> {
        let mut p = Parser::new(s);
        let main = p.token()?.to_ascii_lowercase();
        p.ows();
        p.eat(b'/')?;
        let sub = p.token()?.to_ascii_lowercase();
        p.ows();
        let mut charset = None;
        // Sorted by name, a repeated name keeping its last value, as upstream keeps them.
        let mut params = std::collections::BTreeMap::new();
        while !p.done() {
            let (k, v) = p.parameter()?;
            if k.eq_ignore_ascii_case("charset") {
                charset = Some(canonical_charset(&v));
            } else {
                params.insert(k, v);
            }
        }
        let params: Vec<(String, String)> = params.into_iter().collect();
        let kind = known_kind(&main, &sub).unwrap_or(if charset.is_some() {
            Kind::Open
        } else {
            Kind::Binary
        });
        let charset = charset.filter(|_| kind == Kind::Open);
        Some(ContentType {
            media: MediaType {
                main,
                sub,
                params,
                kind,
            },
            charset,
        })
    }

    /// The content type as upstream writes it (`text/plain; charset=UTF-8`, `application/json`).
    pub fn render(&self) -> String {
        match &self.charset {
            Some(cs) => format!("{}; charset={cs}", self.media.value()),
            None => self.media.value(),
        }
    }

    /// `application/octet-stream`: what a request body without a (valid) content type is.
    pub fn octet_stream() -> ContentType {
        ContentType {
            media: MediaType::registered("application", "octet-stream", Kind::Binary),
            charset: None,
        }
    }
}

fn canonical_charset(name: &str) -> String {
    const KNOWN: [&str; 6] = [
        "US-ASCII",
        "ISO-8859-1",
        "UTF-8",
        "UTF-16",
        "UTF-16BE",
        "UTF-16LE",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_string(), |k| k.to_string())
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

fn quoted_if_needed(v: &str) -> String {
    if v.bytes().all(is_tchar) {
        v.to_string()
    } else {
        let escaped = v.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\"")
    }
}

/// A small cursor over a header value.
struct Parser<'a> {
    s: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        Parser { s, at: 0 }
    }

    fn done(&self) -> bool {
        self.at >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek() == Some(b)).then(|| self.at += 1)
    }

    fn ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// One token, then optional white space.
    fn token(&mut self) -> Option<String> {
        let start = self.at;
        while self.peek().is_some_and(is_tchar) {
            self.at += 1;
        }
        let t = (self.at > start).then(|| self.s[start..self.at].to_string());
        self.ows();
        t
    }

    /// A token or a quoted string, then optional white space.
    fn word(&mut self) -> Option<String> {
        if self.eat(b'"').is_none() {
            return self.token();
        }
        let mut out = String::new();
        let mut chars = self.s[self.at..].char_indices();
        loop {
            let (i, c) = chars.next()?;
            match c {
                '"' => {
                    self.at += i + 1;
                    break;
                }
                '\\' => out.push(chars.next()?.1),
                c if c == '\t' || (c >= ' ' && c != '\u{7f}') => out.push(c),
                _ => return None,
            }
        }
        self.ows();
        Some(out)
    }

    /// `; name=value`.
    fn parameter(&mut self) -> Option<(String, String)> {
        self.eat(b';')?;
        self.ows();
        let k = self.token()?;
        self.eat(b'=')?;
        self.ows();
        let v = self.word()?;
        Some((k, v))
    }
}

/// One media range of an `Accept` header.
#[derive(Debug)]
struct Range {
    /// `*` for any.
    main: String,
    /// `None` for `*`.
    sub: Option<String>,
    params: Vec<(String, String)>,
    q: f32,
}

impl Range {
    fn matches(&self, m: &MediaType) -> bool {
        let type_ok = match &self.sub {
            None => self.main == "*" || self.main == m.main,
            Some(sub) => self.main == m.main && *sub == m.sub,
        };
        // A charset in `Accept` is not the media type's business (upstream ignores it there).
        type_ok
            && self.params.iter().all(|(k, v)| {
                (self.sub.is_some() && k.eq_ignore_ascii_case("charset"))
                    || m.params.iter().any(|(mk, mv)| mk == k && mv == v)
            })
    }

    /// Most specific first: a full type, then `type/*`, then `*/*`; more parameters first; higher q
    /// first.
    fn order(&self) -> (u8, isize, i64) {
        let class = match (&self.sub, self.main.as_str()) {
            (Some(_), _) => 0,
            (None, "*") => 2,
            (None, _) => 1,
        };
        (
            class,
            -(self.params.len() as isize),
            -((self.q * 1000.0) as i64),
        )
    }
}

/// A q-value as upstream reads it (`0`, `0.5`, `.5`, `1`, `1.000`); `None` if malformed.
fn q_value(s: &str) -> Option<f32> {
    let ok = match s.as_bytes() {
        [b'0'] | [b'1'] => true,
        [b'0', b'.', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        [b'.', rest @ ..] => !rest.is_empty() && rest.iter().all(u8::is_ascii_digit),
        [b'1', b'.', rest @ ..] => rest.iter().all(|b| *b == b'0'),
        _ => false,
    };
    if !ok {
        return None;
    }
    if s == "0." || s == "1." {
        return s.trim_end_matches('.').parse().ok();
    }
    s.parse().ok()
}

/// The media ranges of one `Accept` value; `None` when it does not parse (upstream then ignores the
/// header).
fn accept_ranges(v: &str) -> Option<Vec<Range>> {
    let mut p = Parser::new(v.trim());
    let mut out = Vec::new();
    while !p.done() {
        if !out.is_empty() {
            p.eat(b',')?;
            p.ows();
        }
        let (main, sub) = if p.s[p.at..].starts_with("*/*") {
            p.at += 3;
            ("*".to_string(), None)
        } else if p.peek() == Some(b'*') && p.s.as_bytes().get(p.at + 1) != Some(&b'/') {
            p.at += 1;
            ("*".to_string(), None)
        } else {
            let main = p.token()?.to_ascii_lowercase();
            p.eat(b'/')?;
            let sub = if p.peek() == Some(b'*')
                && !p.s.as_bytes().get(p.at + 1).copied().is_some_and(is_tchar)
            {
                p.at += 1;
                None
            } else {
                let sub = p.token()?.to_ascii_lowercase();
                Some(sub)
            };
            (main, sub)
        };
        p.ows();
        let mut params = Vec::new();
        let mut q = 1.0f32;
        while p.peek() == Some(b';') {
            let (k, v) = p.parameter()?;
            if k == "q" {
                q = v.parse().unwrap_or(1.0);
                // Upstream's model refuses a q-value outside 0..=1, which voids the header.
                if !(0.0..=1.0).contains(&q) {
                    return None;
                }
            } else {
                params.push((k, v));
            }
        }
        out.push(Range {
            main,
            sub,
            params,
            q,
        });
    }
    Some(out)
}

/// The charset ranges of one `Accept-Charset` value (`None` for `*`), with their q-values.
fn accept_charset_ranges(v: &str) -> Option<Vec<(Option<String>, f32)>> {
    let mut p = Parser::new(v.trim());
    let mut out = Vec::new();
    while !p.done() {
        if !out.is_empty() {
            p.eat(b',')?;
            p.ows();
        }
        let name = p.token()?;
        let mut q = 1.0;
        if p.peek() == Some(b';') {
            p.eat(b';')?;
            p.ows();
            p.eat(b'q')?;
            p.ows();
            p.eat(b'=')?;
            p.ows();
            let start = p.at;
            while p.peek().is_some_and(|b| b.is_ascii_digit() || b == b'.') {
                p.at += 1;
            }
            q = q_value(&p.s[start..p.at])?;
            p.ows();
        }
        out.push(((name != "*").then(|| canonical_charset(&name)), q));
    }
    Some(out)
}

/// How much the client wants a media type: the q-value of the most specific matching `Accept`
/// range, 1 without any, 0 when none matches.
fn media_q(request_headers: &[(String, String)], m: &MediaType) -> f32 {
    let mut ranges: Vec<Range> = request_headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("accept"))
        .filter_map(|(_, v)| accept_ranges(v))
        .flatten()
        .collect();
    if ranges.is_empty() {
        return 1.0;
    }
    ranges.sort_by_key(Range::order);
    ranges.iter().find(|r| r.matches(m)).map_or(0.0, |r| r.q)
}

fn charset_q(request_headers: &[(String, String)], charset: &str) -> f32 {
    let mut ranges: Vec<(Option<String>, f32)> = request_headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("accept-charset"))
        .filter_map(|(_, v)| accept_charset_ranges(v))
        .flatten()
        .collect();
    if ranges.is_empty() {
        return 1.0;
    }
    // `*` last, the others by falling q.
    ranges.sort_by_key(|(cs, q)| match cs {
        None => 2000,
        Some(_) => 1000 - (q * 1000.0) as i64,
    });
    ranges
        .iter()
        .find(|(cs, _)| {
            cs.as_deref()
                .is_none_or(|c| c.eq_ignore_ascii_case(charset))
        })
        .map_or(0.0, |(_, q)| *q)
}

/// Refuses an answer whose entity the request's `Accept` / `Accept-Charset` headers do not take:
/// 406 naming the type on offer. Upstream refuses this way before sending, so the refusal carries
/// neither the activation id nor CORS headers.
pub fn negotiate(
    request_headers: &[(String, String)],
    response: &WebResponse,
) -> Result<(), ApiError> {
    let Some(offer) = &response.offer else {
        return Ok(());
    };
    let mut q = media_q(request_headers, &offer.media);
    if let Some(cs) = &offer.charset {
        q = q.min(charset_q(request_headers, cs));
    }
    if q > 0.0 {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            messages::web_not_acceptable(&offer.format),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAoAAAAGCAYAAAD68A/GAAAA/klEQVQYGWNgAAEHBxaG//+ZQMyyn581Pfas+cRQnf1LfFLjf+62smUgcUbt0FA2Zh7drf/ffMy9vLn3RurrW9e5hCU11i2azfD4zu1/DHz8TAy/foUxsXBrFzHzC7r8+M9S1vn1qxQT07dDjL9fdemrqKxlYGT6z8AIMo6hgeUfA0PUvy9fGFh5GWK3z7vNxSWt++jX99+8SoyiGQwsW38w8PJEM7x5v5SJ8f+/xv8MDAzffv9hevfkWjiXBGMpMx+j2awovjcMjFztDO8+7GF49LkbZDCDeXLTWnZO7qDfn1/+5jbw/8pjYWS4wZLztXnuEuYTk2M+MzIw/AcA36VewaD6fzsAAAAASUVORK5CYII=";

    fn ok(ext: Extension, result: Value) -> WebResponse {
        render(ActivationStatus::Success, &result, ext)
            .unwrap_or_else(|e| panic!("{ext:?} {result}: {e:?}"))
    }

    fn err(ext: Extension, result: Value) -> (u16, String) {
        let e = render(ActivationStatus::Success, &result, ext)
            .err()
            .unwrap_or_else(|| panic!("{ext:?} {result} rendered"));
        (e.status.as_u16(), e.message)
    }

    fn http(result: Value) -> WebResponse {
        ok(Extension::Http, result)
    }

    fn http_err(result: Value) -> (u16, String) {
        err(Extension::Http, result)
    }

    fn text(r: &WebResponse) -> &str {
        std::str::from_utf8(&r.body).unwrap()
    }

    fn not_http() -> (u16, String) {
        (400, "Response is not valid 'message/http'.".into())
    }

    fn mismatch() -> (u16, String) {
        (400, messages::WEB_CONTENT_TYPE_MISMATCH.into())
    }

    fn hdrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    // --- activation outcomes ----------------------------------------------------------------

    #[test]
    fn a_successful_activation_renders_its_result() {
        let r = ok(Extension::Json, json!({"foobar": "foobar"}));
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(text(&r), "{\n  \"foobar\": \"foobar\"\n}");
        assert_eq!(r.header("content-type"), Some("application/json"));
    }

    #[test]
    fn an_application_error_renders_its_error_field() {
        let result = json!({"error": {"statusCode": 409, "body": "conflict!"}});
        let r = render(ActivationStatus::ApplicationError, &result, Extension::Http).unwrap();
        assert_eq!((r.status.as_u16(), text(&r)), (409, "conflict!"));
        let r = render(
            ActivationStatus::ApplicationError,
            &json!({"error": "bad response type"}),
            Extension::Text,
        )
        .unwrap();
        assert_eq!(text(&r), "bad response type");
    }

    #[test]
    fn an_application_error_that_does_not_fit_the_extension_is_a_bad_request() {
        let e = render(
            ActivationStatus::ApplicationError,
            &json!({"error": "bad response type"}),
            Extension::Json,
        )
        .unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.message.as_str()),
            (400, "Response is not valid 'application/json'.")
        );
    }

    #[test]
    fn an_application_error_without_an_error_field_is_not_found() {
        for result in [json!({"other": 1}), json!([1]), json!("s"), Value::Null] {
            let e =
                render(ActivationStatus::ApplicationError, &result, Extension::Http).unwrap_err();
            assert_eq!(
                (e.status.as_u16(), e.message.as_str()),
                (404, messages::WEB_PROPERTY_NOT_FOUND),
                "{result}"
            );
        }
    }

    #[test]
    fn developer_and_whisk_errors_are_not_shown() {
        for status in [
            ActivationStatus::DeveloperError,
            ActivationStatus::WhiskError,
        ] {
            for ext in Extension::ALL {
                let e = render(status, &json!({"error": "bad response type"}), ext).unwrap_err();
                assert_eq!(
                    (e.status.as_u16(), e.message.as_str()),
                    (400, "There was an error processing your request.")
                );
            }
        }
    }

    // --- .json, .html, .svg, .text -----------------------------------------------------------

    #[test]
    fn json_takes_objects_and_arrays_whole() {
        assert_eq!(
            text(&ok(Extension::Json, json!([1, "a", {"b": []}]))),
            "[1, \"a\", {\n  \"b\": []\n}]"
        );
        assert_eq!(text(&ok(Extension::Json, json!({}))), "{\n\n}");
        for v in [json!("s"), json!(1), json!(true), Value::Null] {
            assert_eq!(
                err(Extension::Json, v),
                (400, "Response is not valid 'application/json'.".into())
            );
        }
    }

    #[test]
    fn html_takes_body_then_html_then_a_bare_string() {
        let r = ok(Extension::Html, json!({"html": "<html>hi</htlml>"}));
        assert_eq!(text(&r), "<html>hi</htlml>");
        assert_eq!(r.header("content-type"), Some("text/html; charset=UTF-8"));
        assert_eq!(
            text(&ok(Extension::Html, json!({"body": "b", "html": "h"}))),
            "b"
        );
        assert_eq!(text(&ok(Extension::Html, json!("bare"))), "bare");
        for v in [
            json!({"text": "t"}),
            json!({"body": 1}),
            json!([1]),
            json!({"body": null, "html": "h"}),
        ] {
            assert_eq!(
                err(Extension::Html, v),
                (400, "Response is not valid 'text/html'.".into())
            );
        }
    }

    #[test]
    fn svg_takes_body_then_svg_then_a_bare_string() {
        let svg = r#"<svg><circle cx="3" cy="3" r="3" fill="blue"/></svg>"#;
        let r = ok(Extension::Svg, json!({ "svg": svg }));
        assert_eq!(text(&r), svg);
        assert_eq!(r.header("content-type"), Some("image/svg+xml"));
        assert_eq!(
            err(Extension::Svg, json!({"html": "x"})),
            (400, "Response is not valid 'image/svg+xml'.".into())
        );
    }

    #[test]
    fn text_renders_any_json_value() {
        for (v, expected) in [
            (json!({"a": "A"}), "{\n  \"a\": \"A\"\n}"),
            (json!(["a"]), "[\"a\"]"),
            (json!("a"), "a"),
            (json!(true), "true"),
            (json!(1), "1"),
            (json!(1.5), "1.5"),
            (Value::Null, "null"),
        ] {
            let r = ok(Extension::Text, json!({ "body": v.clone() }));
            assert_eq!(text(&r), expected, "{v}");
            assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));
            // A value that is not an object is rendered itself.
            if !v.is_object() {
                assert_eq!(text(&ok(Extension::Text, v.clone())), expected, "{v}");
            }
        }
        assert_eq!(
            text(&ok(Extension::Text, json!({"text": "default text"}))),
            "default text"
        );
    }

    #[test]
    fn text_without_body_or_text_is_not_found() {
        assert_eq!(
            err(Extension::Text, json!({"html": "x"})),
            (404, "Response does not include requested property.".into())
        );
    }

    // --- .http -------------------------------------------------------------------------------

    #[test]
    fn an_http_result_sets_status_and_headers() {
        let r = http(json!({"headers": {"location": "http://openwhisk.org"}, "statusCode": 302}));
        assert_eq!(r.status, StatusCode::FOUND);
        assert_eq!(r.header("location"), Some("http://openwhisk.org"));
        assert!(r.body.is_empty());
        assert_eq!(r.offer, None);
    }

    #[test]
    fn an_empty_body_answers_204_by_default() {
        for result in [json!({}), json!({"body": ""}), json!({"body": null})] {
            let r = http(result.clone());
            assert_eq!(
                (r.status, r.headers.len(), r.body.len()),
                (StatusCode::NO_CONTENT, 0, 0),
                "{result}"
            );
        }
        for code in [200, 201, 204] {
            let r = http(json!({"statusCode": code}));
            assert_eq!((r.status.as_u16(), r.body.len()), (code, 0));
        }
    }

    #[test]
    fn an_empty_answer_drops_the_content_type_but_keeps_other_headers() {
        let r = http(
            json!({"headers": {"Set-Cookie": "a=b", "content-type": "application/json"},
                            "statusCode": 201}),
        );
        assert_eq!(r.status.as_u16(), 201);
        assert_eq!(r.headers, hdrs(&[("Set-Cookie", "a=b")]));
    }

    #[test]
    fn a_string_status_code_is_parsed() {
        assert_eq!(http(json!({"statusCode": "200"})).status, StatusCode::OK);
        assert_eq!(http(json!({"statusCode": "444"})).status.as_u16(), 444);
        assert_eq!(http(json!({"statusCode": "+201"})).status.as_u16(), 201);
        for bad in ["xyz", "", " 200", "200.0", "2e2", "99999999999"] {
            assert_eq!(
                http_err(json!({ "statusCode": bad })),
                not_http(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_non_standard_status_code_is_sent_as_is() {
        assert_eq!(http(json!({"statusCode": 444})).status.as_u16(), 444);
        assert_eq!(http(json!({"statusCode": 599})).status.as_u16(), 599);
        assert_eq!(http(json!({"statusCode": 100})).status.as_u16(), 100);
    }

    #[test]
    fn a_status_code_outside_100_to_599_or_not_whole_is_invalid() {
        for code in [
            json!(99999),
            json!(-1),
            json!(0),
            json!(99),
            json!(600),
            json!(200.5),
            json!(1e300),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(true),
            json!(null),
            json!([200]),
            json!({"code": 200}),
        ] {
            assert_eq!(
                http_err(json!({ "statusCode": code.clone() })),
                not_http(),
                "{code}"
            );
        }
        // A whole float is a whole number.
        assert_eq!(http(json!({"statusCode": 200.0})).status, StatusCode::OK);
    }

    #[test]
    fn a_result_that_is_not_an_object_is_not_an_http_response() {
        for v in [json!([1, 2]), json!("s"), json!(1), Value::Null] {
            assert_eq!(http_err(v), not_http());
        }
    }

    #[test]
    fn header_values_may_be_scalars_or_arrays_of_them() {
        let r = http(json!({"headers": {
            "Set-Cookie": ["a=b", "c=d; Path = /"],
            "x-num": 42, "x-float": 1.5, "x-bool": false, "x-nested": [["n1"], "n2"]
        }}));
        assert_eq!(
            r.headers,
            hdrs(&[
                ("Set-Cookie", "a=b"),
                ("Set-Cookie", "c=d; Path = /"),
                ("x-num", "42"),
                ("x-float", "1.5"),
                ("x-bool", "false"),
                ("x-nested", "n1"),
                ("x-nested", "n2"),
            ])
        );
    }

    #[test]
    fn other_header_values_are_invalid() {
        for h in [
            json!({"x-bad": {"nested": true}}),
            json!({"x-bad": null}),
            json!({"x-bad": ["ok", null]}),
            json!(["x-bad"]),
            json!("x-bad: 1"),
        ] {
            assert_eq!(
                http_err(json!({ "headers": h.clone(), "body": "x" })),
                not_http(),
                "{h}"
            );
        }
    }

    #[test]
    fn headers_the_http_layer_owns_or_cannot_send_are_dropped() {
        let r = http(json!({"headers": {
            "Content-Length": "5", "Transfer-Encoding": "chunked", "Date": "x", "Server": "x",
            "Connection": "close", "bad name": "v", "x-bad-value": "a\nb", "x-ok": "fine"
        }, "body": "hello"}));
        assert_eq!(
            r.headers,
            hdrs(&[
                ("Content-Type", "text/html; charset=UTF-8"),
                ("x-ok", "fine")
            ])
        );
    }

    #[test]
    fn a_string_body_without_content_type_is_html() {
        let r = http(json!({"statusCode": 200, "body": "hello world"}));
        assert_eq!((r.status, text(&r)), (StatusCode::OK, "hello world"));
        assert_eq!(r.header("content-type"), Some("text/html; charset=UTF-8"));
        let r = http(json!({"statusCode": 201, "body": "{\"field\":\"value\"}"}));
        assert_eq!(r.status.as_u16(), 201);
        assert_eq!(text(&r), "{\"field\":\"value\"}");
    }

    #[test]
    fn a_png_body_is_base64_decoded() {
        let r = http(json!({"headers": {"content-type": "image/png"}, "body": PNG}));
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-type"), Some("image/png"));
        assert_eq!(
            r.body.as_ref(),
            base64::engine::general_purpose::STANDARD
                .decode(PNG)
                .unwrap()
        );
        assert_eq!(
            r.headers.len(),
            1,
            "the action's Content-Type is not copied"
        );
    }

    #[test]
    fn any_binary_type_is_base64_decoded() {
        for ct in [
            "application/octet-stream",
            "application/x-unknown",
            "foo/bar",
            "image/png; charset=utf-8",
            "multipart/form-data; boundary=x",
        ] {
            let r = http(json!({"headers": {"Content-Type": ct}, "body": "AAEC"}));
            assert_eq!(r.body.as_ref(), [0u8, 1, 2], "{ct}");
        }
        // Unpadded base64 is read too.
        let r = http(json!({"headers": {"Content-Type": "image/png"}, "body": "QQ"}));
        assert_eq!(r.body.as_ref(), b"A");
    }

    #[test]
    fn a_binary_body_that_is_not_base64_is_a_mismatch() {
        for body in ["not base64!", "QUJD\n", " QUJD", "Q", "QQ=", "QUJD===="] {
            assert_eq!(
                http_err(json!({"headers": {"Content-Type": "image/png"}, "body": body})),
                mismatch(),
                "{body:?}"
            );
        }
    }

    #[test]
    fn a_text_type_is_sent_as_text_with_utf8() {
        let r = http(
            json!({"headers": {"Content-Type": "text/plain; charset=iso-8859-1"}, "body": "é"}),
        );
        assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));
        assert_eq!(text(&r), "é");
        let r = http(json!({"headers": {"content-type": "application/xml"}, "body": "<a/>"}));
        assert_eq!(
            r.header("content-type"),
            Some("application/xml; charset=UTF-8")
        );
        // An unknown type with a charset is text.
        let r =
            http(json!({"headers": {"content-type": "foo/bar; charset=utf-8"}, "body": "AAEC"}));
        assert_eq!(
            (r.header("content-type"), text(&r)),
            (Some("foo/bar; charset=UTF-8"), "AAEC")
        );
    }

    #[test]
    fn a_json_string_body_is_sent_as_it_is() {
        let r = http(
            json!({"headers": {"content-type": "application/json"}, "statusCode": 200,
                            "body": "{\"status\": \"success\"}"}),
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(text(&r), "{\"status\": \"success\"}");
        assert_eq!(r.headers.len(), 1);
        // Text that is not JSON goes out too, under the type the action named.
        let r =
            http(json!({"headers": {"content-type": "application/json"}, "body": "hello world"}));
        assert_eq!(
            (r.header("content-type"), text(&r)),
            (Some("application/json"), "hello world")
        );
    }

    #[test]
    fn a_json_body_that_looks_like_base64_is_decoded() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(br#"{"field":"value"}"#);
        let r = http(
            json!({"headers": {"content-type": "application/json-patch+json"},
                            "statusCode": 200, "body": encoded}),
        );
        assert_eq!(
            r.header("content-type"),
            Some("application/json-patch+json")
        );
        assert_eq!(text(&r), r#"{"field":"value"}"#);
        // Upstream's legacy rule takes four-letter words for base64 too.
        let r = http(json!({"headers": {"content-type": "application/json"}, "body": "true"}));
        assert_eq!(r.body.as_ref(), [0xb6, 0xbb, 0x9e]);
    }

    #[test]
    fn an_unparsable_content_type_for_a_string_is_unknown() {
        for ct in [
            "xyzbar",
            "text/",
            "/html",
            "text/html;",
            "text/html; a",
            " text/html",
            "text/html, text/plain",
            "tëxt/html",
        ] {
            assert_eq!(
                http_err(
                    json!({"headers": {"content-type": ct}, "statusCode": 200, "body": "hello world"})
                ),
                (400, messages::WEB_UNKNOWN_CONTENT_TYPE.into()),
                "{ct:?}"
            );
        }
    }

    #[test]
    fn a_json_value_body_is_sent_as_json() {
        for headers in [
            json!({"content-type": "application/json"}),
            json!({}),
            json!({"Content-Type": "application/json; charset=utf-8"}),
        ] {
            let r = http(json!({"headers": headers.clone(), "statusCode": 200,
                                "body": {"field": "value"}}));
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(
                r.header("content-type"),
                Some("application/json"),
                "{headers}"
            );
            assert_eq!(text(&r), "{\n  \"field\": \"value\"\n}");
        }
        let r = http(json!({"statusCode": 200, "body": 3}));
        assert_eq!(
            (r.header("content-type"), text(&r)),
            (Some("application/json"), "3")
        );
        let r = http(json!({"body": [1, true]}));
        assert_eq!((r.status, text(&r)), (StatusCode::OK, "[1, true]"));
    }

    #[test]
    fn a_json_value_body_takes_a_plus_json_type() {
        for ct in [
            "application/hal+json",
            "application/json-patch+json",
            "application/vnd.api+json",
        ] {
            let r = http(json!({"headers": {"content-type": ct}, "body": {"field": "value"}}));
            assert_eq!(r.header("content-type"), Some(ct));
            assert_eq!(
                serde_json::from_slice::<Value>(&r.body).unwrap(),
                json!({"field": "value"})
            );
        }
    }

    #[test]
    fn a_json_value_body_under_another_type_is_a_mismatch() {
        for ct in ["text/html", "image/png", "application/json; v=1", "xyzbar"] {
            assert_eq!(
                http_err(json!({"headers": {"content-type": ct}, "body": {"field": "value"}})),
                mismatch(),
                "{ct}"
            );
        }
    }

    #[test]
    fn extra_fields_of_an_http_result_are_ignored() {
        let r = http(json!({"body": "x", "other": {"deep": [1]}, "html": 3}));
        assert_eq!(text(&r), "x");
    }

    // --- errors, pretty printing -------------------------------------------------------------

    #[test]
    fn an_error_is_a_pretty_printed_envelope() {
        let e = ApiError::new(StatusCode::NOT_FOUND, messages::WEB_PROPERTY_NOT_FOUND);
        let r = error_response(&e, "tid1");
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(
            text(&r),
            "{\n  \"error\": \"Response does not include requested property.\",\n  \"code\": \"tid1\"\n}"
        );
        assert_eq!(text(&r).lines().count(), 4);
    }

    #[test]
    fn pretty_printing_escapes_like_json() {
        assert_eq!(
            pretty(&json!({"a\"b": "c\n\u{1}"})),
            "{\n  \"a\\\"b\": \"c\\n\\u0001\"\n}"
        );
        assert_eq!(
            pretty(&json!({"a": {"b": {"c": 1}}, "d": [{"e": 2}]})),
            "{\n  \"a\": {\n    \"b\": {\n      \"c\": 1\n    }\n  },\n  \"d\": [{\n    \"e\": 2\n  }]\n}"
        );
    }

    // --- content types -----------------------------------------------------------------------

    #[test]
    fn content_types_parse_and_render_as_upstream_writes_them() {
        for (raw, rendered, binary) in [
            ("application/json", "application/json", false),
            ("application/json; charset=utf-8", "application/json", false),
            ("Text/HTML", "text/html", false),
            (
                "text/plain;charset=utf-8",
                "text/plain; charset=UTF-8",
                false,
            ),
            (
                "text/plain; charset=\"latin-9\"",
                "text/plain; charset=latin-9",
                false,
            ),
            ("image/png", "image/png", true),
            ("image/png; charset=utf-8", "image/png", true),
            ("foo/bar", "foo/bar", true),
            (
                "foo/bar ; charset = utf-8 ",
                "foo/bar; charset=UTF-8",
                false,
            ),
            (
                "multipart/form-data; boundary=abc",
                "multipart/form-data; boundary=abc",
                true,
            ),
            (
                "text/html; z=1; a=\"x y\"",
                "text/html; a=\"x y\"; z=1",
                false,
            ),
            ("text/html; a=1; a=2", "text/html; a=2", false),
            (
                "application/x-www-form-urlencoded",
                "application/x-www-form-urlencoded",
                false,
            ),
        ] {
            let ct = ContentType::parse(raw).unwrap_or_else(|| panic!("{raw}"));
            assert_eq!(
                (ct.render().as_str(), ct.media.is_binary()),
                (rendered, binary),
                "{raw}"
            );
        }
    }

    #[test]
    fn json_family_is_application_json_or_a_plus_json_value() {
        let family = |s: &str| ContentType::parse(s).unwrap().media.is_json_family();
        assert!(family("application/json"));
        assert!(family("application/cloudevents+json; charset=utf-8"));
        assert!(family("application/hal+json"));
        assert!(family("text/x+json"));
        assert!(!family("application/json; v=1"));
        assert!(!family("application/hal+json; v=1"));
        assert!(!family("application/jsonx"));
    }

    // --- negotiation -------------------------------------------------------------------------

    fn accepts(accept: &[(&str, &str)], r: &WebResponse) -> Result<(), (u16, String)> {
        negotiate(&hdrs(accept), r).map_err(|e| (e.status.as_u16(), e.message))
    }

    #[test]
    fn an_entity_the_accept_header_refuses_is_not_acceptable() {
        let r = http(json!({"body": "Plain text"}));
        assert_eq!(
            accepts(&[("accept", "application/json")], &r),
            Err((
                406,
                "Resource representation is only available with these types:\ntext/html; charset=UTF-8"
                    .into()
            ))
        );
        for accept in [
            "text/html",
            "*/*",
            "text/*",
            "*",
            "",
            "text/html;q=0.5, */*;q=0",
            "garbage",
        ] {
            assert_eq!(accepts(&[("accept", accept)], &r), Ok(()), "{accept:?}");
        }
        assert_eq!(accepts(&[], &r), Ok(()));
    }

    #[test]
    fn an_empty_http_answer_is_never_refused() {
        let r = http(json!({"statusCode": 200}));
        assert_eq!(accepts(&[("accept", "application/json")], &r), Ok(()));
    }

    #[test]
    fn the_offer_names_each_extensions_type() {
        let refused = |r: &WebResponse| accepts(&[("accept", "x/y")], r).unwrap_err().1;
        let types = |r: &WebResponse| refused(r).lines().last().unwrap().to_string();
        assert_eq!(types(&ok(Extension::Json, json!({}))), "application/json");
        assert_eq!(
            types(&ok(Extension::Html, json!("h"))),
            "text/html; charset=UTF-8"
        );
        assert_eq!(types(&ok(Extension::Svg, json!("s"))), "image/svg+xml");
        assert_eq!(types(&ok(Extension::Text, json!("t"))), "text/plain");
        assert_eq!(
            types(&http(
                json!({"headers": {"content-type": "image/png"}, "body": "QQ=="})
            )),
            "image/png"
        );
        assert_eq!(
            types(&http(
                json!({"headers": {"content-type": "application/hal+json"}, "body": {}})
            )),
            "application/hal+json"
        );
        assert_eq!(
            types(&error_response(&ApiError::internal(), "t")),
            "application/json"
        );
        assert_eq!(types(&WebResponse::options()), "none/none");
    }

    #[test]
    fn the_most_specific_accept_range_decides() {
        let r = ok(Extension::Html, json!("h"));
        assert!(accepts(&[("accept", "text/html;q=0, */*")], &r).is_err());
        assert!(accepts(&[("accept", "*/*, text/*;q=0")], &r).is_err());
        assert!(accepts(&[("accept", "text/*;q=0, text/html")], &r).is_ok());
        assert!(
            accepts(
                &[("accept", "application/json"), ("accept", "text/html")],
                &r
            )
            .is_ok()
        );
        assert!(accepts(&[("accept", "text/html; level=1")], &r).is_err());
        assert!(accepts(&[("accept", "text/html; charset=iso-8859-1")], &r).is_ok());
    }

    #[test]
    fn accept_charset_counts_for_text_with_a_charset() {
        let html = ok(Extension::Html, json!("h"));
        assert!(accepts(&[("accept-charset", "iso-8859-1")], &html).is_err());
        assert!(accepts(&[("accept-charset", "iso-8859-1, utf-8;q=0.1")], &html).is_ok());
        assert!(accepts(&[("accept-charset", "*")], &html).is_ok());
        assert!(accepts(&[("accept-charset", "utf-8;q=0, *")], &html).is_err());
        let svg = ok(Extension::Svg, json!("s"));
        assert!(accepts(&[("accept-charset", "iso-8859-1")], &svg).is_ok());
    }

    #[test]
    fn options_answers_only_what_any_type_takes() {
        let r = WebResponse::options();
        assert!(accepts(&[], &r).is_ok());
        assert!(accepts(&[("accept", "*/*")], &r).is_ok());
        assert!(accepts(&[("accept", "application/json")], &r).is_err());
    }

    // --- CORS, require-whisk-auth ------------------------------------------------------------

    #[test]
    fn cors_headers_allow_everything_and_echo_requested_headers() {
        let cors = cors_headers(&[]);
        assert_eq!(
            cors,
            hdrs(&[
                ("Access-Control-Allow-Origin", "*"),
                (
                    "Access-Control-Allow-Methods",
                    "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"
                ),
                (
                    "Access-Control-Allow-Headers",
                    "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent"
                ),
            ])
        );
        let echo = |v: &str| {
            cors_headers(&hdrs(&[
                ("x-custom-header", "value"),
                ("access-control-request-headers", v),
            ]))[2]
                .1
                .clone()
        };
        assert_eq!(echo("x-custom-header"), "x-custom-header");
        assert_eq!(echo("X-Foo,x-bar"), "X-Foo, x-bar");
        assert_eq!(echo(""), "");
        assert_eq!(echo("a,,b"), "a,,b");
        assert_eq!(
            cors_headers(&hdrs(&[("x-custom-header", "value")]))[2].1,
            ALLOW_HEADERS
        );
    }

    #[test]
    fn require_whisk_auth_admits_as_its_value_says() {
        let check = |a: Option<Value>, h: Option<&str>, authed: bool| {
            require_auth(a.as_ref(), h, authed).is_ok()
        };
        assert!(check(None, None, false));
        assert!(check(Some(json!(false)), None, false));
        assert!(check(Some(json!(true)), None, true));
        assert!(!check(Some(json!(true)), Some("x"), false));
        assert!(check(Some(json!("s3cr3t")), Some("s3cr3t"), false));
        assert!(!check(Some(json!("s3cr3t")), Some("s3cr3t-bad"), true));
        assert!(!check(Some(json!("s3cr3t")), None, true));
        assert!(check(Some(json!(7234)), Some("7234"), false));
        assert!(!check(Some(json!(7234)), Some("7235"), false));
        for odd in [json!(null), json!({"a": 1}), json!(["s"])] {
            assert!(!check(Some(odd.clone()), Some("true"), true), "{odd}");
        }
        // The string "true" is a secret like any other, not a request for credentials.
        assert!(!check(Some(json!("true")), None, true));
        assert!(check(Some(json!("true")), Some("true"), false));
        let e = require_auth(Some(&json!(true)), None, false).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.message.as_str()),
            (
                401,
                "Authentication is possible but has failed or not yet been provided."
            )
        );
    }

    // --- no panics ---------------------------------------------------------------------------

    #[test]
    fn no_result_makes_rendering_panic() {
        let odd_values = [
            Value::Null,
            json!(true),
            json!(-1),
            json!(1e308),
            json!(-0.0),
            json!(""),
            json!("\u{0}"),
            json!([]),
            json!({}),
            json!([[[]]]),
            json!({"": {"": null}}),
            json!(u64::MAX),
        ];
        let mut results = odd_values.to_vec();
        for s in &odd_values {
            for b in &odd_values {
                results.push(json!({"statusCode": s, "body": b}));
                results.push(json!({"headers": {"content-type": b, "": s}, "body": s}));
                results.push(json!({"headers": s, "body": b, "statusCode": 200}));
                results.push(json!({"body": s, "text": b, "html": b, "svg": b, "error": s}));
            }
        }
        for status in [
            ActivationStatus::Success,
            ActivationStatus::ApplicationError,
            ActivationStatus::DeveloperError,
            ActivationStatus::WhiskError,
        ] {
            for r in &results {
                for ext in Extension::ALL {
                    if let Ok(w) = render(status, r, ext) {
                        let _ = negotiate(
                            &hdrs(&[("accept", "*/*;q=abc, ;;,"), ("accept-charset", "x;q=9")]),
                            &w,
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn no_header_value_makes_parsing_panic() {
        let pieces = [
            "", " ", "/", ";", "=", "\"", "\\", "*", "a", "é", ",", "q", "0.5", "\t", "\u{7f}",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let s = format!("{a}{b}{c}{a}");
                    let _ = ContentType::parse(&s);
                    let _ = accept_ranges(&s);
                    let _ = accept_charset_ranges(&s);
                    let _ = header_list(&s);
                    let _ = q_value(&s);
                }
            }
        }
    }
}
