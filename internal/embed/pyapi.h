// The slice of the CPython C API that gosgi calls, declared here so that no
// Python headers or libpython are needed at build time. Every function is
// resolved with dlsym from the libpython chosen at run time. Only functions
// that exist with the same signature in every CPython 3.7+ are listed, and the
// only struct layouts relied on are PyObject's head (refcount, type) and
// PyMethodDef, both fixed by the stable ABI.
#ifndef GOSGI_PYAPI_H
#define GOSGI_PYAPI_H

#include <stddef.h>
#include <sys/types.h>
#include <wchar.h>

typedef ssize_t Py_ssize_t;
typedef struct _object {
	Py_ssize_t ob_refcnt;
	void *ob_type;
} PyObject;
typedef void PyThreadState;
typedef PyObject *(*PyCFunction)(PyObject *, PyObject *);
typedef struct {
	const char *ml_name;
	PyCFunction ml_meth;
	int ml_flags;
	const char *ml_doc;
} PyMethodDef;

#define METH_VARARGS 0x0001
#define METH_NOARGS 0x0004
#define METH_O 0x0008

#define TPFLAGS_LONG (1UL << 24)
#define TPFLAGS_LIST (1UL << 25)
#define TPFLAGS_TUPLE (1UL << 26)
#define TPFLAGS_BYTES (1UL << 27)
#define TPFLAGS_UNICODE (1UL << 28)
#define TPFLAGS_DICT (1UL << 29)

// X(return type, name, parameter list): required functions.
#define GOSGI_PY_FUNCS(X)                                                        \
	X(void, Py_InitializeEx, (int))                                              \
	X(wchar_t *, Py_DecodeLocale, (const char *, size_t *))                      \
	X(PyThreadState *, PyEval_SaveThread, (void))                                \
	X(void, PyEval_RestoreThread, (PyThreadState *))                             \
	X(int, PyGILState_Ensure, (void))                                            \
	X(void, PyGILState_Release, (int))                                           \
	X(void, PyOS_BeforeFork, (void))                                             \
	X(void, PyOS_AfterFork_Parent, (void))                                       \
	X(void, PyOS_AfterFork_Child, (void))                                        \
	X(int, PyRun_SimpleStringFlags, (const char *, void *))                      \
	X(PyObject *, PyImport_AddModule, (const char *))                            \
	X(PyObject *, PyImport_ImportModule, (const char *))                         \
	X(PyObject *, PyModule_GetDict, (PyObject *))                                \
	X(PyObject *, PyDict_New, (void))                                            \
	X(int, PyDict_SetItem, (PyObject *, PyObject *, PyObject *))                 \
	X(int, PyDict_SetItemString, (PyObject *, const char *, PyObject *))         \
	X(PyObject *, PyDict_GetItemString, (PyObject *, const char *))              \
	X(void, PyDict_Clear, (PyObject *))                                          \
	X(PyObject *, PyUnicode_DecodeLatin1, (const char *, Py_ssize_t, const char *)) \
	X(PyObject *, PyUnicode_FromString, (const char *))                          \
	X(PyObject *, PyUnicode_FromStringAndSize, (const char *, Py_ssize_t))       \
	X(PyObject *, PyUnicode_InternFromString, (const char *))                    \
	X(const char *, PyUnicode_AsUTF8AndSize, (PyObject *, Py_ssize_t *))         \
	X(PyObject *, PyUnicode_AsLatin1String, (PyObject *))                        \
	X(PyObject *, PyBytes_FromStringAndSize, (const char *, Py_ssize_t))         \
	X(int, PyBytes_AsStringAndSize, (PyObject *, char **, Py_ssize_t *))         \
	X(PyObject *, PyLong_FromLong, (long))                                       \
	X(PyObject *, PyLong_FromLongLong, (long long))                              \
	X(long, PyLong_AsLong, (PyObject *))                                         \
	X(long long, PyLong_AsLongLong, (PyObject *))                                \
	X(PyObject *, PyBool_FromLong, (long))                                       \
	X(PyObject *, PyTuple_New, (Py_ssize_t))                                     \
	X(int, PyTuple_SetItem, (PyObject *, Py_ssize_t, PyObject *))                \
	X(PyObject *, PyTuple_GetItem, (PyObject *, Py_ssize_t))                     \
	X(Py_ssize_t, PyTuple_Size, (PyObject *))                                    \
	X(Py_ssize_t, PyList_Size, (PyObject *))                                     \
	X(PyObject *, PyList_GetItem, (PyObject *, Py_ssize_t))                      \
	X(PyObject *, PyObject_GetIter, (PyObject *))                                \
	X(PyObject *, PyIter_Next, (PyObject *))                                     \
	X(PyObject *, PyObject_Call, (PyObject *, PyObject *, PyObject *))           \
	X(PyObject *, PyObject_CallObject, (PyObject *, PyObject *))                 \
	X(PyObject *, PyObject_GetAttrString, (PyObject *, const char *))            \
	X(int, PyObject_SetAttrString, (PyObject *, const char *, PyObject *))       \
	X(int, PyObject_HasAttrString, (PyObject *, const char *))                   \
	X(int, PyObject_IsInstance, (PyObject *, PyObject *))                        \
	X(PyObject *, PyErr_Occurred, (void))                                        \
	X(void, PyErr_PrintEx, (int))                                                \
	X(void, PyErr_Clear, (void))                                                 \
	X(void, PyErr_SetString, (PyObject *, const char *))                         \
	X(int, PyErr_ExceptionMatches, (PyObject *))                                 \
	X(void, Py_IncRef, (PyObject *))                                             \
	X(void, Py_DecRef, (PyObject *))                                             \
	X(unsigned long, PyType_GetFlags, (void *))                                  \
	X(PyObject *, PyCFunction_NewEx, (PyMethodDef *, PyObject *, PyObject *))       \
	X(PyObject *, PyMemoryView_FromMemory, (char *, Py_ssize_t, int))

// Optional functions: deprecated or removed in some versions.
#define GOSGI_PY_OPTIONAL(X)                                                     \
	X(void, Py_SetProgramName, (const wchar_t *))                                \
	X(void, Py_SetPythonHome, (const wchar_t *))

// Data symbols (addresses of objects or of PyObject* variables).
#define GOSGI_PY_DATA(X)                                                         \
	X(_Py_NoneStruct)                                                            \
	X(_Py_TrueStruct)                                                            \
	X(_Py_FalseStruct)                                                           \
	X(PyExc_TypeError)                                                           \
	X(PyExc_OSError)                                                             \
	X(PyExc_ValueError)                                                          \
	X(PyExc_RuntimeError)                                                        \
	X(PyExc_StopIteration)

#define DECLARE_FN(ret, name, args) ret(*name) args;
#define DECLARE_DATA(name) void *name;
struct gosgi_py {
	GOSGI_PY_FUNCS(DECLARE_FN)
	GOSGI_PY_OPTIONAL(DECLARE_FN)
	GOSGI_PY_DATA(DECLARE_DATA)
};
#undef DECLARE_FN
#undef DECLARE_DATA

extern struct gosgi_py py;

#define PY_NONE ((PyObject *)py._Py_NoneStruct)
#define PY_TRUE ((PyObject *)py._Py_TrueStruct)
#define PY_FALSE ((PyObject *)py._Py_FalseStruct)
#define PY_EXC(name) (*(PyObject **)py.PyExc_##name)
#define PY_TYPEFLAGS(o) (py.PyType_GetFlags(((PyObject *)(o))->ob_type))
#define PY_IS(o, flag) ((PY_TYPEFLAGS(o) & (flag)) != 0)

#endif
