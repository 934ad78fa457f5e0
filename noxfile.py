"""Nox sessions: one per package, plus integration, kernels, lint, docs and bench.

Each session builds its own virtual environment and installs exactly what it needs from
this checkout (the package under test and its declared dependencies). Installs are
constrained by ``ci/constraints.txt`` (the CPU build of torch); the zoo's timm tests use
``ci/constraints-timm.txt`` because PyPI's torchvision, which timm needs, only imports
beside the matching torch build.

    nox -l                      # list sessions
    nox                         # every test session (what CI runs)
    nox -s "tests(snn-core)"    # one package
    nox -s bench                # speed/memory tables
"""

from __future__ import annotations

import functools
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import nox
import nox.command

ROOT = Path(__file__).parent
CONSTRAINTS = str(ROOT / "ci" / "constraints.txt")
CONSTRAINTS_TIMM = str(ROOT / "ci" / "constraints-timm.txt")
PYTHON = os.environ.get("NOX_PYTHON") or None  # default: the interpreter running nox

nox.options.sessions = [
    "tests(snn-core)",
    "tests(snn-neurons)",
    "tests(snn-layers)",
    "tests(snn-datasets)",
    "tests(snn-zoo)",
    "integration",
    "kernels",
    "lint",
    "docs",
]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

# package name -> (path, paths of the local packages it depends on, extras, test dir)
PACKAGES = {
    "snn-core": ("./packages/snn-core", [], "test", "./packages/snn-core/tests"),
    "snn-neurons": (
        "./packages/snn-neurons",
        ["./packages/snn-core"],
        "test",
        "./packages/snn-neurons/tests",
    ),
    "snn-layers": (
        "./packages/snn-layers",
        ["./packages/snn-core", "./packages/snn-neurons"],
        "test,nir",
        "./packages/snn-layers/tests",
    ),
    "snn-datasets": ("./packages/snn-datasets", [], "test", "./packages/snn-datasets/tests"),
    "snn-zoo": (
        "./zoo",
        [
            "./packages/snn-core",
            "./packages/snn-neurons",
            "./packages/snn-layers",
            "./packages/snn-datasets",
        ],
        "test,timm,train",
        "zoo/tests",
    ),
}
# Installed for a package's tests only: the NIR tests exchange graphs with snnTorch.
TEST_ONLY = {"snn-layers": ["snntorch"]}
# NVRTC compiles the generated CUDA sources without a GPU; cupy's wheel does not ship it.
NVRTC = ["nvidia-cuda-nvrtc-cu12"]
ALL_LOCAL = [
    "./packages/snn-core",
    "./packages/snn-neurons",
    "./packages/snn-layers",
    "./packages/snn-datasets",
    "./zoo",
]


# pip resumes a dropped download this many times (pip >= 25.1; older pips ignore the variable).
os.environ.setdefault("PIP_RESUME_RETRIES", "30")
# Seconds to wait before each new try of a failed install: CI's network drops downloads now
# and then, and pip's own retries follow one another at once.
INSTALL_RETRY_PAUSES_S = (20, 60)


def _pip_install(session: nox.Session, *args: str) -> None:
    """``session.install`` with up to ``len(INSTALL_RETRY_PAUSES_S)`` retries after pauses."""
    for attempt, pause in enumerate((*INSTALL_RETRY_PAUSES_S, None), start=1):
        try:
            session.install(*args)
            return
        except nox.command.CommandFailed:
            if pause is None:
                raise
            session.warn(f"install failed (attempt {attempt}); trying again in {pause} s")
            time.sleep(pause)


# With SNN_NOX_PRUNE_VENVS=1 (set by .ci/run) each session deletes its virtual environment when
# it ends, passed or failed. The timm sessions' environments hold a CUDA build of torch (about
# 6 GB each) and all of them together about 18 GB: more than a CI machine may have free. Pruned,
# the disk holds one environment at a time.
PRUNE_VENVS = os.environ.get("SNN_NOX_PRUNE_VENVS") == "1"


def _session(func: Callable[..., None]) -> Callable[..., None]:
    """``nox.session(python=PYTHON)`` whose virtual environment is deleted when it ends if
    ``PRUNE_VENVS``."""

    @functools.wraps(func)
    def run(session: nox.Session, **kwargs: str) -> None:
        try:
            func(session, **kwargs)
        finally:
            location = getattr(session.virtualenv, "location", None)
            if PRUNE_VENVS and location and Path(location).is_dir():
                shutil.rmtree(location, ignore_errors=True)
                session.log(f"removed {location} (SNN_NOX_PRUNE_VENVS=1)")

    return nox.session(python=PYTHON)(run)


def _install(session: nox.Session, *specs: str, constraints: str = CONSTRAINTS) -> None:
    _pip_install(session, "-c", constraints, *specs)


def _pytest(session: nox.Session, *args: str) -> None:
    session.run("python", "-m", "pytest", *args, *session.posargs)


@_session
@nox.parametrize("package", list(PACKAGES), ids=list(PACKAGES))
def tests(session: nox.Session, package: str) -> None:
    """Install one package (and its local dependencies) and run its tests."""
    path, deps, extras, test_dir = PACKAGES[package]
    constraints = CONSTRAINTS_TIMM if "timm" in extras else CONSTRAINTS
    _install(
        session, *deps, f"{path}[{extras}]", *TEST_ONLY.get(package, []), constraints=constraints
    )
    # The kernel tests (Triton interpreter, NVRTC) run in the `kernels` session.
    _pytest(session, test_dir, "-q", "-m", "not kernels")


@_session
def integration(session: nox.Session) -> None:
    """Cross-package tests: install-alone checks, end-to-end training, two-process runs,
    a zoo model trained with timm's training pieces."""
    _install(session, *ALL_LOCAL[:-1], "./zoo[test,train,timm]", constraints=CONSTRAINTS_TIMM)
    _pytest(session, "tests", "-q")


@_session
def kernels(session: nox.Session) -> None:
    """Generated Triton kernels under TRITON_INTERPRET=1 and CUDA sources through NVRTC."""
    _install(
        session,
        "./packages/snn-core",
        "./packages/snn-neurons[test,triton,cupy]",
        *NVRTC,
    )
    session.env["TRITON_INTERPRET"] = "1"
    _pytest(session, "./packages/snn-neurons/tests", "-q", "-m", "kernels")


@_session
def lint(session: nox.Session) -> None:
    """ruff lint and format check over the whole tree."""
    _pip_install(session, "ruff==0.17.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@_session
def docs(session: nox.Session) -> None:
    """Build the documentation site with --strict (broken references fail)."""
    _install(session, *ALL_LOCAL, "-r", "docs/requirements.txt")
    session.run("mkdocs", "build", "--strict", "--site-dir", str(ROOT / "site"))


@_session
def bench(session: nox.Session) -> None:
    """Speed and memory benchmarks; prints tables (never asserts timings)."""
    # the reference, measured side by side in the first-call and zoo-compile tables
    _install(
        session, *ALL_LOCAL, "./packages/snn-neurons[triton,cupy]", *NVRTC, "spikingjelly==2.0.0"
    )
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        if script.name.endswith("_gpu.py"):
            continue
        session.run("python", str(script), *session.posargs)
