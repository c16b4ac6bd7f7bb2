"""Every registered backbone builder documents each of its arguments and what it raises; the
arguments all builders share are written once (``sslvid.backbones.base.BUILDER_ARGS``)."""

from __future__ import annotations

import inspect

import pytest

from sslvid.backbones import list_backbones
from sslvid.backbones.base import BACKBONES, BUILDER_ARGS, shared_builder_doc


@pytest.mark.parametrize("name", list_backbones())
def test_builder_documents_every_argument(name):
    builder = BACKBONES.get(name)
    doc = inspect.getdoc(builder)
    args = doc.split("Args:\n", 1)[1].split("\n\n", 1)[0]
    for parameter in inspect.signature(builder).parameters:
        assert f"    {parameter}: " in args, (name, parameter)
    assert "Raises:\n    ValueError" in doc, name


def test_shared_arguments_are_added_only_where_the_builder_is_silent():
    def toy(num_classes: int = 0, width: float = 1.0, depth: int = 3) -> None:
        """A toy network.

        Args:
            width: multiplier of the toy's channels.
            depth: blocks.
        """

    doc = inspect.getdoc(shared_builder_doc(toy))
    assert doc.splitlines()[0] == "A toy network."
    assert f"    num_classes: {BUILDER_ARGS['num_classes']}" in doc
    assert "    width: multiplier of the toy's channels." in doc and BUILDER_ARGS["width"] not in doc
    assert doc.index("num_classes:") < doc.index("width:") < doc.index("depth:"), "signature order"
    assert "in_channels" not in doc and "Raises:" in doc
