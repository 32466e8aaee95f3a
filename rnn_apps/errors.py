"""Exceptions raised at rnn_apps' boundary."""

from __future__ import annotations


class UserInputError(ValueError):
    """Bad user input: the message names the problem and the fix.

    A subclass of `ValueError`, so `except ValueError` keeps working. The command line prints
    the message as one line and exits with status 2.
    """
