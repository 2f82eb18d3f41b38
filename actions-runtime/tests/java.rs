//! The Java runtime's image (kind java:8 and later) against what OpenWhisk's java8action answers
//! (openwhisk-runtime-java core/java8/proxy: Proxy.java, JarLoader.java, WhiskSecurityManager.java;
//! tests/src/test/scala/actionContainers/JavaActionContainerTests.scala): its words, its statuses
//! (502 for every failure, even a second init) and its logs.
//!
//! The actions are the classes of tests/fixtures/java/actions.jar, built from the sources beside it
//! by its build.sh (the jar is committed: neither this machine nor the image needs a JDK for the
//! tests).

mod common;
use common::*;

const IMAGE: &str = "owl/action-java-v21:latest";
const ERROR: &str = "An error has occurred (see logs for details): ";
const INVOKE_ERROR: &str =
    "An error has occurred while invoking the action (see logs for details): ";

fn start() -> Proxy {
    Proxy::start(Target::Image(IMAGE))
}

/// The test jar, base64 as `wsk action create x.jar --main ...` sends it.
fn jar() -> String {
    let bytes = include_bytes!("fixtures/java/actions.jar");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `/init`'s status and body text for code of the given kind.
fn init_text(p: &Proxy, code: &str, main: &str, binary: bool) -> (u16, String) {
    let (s, _, text, _) = p.post_answer("/init", &Proxy::init_body(code, main, binary));
    (s, text)
}

/// `/init` of the test jar with this `main`.
fn init_jar(p: &Proxy, main: &str) -> (u16, String) {
    init_text(p, &jar(), main, true)
}

/// `{"error": message}` as upstream's proxy writes it (Gson, compact).
fn error(message: &str) -> String {
    json!({ "error": message }).to_string()
}

fn started(main: &str) -> Proxy {
    let p = start();
    assert_eq!(init_jar(&p, main), (200, "OK".to_string()), "{main}");
    p
}

#[test]
fn a_jar_initializes_with_ok_and_its_main_class_runs_warm() {
    let p = started("example.Hello");
    assert_eq!(
        p.run(json!({"name": "☃"})),
        (200, json!({"greeting": "Hello ☃!"}))
    );
    assert_eq!(
        p.run(json!({})),
        (200, json!({"greeting": "Hello stranger!"}))
    );
}

#[test]
fn a_second_init_is_refused_with_502_and_the_action_keeps_running() {
    let p = started("example.Hello");
    assert_eq!(
        init_jar(&p, "example.Hello"),
        (502, error("Cannot initialize the action more than once."))
    );
    assert_eq!(
        p.run(json!({"name": "again"})),
        (200, json!({"greeting": "Hello again!"}))
    );
    let (_, err) = p.logs(1);
    assert!(
        err.contains("Cannot initialize the action more than once.\n"),
        "{err}"
    );
}

#[test]
fn a_method_named_after_the_hash_echoes_and_logs_on_both_streams() {
    let p = started("example.Hello#echo");
    let argss = [
        json!({"string": "hello"}),
        json!({"string": "❄ ☃ ❄"}),
        json!({"numbers": [42, 1]}),
        json!({"object": {"a": "A"}}),
        json!({"nested": {"list": [1, 2.5, null, true]}}),
    ];
    for args in &argss {
        assert_eq!(p.run(args.clone()), (200, args.clone()));
    }
    let (out, err) = p.logs(argss.len());
    assert_eq!(
        out,
        format!("hello stdout\n{SENTINEL}\n").repeat(argss.len())
    );
    assert_eq!(
        err,
        format!("hello stderr\n{SENTINEL}\n").repeat(argss.len())
    );
}

#[test]
fn unicode_passes_in_parameters_logs_and_results() {
    let p = started("example.Hello#unicode");
    assert_unicode_round_trip(&p);
}

#[test]
fn the_activation_context_is_in_system_getenv_and_follows_each_activation() {
    let p = started("example.Hello#env");
    assert_eq!(
        p.run(json!({})),
        (
            200,
            json!({"api_host": "http://owl.test", "api_key": "uuid:key", "namespace": "guest",
                "action_name": "/guest/action", "action_version": "0.0.1",
                "activation_id": "0123456789abcdef0123456789abcdef", "transaction_id": "tid-1",
                "deadline": "1717000060000"})
        )
    );
    // Upstream sets every key but `value` whose value has a string form: numbers too.
    let body = json!({"value": {}, "namespace": "other", "action_name": "/other/b",
        "activation_id": "second", "transaction_id": "tid-2", "deadline": 1717000099000u64,
        "api_key": "k:2", "api_host": "http://elsewhere"});
    let (s, v, _) = p.post_raw("/run", body.to_string().as_bytes());
    assert_eq!(
        (s, v),
        (
            200,
            json!({"api_host": "http://elsewhere", "api_key": "k:2", "namespace": "other",
                "action_name": "/other/b", "action_version": "0.0.1", "activation_id": "second",
                "transaction_id": "tid-2", "deadline": "1717000099000"})
        )
    );
}

#[test]
fn an_exception_is_a_502_naming_it_with_its_stack_trace_in_the_log() {
    let p = started("example.Problems");
    assert_eq!(
        p.run_answer(json!({})),
        (
            502,
            error(&format!("{INVOKE_ERROR}java.lang.Exception: noooooooo")),
            None
        )
    );
    let (out, err) = p.logs(1);
    assert_eq!(out, format!("{SENTINEL}\n"));
    assert!(
        err.starts_with("java.lang.Exception: noooooooo\n\tat example.Problems.main("),
        "{err}"
    );
    // Java 8's NullPointerException has no details: nor has this one.
    let q = started("example.Problems#npe");
    assert_eq!(
        q.run_answer(json!({})),
        (
            502,
            error(&format!("{INVOKE_ERROR}java.lang.NullPointerException")),
            None
        )
    );
}

#[test]
fn an_error_result_is_an_ordinary_result_and_nothing_else_is_logged() {
    let p = started("example.Problems#unhappy");
    assert_eq!(
        p.run(json!({})),
        (200, json!({"error": "This action is unhappy."}))
    );
    let (out, err) = p.logs(1);
    assert_eq!(
        (out, err),
        (format!("{SENTINEL}\n"), format!("{SENTINEL}\n"))
    );
}

#[test]
fn system_exit_is_refused_as_an_error_and_the_jvm_keeps_its_state() {
    let p = started("example.Quitter");
    assert_eq!(p.run(json!({})), (200, json!({"runs": 1})));
    assert_eq!(
        p.run_answer(json!({"exit": 1})),
        (
            502,
            error(&format!(
                "{INVOKE_ERROR}java.lang.SecurityException: System.exit(1) called from within an action."
            )),
            None
        )
    );
    // The same JVM: the class's static state counted the refused run too.
    assert_eq!(p.run(json!({})), (200, json!({"runs": 3})));
    let (_, err) = p.logs(3);
    assert!(
        err.contains("System.exit(1) called from within an action."),
        "{err}"
    );
}

#[test]
fn null_and_methods_that_cannot_answer_json_fail_at_run_not_at_init() {
    let p = started("example.Problems#nuller");
    assert_eq!(
        p.run_answer(json!({})),
        (
            502,
            error(&format!(
                "{ERROR}java.lang.NullPointerException: The action returned null"
            )),
            None
        )
    );
    let (_, err) = p.logs(1);
    assert!(
        err.starts_with("java.lang.NullPointerException: The action returned null\n"),
        "{err}"
    );
    // A method of that name is all init checks; its signature is checked at each run.
    for method in ["text", "instance"] {
        let q = started(&format!("example.Problems#{method}"));
        assert_eq!(
            q.run_answer(json!({})),
            (
                502,
                error(&format!("{ERROR}java.lang.NoSuchMethodException: {method}")),
                None
            )
        );
    }
}

#[test]
fn arrays_in_and_out_use_the_overload_for_the_values_type() {
    let p = started("HelloArrayWhisk");
    assert_eq!(
        p.run_answer(json!({})),
        (200, r#"["a","b"]"#.to_string(), None)
    );
    assert_eq!(p.run(json!(["a", "b", 3])), (200, json!(["a", "b", 3])));
    let q = started("example.Hello");
    assert_eq!(
        q.run_answer(json!([1, 2])),
        (
            502,
            error(&format!(
                "{ERROR}java.lang.NoSuchMethodException: example.Hello.main(com.google.gson.JsonArray)"
            )),
            None
        )
    );
}

#[test]
fn a_main_class_in_the_default_package_runs_with_quiet_logs() {
    let p = started("HelloWhisk");
    assert_eq!(p.run(json!({"a": "A"})), (200, json!({"a": "A"})));
    let (out, err) = p.logs(1);
    assert_eq!(
        (out, err),
        (format!("{SENTINEL}\n"), format!("{SENTINEL}\n"))
    );
}

#[test]
fn classes_of_the_jar_load_through_the_callers_and_the_threads_class_loader() {
    let p = started("example.EntryPoint");
    for loader in ["local", "thread"] {
        assert_eq!(
            p.run(json!({"classLoader": loader})),
            (200, json!({"message": "dynamic!"})),
            "{loader}"
        );
    }
}

#[test]
fn large_arguments_and_results_pass_whole() {
    let p = started("example.Hello#big");
    let big = "y".repeat(5 * 1024 * 1024);
    let (s, v) = p.run(json!({"big": big}));
    assert_eq!(s, 200);
    assert_eq!(v["echo"].as_str().unwrap(), big);
    assert_eq!(v["made"].as_str().unwrap().len(), 5 * 1024 * 1024);
    // And again in the same JVM.
    let (s, v) = p.run(json!({"big": "small"}));
    assert_eq!((s, &v["echo"]), (200, &json!("small")));
}

#[test]
fn a_main_that_names_no_class_or_method_of_the_jar_fails_init_with_upstreams_words() {
    // JavaActionContainerTests: "report an error if explicit 'main' is not found"; Greeter has
    // only `hello`.
    let cases = [
        ("", "java.lang.NoSuchMethodException: main"),
        ("x", "java.lang.ClassNotFoundException: example.Greeterx"),
        ("!", "java.lang.ClassNotFoundException: example.Greeter!"),
        ("#", "java.lang.NoSuchMethodException: main"),
        ("#main", "java.lang.NoSuchMethodException: main"),
        ("#bogus", "java.lang.NoSuchMethodException: bogus"),
    ];
    for (suffix, why) in cases {
        let p = start();
        let main = format!("example.Greeter{suffix}");
        assert_eq!(
            init_jar(&p, &main),
            (502, error(&format!("{ERROR}{why}"))),
            "{main}"
        );
        let (out, err) = p.logs(1);
        assert_eq!(out, format!("{SENTINEL}\n"), "{main}");
        assert!(err.starts_with(&format!("{why}\n\tat ")), "{main}: {err}");
    }
}

#[test]
fn after_a_failed_init_runs_find_no_action_and_init_may_be_tried_again() {
    let p = start();
    assert_eq!(
        init_jar(&p, "example.Missing"),
        (
            502,
            error(&format!(
                "{ERROR}java.lang.ClassNotFoundException: example.Missing"
            ))
        )
    );
    assert_eq!(
        p.run_answer(json!({})),
        (502, error("Cannot invoke an uninitialized action."), None)
    );
    assert_eq!(init_jar(&p, "example.Hello"), (200, "OK".to_string()));
    assert_eq!(
        p.run(json!({"name": "now"})),
        (200, json!({"greeting": "Hello now!"}))
    );
}

#[test]
fn code_that_is_not_a_base64_jar_fails_init() {
    // Upstream decodes `code` as base64 whatever `binary` says (Java 8's decoder calls every
    // illegal character -1).
    let p = start();
    assert_eq!(
        init_text(&p, "public class X { }", "X", false),
        (
            502,
            error(&format!(
                "{ERROR}java.io.IOException: Illegal base64 character -1"
            ))
        )
    );
    // A zip that holds no class (JavaActionContainerTests: "fail to initialize with bad code").
    let q = start();
    let broken = zip(&[("notaclassfile", "saucisson\n", 0o644)]);
    assert_eq!(
        init_text(&q, &broken, "example.Broken", true),
        (
            502,
            error(&format!(
                "{ERROR}java.lang.ClassNotFoundException: example.Broken"
            ))
        )
    );
    let (out, err) = q.logs(1);
    assert!((out + &err).to_lowercase().contains("exception"));
    // Empty code is an empty jar.
    let r = start();
    assert_eq!(
        init_text(&r, "", "example.Hello", true),
        (
            502,
            error(&format!(
                "{ERROR}java.lang.ClassNotFoundException: example.Hello"
            ))
        )
    );
}

#[test]
fn an_init_without_code_or_main_and_a_run_before_init_are_502s() {
    let p = start();
    assert_eq!(
        p.run_answer(json!({})),
        (502, error("Cannot invoke an uninitialized action."), None)
    );
    for body in [
        json!({"value": {}}),
        json!({"value": {"main": "example.Hello"}}),
        json!({"value": {"code": jar()}}),
    ] {
        let (s, _, text) = p.post_raw("/init", body.to_string().as_bytes());
        assert_eq!((s, text), (502, error("Missing main/no code to execute.")));
    }
    assert_eq!(init_jar(&p, "example.Hello").0, 200);
}

#[test]
fn a_failing_static_initialiser_runs_at_the_first_activation_and_ends_the_action() {
    // Loading runs no code of the action; the initialiser's error is not an exception upstream's
    // proxy catches: its server dies with it.
    let p = started("example.BadInit");
    assert_eq!(
        p.run_answer(json!({})),
        (
            502,
            error("The action did not produce a valid response and exited unexpectedly."),
            Some("exited".to_string())
        )
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p
        .stderr
        .lock()
        .unwrap()
        .contains("java.lang.ExceptionInInitializerError")
    {
        assert!(Instant::now() < deadline, "{}", p.stderr.lock().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn logs_go_to_stdout_and_stderr_followed_by_sentinels_on_both() {
    let p = started("example.Hello#logs");
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
