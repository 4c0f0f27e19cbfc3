"""A Feast feature store flavor whose repository travels with the component: ``feast_portable``.

ZenML's ``feast`` flavor names a folder (``feast_repo``) that must hold ``feature_store.yaml``
wherever a step runs. On the `local` and `services` stacks every step runs on this machine, where
`python -m stacks.register` writes that folder. In a step's container or a Kubernetes pod the
folder does not exist, and the project's ``state/`` is not in the image or the code archive.

This flavor keeps the file's text in the component's configuration (``repo_definition``), which
every step receives with its stack. The steps write it to ``feast_repo`` before they open the
store (``steps.store.feature_store.repository``), so that path only needs to be writable where
the step runs. Feast expands ``${VAR}`` in the file from the environment: credentials go there
from a ZenML secret attached to the stack, never into the definition.
"""

from __future__ import annotations

from typing import Any, Dict, List, Type, Union

from zenml.feature_stores.base_feature_store import BaseFeatureStore
from zenml.integrations.feast.flavors.feast_feature_store_flavor import FeastFeatureStoreConfig, FeastFeatureStoreFlavor


class PortableFeastConfig(FeastFeatureStoreConfig):
    """``repo_definition``: the repository's ``feature_store.yaml``; ``feast_repo``: where each
    process writes it (created when missing)."""

    repo_definition: str


class PortableFeastFeatureStore(BaseFeatureStore):
    """ZenML's two feature-store calls, on the written repository. Feast is imported only when one
    is made: ZenML loads every stack component in every step's container, and importing Feast
    costs two seconds that the steps which never touch it would pay."""

    @property
    def config(self) -> PortableFeastConfig:
        return self._config  # type: ignore[return-value]

    def _store(self):
        from feast import FeatureStore

        from steps.store.feature_store import repository

        return FeatureStore(repo_path=repository(self.config))

    def get_historical_features(self, entity_df: Any, features: Union[List[str], Any],
                                full_feature_names: bool = False) -> Any:
        return self._store().get_historical_features(entity_df=entity_df, features=features,
                                                     full_feature_names=full_feature_names).to_df()

    def get_online_features(self, entity_rows: List[Dict[str, Any]], features: Union[List[str], Any],
                            full_feature_names: bool = False) -> Dict[str, Any]:
        return self._store().get_online_features(entity_rows=entity_rows, features=features,
                                                 full_feature_names=full_feature_names).to_dict()


class PortableFeastFlavor(FeastFeatureStoreFlavor):
    @property
    def name(self) -> str:
        return "feast_portable"

    @property
    def config_class(self) -> Type[PortableFeastConfig]:
        return PortableFeastConfig

    @property
    def implementation_class(self) -> Type[PortableFeastFeatureStore]:
        return PortableFeastFeatureStore
