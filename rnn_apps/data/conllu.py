"""Token-tagged corpora: CoNLL-U (Universal Dependencies), the IOB2/BIO column format, and UD
English EWT.

A corpus is a list of `TaggedSentence`s (tokens and one tag per token). Readers:

- `read_conllu`: CoNLL-U as UD's evaluation reads it: the syntactic words are tagged, so
  multiword-token range lines (`2-3  don't`) and empty nodes (`8.1`) are skipped; comment lines
  (`# ...`) are kept per sentence in `comments`; the tag comes from a named column (`upos`,
  `xpos`, `deprel`, ...) or from a `MISC` attribute (`misc:NER` reads `NER=B-PER`).
- `read_columns`: CoNLL-2003 / WNUT / Universal NER style: one token per line, columns
  separated by tabs or spaces, the token first and the tag in column `tag_column` (the last
  by default), a blank line between sentences; `-DOCSTART-` lines are skipped.
- `load_ud_ewt`: the UD English EWT split (`train`, `dev`, `test`) from a mirror folder
  (`UD_English-EWT/en_ewt-ud-{split}.conllu`) or downloaded once from the treebank's release.

Input caps: a file is at most `MAX_FILE_BYTES`; a sentence at most `MAX_SENTENCE_TOKENS`
tokens. Malformed lines are refused with one `UserInputError` naming the file and line.

BIO helpers (`bio_spans`, `is_valid_bio`) read IOB2 tags (`B-X`, `I-X`, `O`) the way span
scoring counts them (conlleval / `seqeval`, or its strict mode).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from rnn_apps.errors import UserInputError

#: The ten CoNLL-U columns, in order.
CONLLU_COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
#: Largest corpus file read (bytes).
MAX_FILE_BYTES = 1 << 30
#: Most tokens of one sentence.
MAX_SENTENCE_TOKENS = 10_000
#: The UD English EWT release the loader downloads when there is no mirror.
UD_EWT_RELEASE = "r2.13"
UD_EWT_URL = (
    "https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/"
    f"{UD_EWT_RELEASE}/en_ewt-ud-{{split}}.conllu"
)
UD_EWT_SPLITS = ("train", "dev", "test")


@dataclasses.dataclass
class TaggedSentence:
    """One sentence: its tokens and one tag per token.

    Attributes:
        tokens: The words (CoNLL-U: the syntactic words, multiword tokens split).
        tags: One tag per token ("_" where a CoNLL-U column is unspecified).
        comments: The sentence's comment lines without the leading `#` (CoNLL-U).
    """

    tokens: list[str]
    tags: list[str]
    comments: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.tags):
            raise UserInputError(
                f"a sentence has {len(self.tokens)} tokens and {len(self.tags)} tags; give one "
                "tag per token."
            )


def _read_lines(source: str | os.PathLike) -> tuple[str, list[str]]:
    """(name for messages, lines) of a file; refuses a missing, oversized or non-UTF-8 file."""
    path = Path(source).expanduser()
    if not path.is_file():
        raise UserInputError(f"Corpus file {str(path)!r} does not exist or is not a file.")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise UserInputError(
            f"{path} is {size / 2**20:.0f} MB; at most {MAX_FILE_BYTES >> 20} MB per corpus "
            "file: split it."
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise UserInputError(
            f"{path} is not UTF-8 ({err.reason} at byte {err.start}); convert it to UTF-8 first."
        ) from err
    return str(path), text.splitlines()


def _conllu_tag_getter(column: str):
    """`fields -> tag` for a CoNLL-U column name or `misc:ATTR`."""
    name = column.strip().lower()
    if name.startswith("misc:"):
        attr = column.split(":", 1)[1]
        if not attr:
            raise UserInputError("column 'misc:' needs an attribute name, e.g. 'misc:NER'.")

        def misc(fields: list[str]) -> str:
            for item in fields[9].split("|"):
                key, _, value = item.partition("=")
                if key == attr:
                    return value
            return "O"

        return misc
    if name not in CONLLU_COLUMNS or name in ("id", "form"):
        choices = ", ".join(c for c in CONLLU_COLUMNS if c not in ("id", "form"))
        raise UserInputError(
            f"column={column!r}: expected one of {choices}, or 'misc:ATTR' (a MISC attribute)."
        )
    index = CONLLU_COLUMNS.index(name)
    return lambda fields: fields[index]


def parse_conllu(
    lines: Iterable[str], *, column: str = "upos", name: str = "<text>"
) -> list[TaggedSentence]:
    """Sentences of CoNLL-U lines (see the module docstring); `name` appears in errors."""
    get_tag = _conllu_tag_getter(column)
    sentences: list[TaggedSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    comments: list[str] = []

    def close(lineno: int) -> None:
        if tokens:
            sentences.append(TaggedSentence(list(tokens), list(tags), list(comments)))
        elif comments:
            raise UserInputError(f"{name}:{lineno}: a sentence has comments but no word lines.")
        tokens.clear()
        tags.clear()
        comments.clear()

    lineno = 0
    for lineno, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if not line.strip():
            close(lineno)
            continue
        if line.startswith("#"):
            comments.append(line[1:].strip())
            continue
        fields = line.split("\t")
        if len(fields) != 10:
            raise UserInputError(
                f"{name}:{lineno}: expected 10 tab-separated CoNLL-U fields, got {len(fields)}; "
                "is this a CoNLL-U file? (token-per-line files: read_columns)"
            )
        word_id = fields[0]
        if "-" in word_id or "." in word_id:  # a multiword range or an empty node
            continue
        if not word_id.isdigit():
            raise UserInputError(f"{name}:{lineno}: word id {word_id!r} is not an integer.")
        if not fields[1]:
            raise UserInputError(f"{name}:{lineno}: empty FORM field.")
        if len(tokens) >= MAX_SENTENCE_TOKENS:
            raise UserInputError(
                f"{name}:{lineno}: a sentence of more than {MAX_SENTENCE_TOKENS} tokens; is a "
                "blank line missing between sentences?"
            )
        tokens.append(fields[1])
        tags.append(get_tag(fields))
    close(lineno + 1)
    return sentences


def read_conllu(path: str | os.PathLike, *, column: str = "upos") -> list[TaggedSentence]:
    """Reads a CoNLL-U file; the tag of each word from `column` (see the module docstring).

    Raises:
        UserInputError: a missing, oversized or non-UTF-8 file, a malformed line (file and line
            named), a sentence over `MAX_SENTENCE_TOKENS`, or an unknown column.
    """
    name, lines = _read_lines(path)
    return parse_conllu(lines, column=column, name=name)


def parse_columns(
    lines: Iterable[str], *, tag_column: int = -1, name: str = "<text>"
) -> list[TaggedSentence]:
    """Sentences of token-per-line column text (see `read_columns`)."""
    sentences: list[TaggedSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    lineno = 0
    for lineno, line in enumerate(lines, 1):
        fields = line.split("\t") if "\t" in line else line.split()
        if not line.strip():
            if tokens:
                sentences.append(TaggedSentence(tokens, tags))
            tokens, tags = [], []
            continue
        if fields[0] == "-DOCSTART-":
            continue
        if len(fields) < 2:
            raise UserInputError(
                f"{name}:{lineno}: expected a token and a tag separated by a tab or spaces, "
                f"got {line.strip()[:40]!r}."
            )
        try:
            tag = fields[tag_column].strip()
        except IndexError:
            raise UserInputError(
                f"{name}:{lineno}: tag_column={tag_column} but the line has {len(fields)} columns."
            ) from None
        if len(tokens) >= MAX_SENTENCE_TOKENS:
            raise UserInputError(
                f"{name}:{lineno}: a sentence of more than {MAX_SENTENCE_TOKENS} tokens; is a "
                "blank line missing between sentences?"
            )
        tokens.append(fields[0].strip())
        tags.append(tag)
    if tokens:
        sentences.append(TaggedSentence(tokens, tags))
    return sentences


def read_columns(path: str | os.PathLike, *, tag_column: int = -1) -> list[TaggedSentence]:
    """Reads a token-per-line file (CoNLL-2003, WNUT, `token<TAB>tag`): the token is the first
    column, the tag column `tag_column` (negative counts from the end).

    Raises:
        UserInputError: a missing, oversized or non-UTF-8 file, a line without a tag (file and
            line named), or a sentence over `MAX_SENTENCE_TOKENS`.
    """
    name, lines = _read_lines(path)
    return parse_columns(lines, tag_column=tag_column, name=name)


def load_ud_ewt(
    split: str = "train",
    *,
    column: str = "upos",
    data_dir: str | os.PathLike | None = None,
) -> list[TaggedSentence]:
    """UD English EWT's `split` (`train`, `dev` or `test`; 12,544 / 2,001 / 2,077 sentences).

    Args:
        split: Which file.
        column: The tag column (`upos`, `xpos`, ...).
        data_dir: A mirror folder holding `UD_English-EWT/en_ewt-ud-{split}.conllu`; defaults to
            `$RNN_APPS_DATA_DIR`, else the file is downloaded once (release `UD_EWT_RELEASE`).
    """
    from rnn_apps.data import get_dataset_file

    if split not in UD_EWT_SPLITS:
        raise UserInputError(f"split={split!r}: expected one of {', '.join(UD_EWT_SPLITS)}.")
    fname = f"UD_English-EWT/en_ewt-ud-{split}.conllu"
    path = get_dataset_file(fname, UD_EWT_URL.format(split=split), data_dir=data_dir)
    return read_conllu(path, column=column)


# --------------------------------------------------------------------------- BIO tags
def _split_tag(tag: str) -> tuple[str, str]:
    """`"B-PER"` -> ("B", "PER"); `"O"` -> ("O", "")."""
    if tag == "O" or len(tag) < 3 or tag[1] != "-" or tag[0] not in "BI":
        return "O", ""
    return tag[0], tag[2:]


def is_bio_tagset(tags: Iterable[str]) -> bool:
    """True when any tag has a `B-`/`I-` prefix (an entity tag set: spans are scored and
    decoding is constrained)."""
    return any(t[:2] in ("B-", "I-") for t in tags)


def is_valid_bio(tags: Sequence[str]) -> bool:
    """True when every `I-X` follows a `B-X` or an `I-X` of the same type (IOB2)."""
    previous = ("O", "")
    for tag in tags:
        prefix, kind = _split_tag(tag)
        if prefix == "I" and (previous[0] == "O" or previous[1] != kind):
            return False
        previous = (prefix, kind)
    return True


def bio_spans(tags: Sequence[str], *, strict: bool = False) -> list[tuple[str, int, int]]:
    """The entity spans `(type, start, end)` (end exclusive) of IOB2 tags.

    By default as conlleval and `seqeval`'s default mode count them: an `I-X` that does not
    continue a span of type X (after `O`, or after another type) starts a new span. With
    `strict=True` (`seqeval`'s strict IOB2 mode) only a `B-X` starts a span and such an `I-X`
    belongs to none. Tags without a `B-`/`I-` prefix (and `O`) are outside every span.
    """
    spans: list[tuple[str, int, int]] = []
    kind, start = "", -1
    for i, tag in enumerate([*tags, "O"]):
        prefix, tag_kind = _split_tag(tag)
        if prefix == "I" and start >= 0 and tag_kind == kind:
            continue
        if start >= 0:
            spans.append((kind, start, i))
        begins = prefix == "B" or (prefix == "I" and not strict)
        kind, start = (tag_kind, i) if begins else ("", -1)
    return spans
