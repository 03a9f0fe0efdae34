"""The body of a run: stages, data, model, RecBole's Trainer, test, cold start, results.

1. Stages the model needs (a frozen teacher, a neighbour table), each built or reused (``stages.py``).
2. Data: atomic files converted or generated on demand, RecBole's dataset and dataloaders.
3. The model, built from its config, its training data and the stages' artifacts.
4. RecBole's Trainer: training with early stopping on the validation metric, then the best checkpoint on
   the test split(s); cold start when asked; a results table in the log and a JSON file.
"""

import contextlib
import os
import time
from logging import getLogger

from recbole.utils import init_seed, set_color

from recbole_outfit.checkpoint import load_checkpoint
from recbole_outfit.data.prepare import ensure_atomic_dataset
from recbole_outfit.errors import ConfigError
from recbole_outfit.evaluator.cold_start import ANCHOR_SEARCH, STRATEGIES, ColdStartEvaluator, ColdUsers
from recbole_outfit.exclusive import one_builder
from recbole_outfit.pipeline.keys import EVALUATION_KEYS, fingerprint, stage_config
from recbole_outfit.pipeline.preflight import (check_checkpoint_fits, check_checkpoint_target, check_device,
                                               check_outputs)
from recbole_outfit.pipeline.stages import check_stages, load_artifacts, prepare_stages
from recbole_outfit.report import results_table, write_json_atomic
from recbole_outfit.run_id import run_file_name
from recbole_outfit.utils import create_dataset, data_preparation, get_trainer, is_outfit_model


def build_model(config, train_dataset, training=True):
    """``config``'s model for ``train_dataset`` on ``config['device']``, handed the artifacts its stages made
    when it is built for training (a model rebuilt for evaluation needs none)."""
    artifacts = load_artifacts(config, train_dataset) if training else {}
    return config.model_class(config, train_dataset, **artifacts).to(config["device"])


def train_and_test(config, saved=True):
    """Train and test the model of an already built ``config`` (also how a stage trains its model)."""
    check_outputs(config)
    check_device(config)
    if config["checkpoint"]:
        return evaluate_checkpoint(config)
    logger = getLogger()
    check_stages(config)
    prepare_cold_dataset(config)
    prepare_stages(config, train_and_test)
    dataset = create_dataset(config)
    logger.info(dataset)
    train_data, valid_data, test_data = data_preparation(config, dataset)

    init_seed(config["seed"], config["reproducibility"])
    model = build_model(config, train_data._dataset)
    logger.info(model)
    trainer = get_trainer(config, config.model_class)(config, model)
    with one_run_of_this_configuration(config):
        resume_file = set_up_resume(config, trainer)
        started = time.time()
        best_valid_score, best_valid_result = trainer.fit(train_data, valid_data, saved=saved,
                                                          show_progress=config["show_progress"])
        train_seconds = time.time() - started
        if resume_file and os.path.exists(resume_file):
            os.remove(resume_file)  # finished: nothing to resume
    epochs = len(trainer.train_loss_dict)
    started = time.time()
    test_results = {name: trainer.evaluate(loader, load_best_model=saved, show_progress=config["show_progress"])
                    for name, loader in test_data.items()}
    test_seconds = time.time() - started
    timing = {"train_seconds": round(train_seconds, 2), "epochs": epochs,
              "seconds_per_epoch": round(train_seconds / max(epochs, 1), 2), "test_seconds": round(test_seconds, 2)}
    return cold_start_and_write_results(config, trainer, test_results, best_valid_score, best_valid_result,
                  trainer.saved_model_file if saved else None, timing)


def resume_path(config):
    """Where the resume state of ``config``'s run is kept: one file per run configuration (its fingerprint)."""
    return os.path.join(config["checkpoint_dir"], "resume",
                        f"{config['model']}-{config['dataset']}-{fingerprint(config)}.pth")


@contextlib.contextmanager
def one_run_of_this_configuration(config):
    """Hold the lock of this configuration's resume file while it trains (``exclusive.one_builder``).

    A second run of the same configuration started meanwhile (the same command twice, or a comparison and a
    single run that share a configuration) waits here, so that it never takes the live run's resume state and
    best checkpoint for an interrupted run's leftovers and removes them; it trains once the first has finished
    (or was killed: the system releases a dead process's lock, and its leftovers are then handled as an
    interrupted run's). A distributed run keeps no resume state and takes no lock.
    """
    if not config["single_spec"]:
        yield
        return
    path = resume_path(config)

    def waiting(pid):
        getLogger().warning(f"Process {pid or '(unknown)'} is running this same configuration (its resume state is "
                            f"{path}); waiting for it to finish before this run trains, so that neither removes the "
                            f"other's checkpoint (stop one of them if you did not mean to run it twice)")

    with one_builder(path, on_wait=waiting):
        yield


def set_up_resume(config, trainer):
    """Point ``trainer`` at this configuration's resume file and resume from it when asked (``resume: True``).

    Rule for leftovers: an interrupted run keeps its resume state and partial best checkpoint until it is
    resumed, or until a fresh run of the same configuration starts, which removes both (logged). Finished
    runs remove their resume state. Returns the resume file (None in a distributed run: not supported there).
    """
    if not config["single_spec"]:
        if config["resume"]:
            getLogger().warning("resume is not supported in a distributed run; starting from epoch 0")
        return None
    path = resume_path(config)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.isfile(path) and config["resume"]:
        trainer.resume_checkpoint(path)
    elif os.path.isfile(path):
        _discard_interrupted_run(path, config)
    elif config["resume"]:
        getLogger().info(f"resume: no interrupted run of this configuration ({path}); starting from epoch 0")
    trainer.resume_file = path
    return path


def _discard_interrupted_run(path, config):
    """A fresh run replaces an interrupted one of the same configuration: its resume state and best checkpoint."""
    partial = None
    try:
        partial = load_checkpoint(path, trust=config["trust_checkpoint"], where="resume")["saved_model_file"]
    except ConfigError as error:
        getLogger().warning(f"the resume state {path} is unreadable ({error}); removing it")
    for leftover in (path, partial):
        if leftover and os.path.isfile(leftover):
            os.remove(leftover)
    getLogger().warning(f"An interrupted run of this configuration was left in {path}; starting afresh and removing "
                        f"it{' and ' + partial if partial else ''} (--resume=True would have continued it)")


def evaluate_checkpoint(config):
    """Test a saved model (``--checkpoint=PATH``) with its own saved configuration, without training."""
    path = config["checkpoint"]
    state = load_checkpoint(path, trust=config["trust_checkpoint"])
    saved = state["config"]
    check_checkpoint_target(config, saved, path)
    for key in EVALUATION_KEYS:
        saved[key] = config[key]
    saved["benchmark_filename"] = None
    saved._derive_outfit_settings()
    getLogger().info(f"Evaluating {saved['model']} on {saved['dataset']} from {path} (no training)")
    dataset = create_dataset(saved)
    train_data, _, test_data = data_preparation(saved, dataset)
    model = build_model(saved, train_data._dataset, training=False)
    check_checkpoint_fits(model, state, path)
    trainer = get_trainer(saved, saved.model_class)(saved, model)
    started = time.time()
    test_results = {name: trainer.evaluate(loader, load_best_model=True, model_file=path,
                                           show_progress=saved["show_progress"]) for name, loader in test_data.items()}
    timing = {"test_seconds": round(time.time() - started, 2)}
    return cold_start_and_write_results(saved, trainer, test_results, None, None, path, timing)


def prepare_cold_dataset(config):
    """Convert (or generate) the cold-start users' dataset before anything trains, so that one that cannot be
    read stops the run with its message at the start, not after training."""
    if config["cold_dataset"] and is_outfit_model(config.model_class):
        ensure_atomic_dataset(stage_config(config.model_class, config, {}, dataset=config["cold_dataset"]))


def cold_start(config, model):
    """Cold-start AUC of ``config['cold_dataset']``'s users through the trained ``model`` (paper 3.5, 4.3)."""
    cold_config = stage_config(config.model_class, config, {}, dataset=config["cold_dataset"])
    cold_users = ColdUsers(create_dataset(cold_config))
    strategies = list(STRATEGIES)
    if config["lpae_cold_start"] == "anchor_search" and hasattr(model, "anchor_search_scores"):
        strategies.append(ANCHOR_SEARCH)  # LPAE's own cold start (paper Table 3's LPAE rows)
    evaluator = ColdStartEvaluator(shots=config["cold_shots"], repeats=config["cold_repeats"], seed=config["seed"],
                                   delta=config["cold_delta"], tau=config["cold_tau"], strategies=strategies)
    return {"dataset": config["cold_dataset"], "users": int(len(cold_users.users())),
            "user_auc": evaluator.evaluate(model, cold_users)}


def results_name(config):
    """The results JSON's file name, ``<model>-<dataset>-<run id>.json``: the id its log and checkpoint carry."""
    return run_file_name(config, ".json")


def cold_start_and_write_results(config, trainer, test_results, best_valid_score, best_valid_result, checkpoint,
                                 timing):
    """Cold start (if asked), the results table in the log, and the results JSON; returns the results dict."""
    logger = getLogger()
    table = results_table({"valid": best_valid_result or {}, **test_results})
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
        "checkpoint": checkpoint,
        "timing": timing,
    }
    for name, values in test_results.items():
        if name != "test":
            result[f"{name}_result"] = dict(values)
    if hasattr(trainer, "history"):  # the plugin's trainers: loss parts and validation metrics per epoch
        result["history"] = trainer.history()
    if getattr(trainer, "curve_file", None):  # --plot=True: the training curve the trainer drew
        result["training_curve"] = trainer.curve_file
    if config["cold_dataset"] and is_outfit_model(type(trainer.model)):
        result["cold_start"] = cold_start(config, trainer.model)
    elif config["cold_dataset"]:  # RecBole's ID models
        logger.warning(f"Cold start on {config['cold_dataset']} skipped for {config['model']}: it scores outfits by "
                       f"id, and every outfit of a cold dataset is new (cold start needs a visual outfit model)")
    if config["local_rank"]:  # distributed run: the first process reports
        return result
    path = config["results_json"] or os.path.join(config["checkpoint_dir"], "results", results_name(config))
    result["results_json"] = write_json_atomic(path, result)
    logger.info(f"Results written to {path}")
    return result
