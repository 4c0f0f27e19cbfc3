"""requirements.txt is a full lock, installed with ``--no-deps`` in the step images
(core/images.py, stacks/containers/Dockerfile.parent): nothing else resolves what a pinned
package needs, so the lock must hold it, for this venv's Python and for the images' Python."""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, distribution

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import PROJECT_ROOT

# Debian bookworm's python3, which the containers stack's base image has (stacks/containers).
IMAGE_PYTHON = "3.11.2"


def _lock() -> dict:
    pins = {}
    for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_the_lock_holds_every_dependency_of_its_packages_on_both_pythons() -> None:
    pins = _lock()
    environments = [default_environment(), {**default_environment(), "python_full_version": IMAGE_PYTHON}]
    missing = set()
    for name in pins:
        try:
            requirements = distribution(name).requires or []
        except PackageNotFoundError:
            continue  # pip, which pip freeze leaves out of the lock
        for text in requirements:
            requirement = Requirement(text)
            needed = canonicalize_name(requirement.name)
            if needed in sys.stdlib_module_names:  # argparse: the standard library's, on every Python here
                continue
            for environment in environments:
                if requirement.marker is None or requirement.marker.evaluate({**environment, "extra": ""}):
                    if needed not in pins:
                        missing.add(f"{needed} (needed by {name} on Python {environment['python_full_version']})")
    assert not missing, sorted(missing)


def test_the_lock_pins_versions_this_venv_has() -> None:
    wrong = {name: (version, distribution(name).version) for name, version in _lock().items()
             if name != "pip" and distribution(name).version != version}
    assert not wrong, wrong
