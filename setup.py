"""Only the optional C part of roar: the seccomp supervisor loop (see its header comment).

Everything else is declared in pyproject.toml. Without a C compiler or Python's headers
the extension is skipped and roar uses the same loop written in Python.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "roar.trace._supervisor",
            ["src/roar/trace/_supervisor.c"],
            optional=True,
            extra_compile_args=["-O2", "-Wall", "-Wextra"],
        )
    ]
)
