"""The configuration as a run logs it: RecBole's groups, with the device shown once as it is and the keys a run
of this plugin does not read left out.

RecBole's ``Config.__str__`` prints ``gpu_id`` and ``use_gpu`` at the top (``use_gpu = True`` and ``gpu_id = 0``
on a machine without CUDA too, where the run uses the CPU) and ``device`` far below; ``eval_args``' ``split``,
``order`` and ``group_by``, which RecBole does not read when ``benchmark_filename`` names the split files (as
every plugin run's does); and, for the plugin's outfit models, the keys of RecBole's sequential,
knowledge-graph and context-aware models.
"""

from recbole.utils import set_color

# read only by RecBole's sequential, knowledge-graph and context-aware models and their datasets
NOT_READ_BY_OUTFIT_MODELS = frozenset({
    "RATING_FIELD", "TIME_FIELD", "seq_len", "ITEM_LIST_LENGTH_FIELD", "LIST_SUFFIX", "MAX_ITEM_LIST_LENGTH",
    "POSITION_FIELD", "HEAD_ENTITY_ID_FIELD", "TAIL_ENTITY_ID_FIELD", "RELATION_ID_FIELD", "ENTITY_ID_FIELD",
    "alias_of_entity_id", "alias_of_relation_id", "kg_reverse_r", "entity_kg_num_interval",
    "relation_kg_num_interval", "numerical_features", "discretization", "preload_weight", "transform",
    "require_pow",
})
# shown once, as the run's device, instead
DEVICE_KEYS = frozenset({"gpu_id", "use_gpu", "device"})


def _shown(config, outfit_model):
    """{key: value} of the keys to show, in RecBole's order."""
    shown = {}
    for key, value in config.final_config_dict.items():
        if key in DEVICE_KEYS or key in {"model", "dataset", "config_files"}:
            continue
        if outfit_model and key in NOT_READ_BY_OUTFIT_MODELS:
            continue
        if key == "eval_args" and config["benchmark_filename"] and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in ("split", "order", "group_by")}
        if key == "wandb_project" and not config["log_wandb"]:
            continue
        shown[key] = value
    return shown


def config_text(config, outfit_model=True):
    """The text ``logger.info(config)`` writes (see the module docstring for what differs from RecBole's)."""
    shown = _shown(config, outfit_model)
    device = config["device"]
    lines = ["", set_color("General Hyper Parameters:", "pink"),
             set_color("device", "cyan") + " =" + set_color(f" {device}", "yellow")
             + ("" if getattr(device, "type", str(device)) == "cpu" else f" (gpu_id {config['gpu_id']})")]
    grouped = set()
    for category, keys in config.parameters.items():
        if category != "General":
            lines += ["", set_color(f"{category} Hyper Parameters:", "pink")]
        for key in shown:
            if key in keys and key not in grouped:
                lines.append(set_color(key, "cyan") + " =" + set_color(f" {shown[key]}", "yellow"))
                grouped.add(key)
    lines += ["", set_color("Other Hyper Parameters:", "pink")]
    lines += [set_color(key, "cyan") + " =" + set_color(f" {value}", "yellow")
              for key, value in shown.items() if key not in grouped]
    if config["benchmark_filename"]:
        lines += ["", f"(splits: the files {list(config['benchmark_filename'])}; RecBole's eval_args split, order and "
                      f"group_by are not read)"]
    return "\n".join(lines) + "\n"
