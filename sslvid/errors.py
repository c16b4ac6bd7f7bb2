"""The errors that mean "what was asked cannot be done as given", as opposed to a bug.

A ``UserError`` carries a message that says what is wrong and a ``hint`` that says how to fix
it. The command line prints both on a line each and exits with status 2, without a traceback
(``--debug`` shows it); notebooks and library callers see an ordinary exception. Each subclass
also derives from the builtin exception callers already catch (``ValueError`` for a bad value,
``FileNotFoundError`` for a missing file, ``RuntimeError`` for a state of the machine or data).
"""

from __future__ import annotations

import importlib
from types import ModuleType


class UserError(Exception):
    """A mistake in the input, the data or the environment, with a hint on how to fix it.

    Args:
        *args: the message (first line: what is wrong, naming the file, field or value).
        hint: how to fix it (an exact command or setting where there is one).
    """

    hint: str = ""

    def __init__(self, *args: object, hint: str = "") -> None:
        super().__init__(*args)
        if hint:
            self.hint = hint


class ConfigError(UserError, ValueError):
    """A config field, option or argument has an invalid value."""


class DataError(UserError, RuntimeError):
    """The data cannot serve the request: too many unreadable videos, too few for a batch."""


class DeviceError(UserError, RuntimeError):
    """The requested device is not available on this machine."""


class MissingDependencyError(UserError, ImportError):
    """An optional dependency of the feature asked for is not installed (the hint names the extra)."""


def import_optional(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module``, a dependency that only ``feature`` needs and the ``sslvid[extra]`` extra installs.

    Args:
        module: dotted module name, e.g. ``"captum.attr"``.
        extra: the extra of ``pyproject.toml`` that installs it, e.g. ``"saliency"``.
        feature: what needs it, for the message, e.g. ``"saliency maps"``.

    Returns:
        the imported module.

    Raises:
        MissingDependencyError: (an ``ImportError``) when the module's package is not installed;
            an import error from inside an installed package propagates unchanged.
    """
    package = module.partition(".")[0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name is not None and err.name.partition(".")[0] != package:
            raise
        raise MissingDependencyError(
            f"{package} is not installed; it is needed for {feature}",
            hint=f"pip install 'sslvid[{extra}]'  (or: pip install {package})",
        ) from err


def failure_hint(fraction: float) -> str:
    """How to tolerate more unreadable videos, as the exact setting to pass."""
    suggested = min(1.0, max(0.1, round(fraction + 0.05, 2)))
    return (
        f"check the files (e.g. with ffprobe), or tolerate them: --set max_failure_fraction={suggested:g} "
        f"on the command line, max_failure_fraction={suggested:g} in a config"
    )
