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

/* The sqlite3* a 3.11 Connection holds right after its object header. */
static void *handle_of(PyObject *conn) {
    return *(void **)((char *)conn + sizeof(PyObject));
}

static PyObject *filename(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *conn;
    const char *library_path;
    if (!PyArg_ParseTuple(args, "Oy", &conn, &library_path)) return NULL;
    FilenameFn call = (FilenameFn)symbol(library_path, "sqlite3_db_filename");
    if (call == NULL) return NULL;
    void *handle = handle_of(conn);
    if (handle == NULL) Py_RETURN_NONE; /* closed */
    const char *name = call(handle, "main");
    if (name == NULL) Py_RETURN_NONE;
    return PyBytes_FromString(name);
}

static PyObject *no_checkpoint_on_close(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *conn;
    const char *library_path;
    if (!PyArg_ParseTuple(args, "Oy", &conn, &library_path)) return NULL;
    ConfigFn call = (ConfigFn)symbol(library_path, "sqlite3_db_config");
    if (call == NULL) return NULL;
    void *handle = handle_of(conn);
    if (handle == NULL) Py_RETURN_FALSE;
    return PyBool_FromLong(call(handle, NO_CKPT_ON_CLOSE, 1, (int *)NULL) == 0);
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
