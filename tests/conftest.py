import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# README says `export RNN_APPS_DATA_DIR=...`; a relative path names a folder relative to where
# pytest started (the repository root). Tests run README blocks and notebooks in other folders,
# so make it absolute once, here.
if os.environ.get("RNN_APPS_DATA_DIR", "").strip():
    os.environ["RNN_APPS_DATA_DIR"] = os.path.abspath(
        os.path.expanduser(os.environ["RNN_APPS_DATA_DIR"].strip())
    )

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    yield
