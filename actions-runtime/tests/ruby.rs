//! The action interface of Owl's Ruby image (kinds ruby:2.5 and ruby:3.1), in the words and statuses
//! of OpenWhisk's `ruby:2.5` image (openwhisk-runtime-ruby core/ruby2.5Action, a Rack app under
//! Puma: rackapp/init.rb, run.rb, middleware/sentinel_handler.rb), with the cases of its own suite
//! (tests/src/test/scala/actionContainers/Ruby25ActionContainerTests.scala) that apply.
//!
//! Upstream's answers are Ruby's compact JSON without a trailing newline; an answer other than 200
//! (and, for `/init`, other than 403) is also printed on stdout before the sentinels.

mod common;
use common::*;

const IMAGE: &str = "owl/action-ruby-v3.1:latest";

fn start() -> Proxy {
    Proxy::start(Target::Image(IMAGE))
}

const HELLO: &str = "def main(args)\n  name = args['name'] || 'stranger'\n  { 'greeting' => \"Hello #{name}!\" }\nend\n";
const RUN_FAILED: &str = r#"{"error":"Invalid Action: An error occurred running the action"}"#;
const NOT_A_DICTIONARY: &str = r#"{"error":"The action did not return a dictionary or array."}"#;
const METHOD_CHECK: &str = "Invalid Ruby Code: method checking failed / ";

fn error_of(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn hello_initializes_once_and_runs_warm() {
    let p = start();
    assert_eq!(
        p.init_answer(HELLO, "main"),
        (200, r#"{"OK":true}"#.into(), None)
    );
    assert_eq!(
        p.run(json!({"name": "World"})),
        (200, json!({"greeting": "Hello World!"}))
    );
    assert_eq!(
        p.run(json!({})),
        (200, json!({"greeting": "Hello stranger!"}))
    );
    assert_eq!(
        p.init_answer(HELLO, "main"),
        (
            403,
            r#"{"error":"Cannot initialize the action more than once."}"#.into(),
            None
        )
    );
    p.logs(2);
    // Upstream's /init prints this line itself, without sentinels (an answer 403 gets none).
    let expected = format!("{SENTINEL}\nError: Cannot initialize the action more than once.\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = p.stdout.lock().unwrap().clone();
        if out.ends_with(&expected) {
            break;
        }
        assert!(Instant::now() < deadline, "{out}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn echo_returns_unicode_and_arrays_unchanged() {
    let p = start();
    assert_eq!(
        p.init("def main(args)\n  args\nend\n", "main", false).0,
        200
    );
    let v = json!({"text": "☃ 雪 ❄ \u{1F600}", "nested": {"list": [1, 2.5, null, true, "<&>"]}});
    assert_eq!(p.run(v.clone()), (200, v));
    // Upstream: "support array as input param".
    assert_eq!(p.run(json!(["a", "b"])), (200, json!(["a", "b"])));
}

#[test]
fn unicode_reaches_the_action_its_result_and_its_log() {
    let p = start();
    let code = "def main(args)\n  str = args['delimiter'] + \" ☃ \" + args['delimiter']\n  print str + \"\\n\"\n  {\"winter\" => str}\nend";
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_unicode_round_trip(&p);
}

#[test]
fn the_activation_context_and_init_env_are_in_env() {
    let p = start();
    let code = "def main(args)\n  {\n    'api_host' => ENV['__OW_API_HOST'], 'api_key' => ENV['__OW_API_KEY'],\n    'namespace' => ENV['__OW_NAMESPACE'], 'action_name' => ENV['__OW_ACTION_NAME'],\n    'action_version' => ENV['__OW_ACTION_VERSION'], 'activation_id' => ENV['__OW_ACTIVATION_ID'],\n    'transaction_id' => ENV['__OW_TRANSACTION_ID'], 'deadline' => ENV['__OW_DEADLINE'], 'init' => ENV['INIT_PARAM']\n  }\nend\n";
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(
        p.run(json!({})),
        (
            200,
            json!({"api_host": "http://owl.test", "api_key": "uuid:key", "namespace": "guest",
                "action_name": "/guest/action", "action_version": "0.0.1",
                "activation_id": "0123456789abcdef0123456789abcdef", "transaction_id": "tid-1",
                "deadline": "1717000060000", "init": "secret"})
        )
    );
}

#[test]
fn logs_go_to_stdout_and_stderr_followed_by_sentinels_on_both() {
    let p = start();
    let code = "def main(args)\n  puts 'hello stdout'\n  warn 'hello stderr'\n  $stderr.puts 'via $stderr'\n  args\nend\n";
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(p.run(json!({"x": 1})), (200, json!({"x": 1})));
    assert_eq!(p.run(json!({"x": 2})), (200, json!({"x": 2})));
    let (out, err) = p.logs(2);
    assert_eq!(
        out,
        format!("hello stdout\n{SENTINEL}\nhello stdout\n{SENTINEL}\n")
    );
    assert_eq!(
        err,
        format!("hello stderr\nvia $stderr\n{SENTINEL}\nhello stderr\nvia $stderr\n{SENTINEL}\n")
    );
}

#[test]
fn application_errors_and_the_documentation_examples_are_results() {
    let p = start();
    let code = "def main(params)\n  if (params['payload'] == 0) then\n    return {}\n  elsif params['payload'] == 1 then\n    return {'payload' => 'Hello, World!'}\n  elsif params['payload'] == 2 then\n    return {'error' => 'payload must be 0 or 1'}\n  end\n  { 'error' => 'sorry' }\nend\n";
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
    assert_eq!(p.run(json!({})), (200, json!({"error": "sorry"})));
}

#[test]
fn an_exception_in_main_fails_the_run_with_its_report_in_the_log_and_the_next_run_works() {
    let p = start();
    let code = "def main(args)\n  raise Exception.new('nooooo') if args['fail']\n  { 'alive' => true }\nend\n";
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(
        p.run_answer(json!({"fail": true})),
        (502, RUN_FAILED.into(), None)
    );
    assert_eq!(p.run(json!({})), (200, json!({"alive": true})));
    let (out, err) = p.logs(2);
    assert!(
        out.starts_with(&format!("{RUN_FAILED}\n{SENTINEL}\n")),
        "{out}"
    );
    assert!(err.contains("in `main': nooooo (Exception)"), "{err}");
}

#[test]
fn a_type_error_fails_the_run_gracefully() {
    let p = start();
    let code = "def main(args)\n  eval \"class ENV\\nend\"\n  { 'hello' => 'world' }\nend\n";
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(p.run_answer(json!({})), (502, RUN_FAILED.into(), None));
    let (_, err) = p.logs(1);
    assert!(err.contains("(TypeError)"), "{err}");
}

#[test]
fn an_exit_in_main_fails_the_run_and_the_next_run_works() {
    let p = start();
    let code = "def main(args)\n  exit(args['code']) if args['code']\n  { 'alive' => true }\nend\n";
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(
        p.run_answer(json!({"code": 0})),
        (502, RUN_FAILED.into(), None)
    );
    assert_eq!(
        p.run_answer(json!({"code": 3})),
        (502, RUN_FAILED.into(), None)
    );
    assert_eq!(p.run(json!({})), (200, json!({"alive": true})));
}

#[test]
fn results_that_are_not_a_hash_or_array_are_refused_nil_too() {
    let p = start();
    let code = "def main(args)\n  return 'not a json object' if args['kind'] == 'string'\n  return nil if args['kind'] == 'nil'\n  return 5 if args['kind'] == 'number'\n  return Array['a', 'b'] if args['kind'] == 'array'\n  { :symbol => :keys }\nend\n";
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(
        p.run_answer(json!({"kind": "string"})),
        (502, NOT_A_DICTIONARY.into(), None)
    );
    assert_eq!(
        p.run_answer(json!({"kind": "nil"})),
        (502, NOT_A_DICTIONARY.into(), None)
    );
    assert_eq!(
        p.run_answer(json!({"kind": "number"})),
        (502, NOT_A_DICTIONARY.into(), None)
    );
    // Upstream: "support return array result".
    assert_eq!(p.run(json!({"kind": "array"})), (200, json!(["a", "b"])));
    assert_eq!(p.run(json!({})), (200, json!({"symbol": "keys"})));
    let (out, err) = p.logs(5);
    assert!(
        err.starts_with(&format!(
            "Result must be an array but has type 'String': \"not a json object\"\n{SENTINEL}\n\
             Result must be an array but has type 'String': null\n{SENTINEL}\n\
             Result must be an array but has type 'String': 5\n{SENTINEL}\n"
        )),
        "{err}"
    );
    assert!(
        out.starts_with(&format!("{NOT_A_DICTIONARY}\n{SENTINEL}\n")),
        "{out}"
    );
}

#[test]
fn results_json_cannot_write_fail_the_run() {
    let p = start();
    let code = "def main(args)\n  return { 'bad' => \"\\xff\".b } if args['kind'] == 'bytes'\n  { 'nan' => 0.0 / 0 }\nend\n";
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(
        p.run_answer(json!({"kind": "bytes"})),
        (502, RUN_FAILED.into(), None)
    );
    assert_eq!(p.run_answer(json!({})), (502, RUN_FAILED.into(), None));
}

#[test]
fn code_that_does_not_parse_is_refused_and_the_answer_is_logged() {
    let p = start();
    let code = "\n 10 PRINT \"Hello world!\"\n 20 GOTO 10\n";
    assert_eq!(
        p.init_answer(code, "main"),
        (
            500,
            r#"{"error":"Invalid Ruby Code: failed to parse the input code"}"#.into(),
            None
        )
    );
    let (out, err) = p.logs(1);
    assert_eq!(
        out,
        format!(
            "{{\"error\":\"Invalid Ruby Code: failed to parse the input code\"}}\n{SENTINEL}\n"
        )
    );
    assert!(err.ends_with(&format!("{SENTINEL}\n")), "{err}");
}

#[test]
fn a_missing_method_or_code_that_raises_or_exits_while_loading_fails_the_method_check() {
    let cases = [
        ("def niam(args)\n  args\nend\n", "undefined method `main'"),
        (
            "raise ArgumentError, 'at load'\ndef main(a)\n  a\nend\n",
            "at load (ArgumentError)",
        ),
        ("exit 1\n", ""),
        ("", "undefined method `main'"),
    ];
    for (code, detail) in cases {
        let p = start();
        let (status, body, died) = p.init_answer(code, "main");
        assert_eq!((status, died), (500, None), "{code}: {body}");
        let error = error_of(&body);
        assert!(error.starts_with(METHOD_CHECK), "{code}: {error}");
        assert!(error.contains(detail), "{code}: {error}");
        let (out, _) = p.logs(1);
        assert!(
            out.ends_with(&format!("{body}\n{SENTINEL}\n")),
            "{code}: {out}"
        );
    }
}

#[test]
fn code_that_exits_with_success_while_loading_initializes_but_cannot_run() {
    let p = start();
    assert_eq!(p.init("exit\n", "main", false).0, 200);
    assert_eq!(p.run_answer(json!({})), (502, RUN_FAILED.into(), None));
}

#[test]
fn another_method_than_main_is_called_when_named() {
    let p = start();
    assert_eq!(
        p.init("def niam(args)\n  args\nend\n", "niam", false).0,
        200
    );
    assert_eq!(p.run(json!({"x": 1})), (200, json!({"x": 1})));
}

#[test]
fn the_gems_upstream_installs_are_available() {
    let p = start();
    let code = "require 'mechanize'\nrequire 'active_support'\nrequire 'active_support/core_ext/string'\nrequire 'jwt'\nrequire 'zip'\nrequire 'rack'\n\
        def main(args)\n  token = JWT.encode({ 'sub' => 'owl' }, 'secret', 'HS256')\n  {\n    'agent' => Mechanize.new.class.name,\n    'squished' => '  a   b  '.squish,\n    'sub' => JWT.decode(token, 'secret', true, algorithm: 'HS256')[0]['sub'],\n    'zip' => Zip::File.name,\n    'escaped' => Rack::Utils.escape('a b')\n  }\nend\n";
    assert_eq!(p.init(code, "main", false).0, 200);
    assert_eq!(
        p.run(json!({})),
        (
            200,
            json!({"agent": "Mechanize", "squished": "a b", "sub": "owl", "zip": "Zip::File", "escaped": "a+b"})
        )
    );
}

#[test]
fn large_actions_results_and_arguments_pass_whole() {
    let thought = " I took the one less traveled by, and that has made all the difference.";
    let mut code = String::from("def main(args)\n  x = \"hello\"\n");
    for _ in 0..7000 {
        code.push_str(&format!("  x = \"{thought}\";\n"));
    }
    code.push_str("  x = \"world\"\n  return { 'message' => x } unless args['big']\n  { 'echo' => args['big'], 'made' => 'x' * (5 * 1024 * 1024) }\nend\n");
    assert!(code.len() >= 500_000);
    let p = start();
    assert_eq!(p.init(&code, "main", false).0, 200);
    assert_eq!(p.run(json!({})), (200, json!({"message": "world"})));
    let big = "y".repeat(5 * 1024 * 1024);
    let (s, v) = p.run(json!({"big": big}));
    assert_eq!(s, 200);
    assert_eq!(v["echo"].as_str().unwrap().len(), 5 * 1024 * 1024);
    assert_eq!(v["made"].as_str().unwrap().len(), 5 * 1024 * 1024);
}

#[test]
fn overlapping_runs_are_answered_one_at_a_time() {
    let p = start();
    let code = "$inside = 0\ndef main(args)\n  $inside += 1\n  sleep 0.2\n  seen = $inside\n  $inside -= 1\n  { 'seen' => seen, 'n' => args['n'] }\nend\n";
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
fn runs_before_init_and_inits_without_a_value_are_refused() {
    let p = start();
    assert_eq!(
        p.run_answer(json!({})),
        (
            500,
            r#"{"error":"Invalid Action: no action file found"}"#.into(),
            None
        )
    );
    let (s, _, text) = p.post_raw("/init", br#"{"value": {}}"#);
    assert_eq!(
        (s, text.as_str()),
        (500, r#"{"error":"Missing main/no code to execute."}"#)
    );
    assert_eq!(p.init(HELLO, "main", false).0, 200);
    assert_eq!(
        p.run(json!({"name": "after"})),
        (200, json!({"greeting": "Hello after!"}))
    );
}

#[test]
fn zipped_actions_load_main_rb_and_its_neighbours() {
    let z = zip(&[
        (
            "output.rb",
            "def output(data)\n  {'result' => data}\nend\n",
            0o644,
        ),
        (
            "main.rb",
            "require __dir__ + '/output.rb'\nrequire_relative 'lib/helper'\ndef main(args)\n  name = args['name'] || 'stranger'\n  output(Helper.shout(name))\nend\n",
            0o644,
        ),
        (
            "lib/helper.rb",
            "module Helper\n  def self.shout(s)\n    s.upcase\n  end\nend\n",
            0o644,
        ),
    ]);
    let p = start();
    assert_eq!(p.init(&z, "main", true).0, 200);
    assert_eq!(p.run(json!({})), (200, json!({"result": "STRANGER"})));

    let niam = zip(&[(
        "main.rb",
        "def niam(args)\n  { :result => 'it works' }\nend\n",
        0o644,
    )]);
    let q = start();
    assert_eq!(q.init(&niam, "niam", true).0, 200);
    assert_eq!(q.run(json!({})), (200, json!({"result": "it works"})));
}

/// Upstream's resource `without_dir_entries`: a zip without directory entries holding a standalone
/// bundle (`bundle install --standalone`), which main.rb sets up itself.
#[test]
fn a_standalone_bundle_in_a_zip_without_directory_entries_is_loadable() {
    let setup = "require 'rbconfig'\nruby_engine = defined?(RUBY_ENGINE) ? RUBY_ENGINE : 'ruby'\nruby_version = RbConfig::CONFIG['ruby_version']\npath = File.expand_path('..', __FILE__)\n$:.unshift \"#{path}/../#{ruby_engine}/#{ruby_version}/gems/betterlorem-0.1.2/lib\"\n$:.unshift \"#{path}/\"\n";
    let z = zip(&[
        ("bundle/bundler/setup.rb", setup, 0o644),
        (
            "bundle/ruby/3.1.0/gems/betterlorem-0.1.2/lib/betterlorem.rb",
            "module BetterLorem\n  def self.w(n, _p = true)\n    (['lorem'] * n).join(' ')\n  end\nend\n",
            0o644,
        ),
        (
            "main.rb",
            "require_relative 'bundle/bundler/setup'\nrequire 'betterlorem'\ndef main(params = {})\n  name = params['name'] || 'stranger'\n  { greeting: \"Hello #{name}!\", lipsum: BetterLorem.w(2) }\nend\n",
            0o644,
        ),
    ]);
    let p = start();
    assert_eq!(p.init(&z, "main", true).0, 200);
    assert_eq!(
        p.run(json!({})),
        (
            200,
            json!({"greeting": "Hello stranger!", "lipsum": "lorem lorem"})
        )
    );
}

/// A zip made as a Ruby developer packages gems with Bundler, made in the image itself (its gem
/// and bundle commands, offline): a gem built from source, put in vendor/cache as `bundle cache`
/// does; with `installed`, also installed into vendor/bundle (`bundle config set path`).
fn bundler_zip(installed: bool) -> String {
    let script = format!(
        r#"set -e
mkdir -p /tmp/g/lib /app/vendor/cache
cd /tmp/g
cat > greeter.gemspec <<'G'
Gem::Specification.new do |s|
  s.name = 'greeter'
  s.version = '1.0.0'
  s.summary = 'A gem of the test'
  s.authors = ['owl']
  s.files = ['lib/greeter.rb']
end
G
echo 'module Greeter; def self.hi(n) "Hi #{{n}} from a bundled gem" end; end' > lib/greeter.rb
gem build greeter.gemspec >/dev/null 2>&1
cp greeter-1.0.0.gem /app/vendor/cache/
cd /app
printf "source 'https://rubygems.org'\ngem 'greeter'\n" > Gemfile
cat > main.rb <<'M'
require 'greeter'
def main(args)
  jwt = begin
    require 'jwt'
  rescue LoadError
    'not in the bundle'
  end
  {{ 'greeting' => Greeter.hi(args['name']), 'jwt' => jwt }}
end
M
if {installed}; then bundle config set --local path vendor/bundle >/dev/null; bundle install --local >/dev/null; fi
zip -q -r - . | base64 -w0
"#
    );
    docker(&[
        "run",
        "--rm",
        "--label",
        "owl.test=actions-runtime",
        IMAGE,
        "sh",
        "-c",
        &script,
    ])
}

#[test]
fn a_zip_with_a_gemfile_gets_its_gems_from_vendor_cache_and_runs_in_that_bundle() {
    for installed in [false, true] {
        let z = bundler_zip(installed);
        let p = start();
        assert_eq!(p.init(&z, "main", true).0, 200, "installed: {installed}");
        // As under upstream's `bundle exec`, only the bundle's gems can be required.
        assert_eq!(
            p.run(json!({"name": "Owl"})),
            (
                200,
                json!({"greeting": "Hi Owl from a bundled gem", "jwt": "not in the bundle"})
            ),
            "installed: {installed}"
        );
    }
}

#[test]
fn a_zip_with_a_gemfile_but_no_vendor_cache_is_refused() {
    let z = zip(&[
        (
            "Gemfile",
            "source 'https://rubygems.org'\ngem 'greeter'\n",
            0o644,
        ),
        ("main.rb", "def main(args)\n  args\nend\n", 0o644),
    ]);
    let p = start();
    // Upstream answers these words with status 200 but records no action: every run then fails.
    let (_, _, body, _) = p.post_answer("/init", &Proxy::init_body(&z, "main", true));
    assert_eq!(
        error_of(&body),
        "Invalid Binary: vendor/cache folder is not found. Please make sure you have used valid zip binary."
    );
}

#[test]
fn bad_zips_are_refused_with_upstreams_words() {
    // Not a zip: base64 of a line of text (upstream's case).
    let p = start();
    assert_eq!(
        p.init("Q2VjaSBuJ2VzdCBwYXMgdW4gemlwLgo=", "main", true),
        (
            500,
            json!({"error": "Invalid Binary: failed to open zip file. Please make sure you have finished $bundle package successfully."})
        )
    );
    let (out, _) = p.logs(1);
    assert!(out.contains("failed to open zip file"), "{out}");

    let without = start();
    let (s, _, body) = without.post_raw(
        "/init",
        &Proxy::init_body(&zip(&[("hello", "\n Hello world!\n", 0o644)]), "main", true),
    );
    assert_eq!(
        (s, body.as_str()),
        (
            500,
            r#"{"error":"Invalid Ruby Code: zipped actions must contain main.rb at the root."}"#
        )
    );
    let (out, _) = without.logs(1);
    assert!(
        out.contains("zipped actions must contain main.rb at the root."),
        "{out}"
    );

    let broken = start();
    let z = zip(&[(
        "main.rb",
        "\n 10 PRINT \"Hello world!\"\n 20 GOTO 10\n",
        0o644,
    )]);
    assert_eq!(
        broken.init(&z, "main", true),
        (
            500,
            json!({"error": "Invalid Ruby Code: failed to parse the input code"})
        )
    );
}
