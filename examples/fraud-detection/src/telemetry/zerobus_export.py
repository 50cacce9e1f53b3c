"""Streams scored transactions to a Delta table through Zerobus Ingest."""

import os

from zerobus.sdk.shared import TableProperties
from zerobus.sdk.sync import ZerobusSdk

sdk = ZerobusSdk(os.environ["ZEROBUS_HOST"], os.environ["DATABRICKS_HOST"])
stream = sdk.create_stream(
    os.environ["DATABRICKS_CLIENT_ID"],
    os.environ["DATABRICKS_CLIENT_SECRET"],
    TableProperties("fraud_prod.fraud.scoring_events"),
)


def export(event: dict) -> None:
    offset = stream.ingest_record_offset(event)
    stream.wait_for_offset(offset, timeout_sec=30)
