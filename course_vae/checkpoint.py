"""Save and load a VAE as (plain-dict config, state_dict), safely and atomically.

A checkpoint is a dict ``{"format": "course_vae.checkpoint", "version": 1, "config":
{...}, "state_dict": {...}, "metadata": {...}}`` written with ``torch.save`` to a temporary
file that ``os.replace`` moves into place.  Loading uses ``torch.load(weights_only=True)``,
which never unpickles arbitrary objects; anything that is not such a dict raises a
``ValueError`` saying so.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from course_vae._validate import check_device
from course_vae.models import VAE, VAEConfig

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_FORMAT = "course_vae.checkpoint"
CHECKPOINT_VERSION = 1

_PLAIN = (str, int, float, bool, type(None))


def _check_plain(value: Any, where: str) -> None:
    """Metadata must be plain values (loadable with weights_only=True)."""
    if isinstance(value, _PLAIN) or isinstance(value, torch.Tensor):
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"metadata keys must be strings; {where} has key {k!r}")
            _check_plain(v, f"{where}[{k!r}]")
        return
    raise TypeError(
        f"metadata must hold only str, int, float, bool, None, tensors, lists and dicts; "
        f"{where} is a {type(value).__name__}"
    )


def save_checkpoint(
    path: str | os.PathLike, model: VAE, metadata: dict[str, Any] | None = None
) -> Path:
    """Write ``model``'s config and weights (and plain ``metadata``, e.g. a history) to ``path``.

    The file appears atomically: written to a temporary file in the same folder, then
    moved with ``os.replace``.  Returns the path.
    """
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_vae VAE, got {type(model).__name__}")
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    _check_plain(metadata, "metadata")
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "metadata": metadata,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _read(path: Path) -> dict[str, Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # e.g. "pickle protocol 4" notes
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - random bytes raise anything (IndexError, KeyError...)
        raise ValueError(
            f"{path} is not a course_vae checkpoint (it could not be read as weights only: "
            f"{type(exc).__name__})"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is not a course_vae checkpoint (no {CHECKPOINT_FORMAT!r} format marker; "
            f"found a {type(payload).__name__})"
        )
    version = payload.get("version")
    if not isinstance(version, int) or not 1 <= version <= CHECKPOINT_VERSION:
        raise ValueError(
            f"{path} has checkpoint version {version!r}; this course_vae reads versions "
            f"1..{CHECKPOINT_VERSION}"
        )
    for key, kind in (("config", dict), ("state_dict", dict), ("metadata", dict)):
        if not isinstance(payload.get(key), kind):
            raise ValueError(f"{path} is a damaged course_vae checkpoint: {key!r} is missing")
    return payload


def load_checkpoint(
    path: str | os.PathLike,
    device: torch.device | str = "cpu",
    return_metadata: bool = False,
) -> VAE | tuple[VAE, dict[str, Any]]:
    """Rebuild the VAE saved at ``path`` (in eval mode, on ``device``).

    With ``return_metadata=True`` returns ``(model, metadata)``.  Raises
    ``FileNotFoundError`` if there is no file and ``ValueError`` if it is not a
    course_vae checkpoint (random bytes, a plain tensor, an arbitrary pickle...).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path, got {type(path).__name__}")
    device = check_device(device)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    payload = _read(path)
    try:
        config = VAEConfig.from_dict(payload["config"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path} has an invalid model config: {exc}") from exc
    model = VAE(config)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise ValueError(f"{path}: the weights do not fit the saved config ({exc})") from exc
    model.to(device).eval()
    if return_metadata:
        return model, payload["metadata"]
    return model
