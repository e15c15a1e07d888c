"""The fuzzing tests drive the running services, as the end-to-end tests do (same fixtures); they
run after them, so that the thousands of requests they make are not in the others' way."""

from tests.e2e.conftest import collector, services, token  # noqa: F401  (fixtures)
