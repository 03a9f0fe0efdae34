"""Model comparison on one dataset, like the paper's Table 2 and RecBole-GNN's ``results/`` pages.

    python run_recbole_outfit.py --model=Teacher,NPair,FND,FNDCL --dataset=synthetic630 [--seeds=3]

Runs every model once per seed (seeds ``seed, seed+1, ...``) through the usual pipeline, then writes
``results/<dataset>.md`` and ``results/<dataset>.csv``: test ``user_auc`` and ``user_ndcg`` x 100 as
mean +- std over seeds, the best mean in bold, the dataset statistics and the settings. Stages are shared:
the ``Teacher`` row is the teacher the students of that seed distil from (trained once by the teacher stage
and reused), and the ``replace`` neighbour table is built once.
"""

import csv
import io
import os
import platform
import time
from logging import getLogger

import numpy as np
import torch
from recbole.utils import init_logger

from recbole_outfit.config import Config
from recbole_outfit.report import format_table

METRICS = ("user_auc", "user_ndcg")


def teacher_row(config):
    """The results of the teacher a student with ``config`` distils from (training it if needed)."""
    import json

    from recbole_outfit.trainer.stages import teacher_stage

    path = teacher_stage(config)
    with open(path[:-4] + ".json", "r", encoding="utf-8") as f:
        return json.load(f)


def run_model(model, dataset, seed, config_file_list, config_dict):
    from recbole_outfit.quick_start import run_recbole_outfit

    settings = {**(config_dict or {}), "seed": seed}
    if model == "Teacher":
        config = Config(model="FNDCL", dataset=dataset, config_file_list=config_file_list, config_dict=settings)
        return teacher_row(config)
    return run_recbole_outfit(model, dataset, config_file_list=config_file_list, config_dict=settings)


def summarize(results):
    """{model: [result, ...]} -> {model: {metric: (mean, std) x 100, "seconds_per_epoch": s, "runs": n}}."""
    summary = {}
    for model, runs in results.items():
        row = {"runs": len(runs)}
        for metric in METRICS:
            values = np.array([r["test_result"][metric] for r in runs]) * 100
            row[metric] = (float(values.mean()), float(values.std()))
        epochs = [r.get("timing", {}).get("seconds_per_epoch") for r in runs]
        epochs = [e for e in epochs if e]
        row["seconds_per_epoch"] = float(np.mean(epochs)) if epochs else None
        summary[model] = row
    return summary


def _machine():
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores"


def write_tables(summary, dataset, command, settings, manifest, out_dir="results"):
    """Write ``<out_dir>/<dataset>.md`` and ``.csv`` atomically; return the markdown."""
    best = {m: max(row[m][0] for row in summary.values()) for m in METRICS}
    rows = []
    for model, row in summary.items():
        cells = [model]
        for metric in METRICS:
            mean, std = row[metric]
            text = f"{mean:.2f} ± {std:.2f}" if row["runs"] > 1 else f"{mean:.2f}"
            cells.append(f"**{text}**" if np.isclose(mean, best[metric]) else text)
        cells += [row["runs"], f"{row['seconds_per_epoch']:.1f}" if row["seconds_per_epoch"] else ""]
        rows.append(cells)
    table = format_table(["model", "AUC", "NDCG", "seeds", "s / epoch"], rows)
    counts = (manifest or {}).get("counts", {})
    stats = format_table(["users", "outfits", "garments", "train", "valid (student)", "test"], [[
        counts.get("users", ""), counts.get("outfits", ""), counts.get("garments", ""),
        counts.get("rows", {}).get("train", ""), counts.get("rows", {}).get("valid_student", ""),
        counts.get("rows", {}).get("test", "")]])
    shown = "\n".join(f"- `{k}`: `{v}`" for k, v in settings.items())
    markdown = (
        f"# {dataset}\n\nTest `user_auc` (AUC) and `user_ndcg` (NDCG, FHN's definition) x 100, mean ± std over "
        f"seeds; best in bold. Produced by\n\n```bash\n{command}\n```\n\non {_machine()}, "
        f"{time.strftime('%Y-%m-%d')}.\n\n{table}\n\n## Dataset\n\n{stats}\n\n"
        f"(rows: labeled evaluation rows, 1 positive : 10 negatives)\n\n## Settings\n\n{shown}\n"
    )
    os.makedirs(out_dir, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["model", "auc_mean", "auc_std", "ndcg_mean", "ndcg_std", "seeds", "seconds_per_epoch"])
    for model, row in summary.items():
        writer.writerow([model, *(f"{v:.4f}" for m in METRICS for v in row[m]), row["runs"],
                         row["seconds_per_epoch"] or ""])
    for suffix, text in (("md", markdown), ("csv", buffer.getvalue())):
        path = os.path.join(out_dir, f"{dataset}.{suffix}")
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    return markdown


def compare(models, dataset, seeds=1, config_file_list=None, config_dict=None, out_dir="results", command=None):
    """Run ``models`` on ``dataset`` for ``seeds`` seeds and write the comparison tables."""
    from recbole_outfit.data.convert import read_manifest
    from recbole_outfit.utils import get_model

    for model in models:
        get_model(model)  # unknown names fail before anything runs
    base = Config(model=models[0], dataset=dataset, config_file_list=config_file_list, config_dict=config_dict)
    init_logger(base)
    seed_list = [base["seed"] + i for i in range(seeds)]
    results = {model: [] for model in models}
    for seed in seed_list:
        for model in models:
            getLogger().info(f"[compare] {model} on {dataset}, seed {seed}")
            results[model].append(run_model(model, dataset, seed, config_file_list, config_dict))
    summary = summarize(results)
    settings = {k: base[k] for k in ("epochs", "train_batch_size", "learner", "learning_rate", "train_neg_sample_num",
                                     "negative_pool", "tau", "train_neg_hard_ratio", "test_hard") if k in base}
    settings["seeds"] = seed_list
    command = command or f"python run_recbole_outfit.py --model={','.join(models)} --dataset={dataset} --seeds={seeds}"
    markdown = write_tables(summary, dataset, command, settings,
                            read_manifest(base["data_path"], dataset), out_dir)
    getLogger().info(f"Comparison written to {out_dir}/{dataset}.md and .csv\n{markdown}")
    return summary
