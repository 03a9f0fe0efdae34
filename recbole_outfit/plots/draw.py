"""Drawing on plain data (numpy arrays, lists, dicts) with matplotlib; nothing here loads a model.

* :func:`outfit_grid` - one row per outfit: its garment images and its score;
* :func:`tsne_map` - users and outfits in two dimensions (the paper's Fig. 8);
* :func:`training_curve` - loss parts and validation metrics per epoch;
* :func:`model_comparison` - each model's mean ± std over seeds, a panel per measure (the comparison's picture);
* :func:`sweep_lines` - series of means ± std over the points of one setting, with reference lines (Fig. 4-7).

Each writes a PNG atomically (``recbole_outfit.atomic.atomic_write``) and returns its path. Figures are drawn
with matplotlib's object API (:func:`figure_grid`), never through pyplot, so a notebook's or GUI's backend is left
as it was. matplotlib is an optional dependency (``pip install "recbole-outfit[plot]"``); a missing one is a
``ConfigError``.
"""

import os

import numpy as np

from recbole_outfit.atomic import atomic_write
from recbole_outfit.errors import ConfigError

# a colour per highlighted user (matplotlib's tab10, colour-blind friendlier than the default cycle order)
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def require_matplotlib():
    """Check that matplotlib is installed (e.g. before a long run that draws at its end); a ConfigError naming
    the extra to install otherwise."""
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError as error:
        raise ConfigError("pictures need matplotlib", where="plot",
                          fix='pip install "recbole-outfit[plot]" (matplotlib and scikit-learn)') from error


def figure_grid(rows=1, columns=1, figsize=None, dpi=None, **subplots):
    """A matplotlib Figure and its ``[rows, columns]`` array of axes (``subplots``: ``sharex``, ...). The
    Figure is not registered with pyplot and needs no backend: :func:`save` renders it with Agg, and
    matplotlib's current backend (a notebook's inline one, a GUI's) stays as it was."""
    require_matplotlib()
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, dpi=dpi)
    return figure, figure.subplots(rows, columns, squeeze=False, **subplots)


def save(figure, path, dpi=110):
    """Write ``figure`` to ``path`` (PNG) atomically."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with atomic_write(path, "wb") as f:
        figure.savefig(f, format="png", dpi=dpi, bbox_inches="tight")
    return path


def outfit_grid(outfits, image_of, path, title=None):
    """One row per outfit: its garments' images left to right, then its score.

    Args:
        outfits: dicts with ``garments`` (tokens), ``categories`` and optionally ``score`` and ``outfit``
            (as ``Recommender.rank`` / ``compose`` return them).
        image_of: garment token -> uint8 image ``[S, S, 3]``.
        path: the PNG to write.
    """
    if not outfits:
        raise ConfigError("no outfits to draw", where="outfit grid", fix="ask for k >= 1 outfits of a known user")
    columns = max(len(o["garments"]) for o in outfits)
    figure, axes = figure_grid(len(outfits), columns, figsize=(1.6 * columns + 1.6, 1.65 * len(outfits)))
    for row, outfit in enumerate(outfits):
        for column in range(columns):
            axis = axes[row][column]
            axis.set_xticks([])
            axis.set_yticks([])
            if column < len(outfit["garments"]):
                axis.imshow(image_of(outfit["garments"][column]))
                axis.set_xlabel(outfit["categories"][column], fontsize=7)
            else:
                axis.axis("off")
        label = f"#{row + 1}"
        if outfit.get("score") is not None:
            label += f"\n{outfit['score']:.3f}"
        if outfit.get("outfit"):
            label += f"\n{outfit['outfit']}"
        axes[row][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8, labelpad=12)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return save(figure, path)


def tsne_map(points, kinds, owners, path, title=None, user_names=None):
    """A 2-D map of users and outfits (the paper's Fig. 8).

    Args:
        points: ``[N, 2]`` coordinates (from t-SNE).
        kinds: ``[N]`` str: ``user`` (drawn as X), ``positive`` (a training positive of its owner: coloured
            square), ``held_out`` (a test positive of its owner: coloured square, dashed border), ``other``
            (an outfit of none of the highlighted users: grey square, black border); for sampled training
            negatives of an owner: ``negative`` (white square, black border), ``near_negative`` (one the model
            places among the owner's positives: light owner colour, black border), ``false_negative`` (one that
            is a test positive of the owner: owner colour, dashed black border).
        owners: ``[N]`` int: index of the highlighted user a point belongs to (-1 for ``other``).
        user_names: a label per highlighted user for the legend.
    """
    points, kinds, owners = np.asarray(points), np.asarray(kinds), np.asarray(owners)
    figure, axes = figure_grid(figsize=(7, 6))
    axis = axes[0][0]
    other = kinds == "other"
    axis.scatter(points[other, 0], points[other, 1], marker="s", s=22, facecolor="#dddddd", edgecolor="black",
                 linewidth=0.5, label="other outfits")
    for owner in sorted(set(owners[owners >= 0].tolist())):
        colour = COLOURS[owner % len(COLOURS)]
        name = user_names[owner] if user_names else str(owner)
        mine = owners == owner
        for kind, style, label in (("positive", "solid", "training positives"),
                                   ("held_out", "dashed", "test positives")):
            chosen = mine & (kinds == kind)
            if chosen.any():
                axis.scatter(points[chosen, 0], points[chosen, 1], marker="s", s=34, facecolor=colour + "55",
                             edgecolor=colour, linewidth=1.4, linestyle=style, label=f"user {name}: {label}")
        for kind, face, style, label in (("negative", "#ffffff", "solid", "sampled negatives"),
                                         ("near_negative", colour + "33", "solid", "negatives among its positives"),
                                         ("false_negative", colour + "55", "dashed", "negatives that are test positives")):
            chosen = mine & (kinds == kind)
            if chosen.any():
                axis.scatter(points[chosen, 0], points[chosen, 1], marker="s", s=26, facecolor=face, edgecolor="black",
                             linewidth=0.9, linestyle=style, label=f"user {name}: {label}")
        chosen = mine & (kinds == "user")
        axis.scatter(points[chosen, 0], points[chosen, 1], marker="X", s=220, color=colour, edgecolor="black",
                     linewidth=1.0, label=f"user {name}", zorder=5)
    axis.set_xticks([])
    axis.set_yticks([])
    axis.legend(fontsize=7, loc="best", framealpha=0.85)
    if title:
        axis.set_title(title, fontsize=10)
    figure.tight_layout()
    return save(figure, path)


def training_curve(history, path, title=None):
    """Loss parts and validation metrics per epoch.

    Args:
        history: ``{"epochs": [e...], "loss": {name: [value per epoch]}, "valid": {metric: [value or None]}}``
            (what ``OutfitTrainerMixin.history()`` returns).
    """
    epochs = history.get("epochs") or []
    if not epochs:
        raise ConfigError("the training history has no epoch", where="training curve",
                          fix="plot a run that trained for at least one epoch")
    valid = {k: v for k, v in (history.get("valid") or {}).items() if any(x is not None for x in v)}
    figure, axes = figure_grid(1, 2 if valid else 1, figsize=(10 if valid else 5.5, 3.8))
    loss_axis = axes[0][0]
    for name, values in history["loss"].items():
        loss_axis.plot(epochs, values, marker="o", label=name)
    from matplotlib.ticker import MaxNLocator

    loss_axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel(f"training loss ({history.get('loss_unit') or 'mean per batch'})")
    loss_axis.legend(fontsize=8)
    loss_axis.grid(alpha=0.3)
    if valid:
        metric_axis = axes[0][1]
        for name, values in valid.items():
            shown = [(e, v) for e, v in zip(epochs, values) if v is not None]
            metric_axis.plot([e for e, _ in shown], [v for _, v in shown], marker="o", label=name)
        best = history.get("best_epoch")
        if best is not None:
            metric_axis.axvline(best, color="grey", linestyle=":", label=f"best epoch ({best})")
        metric_axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        metric_axis.set_xlabel("epoch")
        metric_axis.set_ylabel("validation")
        metric_axis.legend(fontsize=8)
        metric_axis.grid(alpha=0.3)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return save(figure, path)


def model_comparison(panels, path, title=None, ylabel="test x 100"):
    """Each model's mean with its standard deviation over seeds as an error bar, a panel per measure (AUC,
    NDCG, a cold-start setting), the best mean of a panel as a star. Points, not bars: the differences that
    matter are small against the distance to zero.

    Args:
        panels: ``[(panel title, {model: (mean, std)})]``, drawn left to right; a panel keeps its models' order
            and an empty panel is left out.
    """
    panels = [(name, values) for name, values in panels if values]
    if not panels:
        raise ConfigError("no results to draw", where="comparison picture", fix="compare at least one model")
    width = max(3.0, 0.65 * max(len(values) for _, values in panels) + 1.2)
    figure, axes = figure_grid(1, len(panels), figsize=(width * len(panels), 3.8))
    for axis, (name, values) in zip(axes[0], panels):
        models = list(values)
        means = np.array([values[m][0] for m in models], dtype=float)  # [models]
        stds = np.array([values[m][1] for m in models], dtype=float)  # [models]
        x = np.arange(len(models))
        axis.errorbar(x, means, yerr=stds, fmt="o", color=COLOURS[0], ecolor=COLOURS[0], capsize=4, markersize=6)
        best = int(np.argmax(means))
        axis.plot([x[best]], [means[best]], marker="*", markersize=15, color=COLOURS[1], linestyle="none")
        slanted = max(len(m) for m in models) > 6  # long names (LPAE:lpae_variant=g) would overlap
        axis.set_xticks(x)
        axis.set_xticklabels(models, rotation=30 if slanted else 0, ha="right" if slanted else "center", fontsize=8)
        axis.set_xlim(-0.6, len(models) - 0.4)
        axis.set_title(f"{name}\nbest (star): {models[best]} {means[best]:.2f}", fontsize=9)
        axis.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return save(figure, path)


def sweep_lines(panels, points, path, x_label, y_label="test x 100", title=None):
    """A figure over one setting (the paper's Fig. 4-7): a panel per dataset; each series a line through its
    means at ``points`` with the standard deviation over seeds as error bars; each reference a horizontal line
    with its spread as a band.

    Args:
        panels: ``[(panel title, {series: [(mean, std) per point]}, {reference: (mean, std)})]``.
        points: the x tick labels (settings need not be numeric: augmentation pairs, backbone sizes).
    """
    if not panels:
        raise ConfigError("no results to draw", where="sweep picture", fix="run at least one series")
    width = max(4.0, 0.7 * len(points) + 2.0)
    figure, axes = figure_grid(1, len(panels), figsize=(width * len(panels), 3.8))
    x = np.arange(len(points))
    for axis, (name, series, references) in zip(axes[0], panels):
        for index, (label, values) in enumerate(series.items()):
            means = np.array([v[0] for v in values], dtype=float)  # [points]
            stds = np.array([v[1] for v in values], dtype=float)  # [points]
            colour = COLOURS[index % len(COLOURS)]
            axis.errorbar(x, means, yerr=stds, fmt="-o", color=colour, ecolor=colour, capsize=4, markersize=5,
                          label=label)
        for index, (label, (mean, std)) in enumerate(references.items()):
            colour = COLOURS[(len(series) + index) % len(COLOURS)]
            axis.axhline(mean, color=colour, linestyle="--", linewidth=1.2, label=f"{label} (reference)")
            axis.axhspan(mean - std, mean + std, color=colour, alpha=0.12, linewidth=0)
        slanted = max(len(str(p)) for p in points) > 6
        axis.set_xticks(x)
        axis.set_xticklabels(points, rotation=30 if slanted else 0, ha="right" if slanted else "center", fontsize=8)
        axis.set_xlim(-0.4, len(points) - 0.6)
        axis.set_xlabel(x_label)
        axis.set_title(name, fontsize=9)
        axis.grid(axis="y", alpha=0.3)
        axis.legend(fontsize=7)
    axes[0][0].set_ylabel(y_label)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return save(figure, path)
