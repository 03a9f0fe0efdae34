"""The paper's claims as rankings of our results, and their verdicts: holds / partly / fails.

A claim (a spec's ``claims`` item) states pairs "x above y" by one of these forms (``metric``: ``user_auc`` unless
given; ``hard_user_auc``; ``cold:<strategy>:<K>``; ``scoring_seconds`` and ``params``, where smaller is better):

* ``order: [a, b, c]``: a above b above c (each a row label; for a sweep, a series name stands for its best point);
  with ``every_point: true``, the series (or reference lines) in that order at every point of a sweep;
* ``winner: a`` with ``over: [b, c]``: a above each of them (``over_metric``: the metric of b and c, when it is
  another cell than the winner's, e.g. a non-personalized model's ``cold:own:5`` against ``cold:wavg:5``);
* ``row: a`` with ``metric_order: [m1, m2]``: within row a, m1 above m2 (e.g. w-avg above avg);
* ``increasing: [s1, s2]``: each series rising along the sweep's points (the last point above the one before ...).

The verdict counts the pairs that hold on every dataset: all (**holds**), none (**fails**), else **partly**.
"""

LOWER_IS_BETTER = ("scoring_seconds", "params")
CLAIM_FORMS = ("order", "winner", "row", "increasing")
CLAIM_KEYS = {"text", "order", "metric", "every_point", "winner", "over", "over_metric", "row", "metric_order",
              "increasing"}


def claim_labels(claim):
    """The row or series labels a claim names (checked against the spec's rows)."""
    labels = list(claim.get("order") or []) + list(claim.get("over") or []) + list(claim.get("increasing") or [])
    return labels + [claim[key] for key in ("winner", "row") if key in claim]


def value(summary, label, metric, points=None):
    """The mean of ``metric`` for ``label`` in a dataset's summary (a series name: its best point); None when
    that row has not run."""
    if label not in summary and points and " @ " not in label and f"{label} @ {points[0]}" in summary:
        values = [value(summary, f"{label} @ {p}", metric) for p in points]
        if None in values:
            return None
        return (min if metric in LOWER_IS_BETTER else max)(values)
    row = summary.get(label)
    if row is None and " @ " in label:  # a reference line at a point of the sweep: the same value everywhere
        row = summary.get(label.split(" @ ")[0])
    if row is None:
        return None
    if metric.startswith("cold:"):
        _, strategy, shots = metric.split(":")
        found = row.get("cold", {}).get(strategy, {}).get(str(shots))
        return found[0] if found else None
    found = row.get(metric)
    return found[0] if found else None


def claim_pairs(claim, points=None):
    """``[((label, metric), (label, metric))]``: the pairs the claim says rank first above second."""
    metric = claim.get("metric", "user_auc")
    if "order" in claim:
        order = list(claim["order"])
        if claim.get("every_point") and points:
            return [((f"{a} @ {p}", metric), (f"{b} @ {p}", metric)) for p in points for a, b in zip(order, order[1:])]
        return [((a, metric), (b, metric)) for a, b in zip(order, order[1:])]
    if "winner" in claim:
        other_metric = claim.get("over_metric", metric)
        return [((claim["winner"], metric), (other, other_metric)) for other in claim.get("over") or []]
    if "row" in claim:
        metrics = list(claim.get("metric_order") or [])
        return [((claim["row"], a), (claim["row"], b)) for a, b in zip(metrics, metrics[1:])]
    if "increasing" in claim and points:
        return [((f"{s} @ {later}", metric), (f"{s} @ {earlier}", metric))
                for s in claim["increasing"] for earlier, later in zip(points, points[1:])]
    return []


def _better(metric, a, b):
    return a < b if metric in LOWER_IS_BETTER else a > b


def verdict(claim, summaries, points=None):
    """``(verdict, evidence)`` of a claim over ``{dataset: summary}``; ``(None, why)`` when it cannot be judged
    yet (a row not run) or states no ranking."""
    pairs = claim_pairs(claim, points)
    if not pairs:
        return None, "no ranking stated"
    held, evidence = 0, []
    for dataset, summary in summaries.items():
        texts = []
        for (first, first_metric), (second, second_metric) in pairs:
            a, b = value(summary, first, first_metric, points), value(summary, second, second_metric, points)
            if a is None or b is None:
                return None, f"{dataset}: {first if a is None else second} has not run"
            ok = _better(first_metric, a, b)
            held += int(ok)
            names = (first, second) if first != second else (first_metric, second_metric)
            texts.append(f"{names[0]} {a:.2f} {'>' if ok else '<='} {names[1]} {b:.2f}"
                         if first_metric not in LOWER_IS_BETTER else
                         f"{names[0]} {a:.2f} {'<' if ok else '>='} {names[1]} {b:.2f}")
        evidence.append(f"{dataset}: " + ", ".join(texts))
    total = len(pairs) * len(summaries)
    result = "holds" if held == total else ("fails" if held == 0 else "partly")
    metric = claim.get("metric", "user_auc")
    return result, "; ".join(evidence) + f" ({metric}; {held} of {total} pairs as claimed)"
