<?php
// Owl's PHP launcher. The actions-runtime proxy starts it once per container: it loads the action,
// acknowledges on file descriptor 3, then answers each activation (one line on stdin: a tag, a tab and
// the JSON message) with one line on descriptor 3 (the same tag, a tab and the JSON result), in the
// order they came. The action's output is the container's log.
//
// It behaves as OpenWhisk's PHP images do (openwhisk-runtime-php core/php8.1Action: compile.php,
// runner.php, php.ini, behind the actionloop proxy), whose compile step checks nothing: it names the
// source index.php and gives the action a vendor/ directory when it has none. So code that does not
// parse, a zip without index.php, and code that throws or exits while it is loaded all end this
// process before it acknowledges, with PHP's own messages on stderr, as they end upstream's runner
// at its start. A `main` that does not exist is only found at each run, as upstream finds it.
//
// At each run, as runner.php: the result of `main` is made an array (`getArrayCopy()`, a stdClass's
// properties, null as []), then written as `json_encode((object) $result)`, so that a list becomes
// an object with keys "0", "1"...; a Throwable from `main` is logged and answered, like a result that
// is no array (or cannot be encoded), with the words the actionloop proxy says for a line that is not
// JSON; a fatal error is logged and answered so, then ends the process; `exit` ends it silently.
// Each run ends with a line break on stdout and on stderr, as upstream's, so that the sentinels that
// follow are on lines of their own.
//
// Everything is in the global scope, as in runner.php, so that index.php's top-level variables are
// globals its functions can reach; the launcher's own variables are prefixed `$__owl_`.

$__owl_results = fopen('php://fd/3', 'wb');
$__owl_tag = null;  // the tag of the run in progress (a string), null while loading
$__owl_failed = 'The action did not return a dictionary or array.';

$__owl_answer = static function ($text) use ($__owl_results, &$__owl_tag) {
    $line = ($__owl_tag === null ? '' : $__owl_tag . "\t") . $text . "\n";
    for ($done = 0, $n = strlen($line); $done < $n; $done += $wrote) {
        $wrote = fwrite($__owl_results, $done === 0 ? $line : substr($line, $done));
        if ($wrote === false || $wrote === 0) {
            exit(1);
        }
    }
};

// A fatal error (not an exception: those are caught below) ends PHP after this; upstream's runner
// says so on stderr and answers the run. A parse error of index.php is not among these types, and
// `exit` leaves no error: neither is said or answered so, as upstream's. The answer's tag ends with
// `!`: this process is ending, so the proxy sends the next run to a new one.
register_shutdown_function(static function () use (&$__owl_tag, $__owl_answer, $__owl_failed) {
    $error = error_get_last();
    if ($error && in_array($error['type'], [E_ERROR, E_CORE_ERROR, E_COMPILE_ERROR, E_USER_ERROR], true)) {
        fwrite(STDERR, "An error occurred running the action.\n");
        if ($__owl_tag !== null) {
            $__owl_tag .= '!';
            $__owl_answer(json_encode(['__owl_developer_error' => $__owl_failed]));
        }
    }
});

// Started with the container (OW_STANDBY), the first line names the action; otherwise it is known.
// The action's environment is then set as a process started with it would see it: getenv(), and
// $_ENV and $_SERVER (upstream's php.ini has variables_order "EGPCS").
if (getenv('OW_STANDBY') === '1') {
    $__owl_line = fgets(STDIN);
    if ($__owl_line === false) {
        exit(0);
    }
    $__owl_config = json_decode($__owl_line);
    $__owl_env = ['OW_ACTION_DIR' => $__owl_config->dir, 'OW_ACTION_MAIN' => $__owl_config->main];
    if (isset($__owl_config->file) && $__owl_config->file !== '') {
        $__owl_env['OW_ACTION_FILE'] = $__owl_config->file;
    }
    foreach ((array) ($__owl_config->env ?? []) as $__owl_key => $__owl_value) {
        $__owl_env[$__owl_key] = is_string($__owl_value)
            ? $__owl_value
            : json_encode($__owl_value, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
    }
    foreach ($__owl_env as $__owl_key => $__owl_value) {
        putenv("$__owl_key=$__owl_value");
        $_ENV[$__owl_key] = $_SERVER[$__owl_key] = $__owl_value;
    }
    chdir($__owl_config->dir);
    unset($__owl_line, $__owl_config, $__owl_env, $__owl_key, $__owl_value);
}

$__owl_dir = getenv('OW_ACTION_DIR');
$__owl_main = (string) getenv('OW_ACTION_MAIN');
if ($__owl_main === '') {
    $__owl_main = 'main';
}

// Upstream's compile step copies the image's Composer vendor/ (guzzle, ramsey/uuid) into an action
// that has none, and the runner requires vendor/autoload.php before index.php: an action's own
// vendor/ replaces the image's. A link to the image's stands for the copy, so that index.php may
// require __DIR__ . '/vendor/autoload.php' itself, as it may upstream.
$__owl_vendor = $__owl_dir . '/vendor';
if (!is_dir($__owl_vendor) && !@symlink('/opt/owl/vendor', $__owl_vendor)) {
    $__owl_vendor = '/opt/owl/vendor';
}
require $__owl_vendor . '/autoload.php';
require getenv('OW_ACTION_FILE') ?: $__owl_dir . '/index.php';

$__owl_answer('{"ok":true}');

while (($__owl_line = fgets(STDIN)) !== false) {
    [$__owl_tag, $__owl_line] = explode("\t", $__owl_line, 2) + [1 => ''];
    $__owl_message = json_decode($__owl_line, true);
    unset($__owl_line);
    if (!is_array($__owl_message)) {
        $__owl_message = [];
    }
    // Every other field of the message is the action's environment, as upstream's runner sets it.
    foreach ($__owl_message as $__owl_key => $__owl_value) {
        if ($__owl_key !== 'value' && is_string($__owl_value)) {
            $__owl_key = '__OW_' . strtoupper($__owl_key);
            $_ENV[$__owl_key] = $__owl_value;
            putenv("$__owl_key=$__owl_value");
        }
    }
    $__owl_args = $__owl_message['value'] ?? [];
    unset($__owl_message, $__owl_key, $__owl_value);

    try {
        $__owl_result = $__owl_main($__owl_args);
        unset($__owl_args);
        if (is_object($__owl_result)) {
            if (method_exists($__owl_result, 'getArrayCopy')) {
                $__owl_result = $__owl_result->getArrayCopy();
            } elseif ($__owl_result instanceof stdClass) {
                $__owl_result = (array) $__owl_result;
            }
        } elseif ($__owl_result === null) {
            $__owl_result = [];
        }
        if (is_array($__owl_result)) {
            $__owl_text = json_encode((object) $__owl_result);
            if ($__owl_text === false) {
                // Upstream writes the empty line that json_encode's false makes.
                $__owl_text = json_encode(['__owl_developer_error' => $__owl_failed]);
            }
        } else {
            // Upstream writes the value as text: its first line is the answer, which passes only if
            // it is JSON (a string holding an object, say).
            fwrite(STDERR, 'Result must be an array but has type "' . gettype($__owl_result) . '": ' . $__owl_result);
            fwrite(STDOUT, $__owl_failed);
            $__owl_text = explode("\n", (string) $__owl_result, 2)[0];
            $__owl_json = json_decode($__owl_text);
            if (!(is_object($__owl_json) || is_array($__owl_json) || ($__owl_json === null && trim($__owl_text) === 'null'))) {
                $__owl_text = json_encode(['__owl_developer_error' => $__owl_failed]);
            }
            unset($__owl_json);
        }
    } catch (Throwable $__owl_e) {
        fwrite(STDERR, (string) $__owl_e);
        $__owl_text = json_encode(['__owl_developer_error' => $__owl_failed]);
        unset($__owl_e);
    }
    unset($__owl_result);

    fwrite(STDERR, "\n");
    fwrite(STDOUT, "\n");
    $__owl_answer($__owl_text);
    $__owl_tag = null;
    unset($__owl_text);
}
