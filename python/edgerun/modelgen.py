"""Deprecated: the model builder and the built-in bench model moved to
:mod:`edgerun.model.builder` (this name keeps working for them for now).

The small test models this module used to ship (``add_model``, ``slow_model``,
``builtin_ops_to_custom`` ...) were test fixtures: they now live in the
repository's ``tests/models.py`` and are no longer part of the package.
"""

from typing import Any

from ._compat import warn_moved
from .model import builder as _new
from .model.builder import *  # noqa: F401,F403

warn_moved(__name__, "edgerun.model.builder")

_MOVED_TO_TESTS = {
    "builtin_image_reference", "add_model", "add_constant", "identity_model", "dynamic_batch_model",
    "two_signature_model", "multi_io_model", "stateful_counter_model", "custom_op_model", "gather_model",
    "slow_model", "slow_model_layers", "slow_model_reference", "STANDIN_ADD_OP", "EDGETPU_CUSTOM_OP",
    "residual_model", "builtin_ops_to_custom", "edgetpu_model", "DETECTION_POSTPROCESS_OP",
    "detection_postprocess_model",
}


def __getattr__(name: str) -> Any:
    if name in _MOVED_TO_TESTS:
        raise AttributeError(f"edgerun.modelgen.{name} was a test fixture and is no longer shipped: it lives in "
                             "the edgerun repository's tests/models.py")
    return getattr(_new, name)
