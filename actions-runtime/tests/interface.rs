//! The action interface every OpenWhisk runtime must honour, run against every runtime image Owl
//! builds (a container per test, its port published on 127.0.0.1, its logs read through Docker) and
//! against the proxy on this machine's own Node.js and Python. Each suite is written once as a macro
//! and instantiated per target at the end of this file.

mod common;
use common::*;

macro_rules! nodejs_suite {
    ($name:ident, $target:expr) => {
mod $name {
    use super::*;

    fn start() -> Proxy {
        Proxy::start($target)
    }

    const HELLO: &str = "function main(params) { return { greeting: 'Hello ' + (params.name || 'stranger') + '!' } }";

    #[test]
    fn hello_initializes_once_and_runs_warm() {
        let p = start();
        assert_eq!(p.init(HELLO, "main", false), (200, json!({"ok": true})));
        assert_eq!(
            p.run(json!({"name": "World"})),
            (200, json!({"greeting": "Hello World!"}))
        );
        assert_eq!(
            p.run(json!({})),
            (200, json!({"greeting": "Hello stranger!"}))
        );
        let again = p.init(HELLO, "main", false);
        assert_eq!(
            again,
            (
                403,
                json!({"error": "Cannot initialize the action more than once."})
            )
        );
    }

    /// Each run counts itself in and waits (up to `wait` ms) until `n` runs have been in at once,
    /// then answers the most it saw.
    fn rendezvous(n: u32, wait: u32) -> String {
        format!("let inside = 0, peak = 0; function main() {{ inside++; peak = Math.max(peak, inside); \
            return new Promise((resolve) => {{ const t0 = Date.now(); \
            const check = () => (peak >= {n} || Date.now() - t0 > {wait}) ? resolve({{ seen: peak }}) : setTimeout(check, 5); \
            check(); }}).finally(() => inside--); }}")
    }

    fn run_together(p: &Proxy, n: usize) -> Vec<(u16, Value)> {
        std::thread::scope(|s| {
            let runs: Vec<_> = (0..n).map(|_| s.spawn(|| p.run(json!({})))).collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        })
    }

    #[test]
    fn with_concurrency_allowed_overlapping_runs_are_served_together() {
        let p = Proxy::start_with($target, &[("__OW_ALLOW_CONCURRENT", "true")]);
        assert_eq!(p.init(&rendezvous(3, 20_000), "main", false).0, 200);
        for answer in run_together(&p, 3) {
            assert_eq!(answer, (200, json!({"seen": 3})));
        }
        p.logs(3);
    }

    #[test]
    fn without_concurrency_allowed_overlapping_runs_are_served_one_at_a_time() {
        let p = start();
        assert_eq!(p.init(&rendezvous(2, 300), "main", false).0, 200);
        for answer in run_together(&p, 2) {
            assert_eq!(answer, (200, json!({"seen": 1})));
        }
    }

    #[test]
    fn run_bodies_are_checked_and_passed_on_whole() {
        let p = start();
        p.init("function main(a) { return a.text === 'scalar' ? 'a string' : a }", "main", false);
        let refused = |body: &str| {
            let (s, v, _) = p.post_raw("/run", body.as_bytes());
            (s, v["error"].as_str().unwrap_or_default().to_string())
        };
        assert_eq!(
            refused("[1]"),
            (403, "Internal system error: the body must be a JSON object.".into())
        );
        for (value, kind) in [("\"s\"", "string"), ("5", "number"), ("null", "null"), ("true", "boolean")] {
            assert_eq!(
                refused(&format!("{{\"value\": {value}}}")),
                (403, format!("Internal system error: the argument must be a dictionary but has type '{kind}'."))
            );
        }
        // No value: the action gets an empty one.
        let (s, v, _) = p.post_raw("/run", br#"{"activation_id": "x"}"#);
        assert_eq!((s, v), (200, json!({})));
        // Line breaks between tokens and escaped ones inside strings both survive.
        let pretty = "{\n  \"value\": {\n    \"text\": \"two\\nlines\"\n  }\r\n}";
        let (s, v, _) = p.post_raw("/run", pretty.as_bytes());
        assert_eq!((s, v), (200, json!({"text": "two\nlines"})));
        assert_eq!(
            p.run(json!({"text": "scalar"})),
            (502, json!({"error": "The action did not return a dictionary."}))
        );
    }

    #[test]
    fn echo_returns_unicode_and_arrays_unchanged() {
        let p = start();
        p.init("function main(a) { return a }", "main", false);
        let v = json!({"text": "☃ 雪 ❄ \u{1F600}", "nested": {"list": [1, 2.5, null, true]}});
        assert_eq!(p.run(v.clone()), (200, v));
        assert_eq!(p.run(json!([1, 2, 3])), (200, json!([1, 2, 3])));
    }

    #[test]
    fn the_activation_context_is_in_the_environment() {
        let p = start();
        p.init("function main() { const e = process.env; return { ns: e.__OW_NAMESPACE, name: e.__OW_ACTION_NAME, \
                version: e.__OW_ACTION_VERSION, id: e.__OW_ACTIVATION_ID, tid: e.__OW_TRANSACTION_ID, deadline: e.__OW_DEADLINE, \
                key: e.__OW_API_KEY, host: e.__OW_API_HOST, init: e.INIT_PARAM } }", "main", false);
        assert_eq!(
            p.run(json!({})),
            (
                200,
                json!({"ns": "guest", "name": "/guest/action", "version": "0.0.1",
            "id": "0123456789abcdef0123456789abcdef", "tid": "tid-1", "deadline": "1717000060000", "key": "uuid:key",
            "host": "http://owl.test", "init": "secret"})
            )
        );
    }

    #[test]
    fn errors_thrown_rejected_and_returned_are_told_apart() {
        let p = start();
        p.init(
            "function main(p) { if (p.kind === 'throw') throw new Error('boom'); \
                if (p.kind === 'reject') return Promise.reject(new Error('nope')); \
                if (p.kind === 'string') return 'not an object'; return { error: 'returned' } }",
            "main",
            false,
        );
        assert_eq!(
            p.run(json!({"kind": "throw"})),
            (502, json!({"error": "An error has occurred: Error: boom"}))
        );
        let (s, v) = p.run(json!({"kind": "reject"}));
        assert_eq!(
            (s, &v["error"]["message"], &v["error"]["name"]),
            (200, &json!("nope"), &json!("Error"))
        );
        assert_eq!(
            p.run(json!({"kind": "string"})),
            (
                502,
                json!({"error": "The action did not return a dictionary."})
            )
        );
        assert_eq!(p.run(json!({})), (200, json!({"error": "returned"})));
    }

    #[test]
    fn null_passes_and_results_json_cannot_write_are_internal_errors() {
        let p = start();
        p.init(
            "function main(p) { if (p.kind === 'null') return null; \
                if (p.kind === 'circular') { const o = {}; o.o = o; return o } \
                if (p.kind === 'number') return 5; return {} }",
            "main",
            false,
        );
        assert_eq!(p.run_answer(json!({"kind": "null"})), (200, "null".into(), None));
        assert_eq!(
            p.run_answer(json!({"kind": "circular"})),
            (502, r#"{"error":"Internal error."}"#.into(), None)
        );
        assert_eq!(
            p.run_answer(json!({"kind": "number"})),
            (502, r#"{"error":"The action did not return a dictionary."}"#.into(), None)
        );
        let (_, err) = p.logs(3);
        assert!(err.contains("Result must be of type object but has type \"number\": 5"), "{err}");
    }

    #[test]
    fn empty_code_or_main_is_refused_and_init_may_be_tried_again() {
        let p = start();
        assert_eq!(
            p.init_answer("", "main"),
            (403, r#"{"error":"Missing main/no code to execute."}"#.into(), None)
        );
        assert_eq!(p.init_answer(HELLO, "").0, 403);
        assert_eq!(p.init(HELLO, "main", false).0, 200);
    }

    #[test]
    fn an_exit_while_loading_or_running_is_told_as_the_death_of_the_process() {
        let p = start();
        assert_eq!(
            p.init_answer("process.exit(1)", "main"),
            (
                502,
                r#"{"error":"The action did not initialize and exited unexpectedly."}"#.into(),
                Some("exited".into())
            )
        );
        let q = start();
        q.init("function main() { process.exit(3) }", "main", false);
        assert_eq!(
            q.run_answer(json!({})),
            (
                502,
                r#"{"error":"The action did not produce a valid response and exited unexpectedly."}"#.into(),
                Some("exited".into())
            )
        );
    }

    #[test]
    fn promises_and_slow_actions_are_awaited() {
        let p = start();
        p.init("function main(p) { return new Promise(r => setTimeout(() => r({ waited: p.ms }), p.ms)) }", "main", false);
        let started = Instant::now();
        assert_eq!(p.run(json!({"ms": 300})), (200, json!({"waited": 300})));
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[test]
    fn logs_go_to_stdout_and_stderr_followed_by_sentinels_on_both() {
        let p = start();
        p.init(
            "function main() { console.log('to stdout'); console.error('to stderr'); return {} }",
            "main",
            false,
        );
        p.run(json!({}));
        p.run(json!({}));
        let (out, err) = p.logs(2);
        assert_eq!(
            out,
            format!("to stdout\n{SENTINEL}\nto stdout\n{SENTINEL}\n")
        );
        assert_eq!(
            err,
            format!("to stderr\n{SENTINEL}\nto stderr\n{SENTINEL}\n")
        );
    }

    #[test]
    fn exports_and_another_main_name_are_found() {
        let p = start();
        assert_eq!(
            p.init("exports.niam = () => ({ via: 'exports' })", "niam", false)
                .0,
            200
        );
        assert_eq!(p.run(json!({})), (200, json!({"via": "exports"})));
        let q = start();
        assert_eq!(
            q.init(
                "module.exports = { main: () => ({ via: 'module.exports' }) }",
                "main",
                false
            )
            .0,
            200
        );
        assert_eq!(q.run(json!({})), (200, json!({"via": "module.exports"})));
    }

    #[test]
    fn a_missing_entry_point_or_broken_code_fails_init_and_the_container_keeps_answering() {
        let p = start();
        let (s, v) = p.init(HELLO, "nope", false);
        assert_eq!(s, 502);
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("Action entrypoint 'nope' is not a function."),
            "{v}"
        );
        assert_eq!(
            p.run(json!({})).0,
            502,
            "a failed container answers runs with the error"
        );
        p.logs(2);
        let q = start();
        let (s, v) = q.init("function main( {", "main", false);
        assert_eq!(s, 502);
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .starts_with("Initialization has failed due to: "),
            "{v}"
        );
    }

    #[test]
    fn process_exit_is_a_developer_error_and_the_next_run_works() {
        let p = start();
        p.init(
            "function main(p) { if (p.exit) process.exit(3); return { alive: true } }",
            "main",
            false,
        );
        assert_eq!(p.run(json!({"exit": true})).0, 502);
        assert_eq!(p.run(json!({})), (200, json!({"alive": true})));
    }

    #[test]
    fn zip_actions_load_from_index_js_package_json_or_a_file_function_main() {
        let index = zip(&[(
            "index.js",
            "exports.main = () => ({ from: 'index' })",
            0o644,
        )]);
        let p = start();
        assert_eq!(p.init(&index, "main", true).0, 200);
        assert_eq!(p.run(json!({})), (200, json!({"from": "index"})));

        let pkg = zip(&[
            (
                "package.json",
                r#"{"name": "a", "main": "lib/entry.js"}"#,
                0o644,
            ),
            (
                "lib/entry.js",
                "const dep = require('dep'); exports.main = () => ({ from: dep.name })",
                0o644,
            ),
            (
                "node_modules/dep/index.js",
                "exports.name = 'bundled dependency'",
                0o644,
            ),
        ]);
        let q = start();
        assert_eq!(q.init(&pkg, "main", true).0, 200);
        assert_eq!(
            q.run(json!({})),
            (200, json!({"from": "bundled dependency"}))
        );

        let file_fn = zip(&[
            ("index.js", "", 0o644),
            (
                "handlers.js",
                "exports.go = () => ({ from: 'handlers.go' })",
                0o644,
            ),
        ]);
        let r = start();
        assert_eq!(r.init(&file_fn, "handlers.go", true).0, 200);
        assert_eq!(r.run(json!({})), (200, json!({"from": "handlers.go"})));
    }

    #[test]
    fn bad_zips_are_refused_at_init() {
        let p = start();
        let (s, v) = p.init(&zip(&[("README", "x", 0o644)]), "main", true);
        assert_eq!(s, 502);
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("must contain either package.json or index.js"),
            "{v}"
        );
        let corrupt =
            base64::engine::general_purpose::STANDARD.encode(b"PK\x03\x04garbage garbage garbage");
        assert_eq!(start().init(&corrupt, "main", true).0, 502);
        let escape = start();
        let (s, v) = escape.init(&zip(&[("../../evil.js", "x", 0o644)]), "main", true);
        assert_eq!(s, 502);
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("points outside the archive"),
            "{v}"
        );
    }

    #[test]
    fn large_results_and_large_arguments_pass_whole() {
        let p = start();
        p.init(
            "function main(p) { return { echo: p.big, made: 'x'.repeat(5 * 1024 * 1024) } }",
            "main",
            false,
        );
        let big = "y".repeat(5 * 1024 * 1024);
        let (s, v) = p.run(json!({"big": big}));
        assert_eq!(s, 200);
        assert_eq!(v["echo"].as_str().unwrap().len(), 5 * 1024 * 1024);
        assert_eq!(v["made"].as_str().unwrap().len(), 5 * 1024 * 1024);
    }

    #[test]
    fn an_enormous_body_is_refused_as_json_and_the_proxy_keeps_answering() {
        let p = start();
        assert_eq!(p.init(HELLO, "main", false).0, 200);
        let huge = vec![b'x'; 65 * 1024 * 1024];
        let (s, v, _) = p.post_raw("/run", &huge);
        assert_eq!(s, 413);
        assert!(v["error"].as_str().unwrap().contains("larger than"), "{v}");
        assert_eq!(p.run(json!({"name": "after"})), (200, json!({"greeting": "Hello after!"})));
    }

    #[test]
    fn non_json_bodies_and_runs_before_init_are_refused_without_harm() {
        let p = start();
        assert_eq!(p.run(json!({})).0, 403);
        let (s, _, _) = p.post_raw("/init", b"this is not json");
        assert_eq!(s, 403);
        assert_eq!(p.init(HELLO, "main", false).0, 200);
        let (s, _, _) = p.post_raw("/run", b"{not json");
        assert_eq!(s, 403);
        assert_eq!(p.run(json!("a string")).0, 403);
        assert_eq!(
            p.run(json!({"name": "still"})),
            (200, json!({"greeting": "Hello still!"}))
        );
    }
}
    };
}

macro_rules! python_suite {
    ($name:ident, $target:expr) => {
mod $name {
    use super::*;

    fn start() -> Proxy {
        Proxy::start($target)
    }

    #[test]
    fn hello_runs_and_exceptions_are_application_errors() {
        let p = start();
        let code = "def main(args):\n    if args.get('fail'):\n        raise ValueError('bad input')\n    return {'greeting': 'Hello ' + args.get('name', 'stranger') + '!'}\n";
        assert_eq!(p.init(code, "main", false), (200, json!({"ok": true})));
        assert_eq!(
            p.run(json!({"name": "☃"})),
            (200, json!({"greeting": "Hello ☃!"}))
        );
        assert_eq!(
            p.run(json!({"fail": true})),
            (200, json!({"error": "bad input"}))
        );
        assert_eq!(p.init(code, "main", false).0, 403);
    }

    #[test]
    fn overlapping_runs_are_answered_one_at_a_time_even_with_concurrency_allowed() {
        let p = Proxy::start_with($target, &[("__OW_ALLOW_CONCURRENT", "true")]);
        let code = "import time\ninside = 0\ndef main(args):\n    global inside\n    inside += 1\n    time.sleep(0.2)\n    seen = inside\n    inside -= 1\n    return {'seen': seen, 'n': args['n']}\n";
        assert_eq!(p.init(code, "main", false).0, 200);
        let answers: Vec<(u16, Value)> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..3).map(|n| { let p = &p; s.spawn(move || p.run(json!({"n": n}))) }).collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        for (n, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer, (200, json!({"seen": 1, "n": n})));
        }
    }

    #[test]
    fn the_environment_and_logs_reach_the_action_and_the_container() {
        let p = start();
        let code = "import os, sys\ndef run(args):\n    print('out line')\n    print('err line', file=sys.stderr)\n    return {'id': os.environ['__OW_ACTIVATION_ID'], 'init': os.environ['INIT_PARAM']}\n";
        assert_eq!(p.init(code, "run", false).0, 200);
        assert_eq!(
            p.run(json!({})),
            (
                200,
                json!({"id": "0123456789abcdef0123456789abcdef", "init": "secret"})
            )
        );
        let (out, err) = p.logs(1);
        assert_eq!(out, format!("out line\n{SENTINEL}\n"));
        assert!(err.ends_with(&format!("err line\n{SENTINEL}\n")), "{err}");
    }

    #[test]
    fn zip_actions_use_main_py_and_a_bundled_virtualenv() {
        let z = zip(&[
            (
                "__main__.py",
                "import helper\ndef main(args):\n    return {'from': helper.NAME}\n",
                0o644,
            ),
            (
                "virtualenv/lib/python3.11/site-packages/helper.py",
                "NAME = 'virtualenv package'\n",
                0o644,
            ),
        ]);
        let p = start();
        assert_eq!(p.init(&z, "main", true).0, 200);
        assert_eq!(
            p.run(json!({})),
            (200, json!({"from": "virtualenv package"}))
        );
        let without = start();
        let (s, v) = without.init(&zip(&[("x.py", "", 0o644)]), "main", true);
        assert_eq!(
            (s, v),
            (502, json!({"error": "The action failed to generate or locate a binary. See logs for details."}))
        );
        let (_, err) = without.logs(1);
        assert!(err.starts_with(&format!("Zip file does not include main__\n{SENTINEL}\n")), "{err}");
    }

    #[test]
    fn an_exit_or_unserializable_result_ends_the_process_as_command_exited_and_the_next_run_works() {
        let p = start();
        p.init("import sys\ndef main(a):\n    if a.get('exit'):\n        sys.exit(1)\n    if a.get('set'):\n        return {1, 2}\n    return {'ok': 1}\n", "main", false);
        let exited = (400, "{\"error\":\"command exited\"}\n".to_string(), None);
        assert_eq!(p.run_answer(json!({"exit": true})), exited);
        assert_eq!(p.run_answer(json!({"set": true})), exited);
        assert_eq!(p.run_answer(json!({})), (200, "{\"ok\": 1}\n".into(), None));
    }

    #[test]
    fn results_that_are_not_a_dictionary_or_array_are_refused_but_none_passes() {
        let p = start();
        p.init("def main(a):\n    return a.get('r')\n", "main", false);
        assert_eq!(
            p.run_answer(json!({"r": "text"})),
            (502, "{\"error\":\"The action did not return a dictionary or array.\"}\n".into(), None)
        );
        assert_eq!(p.run_answer(json!({})), (200, "null\n".into(), None));
        assert_eq!(p.run_answer(json!({"r": [1, "<&>"]})), (200, "[1, \"<&>\"]\n".into(), None));
    }

    #[test]
    fn code_that_does_not_parse_cannot_be_built_and_the_reason_is_logged() {
        let p = start();
        assert_eq!(
            p.init_answer("def main(a)\n    return a\n", "main"),
            (502, "{\"error\":\"The action failed to generate or locate a binary. See logs for details.\"}\n".into(), None)
        );
        let (_, err) = p.logs(1);
        assert!(err.starts_with(&format!("invalid syntax\n{SENTINEL}\n")) || err.starts_with(&format!("expected ':'\n{SENTINEL}\n")), "{err}");
    }

    #[test]
    fn code_that_exits_raises_or_lacks_main_while_imported_cannot_start() {
        for code in ["import sys\nsys.exit(1)\n", "raise Exception('at import')\n", "def niam(a):\n    return a\n", "   "] {
            let p = start();
            assert_eq!(
                p.init_answer(code, "main"),
                (502, "{\"error\":\"Cannot start action. Check logs for details.\"}\n".into(), None),
                "{code}"
            );
            let (_, err) = p.logs(1);
            assert!(err.contains(&format!("Command exited abruptly during initialization.\n{SENTINEL}\n")), "{code}: {err}");
        }
    }

    #[test]
    fn empty_code_is_refused_and_runs_before_init_find_no_action() {
        let p = start();
        assert_eq!(
            p.init_answer("", "main"),
            (403, "{\"error\":\"Missing main/no code to execute.\"}\n".into(), None)
        );
        assert_eq!(
            p.run_answer(json!({})),
            (500, "{\"error\":\"no action defined yet\"}\n".into(), None)
        );
        assert_eq!(p.init("def main(a):\n    return a\n", "", false).0, 200, "an empty main is main");
        assert_eq!(p.run(json!({"x": 1})), (200, json!({"x": 1})));
    }
}
    };
}

macro_rules! native_suite {
    ($name:ident, $target:expr) => {
mod $name {
    use super::*;

    fn start() -> Proxy {
        Proxy::start($target)
    }

    #[test]
    fn an_executable_gets_its_parameters_and_its_last_line_is_the_result() {
        let p = start();
        let script = "#!/bin/sh\necho \"a log line\"\necho \"err\" >&2\necho \"{\\\"args\\\": $1, \\\"ns\\\": \\\"$__OW_NAMESPACE\\\"}\"\n";
        assert_eq!(p.init(script, "main", false).0, 200);
        assert_eq!(
            p.run(json!({"x": 1})),
            (200, json!({"args": {"x": 1}, "ns": "guest"}))
        );
        let (out, _) = p.logs(1);
        assert_eq!(out, format!("a log line\n{SENTINEL}\n"));
    }

    #[test]
    fn a_zip_with_exec_runs_and_a_non_json_last_line_is_refused() {
        let z = zip(&[
            ("exec", "#!/bin/sh\n./helper.sh\n", 0o755),
            ("helper.sh", "#!/bin/sh\necho 'not json'\n", 0o755),
        ]);
        let p = start();
        assert_eq!(p.init(&z, "main", true).0, 200);
        assert_eq!(
            p.run(json!({})),
            (
                502,
                json!({"error": "The action did not return a dictionary or array."})
            )
        );
        let empty = start();
        let (s, v) = empty.init(&zip(&[("other", "x", 0o644)]), "main", true);
        assert_eq!(
            (s, v),
            (
                502,
                json!({"error": "The action failed to generate or locate a binary. See logs for details."})
            )
        );
    }
}
    };
}

macro_rules! actionloop_suite {
    ($name:ident, $target:expr) => {
mod $name {
    use super::*;

    fn start() -> Proxy {
        Proxy::start($target)
    }

    /// Speaks the actionloop protocol: acknowledges, then answers each line with the count of runs
    /// this process has served and the activation id it was given.
    const COUNTER: &str = "#!/bin/sh\n[ -n \"$__OW_WAIT_FOR_ACK\" ] && echo '{\"ok\":true}' >&3\nn=0\nwhile read -r line; do\n  n=$((n+1))\n  echo \"run $n\"\n  echo \"err $n\" >&2\n  case \"$line\" in *'\"exit\":true'*) exit 3;; *'\"text\":true'*) echo 'plain text' >&3; continue;; esac\n  echo \"{\\\"count\\\": $n, \\\"init\\\": \\\"$INIT_PARAM\\\"}\" >&3\ndone\n";

    #[test]
    fn an_actionloop_executable_is_started_once_and_serves_every_run() {
        let p = start();
        assert_eq!(p.init_answer(COUNTER, "main"), (200, "{\"ok\":true}\n".into(), None));
        assert_eq!(p.run(json!({})), (200, json!({"count": 1, "init": "secret"})));
        assert_eq!(p.run(json!({})), (200, json!({"count": 2, "init": "secret"})));
        let (out, err) = p.logs(2);
        assert_eq!(out, format!("run 1\n{SENTINEL}\nrun 2\n{SENTINEL}\n"));
        assert_eq!(err, format!("err 1\n{SENTINEL}\nerr 2\n{SENTINEL}\n"));
        assert_eq!(p.init(COUNTER, "main", false).0, 403);
    }

    #[test]
    fn a_zipped_executable_runs_and_an_exit_is_command_exited_then_a_fresh_process_serves() {
        let p = start();
        assert_eq!(p.init(&zip(&[("exec", COUNTER, 0o755)]), "main", true).0, 200);
        assert_eq!(p.run(json!({})).1["count"], 1);
        assert_eq!(
            p.run_answer(json!({"exit": true})),
            (400, "{\"error\":\"command exited\"}\n".into(), None)
        );
        assert_eq!(p.run(json!({})).1["count"], 1, "started again");
        assert_eq!(
            p.run_answer(json!({"text": true})),
            (502, "{\"error\":\"The action did not return a dictionary or array.\"}\n".into(), None)
        );
    }

    #[test]
    fn an_executable_that_exits_before_acknowledging_cannot_start() {
        let p = start();
        assert_eq!(
            p.init_answer("#!/bin/sh\nexit 1\n", "main"),
            (502, "{\"error\":\"Cannot start action. Check logs for details.\"}\n".into(), None)
        );
        let (_, err) = p.logs(1);
        assert!(err.contains(&format!("Command exited abruptly during initialization.\n{SENTINEL}\n")), "{err}");
        let q = start();
        let (s, v) = q.init(&zip(&[("other", "x", 0o644)]), "main", true);
        assert_eq!(
            (s, v),
            (502, json!({"error": "The action failed to generate or locate a binary. See logs for details."}))
        );
    }
}
    };
}

nodejs_suite!(nodejs_on_host, Target::Host("nodejs"));
nodejs_suite!(
    nodejs_v20_image,
    Target::Image("owl/action-nodejs-v20:latest")
);
nodejs_suite!(
    nodejs_v18_image,
    Target::Image("owl/action-nodejs-v18:latest")
);
python_suite!(python_on_host, Target::Host("python"));
python_suite!(
    python_v3_13_image,
    Target::Image("owl/action-python-v3.13:latest")
);
python_suite!(
    python_v3_11_image,
    Target::Image("owl/action-python-v3.11:latest")
);
native_suite!(native_on_host, Target::Host("native"));
actionloop_suite!(actionloop_on_host, Target::Host("actionloop"));
actionloop_suite!(actionloop_image, Target::Image("owl/actionloop:latest"));
native_suite!(
    native_blackbox_image,
    Target::Image("owl/dockerskeleton:latest")
);

/// The documented way to bring your own program: an image FROM the blackbox base with its own
/// `/action/exec`, run without code as `wsk action create --docker` does.
#[test]
fn an_image_built_from_the_blackbox_base_runs_its_own_exec() {
    const TAG: &str = "owl-test/derived-blackbox:latest";
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM owl/dockerskeleton:latest\nCOPY exec /action/exec\n",
    )
    .unwrap();
    let exec = ctx.path().join("exec");
    std::fs::write(&exec, "#!/bin/sh\necho \"{\\\"mine\\\": $1}\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&exec, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args([
            "build",
            "-q",
            "--label",
            "owl.test=actions-runtime",
            "-t",
            TAG,
        ])
        .arg(ctx.path())
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    {
        let p = Proxy::start(Target::Image(TAG));
        let body = json!({"value": {"name": "mine", "main": "main", "binary": false}});
        let (s, _, _) = p.post_raw("/init", body.to_string().as_bytes());
        assert_eq!(s, 200);
        assert_eq!(p.run(json!({"x": 1})), (200, json!({"mine": {"x": 1}})));
    }
    let _ = Command::new("docker").args(["rmi", "-f", TAG]).output();
}
