"""`FeatureLookup` and its parts: typed online feature lookups from Feature Serving, Lakebase or a SQL warehouse."""

from __future__ import annotations

from dbx_native.features._admin import FeatureEndpoint, ensure_feature_serving_endpoint
from dbx_native.features._backends import FeatureBackend, ServingEndpointBackend, SqlWarehouseBackend
from dbx_native.features._lakebase import LakebaseBackend
from dbx_native.features._lookup import FeatureLookup
from dbx_native.features._models import FeatureRecord, LookupStats

__all__ = [
    "FeatureBackend",
    "FeatureEndpoint",
    "FeatureLookup",
    "FeatureRecord",
    "LakebaseBackend",
    "LookupStats",
    "ServingEndpointBackend",
    "SqlWarehouseBackend",
    "ensure_feature_serving_endpoint",
]
