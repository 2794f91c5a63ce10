"""The shared training loop (one loop, a recipe per module: S, R, G).

``deocclude train <recipe> [--flags]``; a recipe is a :class:`Task` plus a frozen config
dataclass deriving from :class:`TrainConfig`. See :mod:`deocclude.train.loop`.
"""

from deocclude.train.config import TrainConfig
from deocclude.train.task import Stage, Task

__all__ = ["Stage", "Task", "TrainConfig"]
