"""Nightly Delta maintenance: compaction, clustering and cleanup of the fraud tables."""

import argparse

from pyspark.sql import SparkSession

TABLES = ("transactions", "fraud_scores", "case_notes")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--schema", required=True)
    args = parser.parse_args()
    spark = SparkSession.builder.getOrCreate()
    for table in TABLES:
        name = f"{args.catalog}.{args.schema}.{table}"
        spark.sql(f"OPTIMIZE {name} ZORDER BY (merchant_id)")
        spark.sql(f"VACUUM {name} RETAIN 168 HOURS")


if __name__ == "__main__":
    main()
