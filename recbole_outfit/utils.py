"""Model, trainer, dataset and dataloader factories: plugin first, RecBole as the fallback."""

import difflib
import os
import importlib.util
import warnings
from logging import getLogger

from recbole.data.dataloader import TrainDataLoader
from recbole.data.utils import create_samplers
from recbole.utils import set_color
from recbole.utils import get_trainer as get_recbole_trainer

from recbole_outfit.data import dataset_cache
from recbole_outfit.data.dataloader import OutfitEvalDataLoader, OutfitTrainDataLoader
from recbole_outfit.data.dataset import OutfitDataset
from recbole_outfit.data.prepare import ensure_atomic_dataset
from recbole_outfit.data.sampler import OutfitNegativeSampler
from recbole_outfit.errors import ConfigError, DataFormatError
from recbole_outfit.model import MODELS, OutfitRecommender
from recbole_outfit.trainer import OutfitTrainer, with_outfit_evaluation

RECBOLE_MODEL_PACKAGES = ("general_recommender", "context_aware_recommender", "sequential_recommender",
                          "knowledge_aware_recommender")
RECBOLE_EXLIB_MODELS = {"xgboost": "XGBoost", "lightgbm": "LightGBM"}


def plugin_models():
    """{name: class} of every model this plugin registers."""
    return MODELS


def _recbole_model(name):
    """RecBole's own model class called ``name``, or None (never touches exlib unless asked for it)."""
    module_name = name.lower()
    packages = list(RECBOLE_MODEL_PACKAGES)
    if module_name in RECBOLE_EXLIB_MODELS:
        packages.append("exlib_recommender")
    for package in packages:
        path = f"recbole.model.{package}.{module_name}"
        if importlib.util.find_spec(path) is not None:
            module = importlib.import_module(path)
            return getattr(module, name, None)
    return None


def get_model(name):
    """Model class by name: the plugin's models first, then RecBole's."""
    models = plugin_models()
    if name in models:
        return models[name]
    model = _recbole_model(name)
    if model is not None:
        return model
    close = difflib.get_close_matches(name, list(models), n=1) or difflib.get_close_matches(
        name.lower(), [m.lower() for m in models], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ConfigError(
        f"unknown model {name!r}", where="--model",
        fix=f"recbole-outfit models: {', '.join(models)}; RecBole's own models (e.g. BPR, Pop) run too. "
            f"Names are case-sensitive.{hint}",
    )


def is_outfit_model(model_class):
    """True for the plugin's visual outfit models (subclasses of ``OutfitRecommender``)."""
    return isinstance(model_class, type) and issubclass(model_class, OutfitRecommender)


def get_trainer(config, model_class):
    """The plugin's trainer for plugin models; RecBole's trainer for RecBole models, with the plugin's
    evaluation (per-user collector) and optimizer extras mixed in."""
    if is_outfit_model(model_class):
        return getattr(model_class, "trainer_class", OutfitTrainer)
    return with_outfit_evaluation(get_recbole_trainer(config["MODEL_TYPE"], config["model"]))


def process_dataset(config):
    """An ``OutfitDataset`` read and processed from the atomic files."""
    with warnings.catch_warnings():  # RecBole's in-place fillna on pandas < 3: one FutureWarning per field
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"recbole\.data")
        return OutfitDataset(config)


def create_dataset(config):
    """Make sure the atomic files exist (converting or generating them), then load an ``OutfitDataset``: from
    its verified cache with ``dataset_cache: True`` (``data/dataset_cache.py``), else from the atomic files."""
    ensure_atomic_dataset(config)
    if config["dataset_cache"]:
        return dataset_cache.load_or_build(config, process_dataset)
    return process_dataset(config)


def data_preparation(config, dataset):
    """Split by ``benchmark_filename`` and build the dataloaders.

    Returns:
        ``(train_data, valid_data, test_data)`` where ``test_data`` is a dict ``{split name: dataloader}``
        holding ``test`` and, with ``test_hard: True``, ``test_hard``.
    """
    built = dataset.build()
    names = config["benchmark_filename"]
    for name, part in zip(names, built):  # an empty split fails deep inside training or testing otherwise
        if len(part.inter_feat) == 0:
            path = os.path.join(config["data_path"], f"{config['dataset']}.{name}.inter")
            raise DataFormatError(f"the {name} split has no rows", where=path,
                                  fix="convert the dataset again from raw files whose tuples files hold rows "
                                      "(python -m recbole_outfit.data.convert --src ROOT --dataset "
                                      f"{config['dataset']} --force)")
    by_name = dict(zip(names, built))
    train_dataset, valid_dataset = built[0], built[1]
    if is_outfit_model(get_model(config["model"])):
        sampler = OutfitNegativeSampler(train_dataset, config["train_neg_sample_num"], config["train_neg_hard_ratio"])
        train_data = OutfitTrainDataLoader(config, train_dataset, sampler, shuffle=config["shuffle"])
        sampling = f"train_neg_sample_num={config['train_neg_sample_num']}, " \
                   f"train_neg_hard_ratio={config['train_neg_hard_ratio']}"
    else:
        train_sampler, _, _ = create_samplers(config, dataset, built[:3])
        train_data = TrainDataLoader(config, train_dataset, train_sampler, shuffle=config["shuffle"])
        sampling = str(config["train_neg_sample_args"])
    valid_data = OutfitEvalDataLoader(config, valid_dataset, None, shuffle=False)
    test_data = {name: OutfitEvalDataLoader(config, by_name[name], None, shuffle=False) for name in names[2:]}
    logger = getLogger()
    logger.info(set_color("[Training]: ", "pink") + set_color("train_batch_size", "cyan") + " = "
                + set_color(f"[{config['train_batch_size']}]", "yellow") + set_color(" negatives", "cyan") + ": "
                + set_color(f"[{sampling}]", "yellow"))
    logger.info(set_color("[Evaluation]: ", "pink") + set_color("eval_batch_size", "cyan") + " = "
                + set_color(f"[{config['eval_batch_size']}]", "yellow") + set_color(" splits", "cyan") + ": "
                + set_color(f"[valid={names[1]}, test={', '.join(names[2:])}]", "yellow"))
    return train_data, valid_data, test_data
