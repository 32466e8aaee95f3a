"""`rnn_apps.tasks.backups`: a backup is resumed only by the run that left it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.backups import claim_backup, data_fingerprint, release_backup
from rnn_apps.tasks.layout import BACKUP_RUN_FILE


def test_fingerprint_follows_the_data_in_every_raw_form():
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    same = [
        (["a text", b"bytes"], ["a text", b"bytes"]),
        (frame, frame.copy()),
        (np.arange(3.0), np.arange(3.0)),
        ([("unlabelled", ["x", "y"])], [("unlabelled", ["x", "y"])]),
    ]
    for a, b in same:
        assert data_fingerprint(a) == data_fingerprint(b)
    assert data_fingerprint(frame) != data_fingerprint(frame.rename(columns={"a": "b"}))
    assert data_fingerprint(np.arange(3.0)) != data_fingerprint(np.arange(3))
    assert data_fingerprint(["ab", "c"]) != data_fingerprint(["a", "bc"])
    assert data_fingerprint(None, [("unlabelled", ["x"])]) != data_fingerprint(None, [])


def test_claim_refuses_another_run_and_resumes_the_same(tmp_path):
    backup = tmp_path / "backup"
    claim_backup(backup, "tag", {"seed": 0}, "data-1")
    (backup / "tagger").mkdir()
    (backup / "tagger" / "training_metadata.json").write_text("{}")  # a saved epoch
    claim_backup(backup, "tag", {"seed": 0}, "data-1")  # the same run resumes
    with pytest.raises(UserInputError, match=r"another configuration \(differs in seed\)"):
        claim_backup(backup, "tag", {"seed": 1}, "data-1")
    with pytest.raises(UserInputError, match="on other training data"):
        claim_backup(backup, "tag", {"seed": 0}, "data-2")
    (backup / BACKUP_RUN_FILE).unlink()
    with pytest.raises(UserInputError, match="backup of an unknown run"):
        claim_backup(backup, "tag", {"seed": 0}, "data-1")


def test_a_claim_without_saved_epochs_blocks_nothing_and_release_cleans_up(tmp_path):
    backup = tmp_path / "backup"
    claim_backup(backup, "tag", {"seed": 0}, "data-1")  # killed before its first epoch
    claim_backup(backup, "tag", {"seed": 5}, "other")
    assert json.loads((backup / BACKUP_RUN_FILE).read_text())["config"] == {"seed": 5}
    release_backup(backup)
    assert not backup.exists()
