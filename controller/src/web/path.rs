//! The path of a web action URL: `/api/v1/web/{namespace}/{package|default}/{action}[.{ext}][/{rest}]`.
//!
//! [`parse`] takes the segments after `/api/v1/web/`, each already percent-decoded, and names the
//! action, the extension that chooses how its result is rendered, and the unmatched rest of the path
//! that the action receives as `__ow_path`.
//!
//! | segments | outcome |
//! | --- | --- |
//! | `ns/pkg/name` | action `name` in package `pkg`, extension `.http`, rest `""` |
//! | `ns/default/name.json` | action `name` in no package, extension `.json` |
//! | `ns/pkg/name.json/a/b` | rest `/a/b` (re-encoded as a URI path renders it) |
//! | `ns/pkg/name.json/` | rest `/` |
//! | `ns/pkg/name.xyz` | unknown extension: action `name.xyz`, extension `.http` |
//! | fewer than three segments, an empty one, or one that is not a valid name | 404, the route matches nothing |
//! | a name that is only invalid once its extension is cut off (`a .json`) | 404 (upstream fails with a 500) |
//!
//! The namespace is taken as written: `_` is not the caller's namespace here (its lookup finds no
//! such namespace, a 404 for the caller to give).

use actix_web::http::StatusCode;
use owl_entity::name::EntityName;

use crate::error::ApiError;
use crate::messages;

/// The literal package segment that stands for "no package".
pub const DEFAULT_PACKAGE: &str = "default";

/// How the action's result is turned into the HTTP answer, chosen by the action segment's suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Extension {
    /// The result is an HTTP response: `statusCode`, `headers`, `body`. The default.
    Http,
    /// The result itself, as JSON.
    Json,
    /// The `body` (or `html`) string, as HTML.
    Html,
    /// The `body` (or `svg`) string, as SVG.
    Svg,
    /// The `body` (or `text`) value, as plain text.
    Text,
}

impl Extension {
    /// All extensions, in the order a suffix is looked for.
    pub const ALL: [Extension; 5] = [
        Extension::Http,
        Extension::Json,
        Extension::Html,
        Extension::Svg,
        Extension::Text,
    ];

    /// The suffix that selects it, dot included.
    pub fn suffix(self) -> &'static str {
        match self {
            Extension::Http => ".http",
            Extension::Json => ".json",
            Extension::Html => ".html",
            Extension::Svg => ".svg",
            Extension::Text => ".text",
        }
    }

    /// The media type the extension stands for, as upstream names it in "Response is not valid
    /// '...'." answers.
    pub fn media_type(self) -> &'static str {
        match self {
            Extension::Http => "message/http",
            Extension::Json => "application/json",
            Extension::Html => "text/html",
            Extension::Svg => "image/svg+xml",
            Extension::Text => "text/plain",
        }
    }

    /// Splits an action segment into the action's name and the extension: the first known suffix
    /// the segment ends with, else the whole segment with `.http`.
    pub fn split(segment: &str) -> (&str, Extension) {
        Extension::ALL
            .iter()
            .find_map(|e| segment.strip_suffix(e.suffix()).map(|name| (name, *e)))
            .unwrap_or((segment, Extension::Http))
    }
}

/// A web action URL's path, resolved into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebPath {
    /// The namespace segment, as written.
    pub namespace: String,
    /// The package or binding, `None` for `default`.
    pub package: Option<String>,
    /// The action's name, extension removed.
    pub action: String,
    pub extension: Extension,
    /// What follows the action segment, `""` or starting with `/` (e.g. `/a/b`, or `/` for a trailing
    /// slash), each segment percent-encoded again as a URI path renders it.
    pub rest: String,
}

/// The answer for a path the web route does not match.
fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, messages::ROUTE_NOT_FOUND)
}

/// Resolves the decoded segments after `/api/v1/web/` (see the module's table).
pub fn parse(segments: &[&str]) -> Result<WebPath, ApiError> {
    let [namespace, package, segment, rest @ ..] = segments else {
        return Err(no_route());
    };
    // The route matches each of the three segments whole against the name rule, extension included.
    for s in [namespace, package, segment] {
        EntityName::new(*s).map_err(|_| no_route())?;
    }
    let (action, extension) = Extension::split(segment);
    // Cutting the suffix off can leave a name ending in a space. Upstream then fails building the
    // name (an exception, answered as a 500); a bad request is never a 5xx here: no route, as for
    // any segment that is not a name.
    EntityName::new(action).map_err(|_| no_route())?;
    Ok(WebPath {
        namespace: namespace.to_string(),
        package: (*package != DEFAULT_PACKAGE).then(|| package.to_string()),
        action: action.to_string(),
        extension,
        rest: rest
            .iter()
            .map(|s| format!("/{}", encode_segment(s)))
            .collect(),
    })
}

/// A path segment percent-encoded as upstream's URI model renders it: unreserved characters,
/// sub-delimiters, `:` and `@` stay; everything else becomes `%XX` of its UTF-8 bytes.
fn encode_segment(s: &str) -> String {
    let keep = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b);
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(path: &str) -> Result<WebPath, ApiError> {
        let segments: Vec<&str> = path.split('/').collect();
        parse(&segments)
    }

    fn ok(path: &str) -> WebPath {
        parsed(path).unwrap_or_else(|e| panic!("{path}: {e:?}"))
    }

    fn status(path: &str) -> u16 {
        parsed(path).err().map_or(200, |e| e.status.as_u16())
    }

    #[test]
    fn a_name_without_a_known_extension_is_an_http_action() {
        let p = ok("guest/proxy/export_c");
        assert_eq!(
            p,
            WebPath {
                namespace: "guest".into(),
                package: Some("proxy".into()),
                action: "export_c".into(),
                extension: Extension::Http,
                rest: String::new(),
            }
        );
    }

    #[test]
    fn each_known_suffix_is_cut_off_as_the_extension() {
        for e in Extension::ALL {
            for base in ["t", "tt", "t.wxyz", "tt.wxyz"] {
                let p = ok(&format!("ns/pkg/{base}{}", e.suffix()));
                assert_eq!((p.action.as_str(), p.extension), (base, e));
            }
        }
    }

    #[test]
    fn an_unknown_extension_stays_part_of_the_name() {
        for name in [
            "t",
            "tt",
            "abcde",
            "abcdef",
            "t.wxyz",
            "export_c.xyz",
            "a.jsonx",
            "a.JSON",
        ] {
            let p = ok(&format!("ns/pkg/{name}"));
            assert_eq!((p.action.as_str(), p.extension), (name, Extension::Http));
        }
        // An action named `a.b` is reachable as `a.b` and `a.b.http`.
        assert_eq!(ok("ns/pkg/a.b.http").action, "a.b");
    }

    #[test]
    fn the_default_package_means_no_package() {
        assert_eq!(ok("guest/default/echo.json").package, None);
        assert_eq!(
            ok("guest/Default/echo.json").package,
            Some("Default".into())
        );
    }

    #[test]
    fn what_follows_the_action_is_the_rest_of_the_path() {
        assert_eq!(ok("ns/default/a.json").rest, "");
        assert_eq!(ok("ns/default/a.json/").rest, "/");
        assert_eq!(ok("ns/default/a.json/content").rest, "/content");
        assert_eq!(ok("ns/default/a.json/a/b").rest, "/a/b");
        assert_eq!(ok("ns/default/a.json/a//b/").rest, "/a//b/");
        assert_eq!(ok("ns/default/a.xyz/content").rest, "/content");
    }

    #[test]
    fn the_rest_is_percent_encoded_again_as_a_uri_path_renders_it() {
        let rest = |segments: &[&str]| {
            let mut all = vec!["ns", "default", "a.json"];
            all.extend_from_slice(segments);
            parse(&all).unwrap().rest
        };
        assert_eq!(rest(&["a b"]), "/a%20b");
        assert_eq!(rest(&["a/b"]), "/a%2Fb");
        assert_eq!(rest(&["x?y#z%"]), "/x%3Fy%23z%25");
        assert_eq!(rest(&["é"]), "/%C3%A9");
        assert_eq!(rest(&["a:b@c!$&'()*+,;=-._~"]), "/a:b@c!$&'()*+,;=-._~");
    }

    #[test]
    fn the_namespace_is_taken_as_written() {
        assert_eq!(ok("_/default/echo").namespace, "_");
        assert_eq!(ok("a b/default/echo").namespace, "a b");
    }

    #[test]
    fn fewer_than_three_segments_match_no_route() {
        for path in ["", "a", "a/b", "a/b/"] {
            assert_eq!(status(path), 404, "{path:?}");
        }
        let e = parsed("a/b").unwrap_err();
        assert_eq!(e.message, messages::ROUTE_NOT_FOUND);
        assert_eq!(parse(&[]).unwrap_err().status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn an_empty_or_invalid_segment_matches_no_route() {
        for path in [
            "ns//echo",
            "/default/echo",
            "ns/default/.json",
            "ns/default/-a",
            "ns/de fault /echo",
            "n$s/default/echo",
            "ns/default/é",
        ] {
            assert_eq!(status(path), 404, "{path:?}");
        }
        // The 256-character limit applies to the segment, extension included.
        let long = format!("ns/default/{}.json", "a".repeat(252));
        assert_eq!(status(&long), 404);
        let fits = format!("ns/default/{}.json", "a".repeat(251));
        assert_eq!(ok(&fits).action.len(), 251);
        let long_ns = format!("{}/default/a", "n".repeat(257));
        assert_eq!(status(&long_ns), 404);
    }

    #[test]
    fn a_name_that_ends_in_a_space_once_its_extension_is_cut_is_no_route() {
        let e = parsed("ns/default/a .json").unwrap_err();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.message, messages::ROUTE_NOT_FOUND);
        // Without a known extension the space is inside the name, which is fine.
        assert_eq!(ok("ns/default/a .xyz").action, "a .xyz");
    }

    #[test]
    fn the_extension_media_types_are_upstreams() {
        let types: Vec<_> = Extension::ALL.iter().map(|e| e.media_type()).collect();
        assert_eq!(
            types,
            [
                "message/http",
                "application/json",
                "text/html",
                "image/svg+xml",
                "text/plain"
            ]
        );
    }

    #[test]
    fn no_segments_make_it_panic() {
        let odd = [
            "",
            "/",
            "%",
            "\u{0}",
            ".",
            "..",
            "...json",
            ".http.http",
            "🦀",
            " ",
        ];
        for a in odd {
            for b in odd {
                for c in odd {
                    let _ = parse(&[a, b, c]);
                    let _ = parse(&["ns", "pkg", c, a, b]);
                }
            }
        }
    }
}
