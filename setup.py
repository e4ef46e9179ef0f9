"""Only the optional C parts of roar: the seccomp supervisor loop, the SIGBUS-safe file
mappings hashing reads through, and two SQLite calls on a 3.11 connection's handle (see
each file's header comment).

Everything else is declared in pyproject.toml. Without a C compiler or Python's headers
the extensions are skipped: roar then runs the same loop written in Python and hashes big
files by reading them.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "roar.trace._supervisor",
            ["src/roar/trace/_supervisor.c"],
            optional=True,
            extra_compile_args=["-O2", "-Wall", "-Wextra"],
        ),
        Extension(
            "roar.hashing._mapped",
            ["src/roar/hashing/_mapped.c"],
            optional=True,
            extra_compile_args=["-O2", "-Wall", "-Wextra"],
        ),
        Extension(
            "roar.store._sqlite_handle",
            ["src/roar/store/_sqlite_handle.c"],
            optional=True,
            extra_compile_args=["-O2", "-Wall", "-Wextra"],
            libraries=["dl"],
        ),
    ]
)
