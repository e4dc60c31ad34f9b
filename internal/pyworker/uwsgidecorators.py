# uwsgidecorators for gosgi (spec PY-55..PY-60): decorators over the uwsgi
# module with the same names, arguments and wire formats as uWSGI's own
# module, so spool files and mule messages written by either are understood
# by the other (spooler tasks carry 'ud_spool_func', 'ud_spool_ret' and
# pickled 'args'/'kwargs'; mule functions travel as a pickled dict with
# 'service': 'uwsgi_mulefunc'). Erlang integration is not provided.
import pickle
import threading
from functools import partial

import uwsgi

if uwsgi.masterpid() == 0:
    raise Exception("you have to enable the uWSGI master process to use this module")

spooler_functions = {}
mule_functions = {}
postfork_chain = []


def _to_bytes(v):
    return v.encode("utf-8") if isinstance(v, str) else v


def _to_str(v):
    return v.decode("utf-8") if isinstance(v, bytes) else v


def get_free_signal():
    """The lowest signal number nobody registered yet."""
    for num in range(256):
        if not uwsgi.signal_registered(num):
            return num
    raise Exception("No free uwsgi signal available")


def manage_spool_request(task):
    """The uwsgi.spooler callback: run the function named by the task."""
    named = {_to_str(k): v for k, v in task.items()}
    pickled = "args" in named
    if pickled:
        args = pickle.loads(named.pop("args"))
        kwargs = pickle.loads(named.pop("kwargs"))
    named = {k: _to_str(v) for k, v in named.items()}
    f = spooler_functions[named["ud_spool_func"]]
    ret = f(*args, **kwargs) if pickled else f(named)
    return int(named.get("ud_spool_ret", ret))


def postfork_chain_hook():
    for f in postfork_chain:
        f()


uwsgi.spooler = manage_spool_request
uwsgi.post_fork_hook = postfork_chain_hook


class postfork(object):
    """@postfork runs f after every fork; @postfork(N) only in worker N."""

    def __init__(self, f):
        if isinstance(f, int):
            self.wid, self.f = f, None
        else:
            self.wid, self.f = 0, f
            postfork_chain.append(f)

    def __call__(self, *args, **kwargs):
        if self.f is not None:
            return self.f(*args, **kwargs)
        f = args[0]
        wid = self.wid

        def only_there():
            if uwsgi.worker_id() == wid:
                f()

        postfork_chain.append(only_there)
        return f


class _spoolraw(object):
    ret = None  # what the spooler reports when the function returns nothing usable

    def __init__(self, f, pass_arguments):
        if "spooler" not in uwsgi.opt:
            raise Exception("you have to enable the uWSGI spooler to use @%s decorator" % self.__class__.__name__)
        self.f = f
        self.pass_arguments = pass_arguments
        spooler_functions[f.__name__] = f
        f.spool = self.__call__  # the pre-1.9.13 spelling

    def __call__(self, *args, **kwargs):
        task = {"ud_spool_func": self.f.__name__}
        if self.ret is not None:
            task["ud_spool_ret"] = str(self.ret)
        if self.pass_arguments:
            for key in ("message_dict", "spooler", "priority", "at", "body"):
                if key in kwargs:
                    task[key] = kwargs.pop(key)
            task["args"] = pickle.dumps(args)
            task["kwargs"] = pickle.dumps(kwargs)
        else:
            if args:
                task.update(args[0])
            task.update(kwargs)
        return uwsgi.spool({_to_bytes(k): _to_bytes(v) for k, v in task.items()})

    def spool(self, *args, **kwargs):
        return _spoolraw.__call__(self, *args, **kwargs)


class _spool(_spoolraw):
    ret = uwsgi.SPOOL_OK


class _spoolforever(_spoolraw):
    ret = uwsgi.SPOOL_RETRY


def spool_decorate(f=None, pass_arguments=False, _class=_spoolraw):
    if f is None:
        return partial(_class, pass_arguments=pass_arguments)
    return _class(f, pass_arguments)


def spoolraw(f=None, pass_arguments=False):
    return spool_decorate(f, pass_arguments, _spoolraw)


def spool(f=None, pass_arguments=False):
    return spool_decorate(f, pass_arguments, _spool)


def spoolforever(f=None, pass_arguments=False):
    return spool_decorate(f, pass_arguments, _spoolforever)


class mulefunc(object):
    """@mulefunc / @mulefunc(N): calls run in a mule (any mule, or mule N)."""

    def __init__(self, f):
        if callable(f):
            self.fname, self.mule = f.__name__, 0
            mule_functions[f.__name__] = f
        else:
            self.fname, self.mule = None, f

    def real_call(self, *args, **kwargs):
        uwsgi.mule_msg(pickle.dumps({"service": "uwsgi_mulefunc", "func": self.fname,
                                     "args": args, "kwargs": kwargs}), self.mule)

    def __call__(self, *args, **kwargs):
        if self.fname is None:
            f = args[0]
            self.fname = f.__name__
            mule_functions[f.__name__] = f
            return self.real_call
        return self.real_call(*args, **kwargs)


def mule_msg_dispatcher(message):
    msg = pickle.loads(message)
    if msg["service"] == "uwsgi_mulefunc":
        return mule_functions[msg["func"]](*msg["args"], **msg["kwargs"])


uwsgi.mule_msg_hook = mule_msg_dispatcher


class rpc(object):
    def __init__(self, name):
        self.name = name

    def __call__(self, f):
        uwsgi.register_rpc(self.name, f)
        return f


class farm_loop(object):
    def __init__(self, f, farm):
        self.f, self.farm = f, farm

    def __call__(self):
        if uwsgi.mule_id() == 0:
            return
        if not uwsgi.in_farm(self.farm):
            return
        while True:
            message = uwsgi.farm_get_msg()
            if message:
                self.f(message)


class farm(object):
    """@farm(name=...): a loop in the mules of that farm calling f(message)."""

    def __init__(self, name=None, **kwargs):
        self.name = name

    def __call__(self, f):
        postfork_chain.append(farm_loop(f, self.name))
        return f


class mule_brain(object):
    def __init__(self, f, num):
        self.f, self.num = f, num

    def __call__(self):
        if uwsgi.mule_id() == self.num:
            try:
                self.f()
            except BaseException:
                import traceback

                traceback.print_exc()
                raise SystemExit(1)


class mule_brainloop(mule_brain):
    def __call__(self):
        if uwsgi.mule_id() == self.num:
            while True:
                mule_brain.__call__(self)


class mule(object):
    """@mule(N): f runs in mule N after its fork."""

    def __init__(self, num):
        self.num = num

    def __call__(self, f):
        postfork_chain.append(mule_brain(f, self.num))
        return f


class muleloop(mule):
    def __call__(self, f):
        postfork_chain.append(mule_brainloop(f, self.num))
        return f


class mulemsg_loop(object):
    def __init__(self, f, num):
        self.f, self.num = f, num

    def __call__(self):
        if uwsgi.mule_id() == self.num:
            while True:
                message = uwsgi.mule_get_msg()
                if message:
                    self.f(message)


class mulemsg(object):
    """@mulemsg(N): mule N calls f(message) for each of its messages."""

    def __init__(self, num):
        self.num = num

    def __call__(self, f):
        postfork_chain.append(mulemsg_loop(f, self.num))
        return f


def _signum(kwargs):
    num = kwargs.get("signum")
    return get_free_signal() if num is None else num


class signal(object):
    """@signal(num, target=''): f handles uwsgi signal num."""

    def __init__(self, num, **kwargs):
        self.num = num
        self.target = kwargs.get("target", "")

    def __call__(self, f):
        uwsgi.register_signal(self.num, self.target, f)
        self._arm()
        return f

    def _arm(self):
        """Sets what raises the signal: nothing for @signal itself."""


class timer(signal):
    """@timer(secs, signum=auto, target=''): f runs every secs seconds."""

    def __init__(self, secs, **kwargs):
        signal.__init__(self, _signum(kwargs), **kwargs)
        self.secs = secs

    def _arm(self):
        uwsgi.add_timer(self.num, self.secs)


class cron(signal):
    """@cron(minute, hour, day, month, dayweek, signum=auto, target='')."""

    def __init__(self, minute, hour, day, month, dayweek, **kwargs):
        signal.__init__(self, _signum(kwargs), **kwargs)
        self.spec = (minute, hour, day, month, dayweek)

    def _arm(self):
        uwsgi.add_cron(self.num, *self.spec)


class rbtimer(signal):
    """@rbtimer(secs, signum=auto, target='')."""

    def __init__(self, secs, **kwargs):
        signal.__init__(self, _signum(kwargs), **kwargs)
        self.secs = secs

    def _arm(self):
        uwsgi.add_rb_timer(self.num, self.secs)


class filemon(signal):
    """@filemon(path, signum=auto, target=''): f runs when path changes."""

    def __init__(self, fsobj, **kwargs):
        signal.__init__(self, _signum(kwargs), **kwargs)
        self.fsobj = fsobj

    def _arm(self):
        uwsgi.add_file_monitor(self.num, self.fsobj)


class lock(object):
    """@lock: the call holds uwsgi lock 0 (a no-op in the spooler)."""

    def __init__(self, f):
        self.f = f

    def __call__(self, *args, **kwargs):
        if uwsgi.i_am_the_spooler():
            return self.f(*args, **kwargs)
        uwsgi.lock()
        try:
            return self.f(*args, **kwargs)
        finally:
            uwsgi.unlock()


class thread(object):
    """@thread: each call runs f in a new daemon thread."""

    def __init__(self, f):
        self.f = f

    def __call__(self, *args):
        t = threading.Thread(target=self.f, args=args)
        t.daemon = True
        t.start()
        return self.f


class harakiri(object):
    """@harakiri(secs): the call is killed (with its process) after secs."""

    def __init__(self, seconds):
        self.s = seconds

    def real_call(self, *args, **kwargs):
        uwsgi.set_user_harakiri(self.s)
        try:
            return self.f(*args, **kwargs)
        finally:
            uwsgi.set_user_harakiri(0)

    def __call__(self, f):
        self.f = f
        return self.real_call
