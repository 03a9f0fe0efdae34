"""The paper's experiments as declarative specs: ``properties/reproduce/<name>.yaml``, read and expanded here.

A spec names what the paper ran and how we run it; :mod:`recbole_outfit.experiments.paper` runs it. Keys (each
spec file documents its own values inline):

* ``title`` (str), ``paper`` (str): the table or figure, and what the paper shows in it;
* ``kind``: ``comparison`` (rows of models, a table per dataset), ``sweep`` (series of models over the points of
  one setting, plus reference lines), ``efficiency`` (the efficiency benchmark) or ``tsne`` (the t-SNE of a
  trained model);
* ``datasets`` (list), ``seeds`` (int), ``setting`` (str: which setting and why), ``settings`` (dict: every run's
  settings, its training budget), ``cold`` (dict: dataset -> cold-start dataset, comparisons);
* ``rows`` (comparison), ``series`` and ``references`` (sweep): lists of runs, each a model name or
  ``{label, model, settings}``; ``points`` (sweep): ``{label, settings}``, crossed with every series;
  ``x_label`` (sweep): the points' axis;
* ``benchmark`` (efficiency: the benchmark's arguments); ``model``, ``users`` and ``negatives_per_positive``
  (tsne: the trained model, how many users are drawn, training negatives drawn per positive);
* ``claims``: the paper's sentence (``text``) and the ranking of our rows it states, in one of the forms of
  :mod:`.paper_claims` (``order``, ``winner`` + ``over``, ``row`` + ``metric_order``, ``increasing``).

A problem in a spec (a malformed file, an unknown key, a missing field, an unknown model) is a ``ConfigError``
naming the file and line, raised before anything trains.
"""

import os
from dataclasses import dataclass, field

import yaml

from recbole_outfit.errors import ConfigError
from recbole_outfit.experiments.paper_claims import CLAIM_FORMS, CLAIM_KEYS, claim_labels
from recbole_outfit.settings import properties_dir

KINDS = ("comparison", "sweep", "efficiency", "tsne")
SPEC_KEYS = {"title", "paper", "kind", "datasets", "seeds", "setting", "settings", "cold", "rows", "series",
             "references", "points", "x_label", "benchmark", "model", "users", "negatives_per_positive", "claims"}
REQUIRED = {"comparison": ("rows",), "sweep": ("series", "points"), "efficiency": ("benchmark",), "tsne": ("model",)}
RUN_KEYS = {"label", "model", "settings"}
TSNE_ROWS = ("training positives", "negatives near the user", "other negatives")  # fig8's rows (paper_tsne)


@dataclass(frozen=True)
class Run:
    """One row of a table or one point of a figure: a model with its own settings (on every dataset, seed)."""

    label: str
    model: str
    settings: dict = field(default_factory=dict)
    series: str = None  # sweeps: the series and point it belongs to; references: series only
    point: str = None


@dataclass
class Spec:
    name: str
    path: str
    data: dict
    lines: dict  # key path (tuple) -> line number (1-based)

    def __getitem__(self, key):
        return self.data[key]

    def get(self, key, default=None):
        return self.data.get(key, default)

    def line(self, *path):
        """The line of a key (or the nearest enclosing key's)."""
        for depth in range(len(path), -1, -1):
            if path[:depth] in self.lines:
                return self.lines[path[:depth]]
        return 1

    def error(self, message, *path, fix):
        return ConfigError(message, where=f"{self.path}, line {self.line(*path)}", fix=fix)


def specs_dir():
    return os.path.join(properties_dir(), "reproduce")


def spec_names():
    """The experiments there are, sorted (tables first, then figures)."""
    names = [f[:-5] for f in os.listdir(specs_dir()) if f.endswith(".yaml")]
    return sorted(names, key=lambda n: (not n.startswith("table"), len(n), n))


def _lines(node, path=()):
    """{key path: line} of every mapping key and sequence item under a composed yaml node."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines.update(_lines(value, path + (key.value,)))
            lines[path + (key.value,)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_lines(item, path + (index,)))
    return lines


def load_spec(name, path=None):
    """The spec ``name`` (from ``properties/reproduce/`` unless ``path`` is given), checked."""
    path = path or os.path.join(specs_dir(), f"{name}.yaml")
    if not os.path.isfile(path):
        raise ConfigError(f"no experiment named {name!r}", where=specs_dir(),
                          fix=f"choose one of {', '.join(spec_names())} (python -m recbole_outfit.reproduce --list)")
    with open(path, "r", encoding="utf-8") as f:
        text = f.read()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        problem, context = getattr(error, "problem_mark", None), getattr(error, "context_mark", None)
        mark = context or problem  # an unclosed bracket: the line that opened it, not the end of the file
        line = f", line {mark.line + 1}" if mark else ""
        found = f" (found at line {problem.line + 1})" if context and problem and problem.line != context.line else ""
        raise ConfigError(f"malformed spec: {getattr(error, 'context', None) or ''} {getattr(error, 'problem', error)}"
                          f"{found}".replace("  ", " "), where=f"{path}{line}",
                          fix="write it as the other specs in properties/reproduce/ are written") from error
    if not isinstance(data, dict):
        raise ConfigError("a spec is a mapping of keys", where=f"{path}, line 1", fix="see properties/reproduce/")
    spec = Spec(name, path, data, _lines(node))
    check_spec(spec)
    return spec


def _check_keys(spec, mapping, allowed, path, what):
    for key in mapping:
        if key not in allowed:
            raise spec.error(f"unknown {what} key {key!r}", *path, key,
                             fix=f"use only {', '.join(sorted(allowed))}")


def check_spec(spec):
    data = spec.data
    _check_keys(spec, data, SPEC_KEYS, (), "spec")
    kind = data.get("kind")
    if kind not in KINDS:
        raise spec.error(f"kind must be one of {', '.join(KINDS)}, got {kind!r}", "kind",
                         fix="comparison (a table of rows), sweep (a figure over one setting), efficiency or tsne")
    for key in ("title", "datasets", *REQUIRED[kind]):
        if key not in data:
            raise spec.error(f"a {kind} spec needs {key!r}", fix=f"add {key}: ... (see the module docstring)")
    if not isinstance(data["datasets"], list) or not data["datasets"]:
        raise spec.error("datasets must be a non-empty list", "datasets", fix="e.g. datasets: [synthetic630]")
    seeds = data.get("seeds", 1)
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise spec.error(f"seeds must be a whole number >= 1, got {seeds!r}", "seeds", fix="e.g. seeds: 3")
    for key in ("settings", "cold", "benchmark"):
        if key in data and not isinstance(data[key], dict):
            raise spec.error(f"{key} must be a mapping", key, fix=f"e.g. {key}: {{epochs: 10}}")
    for key in ("rows", "series", "references"):
        for index, item in enumerate(data.get(key) or []):
            _run(spec, item, (key, index))
    for index, point in enumerate(data.get("points") or []):
        if not isinstance(point, dict) or "label" not in point:
            raise spec.error("a point is {label, settings}", "points", index,
                             fix="e.g. - {label: '0.5', settings: {fnd_alpha: 0.5}}")
        _check_keys(spec, point, {"label", "settings"}, ("points", index), "point")
    labels = {run.label for run in runs(spec)} | {run.series for run in runs(spec) if run.series}
    if kind == "efficiency":
        labels = None  # the benchmark's rows (sizes) are known once it has run
    elif kind == "tsne":
        labels = set(TSNE_ROWS)
    for index, claim in enumerate(data.get("claims") or []):
        if not isinstance(claim, dict) or "text" not in claim:
            raise spec.error("a claim is a mapping with the paper's text and a ranking", "claims", index,
                             fix="e.g. - {text: 'the paper's sentence', order: [FNDCL, NPair]}")
        _check_keys(spec, claim, CLAIM_KEYS, ("claims", index), "claim")
        if not any(form in claim for form in CLAIM_FORMS):
            raise spec.error("the claim states no ranking", "claims", index,
                             fix=f"give one of {', '.join(CLAIM_FORMS)} (see recbole_outfit/experiments/paper_claims.py)")
        for label in claim_labels(claim):
            if labels is not None and label not in labels:
                raise spec.error(f"the claim names {label!r}, which is not a row of this spec", "claims", index,
                                 fix=f"use row or series labels: {', '.join(sorted(labels))}")


def _run(spec, item, path, series=None, point=None):
    """A :class:`Run` from a spec's list item (a model name, or {label, model, settings})."""
    if isinstance(item, str):
        return Run(label=item, model=item, series=series, point=point)
    if not isinstance(item, dict) or "model" not in item:
        raise spec.error("a run is a model name or {label, model, settings}", *path,
                         fix="e.g. - NPair, or - {label: FND (alpha 1), model: FND, settings: {fnd_alpha: 1.0}}")
    _check_keys(spec, item, RUN_KEYS, path, "run")
    settings = item.get("settings") or {}
    if not isinstance(settings, dict):
        raise spec.error("settings must be a mapping", *path, "settings", fix="e.g. settings: {fnd_alpha: 1.0}")
    return Run(label=str(item.get("label", item["model"])), model=str(item["model"]), settings=dict(settings),
               series=series, point=point)


def runs(spec):
    """Every run the spec names (per dataset and seed): comparison rows; sweep series x points + references."""
    data = spec.data
    if data["kind"] == "comparison":
        return [_run(spec, item, ("rows", i)) for i, item in enumerate(data["rows"])]
    if data["kind"] != "sweep":
        return []
    found = []
    for i, item in enumerate(data["series"]):
        base = _run(spec, item, ("series", i))
        for point in data["points"]:
            label = str(point["label"])
            found.append(Run(label=f"{base.label} @ {label}", model=base.model,
                             settings={**base.settings, **(point.get("settings") or {})}, series=base.label,
                             point=label))
    for i, item in enumerate(data.get("references") or []):
        reference = _run(spec, item, ("references", i))
        found.append(Run(label=reference.label, model=reference.model, settings=reference.settings,
                         series=reference.label))
    return found


def run_line(spec, run):
    """The spec line that declares ``run`` (for messages about it)."""
    for key in ("rows", "series", "references"):
        for index, item in enumerate(spec.get(key) or []):
            label = item if isinstance(item, str) else str(item.get("label", item.get("model")))
            if label == run.label or label == run.series:
                return spec.line(key, index)
    return 1
