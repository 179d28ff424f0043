"""The package as a user gets it: `python -m build` makes a wheel and an sdist; each installs
into a clean virtual environment (dependencies from PyPI) and runs `zerotls demo` there."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*cmd: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.timeout(900)
def test_wheel_and_sdist_install_and_run_the_demo(tmp_path: Path) -> None:
    pytest.importorskip("build", reason="the build package is not installed (it is in [dev])")
    built = _run(sys.executable, "-m", "build", "--outdir", tmp_path / "dist", ROOT)
    assert built.returncode == 0, built.stderr[-3000:]
    assert "DeprecationWarning" not in built.stderr + built.stdout  # SPDX license string
    wheels = list((tmp_path / "dist").glob("zerotls-*.whl"))
    sdists = list((tmp_path / "dist").glob("zerotls-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1
    from zerotls import __version__

    assert wheels[0].name.startswith(f"zerotls-{__version__}-")  # one place holds the version
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env)
    python = env / "bin" / "python"
    for artifact in (wheels[0], sdists[0]):
        installed = _run(python, "-m", "pip", "install", "-q", "--force-reinstall", artifact)
        assert installed.returncode == 0, installed.stderr[-3000:]
        demo = _run(env / "bin" / "zerotls", "demo", "--no-color", "--reports", tmp_path / "r")
        assert demo.returncode == 0, (demo.stdout[-2000:], demo.stderr[-2000:])
        assert "✔ connected: TLSv1.3" in demo.stdout and "grade" in demo.stdout
        # The base install has no monitor extra: that step says how to get it.
        assert "pip install 'zerotls[monitor]'" in demo.stdout
