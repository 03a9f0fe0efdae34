"""The paper's experiments, run from their specs (:mod:`.paper_spec`) and written as pages of ``results/paper/``.

Every training run goes through the comparison's finished-run cache (``experiments.compare.run_model``), so an
experiment resumes where it stopped, shares runs with comparisons and searches of the same settings, and spreads
over processes by seed (``--seed 2021 --seeds 1`` in one, ``--seed 2022 --seeds 1`` in another; the full
``--seeds 3`` afterwards trains nothing and writes the pages). Each experiment writes ``<name>.md`` (its tables,
its claims marked holds / partly / fails, its command and budget), ``<name>.csv``, ``<name>.png`` (means with
their standard deviation over seeds as error bars) and ``<name>.json`` (what the claims page is built from);
comparisons also write each dataset's full table into ``<name>/<dataset>.md``. :func:`write_claims_page` gathers
every claim into ``README.md``.
"""

import csv
import io
import json
import os
from logging import getLogger

from recbole_outfit.atomic import atomic_write
from recbole_outfit.benchmarks import efficiency
from recbole_outfit.compat import init_run_logger
from recbole_outfit.config import Config
from recbole_outfit.data.convert import read_manifest
from recbole_outfit.errors import ConfigError
from recbole_outfit.experiments import compare
from recbole_outfit.experiments.paper_page import cell, claims_section, header, judge, run_settings
from recbole_outfit.experiments.paper_tsne import tsne_page
from recbole_outfit.experiments.paper_spec import load_spec, run_line, runs, spec_names
from recbole_outfit.evaluator.metrics import metric_label
from recbole_outfit.pipeline import STAGES
from recbole_outfit.pipeline.finished_runs import finished_run_path
from recbole_outfit.plots.draw import model_comparison, sweep_lines
from recbole_outfit.report import command_text, format_table, write_json_atomic
from recbole_outfit.utils import get_model
from recbole_outfit.verified import is_intact



# ------------------------------------------------------------------------------------------------ the runs


def check_runs(spec, seeds, gpu_id=None):
    """Every run's model and settings, checked before anything trains (file and line of the run on error)."""
    for run in runs(spec):
        try:
            get_model(run.model)
            for dataset in spec["datasets"]:
                Config(run.model, dataset, config_dict={**run_settings(spec, run, dataset, gpu_id), "seed": seeds[0]},
                       command_line=False)
        except ConfigError as error:
            raise ConfigError(f"{run.label}: {error.what}", where=f"{spec.path}, line {run_line(spec, run)}",
                              fix=error.fix) from error


def status(spec, seeds):
    """(finished, total) training runs of ``spec`` over ``seeds`` (a teacher row: its stage's artifact)."""
    total = finished = 0
    for run in runs(spec):
        for dataset in spec["datasets"]:
            model = "FNDCL" if run.model == "Teacher" and not run.settings else run.model
            config = Config(model, dataset, config_dict=run_settings(spec, run, dataset), command_line=False)
            total += len(seeds)
            if read_manifest(config["data_path"], dataset) is None:  # not converted yet: nothing ran (and
                continue  # --list does not generate it)
            for seed in seeds:
                config["seed"] = seed
                kept = teacher_is_cached(config) if run.model == "Teacher" and model == "FNDCL" else \
                    os.path.isfile(finished_run_path(config))
                finished += int(kept)
    return finished, total


def teacher_is_cached(config):
    """Whether the teacher stage of ``config`` (a student's) is kept and intact."""
    return is_intact(STAGES["teacher"].artifact_path(config))


def collect(spec, seeds, gpu_id=None):
    """``{dataset: {label: [result of each seed]}}``, each result from the finished-run cache or trained now."""
    results = {dataset: {run.label: [] for run in runs(spec)} for dataset in spec["datasets"]}
    for seed in seeds:
        for dataset in spec["datasets"]:
            for run in runs(spec):
                getLogger().info(f"[reproduce {spec.name}] {run.label} on {dataset}, seed {seed}")
                results[dataset][run.label].append(compare.run_model(
                    run.model, dataset, seed, None, run_settings(spec, run, dataset, gpu_id)))
    return results


# ------------------------------------------------------------------------------------------------ pages


def comparison_page(spec, summaries, seeds, command, out_dir, metrics):
    """Markdown, CSV rows and picture panels of a comparison (a column per dataset and metric)."""
    labels = [run.label for run in runs(spec)]
    headers, rows, csv_rows = ["row"], [], []
    for dataset in summaries:
        headers += [f"{dataset} {metric_label(m)}" for m in metrics]
    cold_keys = sorted({(s, k) for summary in summaries.values() for row in summary.values()
                        for s, by_k in row.get("cold", {}).items() for k in by_k}, key=lambda x: (x[0], int(x[1])))
    for dataset in summaries:
        headers += [f"{dataset} cold {strategy} K={k}" for strategy, k in cold_keys]
    for label in labels:
        cells = [label]
        for dataset, summary in summaries.items():
            row = summary[label]
            cells += [cell(row[m], row["runs"]) if m in row else "-" for m in metrics]
            for metric in metrics:
                if metric in row:
                    csv_rows.append([label, dataset, metric, *row[metric], row["runs"]])
        for dataset, summary in summaries.items():
            row = summary[label]
            for strategy, k in cold_keys:
                value = row.get("cold", {}).get(strategy, {}).get(k)
                cells.append(cell(value, row["runs"]) if value else "-")
                if value:
                    csv_rows.append([label, dataset, f"cold:{strategy}:{k}", *value, row["runs"]])
        rows.append(cells)
    panels = [(f"{dataset} {metric_label(metrics[0])}", {label: summary[label][metrics[0]]
              for label in labels if metrics[0] in summary[label]}) for dataset, summary in summaries.items()]
    links = ", ".join(f"[{dataset}]({spec.name}/{dataset}.md)" for dataset in summaries)
    lines = ["## Results", "", format_table(headers, rows), "", f"Each dataset's full table: {links}.", ""]
    return lines, csv_rows, panels


def sweep_page(spec, summaries, metrics):
    """Markdown, CSV rows and the sweep picture's data: a table per dataset, series x points, references below."""
    metric = metrics[0]
    series_runs = [run for run in runs(spec) if run.point is not None]
    references = [run for run in runs(spec) if run.point is None]
    points = [str(p["label"]) for p in spec["points"]]
    series = list(dict.fromkeys(run.series for run in series_runs))
    lines, csv_rows, panels = [], [], []
    for dataset, summary in summaries.items():
        rows = []
        for name in series:
            cells = [name]
            for point in points:
                row = summary[f"{name} @ {point}"]
                cells.append(cell(row[metric], row["runs"]))
                csv_rows.append([name, dataset, metric, point, *row[metric], row["runs"]])
            rows.append(cells)
        for run in references:
            row = summary[run.label]
            rows.append([f"{run.label} (reference)", *([cell(row[metric], row["runs"])] * len(points))])
            csv_rows.append([run.label, dataset, metric, "", *row[metric], row["runs"]])
        lines += [f"## {dataset}: {metric_label(metric)} x 100 by {spec.get('x_label', 'setting')}", "",
                  format_table([spec.get("x_label", "setting"), *points], rows), ""]
        panels.append((dataset, {name: [summary[f"{name} @ {p}"][metric] for p in points] for name in series},
                       {run.label: summary[run.label][metric] for run in references}))
    return lines, csv_rows, (points, panels)


def write_page(spec, results, seeds, command, out_dir):
    """Write ``<out_dir>/<name>.md``, ``.csv``, ``.png`` and ``.json`` (and a comparison's per-dataset tables);
    return the page's claims with their verdicts."""
    metrics = [m.lower() for m in Config(runs(spec)[0].model, spec["datasets"][0], command_line=False)["metrics"]]
    summaries = {dataset: compare.summarize(by_label, metrics) for dataset, by_label in results.items()}
    points = [str(p["label"]) for p in spec.get("points") or []]
    claims = judge(spec, summaries, points)
    os.makedirs(out_dir, exist_ok=True)
    title = f"{spec['title']}: mean ± std over {len(seeds)} seed{'s' if len(seeds) > 1 else ''}"
    picture = os.path.join(out_dir, f"{spec.name}.png")
    if spec["kind"] == "comparison":
        body, csv_rows, panels = comparison_page(spec, summaries, seeds, command, out_dir, metrics)
        for dataset, summary in summaries.items():
            manifest = read_manifest(Config(runs(spec)[0].model, dataset, command_line=False)["data_path"], dataset)
            compare.write_tables(summary, dataset, command, compare.model_settings(
                [r.model for r in runs(spec)], dataset, None, spec.get("settings")), manifest,
                os.path.join(out_dir, spec.name), metrics)
        model_comparison(panels, picture, title=title)
        csv_header = ["row", "dataset", "metric", "mean", "std", "seeds"]
    else:
        body, csv_rows, (points, panels) = sweep_page(spec, summaries, metrics)
        sweep_lines(panels, points, picture, x_label=spec.get("x_label", "setting"),
                    y_label=f"{metric_label(metrics[0])} x 100", title=title)
        csv_header = ["series", "dataset", "metric", "point", "mean", "std", "seeds"]
    markdown = "\n".join(header(spec, seeds, command) + claims_section(claims) + body +
                         [f"![{spec['title']}]({spec.name}.png)", ""])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(csv_header)
    writer.writerows([[f"{v:.4f}" if isinstance(v, float) else v for v in row] for row in csv_rows])
    for suffix, text in (("md", markdown), ("csv", buffer.getvalue())):
        with atomic_write(os.path.join(out_dir, f"{spec.name}.{suffix}")) as f:
            f.write(text)
    write_json_atomic(os.path.join(out_dir, f"{spec.name}.json"), {
        "name": spec.name, "title": spec["title"], "seeds": seeds, "command": command, "claims": claims,
        "summaries": summaries})
    return claims


def write_claims_page(out_dir):
    """``<out_dir>/README.md``: every claim of every spec, its verdict and evidence, linking its page; the
    experiments not yet run are listed as such."""
    rows = []
    for name in spec_names():
        spec = load_spec(name)
        page = os.path.join(out_dir, f"{name}.json")
        if not os.path.isfile(page):
            for claim in spec.get("claims") or []:
                rows.append([claim["text"].strip(), f"{spec['title']} (not run yet: `python -m "
                             f"recbole_outfit.reproduce {name}`)", "-", "not run"])
            continue
        with open(page, "r", encoding="utf-8") as f:
            done = json.load(f)
        seeds = len(done["seeds"])
        for claim in done["claims"]:
            rows.append([claim["text"], f"[{done['title']}]({name}.md), {seeds} seed{'s' if seeds > 1 else ''}",
                         claim["evidence"], claim["verdict"] or "-"])
    markdown = "\n".join([
        "# The paper's claims, here", "",
        "Each claim of the paper in its own words, the experiment that tests it (its page names the command, the "
        "setting, the budget and the hardware), our figures and the verdict: **holds** (the stated ranking on "
        "every dataset), **partly** (on some datasets or for some of its pairs), **fails** (none of its pairs). "
        "Verdicts are computed from the means by `python -m recbole_outfit.reproduce`; a difference smaller than "
        "the spread over seeds is still counted, so read the figures beside the verdict.", "",
        format_table(["claim", "experiment", "our figures", "verdict"], rows, align=["left"] * 4), ""])
    os.makedirs(out_dir, exist_ok=True)
    with atomic_write(os.path.join(out_dir, "README.md")) as f:
        f.write(markdown)
    return markdown


# ------------------------------------------------------------------------------------------------ running


def run_experiment(spec, seeds, out_dir, command_args, gpu_id=None):
    """Check every run, run (or reuse) them, write the pages; return the claims with their verdicts."""
    command = command_text("python -m recbole_outfit.reproduce", command_args)
    if spec["kind"] == "efficiency":
        return efficiency_page(spec, seeds, command, out_dir, gpu_id)
    if spec["kind"] == "tsne":
        return tsne_page(spec, seeds, command, out_dir, gpu_id)
    check_runs(spec, seeds, gpu_id)
    init_run_logger(Config(runs(spec)[0].model, spec["datasets"][0], command_line=False))
    results = collect(spec, seeds, gpu_id)
    return write_page(spec, results, seeds, command, out_dir)


def efficiency_page(spec, seeds, command, out_dir, gpu_id=None):
    """Table 5: the efficiency benchmark's scoring (and training-step) figures, with the spec's claims, which
    order sizes by ``params`` or ``scoring_seconds`` (smaller first)."""
    options = dict(spec["benchmark"])
    dataset = spec["datasets"][0]
    overrides = {"show_progress": False, "state": "WARNING", **(spec.get("settings") or {})}
    if gpu_id is not None:
        overrides["gpu_id"] = gpu_id
    sizes = [s for s in str(options.get("sizes", "large,M,S,XS")).split(",") if s]
    scoring, params, counts = efficiency.scoring_benchmark(dataset, sizes, int(options.get("repeats", 3)), 0,
                                                           overrides)
    summary = {("Teacher" if size == "large" else size): {
        "runs": 1, "scoring_seconds": results["cached"][:2], "params": (float(params[size]), 0.0)}
        for size, results in scoring}
    claims = judge(spec, {dataset: summary})
    rows = [[label, f"{row['params'][0] / 1e6:.2f}M", f"{row['scoring_seconds'][0]:.2f} ± {row['scoring_seconds'][1]:.2f}"]
            for label, row in summary.items()]
    test_rows, users = counts
    body = [f"## Scoring every test candidate of {dataset} ({test_rows:,} rows, {users:,} users)", "",
            format_table(["model", "parameters", "scoring (s)"], rows), ""]
    markdown = "\n".join(header(spec, seeds[:1], command) + claims_section(claims) + body)
    os.makedirs(out_dir, exist_ok=True)
    model_comparison([("scoring (s)", {k: v["scoring_seconds"] for k, v in summary.items()}),
                      ("parameters (M)", {k: (v["params"][0] / 1e6, 0.0) for k, v in summary.items()})],
                     os.path.join(out_dir, f"{spec.name}.png"), title=spec["title"], ylabel="")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["model", "params", "scoring_seconds_mean", "scoring_seconds_std"])
    writer.writerows([[k, int(v["params"][0]), f"{v['scoring_seconds'][0]:.4f}", f"{v['scoring_seconds'][1]:.4f}"]
                      for k, v in summary.items()])
    for suffix, text in (("md", markdown), ("csv", buffer.getvalue())):
        with atomic_write(os.path.join(out_dir, f"{spec.name}.{suffix}")) as f:
            f.write(text)
    write_json_atomic(os.path.join(out_dir, f"{spec.name}.json"), {
        "name": spec.name, "title": spec["title"], "seeds": seeds[:1], "command": command, "claims": claims,
        "summaries": {dataset: summary}})
    return claims
