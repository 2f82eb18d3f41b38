# Owl's Python launcher. The actions-runtime proxy starts it once per container: it loads the action,
# acknowledges on file descriptor 3, then answers each activation (one line on stdin: a tag, a tab and
# the JSON message) with one line on descriptor 3 (the same tag, a tab and the JSON result), in the
# order they came. The action's prints are the container's log.
#
# Failures are those of OpenWhisk's Python images (openwhisk-runtime-python core/python3Action:
# bin/compile, lib/launcher.py, behind the actionloop proxy): code that does not parse, or a zip
# without __main__.py, cannot be built (the compile step's check, reported as such with its words);
# code that raises or exits while it is imported, or has no `main`, ends this process before it
# acknowledges, as `from main__ import main` ends upstream's; an exception of `main` is its
# `{"error": str(e)}` result; anything else that escapes `main` (SystemExit, a result json.dumps
# refuses) ends the process, which the proxy answers with upstream's `command exited`.
import glob
import importlib.util
import json
import os
import sys
import traceback

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


class BuildError(Exception):
    """The action's code cannot be built: upstream's compile step says so on its output."""


def check(source):
    """What upstream's compile step checks: the module exists and parses (the message is its output)."""
    if not os.path.exists(source):
        raise BuildError("Zip file does not include main__")
    try:
        with open(source, "rb") as f:
            # compile() parses as ast.parse does, without importing anything at the launcher's start.
            compile(f.read().decode("utf-8"), source, "exec", dont_inherit=True)
    except SyntaxError as e:
        raise BuildError(e.msg)
    except Exception as e:
        raise BuildError(str(e))


def load():
    directory = os.environ["OW_ACTION_DIR"]
    main = os.environ.get("OW_ACTION_MAIN") or "main"
    source = os.environ.get("OW_ACTION_FILE")
    sys.path.insert(0, directory)
    if not source:
        activate_virtualenv(directory)
        source = os.path.join(directory, "__main__.py")
    check(source)
    spec = importlib.util.spec_from_file_location("main__", source)
    module = importlib.util.module_from_spec(spec)
    sys.modules["main__"] = module
    spec.loader.exec_module(module)
    # As `from main__ import <main> as main`: anything by that name, called at each run.
    if not hasattr(module, main):
        raise ImportError("cannot import name '%s' from 'main__' (%s)" % (main, source))
    return getattr(module, main)


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
except BuildError as e:
    answer({"error": str(e), "stage": "build"})
    sys.exit(1)
# Any other exception (or exit) of the action's code ends the process here, with Python's own
# traceback on stderr, before any acknowledgement.
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
        print(traceback.format_exc(), file=sys.stderr)
        result = {"error": str(e)}
    answer(result, tag)
