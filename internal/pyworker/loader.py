# gosgi's Python-side loader. The zygote executes this file once, right after
# the interpreter starts, with BUNDLE set to the boot bundle the master wrote
# (its "spec" is the instance configuration seen from Python). It prepares the
# interpreter as uWSGI's python plugin does (stdio, sys.path, the uwsgi
# module), imports the apps, and provides the small Python helpers the C
# request path calls: wsgi.input objects, the file wrapper, hooks.
import io
import os
import sys
import threading
import time
import traceback
import types

import _gosgi

SPEC = BUNDLE["spec"]  # noqa: F821 (set by the bootstrap)
FILES = BUNDLE["files"]  # noqa: F821


def _prefix():
    fmt = SPEC.get("log_date")
    if fmt is None:
        return ""
    if fmt == "":
        return time.ctime() + " - "
    return time.strftime(fmt) + " - "


def log(msg):
    """Write one server message line to the log (fd 2), whole."""
    try:
        os.write(2, (_prefix() + msg + "\n").encode("utf-8", "backslashreplace"))
    except OSError:
        pass  # an unwritable log (a full disk) loses the line, nothing else


class _LogFile(io.FileIO):
    """fd 2 for print() and tracebacks; a failed write loses the text
    instead of raising into the app or the loader."""

    def write(self, b):
        try:
            return super().write(b)
        except OSError:
            return len(b)


def _setup_stdio():
    # PY-20: print() and tracebacks land in the log, line by line.
    if os.isatty(0):
        return
    stream = io.TextIOWrapper(io.BufferedWriter(_LogFile(2, "w", closefd=False)), encoding="UTF-8",
                              errors="backslashreplace", line_buffering=True)
    stream.mode = "w"
    sys.stdout = sys.__stdout__ = sys.stderr = sys.__stderr__ = stream


def _expand_pythonpath(entries):
    import glob

    out = []
    for entry in entries:
        matches = sorted(glob.glob(entry)) if any(c in entry for c in "*?[") else []
        for path in matches or [entry]:
            if os.path.isdir(path) and not path.endswith("/"):
                path += "/"
            out.append(path)
    return out


def _setup_sys_path():
    # PY-9: '.' first, then each pythonpath entry inserted at index 0.
    sys.path.insert(0, ".")
    for path in _expand_pythonpath(SPEC.get("pythonpath") or []):
        sys.path.insert(0, path)
        log("added %s to pythonpath." % path)


def _make_module(name, filename):
    mod = types.ModuleType(name)
    mod.__file__ = "<gosgi %s>" % filename
    sys.modules[name] = mod
    exec(compile(FILES[filename], mod.__file__, "exec"), mod.__dict__)
    return mod


class _BundledModules:
    """Import hook serving modules shipped in the boot bundle (gosgi's own
    uwsgidecorators, PY-55): first on sys.meta_path, so an app gets the copy
    that matches this uwsgi module rather than another server's."""

    def __init__(self, names):
        self.names = names

    def find_spec(self, name, path=None, target=None):
        if name not in self.names:
            return None
        import importlib.util

        return importlib.util.spec_from_loader(name, self, origin="<gosgi %s>" % self.names[name])

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        filename = self.names[module.__name__]
        module.__file__ = "<gosgi %s>" % filename
        exec(compile(FILES[filename], module.__file__, "exec"), module.__dict__)


class FileWrapper:
    """wsgi.file_wrapper: the C side sends .filelike with sendfile() when it
    has a file descriptor, and iterates the wrapper otherwise (PY-32)."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


class _Input:
    """wsgi.input (PY-26): reads never go past CONTENT_LENGTH; waits are
    bounded by socket-timeout and raise OSError. With post-buffering the
    body was read before the app was called, and seek() works."""

    __slots__ = ("_core",)

    def __init__(self, core):
        self._core = core

    def read(self, size=-1):
        if size is None:
            size = -1
        return _gosgi.input_read(self._core, int(size))

    def readline(self, size=-1):
        if size is None:
            size = -1
        return _gosgi.input_readline(self._core, int(size))

    def readlines(self, hint=-1):
        lines, total = [], 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self):
        pass

    # seek works on a body buffered by post-buffering; like uWSGI's, it
    # takes an absolute position and ignores any whence argument.
    def seek(self, pos, *whence):
        return _gosgi.input_seek(self._core, int(pos))

    def tell(self):
        return _gosgi.input_tell(self._core)

    def fileno(self):
        return _gosgi.input_fileno(self._core)


_Input.__module__ = "uwsgi"
_Input.__qualname__ = _Input.__name__ = "_Input"


def make_input(core):
    # Runs once on each core's thread: name it as uWSGI names its request
    # threads (py-tracebacker output, threading.current_thread()).
    threading.current_thread().name = "uWSGIWorker%dCore%d" % (_gosgi.worker_id(), core)
    return _Input(core)


# http-auto-gzip: the router compresses a body the app marked with
# uWSGI-Encoding: gzip; each write is flushed so streamed bodies stream.
def gzip_start():
    import zlib

    return zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 31)


def gzip_chunk(z, data):
    import zlib

    return z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)


def gzip_end(z):
    return z.flush()


def log_exc_info(exc_info):
    traceback.print_exception(*exc_info)


def log_unhandled_object(item):
    log("[ERROR] Unhandled object from iterator: %r (0x%x)" % (item, id(item)))


# ------------------------------------------------------------------ apps

_interpreter = id(sys.modules)


def _file_module_name(path):
    return "uwsgi_file_" + path.replace(".", "_").replace("/", "_")


def _load_file(path):
    import importlib.util

    if not os.path.isfile(path):
        log("failed to open python file %s" % path)
        return None
    name = _file_module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:
        # files without a .py suffix (app.wsgi): read them as source
        from importlib.machinery import SourceFileLoader

        spec = importlib.util.spec_from_loader(name, SourceFileLoader(name, path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        traceback.print_exc()
        return None
    return module


def _import_module(name):
    import importlib

    try:
        return importlib.import_module(name)
    except BaseException:
        traceback.print_exc()
        return None


def _callable_from(module, attr, where):
    call = attr.endswith("()")
    if call:
        attr = attr[:-2]
    app = getattr(module, attr, None)
    if app is None:
        log('unable to find "%s" callable in %s' % (attr, where))
        return None
    if call:
        try:
            app = app()
        except BaseException:
            traceback.print_exc()
            return None
    if not callable(app):
        log('"%s" must be a callable object in %s' % (attr, where))
        return None
    return app


def _load_target(target):
    """Load a module (pkg.mod[:attr]) or file (path.py, path.wsgi) target."""
    default = SPEC.get("callable") or "application"
    if target.endswith((".py", ".wsgi")) or "/" in target and ":" not in target:
        module = _load_file(target)
        if module is None:
            return None
        return _callable_from(module, default, "file %s" % target)
    name, _, attr = target.partition(":")
    module = _import_module(name)
    if module is None:
        return None
    return _callable_from(module, attr or default, "module %s" % name)


_mountpoints = []


def mountpoints():
    return list(_mountpoints)


def _register(mountpoint, app, started, default):
    index = _gosgi.register_app(mountpoint, app)
    _mountpoints.append(mountpoint)
    log(
        "WSGI app %d (mountpoint='%s') ready in %d seconds on interpreter 0x%x pid: %d%s"
        % (index, mountpoint, int(time.time() - started), _interpreter, SPEC["app_pid"] or os.getpid(),
           " (default app)" if default else "")
    )


def load_apps():
    """PY-4: module, then wsgi-file, then mounts; first loader per mountpoint wins."""
    loaded = {}
    targets = []
    if SPEC.get("module"):
        targets.append(("", SPEC["module"]))
    if SPEC.get("wsgi_file"):
        targets.append(("", SPEC["wsgi_file"]))
    if SPEC.get("eval"):
        targets.append(("", ("eval", SPEC["eval"])))
    for mount in SPEC.get("mounts") or []:
        mountpoint, _, target = mount.partition("=")
        log("mounting %s on %s" % (target, mountpoint))
        targets.append((mountpoint, target))
    for mountpoint, target in targets:
        if mountpoint in loaded:
            log("mountpoint %s already configured. skip." % mountpoint)
            continue
        started = time.time()
        if isinstance(target, tuple):
            namespace = {}
            try:
                exec(compile(target[1], "<eval>", "exec"), namespace)
                app = namespace.get(SPEC.get("callable") or "application")
            except BaseException:
                traceback.print_exc()
                app = None
        else:
            app = _load_target(target)
        if app is None:
            log("unable to load app %d (mountpoint='%s') (callable not found or import error)"
                % (len(loaded), mountpoint))
            continue
        # PY-6: the first app with an empty or absolute mountpoint is the default.
        _register(mountpoint, app, started, not loaded)
        loaded[mountpoint] = app
    if not loaded:
        if SPEC.get("need_app"):
            log("*** no app loaded. GAME OVER ***")
            sys.stderr.flush()
            os._exit(22)
        log("*** no app loaded. going in full dynamic mode ***")
    return len(loaded)


def _run_imports(names):
    for name in names:
        if "/" in name or name.endswith(".py"):
            if _load_file(name) is None:
                raise SystemExit(1)
        elif _import_module(name) is None:
            raise SystemExit(1)


# --------------------------------------------------------------- phases


def _opt_list(*names):
    """Values of the named options (aliases of one option) in config order."""
    return [e["v"] for e in SPEC.get("opt") or [] if e["k"] in names and not e.get("n")]


def _module_aliases():
    """pymodule-alias = NAME=MODULE_OR_FILE: NAME imports as the target."""
    for entry in _opt_list("pymodule-alias"):
        name, sep, target = entry.partition("=")
        if not sep or not name or not target:
            log("invalid pymodule-alias %r (want name=module or name=file.py)" % entry)
            raise SystemExit(1)
        if target.endswith(".py") or "/" in target:
            mod = _load_file(target)
            shown = "file"
        else:
            mod = _import_module(target)
            shown = "real pymodule"
        if mod is None:
            raise SystemExit(1)
        sys.modules[name] = mod
        log("mapped virtual pymodule \"%s\" to %s \"%s\"" % (name, shown, target))


def boot():
    """Runs once in the zygote, before any fork."""
    _setup_stdio()
    for key in [k for k in os.environ if k.startswith("GOSGI_")]:
        if key not in ("GOSGI_ROLE",):
            os.environ.pop(key, None)
    sys.argv = ["uwsgi"] + (SPEC.get("pyargv") or "").split()
    log("Python version: %s" % sys.version.replace("\n", " "))
    log("Python main interpreter initialized at 0x%x" % _interpreter)
    log("python threads support enabled")
    _setup_sys_path()
    _make_module("uwsgi", "uwsgi.py")
    sys.meta_path.insert(0, _BundledModules({"uwsgidecorators": "uwsgidecorators.py"}))
    _gosgi.set_file_wrapper(FileWrapper)
    _module_aliases()
    if SPEC.get("gevent"):
        _require_gevent()
    if SPEC.get("gevent_early_monkey_patch"):  # before anything of the app is imported
        _gevent_monkey_patch()
    # shared-import: modules imported once here, before the fork, as import.
    _run_imports(_opt_list("shared-import", "shared-pyimport", "shared-py-import", "shared-python-import"))
    _run_imports(SPEC.get("imports") or [])
    if not SPEC.get("lazy"):
        load_apps()
    # Everything imported so far lives as long as the zygote: move it out of
    # the collector's reach, so that collections in the forked workers do
    # not write to (and so copy) the pages they share with the zygote.
    import gc

    gc.collect()
    gc.freeze()


def worker_init(worker_id):
    """Runs in each freshly forked worker, before it serves requests."""
    uwsgi = sys.modules["uwsgi"]
    if SPEC.get("gevent"):
        _gevent_worker_init()
    uwsgi._worker_started(worker_id)
    uwsgi._process_started("worker", worker_id)
    _post_fork()
    if SPEC.get("lazy"):
        load_apps()
    if SPEC.get("gevent") and SPEC.get("gevent_monkey_patch") and not SPEC.get("gevent_early_monkey_patch"):
        _gevent_monkey_patch()  # after the apps are loaded, as uWSGI does it
    override = _opt_list("python-worker-override")
    if override:
        # The script replaces the request loop; the worker ends with it.
        rc = _run_script(override[-1])
        worker_exit()
        sys.stdout.flush()
        os._exit(rc)
    _gosgi.set_after_req_hook(getattr(uwsgi, "after_req_hook", None))
    _start_autoreloader(worker_id)
    return {
        "wsgi.version": (1, 0),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": SPEC.get("threads", 1) > 1,
        "wsgi.multiprocess": SPEC.get("processes", 1) > 1,
        "uwsgi.version": SPEC["version"].encode(),
        "uwsgi.node": SPEC["hostname"].encode(),
    }


def _start_autoreloader(worker_id):
    """py-autoreload (PM-48): a thread that reloads the instance (SIGHUP to
    the master) when the file of a loaded module changes."""
    import signal

    interval = SPEC.get("py_autoreload") or 0
    # One watcher is enough: a reload replaces every worker, and several
    # SIGHUPs would reload several times.
    if interval <= 0 or worker_id != 1:
        return
    ignore = set(SPEC.get("py_autoreload_ignore") or [])
    log("Python auto-reloader enabled")

    def files():
        for name, mod in list(sys.modules.items()):
            f = getattr(mod, "__file__", None)
            if name in ignore or not isinstance(f, str) or f.startswith("<"):
                continue
            yield f[:-1] if f.endswith(".pyc") else f

    def mtime(f):
        try:
            return os.stat(f).st_mtime
        except OSError:
            return None

    def run():
        seen = {f: mtime(f) for f in files()}
        while True:
            time.sleep(interval)
            for f in files():
                now = mtime(f)
                if f not in seen:
                    seen[f] = now
                elif now != seen[f]:
                    log("[uwsgi-python-reloader] module/file %s has been modified" % f)
                    os.kill(SPEC["master_pid"], signal.SIGHUP)
                    return

    sys.modules["uwsgi"]._os_thread(run, (), "uwsgi-python-reloader")


def _require_gevent():
    """gevent mode without the gevent module cannot serve: stop at once."""
    try:
        import gevent  # noqa: F401
    except ImportError as e:
        log("gevent = %d needs the gevent module (Debian: python3-gevent): %s" % (SPEC["gevent"], e))
        raise SystemExit(1)


def _gevent_monkey_patch():
    from gevent import monkey

    monkey.patch_all()


def _gevent_worker_init():
    """gevent mode: the hub loop module, in a freshly forked worker."""
    import gevent

    gevent.reinit()  # forked from the zygote
    _make_module("_gosgi_gevent", "gevent_loop.py")


def worker_exit():
    hook = getattr(sys.modules.get("uwsgi"), "atexit", None)
    if hook is not None:
        hook()


def _post_fork():
    # PY-49: uwsgi.post_fork_hook (uwsgidecorators' @postfork chain) runs in
    # every forked child: workers, mules and spoolers.
    hook = getattr(sys.modules["uwsgi"], "post_fork_hook", None)
    if hook is not None:
        hook()


def _run_script(path):
    import runpy

    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def run_role(role, ident):
    """Runs in a freshly forked mule or spooler (PM-76, PM-77); the process
    exits with the returned status, and the master respawns it."""
    uwsgi = sys.modules["uwsgi"]
    try:
        uwsgi._process_started(role, ident)
        _post_fork()
        if role == "spooler":
            names = list(SPEC.get("spooler_imports") or [])
            names += [n for n in _opt_list("spooler-pyimport", "spooler-py-import", "spooler-python-import")
                      if n not in names]
            _run_imports(names)
            return uwsgi._run_spooler(ident) or 0
        if role == "mule":
            rc = uwsgi._run_mule(ident) or 0
            worker_exit()
            return rc
        log("unknown process role %r" % role)
        return 1
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
