"""The settings that name one of a fixed set of options, and the one check every caller uses.

A shared utility (no torch, no RecBole): the check before any work (``validation.py``, also run before the
heavy imports of the command line) and the code that later uses a value (the item encoder's size, the negative
pool, the teacher kind, ...) call the same :func:`choose`, so a value that passes the first check never fails
the second.

The case rule, decided here once: an option matches regardless of case (``xs`` is ``XS``, ``SGD`` is ``sgd``)
and the check returns the option's own spelling, which validation writes back into the configuration. Every
later reader therefore sees the canonical name, and a run given ``--backbone=xs`` is the same run (same
fingerprint, same cached stages) as one given ``--backbone=XS``.
"""

import difflib

from recbole_outfit.errors import ConfigError

BACKBONES = ("large", "M", "S", "XS")  # AlexNet-large, FC widths 1/2 and 1/4, AlexNet-small (model/layers.py)
NEGATIVE_POOLS = ("own", "batch", "batch_and_positives")
LEARNERS = ("sgd", "adam", "adamw", "adagrad", "rmsprop", "sparse_adam")  # RecBole's (trainer._build_optimizer)
AUGMENTATIONS = ("identity", "erase", "replace")  # model/augment.py
PRETRAIN_HEADS = ("gap", "classifier")  # model/pretrain.py
TEACHERS = ("trained", "oracle")
FND_SCALES = ("paper", "normalized")

# key -> its options, in the order the documentation lists them (the first is the example in messages)
OPTIONS = {
    "backbone": BACKBONES,
    "negative_pool": NEGATIVE_POOLS,
    "learner": LEARNERS,
    "valid_split": ("valid_teacher", "valid_student"),
    "image_store_place": ("auto", "gpu", "cpu"),
    "lpae_variant": ("u", "g"),
    "lpae_score": ("max", "sum"),  # model/lpae.py: the nearest anchor, or LPAE-Net's sum over anchors
    "lpae_cold_start": ("anchor_search", "neighbours"),  # model/lpae.py, evaluator/cold_start.py
    "teacher": TEACHERS,
    "fnd_scale": FND_SCALES,
    "pretrain_head": PRETRAIN_HEADS,
}
# what ~ (not set) stands for, where a key allows it
DEFAULTS = {"teacher": "trained", "fnd_scale": "paper"}


def choose(key, value, where=None):
    """The canonical spelling of ``value`` among ``key``'s options (case-insensitive), ``DEFAULTS[key]`` (or
    None) for None; ``ConfigError`` naming ``where`` (default: the key) otherwise."""
    allowed = OPTIONS[key]
    if value is None:
        return DEFAULTS.get(key)
    for option in allowed:
        if str(value).lower() == option.lower():
            return option
    close = difflib.get_close_matches(str(value).lower(), [a.lower() for a in allowed], n=1)
    hint = next((f"Did you mean {a!r}? " for a in allowed if close and a.lower() == close[0]), "")
    raise ConfigError(f"{key} must be one of {', '.join(allowed)}, got {value!r}", where=where or key,
                      fix=f"{hint}Case does not matter, e.g. {allowed[0]}")


def check_augmentation_pair(pair, where="cl_augmentations"):
    """``cl_augmentations`` as a list of two canonical augmentation names, or a ConfigError saying why it is
    not a usable pair (paper 3.3: two views; two identities would give equal views)."""
    names = list(pair) if isinstance(pair, (list, tuple)) else None
    canonical = [a for name in names or () for a in AUGMENTATIONS if str(name).lower() == a]
    if names is None or len(names) != 2 or len(canonical) != 2:
        raise ConfigError(f"cl_augmentations must be two of {', '.join(AUGMENTATIONS)}, got {pair!r}",
                          where=where, fix="a list of two, e.g. [erase, replace]")
    if canonical == ["identity", "identity"]:
        raise ConfigError("cl_augmentations [identity, identity] gives two equal views", where=where,
                          fix="use erase or replace for at least one view (paper 4.6)")
    return canonical
