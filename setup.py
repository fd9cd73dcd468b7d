"""Builds the panels' JavaScript into the package when a wheel (or sdist) is made from a
checkout without it, so ``pip wheel .`` always ships ``nbtrack/ui/static``. Everything else
about the package is in pyproject.toml."""

import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent


class BuildWithPanels(build_py):
    def run(self):
        script = HERE / "scripts" / "build_js.sh"
        if (HERE / "js" / "package.json").is_file() and script.is_file():
            subprocess.run(["sh", str(script)], check=True)  # noqa: S603, S607 - our own build script
        elif not (HERE / "nbtrack" / "ui" / "static" / "runtime.js").is_file():
            raise RuntimeError("nbtrack's panel bundle is missing and js/ is not here to build it")
        super().run()


setup(cmdclass={"build_py": BuildWithPanels})
