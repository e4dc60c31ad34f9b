// The zygote: a process started by the master with GOSGI_ROLE=zygote. This
// constructor runs before the Go runtime starts (the pattern runc's nsenter
// uses), loads libpython, imports the app once and then forks workers on the
// master's request. The zygote itself never returns from the constructor, so
// Go never runs in it; each forked worker returns and starts Go normally.
//
// Workers are forked twice so that they are re-parented to the master (a
// child subreaper) and the master reaps and signals them like uWSGI's own.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "pyapi.h"
#include "shim.h"

struct gosgi_py py;

static int role;            // 2 in a worker
static int worker_id;
static pid_t master_pid;    // read before Python may change the environment
static char *bundle;        // boot bundle (JSON), kept for the Go side
static size_t bundle_len;
PyThreadState *gosgi_main_ts; // main thread state of a worker (GIL released)

int gosgi_role(void) { return role; }
int gosgi_worker_id(void) { return worker_id; }
const char *gosgi_bundle(size_t *len) {
	*len = bundle_len;
	return bundle;
}

static void die(const char *fmt, const char *arg) {
	char msg[1024];
	int n = snprintf(msg, sizeof msg, fmt, arg, strerror(errno));
	if (n > 0) {
		if (n > (int)sizeof msg - 2) n = sizeof msg - 2;
		msg[n++] = '\n';
		(void)!write(2, msg, n);
	}
	_exit(1);
}

static int env_int(const char *name, int def) {
	const char *v = getenv(name);
	return v && *v ? atoi(v) : def;
}

static void read_bundle(int fd) {
	struct stat st;
	if (fstat(fd, &st) < 0) die("gosgi zygote: boot bundle %s: %s", "fstat");
	bundle = malloc(st.st_size + 1);
	if (!bundle) die("gosgi zygote: boot bundle %s: %s", "malloc");
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, bundle + got, st.st_size - got, got);
		if (n <= 0) die("gosgi zygote: boot bundle %s: %s", "read");
		got += n;
	}
	bundle[got] = 0;
	bundle_len = got;
	close(fd);
}

static void load_python(const char *lib) {
	void *h = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
	if (!h) {
		char msg[1200];
		int n = snprintf(msg, sizeof msg, "!!! UNABLE to load libpython: %s !!!\n", dlerror());
		(void)!write(2, msg, n);
		_exit(1);
	}
#define LOAD_FN(ret, name, args)                                              \
	py.name = (ret(*) args)dlsym(h, #name);                                   \
	if (!py.name) die("gosgi zygote: libpython lacks %s%s", #name);
#define LOAD_OPT(ret, name, args) py.name = (ret(*) args)dlsym(h, #name);
#define LOAD_DATA(name)                                                       \
	py.name = dlsym(h, #name);                                                \
	if (!py.name) die("gosgi zygote: libpython lacks %s%s", #name);
	GOSGI_PY_FUNCS(LOAD_FN)
	GOSGI_PY_OPTIONAL(LOAD_OPT)
	GOSGI_PY_DATA(LOAD_DATA)
#undef LOAD_FN
#undef LOAD_OPT
#undef LOAD_DATA
}

extern int gosgi_python_module_init(void);
extern int gosgi_python_boot(void);
extern int gosgi_python_worker_init(int wid);
extern int gosgi_python_run_role(const char *role, int id);

// Reset what a C parent may leave behind that the Go runtime must not inherit.
static void reset_signals(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++) {
		if (s == SIGKILL || s == SIGSTOP) continue;
		sigaction(s, &sa, NULL);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

// A crash in C code a worker runs (a C extension, ctypes) is logged the
// way uWSGI logs it, then the worker exits 1 and the master respawns it
// ("DAMN ! worker N (pid: P) died"). The handlers are installed before Go
// starts, so Go's runtime forwards to them the faults that happen outside
// Go code and keeps its own report for faults in Go.
static void write_str(const char *s) {
	ssize_t r = write(2, s, strlen(s));
	(void)r;
}

// fault_pc is the address of the faulting instruction.
static void *fault_pc(void *uctx) {
	ucontext_t *uc = uctx;
#if defined(__x86_64__)
	return (void *)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
	return (void *)uc->uc_mcontext.pc;
#else
	(void)uc;
	return NULL;
#endif
}

// write_frame writes one frame as backtrace_symbols_fd does:
// object(symbol+offset) [address].
static void write_frame(void *pc) {
	char line[512];
	Dl_info di;
	if (pc && dladdr(pc, &di) && di.dli_fname) {
		if (di.dli_sname)
			snprintf(line, sizeof line, "%s(%s+0x%lx) [%p]\n", di.dli_fname, di.dli_sname,
			         (unsigned long)((char *)pc - (char *)di.dli_saddr), pc);
		else
			snprintf(line, sizeof line, "%s(+0x%lx) [%p]\n", di.dli_fname,
			         (unsigned long)((char *)pc - (char *)di.dli_fbase), pc);
	} else {
		snprintf(line, sizeof line, "[%p]\n", pc);
	}
	write_str(line);
}

// crash_handler logs uWSGI's lines for the crash. The backtrace is the
// faulting instruction only: the handler runs on Go's signal stack (Go
// forwards the fault to it), from where the C stack cannot be walked.
static void crash_handler(int sig, siginfo_t *si, void *uctx) {
	(void)si;
	char line[128];
	const char *what = sig == SIGFPE ? "Floating Point Exception" : "Segmentation Fault";
	snprintf(line, sizeof line, "!!! uWSGI process %d got %s !!!\n", (int)getpid(), what);
	write_str(line);
	snprintf(line, sizeof line, "*** backtrace of %d ***\n", (int)getpid());
	write_str(line);
	write_frame(fault_pc(uctx));
	write_str("*** end of backtrace ***\n");
	_exit(1);
}

static void install_crash_handlers(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = crash_handler;
	sa.sa_flags = SA_ONSTACK | SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
}

static void reply(int ctl, const char *line) {
	size_t len = strlen(line);
	while (len > 0) {
		ssize_t n = write(ctl, line, len);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) _exit(1);
		line += n;
		len -= n;
	}
}

// fork_worker forks an intermediate child that forks the worker and exits,
// so the worker is re-parented to the master. Returns 0 in the worker.
static int fork_worker(int ctl, int wid) {
	// The zygote's Python catches SIGINT (and an app may set handlers of
	// its own). A signal sent to the worker as soon as its pid is known,
	// before it first runs, would reach those handlers, which only set a
	// flag nobody reads, so a stop right after a spawn would be lost.
	// Signals stay blocked across the forks, pending, until the worker
	// has default dispositions.
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	py.PyOS_BeforeFork();
	pid_t mid = fork();
	if (mid < 0) {
		int err = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		py.PyOS_AfterFork_Parent();
		char line[64];
		snprintf(line, sizeof line, "E %d %d\n", wid, err);
		reply(ctl, line);
		return 1;
	}
	if (mid == 0) {
		pid_t w = fork();
		if (w == 0) {
			reset_signals(); // and unblocks: a pending stop ends us here
			// Wait until the intermediate process is gone and the master
			// has adopted us: our parent must be the master when Go starts.
			for (int i = 0; i < 2000 && getppid() != master_pid; i++) usleep(500);
			return 0;
		}
		char line[64];
		if (w < 0)
			snprintf(line, sizeof line, "E %d %d\n", wid, errno);
		else
			snprintf(line, sizeof line, "P %d %d\n", wid, (int)w);
		reply(ctl, line);
		_exit(0);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	py.PyOS_AfterFork_Parent();
	int st;
	while (waitpid(mid, &st, 0) < 0 && errno == EINTR) {
	}
	return 1;
}

// zygote_loop serves fork requests ("F <id> [<role>]\n", role w worker,
// m mule, s spooler) until the master closes the control socket; it returns
// only in a freshly forked child, with its role.
static int zygote_loop(int ctl, char *role_out) {
	char buf[256];
	size_t have = 0;
	for (;;) {
		ssize_t n = read(ctl, buf + have, sizeof buf - 1 - have);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) _exit(0); // master gone or done with us
		have += n;
		buf[have] = 0;
		char *nl;
		while ((nl = memchr(buf, '\n', have)) != NULL) {
			*nl = 0;
			if (buf[0] == 'F') {
				char *end;
				int wid = (int)strtol(buf + 2, &end, 10);
				char role = *end == ' ' ? end[1] : 'w';
				if (fork_worker(ctl, wid) == 0) {
					close(ctl);
					*role_out = role;
					return wid;
				}
			} else if (buf[0] == 'Q') {
				_exit(0);
			}
			size_t used = nl - buf + 1;
			memmove(buf, nl + 1, have - used);
			have -= used;
		}
		if (have == sizeof buf - 1) have = 0; // garbage line: drop it
	}
}

static wchar_t *wide(const char *s) {
	return s && *s ? py.Py_DecodeLocale(s, NULL) : NULL;
}

extern void gosgi_save_argv(int argc, char **argv);
extern void gosgi_set_title(const char *title);

__attribute__((constructor)) static void gosgi_zygote(int argc, char **argv, char **envp) {
	(void)envp;
	gosgi_save_argv(argc, argv);
	const char *r = getenv("GOSGI_ROLE");
	if (!r || strcmp(r, "zygote") != 0) return;
	// A master with `cap` hands its capabilities over in the ambient set,
	// the only way they survive an execve as a non-root user. uWSGI's
	// workers hold them in their permitted and effective sets only, so
	// that programs the app runs do not get them: drop the ambient copy.
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	const char *title = getenv("GOSGI_TITLE");
	if (title && *title) gosgi_set_title(title);
	unsetenv("GOSGI_TITLE");
	// The workers' title, with \001 standing for the worker id, is set in
	// each child before anything can look at it.
	static char worker_title[512];
	const char *wt = getenv("GOSGI_TITLE_WORKER");
	if (wt) snprintf(worker_title, sizeof worker_title, "%s", wt);
	unsetenv("GOSGI_TITLE_WORKER");

	master_pid = (pid_t)env_int("GOSGI_MASTER_PID", 0);
	int ctl = env_int("GOSGI_CTL_FD", -1);
	int boot = env_int("GOSGI_BOOT_FD", -1);
	const char *lib = getenv("GOSGI_LIBPYTHON");
	if (ctl < 0 || boot < 0 || !lib) die("gosgi zygote: %s%s", "incomplete environment");
	read_bundle(boot);
	load_python(lib);

	wchar_t *prog = wide(getenv("GOSGI_PYTHON_PROGRAM"));
	if (prog && py.Py_SetProgramName) py.Py_SetProgramName(prog);
	wchar_t *home = wide(getenv("GOSGI_PYTHON_HOME"));
	if (home && py.Py_SetPythonHome) py.Py_SetPythonHome(home);
	// These were only for us; the app must see the environment it was given.
	unsetenv("GOSGI_PYTHON_PROGRAM");
	unsetenv("GOSGI_PYTHON_HOME");
	unsetenv("GOSGI_LIBPYTHON");
	unsetenv("GOSGI_BOOT_FD");
	unsetenv("GOSGI_CTL_FD");

	// Go, not Python, owns signals in every process (Py_InitializeEx(0)).
	py.Py_InitializeEx(0);
	if (gosgi_python_module_init() != 0) _exit(1);
	int rc = gosgi_python_boot();
	if (rc != 0) _exit(rc);
	// "R" and the loaded apps' mountpoints, tab-separated, for the master.
	{
		size_t cap = 64, len = 1;
		for (int i = 0; i < gosgi_app_count(); i++) {
			int n;
			gosgi_app_mountpoint(i, &n);
			cap += n + 1;
		}
		char *line = malloc(cap);
		line[0] = 'R';
		for (int i = 0; i < gosgi_app_count(); i++) {
			int n;
			const char *mp = gosgi_app_mountpoint(i, &n);
			line[len++] = '\t';
			memcpy(line + len, mp, n);
			len += n;
		}
		line[len++] = '\n';
		line[len] = 0;
		reply(ctl, line);
		free(line);
	}

	char kind = 'w';
	int wid = zygote_loop(ctl, &kind);

	// In the forked child from here on.
	py.PyOS_AfterFork_Child();
	if (kind != 'w') {
		// Mules and spoolers are Python loops; they never start Go.
		reset_signals();
		const char *name = kind == 'm' ? "mule" : "spooler";
		setenv("GOSGI_ROLE", name, 1);
		_exit(gosgi_python_run_role(name, wid));
	}
	role = 2;
	worker_id = wid;
	if (worker_title[0]) {
		char t[600];
		const char *mark = strchr(worker_title, '\001');
		if (mark)
			snprintf(t, sizeof t, "%.*s%d%s", (int)(mark - worker_title), worker_title, wid, mark + 1);
		else
			snprintf(t, sizeof t, "%s", worker_title);
		gosgi_set_title(t);
	}
	char idbuf[16];
	snprintf(idbuf, sizeof idbuf, "%d", wid);
	setenv("GOSGI_ROLE", "worker", 1);
	setenv("GOSGI_WORKER_ID", idbuf, 1);
	reset_signals();
	install_crash_handlers();
	rc = gosgi_python_worker_init(wid);
	if (rc != 0) _exit(rc);
	gosgi_main_ts = py.PyEval_SaveThread();
}
