import dataclasses

from audmw import Settings


def test_settings_rebuilt_from_their_own_fields_are_equal() -> None:
    settings = Settings(
        issuer="https://issuer.example/",
        audience="https://api.example.com",
        exempt_paths=["/health"],
        rules=[{"methods": ["GET"], "path": "/r/**", "scopes": ["read:r"]}],
        required_claims={"token_use": "access"},
    )
    assert dataclasses.replace(settings, leeway=5).required_claims == settings.required_claims
    assert Settings(**settings.__dict__) == settings
