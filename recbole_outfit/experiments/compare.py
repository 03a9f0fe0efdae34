"""Model comparison on one dataset, like the paper's Table 2 and RecBole-GNN's ``results/`` pages.

    python run_recbole_outfit.py --model=Teacher,NPair,FND,FNDCL --dataset=synthetic630 [--seeds=3]

Runs every model once per seed (seeds ``seed, seed+1, ...``) through the usual pipeline, then writes
``<out_dir>/<dataset>.md`` and ``.csv`` (``--results_dir``, default ``<checkpoint_dir>/comparisons``): test ``user_auc`` and ``user_ndcg`` x 100 as
mean +- std over seeds, the best mean in bold, the dataset statistics and the settings; and
``<out_dir>/<dataset>.png``, the same means with their spread as error bars, which the markdown shows. Stages are shared:
the ``Teacher`` row is the teacher the students of that seed distil from (trained once by the teacher stage
and reused), and the ``replace`` neighbour table is built once.

Each finished (model, seed) run is kept by fingerprint (``recbole_outfit.pipeline.finished_runs``) and reused
instead of training it again, so an interrupted comparison resumes where it stopped, and a table over a subset of
the models or seeds (``--seeds=1`` for a quick table, ``--seeds=3`` later) costs only the runs it lacks. A single
run (``--model=NPair`` alone) keeps its result there as well, so a comparison reuses it. Comparisons running side
by side train a shared run once: the second waits for the first.
"""

import csv
import io
import json
import os
import time
from logging import getLogger

import numpy as np

from recbole_outfit import quick_start
from recbole_outfit.atomic import atomic_write
from recbole_outfit.compat import init_run_logger
from recbole_outfit.config import Config
from recbole_outfit.data.convert import read_manifest
from recbole_outfit.errors import ConfigError
from recbole_outfit.evaluator.metrics import metric_label
from recbole_outfit.pipeline import STAGES, train_and_test
from recbole_outfit.pipeline.finished_runs import finished_or_new_run
from recbole_outfit.pipeline.model_spec import parse_model_spec
from recbole_outfit.plots.draw import model_comparison
from recbole_outfit.report import format_table, machine_description
from recbole_outfit.settings import keys_of_class
from recbole_outfit.utils import get_model


def teacher_row(config):
    """The results of the teacher a student with ``config`` distils from: the teacher stage's own run (trained
    once and reused by every student of that seed), not a second Teacher trained for the table."""
    path = STAGES["teacher"].build(config, train_and_test)
    with open(path[:-4] + ".json", "r", encoding="utf-8") as f:
        return json.load(f)


def run_model(spec, dataset, seed, config_file_list, config_dict, command_line=None):
    """The result of ``spec`` on ``dataset`` with ``seed``: a finished run's when there is one, else a new run.
    ``command_line``: the ``--key=value`` overrides above every row's settings (``seed`` excluded)."""
    model, own = parse_model_spec(spec)
    settings = {**(config_dict or {}), **own, "seed": seed}
    if model == "Teacher" and not own:  # the stage teacher: already kept and reused by the teacher stage
        config = Config(model="FNDCL", dataset=dataset, config_file_list=config_file_list, config_dict=settings,
                        command_line=command_line)
        return teacher_row(config)
    config = Config(model, dataset, config_file_list=config_file_list, config_dict=settings, command_line=command_line)
    if config["seed"] != seed:  # a seed in command_line outranks config_dict (RecBole's order)
        raise ConfigError(f"the comparison's seed {seed} is overridden by seed={config['seed']} on the command line",
                          where="--seed", fix="pass the first seed in config_dict, not in command_line "
                                              "(run_recbole_outfit.py does this for --seed)")
    result, _, _ = finished_or_new_run(config, lambda: quick_start.run_recbole_outfit(
        model, dataset, config_file_list=config_file_list, config_dict=settings, command_line=command_line),
        f"[compare] {spec}, seed {seed}")
    return result


SHOWN_SETTINGS = keys_of_class("shown")  # declared in properties/*.yaml
DISTILLATION_SETTINGS = keys_of_class("distillation")  # meaningful for FND / FNDCL rows only


def model_settings(models, dataset, config_file_list, config_dict, command_line=None):
    """Each row's settings from its own yaml (a Teacher row is the teacher stage's, from ``Teacher.yaml``):
    ``{key: {"all": value, "absent": [specs without the key]}}`` for a value the rows share, else
    ``{key: {model spec: value}}``."""
    values = {}
    for spec in models:
        name, own = parse_model_spec(spec)
        config = Config(name, dataset, config_file_list=config_file_list, config_dict={**(config_dict or {}), **own},
                        command_line=command_line)
        distils = "teacher" in getattr(get_model(name), "needs", ())
        values[spec] = {k: config[k] for k in SHOWN_SETTINGS
                        if k in config and (distils or k not in DISTILLATION_SETTINGS)}
    settings = {}
    for key in SHOWN_SETTINGS:
        per_model = {spec: row[key] for spec, row in values.items() if key in row}
        if not per_model:
            continue
        if len({str(v) for v in per_model.values()}) == 1:  # one value, maybe not every row has the key
            settings[key] = {"all": next(iter(per_model.values())),
                             "absent": [spec for spec in models if spec not in per_model]}
        else:
            settings[key] = per_model
    return settings


def _mean_std(values):
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std())


def summarize(results, metrics):
    """{model: [result, ...]} -> {model: {metric: (mean, std) x 100, ..., "runs": n}}: test metrics, test_hard
    metrics (``hard_<metric>``) and cold-start AUC (``cold``: {strategy: {K: (mean, std)}}) when present."""
    summary = {}
    for model, runs in results.items():
        row = {"runs": len(runs)}
        for metric in metrics:
            row[metric] = _mean_std([r["test_result"][metric] * 100 for r in runs])
            if all("test_hard_result" in r for r in runs):
                row[f"hard_{metric}"] = _mean_std([r["test_hard_result"][metric] * 100 for r in runs])
        if all("cold_start" in r for r in runs):
            strategies = runs[0]["cold_start"]["user_auc"]
            row["cold"] = {s: {k: _mean_std([r["cold_start"]["user_auc"][s][k]["mean"] * 100 for r in runs])
                               for k in strategies[s]} for s in strategies}
            row["cold_dataset"] = runs[0]["cold_start"]["dataset"]
        epochs = [r.get("timing", {}).get("seconds_per_epoch") for r in runs]
        epochs = [e for e in epochs if e]
        row["seconds_per_epoch"] = float(np.mean(epochs)) if epochs else None
        summary[model] = row
    return summary


def _cell(value, runs, best):
    mean, std = value
    text = f"{mean:.2f} ± {std:.2f}" if runs > 1 else f"{mean:.2f}"
    return f"**{text}**" if np.isclose(mean, best) else text


def _metric_table(summary, columns):
    """columns: [(key in the summary rows, header)]; best mean of each column in bold."""
    best = {key: max(row[key][0] for row in summary.values() if key in row) for key, _ in columns}
    rows = []
    for model, row in summary.items():
        cells = [model] + [_cell(row[key], row["runs"], best[key]) if key in row else "-" for key, _ in columns]
        cells += [row["runs"], f"{row['seconds_per_epoch']:.1f}" if row["seconds_per_epoch"] else ""]
        rows.append(cells)
    return format_table(["model"] + [h for _, h in columns] + ["seeds", "s / epoch"], rows)


def _cold_table(summary):
    rows, cold_dataset = [], None
    for model, row in summary.items():
        for strategy, by_k in row.get("cold", {}).items():
            label = {"avg": model, "wavg": f"{model} (w)", "mean": f"{model}, non-personalized",
                     "own": f"{model} (non-personalized model, own scores)",
                     "anchor": f"{model} (anchor search)"}.get(strategy, strategy)
            rows.append([label] + [f"{m:.2f} ± {s:.2f}" if row["runs"] > 1 else f"{m:.2f}"
                                   for m, s in (by_k[k] for k in sorted(by_k, key=int))])
            cold_dataset = row["cold_dataset"]
            shots = sorted(by_k, key=int)
    if not rows:
        return ""
    table = format_table(["method"] + [f"{k} outfit{'s' if int(k) > 1 else ''}" for k in shots], rows)
    return (f"\n\n## Cold start on {cold_dataset}\n\nTest `user_auc` x 100 of {cold_dataset}'s users (new to the "
            f"model) scored through the warm users with K known outfits each (paper Table 3): `(w)` = weighted "
            f"average (Eq. 23-24), plain = average of neighbours (Eq. 22), non-personalized = mean over every "
            f"warm user, anchor search = LPAE's own (the cold user's anchors searched among the warm users'); "
            f"a non-personalized model (own scores) scores cold users as it is, so K plays no part. "
            f"Mean ± std over seeds of the mean over draws.\n\n{table}")


def _setting_text(by_model):
    """One line of the Settings list (see :func:`model_settings` for ``by_model``)."""
    if "all" not in by_model:
        return ", ".join(f"{spec} `{v}`" for spec, v in by_model.items())
    absent = by_model.get("absent")
    return f"`{by_model['all']}`" + (f" (not used by {', '.join(absent)})" if absent else "")


def _picture(summary, dataset, columns, out_dir):
    """``<out_dir>/<dataset>.png``: a panel per table column and per cold-start K (weighted average); the
    markdown line showing it, or "" without matplotlib (the tables do not need it; logged)."""
    panels = [(header, {model: row[key] for model, row in summary.items() if key in row}) for key, header in columns]
    shots = sorted({k for row in summary.values() for k in row.get("cold", {}).get("wavg", {})}, key=int)
    for k in shots:
        cold = {model: row["cold"]["wavg"][k] for model, row in summary.items()
                if k in row.get("cold", {}).get("wavg", {})}
        panels.append((f"cold start (w), {k} outfit{'s' if int(k) > 1 else ''}", cold))
    seeds = max(row["runs"] for row in summary.values())
    try:
        model_comparison(panels, os.path.join(out_dir, f"{dataset}.png"),
                         title=f"{dataset}: mean ± std over {seeds} seed{'s' if seeds > 1 else ''}")
    except Exception as error:  # noqa: BLE001 - matplotlib (the optional plot extra) missing or failing: the
        getLogger().warning(f"no comparison picture: {type(error).__name__}: {error}")  # tables are still written
        return ""
    return f"\n\n![{dataset}: each model's mean ± std over seeds]({dataset}.png)"


def write_tables(summary, dataset, command, settings, manifest, out_dir="results", metrics=("user_auc", "user_ndcg")):
    """Write ``<out_dir>/<dataset>.md``, ``.csv`` and ``.png`` (:func:`_picture`) atomically; return the markdown.
    ``metrics``: the columns (the run's ``metrics`` setting), each headed by its metric's label."""
    columns = [(m, metric_label(m)) for m in metrics]
    named = " and ".join(f"`{m}` ({label})" for m, label in columns)
    if any(f"hard_{metrics[0]}" in row for row in summary.values()):
        columns += [(f"hard_{m}", f"{metric_label(m)} (hard)") for m in metrics]
    os.makedirs(out_dir, exist_ok=True)
    table = _metric_table(summary, columns) + _picture(summary, dataset, columns, out_dir) + _cold_table(summary)
    counts = (manifest or {}).get("counts", {})
    stats = format_table(["users", "outfits", "garments", "train", "valid (student)", "test"], [[
        counts.get("users", ""), counts.get("outfits", ""), counts.get("garments", ""),
        counts.get("rows", {}).get("train", ""), counts.get("rows", {}).get("valid_student", ""),
        counts.get("rows", {}).get("test", "")]])
    shown = "\n".join(f"- `{k}`: {_setting_text(by_model)}" for k, by_model in settings.items())
    markdown = (
        f"# {dataset}\n\nTest {named} x 100, mean ± std over seeds; best in bold; `(hard)`: the test set whose "
        f"negatives are other users' positives. Produced by"
        f"\n\n```bash\n{command}\n```\n\non {machine_description()}, "
        f"{time.strftime('%Y-%m-%d')}.\n\n{table}\n\n## Dataset\n\n{stats}\n\n"
        f"(rows: labeled evaluation rows, 1 positive : 10 negatives)\n\n## Settings\n\n{shown}\n"
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    keys = [key for key, _ in columns]
    writer.writerow(["model"] + [f"{k}_{part}" for k in keys for part in ("mean", "std")]
                    + ["seeds", "seconds_per_epoch"])
    for model, row in summary.items():
        writer.writerow([model, *(f"{v:.4f}" if key in row else "" for key in keys for v in row.get(key, (0, 0))),
                         row["runs"], row["seconds_per_epoch"] or ""])
    for suffix, text in (("md", markdown), ("csv", buffer.getvalue())):
        with atomic_write(os.path.join(out_dir, f"{dataset}.{suffix}")) as f:
            f.write(text)
    return markdown


def existing_table_size(out_dir, dataset):
    """(rows, seeds) of the comparison table ``<out_dir>/<dataset>.csv``; None when there is no table.

    Raises ConfigError when a table is there (``.md`` or ``.csv``) but its ``.csv`` cannot be read: its size
    is then unknown, and it is not replaced without being asked."""
    csv_path = os.path.join(out_dir, f"{dataset}.csv")
    if not os.path.exists(csv_path):
        if os.path.exists(os.path.join(out_dir, f"{dataset}.md")):
            raise ConfigError(f"{out_dir}/{dataset}.md exists without its .csv, so its size is unknown",
                              where="--results_dir", fix="give another --results_dir, or --overwrite=True to replace it")
        return None
    try:
        with open(csv_path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return len(rows), max((int(row["seeds"]) for row in rows), default=0)
    except (OSError, KeyError, ValueError, csv.Error) as error:
        raise ConfigError(f"{csv_path} is not a comparison table this version can read ({error})",
                          where="--results_dir", fix="give another --results_dir, or --overwrite=True to replace it") from None


def refuse_smaller_table(out_dir, dataset, rows, seeds, overwrite=False):
    """Stop (ConfigError, before anything trains) when ``<out_dir>/<dataset>`` holds a table with more rows or more
    seeds than the ``rows`` x ``seeds`` table about to be written, unless ``overwrite``."""
    if overwrite:
        return
    size = existing_table_size(out_dir, dataset)
    if size and (size[0] > rows or size[1] > seeds):
        raise ConfigError(
            f"{out_dir}/{dataset}.md holds a table of {size[0]} models x {size[1]} seeds; this comparison would replace "
            f"it with {rows} x {seeds}", where="--results_dir",
            fix="give another --results_dir (the default, <checkpoint_dir>/comparisons, holds no file of the "
                "repository), or --overwrite=True to replace it")


def compare(models, dataset, seeds=1, config_file_list=None, config_dict=None, out_dir=None, command=None,
            overwrite=False, command_line=None):
    """Run ``models`` on ``dataset`` for ``seeds`` seeds and write the comparison tables to ``out_dir`` (default
    ``<checkpoint_dir>/comparisons``). A table there with more rows or seeds is kept unless ``overwrite``.
    ``command_line``: the ``--key=value`` overrides of every run (without ``seed``: the first seed goes in
    ``config_dict``)."""
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise ConfigError(f"seeds must be a whole number >= 1, got {seeds!r}", where="--seeds",
                          fix="Give how many seeds each model runs, e.g. --seeds=3")
    for spec in models:
        get_model(parse_model_spec(spec)[0])  # unknown names fail before anything runs
    base = Config(model=parse_model_spec(models[0])[0], dataset=dataset, config_file_list=config_file_list,
                  config_dict=config_dict, command_line=command_line)
    out_dir = out_dir or os.path.join(base["checkpoint_dir"], "comparisons")
    refuse_smaller_table(out_dir, dataset, len(models), seeds, overwrite)
    init_run_logger(base)
    seed_list = [base["seed"] + i for i in range(seeds)]
    settings = model_settings(models, dataset, config_file_list, config_dict, command_line)  # every row's settings checked first
    results = {model: [] for model in models}
    for seed in seed_list:
        for model in models:
            getLogger().info(f"[compare] {model} on {dataset}, seed {seed}")
            results[model].append(run_model(model, dataset, seed, config_file_list, config_dict, command_line))
    metrics = [m.lower() for m in base["metrics"]]
    summary = summarize(results, metrics)
    settings["seeds"] = {"all": seed_list}
    command = command or f"python run_recbole_outfit.py --model={','.join(models)} --dataset={dataset} --seeds={seeds}"
    markdown = write_tables(summary, dataset, command, settings,
                            read_manifest(base["data_path"], dataset), out_dir, metrics)
    getLogger().info(f"Comparison written to {out_dir}/{dataset}.md, .csv and .png\n{markdown}")
    return summary
