"""Print exact pins of the installed packages that a requirements file needs.

`make constraints` runs this over requirements-dev.txt and writes constraints.txt, so that
`make run`, `make test` and CI install the versions the tests passed with. It walks the
requirements (and their `-r` includes) through the installed packages' own metadata, so only
what the project needs is pinned, not whatever else the environment holds.

Usage: python scripts/freeze_constraints.py requirements-dev.txt > constraints.txt
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# Like `pip freeze`, leave out the installer's own tools: hosts bring their own.
INSTALLER_TOOLS = {"pip", "setuptools", "wheel", "distribute"}


def read_requirements(path: Path) -> list[Requirement]:
    """Return the requirements in a requirements file, following ``-r`` includes.

    Args:
        path: A pip requirements file.

    Returns:
        Its requirements (comments and blank lines skipped).
    """
    requirements: list[Requirement] = []
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].strip() if not line.lstrip().startswith("-") else line
        text = text.strip()
        if not text:
            continue
        if text.startswith(("-r ", "--requirement ")):
            requirements += read_requirements(path.parent / text.split(maxsplit=1)[1])
            continue
        if text.startswith("-"):
            continue
        requirements.append(Requirement(text))
    return requirements


def installed_closure(requirements: list[Requirement]) -> dict[str, str]:
    """Return name -> installed version for the requirements and everything they pull in.

    Args:
        requirements: The top-level requirements.

    Returns:
        One entry per installed distribution the requirements need on this platform.

    Raises:
        SystemExit: If a needed package is not installed.
    """
    environment = dict(default_environment())
    pins: dict[str, str] = {}
    expanded: set[tuple[str, str]] = set()
    pending = [
        requirement
        for requirement in requirements
        if requirement.marker is None or requirement.marker.evaluate(environment)
    ]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        try:
            pins[name] = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            raise SystemExit(
                f"{requirement.name} is not installed; run "
                "`pip install -r requirements-dev.txt` first."
            ) from None
        for extra in ["", *sorted(requirement.extras)]:
            if (name, extra) in expanded:
                continue
            expanded.add((name, extra))
            for text in metadata.requires(requirement.name) or []:
                dependency = Requirement(text)
                if dependency.marker is None:
                    needed = extra == ""
                else:
                    needed = dependency.marker.evaluate({**environment, "extra": extra})
                if needed:
                    pending.append(dependency)
    return pins


def main() -> None:
    """Print the pins of the requirements file named on the command line."""
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "requirements-dev.txt")
    pins = installed_closure(read_requirements(source))
    print(f"# Exact versions the tests passed with, from `make constraints` ({source}).")
    print(
        f"# Python {platform.python_version()} on {sys.platform} {platform.machine()}; "
        "install with `pip install -r requirements.txt -c constraints.txt`."
    )
    for name in sorted(set(pins) - INSTALLER_TOOLS):
        print(f"{name}=={pins[name]}")


if __name__ == "__main__":
    main()
