"""The one exception type the command line turns into a one-line message and exit code 2."""


class CunetError(Exception):
    """A problem with the user's input (files, options, configs, models): reported, not raised."""
