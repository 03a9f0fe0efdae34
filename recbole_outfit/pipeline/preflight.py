"""Checks a run makes before any work: where it writes, which device it runs on, and that a checkpoint it is
given fits the model and dataset it is used with. Each problem is a :class:`ConfigError` (one paragraph, exit
2) or, for the device, one warning per process.
"""

from logging import getLogger

import torch

from recbole_outfit.errors import ConfigError
from recbole_outfit.output_paths import check_output_file, check_output_folder

_WARNED_DEVICES = set()  # gpu_id values already warned about in this process (stages build configs too)


def check_outputs(config):
    """Refuse a run whose outputs cannot be written, before any work: the checkpoint folder, and the results
    JSON (a file: not a folder, its folder writable)."""
    check_output_folder(config["checkpoint_dir"], "checkpoint_dir")
    if config["results_json"]:
        check_output_file(config["results_json"], "results_json",
                          fix="give --results_json a file name you can write, e.g. --results_json=results/run.json")


def physical_gpu_count():
    """GPUs this machine has, counted by the NVIDIA driver (NVML), whatever ``CUDA_VISIBLE_DEVICES`` says;
    0 when there is no driver."""
    try:
        count = torch.cuda._raw_device_count_nvml()  # NVML ignores CUDA_VISIBLE_DEVICES and makes no CUDA context
    except (AttributeError, OSError, RuntimeError):
        return 0
    return max(int(count), 0)


def check_device(config, gpu_count=None):
    """Warn once (per ``gpu_id`` and process) when ``gpu_id`` names a GPU this machine does not have, so that the
    run would silently train on the CPU. The plain default (``gpu_id: '0'`` on a machine without any GPU) is
    RecBole's normal CPU run and is not warned about. Returns the warning text, or None."""
    gpu_id = str(config["gpu_id"] or "").strip()
    if not config["use_gpu"] or not gpu_id or config["device"].type == "cuda":
        return None
    count = physical_gpu_count() if gpu_count is None else gpu_count
    wanted = [part.strip() for part in gpu_id.split(",") if part.strip()]
    missing = [g for g in wanted if not (g.isdigit() and int(g) < count)]
    if not missing or (count == 0 and wanted == ["0"]) or gpu_id in _WARNED_DEVICES:
        return None
    _WARNED_DEVICES.add(gpu_id)
    have = f"{count} GPU{'s' if count != 1 else ''} ({', '.join(map(str, range(count)))})" if count else "no GPU"
    if count and len(missing) < len(wanted):
        reason = f"gpu_id={gpu_id} names GPU {', '.join(missing)}, which this machine does not have (it has {have})"
    elif count:
        reason = f"gpu_id={gpu_id} names no GPU of this machine (it has {have})"
    else:
        reason = f"gpu_id={gpu_id} asks for a GPU, but this machine has {have} that CUDA can use"
    text = (f"{reason}: this run trains on the CPU. Pass --gpu_id with a GPU it has, or --gpu_id='' to run on "
            f"the CPU without this warning")
    getLogger().warning(text)
    return text


def check_checkpoint_fits(model, state, path, where="checkpoint"):
    """Load ``state['state_dict']`` into ``model``, or refuse with the first parameter that does not fit (a
    checkpoint of another dataset, or of a dataset converted again with other settings since the run)."""
    try:
        model.load_state_dict(state["state_dict"])
    except RuntimeError as error:
        lines = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
        detail = lines[0][:240] if lines else str(error)[:240]
        raise ConfigError(f"{path} does not fit {type(model).__name__} on the dataset as it is now ({detail})",
                          where=where,
                          fix="give a checkpoint trained on this dataset with these settings (a dataset converted or "
                              "generated again with other settings needs a new run), or train the model again"
                          ) from None


def check_checkpoint_target(config, saved, path):
    """A checkpoint is tested on the model and dataset it was trained on (its weights hold that dataset's users
    and outfits; no other dataset can be scored with them). When the run's ``model`` / ``dataset`` name others
    (given on purpose, or left at the command line's defaults, which the run cannot tell apart), a warning at
    the start says what is tested; the results JSON names the checkpoint's model and dataset."""
    differs = {key: (config[key], saved[key]) for key in ("model", "dataset") if str(config[key]) != str(saved[key])}
    if not differs:
        return None
    text = ", ".join(f"{key} {theirs}, not {ours}" for key, (ours, theirs) in differs.items())
    warning = (f"--checkpoint={path} was trained with {text}: testing {saved['model']} on {saved['dataset']}, the "
               f"checkpoint's own (a checkpoint's weights fit only the dataset it was trained on; the run's "
               f"{' and '.join('--' + key for key in differs)} are not used)")
    getLogger().warning(warning)
    return warning
