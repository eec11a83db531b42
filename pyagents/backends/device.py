"""Where a backend's networks run: the device a spec names, the dtype used there, and placing a
network so that callers keep handing it CPU float32 tensors and getting CPU float32 back.

torch is imported inside the functions: the config validates device names without it.
"""
from __future__ import annotations

import re

from .base import BackendError

DEVICE_NAMES = "'auto', 'cpu', 'cuda' or 'cuda:N'"
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


def valid_device(spec) -> bool:
    """Whether spec is a device name a backend takes (DEVICE_NAMES); says nothing of this machine."""
    return isinstance(spec, str) and _DEVICE.fullmatch(spec) is not None


def resolve_device(spec="auto"):
    """torch.device of a device name: 'auto' = CUDA where torch sees one, else the CPU.
    A bad name, or CUDA on a machine without it, is a one-line BackendError."""
    import torch

    spec = str(spec)  # a torch.device names itself
    if not valid_device(spec):
        raise BackendError(f"device must be {DEVICE_NAMES}, got {spec!r}")
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(spec)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not count:
            raise BackendError(f"device {spec!r} asked for, but torch sees no CUDA device on this machine")
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())  # one cache key per GPU
        if device.index >= count:
            raise BackendError(f"device {spec!r} asked for, but torch sees only {count} CUDA device(s)")
    return device


def model_dtype(device, half: bool = True):
    """float16 on CUDA for a network whose outputs tolerate it (half=True: the diffusion, edge,
    classifier and text networks); float32 otherwise: always on the CPU (where results must stay
    what they were), for the entropy codecs (their bitstreams decode on any machine) and the
    metrics (comparable across machines)."""
    import torch

    return torch.float16 if half and torch.device(device).type == "cuda" else torch.float32


def place(module, device, dtype=None):
    """module on device in dtype (float32 when None), called as before: hooks move its tensor
    inputs there (floating ones cast to dtype) and bring its outputs back to the CPU as float32.
    On the CPU in float32 the module is returned untouched (no hooks), so results there are
    bit-identical to an unplaced module."""
    import torch

    device, dtype = torch.device(device), dtype or torch.float32
    if device.type == "cpu" and dtype == torch.float32:
        return module
    module.to(device=device, dtype=dtype)

    def inputs(_, args, kwargs):
        return _map(args, lambda t: _to(t, device, dtype)), _map(kwargs, lambda t: _to(t, device, dtype))

    def outputs(_, args, kwargs, out):
        return _map(out, lambda t: _to(t, "cpu", torch.float32))

    module.register_forward_pre_hook(inputs, with_kwargs=True)
    module.register_forward_hook(outputs, with_kwargs=True)
    return module


def _to(tensor, device, dtype):
    return tensor.to(device, dtype) if tensor.is_floating_point() else tensor.to(device)


def _map(value, fn):
    """fn on every tensor in a (nested) tuple / list / dict / model output, kept in its type."""
    import torch

    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, dict):  # also transformers / diffusers outputs, which set attributes on __setitem__
        for key in list(value.keys()):
            value[key] = _map(value[key], fn)
        return value
    if isinstance(value, (tuple, list)) and not hasattr(value, "_fields"):
        return type(value)(_map(v, fn) for v in value)
    return value
