"""Notices that other apps put at the top of My Media, each with buttons (POST forms) to act on it.

An app registers a provider, a callable taking the request and returning Notice objects; the portal
core knows nothing of what they are about (the Teams integration asks owners to keep or discard).
"""
from dataclasses import dataclass, field

_providers = []


@dataclass
class Notice:
    text: str
    actions: list = field(default_factory=list)  # (label, url to POST to, "primary" or "danger")


def register(provider):
    if provider not in _providers:
        _providers.append(provider)
    return provider


def for_request(request) -> list:
    return [notice for provider in _providers for notice in provider(request)]
