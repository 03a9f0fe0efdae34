"""Entry points: ``run_recbole_outfit`` (one command from a model and dataset name to test results),
``run_distributed`` (RecBole's distributed mode) and ``load_data_and_model`` (a saved run, rebuilt).

A run: Config (properties layers, config files, config dict, ``--key=value``), a seed and a log file, then the
pipeline (``recbole_outfit.pipeline``): the stages the model needs, data, RecBole's Trainer, test results.
"""

from logging import getLogger

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from recbole.utils import init_seed

from recbole_outfit.checkpoint import load_checkpoint
from recbole_outfit.compat import init_run_logger
from recbole_outfit.config import Config
from recbole_outfit.errors import ConfigError
from recbole_outfit.pipeline import build_model, prepare_stages, train_and_test
from recbole_outfit.pipeline.preflight import check_checkpoint_fits
from recbole_outfit.utils import create_dataset, data_preparation


def run_recbole_outfit(model=None, dataset=None, config_file_list=None, config_dict=None, saved=True,
                       command_line=None):
    """Train and test ``model`` on ``dataset``; return the results dict (also written as JSON).

    Args:
        model (str or class): a recbole-outfit model (``Teacher``, ``FNDCL``, ...) or a RecBole model.
        dataset (str): a dataset with a yaml in ``properties/dataset`` or converted atomic files.
        config_file_list (list of str): extra yaml files.
        config_dict (dict): extra settings (below ``--key=value`` in precedence, as in RecBole).
        saved (bool): keep the best checkpoint and test it (RecBole's meaning).
        command_line (dict): the command line's ``--key=value`` overrides (above ``config_dict``, as in RecBole),
            e.g. ``{"epochs": "3"}``; unlike RecBole's, nothing is read from ``sys.argv`` (``cli.main`` passes them).
    """
    config = Config(model=model, dataset=dataset, config_file_list=config_file_list, config_dict=config_dict,
                    command_line=command_line)
    init_seed(config["seed"], config["reproducibility"])
    init_run_logger(config)
    getLogger().info(config)
    return train_and_test(config, saved=saved)


def run_distributed(model, dataset, config_file_list=None, config_dict=None, saved=True, nproc=2, world_size=-1,
                    ip="localhost", port="5678", group_offset=0, command_line=None):
    """RecBole's distributed mode for recbole-outfit: ``nproc`` processes on this machine (``world_size`` in
    all), nccl on GPU and gloo on CPU. Data conversion and the stages (teacher, neighbour table) run here
    first, in one process, so the workers only reuse them. Returns the first process's results."""
    config = Config(model=model, dataset=dataset, config_file_list=config_file_list, config_dict=config_dict,
                    command_line=command_line)
    init_seed(config["seed"], config["reproducibility"])
    init_run_logger(config)
    create_dataset(config)  # converts or generates the data if needed
    prepare_stages(config, train_and_test)
    settings = {**(config_dict or {}), "world_size": nproc if world_size == -1 else world_size, "ip": ip,
                "port": str(port), "nproc": nproc, "offset": group_offset}
    queue = mp.get_context("spawn").SimpleQueue()
    mp.spawn(_distributed_worker, args=(model, dataset, config_file_list, settings, saved, queue, command_line),
             nprocs=nproc, join=True)
    return None if queue.empty() else queue.get()


def _distributed_worker(rank, model, dataset, config_file_list, settings, saved, queue, command_line=None):
    result = run_recbole_outfit(model, dataset, config_file_list, {**settings, "local_rank": rank}, saved,
                                command_line=command_line)
    if rank == 0:
        queue.put(result)
    dist.barrier()
    dist.destroy_process_group()


def load_data_and_model(model_file, config_dict=None):
    """RecBole's ``load_data_and_model`` for the plugin's checkpoints: rebuild the saved run's config, dataset,
    loaders and model, with the saved weights loaded.

    Args:
        model_file (str): a ``.pth`` file that a run of this plugin saved (any model it trains).
        config_dict (dict): keys to override in the saved config (e.g. ``{"gpu_id": ""}``, ``data_path``).
    Returns:
        ``(config, model, dataset, train_data, valid_data, test_data)`` as RecBole's function; ``model`` is in
        eval mode on ``config['device']``; ``test_data`` is the plugin's ``{split: loader}`` dict.
    Raises:
        ConfigError: the file does not exist, torch cannot read it, or it is not a plugin checkpoint.
    """
    fix = "give a .pth file that a run of run_recbole_outfit.py saved (its log and results JSON name it)"
    try:
        checkpoint = load_checkpoint(model_file, trust=bool((config_dict or {}).get("trust_checkpoint")))
    except ConfigError:
        raise
    except Exception as error:  # torch's unpicklers raise many types for a file that is not a checkpoint
        raise ConfigError(f"{model_file!r} is not a checkpoint torch can read ({type(error).__name__}: "
                          f"{str(error)[:200]})", where="checkpoint", fix=fix) from error
    if not (isinstance(checkpoint, dict) and isinstance(checkpoint.get("config"), Config)
            and isinstance(checkpoint.get("state_dict"), dict)):
        raise ConfigError(f"{model_file!r} is not a recbole-outfit checkpoint (no saved plugin config and weights)",
                          where="checkpoint", fix=fix)
    config = checkpoint["config"]
    for key, value in (config_dict or {}).items():
        config[key] = value
    config["checkpoint"] = None
    config["benchmark_filename"] = None
    if config["device"].type == "cuda" and not torch.cuda.is_available():
        config["device"] = torch.device("cpu")
    config._derive_outfit_settings()
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    model = build_model(config, train_data._dataset, training=False)
    check_checkpoint_fits(model, checkpoint, model_file)  # refused in one paragraph when the weights do not fit
    model.load_other_parameter(checkpoint.get("other_parameter"))
    model.eval()
    return config, model, dataset, train_data, valid_data, test_data
