"""ZenML's pandas materializer, plus a content hash of the table.

ZenML puts an input artifact's content hash into a step's cache key when the artifact has one,
and its id otherwise. The source step is never cached (the source may have changed), so every
run's raw table is a new artifact: keyed by id, nothing downstream of it could ever be cached.
Keyed by content, a rerun on the same data (after a failed run, say) reuses every step whose
code, parameters and input values are unchanged, and a changed row reruns everything after it.
"""

from __future__ import annotations

import hashlib
from typing import Any, Optional

import pandas as pd
from zenml.integrations.pandas.materializers.pandas_materializer import PandasMaterializer
from zenml.materializers.materializer_registry import materializer_registry


class HashedPandasMaterializer(PandasMaterializer):
    """Stores exactly as ZenML's pandas materializer does (Parquet), so readers are unaffected."""

    def compute_content_hash(self, data: Any) -> Optional[str]:
        digest = hashlib.sha256()
        frame = data.to_frame() if isinstance(data, pd.Series) else data
        digest.update(repr([(str(name), str(dtype)) for name, dtype in frame.dtypes.items()]).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
        return digest.hexdigest()


# The registry keeps the first materializer registered for a type (ZenML's, on import): replace it.
for _type in HashedPandasMaterializer.ASSOCIATED_TYPES:
    materializer_registry.register_and_overwrite_type(_type, HashedPandasMaterializer)
