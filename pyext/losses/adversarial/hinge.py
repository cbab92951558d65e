"""The hinge objective (Lim & Ye 2017; Miyato et al. 2018): D minimises ``relu(1 - r) + relu(1 + f)``,
G ``-f``."""
from __future__ import annotations

import torch.nn.functional as F

from .base import LogitObjective, register


@register("hinge")
class HingeObjective(LogitObjective):
    def d_real(self, r):
        return F.relu(1 - r)

    def d_fake(self, f):
        return F.relu(1 + f)

    def g(self, f):
        return -f
