"""What counts as evidence that a project uses each Databricks component.

Each rule is a cheap lowercase ``needle`` (a substring that must be in the file before the regex runs:
most files hold none, and ``in`` on a string is far faster than any regex) and the regex itself.
``high`` means an API call, a resource or a statement that does the thing; ``medium`` an import or a
weaker sign; ``low`` only a dependency or a mention, which does not count towards the score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "COMPONENTS",
    "EXTRAS",
    "RESOURCE_RULES",
    "Component",
    "Confidence",
    "Rule",
    "code_rules",
    "dependency_rules",
]

Confidence = Literal["high", "medium", "low"]


@dataclass(frozen=True)
class Component:
    """One line of the checklist."""

    key: str
    name: str


COMPONENTS = (
    Component("delta_lake", "Delta Lake"),
    Component("unity_catalog", "Unity Catalog"),
    Component("mlflow", "MLflow"),
    Component("model_serving", "Model Serving"),
    Component("zerobus", "Zerobus"),
    Component("ai_gateway", "AI Gateway"),
    Component("feature_serving", "Feature Serving"),
    Component("vector_search", "AI/Vector Search"),
    Component("pipelines", "Declarative Pipelines (DLT)"),
    Component("jobs", "Jobs (Workflows)"),
    Component("bundles", "Bundles"),
    Component("data_quality", "Data quality monitoring"),
)
EXTRAS = (
    Component("uc_prompts", "Prompts in Unity Catalog"),
    Component("guardrails", "Guardrails"),
)


@dataclass(frozen=True)
class Rule:
    component: str
    needle: str
    pattern: re.Pattern[str]
    confidence: Confidence


def _rule(component: str, needle: str, pattern: str, confidence: Confidence, *, ignore_case: bool = False) -> Rule:
    return Rule(component, needle, re.compile(pattern, re.IGNORECASE if ignore_case else 0), confidence)


# SQL, also found inside Python strings (spark.sql("...")); case-insensitive.
_SQL: list[tuple[str, str, str, Confidence]] = [
    ("delta_lake", "optimize", r"\bOPTIMIZE\s+[`\w.${}]+", "high"),
    ("delta_lake", "vacuum", r"\bVACUUM\s+[`\w.${}]+", "high"),
    ("delta_lake", "delta", r"\bUSING\s+DELTA\b", "high"),
    ("delta_lake", "zorder", r"\bZORDER\s+BY\b", "high"),
    ("delta_lake", "history", r"\bDESCRIBE\s+HISTORY\b", "high"),
    ("delta_lake", "merge", r"\bMERGE\s+INTO\b", "medium"),
    ("unity_catalog", "create", r"\bCREATE\s+(?:CATALOG|SCHEMA|VOLUME)\b", "high"),
    ("unity_catalog", "grant", r"\bGRANT\s+[\w\s,]+\bON\s+(?:CATALOG|SCHEMA|TABLE|VOLUME|FUNCTION)\b", "high"),
    ("unity_catalog", "use", r"\bUSE\s+CATALOG\b", "high"),
    ("unity_catalog", "from", r"\bFROM\s+`?\w+`?\.`?\w+`?\.`?\w+`?", "medium"),
    ("pipelines", "create", r"\bCREATE\s+(?:OR\s+REFRESH\s+)?(?:STREAMING\s+TABLE|MATERIALIZED\s+VIEW)\b", "high"),
    ("pipelines", "expect", r"\bCONSTRAINT\s+\w+\s+EXPECT\b", "high"),
    ("model_serving", "ai_query", r"\bai_query\s*\(", "high"),
    ("vector_search", "vector_search", r"\bvector_search\s*\(", "high"),
]

_PYTHON: list[tuple[str, str, str, Confidence]] = [
    ("delta_lake", "delta", r"^\s*(?:from|import)\s+(?:delta|deltalake)\b", "medium"),
    ("delta_lake", "deltatable", r"\bDeltaTable\b", "high"),
    ("delta_lake", "write_deltalake", r"\bwrite_deltalake\(", "high"),
    ("delta_lake", "delta", r"""\.format\(\s*["']delta["']\s*\)""", "high"),
    ("delta_lake", "saveastable", r"\.saveAsTable\(", "medium"),
    (
        "unity_catalog",
        ".",
        r"\.(?:catalogs|schemas|tables|volumes|grants)\.(?:create|get|list|update|delete|exists)\(",
        "high",
    ),
    ("unity_catalog", "databricks-uc", r"databricks-uc", "high"),
    ("unity_catalog", "/volumes/", r"/Volumes/\w+", "medium"),
    ("unity_catalog", "table(", r"""\.table\(\s*["'][\w`${}]+\.[\w`${}]+\.[\w`${}]+["']""", "medium"),
    ("mlflow", "mlflow", r"^\s*(?:from|import)\s+mlflow\b", "medium"),
    (
        "mlflow",
        "mlflow.",
        r"\bmlflow\.(?:log_\w+|start_run|set_experiment|register_model|pyfunc|models|genai|trace|"
        r"start_span|autolog|set_registry_uri|langchain|openai|evaluate)\b",
        "high",
    ),
    ("model_serving", "serving_endpoints", r"\bserving_endpoints\.\w+\(", "high"),
    ("model_serving", "/serving-endpoints", r"/serving-endpoints\b", "high"),
    ("model_serving", "get_open_ai_client", r"\bget_open_ai_client\(", "high"),
    ("model_serving", "get_deploy_client", r"\bget_deploy_client\(", "high"),
    ("model_serving", "servedentityinput", r"\bServedEntityInput\(", "high"),
    ("model_serving", "gatewayclient", r"\bGatewayClient\(", "medium"),
    ("zerobus", "zerobus", r"^\s*(?:from|import)\s+zerobus\b", "medium"),
    ("zerobus", "zerobussdk", r"\bZerobusSdk\(", "high"),
    ("zerobus", "zerobus", r"x-databricks-zerobus-table-name|/zerobus/v1/", "high"),
    ("zerobus", ".zerobus.", r"\.zerobus\.[\w.-]+", "medium"),
    ("zerobus", "/otel/v1/", r"/api/2\.0/otel/v1/(?:traces|logs|metrics)", "medium"),
    ("ai_gateway", "put_ai_gateway", r"\bput_ai_gateway\(", "high"),
    ("ai_gateway", "aigateway", r"\bAiGateway\w*\(", "high"),
    ("ai_gateway", "ai_gateway.", r"\bai_gateway\.\w+\(", "high"),
    ("ai_gateway", "/ai-gateway", r"/ai-gateway\b", "high"),
    ("ai_gateway", "gatewayclient", r"\bGatewayClient\(", "high"),
    ("feature_serving", "featureengineeringclient", r"\bFeatureEngineeringClient\(", "high"),
    ("feature_serving", "featurestoreclient", r"\bFeatureStoreClient\(", "medium"),
    ("feature_serving", "feature", r"\b(?:create_feature_spec|create_online_store|publish_table)\(", "high"),
    ("feature_serving", "featurelookup", r"\bFeatureLookup\(", "high"),
    ("feature_serving", "feature_engineering", r"^\s*(?:from|import)\s+databricks\.feature_engineering\b", "medium"),
    ("feature_serving", "feature-specs", r"/feature-engineering/feature-specs|/feature-store/online-stores", "high"),
    ("vector_search", "client(", r"\b(?:VectorSearchClient|AISearchClient)\(", "high"),
    ("vector_search", "search", r"^\s*(?:from|import)\s+databricks\.(?:vector_search|ai_search)\b", "medium"),
    ("vector_search", "vector_search_", r"\bvector_search_(?:indexes|endpoints)\.\w+\(", "high"),
    ("vector_search", "vectorsearchretrievertool", r"\bVectorSearchRetrieverTool\(", "high"),
    ("vector_search", "/vector-search/", r"/api/2\.0/vector-search/", "high"),
    ("vector_search", "vectormemory", r"\bVectorMemory\(", "high"),
    ("pipelines", "dlt", r"^\s*import\s+dlt\b", "medium"),
    ("pipelines", "pipelines", r"^\s*from\s+pyspark\s+import\s+pipelines\b", "medium"),
    (
        "pipelines",
        "@d",
        r"@(?:dlt|dp)\.(?:table|view|materialized_view|temporary_view|append_flow|expect\w*)\b",
        "high",
    ),
    ("pipelines", "create_", r"\b(?:dlt|dp)\.(?:create_streaming_table|create_auto_cdc_flow|apply_changes)\(", "high"),
    ("pipelines", "pipelines.", r"\bpipelines\.(?:create|start_update|get_update)\(", "high"),
    ("pipelines", "pipelinerunner", r"\bPipelineRunner\(", "high"),
    ("jobs", "jobs.", r"\bjobs\.(?:create|run_now|submit|get_run|reset|update|list_runs)\(", "high"),
    ("jobs", "/jobs/", r"/api/2\.[12]/jobs/", "high"),
    ("jobs", "dbutils.jobs", r"\bdbutils\.jobs\.taskValues\b", "medium"),
    ("jobs", "jobrunner", r"\bJobRunner\(", "high"),
    ("bundles", "databricks.bundles", r"^\s*(?:from|import)\s+databricks\.bundles\b", "medium"),
    ("data_quality", "quality", r"\b(?:quality_monitors|data_quality)\.\w+\(", "high"),
    ("data_quality", "/data-quality/", r"/api/data-quality/v1/monitors", "high"),
    ("data_quality", "lakehouse_monitoring", r"\blakehouse_monitoring\b", "medium"),
    ("data_quality", "monitor", r"\b(?:Monitor(?:InferenceLog|TimeSeries|Snapshot)|MonitorManager)\(", "high"),
    ("data_quality", "dataprofilingconfig", r"\bDataProfilingConfig\(", "high"),
    ("uc_prompts", "prompt", r"\b(?:register_prompt|load_prompt|search_prompts|set_prompt_alias)\(", "high"),
    ("uc_prompts", "prompts:/", r"prompts:/", "high"),
    ("uc_prompts", "promptregistry", r"\bPromptRegistry\(", "high"),
    ("guardrails", "guardrail", r"\bAiGatewayGuardrail\w*\(", "high"),
    ("guardrails", "guardrails", r"\bguardrails\s*[=:]", "medium"),
]

# Dependencies (requirements*.txt, pyproject.toml): a sign, not use.
_DEPENDENCIES = [
    ("delta_lake", "delta", r"\b(?:delta-spark|deltalake)\b"),
    ("mlflow", "mlflow", r"\bmlflow(?:-skinny)?\b"),
    ("zerobus", "zerobus", r"\bdatabricks-zerobus-ingest-sdk\b"),
    ("feature_serving", "feature", r"\bdatabricks-feature-(?:engineering|store)\b"),
    ("vector_search", "search", r"\bdatabricks-(?:vectorsearch|ai-search)\b"),
    ("bundles", "databricks-bundles", r"\bdatabricks-bundles\b"),
    ("pipelines", "dlt", r"\bdatabricks-dlt\b"),
]


def code_rules() -> list[Rule]:
    """Rules for Python (which also embeds SQL) and notebooks."""
    return sql_rules() + [Rule(c, n, re.compile(p, re.MULTILINE), conf) for c, n, p, conf in _PYTHON]


def sql_rules() -> list[Rule]:
    """Rules for ``.sql`` files."""
    return [_rule(c, n, p, conf, ignore_case=True) for c, n, p, conf in _SQL]


def dependency_rules() -> list[Rule]:
    """Rules for dependency files; all ``low``."""
    return [_rule(c, n, p, "low") for c, n, p in _DEPENDENCIES]


# Bundle resource type -> (component, confidence).
RESOURCE_RULES: dict[str, tuple[tuple[str, Confidence], ...]] = {
    "jobs": (("jobs", "high"),),
    "pipelines": (("pipelines", "high"), ("delta_lake", "medium")),
    "model_serving_endpoints": (("model_serving", "high"),),
    "registered_models": (("mlflow", "high"), ("unity_catalog", "high")),
    "models": (("mlflow", "high"),),
    "experiments": (("mlflow", "high"),),
    "schemas": (("unity_catalog", "high"),),
    "volumes": (("unity_catalog", "high"),),
    "catalogs": (("unity_catalog", "high"),),
    "quality_monitors": (("data_quality", "high"),),
    "data_quality_monitors": (("data_quality", "high"),),
    "vector_search_endpoints": (("vector_search", "high"),),
    "vector_search_indexes": (("vector_search", "high"),),
    "database_instances": (("feature_serving", "low"),),
    "synced_database_tables": (("feature_serving", "low"),),
}
