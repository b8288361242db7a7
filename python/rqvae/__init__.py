"""RQ-VAE semantic IDs for product catalogs: embeddings in, short hierarchical IDs out.

The work is done by the Rust library (the module ``rqvae._rqvae``), the same code as the
``rqvae-train`` CLI, so ``Model.encode`` and ``IdTable.add`` give the CLI's results exactly.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping, Optional, Union

import numpy as np

from ._rqvae import IdTable, Model, RqvaeError, read_embeddings
from ._rqvae import train as _train

__all__ = ["IdTable", "Model", "RqvaeError", "RECIPES", "read_embeddings", "train"]

#: The recipe names of ``rqvae-train train --recipe`` (docs/training.md says what each is).
RECIPES = ("reference", "semantic-ids", "collision-fine-tune", "balanced-fine-tune")


def train(
    x: Union[np.ndarray, str, "os.PathLike[str]"],
    recipe: Union[str, Mapping[str, Any]] = "reference",
    *,
    seed: Optional[int] = None,
    epochs: Optional[int] = None,
    batch_size: Optional[int] = None,
    lr: Optional[float] = None,
    config: Optional[Mapping[str, Any]] = None,
    init_from: Optional[Model] = None,
    sample: Optional[int] = None,
    column: Optional[str] = None,
) -> Model:
    """Trains a model on ``x``: float32 or float16 ``[rows, dim]``, or the path of a ``.npy`` file
    or of Parquet (a ``.parquet`` file or a folder of shards, the vectors in ``column``).

    ``recipe`` is a name of ``rqvae-train train --recipe`` (see ``RECIPES``) or a dict of
    training settings (as ``--train-config``); ``seed``, ``epochs``, ``batch_size`` and ``lr``
    override it as the CLI's flags do. ``config`` gives the model's sizes (``hidden_dims``,
    ``latent_dim``, ``levels``, ``codebook_size``; ``input_dim`` defaults to the data's);
    ``init_from`` fine-tunes a trained model instead (the ``*-fine-tune`` recipes need it).
    ``sample`` trains on a uniform random sample of that many rows drawn with the recipe's seed
    while the file streams, as ``rqvae-train train --sample`` draws it: memory holds the sample,
    not the file. Training runs on the CPU engine of ``rqvae-train train --backend cpu``.
    """
    if isinstance(recipe, str):
        name, recipe_json = recipe, None
    elif isinstance(recipe, Mapping):
        name, recipe_json = None, json.dumps(dict(recipe))
    else:
        raise TypeError(f"recipe must be a str or a dict, found {type(recipe).__name__}")
    if config is not None and not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict, found {type(config).__name__}")
    if isinstance(x, os.PathLike):
        x = os.fspath(x)
    return _train(
        x,
        recipe=name,
        recipe_json=recipe_json,
        seed=seed,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        config_json=None if config is None else json.dumps(dict(config)),
        init_from=init_from,
        sample=sample,
        column=column,
    )
