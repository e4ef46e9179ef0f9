/* SQLite's own calls on the database handle a Python 3.11 sqlite3.Connection holds.
 *
 * store/wal.py switches SQLite's checkpoint-on-close off for `roar run`'s connection.
 * Python 3.12 has Connection.setconfig for it; on 3.11 the call has to reach the sqlite3*
 * handle CPython keeps right after the object header, in the SQLite library the `_sqlite3`
 * module is linked with. ctypes can do that, but importing it costs `roar run` 3-5 ms of
 * its fixed cost; this does the same two calls without it.
 *
 * filename(conn, library_path) -> bytes | None
 *   sqlite3_db_filename(handle, "main"): which file the handle has open, so the caller can
 *   check it is the one it means before changing anything through it.
 * no_checkpoint_on_close(conn, library_path) -> bool
 *   sqlite3_db_config(handle, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL) == SQLITE_OK.
 *
 * library_path: `_sqlite3.__file__`, whose SQLite symbols are looked up (dlsym searches the
 * module and the libraries it was linked with, so these are the very functions it uses).
 * The caller checks that this Python keeps the handle where this reads it (wal.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <string.h>

#define NO_CKPT_ON_CLOSE 1006 /* SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE (SQLite 3.16+) */

typedef const char *(*FilenameFn)(void *, const char *);
typedef int (*ConfigFn)(void *, int, ...);

/* The symbol `name` of the library at `path`, or NULL with an OSError set. The handle is
 * kept open for the life of the process, as the sqlite3 module keeps the library loaded. */
static void *symbol(const char *path, const char *name) {
    void *library = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (library == NULL) library = dlopen(path, RTLD_NOW);
    void *found = library == NULL ? NULL : dlsym(library, name);
    if (found == NULL) {
        const char *why = dlerror();
        PyErr_Format(PyExc_OSError, "%s: %s", name, why ? why : "not found");
    }
    return found;
}

/* Whether `object` is a sqlite3.Connection (or a subclass: the same layout). */
static int is_connection(PyObject *object) {
    for (PyTypeObject *type = Py_TYPE(object); type != NULL; type = type->tp_base)
        if (strcmp(type->tp_name, "sqlite3.Connection") == 0) return 1;
    return 0;
}

/* From the call's arguments (connection, library path): SQLite's function `name` and the
 * sqlite3* the connection holds right after its object header on 3.11 (NULL once it is
 * closed). -1 with an exception set when either cannot be had. */
static int prepare(PyObject *args, const char *name, void **function, void **handle) {
    PyObject *conn;
    const char *library_path;
    if (!PyArg_ParseTuple(args, "Oy", &conn, &library_path)) return -1;
    if (!is_connection(conn)) {
        PyErr_SetString(PyExc_TypeError, "expected a sqlite3.Connection");
        return -1;
    }
    *function = symbol(library_path, name);
    if (*function == NULL) return -1;
    *handle = *(void **)((char *)conn + sizeof(PyObject));
    return 0;
}

static PyObject *filename(PyObject *module, PyObject *args) {
    (void)module;
    void *function, *handle;
    if (prepare(args, "sqlite3_db_filename", &function, &handle) < 0) return NULL;
    if (handle == NULL) Py_RETURN_NONE; /* closed */
    const char *name = ((FilenameFn)function)(handle, "main");
    if (name == NULL) Py_RETURN_NONE;
    return PyBytes_FromString(name);
}

static PyObject *no_checkpoint_on_close(PyObject *module, PyObject *args) {
    (void)module;
    void *function, *handle;
    if (prepare(args, "sqlite3_db_config", &function, &handle) < 0) return NULL;
    if (handle == NULL) Py_RETURN_FALSE; /* closed */
    return PyBool_FromLong(((ConfigFn)function)(handle, NO_CKPT_ON_CLOSE, 1, (int *)NULL) == 0);
}

static PyMethodDef methods[] = {
    {"filename", filename, METH_VARARGS, "sqlite3_db_filename(handle, \"main\")"},
    {"no_checkpoint_on_close", no_checkpoint_on_close, METH_VARARGS,
     "sqlite3_db_config(handle, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL) == SQLITE_OK"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "roar.store._sqlite_handle",
    "SQLite's calls on a Python 3.11 sqlite3.Connection's handle, without ctypes.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__sqlite_handle(void) { return PyModule_Create(&module); }
