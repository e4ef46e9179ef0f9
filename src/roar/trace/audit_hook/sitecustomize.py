"""roar's audit hook, loaded into every Python process of a job traced without strace.

It appends one line per file event to $ROAR_AUDIT_LOG: a kind letter (r read, w write,
d delete, m moved away, M moved here), a tab, the absolute path with `\\` and newlines
escaped. Then it hands over to any other sitecustomize module on sys.path.
"""

import contextlib
import os
import sys


def _install(log_path: str) -> None:
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def emit(kind: bytes, path: object) -> None:
        try:
            raw = os.fsencode(path)  # type: ignore[arg-type]
            if not raw.startswith(b"/"):
                raw = os.path.join(os.fsencode(os.getcwd()), raw)
            raw = raw.replace(b"\\", b"\\\\").replace(b"\n", b"\\n")
            os.write(fd, kind + b"\t" + raw + b"\n")
        except Exception:  # never break the traced program
            pass

    def hook(event: str, args: tuple) -> None:  # type: ignore[type-arg]
        if event == "open":
            path, mode, flags = args
            if path is None or isinstance(path, int):
                return
            if mode is None:
                writes = bool(flags & write_flags)
                reads = (flags & os.O_ACCMODE) != os.O_WRONLY
            else:
                writes = any(c in mode for c in "wax+")
                reads = "r" in mode or "+" in mode
            if reads:
                emit(b"r", path)
            if writes:
                emit(b"w", path)
        elif event in ("os.rename", "os.replace"):
            emit(b"m", args[0])
            emit(b"M", args[1])
        elif event == "os.remove":
            emit(b"d", args[0])
        elif event in ("os.link", "os.symlink"):
            emit(b"w", args[1])
        elif event == "os.truncate" and not isinstance(args[0], int):
            emit(b"w", args[0])

    sys.addaudithook(hook)


def _chain() -> None:
    """Import the sitecustomize this one shadows, if any."""
    here = os.path.dirname(os.path.abspath(__file__))
    saved = list(sys.path)
    module = sys.modules.pop("sitecustomize", None)
    try:
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
        with contextlib.suppress(ImportError):
            import sitecustomize  # type: ignore[import-not-found]  # noqa: F401
    finally:
        sys.path[:] = saved
        if module is not None:
            sys.modules.setdefault("sitecustomize", module)


if os.environ.get("ROAR_AUDIT_LOG"):
    _install(os.environ["ROAR_AUDIT_LOG"])
_chain()
