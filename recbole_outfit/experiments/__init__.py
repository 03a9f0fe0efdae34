"""User commands that run many runs: the model comparison (``compare``, through ``run_recbole_outfit.py`` with
several models or seeds) and the hyper-parameter search (``hyper``, ``run_hyper_outfit.py``)."""
