//! The packages every Python action may import without bundling them: those OpenWhisk's Python
//! runtime installs (openwhisk-runtime-python `core/python311Action/requirements.txt`), on both of
//! Owl's Python images; a zip's own `virtualenv/` before them; and a module no image has failing the
//! way upstream's Python runtime fails. Real server, real containers.

use owl_compat_tests::{Client, Owl, Response};
use serde_json::{Value, json};

const NS: &str = "/api/v1/namespaces/_";

/// Owl's Python images: the kind, and the Python it runs.
const PYTHONS: [(&str, &str); 2] = [("python:3.11", "3.11"), ("python:3.13", "3.13")];

fn create(c: &Client, name: &str, exec: Value) -> Response {
    let r = c.put(
        &format!("{NS}/actions/{name}?overwrite=true"),
        &json!({"exec": exec}),
    );
    assert_eq!(r.status, 200, "creating {name}: {}", r.text);
    r
}

fn invoke(c: &Client, name: &str) -> Response {
    c.post(&format!("{NS}/actions/{name}?blocking=true"), &json!({}))
}

fn invoke_result(c: &Client, name: &str) -> Value {
    let r = c.post(
        &format!("{NS}/actions/{name}?blocking=true&result=true"),
        &json!({}),
    );
    assert_eq!(r.status, 200, "invoking {name}: {}", r.text);
    r.body
}

fn action_name(prefix: &str, kind: &str) -> String {
    format!("{prefix}-{}", kind.replace([':', '.'], "-"))
}

/// Imports each package by its module name and reports its distribution's version, then uses the
/// compiled ones (lxml, simplejson, netifaces) and a few others a little.
const IMPORTS_ALL: &str = r#"import importlib, importlib.metadata, sys

PACKAGES = {
    "requests": "requests",
    "beautifulsoup4": "bs4",
    "lxml": "lxml",
    "python-dateutil": "dateutil",
    "simplejson": "simplejson",
    "httplib2": "httplib2",
    "twisted": "twisted",
    "scrapy": "scrapy",
    "kafka-python": "kafka",
    "netifaces": "netifaces",
    "virtualenv": "virtualenv",
}

def main(args):
    versions = {}
    for dist, module in PACKAGES.items():
        importlib.import_module(module)
        versions[dist] = importlib.metadata.version(dist)
    from lxml import etree
    import dateutil.parser, simplejson, netifaces, kafka, scrapy.http, twisted.internet.defer
    return {
        "python": "%d.%d" % sys.version_info[:2],
        "versions": versions,
        "lxml": etree.fromstring("<a><b>owl</b></a>").findtext("b"),
        "dateutil": dateutil.parser.isoparse("2026-12-03T08:00:00Z").year,
        "simplejson": simplejson.loads('{"a": [1.5]}'),
        "loopback": "lo" in netifaces.interfaces(),
        "deferred": twisted.internet.defer.succeed(7).result,
        "scrapy": scrapy.http.HtmlResponse(url="http://owl.invalid/", body=b"<p>hi</p>", encoding="utf-8").css("p::text").get(),
        "kafka": callable(kafka.KafkaProducer),
    }
"#;

#[test]
fn every_python_image_gives_actions_the_packages_upstreams_python_runtime_installs() {
    let owl = Owl::start();
    let c = owl.guest();
    for (kind, python) in PYTHONS {
        let name = action_name("imports", kind);
        create(&c, &name, json!({"kind": kind, "code": IMPORTS_ALL}));
        let out = invoke_result(&c, &name);
        assert_eq!(out["python"], python, "{kind}: {out}");
        let versions = out["versions"].as_object().expect("versions");
        assert_eq!(versions.len(), 11, "{kind}: {out}");
        for (dist, version) in versions {
            let v = version.as_str().unwrap_or_default();
            assert!(
                v.starts_with(|ch: char| ch.is_ascii_digit()),
                "{kind}: {dist} reports version '{v}'"
            );
        }
        let mut used = out.clone();
        used.as_object_mut().unwrap().remove("versions");
        assert_eq!(
            used,
            json!({
                "python": python, "lxml": "owl", "dateutil": 2026, "simplejson": {"a": [1.5]},
                "loopback": true, "deferred": 7, "scrapy": "hi", "kafka": true,
            }),
            "{kind}"
        );
    }
}

#[test]
fn a_python_action_calls_owls_api_with_requests_and_parses_html_with_beautifulsoup() {
    let owl = Owl::start();
    let c = owl.guest();
    let code = r#"import os
import requests
from bs4 import BeautifulSoup

PAGE = "<html><head><title>Owl</title></head><body><a href='/a'>a</a><p class='x'>hello <b>there</b></p></body></html>"

def main(args):
    r = requests.get(os.environ["__OW_API_HOST"] + "/api/v1", timeout=10)
    soup = BeautifulSoup(PAGE, "html.parser")
    with_lxml = BeautifulSoup(PAGE, "lxml")
    return {
        "status": r.status_code,
        "api": r.json()["description"],
        "title": soup.title.string,
        "links": [a["href"] for a in soup.find_all("a")],
        "text": with_lxml.find("p", class_="x").get_text(),
    }
"#;
    for (kind, _) in PYTHONS {
        let name = action_name("fetch", kind);
        create(&c, &name, json!({"kind": kind, "code": code}));
        assert_eq!(
            invoke_result(&c, &name),
            json!({"status": 200, "api": "OpenWhisk API", "title": "Owl", "links": ["/a"], "text": "hello there"}),
            "{kind}"
        );
    }
}

#[test]
fn a_zip_actions_own_virtualenv_wins_over_the_images_packages() {
    let owl = Owl::start();
    let c = owl.guest();
    let main: &[u8] = br#"import bs4, requests

def main(args):
    return {"requests": requests.__version__, "bs4_from_image": bs4.__file__.startswith("/usr/lib/python3/")}
"#;
    let fake: &[u8] = b"__version__ = 'zip'\n";
    // What `virtualenv` writes: activate_this.py puts the environment's site-packages first.
    let activate: &[u8] = br#"import os, site, sys
base = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
before = len(sys.path)
site.addsitedir(os.path.join(base, "lib", "python%d.%d" % sys.version_info[:2], "site-packages"))
sys.path[:] = sys.path[before:] + sys.path[:before]
sys.prefix = base
"#;
    for (kind, python) in PYTHONS {
        let package = format!("virtualenv/lib/python{python}/site-packages/requests/__init__.py");
        // Made by `python -m venv` (no activate_this.py), and by `virtualenv`.
        let venv = owl_compat_tests::zip_base64(&[("__main__.py", main), (&package, fake)]);
        let virtualenv = owl_compat_tests::zip_base64(&[
            ("__main__.py", main),
            ("virtualenv/bin/activate_this.py", activate),
            (&package, fake),
        ]);
        for (layout, code) in [("venv", venv), ("virtualenv", virtualenv)] {
            let name = action_name(layout, kind);
            let created = create(&c, &name, json!({"kind": kind, "code": code}));
            assert_eq!(created.body["exec"]["binary"], true);
            assert_eq!(
                invoke_result(&c, &name),
                json!({"requests": "zip", "bs4_from_image": true}),
                "{kind}, {layout}"
            );
        }
        // Without a virtualenv the image's requests answers.
        let plain = action_name("plain", kind);
        create(
            &c,
            &plain,
            json!({"kind": kind, "code": String::from_utf8_lossy(main)}),
        );
        let out = invoke_result(&c, &plain);
        let version = out["requests"].as_str().unwrap_or_default();
        assert!(version.starts_with("2."), "{kind}: {out}");
    }
}

#[test]
fn an_action_importing_a_module_no_image_has_fails_as_upstream_with_pythons_error_in_its_logs() {
    let owl = Owl::start();
    let c = owl.guest();
    let code = "import no_image_has_this\n\ndef main(args):\n    return {}\n";
    for (kind, _) in PYTHONS {
        let name = action_name("missing", kind);
        create(&c, &name, json!({"kind": kind, "code": code}));
        let r = invoke(&c, &name);
        assert_eq!(r.status, 502, "{kind}: {}", r.text);
        // Upstream's Python images (the actionloop proxy with OW_LOG_INIT_ERROR) answer this, with
        // Python's own words in the activation's logs.
        assert_eq!(
            r.body["response"]["result"],
            json!({"error": "Cannot start action. Check logs for details."}),
            "{kind}"
        );
        assert_eq!(
            r.body["response"]["status"], "action developer error",
            "{kind}"
        );
        let id = r.body["activationId"].as_str().expect("an activation id");
        let logs = c.record(id)["logs"].clone();
        let lines: Vec<&str> = logs
            .as_array()
            .expect("logs")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            lines
                .iter()
                .any(|l| l.ends_with("ModuleNotFoundError: No module named 'no_image_has_this'")),
            "{kind}: {lines:#?}"
        );
    }
}
