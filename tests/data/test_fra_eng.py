import pandas as pd
import pytest

from rnn_apps.data.fra_eng import load_fra_eng, read_pairs, split_pairs
from rnn_apps.errors import UserInputError
from rnn_apps.testing import require_mirror_file


def test_reads_two_and_three_column_tatoeba_files_and_normalises(tmp_path):
    two = tmp_path / "fra.txt"
    two.write_text(
        "Go.\tVa !\nHi.\tSalut\u202f!\n\nCafe\u0301?\tCaf\u00e9\u00a0?\n", encoding="utf-8"
    )
    three = tmp_path / "fra3.txt"
    three.write_text("Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272\n")
    a = read_pairs(two)
    assert list(a.columns) == ["english", "french"] and len(a) == 3
    assert a.loc[2, "english"] == "Caf\u00e9?"  # NFC: e + combining acute -> é
    assert a.loc[1, "french"] == "Salut\u202f!"  # spacing kept for the preprocessor
    b = read_pairs(three)
    assert b.to_dict("records") == [{"english": "Go.", "french": "Va !"}]


def test_reads_csv_and_dataframes_and_refuses_bad_files(tmp_path):
    csv = tmp_path / "p.csv"
    pd.DataFrame({"en": ["Hi.", "Bye."], "fr": ["Salut.", "Au revoir."]}).to_csv(csv, index=False)
    assert read_pairs(csv)["french"].tolist() == ["Salut.", "Au revoir."]
    df = pd.DataFrame({"french": ["Oui."], "english": ["Yes."], "x": [1]})
    assert read_pairs(df).to_dict("records") == [{"english": "Yes.", "french": "Oui."}]
    with pytest.raises(UserInputError, match="does not exist"):
        read_pairs(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("a\tb\nno tab here\n")
    with pytest.raises(UserInputError, match="line 2 has no tab"):
        read_pairs(bad)


def test_split_keeps_every_translation_of_a_sentence_on_one_side():
    rows = [(f"s{i}", f"t{i}-{k}") for i in range(200) for k in range(1 + i % 3)]
    pairs = pd.DataFrame(rows, columns=["english", "french"])
    s = split_pairs(pairs, seed=3)
    sides = [set(p["source"]) for p in (s.train, s.validation, s.test)]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    assert sum(len(p) for p in (s.train, s.validation, s.test)) == len(pairs)
    assert 170 <= len(sides[0]) <= 190 and len(sides[2]) >= 5
    again = split_pairs(pairs, seed=3)
    assert again.test.equals(s.test)
    with pytest.raises(UserInputError, match="sum to 1"):
        split_pairs(pairs, fractions=(0.5, 0.5, 0.5))


def test_mirror_file_loads():
    mirror = require_mirror_file("fra-eng/fra.txt").parents[1]
    pairs = load_fra_eng(mirror)
    assert len(pairs) > 70_000 and pairs["english"].nunique() > 40_000
