"""TensorFlow Datasets and `tf.data.Dataset` input for every task.

Two more kinds of input go wherever a task takes data (`Task.fit`, the tasks' `evaluate`, the
command line's `--data` / `--text`):

- a **TFDS name**, `"tfds:NAME[/CONFIG][:VERSION]"` (`tfds:imdb_reviews`,
  `tfds:tiny_shakespeare`, `tfds:ted_hrlr_translate/pt_to_en`, or any dataset prepared in the
  TFDS data dir, with or without its builder code). It is read from the data dir
  (`data_dir=` / `--tfds-data-dir`, else `$TFDS_DATA_DIR`, else `~/tensorflow_datasets`) and
  **never downloaded**: a dataset that is not prepared there is refused in one line that says
  how to prepare it (`tfds build NAME --data_dir DIR` on a machine with network, then copy the
  folder). The split is `split=` / `--tfds-split` (TFDS syntax: `test`, `train[:10%]`);
  by default `fit` trains on `train` and validates on `validation` when the dataset has one
  (else the task holds some out, as for any data), `evaluate` reads `test` (else
  `validation`).
- a **`tf.data.Dataset`** of examples: each element a dict of features (nested dicts are
  flattened to `outer/inner`), an `(x, y)` tuple (features `x` and `y`) or one tensor (feature
  `x`); a batched dataset (every component with the same leading dimension) is unbatched.

Both are read into `Examples` (one list of Python values per feature: strings decoded as
UTF-8, `ClassLabel` features as their class names) and then into the task's raw form by the
task's `Task.raw_from_examples` hook, which calls one of the converters here:
`labelled_texts` (sentiment), `joined_text` (textgen), `text_pairs` (translate) and
`examples_frame` (forecast: a DataFrame of the scalar features).

What is read is capped: at most `MAX_EXAMPLES` examples and `MAX_BYTES` bytes of feature data
(`max_examples=` / `max_bytes=`, CLI `--tfds-max-examples`); past a cap the read stops with an
error naming the cap and how to take a slice instead.

`tensorflow_datasets` is imported only when a TFDS name is read.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rnn_apps.errors import UserInputError

#: What starts a TFDS name.
PREFIX = "tfds:"
#: Default cap on the examples read from one split or dataset.
MAX_EXAMPLES = 2_000_000
#: Default cap on the bytes of feature data read from one split or dataset (1 GiB).
MAX_BYTES = 1 << 30
#: The environment variable TFDS reads its data dir from.
DATA_DIR_ENV = "TFDS_DATA_DIR"
#: Options of the reading (the rest go to the task's converter).
LOAD_OPTIONS = ("data_dir", "split", "max_examples", "max_bytes")
#: Roles of a split and the TFDS splits they default to, in order of preference.
DEFAULT_SPLITS = {
    "train": ("train",),
    "validation": ("validation",),
    "test": ("test",),
    "evaluate": ("test", "validation"),
}


@dataclasses.dataclass
class Examples:
    """Examples read from a TFDS split or a `tf.data.Dataset`.

    Attributes:
        columns: `{feature: [value of each example]}` (str for strings, Python numbers).
        class_names: `{feature: names}` of the `ClassLabel` features (their values in
            `columns` are the names already).
        source: What was read, for messages and reports (`"tfds:imdb_reviews (train)"`).
    """

    columns: dict[str, list[Any]]
    class_names: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    source: str = "tf.data.Dataset"

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def column(self, name: str, *, fallback: str | None = None, option: str = "") -> list[Any]:
        """The values of feature `name` (else of `fallback`, when there is one).

        Raises:
            UserInputError: no such feature; the message lists the features there are.
        """
        if name in self.columns:
            return self.columns[name]
        if fallback is not None and fallback in self.columns:
            return self.columns[fallback]
        hint = f" Name the feature with {option}." if option else ""
        raise UserInputError(
            f"{self.source} has no feature {name!r}; its features are {sorted(self.columns)}.{hint}"
        )


# =========================================================================== names


def is_tfds_name(value: Any) -> bool:
    """`"tfds:NAME..."` (one word, no spaces)."""
    return (
        isinstance(value, str)
        and value.startswith(PREFIX)
        and len(value) > len(PREFIX)
        and len(value) < 300
        and not any(c.isspace() for c in value)
    )


def is_dataset(value: Any) -> bool:
    """A `tf.data.Dataset` (without importing TensorFlow when it is not loaded yet)."""
    tf = sys.modules.get("tensorflow")
    data = getattr(tf, "data", None)
    return data is not None and isinstance(value, data.Dataset)


def is_input(value: Any) -> bool:
    """Input this module reads: a TFDS name, a `tf.data.Dataset` or `Examples`."""
    return isinstance(value, Examples) or is_tfds_name(value) or is_dataset(value)


def dataset_name(value: str) -> str:
    """`"tfds:imdb_reviews/plain_text:1.0.0"` -> `"imdb_reviews/plain_text:1.0.0"`."""
    if not is_tfds_name(value):
        raise UserInputError(
            f"{value!r} is not a TFDS name: write tfds:NAME[/CONFIG][:VERSION], e.g. "
            "tfds:imdb_reviews."
        )
    return value[len(PREFIX) :]


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> str:
    """The TFDS data dir: `data_dir`, else `$TFDS_DATA_DIR`, else TFDS's default."""
    if data_dir:
        return os.path.abspath(os.path.expanduser(os.fspath(data_dir)))
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    if env:
        return os.path.abspath(os.path.expanduser(env))
    return os.path.expanduser(os.path.join("~", "tensorflow_datasets"))


def _not_prepared(name: str, data_dir: str, why: str = "") -> UserInputError:
    base = name.split(":")[0]
    return UserInputError(
        f"TFDS dataset {name!r} is not prepared in the data dir {data_dir!r}{why} and nothing "
        f"is downloaded at run time: on a machine with network run `tfds build {base} "
        f"--data_dir {data_dir}` (or copy a prepared {base.split('/')[0]}/ folder there), or "
        f"point --tfds-data-dir / ${DATA_DIR_ENV} at the data dir that holds it."
    )


def open_builder(name: str, data_dir: str | os.PathLike | None = None) -> Any:
    """The prepared TFDS builder of `name` (`"tfds:..."` or a bare TFDS name).

    Raises:
        UserInputError: the dataset is unknown or not prepared in the data dir (one line
            naming the data dir searched and how to prepare it).
    """
    import tensorflow_datasets as tfds

    name = dataset_name(name) if is_tfds_name(name) else str(name)
    root = resolve_data_dir(data_dir)
    try:
        builder = tfds.builder(name, data_dir=root)
    except Exception as err:  # DatasetNotFoundError, a version it does not have ...
        first = next((line for line in str(err).splitlines() if line.strip()), "")
        raise _not_prepared(name, root, f" ({first.strip()[:160]})") from None
    if not builder.is_prepared():
        raise _not_prepared(name, root)
    return builder


def split_names(builder: Any) -> list[str]:
    """The splits a prepared dataset defines."""
    return list(builder.info.splits.keys())


def pick_split(builder: Any, role: str, split: str | None = None) -> str | None:
    """The split to read for `role` (`train`, `validation`, `test`, `evaluate`): `split`,
    else the first default split of the role the dataset has (None if it has none; a
    training or evaluation split it lacks is an error)."""
    if split:
        return split
    have = split_names(builder)
    for candidate in DEFAULT_SPLITS[role]:
        if candidate in have:
            return candidate
    if role in ("validation", "test"):
        return None
    raise UserInputError(
        f"TFDS dataset {builder.info.full_name!r} has no {' or '.join(DEFAULT_SPLITS[role])} "
        f"split; it has {have}: name the split with --tfds-split (split=...)."
    )


# =========================================================================== reading


def load_split(
    name: str,
    split: str | None = None,
    *,
    role: str = "train",
    data_dir: str | os.PathLike | None = None,
    max_examples: int | None = None,
    max_bytes: int | None = None,
) -> Examples:
    """Reads one split of a prepared TFDS dataset (never downloads).

    Args:
        name: `"tfds:NAME[/CONFIG][:VERSION]"` (or a bare TFDS name).
        split: TFDS split (`"test"`, `"train[:10%]"`); default: the `role`'s (see
            `DEFAULT_SPLITS`).
        role: `train`, `validation`, `test` or `evaluate`.
        data_dir: The TFDS data dir (default `$TFDS_DATA_DIR`, else `~/tensorflow_datasets`).
        max_examples, max_bytes: Caps (default `MAX_EXAMPLES`, `MAX_BYTES`).

    Raises:
        UserInputError: the dataset is not prepared, the split does not exist, a cap is
            exceeded.
    """
    builder = open_builder(name, data_dir)
    split = pick_split(builder, role, split)
    if split is None:
        raise UserInputError(f"TFDS dataset {builder.info.full_name!r} has no {role} split.")
    try:
        ds = builder.as_dataset(split=split, shuffle_files=False)
    except (KeyError, ValueError, AssertionError) as err:
        raise UserInputError(
            f"TFDS dataset {builder.info.full_name!r} has no split {split!r} ("
            f"{' '.join(str(err).split())[:160]}); it has {split_names(builder)}."
        ) from None
    full = builder.info.full_name.rsplit("/", 1)[0]
    examples = from_dataset(
        ds,
        max_examples=max_examples,
        max_bytes=max_bytes,
        source=f"{PREFIX}{full} ({split})",
        slice_hint=True,
    )
    features = builder.info.features
    for key in list(examples.columns):
        feature = _feature(features, key)
        names = getattr(feature, "names", None)
        if names and type(feature).__name__ == "ClassLabel":
            names = [str(n) for n in names]
            examples.class_names[key] = names
            examples.columns[key] = [
                names[v] if isinstance(v, int) and 0 <= v < len(names) else v
                for v in examples.columns[key]
            ]
    return examples


def _feature(features: Any, key: str) -> Any:
    """The TFDS feature of a flattened key (`outer/inner`), or None."""
    node = features
    for part in key.split("/"):
        try:
            node = node[part]
        except (KeyError, TypeError, IndexError):
            return None
    return node


def _components(spec: Any) -> list[Any]:
    import tensorflow as tf

    return tf.nest.flatten(spec)


def _is_batched(spec: Any) -> bool:
    """Every component has a leading dimension, all the same (or unknown): a batched dataset."""
    comps = _components(spec)
    shapes = [getattr(c, "shape", None) for c in comps]
    if not comps or any(s is None or s.rank is None or s.rank < 1 for s in shapes):
        return False
    known = {s[0] for s in shapes if s[0] is not None}
    return len(known) <= 1


def _named(element: Any, prefix: str = "") -> dict[str, Any]:
    """An element as `{feature: value}`: dicts flattened to `outer/inner`, `(x, y)` tuples
    as `x` and `y`, one tensor as `x`."""
    if isinstance(element, Mapping):
        out: dict[str, Any] = {}
        for key, value in element.items():
            name = f"{prefix}{key}"
            if isinstance(value, Mapping):
                out.update(_named(value, name + "/"))
            else:
                out[name] = value
        return out
    if isinstance(element, (tuple, list)):
        if len(element) > 3:
            raise UserInputError(
                f"A dataset element is a tuple of {len(element)} parts; give (x, y) pairs or "
                "dicts of named features."
            )
        out = {}
        for key, value in zip("xyz", element):
            out.update(_named(value, key + "/") if isinstance(value, Mapping) else {key: value})
        return out
    return {prefix.rstrip("/") or "x": element}


def _python(value: Any) -> tuple[Any, int] | None:
    """A scalar NumPy value as a Python value and its size in bytes; None for non-scalars."""
    import numpy as np

    arr = np.asarray(value)
    if arr.ndim != 0:
        return None
    item = arr.item()
    if isinstance(item, bytes):
        return item.decode("utf-8", errors="replace"), len(item)
    if isinstance(item, str):
        return item, len(item.encode("utf-8", errors="replace"))
    return item, 8


def from_dataset(
    ds: Any,
    *,
    max_examples: int | None = None,
    max_bytes: int | None = None,
    source: str = "tf.data.Dataset",
    slice_hint: bool = False,
) -> Examples:
    """Reads a `tf.data.Dataset` into `Examples` (see the module docstring for the element
    forms). Non-scalar features (images, vectors) are left out.

    Raises:
        UserInputError: a cap is exceeded, or the dataset holds no scalar feature.
    """
    max_examples = MAX_EXAMPLES if max_examples is None else int(max_examples)
    max_bytes = MAX_BYTES if max_bytes is None else int(max_bytes)
    if _is_batched(ds.element_spec):
        ds = ds.unbatch()
    columns: dict[str, list[Any]] = {}
    skipped: set[str] = set()
    count = size = 0
    how = (
        "read a slice (--tfds-split 'train[:N]', split='train[:N]')"
        if slice_hint
        else "take a part of the dataset (ds.take(N))"
    )
    for element in ds.take(max_examples + 1).as_numpy_iterator():
        count += 1
        if count > max_examples:
            raise UserInputError(
                f"{source} has more than {max_examples:,} examples, the cap on what is read "
                f"(max_examples, CLI --tfds-max-examples): {how} or raise the cap."
            )
        for key, value in _named(element).items():
            if key in skipped:
                continue
            converted = _python(value)
            if converted is None:
                skipped.add(key)
                columns.pop(key, None)
                continue
            item, nbytes = converted
            size += nbytes
            columns.setdefault(key, []).append(item)
        if size > max_bytes:
            raise UserInputError(
                f"{source} holds more than {max_bytes:,} bytes, the cap on what is read "
                f"(max_bytes): {how} or raise the cap."
            )
    if count and not columns:
        raise UserInputError(
            f"{source} has no scalar feature (text, label or number) to read; its features "
            f"are {sorted(skipped)}."
        )
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise UserInputError(f"{source}: its examples do not all have the same features.")
    return Examples(columns=columns, source=source)


def read(
    data: Any,
    *,
    role: str = "train",
    data_dir: str | os.PathLike | None = None,
    split: str | None = None,
    max_examples: int | None = None,
    max_bytes: int | None = None,
) -> Examples:
    """`Examples` of a TFDS name (the `role`'s split unless `split`), a `tf.data.Dataset`
    or `Examples` (returned as they are)."""
    if isinstance(data, Examples):
        return data
    if is_tfds_name(data):
        return load_split(
            data,
            split,
            role=role,
            data_dir=data_dir,
            max_examples=max_examples,
            max_bytes=max_bytes,
        )
    if is_dataset(data):
        return from_dataset(data, max_examples=max_examples, max_bytes=max_bytes)
    raise UserInputError(
        f"Expected a tfds:NAME, a tf.data.Dataset or Examples, got {type(data).__name__}."
    )


def fit_inputs(
    train: Any, validation: Any, options: Mapping[str, Any] | None = None
) -> tuple[Any, Any]:
    """`fit`'s `train` / `validation` with every TFDS name or `tf.data.Dataset` read into
    `Examples` (anything else is returned unchanged).

    A TFDS name as `train` reads its `split` option (default `train`) and, when `validation`
    is None, the dataset's `validation` split if it has one. A TFDS name as `validation`
    reads its `validation` split (else `test`).
    """
    opts = {k: v for k, v in dict(options or {}).items() if k in LOAD_OPTIONS}
    split = opts.pop("split", None)
    if validation is None and is_tfds_name(train):
        builder = open_builder(train, opts.get("data_dir"))
        val_split = pick_split(builder, "validation")
        if val_split is not None and val_split != split:
            validation = read(train, role="validation", split=val_split, **opts)
    if is_input(train):
        train = read(train, role="train", split=split, **opts)
    if is_input(validation):
        role = "validation"
        if is_tfds_name(validation):
            builder = open_builder(validation, opts.get("data_dir"))
            role = "validation" if pick_split(builder, "validation") else "evaluate"
        validation = read(validation, role=role, **opts)
    return train, validation


def converter_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The options of a task's converter (those that are not `LOAD_OPTIONS`)."""
    return {k: v for k, v in dict(options or {}).items() if k not in LOAD_OPTIONS}


def load_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The `LOAD_OPTIONS` among `options`."""
    return {k: v for k, v in dict(options or {}).items() if k in LOAD_OPTIONS}


# =========================================================================== converters


def labelled_texts(
    examples: Examples,
    text_column: str | None = None,
    label_column: str | None = None,
) -> tuple[list[str], list[Any]]:
    """Sentiment's `(texts, labels)`: feature `text_column` (default `text`, else `x`) and
    `label_column` (default `label`, else `y`); `ClassLabel` labels are their class names."""
    texts = examples.column(
        text_column or "text",
        fallback=None if text_column else "x",
        option="--text-column (text_column=...)",
    )
    labels = examples.column(
        label_column or "label",
        fallback=None if label_column else "y",
        option="--label-column (label_column=...)",
    )
    if not texts:
        raise UserInputError(f"{examples.source} holds no examples.")
    return [str(t) for t in texts], list(labels)


def joined_text(examples: Examples, text_column: str | None = None) -> str:
    """Textgen's one text: feature `text_column` (default `text`, else `x`) of every example,
    joined by a newline where a piece does not end with one (tiny Shakespeare keeps its whole
    text in one example)."""
    pieces = examples.column(
        text_column or "text",
        fallback=None if text_column else "x",
        option="--text-column (text_column=...)",
    )
    out: list[str] = []
    for piece in pieces:
        piece = str(piece)
        if out and not out[-1].endswith("\n"):
            out.append("\n")
        out.append(piece)
    text = "".join(out)
    if not text:
        raise UserInputError(f"{examples.source} holds no text.")
    return text


def text_pairs(
    examples: Examples,
    source_column: str | None = None,
    target_column: str | None = None,
    languages: Sequence[str] = (),
) -> Any:
    """Translate's pairs as a DataFrame with `source` and `target` columns: the named
    features, else `source`/`target`, else the `languages` (ted_hrlr_translate-style
    `{language: text}` features, e.g. `en` and `fr`), else `x`/`y`."""
    import pandas as pd

    have = examples.columns
    if source_column or target_column:
        src, tgt = source_column or "source", target_column or "target"
    else:
        candidates = [("source", "target"), tuple(languages), ("x", "y")]
        src, tgt = next(
            (c for c in candidates if len(c) == 2 and c[0] in have and c[1] in have),
            ("source", "target"),
        )
    option = "--source-column/--target-column (source_column=..., target_column=...)"
    sources = examples.column(src, option=option)
    targets = examples.column(tgt, option=option)
    if not sources:
        raise UserInputError(f"{examples.source} holds no examples.")
    return pd.DataFrame({"source": [str(s) for s in sources], "target": [str(t) for t in targets]})


def examples_frame(examples: Examples, columns: Sequence[str] | None = None) -> Any:
    """A DataFrame of the scalar features (forecast: a date feature and numeric ones; strings
    stay strings, so `read_series` finds and parses the date column)."""
    import pandas as pd

    names = list(columns) if columns else list(examples.columns)
    data = {name: examples.column(name, option="columns=...") for name in names}  # each checked
    frame = pd.DataFrame(data)
    if frame.empty:
        raise UserInputError(f"{examples.source} holds no examples.")
    return frame
