"""``Config``: RecBole's configurator with the plugin's properties layered in (as RecBole-GNN does).

Precedence, lowest first: RecBole's internal yaml -> ``properties/overall.yaml`` -> ``properties/outfit.yaml``
(plugin models only) -> ``properties/model/<Model>.yaml`` (a plugin model subclassing another reads its
parent's yaml first) -> ``properties/dataset/<dataset>.yaml`` ->
``config_file_list`` -> ``config_dict`` -> ``--key=value`` on the command line. Models resolve plugin-first,
so a name RecBole does not know never reaches RecBole's ``get_model``.

Derived after loading: ``benchmark_filename = [train, <valid_split>, test(, test_hard)]``.
"""

import glob
import os
import re

import recbole
from recbole.config.configurator import Config as RecBoleConfig

from recbole_outfit.errors import ConfigError

PACKAGE_DIR = os.path.dirname(os.path.realpath(__file__))


def properties_dir():
    """``properties/`` at the repository top (source checkout / editable install) or inside the wheel."""
    for candidate in (os.path.join(PACKAGE_DIR, "..", "properties"), os.path.join(PACKAGE_DIR, "properties")):
        if os.path.isfile(os.path.join(candidate, "overall.yaml")):
            return os.path.normpath(candidate)
    raise ConfigError("the plugin's properties/ folder is missing", where=PACKAGE_DIR,
                      fix="reinstall recbole-outfit (pip install -e . from the repository)")


def known_datasets():
    folder = os.path.join(properties_dir(), "dataset")
    return sorted(name[:-5] for name in os.listdir(folder) if name.endswith(".yaml"))


_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "list": (list, tuple),
          "dict": (dict,), "none": (type(None),)}
_DOCUMENTED = re.compile(r"^([A-Za-z_]\w*):[^#]*#\s*\(([^)]*)\)")


def documented_types():
    """{key: allowed python types} from the ``# (type)`` comments of RecBole's and the plugin's yaml files."""
    recbole_dir = os.path.join(os.path.dirname(recbole.__file__), "properties")
    files = [os.path.join(recbole_dir, "overall.yaml"), os.path.join(recbole_dir, "dataset", "sample.yaml")]
    folder = properties_dir()
    files += [os.path.join(folder, "overall.yaml"), os.path.join(folder, "outfit.yaml")]
    files += sorted(glob.glob(os.path.join(folder, "model", "*.yaml")))
    files += sorted(glob.glob(os.path.join(folder, "dataset", "*.yaml")))
    types = {}
    for file in files:
        with open(file, "r", encoding="utf-8") as f:
            for line in f:
                match = _DOCUMENTED.match(line)
                if match:
                    names = [t.strip().lower() for t in match.group(2).split(" or ")]
                    if all(n in _TYPES for n in names):
                        types[match.group(1)] = tuple(t for n in names for t in _TYPES[n])
    return types


def check_types(config_dict, types=None):
    """Raise ``ConfigError`` for the first key whose value does not have its documented type (None is
    always allowed: ``~`` means "not set")."""
    types = types or documented_types()
    for key, allowed in types.items():
        value = config_dict.get(key)
        if value is None or (isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)):
            continue
        expected = " or ".join(sorted({t.__name__ for t in allowed}))
        raise ConfigError(
            f"{key} must be {expected}, got {value!r} ({type(value).__name__})", where=f"config key {key!r}",
            fix=f"set it in a yaml file or as --{key}=<{expected}>; lists are written like \"['a','b']\"",
        )


class Config(RecBoleConfig):
    """RecBole ``Config`` for recbole-outfit; arguments as RecBole's."""

    def __init__(self, model=None, dataset=None, config_file_list=None, config_dict=None, command_line=True):
        """``command_line=False`` ignores ``--key=value`` in ``sys.argv`` (for stages a run trains on its own)."""
        self._read_command_line = command_line
        super().__init__(model, dataset, config_file_list, config_dict)
        self._derive_outfit_settings()

    def _load_cmd_line(self):
        return super()._load_cmd_line() if self._read_command_line else {}

    def _init_device(self):
        """RecBole's device setup, except that a distributed run (``local_rank`` set by ``--nproc``) uses
        the gloo backend on CPU (RecBole hard-codes nccl) and joins the process group only once."""
        config = self.final_config_dict
        if "local_rank" not in config:
            return super()._init_device()
        import torch
        import torch.distributed as dist

        from recbole_outfit.compat import distributed_backend

        gpu_id = config["gpu_id"]
        gpu_id = ",".join(map(str, gpu_id)) if isinstance(gpu_id, tuple) else str(gpu_id)
        config["gpu_id"] = gpu_id
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu_id
        use_cuda = bool(config["use_gpu"]) and len(gpu_id) > 0 and torch.cuda.is_available()
        if not dist.is_initialized():
            dist.init_process_group(backend=distributed_backend(use_cuda),
                                    rank=config["local_rank"] + config["offset"], world_size=config["world_size"],
                                    init_method=f"tcp://{config['ip']}:{config['port']}")
        config["device"] = torch.device("cuda", config["local_rank"]) if use_cuda else torch.device("cpu")
        if use_cuda:
            torch.cuda.set_device(config["local_rank"])
        config["single_spec"] = False
        if config["local_rank"] != 0:
            config["state"] = "error"
            config["show_progress"] = False
            config["verbose"] = False

    def _get_model_and_dataset(self, model, dataset):
        from recbole_outfit.utils import get_model

        if model is None:
            model = self.external_config_dict.get("model")
            if model is None:
                raise ConfigError("no model given", where="--model",
                                  fix="pass --model=<name>, e.g. --model=FNDCL or --model=Teacher")
        model_class = get_model(model) if isinstance(model, str) else model
        if dataset is None:
            dataset = self.external_config_dict.get("dataset")
            if dataset is None:
                raise ConfigError("no dataset given", where="--dataset",
                                  fix=f"pass --dataset=<name>; known: {', '.join(known_datasets())}")
        return model_class.__name__, model_class, dataset

    def _load_internal_config_dict(self, model, model_class, dataset):
        super()._load_internal_config_dict(model, model_class, dataset)
        from recbole_outfit.model.outfit_recommender import OutfitRecommender

        folder = properties_dir()
        layers = [os.path.join(folder, "overall.yaml")]
        if isinstance(model_class, type) and issubclass(model_class, OutfitRecommender):
            # a variant inherits its parent's settings: FND reads FNDCL.yaml, then FND.yaml
            layers.append(os.path.join(folder, "outfit.yaml"))
            lineage = [c.__name__ for c in reversed(model_class.__mro__)
                       if isinstance(c, type) and issubclass(c, OutfitRecommender) and c is not OutfitRecommender]
        else:
            lineage = [model]
        layers += [os.path.join(folder, "model", f"{name}.yaml") for name in lineage]
        dataset_file = os.path.join(folder, "dataset", f"{dataset}.yaml")
        layers.append(dataset_file)
        for file in layers:
            if os.path.isfile(file):
                loaded = self._update_internal_config_dict(file) or {}
                if file == dataset_file:
                    self.parameters["Dataset"] += [k for k in loaded if k not in self.parameters["Dataset"]]

    def _derive_outfit_settings(self):
        config = self.final_config_dict
        check_types(config)
        if config.get("valid_split") not in (None, "valid_teacher", "valid_student"):
            raise ConfigError(f"valid_split must be valid_teacher or valid_student, got {config['valid_split']!r}",
                              where="valid_split", fix="the validation halves are valid_teacher and valid_student")
        if config.get("benchmark_filename") is None and config.get("valid_split"):
            files = ["train", config["valid_split"], "test"]
            if config.get("test_hard"):
                files.append("test_hard")
            config["benchmark_filename"] = files
