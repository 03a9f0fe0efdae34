"""One id per run, shared by the files of the run: ``<time>-<random>``, e.g. ``Dec-01-2026_20-18-19-3fa9c1``.

The log (``log/<model>/<model>-<dataset>-<id>.log``), RecBole's TensorBoard folder (named after the log), the
best checkpoint (``<checkpoint_dir>/<model>-<dataset>-<id>.pth``) with its ``-history.json`` and ``-curve.png``,
and the results JSON (``<checkpoint_dir>/results/<model>-<dataset>-<id>.json``) all carry it. The random part
keeps runs apart that start in the same second (side by side on one machine).
"""

import uuid

from recbole.utils import get_local_time


def run_id(config):
    """The run id of ``config``'s run, made (and kept on the config) the first time it is asked for."""
    if getattr(config, "run_id", None):
        return config.run_id
    new = f"{get_local_time()}-{uuid.uuid4().hex[:6]}"
    try:
        config.run_id = new
    except AttributeError:  # a plain dict of settings keeps no id: each call names a new one
        pass
    return new


def run_file_name(config, suffix):
    """``<model>-<dataset>-<id><suffix>``: the name of one of the run's files."""
    return f"{config['model']}-{config['dataset']}-{run_id(config)}{suffix}"
