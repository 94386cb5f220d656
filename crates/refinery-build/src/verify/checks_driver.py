# The verification checks of one wheel in one interpreter (see checks.rs): an emulated
# interpreter start costs about half a second, so the imports, the smoke snippets and the
# catalog's self-tests share one. Run as `python -X faulthandler DRIVER PLAN.json`, where
# the plan is a list of parts `{"name", "limit", "import": [modules]}` or
# `{"name", "limit", "script": path}`. Each part is framed by
#   [refinery-verify] --- NAME (limit N s) ---
#   ...its output...
#   [refinery-verify] end NAME exit CODE in SECS s
# where CODE is the exit status the part would have had as its own interpreter. A part
# that kills the interpreter (a signal, a hang killed by the host) has no end line: the
# host reports it from the process's end and runs the parts after it in a new one.
# Started ahead as `python -X faulthandler DRIVER --wait SITE PLAN.json`, it waits for the
# host's `go` on stdin first (see wait_for_go): the interpreter's start under emulation
# then overlaps the wheel's native install.
# Runs on every CPython the refinery targets (3.9 on).
import importlib
import json
import os
import runpy
import sys
import time
import traceback

# One pipe for both streams: the host reads stdout and stderr with two threads, so only
# then does each part's output stay between its markers.
sys.stdout.flush()
sys.stderr.flush()
os.dup2(1, 2)

# Imports (the `import` part): each module named; a module that needs a part of the
# standard library this Python was built or packaged without (Debian ships `tkinter`
# apart, as `python3-tk`; Pillow's `_imagingtk` imports it, matplotlib's `_tkagg` raises
# its own ImportError from tkinter's) is reported not checked instead of failed: the
# wheel is not at fault, and a user's Python may have it.
# Likewise a module inside a test package (a dotted part `tests`, `test` or `testing`)
# that needs a module neither the wheel nor its installed requirements provide: that is
# a test-only dependency (greenlet's `greenlet.tests` package imports psutil), which the
# wheel's metadata rightly does not require. A module whose direct import is a circular
# import in the package itself is imported again after the module that imports it.
# Every other module is still imported.
OPTIONAL_STDLIB = {"tkinter", "_tkinter", "turtle", "idlelib", "curses", "_curses", "readline", "dbm", "_gdbm"}
TEST_PACKAGES = {"tests", "test", "testing"}


def missing_module(error):
    # The module an import lacked: its own, or the one it was raised from.
    for _ in range(16):
        if isinstance(error, ModuleNotFoundError):
            return (error.name or "").split(".")[0]
        if error is None:
            break
        error = error.__cause__ or error.__context__
    return ""


def circular_importer(error, name, own):
    # "cannot import name X from partially initialized module M": M's own initialization
    # imported a module P of the package that imports X back from M. The package imports
    # P first (scipy 1.16's _matfuncs_sqrtm before _matfuncs_sqrtm_triu, on every
    # platform); that order is retried. P is the deepest frame of the package outside M.
    if "partially initialized module" not in str(error):
        return ""
    importer, tb = "", error.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__") or ""
        if module != name and module.split(".")[0] in own:
            importer = module
        tb = tb.tb_next
    return importer


def import_modules(names):
    stdlib = getattr(sys, "stdlib_module_names", OPTIONAL_STDLIB)
    own = {name.split(".")[0] for name in names}
    failed = []
    for name in names:
        try:
            module = importlib.import_module(name)
            print("[refinery-verify] imported", name, "from", getattr(module, "__file__", "?"), flush=True)
        except ImportError as error:
            missing = missing_module(error)
            if missing in stdlib and missing not in own:
                print("[refinery-verify] not checked", name + ": it needs the standard library's", missing + ", which this Python lacks", flush=True)
                continue
            if missing and missing not in own and TEST_PACKAGES & set(name.split(".")[1:-1]):
                print("[refinery-verify] not checked", name + ": a test module that needs", missing + ", a test-only dependency the wheel does not require", flush=True)
                continue
            importer = circular_importer(error, name, own)
            if importer:
                try:
                    importlib.import_module(importer)
                    module = importlib.import_module(name)
                    print("[refinery-verify] imported", name, "from", getattr(module, "__file__", "?"), "after", importer + ": imported first, it is a circular import in the package itself", flush=True)
                    continue
                except Exception:
                    # The retry failed too: report the first import's error.
                    pass
            traceback.print_exc()
            print("[refinery-verify] cannot import", name + ":", type(error).__name__, error, flush=True)
            failed.append(name)
        except BaseException as error:
            traceback.print_exc()
            print("[refinery-verify] cannot import", name + ":", type(error).__name__, error, flush=True)
            failed.append(name)
    print("[refinery-verify] byteorder", sys.byteorder, flush=True)
    return 1 if failed else 0


def exit_code(code):
    """The exit status `sys.exit(code)` gives an interpreter, which prints a code that is
    not an int or None to stderr."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr, flush=True)
    return 1


def run_script(path):
    """Run `path` as the interpreter runs a script (`__main__`, `sys.argv`); its exit
    status, with a traceback from the script's own frames on an exception."""
    sys.argv = [path]
    try:
        runpy.run_path(path, run_name="__main__")
        return 0
    except SystemExit as error:
        return exit_code(error.code)
    except BaseException as error:
        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != path:
            tb = tb.tb_next
        traceback.print_exception(type(error), error, tb)
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def wait_for_go(site_dir):
    """Started ahead (`--wait SITE PLAN`) while the host installs the wheel into SITE: one
    line `go` on stdin starts the checks, anything else (the host closed it: the install
    failed) ends the interpreter quietly. SITE becomes a site dir now, with its `.pth`
    files, as the venv's own `.pth` makes it for interpreters started after the install."""
    line = sys.stdin.readline()
    if line.strip() != "go":
        sys.exit(0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = open(0, encoding="utf-8", closefd=False)
    import site

    site.addsitedir(site_dir)
    importlib.invalidate_caches()


def main():
    args = sys.argv[1:]
    if args[0] == "--wait":
        wait_for_go(args[1])
        args = args[2:]
    with open(args[0], encoding="utf-8") as file:
        plan = json.load(file)
    for part in plan:
        print("[refinery-verify] --- %s (limit %d s) ---" % (part["name"], part["limit"]), flush=True)
        started = time.monotonic()
        if "import" in part:
            code = import_modules(part["import"])
        else:
            code = run_script(part["script"])
        print("[refinery-verify] end %s exit %d in %.3f s" % (part["name"], code, time.monotonic() - started), flush=True)
        # As in separate interpreters: nothing runs after a failed import.
        if "import" in part and code != 0:
            break


main()
