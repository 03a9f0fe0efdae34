"""``Config``: RecBole's configurator with the plugin's properties layered in (as RecBole-GNN does).

Precedence, lowest first: RecBole's internal yaml -> ``properties/overall.yaml`` -> ``properties/outfit.yaml``
(plugin models only) -> ``properties/model/<Model>.yaml`` (a plugin model subclassing another reads its
parent's yaml first) -> ``properties/dataset/<dataset>.yaml`` (for a dataset imported with
``data.import_outfits``: ``<data_path>/<dataset>/<dataset>.yaml``) -> ``config_file_list`` -> ``config_dict``
-> ``command_line`` (the ``--key=value`` overrides, a dict). Models resolve plugin-first, so a name RecBole
does not know never reaches RecBole's ``get_model``.

Unlike RecBole's, this Config never reads ``sys.argv``: a command passes what its user typed as
``command_line`` (``cli.main`` does), so the same call gives the same configuration in any process.

Derived after loading: ``benchmark_filename = [train, <valid_split>, test(, test_hard)]``.
"""

import os

import torch
import torch.distributed as dist
from recbole.config.configurator import Config as RecBoleConfig

from recbole_outfit.checkpoint import plain, refuse_recbole_loader, restore
from recbole_outfit.compat import distributed_backend, install_numpy_aliases
from recbole_outfit.config_text import config_text
from recbole_outfit.errors import ConfigError
from recbole_outfit.evaluator.metrics import register_metrics
from recbole_outfit.settings import YamlLoader, known_datasets, properties_dir, read_yaml_file
from recbole_outfit.utils import get_model, is_outfit_model
from recbole_outfit.validation import convert_value, validate

register_metrics()  # the plugin's metrics, before any Config checks the metrics it is given


# the configuration dicts a Config holds; a checkpoint keeps them as plain data (see __getstate__)
_STATE_DICTS = ("file_config_dict", "variable_config_dict", "cmd_config_dict", "external_config_dict",
                "internal_config_dict", "final_config_dict", "parameters")


class Config(RecBoleConfig):
    """RecBole ``Config`` for recbole-outfit; arguments as RecBole's.

    Pickles as plain data (``__getstate__``), so checkpoints holding it load with torch's weights-only loader;
    it is the one class the plugin adds to that loader's allowlist (see ``recbole_outfit/checkpoint.py``).
    """

    def __init__(self, model=None, dataset=None, config_file_list=None, config_dict=None, command_line=None,
                 config_dict_source=None):
        """``command_line``: the command line's ``--key=value`` overrides, ``{key: text or value}`` (texts are
        read as RecBole reads them, see ``validation.convert_value``), above ``config_dict``; None or False:
        none. ``config_dict_source``: what messages call ``config_dict``'s keys (a text, or ``{key: text}``; a
        stage's: the setting they came from, ``teacher_config``)."""
        if command_line is True:
            raise TypeError("Config reads no sys.argv; pass command_line={key: value} (cli.main does)")
        self._command_line = dict(command_line or {})
        self.config_dict_source = config_dict_source
        self.config_file_list = list(config_file_list or [])
        super().__init__(model, dataset, config_file_list, config_dict)
        self._derive_outfit_settings()

    def __str__(self):
        """RecBole's listing with the device shown once as it is and the keys this run does not read left out."""
        model_class = getattr(self, "model_class", None)
        return config_text(self, outfit_model=bool(model_class) and is_outfit_model(model_class))

    def __getstate__(self):
        state = {name: plain(getattr(self, name)) for name in _STATE_DICTS if hasattr(self, name)}
        state.update(model=self.model, dataset=self.dataset)
        return state

    def __setstate__(self, state):
        refuse_recbole_loader()  # RecBole's load_data_and_model cannot rebuild a plugin run: say so, and what to call
        if "yaml_loader" in state:  # pickled by an earlier version (only loadable with --trust_checkpoint)
            self.__dict__.update(state)
            return
        for name in _STATE_DICTS:
            setattr(self, name, restore(state.get(name, {})))
        self.model, self.dataset = state["model"], state["dataset"]
        self._command_line, self.config_dict_source = {}, None
        try:
            self.model_class = get_model(self.model)
        except ConfigError:  # a stage model that is not registered (the garment autoencoder)
            self.model_class = None
        self.yaml_loader = self._build_yaml_loader()

    def compatibility_settings(self):
        """RecBole's numpy aliases, from types every numpy has (``recbole_outfit/compat.py``)."""
        install_numpy_aliases()

    def _build_yaml_loader(self):
        """RecBole's loader (``1e-3`` is a float), refusing a key set twice (``settings.YamlLoader``)."""
        return YamlLoader

    def _convert_config_dict(self, config_dict):
        """RecBole's conversion of text values, by ``ast.literal_eval`` instead of ``eval``."""
        for key, value in config_dict.items():
            config_dict[key] = convert_value(value)
        return config_dict

    def _load_config_files(self, file_list):
        """RecBole's reader, with one clear error per missing, unreadable or malformed file and per key set
        twice (file and line)."""
        settings = {}
        for file in file_list or []:
            settings.update(read_yaml_file(file))
        return settings

    def _update_internal_config_dict(self, file):
        """RecBole's reader of a properties yaml, with the file and line of a problem; remembers the file, so
        that a message about a value names the file and line that set it (``validation.where_in``)."""
        loaded = read_yaml_file(file)
        self.internal_config_dict.update(loaded)
        self.property_files = [*getattr(self, "property_files", []), file]
        return loaded

    def _load_cmd_line(self):
        """The ``command_line`` overrides this Config was given (RecBole's reads ``sys.argv``)."""
        return self._convert_config_dict(dict(self._command_line))

    def _init_device(self):
        """RecBole's device setup, except that a distributed run (``local_rank`` set by ``--nproc``) uses
        the gloo backend on CPU (RecBole hard-codes nccl) and joins the process group only once."""
        config = self.final_config_dict
        if "local_rank" not in config:
            return super()._init_device()
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
        folder = properties_dir()
        layers = [os.path.join(folder, "overall.yaml")]
        if is_outfit_model(model_class):
            # a variant inherits its parent's settings: FND reads FNDCL.yaml, then FND.yaml
            layers.append(os.path.join(folder, "outfit.yaml"))
            lineage = [c.__name__ for c in reversed(model_class.__mro__) if is_outfit_model(c)]
        else:
            lineage = [model]
        layers += [os.path.join(folder, "model", f"{name}.yaml") for name in lineage]
        for file in layers:
            if os.path.isfile(file):
                self._update_internal_config_dict(file)
        dataset_file = self._dataset_yaml(folder, dataset)  # after overall.yaml: it gives the default data_path
        if os.path.isfile(dataset_file):
            loaded = self._update_internal_config_dict(dataset_file) or {}
            self.parameters["Dataset"] += [k for k in loaded if k not in self.parameters["Dataset"]]

    def _dataset_yaml(self, folder, dataset):
        """``properties/dataset/<dataset>.yaml``, else the one beside an imported dataset's files,
        ``<data_path>/<dataset>/<dataset>.yaml`` (``data.import_outfits`` writes it there, so a catalogue of
        one's own runs with ``--dataset=NAME --data_path=...`` and nothing is written into the package)."""
        bundled = os.path.join(folder, "dataset", f"{dataset}.yaml")
        if os.path.isfile(bundled):
            return bundled
        data_path = self.external_config_dict.get("data_path") or self.internal_config_dict.get("data_path")
        beside = os.path.join(str(data_path or ""), str(dataset), f"{dataset}.yaml")
        return beside if os.path.isfile(beside) else bundled

    def _derive_outfit_settings(self):
        config = self.final_config_dict
        validate(self)  # types, ranges, options (written back in their canonical spelling)
        if config.get("benchmark_filename") is None and config.get("valid_split"):
            files = ["train", config["valid_split"], "test"]
            if config.get("test_hard"):
                files.append("test_hard")
            config["benchmark_filename"] = files


torch.serialization.add_safe_globals([Config])  # restores from plain data only (__setstate__ above)
