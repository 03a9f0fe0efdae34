"""FND's premise on our data: test AUC of N-pair and FND students against the false-negative rate.

    python -m recbole_outfit.benchmarks.fnd_premise [--runs saved/fnd_premise] [--out results/fnd-premise]

Reads every finished run (a results JSON, as ``run_recbole_outfit`` writes with ``--results_json``) under
``--runs``, takes each run's false-negative level from its dataset's manifest (the generator's measured
false-negative rate of the random test and training negatives, ``synthetic`` notes), and writes

* ``<out>.csv``: one row per (level, model, seed) with ``false_negative_rate`` (measured, test negatives),
  ``false_negative_rate_train``, the oracle's test AUC, the run's settings and its test ``user_auc`` /
  ``user_ndcg``;
* ``<out>.md``: per level, mean ± std over seeds (x 100), the command, and ``--notes`` (a markdown file on
  how the runs were made) when given;
* ``<out>.png``: test AUC against the false-negative rate, one line per model with error bars (std over
  seeds), and the oracle's AUC (the ceiling) for reference (needs matplotlib: ``pip install -e ".[plot]"``).

A row's model label names what distinguishes it: ``FND (oracle)`` / ``FND (trained)`` for
``teacher: oracle`` / a trained teacher, with ``fnd_scale`` and alpha. A trained teacher's own test AUC (from
the results the teacher stage keeps beside its checkpoint) is the student row's ``teacher_user_auc`` and a
``Teacher (trained)`` row of its own, so each table shows the teacher-vs-student gap. Runs are grouped by their training
budget too (``10 epochs``, or ``<= 30 epochs, early stopping after 5`` when ``stopping_step`` can end a run
sooner): each budget gets its own table and plot panel, so runs trained for different lengths never share a
mean.
"""

import argparse
import csv
import glob
import io
import json
import os
import sys
from collections import defaultdict

import numpy as np

from recbole_outfit.atomic import atomic_write
from recbole_outfit.data.convert import read_manifest
from recbole_outfit.errors import ConfigError, exits_2_on_user_error
from recbole_outfit.plots.draw import figure_grid, save
from recbole_outfit.report import command_text, format_table

COLUMNS = ("dataset", "style_breadth", "false_negative_rate", "false_negative_rate_train", "oracle_test_auc",
           "model", "budget", "seed", "epochs", "teacher", "fnd_scale", "fnd_alpha", "teacher_epochs", "teacher_user_auc",
           "user_auc", "user_ndcg", "valid_user_auc", "device", "results_json")


def model_label(config):
    """``NPair``, ``FND (oracle)``, ``FND (trained)``, with ``fnd_scale`` / alpha where FND distils."""
    model = config["model"]
    if not config.get("distill") or model in ("NPair", "Teacher"):
        return model
    teacher = "oracle" if config.get("teacher") == "oracle" else "trained"
    scale = config.get("fnd_scale") or "paper"
    return f"{model} ({teacher}, {scale}, alpha {config['fnd_alpha']:g})"


def budget_label(config):
    """``10 epochs``, or ``<= 30 epochs, early stopping after 5`` when RecBole's early stopping can end the run
    before ``epochs`` (``stopping_step`` validations without a better ``valid_metric``)."""
    epochs, stop = int(config["epochs"]), config.get("stopping_step")
    if stop is None or int(stop) >= epochs:
        return f"{epochs} epochs"
    return f"<= {epochs} epochs, early stopping after {int(stop)}"


def _teacher_result(config):
    """The results JSON the teacher stage kept beside the checkpoint a student with ``config`` distilled from
    (its own test AUC, settings and epochs), with its path; (None, None) when there is none (an oracle)."""
    checkpoint = config.get("teacher_checkpoint")
    path = checkpoint[:-4] + ".json" if checkpoint and checkpoint.endswith(".pth") else None
    if config.get("teacher") == "oracle" or not path or not os.path.isfile(path):
        return None, None
    with open(path, "r", encoding="utf-8") as f:
        return json.load(f), path


def _epochs_trained(result):
    """The epochs a run trained (early stopping may end it before its ``epochs``)."""
    return result.get("timing", {}).get("epochs", result["config"]["epochs"])


def _device(result):
    """Where a run trained: ``cpu`` or ``cuda`` (RecBole's device setting, kept in the results JSON)."""
    return str(result["config"].get("device") or "")


def _teacher_row(student_row, teacher, path):
    """The row of the trained teacher a student distilled from, under the student's level and budget (so
    the teacher-vs-student gap reads off one table)."""
    return {**student_row, "model": "Teacher (trained)", "seed": teacher["config"]["seed"],
            "epochs": _epochs_trained(teacher), "teacher": "", "fnd_scale": "",
            "fnd_alpha": "", "teacher_epochs": "", "teacher_user_auc": "",
            "user_auc": teacher["test_result"]["user_auc"], "user_ndcg": teacher["test_result"]["user_ndcg"],
            "valid_user_auc": (teacher.get("best_valid_result") or {}).get("user_auc"),
            "device": _device(teacher), "results_json": os.path.relpath(path)}


def _teacher_epochs(config, teacher):
    """Epochs the trained teacher of a distilling run trained: from its own results when kept, else the
    ``teacher_config`` setting; empty for the oracle."""
    if teacher:
        return _epochs_trained(teacher)
    if config.get("teacher") == "oracle":
        return ""
    return (config.get("teacher_config") or {}).get("epochs", "")


def read_runs(folder):
    """Rows (dicts with :data:`COLUMNS`) of every results JSON under ``folder``, sorted by level and model; a
    student that distilled from a trained teacher brings the teacher's own row (once per level and budget). A
    run is counted once, by its best checkpoint, however many copies of its JSON the folder holds."""
    rows, teachers, seen = [], set(), set()
    for path in sorted(glob.glob(os.path.join(folder, "**", "*.json"), recursive=True)):
        with open(path, "r", encoding="utf-8") as f:
            result = json.load(f)
        if "test_result" not in result or "config" not in result:
            continue
        if result.get("checkpoint") in seen:  # the same run kept twice (its results JSON, the comparison cache)
            continue
        seen.add(result.get("checkpoint") or path)
        config = result["config"]
        notes = (read_manifest(config["data_path"], config["dataset"]) or {}).get("synthetic") or {}
        distils = bool(config.get("distill")) and config["model"] not in ("NPair", "Teacher")
        teacher, teacher_path = _teacher_result(config) if distils else (None, None)
        row = {
            "dataset": config["dataset"],
            "style_breadth": config.get("synthetic_style_breadth") or 0.0,
            "false_negative_rate": notes.get("false_negative_rate"),
            "false_negative_rate_train": notes.get("false_negative_rate_train"),
            "oracle_test_auc": notes.get("oracle_test_auc_random"),
            "model": model_label(config),
            "budget": budget_label(config),
            "seed": config["seed"],
            "epochs": _epochs_trained(result),
            "teacher": (config.get("teacher") or "trained") if distils else "",
            "fnd_scale": (config.get("fnd_scale") or "paper") if distils else "",
            "fnd_alpha": config["fnd_alpha"] if distils else "",
            "teacher_epochs": _teacher_epochs(config, teacher) if distils else "",
            "teacher_user_auc": teacher["test_result"]["user_auc"] if teacher else "",
            "user_auc": result["test_result"]["user_auc"],
            "user_ndcg": result["test_result"]["user_ndcg"],
            "valid_user_auc": (result.get("best_valid_result") or {}).get("user_auc"),
            "device": _device(result),
            "results_json": os.path.relpath(path),
        }
        rows.append(row)
        teacher_key = (row["budget"], os.path.realpath(teacher_path)) if teacher else None
        if teacher_key and teacher_key not in teachers:  # one teacher row per level and budget
            teachers.add(teacher_key)
            rows.append(_teacher_row(row, teacher, teacher_path))
    rows.sort(key=lambda r: (r["budget"], r["false_negative_rate"] or 0, r["model"], r["seed"]))
    return rows


def summarize(rows):
    """{(budget, dataset, model): {"fnr", "auc": (mean, std) x 100, "ndcg", "seeds", "oracle", "epochs"}} in row
    order; ``epochs``: the epochs the runs trained (early stopping may end them sooner than the budget)."""
    groups = defaultdict(list)
    for row in rows:
        groups[row["budget"], row["dataset"], row["model"]].append(row)
    summary = {}
    for key, group in groups.items():
        auc = np.array([r["user_auc"] for r in group]) * 100
        ndcg = np.array([r["user_ndcg"] for r in group]) * 100
        summary[key] = {"fnr": group[0]["false_negative_rate"], "fnr_train": group[0]["false_negative_rate_train"],
                        "oracle": group[0]["oracle_test_auc"], "auc": (auc.mean(), auc.std()),
                        "ndcg": (ndcg.mean(), ndcg.std()), "seeds": len(group),
                        "epochs": sorted({r["epochs"] for r in group})}
    return summary


def _cell(mean_std, seeds):
    mean, std = mean_std
    return f"{mean:.2f} ± {std:.2f}" if seeds > 1 else f"{mean:.2f}"


def _models(summary):
    return sorted({m for _, _, m in summary}, key=lambda m: (m != "NPair", m))


def _budget_table(summary, budget):
    """The table of one training budget: a row per false-negative level, a column per model."""
    part = {(d, m): s for (b, d, m), s in summary.items() if b == budget}
    models = _models(summary)
    datasets = sorted({d for d, _ in part}, key=lambda d: next(s["fnr"] or 0 for (dd, _), s in part.items()
                                                                if dd == d))
    table = []
    for dataset in datasets:
        first = next(s for (d, _), s in part.items() if d == dataset)
        cells = []
        for model in models:
            s = part.get((dataset, model))
            cells.append(f"{_cell(s['auc'], s['seeds'])} ({s['seeds']})" if s else "-")
        table.append([dataset, f"{100 * first['fnr']:.1f}" if first["fnr"] is not None else "?",
                      f"{100 * first['fnr_train']:.1f}" if first["fnr_train"] is not None else "?",
                      f"{100 * first['oracle']:.2f}" if first["oracle"] is not None else "?"] + cells)
    header = ["dataset", "false negatives, test (%)", "false negatives, train (%)", "oracle AUC"] + models
    trained = "; ".join(f"{m} on {d}: {'/'.join(map(str, s['epochs']))}" for (d, m), s in part.items())
    return format_table(header, table) + f"\n\nEpochs trained (best validation checkpoint tested): {trained}."


def markdown(rows, summary, command=None, notes=None):
    budgets = sorted({b for b, _, _ in summary})
    text = [
        "# FND and false negatives",
        "",
        "Test `user_auc` x 100 (mean ± std over seeds, seeds in brackets) of the N-pair student and FND students "
        "against the share of random negatives that fit their user (false negatives: the generator's true "
        "preference of the negative reaches the median of the user's positives; measured on the random test "
        "negatives and on the random training negatives). The oracle AUC is the ceiling (the true preference "
        "as the score). One table per training budget.",
    ]
    for budget in budgets:
        text += ["", f"## {budget}", "", _budget_table(summary, budget)]
    text += ["", "One row per run: `fnd-premise.csv`; plot: `fnd-premise.png` (a panel per budget)."]
    if command:
        text += ["", "Made by:", "", "```bash", command, "```"]
    if notes:
        text += ["", "## Notes", "", notes.strip()]
    return "\n".join(text) + "\n"


def write_csv(rows, path):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(buffer.getvalue())


def plot(summary, path):
    """AUC x 100 against the false-negative rate (%), a panel per training budget, error bars = std over seeds;
    the oracle dashed."""
    budgets = sorted({b for b, _, _ in summary})
    fig, axes = figure_grid(1, len(budgets), figsize=(6.4 * len(budgets), 4.4), dpi=120, sharex=True,
                            sharey=True)  # one scale: a panel with one level stays readable
    models = _models(summary)
    for ax, budget in zip(axes[0], budgets):
        part = {(d, m): s for (b, d, m), s in summary.items() if b == budget}
        for k, model in enumerate(models):
            points = sorted((s["fnr"] * 100, s["auc"]) for (_, m), s in part.items() if m == model)
            if not points:
                continue
            x = np.array([p[0] for p in points]) + (k - (len(models) - 1) / 2) * 0.25  # small offsets: bars apart
            ax.errorbar(x, [p[1][0] for p in points], yerr=[p[1][1] for p in points], marker="o", capsize=3,
                        label=model, color=f"C{k}")
        oracle = sorted({(s["fnr"] * 100, s["oracle"] * 100) for s in part.values() if s["oracle"] is not None})
        if oracle:
            ax.plot([p[0] for p in oracle], [p[1] for p in oracle], "k--", marker="x", linewidth=1,
                    label="oracle (ceiling)")
        ax.set_xlabel("false negatives among random test negatives (%)")
        ax.set_title(f"synthetic630, {budget}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("test user AUC x 100")
    levels = [s["fnr"] * 100 for s in summary.values() if s["fnr"] is not None]
    if levels:
        axes[0][0].set_xlim(min(0.0, min(levels)) - 1, max(levels) + 2)
    fig.suptitle("FND vs N-pair as false negatives grow")
    fig.tight_layout()
    save(fig, path, dpi=120)


@exits_2_on_user_error
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m recbole_outfit.benchmarks.fnd_premise",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default="saved/fnd_premise", help="folder of finished runs' results JSON files")
    parser.add_argument("--out", default="results/fnd-premise", help="output path without extension")
    parser.add_argument("--no_plot", action="store_true", help="skip the PNG (no matplotlib)")
    parser.add_argument("--notes", default=None, help="markdown file appended as the report's Notes (how the runs were made)")
    args = parser.parse_args(argv)
    if args.notes and not os.path.isfile(args.notes):
        raise ConfigError(f"notes file {args.notes} does not exist", where="--notes",
                          fix="give a markdown file on how the runs were made, or leave --notes out")
    rows = read_runs(args.runs)
    if not rows:
        raise ConfigError(f"no finished runs (results JSON files) under {args.runs}", where="--runs",
                          fix="point --runs at the folder the runs' --results_json files (or a comparison's "
                              "saved/compare/<dataset>/ files) are in")
    summary = summarize(rows)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_csv(rows, args.out + ".csv")
    command = command_text("python -m recbole_outfit.benchmarks.fnd_premise", sys.argv[1:] if argv is None else argv)
    notes = None
    if args.notes:
        with open(args.notes, "r", encoding="utf-8") as f:
            notes = f.read()
    with atomic_write(args.out + ".md", "w", encoding="utf-8") as f:
        f.write(markdown(rows, summary, command.strip(), notes))
    if not args.no_plot:
        plot(summary, args.out + ".png")
    print(f"{len(rows)} runs -> {args.out}.md, .csv" + ("" if args.no_plot else ", .png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
