"""Merchant features as a Spark Declarative Pipeline (formerly Delta Live Tables)."""

from pyspark import pipelines as dp
from pyspark.sql import functions as F


@dp.materialized_view(comment="Per-merchant fraud signals over the last 30 days")
@dp.expect_or_drop("known_merchant", "merchant_id IS NOT NULL")
def merchant_features_daily():
    source = spark.conf.get("fraud.source_table")  # noqa: F821 - provided by the pipeline runtime
    tx = spark.read.table(source)  # noqa: F821
    return tx.groupBy("merchant_id").agg(
        F.count("*").alias("tx_count_30d"),
        F.avg("amount").alias("avg_amount_30d"),
        F.avg(F.col("is_fraud").cast("double")).alias("fraud_rate_30d"),
    )
