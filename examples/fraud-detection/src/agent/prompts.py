"""Registers the review prompt in the MLflow Prompt Registry (a Unity Catalog securable)."""

import mlflow

TEMPLATE = "Review this transaction: {{description}}. Merchant signals: {{merchant}}. Past cases: {{history}}."

if __name__ == "__main__":
    version = mlflow.genai.register_prompt(name="fraud_prod.fraud.review_prompt", template=TEMPLATE)
    mlflow.genai.set_prompt_alias("fraud_prod.fraud.review_prompt", alias="production", version=version.version)
