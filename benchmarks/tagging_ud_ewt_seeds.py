"""UD English EWT: how much the tagger moves with its seed, and what an ensemble of seeds buys.

Trains the shipped configuration (softmax head, untagged IMDB reviews, 14-minute cap each)
once per `--seeds` entry and reports, for each seed and for the ensemble of the first n seeds
(the mean of their per-token softmax, arg max), UPOS accuracy and unseen-word accuracy on dev
and on every token of test (gold tokenisation), as `tagging_ud_ewt.py` scores them. An
ensemble of n taggers costs n times the training and, exported, n times the 16 MB: it is
measured here, not shipped.

    python benchmarks/tagging_ud_ewt_seeds.py --data-dir ../shared/datasets --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

if str(Path(__file__).resolve().parent) not in sys.path:  # the harness, when imported
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import provenance, recorded_command, result_path, write_result  # noqa: E402
from tagging_ud_ewt import _scores, imdb_unlabelled  # noqa: E402


def token_probabilities(tagger: Any, sentences: Sequence[Any]) -> list[np.ndarray]:
    """Per sentence, the softmax of the tagger's scores: (T, K) float for a sentence of T
    tokens, in the order given (batches of 64 sentences of similar length)."""
    from keras import ops

    from rnn_apps.tasks.tagging.inference import _padded

    pre, core = tagger.preprocessor_, tagger.model_.core
    order = np.argsort([len(s.tokens) for s in sentences], kind="stable")
    out: list[np.ndarray] = [np.zeros((0, 0))] * len(sentences)
    for lo in range(0, len(sentences), 64):
        idx = order[lo : lo + 64]
        scores = core(pre(_padded([sentences[i].tokens for i in idx])), training=False)
        p = ops.convert_to_numpy(ops.softmax(scores, axis=-1))  # (B, T, K)
        for row, i in enumerate(idx):
            out[i] = p[row, : len(sentences[i].tokens)]
    return out


def ensemble_tags(members: Sequence[list[np.ndarray]], tags: Sequence[str]) -> list[list[str]]:
    """The arg max of the members' mean probabilities, per token: members[m][s] is (T_s, K)."""
    n = len(members)
    return [
        [tags[k] for k in (sum(m[s] for m in members) / n).argmax(-1)]
        for s in range(len(members[0]))
    ]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None, help="dataset mirror (default: download)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--max-train-minutes", type=float, default=14.0)
    p.add_argument("--output", default=str(result_path("tagging_ud_ewt_seeds")))
    args = p.parse_args(argv)
    start = time.monotonic()

    from rnn_apps.data.conllu import load_ud_ewt
    from rnn_apps.tasks.tagging import Tagger, TaggingConfig

    train, dev, test = (
        load_ud_ewt(s, column="upos", data_dir=args.data_dir) for s in ("train", "dev", "test")
    )
    unlabelled = imdb_unlabelled(args.data_dir)
    train_words = {w.lower() for s in train for w in s.tokens}
    splits = {"dev": dev, "test": test}
    result: dict[str, Any] = {
        "benchmark": "tagging_ud_ewt_seeds",
        "command": recorded_command(
            "tagging_ud_ewt_seeds.py",
            sys.argv[1:] if argv is None else argv,
            drop_options=("--output",),
        ),
        "protocol": "the shipped configuration with a softmax head, one tagger per seed; "
        "ensembles average the per-token softmax of the first n seeds; upos accuracy over "
        "every token of dev and test (gold tokenisation)",
        "versions": provenance(),
        "models": {},
    }
    probs: dict[str, list[list[np.ndarray]]] = {"dev": [], "test": []}
    tags: list[str] | None = None
    for seed in args.seeds:
        print(f"tagger, seed {seed}", flush=True)
        cfg = TaggingConfig(
            column="upos", head="softmax", epochs=30, max_train_minutes=args.max_train_minutes,
            seed=seed, verbose=2,
        )  # fmt: skip
        tagger = Tagger(cfg).fit(train, dev, unlabelled=unlabelled)
        if tags is not None and list(tagger.preprocessor_.tags) != tags:
            raise RuntimeError("the seeds' taggers have different tag sets")
        tags = list(tagger.preprocessor_.tags)
        entry: dict[str, Any] = {
            "seed": seed,
            "train_seconds": round(tagger.train_seconds_, 1),
            "epochs": len(tagger.history_["tagger"]["loss"]),
        }
        for name, sents in splits.items():
            probs[name].append(token_probabilities(tagger, sents))
            pred = ensemble_tags(probs[name][-1:], tags)
            entry[name] = _scores([s.tags for s in sents], pred, sents, train_words)
        result["models"][f"softmax_seed{seed}"] = entry
        for n in range(2, len(probs["test"]) + 1):
            result["models"][f"ensemble_of_{n}"] = {
                name: _scores(
                    [s.tags for s in sents],
                    ensemble_tags(probs[name][:n], tags),
                    sents,
                    train_words,
                )
                for name, sents in splits.items()
            }
        result["total_seconds"] = round(time.monotonic() - start, 1)
        write_result(args.output, result)  # what is done so far survives a kill
    for name, entry in result["models"].items():
        print(f"{name}: test {100 * entry['test']['accuracy']:.2f}, unseen "
              f"{100 * entry['test']['unseen_word_accuracy']:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
