"""Errors of the ingest stage."""


class NotCanDataError(ValueError):
    """The file is not CAN data in any supported format (or not in the one forced by config).

    The message reads ``<path>[:<line>]: <what was expected>``.
    """
