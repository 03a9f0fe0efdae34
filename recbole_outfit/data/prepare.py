"""Making sure ``<data_path>/<dataset>`` holds converted atomic files before RecBole reads it.

1. If the raw Polyvore-U root named by ``raw_path`` exists, (re)convert from it: the converter does nothing
   when its manifest says the output is up to date with the raw files and options.
2. Else, for a synthetic dataset (``synthetic: True`` in its yaml), generate the raw root first.
3. Else use the atomic folder if it is complete.
4. Else stop with a message that says where to get Polyvore-U and which command converts it.
"""

import json
import os
import re
import shutil
from logging import getLogger

from recbole_outfit.atomic import publish_folder, remove_stale_temp
from recbole_outfit.data import convert, synthetic
from recbole_outfit.errors import ConfigError
from recbole_outfit.settings import known_datasets

POLYVORE_HELP = (
    "Polyvore-U is released with FHN (Lu et al., CVPR 2019): https://github.com/lzcn/Fashion-Hash-Net "
    "(see its data/README for the download). Unpack it so that ROOT holds tuples_630/ ... and images/291x291/ "
    "(or images/lmdb), then either pass --raw_path=ROOT or run "
    "python -m recbole_outfit.data.convert --src ROOT --dataset {dataset}"
)


def synthetic_options(config):
    return {"seed": config["synthetic_seed"], "scale": config["synthetic_scale"],
            "garment_scale": config["synthetic_garment_scale"], "difficulty": config["synthetic_difficulty"],
            "image_px": config["synthetic_image_px"], "style_breadth": config["synthetic_style_breadth"] or 0.0}


def synthetic_root_matches(root, options, folders):
    """True when ``root/synthetic.json`` records this generator version, ``options`` and at least ``folders``
    (``synthetic.json`` is written last, so a root that has it is complete)."""
    summary_path = os.path.join(root, "synthetic.json")
    if not os.path.isfile(summary_path):
        return False
    try:
        with open(summary_path, "r", encoding="utf-8") as f:
            summary = json.load(f)
    except (OSError, ValueError):  # cut short: generate again
        return False
    return (summary.get("generator_version") == synthetic.GENERATOR_VERSION
            and all(summary.get(k) == v for k, v in options.items())
            and set(folders) <= set(summary.get("folders", {})))


def ensure_synthetic_root(root, options, folders=None, show_progress=True):
    """Generate the synthetic Polyvore-U root (``folders``, default all four) unless ``root/synthetic.json``
    records the same options and folders.

    The root is generated into ``<root>.tmp-<pid>`` and renamed into place. Temporary roots of generators
    that no longer run (killed) are removed first; when another process publishes the same root at the same
    time, its root is used.
    """
    folders = list(folders or synthetic.DEFAULT_SPECS)
    parent = os.path.dirname(os.path.abspath(root))
    name = os.path.basename(os.path.abspath(root))
    remove_stale_temp(parent, rf"\.?{re.escape(name)}\.(?:tmp|old)-(?P<pid>\d+)")
    if synthetic_root_matches(root, options, folders):
        return root
    getLogger().info(f"Generating synthetic Polyvore-U into {root} ({options}, folders {folders})")
    tmp = f"{os.path.abspath(root)}.tmp-{os.getpid()}"
    try:
        os.makedirs(parent, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
    except OSError as error:
        raise ConfigError(
            f"cannot write the synthetic Polyvore-U root into {parent} ({error.strerror or type(error).__name__})",
            where="raw_path", fix="set raw_path to a folder you can write to, or change the folder's permissions",
        ) from None
    try:
        synthetic.generate(tmp, folders=folders, show_progress=show_progress, **options)
        publish_folder(tmp, root, lambda folder: synthetic_root_matches(folder, options, folders))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def ensure_atomic_dataset(config):
    """Return the dataset folder ``config['data_path']`` after making sure it is complete and current."""
    folder, dataset = config["data_path"], config["dataset"]
    out_root = os.path.dirname(os.path.normpath(folder))
    raw = config["raw_path"]
    show = bool(config["show_progress"])
    if config["synthetic"]:
        if not raw:
            raise ConfigError("a synthetic dataset needs raw_path (where its Polyvore-U root is generated)",
                              where=f"properties/dataset/{dataset}.yaml")
        ensure_synthetic_root(raw, synthetic_options(config), config["synthetic_folders"], show_progress=show)
    if raw and os.path.isdir(raw):
        convert.convert(raw, dataset, out=out_root, image_size=config["image_size"], folder=config["raw_folder"],
                        workers=config["convert_workers"], show_progress=show)
        return folder
    if convert.is_complete(folder, dataset):
        problems = convert.damaged(folder, dataset)
        if problems:
            raise ConfigError(
                f"the converted dataset {dataset!r} is damaged: {convert.damage_text(problems)}", where=folder,
                fix=f"convert it again: python -m recbole_outfit.data.convert --src ROOT --dataset {dataset} "
                    f"--out {out_root} --force (ROOT: its Polyvore-U root), or pass --raw_path=ROOT so that a run "
                    f"converts it")
        if problems is None:
            getLogger().warning(f"{folder} was converted by a version that recorded no checksums: its files are used "
                                f"unverified (convert it again with --force to record them)")
        return folder
    raise ConfigError(
        f"dataset {dataset!r} has no converted files in {folder} and no raw Polyvore-U folder "
        f"({'raw_path=' + repr(raw) + ' does not exist' if raw else 'raw_path is not set'})",
        where="--dataset", fix=f"known datasets: {', '.join(known_datasets())}. " + POLYVORE_HELP.format(dataset=dataset),
    )
