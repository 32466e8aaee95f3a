import io
import tarfile

import keras
import pytest

from rnn_apps.data import DATA_DIR_ENV, get_dataset_file, resolve_data_dir
from rnn_apps.errors import UserInputError

URL = "https://example.invalid/data.csv"


def test_mirror_file_is_used_without_network(tmp_path, monkeypatch):
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")

    def no_network(*args, **kwargs):
        raise AssertionError("must not download when the mirror has the file")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    assert get_dataset_file("data.csv", URL, data_dir=tmp_path) == tmp_path / "data.csv"
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    assert get_dataset_file("data.csv", URL) == tmp_path / "data.csv"


def test_missing_data_dir_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(UserInputError, match="does not exist"):
        get_dataset_file("data.csv", URL, data_dir=tmp_path / "nope")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "nope"))
    with pytest.raises(UserInputError, match=r"\$RNN_APPS_DATA_DIR"):
        resolve_data_dir()


def test_download_failure_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(RuntimeError, match=r"put the file 'data.csv'.*RNN_APPS_DATA_DIR"):
        get_dataset_file("data.csv", URL)


def test_download_goes_to_cache(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))

    def fake_get_file(fname, origin, cache_dir, cache_subdir):
        target = tmp_path / "keras" / "datasets" / fname
        target.write_text("downloaded")
        return str(target)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    path = get_dataset_file("data.csv", URL)
    assert path.read_text() == "downloaded"


def test_archive_is_extracted_once(tmp_path):
    archive = tmp_path / "thing.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"hello"
        info = tarfile.TarInfo("thing/a.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    folder = get_dataset_file("thing.tar.gz", URL, data_dir=tmp_path, extract=True)
    assert (folder / "thing" / "a.txt").read_text() == "hello"
    assert get_dataset_file("thing.tar.gz", URL, data_dir=tmp_path, extract=True) == folder
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not an archive")
    with pytest.raises(UserInputError, match="damaged"):
        get_dataset_file("bad.tar.gz", URL, data_dir=tmp_path, extract=True)


def test_relative_data_dir_is_read_from_the_current_folder(tmp_path, monkeypatch):
    # README's `export RNN_APPS_DATA_DIR=../shared/datasets` is relative to where one runs.
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "data.csv").write_text("a\n1\n")
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    monkeypatch.setenv(DATA_DIR_ENV, "../mirror")
    assert get_dataset_file("data.csv", URL).resolve() == tmp_path / "mirror" / "data.csv"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserInputError, match=r"relative to the current folder .*absolute path"):
        resolve_data_dir()
