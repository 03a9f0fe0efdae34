"""The parts every page of ``results/paper/`` shares: a run's settings, the claims' verdicts, the header."""

import time

from recbole_outfit.experiments.paper_claims import verdict
from recbole_outfit.report import format_table, machine_description


def run_settings(spec, run, dataset, gpu_id=None):
    """The config_dict of ``run`` on ``dataset``: the spec's settings, the run's own, the cold-start dataset."""
    settings = {**(spec.get("settings") or {}), **run.settings}
    cold = (spec.get("cold") or {}).get(dataset)
    if cold:
        settings["cold_dataset"] = cold
    if gpu_id is not None:
        settings["gpu_id"] = gpu_id
    return settings


def judge(spec, summaries, points=None):
    """The spec's claims with their verdicts and evidence over ``{dataset: summary}``."""
    claims = []
    for claim in spec.get("claims") or []:
        result, evidence = verdict(claim, summaries, points)
        claims.append({"text": claim["text"].strip(), "verdict": result, "evidence": evidence})
    return claims


def cell(value, runs_count):
    mean, std = value
    return f"{mean:.2f} ± {std:.2f}" if runs_count > 1 else f"{mean:.2f}"


def claims_section(claims):
    if not claims:
        return []
    rows = [[c["text"], c["verdict"] or "-", c["evidence"]] for c in claims]
    return ["## Claims", "", format_table(["the paper", "here", "our figures"], rows, align=["left"] * 3), ""]


def header(spec, seeds, command):
    budget = ", ".join(f"`{k}: {v}`" for k, v in (spec.get("settings") or {}).items()) or "each model's defaults"
    return [f"# {spec['title']}", "", spec.get("paper", "").strip(), "",
            f"Setting: {spec.get('setting', 'the datasets’ defaults').strip()} Budget: {budget}. "
            f"Seeds {seeds[0]}-{seeds[-1]} ({len(seeds)}). Produced by", "",
            "```bash", command, "```", "", f"on {machine_description()}, {time.strftime('%Y-%m-%d')}.", ""]
