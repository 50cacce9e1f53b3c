"""`ZerobusSpanExporter`: sends spans as trace-table rows to Zerobus Ingest's REST insert route.

`POST {zerobus_host}/zerobus/v1/tables/{catalog.schema.table}/insert`, body a JSON array of rows; a 200 (with
an empty object) means the batch is durably committed. The Zerobus host (`<workspace-id>.zerobus.<region>.cloud.
databricks.com`) is not the workspace host, but the workspace config's credentials are used: they are resolved
from the workspace config (OAuth talks to the workspace) and asked for fresh headers on every request.
Retrying is the span processor's job: this exporter makes one attempt per call. Zerobus never creates or alters
tables, so a missing table (404) or rows that do not fit it (400) are permanent failures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote

from dbx_native._core.auth import CredentialProvider, resolve_credentials
from dbx_native._core.http import HttpClient
from dbx_native.config import DbxConfig
from dbx_native.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from dbx_native.telemetry._exporter import SpanExporterBase, check_table_name
from dbx_native.telemetry._rows import span_to_row

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["ZerobusSpanExporter", "zerobus_config", "zerobus_insert_path"]


def zerobus_insert_path(table: str) -> str:
    """The REST insert path for a table: `/zerobus/v1/tables/{catalog.schema.table}/insert`."""
    return f"/zerobus/v1/tables/{quote(table, safe='.')}/insert"


def zerobus_config(workspace: DbxConfig, zerobus_host: str, transport: str) -> DbxConfig:
    """The workspace config pointed at the Zerobus host (checked: required, a usable URL)."""
    if not isinstance(zerobus_host, str) or not zerobus_host.strip():
        raise InvalidRequestError(
            f"zerobus_host is required for transport={transport!r}: "
            "pass zerobus_host='https://<workspace-id>.zerobus.<region>.cloud.databricks.com'."
        )
    try:
        return workspace.replace(host=zerobus_host)
    except ValueError as err:
        raise InvalidRequestError(f"zerobus_host {zerobus_host!r} is not a usable URL: {err}") from err


class ZerobusSpanExporter(SpanExporterBase):
    """Flattens spans to trace-table rows and posts them as one JSON batch to Zerobus Ingest (REST).

    Args:
        table: The Unity Catalog table (`catalog.schema.table`); it must exist with the trace table's columns
            (`trace_table_ddl(table)`).
        zerobus_host: The Zerobus Ingest endpoint, `https://<workspace-id>.zerobus.<region>.cloud.databricks.com`
            (a bare host name gets `https://`).
        config: Workspace connection settings whose credentials are used (`DbxConfig()` when omitted).
        timeout: Seconds per insert request.

    Raises:
        InvalidRequestError: `table` is not a three-part name, or `zerobus_host` is not a URL.
    """

    def __init__(
        self,
        table: str,
        *,
        zerobus_host: str,
        config: DbxConfig | None = None,
        timeout: float = 10.0,
        _credentials: CredentialProvider | None = None,
    ) -> None:
        self.table = check_table_name(table)
        self.timeout = timeout
        workspace = config or DbxConfig()
        ingest = zerobus_config(workspace, zerobus_host, "zerobus")
        # Credentials come from the workspace config: OAuth tokens are minted by the workspace, not by Zerobus.
        credentials = _credentials or resolve_credentials(workspace)
        self.zerobus_host = str(ingest.host)
        self._path = zerobus_insert_path(self.table)
        self._http = HttpClient(ingest, client_name="telemetry", credentials=credentials)

    def send(self, spans: Sequence[ReadableSpan]) -> None:
        """Insert one batch of rows, once (no retries, no span of its own: exporting must not trace itself).

        Raises:
            APIError: The request failed (`is_transient` says whether a later retry may pass); a missing table
                or refused credentials are re-raised with what to do about them.
        """
        rows = [span_to_row(span) for span in spans]
        try:
            self._http.request(
                "POST",
                self._path,
                json_body=rows,
                timeout=self.timeout,
                attempts=1,
                traced=False,
            )
        except NotFoundError as err:
            raise NotFoundError(
                f"Zerobus table '{self.table}' does not exist (Zerobus never creates tables): create it once with "
                f"dbx_native.telemetry.trace_table_ddl({self.table!r}); spans sent until then are counted failed. "
                f"Server said: {err.message}",
                status_code=err.status_code,
                error_code=err.error_code,
                method=err.method,
                url=err.url,
                request_id=err.request_id,
                body=err.body,
            ) from err
        except (AuthenticationError, PermissionDeniedError) as err:
            raise type(err)(
                f"Zerobus refused the credentials for '{self.table}': it needs an OAuth token of a service principal "
                "with USE CATALOG, USE SCHEMA and MODIFY, SELECT on the table. "
                f"Server said: {err.message}",
                status_code=err.status_code,
                error_code=err.error_code,
                method=err.method,
                url=err.url,
                request_id=err.request_id,
                body=err.body,
            ) from err
