"""``run_recbole_outfit``: one command from a model and dataset name to test results (DESIGN.md section 6).

1. Config (properties layers, config files, config dict, ``--key=value``).
2. Data: atomic files converted or generated on demand (``recbole_outfit.data.prepare``).
3. Stages the model needs (a frozen teacher, a neighbour table), each cached and reused (see
   ``OutfitRecommender.prepare_stages`` and ``trainer/stages.py``).
4. RecBole's Trainer: training with early stopping on validation ``user_auc``, then the best checkpoint on
   the test split(s); a results table in the log and a JSON file.
"""

import os
import time
from logging import getLogger

from recbole.utils import get_local_time, init_seed, set_color

from recbole_outfit.compat import init_run_logger
from recbole_outfit.config import Config
from recbole_outfit.report import results_table, write_json_atomic
from recbole_outfit.trainer.stages import RESULT_ONLY_KEYS
from recbole_outfit.utils import create_dataset, data_preparation, get_trainer, is_outfit_model


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
    init_run_logger(config)
    getLogger().info(config)
    return train_and_test(config, saved=saved)


def prepare_stages(config):
    """The stages ``config``'s model needs, then a fresh seed (the same data order whether stages ran or were
    reused). RecBole's own models have none."""
    prepare = getattr(config.model_class, "prepare_stages", None)
    if prepare is not None:
        prepare(config)
        init_seed(config["seed"], config["reproducibility"])


def train_and_test(config, saved=True):
    """The body of a run for an already built ``config`` (the staged pipeline runs it once per stage)."""
    if config["checkpoint"]:
        return evaluate_checkpoint(config)
    logger = getLogger()
    model_class = config.model_class
    prepare_stages(config)
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
    timing = {"train_seconds": round(train_seconds, 2), "epochs": epochs,
              "seconds_per_epoch": round(train_seconds / max(epochs, 1), 2), "test_seconds": round(test_seconds, 2)}
    return report(config, trainer, test_results, best_valid_score, best_valid_result,
                  trainer.saved_model_file if saved else None, timing)


def report(config, trainer, test_results, best_valid_score, best_valid_result, checkpoint, timing):
    """Cold start (if asked), the results table in the log, and the results JSON."""
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
    if config["cold_dataset"] and is_outfit_model(type(trainer.model)):
        result["cold_start"] = cold_start(config, trainer.model)
    elif config["cold_dataset"]:  # RecBole's ID models
        logger.warning(f"Cold start on {config['cold_dataset']} skipped for {config['model']}: it scores outfits by "
                       f"id, and every outfit of a cold dataset is new (cold start needs a visual outfit model)")
    if config["local_rank"]:  # distributed run: the first process reports
        return result
    path = config["results_json"] or os.path.join(
        config["checkpoint_dir"], "results", f"{config['model']}-{config['dataset']}-{get_local_time()}.json")
    result["results_json"] = write_json_atomic(path, result)
    logger.info(f"Results written to {path}")
    return result


def run_distributed(model, dataset, config_file_list=None, config_dict=None, saved=True, nproc=2, world_size=-1,
                    ip="localhost", port="5678", group_offset=0):
    """RecBole's distributed mode for recbole-outfit: ``nproc`` processes on this machine (``world_size`` in
    all), nccl on GPU and gloo on CPU. Data conversion and the stages (teacher, neighbour table) run here
    first, in one process, so the workers only reuse them. Returns the first process's results."""
    import torch.multiprocessing as mp

    config = Config(model=model, dataset=dataset, config_file_list=config_file_list, config_dict=config_dict)
    init_seed(config["seed"], config["reproducibility"])
    init_run_logger(config)
    create_dataset(config)  # converts or generates the data if needed
    prepare_stages(config)
    settings = {**(config_dict or {}), "world_size": nproc if world_size == -1 else world_size, "ip": ip,
                "port": str(port), "nproc": nproc, "offset": group_offset}
    queue = mp.get_context("spawn").SimpleQueue()
    mp.spawn(_distributed_worker, args=(model, dataset, config_file_list, settings, saved, queue), nprocs=nproc,
             join=True)
    return None if queue.empty() else queue.get()


def _distributed_worker(rank, model, dataset, config_file_list, settings, saved, queue):
    import torch.distributed as dist

    result = run_recbole_outfit(model, dataset, config_file_list, {**settings, "local_rank": rank}, saved)
    if rank == 0:
        queue.put(result)
    dist.barrier()
    dist.destroy_process_group()


def cold_start(config, model):
    """Cold-start AUC of ``config['cold_dataset']``'s users through the trained ``model`` (paper 3.5, 4.3)."""
    from recbole_outfit.evaluator.cold_start import ColdStartEvaluator, ColdUsers
    from recbole_outfit.trainer.stages import stage_config

    cold_config = stage_config(config.model_class, config, {"evaluation_only": True}, dataset=config["cold_dataset"])
    cold_users = ColdUsers(create_dataset(cold_config))
    evaluator = ColdStartEvaluator(shots=config["cold_shots"], repeats=config["cold_repeats"], seed=config["seed"],
                                   delta=config["cold_delta"], tau=config["cold_tau"])
    return {"dataset": config["cold_dataset"], "users": int(len(cold_users.users())),
            "user_auc": evaluator.evaluate(model, cold_users)}


# keys a checkpoint evaluation takes from the current run rather than from the saved configuration
EVALUATION_KEYS = RESULT_ONLY_KEYS + (
    "eval_batch_size", "garment_batch_size", "image_store_place", "show_progress", "state", "results_json",
    "gpu_id", "use_gpu", "device", "checkpoint", "seed")


def evaluate_checkpoint(config):
    """Test a saved model (``--checkpoint=PATH``) with its own saved configuration, without training."""
    from recbole_outfit.compat import load_checkpoint
    from recbole_outfit.errors import ConfigError

    path = config["checkpoint"]
    if not os.path.isfile(path):
        raise ConfigError(f"checkpoint {path!r} does not exist", where="checkpoint",
                          fix="give a .pth file that a run saved (its log and results JSON name it)")
    saved = load_checkpoint(path)["config"]
    for key in EVALUATION_KEYS:
        saved[key] = config[key]
    saved["evaluation_only"] = True
    saved["benchmark_filename"] = None
    saved._derive_outfit_settings()
    getLogger().info(f"Evaluating {saved['model']} on {saved['dataset']} from {path} (no training)")
    dataset = create_dataset(saved)
    train_data, _, test_data = data_preparation(saved, dataset)
    model = saved.model_class(saved, train_data._dataset).to(saved["device"])
    trainer = get_trainer(saved, saved.model_class)(saved, model)
    started = time.time()
    test_results = {name: trainer.evaluate(loader, load_best_model=True, model_file=path,
                                           show_progress=saved["show_progress"]) for name, loader in test_data.items()}
    timing = {"test_seconds": round(time.time() - started, 2)}
    return report(saved, trainer, test_results, None, None, path, timing)
