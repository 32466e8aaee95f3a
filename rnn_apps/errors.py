"""Exceptions raised at rnn_apps' boundary."""

from __future__ import annotations

import re
from typing import Any


class UserInputError(ValueError):
    """Bad user input: the message names the problem and the fix.

    A subclass of `ValueError`, so `except ValueError` keeps working. The command line prints
    the message as one line and exits with status 2.
    """


def graph_error(err: Any) -> str:
    """The message a graph check (`assert_*`, `check_numerics`) was given, without TF's node
    listing: one line."""
    text = str(getattr(err, "message", err)).replace("\\'", "'")
    found = re.search(r"assertion failed: \[(.*?)\]", text, flags=re.S)
    if found:
        return " ".join(found.group(1).split())
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("Graph execution error", "Detected at node", "[[")):
            return " ".join(line.split(" : Tensor had")[0].split())
    return text.strip().splitlines()[0] if text.strip() else "?"
