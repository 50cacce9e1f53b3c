"""`PromptRegistry`: prompts in Unity Catalog (MLflow Prompt Registry): register, load (cached), aliases, format."""

from __future__ import annotations

from dbx_native.prompts._models import PromptInfo, PromptVersion
from dbx_native.prompts._registry import PromptRegistry

__all__ = ["PromptInfo", "PromptRegistry", "PromptVersion"]
