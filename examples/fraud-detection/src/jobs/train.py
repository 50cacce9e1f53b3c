"""Retrains the fraud classifier and registers it in Unity Catalog."""

import argparse

import mlflow
from pyspark.sql import SparkSession


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    args = parser.parse_args()
    mlflow.set_registry_uri("databricks-uc")
    spark = SparkSession.builder.getOrCreate()
    catalog, schema, _ = args.model.split(".")
    training = spark.table(f"{catalog}.{schema}.merchant_features_daily").toPandas()
    from sklearn.ensemble import GradientBoostingClassifier

    with mlflow.start_run(run_name="nightly-retrain"):
        model = GradientBoostingClassifier().fit(training.drop(columns=["is_fraud"]), training["is_fraud"])
        mlflow.sklearn.log_model(model, "model", registered_model_name=args.model)


if __name__ == "__main__":
    main()
