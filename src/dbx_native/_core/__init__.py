"""The core every client shares: auth, HTTP, retries, error mapping, telemetry. Private: use the clients."""
