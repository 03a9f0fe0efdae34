"""The stages a model needs before it is built (paper 3.2.2, 3.3.2 and 4.1.4), each cached and reused.

A model class declares what it needs (``needs = ("backbone", "teacher", "neighbours")`` on FNDCL); the pipeline runs the
matching stages, records each artifact's file in the run's config, and hands the loaded artifacts to the
model's constructor (``model_class(config, dataset, backbone=..., teacher=..., neighbours=...)``). Models never
load anything themselves.

0. **backbone** (``backbone_weights`` set, every outfit model): the AlexNet weights the item encoder starts from,
   as the paper's teacher and students start from ImageNet (section 4.1.4). ``imagenet``: torchvision's file;
   a path: that file; ``synthetic``: our stand-in for ImageNet, AlexNet's convolutional features (and fc6 / fc7
   with ``pretrain_head: classifier``) pretrained to name the attributes of a pool of synthetic garments that
   belong to no dataset, kept as
   ``<checkpoint_dir>/stages/pretrain/AlexNet-features-<fingerprint>.pth`` (one set for every dataset, backbone
   size, run and seed with the same image size and pretraining settings). Handed to the model as a state dict;
   ``backbone_weights_file`` (set here, inherited by the teacher stage) names the file.
1. **teacher** (``distill: True``): a ``Teacher`` run on the same dataset with its own validation half
   (``valid_teacher``), through the same pipeline as any model. Its best checkpoint is kept as
   ``<checkpoint_dir>/stages/<dataset>/Teacher-<fingerprint>.pth``; handed to the student as a prepared
   :class:`~recbole_outfit.model.distillation.FrozenTeacher`. ``teacher_checkpoint`` skips the stage.
2. **neighbours** (``replace`` among ``cl_augmentations``): the garment autoencoder trained by RecBole's
   Trainer on the training garments, then top-k same-category neighbours, kept beside the dataset as
   ``<data_path>/<dataset>.neighbours-<fingerprint>.npz``; handed to the student as a LongTensor.
   ``neighbour_table`` skips the stage.
3. **relevancy** (OutfitNet): its stage 1, the non-personalized Fashion Item Relevancy model
   (``OutfitNetFIR``) run on the same dataset through the same pipeline, with the run's item encoder
   (``backbone``); its best checkpoint kept as ``<checkpoint_dir>/stages/<dataset>/OutfitNetFIR-<fingerprint>.pth``
   and handed to OutfitNet as its item encoder's state dict. ``relevancy_checkpoint`` skips the stage.

To add a stage: write a :class:`Stage` subclass (``need``, ``config_key``; ``wanted``, ``build``, ``load``, and
``check`` when a setting can be refused before any stage runs), register it in :data:`STAGES` under the name
models list in ``needs``, and add the constructor argument to the model. See ``docs/architecture.md``.
"""

import os
import shutil
import time
import zipfile
from abc import ABC, abstractmethod
from logging import getLogger

import numpy as np
import torch
from recbole.trainer import Trainer
from recbole.utils import init_seed, set_color

from recbole_outfit.atomic import atomic_write
from recbole_outfit.checkpoint import load_checkpoint
from recbole_outfit.data.convert import raw_folder_for
from recbole_outfit.data.garment_pool import ATTRIBUTES, draw_pool
from recbole_outfit.data.prepare import ensure_atomic_dataset
from recbole_outfit.data.synthetic import GENERATOR_VERSION, WORLD_FILE, load_world
from recbole_outfit.errors import ConfigError
from recbole_outfit.exclusive import build_once
from recbole_outfit.options import choose
from recbole_outfit.model.autoencoder import GarmentAutoencoder, GarmentDataLoader, neighbour_table, training_garments
from recbole_outfit.model.backbone_weights import check_weights_file, imagenet_weights_file, read_backbone_weights
from recbole_outfit.model.distillation import FrozenTeacher
from recbole_outfit.model.oracle import OracleTeacher
from recbole_outfit.model.attribute_classifier import AttributeClassifier
from recbole_outfit.pipeline.keys import fingerprint, settings_fingerprint, stage_config
from recbole_outfit.report import write_json_atomic
from recbole_outfit.trainer.attribute_pretraining import pretrain_features
from recbole_outfit.trainer.mean_loss import MeanLossMixin
from recbole_outfit.utils import create_dataset, get_model, is_outfit_model
from recbole_outfit.verified import is_intact, sign


class GarmentAutoencoderTrainer(MeanLossMixin, Trainer):
    """RecBole's Trainer for the neighbours stage's autoencoder, logging its loss as the mean per batch."""


class Stage(ABC):
    """One artifact a model needs before it is built.

    A subclass sets :attr:`need` and :attr:`config_key` and defines :meth:`wanted`, :meth:`build` and
    :meth:`load` (abstract: a stage without one of them cannot be instantiated); :meth:`check` is optional.
    :meth:`cached` and :meth:`reuse_or_build` are the helpers a :meth:`build` uses to keep its artifact.
    """

    need = None  # the name models list in ``needs``
    config_key = None  # the config key naming the artifact's file: given by the user, or set by :meth:`build`

    @abstractmethod
    def wanted(self, config):
        """Whether ``config`` uses this artifact at all."""

    def check(self, config):
        """Refuse a bad setting of this stage (``errors.ConfigError``) without running anything; called for
        every wanted stage before the first one builds. The default checks nothing; a stage that trains a
        model builds that model's configuration here, which validates it."""

    @abstractmethod
    def build(self, config, train):
        """Path of the artifact for ``config``, reused when cached, else built. ``train(stage_config, saved)``
        trains a stage model through the pipeline and returns its results dict."""

    @abstractmethod
    def load(self, config, path, train_dataset):
        """The object handed to the model's constructor."""

    def log(self, message):
        getLogger().info(set_color(f"Stage {self.need}", "green") + f": {message}")

    def cached(self, path):
        """True when ``path`` holds an intact artifact (its checksum matches); a damaged one is removed with a
        warning so that it is rebuilt."""
        if is_intact(path):
            self.log(f"reusing {path} (checksum verified)")
            return True
        if os.path.exists(path):
            getLogger().warning(f"Stage {self.need}: the cached {path} does not match its checksum (truncated, "
                                f"altered or written by an older version); rebuilding it")
            for leftover in (path, path + ".sha256"):
                if os.path.exists(leftover):
                    os.remove(leftover)
        return False

    def reuse_or_build(self, path, build):
        """``path``, reused when :meth:`cached`, else made by ``build()`` (which writes it). One process at a
        time builds it: another run that wants the same artifact meanwhile waits, then reuses it."""
        build_once(path, self.cached, build, on_wait=lambda pid: self.log(
            f"waiting for process {pid or '(unknown)'}, which is building {path}; it will be reused"))
        return path


PRETRAIN_VERSION = 1  # bump when the pretraining task or its training loop changes (cached features rebuild)


class BackboneStage(Stage):
    """``backbone_weights``: imagenet | synthetic | a state-dict file -> the file the item encoder's state dict
    is read from (see the module docstring, stage 0)."""

    need, config_key = "backbone", "backbone_weights_file"

    def wanted(self, config):
        return bool(config["backbone_weights"])

    def check(self, config):
        self.pretrain_config(config)

    def pretrain_config(self, config):
        """The pretraining's configuration for ``synthetic`` (its settings: ``AttributeClassifier.yaml``, or the
        run's ``pretrain_*`` keys); None for ``imagenet`` and a file, which train nothing. A weights file that
        does not exist is refused here, before any work."""
        weights = config["backbone_weights"]
        if weights == "synthetic":
            return stage_config(AttributeClassifier, config, {})
        if weights != "imagenet":
            check_weights_file(weights)
        return None

    def build(self, config, train):
        weights = config["backbone_weights"]
        if weights == "synthetic":
            return self.pretrain(self.pretrain_config(config))
        path = imagenet_weights_file() if weights == "imagenet" else weights
        check_weights_file(path)
        self.log(f"the item encoder starts from {path}")
        return path

    @staticmethod
    def settings(pretrain_config):
        """What the pretrained features depend on (their artifact's fingerprint): the pool, the images' size,
        the training. Not the backbone size: every size has the same convolutional layers."""
        c = pretrain_config
        settings = {"version": PRETRAIN_VERSION, "generator_version": GENERATOR_VERSION,
                    "garments": c["pretrain_garments"], "seed": c["pretrain_seed"], "epochs": c["pretrain_epochs"],
                    "learning_rate": c["pretrain_learning_rate"], "batch_size": c["pretrain_batch_size"],
                    "render_px": c["synthetic_image_px"] or c["image_size"], "image_size": c["image_size"]}
        if c["pretrain_head"] != "gap":  # added later: the features pretrained before it keep their name
            settings["head"] = c["pretrain_head"]
        return settings

    def pretrain(self, pretrain_config):
        """Path of the pretrained features for ``pretrain_config``, reused when cached, else trained."""
        settings = self.settings(pretrain_config)
        folder = os.path.join(pretrain_config["checkpoint_dir"], "stages", "pretrain")
        path = os.path.join(folder, f"AlexNet-features-{settings_fingerprint(settings)}.pth")
        return self.reuse_or_build(path, lambda: self._pretrain(pretrain_config, settings, path))

    def _pretrain(self, pretrain_config, settings, path):
        folder = os.path.dirname(path)
        head = pretrain_config["pretrain_head"]
        layers = "convolutional features and fc6 / fc7" if head == "classifier" else "convolutional features"
        self.log(f"pretraining AlexNet's {layers} to name category, colour, pattern and shape of "
                 f"{settings['garments']} synthetic garments that belong to no dataset ({settings['image_size']} px, "
                 f"{settings['epochs']} epochs)")
        started = time.time()
        pool = draw_pool(settings["garments"], settings["seed"], settings["render_px"], settings["image_size"],
                         show_progress=pretrain_config["show_progress"])
        init_seed(settings["seed"], pretrain_config["reproducibility"])
        device = pretrain_config["device"]
        model = AttributeClassifier(ATTRIBUTES, head).to(device)
        history = pretrain_features(model, pool, settings["epochs"], settings["learning_rate"],
                                    settings["batch_size"], device, show_progress=pretrain_config["show_progress"])
        os.makedirs(folder, exist_ok=True)
        with atomic_write(path, "wb") as f:
            torch.save(model.backbone_state(), f)
        accuracy = history["epochs"][-1]["accuracy"]
        write_json_atomic(path[:-4] + ".json", {"settings": settings, **history, "final_accuracy": accuracy,
                                                "seconds": round(time.time() - started, 1)})
        sign(path)
        self.log(f"held-out attribute accuracy {accuracy} after {time.time() - started:.0f}s, kept as {path}")

    def load(self, config, path, train_dataset):
        return read_backbone_weights(path)


def trained_stage_path(config, stage_config, name):
    """``<checkpoint_dir>/stages/<dataset>/<name>-<fingerprint>.pth``: where a stage model trained for ``config``
    with ``stage_config`` is kept (the fingerprint reads the converted dataset's manifest, so it is ensured)."""
    ensure_atomic_dataset(stage_config)
    folder = os.path.join(config["checkpoint_dir"], "stages", config["dataset"])
    return os.path.join(folder, f"{name}-{fingerprint(stage_config)}.pth")


class TeacherStage(Stage):
    need, config_key = "teacher", "teacher_checkpoint"

    def wanted(self, config):
        return bool(config["distill"])

    def check(self, config):
        self.teacher_config(config)

    def teacher_config(self, config):
        """The teacher run's configuration: ``Teacher.yaml``, the shared keys and ``teacher_config``."""
        return stage_config("Teacher", config, config["teacher_config"], source="teacher_config")

    @staticmethod
    def oracle(config):
        """True for ``teacher: oracle`` (the synthetic generator's true preferences), False for ``trained`` (~)."""
        return choose("teacher", config["teacher"]) == "oracle"  # ~ = trained

    @staticmethod
    def world(config):
        """The generator world of ``config``'s synthetic dataset; ``ConfigError`` (exit 2) when it has none."""
        return load_world(config["raw_path"], config["raw_folder"] or raw_folder_for(config["dataset"]))

    def build(self, config, train):
        if self.oracle(config):  # nothing to train: the world must exist (refused here, before any training)
            ensure_atomic_dataset(config)  # a synthetic dataset's raw root (and world) is generated on first use
            self.world(config)
            path = os.path.join(config["raw_path"], WORLD_FILE)
            self.log(f"the oracle: true preferences from the generator's world {path}")
            return path
        teacher_config = self.teacher_config(config)
        path = self.artifact_path(config, teacher_config)
        return self.reuse_or_build(path, lambda: self._train(teacher_config, train, path))

    def artifact_path(self, config, teacher_config=None):
        """Where the trained teacher of ``config`` is kept (whether or not it exists yet)."""
        return trained_stage_path(config, teacher_config or self.teacher_config(config), "Teacher")

    def _train(self, teacher_config, train, path):
        folder = os.path.dirname(path)
        self.log(f"training a Teacher ({teacher_config['backbone']}) on {teacher_config['dataset']} with validation "
                 f"split {teacher_config['valid_split']}")
        result = train(teacher_config, saved=True)
        os.makedirs(folder, exist_ok=True)
        with open(result["checkpoint"], "rb") as source, atomic_write(path, "wb") as target:
            shutil.copyfileobj(source, target)
        write_json_atomic(path[:-4] + ".json", result)
        sign(path)
        self.log(f"test user_auc {result['test_result']['user_auc']:.4f}, kept as {path}")

    def load(self, config, path, train_dataset):
        if self.oracle(config):
            teacher = OracleTeacher(self.world(config), train_dataset, config["fnd_alpha"], config["fnd_scale"],
                                    config["device"])
        else:
            model = load_teacher_model(path, train_dataset, config["device"], trust=config["trust_checkpoint"])
            teacher = FrozenTeacher(model, config["fnd_alpha"], feature_cache=config["teacher_feature_cache"],
                                    scale=config["fnd_scale"])
        teacher.prepare(train_dataset)
        return teacher


class NeighbourStage(Stage):
    need, config_key = "neighbours", "neighbour_table"

    def wanted(self, config):
        return config["cl_weight"] > 0 and "replace" in config["cl_augmentations"]

    def check(self, config):
        self.autoencoder_config(config)

    def autoencoder_config(self, config):
        """The garment autoencoder's configuration: its yaml, the shared keys, ``replace_neighbours`` and
        ``autoencoder_config``."""
        overrides = {"replace_neighbours": config["replace_neighbours"], **(config["autoencoder_config"] or {})}
        return stage_config(GarmentAutoencoder, config, overrides, source="autoencoder_config")

    def build(self, config, train):
        ae_config = self.autoencoder_config(config)
        dataset = create_dataset(ae_config)
        path = os.path.join(ae_config["data_path"], f"{config['dataset']}.neighbours-{fingerprint(ae_config)}.npz")
        return self.reuse_or_build(path, lambda: self._train(ae_config, dataset, path))

    def _train(self, ae_config, dataset, path):
        train_part = dataset.build()[0]
        garments = training_garments(train_part)
        self.log(f"training the garment autoencoder on {len(garments)} training garments")
        init_seed(ae_config["seed"], ae_config["reproducibility"])
        model = GarmentAutoencoder(ae_config, dataset).to(ae_config["device"])
        loader = GarmentDataLoader(ae_config, train_part, garments)
        trainer = GarmentAutoencoderTrainer(ae_config, model)
        trainer.fit(loader, None, saved=False, show_progress=ae_config["show_progress"])
        codes = model.encode(garments.to(ae_config["device"])).cpu()
        table = neighbour_table(codes, garments, dataset.garment_category, len(dataset.garment_category),
                                ae_config["replace_neighbours"])
        tokens = dataset.field2id_token["garment_id"]
        with atomic_write(path, "wb") as f:
            np.savez(f, table=table.numpy(), tokens=np.asarray(tokens, dtype=str))
        sign(path)
        self.log(f"{ae_config['replace_neighbours']} neighbours for {len(garments)} garments kept as {path}")

    def load(self, config, path, train_dataset):
        return load_neighbour_table(path, train_dataset)


class RelevancyStage(Stage):
    """OutfitNet's stage 1 (``OutfitNetFIR``): trained once per dataset and settings, then reused."""

    need, config_key = "relevancy", "relevancy_checkpoint"
    # the relevancy encoder is rebuilt inside OutfitNet with the run's own encoder settings
    ENCODER_KEYS = ("backbone", "embedding_size", "backbone_dropout", "backbone_extra_fc")

    def wanted(self, config):
        return True

    def stage_config(self, config):
        # the run's encoder and epochs (both stages are one model's training); random negatives only (E2)
        overrides = {key: config[key] for key in (*self.ENCODER_KEYS, "epochs")}
        overrides["train_neg_hard_ratio"] = 0.0
        overrides.update(config["relevancy_config"] or {})
        fir_config = stage_config("OutfitNetFIR", config, overrides, source="relevancy_config")
        for key in self.ENCODER_KEYS:
            if fir_config[key] != config[key]:
                raise ConfigError(f"relevancy_config sets {key}={fir_config[key]!r}, but OutfitNet's copy of the "
                                  f"relevancy encoder is built with the run's {key}={config[key]!r}",
                                  where="relevancy_config", fix=f"set --{key} for the whole run instead")
        return fir_config

    def build(self, config, train):
        fir_config = self.stage_config(config)
        path = self.artifact_path(config, fir_config)
        return self.reuse_or_build(path, lambda: self._train(fir_config, train, path))

    def artifact_path(self, config, fir_config=None):
        """Where the trained stage 1 of ``config`` is kept (whether or not it exists yet)."""
        return trained_stage_path(config, fir_config or self.stage_config(config), "OutfitNetFIR")

    def _train(self, fir_config, train, path):
        self.log(f"training OutfitNet's item relevancy stage (OutfitNetFIR, {fir_config['backbone']}) on "
                 f"{fir_config['dataset']}")
        result = train(fir_config, saved=True)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(result["checkpoint"], "rb") as source, atomic_write(path, "wb") as target:
            shutil.copyfileobj(source, target)
        write_json_atomic(path[:-4] + ".json", result)
        sign(path)
        self.log(f"compatibility alone scores test user_auc {result['test_result']['user_auc']:.4f}; kept as {path}")

    def load(self, config, path, train_dataset):
        return load_relevancy_encoder(path, trust=config["trust_checkpoint"])


STAGES = {stage.need: stage for stage in (BackboneStage(), TeacherStage(), NeighbourStage(), RelevancyStage())}


def wanted_stages(config):
    """The stages ``config``'s model declares in ``needs`` and ``config`` uses, in the model's order."""
    return [STAGES[need] for need in getattr(config.model_class, "needs", ()) if STAGES[need].wanted(config)]


def check_stages(config):
    """Build every wanted stage's configuration without running anything: a bad stage setting
    (``teacher_config``, ``autoencoder_config``, a missing ``backbone_weights`` file) is refused before the
    first stage trains."""
    for stage in wanted_stages(config):
        if not config[stage.config_key]:
            stage.check(config)


def prepare_stages(config, train):
    """Build or reuse every stage ``config``'s model needs and record each artifact's file in ``config``; then a
    fresh seed, for every run (the same data order whether stages ran or were reused, and a stage's own run
    starts from its seed, not from wherever the run that needs it left the random state)."""
    stages = wanted_stages(config)
    for number, stage in enumerate(stages, 1):
        getLogger().info(set_color(f"Stage {number} of {len(stages) + 1}", "green") + f": {stage.need}")
        if config[stage.config_key]:
            stage.log(f"using the given {stage.config_key} {config[stage.config_key]}")
        else:
            config[stage.config_key] = stage.build(config, train)
    if stages:
        getLogger().info(set_color(f"Stage {len(stages) + 1} of {len(stages) + 1}", "green")
                         + f": {config['model']} on {config['dataset']}")
    init_seed(config["seed"], config["reproducibility"])  # every run, a stage's included, starts from its seed


def load_artifacts(config, train_dataset):
    """``{need: artifact}`` for the model's constructor. Loading does not draw from the run's random streams
    (a teacher's throwaway initialisation before its weights load would shift the student's training)."""
    with torch.random.fork_rng(devices=[]):
        return {stage.need: stage.load(config, config[stage.config_key], train_dataset)
                for stage in wanted_stages(config)}


# ------------------------------------------------------------------------------------- artifact readers


def load_teacher_model(path, dataset, device, trust=False):
    """Rebuild a trained outfit model from a checkpoint for ``dataset``, rows of the user embedding put in
    ``dataset``'s user order; frozen and in eval mode."""
    checkpoint = load_checkpoint(path, trust=trust, where="teacher_checkpoint")
    try:
        teacher_config = checkpoint["config"]
        state = checkpoint["state_dict"]
    except (KeyError, TypeError) as error:
        raise ConfigError(f"{path} is not a RecBole checkpoint (no {error})", where="teacher_checkpoint",
                          fix="point teacher_checkpoint at a checkpoint a Teacher run saved") from error
    if teacher_config["dataset"] != dataset.dataset_name:
        raise ConfigError(
            f"{path} was trained on {teacher_config['dataset']!r}, not {dataset.dataset_name!r}",
            where="teacher_checkpoint", fix="use a teacher trained on the same dataset")
    model_class = get_model(teacher_config["model"])
    if not is_outfit_model(model_class):
        raise ConfigError(f"{path} holds a {teacher_config['model']} model, not an outfit model",
                          where="teacher_checkpoint", fix="use a checkpoint of --model=Teacher")
    model = model_class(teacher_config, dataset)
    model.load_state_dict(state)
    tokens = (checkpoint.get("other_parameter") or {}).get("user_tokens")
    if tokens is not None:
        _reorder_users(model, list(tokens), list(dataset.field2id_token[dataset.uid_field]), path)
    getLogger().info(f"Loaded frozen teacher {teacher_config['model']} ({teacher_config['backbone']}) from {path}")
    return model.requires_grad_(False).eval().to(device)


def _reorder_users(model, teacher_tokens, student_tokens, path):
    index = {token: i for i, token in enumerate(teacher_tokens)}
    missing = [t for t in student_tokens[1:] if t not in index]
    if missing:
        raise ConfigError(f"the teacher in {path} has no embedding for users {missing[:5]}",
                          where="teacher_checkpoint", fix="train the teacher on the same dataset files")
    order = torch.tensor([index.get(t, 0) for t in student_tokens])
    with torch.no_grad():
        model.user_embedding.weight.copy_(model.user_embedding.weight[order])


def load_relevancy_encoder(path, trust=False):
    """The item encoder f_R of an ``OutfitNetFIR`` checkpoint, as a state dict for OutfitNet's relevancy encoder."""
    checkpoint = load_checkpoint(path, trust=trust, where="relevancy_checkpoint")
    try:
        model, state = checkpoint["config"]["model"], checkpoint["state_dict"]
    except (KeyError, TypeError) as error:
        raise ConfigError(f"{path} is not a RecBole checkpoint (no {error})", where="relevancy_checkpoint",
                          fix="point relevancy_checkpoint at a checkpoint an OutfitNetFIR run saved") from error
    if model != "OutfitNetFIR":
        raise ConfigError(f"{path} holds a {model} model, not OutfitNet's relevancy stage",
                          where="relevancy_checkpoint",
                          fix="use a checkpoint of --model=OutfitNetFIR, or leave relevancy_checkpoint unset")
    prefix = "item_encoder."
    return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}


def load_neighbour_table(path, dataset):
    """The neighbour table as a LongTensor ``[n_garments, k]`` in ``dataset``'s garment ids."""
    if not path or not os.path.isfile(path):
        raise ConfigError(f"neighbour table {path!r} does not exist", where="neighbour_table",
                          fix="leave neighbour_table unset so the pipeline builds it, or drop 'replace'")
    try:
        data = np.load(path)
        table, saved_tokens = data["table"], data["tokens"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as error:
        raise ConfigError(f"{path} is not a readable neighbour table ({type(error).__name__}: {error})",
                          where="neighbour_table", fix="leave neighbour_table unset so the pipeline builds it") from error
    tokens = list(dataset.field2id_token["garment_id"])
    if list(saved_tokens) != tokens:
        raise ConfigError(f"{path} was built for other garments than {dataset.dataset_name}'s",
                          where="neighbour_table", fix="delete it (it is rebuilt) or give the right file")
    return torch.from_numpy(table).long()
