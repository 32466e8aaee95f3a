"""Sentiment through the command line on IMDB-shaped data (a small fake archive with movies
and unlabelled reviews, a CSV with a group column) and the committed IMDB export
(`saved_models/sentiment_imdb`): predictions from the repository root, the negation probes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from rnn_apps.tasks.base import SavedModelPredictor
from tests.tasks.sentiment_data import ROOT, TINY, corpus, run_cli


def test_committed_imdb_model_predicts_from_the_repo_root(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    argv = ["sentiment", "predict", "--model", "saved_models/sentiment_imdb"]
    assert run_cli(*argv, "A wonderful, moving film.", "Dull and boring, a waste.") == 0
    rows = [json.loads(s) for s in capsys.readouterr().out.strip().splitlines()]
    assert [r["label"] for r in rows] == ["pos", "neg"]


def test_a_model_of_another_task_is_refused_in_one_line(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert run_cli("sentiment", "predict", "--model", "saved_models/forecast_etth1", "x") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'forecast' model" in err
    assert run_cli("sentiment", "train", "--data", "missing.csv") == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_shipped_imdb_model_passes_the_negation_probes():
    from rnn_apps.tasks.sentiment.probes import probe_report

    model = SavedModelPredictor(ROOT / "saved_models" / "sentiment_imdb")
    report = probe_report(model)
    # "Most of them right": the README states the exact count of the committed model.
    assert report["negation_correct"] > report["negation_total"] / 2, report["negation"]
    assert report["no_evidence_max_distance_from_half"] <= 0.05, report


def _fake_imdb(folder: Path, n: int = 160) -> Path:
    """A small aclImdb_v1.tar.gz: n train / 40 test / n unsup reviews of 20 movies."""
    import io
    import tarfile

    texts, labels = corpus(n + 40, seed=11)
    unsup, _ = corpus(n, seed=12)
    files: dict[str, str] = {}
    urls: dict[str, list[str]] = {}
    url = "http://www.imdb.com/title/tt{:07d}/usercomments".format
    for i, (text, k) in enumerate(zip(texts, labels)):
        split = "train" if i < n else "test"
        label = ("neg", "pos")[k]
        rid = len(urls.setdefault(f"{split}/urls_{label}", []))
        files[f"aclImdb/{split}/{label}/{rid}_{7 if k else 2}.txt"] = text
        movie = i % 20 if split == "train" else 100 + i % 5
        urls[f"{split}/urls_{label}"].append(url(movie))
    for i, text in enumerate(unsup):
        files[f"aclImdb/train/unsup/{i}_0.txt"] = text
        urls.setdefault("train/urls_unsup", []).append(url(200 + i % 9))
    for key, lines in urls.items():
        files[f"aclImdb/{key}.txt"] = "\n".join(lines) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "aclImdb_v1.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return path


def test_imdb_train_holds_out_movies_and_reads_the_unlabelled_reviews(
    tmp_path, monkeypatch, capsys
):
    _fake_imdb(tmp_path / "mirror")
    (tmp_path / "tiny.yaml").write_text("\n".join(f"{k}: {v}" for k, v in TINY.items()))
    monkeypatch.chdir(tmp_path)
    argv = ["sentiment", "train", "--data-dir", "mirror", "--config", "tiny.yaml"]
    argv += ["--epochs", "1", "--unlabelled", "--no-export", "--output-dir", "runs/imdb", "--json"]
    assert run_cli(*argv) == 0
    report = json.loads((tmp_path / "runs" / "imdb" / "report.json").read_text())
    assert report["validation"]["split"] == "by group"
    assert report["num_unlabelled_distilled"] == 160
    assert report["data"] == "IMDB train + 160 unlabelled"
    # 20 movies of 8 reviews: the held-out part is whole movies (a multiple of 8 reviews).
    assert report["validation"]["num_examples"] % 8 == 0
    capsys.readouterr()
    assert run_cli("sentiment", "evaluate", "--model", "runs/imdb", "--data-dir", "mirror") == 0
    out = capsys.readouterr().out
    assert "Accuracy by branch: ngram" in out and "blend" in out
    assert run_cli("sentiment", "train", "--data", "x.csv", "--unlabelled") == 2


def test_group_column_of_a_csv(tmp_path, monkeypatch, capsys):
    texts, labels = corpus(160, seed=13)
    pd.DataFrame(
        {"text": texts, "label": labels, "movie": [f"m{i % 20}" for i in range(160)]}
    ).to_csv(tmp_path / "r.csv", index=False)
    (tmp_path / "tiny.yaml").write_text("\n".join(f"{k}: {v}" for k, v in TINY.items()))
    (tmp_path / "bad.csv").write_bytes(b'text,label,movie\n"unclosed,1,m\n')
    monkeypatch.chdir(tmp_path)
    common = ["sentiment", "train", "--config", "tiny.yaml", "--epochs", "1"]
    assert run_cli(*common, "--data", "r.csv", "--group-column", "film", "--output-dir", "x") == 2
    assert "--group-column 'film' is not a column" in capsys.readouterr().err
    assert run_cli(*common, "--data", "bad.csv", "--group-column", "movie") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Could not read CSV file" in err
    argv = [*common, "--data", "r.csv", "--group-column", "movie"]
    argv += ["--no-export", "--output-dir", "g"]  # the report is what this test reads
    assert run_cli(*argv) == 0
    report = json.loads((tmp_path / "g" / "report.json").read_text())
    assert report["validation"]["split"] == "by group"
    assert report["validation"]["num_examples"] % 8 == 0  # whole movies of 8 reviews
