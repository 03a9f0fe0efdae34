"""Numerics that must stay in float32 when a model runs under mixed precision (``enable_amp: True``).

Under ``torch.autocast`` the item encoder's convolutions and the Set Transformer's linear layers run in
bfloat16 / float16, which is where a GPU's tensor cores pay. Scores and losses must not: a cosine
similarity in bfloat16 keeps about 3 significant digits, so scores of one user's candidates would tie
(ties count against positives in ``user_auc``), and a temperature-0.1 softmax (Eq. 10, 13, 18) multiplies
the rounding error by 10 before exponentiating. :func:`float32` runs a function with autocast switched off
and its floating-point tensor arguments cast up to float32; outside autocast it changes nothing
(``Tensor.float()`` of a float32 tensor is the tensor itself).
"""

import functools

import torch


def _device_type(args, kwargs):
    for value in (*args, *kwargs.values()):
        if torch.is_tensor(value):
            return value.device.type
    return "cpu"


def _up(value):
    return value.float() if torch.is_tensor(value) and value.is_floating_point() else value


def float32(function):
    """Decorator: ``function`` computes in float32 even inside an autocast region (see the module docstring)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with torch.autocast(device_type=_device_type(args, kwargs), enabled=False):
            return function(*[_up(a) for a in args], **{k: _up(v) for k, v in kwargs.items()})

    return wrapper
