"""AlexNet in plain torch, with torchvision's module structure and ``state_dict`` keys.

This module is the only part of glassbox that imports torch (``pip install "glassbox[torch]"``).
It never downloads anything: networks start from a seeded random initialisation, or load a
weight file the user already has (for example one saved from torchvision with
``torch.save(model.state_dict(), path)``).

- :func:`alexnet`: torchvision's AlexNet (``features.0`` ... ``classifier.6``, 61,100,840
  parameters at 1000 classes) for 3-channel inputs of about 224 pixels;
- :func:`alexnet28`: a half-width AlexNet for 28x28 single-channel images (no strides, 2x2
  pools), with the same key names;
- :func:`symmetrize`: a copy whose filters are averaged over their orbit under a group (exactly
  equivariant where the grids align, the control of the comparison);
- :func:`activations`: conv1..conv5 and fc6..fc8 via forward hooks;
- :func:`misaligned_stages` and :func:`aligned_size`: whether a group maps each stage's
  sampling grid onto itself at a given input size;
- :func:`prepare_images` and :func:`train`.
"""

from __future__ import annotations

import contextlib
import copy
import numbers
from pathlib import Path

import numpy as np

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised in a venv without torch
    raise ImportError(
        "glassbox.reference.alexnet needs torch: pip install 'glassbox[torch]' "
        "(pins torch==2.13.0, the CPU build). The rest of glassbox works without it. "
        f"Original error: {exc}"
    ) from exc

from .._validation import check_int
from ..groups import get_group

__all__ = [
    "CONV_LAYERS",
    "FC_LAYERS",
    "LAYERS",
    "AlexNet",
    "activations",
    "aligned_size",
    "alexnet",
    "alignment_message",
    "alexnet28",
    "load_weights",
    "misaligned_stages",
    "predict",
    "prepare_images",
    "symmetrize",
    "train",
]

#: Convolution layers, with the index of each conv module in ``features``.
CONV_LAYERS = {"conv1": 0, "conv2": 3, "conv3": 6, "conv4": 8, "conv5": 10}
#: Fully connected layers, with the index of each linear module in ``classifier``.
FC_LAYERS = {"fc6": 1, "fc7": 4, "fc8": 6}
#: Every layer :func:`activations` can record, in forward order.
LAYERS = tuple(CONV_LAYERS) + tuple(FC_LAYERS)

# ImageNet statistics (torchvision's normalisation) for the 3-channel AlexNet; the 28x28 variant
# standardises with Fashion-MNIST-like statistics of [0, 1] pixels.
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class AlexNet(nn.Module):
    """torchvision's ``AlexNet`` module structure: ``features``, ``avgpool``, ``classifier``.

    Built by :func:`alexnet` and :func:`alexnet28`; ``variant`` records which (``"alexnet"``
    or ``"alexnet28"``), ``input_size`` the input side it was designed for and ``in_channels``
    its input channels.
    """

    def __init__(self, features, pool, classifier, *, variant, input_size, in_channels):
        super().__init__()
        self.features = features
        self.avgpool = pool
        self.classifier = classifier
        self.variant = variant
        self.input_size = input_size
        self.in_channels = in_channels

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def _check_int(name, v, low=1):
    return check_int(v, name, min_val=low)


def _build(variant, num_classes, in_channels, seed, weights, dropout):
    num_classes = _check_int("num_classes", num_classes)
    in_channels = _check_int("in_channels", in_channels)
    if not (isinstance(dropout, numbers.Real) and 0.0 <= dropout < 1.0):
        raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
    if weights is None:
        seed = _check_int("seed", seed, low=0)
    # the initialisation draws from a private generator: the global torch RNG is left alone
    with torch.random.fork_rng(devices=[]):
        if weights is None:
            torch.manual_seed(seed)
        relu = lambda: nn.ReLU(inplace=True)  # noqa: E731 - torchvision's in-place ReLUs
        if variant == "alexnet":
            c = (64, 192, 384, 256, 256)
            features = nn.Sequential(
                nn.Conv2d(in_channels, c[0], kernel_size=11, stride=4, padding=2),
                relu(),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(c[0], c[1], kernel_size=5, padding=2),
                relu(),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(c[1], c[2], kernel_size=3, padding=1),
                relu(),
                nn.Conv2d(c[2], c[3], kernel_size=3, padding=1),
                relu(),
                nn.Conv2d(c[3], c[4], kernel_size=3, padding=1),
                relu(),
                nn.MaxPool2d(kernel_size=3, stride=2),
            )
            grid, hidden, size = 6, 4096, 223
        else:
            c = (32, 96, 192, 128, 128)
            features = nn.Sequential(
                nn.Conv2d(in_channels, c[0], kernel_size=5, padding=2),
                relu(),
                nn.MaxPool2d(kernel_size=2, stride=2),
                nn.Conv2d(c[0], c[1], kernel_size=5, padding=2),
                relu(),
                nn.MaxPool2d(kernel_size=2, stride=2),
                nn.Conv2d(c[1], c[2], kernel_size=3, padding=1),
                relu(),
                nn.Conv2d(c[2], c[3], kernel_size=3, padding=1),
                relu(),
                nn.Conv2d(c[3], c[4], kernel_size=3, padding=1),
                relu(),
                # AlexNet's overlapping 3x3/2 pool: 7 -> 3 covers the 7x7 grid exactly, so 28x28
                # inputs align at every stage (a 2x2 pool would drop the last row and column)
                nn.MaxPool2d(kernel_size=3, stride=2),
            )
            grid, hidden, size = 3, 2048, 28
        classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(c[4] * grid * grid, hidden),
            relu(),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            relu(),
            nn.Linear(hidden, num_classes),
        )
        model = AlexNet(
            features,
            nn.AdaptiveAvgPool2d((grid, grid)),
            classifier,
            variant=variant,
            input_size=size,
            in_channels=in_channels,
        )
    if weights is not None:
        load_weights(model, weights)
    return model.eval()


def alexnet(num_classes=1000, *, in_channels=3, seed=0, weights=None, dropout=0.5):
    """torchvision's AlexNet: same modules, shapes and ``state_dict`` keys.

    Parameters
    ----------
    num_classes : int
        Outputs of the last layer (``classifier.6``).
    in_channels : int
        Input channels of ``features.0`` (3 for torchvision's weights).
    seed : int
        Seed of the random initialisation (torch's default layer initialisation, drawn from a
        private generator: the global torch RNG is not touched).
    weights : str or path-like, optional
        A ``state_dict`` saved with ``torch.save`` (torchvision's weight file works), loaded
        with ``weights_only=True``.  Nothing is ever downloaded.
    dropout : float
        Dropout probability of the classifier (active only in training mode).

    Returns
    -------
    AlexNet
        In evaluation mode.  Grids align under D4 at input sizes ``32 k + 31`` (223, 255), see
        :func:`misaligned_stages`.

    Examples
    --------
    >>> from glassbox.reference.alexnet import alexnet
    >>> model = alexnet()
    >>> sum(p.numel() for p in model.parameters())
    61100840
    """
    return _build("alexnet", num_classes, in_channels, seed, weights, dropout)


def alexnet28(num_classes=10, *, in_channels=1, seed=0, weights=None, dropout=0.5):
    """A half-width AlexNet for 28x28 images, with torchvision's key names.

    ``features``: conv 5x5 (32) - pool 2 - conv 5x5 (96) - pool 2 - conv 3x3 (192, 128, 128) -
    pool 3/2, no strides in the convolutions; ``classifier``: 1152 - 2048 - 2048 -
    ``num_classes``.  Keys are ``features.0/3/6/8/10`` and ``classifier.1/4/6`` as in
    :func:`alexnet`, so the same hooks and tables apply.  Every stage aligns under D4 at 28x28.

    Parameters
    ----------
    num_classes, in_channels, seed, weights, dropout :
        As in :func:`alexnet` (one input channel by default).

    Returns
    -------
    AlexNet
        In evaluation mode.
    """
    return _build("alexnet28", num_classes, in_channels, seed, weights, dropout)


def load_weights(model, path):
    """Load a ``state_dict`` file into ``model`` (safely: ``torch.load(weights_only=True)``).

    Parameters
    ----------
    model : AlexNet
    path : str or path-like

    Returns
    -------
    AlexNet
        ``model``, with the weights loaded.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        The file is not a readable ``state_dict`` or its keys or shapes do not match.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights: no such file {str(path)!r}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several kinds for a corrupt or foreign file
        raise ValueError(
            f"weights: {str(path)!r} is not a torch state_dict file readable with "
            f"weights_only=True ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"weights: {str(path)!r} does not hold a state_dict of tensors")
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(
            f"weights: {str(path)!r} does not fit this {model.variant}: {exc}"
        ) from None
    return model


def symmetrize(model, group="D4"):
    """A copy of ``model`` whose convolution filters are averaged over their group orbit.

    Each filter ``w`` (spatial axes last) becomes ``mean_g g·w`` over the elements of
    ``group``; such a filter is invariant under the group, so every convolution, ReLU and
    max-pool stage commutes with the group acting on the spatial axes (where the grids align,
    see :func:`misaligned_stages`): the equivariance error of every conv layer is then float32
    rounding.  The classifier is left as it is.

    Parameters
    ----------
    model : AlexNet
    group : str or Group

    Returns
    -------
    AlexNet
        A new model in evaluation mode; ``model`` is not modified.
    """
    g = get_group(group)
    sym = copy.deepcopy(model)
    with torch.no_grad():
        for module in sym.features:
            if isinstance(module, nn.Conv2d):
                w = module.weight.detach().cpu().numpy().astype(np.float64)
                if g.order > 1 and w.shape[-1] != w.shape[-2] and "r90" in g.elements:
                    raise ValueError("symmetrize needs square filters for groups with rotations")
                avg = sum(g.apply(w, i) for i in range(g.order)) / g.order
                module.weight.copy_(torch.from_numpy(avg.astype(np.float32)))
    return sym.eval()


def _stages(model):
    """(name, kernel, stride, padding) of every spatial stage in ``features``."""
    out = []
    conv_names = {v: k for k, v in CONV_LAYERS.items()}
    for idx, m in enumerate(model.features):
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
            k, s, p = (m.kernel_size, m.stride, m.padding)
            k, s, p = (v if isinstance(v, int) else v[0] for v in (k, s, p))
            name = conv_names.get(idx, f"pool (features.{idx})")
            out.append((name, k, s, p))
    return out


def misaligned_stages(model, size):
    """Stages whose sampling grid a rotation or flip does not map onto itself at this size.

    A stage with kernel ``k``, stride ``s`` and padding ``p`` on an input of side ``n`` covers
    the padded input exactly (so flipping the input flips the output grid) iff
    ``(n + 2 p - k) % s == 0``; otherwise the last ``(n + 2 p - k) % s`` rows and columns are
    never read and the grids land off by that many pixels.

    Parameters
    ----------
    model : AlexNet
    size : int
        Input side (square inputs).

    Returns
    -------
    list of str
        Names of the misaligned stages, empty when every stage aligns.
    """
    n = _check_int("size", size)
    bad = []
    for name, k, s, p in _stages(model):
        if n + 2 * p < k:
            raise ValueError(f"size {size} is too small for {model.variant}: {name} has kernel {k}")
        if (n + 2 * p - k) % s:
            bad.append(name)
        n = (n + 2 * p - k) // s + 1
    return bad


def aligned_size(model, near):
    """The input size nearest to ``near`` at which every stage aligns.

    Parameters
    ----------
    model : AlexNet
    near : int

    Returns
    -------
    int
        The aligned size closest to ``near`` (the smaller one on ties), for example 223 for
        AlexNet near 224.
    """
    near = _check_int("near", near)
    for delta in range(0, 4096):
        for n in (near - delta, near + delta):
            if n >= 1:
                try:
                    if not misaligned_stages(model, n):
                        return n
                except ValueError:
                    continue
    raise ValueError(f"no aligned input size near {near}")  # pragma: no cover


def alignment_message(model, size, *, option="size"):
    """A warning text when ``size`` misaligns a stage of ``model``, else ``None``.

    Parameters
    ----------
    model : AlexNet
    size : int
    option : str
        How the text names the size to use (``"size"``, or ``"--size"`` on the command line).

    Returns
    -------
    str or None
    """
    bad = misaligned_stages(model, size)
    if not bad:
        return None
    return (
        f"at input size {size}, {model.variant}'s grids do not map onto themselves under "
        f"rotations and flips ({', '.join(bad)} misaligned): equivariance errors include a "
        f"grid shift; use {option} {aligned_size(model, size)}"
    )


def prepare_images(images, model, size=None):
    """uint8 or float gray images ``(N, H, W)`` -> the model's float32 input ``(N, C, S, S)``.

    Pixels are scaled to [0, 1], resized to ``size`` with bilinear interpolation (OpenCV),
    repeated over the model's input channels and normalised: with torchvision's ImageNet
    statistics for 3-channel models, divided by 0.35 (no centring, so a black background stays
    0 and zero padding continues it) for other channel counts.  The group acts on the prepared
    images (never through the resize), so resampling does not enter any equivariance error.

    Parameters
    ----------
    images : array_like, shape (N, H, W)
    model : AlexNet
    size : int, optional
        Side of the model's input; default ``model.input_size`` (223 or 28).

    Returns
    -------
    ndarray of float32, shape (N, model.in_channels, size, size)
    """
    import cv2

    x = np.asarray(images)
    if x.ndim != 3 or x.shape[0] == 0 or x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(f"images must be a non-empty (N, H, W) array, got shape {x.shape}")
    if x.dtype.kind not in "uif":
        raise TypeError(f"images must be numeric, got dtype {x.dtype}")
    size = model.input_size if size is None else _check_int("size", size)
    x = x.astype(np.float32) / (255.0 if x.dtype == np.uint8 else 1.0)
    if not np.all(np.isfinite(x)):
        raise ValueError("images contain NaN or infinite values")
    if x.shape[1:] != (size, size):
        x = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_LINEAR) for im in x])
    c = model.in_channels
    x = np.repeat(x[:, None], c, axis=1)
    if c == 3:
        mean = np.array(_IMAGENET_MEAN, np.float32)[:, None, None]
        std = np.array(_IMAGENET_STD, np.float32)[:, None, None]
    else:
        # no centring: the background (0) stays 0, so zero padding continues it and the image
        # border is not an edge that every filter sees (which would dominate the measures)
        mean, std = np.float32(0.0), np.float32(0.35)
    return np.ascontiguousarray((x - mean) / std, dtype=np.float32)


def _layer_modules(model, layers, pre_relu):
    """(layer name, module to hook, whether to clone) for each requested layer."""
    out = []
    for name in layers:
        if name in CONV_LAYERS:
            seq, idx = model.features, CONV_LAYERS[name]
        elif name in FC_LAYERS:
            seq, idx = model.classifier, FC_LAYERS[name]
        else:
            raise ValueError(f"layers: unknown layer {name!r}; choose from {', '.join(LAYERS)}")
        # post-ReLU: hook the ReLU after the layer (fc8, the logits, has none); pre-ReLU: hook
        # the layer itself and clone, because the in-place ReLU overwrites its output
        has_relu = idx + 1 < len(seq) and isinstance(seq[idx + 1], nn.ReLU)
        if pre_relu or not has_relu:
            out.append((name, seq[idx], pre_relu and has_relu))
        else:
            out.append((name, seq[idx + 1], False))
    return out


def activations(model, x, layers=LAYERS, *, pre_relu=False, batch_size=64):
    """Activations of AlexNet layers for a batch of prepared images.

    Parameters
    ----------
    model : AlexNet
    x : array_like or torch.Tensor, shape (N, C, S, S)
        Prepared images (:func:`prepare_images`), float32.
    layers : sequence of str
        Names from :data:`LAYERS` (``conv1`` ... ``conv5``, ``fc6``, ``fc7``, ``fc8``).
    pre_relu : bool
        Record the layer's output before its ReLU instead of after it (the default, what the
        next layer sees).  ``fc8`` (the logits) has no ReLU.
    batch_size : int
        Images per forward pass.

    Returns
    -------
    dict of str to ndarray of float32
        ``(N, C, h, w)`` for conv layers, ``(N, F)`` for fc layers.  The forward pass stops
        after the last requested layer.
    """
    batch_size = _check_int("batch_size", batch_size)
    layers = list(layers)
    if not layers:
        raise ValueError("layers must name at least one layer")
    modules = _layer_modules(model, layers, pre_relu)  # checks the names
    x = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))
    if x.ndim != 4 or x.shape[1] != model.in_channels or x.shape[0] == 0:
        raise ValueError(
            f"x must have shape (N, {model.in_channels}, S, S) with N >= 1, got {tuple(x.shape)}"
        )
    if x.dtype != torch.float32:
        raise TypeError(f"x must be float32, got {x.dtype}")
    results = {name: [] for name in layers}
    current = {}

    class _Done(Exception):
        pass

    last = max(layers, key=LAYERS.index)

    def hook_for(name, clone):
        def hook(module, inputs, output):
            current[name] = (output.clone() if clone else output).detach().cpu().numpy().copy()
            if name == last:
                raise _Done

        return hook

    handles = [
        module.register_forward_hook(hook_for(name, clone)) for name, module, clone in modules
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for a in range(0, x.shape[0], batch_size):
                current.clear()
                with contextlib.suppress(_Done):  # stopped after the last layer asked for
                    model(x[a : a + batch_size])
                for name in layers:
                    results[name].append(current[name])
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return {name: np.concatenate(v) for name, v in results.items()}


def train(
    model,
    images,
    labels,
    *,
    size=None,
    epochs=2,
    batch_size=128,
    lr=1e-3,
    seed=0,
    augment_group=None,
    progress=None,
):
    """Train ``model`` in place with Adam and cross-entropy, then leave it in evaluation mode.

    Images are prepared (:func:`prepare_images`) one batch at a time, so the full 224-pixel
    AlexNet trains on a dataset without holding it resized in memory.

    Parameters
    ----------
    model : AlexNet
    images : array_like, shape (N, H, W)
        Training images (gray, uint8 or float).
    labels : array_like of int, shape (N,)
        Class indices in ``[0, num_classes)``.
    size : int, optional
        Input side; default ``model.input_size``.
    epochs : int
    batch_size : int
    lr : float
        Adam's learning rate.
    seed : int
        Seeds the shuffling, the dropout and the augmentation (a private generator; the global
        torch RNG is not touched).
    augment_group : str or Group, optional
        Apply a random element of this group to every training image (augmentation).
    progress : callable, optional
        ``progress(done, total)`` after every batch, counting images over all epochs.

    Returns
    -------
    dict
        ``loss``: the mean training loss of each epoch; ``seconds``.
    """
    import time

    epochs = _check_int("epochs", epochs)
    batch_size = _check_int("batch_size", batch_size)
    seed = _check_int("seed", seed, low=0)
    if not (isinstance(lr, numbers.Real) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    images = np.asarray(images)
    if images.ndim != 3 or not len(images):
        raise ValueError(f"images must be a non-empty (N, H, W) array, got shape {images.shape}")
    y = np.asarray(labels)
    n_out = model.classifier[-1].out_features
    if y.shape != (len(images),) or y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= n_out:
        raise ValueError(f"labels must hold {len(images)} class indices in [0, {n_out})")
    g = get_group(augment_group) if augment_group is not None else None
    rng = np.random.default_rng(seed)
    target = torch.from_numpy(y.astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    history, total, done = [], epochs * len(images), 0
    t0 = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.train()
        try:
            for _ in range(epochs):
                order = rng.permutation(len(images))
                losses = []
                for a in range(0, len(images), batch_size):
                    idx = np.sort(order[a : a + batch_size])
                    xb = prepare_images(images[idx], model, size)
                    if g is not None:
                        el = rng.integers(0, g.order, size=len(idx))
                        xb = np.stack([g.apply(im, int(e)) for im, e in zip(xb, el, strict=True)])
                    opt.zero_grad(set_to_none=True)
                    loss = loss_fn(model(torch.from_numpy(np.ascontiguousarray(xb))), target[idx])
                    loss.backward()
                    opt.step()
                    losses.append(loss.item() * len(idx))
                    done += len(idx)
                    if progress is not None:
                        progress(done, total)
                history.append(sum(losses) / len(images))
        finally:
            model.eval()
    return {"loss": history, "seconds": time.perf_counter() - t0}


def predict(model, images, *, size=None, batch_size=256, progress=None):
    """Class indices the model predicts for gray images (prepared one batch at a time).

    Parameters
    ----------
    model : AlexNet
    images : array_like, shape (N, H, W)
    size : int, optional
        Input side; default ``model.input_size``.
    batch_size : int
    progress : callable, optional
        ``progress(done, total)`` after every batch.

    Returns
    -------
    ndarray of intp, shape (N,)
    """
    batch_size = _check_int("batch_size", batch_size)
    images = np.asarray(images)
    if images.ndim != 3 or not len(images):
        raise ValueError(f"images must be a non-empty (N, H, W) array, got shape {images.shape}")
    out = np.empty(len(images), dtype=np.intp)
    for a in range(0, len(images), batch_size):
        b = min(a + batch_size, len(images))
        x = prepare_images(images[a:b], model, size)
        out[a:b] = activations(model, x, ["fc8"], batch_size=batch_size)["fc8"].argmax(axis=1)
        if progress is not None:
            progress(b, len(images))
    return out
