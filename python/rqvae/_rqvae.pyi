"""Types of the compiled module (the Rust library behind PyO3)."""

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

_Path = Union[str, "os.PathLike[str]"]

class RqvaeError(ValueError):
    """Data or files rqvae cannot use; the message is the Rust library's."""

class Model:
    @staticmethod
    def load(path: _Path) -> Model: ...
    @staticmethod
    def from_bytes(data: bytes) -> Model: ...
    @staticmethod
    def from_torch(
        path: _Path,
        key_map: Optional[Dict[str, Any]] = None,
        state_dict: Optional[str] = None,
        ignore: Sequence[str] = (),
        no_decoder: bool = False,
    ) -> Model: ...
    def to_bytes(self, precision: str = "f32") -> bytes: ...
    def save(self, path: _Path, precision: str = "f32") -> None: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def levels(self) -> int: ...
    @property
    def codebook_size(self) -> int: ...
    @property
    def input_dim(self) -> int: ...
    @property
    def has_decoder(self) -> bool: ...
    @property
    def config(self) -> Dict[str, Any]: ...
    def encode(
        self, x: Union[npt.NDArray[np.float32], npt.NDArray[np.float16]]
    ) -> npt.NDArray[np.uint16]: ...
    def decode(self, codes: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.float32]: ...

class IdTable:
    @staticmethod
    def create(model: Model, resolution: str = "reassign") -> IdTable: ...
    @staticmethod
    def load(path: _Path) -> IdTable: ...
    def save(self, path: _Path) -> None: ...
    def to_jsonl(self) -> str: ...
    def add(
        self,
        model: Model,
        x: Union[npt.NDArray[np.float32], npt.NDArray[np.float16]],
        ids: Optional[Sequence[Union[int, str]]] = None,
        reassign_changed: bool = False,
    ) -> Dict[str, Any]: ...
    def quality(self) -> Dict[str, Any]: ...
    def ids(self) -> List[Union[int, str]]: ...
    def codes(self) -> npt.NDArray[np.uint32]: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def levels(self) -> int: ...
    @property
    def codebook_size(self) -> int: ...
    @property
    def resolution(self) -> str: ...
    def __len__(self) -> int: ...

def train(
    x: Union[npt.NDArray[np.float32], npt.NDArray[np.float16], _Path],
    recipe: Optional[str] = None,
    recipe_json: Optional[str] = None,
    seed: Optional[int] = None,
    epochs: Optional[int] = None,
    batch_size: Optional[int] = None,
    lr: Optional[float] = None,
    config_json: Optional[str] = None,
    init_from: Optional[Model] = None,
    sample: Optional[int] = None,
    column: Optional[str] = None,
) -> Model: ...

def read_embeddings(
    path: _Path, column: Optional[str] = None
) -> npt.NDArray[np.float32]: ...
def encode_ranked(
    model: Model, x: Union[npt.NDArray[np.float32], npt.NDArray[np.float16]]
) -> Tuple[npt.NDArray[np.uint16], npt.NDArray[np.uint16]]: ...
def resolve_group(
    levels: int,
    codebook_size: int,
    resolution: str,
    existing: npt.NDArray[np.uint32],
    nearest: npt.NDArray[np.uint32],
    ranking: npt.NDArray[np.uint16],
) -> Tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]: ...
