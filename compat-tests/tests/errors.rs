//! Bad input of every kind gets OpenWhisk's status and `{"error", "code"}` body, never a 5xx, and
//! leaves nothing half-written.

use owl_compat_tests::{Client, Owl};
use serde_json::{Value, json};

const NS: &str = "/api/v1/namespaces/_";
const V: &str = "<volatile>";

fn err(status: u16, message: &str) -> (u16, Value) {
    (status, json!({"error": message, "code": V}))
}

fn action() -> Value {
    json!({"exec": {"kind": "nodejs:20", "code": "function main() { return {} }"}})
}

#[test]
fn a_request_without_credentials_is_refused_with_a_basic_challenge() {
    let owl = Owl::start();
    let r = owl.anonymous().get(&format!("{NS}/actions"));
    assert_eq!(
        r.blanked(),
        err(
            401,
            "The resource requires authentication, which was not supplied with the request"
        )
    );
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"OpenWhisk secure realm\"")
    );
}

#[test]
fn wrong_or_malformed_keys_are_refused() {
    let owl = Owl::start();
    let wrong = format!("23bc46b1-71f6-4ed5-8c54-816aa4f8c502:{}", "x".repeat(64));
    for key in [
        wrong.as_str(),
        "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:short",
        "nocolon",
    ] {
        let r = owl.client(key).get(&format!("{NS}/actions"));
        assert_eq!(
            r.blanked(),
            err(401, "The supplied authentication is invalid"),
            "{key}"
        );
    }
}

#[test]
fn admin_created_users_work_until_blocked() {
    let owl = Owl::start();
    let admin = |args: &[&str]| {
        let out = owl.admin_command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "owl admin {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let key = admin(&["user", "create", "alice", "--namespace", "alice-ns"]);
    assert_eq!(key.len(), 36 + 1 + 64, "{key}");
    assert_eq!(admin(&["user", "get", "alice"]), key);
    let alice = owl.client(&key);
    assert_eq!(
        alice.get("/api/v1/namespaces").blanked(),
        (200, json!(["alice-ns"]))
    );
    assert_eq!(
        alice
            .put("/api/v1/namespaces/_/triggers/t", &json!({}))
            .body["namespace"],
        "alice-ns"
    );
    assert_eq!(
        owl.guest()
            .get("/api/v1/namespaces/alice-ns/triggers/t")
            .status,
        403
    );
    // A key's change reaches every controller within a second (at once in standalone).
    let soon = |status: u16| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while alice.get("/api/v1/namespaces").status != status {
            assert!(
                std::time::Instant::now() < deadline,
                "not {status} within 2 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    admin(&["user", "block", "alice"]);
    soon(401);
    admin(&["user", "unblock", "alice"]);
    soon(200);
    assert!(admin(&["namespace", "list"]).contains("alice-ns\talice"));
    admin(&["user", "delete", "alice"]);
    soon(401);
}

#[test]
fn invalid_names_in_the_path_are_refused_with_upstreams_words() {
    let owl = Owl::start();
    let c = owl.guest();
    assert_eq!(
        c.put(&format!("{NS}/actions/a%24b"), &action()).blanked(),
        err(400, "The name of the entity contains illegal characters.")
    );
    assert_eq!(
        c.put(&format!("{NS}/actions/{}", "x".repeat(300)), &action())
            .blanked(),
        err(400, "Name segement longer than allowed: 300 > 256.")
    );
    assert_eq!(
        c.get("/api/v1/namespaces/b%21d/actions").blanked(),
        err(400, "The namespace contains illegal characters.")
    );
    assert_eq!(
        c.put(&format!("{NS}/actions/trailing%20"), &action())
            .status,
        400
    );
    assert_eq!(
        c.put(&format!("{NS}/actions/with%20space"), &action())
            .status,
        200
    );
}

#[test]
fn malformed_bodies_are_refused_before_anything_is_written() {
    let owl = Owl::start();
    let c = owl.guest();
    let path = format!("{NS}/actions/a");
    let bad_json = c.raw(
        "PUT",
        &path,
        Some(b"{\"exec\": "),
        &[("Content-Type", "application/json")],
    );
    assert_eq!(bad_json.status, 400);
    assert!(
        bad_json.body["error"]
            .as_str()
            .unwrap()
            .starts_with("The request content was malformed:\n")
    );
    let not_json = c.raw(
        "PUT",
        &path,
        Some(b"exec=1"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
    );
    assert_eq!(
        not_json.blanked(),
        err(
            415,
            "The request's Content-Type is not supported. Expected:\napplication/json"
        )
    );
    assert_eq!(c.put(&path, &json!([1])).status, 400);
    assert_eq!(
        c.put(&path, &json!({})).blanked(),
        err(400, "exec undefined")
    );
    assert_eq!(
        c.put(&path, &json!({"exec": {"kind": "nodejs:20"}}))
            .blanked(),
        err(
            400,
            "The request content was malformed:\n'code' must be a string or attachment object defined in 'exec' for 'nodejs:20' actions"
        )
    );
    let kind = c.put(&path, &json!({"exec": {"kind": "cobol:9", "code": "x"}}));
    assert!(kind.body["error"].as_str().unwrap().contains(
        "The specified runtime 'cobol:9' is not supported by this platform. Valid values are: "
    ));
    assert_eq!(
        c.put(
            &path,
            &json!({"exec": {"kind": "nodejs:20", "code": "x"}, "parameters": {"a": 1}})
        )
        .blanked(),
        err(
            400,
            "The request content was malformed:\nparameters malformed!"
        )
    );
    assert_eq!(
        c.put(
            &path,
            &json!({"exec": {"kind": "nodejs:20", "code": "x"}, "version": "x.y"})
        )
        .blanked(),
        err(
            400,
            "The request content was malformed:\nsemantic version malformed"
        )
    );
    assert_eq!(c.get(&path).status, 404, "nothing was written");
}

#[test]
fn limits_outside_their_bounds_name_the_limit_hit() {
    let owl = Owl::start();
    let c = owl.guest();
    let with = |limits: Value| {
        c.put(
            &format!("{NS}/actions/a"),
            &json!({"exec": action()["exec"], "limits": limits}),
        )
    };
    assert_eq!(
        with(json!({"memory": 1024})).blanked(),
        err(
            400,
            "requirement failed: memory size 1024 MB exceeds allowed threshold of 512 MB"
        )
    );
    assert_eq!(
        with(json!({"timeout": 50})).blanked(),
        err(
            400,
            "requirement failed: duration 50 milliseconds below allowed threshold of 100 milliseconds"
        )
    );
    assert_eq!(
        with(json!({"logs": 11})).blanked(),
        err(
            400,
            "requirement failed: log size 11 MB exceeds allowed threshold of 10 MB"
        )
    );
    assert_eq!(
        with(json!({"concurrency": 2})).blanked(),
        err(
            400,
            "requirement failed: concurrency 2 exceeds allowed threshold of 1"
        )
    );
    assert_eq!(
        with(json!({"memory": 128.5})).blanked(),
        err(
            400,
            "The request content was malformed:\nmemory limit must be whole number"
        )
    );
    assert_eq!(
        with(json!({"instances": 31})).blanked(),
        err(
            400,
            "Max action instance concurrency must not exceed your namespace concurrency of 30."
        )
    );
    assert_eq!(
        with(json!({"memory": 512, "timeout": 300000, "logs": 0})).status,
        200
    );
}

#[test]
fn oversized_parameters_annotations_and_code_are_413() {
    let owl = Owl::start();
    let c = owl.guest();
    let big = "x".repeat(1024 * 1024);
    let r = c.put(
        &format!("{NS}/triggers/t"),
        &json!({"parameters": [{"key": "k", "value": big}]}),
    );
    assert_eq!(
        r.blanked(),
        err(
            413,
            &format!(
                "parameters larger than allowed: {} > 1048576 bytes.",
                1 + big.len() + 2
            )
        )
    );
    let r = c.put(
        &format!("{NS}/packages/p"),
        &json!({"annotations": [{"key": "k", "value": big}]}),
    );
    assert_eq!(r.status, 413);
    let code = "y".repeat(48 * 1024 * 1024 + 1);
    let r = c.put(
        &format!("{NS}/actions/a"),
        &json!({"exec": {"kind": "nodejs:20", "code": code}}),
    );
    assert_eq!(
        r.blanked(),
        err(413, "exec larger than allowed: 50331649 > 50331648 bytes.")
    );
    assert_eq!(c.get(&format!("{NS}/triggers/t")).status, 404);
}

#[test]
fn a_name_used_in_another_collection_is_a_conflict() {
    let owl = Owl::start();
    let c = owl.guest();
    c.put(&format!("{NS}/actions/x"), &action());
    let msg = "Resource by this name exists but is not in this collection.";
    assert_eq!(
        c.put(&format!("{NS}/triggers/x"), &json!({})).blanked(),
        err(409, msg)
    );
    assert_eq!(c.get(&format!("{NS}/packages/x")).blanked(), err(409, msg));
    assert_eq!(c.delete(&format!("{NS}/rules/x")).blanked(), err(409, msg));
}

#[test]
fn packages_reserve_default_and_cannot_become_bindings() {
    let owl = Owl::start();
    let c = owl.guest();
    assert_eq!(
        c.put(&format!("{NS}/packages/default"), &json!({}))
            .blanked(),
        err(400, "Package name 'default' is reserved.")
    );
    c.put(&format!("{NS}/packages/p"), &json!({}));
    c.put(&format!("{NS}/packages/q"), &json!({}));
    let r = c.put(
        &format!("{NS}/packages/p?overwrite=true"),
        &json!({"binding": {"namespace": "_", "name": "q"}}),
    );
    assert_eq!(
        r.blanked(),
        err(
            409,
            "Resource is a package and cannot be converted into a binding."
        )
    );
    c.put(
        &format!("{NS}/packages/b"),
        &json!({"binding": {"namespace": "_", "name": "q"}}),
    );
    assert_eq!(
        c.put(
            &format!("{NS}/packages/bb"),
            &json!({"binding": {"namespace": "_", "name": "b"}})
        )
        .blanked(),
        err(400, "Cannot bind to another package binding.")
    );
    c.put(&format!("{NS}/actions/act"), &action());
    assert_eq!(
        c.put(
            &format!("{NS}/packages/ba"),
            &json!({"binding": {"namespace": "_", "name": "act"}})
        )
        .blanked(),
        err(409, "Cannot bind to a resource that is not a package.")
    );
}

#[test]
fn list_parameters_out_of_range_are_malformed_queries() {
    let owl = Owl::start();
    let c = owl.guest();
    assert_eq!(
        c.get(&format!("{NS}/actions?limit=201")).blanked(),
        err(
            400,
            "The query parameter 'limit' was malformed:\nThe value '201' is not in the range of 0 to 200 for actions."
        )
    );
    assert_eq!(
        c.get(&format!("{NS}/rules?limit=ten")).blanked(),
        err(
            400,
            "The query parameter 'limit' was malformed:\nThe value 'ten' is not an integer for rules."
        )
    );
    assert_eq!(
        c.get(&format!("{NS}/triggers?skip=-1")).blanked(),
        err(
            400,
            "The query parameter 'skip' was malformed:\nThe value '-1' is not greater than or equal to 0 for triggers."
        )
    );
    assert_eq!(
        c.put(&format!("{NS}/actions/a?overwrite=maybe"), &action())
            .blanked(),
        err(
            400,
            "The query parameter 'overwrite' was malformed:\n'maybe' is not a valid Boolean value"
        )
    );
}

#[test]
fn unknown_routes_and_methods_are_404_and_405() {
    let owl = Owl::start();
    let c = owl.guest();
    assert_eq!(
        c.get("/api/v1/nothing").blanked(),
        err(404, "The requested resource could not be found.")
    );
    assert_eq!(c.get(&format!("{NS}/widgets")).status, 404);
    assert_eq!(
        c.post(&format!("{NS}/packages/p"), &json!({})).blanked(),
        err(
            405,
            "HTTP method not allowed, supported methods: GET, PUT, DELETE"
        )
    );
    assert_eq!(c.put(&format!("{NS}/actions"), &json!({})).status, 405);
    assert_eq!(c.send("DELETE", "/api/v1/namespaces", None).status, 405);
    // An empty last segment: upstream's collection route (`pathEndOrSingleSlash & get`) matches the
    // path and refuses the method, and so does the package listing route (`get & pathSingleSlash`);
    // an entity route never matches a trailing slash, so nothing does.
    let get_only = err(405, "HTTP method not allowed, supported methods: GET");
    for collection in ["actions", "packages", "triggers", "rules"] {
        let path = format!("{NS}/{collection}/");
        assert_eq!(c.put(&path, &action()).blanked(), get_only, "PUT {path}");
        assert_eq!(c.delete(&path).blanked(), get_only, "DELETE {path}");
        let path = format!("{NS}/{collection}/x/");
        let expected = if collection == "actions" {
            get_only.clone()
        } else {
            err(404, "The requested resource could not be found.")
        };
        assert_eq!(c.put(&path, &action()).blanked(), expected, "PUT {path}");
    }
}

#[test]
fn a_missing_package_read_by_its_owner_names_itself_and_every_other_miss_is_the_plain_404() {
    let owl = Owl::start();
    let c = owl.guest();
    let plain = err(404, "The requested resource does not exist.");
    // Upstream's route dispatcher names the resource when the package entitlement check finds
    // nothing; the handlers' own misses (and DELETE, which checks ownership only) stay plain.
    assert_eq!(
        c.get(&format!("{NS}/packages/nope")).blanked(),
        err(404, "The requested resource 'guest/nope' does not exist.")
    );
    assert_eq!(c.delete(&format!("{NS}/packages/nope")).blanked(), plain);
    for collection in ["actions", "triggers", "rules"] {
        let path = format!("{NS}/{collection}/nope");
        assert_eq!(c.get(&path).blanked(), plain, "GET {path}");
        assert_eq!(c.delete(&path).blanked(), plain, "DELETE {path}");
    }
    assert_eq!(c.get(&format!("{NS}/actions/nopkg/a")).blanked(), plain);
    assert_eq!(
        c.post(&format!("{NS}/actions/nopkg/a?blocking=true"), &json!({}))
            .blanked(),
        plain
    );
    // A binding whose own package has gone names the binding.
    assert_eq!(
        c.put(&format!("{NS}/packages/gone"), &json!({})).status,
        200
    );
    assert_eq!(
        c.put(
            &format!("{NS}/packages/bound"),
            &json!({"binding": {"namespace": "guest", "name": "gone"}})
        )
        .status,
        200
    );
    assert_eq!(c.delete(&format!("{NS}/packages/gone")).status, 200);
    assert_eq!(
        c.get(&format!("{NS}/packages/bound")).blanked(),
        err(404, "The requested resource 'guest/bound' does not exist.")
    );
    // In another namespace a miss is a refusal that names what was asked for, and tells nothing.
    let key = owl.admin(&["user", "create", "mallory"]);
    let other = owl.client(&key);
    let guest = "/api/v1/namespaces/guest";
    for (path, what) in [
        ("packages/nope", "guest/nope"),
        ("packages/bound", "guest/bound"),
        ("actions/nope", "guest/nope"),
        ("actions/nopkg/a", "guest/nopkg/a"),
        ("triggers/nope", "guest/nope"),
        ("rules/nope", "guest/nope"),
    ] {
        let denied = err(
            403,
            &format!("The supplied authentication is not authorized to access '{what}'."),
        );
        assert_eq!(
            other.get(&format!("{guest}/{path}")).blanked(),
            denied,
            "GET {path}"
        );
        assert_eq!(
            other.delete(&format!("{guest}/{path}")).blanked(),
            denied,
            "DELETE {path}"
        );
    }
}

#[test]
fn the_transaction_id_comes_from_x_request_id_and_is_echoed_and_used_as_the_error_code() {
    let owl = Owl::start();
    let c = owl.guest();
    let r = c.raw(
        "GET",
        &format!("{NS}/actions/none"),
        None,
        &[("X-Request-ID", "my-trace-1")],
    );
    assert_eq!(r.header("x-request-id"), Some("my-trace-1"));
    assert_eq!(r.body["code"], "my-trace-1");
    let minted = c.get(&format!("{NS}/actions/none"));
    let tid = minted.header("x-request-id").unwrap();
    assert_eq!(tid.len(), 32);
    assert_eq!(minted.body["code"], tid);
    let system = c.raw("GET", "/api/v1", None, &[("X-Request-ID", "sid_forged")]);
    assert_ne!(system.header("x-request-id"), Some("sid_forged"));
}

#[test]
fn options_answers_with_cors_headers_without_credentials() {
    let owl = Owl::start();
    let r = owl
        .anonymous()
        .raw("OPTIONS", &format!("{NS}/actions/x"), None, &[]);
    assert_eq!((r.status, r.text.as_str()), (200, "OK"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, DELETE, POST, PUT, HEAD")
    );
    let normal = owl.guest().get(&format!("{NS}/actions"));
    assert_eq!(
        normal.header("access-control-allow-headers"),
        Some("Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent")
    );
}

#[test]
fn invoking_without_an_invoker_answers_503() {
    let owl = Owl::start_with(&["--no-invoker"]);
    let c = owl.guest();
    assert_eq!(
        c.post(&format!("{NS}/actions/nothing?blocking=true"), &json!({}))
            .status,
        404
    );
    c.put(&format!("{NS}/actions/a"), &action());
    let r = c.post(&format!("{NS}/actions/a?blocking=true"), &json!({}));
    assert_eq!(r.status, 503);
}

#[test]
fn no_input_of_any_kind_produces_a_5xx() {
    let owl = Owl::start();
    let c = owl.guest();
    c.put(&format!("{NS}/packages/p"), &json!({}));
    c.put(&format!("{NS}/actions/p/a"), &action());
    c.put(&format!("{NS}/triggers/t"), &json!({}));
    let paths = [
        "/",
        "/ping",
        "/api",
        "/api/v1/",
        "/api/v1/api-docs",
        "/api/v1/namespaces/",
        "/api/v1/namespaces//actions",
        "/api/v1/namespaces/_/actions/p/",
        "/api/v1/namespaces/_/actions/p/a",
        "/api/v1/namespaces/_/actions/p/a/b",
        "/api/v1/namespaces/_/actions/%FF%FE",
        "/api/v1/namespaces/_/actions/%2e%2e",
        "/api/v1/namespaces/_/packages/p",
        "/api/v1/namespaces/_/triggers/t",
        "/api/v1/namespaces/_/rules/r",
        "/api/v1/namespaces/_/activations/",
        "/api/v1/namespaces/_/activations/x/logs",
        "/api/v1/namespaces/_/limits",
        "/api/v1/namespaces/whisk.system/packages",
        "/api/v1/namespaces/_/actions?limit=-5&skip=x&count=2",
        "/api/v1/namespaces/_/activations?since=-1&upto=1e99&name=%00",
        "/api/v1/web/guest/default/a.json",
    ];
    let bodies: [&[u8]; 9] = [
        b"",
        b"null",
        b"[]",
        b"\"s\"",
        b"{\"exec\":{\"kind\":[]}}",
        b"{\"binding\":{\"namespace\":1}}",
        b"{\"trigger\":{\"path\":\"\",\"name\":\"\"},\"action\":\"/_/p/a\"}",
        b"{\"limits\":{\"memory\":1e400}}",
        &[0xff, 0xfe, 0x00, 0x7b],
    ];
    let mut sent = 0;
    for path in paths {
        for method in ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"] {
            for body in bodies {
                let r = c.raw(
                    method,
                    path,
                    Some(body),
                    &[("Content-Type", "application/json")],
                );
                assert!(
                    r.status < 500 || r.status == 503,
                    "{method} {path} {:?} -> {} {}",
                    String::from_utf8_lossy(body),
                    r.status,
                    r.text
                );
                sent += 1;
            }
        }
    }
    assert_eq!(sent, paths.len() * 6 * bodies.len());
    assert_eq!(
        owl.guest().get("/api/v1/namespaces").status,
        200,
        "the server is still up"
    );
}

#[test]
fn concurrent_updates_of_one_action_lose_no_write() {
    let owl = Owl::start();
    owl.guest().put(&format!("{NS}/actions/a"), &action());
    let base = owl.base.clone();
    let handles: Vec<_> = (0..12)
        .map(|i| {
            let base = base.clone();
            std::thread::spawn(move || {
                let c = Client::new(&base, Some(owl_compat_tests::GUEST_KEY));
                (0..5)
                    .map(|j| {
                        let body =
                            json!({"parameters": [{"key": "writer", "value": format!("{i}-{j}")}]});
                        c.put(&format!("{NS}/actions/a?overwrite=true"), &body)
                            .status
                    })
                    .collect::<Vec<u16>>()
            })
        })
        .collect();
    let statuses: Vec<u16> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    let won = statuses.iter().filter(|s| **s == 200).count();
    let version = owl.guest().get(&format!("{NS}/actions/a")).body["version"].clone();
    assert_eq!(
        version,
        json!(format!("0.0.{}", 1 + won)),
        "every successful update bumped the version once"
    );
}
