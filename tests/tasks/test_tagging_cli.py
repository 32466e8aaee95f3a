"""The tagging task through the command line: the committed tagger as README shows it, the
confusion-matrix plot of `evaluate --output-dir`, and `train --unlabelled`."""

from __future__ import annotations

import json
from pathlib import Path

from rnn_apps.cli import main

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = "saved_models/tagger_ud_en_upos"


def _conllu(path: Path, sentences: list[list[tuple[str, str]]]) -> Path:
    lines = []
    for i, sentence in enumerate(sentences):
        lines.append(f"# sent_id = s{i}")
        for j, (w, t) in enumerate(sentence, 1):
            lines.append(f"{j}\t{w}\t{w.lower()}\t{t}\t_\t_\t0\tdep\t_\t_")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_committed_tagger_predicts_and_evaluates_from_the_repo_root(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(ROOT)
    sentence = "The dog doesn't like the zorbulating cat."
    assert main(["tag", "predict", "--model", COMMITTED, sentence, "--json"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)
    assert doc["tokens"] == ["The", "dog", "does", "n't", "like", "the", "zorbulating", "cat", "."]
    assert doc["tags"][:4] == ["DET", "NOUN", "AUX", "PART"] and doc["tags"][-1] == "PUNCT"
    data = _conllu(
        tmp_path / "few.conllu",
        [[("The", "DET"), ("cat", "NOUN"), ("sleeps", "VERB"), (".", "PUNCT")]] * 3,
    )
    out = tmp_path / "eval"
    code = main(
        ["tag", "evaluate", "--model", COMMITTED, "--data", str(data), "--output-dir", str(out)]
    )
    assert code == 0 and (out / "confusion_matrix.png").stat().st_size > 1000
    assert "On 12 tokens: accuracy 100.00%" in capsys.readouterr().out


def test_train_learns_from_an_unlabelled_text_file(tmp_path, capsys):
    sentences = [[("the", "DET"), ("cat", "NOUN"), ("runs", "VERB")]] * 20
    data = _conllu(tmp_path / "train.conllu", sentences)
    texts = tmp_path / "untagged.txt"
    texts.write_text("the dog runs\nthe dog sleeps\n" * 10, encoding="utf-8")
    out = tmp_path / "run"
    argv = ["tag", "train", "--data", str(data), "--unlabelled", str(texts), "--epochs", "1",
            "--units", "4", "--no-export", "--output-dir", str(out), "--json"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err[-2000:]
    report = json.loads(capsys.readouterr().out)
    assert report["unlabelled"]["texts"] == 20 and report["unlabelled"]["words_added"] == 2
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\n")
    argv[argv.index(str(texts))] = str(bad)
    assert main([*argv[:-3], "--output-dir", str(tmp_path / "run2")]) == 2
    err = capsys.readouterr().err
    assert "bad.txt line 2 is not UTF-8 text." in err and err.count("\n") == 1, err
