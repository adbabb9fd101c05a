"""minidl: a small neural-network framework written by hand on PyTorch tensors.

Each public class names the notebook (in notebooks/) that derives it.
"""

from . import data, experiment, recipes, stats, train
from .activations import ELU, SELU, LeakyReLU, ReLU, Sigmoid, Tanh
from .checks import ArgumentError, ShapeError
from .gradcheck import gradcheck
from .init import gain, xavier_normal_
from .linear import Linear
from .losses import BCELoss, CrossEntropyLoss, Loss, LossMSE, MSELoss
from .module import Module, Parameter
from .optim import SGD
from .sequential import Sequential
from .testing import compare

__all__ = [
    "ELU",
    "SELU",
    "SGD",
    "ArgumentError",
    "BCELoss",
    "CrossEntropyLoss",
    "LeakyReLU",
    "Linear",
    "Loss",
    "LossMSE",
    "MSELoss",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "ShapeError",
    "Sigmoid",
    "Tanh",
    "compare",
    "data",
    "experiment",
    "gain",
    "gradcheck",
    "recipes",
    "stats",
    "train",
    "xavier_normal_",
]
__version__ = "0.1.0"
