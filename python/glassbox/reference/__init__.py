"""Reference networks to judge the glass box against (optional; needs torch).

- :mod:`glassbox.reference.alexnet`: AlexNet in plain torch with torchvision's ``state_dict``
  keys, a 28x28 variant, the D4-symmetrised control and activation hooks;
- :mod:`glassbox.reference.compare`: per-layer equivariance and class separability of AlexNet
  beside the glass-box layers (the ``glassbox compare`` command).

Importing this package does not import torch; its sub-modules that need torch do.
"""

from __future__ import annotations

__all__ = ["alexnet", "compare"]
