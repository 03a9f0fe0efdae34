"""Reading the AlexNet weights an item encoder starts from (``backbone_weights``), for the pipeline to hand over.

The pipeline (``BackboneStage`` in ``pipeline/stages.py``) resolves ``backbone_weights`` to a file (torchvision's
ImageNet file, a user's path, or the synthetic pretraining stage's artifact) and reads it here into a state
dict; the model copies the tensors that fit (:func:`~recbole_outfit.model.layers.load_alexnet_weights`). Models
never call these functions.
"""

import os

import torch
import torchvision

from recbole_outfit.errors import ConfigError

ALEXNET_WEIGHTS_FILE = "alexnet-owt-7be5be79.pth"  # torchvision's IMAGENET1K_V1 file in the torch hub cache


def imagenet_weights_file():
    """Path of torchvision's ImageNet AlexNet file in the torch hub cache, downloaded there when missing;
    ``ConfigError`` (exit 2) when it is neither there nor downloadable."""
    cache = os.path.join(torch.hub.get_dir(), "checkpoints", ALEXNET_WEIGHTS_FILE)
    if os.path.isfile(cache):
        return cache
    try:
        torchvision.models.AlexNet_Weights.IMAGENET1K_V1.get_state_dict(progress=False)  # downloads into the cache
    except Exception as error:
        raise ConfigError(
            f"ImageNet weights for AlexNet could not be loaded ({type(error).__name__}: {error})",
            where="backbone_weights=imagenet",
            fix=f"put torchvision's {ALEXNET_WEIGHTS_FILE} at {cache}, pass backbone_weights=/path/to/"
                f"alexnet_state_dict.pth, backbone_weights=synthetic (pretrained here on synthetic garments), or "
                f"backbone_weights=~ for random initialisation",
        ) from error
    return cache


def check_weights_file(path):
    """``ConfigError`` (exit 2) when the weights file ``path`` does not exist."""
    if not os.path.isfile(path):
        raise ConfigError(f"backbone weights file {path!r} does not exist", where="backbone_weights",
                          fix="give a torchvision AlexNet state_dict file, 'imagenet', 'synthetic' (pretrained "
                              "here on synthetic garments), or ~")


def read_backbone_weights(path):
    """The AlexNet state dict in the file ``path`` (a plain state dict, or a dict holding one under
    ``state_dict``), read weights-only; ``ConfigError`` when it is missing, unreadable or holds no AlexNet
    convolutional layers."""
    check_weights_file(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a file that is not a tensor file
        raise ConfigError(f"{path} is not a readable state dict ({type(error).__name__}: {error})",
                          where="backbone_weights", fix="give a torchvision AlexNet state_dict file") from error
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict) or not any(str(k).startswith("features.") for k in state):
        raise ConfigError(f"{path} holds no AlexNet convolutional layers", where="backbone_weights",
                          fix="give a torchvision AlexNet state_dict (keys features.0.weight, ...)")
    return state
