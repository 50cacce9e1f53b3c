"""The fraud-review agent: features, memory, a gateway-governed model and prompts from Unity Catalog."""

import mlflow

from dbx_native import FeatureLookup, GatewayClient, VectorMemory

CATALOG = "fraud_prod"

features = FeatureLookup(endpoint="merchant-features", key="merchant_id")
memory = VectorMemory(index=f"{CATALOG}.fraud.case_notes_index", endpoint="fraud-case-memory", embed_route="gte")
gateway = GatewayClient(route="fraud-scoring")


def review(case_id: str, merchant_id: str, description: str) -> str:
    prompt = mlflow.genai.load_prompt(f"prompts:/{CATALOG}.fraud.review_prompt@production")
    context = memory.search(description, k=5, conversation_id=case_id)
    merchant = features.get(merchant_id)
    message = prompt.format(description=description, merchant=merchant, history=context)
    reply = gateway.chat([{"role": "user", "content": message}], max_tokens=256)
    memory.add(case_id, [{"role": "assistant", "content": reply.text}])
    return reply.text
