"""Readable results: plain-text tables for logs and READMEs, atomic JSON files, the machine a result came from."""

import json
import os
import platform
import re
import shlex

import numpy as np
import torch

from recbole_outfit.atomic import atomic_write


def command_text(program, args):
    """``program`` and its ``args`` as one line to type in a shell: a plain argument as is, any other in double
    quotes (``"--teacher_config={'epochs': 30}"``), or in single quotes where double quotes would not keep it."""
    def word(arg):
        if re.fullmatch(r"[\w\-.,:/=@+%]+", arg):
            return arg
        return f'"{arg}"' if not re.search(r'["$`\\!]', arg) else shlex.quote(arg)

    return " ".join([program, *(word(str(a)) for a in args)])


def format_table(headers, rows, align=None):
    """A GitHub-markdown table (also readable as plain text). ``rows``: lists of cells (str or number)."""
    cells = [[_cell(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h)) for i, h in enumerate(headers)]
    align = align or ["left"] + ["right"] * (len(headers) - 1)
    def line(values):
        padded = [v.ljust(w) if a == "left" else v.rjust(w) for v, w, a in zip(values, widths, align)]
        return "| " + " | ".join(padded) + " |"
    rule = "|" + "|".join(("-" * (w + 1) + ":") if a == "right" else ("-" * (w + 2)) for w, a in zip(widths, align)) + "|"
    return "\n".join([line([str(h) for h in headers]), rule] + [line(r) for r in cells])


def _cell(value):
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def results_table(results):
    """``{split: {metric: value}}`` -> a table with one row per split."""
    metrics = sorted({m for values in results.values() if values for m in values})
    rows = [[split] + [values.get(m, "") for m in metrics] for split, values in results.items() if values]
    return format_table(["split"] + metrics, rows)


def to_jsonable(value):
    """Config values and results as plain JSON types (devices, enums, arrays and tensors become text/lists)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return to_jsonable(value.tolist())
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def write_json_atomic(path, data):
    """Write ``data`` as JSON to ``path`` atomically (creating its folder); return ``path``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path) as f:
        json.dump(to_jsonable(data), f, indent=1)
    return path


def machine_description():
    """The device results were measured on: the GPU's name, else the CPU with the cores and threads in use."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (GPU)"
    return (f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores, "
            f"{torch.get_num_threads()} torch threads")
