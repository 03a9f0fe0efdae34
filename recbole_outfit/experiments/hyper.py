"""Hyper-parameter search the RecBole way: RecBole's ``HyperTuning`` (hyperopt) over a ``.hyper`` file.

    python run_hyper_outfit.py --model=FND --dataset=synthetic630 --params_file=alpha.hyper
    python run_hyper_outfit.py --model=FNDCL --dataset=synthetic519 --algo=bayes --max_evals=20

A ``.hyper`` file has RecBole's format, one searched key a line; a line starting with ``#`` is a comment::

    # choice: the listed values; loguniform: exp(uniform(-7, -4)), 0.0009 ... 0.018; quniform: 16, 32, 48, 64
    fnd_alpha choice [1.25, 2.5, 3.75]
    learning_rate loguniform -7, -4
    cl_weight uniform 0.05, 0.5
    train_batch_size quniform 16, 64, 16

``--algo``: ``exhaustive`` (every combination of ``choice`` keys; RecBole's default), ``random`` or ``bayes``
(hyperopt's TPE), ``--max_evals`` trials at most. Shipped files: ``properties/hyper/<Model>.hyper`` (the default
for ``--model``) and ``alpha.hyper``; a bare file name is looked up there.

Each trial is a normal plugin run (``run_recbole_outfit``) with the trial's values on top of the fixed
settings, so its stages are cached and reused across trials: a student's teacher is trained once for the
whole search (the teacher stage's fingerprint ignores the student's own keys). The objective is the
validation metric (``valid_metric`` on the model's validation split, as RecBole's ``objective_function``
returns it); the test split is never used to choose, and the best trial's test result is reported at the end.

Each finished trial is kept where a comparison keeps a finished run
(:func:`recbole_outfit.pipeline.finished_runs.finished_run_path`: a fingerprint of its settings, the dataset's
conversion and the evaluation keys), so an interrupted search resumes where it stopped and a rerun reuses
every trial; the search draws its points from a generator seeded by ``seed``, so ``random`` and ``bayes``
propose the same points again when rerun. Output: RecBole's lines per trial, a table of the trials in the log,
and ``<results_dir>/hyper-<model>-<dataset>.md`` / ``.csv`` (one row per trial, sorted by the validation
metric, the best in bold, the command on top).
"""

import csv
import difflib
import io
import itertools
import os
import time
from logging import getLogger

import numpy as np
from hyperopt import fmin
from hyperopt.base import miscs_update_idxs_vals
from recbole.trainer.hyper_tuning import HyperTuning, _parameters

from recbole_outfit.atomic import atomic_write
from recbole_outfit.compat import init_run_logger
from recbole_outfit.config import Config
from recbole_outfit.errors import ConfigError, location
from recbole_outfit.experiments.compare import DISTILLATION_SETTINGS, SHOWN_SETTINGS
from recbole_outfit.experiments.search_space import hyper_dir, read_params_file, resolve_params_file, searched_line  # noqa: F401 (hyper_dir re-exported)
from recbole_outfit.model.fndcl import FNDCL
from recbole_outfit.pipeline.finished_runs import finished_or_new_run
from recbole_outfit.quick_start import run_recbole_outfit
from recbole_outfit.report import format_table, machine_description
from recbole_outfit.validation import SEARCH_ALGORITHMS as ALGORITHMS
from recbole_outfit.validation import check_search_flags

def _plain(value, base):
    """A value hyperopt proposed as a plain Python value of the key's type (``quniform`` gives 64.0 for an
    int key; numpy scalars become Python numbers)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(base, int) and not isinstance(base, bool) and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def check_space(model, dataset, space, algo, config_file_list, config_dict, params_file, command_line=None):
    """Refuse, before anything trains, a search that cannot run as asked: an unknown key, a value its key
    does not accept (named by the file and line), a key the command line would override in every trial, or an
    exhaustive search over a continuous range. Returns the base (untried) Config."""
    base = Config(model, dataset, config_file_list=config_file_list, config_dict=config_dict,
                  command_line=command_line)
    known = set(base.final_config_dict)
    fixed = set(command_line or ())
    for kind, keys in space.items():
        if algo == "exhaustive" and kind != "choice":
            raise ConfigError(f"an exhaustive search lists every combination, but {', '.join(keys)} is {kind}",
                              where=params_file, fix="use --algo=random or --algo=bayes, or 'choice' lists")
        for key, values in keys.items():
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                raise ConfigError(f"unknown configuration key {key!r}", where=params_file,
                                  fix=(f"did you mean {close[0]!r}? " if close else "")
                                  + "search keys the model's yaml files document (properties/)")
            if key in fixed:
                raise ConfigError(f"{key} is searched but also set by --{key} on the command line, which would "
                                  f"override every trial's value", where=params_file,
                                  fix=f"drop --{key} or the {key} line")
            tried = values if kind == "choice" else values[:2]
            if kind == "loguniform":
                tried = [float(np.exp(v)) for v in tried]
            where = location(params_file, searched_line(params_file, key))
            for value in tried:  # RecBole's Config with the plugin's type checks refuses a wrong value
                Config(model, dataset, config_file_list=config_file_list,
                       config_dict={**(config_dict or {}), key: _plain(value, base[key])},
                       config_dict_source=f"{where}, a searched value", command_line=command_line)
    return base


def grid_search(sizes):
    """A hyperopt algorithm that proposes every combination of ``choice`` indices once, in the order of
    ``sizes`` (``{key: number of choices}``, the file's order, the last key varying fastest), then stops.

    RecBole 1.2.1's ``exhaustive_search`` draws random combinations until it finds an untried one, from a
    ``numpy.random.RandomState``; hyperopt 0.2.7 and later sample through ``numpy.random.Generator``
    (``rng.integers``) and that search fails on its first proposal. The grid needs no random numbers at all.
    """
    keys = list(sizes)

    def suggest(new_ids, domain, trials, seed):
        tried = {tuple(t["misc"]["vals"][k][0] for k in keys) for t in trials.trials}
        untried = (p for p in itertools.product(*(range(sizes[k]) for k in keys)) if p not in tried)
        docs = []
        for new_id, point in zip(new_ids, untried):
            misc = {"tid": new_id, "cmd": domain.cmd, "workdir": domain.workdir}
            miscs_update_idxs_vals([misc], {k: [new_id] for k in keys}, {k: [int(i)] for k, i in zip(keys, point)})
            docs.extend(trials.new_trial_docs([new_id], [None], [domain.new_result()], [misc]))
        return docs  # empty once every combination was proposed: fmin stops

    return suggest


class OutfitHyperTuning(HyperTuning):
    """RecBole's ``HyperTuning`` (its space, ``random`` / ``bayes`` algorithms, early stopping and bookkeeping
    of trials) with reproducible proposals: an exhaustive search walks the grid in order (:func:`grid_search`),
    and hyperopt draws from a generator seeded by ``seed`` (RecBole lets fmin seed itself at random), so a
    rerun proposes the same trials and every finished one is reused."""

    def __init__(self, objective_function, seed, show_progress=True, **kwargs):
        super().__init__(objective_function, **kwargs)
        self.seed, self.show_progress = seed, show_progress
        if kwargs.get("algo") == "exhaustive":
            self.sizes = {key: len(indices) for key, indices in _parameters(self.space).items()}
            self.algo = grid_search(self.sizes)

    def run(self):
        fmin(self.trial, self.space, algo=self.algo, max_evals=self.max_evals, early_stop_fn=self.early_stop_fn,
             rstate=np.random.default_rng(self.seed), show_progressbar=self.show_progress)


class TrialRunner:
    """RecBole's ``objective_function`` for the plugin: one trial is a plugin run, kept under its fingerprint
    and reused when it is already there. Records every trial for the tables."""

    def __init__(self, model, dataset, config_dict, base, command_line=None):
        self.model, self.dataset, self.config_dict, self.base = model, dataset, dict(config_dict or {}), base
        self.command_line = command_line
        self.trials = {}  # params string -> trial record (a repeated proposal is one trial)

    def __call__(self, params, config_file_list):
        params = {key: _plain(value, self.base[key]) for key, value in params.items()}
        settings = {**self.config_dict, **params}
        config = Config(self.model, self.dataset, config_file_list=config_file_list, config_dict=settings,
                        command_line=self.command_line)
        trial = f"[hyper] trial {len(self.trials) + 1} ({HyperTuning.params2str(params)})"
        result, reused, path = finished_or_new_run(config, lambda: run_recbole_outfit(
            self.model, self.dataset, config_file_list=config_file_list, config_dict=settings,
            command_line=self.command_line), trial)
        key = HyperTuning.params2str(params)
        self.trials.setdefault(key, {"params": params, "result": result, "reused": reused, "path": path})
        return {"model": self.model, "best_valid_score": result["best_valid_score"],
                "valid_score_bigger": config["valid_metric_bigger"],
                "best_valid_result": result["best_valid_result"], "test_result": result["test_result"]}


def sort_trials(trials, bigger=True):
    """Trials best first by their validation score (the search's objective; never the test result)."""
    return sorted(trials, key=lambda t: t["result"]["best_valid_score"], reverse=bigger)


def _value_text(value):
    """A searched value as written in a .hyper file (1.0, 0.0025); a long float drawn from a range to 6 digits."""
    if isinstance(value, float) and len(repr(value)) > 10:
        return f"{value:.6g}"
    return repr(value) if isinstance(value, float) else str(value)


def trial_rows(trials, keys, metrics):
    """Header and rows of the trial table (best first; the first row in bold)."""
    headers = list(keys) + [f"valid {m}" for m in metrics] + [f"test {m}" for m in metrics] + ["epochs",
                                                                                             "s / epoch", "run"]
    rows = []
    for rank, trial in enumerate(trials):
        result, timing = trial["result"], trial["result"].get("timing", {})
        cells = [_value_text(trial["params"][k]) for k in keys]
        cells += [f"{result['best_valid_result'].get(m, float('nan')):.4f}" for m in metrics]
        cells += [f"{result['test_result'].get(m, float('nan')):.4f}" for m in metrics]
        cells += [str(timing.get("epochs", "")), f"{timing['seconds_per_epoch']:.1f}" if timing.get(
            "seconds_per_epoch") else "", "reused" if trial["reused"] else "trained"]
        if rank == 0:
            cells = [f"**{c}**" if c and i < len(cells) - 1 else c for i, c in enumerate(cells)]
        rows.append(cells)
    return headers, rows


def write_hyper_tables(trials, model, dataset, space_text, params_file, algo, command, valid_metric, valid_split,
                       out_dir="results", distils=True):
    """Write ``<out_dir>/hyper-<model>-<dataset>.md`` and ``.csv`` atomically; return (markdown, paths).
    ``distils``: list the distillation settings (``fnd_alpha`` ...) among the fixed ones (FND / FNDCL)."""
    keys = list(trials[0]["params"])
    metrics = list(trials[0]["result"]["best_valid_result"])
    headers, rows = trial_rows(trials, keys, metrics)
    best = trials[0]
    hidden = set(keys) | (set() if distils else set(DISTILLATION_SETTINGS))
    names = ("seed", "valid_split", "valid_metric", *SHOWN_SETTINGS) + (("teacher_config",) if distils else ())
    shown = {k: best["result"]["config"].get(k) for k in names if k in best["result"]["config"] and k not in hidden}
    settings = "\n".join(f"- `{k}`: `{v}`" for k, v in shown.items())
    best_text = ", ".join(f"`{k}: {_value_text(v)}`" for k, v in best["params"].items())
    test_text = ", ".join(f"{m} {v:.4f}" for m, v in best["result"]["test_result"].items())
    markdown = (
        f"# {model} on {dataset}: hyper-parameter search\n\nProduced by\n\n```bash\n{command}\n```\n\non "
        f"{machine_description()}, {time.strftime('%Y-%m-%d')}: RecBole's `HyperTuning` ({algo} search, hyperopt) over "
        f"`{params_file}`, {len(trials)} trials, each chosen by its validation `{valid_metric}` ({valid_split}); "
        f"the test split is only reported, never used to choose. Best first, in bold; `reused`: a trial finished "
        f"by an earlier search or comparison with the same settings.\n\n{format_table(headers, rows)}\n\n"
        f"**Best setting**: {best_text} (valid {valid_metric} "
        f"{best['result']['best_valid_score']:.4f}); its test result: {test_text}.\n\n"
        f"## Search space\n\n```\n{space_text.strip()}\n```\n\n## Fixed settings\n\n{settings}\n"
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(keys + [f"valid_{m}" for m in metrics] + [f"test_{m}" for m in metrics]
                    + ["epochs", "seconds_per_epoch", "best", "reused", "run_file"])
    for rank, trial in enumerate(trials):
        result, timing = trial["result"], trial["result"].get("timing", {})
        writer.writerow([trial["params"][k] for k in keys]
                        + [result["best_valid_result"].get(m, "") for m in metrics]
                        + [result["test_result"].get(m, "") for m in metrics]
                        + [timing.get("epochs", ""), timing.get("seconds_per_epoch", ""), int(rank == 0),
                           int(trial["reused"]), trial["path"]])
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for suffix, text in (("md", markdown), ("csv", buffer.getvalue())):
        path = os.path.join(out_dir, f"hyper-{model}-{dataset}.{suffix}")
        with atomic_write(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        paths.append(path)
    return markdown, paths


def hyper_search(model, dataset, params_file=None, algo="exhaustive", max_evals=100, early_stop=10,
                 config_file_list=None, config_dict=None, out_dir=None, command=None, command_line=None):
    """Search ``model``'s settings on ``dataset`` over ``params_file`` by the validation metric.

    Args:
        model (str): a recbole-outfit model (or a RecBole one).
        dataset (str): a dataset name, as for ``run_recbole_outfit``.
        params_file (str): a ``.hyper`` file (a path, or a name in ``properties/hyper``); ``None`` = the model's.
        algo (str): ``exhaustive`` | ``random`` | ``bayes``.
        max_evals (int): trials at most (an exhaustive search tries every combination).
        early_stop (int): stop after this many trials without a better validation score (RecBole's).
        config_file_list, config_dict: the fixed settings every trial starts from.
        out_dir (str): where ``hyper-<model>-<dataset>.md`` / ``.csv`` go (default ``<checkpoint_dir>/comparisons``,
            a folder of no tracked file).
        command (str): the command shown on top of the table.
        command_line (dict): ``--key=value`` overrides fixed for every trial (above ``config_dict``).

    Returns:
        dict: ``best_params``, ``best_valid_score``, ``best_valid_result``, ``test_result`` (the best trial's),
        ``trials`` (best first: ``params``, ``result``, ``reused``, ``path``), ``markdown``, ``files``.
    """
    check_search_flags(algo, max_evals, early_stop)
    path = resolve_params_file(params_file, model if isinstance(model, str) else model.__name__)
    space = read_params_file(path)
    base = check_space(model, dataset, space, algo, config_file_list, config_dict, path, command_line)
    out_dir = out_dir or os.path.join(base["checkpoint_dir"], "comparisons")
    init_run_logger(base)
    logger = getLogger()
    runner = TrialRunner(base["model"], dataset, config_dict, base, command_line)
    tuner = OutfitHyperTuning(runner, seed=base["seed"], show_progress=base["show_progress"], params_dict=space,
                              fixed_config_file_list=config_file_list, algo=algo, max_evals=max_evals,
                              early_stop=early_stop)
    if algo == "exhaustive":
        grid = " x ".join(f"{k} {n}" for k, n in tuner.sizes.items())
        logger.info(f"[hyper] exhaustive search over {path}: {tuner.max_evals} combination(s) ({grid})")
    else:
        logger.info(f"[hyper] {algo} search over {path}: at most {max_evals} trials")
    tuner.run()

    init_run_logger(base)  # the summary in a log file of its own (each trial had its own)
    bigger = base["valid_metric_bigger"]
    trials = sort_trials(runner.trials.values(), bigger)
    best = tuner.params2result[tuner.params2str(tuner.best_params)]
    with open(path, "r", encoding="utf-8") as f:
        space_text = f.read()
    shown_file = os.path.relpath(path) if not os.path.relpath(path).startswith("..") else path
    command = command or (f"python run_hyper_outfit.py --model={base['model']} --dataset={dataset} "
                          f"--params_file={params_file or os.path.basename(path)} --algo={algo}")
    markdown, files = write_hyper_tables(trials, base["model"], dataset, space_text, shown_file, algo, command,
                                         base["valid_metric"], base["valid_split"], out_dir,
                                         distils=issubclass(base.model_class, FNDCL))
    headers, rows = trial_rows(trials, list(trials[0]["params"]), list(trials[0]["result"]["best_valid_result"]))
    logger.info(f"[hyper] {len(trials)} trials ({sum(t['reused'] for t in trials)} reused), best first:\n"
                + format_table(headers, [[c.replace("**", "") for c in r] for r in rows]))
    logger.info(f"best params: {tuner.best_params}")
    logger.info(f"best valid result: {best['best_valid_result']}")
    logger.info(f"test result: {best['test_result']}")
    logger.info(f"[hyper] written to {files[0]} and {files[1]}")
    return {"best_params": dict(trials[0]["params"]), "best_valid_score": best["best_valid_score"],
            "best_valid_result": best["best_valid_result"], "test_result": best["test_result"],
            "trials": trials, "markdown": markdown, "files": files}
