"""Each package builds an sdist and a wheel whose metadata declares the right dependencies,
and the built wheels install alone into a fresh virtual environment and import.

The sdist is built first and the wheel is built from the unpacked sdist (``python -m build``'s
default), so a file missing from the sdist shows up as a broken wheel. Builds run in one
helper environment with ``build`` and ``hatchling`` (``--no-isolation``, so each build does
not create its own environment); the wheels are then installed by file name, so pip can
never take a sibling package from an index instead of the one built here.
"""

from __future__ import annotations

import email.message
import email.parser
import re
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "ci" / "constraints.txt"

# distribution -> (source folder, import name)
PACKAGES = {
    "snn-core": ("packages/snn-core", "snn_core"),
    "snn-neurons": ("packages/snn-neurons", "snn_neurons"),
    "snn-layers": ("packages/snn-layers", "snn_layers"),
    "snn-datasets": ("packages/snn-datasets", "snn_datasets"),
    "snn-zoo": ("zoo", "snn_zoo"),
}
SIBLING_RANGE = {">=0.1", "<0.2"}

pytestmark = pytest.mark.slow


def _bin(env: Path, name: str) -> str:
    return str(env / ("Scripts" if sys.platform == "win32" else "bin") / name)


def _venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path


def _pip(env: Path, *args: str) -> None:
    subprocess.run([_bin(env, "python"), "-m", "pip", "install", "--quiet", *args], check=True)


def _version(folder: str, module: str) -> str:
    text = (ROOT / folder / "src" / module / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, flags=re.M)
    assert match, f"{folder}/src/{module}/__init__.py has no __version__"
    return match.group(1)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build every package's sdist and wheel into one folder."""
    base = tmp_path_factory.mktemp("wheels")
    tools = _venv(base / "build-env")
    _pip(tools, "build>=1", "hatchling>=1.18")
    out = base / "dist"
    for folder, _ in PACKAGES.values():
        subprocess.run(
            [
                _bin(tools, "python"),
                "-m",
                "build",
                "--no-isolation",
                "--outdir",
                str(out),
                str(ROOT / folder),
            ],
            check=True,
            capture_output=True,
        )
    return out


def _artifact(dist: Path, name: str, kind: str) -> Path:
    stem = name.replace("-", "_")
    pattern = f"{stem}-*.tar.gz" if kind == "sdist" else f"{stem}-*-py3-none-any.whl"
    found = sorted(dist.glob(pattern))
    assert len(found) == 1, f"expected one {kind} of {name} in {dist}, got {found}"
    return found[0]


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(zf.read(meta).decode("utf-8"))


_REQ_RE = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*\(?(?P<spec>[^;)]*)\)?"
    r"\s*(?:;\s*(?P<marker>.*))?$"
)


def _requirements(meta: email.message.Message) -> dict[str | None, dict[str, set[str]]]:
    """``{extra or None: {normalised name: set of specifiers}}`` from ``Requires-Dist``."""
    out: dict[str | None, dict[str, set[str]]] = {}
    for line in meta.get_all("Requires-Dist") or []:
        m = _REQ_RE.match(line.strip())
        assert m, f"cannot parse Requires-Dist: {line!r}"
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", m.group("marker") or "")
        name = re.sub(r"[-_.]+", "-", m.group("name")).lower()
        spec = {s.strip() for s in m.group("spec").split(",") if s.strip()}
        out.setdefault(extra.group(1) if extra else None, {})[name] = spec
    return out


def test_requirement_parser_reads_names_specifiers_and_extras() -> None:
    meta = email.parser.Parser().parsestr(
        "Name: x\nRequires-Dist: torch>=2.1\nRequires-Dist: snn-core<0.2,>=0.1\n"
        "Requires-Dist: Cupy_Cuda12x (>=13) ; extra == 'cupy'\n"
        'Requires-Dist: triton>=3.0; extra == "triton"\n'
    )
    assert _requirements(meta) == {
        None: {"torch": {">=2.1"}, "snn-core": {"<0.2", ">=0.1"}},
        "cupy": {"cupy-cuda12x": {">=13"}},
        "triton": {"triton": {">=3.0"}},
    }


@pytest.mark.parametrize("name", list(PACKAGES))
def test_sdist_and_wheel_hold_the_package(dist: Path, name: str) -> None:
    folder, module = PACKAGES[name]
    version = _version(folder, module)
    wheel, sdist = _artifact(dist, name, "wheel"), _artifact(dist, name, "sdist")
    assert wheel.name.startswith(f"{name.replace('-', '_')}-{version}-")
    assert sdist.name == f"{name.replace('-', '_')}-{version}.tar.gz"
    with zipfile.ZipFile(wheel) as zf:
        files = zf.namelist()
    assert f"{module}/__init__.py" in files
    sources = {
        p.relative_to(ROOT / folder / "src").as_posix()
        for p in (ROOT / folder / "src" / module).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert sources <= set(files), f"missing from the wheel: {sorted(sources - set(files))}"
    assert not [f for f in files if f.startswith("tests/") or "/tests/" in f]
    with tarfile.open(sdist) as tf:
        members = {m.split("/", 1)[1] for m in tf.getnames() if "/" in m}
    for needed in ("pyproject.toml", "README.md", "CHANGELOG.md", f"src/{module}/__init__.py"):
        assert needed in members, f"{needed} is missing from {sdist.name}"


@pytest.mark.parametrize("name", list(PACKAGES))
def test_wheel_metadata(dist: Path, name: str) -> None:
    folder, module = PACKAGES[name]
    meta = _metadata(_artifact(dist, name, "wheel"))
    assert meta["Name"] == name
    assert meta["Version"] == _version(folder, module)
    assert meta["Requires-Python"] == ">=3.10"
    reqs = _requirements(meta)
    base = reqs.get(None, {})
    assert "torch" in base
    siblings = {
        "snn-core": set(),
        "snn-neurons": {"snn-core"},
        "snn-layers": {"snn-core", "snn-neurons"},
        "snn-datasets": set(),
        "snn-zoo": {"snn-core", "snn-neurons", "snn-layers", "snn-datasets"},
    }[name]
    for sibling in siblings:
        assert base.get(sibling) == SIBLING_RANGE, f"{name} -> {sibling}: {base.get(sibling)}"
    # The packages of this repository pull nothing else, except the data sets (numpy) and
    # the zoo (its own needs).
    if name == "snn-datasets":
        assert set(base) == {"torch", "numpy"}, base
    elif name != "snn-zoo":
        assert set(base) == {"torch"} | siblings, base
    extras = set(meta.get_all("Provides-Extra") or [])
    if name == "snn-neurons":
        assert {"triton", "cupy"} <= extras
        assert set(reqs["triton"]) == {"triton"}
        assert set(reqs["cupy"]) == {"cupy-cuda12x"}
    else:
        assert not {"triton", "cupy"} & extras
    if name == "snn-zoo":
        assert "timm" not in base, "timm must stay optional"
        assert "timm" in extras and "timm" in reqs["timm"]


def test_built_wheels_install_alone_and_import(dist: Path, tmp_path: Path) -> None:
    env = _venv(tmp_path / "env")
    wheels = [str(_artifact(dist, name, "wheel")) for name in PACKAGES]
    _pip(env, "-c", str(CONSTRAINTS), *wheels)
    code = (
        "import pathlib, sys, torch\n"
        "import snn_core, snn_neurons, snn_layers, snn_datasets, snn_zoo\n"
        "for m in (snn_core, snn_neurons, snn_layers, snn_datasets, snn_zoo):\n"
        "    assert pathlib.Path(sys.prefix) in pathlib.Path(m.__file__).parents, m.__file__\n"
        "    print(m.__name__, m.__version__)\n"
        "from snn_core import functional\n"
        "lif = snn_neurons.LIFNode(step_mode='m')\n"
        "s = lif(torch.full((3, 2), 1.5))\n"
        "assert s.tolist() == [[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]], s\n"
        "net = torch.nn.Sequential(snn_layers.Linear(4, 2), snn_neurons.IFNode())\n"
        "functional.set_step_mode(net, 'm')\n"
        "assert net(torch.rand(5, 3, 4)).shape == (5, 3, 2)\n"
        "assert snn_zoo.list_models()\n"
    )
    out = subprocess.run(
        [_bin(env, "python"), "-c", code],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the checkout: imports must come from the installed wheels
    )
    versions = dict(line.split() for line in out.stdout.strip().splitlines())
    assert versions == {m: _version(f, m) for f, m in PACKAGES.values()}
    script = Path(_bin(env, "snn-zoo"))
    assert script.exists(), "the snn-zoo wheel installs no `snn-zoo` command ([project.scripts])"
    help_out = subprocess.run([str(script), "--help"], check=True, capture_output=True, text=True)
    assert "train" in help_out.stdout
