//! The action interface of Owl's Go runtime image (Debian trixie's Go 1.24, for OpenWhisk's go:1.20
//! kind), with the words and statuses of upstream's golang images (openwhisk-runtime-go: the
//! actionloop proxy, golang1.20/bin/compile and lib/launcher.go) and the cases of upstream's own
//! suites (ActionLoopGoContainerTests, ActionLoopBasicGoTests). A container per test.
//!
//! Precompiled actions are built in the test by the image under test (its `/opt/owl/compile`, in a
//! throwaway container), as upstream's `-compile` builds them with its own image: no binary is
//! committed, and the executable is the one this very toolchain and launcher make.

mod common;
use common::*;

const IMAGE: &str = "owl/action-golang-v1.24:latest";

fn start() -> Proxy {
    Proxy::start(Target::Image(IMAGE))
}

/// Upstream's `helloGo(main, "main")`: the function `main` capitalised, answering `{"main-<main>": ...}`.
fn hello_go(main: &str) -> String {
    let mut func = main[..1].to_uppercase();
    func.push_str(&main[1..].to_lowercase());
    format!(
        "package main\n\nimport \"fmt\"\n\nfunc {func}(obj map[string]interface{{}}) map[string]interface{{}} {{\n\
         \tname, ok := obj[\"name\"].(string)\n\tif !ok {{\n\t\tname = \"Stranger\"\n\t}}\n\
         \tfmt.Printf(\"name=%s\\n\", name)\n\tmsg := make(map[string]interface{{}})\n\
         \tmsg[\"main-{main}\"] = \"Hello, \" + name + \"!\"\n\treturn msg\n}}\n"
    )
}

const ECHO: &str = "package main\n\nfunc Main(args map[string]interface{}) map[string]interface{} {\n\treturn args\n}\n";

const CANNOT_BUILD: &str =
    "{\"error\":\"The action failed to generate or locate a binary. See logs for details.\"}\n";
const CANNOT_START: &str = "{\"error\":\"Cannot start action. Check logs for details.\"}\n";
const COMMAND_EXITED: &str = "{\"error\":\"command exited\"}\n";
const NOT_A_DICTIONARY: &str = "{\"error\":\"The action did not return a dictionary or array.\"}\n";

/// `docker run -i <image> -compile <main>` with `source` on stdin: the status, stdout and stderr.
fn compile_flag(source: &str, main: &str) -> (bool, Vec<u8>, String) {
    let mut child = Command::new("docker")
        .args([
            "run",
            "--rm",
            "-i",
            "--label",
            "owl.test=actions-runtime",
            IMAGE,
            "-compile",
            main,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(source.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The executable the image builds from `source` for `main` (`-compile`, in a throwaway container).
fn precompiled(source: &str, main: &str) -> Vec<u8> {
    let (ok, zipped, err) = compile_flag(source, main);
    assert!(ok, "compile: {err}");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped)).unwrap();
    let mut exec = archive.by_name("exec").unwrap();
    assert_eq!(exec.unix_mode().map(|m| m & 0o777), Some(0o755));
    let mut bytes = Vec::new();
    exec.read_to_end(&mut bytes).unwrap();
    assert!(bytes.starts_with(b"\x7fELF"));
    bytes
}

#[test]
fn the_compile_flag_makes_the_zip_of_a_precompiled_action_or_says_why_not() {
    let (ok, zipped, _) = compile_flag(&hello_go("hello"), "hello");
    assert!(ok);
    let p = start();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&zipped);
    assert_eq!(
        init_binary_answer(&p, &b64, "main"),
        (200, "{\"ok\":true}\n".into(), None)
    );
    assert_eq!(
        p.run(json!({"name": "Zip"})),
        (200, json!({"main-hello": "Hello, Zip!"}))
    );
    let (ok, zipped, err) = compile_flag(
        "package main\nfunc Main(a map[string]interface{}) map[string]interface{} {\n  return nope\n}\n",
        "main",
    );
    assert!(!ok && zipped.is_empty());
    assert!(err.contains("undefined: nope"), "{err}");
}

#[test]
fn hello_source_compiles_at_init_runs_warm_and_init_is_refused_afterwards() {
    let p = start();
    assert_eq!(
        p.init_answer(&hello_go("main"), "main"),
        (200, "{\"ok\":true}\n".into(), None)
    );
    assert_eq!(
        p.run_answer(json!({"name": "Demo"})),
        (200, "{\"main-main\":\"Hello, Demo!\"}\n".into(), None)
    );
    assert_eq!(
        p.run(json!({})),
        (200, json!({"main-main": "Hello, Stranger!"}))
    );
    assert_eq!(
        p.init_answer(&hello_go("main"), "main"),
        (
            403,
            "{\"error\":\"Cannot initialize the action more than once.\"}\n".into(),
            None
        )
    );
    let (out, _) = p.logs(2);
    assert_eq!(
        out,
        format!("name=Demo\n{SENTINEL}\nname=Stranger\n{SENTINEL}\n")
    );
}

#[test]
fn an_empty_main_is_main_and_another_main_names_its_function_capitalised() {
    let p = start();
    assert_eq!(p.init(&hello_go("main"), "", false).0, 200);
    assert_eq!(
        p.run(json!({"name": "Demo"})),
        (200, json!({"main-main": "Hello, Demo!"}))
    );
    let q = start();
    assert_eq!(q.init(&hello_go("hello"), "hello", false).0, 200);
    assert_eq!(
        q.run(json!({"name": "Demo"})),
        (200, json!({"main-hello": "Hello, Demo!"}))
    );
    // As Python's str.capitalize in upstream's compile: the rest of the name is lowered.
    let r = start();
    let code =
        "package main\n\nfunc Sayhello(args map[string]any) map[string]any {\n\treturn args\n}\n";
    assert_eq!(r.init(code, "sayHello", false).0, 200);
    assert_eq!(
        r.run(json!({"string": "hello"})),
        (200, json!({"string": "hello"}))
    );
}

#[test]
fn echo_returns_unicode_numbers_and_nested_values_in_go_json() {
    let p = start();
    assert_eq!(p.init(ECHO, "main", false).0, 200);
    for v in [
        json!({"string": "hello"}),
        json!({"string": "❄ ☃ ❄"}),
        json!({"numbers": [42, 1]}),
        json!({"object": {"a": "A"}}),
        json!({"text": "☃ 雪 ❄ \u{1F600}", "nested": {"list": [1, 2.5, null, true]}}),
    ] {
        assert_eq!(p.run(v.clone()), (200, v));
    }
    // encoding/json: keys sorted, `<`, `>` and `&` escaped, numbers as float64.
    assert_eq!(
        p.run_answer(json!({"b": "<&>", "a": 12345678901234567890u64})),
        (
            200,
            "{\"a\":12345678901234567000,\"b\":\"\\u003c\\u0026\\u003e\"}\n".into(),
            None
        )
    );
}

#[test]
fn unicode_in_source_arguments_logs_and_result() {
    let p = start();
    let code = "package main\nimport \"fmt\"\nfunc Main(args map[string]interface{}) map[string]interface{} {\n\
                \tdelimiter := args[\"delimiter\"].(string)\n\tstr := delimiter + \" ☃ \" + delimiter\n\
                \tfmt.Println(str)\n\treturn map[string]interface{}{\"winter\": str}\n}\n";
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_unicode_round_trip(&p);
}

#[test]
fn the_activation_context_and_the_init_environment_are_in_the_environment() {
    let p = start();
    let code = "package main\nimport \"os\"\nfunc Main(args map[string]interface{}) map[string]interface{} {\n\
                \tres := make(map[string]interface{})\n\
                \tfor _, k := range []string{\"__OW_API_HOST\", \"__OW_API_KEY\", \"__OW_NAMESPACE\", \"__OW_ACTION_NAME\",\n\
                \t\t\"__OW_ACTION_VERSION\", \"__OW_ACTIVATION_ID\", \"__OW_TRANSACTION_ID\", \"__OW_DEADLINE\", \"INIT_PARAM\"} {\n\
                \t\tres[k] = os.Getenv(k)\n\t}\n\treturn res\n}\n";
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(
        p.run(json!({})),
        (
            200,
            json!({"__OW_API_HOST": "http://owl.test", "__OW_API_KEY": "uuid:key", "__OW_NAMESPACE": "guest",
                   "__OW_ACTION_NAME": "/guest/action", "__OW_ACTION_VERSION": "0.0.1",
                   "__OW_ACTIVATION_ID": "0123456789abcdef0123456789abcdef", "__OW_TRANSACTION_ID": "tid-1",
                   "__OW_DEADLINE": "1717000060000", "INIT_PARAM": "secret"})
        )
    );
    let (out, err) = p.logs(1);
    assert_eq!(out, format!("{SENTINEL}\n"));
    assert!(
        err.ends_with(&format!("\n{SENTINEL}\n")) || err == format!("{SENTINEL}\n"),
        "{err}"
    );
}

#[test]
fn logs_go_to_stdout_and_stderr_followed_by_sentinels_on_both() {
    let p = start();
    let code = "package main\nimport \"fmt\"\nimport \"log\"\nfunc Main(args map[string]interface{}) map[string]interface{} {\n\
                \tfmt.Println(\"hello stdout\")\n\tlog.Println(\"hello stderr\")\n\treturn args\n}\n";
    assert_eq!(p.init(code, "main", false).0, 200);
    p.run(json!({}));
    p.run(json!({}));
    let (out, err) = p.logs(2);
    assert_eq!(
        out,
        format!("hello stdout\n{SENTINEL}\nhello stdout\n{SENTINEL}\n")
    );
    // log.Println writes a date and time first.
    let lines: Vec<&str> = err.lines().rev().take(4).collect();
    assert_eq!(lines[0], SENTINEL, "{err}");
    assert!(lines[1].ends_with(" hello stderr"), "{err}");
    assert_eq!(lines[2], SENTINEL, "{err}");
    assert!(lines[3].ends_with(" hello stderr"), "{err}");
}

#[test]
fn an_error_in_the_result_is_a_result_and_arrays_go_both_ways() {
    let p = start();
    let code = "package main\nfunc Main(args map[string]interface{}) map[string]interface{} {\n\
                \treturn map[string]interface{}{\"error\": \"bad input\"}\n}\n";
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(
        p.run_answer(json!({})),
        (200, "{\"error\":\"bad input\"}\n".into(), None)
    );
    // Upstream's "support return array result" and "support array as input param".
    let q = start();
    let arrays = "package main\n\nfunc Main(obj []interface{}) []interface{} {\n\treturn append(obj, \"z\")\n}\n";
    assert_eq!(q.init(arrays, "main", false).0, 200);
    assert_eq!(
        q.run_answer(json!(["a", "b"])),
        (200, "[\"a\",\"b\",\"z\"]\n".into(), None)
    );
}

#[test]
fn nil_passes_as_null_and_results_encoding_json_refuses_are_not_a_dictionary() {
    let p = start();
    let code = "package main\nimport \"math\"\nfunc Main(args map[string]interface{}) map[string]interface{} {\n\
                \tif args[\"nan\"] != nil {\n\t\treturn map[string]interface{}{\"x\": math.NaN()}\n\t}\n\
                \tif args[\"nil\"] != nil {\n\t\treturn nil\n\t}\n\treturn args\n}\n";
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(
        p.run_answer(json!({"nil": true})),
        (200, "null\n".into(), None)
    );
    // The launcher answers `{ error: "json: unsupported value: NaN"}`, which is not JSON.
    assert_eq!(
        p.run_answer(json!({"nan": true})),
        (502, NOT_A_DICTIONARY.into(), None)
    );
    // A value neither object nor array reaches the function as a nil map, which echoes as null.
    assert_eq!(p.run_answer(json!("text")), (200, "null\n".into(), None));
    assert_eq!(
        p.run_answer(json!({"x": 1})),
        (200, "{\"x\":1}\n".into(), None)
    );
    let (_, err) = p.logs(4);
    assert!(err.contains(" json: unsupported value: NaN\n"), "{err}");
}

#[test]
fn a_whole_program_runs_its_own_main_and_its_non_json_line_is_not_a_dictionary() {
    // Upstream's testNotReturningJson: `package main` with `func main()` gets no launcher.
    let p = start();
    let code = "package main\nimport (\n\t\"bufio\"\n\t\"fmt\"\n\t\"os\"\n)\nfunc main() {\n\
                \treader := bufio.NewReader(os.Stdin)\n\tout := os.NewFile(3, \"pipe\")\n\tdefer out.Close()\n\
                \tfmt.Fprintf(out, `{ \"ok\": true}%s`, \"\\n\")\n\treader.ReadBytes('\\n')\n\
                \tfmt.Fprintln(out, \"a string but not a map\")\n\treader.ReadBytes('\\n')\n}\n";
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(
        p.run_answer(json!({})),
        (502, NOT_A_DICTIONARY.into(), None)
    );
}

#[test]
fn a_function_whose_result_is_not_a_map_or_slice_cannot_start() {
    let p = start();
    let code = "package main\nfunc Main(args map[string]interface{}) string {\n\treturn \"x\"\n}\n";
    assert_eq!(
        p.init_answer(code, "main"),
        (502, CANNOT_START.into(), None)
    );
    let (out, err) = p.logs(1);
    assert_eq!(
        out,
        format!("Support map and slice and array only\n{SENTINEL}\n")
    );
    assert!(
        err.contains(&format!(
            "Command exited abruptly during initialization.\n{SENTINEL}\n"
        )),
        "{err}"
    );
}

#[test]
fn an_exit_or_panic_while_loading_cannot_start() {
    for code in [
        "package main\nimport \"os\"\nfunc init() { os.Exit(1) }\nfunc Main(args map[string]interface{}) map[string]interface{} {\n\treturn args\n}\n",
        "package main\nvar x = func() int { panic(\"at load\") }()\nfunc Main(args map[string]interface{}) map[string]interface{} {\n\treturn args\n}\n",
    ] {
        let p = start();
        assert_eq!(
            p.init_answer(code, "main"),
            (502, CANNOT_START.into(), None),
            "{code}"
        );
        let (_, err) = p.logs(1);
        assert!(
            err.contains(&format!(
                "Command exited abruptly during initialization.\n{SENTINEL}\n"
            )),
            "{code}: {err}"
        );
    }
}

#[test]
fn a_panic_or_exit_while_running_is_command_exited_and_the_next_run_works() {
    // Upstream's proxy then drops its executor and answers every later run 500 `no action
    // defined yet`; Owl starts the executable again.
    let p = start();
    let code = "package main\nimport \"os\"\nfunc Main(args map[string]interface{}) map[string]interface{} {\n\
                \tif args[\"panic\"] != nil {\n\t\tpanic(\"boom\")\n\t}\n\
                \tif args[\"exit\"] != nil {\n\t\tos.Exit(3)\n\t}\n\treturn args\n}\n";
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(
        p.run_answer(json!({"panic": true})),
        (400, COMMAND_EXITED.into(), None)
    );
    assert_eq!(p.run(json!({"a": 1})), (200, json!({"a": 1})));
    assert_eq!(
        p.run_answer(json!({"exit": true})),
        (400, COMMAND_EXITED.into(), None)
    );
    assert_eq!(p.run(json!({"a": 2})), (200, json!({"a": 2})));
    // A map-taking function given an array panics in reflect's Call, as upstream's does.
    assert_eq!(
        p.run_answer(json!([1, 2])),
        (400, COMMAND_EXITED.into(), None)
    );
    let (_, err) = p.logs(5);
    assert!(err.contains("panic: boom"), "{err}");
}

#[test]
fn code_that_does_not_compile_fails_init_with_the_compilers_words_in_the_log() {
    let p = start();
    let code = "package main\n\nfunc Main(args map[string]interface{}) map[string]interface{} {\n\treturn args\n";
    assert_eq!(
        p.init_answer(code, "main"),
        (502, CANNOT_BUILD.into(), None)
    );
    let (_, err) = p.logs(1);
    let words = err.find("exec__.go:5:1: syntax error: unexpected EOF, expected }");
    let sentinel = err.find(SENTINEL);
    assert!(words.is_some() && words < sentinel, "{err}");
}

#[test]
fn a_main_without_its_function_fails_to_compile() {
    // upstream's compile renames the launcher's call: `niam` needs `func Niam`.
    let p = start();
    assert_eq!(
        p.init_answer(ECHO, "niam"),
        (502, CANNOT_BUILD.into(), None)
    );
    let (_, err) = p.logs(1);
    assert!(err.contains("undefined: Niam"), "{err}");
}

#[test]
fn a_failed_init_leaves_no_action_and_init_may_be_tried_again() {
    let p = start();
    assert_eq!(
        p.init_answer("", "main"),
        (
            403,
            "{\"error\":\"Missing main/no code to execute.\"}\n".into(),
            None
        )
    );
    assert_eq!(
        p.run_answer(json!({})),
        (500, "{\"error\":\"no action defined yet\"}\n".into(), None)
    );
    assert_eq!(p.init_answer("package main\n", "main").0, 502);
    // The actionloop proxy marks itself initialized only when the action started.
    assert_eq!(
        p.run_answer(json!({})),
        (500, "{\"error\":\"no action defined yet\"}\n".into(), None)
    );
    assert_eq!(p.init(ECHO, "main", false).0, 200);
    assert_eq!(p.run(json!({"x": 1})), (200, json!({"x": 1})));
}

#[test]
fn large_arguments_and_results_pass_whole() {
    let p = start();
    let code = "package main\nimport \"strings\"\nfunc Main(args map[string]interface{}) map[string]interface{} {\n\
                \tif n, ok := args[\"n\"].(float64); ok {\n\t\treturn map[string]interface{}{\"big\": strings.Repeat(\"x\", int(n))}\n\t}\n\
                \treturn args\n}\n";
    assert_eq!(p.init(code, "main", false).0, 200);
    let arg = json!({"arg": "a".repeat(4 << 20)});
    assert_eq!(p.run(arg.clone()), (200, arg));
    let (s, v) = p.run(json!({"n": 3 << 20}));
    assert_eq!(s, 200);
    assert_eq!(v["big"].as_str().map(str::len), Some(3 << 20));
}

#[test]
fn overlapping_runs_are_answered_one_at_a_time() {
    let p = Proxy::start_with(Target::Image(IMAGE), &[("__OW_ALLOW_CONCURRENT", "true")]);
    let code = "package main\nimport \"time\"\nvar inside = 0\nfunc Main(args map[string]interface{}) map[string]interface{} {\n\
                \tinside++\n\ttime.Sleep(200 * time.Millisecond)\n\tseen := inside\n\tinside--\n\
                \treturn map[string]interface{}{\"seen\": seen, \"n\": args[\"n\"]}\n}\n";
    assert_eq!(p.init(code, "main", false).0, 200);
    let answers: Vec<(u16, Value)> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..3)
            .map(|n| {
                let p = &p;
                s.spawn(move || p.run(json!({"n": n})))
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for (n, answer) in answers.into_iter().enumerate() {
        assert_eq!(answer, (200, json!({"seen": 1, "n": n})));
    }
}

#[test]
fn zipped_sources_compile_with_main_and_another_main() {
    let p = start();
    let z = zip(&[("main.go", hello_go("main").as_str(), 0o644)]);
    assert_eq!(p.init(&z, "main", true).0, 200);
    assert_eq!(
        p.run(json!({"name": "Demo"})),
        (200, json!({"main-main": "Hello, Demo!"}))
    );
    let q = start();
    let z = zip(&[("hello.go", hello_go("hello").as_str(), 0o644)]);
    assert_eq!(q.init(&z, "hello", true).0, 200);
    assert_eq!(
        q.run(json!({"name": "Demo"})),
        (200, json!({"main-hello": "Hello, Demo!"}))
    );
}

#[test]
fn a_zip_of_several_sources_with_a_sub_package_and_go_mod_compiles() {
    // Upstream's "deploy a zip main src with subdir".
    let hello = "package hello\n\nimport \"fmt\"\n\nfunc Hello(obj map[string]interface{}) map[string]interface{} {\n\
                 \tname, ok := obj[\"name\"].(string)\n\tif !ok {\n\t\tname = \"Stranger\"\n\t}\n\
                 \tfmt.Printf(\"name=%s\\n\", name)\n\treturn map[string]interface{}{\"hello-Hello\": \"Hello, \" + name + \"!\"}\n}\n";
    let z = zip(&[
        ("hello/hello.go", hello, 0o644),
        ("hello/go.mod", "module hello\n", 0o644),
        (
            "main.go",
            "package main\nimport \"hello\"\nfunc Main(args map[string]interface{})map[string]interface{} {\n return hello.Hello(args)\n}\n",
            0o644,
        ),
        (
            "go.mod",
            "module action\nreplace hello => ./hello\nrequire hello v0.0.0-00010101000000-000000000000\n",
            0o644,
        ),
        ("util.go", "package main\n\nconst unused = 1\n", 0o644),
    ]);
    let p = start();
    assert_eq!(p.init(&z, "main", true).0, 200);
    assert_eq!(
        p.run(json!({"name": "Demo"})),
        (200, json!({"hello-Hello": "Hello, Demo!"}))
    );
}

#[test]
fn a_zip_with_vendored_modules_compiles_offline_and_missing_modules_fail() {
    let z = zip(&[
        (
            "go.mod",
            "module action\n\ngo 1.20\n\nrequire example.com/greet v1.0.0\n",
            0o644,
        ),
        (
            "vendor/modules.txt",
            "# example.com/greet v1.0.0\n## explicit\nexample.com/greet\n",
            0o644,
        ),
        (
            "vendor/example.com/greet/greet.go",
            "package greet\n\nfunc Greet(n string) string { return \"Greetings, \" + n }\n",
            0o644,
        ),
        (
            "main.go",
            "package main\n\nimport \"example.com/greet\"\n\nfunc Main(args map[string]interface{}) map[string]interface{} {\n\
             \treturn map[string]interface{}{\"greeting\": greet.Greet(\"vendor\")}\n}\n",
            0o644,
        ),
    ]);
    let p = start();
    assert_eq!(p.init(&z, "main", true).0, 200);
    assert_eq!(
        p.run(json!({})),
        (200, json!({"greeting": "Greetings, vendor"}))
    );
    // Nothing is downloaded: a requirement that is not in the zip cannot be found.
    let missing = zip(&[
        (
            "go.mod",
            "module action\n\ngo 1.20\n\nrequire example.com/greet v1.0.0\n",
            0o644,
        ),
        (
            "main.go",
            "package main\n\nimport \"example.com/greet\"\n\nfunc Main(args map[string]interface{}) map[string]interface{} {\n\
             \treturn map[string]interface{}{\"greeting\": greet.Greet(\"vendor\")}\n}\n",
            0o644,
        ),
    ]);
    let q = start();
    assert_eq!(
        init_binary_answer(&q, &missing, "main"),
        (502, CANNOT_BUILD.into(), None)
    );
    let (_, err) = q.logs(1);
    assert!(err.contains("example.com/greet"), "{err}");
}

#[test]
fn a_zip_with_a_precompiled_exec_runs_as_it_is_whatever_main_says() {
    // As upstream's `-compile hello` output: the executable and its exec.env; upstream's proxy
    // decides by the file's first bytes (ELF or #!), not its mode, and makes it executable. Built
    // for `hello`, it runs Hello though init says `main`: it is not compiled again.
    let exec = precompiled(&hello_go("hello"), "hello");
    let z = zip_bytes(&[
        ("exec", exec.as_slice(), 0o644),
        (
            "exec.env",
            b"openwhisk/action-golang-v1.20".as_slice(),
            0o644,
        ),
    ]);
    let p = start();
    assert_eq!(
        init_binary_answer(&p, &z, "main"),
        (200, "{\"ok\":true}\n".into(), None)
    );
    assert_eq!(
        p.run(json!({"name": "Demo"})),
        (200, json!({"main-hello": "Hello, Demo!"}))
    );
    // A bare executable, base64 as binary code, runs as well. (Upstream's golang image would refuse
    // it, and any zip without a bin/exec.env equal to its OW_EXECUTION_ENV, with `Cannot start
    // action`: Owl does not check the version an executable was built for.)
    let q = start();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&exec);
    assert_eq!(q.init(&b64, "main", true).0, 200);
    assert_eq!(
        q.run(json!({"name": "Bare"})),
        (200, json!({"main-hello": "Hello, Bare!"}))
    );
}

#[test]
fn a_script_given_as_code_is_run_as_it_is_not_compiled() {
    // upstream's proxy takes any file starting with #! as already compiled.
    let script = "#!/bin/sh\necho '{\"ok\":true}' >&3\nwhile read -r line; do echo '{\"script\":true}' >&3; done\n";
    let p = start();
    assert_eq!(p.init(script, "main", false).0, 200);
    assert_eq!(p.run(json!({})), (200, json!({"script": true})));
    let q = start();
    assert_eq!(
        q.init(&zip(&[("exec", script, 0o755)]), "main", true).0,
        200
    );
    assert_eq!(q.run(json!({})), (200, json!({"script": true})));
}

/// `/init` of binary code: its status, body text and `x-owl-died` header.
fn init_binary_answer(p: &Proxy, code: &str, main: &str) -> (u16, String, Option<String>) {
    let (s, _, text, died) = p.post_answer("/init", &Proxy::init_body(code, main, true));
    (s, text, died)
}
