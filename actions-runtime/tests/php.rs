//! The action interface against Owl's PHP image (kinds php:8.1 and php:8.2), with the cases of
//! OpenWhisk's own PHP suite (openwhisk-runtime-php tests/.../Php8ActionContainerTests.scala). The
//! answers are those of upstream's PHP image: its runner (core/php8.1Action/runner.php) behind the
//! actionloop proxy, which its Dockerfile starts with `OW_COMPILER` only (no `OW_LOG_INIT_ERROR`, no
//! `OW_WAIT_FOR_ACK`): errors are Go-JSON with a trailing newline, a result line goes out as the
//! runner wrote it (`json_encode`: `\/` and `\uXXXX` escapes) with its newline, and a process that
//! ends at its start is `cannot start action: command exited`.

mod common;
use common::*;

const IMAGE: Target = Target::Image("owl/action-php-v8.2:latest");

fn start() -> Proxy {
    Proxy::start(IMAGE)
}

/// The actionloop proxy's answer to a result line that is not JSON: the runner writes one for a
/// Throwable, a fatal error, and a result that is not an array.
const NOT_A_RESULT: &str = "{\"error\":\"The action did not return a dictionary or array.\"}\n";
/// The actionloop proxy's answer when the action's process ended before it could serve.
const CANNOT_START: &str = "{\"error\":\"cannot start action: command exited\"}\n";

const HELLO: &str = r#"<?php
function main(array $args) : array {
    return ["greeting" => "Hello " . ($args["name"] ?? "stranger") . "!"];
}
"#;

#[test]
fn hello_initializes_once_and_runs_warm() {
    let p = start();
    assert_eq!(
        p.init_answer(HELLO, "main"),
        (200, "{\"ok\":true}\n".into(), None)
    );
    assert_eq!(
        p.run_answer(json!({"name": "World"})),
        (200, "{\"greeting\":\"Hello World!\"}\n".into(), None)
    );
    assert_eq!(
        p.run(json!({})),
        (200, json!({"greeting": "Hello stranger!"}))
    );
    assert_eq!(
        p.init_answer(HELLO, "main"),
        (
            403,
            "{\"error\":\"Cannot initialize the action more than once.\"}\n".into(),
            None
        )
    );
}

#[test]
fn empty_code_is_refused_runs_before_init_find_no_action_and_an_empty_main_is_main() {
    let p = start();
    assert_eq!(
        p.run_answer(json!({})),
        (500, "{\"error\":\"no action defined yet\"}\n".into(), None)
    );
    assert_eq!(
        p.init_answer("", "main"),
        (
            403,
            "{\"error\":\"Missing main/no code to execute.\"}\n".into(),
            None
        )
    );
    assert_eq!(p.init(HELLO, "", false).0, 200);
    assert_eq!(
        p.run(json!({"name": "you"})),
        (200, json!({"greeting": "Hello you!"}))
    );
}

#[test]
fn parameters_pass_whole_as_php_arrays() {
    let p = start();
    p.init(
        "<?php\nfunction main(array $args) : array {\n    return $args;\n}\n",
        "main",
        false,
    );
    let value = json!({"s": "text", "n": 42, "f": 1.5, "t": true, "z": null, "list": [1, "two", [3]], "o": {"k": "v"}});
    assert_eq!(p.run(value.clone()), (200, value));
    // json_decode(..., true) makes an empty object an empty array, and json_encode writes it `[]`.
    assert_eq!(p.run(json!({"e": {}})), (200, json!({"e": []})));
    // An array argument is an array; the result is encoded as an object (its keys "0", "1").
    assert_eq!(p.run(json!(["a", "b"])), (200, json!({"0": "a", "1": "b"})));
}

#[test]
fn unicode_passes_both_ways_and_is_escaped_as_json_encode_escapes_it() {
    let p = start();
    let code = r#"<?php
function main(array $args) : array {
    $str = $args['delimiter'] . " ☃ " . $args['delimiter'];
    echo $str . "\n";
    return ["winter" => $str];
}"#;
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(
        p.run_answer(json!({"delimiter": "❄"})),
        (
            200,
            "{\"winter\":\"\\u2744 \\u2603 \\u2744\"}\n".into(),
            None
        )
    );
    let (out, _) = p.logs(1);
    assert_eq!(out, format!("❄ ☃ ❄\n\n{SENTINEL}\n"));
}

#[test]
fn the_context_and_the_init_environment_reach_getenv_and_env() {
    let p = start();
    let code = r#"<?php
function main(array $args) : array {
    $names = ['__OW_API_HOST', '__OW_API_KEY', '__OW_NAMESPACE', '__OW_ACTION_NAME', '__OW_ACTION_VERSION',
        '__OW_ACTIVATION_ID', '__OW_TRANSACTION_ID', '__OW_DEADLINE', 'INIT_PARAM'];
    $seen = [];
    foreach ($names as $name) {
        $seen[$name] = [getenv($name), $_ENV[$name] ?? null];
    }
    return $seen;
}"#;
    assert_eq!(p.init(code, "main", false).0, 200);
    let both = |v: &str| json!([v, v]);
    assert_eq!(
        p.run(json!({})),
        (
            200,
            json!({
                "__OW_API_HOST": both("http://owl.test"),
                "__OW_API_KEY": both("uuid:key"),
                "__OW_NAMESPACE": both("guest"),
                "__OW_ACTION_NAME": both("/guest/action"),
                "__OW_ACTION_VERSION": both("0.0.1"),
                "__OW_ACTIVATION_ID": both("0123456789abcdef0123456789abcdef"),
                "__OW_TRANSACTION_ID": both("tid-1"),
                "__OW_DEADLINE": both("1717000060000"),
                "INIT_PARAM": both("secret"),
            })
        )
    );
}

#[test]
fn echo_goes_to_stdout_error_log_to_stderr_and_each_run_ends_both_with_a_line_break() {
    let p = start();
    let code = r#"<?php
function main(array $args) : array {
    echo 'hello stdout';
    error_log('hello stderr');
    return $args;
}"#;
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(p.run(json!({"x": 1})), (200, json!({"x": 1})));
    assert_eq!(p.run(json!({})), (200, json!({})));
    let (out, err) = p.logs(2);
    assert_eq!(
        out,
        format!("hello stdout\n{SENTINEL}\nhello stdout\n{SENTINEL}\n")
    );
    assert!(
        err.ends_with(&format!(
            "hello stderr\n\n{SENTINEL}\nhello stderr\n\n{SENTINEL}\n"
        )),
        "{err}"
    );
}

#[test]
fn a_throwable_of_main_is_logged_and_answered_as_no_result_and_the_process_goes_on() {
    let p = start();
    let code = r#"<?php
function main(array $args) : array {
    static $runs = 0;
    $runs++;
    if (isset($args['fail'])) {
        throw new Exception("nooooo");
    }
    if (isset($args['sorry'])) {
        return ["error" => "sorry"];
    }
    return ["runs" => $runs];
}"#;
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(
        p.run_answer(json!({"fail": true})),
        (502, NOT_A_RESULT.into(), None)
    );
    let (_, err) = p.logs(1);
    assert!(
        err.contains("Exception: nooooo in /action/index.php:"),
        "{err}"
    );
    assert!(err.contains("main(Array)"), "{err}");
    // An application error is a result like any other.
    assert_eq!(
        p.run_answer(json!({"sorry": true})),
        (200, "{\"error\":\"sorry\"}\n".into(), None)
    );
    // The same process: main's static counts every run.
    assert_eq!(p.run(json!({})), (200, json!({"runs": 3})));
}

#[test]
fn a_fatal_error_is_logged_and_answered_as_no_result_and_the_next_run_works() {
    let p = start();
    let code = r#"<?php
function main(array $args) : array {
    if (isset($args['fatal'])) {
        eval("class Error {};");
    }
    return ["hello" => "world"];
}"#;
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(
        p.run_answer(json!({"fatal": true})),
        (502, NOT_A_RESULT.into(), None)
    );
    let (_, err) = p.logs(1);
    assert!(
        err.contains("PHP Fatal error:  Cannot declare class Error"),
        "{err}"
    );
    assert!(
        err.contains("An error occurred running the action.\n"),
        "{err}"
    );
    // The process answers, then ends (upstream's too), and says so with its answer: the next run,
    // at once, goes to a new one.
    assert_eq!(p.run(json!({})), (200, json!({"hello": "world"})));
}

#[test]
fn exit_in_main_ends_the_process_as_command_exited_and_the_next_run_works() {
    let p = start();
    let code = r#"<?php
function main(array $args) : array {
    if (isset($args['exit'])) {
        exit(1);
    }
    return ["alive" => true];
}"#;
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(
        p.run_answer(json!({"exit": true})),
        (400, "{\"error\":\"command exited\"}\n".into(), None)
    );
    assert_eq!(p.run(json!({})), (200, json!({"alive": true})));
}

#[test]
fn results_are_made_arrays_and_what_is_no_array_is_refused_unless_its_text_is_json() {
    let p = start();
    let code = r#"<?php
function main($args) {
    switch ($args['r']) {
        case 'string': return "not a json object";
        case 'number': return 5;
        case 'true': return true;
        case 'json text': return '{"a":1}';
        case 'null': return null;
        case 'nothing': return;
        case 'empty': return [];
        case 'list': return ["a", "b"];
        case 'stdClass': $o = new stdClass(); $o->hello = 'world'; return $o;
        case 'ArrayObject': $o = new ArrayObject(); $o['hello'] = 'world'; return $o;
        case 'object': return new DateTime();
        case 'bad utf-8': return ["s" => "\xff"];
    }
}"#;
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(
        p.run_answer(json!({"r": "string"})),
        (502, NOT_A_RESULT.into(), None)
    );
    let (out, err) = p.logs(1);
    assert_eq!(
        out,
        format!("The action did not return a dictionary or array.\n{SENTINEL}\n")
    );
    assert!(
        err.ends_with(&format!(
            "Result must be an array but has type \"string\": not a json object\n{SENTINEL}\n"
        )),
        "{err}"
    );
    for refused in ["number", "true", "object", "bad utf-8"] {
        assert_eq!(
            p.run_answer(json!({"r": refused})),
            (502, NOT_A_RESULT.into(), None),
            "{refused}"
        );
    }
    assert_eq!(
        p.run_answer(json!({"r": "json text"})),
        (200, "{\"a\":1}\n".into(), None)
    );
    for empty in ["null", "nothing", "empty"] {
        assert_eq!(
            p.run_answer(json!({"r": empty})),
            (200, "{}\n".into(), None),
            "{empty}"
        );
    }
    assert_eq!(
        p.run_answer(json!({"r": "list"})),
        (200, "{\"0\":\"a\",\"1\":\"b\"}\n".into(), None)
    );
    for object in ["stdClass", "ArrayObject"] {
        assert_eq!(
            p.run(json!({"r": object})),
            (200, json!({"hello": "world"})),
            "{object}"
        );
    }
}

#[test]
fn the_documentation_examples_run() {
    let p = start();
    let code = r#"
 <?php
 function main($params) {
     if ($params['payload'] == 0) {
         return;
     } else if ($params['payload'] == 1) {
         return ['payload' => 'Hello, World!'] ;        // indicates normal completion
     } else if ($params['payload'] == 2) {
         return ['error' => 'payload must be 0 or 1'];  // indicates abnormal completion
     }
 }
"#;
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(p.run(json!({"payload": 0})), (200, json!({})));
    assert_eq!(
        p.run(json!({"payload": 1})),
        (200, json!({"payload": "Hello, World!"}))
    );
    assert_eq!(
        p.run(json!({"payload": 2})),
        (200, json!({"error": "payload must be 0 or 1"}))
    );
}

#[test]
fn main_names_the_entry_point_and_a_missing_one_fails_each_run() {
    let p = start();
    let code = "\n <?php\n function niam(array $args) {\n     return $args;\n }\n";
    assert_eq!(p.init(code, "niam", false).0, 200);
    assert_eq!(p.run(json!({"x": 1})), (200, json!({"x": 1})));
    // Upstream finds `main` missing only when it calls it: the init succeeds, every run fails.
    let q = start();
    assert_eq!(q.init(code, "main", false).0, 200);
    assert_eq!(q.run_answer(json!({})), (502, NOT_A_RESULT.into(), None));
    assert_eq!(q.run_answer(json!({})), (502, NOT_A_RESULT.into(), None));
    let (_, err) = q.logs(2);
    assert!(
        err.contains("Error: Call to undefined function main()"),
        "{err}"
    );
}

#[test]
fn code_that_does_not_parse_throws_or_exits_while_loaded_cannot_start() {
    let cases = [
        (
            "<?php\nfunction main(array $args) {\n    return [\n}\n",
            "PHP Parse error:",
        ),
        (
            "<?php\nthrow new Exception('at load');\n",
            "PHP Fatal error:  Uncaught Exception: at load",
        ),
        ("<?php\nerror_log('leaving');\nexit(0);\n", "leaving"),
    ];
    for (code, logged) in cases {
        let p = start();
        assert_eq!(
            p.init_answer(code, "main"),
            (502, CANNOT_START.into(), None),
            "{code}"
        );
        let (_, err) = p.logs(1);
        assert!(err.contains(logged), "{code}: {err}");
    }
}

#[test]
fn a_large_action_loads() {
    let assignment =
        "    $x = \" I took the one less traveled by, and that has made all the difference.\";\n";
    let code = format!(
        " <?php\n function main(array $args) {{\n     $x = \"hello\";\n{}     $x = \"world\";\n     return [ \"message\" => $x ];\n }}\n",
        assignment.repeat(7000)
    );
    assert!(code.len() >= 500_000);
    let p = start();
    assert_eq!(p.init(&code, "main", false).0, 200);
    assert_eq!(p.run(json!({})), (200, json!({"message": "world"})));
}

#[test]
fn large_arguments_and_results_pass_whole() {
    let p = start();
    let code = r#"<?php
function main(array $args) : array {
    return ["echo" => $args["big"], "made" => str_repeat("x", 5 * 1024 * 1024)];
}"#;
    assert_eq!(p.init(code, "main", false).0, 200);
    let big = "y".repeat(5 * 1024 * 1024);
    let (s, v) = p.run(json!({"big": big}));
    assert_eq!(s, 200);
    assert_eq!(v["echo"].as_str().unwrap(), big);
    assert_eq!(v["made"].as_str().unwrap().len(), 5 * 1024 * 1024);
}

#[test]
fn overlapping_runs_are_answered_one_at_a_time_even_with_concurrency_allowed() {
    let p = Proxy::start_with(IMAGE, &[("__OW_ALLOW_CONCURRENT", "true")]);
    let code = r#"<?php
function main(array $args) : array {
    $marker = sys_get_temp_dir() . '/inside';
    $seen = file_exists($marker) ? 2 : 1;
    touch($marker);
    usleep(200000);
    unlink($marker);
    return ["seen" => $seen, "n" => $args["n"]];
}"#;
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

const OUTPUT_PHP: &str =
    "\n <?php\n function output($data) {\n     return ['result' => $data];\n }\n";

#[test]
fn zip_actions_load_index_php_and_require_their_own_files() {
    let z = zip(&[
        ("output.php", OUTPUT_PHP, 0o644),
        (
            "index.php",
            "\n <?php\n require __DIR__ . '/output.php';\n function main(array $args) {\n     $name = $args['name'] ?? 'stranger';\n     return output($name);\n }\n",
            0o644,
        ),
    ]);
    let p = start();
    assert_eq!(p.init(&z, "main", true).0, 200);
    assert_eq!(p.run(json!({})), (200, json!({"result": "stranger"})));

    let niam = zip(&[(
        "index.php",
        "\n <?php\n function niam(array $args) {\n     return [\"result\" => \"it works\"];\n }\n",
        0o644,
    )]);
    let q = start();
    assert_eq!(q.init(&niam, "niam", true).0, 200);
    assert_eq!(q.run(json!({})), (200, json!({"result": "it works"})));

    let list = zip(&[(
        "index.php",
        "<?php\nfunction main(array $args) : array\n{\n    $result=array(\"a\",\"b\");\n    return $result;\n}\n",
        0o644,
    )]);
    let r = start();
    assert_eq!(r.init(&list, "main", true).0, 200);
    assert_eq!(r.run(json!({})), (200, json!({"0": "a", "1": "b"})));
}

#[test]
fn a_zip_with_its_own_vendor_autoload_replaces_the_images_packages() {
    let z = zip(&[
        ("vendor/autoload.php", OUTPUT_PHP, 0o644),
        (
            "index.php",
            "\n <?php\n function main(array $args) {\n     $name = $args['name'] ?? 'stranger';\n     return output($name);\n }\n",
            0o644,
        ),
    ]);
    let p = start();
    assert_eq!(p.init(&z, "main", true).0, 200);
    assert_eq!(p.run(json!({})), (200, json!({"result": "stranger"})));

    // A Composer-like vendor/: its classes load, and the image's packages are not there.
    let composer = zip(&[
        (
            "vendor/autoload.php",
            "<?php\nspl_autoload_register(function ($class) {\n    if ($class === 'Acme\\\\Greeter') {\n        require __DIR__ . '/acme/Greeter.php';\n    }\n});\n",
            0o644,
        ),
        (
            "vendor/acme/Greeter.php",
            "<?php\nnamespace Acme;\nclass Greeter {\n    public static function greet($n) { return \"Hi $n\"; }\n}\n",
            0o644,
        ),
        (
            "index.php",
            "<?php\nfunction main(array $args) {\n    return ['greeting' => Acme\\Greeter::greet('zip'), 'guzzle' => class_exists('GuzzleHttp\\Client')];\n}\n",
            0o644,
        ),
    ]);
    let q = start();
    assert_eq!(q.init(&composer, "main", true).0, 200);
    assert_eq!(
        q.run(json!({})),
        (200, json!({"greeting": "Hi zip", "guzzle": false}))
    );

    // A vendor/ without autoload.php ends the runner at its start, as upstream's.
    let broken = start();
    let z = zip(&[("vendor/README", "x", 0o644), ("index.php", HELLO, 0o644)]);
    let (s, _, text, _) = broken.post_answer("/init", &Proxy::init_body(&z, "main", true));
    assert_eq!((s, text.as_str()), (502, CANNOT_START));
    let (_, err) = broken.logs(1);
    assert!(
        err.contains("Failed opening required '/action/vendor/autoload.php'"),
        "{err}"
    );
}

#[test]
fn a_zip_without_index_php_cannot_start() {
    let p = start();
    let z = zip(&[("main.php", HELLO, 0o644)]);
    let (s, _, text, _) = p.post_answer("/init", &Proxy::init_body(&z, "main", true));
    assert_eq!((s, text.as_str()), (502, CANNOT_START));
    let (_, err) = p.logs(1);
    assert!(
        err.contains("Failed opening required '/action/index.php'"),
        "{err}"
    );
    assert!(
        err.contains("An error occurred running the action.\n"),
        "{err}"
    );
}

#[test]
fn guzzle_and_uuid_are_available_as_from_upstreams_vendor() {
    // Upstream's own case: the packages load without a require.
    let p = start();
    let code = "\n <?php\n use Ramsey\\Uuid\\Uuid;\n use GuzzleHttp\\Client;\n function main(array $args) {\n     Uuid::uuid4();\n     new Client();\n }\n";
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(p.run(json!({})), (200, json!({})));

    // Code may require the vendor/ it is given, as upstream copies it beside index.php.
    let q = start();
    let code = r#"<?php
require __DIR__ . '/vendor/autoload.php';
use GuzzleHttp\Psr7\Request;
use Ramsey\Uuid\Uuid;
function main(array $args) : array {
    $request = new Request('GET', 'http://owl.test/path');
    return [
        "uuid" => Uuid::isValid(Uuid::uuid4()->toString()),
        "v5" => Uuid::uuid5(Uuid::NAMESPACE_DNS, 'owl.test')->getVersion(),
        "host" => $request->getUri()->getHost(),
        "client" => new GuzzleHttp\Client() instanceof GuzzleHttp\ClientInterface,
        "stream" => GuzzleHttp\Psr7\Utils::streamFor('abc')->getSize(),
    ];
}"#;
    assert_eq!(q.init(code, "main", false).0, 200);
    assert_eq!(
        q.run(json!({})),
        (
            200,
            json!({"uuid": true, "v5": 5, "host": "owl.test", "client": true, "stream": 3})
        )
    );
}

#[test]
fn the_extensions_of_upstreams_image_are_usable() {
    let p = start();
    let code = r#"<?php
function main(array $args) : array {
    $image = imagecreatetruecolor(2, 2);
    ob_start();
    imagepng($image);
    $png = ob_get_clean();
    $file = tempnam(sys_get_temp_dir(), 'zip');
    $zip = new ZipArchive();
    $zip->open($file, ZipArchive::OVERWRITE);
    $zip->addFromString('a.txt', 'x');
    $zip->close();
    $drivers = PDO::getAvailableDrivers();
    sort($drivers);
    return [
        'bcmath' => bcadd('1.25', '2.5', 2),
        'curl' => is_array(curl_version()),
        'gd' => substr($png, 1, 3),
        'intl' => (new NumberFormatter('de_DE', NumberFormatter::DECIMAL))->format(1234.5),
        'mbstring' => mb_strtoupper('ärger'),
        'mysqli' => class_exists('mysqli'),
        'pdo' => $drivers,
        'sqlite3' => (new SQLite3(':memory:'))->querySingle('SELECT 6 * 7'),
        'soap' => class_exists('SoapClient'),
        'zip' => (new ZipArchive())->open($file) === true,
        'mongodb' => strlen((string) new MongoDB\BSON\ObjectId()),
        'opcache' => opcache_get_status(false)['opcache_enabled'],
        'dom' => (new DOMDocument())->loadXML('<a/>'),
        'sodium' => strlen(sodium_crypto_secretbox_keygen()),
    ];
}"#;
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(
        p.run(json!({})),
        (
            200,
            json!({
                "bcmath": "3.75", "curl": true, "gd": "PNG", "intl": "1.234,5", "mbstring": "ÄRGER",
                "mysqli": true, "pdo": ["mysql", "pgsql", "sqlite"], "sqlite3": 42, "soap": true,
                "zip": true, "mongodb": 24, "opcache": true, "dom": true, "sodium": 32,
            })
        )
    );
}
