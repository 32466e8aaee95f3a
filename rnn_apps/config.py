"""Task configurations: one dataclass base, one way to build and check them.

`TaskConfig` is the base of every task's configuration (`ForecastConfig`, ...): build one
with `from_dict` (a `--config` file, keyword overrides, a saved pipeline's state), which
refuses unknown keys and values of the wrong type naming the key, then runs the task's own
`check()` (ranges and choices) through the helpers `require_positive`, `require_choice`,
`require_range` and `fail`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np

from rnn_apps.errors import UserInputError

C = TypeVar("C", bound="TaskConfig")

#: A retired option whose every value is dropped (see `TaskConfig.retired_options`).
RETIRED_ANY = object()


def _type_ok(value: Any, hint: Any) -> bool:
    """Whether `value` fits the annotation `hint` (int, float, bool, str, None, list[...],
    unions of those); unknown annotations accept anything."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, (bool, np.bool_))
    if hint is int:
        return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if hint is float:
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_)
        )
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple, Sequence):
        args = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            return False
        return not args or all(_type_ok(v, args[0]) for v in value)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return True


#: Largest integer option (TensorFlow takes most of them as int32).
MAX_INT_OPTION = 2**31 - 1


def _check_number(task_name: str, name: str, value: Any) -> None:
    """Refuses a non-finite float (a NaN or infinite learning rate trains a NaN model) and an
    integer outside int32 (it would wrap around in the graph)."""
    if isinstance(value, (bool, np.bool_)):
        return
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        raise UserInputError(f"{task_name} option {name!r} must be a finite number, got {value!r}.")
    if isinstance(value, (int, np.integer)) and abs(int(value)) > MAX_INT_OPTION:
        raise UserInputError(
            f"{task_name} option {name!r} must be at most {MAX_INT_OPTION} in size, got {value!r}."
        )


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(h) for h in typing.get_args(hint))
    if hint is type(None):
        return "None"
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(hint))
        return f"{origin.__name__}[{args}]"
    return getattr(hint, "__name__", str(hint))


@dataclasses.dataclass
class TaskConfig:
    """Base of every task's configuration (a dataclass of plain JSON values).

    Build one with `TaskConfig.from_dict` (a `--config` file, a saved pipeline's state) or as
    a dataclass; `validate()` checks every field's type against its annotation (naming the
    key) and then the task's own `check()` (ranges, choices).

    Attributes:
        seed: Seed of weights, data order and sampling (`keras.utils.set_random_seed`).
        verbose: Keras progress bar (1), one line per epoch (2) or silent (0).
        max_train_minutes: Wall-clock budget of training; training stops after the current
            batch when it is spent and the best weights so far are kept. None = no limit.
    """

    seed: int = 0
    verbose: int = 1
    max_train_minutes: float | None = None

    task_name: ClassVar[str] = "task"
    #: Options measured, not kept and removed, with the value that turned them off (or
    #: `RETIRED_ANY` when no value had an effect): a configuration saved before their removal
    #: still loads when they are off; one that turns them on is refused in one line.
    retired_options: ClassVar[dict[str, Any]] = {}

    # ------------------------------------------------------------------ building
    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any]) -> C:
        """Builds and validates a config from a mapping.

        Raises:
            UserInputError: a key that is not an option (the message lists the known ones), or
                a value of the wrong type or out of range (the message names the key).
        """
        values = dict(values)
        for name, off in cls.retired_options.items():
            if name in values:
                value = values.pop(name)
                if off is not RETIRED_ANY and value != off:
                    raise UserInputError(
                        f"{cls.task_name} option {name!r} was removed (measured and not kept; "
                        f"README's {cls.task_name} section has the figures); remove it from "
                        "the configuration."
                    )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserInputError(
                f"Unknown {cls.task_name} option(s) {unknown}; known options: {sorted(known)}."
            )
        cls._check_types(values)
        config = cls(**dict(values))
        return config.validate()

    def replace(self: C, **overrides: Any) -> C:
        """A validated copy with `overrides` applied."""
        return type(self).from_dict({**dataclasses.asdict(self), **overrides})

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-serialisable values."""
        return dataclasses.asdict(self)

    # ------------------------------------------------------------------ checking
    @classmethod
    def _check_types(cls, values: Mapping[str, Any]) -> None:
        hints = typing.get_type_hints(cls)
        for name, value in values.items():
            hint = hints.get(name, Any)
            if not _type_ok(value, hint):
                raise UserInputError(
                    f"{cls.task_name} option {name!r} must be {_type_name(hint)}, got "
                    f"{value!r} ({type(value).__name__})."
                )
            for v in value if isinstance(value, (list, tuple)) else [value]:
                _check_number(cls.task_name, name, v)

    def validate(self: C) -> C:
        """Checks the type of every field, then the task's `check()`; returns self."""
        self._check_types(dataclasses.asdict(self))
        self.check()
        return self

    def check(self) -> None:
        """Task hook: ranges and choices. Raise with `self.fail(...)` or the helpers below."""

    # helpers for `check`
    def fail(self, name: str, requirement: str) -> None:
        """Raises `UserInputError` naming option `name`, its value and what it must be."""
        raise UserInputError(
            f"{self.task_name} option {name!r} must be {requirement}, got {getattr(self, name)!r}."
        )

    def require_positive(self, *names: str) -> None:
        """Each named option must be > 0 (None is allowed where the type allows it)."""
        for name in names:
            value = getattr(self, name)
            if value is not None and not value > 0:
                self.fail(name, "> 0")

    def require_choice(self, name: str, choices: Sequence[Any]) -> None:
        """Option `name` must be one of `choices`."""
        if getattr(self, name) not in tuple(choices):
            self.fail(name, "one of " + ", ".join(map(repr, choices)))

    def require_range(
        self, name: str, low: float, high: float, *, low_open: bool = False, high_open: bool = True
    ) -> None:
        """`low <= value < high` (brackets set by `low_open` / `high_open`)."""
        v = getattr(self, name)
        if v is None:
            return
        ok_low = v > low if low_open else v >= low
        ok_high = v < high if high_open else v <= high
        if not (ok_low and ok_high):
            lo, hi = "(" if low_open else "[", ")" if high_open else "]"
            self.fail(name, f"in {lo}{low}, {high}{hi}")
