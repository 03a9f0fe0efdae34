"""``run_recbole_outfit``: one command from a model and dataset name to test results (DESIGN.md section 6).

1. Config (properties layers, config files, config dict, ``--key=value``).
2. Data: atomic files converted or generated on demand (``recbole_outfit.data.prepare``).
3. Stages the model needs (a frozen teacher, a neighbour table), each cached and reused (see
   ``OutfitRecommender.prepare_stages``).
4. RecBole's Trainer: training with early stopping on validation ``user_auc``, then the best checkpoint on
   the test split(s); a results table in the log and a JSON file.
"""

import os
import time
from logging import getLogger

from recbole.utils import get_local_time, init_logger, init_seed, set_color

from recbole_outfit.config import Config
from recbole_outfit.report import results_table, write_json_atomic
from recbole_outfit.utils import create_dataset, data_preparation, get_trainer


def run_recbole_outfit(model=None, dataset=None, config_file_list=None, config_dict=None, saved=True):
    """Train and test ``model`` on ``dataset``; return the results dict (also written as JSON).

    Args:
        model (str or class): a recbole-outfit model (``Teacher``, ``FNDCL``, ...) or a RecBole model.
        dataset (str): a dataset with a yaml in ``properties/dataset`` or converted atomic files.
        config_file_list (list of str): extra yaml files.
        config_dict (dict): extra settings (below ``--key=value`` in precedence, as in RecBole).
        saved (bool): keep the best checkpoint and test it (RecBole's meaning).
    """
    config = Config(model=model, dataset=dataset, config_file_list=config_file_list, config_dict=config_dict)
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    getLogger().info(config)
    return train_and_test(config, saved=saved, config_file_list=config_file_list, config_dict=config_dict)


def train_and_test(config, saved=True, config_file_list=None, config_dict=None):
    """The body of a run for an already built ``config`` (the staged pipeline runs it once per stage)."""
    logger = getLogger()
    model_class = config.model_class
    prepare = getattr(model_class, "prepare_stages", None)
    if prepare is not None:
        prepare(config, config_file_list=config_file_list, config_dict=config_dict)
        init_seed(config["seed"], config["reproducibility"])  # same data order whether stages ran or were reused

    dataset = create_dataset(config)
    logger.info(dataset)
    train_data, valid_data, test_data = data_preparation(config, dataset)

    init_seed(config["seed"], config["reproducibility"])
    model = model_class(config, train_data._dataset).to(config["device"])
    logger.info(model)
    trainer = get_trainer(config, model_class)(config, model)

    started = time.time()
    best_valid_score, best_valid_result = trainer.fit(train_data, valid_data, saved=saved,
                                                      show_progress=config["show_progress"])
    train_seconds = time.time() - started
    epochs = len(trainer.train_loss_dict)
    started = time.time()
    test_results = {name: trainer.evaluate(loader, load_best_model=saved, show_progress=config["show_progress"])
                    for name, loader in test_data.items()}
    test_seconds = time.time() - started

    table = results_table({"valid": best_valid_result, **test_results})
    logger.info(set_color("best valid ", "yellow") + f": {best_valid_result}")
    logger.info(set_color("test result", "yellow") + f": {test_results['test']}")
    logger.info(f"{config['model']} on {config['dataset']}:\n{table}")
    result = {
        "model": config["model"],
        "dataset": config["dataset"],
        "config": dict(config.final_config_dict),
        "best_valid_score": best_valid_score,
        "best_valid_result": dict(best_valid_result or {}),
        "test_result": dict(test_results["test"]),
        "checkpoint": trainer.saved_model_file if saved else None,
        "timing": {"train_seconds": round(train_seconds, 2), "epochs": epochs,
                   "seconds_per_epoch": round(train_seconds / max(epochs, 1), 2),
                   "test_seconds": round(test_seconds, 2)},
    }
    for name, values in test_results.items():
        if name != "test":
            result[f"{name}_result"] = dict(values)
    path = config["results_json"] or os.path.join(
        config["checkpoint_dir"], "results", f"{config['model']}-{config['dataset']}-{get_local_time()}.json")
    result["results_json"] = write_json_atomic(path, result)
    logger.info(f"Results written to {path}")
    return result
