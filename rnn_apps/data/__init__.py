"""Dataset loaders. Each downloads from the official address or reads a local mirror."""

from rnn_apps.data._mirror import DATA_DIR_ENV, get_dataset_file, resolve_data_dir

__all__ = ["DATA_DIR_ENV", "get_dataset_file", "resolve_data_dir"]
