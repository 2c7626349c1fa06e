"""Runtime leak scanning: load a running service's endpoints and watch what grows."""

#: Requests per endpoint when neither a count nor a duration is given.
DEFAULT_REQUESTS = 100
