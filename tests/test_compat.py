"""The RecBole fixes stay on the plugin's own classes (``recbole_outfit/compat.py``)."""

import os

from recbole.config.configurator import Config as RecBoleConfig

import recbole_outfit.config
from recbole_outfit.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_numpy_fix_is_the_plugins_config_only():
    assert RecBoleConfig.compatibility_settings.__module__ == "recbole.config.configurator"  # RecBole's, untouched
    assert Config.compatibility_settings.__module__ == recbole_outfit.config.__name__


def test_the_ledger_lists_every_recbole_internal_the_plugin_overrides():
    """Every private method of a RecBole class that a plugin class redefines is named in compat.py's ledger."""
    import inspect

    import recbole_outfit.data.dataloader
    import recbole_outfit.data.dataset
    import recbole_outfit.model.autoencoder
    import recbole_outfit.trainer.trainer

    ledger = open(os.path.join(ROOT, "recbole_outfit", "compat.py"), encoding="utf-8").read()
    classes = [Config, recbole_outfit.data.dataset.OutfitDataset, recbole_outfit.data.dataloader.OutfitTrainDataLoader,
               recbole_outfit.model.autoencoder.GarmentDataLoader, recbole_outfit.trainer.trainer.OutfitTrainer]
    missing = []
    for cls in classes:
        recbole_bases = [b for b in cls.__mro__ if b.__module__.startswith("recbole.")]
        for klass in cls.__mro__:
            if not klass.__module__.startswith("recbole_outfit."):
                continue
            for name in vars(klass):
                if name.startswith("_") and not name.startswith("__") and inspect.isfunction(vars(klass)[name]) \
                        and any(name in vars(b) for b in recbole_bases) and f"``{name}``" not in ledger:
                    missing.append(f"{klass.__name__}.{name}")
    assert not missing, f"RecBole internals overridden but not in compat.py's ledger: {missing}"
