"""The canary secret the suite uses as a token: it must never show up in a log, error text, repr or span."""

CANARY = "dapi" + "c0ffee" * 6
