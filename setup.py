"""Build the compiled kernels of ``citadel/_fast``: one extension per ``.pyx`` file.

Switches (environment):
  CITADEL_CYTHON_ANNOTATE=1  write Cython's HTML annotation next to each module
  CITADEL_CYTHON_TRACE=1     compile with line tracing, for coverage of the kernels
"""

import os
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).parent
TRACE = os.environ.get("CITADEL_CYTHON_TRACE") == "1"

extensions = [
    Extension(
        f"citadel._fast.{pyx.stem}",
        [str(pyx.relative_to(HERE))],
        extra_compile_args=["-O3"],
        define_macros=[("CYTHON_TRACE_NOGIL", "1")] if TRACE else [],
    )
    for pyx in sorted((HERE / "citadel" / "_fast").glob("*.pyx"))
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level="3",
        annotate=os.environ.get("CITADEL_CYTHON_ANNOTATE") == "1",
        compiler_directives={
            "embedsignature": True,
            "boundscheck": False,
            "wraparound": False,
            # every division divides a non-negative magnitude by a positive number: C semantics
            "cdivision": True,
            "linetrace": TRACE,
        },
    ),
)
