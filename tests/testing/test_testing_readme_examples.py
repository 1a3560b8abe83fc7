"""Each README example of testing an app, run by pytest in a new process as its user would."""

from __future__ import annotations

import pytest
from user_projects import (
    DJANGO_PROJECT,
    FASTAPI_APP,
    FLASK_APP,
    STARLETTE_APP,
    count_tests,
    readme_files,
    run,
)


@pytest.mark.parametrize("app", [FASTAPI_APP, STARLETTE_APP], ids=["fastapi", "starlette"])
def test_fastapi_and_starlette_example(user_pytester: pytest.Pytester, app: str) -> None:
    files = readme_files("FastAPI and Starlette")
    result = run(user_pytester, {**files, "main.py": app})
    result.assert_outcomes(passed=count_tests(files))


def test_django_and_drf_example(user_pytester: pytest.Pytester) -> None:
    files = readme_files("Django and DRF")
    result = run(user_pytester, {**files, **DJANGO_PROJECT})
    result.assert_outcomes(passed=count_tests(files))


def test_flask_example(user_pytester: pytest.Pytester) -> None:
    files = readme_files("Flask")
    result = run(user_pytester, {**files, "app.py": FLASK_APP})
    result.assert_outcomes(passed=count_tests(files))
