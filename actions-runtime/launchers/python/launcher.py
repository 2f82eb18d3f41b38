# Owl's Python launcher. The actions-runtime proxy starts it once per container: it loads the action,
# acknowledges on file descriptor 3, then answers each activation (one line on stdin: a tag, a tab and
# the JSON message) with one line on descriptor 3 (the same tag, a tab and the JSON result), in the
# order they came. The action's prints are the container's log.
import glob
import importlib.util
import json
import os
import sys
import traceback

# A result carrying only this key is a failure to run (reported as a developer error), not a result.
DEVELOPER_ERROR = "__owl_developer_error"

results = os.fdopen(3, "wb")


def answer(value, tag=None):
    data = json.dumps(value, ensure_ascii=False).encode("utf-8") + b"\n"
    if tag is not None:
        data = tag + b"\t" + data
    sys.stdout.flush()
    sys.stderr.flush()
    results.write(data)
    results.flush()


def activate_virtualenv(directory):
    venv = os.path.join(directory, "virtualenv")
    if not os.path.isdir(venv):
        return
    activate_this = os.path.join(venv, "bin", "activate_this.py")
    if os.path.exists(activate_this):
        with open(activate_this) as f:
            exec(compile(f.read(), activate_this, "exec"), dict(__file__=activate_this))
        return
    # A virtualenv made by `python -m venv` has no activate_this.py: put its packages first.
    for site in glob.glob(os.path.join(venv, "lib", "python3*", "site-packages")):
        sys.path.insert(0, site)


def load():
    directory = os.environ["OW_ACTION_DIR"]
    main = os.environ.get("OW_ACTION_MAIN") or "main"
    source = os.environ.get("OW_ACTION_FILE")
    sys.path.insert(0, directory)
    if not source:
        activate_virtualenv(directory)
        source = os.path.join(directory, "__main__.py")
        if not os.path.exists(source):
            raise Exception("Zipped actions must contain __main__.py at the root.")
    spec = importlib.util.spec_from_file_location("main__", source)
    module = importlib.util.module_from_spec(spec)
    sys.modules["main__"] = module
    spec.loader.exec_module(module)
    handler = getattr(module, main, None)
    if not callable(handler):
        raise Exception("Action entrypoint '%s' is not a function." % main)
    return handler


def configure(line):
    """Takes the action a standby launcher waited for: where it is and its environment."""
    c = json.loads(line)
    os.environ["OW_ACTION_DIR"] = c["dir"]
    os.environ["OW_ACTION_MAIN"] = c["main"]
    if c.get("file"):
        os.environ["OW_ACTION_FILE"] = c["file"]
    for key, value in (c.get("env") or {}).items():
        os.environ[key] = value if isinstance(value, str) else json.dumps(value)
    os.chdir(c["dir"])


# Started with the container (OW_STANDBY), the first line names the action; otherwise it is known.
if os.environ.get("OW_STANDBY") == "1":
    first = sys.stdin.readline()
    if not first:
        sys.exit(0)
    configure(first)

try:
    handler = load()
except BaseException as e:
    traceback.print_exc(file=sys.stderr)
    answer({"error": "%s: %s" % (type(e).__name__, e)})
    sys.exit(1)
answer({"ok": True})

while True:
    line = sys.stdin.readline()
    if not line:
        break
    tag, _, text = line.partition("\t")
    tag = tag.encode("ascii")
    message = json.loads(text)
    for key, value in message.items():
        if key != "value" and isinstance(value, str):
            os.environ["__OW_%s" % key.upper()] = value
    try:
        result = handler(message.get("value", {}))
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        result = {"error": str(e)}
    try:
        answer(result, tag)
    except (TypeError, ValueError) as e:
        answer({DEVELOPER_ERROR: "The action did not return a serializable result: %s" % e}, tag)
