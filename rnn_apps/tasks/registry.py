"""The task registry: one entry per task, read by the CLI, by `open_model` and by the tests.

A task is a `Task` subclass (`rnn_apps.tasks.base`) and a `TaskCLI` subclass of its command
line (`rnn_apps.cli.<name>`). Adding a task is one entry here: `rnn-apps <name> ...`,
`open_model` on its exports (through `metadata["task"]`) and the registry tests pick it up.
Classes are imported on first use, so listing the tasks imports no task code.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from rnn_apps.errors import UserInputError


@dataclasses.dataclass(frozen=True)
class TaskEntry:
    """One registered task.

    Attributes:
        name: The task word (`rnn-apps <name> ...`, `metadata["task"]` of its exports).
        task_class: `"module:Class"` of the `Task` subclass.
        cli_class: `"module:Class"` of its `TaskCLI` subclass.
    """

    name: str
    task_class: str
    cli_class: str

    def load_task_class(self) -> type:
        """Imports and returns the `Task` subclass."""
        return _import(self.task_class)

    def load_cli(self) -> Any:
        """Imports the `TaskCLI` subclass and returns an instance."""
        return _import(self.cli_class)()


def _import(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


#: Every task, in `rnn-apps --help` order.
TASKS: dict[str, TaskEntry] = {
    e.name: e
    for e in (
        TaskEntry(
            "sentiment",
            "rnn_apps.tasks.sentiment:SentimentClassifier",
            "rnn_apps.cli.sentiment:CLI",
        ),
        TaskEntry("textgen", "rnn_apps.tasks.textgen:TextGenerator", "rnn_apps.cli.textgen:CLI"),
        TaskEntry("forecast", "rnn_apps.tasks.forecast:Forecaster", "rnn_apps.cli.forecast:CLI"),
        TaskEntry("panel", "rnn_apps.tasks.panel:PanelForecaster", "rnn_apps.cli.panel:CLI"),
        TaskEntry("translate", "rnn_apps.tasks.translate:Translator", "rnn_apps.cli.translate:CLI"),
        TaskEntry("tag", "rnn_apps.tasks.tagging:Tagger", "rnn_apps.cli.tag:CLI"),
    )
}


def task_names() -> list[str]:
    """The registered task names, in `rnn-apps --help` order."""
    return list(TASKS)


def get_entry(name: str) -> TaskEntry:
    """The registry entry of task `name`.

    Raises:
        UserInputError: no task of that name (the message lists the registered ones).
    """
    if name not in TASKS:
        raise UserInputError(f"Unknown task {name!r}; the tasks are {', '.join(TASKS)}.")
    return TASKS[name]


def get_task_class(name: str) -> type:
    """The `Task` subclass registered as `name` (see `get_entry`)."""
    return get_entry(name).load_task_class()
