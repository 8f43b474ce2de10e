"""The wheel holds every package: pyproject.toml's package list matches the folders that hold an __init__.py."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_pyproject_lists_every_package_in_the_tree():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    mapped = {name: ROOT / folder for name, folder in setuptools["package-dir"].items()}
    in_tree = set()
    for name, folder in mapped.items():
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder).parts
            in_tree.add(".".join((name, *rel)))
    assert in_tree - listed == set(), f"packages missing from pyproject.toml: {sorted(in_tree - listed)}"
    assert listed - in_tree == set(), f"pyproject.toml lists packages that do not exist: {sorted(listed - in_tree)}"
